"""The runtime's detector graphs fixed to one stream a call (speechseq.runtime.one_stream): batch 1, no Transpose
left, fewer nodes, the file's probabilities; a batch of 2 is an error, and a graph of other patterns is kept."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from speechseq.nn.detector import Detector, warp_ensemble  # noqa: E402
from speechseq.runtime.conv_blocks import conv_as_matmul  # noqa: E402
from speechseq.runtime.conv_taps import conv_as_taps  # noqa: E402
from speechseq.runtime.detector import KeywordModel, load_graph  # noqa: E402
from speechseq.runtime.one_stream import one_stream  # noqa: E402
from speechseq.runtime.onnx import make_session  # noqa: E402
from speechseq.train.export_detector import export_detector  # noqa: E402
from tests.detector_graphs import BASE, ROOT, SAMPLE, features, ops  # noqa: E402


def _stream(session, km: KeywordModel, feats: np.ndarray, seed: int, taps=()) -> np.ndarray:
    """`session`'s probabilities fed `feats` in random whole strides (up to 12 a call), state carried."""
    rng = np.random.default_rng(seed)
    ctx, h = km.initial_state()
    names = [o.name for o in session.get_outputs()]
    out, pos = [], 0
    while pos + km.stride <= len(feats):
        x = feats[pos: pos + km.stride * int(rng.integers(1, 13))]
        x = x[: km.stride * (len(x) // km.stride)]
        p, ctx, h = session.run(names, {"features": x[None], "context": ctx, "hidden": h,
                                        **{t.name: t.matrix(len(x)) for t in taps}})
        out.append(p[0])
        pos += len(x)
    return np.concatenate(out)


@pytest.mark.parametrize("name", ["activate", "computer"])
def test_shipped_detectors_run_no_transpose_and_give_the_files_probabilities(name):
    path = ROOT / "models" / f"{name}.onnx"
    km = KeywordModel(path)
    taps_only, taps = conv_as_taps(onnx.load(str(path)), km.context)
    runtime = load_graph(path)[0]
    assert "Transpose" not in ops(runtime) and ops(runtime).count("Gemm") == 2        # the conv's and the output's
    computed = [[o for o in ops(m) if o != "Constant"] for m in (runtime, taps_only)]
    assert len(computed[0]) <= len(computed[1]) - 4      # 17 nodes where there were 21 (14 and 19 after onnxruntime's fusions)
    used = {i for n in runtime.graph.node for i in n.input}
    assert all(t.name in used for t in runtime.graph.initializer)                     # nothing left unread
    feats = features(SAMPLE, 8.0)
    want = _stream(make_session(path), km, feats, seed=2)
    assert (want.max() > 0.5) == (name == "activate"), want.max()   # the sample says "activate", not "computer"
    assert np.abs(_stream(km.session, km, feats, seed=2, taps=taps) - want).max() <= 1e-5


def test_a_warp_ensemble_and_the_blocked_matmul_graph_are_rewritten_too(tmp_path):
    torch.manual_seed(3)
    ens = warp_ensemble(Detector(BASE).eval(), [0.85, 1.0, 1.1]).eval()
    path = export_detector(ens, tmp_path / "warped.onnx", {"keyword": "hello", "threshold": 0.5})
    km = KeywordModel(path)
    runtime = load_graph(path)[0]
    assert ops(runtime).count("Gemm") == 4 and "Transpose" not in ops(runtime)       # one conv Gemm, three heads
    feats = features(None, 6.0)
    want = _stream(make_session(path), km, feats, seed=3)
    assert np.abs(_stream(km.session, km, feats, seed=3, taps=km.taps) - want).max() <= 1e-5
    blocks = one_stream(conv_as_matmul(onnx.load(str(path))))  # the fallback for graphs of other patterns
    assert ops(blocks).count("Gemm") == 4 and "Transpose" not in ops(blocks)
    assert np.abs(_stream(make_session(blocks.SerializeToString()), km, feats, seed=3) - want).max() <= 1e-5


def test_a_batch_of_two_is_an_error_not_a_wrong_answer(tmp_path):
    km = KeywordModel(export_detector(Detector(BASE).eval(), tmp_path / "kw.onnx", {"keyword": "hello", "threshold": 0.5}))
    ctx, h = km.initial_state()
    x = np.zeros((2, 2 * km.stride, 40), np.float32)
    with pytest.raises(Exception, match="dimensions"):
        km.session.run(None, {"features": x, "context": np.concatenate([ctx, ctx]), "hidden": np.concatenate([h, h], 1),
                              km.taps[0].name: km.taps[0].matrix(x.shape[1])})


def test_a_graph_without_a_batch_dimension_or_the_patterns_is_kept():
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    model = helper.make_model(helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, 3])],
                                                [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5, 4])], [w, b]))
    assert one_stream(model) is model  # no "batch" dimension: nothing to fix
    batched = helper.make_model(helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 5, 3])],
                                                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 5, 4])], [w, b]))
    kept = one_stream(batched)
    assert ops(kept) == ["MatMul", "Add"]  # no Transpose / Relu / Transpose after the Add: not the conv's pattern
    assert [d.dim_value for d in kept.graph.input[0].type.tensor_type.shape.dim] == [1, 5, 3]


def test_a_conv_output_read_twice_is_left_as_it_is(tmp_path):
    """The conv pattern is rewritten only where each tensor on the way has one reader: a graph whose Relu output
    is also a graph output keeps its Transposes (and its outputs)."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((6, 4), np.float32), "w")
    b = numpy_helper.from_array(np.zeros(4, np.float32), "b")
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["a"]),
             helper.make_node("Transpose", ["a"], ["t1"], perm=[0, 2, 1]), helper.make_node("Relu", ["t1"], ["r"]),
             helper.make_node("Transpose", ["r"], ["y"], perm=[2, 0, 1])]
    info = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [info("x", TensorProto.FLOAT, ["batch", 5, 6])],
                              [info("y", TensorProto.FLOAT, [5, "batch", 4]), info("r", TensorProto.FLOAT, ["batch", 4, 5])],
                              [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert ops(one_stream(model)) == ops(model)
    del model.graph.output[1]  # the Relu read once: now the pattern
    rewritten = one_stream(model)
    assert ops(rewritten) == ["Reshape", "Gemm", "Relu", "Reshape"]
    x = np.random.default_rng(0).standard_normal((1, 5, 6)).astype(np.float32)
    want = make_session(model.SerializeToString()).run(None, {"x": x})[0]
    assert np.abs(make_session(rewritten.SerializeToString()).run(None, {"x": x})[0] - want).max() <= 1e-6
