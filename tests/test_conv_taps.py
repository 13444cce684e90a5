"""The runtime's graph of a detector (speechseq.runtime.conv_taps): its running-mean normalisation and convolution
as products with a taps matrix fed per call. No CumSum, Conv or Pad is left, far fewer nodes run, and it streams
the file's own graph's probabilities, for the shipped files and for every shape the detector config allows."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from speechseq.audio import load_audio  # noqa: E402
from speechseq.nn.detector import Detector, DetectorConfig  # noqa: E402
from speechseq.runtime.conv_blocks import conv_as_matmul  # noqa: E402
from speechseq.runtime.conv_taps import Taps, conv_as_taps  # noqa: E402
from speechseq.runtime.detector import Detector as Runtime  # noqa: E402
from speechseq.runtime.detector import KeywordModel, load_graph  # noqa: E402
from speechseq.train.export_detector import export_detector  # noqa: E402
from tests.detector_graphs import BASE, ROOT, SAMPLE, features, ops  # noqa: E402




def _stream(km: KeywordModel, feats: np.ndarray, seed: int, most: int = 9) -> np.ndarray:
    """km.run's probabilities fed `feats` in random whole strides (1 .. `most` strides a call), state carried."""
    rng = np.random.default_rng(seed)
    ctx, h = km.initial_state()
    out, pos = [], 0
    while pos + km.stride <= len(feats):
        x = feats[pos: pos + km.stride * int(rng.integers(1, most + 1))]
        x = x[: km.stride * (len(x) // km.stride)]
        p, ctx, h = km.run(x, ctx, h)
        out.append(p)
        pos += len(x)
    return np.concatenate(out)



def _export(tmp_path, cfg: DetectorConfig, name: str = "kw.onnx") -> Path:
    torch.manual_seed(cfg.kernel * 10 + cfg.stride + cfg.norm_frames)
    model = Detector(cfg).eval()
    with torch.no_grad():
        model.out.bias.fill_(-0.5)
    return export_detector(model, tmp_path / name, {"keyword": "hello", "threshold": 0.5})


@pytest.mark.parametrize("kernel,stride,lifter,norm", [(7, 3, 0, 20), (9, 4, 0, 100), (5, 2, 13, 20), (4, 3, 0, 20),
                                                       (6, 3, 0, 0)],
                         ids=["k7s3", "k9s4n100", "k5s2-lifter", "k4s3", "k6s3-no-norm"])
def test_runtime_graph_streams_the_files_probabilities_with_far_fewer_nodes(tmp_path, kernel, stride, lifter, norm):
    path = _export(tmp_path, replace(BASE, kernel=kernel, stride=stride, lifter=lifter, norm_frames=norm))
    exported = ops(onnx.load(str(path)))
    runtime, taps = conv_as_taps(onnx.load(str(path)), context=kernel - stride + norm)
    assert taps == (Taps("taps", norm, kernel, stride, kernel - stride + norm),) and load_graph(path)[1] == taps
    assert not {"Conv", "CumSum", "Pad"} & set(ops(runtime))
    blocks = ops(conv_as_matmul(onnx.load(str(path))))  # the conv alone as a blocked MatMul
    assert len(ops(runtime)) <= (len(exported) - 14 if norm else len(blocks) - 3)  # Constants, Slices, Subs... gone
    km, plain = KeywordModel(path), KeywordModel(path, rewrite=False)
    feats = features(None, 6.0)
    want = _stream(plain, feats, seed=1)
    assert len(want) == len(feats) // stride and np.abs(want).max() > 0
    for seed, most in ((1, 9), (5, 40)):  # up to 40 strides a call: calls of over max_frames run in pieces
        got = _stream(km, feats, seed=seed, most=most)
        assert np.abs(got - _stream(plain, feats, seed=seed, most=most)).max() <= 1e-5


def test_the_taps_matrix_is_the_normalisation_and_the_convs_windows():
    rng = np.random.default_rng(0)
    t = Taps("taps", norm=5, kernel=3, stride=2, context=6)
    frames = 8
    x = rng.standard_normal((t.context + frames, 4))
    m = t.matrix(frames)
    assert m.shape == (frames // 2 * 3, t.context + frames) and m.dtype == np.float32 and not m.flags.writeable
    z = np.array([x[r] - x[r - 4: r + 1].mean(axis=0) for r in range(5, len(x))])  # each frame minus its running mean
    windows = np.concatenate([z[2 * p: 2 * p + 3] for p in range(frames // 2)])
    assert np.abs(m @ x - windows).max() < 1e-6
    assert t.matrix(frames) is m  # built once per frame count
    with pytest.raises(ValueError, match="whole strides"):
        t.matrix(frames + 1)
    assert t.pieces(10) == [(0, 10)] and Taps("t", 0, 3, 4, 0, max_frames=10).pieces(20) == [(0, 8), (8, 16), (16, 20)]


def test_a_warp_ensembles_convs_share_one_taps_product_and_one_matmul(tmp_path):
    from speechseq.nn.detector import warp_ensemble

    torch.manual_seed(3)
    ens = warp_ensemble(Detector(BASE).eval(), [0.85, 1.0, 1.1]).eval()
    path = export_detector(ens, tmp_path / "warped.onnx", {"keyword": "hello", "threshold": 0.5})
    runtime, taps = conv_as_taps(onnx.load(str(path)), context=BASE.kernel - BASE.stride + BASE.norm_frames)
    assert len(taps) == 1 and "Conv" not in ops(runtime)
    assert ops(runtime).count("MatMul") == ops(onnx.load(str(path))).count("MatMul") + 2  # taps, weights
    feats = features(None, 6.0)
    want = _stream(KeywordModel(path, rewrite=False), feats, seed=3)
    assert np.abs(_stream(KeywordModel(path), feats, seed=3) - want).max() <= 1e-5


@pytest.mark.parametrize("name", ["activate", "computer"])
def test_shipped_detectors_give_the_files_probabilities(name):
    path = ROOT / "models" / f"{name}.onnx"
    km, plain = KeywordModel(path), KeywordModel(path, rewrite=False)
    assert km.taps and "Conv" not in ops(load_graph(path)[0])
    for gain in (1.0, 3.0):  # the demo recording as it is, and louder
        feats = features(SAMPLE, 8.0, gain)
        want = _stream(plain, feats, seed=2)
        got = _stream(km, feats, seed=2)
        if name == "activate":
            assert want.max() > 0.5  # the recording holds the keyword
        assert np.abs(got - want).max() <= 1e-5


@pytest.mark.parametrize("other,fed", [(replace(BASE, hidden=10), ["taps"]),
                                       (replace(BASE, kernel=4, norm_frames=23), ["m0.taps", "m1.taps"])],
                         ids=["same-taps", "other-taps-same-context"])
def test_merged_keywords_match_separate_sessions(tmp_path, other, fed):
    """Keywords of the same taps read one taps input; of other taps (another kernel and window, the same 24
    context frames) each its own, of its own shape in the one graph."""
    a = _export(tmp_path, BASE, "a.onnx")
    b = _export(tmp_path, other, "b.onnx")
    merged, separate = Runtime.load([a, b]), Runtime.load([a, b], merge=False)
    assert sorted(i.name for i in merged._merged.get_inputs() if "taps" in i.name) == fed
    plain = Runtime([KeywordModel(a, rewrite=False), KeywordModel(b, rewrite=False)])  # the files' graphs, merged
    assert not [i.name for i in plain._merged.get_inputs() if "taps" in i.name]
    audio = load_audio(SAMPLE, sr=16000)
    posts = []
    for det in (merged, separate, plain):
        post = [[], []]
        state = det.initial_state()
        for i in range(0, len(audio), 1300):  # chunks off the stride grid: frames wait for whole strides
            _, state = det.step(audio[i: i + 1300], state, post)
        posts.append([np.concatenate(p) for p in post])
    for m, s, p in zip(*posts):
        assert len(m) > 100 and np.abs(m - s).max() <= 1e-6 and np.abs(m - p).max() <= 1e-5


def test_frames_off_the_stride_grid_fail_instead_of_being_cut(tmp_path):
    km = KeywordModel(_export(tmp_path, BASE))
    ctx, h = km.initial_state()
    km.run(np.zeros((2 * km.stride, 40), np.float32), ctx, h)
    with pytest.raises(ValueError, match="not whole strides"):
        km.run(np.zeros((2 * km.stride + 1, 40), np.float32), ctx, h)


def test_a_graph_not_of_the_exports_pattern_is_returned_as_it_is():
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    graph = helper.make_graph([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
                               helper.make_node("Conv", ["t", "w", "b"], ["y"], kernel_shape=[3])],
                              "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert conv_as_taps(model, context=2) == (model, ())  # frames not Concat(context, features): left alone
