"""Chunked (latency-controlled) recognition on onnxruntime: text while the user is still speaking.

    rec = StreamingRecognizer("models/recognizer-en.stream.onnx", chunk_s=0.4, lookahead_s=0.2)
    state = rec.initial_state()
    for feats in frames:                     # (t, F) log-mel of rec.frontend, any t >= 0
        state = rec.accept(feats, state)
        print(rec.partial(state).text)       # final chunks + the tentative look-ahead
    log_probs = rec.finish(state)            # (T', V): every step, the end of the utterance known

A chunk of C output steps is run once R more steps of look-ahead have arrived; its outputs are
final and the R look-ahead outputs are kept as a tentative tail, so a partial result lags the
speech by about C / 2 + compute, and only its last word or so may change. The graph is
`speechseq.train.export_streaming`'s; the state (pending frames, forward LSTM states,
committed log-probs) is a value. When the look-ahead covers the whole utterance the result equals
the offline model's; the listener's final result re-decodes the whole utterance offline anyway.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, replace

import numpy as np

from ..frontend import FrontendConfig
from ..text import CTC_SIZE, VOCAB
from .decoding import Hypothesis, Word, greedy, word_timestamps
from .onnx import (ModelError, check_inputs, check_vocabulary, frontend_of, make_session, reading_metadata,
                   session_metadata)

__all__ = ["StreamState", "StreamingRecognizer", "source_digest"]

_MOST_STEPS = 2.0 ** 53   # chunk or look-ahead steps: longer than any take (about 5.7 million years at 20 ms)


def source_digest(meta: dict) -> str:
    """A fingerprint of an offline recogniser's metadata (its int8 twin has the same one): the chunked
    twin records its source's, so a stale twin can be told apart."""
    body = {k: v for k, v in meta.items() if k != "quantization"}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class StreamState:
    """pending: input frames from s * steps - left on, (n, F); frames: input frames received;
    steps: final output steps so far; h, c: (L, 1, H); committed: (steps, V) final log-probs;
    tentative: (r, V) log-probs of the last look-ahead (replaced at every chunk)."""

    pending: np.ndarray
    frames: int
    steps: int
    h: np.ndarray
    c: np.ndarray
    committed: np.ndarray
    tentative: np.ndarray


