"""Samples in memory: integer or float arrays to float32 at full scale 1.0 (`float_samples`, `mono_samples`),
channels mixed (`to_mono`, and `mix_live` for a stream whose channels may be dead), NaN and infinities made safe
(`finite_samples`), and resampling (`resample`, soxr). Reading files: speechseq.audio.

    mono = to_mono(int16_block)                         # (N, C) int16 -> (N,) float32 at full scale 1.0
    x = resample(finite_samples(mono), 44100)           # to SAMPLE_RATE
"""
from __future__ import annotations

import os

import numpy as np
import soxr

__all__ = ["SAMPLE_RATE", "to_mono", "mix_live", "LIVE_LEVEL", "resample", "float_samples", "mono_samples",
           "finite_samples", "SAMPLE_LIMIT"]

SAMPLE_RATE = 16000


def to_mono(x: np.ndarray) -> np.ndarray:
    """(N,) or (N, C) -> (N,) float32, the plain mean of the channels; integer samples scaled to full scale 1.0
    (float_samples). ValueError for other shapes. A stream or file whose channels may be dead: `mix_live`."""
    x = float_samples(x)
    if x.ndim == 1:
        return x
    if x.ndim != 2 or not x.shape[1]:
        raise ValueError(f"audio must be (N,) or (N, channels), got shape {x.shape}")
    # Channel by channel: the floats of x.mean(axis=1, dtype=float32) up to 7 channels (numpy sums more in
    # another order) at a tenth of its cost, since numpy reduces a short contiguous axis slowly; the listener
    # mixes every block.
    out = x[:, 0].copy()
    for c in range(1, x.shape[1]):
        out += x[:, c]
    if x.shape[1] > 1:
        out /= x.shape[1]
    return out


LIVE_LEVEL = 10 ** (-90 / 20)  # mix_live: a channel is live from its first sample above -90 dBFS (1 LSB of 16 bits)


def mix_live(x: np.ndarray, live: tuple[bool, ...] | None = None) -> tuple[np.ndarray, tuple[bool, ...]]:
    """(N,) or (N, C) -> ((N,) float32, live): the mean of the channels that have carried sound so far in a stream,
    and which those are now (C bools), to pass in with the stream's next block (None: its first). A channel that
    is digital silence (a USB microphone that fills only its left channel) would halve the voice in `to_mono`'s
    mean (6 dB low); it joins the mix at its first sample above LIVE_LEVEL and stays in it (a gated channel's
    silences move no level), so the result does not depend on how the stream is cut. Where no channel is live
    yet, the mean of all. Samples as `float_samples`; ValueError for other shapes."""
    x = float_samples(x)
    if x.ndim == 1:
        return x, (True,)
    if x.ndim != 2 or not x.shape[1]:
        raise ValueError(f"audio must be (N,) or (N, channels), got shape {x.shape}")
    n, c = x.shape
    if c == 1 or live is not None and all(live):  # the usual case after a stream's first sound: no sample looked at
        return to_mono(x), (True,) * c
    start = [0 if live is not None and live[ch] else n for ch in range(c)]  # where each is live from (n: not here)
    for ch in range(c):
        if start[ch]:  # not by the channel's peak: a NaN sample (a broken float file) makes it NaN, never above
            loud = np.abs(x[:, ch]) > LIVE_LEVEL
            if loud.any():
                start[ch] = int(loud.argmax())
    edges = sorted({0, n, *start})
    out = np.empty(n, np.float32)
    for a, b in zip(edges[:-1], edges[1:]):
        mixed = [ch for ch in range(c) if start[ch] <= a] or list(range(c))
        out[a:b] = to_mono(x[a:b, mixed]) if len(mixed) < c else to_mono(x[a:b])
    return out, tuple(s < n or bool(live and live[ch]) for ch, s in enumerate(start))


def float_samples(x) -> np.ndarray:
    """Samples as float32 at full scale 1.0, as every model takes them: floats as they are, integers (a driver's or a
    WAV's int16, int32, uint8 as numpy arrays) scaled from their type's range (int16 by 1/32768; uint8 about its
    midpoint 128), which fed as they are read 2 ln 32768 (about 20.8) high in every log-mel band. A list or tuple
    holds no sample type: its numbers are taken as they are, at full scale 1.0. TypeError for a path (a str, bytes or
    os.PathLike, or a sequence of them), which numpy's "could not convert string to float" did not name, and for what
    holds no samples (None, a dict, a set, a generator); ValueError for a None among the samples. Each of these came
    back as NaN samples (None) or as numpy's "float() argument must be a string or a real number, not 'dict'"."""
    if isinstance(x, (str, bytes, os.PathLike)):
        raise _not_a_path(x)
    if x is None:
        raise _not_samples(x)
    try:
        return _float_samples(x)
    except (TypeError, ValueError):
        items = list(x.flat if isinstance(x, np.ndarray) else x if isinstance(x, (list, tuple)) else ())
        if items and all(isinstance(v, (str, bytes, os.PathLike)) for v in items):
            raise _not_a_path(x) from None
        if not isinstance(x, (np.ndarray, list, tuple)) and np.asarray(x).dtype.kind == "O":  # no numbers in it
            raise _not_samples(x) from None
        raise


