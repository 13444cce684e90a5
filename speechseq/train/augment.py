"""Trigger-word training mixes: placement, labels, and the waveform-domain augmentations.

The course's recipe: a background clip (10 s), 0-4 positives and 0-3 negatives placed at random
without overlap, and output label 1 for a fixed stretch right after each positive ends. This
module holds the parts that work on numbers and waveforms (numpy/scipy only):

- `place_without_overlap` and `label_vector`: where clips go and what the labels are (shared by
  the waveform mixer here and the feature-domain mixer in `speechseq.train.kwmix`);
- `synth_rir`, `reverberate`, `mic_colour`, `coloured_noise`: what makes a dry synthetic clip
  sound like a recording (room, microphone, noise floor);
- `mix_clip`: one whole training example as a waveform (used for user recordings, checks, tests).

Label time base: output step j of a detector with stride S has seen feature frames < S (j + 1);
a keyword whose last frame is e - 1 is complete at step ceil(e / S) - 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..noise import coloured_noise  # (here too: training imports it from this module)

__all__ = ["place_without_overlap", "place_followed", "label_vector", "end_frame", "synth_rir", "reverberate",
           "mic_colour", "coloured_noise", "rms_dbfs", "MixResult", "mix_clip"]


def place_without_overlap(rng: np.random.Generator, total: int, lengths: list[int] | np.ndarray,
                          min_gap: int = 0) -> np.ndarray:
    """Random non-overlapping start positions for segments of `lengths` in [0, total).

    Segments that cannot fit are dropped (start -1), the longest first. The free space is split
    at uniformly random points, so every non-overlapping arrangement of a given order is
    reachable; the order is random. Returns (n,) int64 starts.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.full(len(lengths), -1, dtype=np.int64)
    keep = list(np.argsort(-lengths, kind="stable"))
    while keep and lengths[keep].sum() + min_gap * (len(keep) - 1) > total:
        keep.pop(0)
    if not keep:
        return starts
    order = [keep[i] for i in rng.permutation(len(keep))]
    free = total - int(lengths[order].sum()) - min_gap * (len(order) - 1)
    cuts = np.sort(rng.integers(0, free + 1, size=len(order)))
    gaps = np.diff(np.concatenate([[0], cuts]))
    pos = 0
    for k, idx in enumerate(order):
        pos += int(gaps[k])
        starts[idx] = pos
        pos += int(lengths[idx]) + min_gap
    return starts


def place_followed(rng: np.random.Generator, total: int, lengths: list[int] | np.ndarray,
                   lead: list[int] | np.ndarray, offset: list[int] | np.ndarray) -> np.ndarray:
    """`place_without_overlap` for segments of which some follow another at once: segment i with lead[i] = j >= 0
    (j itself leading, lead[j] = -1) starts offset[i] >= 0 frames after segment j's start, and may overlap j (run-on
    speech: a word said right after the keyword, over its tail) but nothing else. A leading segment and its followers
    are placed (or dropped) as one span; with no followers, the starts (and draws) of `place_without_overlap`."""
    lengths = np.asarray(lengths, dtype=np.int64)
    lead, offset = np.asarray(lead, dtype=np.int64), np.asarray(offset, dtype=np.int64)
    heads, follows = np.flatnonzero(lead < 0), np.flatnonzero(lead >= 0)
    if (lead[lead[follows]] >= 0).any() or (offset[follows] < 0).any():
        raise ValueError("a follower must follow a leading segment (lead -1) at an offset >= 0")
    reach = lengths.copy()
    np.maximum.at(reach, lead[follows], offset[follows] + lengths[follows])
    starts = np.full(len(lengths), -1, dtype=np.int64)
    starts[heads] = place_without_overlap(rng, total, reach[heads])
    starts[follows] = np.where(starts[lead[follows]] >= 0, starts[lead[follows]] + offset[follows], -1)
    return starts


def end_frame(end_sample: int, hop: int = 160) -> int:
    """Exclusive frame index after the frame holding sample `end_sample - 1` (frames start every hop)."""
    return int(math.ceil(end_sample / hop))


def label_vector(n_steps: int, ends: list[int] | np.ndarray, stride: int, label_steps: int) -> np.ndarray:
    """(n_steps,) float32 labels: 1 for `label_steps` outputs from the step at which each positive
    (ending before feature frame `ends[i]`, exclusive) is complete."""
    y = np.zeros(n_steps, dtype=np.float32)
    for e in ends:
        j0 = int(math.ceil(e / stride)) - 1
        y[max(0, j0): max(0, min(n_steps, j0 + label_steps))] = 1.0
    return y


