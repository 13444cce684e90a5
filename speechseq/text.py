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

from .abbreviations import ABBREVIATION, spell_abbreviations
from .phone_numbers import spell_phone_numbers
from .units import spell_feet_inches, spell_units

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
# Indian digit grouping: 2-digit groups before the last 3-digit one ("1,00,000", "12,34,567"; not "1,000" nor
# "1,000,000", which are Western, nor "12,34,56"), read with its scales: lakh (10^5) and crore (10^7)
_INDIAN = r"(?<![\d,])\d{1,2}(?:,\d\d)+,\d{3}(?!,?\d)"
_INDIAN_SCALES = ((10**7, "crore"), (10**5, "lakh"))
_ORDINAL_END = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                "nine": "ninth", "twelve": "twelfth"}
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "=": " equals ", "@": " at ",
            "#": " number ", "€": " euros ", "£": " pounds ", "¢": " cents ", "÷": " divided by ", "×": " times ",
            "≈": " approximately ", "≥": " greater than or equal to ", "≤": " less than or equal to "}
# One cent ("1¢"), before _SYMBOLS says "cents"
_ONE_CENT = re.compile(r"(?<![\w.,])1\s?¢")
# symbol before an amount -> (unit, units, hundredth, hundredths); an amount in yen, won or dong, which have no
# hundredths in use, is read with its decimal point ("¥1.5" one point five yen), and so is one in yuan (its fen are
# hardly used). "¥" is the yen's sign and the yuan's: a bare one is read as the yen, "CN¥" as the yuan, as is "元"
# after an amount.
_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
             "€": ("euro", "euros", "cent", "cents"), "¥": ("yen", "yen", None, None),
             "₹": ("rupee", "rupees", "paisa", "paise"), "₩": ("won", "won", None, None),
             "₽": ("ruble", "rubles", "kopeck", "kopecks"), "₺": ("lira", "lira", "kurus", "kurus"),
             "₪": ("shekel", "shekels", "agora", "agorot"), "₦": ("naira", "naira", "kobo", "kobo"),
             "₱": ("peso", "pesos", "centavo", "centavos"), "฿": ("baht", "baht", "satang", "satang"),
             "₫": ("dong", "dong", None, None), "元": ("yuan", "yuan", None, None)}
# a sign without an amount ("the ¥ fell"); "$" alone is left out, as it always was, and so is "元", a letter of
# Chinese words ("元旦") with no amount beside it, dropped as others are
_SYMBOLS.update({sign: f" {names[1]} " for sign, names in _CURRENCY.items() if sign not in "$€£元"})
# "CN¥" is the yuan's sign ("元" before an amount, read there; the word without one), "JP¥" the yen's
_YEN_OR_YUAN = re.compile(r"(?<![^\W\d_])(?:(?P<cn>CN)|JP)¥")
_AMOUNT_NEXT = re.compile(r"[ \t]*-?\.?\d")
# The rupee's abbreviations before an amount ("Rs 500", "Rs.500", "rs. 5", "RS. 5", "INR 2,50,000", and "₨", which
# NFKD makes "Rs"; the singular "Re. 1", "Re 1") are read as "₹" is; not after a letter ("Mrs 5") nor before a word
# ("the Rs fell", "Re: the bill"), nor "RS" in capitals or "re" in lower case without a dot ("RS 6", "RS-232").
_RUPEES = re.compile(r"(?<![^\W\d_])(?:INR|inr|[Rr][se]\.|Rs|rs|Re|R[SE]\.|\u20a8)(?=[ \t]*-?\.?\d)")
# Currency codes before or after an amount ("USD 5", "5 EUR", "US$5") are read as their signs are.
_CODE_SIGNS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "元", "INR": "₹"}
_CODE_BEFORE = re.compile(r"(?<![^\W\d_])(?:(?P<code>" + "|".join(_CODE_SIGNS) + r")|US\$)(?=[ \t]*-?\.?\d)")
_CODE_AFTER = re.compile(r"(?<=\d)[ \t]?(?P<code>" + "|".join(_CODE_SIGNS) + r")(?![^\W_])")
_MONEY_SIGNS = "".join(_CURRENCY)
_MONEY = re.escape(_MONEY_SIGNS)  # the signs, for a character class
# Letters NFKD leaves whole (dropping them split a word in two: "straße" -> "stra e"), and apostrophe
# look-alikes (the acute accent decomposes to a space).
_LETTERS = str.maketrans({"ß": "ss", "ẞ": "SS", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O",
                          "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "TH",
                          "ı": "i", "\u00b4": "'", "\u02bc": "'", "\u2019": "'", "\u2018": "'", "`": "'"})
