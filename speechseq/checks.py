"""Bounds the frozen dataclass configs check when they are made (STYLE.md section 2): a value that cannot work is one
ValueError naming the field, the value and the bound, not a ZeroDivisionError or a NaN deep inside a later step."""
from __future__ import annotations

import math
import numbers
from typing import Iterable

__all__ = ["whole", "finite", "fraction", "span", "refuse"]


def whole(value: object, least: int = 1) -> bool:
    """An integer (numpy's too, not a bool) of at least `least`."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= least


def finite(value: object) -> bool:
    """A finite real number (an int or a numpy float too, not a bool)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def fraction(value: object, below_one: bool = False) -> bool:
    """A probability: a finite number in [0, 1] ([0, 1) with `below_one`: a dropout or a decay)."""
    return finite(value) and 0 <= value and (value < 1 if below_one else value <= 1)


def span(value: object, least: float = -math.inf, *, above: bool = False, ints: bool = False) -> bool:
    """A range (low, high), a tuple or a list: two finite numbers (whole numbers with `ints`), low <= high, and low
    at least `least` (more than it with `above`)."""
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
            (whole(v, -2 ** 63) if ints else finite(v)) for v in value):
        return False
    low, high = value
    return (low > least if above else low >= least) and low <= high


def refuse(what: str, checks: Iterable[tuple[str, object, bool, str]]) -> None:
    """ValueError "WHAT out of range: NAME VALUE (BOUND), ..." for each (name, value, ok, bound) not ok."""
    bad = [f"{name} {value!r} ({bound})" for name, value, ok, bound in checks if not ok]
    if bad:
        raise ValueError(f"{what} out of range: {', '.join(bad)}")
