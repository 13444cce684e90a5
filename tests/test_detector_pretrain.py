"""Pretraining a detector's backbone as a CTC character recogniser, and starting a detector from it."""
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.nn.detector import Detector, DetectorConfig  # noqa: E402
from speechseq.text import encode  # noqa: E402
from speechseq.train.detector_pretrain import (CTCPretrainNet, PretrainRecipe, ctc_fits,  # noqa: E402
                                               init_from_pretrained, pretrain_detector)
from speechseq.train.feataug import AugmentConfig  # noqa: E402
from speechseq.train.loop import save_checkpoint  # noqa: E402

TINY = DetectorConfig(n_mels=40, conv_channels=24, kernel=8, stride=4, hidden=24, layers=2, dropout=0.0, norm_frames=0)
# each "letter" a loud stretch of its own mel bands, 16 frames (4 output steps), then 8 quiet frames
BANDS = {"a": slice(3, 9), "b": slice(16, 22), "c": slice(30, 36)}


def _spell(text: str, rng: np.random.Generator) -> np.ndarray:
    frames = [np.full((8, 40), -12.0)]
    for ch in text:
        x = np.full((16, 40), -12.0)
        x[:, BANDS[ch]] = -2.0
        frames += [x, np.full((8, 40), -12.0)]
    return (np.concatenate(frames) + rng.normal(0, 0.3, (8 + 24 * len(text), 40))).astype(np.float32)


def test_ctc_fits_counts_a_blank_between_repeats():
    assert ctc_fits(12, encode("ab"), 4)          # 3 outputs for 2 labels
    assert not ctc_fits(8, encode("aa"), 4)       # 2 outputs, but "aa" needs a blank between: 3
    assert ctc_fits(12, encode("aa"), 4)
    assert not ctc_fits(100, [], 4)               # nothing to learn from an empty text


def test_encode_is_what_the_sigmoid_head_reads():
    torch.manual_seed(0)
    m = Detector(replace(TINY, norm_frames=20)).eval()
    x = torch.randn(2, 48, 40) - 6
    assert torch.allclose(m.out(m.encode(x)).squeeze(-1), m(x), atol=1e-6)
    assert m.encode(x).shape == (2, 12, TINY.hidden)


def test_a_tiny_backbone_learns_to_spell_and_a_detector_starts_from_it(tmp_path):
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abc"), size=rng.integers(1, 5))) for _ in range(240)]
    clips = [(_spell(t, rng), t, 1.0) for t in texts] + [(np.zeros((4, 40), np.float32), "abc", 1.0)]  # too short: left out
    recipe = PretrainRecipe(epochs=20, batch_frames=800, lr=1e-2, ema_decay=0.9, val_share=0.1,
                            augment=AugmentConfig.off())
    history = pretrain_detector(clips, tmp_path / "pre", TINY, recipe, progress=False)
    assert len(history) == 20
    assert history[0]["val_cer"] > 0.3            # it starts out spelling wrong (measured: 0.53)
    assert history[-1]["val_cer"] < 0.05          # and ends spelling the held-out clips (0 from epoch 13)
    ck = torch.load(tmp_path / "pre" / "best.pt", weights_only=False)
    assert ck["extra"]["clips"]["left_out"] == 1 and ck["extra"]["clips"]["val"] == 24

    det = Detector(TINY)
    out_before = det.out.weight.detach().clone()
    init_from_pretrained(det, tmp_path / "pre" / "best.pt")
    net = CTCPretrainNet(TINY)
    net.load_state_dict(ck["model"])
    for name in ("conv.weight", "norm.running_mean", "gru.weight_hh_l1"):
        assert torch.equal(det.state_dict()[name], net.detector.state_dict()[name])
    assert torch.equal(det.out.weight, out_before)  # the keyword's own output layer
    x = torch.from_numpy(_spell("cab", rng))[None]
    assert torch.allclose(det.eval().encode(x), net.eval().detector.encode(x))


def test_init_refuses_another_configuration_or_kind(tmp_path):
    net = CTCPretrainNet(TINY)
    save_checkpoint({"kind": "detector-pretrain", "model_config": TINY.to_dict(), "model": net.state_dict()},
                    tmp_path / "pre.pt")
    with pytest.raises(ValueError, match="hidden: 24 vs 32"):
        init_from_pretrained(Detector(replace(TINY, hidden=32)), tmp_path / "pre.pt")
    init_from_pretrained(Detector(replace(TINY, dropout=0.3)), tmp_path / "pre.pt")  # dropout is no shape
    save_checkpoint({"kind": "detector", "model_config": TINY.to_dict(), "model": Detector(TINY).state_dict()},
                    tmp_path / "det.pt")
    with pytest.raises(ValueError, match="not a pretrained detector backbone"):
        init_from_pretrained(Detector(TINY), tmp_path / "det.pt")


def test_train_detector_starts_from_the_recipe_init(tmp_path):
    """TrainRecipe.init reaches train_detector: a checkpoint of the wrong kind stops it before training."""
    from speechseq.train.detector import TrainRecipe, train_detector

    save_checkpoint({"kind": "detector", "model_config": TINY.to_dict(), "model": Detector(TINY).state_dict()},
                    tmp_path / "det.pt")
    with pytest.raises(ValueError, match="not a pretrained detector backbone"):
        train_detector({}, tmp_path / "run", "yes", TrainRecipe(init=str(tmp_path / "det.pt")), TINY, progress=False)


@pytest.mark.parametrize("change", [{"seed": 1}, {"val_share": 0.5}, {"lr": 5e-3}, {"batch_frames": 400}])
def test_a_resume_with_another_recipe_is_refused_and_more_epochs_resume(tmp_path, change):
    """Only the clips and the network were compared on a resume: another seed or val_share drew another validation
    share (clips trained on were validated on, best.pt chosen among unlike scores), another lr or batch size trained
    the later epochs by other rules, all without a word."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    texts = ["".join(rng.choice(list("abc"), size=rng.integers(1, 4))) for _ in range(40)]
    clips = [(_spell(t, rng), t, 1.0) for t in texts]
    recipe = PretrainRecipe(epochs=1, batch_frames=800, lr=1e-2, ema_decay=0.9, val_share=0.1,
                            augment=AugmentConfig.off())
    pretrain_detector(clips, tmp_path, TINY, recipe, progress=False)
    (key, value), = change.items()
    with pytest.raises(ValueError, match=f"{key}: {getattr(recipe, key)!r} vs {value!r}"):
        pretrain_detector(clips, tmp_path, TINY, replace(recipe, epochs=2, **change), progress=False)
    assert len(pretrain_detector(clips, tmp_path, TINY, replace(recipe, epochs=2), progress=False)) == 2