# Signs NFKD would merge into the digits around them ("1½" -> "11⁄2", "10²" -> "102"): a vulgar fraction stands
# apart from a whole number before it, powers are said; the minus sign, an en dash and a figure dash read as a
# hyphen-minus (see _MINUS: "–5" minus five, "10–20" a range); a sign struck through ("≠": "=" and U+0338) is said
# before NFKD leaves only the sign it negates.
_SIGNS = str.maketrans({**{ch: f" {ch} " for ch in "¼½¾⅐⅑⅒⅓⅔⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞⁰¹⁴⁵⁶⁷⁸⁹"},
                        "²": " squared ", "³": " cubed ", "\u2212": "-", "\u2013": "-", "\u2012": "-",
                        "±": " plus or minus ", "≠": " does not equal ", "≮": " not less than ",
                        "≯": " not greater than ", "≰": " not less than or equal to ",
                        "≱": " not greater than or equal to ", "≉": " not approximately "})
# A negative power ("10⁻³", "s⁻¹"): NFKD made its minus a sign that is dropped, and "³" read "cubed".
_NEGATIVE_POWER = re.compile("\u207b([\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+)")
_SUPERSCRIPT_DIGITS = str.maketrans("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "0123456789")
_DIGIT = re.compile(r"\d")
# "7am", "7 a.m.", "10:30PM" -> "7 a m": the letters a person says (not the word "am")
_AMPM = re.compile(r"(?<=\d)\s*([ap])\.?m\.?(?!\w)", re.IGNORECASE)
# A minus sign: a hyphen before an amount, not after a word, a number or a sign of one ("-4", "-$5", "-½",
# "°F/-7°C"; not "COVID-19", "3-4", "20%-30%", "20°-25°", "1½-2": _SIGNS set the vulgar fraction apart,
# "1 1⁄2 -2", "- 1⁄2").
_MINUS = re.compile(r"(?<![\w.,\u2044%°-])(?<!\u2044\d )(?<!\u2044\d\d )-(?=[" + _MONEY + r"]?\.?\d| \d\u2044\d)")
# A hyphen between two amounts is a range or a score, "to" ("1880-1890", "10:30-11:30", "$5-$10", "20%-30%", "won
# 3-2", "500-1000"); not one of a chain ("2020-01-05"), nor a zip code's ("12345-6789"), nor one after a word
# ("COVID-19"). A phone number's ("555-1234", "1-800-555-0199") was read before, digit by digit.
_AMOUNT = r"[" + _MONEY + r"]?\d+(?:,\d+)*(?:\.\d+)?"
# Two ordinals so are one too ("the 1st-2nd centuries", "19th-20th"; they read "first second").
_RANGE = re.compile(r"(?<![\w.,/-])(?P<a>" + _AMOUNT + r")(?P<ord>(?:st|nd|rd|th)(?=-))?(?P<sign>[%°]?)-(?P<b>"
                    + _AMOUNT + r")(?P<ord_b>(?(ord)(?:st|nd|rd|th)))(?![\w-]|[.,]\d)")
# A degree sign, with the scale after it; after a lone 1 it is one "degree" ("1°", "-1 °C"; "1.5°", "21°" degrees).
_DEGREES = re.compile(r"(?P<one>(?<![\w.,/\u2044" + _MONEY + r"])1\s?)?°(?:\s?(?P<scale>[CF])(?![a-z]))?",
                      re.IGNORECASE)
_SCALE_NAMES = {"c": "celsius", "f": "fahrenheit", "": ""}
# A clock time: hours, two-digit minutes, an "a m" / "p m" after it (not "1:30:45", "3:1").
_CLOCK = re.compile(r"(?<![\w.,:])(?P<h>\d{1,2}):(?P<m>[0-5]\d)(?![\w:]|[.,]\d)(?P<ampm>\s*[ap] m\b)?")
# A fraction: a vulgar fraction or fraction slash ("½", "1⁄2"), or n/d with n < d <= 10 ("3/4"; not "24/7", "9/11",
# "1/2/2024"), with a whole number before it ("1½", "2 3/4").
_FRACTION = re.compile(r"(?<![\w.,/\u2044" + _MONEY + r"])(?:(?P<whole>\d+)\s+)?(?P<num>\d+)(?P<slash>[/\u2044])"
                       r"(?P<den>\d+)(?![\w/\u2044]|[.,]\d)")
_DENOMINATORS = {2: ("half", "halves"), 4: ("quarter", "quarters")}
# A scale after an amount of money, as said: "₹5 lakhs" five lakh rupees (as "five million rupees"), "$5k" five
# thousand dollars.
_SCALE_WORDS = {"lakhs": "lakh", "crores": "crore", "k": "thousand", "m": "million", "mn": "million", "b": "billion",
                "bn": "billion", "tn": "trillion", "cr": "crore", "l": "lakh"}
# A currency sign after its amount ("1.50$", "5 €", ".5$"), before its minus sign ("$-5") or a space ("$ 5") is put
# right before the amount, where it is read ("-$5"); not one that is the next amount's ("5 $10").
_CURRENCY_AFTER = re.compile(r"(?<![\w.,:/\u2044" + _MONEY + r"])"
                             r"(?P<num>(?:" + _INDIAN + r"|\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
                             r"\s?(?P<sign>[" + _MONEY + r"])(?!\.?\d)")
_CURRENCY_MINUS = re.compile(r"(?P<sign>[" + _MONEY + r"])(?:[ \t]*(?P<minus>-)|[ \t]+(?!\d+\u2044))(?=\.?\d)")
# Digits grouped by a no-break or thin space ("5 000", "1 000 000"), which NFKD makes a plain space that parts two
# numbers; and a decimal comma beside a currency sign ("1,50 €", "€2,99", "1 234,50 €", "1.234,50 €"; not "1,500€",
# "12,5", "€5,10,15"). Both are read before NFKD.
_GROUPED = r"[1-9]\d{0,2}(?:[\u00a0\u2009\u202f]\d{3})+(?!\d)"
_DIGIT_GROUPS = re.compile(r"(?<![\w.,])" + _GROUPED)
_DECIMAL_COMMA = re.compile(r"(?<![\w.,:/\u2044])(?P<sign>[" + _MONEY + r"]\s?)?"
                            r"(?P<whole>" + _GROUPED + r"|[1-9]\d{0,2}(?:\.\d{3})+(?![\d.])|\d+),(?P<cents>\d\d?)"
                            r"(?![\w.,])(?(sign)|(?=\s?[" + _MONEY + r"](?!\.?\d)))")
# A comparison between numbers ("2<3", "5 > 2", "1 <= 2", "x > -1"), not an arrow ("->", "=>") or markup ("<b>5").
_AMOUNT_AHEAD = r"(?=[-+]?[" + _MONEY + r"]?\.?\d)"
_COMPARISON = re.compile(r"(?<=[\d%°])[ \t]*[<>]=?[ \t]*" + _AMOUNT_AHEAD
                         + r"|(?<=[^\W_])[ \t]+[<>]=?[ \t]+" + _AMOUNT_AHEAD)
_COMPARISON_WORDS = {"<": " less than ", ">": " greater than ", "<=": " less than or equal to ",
                     ">=": " greater than or equal to "}
# An ordinal ending before a capital that starts a word is parted from it ("21stCentury" twenty first century); not
# one in capitals ("7StMr" seven stmr), nor one before an abbreviation ("1stDr" one stdr: its "first dr" read
# "first doctor" normalised again).
_ORDINAL_BEFORE_WORD = re.compile(r"(?<=\d)(?:st|nd|rd|th)(?=(?P<word>[A-Z][a-z]+))")


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


def _indian(n: int) -> str:
    """Spell out a non-negative integer in lakhs and crores: 1234567 -> "twelve lakh thirty four thousand five hundred
    sixty seven", 10**12 -> "one lakh crore"."""
    for value, name in _INDIAN_SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            words = (_indian(head) if value == 10**7 else number_to_words(head)) + " " + name
            return words if rest == 0 else words + " " + _indian(rest)
    return number_to_words(n)


def _ordinal(n: int, indian: bool = False) -> str:
    words = (_indian(n) if indian else number_to_words(n)).split()
    last = words[-1]
    if last in _ORDINAL_END:
        words[-1] = _ORDINAL_END[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return " ".join(words)


def _cardinal(digits: str, indian: bool = False) -> str:
    # "007", "0800" are said digit by digit, and so is a string past the trillions (int() refuses 4,300 digits)
    if len(digits) > 15 or (len(digits) > 1 and digits[0] == "0"):
        return " ".join(_ONES[int(d)] for d in digits)
    return _indian(int(digits)) if indian else number_to_words(int(digits))


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
    scale = " ".join(_SCALE_WORDS.get(word, word) for word in (match.group("scale") or "").lower().split())
    indian = re.match(_INDIAN, digits) is not None  # (the whole of "num" up to its point, if any)
    digits = digits.replace(",", "")
    if money and "." in digits and not scale and _CURRENCY[money][2]:
        unit, units, hundredth, hundredths = _CURRENCY[money]
        whole, cents = digits.split(".", 1)[0].lstrip("0") or "0", int(digits.split(".", 1)[1][:2].ljust(2, "0"))
        parts = ([_cardinal(whole, indian) + " " + (unit if whole == "1" else units)]
                 if whole != "0" or not cents else [])
        if cents:
            parts.append(number_to_words(cents) + " " + (hundredth if cents == 1 else hundredths))
        return " " + " and ".join(parts) + " "
    if "." in digits:
        whole, frac = digits.split(".", 1)
        words = (_cardinal(whole, indian) + " " if whole else "") + "point " + " ".join(_ONES[int(d)] for d in frac)
    elif suffix[:2] in ("st", "nd", "rd", "th"):  # past the trillions, digit by digit, the last one an ordinal
        head = "" if len(digits) <= 15 else " ".join(_ONES[int(d)] for d in digits[:-1])
        ordinal = _ordinal(int(digits[-1] if head else digits), indian and not head)
        return f" {head} {ordinal}{suffix[2:]} "   # "3rds" thirds, "2ndly"
    elif money is None and len(digits) == 4 and "," not in text and 1100 <= int(digits) <= 2099:
        words = _year(int(digits))
    else:  # "the 00s" is a decade ("zeros"), not digits to read one by one
        words = _cardinal(digits.lstrip("0") or "0" if suffix else digits, indian)
    if suffix.endswith("s"):  # a decade or century: "the 1990s", "the '80s", "the 1800's"
        words = words + " s" if "." in digits else _plural(words)
    if scale:
        words += " " + scale
    if money:
        unit, units = _CURRENCY[money][:2]
        words += " " + (unit if words == "one" else units)
    return " " + words + " "


def _spell_range(match: re.Match) -> str:
    a, b = (match.group(name).lstrip(_MONEY_SIGNS) for name in ("a", "b"))
    # digits alone: a zip code's ("12345-6789"), with leading zeros (a date's "01-05")
    leading_zero = any(x[0] == "0" and x[1:2].isdigit() for x in (a, b))
    if "," not in a + b and (max(len(a), len(b)) > 4 or leading_zero):
        return match.group(0)
    first = match.group("a") + (match.group("ord") or "") + match.group("sign")
    return first + " to " + match.group("b") + match.group("ord_b")


def _spell_clock(match: re.Match) -> str:
    hour, minute, ampm = int(match.group("h")), int(match.group("m")), match.group("ampm") or ""
    if hour > 24:
        return match.group(0)
    words = number_to_words(hour)
    if minute == 0 and not ampm:  # "10:00" -> "ten o'clock", "14:00" -> "fourteen hundred"
        words += " o'clock" if 1 <= hour <= 12 else " hundred"
    elif minute:
        words += " oh " + _ONES[minute] if minute < 10 else " " + number_to_words(minute)
    return " " + words + ampm + " "


def _spell_fraction(match: re.Match) -> str:
    whole, num, den = match.group("whole"), match.group("num"), match.group("den")
    if len(num) > 15 or len(den) > 15:
        return match.group(0)
    n, d = int(num), int(den)
    if n < 1 or d < 2 or (match.group("slash") == "/" and not n < d <= 10):
        return match.group(0)
    one, many = _DENOMINATORS.get(d) or (_ordinal(d), _ordinal(d) + "s")
    name = one if n == 1 else many
    if whole is None:
        return f" {number_to_words(n)} {name} "
    article = "an" if name[0] in "aeiou" else "a"  # "an eighth", "an eleventh"
    return f" {_cardinal(whole)} and {article if n == 1 else number_to_words(n)} {name} "


# An amount: digits with commas grouping thousands (or in Indian groups: _INDIAN), a decimal part (or only one: ".5",
# not after a word or a number: "No.5", "1.2.3"); a currency before it, an ordinal ending (its plural or adverb too:
# "3rds", "2ndly") or a plural one (only after a 0: "1990s", not "5s") or, after an amount of money, scale words
# ("₹1 lakh crore") or their abbreviations ("$5k", "£2m", "$1.5bn", "₹2 cr", "₹5L").
_NUMBER = re.compile(r"(?P<money>[" + _MONEY + r"])?"
                     r"(?P<num>(?:" + _INDIAN + r"|\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?"
                     r"|(?:(?<![\w.])|(?<=[" + _MONEY + r"]))\.\d+)"   # ("元" is a letter: \w)
                     r"(?:(?P<suffix>(?:(?:st|nd|rd|th)(?:s|ly)?|(?<=0)'?s)(?![a-z]))"
                     r"|(?<=\d)(?P<scale>(?:\s+(?:thousand|million|billion|trillion|lakhs?|crores?)(?![a-z]))+"
                     r"|[ \t]?(?:mn|bn|tn|cr)(?![a-z])|[kmbl](?![a-z']))"
                     r"(?(money)|(?!)))?",
                     re.IGNORECASE)


def normalize(text: str) -> str:
    """Lowercase, spell out numbers and common symbols as a person says them, drop punctuation, keep apostrophes.

    The result holds only characters of the CTC vocabulary (space, a-z, apostrophe), words
    separated by single spaces; normalising it again leaves it as it is. What is read:
      numbers    "1,000" and "1 000" (a no-break or thin space) one thousand, "3.5" three point five, "-4" and
                 "–4" minus four, Indian grouping in lakhs and crores ("1,00,000" one lakh, "2,50,00,000" two
                 crore fifty lakh), "21st" twenty first ("5star" five star, "21stCentury" twenty first century,
                 "2/3rds" two thirds, "2ndly" secondly); a hyphen between two is a range: "1880-1890" eighteen
                 eighty to eighteen ninety, "3-4" three to four (not "2020-01-05", "12345-6789");
                 a four-digit number from 1100 to 2099 without a comma is a year: "1984" nineteen eighty
                 four, "2024" twenty twenty four, "2005" two thousand five (write "2,024" for a quantity);
                 "the 1990s" nineteen nineties; "007", and a string of more than 15 digits, digit by digit
                 (an ordinal so: its last digit an ordinal)
      fractions  "½" one half, "1½" / "1 1/2" one and a half, "3/4" three quarters (n/d only for n < d <= 10:
                 "24/7", "9/11" and dates stay two numbers)
      phones     digit by digit (speechseq.phone_numbers): "555-1234" five five five one two three four,
                 "(555) 123-4567", "1-800-555-0199", "+1 555 123 4567" plus one five five five ..., "+44 (0)20 ...";
                 not a list after a plus ("+10 20 30 40": no country code) nor years or pages ("410-1066 AD",
                 "pp. 255-1299" ... to ...)
      times      "9:30" nine thirty, "10:05 am" ten oh five a m, "10:00" ten o'clock, "14:00" fourteen hundred
      money      "$5.50" five dollars and fifty cents, "£3" three pounds, "€1" one euro, "¥5" five yen (and
                 ₹ rupees, ₩ won, ₽ rubles, ₺ lira, ₪ shekels, ₦ naira, ₱ pesos, ฿ baht, ₫ dong), and so with
                 the sign after the amount ("1.50$", "5 €") or a decimal comma beside it ("1,50 €", "€2,99");
                 a bare "¥" is the yen's: "CN¥5" and "5元" five yuan, "JP¥5" five yen ("RMB" left as written);
                 "Rs", "Rs.", "Re." and "INR" before an amount are the rupee's: "Rs. 500" five hundred rupees,
                 "Re. 1" one rupee, "INR 2,50,000" two lakh fifty thousand rupees ("RS 6" and "the Rs" left as
                 written); "USD 5", "5 EUR", "US$5" as their signs; a scale after an amount of money comes before
                 its currency, singular: "₹5 lakhs" five lakh rupees, "₹1 lakh crore" one lakh crore rupees, and
                 so its abbreviations: "$5k", "£2m", "$1.5bn", "₹2 cr", "₹5L"
      units      after a number (speechseq.units): "5 km" five kilometers, "1 lb" one pound, "6 ft" six feet,
                 "100 mph" one hundred miles per hour, "a 2 GB file" a two gigabyte file ("m", "g", "in" and
                 the like as written); "5'10\"" and "5 ft 10 in" five feet ten inches ("3'05\"" three zero five)
      symbols    % percent, & and, + plus, = equals, @ at, # number, "20°C" twenty degrees celsius,
                 "1°" one degree, "m²" m squared, "10⁻³" ten to the minus three, ± plus or minus,
                 ÷ divided by, × times, "25¢" twenty five cents, ≈ approximately, ≥ greater than or equal to,
                 ≤ less than or equal to, ≠ does not equal; < less than and > greater than between numbers
                 ("2<3", "x > -1"; not "->", "<b>")
      titles     Mr mister, Mrs missus, Dr doctor, Prof. professor, Jr. junior, Sr. senior, vs versus,
                 etc et cetera, e.g. for example, i.e. that is; in capitals beside a word in lower case
                 they are acronyms or initials, their letters said: "MR scan" m r scan, "VS Code" v s code,
                 "E.G. Marshall" e g marshall ("MR SMITH VS JONES" and "DR. Smith", with its dot, stay titles);
                 "Dr" after a capitalised word, before the end or a sign, is a street: "Elm Dr." elm drive;
                 with a dot before a name (speechseq.abbreviations): "Lt. Col. Day" lieutenant colonel day,
                 "Maj. Gen." major general, "Rev." reverend, "Hon." honorable, "Capt.", "Sgt.", "Gov.", "Drs."
                 ...; "St. Paul" saint paul, "Elm St." elm street, "Giltspur St. Compter" ... street compter;
                 "George Rose and Co." ... company, "Inc." incorporated, "Ltd." limited, "Esq." esquire;
                 "Messrs." messieurs, "Mmes." mesdames; "No. 5" number five; a Roman numeral of two letters or
                 more after a name: "George III" george the third, "World War II" world war two, and one of one
                 letter after a monarch's name: "Henry V" henry the fifth, "Charles I." charles the first ("Then
                 George I went", "Robert I. Bouck", "Malcolm X", "Type V" as written)
      letters    accents dropped ("café" cafe), "ß" ss, "ø" o, "’" and "´" an apostrophe
    Left as written: acronyms ("TV" tv, "A.I." a i: write "T V" to have letters said), ISO dates (read as numbers).
    Letters of other scripts (Cyrillic, CJK, ...) cannot be spelled in a-z and are dropped: the result may be
    empty ("Привет" -> ""), which callers refuse where they need words (a command phrase, every WER reference).
    """
    text = _YEN_OR_YUAN.sub(lambda m: ("元" if _AMOUNT_NEXT.match(text, m.end()) else " yuan ") if m.group("cn")
                            else "¥", text)
    text = _NEGATIVE_POWER.sub(lambda m: " to the minus " + m.group(1).translate(_SUPERSCRIPT_DIGITS) + " ", text)
    # every rule but the abbreviations', the degrees' and the signs' needs a digit: a sentence of words skips them
    if _DIGIT.search(text):
        text = _RUPEES.sub("₹", text)
        text = _CODE_BEFORE.sub(lambda m: _CODE_SIGNS[m.group("code") or "USD"], text)
        text = _CODE_AFTER.sub(lambda m: _CODE_SIGNS[m.group("code")], text)
        text = _DECIMAL_COMMA.sub(lambda m: (m.group("sign") or "") + m.group("whole").replace(".", ",")
                                  + "." + m.group("cents"), text)
        text = _DIGIT_GROUPS.sub(lambda m: re.sub(r"\D", ",", m.group(0)), text)
    text = unicodedata.normalize("NFKD", text.translate(_LETTERS).translate(_SIGNS)).replace("+/-", " plus or minus ")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    digits = _DIGIT.search(text) is not None  # (NFKD makes some: "½" 1⁄2, "①" 1)
    if digits:
        text = _ORDINAL_BEFORE_WORD.sub(lambda m: m.group(0) if ABBREVIATION.fullmatch(m.group("word"))
                                        else m.group(0) + " ", text)
    text = spell_abbreviations(text)
    if digits:
        text = spell_feet_inches(spell_phone_numbers(text))
        text = _AMPM.sub(lambda m: f" {m.group(1).lower()} m ", text)
        text = _CURRENCY_MINUS.sub(lambda m: (m.group("minus") or "") + m.group("sign"),
                                   _CURRENCY_AFTER.sub(r"\g<sign>\g<num>", text))
        text = _COMPARISON.sub(lambda m: _COMPARISON_WORDS[m.group(0).strip(" \t")], text)
        text = _MINUS.sub(" minus ", _RANGE.sub(_spell_range, text))
    text = _DEGREES.sub(lambda m: (" one degree " if m.group("one") else " degrees ")
                        + _SCALE_NAMES[(m.group("scale") or "").lower()] + " ", text)
    if digits:
        text = _CLOCK.sub(_spell_clock, spell_units(text))
        text = _FRACTION.sub(_spell_fraction, text)
        text = _NUMBER.sub(_spell_number, _ONE_CENT.sub(" one cent ", text))
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
