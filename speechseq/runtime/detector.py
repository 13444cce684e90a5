"""Streaming trigger-word detection on onnxruntime: one frontend feeding any number of keyword models.

    det = Detector.load(["models/activate.onnx", "models/computer.onnx"])
    state, events = det.initial_state(), []
    for chunk in chunks:                       # float32 mono 16 kHz, any length
        new, state = det.step(chunk, state)    # the events this chunk completed
        events += new
    events += det.flush(state)                 # Detections: keyword, start, end, score, time (s from stream start)

Each model turns log-mel frames into one keyword posterior per output step (S frames). The
posterior is smoothed by a causal moving average; an event starts when it reaches the threshold
and is emitted at its peak (when the posterior first drops, or after `max_wait_s`; with
`max_wait_s=0`, at the crossing itself, the earliest wake, scored by the crossing value). After an
event the keyword is re-armed only once the posterior has fallen below the threshold again and
`refractory_s` has passed, so one utterance gives one event and a stuck posterior gives one
event, not a flood. No event starts in a stream's first `SETTLE_S` (its output is still settling there); a run
above the threshold through that time starts where it ends. The state is a plain value: nothing is hidden in the
Detector.
"""
from __future__ import annotations

import math
import os
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np

from ..audio import finite_samples, float_samples
from ..checks import finite
from ..frontend import FrontendState, StreamingFrontend
from .detector_graph import GraphSizes, load_graph, merged_session, runtime_graph
from .graph_merge import prefixed
from .level import GUARD_RANGE_DB, FloorGuard
from .onnx import (ModelError, direct_run, frontend_of, make_session, model_kind_error, reading_metadata,
                   session_metadata)

# load_graph: speechseq.runtime.detector_graph's, the graph KeywordModel runs
__all__ = ["Detection", "KeywordModel", "KeywordState", "DetectorState", "Detector", "load_graph", "smooth",
           "trigger_events", "SETTLE_S", "settle_steps", "smoothing_lag", "end_offset_at"]


# A model's output settles at the start of every stream: from the zero state, over digital silence (or a floor
# under about -70 dBFS) each shipped and custom detector's smoothed posterior rises to 0.32-0.36 at 80 ms and
# falls under 0.035 by 320 ms (activate, computer, five amelia runs; never so over louder noise). An event at a
# threshold under that then fired at 0.0 s in every file, silence too, and a fresh listener after each command.
# No keyword can end in that time and be heard (the posterior rises after a keyword's end), so none starts there.
# the longest posterior smoothing a model or `detect --smoothing` may ask (4 s at 40 ms steps): the stream keeps
# and sums that many steps at every step
MAX_SMOOTHING_STEPS = 100
SETTLE_S = 0.32


def settle_steps(step_s: float) -> int:
    """The output steps of SETTLE_S, for a model of `step_s` seconds a step."""
    return int(round(SETTLE_S / step_s))


def smoothing_lag(threshold: float, steps: int) -> int:
    """Output steps from a posterior's jump (0 to 1) to the step where its causal mean over `steps` first reaches
    `threshold`: ceil(threshold * steps) - 1. The detectors' raw posteriors jump so, within a step (activate's: 0.06
    to 0.92), so a wider smoothing delays a crossing by this, not by the (steps - 1) / 2 of a ramp: on spliced
    "activate" at 0.9, --smoothing 5 put events' ends 40 ms later than 3 did."""
    return max(0, math.ceil(round(threshold * steps, 9)) - 1)


def end_offset_at(model: KeywordModel, threshold: float) -> float:
    """A model's end offset (s) at `threshold`: its "end_offset_table" (validation's median at every threshold of its
    grid) interpolated, clamped at the table's ends; without one (models exported before it), its one
    `end_offset_s`, measured at its validation threshold."""
    table = getattr(model, "end_offset_table", None)
    if table is None:
        return model.end_offset_s
    return float(np.interp(threshold, table[0], table[1]))


