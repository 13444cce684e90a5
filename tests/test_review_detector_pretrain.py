"""Review of the detector backbone's CTC pretraining (speechseq.train.detector_pretrain): the split, the batch
budget under speed augmentation, SpecAugment's fill, and clear errors for input that cannot train."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.nn.detector import Detector, DetectorConfig  # noqa: E402
from speechseq.train import detector_pretrain as dp  # noqa: E402
from speechseq.train.feataug import AugmentConfig  # noqa: E402

TINY = DetectorConfig(n_mels=40, conv_channels=8, kernel=8, stride=4, hidden=8, layers=1, dropout=0.0, norm_frames=0)
BASE = np.linspace(-9.0, -3.0, 40).astype(np.float32)  # every clip's per-band mean, exactly


def _clips(n: int, frames: int = 104, weight: float = 1.0) -> list:
    """Clips of `frames` (even) frames alternating BASE + 1 and BASE - 1: their per-band mean is BASE."""
    sign = np.where(np.arange(frames) % 2 == 0, 1.0, -1.0).astype(np.float32)[:, None]
    return [(BASE[None, :] + sign, "ab", weight) for _ in range(n)]


def test_a_large_val_share_still_leaves_a_clip_to_train_on(tmp_path):
    """2 clips fit CTC (enough, by the function's own check), val_share 0.75: one is validated, one trained on
    (was: every clip validated, none trained on, and numpy's 'Probabilities do not sum to 1')."""
    recipe = dp.PretrainRecipe(epochs=1, batch_frames=400, val_share=0.75, augment=AugmentConfig.off())
    history = dp.pretrain_detector(_clips(2), tmp_path / "pre", TINY, recipe, progress=False)
    ck = torch.load(tmp_path / "pre" / "last.pt", weights_only=False)
    assert ck["extra"]["clips"]["train"] == 1 and ck["extra"]["clips"]["val"] == 1
    assert history[0]["step"] == 1


def test_batches_keep_to_batch_frames_with_the_speed_augmentation(tmp_path, monkeypatch):
    """batch_frames counts padding included: a clip slowed down to 0.88 takes 1/0.88 of its frames, so the
    budget must count it so (was: 4 clips of 104 frames planned under 420, sent as 4 x 118 = 472)."""
    shapes = []
    collate = dp.collate

    def spy(feats, texts):
        b = collate(feats, texts)
        shapes.append(tuple(b.features.shape[:2]))
        return b

    monkeypatch.setattr(dp, "collate", spy)
    aug = AugmentConfig(speed=(0.88, 0.88), warp_prob=0.0, dither=0.0, gain=0.0, noise_prob=0.0, reverb_prob=0.0,
                        band_prob=0.0, freq_masks=0, time_masks_per_s=0.0)
    recipe = dp.PretrainRecipe(epochs=1, batch_frames=420, val_share=0.1, augment=aug)
    dp.pretrain_detector(_clips(20), tmp_path / "pre", TINY, recipe, progress=False)
    train = shapes[:-1]  # the last collate is validation's (2 clips, unaugmented)
    assert train and all(t == 118 for _, t in train)
    assert max(b * t for b, t in train) <= 420


def test_specaugment_masks_fill_with_the_training_mean(tmp_path, monkeypatch):
    """SpecAugment's masks are filled with the per-band training mean (feataug's definition); the pretraining
    left them at log-mel 0, a block louder than any of the clips (was: every masked value 0.0)."""
    seen = []
    augment = dp.augment_batch

    def spy(x, lengths, cfg, g, noise=None, fill=None, *, floor):
        y = augment(x, lengths, cfg, g, noise, fill, floor=floor)
        seen.append((x.clone(), y.clone()))
        return y

    monkeypatch.setattr(dp, "augment_batch", spy)
    aug = AugmentConfig(speed=(1.0, 1.0), warp_prob=0.0, dither=0.0, gain=0.0, noise_prob=0.0, reverb_prob=0.0,
                        band_prob=0.0, freq_masks=2, freq_width=10, time_masks_per_s=2.0, time_width=10)
    recipe = dp.PretrainRecipe(epochs=1, batch_frames=420, val_share=0.1, augment=aug)
    dp.pretrain_detector(_clips(20), tmp_path / "pre", TINY, recipe, progress=False)
    x = torch.cat([a for a, _ in seen])
    y = torch.cat([b for _, b in seen])
    masked = x != y
    assert masked.sum() > 100
    fill = torch.from_numpy(BASE)[None, None, :].expand_as(y)
    assert torch.allclose(y[masked], fill[masked], atol=1e-5)


def test_clips_too_long_for_any_batch_stop_with_a_clear_error(tmp_path):
    """Every training clip longer than batch_frames: no batch at all (was: 'trained' for 0 steps and the untrained
    weights written as best.pt)."""
    recipe = dp.PretrainRecipe(epochs=1, batch_frames=100, augment=AugmentConfig.off())
    with pytest.raises(ValueError, match="batch_frames"), pytest.warns(Warning):
        dp.pretrain_detector(_clips(6, frames=200), tmp_path / "pre", TINY, recipe, progress=False)
    assert not (tmp_path / "pre" / "best.pt").exists()


def test_weights_that_draw_nothing_stop_with_a_clear_error(tmp_path):
    recipe = dp.PretrainRecipe(epochs=1, batch_frames=420, augment=AugmentConfig.off())
    with pytest.raises(ValueError, match="weights"):
        dp.pretrain_detector(_clips(6, weight=0.0), tmp_path / "pre", TINY, recipe, progress=False)


def test_init_from_a_file_that_is_no_checkpoint_is_refused_clearly(tmp_path):
    """An exported detector (.onnx) or a bare tensor: a one-line ValueError, not an unpickling traceback."""
    (tmp_path / "det.onnx").write_bytes(b"\x08\x07\x12\x07pytorch")
    with pytest.raises(ValueError, match="not a pretrained detector backbone"):
        dp.init_from_pretrained(Detector(TINY), tmp_path / "det.onnx")
    torch.save(torch.zeros(3), tmp_path / "t.pt")
    with pytest.raises(ValueError, match="not a pretrained detector backbone"):
        dp.init_from_pretrained(Detector(TINY), tmp_path / "t.pt")


def test_the_pretrained_network_streams_without_look_ahead():
    """CTC log-probs of the first steps of a clip do not depend on the frames after them (causal)."""
    torch.manual_seed(0)
    net = dp.CTCPretrainNet(DetectorConfig(n_mels=40, conv_channels=8, kernel=8, stride=4, hidden=8, layers=2,
                                           norm_frames=20)).eval()
    x = torch.randn(1, 80, 40) - 6
    y = x.clone()
    y[:, 40:] += 3.0
    a, b = net(x), net(y)
    assert a.shape == (1, 20, 29)
    assert torch.allclose(a[:, :10], b[:, :10], atol=1e-6) and not torch.allclose(a[:, 10:], b[:, 10:])
    assert torch.allclose(a.exp().sum(-1), torch.ones(1, 20), atol=1e-5)
