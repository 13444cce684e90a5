"""Hand-made CTC log-probabilities for tests of what reads a recogniser's output (analyze, tune fusion)."""
from __future__ import annotations

import numpy as np

from speechseq.text import VOCAB


def spelling(text: str) -> np.ndarray:
    """(T, 29) CTC log-probs whose best path spells `text`, one frame a character, a blank between (nearly sure)."""
    frames = []
    for ch in text:
        frames += [VOCAB.index(ch), 0]
    lp = np.full((len(frames), 29), np.log(1e-4), np.float32)
    lp[np.arange(len(frames)), frames] = np.log(1 - 28e-4)
    return lp
