"""Review of domain-adversarial training's data (speechseq.train.domain): clear errors, labels, determinism."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.train.domain import DomainData  # noqa: E402
from speechseq.train.kwbank import quantize  # noqa: E402
from speechseq.train.kwmix import MixConfig  # noqa: E402


def _role(bank: dict, name: str, clips: list, sources: list, src: list, end: list) -> None:
    q = [quantize(c) for c in clips]
    bank[f"{name}/q"] = np.concatenate(q)
    bank[f"{name}/offsets"] = np.concatenate([[0], np.cumsum([len(x) for x in q])]).astype(np.int64)
    bank[f"{name}/end"] = np.array(end, np.int32)
    bank[f"{name}/power"] = np.ones(len(q), np.float32)
    bank[f"{name}/weight"] = np.ones(len(q), np.float32)
    bank[f"{name}/source"] = np.array(src, np.int16)
    bank["meta"]["roles"][name] = {"clips": len(q), "hours": 0.0, "sources": sources, "per_source": {}}


def _bank(neg_frames=(80, 120, 150)) -> dict:
    """Synthetic negatives of `neg_frames` frames; backgrounds: 30 s of "kathleen" (real speech) and of pink noise."""
    rng = np.random.default_rng(0)
    bank = {"meta": {"config": {"pad_s": 0.1}, "roles": {}}}
    _role(bank, "neg", [rng.normal(-4, 1, (n, 40)).astype(np.float32) for n in neg_frames], ["espeak-ng"],
          [0] * len(neg_frames), [n - 10 for n in neg_frames])
    talk, noise = rng.normal(-5, 1, (3000, 40)), rng.normal(-9, 0.5, (3000, 40))
    _role(bank, "bg", [talk.astype(np.float32), noise.astype(np.float32)], ["kathleen", "pink"], [0, 1], [-1, -1])
    return bank


def test_domain_batches_are_labelled_synthetic_first_and_repeat_for_a_seed():
    a = DomainData(_bank(), MixConfig(clip_s=2.0), 4, seed=3)
    b = DomainData(_bank(), MixConfig(clip_s=2.0), 4, seed=3)
    xa, ya, ea = a.batch(np.random.default_rng(1), 3)
    xb, yb, eb = b.batch(np.random.default_rng(1), 3)
    assert xa.shape == (6, 200, 40) and ea.shape == (6, 50)
    assert ya.tolist() == [1.0] * 3 + [0.0] * 3
    assert torch.equal(xa, xb) and torch.equal(ea, eb)
    assert a.summary["synthetic_clips"] == 3 and a.summary["real_pieces"] > 10


def test_negatives_all_longer_than_max_clip_s_stop_with_a_clear_error():
    """No synthetic clip short enough: a one-line ValueError (was numpy's 'zero-size array to reduction operation
    minimum which has no identity', from cutting the real speech into pieces as long as none)."""
    with pytest.raises(ValueError, match="max_clip_s"):
        DomainData(_bank(neg_frames=(400, 500)), MixConfig(clip_s=2.0), 4)
