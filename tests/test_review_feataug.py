"""Feature-domain augmentation (review): SpecAugment's time masks per second of each utterance, the noise's SNR and
the reverberation tail of augment_batch, and the keyword mixer's pink floor under long mixes."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.train.feataug import AugmentConfig, augment_batch  # noqa: E402

OFF = AugmentConfig.off()


def _runs(masked: torch.Tensor) -> int:
    """Contiguous runs of True in a (T,) bool tensor."""
    m = masked.int()
    return int(m[0]) + int((m[1:] - m[:-1] == 1).sum())


def test_time_masks_are_counted_per_second_of_each_utterance_not_of_the_padded_batch():
    """time_masks_per_s is per second of each utterance: a 1-s utterance padded into a 10-s batch gets
    round(0.6) = 1 mask, not the 6 of the batch's padded length (they masked 53 % of it on average, up to 88 %);
    a 0.5-s one next to a 20-s one gets none (12 masks of up to 10 frames could cover all of its 50)."""
    cfg = replace(OFF, time_masks_per_s=0.6)
    fill = torch.full((8,), 1.0)
    long_runs, short_frac = [], []
    for seed in range(60):
        g = torch.Generator().manual_seed(seed)
        y = augment_batch(torch.zeros(2, 1000, 8), torch.tensor([1000, 100]), cfg, g, fill=fill, floor=1e-5)
        masked = y[:, :, 0] == 1.0
        assert _runs(masked[1, :100]) <= 1 and not masked[1, 100:].any()
        long_runs.append(_runs(masked[0]))
        short_frac.append(float(masked[1, :100].float().mean()))
        assert masked[1, :100].float().mean() <= 0.2  # one mask of at most 20 % of the utterance
        g = torch.Generator().manual_seed(seed)
        z = augment_batch(torch.zeros(2, 2000, 8), torch.tensor([2000, 50]), cfg, g, fill=fill, floor=1e-5)
        assert not (z[1, :50, 0] == 1.0).any()
    assert max(long_runs) <= 6 and np.mean(long_runs) > 3  # the 10-s utterance keeps its 6 draws
    assert 0.02 < np.mean(short_frac) < 0.15


def test_noise_is_mixed_at_the_asked_snr_over_each_utterances_real_frames():
    """SNR from mean powers over the real frames (P' = P + N): exact, whatever the padding holds."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 300, 80) - 6
    lengths = torch.tensor([300, 170, 40])
    x[1, 170:] = 5.0
    x[2, 40:] = 5.0  # loud padding must not count
    noise = torch.randn(450, 80) - 8
    for snr_db in (0.0, 12.5, 35.0):
        y = augment_batch(x, lengths, replace(OFF, noise_prob=1.0, snr_db=(snr_db, snr_db)), g, noise, floor=1e-5)
        for b, n in enumerate(lengths.tolist()):
            p = torch.exp(x[b, :n].double())
            added = torch.exp(y[b, :n].double()) - p
            assert abs(10 * math.log10(float(p.mean() / added.mean())) - snr_db) < 0.01


def test_reverb_tail_falls_60_db_in_rt60_as_documented():
    """P'(t) = P(t) + g sum_k e^(-k d) P(t - k), d = ln(1e6) / (RT60 * 100): after one frame of direct sound the
    tail starts at g e^-d and falls 60 dB per RT60, nothing before the sound."""
    g = torch.Generator().manual_seed(1)
    cfg = replace(OFF, reverb_prob=1.0, rt60=(0.5, 0.5), reverb_gain=(0.3, 0.3))
    x = torch.full((1, 200, 4), -40.0, dtype=torch.float64)
    x[0, 20] = 0.0
    late = torch.exp(augment_batch(x, torch.tensor([200]), cfg, g, floor=1e-18)[0, :, 0]) - math.exp(-40.0)
    d = math.log(1e6) / 50
    assert late[:20].abs().max() < 1e-15 and abs(float(late[20]) - 1.0) < 1e-9
    assert abs(float(late[21]) - 0.3 * math.exp(-d)) < 1e-6  # (the gain is drawn in float32)
    assert abs(10 * math.log10(float(late[21 + 25] / late[21])) + 30.0) < 1e-6  # half of RT60: -30 dB


def _bank(rng: np.random.Generator) -> dict:
    from speechseq.frontend import FrontendConfig, logmel
    from speechseq.train.augment import coloured_noise
    from speechseq.train.kwbank import BankConfig, clip_features, quantize

    bank = {"meta": {}}
    tone = (0.5 * np.sin(np.arange(6000) * 2 * np.pi * 700 / 16000)).astype(np.float32)
    for role, clips in (("pos", [tone] * 2), ("neg", [tone[:2000]] * 2)):
        feats = [clip_features(c, BankConfig()) for c in clips]
        q = [quantize(f) for f, _, _ in feats]
        bank.update({f"{role}/q": np.concatenate(q), f"{role}/offsets": np.concatenate([[0], np.cumsum([len(a) for a in q])]),
                     f"{role}/end": np.array([e for _, e, _ in feats]), f"{role}/power": np.array([p for _, _, p in feats]),
                     f"{role}/weight": np.ones(len(q))})
    bgq = quantize(logmel(0.01 * coloured_noise("brown", 16000 * 3, rng), FrontendConfig()))
    bank.update({"bg/q": bgq, "bg/offsets": np.array([0, len(bgq)]), "bg/end": np.array([-1]),
                 "bg/power": np.array([1.0]), "bg/weight": np.ones(1)})
    return bank


def test_mixes_longer_than_the_pink_floor_wrap_it_as_the_backgrounds_do():
    """MixConfig.clip_s over the mixer's 20 s of pink noise (1998 frames): the floor wraps, as a short background
    does (it raised numpy's "high <= 0"); the same seed gives the same batch."""
    from speechseq.train.kwmix import Mixer, MixConfig

    mixer = Mixer(_bank(np.random.default_rng(0)), MixConfig(clip_s=25.0))
    assert len(mixer.pink) < 2500
    x, y = mixer.batch(np.random.default_rng(3), 2, min_pos=1)
    assert x.shape == (2, 2500, 40) and y.shape == (2, 625) and torch.isfinite(x).all() and y.sum() > 0
    x2, y2 = mixer.batch(np.random.default_rng(3), 2, min_pos=1)
    assert torch.equal(x, x2) and torch.equal(y, y2)


def _tone_band(f_hz: float, cfg) -> np.ndarray:
    from speechseq.frontend import logmel

    t = np.arange(16000) / 16000
    return logmel((0.3 * np.sin(2 * np.pi * f_hz * t)).astype(np.float32), cfg)


def _peak(feats: np.ndarray) -> float:
    """The fractional band of a tone's peak (a parabola through the loudest band and its neighbours)."""
    p = feats.mean(0).astype(np.float64)
    k = int(np.clip(np.argmax(p), 1, len(p) - 2))
    y0, y1, y2 = p[k - 1: k + 2]
    return k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)


