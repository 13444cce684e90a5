"""The partial decoders' word agreement: which words of the newest decode of the utterance so far are fixed (two
decodes in a row agreed on them) and which partial text they give. A pure function on values."""
from __future__ import annotations

from .decoding import Word


def settle(settled: tuple[Word, ...], unsettled: tuple[str, ...], old_count: int,
           words: list[Word]) -> tuple[tuple[Word, ...], tuple[str, ...], str]:
    """(settled, unsettled, partial text) after a decode `words` (times on the utterance's clock) that began at
    the end of settled[old_count - 1]: its first words are settled[old_count:] again, found by word alignment;
    the words after them the last decode (`unsettled`) agreed on become settled, the rest unsettled."""
    k = _aligned_prefix([w.word for w in settled[old_count:]], [w.word for w in words])
    tail = words[k:]
    agreed = 0   # never the newest decode's last word: the audio may end inside it
    while agreed < min(len(tail) - 1, len(unsettled)) and tail[agreed].word == unsettled[agreed]:
        agreed += 1
    settled = (*settled, *tail[:agreed])
    text = " ".join([w.word for w in settled] + [w.word for w in tail[agreed : agreed + 1]])
    return settled, tuple(w.word for w in tail[agreed:]), text


def _aligned_prefix(words: list[str], other: list[str]) -> int:
    """The length of the prefix of `other` that best matches `words` (fewest word edits; the longest of equals)."""
    row = list(range(len(other) + 1))
    for i, w in enumerate(words, 1):
        prev, row = row, [i] + [0] * len(other)
        for j, v in enumerate(other, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (w != v))
    best = min(row)
    return max(j for j, cost in enumerate(row) if cost == best)
