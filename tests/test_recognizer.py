"""The recogniser model, its ONNX export (fp32 and int8), the feature bank and feature augmentation."""
from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.frontend import FrontendConfig  # noqa: E402
from speechseq.nn.recognizer import Recognizer, RecognizerConfig, build_recognizer  # noqa: E402
from speechseq.runtime.onnx import make_session, read_metadata  # noqa: E402
from speechseq.text import CTC_SIZE, VOCAB  # noqa: E402
from speechseq.train.feataug import AugmentConfig, augment_batch, speed_warp  # noqa: E402
from speechseq.train.featbank import STEP, FeatureBank, dequantize, quantize, trim_silence_frames  # noqa: E402

TINY = dict(n_mels=80, hidden=16, front_dim=24, layers=2, dropout=0.0)


def _model(**kw) -> Recognizer:
    torch.manual_seed(0)
    m = Recognizer(RecognizerConfig(**{**TINY, **kw})).eval()
    m.set_normalization(torch.linspace(-8, -4, 80), torch.linspace(1.0, 3.0, 80))
    return m


@pytest.mark.parametrize("front,stride", [("conv", 2), ("conv", 3), ("stack", 2), ("stack", 4)])
def test_output_shape_and_lengths(front, stride):
    m = _model(front=front, stride=stride)
    for t in (1, 7, 100, 101):
        lp, n = m(torch.randn(2, t, 80))
        assert lp.shape == (2, math.ceil(t / stride), CTC_SIZE)
        assert n.tolist() == [math.ceil(t / stride)] * 2
        assert torch.allclose(lp.exp().sum(-1), torch.ones(2, lp.shape[1]), atol=1e-5)


def test_padding_does_not_reach_the_short_utterance():
    m = _model()
    short, long = torch.randn(1, 60, 80) - 6, torch.randn(1, 100, 80) - 6
    batch = torch.cat([torch.nn.functional.pad(short, (0, 0, 0, 40), value=99.0), long])
    lp, n = m(batch, torch.tensor([60, 100]))
    alone, _ = m(short)
    assert n.tolist() == [30, 50]
    assert torch.allclose(lp[0, :30], alone[0], atol=1e-5)


def test_config_round_trip_and_validation():
    m = _model(front="stack", stride=3)
    again = build_recognizer(m.cfg.to_dict())
    assert again.cfg == m.cfg
    with pytest.raises(ValueError):
        RecognizerConfig(front="transformer")
    with pytest.raises(ValueError):
        RecognizerConfig(kernel_size=4)


@pytest.mark.parametrize("front", ["conv", "stack"])
def test_onnx_matches_torch_with_dynamic_batch_and_time(tmp_path, front):
    from speechseq.train.export_recognizer import export_recognizer, quantize_recognizer

    m = _model(front=front)
    path = export_recognizer(m, tmp_path / "rec.onnx", {"metrics": {"note": "test"}})
    sess = make_session(path)
    for b, t in ((1, 37), (3, 250), (2, 1)):
        x = torch.randn(b, t, 80) * 2 - 6
        with torch.no_grad():
            ref = m(x)[0].numpy()
        got = sess.run(None, {"features": x.numpy()})[0]
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() <= 1e-4
    meta = read_metadata(path)
    assert meta["kind"] == "recognizer" and meta["vocabulary"] == list(VOCAB[:CTC_SIZE])
    assert meta["frontend"] == FrontendConfig(n_mels=80).to_dict()
    assert meta["frame_shift_s"] == pytest.approx(0.02) and meta["metrics"] == {"note": "test"}
    q = quantize_recognizer(path)
    assert q.name == "rec.int8.onnx" and read_metadata(q)["vocabulary"] == meta["vocabulary"]
    assert "int8" in read_metadata(q)["quantization"]
    x = torch.randn(1, 200, 80) * 2 - 6
    with torch.no_grad():
        ref = m(x)[0].numpy()
    got = make_session(q).run(None, {"features": x.numpy()})[0]
    assert got.shape == ref.shape and np.abs(np.exp(got) - np.exp(ref)).max() < 0.05


