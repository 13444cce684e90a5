"""The input level as the detectors meet it: a floor guard (used by the runtime detector) and a peak limiter (not).

`FloorGuard` keeps the dynamic range the keyword models see within 60 dB (speechseq.runtime.detector uses it by
default; `--range-db` on detect, listen and eval detector): measured in session 32, it cures the shipped
activate.onnx's misses of loud, clean speech and leaves real voices about where they were (its docstring). Since
session 33 training applies it too (speechseq.train.floor_guard, `train detector --range-db`, the same default).

`Limiter`, a peak limiter, was the session-25 attempt at the same weak spot. Loud input is brought under a
ceiling, quieter input untouched: the signal is scaled by `ceiling / E` where its peak envelope E exceeds
`ceiling`: E[n] = max(|x[n]|, ceiling, E[n-1] * exp(-1 / (release_s * rate))), an instant attack and an
exponential release. It is computed per sample with a cumulative maximum in the log domain, so a stream cut
into any chunks gives the output of the whole signal; the state is one number, the last E.

Measured, session 25, ceiling 0.3 before the shipped detectors: `scripts/detector_levels.py
models/activate.onnx --synth cache/synth cache/synth-new --limit 0.3` cuts the misses of the 401
held-out clips at a peak of 0.95 over a -70 / -60 dBFS floor from 12.0 / 5.5 % to 3.5 / 3.0 %
(festival's voice 74 / 36 % to 24 / 21 %), and leaves peaks of 0.3 as they were. But on real voices
(`scripts/detector_tradeoff.py ... --max-set 1 --limit 0.3`, natural-splice models, two seeds each)
the misses at <= 0.5 synthetic false accepts/h went from 8.1 / 12.6 to 13.5 / 12.6 % (amelia),
25.0 / 19.6 to 21.4 / 21.4 % (hey chatterbox) and 54.7 / 43.8 to 54.7 / 59.4 % (android, whose clips
peak under 0.3 and are untouched: the limited synthetic sentences raised its threshold), 3.2 points
worse on average. Ceiling 0.5: loud misses 9.0 / 5.5 %, real voices at <= 0.5/h 13.5 / 12.6, 25.0 / 23.2
and 54.7 / 50.0 %, 2.5 points worse on average. The limited synthetic sentences (themselves loud, clean
speech) draw more false accepts, which raises the thresholds. So it is not part of the runtime detector.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..samples import mono_samples
from .settings import GUARD_RANGE_DB  # the floor guard's default range (there: the commands' --range-db)

__all__ = ["GUARD_RANGE_DB", "FloorGuard", "Limiter", "LimiterState"]


@dataclass(frozen=True)
class LimiterState:
    envelope: float  # E at the last sample seen; the ceiling while nothing is being limited


class Limiter:
    def __init__(self, ceiling: float, release_s: float = 2.0, sample_rate: int = 16000) -> None:
        if not 0.0 < ceiling <= 1.0:
            raise ValueError(f"the ceiling must lie in (0, 1], got {ceiling}")
        if not release_s > 0:  # NaN too: it made every limited sample NaN
            raise ValueError(f"release_s must be positive, got {release_s}")
        if not 0 < sample_rate < np.inf:  # 0 was a ZeroDivisionError, NaN made every limited sample NaN
            raise ValueError(f"sample_rate must be a positive number of Hz, got {sample_rate}")
        self.ceiling = float(ceiling)
        self.k = 1.0 / (release_s * sample_rate)  # the log envelope's fall per sample

    def initial_state(self) -> LimiterState:
        return LimiterState(self.ceiling)

    def step(self, x: np.ndarray, state: LimiterState) -> tuple[np.ndarray, LimiterState]:
        """x (N,) float -> (x limited, as float32; the new state). x itself when nothing in it or before it
        exceeds the ceiling. A NaN sample counts as 0, an infinite one as +-1 (as speechseq.audio.finite_samples
        gives them)."""
        x = mono_samples(x)   # integers at full scale 1.0, (N, 1) mono; stereo refused (flattened, it read 2N samples)
        c = self.ceiling
        peak = float(np.abs(x).max()) if len(x) else 0.0
        if not np.isfinite(peak):  # NaN as 0, +-inf as +-1 (audio.finite_samples): else E is NaN or inf for good
            x = np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)
            peak = float(np.abs(x).max())  # the other samples' too (taken as 1.0, those over 1 passed a ceiling of 1)
        if len(x) == 0 or (state.envelope <= c and peak <= c):
            return x, state
        n = np.arange(len(x), dtype=np.float64)
        v = np.log(np.maximum(np.abs(x).astype(np.float64), c)) + self.k * n
        log_env = np.maximum.accumulate(np.maximum(v, np.log(state.envelope) - self.k)) - self.k * n
        y = (x * np.exp(np.log(c) - log_env)).astype(np.float32)
        return y, LimiterState(float(np.exp(log_env[-1])))


class FloorGuard:
    """A limit on the dynamic range the detectors see: each log-mel frame's power floor is raised to
    `range_db` under the loudest band power heard lately, so loud speech over a near-silent floor looks
    like the speech the detectors were trained on.

    The shipped detectors miss loud, clean speech, not for its level, which their running mean
    normalisation removes, but for its range: the same held-out clips at a peak of 0.95 are missed where
    at 0.3 they are found over the same floor, and a larger fixed frontend floor (1e-4 for 1e-6) found
    them all but missed quiet ones (peak 0.03: 51 %). This floor follows the level. Per frame t, with the
    peak band power held and released at `release_db_s`,

        P[t] = max(max_band exp(L[t]), P[t-1] * 10 ** (-release_db_s * hop_s / 10))
        L'[t] = log(exp(L[t]) + P[t] * 10 ** (-range_db / 10) - floor)    where that changes a band of frame t
                                                                          by more than 1e-4, else L[t]

    (L: log-mel with the frontend's `floor`). While P stays under floor * 10 ** (range_db / 10) (a loudest
    band under 1 for 60 dB: speech peaking under about a quarter of full scale) nothing changes, and a
    chunk costs one maximum. Computed per frame with a cumulative maximum, so a stream cut into any chunks
    gives the frames of the whole signal; the state is one number, log P.

    Measured, session 32 (this machine; cache/synth's 367 held-out "activate" clips, 83 voices):
    - `scripts/detector_levels.py models/activate.onnx --range-db 0 60 --peaks 0.03 0.1 0.3 0.95`: at a peak
      of 0.95 over a -70 / -60 dBFS floor 4.4 / 1.6 % missed without the guard (festival's voice 46 / 21 %),
      0.8 / 0.0 % with it; every other level and floor (peaks 0.03-0.3, floors -70 to -50 dBFS) the same
      or one clip fewer; delays unchanged. Ranges of 55-58 dB did as well, 62-64 dB less (0.8-1.1 / 0.3 %).
    - the listener's wake (scripts/bench_listener.py's 24 scenarios, festival's voice the slowest): that
      voice's crossings came 340-390 ms after the keyword without the guard, 290-340 ms with it.
    - real voices (scripts/detector_tradeoff.py --range-db 60; the synthetic-only amelia, android and hey
      chatterbox runs of sessions 26-27, five models, 343 Precise clips): at fixed thresholds 0.5-0.8 the
      guard missed 0-3 clips fewer of amelia, the same of android, 0-1 more of hey chatterbox, with the
      events on 0.52 h of real speech within one of each other; the thresholds chosen on synthetic
      sentences moved more than that (at <= 0.5 synthetic false accepts/h: 23.3 / 25.6 -> 25.1 / 26.9 %
      amelia, 75.0 / 60.9 -> 53.1 / 57.8 % android, 30.4 -> 32.1 % hey chatterbox).
    - false accepts at the shipped thresholds (scripts/eval_detectors.py's sets): none on 0.53 h of unseen
      and threshold-choice real speech with or without it; on 2.02 h of unseen synthetic sentences
      activate.onnx 2 -> 3 events, computer.onnx 1 -> 1.
    """

    def __init__(self, floor: float, range_db: float = GUARD_RANGE_DB, release_db_s: float = 6.0,
                 hop_s: float = 0.01) -> None:
        if not floor > 0:
            raise ValueError(f"the frontend's floor must be positive, got {floor}")
        if not (range_db > 0 and 0 < release_db_s < np.inf and 0 < hop_s < np.inf):  # NaN: the guard silently off
            raise ValueError(f"range_db must be positive, release_db_s and hop_s positive and finite, got "
                             f"{range_db}, {release_db_s}, {hop_s}")
        self.floor = float(floor)
        self.log_k = -range_db / 10 * np.log(10)                    # log of the floor's share of the peak
        self.fall = release_db_s * hop_s / 10 * np.log(10)          # log P's fall per frame
        self.quiet = float(np.log(floor) - self.log_k)              # log P under which nothing changes

    def initial_state(self) -> float:
        return self.quiet

    def step(self, feats: np.ndarray, state: float, top: float | None = None) -> tuple[np.ndarray, float]:
        """feats (T, F) log-mel -> (the guarded frames, float32; the new state). `feats` itself while
        nothing heard so far reaches the guard's level. `top`: feats.max() where the caller has it already."""
        if len(feats) == 0:
            return feats, state
        if state <= self.quiet and (feats.max() if top is None else top) < self.quiet:
            return feats, self.quiet
        loudest = feats.max(axis=1)
        if not np.isfinite(loudest).all():  # a NaN or infinite frame counts as unheard, else log P is NaN or inf
            loudest = np.where(np.isfinite(loudest), loudest, -np.inf)
        n = self.fall * np.arange(1, len(feats) + 1)                       # the release per frame
        held = np.maximum.accumulate(np.maximum(loudest + n, state)) - n    # log P per frame (float64)
        extra = (np.exp(held + self.log_k) - self.floor).astype(np.float32)
        # frames the raised floor changes by more than 1e-4 (in log) somewhere: the others stay as they are
        rows = extra > np.float32(1e-4) * np.exp(feats.min(axis=1))
        state = max(float(held[-1]), self.quiet)
        if not rows.any():
            return feats, state
        if rows.all():
            out = np.exp(feats)
            out += extra[:, None]
            return np.log(out, out=out), state
        feats = np.array(feats, dtype=np.float32)
        feats[rows] = np.log(np.exp(feats[rows]) + extra[rows, None])
        return feats, state
