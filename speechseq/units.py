"""Unit abbreviations after a number, read as words for ``speechseq.text.normalize``: "5 km" five kilometers, "1 kg"
one kilogram, "6 ft" six feet, "100 mph" one hundred miles per hour, "a 2 GB file" a two gigabyte file; a height
in feet and inches, "5'10\"" or "5 ft 10 in", five feet ten inches.

Only abbreviations with one reading after a number: "m" (meters, minutes, million), "g", "s", "in", "L" and the
like are left as written. Matched in the case written ("MB" megabytes; "Mb", "mb" left).
"""
from __future__ import annotations

import re

__all__ = ["spell_feet_inches", "spell_units"]

# abbreviation -> (one, many)
_UNITS = {"km": ("kilometer", "kilometers"), "cm": ("centimeter", "centimeters"), "mm": ("millimeter", "millimeters"),
          "kg": ("kilogram", "kilograms"), "mg": ("milligram", "milligrams"), "ml": ("milliliter", "milliliters"),
          "mL": ("milliliter", "milliliters"), "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"),
          "oz": ("ounce", "ounces"), "ft": ("foot", "feet"), "yd": ("yard", "yards"), "mi": ("mile", "miles"),
          "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
          "kph": ("kilometer per hour", "kilometers per hour"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
          "min": ("minute", "minutes"), "mins": ("minute", "minutes"), "sec": ("second", "seconds"),
          "secs": ("second", "seconds"), "ms": ("millisecond", "milliseconds"), "yr": ("year", "years"),
          "yrs": ("year", "years"), "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"),
          "MHz": ("megahertz", "megahertz"), "GHz": ("gigahertz", "gigahertz"), "kW": ("kilowatt", "kilowatts"),
          "kWh": ("kilowatt hour", "kilowatt hours"), "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"),
          "MB": ("megabyte", "megabytes"), "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes")}
# After a digit, glued to it or one space apart; not part of a longer word ("5 kms", "5 km2") nor before a slash
# ("5 km/day"), but "km/h" whole. Longer abbreviations first, so "kWh" is not "kW" and an "h".
_UNIT = re.compile(r"(?<=\d)[ \t]?(?P<unit>" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
                   + r")(?![\w/])")
# One of the unit: after the number 1 ("1 km", "-1 ft"; not "21 km", "1.5 km"), or an amount after "a" or "an",
# where the unit names a kind of thing ("a 5 km run" a five kilometer run, "a .5 mm lead").
_ONE_BEFORE = re.compile(r"(?:(?<![\d.,])1|(?<![\w'])[Aa]n?[ \t]+[\d.,]*\d)\Z")
# Feet and inches together, each after its number: "5'10\"", "6' 2''", "5′10″" (primes; NFKD makes "″" two "′"),
# "5 ft 10 in", "5ft. 10in.", "5 ft 05 in"; the inches under 12, and not after a degree sign: "3'45\"" (a time) and
# "40°26'6\"" (an angle) are no height, nor are primes with a leading zero, "3'05\"" (a time's seconds have two digits,
# a height's inches one). Alone, "5'" and "10\"" are left as written (a closing quote: "'take 5'"), and so is "in"
# after a number ("5 in a row").
_FEET_INCHES = re.compile(r"(?<![\w.,'\u2032\u00b0])(?P<feet>\d+)"
                          r"(?:[ \t]?(?P<ft>ft)\.?[ \t]?|['\u2032][ \t]?)(?P<inches>(?:1[01]|(?(ft)0?)\d)(?:\.\d+)?)"
                          r"(?(ft)[ \t]?in(?![\w'])|(?:\"|''|\u2032\u2032))")


def _spell_feet_inches(match: re.Match) -> str:
    feet, inches = match.group("feet"), match.group("inches")
    return f" {feet} {'foot' if feet == '1' else 'feet'} {inches} {'inch' if inches == '1' else 'inches'} "


def spell_feet_inches(text: str) -> str:
    """A height in feet and inches, in words; run before the degree sign is read ("40°26'6\"", an angle)."""
    return _FEET_INCHES.sub(_spell_feet_inches, text)


def spell_units(text: str) -> str:
    """Unit abbreviations after a number, in words."""
    def spell(match: re.Match) -> str:
        one, many = _UNITS[match.group("unit")]
        return " " + (one if _ONE_BEFORE.search(text, max(0, match.start() - 40), match.start()) else many) + " "
    return _UNIT.sub(spell, text)
