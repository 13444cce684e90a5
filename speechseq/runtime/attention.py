"""The attention decoder on onnxruntime: step function for beam search, teacher-forced scores,
attention maps, and rescoring of a CTC n-best with the decoder and the LM.

    dec = OnnxDecoder("models/decoder-en.onnx")
    step = dec.step_fn(memory)                    # memory (T', E): the recogniser's BiLSTM outputs
    best = attention_beam_search(step, dec.initial_state(), 8, max_len=200)[0]
    nbest = prefix_beam_search(log_probs, 8, lm=lm, alpha=0.8, beta=1.0)
    top = rescore(nbest, memory, dec, lm, RescoreWeights())[0]

Decoder states are (h (B, L, H), c (B, L, H), context (B, E)) float32 arrays, batch first.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..checks import finite, refuse
from ..text import VOCAB, decode
from .decoding import Hypothesis, distinct_texts
from .lm import teacher_forced
from .onnx import check_inputs, open_model, reading_metadata

__all__ = ["OnnxDecoder", "RescoreWeights", "Rescored", "rescore"]

DecoderState = tuple[np.ndarray, np.ndarray, np.ndarray]


class OnnxDecoder:
    """An exported attention-decoder step graph (speechseq.train.export_lm.export_decoder)."""

    _IN = ("state_h", "state_c", "context")
    _OUT = ("log_probs", "attention", "state_h_out", "state_c_out", "context_out")

    def __init__(self, path: str | os.PathLike, threads: int = 1) -> None:
        self.path = str(path)
        self.session, self.meta = open_model(path, "attention-decoder", "attention decoder", threads, VOCAB)
        with reading_metadata(path, "attention decoder"):
            self.shapes = [tuple(int(d) for d in self.meta["states"][n]) for n in self._IN]
            self.enc_dim = int(self.meta["model_config"]["enc_dim"])
            probe = self.meta.get("encoder_probe")   # the recogniser it was trained on (text_decoder.encoder_probe)
            if probe is not None and not (isinstance(probe, list) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in probe)):
                raise ValueError(f"encoder_probe {str(probe)[:60]} is not a list of finite numbers")
        check_inputs(self.session, path, "attention decoder",
                     {"memory": (None, None, self.enc_dim), "tokens": (None,),
                      **{n: (None, *s) for n, s in zip(self._IN, self.shapes)}})

    def initial_state(self, batch: int = 1) -> DecoderState:
        return tuple(np.zeros((batch, *s), dtype=np.float32) for s in self.shapes)  # type: ignore[return-value]

    def _memory(self, memory: np.ndarray) -> np.ndarray:
        m = np.asarray(memory, dtype=np.float32)
        if m.ndim == 2:
            m = m[None]
        if m.ndim != 3 or m.shape[0] != 1 or m.shape[2] != self.enc_dim:
            raise ValueError(f"memory must be (T', {self.enc_dim}) for one utterance, got {np.shape(memory)}")
        return np.ascontiguousarray(m)

    def run(self, memory: np.ndarray, tokens: np.ndarray, states: DecoderState
            ) -> tuple[np.ndarray, np.ndarray, DecoderState]:
        """memory (1, T', E), tokens (B,), states -> (log_probs (B, V), attention (B, T'), states)."""
        feeds = {"memory": memory, "tokens": np.asarray(tokens, dtype=np.int64).reshape(-1)}
        feeds.update({n: np.ascontiguousarray(s, dtype=np.float32) for n, s in zip(self._IN, states)})
        log_probs, attention, h, c, ctx = self.session.run(list(self._OUT), feeds)
        return log_probs, attention, (h, c, ctx)

    def step_fn(self, memory: np.ndarray) -> Callable[[np.ndarray, DecoderState], tuple[np.ndarray, DecoderState]]:
        """step(tokens (B,), states) -> (log_probs (B, V), states) over one utterance's memory (T', E),
        the form speechseq.runtime.decoding.attention_beam_search and score_sequence take."""
        mem = self._memory(memory)

        def step(tokens: np.ndarray, states: DecoderState) -> tuple[np.ndarray, DecoderState]:
            log_probs, _, states = self.run(mem, tokens, states)
            return log_probs, states

        return step

    def teacher_forced(self, memory: np.ndarray, batch: Sequence[Sequence[int]]
                       ) -> tuple[np.ndarray, list[np.ndarray]]:
        """For token sequences (no <sos>/<eos>): log P(tokens <eos> | audio), (N,) float64, and each
        sequence's attention weights (len + 1, T'), one row per predicted symbol (<eos> last)."""
        mem = self._memory(memory)
        n = len(batch)
        if n == 0:
            return np.zeros(0), []
        inputs, targets = teacher_forced(batch)
        length = inputs.shape[1]
        states = self.initial_state(n)
        total, maps = np.zeros(n), []
        for s in range(length):
            log_probs, attn, states = self.run(mem, inputs[:, s], states)
            live = targets[:, s] >= 0
            total[live] += log_probs[live, targets[live, s]]
            maps.append(attn)
        stacked = np.stack(maps, axis=1)                                # (N, S, T')
        return total, [stacked[i, : len(t) + 1] for i, t in enumerate(batch)]


@dataclass(frozen=True)
class RescoreWeights:
    """score = ctc * log P_ctc + attention * log P_att + lm * log P_lm + length * characters."""

    ctc: float = 1.0
    attention: float = 0.5
    lm: float = 0.5
    length: float = 1.0

    def __post_init__(self) -> None:   # a nan or infinite weight scored every hypothesis nan: an arbitrary order
        refuse("rescoring weights", ((name, getattr(self, name), finite(getattr(self, name)), "a finite number")
                                     for name in ("ctc", "attention", "lm", "length")))


@dataclass(frozen=True)
class Rescored:
    tokens: tuple[int, ...]
    text: str
    score: float
    ctc_score: float
    attention_score: float
    lm_score: float


def rescore(nbest: Sequence[Hypothesis], memory: np.ndarray, decoder: OnnxDecoder | None, lm=None,
            weights: RescoreWeights = RescoreWeights()) -> list[Rescored]:
    """Rerank a CTC n-best (prefix_beam_search output) with the attention decoder and the LM.

    memory: (T', E) encoder outputs of the utterance. The decoder and the LM score every
    hypothesis in one batched pass each; a missing model contributes 0. Returns the hypotheses
    best first, one per text (decoding.distinct_texts: of spellings that differ only in spaces, the best rescored).
    """
    if not nbest:
        return []
    toks = [h.tokens for h in nbest]
    att = decoder.teacher_forced(memory, toks)[0] if decoder is not None and weights.attention else np.zeros(len(toks))
    lms = lm.score_tokens(toks) if lm is not None and weights.lm else np.zeros(len(toks))
    out = []
    for h, a, m in zip(nbest, att, lms):
        score = weights.ctc * h.ctc_score + weights.attention * a + weights.lm * m + weights.length * len(h.tokens)
        out.append(Rescored(h.tokens, decode(h.tokens), float(score), h.ctc_score, float(a), float(m)))
    return distinct_texts(sorted(out, key=lambda r: -r.score))