class StreamingRecognizer:
    """A stateless wrapper around one chunked recogniser graph; many streams may share it."""

    def __init__(self, path: str | os.PathLike, chunk_s: float = 0.4, lookahead_s: float = 0.2,
                 threads: int = 1) -> None:
        self.path = str(path)
        self.session = make_session(path, threads)
        meta = session_metadata(self.session, path)
        if meta.get("kind") != "recognizer-stream":
            raise ModelError(f"{path}: not a chunked recogniser (metadata kind {meta.get('kind')!r}); "
                             "make one with `python -m speechseq.train.export_streaming`")
        self.meta = meta
        with reading_metadata(path, "chunked recogniser"):
            self.frontend: FrontendConfig = frontend_of(meta)
            self.stride, self.kernel, self.left = int(meta["stride"]), int(meta["kernel"]), int(meta["left"])
            self.layers, self.hidden = int(meta["layers"]), int(meta["hidden"])
            self.frame_shift_s = float(meta["frame_shift_s"])
            self.pad = np.asarray(meta["feat_mean"], dtype=np.float32)[None, :]   # (1, F): 0 once normalised
            if self.pad.shape != (1, self.frontend.n_mels):
                raise ValueError(f"feat_mean of shape {self.pad.shape[1:]}, not ({self.frontend.n_mels},)")
            self.vocab_size = len(meta["vocabulary"])
        check_vocabulary(meta, path, VOCAB[:CTC_SIZE])
        f, state = self.frontend.n_mels, (self.layers, 1, self.hidden)
        check_inputs(self.session, path, "chunked recogniser",
                     {"chunk": (1, None, f), "lookahead": (1, None, f), "h": state, "c": state})
        if not (math.isfinite(chunk_s) and math.isfinite(lookahead_s)) or chunk_s <= 0 or lookahead_s < 0:
            raise ValueError(f"chunk must be > 0 and look-ahead >= 0 seconds (finite), got {chunk_s}, {lookahead_s}")
        # capped in floats: a size no take reaches (1e308 s, "the whole utterance") is no float count of steps
        self.chunk_steps = max(1, int(round(min(chunk_s / self.frame_shift_s, _MOST_STEPS))))
        self.lookahead_steps = max(0, int(round(min(lookahead_s / self.frame_shift_s, _MOST_STEPS))))

    @property
    def chunk_s(self) -> float:
        return self.chunk_steps * self.frame_shift_s

    @property
    def lookahead_s(self) -> float:
        return self.lookahead_steps * self.frame_shift_s

    def _lookahead_frames(self, steps: int) -> int:
        return max(0, self.stride * steps + self.kernel - self.stride)

    def initial_state(self) -> StreamState:
        z = np.zeros((self.layers, 1, self.hidden), np.float32)
        v = np.zeros((0, self.vocab_size), np.float32)
        return StreamState(np.repeat(self.pad, self.left, axis=0), 0, 0, z, z, v, v)

    def _run(self, state: StreamState, pending: np.ndarray, c_steps: int, r_steps: int) -> StreamState:
        """Run one chunk of c_steps final steps with r_steps of look-ahead, pending long enough."""
        n_chunk = self.stride * c_steps
        n_look = self._lookahead_frames(r_steps)
        lp, h, c = self.session.run(None, {"chunk": pending[None, :n_chunk], "lookahead": pending[None, n_chunk : n_chunk + n_look],
                                           "h": state.h, "c": state.c})
        lp = lp[0]
        return replace(state, pending=pending[n_chunk:], steps=state.steps + c_steps, h=h, c=c,
                       committed=np.concatenate([state.committed, lp[:c_steps]]), tentative=lp[c_steps:])

    def accept(self, feats: np.ndarray, state: StreamState) -> StreamState:
        """Append log-mel frames (t, F); runs every chunk whose look-ahead is complete."""
        feats = np.asarray(feats, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.pad.shape[1]:
            raise ValueError(f"features must be (t, {self.pad.shape[1]}), got {feats.shape}")
        pending = np.concatenate([state.pending, feats]) if len(feats) else state.pending
        state = replace(state, pending=pending, frames=state.frames + len(feats))
        need = self.stride * self.chunk_steps + self._lookahead_frames(self.lookahead_steps)
        while len(state.pending) >= need:
            state = self._run(state, state.pending, self.chunk_steps, self.lookahead_steps)
        return state

    def total_steps(self, frames: int) -> int:
        """Output steps of an utterance of `frames` input frames: ceil(frames / stride), as offline."""
        return -(-frames // self.stride)

    def finish(self, state: StreamState) -> np.ndarray:
        """All log-probs of the utterance, (T', V): the remaining steps run with the end as their look-ahead."""
        total = self.total_steps(state.frames)
        while state.steps < total:
            left = total - state.steps
            c_steps = min(self.chunk_steps, left)
            r_steps = min(self.lookahead_steps, left - c_steps)
            if c_steps + r_steps == left:  # the look-ahead reaches the end: the outputs are exact
                r_steps = left - c_steps
            need = self.stride * c_steps + self._lookahead_frames(r_steps)
            pending = state.pending
            if len(pending) < need:
                pending = np.concatenate([pending, np.repeat(self.pad, need - len(pending), axis=0)])
            state = self._run(state, pending, c_steps, r_steps)
        return state.committed[:total]

    def _partial_log_probs(self, state: StreamState) -> np.ndarray:
        return np.concatenate([state.committed, state.tentative]) if len(state.tentative) else state.committed

    def partial(self, state: StreamState) -> Hypothesis:
        """Greedy text of the final steps followed by the tentative look-ahead."""
        return greedy(self._partial_log_probs(state))

    def partial_words(self, state: StreamState) -> list[Word]:
        """The words of `partial`, timed by a CTC alignment of the same log-probs (seconds from the first frame)."""
        lp = self._partial_log_probs(state)
        return word_timestamps(lp, greedy(lp), self.frame_shift_s)
