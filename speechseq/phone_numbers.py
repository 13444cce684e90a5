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
# An international number: "+", its country code and two groups or more of digits, 8 to 15 digits in all
# ("+1 555 123 4567", "+44 20 7946 0958", "+33-1-23-45-67-89").
_INTERNATIONAL = re.compile(r"(?<![\w.,$/+-])\+\d{1,3}(?:[ \t.-]\(?\d{1,4}\)?){2,6}" + _END)


def _digits(text: str) -> str:
    return " " + " ".join(_DIGIT_WORDS[int(d)] for d in text if d.isdigit()) + " "


def _spell_local(match: re.Match) -> str:
    # "555-1234" alone is a phone number, but two round amounts are a range ("500-1000", "250-1500")
    if match.group("a") and match.group("a").endswith("0") and match.group("line").endswith("00"):
        return match.group(0)
    return _digits(match.group(0))


def _spell_international(match: re.Match) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return " plus" + _digits(match.group(0)) if 8 <= digits <= 15 else match.group(0)


def spell_phone_numbers(text: str) -> str:
    """Phone numbers, digit by digit."""
    return _LOCAL.sub(_spell_local, _INTERNATIONAL.sub(_spell_international, text))