def synth_rir(rng: np.random.Generator, sr: int = 16000, rt60: tuple[float, float] = (0.15, 0.9),
              drr_db: tuple[float, float] = (-3.0, 12.0)) -> np.ndarray:
    """A random room impulse response: direct path, a few early reflections and an exponentially
    decaying noise tail (decay faster at high frequencies). Returns (N,) float32, direct peak 1, and
    all the rest (reflections and tail) 10 ** (-DRR / 10) of its energy, DRR drawn from `drr_db`."""
    t60 = rng.uniform(*rt60)
    n = int(sr * min(1.2, t60 * 1.1))
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / t60)
    # high frequencies die faster: blend with a low-passed copy whose weight grows with time
    smooth = np.convolve(tail, np.ones(4) / 4, mode="same")
    w = np.clip(t / t60, 0, 1)
    tail = (1 - w) * tail + w * smooth
    onset = int(sr * rng.uniform(0.002, 0.01))
    tail[:onset] = 0.0
    drr = rng.uniform(*drr_db)
    tail *= math.sqrt(10 ** (-drr / 10) / max(np.sum(tail**2), 1e-12))
    h = tail
    h[0] = 1.0
    for _ in range(rng.integers(2, 6)):  # early reflections within 50 ms
        k = int(sr * rng.uniform(0.002, 0.05))
        h[k] += rng.uniform(-0.6, 0.6)
    # the reflections are reverberant energy too: without this a drawn DRR of 12 dB measured 3.9 on average
    h[1:] *= math.sqrt(10 ** (-drr / 10) / max(np.sum(h[1:] ** 2), 1e-12))
    return h.astype(np.float32)


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with a room response, keeping the peak level of `x`; the output runs on past the end of `x`
    by a quarter of the response (its tail), so `x`'s own last sample stays at index len(x) - 1."""
    from scipy.signal import fftconvolve

    if len(x) == 0:  # no peak to keep: its tail is silence
        return np.zeros(len(rir) // 4, np.float32)
    y = fftconvolve(x, rir)[: len(x) + len(rir) // 4]
    peak_in, peak_out = np.max(np.abs(x)) + 1e-9, np.max(np.abs(y)) + 1e-9
    return (y * (peak_in / peak_out)).astype(np.float32)


def mic_colour(x: np.ndarray, rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """A random microphone/channel: high-pass 50-350 Hz, low-pass 3.4-7.8 kHz, 0-2 peaking bands
    of +-8 dB, sometimes soft clipping. Level kept (RMS)."""
    from scipy.signal import butter, sosfilt

    if len(x) == 0:  # scipy cannot filter no samples
        return np.zeros(0, np.float32)
    y = sosfilt(butter(2, rng.uniform(50, 350), "highpass", fs=sr, output="sos"), x)
    if rng.random() < 0.7:
        order, cut = rng.integers(2, 5), rng.uniform(3400, 7800)   # below Nyquist (at 8 kHz; 16 kHz's draws as they are)
        y = sosfilt(butter(order, min(cut, 0.495 * sr), "lowpass", fs=sr, output="sos"), y)
    for _ in range(rng.integers(0, 3)):
        f0, gain_db, q = rng.uniform(200, 5000), rng.uniform(-8, 8), rng.uniform(0.7, 3)
        f0 = min(f0, 0.45 * sr)
        y = _peaking(y, f0, gain_db, q, sr)
    if rng.random() < 0.1:
        drive = rng.uniform(1.5, 4)
        y = np.tanh(drive * y / (np.max(np.abs(y)) + 1e-9)) / math.tanh(drive) * np.max(np.abs(y))
    scale = (np.sqrt(np.mean(x**2)) + 1e-9) / (np.sqrt(np.mean(y**2)) + 1e-9)
    return (y * scale).astype(np.float32)


def _peaking(x: np.ndarray, f0: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    from scipy.signal import lfilter

    a = 10 ** (gain_db / 40)
    w0 = 2 * math.pi * f0 / sr
    alpha = math.sin(w0) / (2 * q)
    b = [1 + alpha * a, -2 * math.cos(w0), 1 - alpha * a]
    den = [1 + alpha / a, -2 * math.cos(w0), 1 - alpha / a]
    return lfilter(b, den, x)


def babble(paths: list, seconds: int, rng: np.random.Generator, per_second: int = 6) -> np.ndarray:
    """Babble of many voices: min(len(paths), seconds * per_second) of the clips at `paths`, drawn without
    replacement, each placed at random over `seconds` at a gain of 0.3-1; peak 0.5. (N,) float32 at 16 kHz.

    A clip longer than the babble is cut to fit; one that cannot be read is left out (the bank, which
    reads the same files, reports it).
    """
    from ..audio import load_audio
    from ..errors import SpeechseqError

    out = np.zeros(16000 * seconds, np.float32)
    for path in rng.choice(paths, size=min(len(paths), seconds * per_second), replace=False):
        try:
            x = load_audio(path)[: len(out) - 1]
        except (SpeechseqError, OSError):
            continue
        start = rng.integers(0, len(out) - len(x))
        out[start: start + len(x)] += x * rng.uniform(0.3, 1.0)
    peak = np.max(np.abs(out))
    return out / peak * 0.5 if peak > 0 else out


def rms_dbfs(x: np.ndarray) -> float:
    return 20 * math.log10(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12)


@dataclass(frozen=True)
class MixResult:
    audio: np.ndarray          # (N,) float32
    labels: np.ndarray         # (N_frames // stride,) float32
    positive_ends: list[float]  # seconds


def mix_clip(rng: np.random.Generator, background: np.ndarray, positives: list[np.ndarray],
             negatives: list[np.ndarray], stride: int = 4, label_s: float = 0.4, snr_db: tuple[float, float] = (0, 20),
             floor_dbfs: float | None = -45.0, sr: int = 16000, hop: int = 160, win: int = 400) -> MixResult:
    """One course-style example as a waveform: `positives` and `negatives` placed without overlap
    over `background` and a noise floor at SNRs drawn from `snr_db` (speech RMS vs the RMS of background
    plus floor: what is heard around the speech), and the labels at the detector's output rate. All audio is mono
    (1-D); a clip's own scale and dtype do not matter (its level is set from its RMS), and a clip of no samples is
    not placed."""
    bg = np.asarray(background, dtype=np.float32).copy()
    for name, x in [("background", bg), *((f"positives[{i}]", c) for i, c in enumerate(positives)),
                    *((f"negatives[{i}]", c) for i, c in enumerate(negatives))]:
        if np.ndim(x) != 1:  # numpy's broadcast error named no input
            raise ValueError(f"mix_clip: {name} must be mono (1-D) samples, got shape {np.shape(x)}")
    # float64: an int16 clip's square overflowed (its RMS NaN, and the whole mix with it)
    clips = [np.asarray(c, dtype=np.float64) for c in list(positives) + list(negatives)]
    starts = place_without_overlap(rng, len(bg), [len(c) for c in clips])
    starts[np.array([len(c) == 0 for c in clips], bool)] = -1  # no samples, no keyword: not placed, not labelled
    snrs = [rng.uniform(*snr_db) if start >= 0 else 0.0 for start in starts]
    if floor_dbfs is not None and len(bg):
        bg += coloured_noise("pink", len(bg), rng) * 10 ** (floor_dbfs / 20)
    bg_rms = float(np.sqrt(np.mean(bg**2))) if np.any(bg) else 10 ** (-50 / 20)
    out, ends = bg, []
    for k, (clip, start, snr) in enumerate(zip(clips, starts, snrs)):
        if start < 0:
            continue
        clip_rms = float(np.sqrt(np.mean(clip**2))) + 1e-9
        out[start: start + len(clip)] += clip * (bg_rms * 10 ** (snr / 20) / clip_rms)
        if k < len(positives):
            ends.append(int(start + len(clip)))
    peak = float(np.max(np.abs(out))) if len(out) else 0.0  # an empty background: nothing placed, nothing heard
    if peak > 0.99:
        out *= 0.99 / peak
    n_frames = 0 if len(out) < win else 1 + (len(out) - win) // hop
    labels = label_vector(n_frames // stride, [end_frame(e, hop) for e in ends], stride, int(round(label_s * sr / hop / stride)))
    return MixResult(out.astype(np.float32), labels, [e / sr for e in sorted(ends)])