def _offset_table(table: object) -> tuple[np.ndarray, np.ndarray] | None:
    """(thresholds, offsets) of a detector's "end_offset_table" metadata ({"threshold": [...], "end_offset_s":
    [...]}, thresholds increasing), None where it has none; TypeError or ValueError where it is not such a table."""
    if table is None:
        return None
    if not isinstance(table, dict) or not {"threshold", "end_offset_s"} <= table.keys():
        # (a KeyError would be said as the metadata's own 'end_offset_s' missing)
        raise TypeError(f"'end_offset_table' is {table!r}, not an object of 'threshold' and 'end_offset_s' lists")
    th, off = (np.asarray(table[k], dtype=np.float64) for k in ("threshold", "end_offset_s"))
    if th.ndim != 1 or th.shape != off.shape or not len(th) or not (np.isfinite(th).all() and np.isfinite(off).all()) \
            or (np.diff(th) <= 0).any():
        raise ValueError("'end_offset_table' is not finite offsets at increasing thresholds, one each")
    return th, off


def _frontends_differ(models: Sequence[KeywordModel]) -> str:
    """The error for models whose frontends differ: the settings that differ, and which models use each (a list of
    every model said neither which one was the odd one nor how)."""
    names = [f.name for f in fields(models[0].frontend)
             if len({getattr(m.frontend, f.name) for m in models}) > 1]
    groups: dict[tuple, list[str]] = {}
    for m in models:
        groups.setdefault(tuple(getattr(m.frontend, n) for n in names), []).append(str(m.path))
    said = "; ".join(", ".join(f"{n} {v:g}" if isinstance(v, (int, float)) else f"{n} {v}"
                               for n, v in zip(names, key)) + ": " + ", ".join(paths)
                     for key, paths in groups.items())
    return ("detector models use different frontends, which one stream cannot feed (run them in separate "
            f"commands): {said}")


def smooth(probs: np.ndarray, steps: int) -> np.ndarray:
    """Causal moving average over `steps` outputs, as the streaming detector applies it.

    probs: (..., N) -> (..., N); the first outputs average over the history they have, padded
    with zeros (a fresh stream's history is zeros).
    """
    if steps <= 1:
        return np.asarray(probs, dtype=np.float32)
    p = np.asarray(probs, dtype=np.float64)
    n = p.shape[-1]
    padded = np.concatenate([np.zeros(p.shape[:-1] + (steps - 1,)), p], axis=-1)
    total = padded[..., :n].copy()
    for k in range(1, steps):  # each window summed left to right, as the stream sums it (no running totals,
        total += padded[..., k:k + n]  # whose differences lose the small values of a long stream)
    return (total / steps).astype(np.float32)


def _window_sum(values: tuple[float, ...], start: int, w: int) -> float:
    """values[start] + ... + values[start + w - 1], left to right (Python 3.12's sum() compensates: not the same)."""
    total = values[start]
    for k in range(start + 1, start + w):
        total += values[k]
    return total


def trigger_events(post: np.ndarray, threshold: float, refractory_steps: int, max_wait_steps: int,
                   settle: int = 0) -> list[tuple[int, int, float]]:
    """The events the streaming trigger emits on a whole smoothed posterior (N,) of a fresh stream, exactly.

    settle: the steps at the stream's start where no event starts (the Detector's `settle`, `settle_steps`).
    Returns (start step, emit step, score) per event; a run still open at the end is emitted
    at its last step (as `Detector.flush` does). Cost grows with the number of events, not N.
    """
    p = np.asarray(post, dtype=np.float64)
    above = p >= threshold
    # start candidates: above threshold with a below-threshold step (or the stream start) just before
    rising = np.flatnonzero(above & np.concatenate([[True], ~above[:-1]]))
    if settle > 0:  # none while the output settles; a run through that time starts where it ends
        rising = rising[rising >= settle]
        if settle < len(p) and above[settle] and above[settle - 1]:
            rising = np.concatenate([[settle], rising])
    events, i, rearm = [], 0, -1
    while i < len(rising):
        s = int(rising[i])
        if s > 0 and s - 1 < rearm:  # not re-armed yet: the below-threshold step came too early
            i += 1
            continue
        best, e = p[s], (s if max_wait_steps <= 0 else None)  # no wait: the crossing step emits
        for n in range(s + 1, min(len(p), s + max_wait_steps + 1)):
            if p[n] > best:
                best = p[n]
            if p[n] < best or n - s >= max_wait_steps:
                e = n
                break
        if e is None:  # the stream ended inside the run
            events.append((s, len(p) - 1, float(best)))
            break
        events.append((s, e, float(best)))
        rearm = e + max(1, refractory_steps)  # the emitting step itself never re-arms
        i = int(np.searchsorted(rising, e + 1))
    return events