def test_feature_bank_round_trip(tmp_path, rng):
    feats = [rng.normal(-6, 3, size=(n, 80)).astype(np.float32) for n in (5, 17, 1)]
    parts = [quantize(f) for f in feats]
    bank = FeatureBank(np.concatenate(parts), np.array([0, 5, 22, 23]), ["a", "b c", "d"], ["x", "y", "y"],
                       FrontendConfig(n_mels=80).to_dict())
    bank.save(tmp_path / "bank")
    back = FeatureBank.load(tmp_path / "bank")
    assert back.texts == bank.texts and back.sources == bank.sources and back.lengths.tolist() == [5, 17, 1]
    for f, i in zip(feats, range(3)):
        inside = (f > -14) & (f < 49)
        assert np.abs(back[i] - f)[inside].max() <= STEP / 2 + 1e-5
    sub = back.subset([2, 0])
    assert sub.texts == ["d", "a"] and np.array_equal(sub[1], back[0])
    both = FeatureBank.concat([back, sub])
    assert len(both) == 5 and np.array_equal(both[4], back[0])
    assert dequantize(quantize(np.array([-20.0, 100.0]))).tolist() == [-14.0, 49.75]


def test_trim_keeps_speech_and_a_margin():
    x = np.full((300, 80), -13.8, np.float32)
    x[100:150] = 0.0
    s = trim_silence_frames(x, margin=30)
    assert (s.start, s.stop) == (70, 180)


def test_speed_warp_changes_length_and_keeps_values():
    rng = np.random.default_rng(0)
    x = np.tile(np.linspace(-10, 0, 80, dtype=np.float32), (200, 1))
    cfg = AugmentConfig(speed=(1.25, 1.25), warp_prob=0.0, dither=0.0)
    y = speed_warp(x, cfg, rng, floor=1e-5)
    assert y.shape == (160, 80) and np.allclose(y, x[:160], atol=1e-5)
    assert speed_warp(x, AugmentConfig(speed=(0.8, 0.8), warp_prob=0, dither=0), rng, floor=1e-5).shape == (250, 80)


def test_augment_batch_leaves_padding_and_off_is_identity():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 120, 80) - 6
    lengths = torch.tensor([120, 80, 30])
    noise = torch.randn(500, 80) - 8
    y = augment_batch(x, lengths, AugmentConfig(noise_prob=1.0, reverb_prob=1.0), g, noise, torch.zeros(80), floor=1e-5)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert torch.equal(y[1, 80:], x[1, 80:]) and torch.equal(y[2, 30:], x[2, 30:])
    assert not torch.equal(y[0], x[0])
    same = augment_batch(x, lengths, AugmentConfig.off(), g, noise, floor=1e-5)
    assert torch.equal(same, x)
    # Noise at a 0 dB SNR raises the quiet frames of a clip; masks fill with the given value.
    quiet = torch.full((1, 100, 80), -13.8)
    quiet[:, 40:60] = 0.0
    cfg = AugmentConfig(noise_prob=1.0, snr_db=(0.0, 0.0), reverb_prob=0, gain=0, band_prob=0, freq_masks=0,
                        time_masks_per_s=0)
    noisy = augment_batch(quiet, torch.tensor([100]), cfg, g, noise, floor=1e-6)
    assert noisy[0, :40].mean() > -10


def _toy_bank(lengths, n_mels: int = 80, seed: int = 0) -> FeatureBank:
    """Random log-mel utterances of the given frame counts, on the bank's grid, at the recogniser's frontend."""
    rng = np.random.default_rng(seed)
    feats = [rng.normal(-6.0, 2.0, (n, n_mels)) for n in lengths]
    return FeatureBank(quantize(np.concatenate(feats)), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                       ["a"] * len(lengths), ["toy"] * len(lengths), FrontendConfig(n_mels=n_mels).to_dict())


