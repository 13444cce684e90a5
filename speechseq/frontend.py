"""The log-mel frontend shared by every model: constants, numpy features, and a streaming wrapper.

Frames are causal and unpadded: frame t covers samples [t * hop, t * hop + win), so a clip of N
samples has 1 + (N - win) // hop frames (0 when N < win), and a stream cut into chunks of any size
has exactly the frames of the whole clip, their features equal to float32 rounding (the mel product
is summed by BLAS in another order for another number of frames: within about 1e-6). The torch twin used for training
and ONNX export is `speechseq.nn.frontend.LogMel`; tests pin the three together.

    power[t, k] = |sum_n hann[n] x[t*hop + n] e^{-2 pi i k n / n_fft}|^2     k = 0 .. n_fft/2
    logmel[t, m] = log(sum_k mel[m, k] power[t, k] + floor)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from .checks import finite, refuse, whole
from .samples import mono_samples

__all__ = ["FrontendConfig", "FrontendState", "StreamingFrontend", "logmel", "mel_filterbank",
           "mel_warp", "hann_window", "num_frames"]


@dataclass(frozen=True)
class FrontendConfig:
    sample_rate: int = 16000
    win_length: int = 400      # 25 ms
    hop_length: int = 160      # 10 ms: 100 frames per second
    n_fft: int = 512           # window zero-padded to the next power of two: 257 bins, 31.25 Hz apart
    n_mels: int = 40
    fmin: float = 20.0
    fmax: float = 7600.0       # below Nyquist (8 kHz), where resamplers roll off
    floor: float = 1e-5        # log floor: digital silence reads log(1e-5) = -11.5 (about -65 dBFS noise)

    def __post_init__(self) -> None:
        # a hop of 0 was a ZeroDivisionError in the first frame count, n_fft < win_length a broadcast error, a floor of
        # 0 log(0) = -inf, fmin > fmax NaN features, and an fmax above Nyquist (8 kHz audio at the default 7600 Hz)
        # bands that read nothing, without a word
        sr, win, n_fft, fmin, fmax = self.sample_rate, self.win_length, self.n_fft, self.fmin, self.fmax
        refuse("frontend settings", (
            ("sample_rate", sr, whole(sr), "a whole number of Hz >= 1"),
            ("n_fft", n_fft, whole(n_fft), "a whole number >= 1"),
            ("win_length", win, whole(win) and (not whole(n_fft) or win <= n_fft),
             f"a whole number from 1 to n_fft ({n_fft!r})"),
            ("hop_length", self.hop_length, whole(self.hop_length), "a whole number >= 1"),
            ("n_mels", self.n_mels, whole(self.n_mels), "a whole number >= 1"),
            ("fmin", fmin, finite(fmin) and fmin >= 0, "a finite number of Hz >= 0"),
            ("fmax", fmax, finite(fmax) and (not finite(fmin) or fmin < fmax) and (not whole(sr) or fmax <= sr / 2),
             f"more than fmin ({fmin!r}) and at most sample_rate / 2 ({sr / 2 if whole(sr) else sr!r})"),
            ("floor", self.floor, finite(self.floor) and self.floor > 0, "a finite number > 0")))

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)


def num_frames(n_samples: int, cfg: FrontendConfig) -> int:
    """Frames in a clip of `n_samples` (no padding)."""
    return 0 if n_samples < cfg.win_length else 1 + (n_samples - cfg.win_length) // cfg.hop_length


def hann_window(cfg: FrontendConfig) -> np.ndarray:
    """Periodic Hann window of `win_length` samples (float64)."""
    n = np.arange(cfg.win_length)
    return 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.win_length)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    # Slaney's auditory toolbox scale (librosa's default): linear to 1 kHz, logarithmic above.
    f = np.asarray(f, dtype=np.float64)
    lin = f / (200.0 / 3)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3)
    log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log, lin)


def mel_filterbank(cfg: FrontendConfig) -> np.ndarray:
    """Triangular Slaney-normalised filters, shape (n_mels, n_fft // 2 + 1), float64.

    Equal to librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax) (htk=False, norm="slaney").
    """
    # bin k at k * sample_rate / n_fft Hz, the top one at sample_rate / 2 only for an even n_fft (as evenly spaced
    # from 0 to sample_rate / 2, an odd FFT's filters sat up to half a bin off): the same floats as that grid's
    # for an even n_fft (the shipped models' 512), its end point then sample_rate / 2 exactly
    fft_hz = np.linspace(0.0, cfg.sample_rate * (cfg.n_fft // 2) / cfg.n_fft, cfg.n_fft // 2 + 1)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(cfg.fmin), _hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return weights * (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]


def mel_warp(n_mels: int, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A vocal tract length warp on the mel axis, for each factor a: band m of the output reads the
    spectrum at its centre frequency f_m / a (a > 1: formants move up, as for a shorter vocal tract),
    a linear interpolation between input bands i0 and i1 with weight w on i1 (clamped at the edges).
    Returns i0, i1 (n, n_mels) int64 and w (n, n_mels) float32 (the default frontend's filters)."""
    fb = mel_filterbank(FrontendConfig(n_mels=n_mels))
    centres = (fb * np.arange(fb.shape[1])).sum(1) / fb.sum(1)  # in FFT bins
    pos = np.interp(centres[None, :] / np.asarray(factors, np.float64)[:, None], centres, np.arange(n_mels))
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, n_mels - 1)
    i1 = np.clip(i0 + 1, 0, n_mels - 1)
    return i0, i1, (pos - i0).astype(np.float32)


