"""Augmentation in the log-mel domain: speed, vocal tract warp, gain, noise, reverberation,
band limiting and SpecAugment, applied to precomputed features on the fly.

Working on features rather than waveforms lets a packed feature bank (speechseq.train.featbank)
give a different version of every utterance each epoch, on a GPU as well as a CPU. Each
operation approximates its waveform twin in the power domain of the mel bands:

    noise     P' = P + N                      log: logaddexp(x, noise + level)
    reverb    P'(t) = P(t) + g sum_k>=1 e^(-k d) P(t - k),  d = ln(1e6) / (RT60 * frame_rate)
    gain      x' = x + g                      (clipped at the frontend's floor)
    speed     x'(t) = x(r t)                  (tempo, pitch kept; linear interpolation in time;
                                               T' = round(T / r) frames, the most at the slowest r)
    warp      band m reads the spectrum at f_m / a  (vocal tract length: a tone at f moves to a f;
                                               frontend.mel_warp, as the detectors' mixes and --warps)
    band      bands above a random cut-off set to the noise floor (8 kHz recordings)
    SpecAugment: frequency and time masks, filled with the per-band training mean.

Per-utterance operations (speed, warp, dither) are numpy functions; batch operations take
(B, T, F) torch tensors on any device and use the given torch.Generator. Both take the log floor
of the features' frontend (FrontendConfig.floor: 1e-5 for the recogniser's banks), which nothing
takes a feature below, as the frontend never gives one below log(floor).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..checks import finite, fraction, refuse, span, whole
from ..frontend import mel_warp

__all__ = ["AugmentConfig", "speed_frames", "slowest_frames", "speed_warp", "augment_batch", "colored_noise_features"]


@dataclass(frozen=True)
class AugmentConfig:
    speed: tuple[float, float] = (0.88, 1.12)     # tempo factor range (uniform); (1, 1) = off
    warp: tuple[float, float] = (0.9, 1.1)        # vocal tract length factor range (a formant at f moves to a f)
    warp_prob: float = 0.5
    dither: float = 0.25                          # uniform +-dither/2 noise (the bank's step)
    gain: float = 1.5                             # +- nats (1.5 = 6.5 dB)
    noise_prob: float = 0.7
    snr_db: tuple[float, float] = (0.0, 35.0)
    reverb_prob: float = 0.4
    rt60: tuple[float, float] = (0.15, 0.8)       # seconds
    reverb_gain: tuple[float, float] = (0.05, 0.5)  # late energy relative to direct, per frame
    band_prob: float = 0.1
    band_cut: tuple[int, int] = (45, 75)          # first band removed (80 bands: centred ~2.0-6.3 kHz)
    freq_masks: int = 2
    freq_width: int = 12
    time_masks_per_s: float = 0.6                 # per second of each utterance (its own length, not the batch's)
    time_width: int = 25                          # frames (at most 20% of the utterance)

    def __post_init__(self) -> None:
        # each was taken and failed (or did something else) in the middle of training: speeds the wrong way round
        # sized every batch by speed[0], not the slowest factor (batches past their budget), an rt60 of 0 divided
        # by zero, a band_cut the wrong way round was torch's "random_ expects 'from' to be less than 'to'"
        refuse("augmentation settings", [
            *((name, getattr(self, name), span(getattr(self, name), 0.0, above=True), "(low, high), 0 < low <= high")
              for name in ("speed", "warp", "rt60")),
            ("snr_db", self.snr_db, span(self.snr_db), "(low, high), finite, low <= high"),
            ("reverb_gain", self.reverb_gain, span(self.reverb_gain, 0.0), "(low, high), 0 <= low <= high"),
            ("band_cut", self.band_cut, span(self.band_cut, 0, ints=True), "(low, high), whole, 0 <= low <= high"),
            *((name, getattr(self, name), fraction(getattr(self, name)), "a probability in [0, 1]")
              for name in ("warp_prob", "noise_prob", "reverb_prob", "band_prob")),
            *((name, getattr(self, name), finite(getattr(self, name)) and getattr(self, name) >= 0,
               "a finite number >= 0") for name in ("dither", "gain", "time_masks_per_s")),
            *((name, getattr(self, name), whole(getattr(self, name), 0), "a whole number >= 0")
              for name in ("freq_masks", "freq_width", "time_width"))])

    @staticmethod
    def off() -> "AugmentConfig":
        return AugmentConfig(speed=(1.0, 1.0), warp_prob=0.0, dither=0.0, gain=0.0, noise_prob=0.0,
                             reverb_prob=0.0, band_prob=0.0, freq_masks=0, time_masks_per_s=0.0)


def speed_frames(n: int, r: float) -> int:
    """The frames speed_warp makes of `n` frames at tempo factor `r`."""
    return max(2, int(round(n / r))) if abs(r - 1.0) > 1e-3 and n > 2 else n


def slowest_frames(lengths: np.ndarray, cfg: AugmentConfig) -> np.ndarray:
    """(n,) int64: the most frames speed_warp makes of utterances of `lengths` frames, exactly: their
    frames at the slowest factor cfg.speed[0] (round(T / r) does not grow with r)."""
    n = np.asarray(lengths, dtype=np.int64)
    r = float(cfg.speed[0])
    if not abs(r - 1.0) > 1e-3:
        return n.copy()
    return np.where(n > 2, np.maximum(2, np.round(n / r).astype(np.int64)), n)  # speed_frames, elementwise


def speed_warp(feats: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, *, floor: float) -> np.ndarray:
    """One utterance (T, F) float32 -> (T', F): dither, tempo change, mel-axis warp; T' = speed_frames(T, r).
    floor: the frontend's (FrontendConfig.floor); dither takes no feature below log(floor)."""
    x = feats
    if cfg.dither > 0:
        x = x + rng.uniform(-cfg.dither / 2, cfg.dither / 2, size=x.shape).astype(np.float32)
        x = np.maximum(x, np.float32(math.log(floor)))
    r = rng.uniform(*cfg.speed)
    if abs(r - 1.0) > 1e-3 and len(x) > 2:
        n = speed_frames(len(x), r)
        pos = np.linspace(0, len(x) - 1, n)
        i = np.minimum(pos.astype(np.int64), len(x) - 2)
        w = (pos - i)[:, None].astype(np.float32)
        x = (1 - w) * x[i] + w * x[i + 1]
    if cfg.warp_prob > 0 and rng.random() < cfg.warp_prob:
        # in frequency, as VTLP is: stretching the mel-band index by a moved 1 kHz by 1 / 1.13 but 4 kHz by 1 / 1.24
        i0, i1, w = (t[0] for t in mel_warp(x.shape[1], [rng.uniform(*cfg.warp)]))
        x = (1 - w) * x[:, i0] + w * x[:, i1]
    return np.ascontiguousarray(x, dtype=np.float32)


def _rand(shape, lo: float, hi: float, g: torch.Generator, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=g, device=device)


def _level(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean power of each utterance's real frames, as a log, (B,)."""
    band_power = torch.logsumexp(x, dim=2) - math.log(x.shape[2])
    band_power = band_power.masked_fill(~mask, -1e4)
    return torch.logsumexp(band_power, dim=1) - torch.log(mask.sum(1).clamp_min(1).float())


def augment_batch(x: torch.Tensor, lengths: torch.Tensor, cfg: AugmentConfig, g: torch.Generator,
                  noise: torch.Tensor | None = None, fill: torch.Tensor | None = None, *,
                  floor: float) -> torch.Tensor:
    """Augment a padded batch of log-mel features.

    x: (B, T, F); lengths: (B,) real frames; noise: (N, F) log-mel of noise recordings (None:
    no noise); fill: (F,) value for SpecAugment masks (the training mean; None: zeros); floor: the
    frontend's (FrontendConfig.floor), where the gain clips and the band limit fills.
    Returns a new (B, T, F) tensor; padding frames are left as they were.
    """
    b, t, f = x.shape
    dev = x.device
    log_floor = math.log(floor)
    mask = torch.arange(t, device=dev)[None, :] < lengths.to(dev)[:, None]          # (B, T)
    y = x.clone()
    if cfg.reverb_prob > 0:
        rt60 = float(_rand((), *cfg.rt60, g, dev))
        k = max(2, int(rt60 * 100))
        decay = math.log(1e6) / (rt60 * 100)
        kern = torch.exp(-decay * torch.arange(1, k, device=dev, dtype=x.dtype))
        gain = _rand((b, 1, 1), *cfg.reverb_gain, g, dev)
        power = torch.exp(y).transpose(1, 2).reshape(b * f, 1, t)                      # (B F, 1, T)
        late = torch.nn.functional.conv1d(torch.nn.functional.pad(power, (k - 1, 0)),
                                          torch.cat([kern.flip(0), kern.new_zeros(1)]).view(1, 1, k))
        late = late.view(b, f, t).transpose(1, 2)
        rev = torch.log(torch.exp(y) + gain * late)
        on = (torch.rand((b, 1, 1), generator=g, device=dev) < cfg.reverb_prob)
        y = torch.where(on, rev, y)
    if cfg.gain > 0:
        y = torch.clamp_min(y + _rand((b, 1, 1), -cfg.gain, cfg.gain, g, dev), log_floor)
    if cfg.band_prob > 0:
        cut = torch.randint(cfg.band_cut[0], cfg.band_cut[1] + 1, (b, 1, 1), generator=g, device=dev)
        on = (torch.rand((b, 1, 1), generator=g, device=dev) < cfg.band_prob)
        high = torch.arange(f, device=dev)[None, None, :] >= cut
        y = torch.where(on & high, torch.full_like(y, log_floor), y)
    if noise is not None and cfg.noise_prob > 0:
        n_len = noise.shape[0]
        reps = (t // n_len) + 2
        bank = noise.repeat(reps, 1) if reps > 1 else noise
        start = torch.randint(0, n_len, (b,), generator=g, device=dev)
        idx = (start[:, None] + torch.arange(t, device=dev)[None, :]) % bank.shape[0]
        nz = bank[idx]                                                                  # (B, T, F)
        snr = _rand((b,), *cfg.snr_db, g, dev) * (math.log(10) / 10)
        shift = _level(y, mask) - _level(nz, mask) - snr
        noisy = torch.logaddexp(y, nz + shift[:, None, None])
        on = (torch.rand((b, 1, 1), generator=g, device=dev) < cfg.noise_prob)
        y = torch.where(on, noisy, y)
    fill_v = torch.zeros(f, device=dev, dtype=x.dtype) if fill is None else fill.to(dev, x.dtype)
    for _ in range(cfg.freq_masks):
        w = torch.randint(0, cfg.freq_width + 1, (b, 1, 1), generator=g, device=dev)
        f0 = (torch.rand((b, 1, 1), generator=g, device=dev) * (f - w + 1)).long()
        band = torch.arange(f, device=dev)[None, None, :]
        y = torch.where((band >= f0) & (band < f0 + w), fill_v, y)
    # time_masks_per_s counts each utterance's own seconds: the batch's padded length draws the most masks, an
    # utterance takes the first round(time_masks_per_s * its seconds) of them
    n_time = int(round(cfg.time_masks_per_s * t / 100))
    if n_time > 0:
        frames = torch.arange(t, device=dev)[None, :, None]
        n_own = torch.round(cfg.time_masks_per_s * lengths.to(dev).double() / 100).view(b, 1, 1)
        for j in range(n_time):
            w = torch.minimum(torch.randint(0, cfg.time_width + 1, (b, 1, 1), generator=g, device=dev),
                              (lengths.to(dev) // 5).view(b, 1, 1))
            t0 = (torch.rand((b, 1, 1), generator=g, device=dev) * (lengths.to(dev).view(b, 1, 1) - w + 1)).long()
            y = torch.where((frames >= t0) & (frames < t0 + w) & (j < n_own), fill_v, y)
    return torch.where(mask[:, :, None], y, x)


def colored_noise_features(cfg, seconds: float = 20.0, seed: int = 1,
                           extra: list[np.ndarray] | None = None) -> np.ndarray:
    """Log-mel (N, F) of white, pink and brown noise (`seconds` each) plus `extra` noise
    recordings (float32 audio at cfg.sample_rate), for `augment_batch(noise=...)`. cfg: FrontendConfig."""
    from ..frontend import logmel

    rng = np.random.default_rng(seed)
    n = int(seconds * cfg.sample_rate)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n), 1e-4)
    noises = list(extra or []) + [np.fft.irfft(spectrum, n), np.fft.irfft(spectrum / np.sqrt(f), n),
                                  np.fft.irfft(spectrum / f, n)]
    return np.concatenate([logmel(0.1 * x / (np.abs(x).max() + 1e-9), cfg) for x in noises])
