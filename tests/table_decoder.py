"""Shared by the tests of attention beam search and its error analysis (tests/test_text_models.py,
tests/test_lm_analysis.py): a hand-made decoder whose next-token probabilities are looked up by the prefix."""
from __future__ import annotations

import numpy as np

from speechseq.text import VOCAB


def table_step(table: dict[tuple[int, ...], dict[int, float]]):
    """A decoder step (tokens, states) -> (log-prob rows, states): the state is the prefix so far (SOS first),
    the next token's probabilities table[prefix without SOS] (a log-prob of -30 for any other token)."""
    def step(tokens, states):
        prefixes = [p + (int(t),) for p, t in zip(states, tokens)]
        rows = np.full((len(prefixes), len(VOCAB)), -30.0)
        for r, p in enumerate(prefixes):
            for tok, prob in table.get(p[1:], {}).items():
                rows[r, tok] = np.log(prob)
        return rows, prefixes
    return step
