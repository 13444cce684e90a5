"""A detector's running-mean normalisation and convolution as two MatMuls, with a taps matrix fed per call.

An exported detector (speechseq.nn.detector.StepGraph) reads X = Concat(context, features) (c + t frames of F
bands), takes each frame minus the mean of the n frames ending at it (a CumSum, three Slices, two Subs and a
Mul), and runs a strided Conv1D (kernel k, stride s) over the result. Both steps are linear in X, so the k frames
that conv output p reads are rows of one product T @ X, T a (t / s * k, c + t) matrix of constants that
depends only on t:

    row (p, i) of T:  X[n + s p + i] - (1 / n) * (X[s p + i + 1] + ... + X[s p + i + n])

(without the normalisation, n = 0: the row picks X[s p + i]). Reshaped to (t / s, k F), those rows times the
conv's (k F, C) weights are the conv's outputs. The runtime's graph is then Concat, MatMul(taps, X), Reshape,
MatMul, Add where session 33's ran 16 nodes for the same outputs (the normalisation's Concat, CumSum, three
Slices, two Subs and Mul; the conv as a blocked MatMul, speechseq.runtime.conv_blocks: Pad, Reshape, three
Slices, Concat, MatMul, Add): onnxruntime's cost per node, not the arithmetic, is most of a 100 ms chunk's call.
The matrix is fed by the runtime as an input ("taps"), built once per frame count (`Taps.matrix`), so no node
computes it; the graph's other outputs (the context it carries, the GRU state) are untouched. Convs that read the same normalised frames with the same kernel and stride (a
`--warps` ensemble's) share the taps product and one weight MatMul, split after it.

    model, taps = conv_as_taps(onnx.load("models/activate.onnx"), context=105)  # a rewritten copy, or (model, ())
    feed[taps[0].name] = taps[0].matrix(t)                           # t: the features' frames this call

The product costs (t / s) k (c + t) F multiply-adds a call, which grows with t squared where the conv's
grows with t: callers feed at most `Taps.max_frames` frames a call (a 100 ms chunk is 8-12).

Measured, session 34 (this project's 2-core Xeon, one thread; the README's benchmark section has the rest):
activate.onnx runs 19 nodes a call instead of 30 (`scripts/bench.py --groups nodes`; 14 with
speechseq.runtime.one_stream after this rewrite, as the runtime runs it); frontend + one detector
streamed in 100 ms chunks 0.97-1.01 ms per s of audio against 1.04-1.07 with session 33's graph (five alternating
runs in one process, the same Python around both) and 0.98-1.08 against 1.27-1.28 with the file's own graph
(`scripts/bench.py --groups peers detector --seconds 60 --repeat 3`, three runs).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .conv_blocks import _rewritable
from .graph_edit import attrs, constant, live_nodes, opset, value

__all__ = ["Taps", "conv_as_taps"]

_BIG = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Taps:
    """One taps input of a rewritten graph: the normalisation's window (0: none), the conv's kernel and
    stride, and the context frames the graph prepends to its features."""

    name: str
    norm: int
    kernel: int
    stride: int
    context: int
    max_frames: int = 64  # features per call at most (rounded down to whole strides by `pieces`)

    def matrix(self, frames: int) -> np.ndarray:
        """The (frames / stride * kernel, context + frames) float32 matrix for a call of `frames` features
        (read-only: shared by every call of that size)."""
        return _taps(self.norm, self.kernel, self.stride, self.context, int(frames))

    def pieces(self, frames: int) -> list[tuple[int, int]]:
        """(start, end) of the calls that feed `frames` features, whole strides of at most max_frames each."""
        step = max(self.stride, self.stride * (self.max_frames // self.stride))
        return [(a, min(frames, a + step)) for a in range(0, frames, step)] if frames > step else [(0, frames)]


@functools.lru_cache(maxsize=16)
def _taps(norm: int, kernel: int, stride: int, context: int, frames: int) -> np.ndarray:
    length = context + frames
    outputs = (length - norm - kernel) // stride + 1
    if frames % stride or outputs < 1:  # no output step: onnxruntime's GRU aborts the process on an empty sequence
        raise ValueError(f"{frames} frames: not whole strides of {stride} (one or more) after {context} context frames")
    m = np.zeros((outputs * kernel, length), np.float64)
    for p in range(outputs):
        for i in range(kernel):
            r = stride * p + i  # the conv's input row
            m[p * kernel + i, norm + r] = 1.0
            if norm:
                m[p * kernel + i, r + 1: r + norm + 1] -= 1.0 / norm
    out = m.astype(np.float32)
    out.setflags(write=False)
    return out


def _slice(node, inits: dict, producers: dict) -> tuple[str, int, int] | None:
    """(input, start, end) of a Slice of one range on axis 1 with step 1; None for anything else."""
    if node is None or node.op_type != "Slice" or len(node.input) < 4:
        return None
    v = [value(x, inits, producers) for x in node.input[1:]]
    if any(a is None or a.size != 1 for a in v):
        return None
    start, end, axis = (int(a.reshape(-1)[0]) for a in v[:3])
    step = int(v[3].reshape(-1)[0]) if len(v) > 3 else 1
    return (node.input[0], start, end) if axis == 1 and step == 1 else None


def _frames(z: str, inits: dict, producers: dict) -> tuple[int, str] | None:
    """(The normalisation's window, the Concat's output X) when tensor `z` is the running-mean normalisation of
    X = Concat(context, features) (the export's pattern, exactly), (0, z) when it is that Concat itself; None
    otherwise."""
    def concat(x: str) -> bool:
        node = producers.get(x)
        return (node is not None and node.op_type == "Concat" and list(node.input) == ["context", "features"]
                and attrs(node).get("axis") == 1)

    if concat(z):
        return 0, z
    sub = producers.get(z)
    if sub is None or sub.op_type != "Sub":
        return None
    kept, mean = _slice(producers.get(sub.input[0]), inits, producers), producers.get(sub.input[1])
    if kept is None or mean is None or mean.op_type != "Mul":
        return None
    x, n, end = kept
    scale = [value(i, inits, producers) for i in mean.input]
    diff = [producers.get(i) for i in mean.input]
    k = 1 if scale[0] is not None else 0  # the Mul's other input is the difference of running sums
    if end != _BIG or n <= 0 or scale[1 - k] is None or diff[k] is None or diff[k].op_type != "Sub":
        return None
    if not np.allclose(scale[1 - k].astype(np.float64), 1.0 / n, rtol=1e-6, atol=0):
        return None
    hi, lo = (_slice(producers.get(i), inits, producers) for i in diff[k].input)
    if hi is None or lo is None or hi != (hi[0], n, _BIG) or lo != (hi[0], 0, -n):
        return None
    cumsum = producers.get(hi[0])
    if cumsum is None or cumsum.op_type != "CumSum" or cumsum.input[0] != x or attrs(cumsum).get("exclusive", 0) \
            or attrs(cumsum).get("reverse", 0):
        return None
    axis = value(cumsum.input[1], inits, producers)
    if axis is None or int(axis.reshape(-1)[0]) != 1 or not concat(x):
        return None
    return n, x


def conv_as_taps(model, context: int, max_frames: int = 64):
    """(A copy of `model` with each matching Conv and the normalisation before it as taps products, the Taps
    its inputs need), or (`model`, ()) when no Conv matches (module docstring). `context`: the frames the graph's
    "context" input carries."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    groups: dict[tuple, list] = {}  # (normalised frames, X, window, kernel, stride) -> the convs reading them
    for conv in g.node:
        if conv.op_type != "Conv" or not _rewritable(conv, producers, inits):
            continue
        z = producers[conv.input[0]].input[0]
        found = _frames(z, inits, producers)
        if found is None:
            return model, ()
        a = attrs(conv)
        groups.setdefault((z, found[1], found[0], int(a["kernel_shape"][0]), int(a.get("strides", [1])[0])), []).append(conv)
    if not groups or opset(model) < 13:  # Split reads its sizes from an input since opset 13
        return model, ()
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    taps: list[Taps] = []
    replaced: dict[str, list] = {}
    new_inits = []
    for c, ((z, x, norm, k, s), members) in enumerate(groups.items()):
        name = "taps" if len(groups) == 1 else f"taps{c}"
        taps.append(Taps(name, norm, k, s, context, max_frames))
        ws = [numpy_helper.to_array(constant(m.input[1], inits, producers)).astype(np.float32) for m in members]
        bias = np.concatenate([numpy_helper.to_array(constant(m.input[2], inits, producers)).astype(np.float32)
                               for m in members])
        f = ws[0].shape[1]
        weight = np.concatenate([w.transpose(2, 1, 0).reshape(k * f, w.shape[0]) for w in ws], axis=1)  # (k F, C)
        p = f"/conv_taps{c}/"
        new_inits += [numpy_helper.from_array(weight, p + "weight"), numpy_helper.from_array(bias, p + "bias"),
                      numpy_helper.from_array(np.array([0, -1, k * f], np.int64), p + "shape")]
        nodes = [helper.make_node("MatMul", [name, x], [p + "rows"]),                    # (B, outputs * k, F)
                 helper.make_node("Reshape", [p + "rows", p + "shape"], [p + "frames"]),  # (B, outputs, k F)
                 helper.make_node("MatMul", [p + "frames", p + "weight"], [p + "product"]),
                 helper.make_node("Add", [p + "product", p + "bias"], [p + "out"])]
        outs = [p + "out"]
        if len(members) > 1:
            outs = [p + f"out{i}" for i in range(len(members))]
            new_inits.append(numpy_helper.from_array(np.array([w.shape[0] for w in ws], np.int64), p + "split"))
            nodes.append(helper.make_node("Split", [p + "out", p + "split"], outs, axis=2))
        nodes += [helper.make_node("Transpose", [o], [m.output[0]], perm=[0, 2, 1]) for o, m in zip(outs, members)]
        replaced[members[0].output[0]] = nodes
        # dimensions left unnamed: named ones would say that every graph's taps have one shape once graphs of
        # different taps are merged (speechseq.runtime.graph_merge), and onnxruntime would plan one buffer for them
        g.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, None]))
    rewritten = {m.output[0] for ms in groups.values() for m in ms}
    kept = []
    for n in g.node:
        if n.op_type == "Conv" and n.output[0] in rewritten:
            kept += replaced.get(n.output[0], [])
        else:
            kept.append(n)
    # nodes nothing reads any more (the normalisation, the Transposes that fed the Convs) go
    live = live_nodes(kept, {o.name for o in g.output})
    del g.node[:]
    g.node.extend(live)
    used = {i for n in g.node for i in n.input} | {i.name for i in g.input}  # initializers listed as inputs stay
    g.initializer.extend(new_inits)
    live_inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(live_inits)
    known = used | {o for n in g.node for o in n.output}
    infos = [v for v in g.value_info if v.name in known]
    del g.value_info[:]
    g.value_info.extend(infos)
    return out, tuple(taps)