def _not_a_path(x) -> TypeError:
    return TypeError(f"audio must be samples, not a path ({x!r}): speechseq.audio.load_audio reads a file")


def _not_samples(x) -> TypeError:
    return TypeError("audio must be samples (a numpy array, or a list or tuple of numbers), got "
                     + ("None" if x is None else type(x).__name__))


def _none_among(x) -> bool:
    """Whether a None is among the items of `x` (a list, tuple or object array), which float32 made NaN."""
    return any(v is None for v in np.asarray(x, dtype=object).flat)


def _float_samples(x) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        if isinstance(x, (list, tuple)):
            y = np.asarray(x, dtype=np.float32)
            if np.isnan(y).any() and _none_among(x):  # (NaN itself is a sample: finite_samples makes it 0)
                raise ValueError("audio samples must be numbers, got None among them")
            return y
        x = np.asarray(x)
    if x.dtype.kind in "iu":
        bits = 8 * x.dtype.itemsize
        mid = 2.0 ** (bits - 1)
        return ((x.astype(np.float64) - (mid if x.dtype.kind == "u" else 0.0)) / mid).astype(np.float32)
    if x.dtype.kind == "b":
        raise ValueError("audio samples must be numbers, got booleans")
    if x.dtype.kind == "O" and _none_among(x):
        raise ValueError("audio samples must be numbers, got None among them")
    return x.astype(np.float32, copy=False)


def mono_samples(x) -> np.ndarray:
    """`float_samples` of one channel as (N,): a driver's (N, 1) column (or a (1, N) row) is mono. ValueError naming
    the shape for more channels (mix them first: `to_mono`), which flattened read as a stream C times as long."""
    x = float_samples(x)
    if x.ndim != 1:
        if sum(d != 1 for d in x.shape) > 1:
            raise ValueError(f"audio must be 1-D (mono), got shape {x.shape}")
        x = x.reshape(-1)
    return x


SAMPLE_LIMIT = 1e15  # finite_samples' bound: the frontend's float32 power of such samples stays finite


def finite_samples(x: np.ndarray) -> np.ndarray:
    """`x` itself when every sample is finite and within +-SAMPLE_LIMIT, else a copy with NaN as 0, +-inf as +-1
    and the rest clipped to +-SAMPLE_LIMIT: a broken float file or driver must not poison a stream's model state
    (samples from about 1e17 overflow the frontend's float32 power). One dot product checks a chunk (any NaN,
    infinity or sample over 1e15 sends its sum of squares to 1e30 or more; a chunk of smaller samples that gets
    there too is copied unchanged), so the result does not depend on how a stream is cut: under a microsecond for
    100 ms of audio."""
    with np.errstate(over="ignore"):  # a sum of squares past float32's range is what the check looks for
        if x.dot(x) < 1e30:  # False for NaN too
            return x
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), -SAMPLE_LIMIT, SAMPLE_LIMIT)


def _check_rate(sr, name: str) -> None:
    """ValueError naming `name` unless `sr` is a positive, finite number of Hz: soxr loops for good on a NaN or
    infinite rate, and says only "Sample rate should be over 0" of 0, a TypeError of None."""
    if isinstance(sr, (bool, np.bool_)) or not isinstance(sr, (int, float, np.integer, np.floating)) or not (
            0 < sr < float("inf")):
        raise ValueError(f"{name} must be a sample rate in Hz (a positive number), got {sr!r}")


def resample(x: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono signal (soxr, high quality) to float32; samples as `float_samples` takes them (integers at full
    scale 1.0: int16 PCM cast as it was came out 32768 times too loud)."""
    _check_rate(sr_in, "sr_in")
    _check_rate(sr_out, "sr_out")
    x = float_samples(x)
    if sr_in == sr_out:
        return x
    return soxr.resample(x, sr_in, sr_out, quality="HQ").astype(np.float32, copy=False)
