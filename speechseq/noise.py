"""Generated noise, numpy only: coloured noise (`coloured_noise`), and a recording padded with a quiet floor of it
(`pad_recording`), as `detect` follows each file and `eval detector` scores each keyword recording. Here, not under
speechseq.train, so that those commands load no training module; training imports both from here.

    x = pad_recording(clip, np.random.default_rng(0))   # 0.5 s of pink noise at -70 dBFS, the clip, 1 s more
"""
from __future__ import annotations

import numpy as np

__all__ = ["coloured_noise", "pad_recording", "REAL_LEAD_S", "REAL_TAIL_S"]

REAL_LEAD_S, REAL_TAIL_S = 0.5, 1.0  # pad_recording's noise before and after a recording


def coloured_noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """White, pink (1/f) or brown (1/f^2) noise, (n,) float32 at RMS 1."""
    exponent = {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind]
    if n <= 0:
        return np.zeros(0, np.float32)
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    if exponent:  # 1/f has no level at f = 0: weighted as the lowest bin, brown noise held 22 % of its power as DC
        spec[0] = 0.0
    y = np.fft.irfft(spec / f ** (exponent / 2), n)
    return (y / (np.sqrt(np.mean(y**2)) + 1e-12)).astype(np.float32)


def pad_recording(audio: np.ndarray, rng: np.random.Generator | None = None, lead_s: float = REAL_LEAD_S,
                  tail_s: float = REAL_TAIL_S, floor_dbfs: float = -70.0, sr: int = 16000) -> np.ndarray:
    """A short recording (at `sr` Hz) with quiet pink noise before and after, so that the detector sees the
    keyword end and the moments after it (how positive clips are scored)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    lead, tail = int(lead_s * sr), int(tail_s * sr)
    noise = coloured_noise("pink", lead + tail, rng) * 10 ** (floor_dbfs / 20)
    return np.concatenate([noise[:lead], np.asarray(audio, np.float32), noise[lead:]]).astype(np.float32)
