"""Where the speech is: VAD probabilities -> padded sample ranges to recognise.

A CTC recogniser trained on speech writes words into long silences and steady noise (the
shipped one hears "six" in five seconds of digital silence or hiss). `transcribe` therefore
recognises only the stretches a voice activity detector marks as speech, each with some margin,
and nothing at all where there is none.

    probs = speech_probabilities(vad, audio)
    for a, b in speech_regions(probs, vad.frame_s, len(audio)):
        ...recognise audio[a:b]...

Pure function over the probabilities (one per VAD frame of `frame_s` seconds, frame k covering
samples [k F, (k + 1) F)); the rules, in order: frames at or above `threshold` are speech; runs
closer than `merge_gap_s` are joined; runs shorter than `min_speech_s` are dropped; each run is
widened by `pad_s` on both sides (clipped to the audio) and overlapping ones are joined again.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..audio import mono_samples, resample
from ..checks import finite, refuse
from .vad import SAMPLE_RATE, EnergyVad

__all__ = ["RegionConfig", "primed_state", "speech_offset", "speech_onset", "speech_probabilities", "speech_regions"]


@dataclass(frozen=True)
class RegionConfig:
    threshold: float = 0.5     # VAD probability that counts as speech
    merge_gap_s: float = 0.8   # pauses shorter than this stay inside one region
    min_speech_s: float = 0.06  # shorter blips (clicks) are not speech
    pad_s: float = 0.3         # margin kept before and after each region

    def __post_init__(self) -> None:
        # NaN passed `min(...) < 0`: a NaN gap merged no pause, a NaN minimum dropped no click, an infinite pad
        # failed ("cannot convert float infinity to integer") on every file
        refuse("speech region settings", ((name, getattr(self, name), finite(getattr(self, name)),
                                           "a finite number of seconds")
                                          for name in ("merge_gap_s", "min_speech_s", "pad_s")))
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {self.threshold}")
        if min(self.merge_gap_s, self.min_speech_s, self.pad_s) < 0:
            raise ValueError(f"durations must be >= 0: {self}")


def primed_state(vad, sample_rate: int = 16000, lead_s: float = 0.25):
    """A fresh `vad`'s state after `lead_s` of digital silence (whole frames, so that frame k of what
    follows still covers its samples [k F, (k + 1) F)). Silero, started cold on a clip that begins
    with a word, often misses the word (20 of the 300 FSDD test digits, tightly cut clips of
    0.14-0.65 s, never reached 0.5); after a quarter second of silence it missed none."""
    hop = int(round(vad.frame_s * sample_rate))
    lead = int(np.ceil(lead_s / vad.frame_s))
    return vad.step(np.zeros(lead * hop, np.float32), vad.initial_state())[1]


def speech_probabilities(vad, audio: np.ndarray, sample_rate: int = 16000, lead_s: float = 0.25) -> np.ndarray:
    """`vad` over `audio` (at `sample_rate`, resampled to the VAD's 16 kHz) from its `primed_state`: one
    probability per whole frame of `vad.frame_s` seconds. The energy VAD's noise
    floor starts at the clip's quiet frames (EnergyVad.clip_floor_db): primed by digital silence, it started
    at -100 dB and rose too slowly for any clip to reach a noise above -55 dBFS, all of which was speech."""
    audio = resample(mono_samples(audio), sample_rate, SAMPLE_RATE)
    state = primed_state(vad, SAMPLE_RATE, lead_s)
    if isinstance(vad, EnergyVad) and (floor := vad.clip_floor_db(audio)) is not None:
        state = replace(state, floor_db=floor)
    probs, _ = vad.step(audio, state)
    return probs


def speech_regions(probs: np.ndarray, frame_s: float, n_samples: int, sample_rate: int = 16000,
                   cfg: RegionConfig = RegionConfig()) -> list[tuple[int, int]]:
    """Sample ranges [a, b) of speech in a clip of `n_samples`, in order, disjoint, never empty."""
    speech = np.asarray(probs, dtype=np.float32).reshape(-1) >= cfg.threshold
    if not speech.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], speech.astype(np.int8), [0]])))
    runs = [[int(a), int(b)] for a, b in zip(edges[::2], edges[1::2])]  # frames [a, b)
    gap = cfg.merge_gap_s / frame_s
    merged = [runs[0]]
    for a, b in runs[1:]:
        if a - merged[-1][1] < gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    hop = frame_s * sample_rate
    pad = int(round(cfg.pad_s * sample_rate))
    out: list[tuple[int, int]] = []
    for a, b in merged:
        if (b - a) * frame_s < cfg.min_speech_s:
            continue
        lo, hi = max(0, int(a * hop) - pad), min(n_samples, int(b * hop) + pad)
        if hi <= lo:
            continue
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def speech_onset(probs: np.ndarray, frame_s: float, span: tuple[int, int], sample_rate: int = 16000,
                 threshold: float = 0.5) -> int:
    """The sample where the VAD first hears speech in `span` [a, b) of the clip `probs` were computed over: the
    start of the first frame at or above `threshold` that reaches into it (never before a), or a when none does."""
    a, b = span
    hop = frame_s * sample_rate
    speech = np.asarray(probs, dtype=np.float32).reshape(-1) >= threshold
    first, last = int(a // hop), min(len(speech), int(np.ceil(b / hop)))
    hits = np.flatnonzero(speech[first:last])
    return max(a, int((first + hits[0]) * hop)) if hits.size else a


def speech_offset(probs: np.ndarray, frame_s: float, span: tuple[int, int], sample_rate: int = 16000,
                  threshold: float = 0.5) -> int:
    """The sample where the VAD last hears speech in `span` [a, b) of the clip `probs` were computed over: the end
    of the last frame at or above `threshold` that reaches into it (never after b), or b when none does, or when that
    frame is the clip's last whole one (the speech may go on in the samples after it, which no frame judged)."""
    a, b = span
    hop = frame_s * sample_rate
    speech = np.asarray(probs, dtype=np.float32).reshape(-1) >= threshold
    first, last = int(a // hop), min(len(speech), int(np.ceil(b / hop)))
    hits = np.flatnonzero(speech[first:last])
    if not hits.size or first + hits[-1] == len(speech) - 1:
        return b
    return min(b, int((first + hits[-1] + 1) * hop))
