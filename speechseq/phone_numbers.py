"""Phone numbers read digit by digit, as said, for ``speechseq.text.normalize``: "555-1234" five five five one two
three four, "(555) 123-4567", "1-800-555-0199", "+1 555 123 4567" plus one five five five ...

Run on text after NFKD, before ranges and minus signs are read (a phone number's hyphen is neither).
"""
from __future__ import annotations

import re

__all__ = ["spell_phone_numbers"]

_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
# Not after a word, an amount or a sign that makes one ("$555-1234", "1.555-1234"), nor before a word or one more
# group ("555-1234-5", "555-1234.5").
_START, _END = r"(?<![\w.,$/+-])", r"(?![\w-]|[.,]\d)"
# North American forms: "555-1234", "555-123-4567", "1-800-555-0199", "(555) 123-4567", "(555) 123 4567".
# "2020-01-05" (a date), "12345-6789" (a zip code) and "1880-1890" (a range) have other groups. A seven-digit number's
# exchange starts with 2-9 (the North American plan): "120-1250" (pages) is a range.
_LOCAL = re.compile(_START + r"(?:(?:1-)?\d{3}-\d{3}-|\(\d{3}\)[ \t]?\d{3}[ \t.-]|(?P<a>[2-9]\d{2})-)(?P<line>\d{4})"
                    + _END)
# A year's mark before or after a range makes it one of years ("410-1066 AD", "AD 410-1066", "c. 330-1453", "the years
# 410-1066"), and "pp." or "pages" one of pages ("pp. 255-1299"): read "to" as other ranges are; alone its digits are a
# phone number's.
_ERA_AFTER = re.compile(r"[ \t]*(?:AD|BCE?|CE|(?:A\.D|B\.C\.E|B\.C|C\.E)\.?)(?!\w)")
_RANGE_BEFORE = re.compile(r"(?<![\w.'])(?:AD|A\.D\.|[Cc]\.|[Cc]a\.|[Cc]irca|[Yy]ears|pp\.|[Pp]ages)[ \t]*\Z")
# An international number: "+", its country code and groups of digits ("+1 555 123 4567", "+44 20 7946 0958",
# "+33-1-23-45-67-89", "+44 7700 900123", "+49 30 1234567"; "+44 (0)20 7946 0958", with the trunk prefix dialled at
# home) or one group of 8 to 12 ("+33 123456789").
_INTERNATIONAL = re.compile(r"(?<![\w.,$/+-])\+(?P<code>\d{1,3})"
                            r"(?P<rest>(?:[ \t.-](?:\(0\)[ \t]?)?\(?\d{1,8}\)?){2,6}|[ \t.-]\d{8,12})" + _END)
# A plausible shape, so that a list or a sum ("+10 20 30 40") is read as numbers: an assigned country code ("1" and
# "7" alone; two digits; three digits starting with one of _CODE3's pairs), and as many digits after it as numbers
# there have: ten after "1" (the North American plan) and "7", eight or more after a two-digit code (Denmark's and
# Norway's are the shortest), five or more after a three-digit one (the Falklands'), 15 in all at most.
_CODE2 = frozenset("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 "
                   "66 81 82 84 86 90 91 92 93 94 95 98".split())
_CODE3 = frozenset("21 22 23 24 25 26 29 35 37 38 42 50 59 67 68 69 80 85 87 88 96 97 99".split())


def _plausible(code: str, rest: str) -> bool:
    """Whether a country code and the digits after it (the trunk prefix "(0)" left out) have a phone number's shape."""
    national = sum(ch.isdigit() for ch in rest)
    if len(code) == 1:
        return code in ("1", "7") and national == 10
    if len(code) == 2:
        return code in _CODE2 and 8 <= national <= 13
    return code[:2] in _CODE3 and 5 <= national <= 12


def _digits(text: str) -> str:
    return " " + " ".join(_DIGIT_WORDS[int(d)] for d in text if d.isdigit()) + " "


def _is_range(match: re.Match) -> bool:
    """Whether "555-1234" at the match is two amounts: round ones ("500-1000", "250-1500"), years ("410-1066 AD") or
    pages ("pp. 255-1299")."""
    a, line, text = match.group("a"), match.group("line"), match.string
    if a is None:
        return False
    return ((a.endswith("0") and line.endswith("00")) or _ERA_AFTER.match(text, match.end()) is not None
            or _RANGE_BEFORE.search(text, max(0, match.start() - 12), match.start()) is not None)


def _spell_local(match: re.Match) -> str:
    # "555-1234" alone is a phone number, but two round amounts or two years are a range
    if _is_range(match):
        return match.group(0)
    return _digits(match.group(0))


def _spell_international(match: re.Match) -> str:
    if not _plausible(match.group("code"), match.group("rest").replace("(0)", "")):
        return match.group(0)
    return " plus" + _digits(match.group(0))


def spell_phone_numbers(text: str) -> str:
    """Phone numbers, digit by digit."""
    return _LOCAL.sub(_spell_local, _INTERNATIONAL.sub(_spell_international, text))