@dataclass(frozen=True)
class Detection:
    """One event. Times in seconds from the start of the stream: `end` is when the keyword ended
    (estimated from the posterior's onset), `start` its estimated start; `time` is when it was emitted."""

    keyword: str
    start: float
    end: float
    score: float
    time: float

    def to_dict(self) -> dict:
        return {"keyword": self.keyword, "start": round(self.start, 3), "end": round(self.end, 3),
                "score": round(self.score, 4)}


class KeywordModel:
    """One exported detector (stateless): an onnxruntime session of its graph as `load_graph` gives it, the
    taps matrices that graph reads (speechseq.runtime.conv_taps), and its metadata."""

    def __init__(self, path: str | os.PathLike, threads: int = 1, rewrite: bool = True) -> None:
        """rewrite=False: the file's graph as exported (for comparisons; the same outputs, a dearer call), in a
        merged graph of several keywords too.

        The rewritten graph's session is made on first use (`session`, `run`): a Detector of several keywords runs
        them in one merged session instead, and one session fewer per keyword is about 5 MB less resident memory.
        """
        self.path, self.threads, self.rewrite = str(path), threads, rewrite
        self._session = self._run = None
        if rewrite:
            self._graph, self.taps, meta, self._outputs, sizes = runtime_graph(path)
        else:
            self.taps, self._graph = (), None
            meta = session_metadata(self.open(), path)
            self._outputs = [o.name for o in self._session.get_outputs()]
            sizes = GraphSizes({i.name: list(i.shape) for i in self._session.get_inputs()})
        # the outputs named: a few us less per call than None
        if meta.get("kind") != "detector":
            raise ModelError(model_kind_error(path, meta.get("kind"), "detector"))
        self.meta = meta
        with reading_metadata(path, "detector"):  # a missing or wrong-typed field: one ModelError naming the file
            self.keyword: str = str(meta["keyword"])
            self.threshold = float(meta["threshold"])
            self.stride, self.context = int(meta["stride"]), int(meta["context"])
            self.layers, self.hidden = int(meta["layers"]), int(meta["hidden"])
            self.frontend = frontend_of(meta)  # each setting checked: a string n_mels failed at the first frame
            self.n_mels = self.frontend.n_mels
            self.step_s = float(meta["step_s"])
            self.smoothing_steps = int(meta.get("smoothing_steps", 1))
            self.refractory_s = float(meta.get("refractory_s", 1.0))
            self.keyword_duration_s = float(meta.get("keyword_duration_s", 0.6))
            self.end_offset_s = float(meta.get("end_offset_s", 0.0))
            self.end_offset_table = _offset_table(meta.get("end_offset_table"))
        # settings that make no sense were a traceback at load or in the first chunk (a division by a step of 0), or
        # events that start after they end (a keyword of -1 s): one error naming the file, as a missing field is
        for name, value, ok in (("threshold", self.threshold, 0.0 < self.threshold < 1.0),
                                ("stride", self.stride, self.stride >= 1),
                                ("smoothing_steps", self.smoothing_steps,
                                 1 <= self.smoothing_steps <= MAX_SMOOTHING_STEPS),
                                ("step_s", self.step_s, 0.0 < self.step_s < math.inf),
                                ("refractory_s", self.refractory_s, 0.0 <= self.refractory_s < math.inf),
                                ("keyword_duration_s", self.keyword_duration_s,
                                 0.0 < self.keyword_duration_s < math.inf),
                                ("end_offset_s", self.end_offset_s, math.isfinite(self.end_offset_s))):
            if not ok:
                raise ModelError(f"{path}: detector metadata out of range: {name} {value!r}")
        sizes.check(path, self.n_mels, self.context, self.layers, self.hidden, self.stride)

    @property
    def session(self):
        """The onnxruntime session of the graph `run` calls (made on first use)."""
        return self.open()

    def open(self):
        """Make the session now, where it is not made yet (Detector does for the models it calls one by one, so that
        a graph onnxruntime rejects is an error at load); returns it."""
        if self._session is None:
            self._session = make_session(self._graph if self._graph is not None else self.path, self.threads,
                                         name=self.path)
            self._run, self._graph = direct_run(self._session), None
        return self._session

    def initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        ctx = np.full((1, self.context, self.n_mels), np.log(self.frontend.floor), dtype=np.float32)
        return ctx, np.zeros((self.layers, 1, self.hidden), dtype=np.float32)

    def feed(self, feats: np.ndarray, ctx: np.ndarray, h: np.ndarray) -> dict:
        """The session's inputs for frames feats (T, F): the model's state and its taps matrices."""
        feed = {"features": feats[None], "context": ctx, "hidden": h}
        for t in self.taps:
            feed[t.name] = t.matrix(len(feats))
        return feed

    def run(self, feats: np.ndarray, ctx: np.ndarray, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """feats (T, F), T a multiple of the stride -> raw probabilities (T // S,), context, hidden. More frames
        than the taps allow a call (Taps.max_frames) run in pieces, the state carried."""
        feats = feats.astype(np.float32, copy=False)
        if len(feats) == 0:  # nothing to run: onnxruntime's GRU aborts the process on a sequence of length 0
            return np.zeros(0, np.float32), ctx, h
        if self.taps and len(feats) > self.taps[0].max_frames:
            out = []
            for a, b in self.taps[0].pieces(len(feats)):
                probs, ctx, h = self.run(feats[a:b], ctx, h)
                out.append(probs)
            return np.concatenate(out), ctx, h
        if self._run is None:
            self.open()
        probs, ctx, h = self._run(self._outputs, self.feed(feats, ctx, h), None)
        return probs[0], ctx, h


class KeywordState(NamedTuple):
    """Per keyword: frames not yet a full stride, model state, smoothing history and trigger state. The stream's
    states are named tuples, immutable values like frozen dataclasses, and made in a quarter of the time (one per
    keyword a chunk: about 0.3 against 1 us)."""

    pending: np.ndarray        # (t < S, F) frames waiting for a full stride
    ctx: np.ndarray
    hidden: np.ndarray
    history: tuple[float, ...]  # the last smoothing_steps - 1 raw probabilities
    steps: int = 0             # output steps produced so far
    armed: bool = True
    run_start: int = -1        # step where the current above-threshold run began (-1: none)
    run_best: float = 0.0
    run_best_step: int = -1
    rearm_step: int = 0        # no new event before this step


class DetectorState(NamedTuple):
    frontend: FrontendState
    keywords: tuple[KeywordState, ...]
    level: float               # the floor guard's state (log of the peak band power held; 0.0 without one)


class Detector:
    """Several keyword models behind one frontend. Settings given here override each model's own.

    Models with the same stride and opset run as one merged onnxruntime graph (`merge`, the default): one
    call per chunk for all keywords, with the same outputs as one call per model. Where they also
    carry the same number of context frames (the last frames of the same features, so the same
    values), the graph reads one context input: onnxruntime then computes the frames' running-mean
    normalisation, the same in every member, once (its common-subexpression elimination).
    """

    def __init__(self, models: Sequence[KeywordModel], threshold: float | None = None,
                 smoothing_steps: int | None = None, refractory_s: float | None = None,
                 max_wait_s: float = 0.2, merge: bool = True, range_db: float | None = GUARD_RANGE_DB) -> None:
        if not models:
            raise ModelError("no detector models given")
        fe = {m.frontend for m in models}
        if len(fe) != 1:
            raise ModelError(_frontends_differ(models))
        self.models = list(models)
        self.frontend = StreamingFrontend(fe.pop())
        # range_db: the dynamic range the models see, at most (speechseq.runtime.level.FloorGuard); None: any. Its
        # release is per second: per frame it falls by the frontend's hop (a 20 ms hop's fell half as fast as 10 ms's)
        cfg = self.frontend.cfg
        self.guard = FloorGuard(cfg.floor, range_db, hop_s=cfg.hop_length / cfg.sample_rate) if range_db else None
        self.thresholds = [float(threshold) if threshold is not None else m.threshold for m in models]
        for t in self.thresholds:
            if not 0.0 < t < 1.0:
                raise ValueError(f"threshold must lie in (0, 1), got {t}")
        # overrides in the range a model's own settings are held to (KeywordModel): NaN or inf was a conversion error
        # of int(), a smoothing of 0 or 2.5 became 1 or 2 unsaid
        if smoothing_steps is not None and (isinstance(smoothing_steps, bool) or not isinstance(
                smoothing_steps, (int, np.integer)) or not 1 <= smoothing_steps <= MAX_SMOOTHING_STEPS):
            raise ValueError(f"smoothing_steps must be a whole number of output steps from 1 (none) to "
                             f"{MAX_SMOOTHING_STEPS}, got {smoothing_steps!r}")
        if refractory_s is not None and not (finite(refractory_s) and refractory_s >= 0):   # None: the model's own
            raise ValueError(f"refractory_s must be a finite number of seconds >= 0, got {refractory_s!r}")
        if not (finite(max_wait_s) and max_wait_s >= 0):   # None or a string was a TypeError of the comparison
            raise ValueError(f"max_wait_s must be a finite number of seconds >= 0, got {max_wait_s!r}")
        self.smoothing = [int(smoothing_steps if smoothing_steps is not None else m.smoothing_steps) for m in models]
        self.refractory = [int(round((refractory_s if refractory_s is not None else m.refractory_s) / m.step_s))
                           for m in models]
        self.max_wait = [int(round(max_wait_s / m.step_s)) for m in models]  # 0: emit at the crossing
        self.settle = [settle_steps(m.step_s) for m in models]  # no event starts in a stream's first steps
        # where a keyword ended, from its run's start: the offset validation measured at this threshold (its median
        # crossing after the labels start, less (w - 1) / 2 steps of the model's smoothing w), and the steps another
        # smoothing moves the crossing by
        self.end_offsets = [end_offset_at(m, t) for m, t in zip(models, self.thresholds)]
        self.onset_lags = [(m.smoothing_steps - 1) / 2 + smoothing_lag(t, w) - smoothing_lag(t, m.smoothing_steps)
                           for m, t, w in zip(models, self.thresholds, self.smoothing)]
        self._merged, self._shared_context, self._merged_taps = (merged_session(self.models) if merge
                                                                 else (None, False, ()))
        self._merged_outputs = [o.name for o in self._merged.get_outputs()] if self._merged is not None else []
        self._merged_run = direct_run(self._merged) if self._merged is not None else None
        if self._merged is None:
            for m in self.models:
                m.open()

    @classmethod
    def load(cls, paths: str | os.PathLike | Sequence[str | os.PathLike], threads: int = 1, **kwargs) -> "Detector":
        """A Detector of the model files `paths` (one path, or several)."""
        if isinstance(paths, (str, os.PathLike)):  # a string is a sequence too: of one-letter "files"
            paths = [paths]
        return cls([KeywordModel(p, threads) for p in paths], **kwargs)

    @property
    def keywords(self) -> list[str]:
        return [m.keyword for m in self.models]

    def initial_state(self) -> DetectorState:
        kws = []
        for m, w in zip(self.models, self.smoothing):
            ctx, h = m.initial_state()
            kws.append(KeywordState(np.zeros((0, m.n_mels), np.float32), ctx, h, (0.0,) * (w - 1)))
        return DetectorState(self.frontend.initial_state(), tuple(kws),
                             self.guard.initial_state() if self.guard else 0.0)

    def _time(self, m: KeywordModel, step: float) -> float:
        """Seconds from stream start to the end of the audio that output `step` has seen."""
        cfg = m.frontend
        last_frame = m.stride * (step + 1) - 1
        return (last_frame * cfg.hop_length + cfg.win_length) / cfg.sample_rate

    def _ended(self, m: KeywordModel, step: float) -> float:
        """Seconds from stream start to where a keyword ends whose labels start at output `step`: training labels
        (speechseq.train.augment.label_vector) start at the step whose S frames hold the keyword's last sample, so
        it ended within that step's S hops, the middle of them expected."""
        cfg = m.frontend
        return (step + 0.5) * m.stride * cfg.hop_length / cfg.sample_rate

    def _event(self, i: int, run_start: int, score: float, emit_step: int) -> Detection:
        m = self.models[i]
        # The posterior rises once the keyword has ended (end_offsets after its labels start, as validation measured
        # it at this threshold); the smoother delays it (onset_lags).
        end = max(0.0, self._ended(m, run_start - self.onset_lags[i]) - self.end_offsets[i])
        return Detection(m.keyword, max(0.0, end - m.keyword_duration_s), end, score, self._time(m, emit_step))

    def _trigger(self, i: int, ks: KeywordState, smoothed: list[float],
                 events: list[Detection]) -> tuple[bool, int, float, int, int]:
        """The trigger fields (armed, run_start, run_best, run_best_step, rearm_step) after `smoothed`."""
        armed, start, best, best_step, rearm = ks.armed, ks.run_start, ks.run_best, ks.run_best_step, ks.rearm_step
        thr, settle = self.thresholds[i], self.settle[i]
        for j, p in enumerate(smoothed):
            n = ks.steps + j
            if start < 0:
                if not armed and p < thr and n >= rearm:
                    armed = True
                if not (armed and p >= thr) or n < settle:
                    continue
                start, best, best_step = n, p, n  # a run starts (with no wait, this step emits below)
            elif p > best:  # inside a run: wait for the peak
                best, best_step = p, n
            if p < best or n - start >= self.max_wait[i]:
                events.append(self._event(i, start, best, n))
                start, armed, rearm = -1, False, n + max(1, self.refractory[i])
        return armed, start, best, best_step, rearm

    def step(self, chunk: np.ndarray, state: DetectorState,
             posteriors: list[list[np.ndarray]] | None = None) -> tuple[list[Detection], DetectorState]:
        """Feed audio (N,) float32 at the frontend's rate; returns the events completed by it.

        If `posteriors` is a list (one list per keyword), each keyword's smoothed posterior for
        this chunk is appended to it (for plots and evaluation).
        """
        chunk = float_samples(chunk)  # integer samples scaled to full scale 1.0; float32 as it is
        feats, fe_state = self.frontend.step(chunk, state.frontend)
        # A NaN, an infinity or a sample that overflows the frontend's float32 power (from about 1e17) makes the
        # frames it reaches NaN or infinite, and so the frames' maximum, which the floor guard needs anyway. Then
        # the chunk and the samples still pending are taken again as speechseq.audio.finite_samples gives them (NaN
        # as 0, +-inf as +-1, the rest clipped to +-1e15), so that they never reach a model's state or the guard's.
        # (A sample not in a frame yet is caught with the chunk that completes its frames. An infinity's first pass
        # warns as numpy does; the file readers, load_audio and stream_audio, and the listener hand over finite
        # samples already.)
        top = float(feats.max()) if len(feats) else 0.0
        if not math.isfinite(top):
            clean = state.frontend._replace(pending=finite_samples(state.frontend.pending))
            feats, fe_state = self.frontend.step(finite_samples(chunk.reshape(-1)), clean)
            top = float(feats.max()) if len(feats) else 0.0
        level, guard = state.level, self.guard
        if guard is not None and (level > guard.quiet or top >= guard.quiet):  # else nothing to change (its step)
            feats, level = guard.step(feats, level, top)
        events: list[Detection] = []
        kws = state.keywords
        if self._merged is not None:
            buf = np.concatenate([kws[0].pending, feats]) if len(kws[0].pending) else feats
            usable = self.models[0].stride * (len(buf) // self.models[0].stride)
            if usable == 0:
                new = [ks._replace(pending=buf) for ks in kws]
            else:
                runs = self._run_merged(buf[:usable], kws)
                new = [self._advance(i, ks, buf[usable:], *runs[i], events, posteriors) for i, ks in enumerate(kws)]
        else:
            new = []
            for i, (m, ks) in enumerate(zip(self.models, kws)):
                buf = np.concatenate([ks.pending, feats]) if len(ks.pending) else feats
                usable = m.stride * (len(buf) // m.stride)
                if usable == 0:
                    new.append(ks._replace(pending=buf))
                    continue
                raw, ctx, h = m.run(buf[:usable], ks.ctx, ks.hidden)
                new.append(self._advance(i, ks, buf[usable:], raw, ctx, h, events, posteriors))
        if len(events) > 1:
            events.sort(key=lambda e: (e.time, e.start))
        return events, DetectorState(fe_state, tuple(new), level)

    def _run_merged(self, x: np.ndarray, kws: Sequence[KeywordState]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Every keyword's (raw probabilities, context, hidden) after frames x (T, F), T whole strides: one
        merged call per piece (Taps.pieces)."""
        shared = self._shared_context  # every keyword's context is then the same array, fed once
        ctxs, hs = [ks.ctx for ks in kws], [ks.hidden for ks in kws]
        probs: list[list[np.ndarray]] = [[] for _ in kws]
        pieces = self._merged_taps[0][1].pieces(len(x)) if self._merged_taps else [(0, len(x))]
        for a, b in pieces:
            feed = {"features": x[None, a:b], **({"context": ctxs[0]} if shared else {})}
            for name, t in self._merged_taps:
                feed[name] = t.matrix(b - a)
            for i in range(len(kws)):
                feed[prefixed(i, "hidden")] = hs[i]
                if not shared:
                    feed[prefixed(i, "context")] = ctxs[i]
            outs = self._merged_run(self._merged_outputs, feed, None)
            for i in range(len(kws)):
                probs[i].append(outs[3 * i][0])
                ctxs[i], hs[i] = outs[1 if shared else 3 * i + 1], outs[3 * i + 2]
        return [(p[0] if len(p) == 1 else np.concatenate(p), c, h) for p, c, h in zip(probs, ctxs, hs)]

    def _advance(self, i: int, ks: KeywordState, rest: np.ndarray, raw: np.ndarray, ctx: np.ndarray,
                 h: np.ndarray, events: list[Detection], posteriors: list[list[np.ndarray]] | None) -> KeywordState:
        """Keyword i after the model produced `raw` (n,) probabilities: smoothing, then the trigger."""
        w = self.smoothing[i]
        values = raw.tolist()  # a few floats: Python's sums, max and loop beat numpy's calls on them
        history = ks.history
        if w > 1:
            hist = history + tuple(values)
            # each mean of w outputs, summed left to right in float64 and rounded to float32, as `smooth` does
            values = array("f", [_window_sum(hist, j, w) / w for j in range(len(values))]).tolist()
            history = hist[len(hist) - (w - 1):]
        if posteriors is not None:
            posteriors[i].append(np.array(values, dtype=np.float32))
        # one new state, built directly (_replace costs more than a new tuple)
        if ks.run_start < 0 and ks.armed and (not values or max(values) < self.thresholds[i]):  # the usual case
            return KeywordState(rest, ctx, h, history, ks.steps + len(values), True, -1, ks.run_best,
                                ks.run_best_step, ks.rearm_step)
        return KeywordState(rest, ctx, h, history, ks.steps + len(values), *self._trigger(i, ks, values, events))

    def flush(self, state: DetectorState) -> list[Detection]:
        """Events still waiting for their peak when the stream ends, in time order (as `step` gives them)."""
        out = []
        for i, ks in enumerate(state.keywords):
            if ks.run_start >= 0:
                out.append(self._event(i, ks.run_start, ks.run_best, max(ks.steps - 1, ks.run_start)))
        return sorted(out, key=lambda e: (e.time, e.start))