class _Tables:
    """Per config, built once: the window, and the filterbank cut to the bins it weights (transposed)."""

    _cache: dict[FrontendConfig, tuple[np.ndarray, np.ndarray, int, int]] = {}
    _last: tuple[FrontendConfig | None, tuple] = (None, ())  # the last config asked for, by identity

    @classmethod
    def get(cls, cfg: FrontendConfig) -> tuple[np.ndarray, np.ndarray, int, int]:
        """(window (win_length,), filterbank (k1 - k0, n_mels), k0, k1), float32."""
        last_cfg, tables = cls._last
        if last_cfg is cfg:  # a stream asks with the same config object every chunk: no hashing
            return tables
        tables = cls._cache.get(cfg)
        if tables is None:
            fb = mel_filterbank(cfg)
            used = np.flatnonzero(fb.any(axis=0))  # none where the band holds no bin: every band reads log(floor)
            k0, k1 = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 0)
            tables = cls._cache[cfg] = (hann_window(cfg).astype(np.float32),
                                        np.ascontiguousarray(fb[:, k0:k1].T, dtype=np.float32),
                                        k0, k1)
        cls._last = (cfg, tables)
        return tables


def _pocketfft():
    """scipy's pocketfft extension module, loaded from its file without running scipy.fft's package, which imports
    scipy.special too: about 20 MB more resident memory (the listener's budget is 200 MB) and a quarter second.
    The module scipy.fft itself imports, the same functions, where scipy.fft is imported already. ImportError
    where this scipy has no such file."""
    import sys

    name = "scipy.fft._pocketfft.pypocketfft"
    if name in sys.modules:
        return sys.modules[name]
    import importlib.machinery
    import importlib.util
    import os

    spec = importlib.util.find_spec("scipy")  # finds the package without importing it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "fft", "_pocketfft", "pypocketfft" + suffix)
            if os.path.isfile(path):
                loader = importlib.machinery.ExtensionFileLoader(name, path)
                module = importlib.util.module_from_spec(importlib.util.spec_from_file_location(name, path,
                                                                                                 loader=loader))
                loader.exec_module(module)
                return module
    raise ImportError(f"{name}: no such extension file")


def _load_rfft():
    """The real FFT along the last axis of a float32 (n, n_fft) array -> complex64 (n, n_fft // 2 + 1).

    scipy's pocketfft, called directly where this scipy has it (`_pocketfft`): scipy.fft.rfft's argument handling
    costs about as much as the transform of a 100 ms streaming chunk (10 frames), and importing scipy.fft costs
    memory. Checked once against the DFT's definition in float64 (within 1e-5 of the largest bin: the call's meaning;
    a test pins it to scipy.fft.rfft bit for bit); any doubt and scipy.fft.rfft it is.
    """
    probe = np.random.default_rng(0).standard_normal((3, 512)).astype(np.float32)
    n = np.arange(512)
    want = probe.astype(np.float64) @ np.exp(-2j * np.pi * np.outer(n, n[:257]) / 512)  # the DFT, as defined
    try:
        r2c = _pocketfft().r2c

        def direct(a: np.ndarray) -> np.ndarray:
            return r2c(a, (1,), True, 0, None, 1)

        got = direct(probe)
        if (got.dtype == np.complex64 and got.shape == want.shape
                and np.abs(got - want).max() <= 1e-5 * np.abs(want).max()):
            return direct
    except Exception:  # another scipy: its private module moved or changed
        pass
    from scipy.fft import rfft

    def plain(a: np.ndarray) -> np.ndarray:
        return rfft(a, axis=-1)

    return plain


_BLOCK = 2048  # frames per FFT block: bounds the scratch memory of long clips (about 4 MB)
_rfft = None   # _load_rfft(), on first use


