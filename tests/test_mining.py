"""Hard-negative mining: each negative's score is its highest smoothed posterior, the same alone or
batched with clips of other lengths; the high scorers are drawn more often."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.nn.detector import Detector, DetectorConfig  # noqa: E402
from speechseq.runtime.detector import smooth  # noqa: E402
from speechseq.train.kwbank import dequantize, quantize  # noqa: E402
from speechseq.train.mining import clip_scores, mined_weights  # noqa: E402

TINY = DetectorConfig(conv_channels=16, kernel=7, stride=4, hidden=16, layers=2, dropout=0.0)


def _bank(rng: np.random.Generator, lengths: list[int]) -> dict:
    clips = [quantize(rng.normal(-6.0, 3.0, (n, TINY.n_mels)).astype(np.float32)) for n in lengths]
    off = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return {"neg/q": np.concatenate(clips), "neg/offsets": off, "neg/weight": np.ones(len(lengths), np.float32)}


def test_clip_scores_are_each_clips_own_peak_whatever_the_batch():
    torch.manual_seed(0)
    model = Detector(TINY).eval()
    with torch.no_grad():  # a bias that puts the posteriors mid-range, where differences show
        model.out.bias.fill_(0.0)
    lengths = [37, 120, 64, 8, 201, 90]
    bank = _bank(np.random.default_rng(1), lengths)
    batched = clip_scores(model, bank, batch=4, tail_s=0.3)
    one_by_one = clip_scores(model, bank, batch=1, tail_s=0.3)
    assert batched.shape == (len(lengths),)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    # by hand, clip 1: its frames then 0.3 s of digital silence, padded to whole strides
    off = bank["neg/offsets"]
    x = dequantize(bank["neg/q"][off[1]: off[2]])
    n = len(x) + 30
    n += (-n) % TINY.stride
    full = np.full((n, TINY.n_mels), math.log(TINY.floor), np.float32)
    full[: len(x)] = x
    with torch.no_grad():
        post = smooth(torch.sigmoid(model(torch.from_numpy(full)[None])).numpy(), 3)[0]
    assert batched[1] == pytest.approx(float(post.max()), abs=1e-5)
    assert np.all((batched > 0) & (batched < 1)) and len(np.unique(np.round(batched, 4))) > 1


def test_mined_weights_boost_only_the_high_scorers():
    w = np.array([1.0, 2.0, 1.0, 0.5], np.float32)
    s = np.array([0.05, 0.3, 0.19, 0.9])
    np.testing.assert_allclose(mined_weights(w, s, threshold=0.2, boost=8.0), [1.0, 16.0, 1.0, 4.0])
    np.testing.assert_allclose(mined_weights(w, s, threshold=0.95, boost=8.0), w)
    with pytest.raises(ValueError):
        mined_weights(w, s[:3])
    with pytest.raises(ValueError):
        mined_weights(w, s, boost=0.0)
