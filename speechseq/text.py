"""Transcript normalisation and the character vocabulary shared by CTC, the LM and the decoder.

Vocabulary layout (indices are part of every exported model, never reorder):
    0      <blank>   CTC blank; also the padding index of the text side
    1      " "       word separator
    2..27  a..z
    28     "'"       apostrophe (kept: "don't", "o'clock")
    29     <sos>     start of sentence (text side only)
    30     <eos>     end of sentence (text side only)
    31     <unk>     unknown character (text side only)
CTC models emit the first ``CTC_SIZE`` symbols; the LM and attention decoder use all ``len(VOCAB)``.
"""
from __future__ import annotations

import re
import unicodedata

__all__ = [
    "VOCAB", "BLANK", "SPACE", "SOS", "EOS", "UNK", "CTC_SIZE",
    "normalize", "encode", "decode", "number_to_words",
]

VOCAB: tuple[str, ...] = ("<blank>", " ", *"abcdefghijklmnopqrstuvwxyz", "'", "<sos>", "<eos>", "<unk>")
BLANK, SPACE, SOS, EOS, UNK = 0, 1, 29, 30, 31
CTC_SIZE = 29
_INDEX = {ch: i for i, ch in enumerate(VOCAB[:CTC_SIZE])}

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL_END = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                "nine": "ninth", "twelve": "twelfth"}
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ",
            "#": " number ", "°": " degrees ", "€": " euros ", "£": " pounds "}
# symbol before an amount -> (unit, units, hundredth, hundredths)
_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
             "€": ("euro", "euros", "cent", "cents")}
# Letters NFKD leaves whole (dropping them split a word in two: "straße" -> "stra e"), and apostrophe
# look-alikes (the acute accent decomposes to a space).
_LETTERS = str.maketrans({"ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
                          "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
                          "ı": "i", "\u00b4": "'", "\u02bc": "'", "\u2019": "'", "\u2018": "'", "`": "'"})


def number_to_words(n: int) -> str:
    """Spell out a non-negative integer: 1984 -> "one thousand nine hundred eighty four"."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            words = number_to_words(head) + " " + name
            return words if rest == 0 else words + " " + number_to_words(rest)
    raise AssertionError("unreachable")


def _ordinal(n: int) -> str:
    words = number_to_words(n).split()
    last = words[-1]
    if last in _ORDINAL_END:
        words[-1] = _ORDINAL_END[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _year(n: int) -> str:
    # "1984" reads "nineteen eighty four"; "2005" reads "two thousand five".
    head, tail = divmod(n, 100)
    if 1100 <= n <= 1999 or (2010 <= n <= 2099):
        return number_to_words(head) + " " + ("hundred" if tail == 0 else
                                              ("oh " + _ONES[tail] if tail < 10 else number_to_words(tail)))
    return number_to_words(n)


def _plural(words: str) -> str:
    # "nineteen ninety" -> "nineteen nineties", "eighteen hundred" -> "eighteen hundreds"
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _spell_number(match: re.Match) -> str:
    text = match.group(0)
    money, digits, suffix = match.group("money"), match.group("num"), (match.group("suffix") or "").lower()
    scale = " ".join((match.group("scale") or "").lower().split())
    digits = digits.replace(",", "")
    if money and "." in digits and not scale:
        unit, units, hundredth, hundredths = _CURRENCY[money]
        whole, cents = int(digits.split(".", 1)[0] or 0), int(digits.split(".", 1)[1][:2].ljust(2, "0"))
        parts = [number_to_words(whole) + " " + (unit if whole == 1 else units)] if whole or not cents else []
        if cents:
            parts.append(number_to_words(cents) + " " + (hundredth if cents == 1 else hundredths))
        return " " + " and ".join(parts) + " "
    if "." in digits:
        whole, frac = digits.split(".", 1)
        words = (number_to_words(int(whole)) + " " if whole else "") + "point " + " ".join(_ONES[int(d)] for d in frac)
    elif suffix in ("st", "nd", "rd", "th"):
        return " " + _ordinal(int(digits)) + " "
    elif money is None and len(digits) == 4 and "," not in text and 1100 <= int(digits) <= 2099:
        words = _year(int(digits))
    else:
        words = number_to_words(int(digits))
    if suffix.endswith("s"):  # a decade or century: "the 1990s", "the '80s", "the 1800's"
        words = words + " s" if "." in digits else _plural(words)
    if scale:
        words += " " + scale
    if money:
        unit, units = _CURRENCY[money][:2]
        words += " " + (unit if words == "one" else units)
    return " " + words + " "


# An amount: digits with commas grouping thousands, a decimal part (or only one: ".5", not after a word or a number:
# "No.5", "1.2.3"); a currency before it, an ordinal or plural ending (this one only after a 0: "1990s", not "5s")
# or a scale word after it.
_NUMBER = re.compile(r"(?P<money>[$£€])?(?P<num>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|(?<![\w.])\.\d+)"
                     r"(?:(?P<suffix>st|nd|rd|th|(?<=0)'?s(?![a-z]))|(?<=\d)(?P<scale>\s+(?:thousand|million|billion|"
                     r"trillion)(?![a-z]))(?(money)|(?!)))?", re.IGNORECASE)


def normalize(text: str) -> str:
    """Lowercase, spell out numbers and common symbols, drop punctuation, keep apostrophes.

    The result holds only characters of the CTC vocabulary (space, a-z, apostrophe), words
    separated by single spaces.
    """
    text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NUMBER.sub(_spell_number, text)
    for sym, words in _SYMBOLS.items():
        text = text.replace(sym, words)
    text = text.lower()
    text = re.sub(r"[^a-z' ]+", " ", text)
    # An apostrophe is kept inside a word ("don't", "o'clock"); quotes around words are dropped.
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)
    return " ".join(text.split())


def encode(text: str) -> list[int]:
    """Indices of a normalised transcript (call ``normalize`` first); unknown characters raise."""
    try:
        return [_INDEX[ch] for ch in text]
    except KeyError as err:
        raise ValueError(f"character {err.args[0]!r} is not in the vocabulary; normalize() the text first") from None


def decode(indices) -> str:
    """Characters of a sequence of indices, specials and blanks dropped (no CTC collapsing)."""
    return "".join(VOCAB[i] for i in indices if 0 < i < CTC_SIZE)