@pytest.mark.parametrize("a", [0.9, 1.1])
def test_vocal_tract_warp_moves_a_tone_by_the_factor(a):
    """VTLP by a factor a moves a formant at f to a f (a > 1 up, as frontend.mel_warp, the detectors' training and
    the runtime's --warps): stretching the mel-band index instead moved 1 kHz by 1 / 1.13 but 4 kHz by 1 / 1.25 for
    a = 1.1, a wider warp at high frequencies than the card's "vocal tract warp 0.9-1.1", and the other way."""
    from speechseq.frontend import FrontendConfig
    from speechseq.train.feataug import speed_warp

    fe = FrontendConfig(n_mels=80)
    grid = np.arange(200.0, 7001.0, 50.0)
    bands = np.array([_peak(_tone_band(f, fe)) for f in grid])
    assert np.all(np.diff(bands) > 0)
    cfg = replace(OFF, warp=(a, a), warp_prob=1.0)
    for f in (500.0, 1000.0, 2000.0, 4000.0, 6000.0):
        if not 300 < f * a < 6900:
            continue
        warped = speed_warp(_tone_band(f, fe), cfg, np.random.default_rng(0), floor=1e-5)
        assert warped.shape == (98, 80)
        moved_to = float(np.interp(_peak(warped), bands, grid))
        assert moved_to / f == pytest.approx(a, rel=0.03), f
