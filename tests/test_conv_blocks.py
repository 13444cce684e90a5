"""The blocked-MatMul form of a detector's convolution (speechseq.runtime.conv_blocks, the runtime's graph for
files whose normalisation is not the export's pattern; speechseq.runtime.conv_taps for the rest): the rewritten
graph has no Conv, and streams the file's own graph's probabilities, for the shipped files and for kernels and
strides of every shape the detector config allows."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from speechseq.nn.detector import Detector  # noqa: E402
from speechseq.runtime.conv_blocks import conv_as_matmul  # noqa: E402
from speechseq.runtime.detector import KeywordModel  # noqa: E402
from speechseq.runtime.onnx import make_session  # noqa: E402
from speechseq.train.export_detector import export_detector  # noqa: E402
from tests.detector_graphs import BASE, ROOT, SAMPLE, features, ops  # noqa: E402




def _stream(session, km: KeywordModel, feats: np.ndarray, seed: int) -> np.ndarray:
    """Probabilities of `session` (a detector graph) fed `feats` in random whole strides, state carried."""
    rng = np.random.default_rng(seed)
    ctx, h = km.initial_state()
    out, pos = [], 0
    names = [o.name for o in session.get_outputs()]
    while pos + km.stride <= len(feats):
        n = km.stride * int(rng.integers(1, 9))
        x = feats[pos: pos + n]
        x = x[: km.stride * (len(x) // km.stride)]
        p, ctx, h = session.run(names, {"features": x[None], "context": ctx, "hidden": h})
        out.append(p[0])
        pos += len(x)
    return np.concatenate(out)


def _blocks(path: Path):
    """The file's graph with its conv as a blocked MatMul, and a session of it."""
    graph = conv_as_matmul(onnx.load(str(path)))
    return graph, make_session(graph.SerializeToString())



@pytest.mark.parametrize("kernel,stride,lifter", [(7, 3, 0), (9, 4, 0), (5, 2, 13), (4, 3, 0), (6, 3, 0)],
                         ids=["k7s3", "k9s4", "k5s2-lifter", "k4s3", "k6s3"])
def test_runtime_graph_has_no_conv_and_streams_the_files_probabilities(tmp_path, kernel, stride, lifter):
    torch.manual_seed(kernel * 10 + stride)
    model = Detector(replace(BASE, kernel=kernel, stride=stride, lifter=lifter)).eval()
    with torch.no_grad():
        model.out.bias.fill_(-0.5)
    path = export_detector(model, tmp_path / "kw.onnx", {"keyword": "hello", "threshold": 0.5})
    assert "Conv" in ops(onnx.load(str(path)))
    runtime, session = _blocks(path)
    assert "Conv" not in ops(runtime)
    assert ops(runtime).count("MatMul") == ops(onnx.load(str(path))).count("MatMul") + 1
    km = KeywordModel(path)
    feats = features(None, 6.0)
    want = _stream(make_session(path), km, feats, seed=1)
    got = _stream(session, km, feats, seed=1)
    assert len(got) == len(feats) // stride and np.abs(want).max() > 0
    assert np.abs(got - want).max() <= 1e-5


def test_a_warp_ensembles_convs_share_one_matmul(tmp_path):
    """`--warps` exports one Conv per warp on the same frames (their biases one initializer behind Identity
    nodes): the runtime graph runs them as one MatMul, split per member, with the file's probabilities."""
    from speechseq.nn.detector import warp_ensemble

    torch.manual_seed(3)
    ens = warp_ensemble(Detector(BASE).eval(), [0.85, 1.0, 1.1]).eval()
    path = export_detector(ens, tmp_path / "warped.onnx", {"keyword": "hello", "threshold": 0.5})
    assert ops(onnx.load(str(path))).count("Conv") == 3
    runtime, session = _blocks(path)
    exported = ops(onnx.load(str(path)))
    assert "Conv" not in ops(runtime) and ops(runtime).count("Split") == exported.count("Split") + 1
    assert ops(runtime).count("MatMul") == exported.count("MatMul") + 1
    km = KeywordModel(path)
    feats = features(None, 6.0)
    want = _stream(make_session(path), km, feats, seed=3)
    assert np.abs(_stream(session, km, feats, seed=3) - want).max() <= 1e-5


@pytest.mark.parametrize("name", ["activate", "computer"])
def test_shipped_detectors_give_the_files_probabilities(name):
    path = ROOT / "models" / f"{name}.onnx"
    km = KeywordModel(path)
    runtime, session = _blocks(path)
    assert "Conv" not in ops(runtime)
    for gain in (1.0, 3.0):  # the demo recording as it is, and louder
        feats = features(SAMPLE, 8.0, gain)
        want = _stream(make_session(path), km, feats, seed=2)
        got = _stream(session, km, feats, seed=2)
        if name == "activate":
            assert want.max() > 0.5  # the recording holds the keyword
        assert np.abs(got - want).max() <= 1e-5


def test_frames_off_the_stride_grid_fail_instead_of_being_cut(tmp_path):
    """The rewrite needs the carried context plus whole strides, as the runtime feeds it: other lengths raise."""
    model = Detector(BASE).eval()
    path = export_detector(model, tmp_path / "kw.onnx", {"keyword": "hello", "threshold": 0.5})
    km = KeywordModel(path)
    _, session = _blocks(path)
    ctx, h = km.initial_state()
    names = [o.name for o in session.get_outputs()]
    session.run(names, {"features": np.zeros((1, 2 * km.stride, 40), np.float32), "context": ctx, "hidden": h})
    with pytest.raises(Exception, match="Reshape"):
        session.run(names, {"features": np.zeros((1, 2 * km.stride + 1, 40), np.float32), "context": ctx, "hidden": h})


def test_a_graph_without_such_a_conv_is_returned_as_it_is():
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((4, 3, 3), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    padded = helper.make_graph([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 2, 1]),
                                helper.make_node("Conv", ["t", "w", "b"], ["y"], kernel_shape=[3], pads=[1, 1])],
                               "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 3])],
                               [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [w, b])
    model = helper.make_model(padded)
    assert conv_as_matmul(model) is model
    unpadded = helper.make_model(helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3])],
                                                   "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                                                   [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                                                   [w, b]))
    assert conv_as_matmul(unpadded) is unpadded  # time not put last by a Transpose: left alone


def test_missing_and_corrupt_files_are_clear_errors(tmp_path):
    from speechseq.runtime.onnx import ModelError

    with pytest.raises(ModelError, match="no such model file"):
        KeywordModel(tmp_path / "none.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="bad.onnx: cannot load ONNX model"):
        KeywordModel(bad)