@pytest.mark.parametrize("speed", [(0.88, 1.12), (0.9, 1.1), (0.8, 1.0), (1.0, 1.2)])
def test_the_batch_budget_bounds_the_speed_augmented_length_exactly(speed):
    """padded_seconds is the length speed_warp gives at the slowest factor, frame rounding included (it was the
    stored length times the fastest factor: 1.12 for 1 / 0.88 = 1.136, 1.4 % short, and short by the rounding)."""
    from speechseq.train.recognizer import TrainOptions, padded_seconds

    bank = _toy_bank(list(range(1, 301)), n_mels=4)
    slowest = AugmentConfig(speed=(speed[0], speed[0]), warp_prob=0.0, dither=0.0)
    rng = np.random.default_rng(0)
    real = np.array([len(speed_warp(bank[i], slowest, rng, floor=1e-5)) for i in range(len(bank))]) / 100.0
    budget = padded_seconds(bank, TrainOptions(augment=AugmentConfig(speed=speed)))
    assert (budget >= real).all()
    assert np.array_equal(budget, real)  # exact: the slowest factor's frame count
    assert np.array_equal(padded_seconds(bank, TrainOptions(augment=AugmentConfig(speed=speed)), augment=False),
                          np.arange(1, 301) / 100.0)
    if speed[0] == 0.88:
        assert real[87] == 1.0 and real[88] == 1.01 and real[299] == 3.41  # 88, 89, 300 frames -> 100, 101, 341
    if speed[0] == 1.0:
        assert np.array_equal(real, np.arange(1, 301) / 100.0)  # no slowing down: the stored length


def test_no_batch_goes_over_its_budget_with_speed_augmentation():
    """88 frames slow down to at most 100 (1.0 s) at the default range's 0.88; 89 to 101, so they fit no batch of
    1.0 s (the old estimate, 89 x 1.12 = 99.7 frames, let them in: a draw under 0.8856 made 101 frames)."""
    from speechseq.train.recognizer import TrainOptions, make_batches

    bank = _toy_bank([88] * 100 + [89] * 100 + [44] * 50, n_mels=4)
    opts = TrainOptions(batch_seconds=1.0, augment=AugmentConfig())
    for epoch in range(3):
        sizes = [tuple(b.features.shape[:2]) for b in make_batches(bank, epoch, opts)]
        assert max(n * t for n, t in sizes) <= 100
        assert sum(n for n, _ in sizes) == 150  # the 89-frame ones are left out


@pytest.mark.parametrize("floor", [None, 1e-4])
def test_recognizer_augmentation_stays_above_the_frontends_floor(floor):
    """Dither, gain and the band limit never take a feature below log(floor) of the bank's frontend (1e-5, the
    recogniser's, by default; 1e-4 passed in), which the frontend cannot produce; they went to log 1e-6 = -13.8."""
    from speechseq.train.feataug import colored_noise_features
    from speechseq.train.recognizer import FRONTEND, TrainOptions, ctc_loss_fn, make_batches

    fe = FRONTEND if floor is None else FrontendConfig(n_mels=80, floor=floor)
    lengths = [60, 80, 100, 120]
    x = np.full((sum(lengths), 80), math.log(fe.floor))  # digital silence, as the frontend reads it
    x[::7] = -2.0  # a few loud frames
    bank = FeatureBank(quantize(x), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), ["a"] * 4,
                       ["toy"] * 4, fe.to_dict())
    opts = TrainOptions(batch_seconds=10.0, augment=AugmentConfig(band_prob=0.5, noise_prob=0.5))
    seen = []
    model = Recognizer(RecognizerConfig(**TINY))
    model.register_forward_pre_hook(lambda m, args: seen.append(args))
    noise = torch.as_tensor(colored_noise_features(fe, seconds=0.5))
    loss_fn = ctc_loss_fn(opts, noise) if floor is None else ctc_loss_fn(opts, noise, floor=floor)
    for epoch in range(3):
        for batch in make_batches(bank, epoch, opts):
            loss_fn(model, batch)
    real = torch.cat([f[k, : n[k]] for f, n in seen for k in range(len(n))])
    assert len(real) > 3 * sum(lengths) * 0.88
    assert float(real.min()) >= math.log(fe.floor) - 1e-6
    assert float(real.min()) == pytest.approx(math.log(fe.floor), abs=1e-6)  # the gain takes silence there
