"""The character language model on onnxruntime: the `LanguageModel` protocol of
speechseq.runtime.decoding (batched over a beam), sentence scores and sampling.

    lm = OnnxLM("models/lm-en.onnx")
    hyps = prefix_beam_search(log_probs, 8, lm=lm, alpha=0.8, beta=1.0)
    lm.score("the cat sat")            # log P(text <eos>), natural log
    sample(lm, np.random.default_rng(0), temperature=0.8, prefix="the ")

States are a tuple of float32 arrays (B, L, H), batch first, so a beam search reorders them by
indexing axis 0. Vocabulary: speechseq.text.VOCAB (32 symbols).
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..text import BLANK, EOS, SOS, UNK, VOCAB, decode, encode
from .onnx import check_inputs, open_model, reading_metadata

__all__ = ["OnnxLM", "sample", "teacher_forced"]

LMState = tuple[np.ndarray, ...]


class OnnxLM:
    """An exported LM step graph (speechseq.train.export_lm). Stateless: states are values."""

    def __init__(self, path: str | os.PathLike, threads: int = 1) -> None:
        self.path = str(path)
        self.session, self.meta = open_model(path, "lm", "language model", threads, VOCAB)
        with reading_metadata(path, "language model"):
            states = self.meta["states"]
            self.state_names = list(states)
            self.state_shapes = [tuple(int(d) for d in states[n]) for n in self.state_names]
        check_inputs(self.session, path, "language model",
                     {"tokens": (None,), **{n: (None, *s) for n, s in zip(self.state_names, self.state_shapes)}})
        self.out_names = ["log_probs", *(n + "_out" for n in self.state_names)]
        self.vocab_size = len(VOCAB)

    def initial_state(self, batch: int = 1) -> LMState:
        """Zeros: the state before <sos>, for `batch` rows."""
        return tuple(np.zeros((batch, *shape), dtype=np.float32) for shape in self.state_shapes)

    def step(self, tokens: np.ndarray, states: LMState) -> tuple[np.ndarray, LMState]:
        """tokens (B,) int and states (each (B, L, H)) -> (log_probs (B, V) float32, new states)."""
        feeds = {"tokens": np.asarray(tokens, dtype=np.int64).reshape(-1)}
        feeds.update({n: np.ascontiguousarray(s, dtype=np.float32) for n, s in zip(self.state_names, states)})
        log_probs, *new = self.session.run(self.out_names, feeds)
        return log_probs, tuple(new)

    def score_tokens(self, batch: Sequence[Sequence[int]]) -> np.ndarray:
        """log P(tokens <eos>) of each token sequence (VOCAB indices, no <sos>/<eos>), (N,) float64.

        The N sequences are stepped together (padded, the padding's scores ignored)."""
        n = len(batch)
        if n == 0:
            return np.zeros(0)
        inputs, targets = teacher_forced(batch)
        length = inputs.shape[1]
        states = self.initial_state(n)
        total = np.zeros(n)
        for s in range(length):
            log_probs, states = self.step(inputs[:, s], states)
            live = targets[:, s] >= 0
            total[live] += log_probs[live, targets[live, s]]
        return total

    def score(self, text: str) -> float:
        """log P(text <eos>) (natural log) of a normalised text."""
        return float(self.score_tokens([encode(text)])[0])


def sample(lm: OnnxLM, rng: np.random.Generator, temperature: float = 1.0, prefix: str = "",
           max_chars: int = 300) -> str:
    """One sentence drawn from the LM, continuing `prefix` (normalised text), until <eos>.

    Probabilities are sharpened (T < 1) or flattened (T > 1) as softmax(log_p / T); the
    blank, <sos> and <unk> are never drawn. Returns prefix + continuation (at most max_chars
    characters in all; a sentence cut there has no <eos>). ValueError for a prefix longer than that.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    banned = [BLANK, SOS, UNK]
    tokens = [SOS, *encode(prefix)]
    if len(tokens) - 1 > max_chars:
        raise ValueError(f"prefix of {len(tokens) - 1} characters, more than max_chars {max_chars}")
    states = lm.initial_state()
    out = list(tokens[1:])
    log_probs = None
    for tok in tokens:  # read the prefix
        log_probs, states = lm.step(np.array([tok]), states)
    while len(out) < max_chars:
        logits = log_probs[0].astype(np.float64) / temperature
        logits[banned] = -np.inf
        p = np.exp(logits - logits.max())
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        if nxt == EOS:
            break
        out.append(nxt)
        log_probs, states = lm.step(np.array([nxt]), states)
    return decode(out)


def teacher_forced(batch: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences (no <sos>/<eos>) as padded step inputs and targets, both (N, L + 1) int64:
    inputs <sos> t1 .. tL (BLANK padding), targets t1 .. tL <eos> (-1 padding), L the longest."""
    length = max(len(t) for t in batch) + 1
    inputs = np.full((len(batch), length), BLANK, dtype=np.int64)
    targets = np.full((len(batch), length), -1, dtype=np.int64)
    for i, toks in enumerate(batch):
        inputs[i, : len(toks) + 1] = [SOS, *toks]
        targets[i, : len(toks) + 1] = [*toks, EOS]
    return inputs, targets