def logmel(audio: np.ndarray, cfg: FrontendConfig = FrontendConfig()) -> np.ndarray:
    """Log-mel features of a whole clip.

    audio: (N,) samples at cfg.sample_rate (or a driver's (N, 1) column), taken as StreamingFrontend.step and every
    file reader take them (speechseq.samples.mono_samples): floats as they are, at full scale 1.0 (as
    speechseq.audio.load_audio gives them); integers (int16 PCM, int32, uint8) scaled from their type's range.
    ValueError for more channels. Returns (T, n_mels) float32, T = num_frames(N): no frame, and no error, when
    N < win_length.

    Floats are not rescaled: samples scaled by g read log(g^2 P + floor) for mel power P, so int16 values held as
    floats read 2 ln 32768 = 20.8 higher wherever P is well above the floor. A NaN or infinite sample makes every
    band of the frames whose windows hold it NaN (numpy may warn of an invalid value) and changes no other frame;
    the runtime replaces such samples first (speechseq.audio.finite_samples). The torch module and the exported
    graph do the same (tests pin it).
    """
    # float32 throughout (pocketfft keeps the precision): within about 1e-4 of a float64 reference on
    # speech (5e-5 / 4e-5 at the shipped 40 bands / floor 1e-6 and 80 / 1e-5 on real recordings; the error
    # is relative to a frame's loudest bins, so it shows in quiet bands above a small floor). scipy's rfft
    # of zero-padded frames is about twice as fast as numpy's at these sizes, which matters in 100 ms
    # streaming chunks (10 frames: about 21 us a streaming step in all, session 35).
    x = np.ascontiguousarray(mono_samples(audio))  # as the stream takes it: int16 as it came read 20.8 high here
    return _logmel(x, num_frames(len(x), cfg), cfg)


def _logmel(x: np.ndarray, t: int, cfg: FrontendConfig) -> np.ndarray:
    """`logmel` of x, a contiguous float32 (N,) array of t frames (the streaming step's call, checks done)."""
    global _rfft
    if _rfft is None:
        _rfft = _load_rfft()
    out = np.empty((t, cfg.n_mels), dtype=np.float32)
    if t == 0:
        return out
    window, fb, k0, k1 = _Tables.get(cfg)
    win, hop = cfg.win_length, cfg.hop_length
    frames = np.zeros((min(t, _BLOCK), cfg.n_fft), dtype=np.float32)  # the padding stays zero
    for b in range(0, t, _BLOCK):
        n = min(_BLOCK, t - b)
        view = np.ndarray((n, win), np.float32, x, 4 * b * hop, (4 * hop, 4))  # frames, no copy
        np.multiply(view, window, out=frames[:n, :win])
        power = np.abs(_rfft(frames[:n])[:, k0:k1])  # the bins the filters weigh; |X_k|, then squared in place:
        np.square(power, out=power)                   # two calls, and half the product of (re, im) pairs squared
        mel = np.matmul(power, fb, out=out[b : b + n])
        mel += np.float32(cfg.floor)
        np.log(mel, out=mel)
    return out


class FrontendState(NamedTuple):
    """Samples received but not yet consumed by a complete frame (fewer than win_length + hop), and where frames
    leave samples out between them (hop_length > win_length) how many of the stream's next samples come before
    the next frame's first: an immutable value, a named tuple for the cost of making one every chunk."""

    pending: np.ndarray
    skip: int = 0


class StreamingFrontend:
    """Log-mel features of a stream fed in chunks of any size; state is an explicit value.

        fe = StreamingFrontend(cfg)
        state = fe.initial_state()
        feats, state = fe.step(chunk, state)     # feats: (t, n_mels), t >= 0

    Concatenating the outputs over a stream gives the frames of `logmel` of the whole stream, equal to float32
    rounding (module docstring). A chunk is (N,) or a driver's (N, 1) column; ValueError for more channels.
    """

    def __init__(self, cfg: FrontendConfig = FrontendConfig()) -> None:
        self.cfg = cfg

    def initial_state(self) -> FrontendState:
        return FrontendState(np.zeros(0, dtype=np.float32))

    def step(self, chunk: np.ndarray, state: FrontendState) -> tuple[np.ndarray, FrontendState]:
        chunk = mono_samples(chunk)   # integers at full scale 1.0 (int16 read 20.8 high in every band), (N, 1) mono
        cfg = self.cfg
        if state.skip:  # samples between the last frame and the next (hop_length > win_length): nothing pending
            if len(chunk) <= state.skip:
                return _logmel(chunk, 0, cfg), FrontendState(state.pending, state.skip - len(chunk))
            chunk = chunk[state.skip:]
        joined = len(state.pending) > 0
        buf = np.concatenate((state.pending, chunk)) if joined else np.ascontiguousarray(chunk)
        t = num_frames(len(buf), cfg)
        rest = buf[t * cfg.hop_length:]
        if not joined or len(buf) > 8192:  # the caller's memory (a device may reuse it), or a long block a view
            rest = rest.copy()             # would keep alive: a copy; else the tail of our own concatenation
        return _logmel(buf, t, cfg), FrontendState(rest, max(0, t * cfg.hop_length - len(buf)))
