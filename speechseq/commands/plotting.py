"""What the commands' pictures share (detect --plot, features --plot): a long stream pooled to the columns a picture
shows, and titles that the fonts here can draw."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy where a stream is pooled: detect and features import this module to build --help
    import numpy as np

__all__ = ["PLOT_ROWS", "MaxPool", "Pooled", "drawable"]

# Columns of spectrogram and of each posterior kept for --plot: a file of under 40 s (10 ms frames) is drawn whole;
# a longer one in 2048-4096 columns, each the maximum of the frames it stands for, more than the figure's 1000 pixels
# show. Keeping the whole file took 1.03 GB at the peak for an hour (85 MB without --plot).
PLOT_ROWS = 4096


@dataclass(frozen=True)
class Pooled:
    """A stream of n rows (time first) kept as at most PLOT_ROWS: row k is the maximum of rows
    [k * factor, (k + 1) * factor), the last one of those there are."""

    rows: np.ndarray
    factor: int
    n: int

    def ends(self) -> np.ndarray:
        """(len(rows),) the index after each row's last input row."""
        import numpy as np

        return np.minimum((np.arange(len(self.rows)) + 1) * self.factor, self.n)


class MaxPool:
    """Collects a stream of rows into a Pooled of fewer than `limit` (even) rows: when `limit` are full, neighbours
    are pooled in pairs and each row stands for twice as many. The maximum, so that a short loud sound or a
    posterior's peak still shows in an hour."""

    def __init__(self, empty: np.ndarray, limit: int = PLOT_ROWS) -> None:
        self.limit, self.factor, self.n, self.count = limit, 1, 0, 0
        self.rows: list[np.ndarray] = []
        self.part = self.empty = empty  # the maximum of the `count` rows of the one being filled; (0, ...) rows

    def add(self, x: np.ndarray) -> None:
        import numpy as np

        i = 0
        while i < len(x):
            take = min(self.factor - self.count, len(x) - i)
            top = x[i: i + take].max(axis=0)
            self.part = top if self.count == 0 else np.maximum(self.part, top)
            self.count, i = self.count + take, i + take
            if self.count == self.factor:
                self.rows.append(self.part)
                self.count = 0
                if len(self.rows) == self.limit:
                    self.rows = list(np.maximum(np.stack(self.rows[0::2]), np.stack(self.rows[1::2])))
                    self.factor *= 2
        self.n += len(x)

    def result(self) -> Pooled:
        import numpy as np

        rows = self.rows + ([self.part] if self.count else [])
        return Pooled(np.stack(rows) if rows else self.empty, self.factor, self.n)


def drawable(text: str) -> str:
    """`text` with each character that no font of matplotlib's default family here has written as Python escapes
    it ("中" as "\\u4e2d"): a file name in a script the installed fonts lack (CJK on a machine with DejaVu alone)
    drew as boxes, and matplotlib printed a "Glyph ... missing" warning to the user for each."""
    covered = _covered()
    return "".join(ch if ord(ch) in covered else ascii(ch)[1:-1] for ch in text)


@functools.lru_cache(maxsize=1)
def _covered() -> frozenset[int]:
    """The code points the default font family draws, its fallback fonts included (as a title is drawn)."""
    from matplotlib import font_manager

    prop = font_manager.FontProperties()
    find = getattr(font_manager.fontManager, "_find_fonts_by_props", None)  # the fallback list (matplotlib >= 3.6)
    paths = find(prop) if find else [font_manager.findfont(prop)]
    return frozenset().union(*(font_manager.get_font(p).get_charmap() for p in paths))
