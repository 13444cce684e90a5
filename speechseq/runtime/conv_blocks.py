"""A strided Conv1D over time, rewritten as one MatMul over blocks of frames, for cheaper streaming calls.

Since session 34 the runtime runs this only for a detector file whose frames do not come the export's way
(speechseq.runtime.detector_graph.load_graph): the export's own graphs get speechseq.runtime.conv_taps, which takes the
running-mean normalisation into the same product and runs fewer nodes still.

A detector's convolution (kernel k frames, stride s, F bands in, C channels out) reads, for output j, the
frames s*j .. s*j + k - 1. Padded at the end to a whole number of blocks of s frames, the input is a
(blocks, s * F) matrix; output j is then blocks j .. j + b - 1 side by side (b = ceil(k / s)) times one
(b * s * F, C) weight matrix whose last b * s - k frames are zero. onnxruntime's Conv on a 100 ms chunk
(2-3 outputs) costs about twice that MatMul (session 33, this machine, `scripts/bench.py --groups floor`, each op
alone at 12.5 calls a second: 0.217 against 0.086 ms per s of audio), and the Transpose before the Conv goes too.
Frontend + one detector then cost 6-18 % less CPU (`scripts/bench.py --groups detector`, three runs, each run's
own ratio against the file's graph: 1.14-1.23 against 1.31-1.40 ms per s at 100 ms chunks).

    model = conv_as_matmul(onnx.load("models/activate.onnx"))    # a rewritten copy; same outputs

Only a Conv fed by a Transpose that puts time last (perm [0, 2, 1]) is rewritten, with one spatial axis,
group 1, no padding and no dilation, and constant weights and bias (initializers, or Identity nodes of them):
every speechseq detector's. Its output becomes the MatMul's (batch, outputs, C) transposed back to the Conv's
(batch, C, outputs), and onnxruntime's transpose optimiser folds that into the Transpose the detector applies
for its GRU. Convs that read the same frames with the same kernel size and stride (the members of a
`--warps` ensemble) share one MatMul, their weights side by side, split after it: a three-warp ensemble then
costs 2.34-2.35 ms per s of audio against 2.45-2.51 with its file's graph (session 33, three alternating runs). The rewrite needs the frames
fed to the Conv to be k - s plus a multiple of s (a detector's carried context plus whole strides: what
the runtime feeds it); other lengths fail in the Reshape instead of being silently cut. The file on disk
is never changed.
"""
from __future__ import annotations

import numpy as np

from .graph_edit import attrs, constant, opset

__all__ = ["conv_as_matmul"]


def _rewritable(conv, producers: dict, inits: dict) -> bool:
    a = attrs(conv)
    producer = producers.get(conv.input[0])
    time_last = (producer is not None and producer.op_type == "Transpose"
                 and list(attrs(producer).get("perm", [])) == [0, 2, 1])
    return (time_last and len(conv.input) == 3 and len(a.get("kernel_shape", [])) == 1
            and constant(conv.input[1], inits, producers) is not None
            and constant(conv.input[2], inits, producers) is not None
            and a.get("group", 1) == 1 and not any(a.get("pads", [0, 0])) and list(a.get("dilations", [1])) == [1]
            and a.get("auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"))


def conv_as_matmul(model):
    """A copy of `model` (onnx.ModelProto) with each rewritable Conv as a blocked MatMul (module docstring);
    `model` itself when there is none."""
    import onnx
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    version = opset(model)
    convs = [n for n in g.node if n.op_type == "Conv" and _rewritable(n, producers, inits)]
    if not convs or version < 11:  # Pad and Slice read their sizes from inputs since opset 11
        return model
    groups: dict[tuple, list] = {}  # (frames, kernel, stride) -> the convs reading them
    for conv in convs:
        a = attrs(conv)
        x = producers[conv.input[0]].input[0]                                  # (B, T, F), before the Transpose
        groups.setdefault((x, int(a["kernel_shape"][0]), int(a.get("strides", [1])[0])), []).append(conv)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    replaced: dict[str, list] = {}  # first conv's output -> the group's nodes
    new_inits = []
    for c, ((x, k, s), members) in enumerate(groups.items()):
        ws = [numpy_helper.to_array(constant(m.input[1], inits, producers)).astype(np.float32) for m in members]
        bias = np.concatenate([numpy_helper.to_array(constant(m.input[2], inits, producers)).astype(np.float32)
                               for m in members])
        f = ws[0].shape[1]
        b = -(-k // s)                                                         # blocks a kernel spans
        cols = []
        for w in ws:                                                           # (C, F, k) -> (b * s * F, C)
            wp = np.zeros((w.shape[0], f, b * s), np.float32)
            wp[:, :, :k] = w
            cols.append(wp.transpose(2, 1, 0).reshape(b * s * f, w.shape[0]))
        p = f"/conv_blocks{c}/"

        def ints(name: str, v: list[int]):
            new_inits.append(numpy_helper.from_array(np.array(v, np.int64), p + name))
            return p + name
        new_inits += [numpy_helper.from_array(np.concatenate(cols, axis=1), p + "weight"),
                      numpy_helper.from_array(bias, p + "bias")]
        nodes = [helper.make_node("Pad", [x, ints("pads", [0, 0, 0, 0, b * s - k, 0])], [p + "padded"])
                 if b * s > k else helper.make_node("Identity", [x], [p + "padded"]),
                 helper.make_node("Reshape", [p + "padded", ints("shape", [0, -1, s * f])], [p + "blocks"])]
        axis = ints("axis", [1])
        parts = []
        for j in range(b):  # blocks j .. j + (number of outputs) - 1
            end = j - (b - 1)
            stop = ints(f"end{j}", [end if end < 0 else np.iinfo(np.int64).max])
            nodes.append(helper.make_node("Slice", [p + "blocks", ints(f"start{j}", [j]), stop, axis],
                                          [p + f"part{j}"]))
            parts.append(p + f"part{j}")
        nodes += [helper.make_node("Concat", parts, [p + "frames"], axis=2) if b > 1
                  else helper.make_node("Identity", parts, [p + "frames"]),
                  helper.make_node("MatMul", [p + "frames", p + "weight"], [p + "product"]),
                  helper.make_node("Add", [p + "product", p + "bias"], [p + "out"])]
        outs = [p + "out"]
        if len(members) > 1:  # one output per conv, its channels
            outs = [p + f"out{i}" for i in range(len(members))]
            sizes = [w.shape[0] for w in ws]
            nodes.append(helper.make_node("Split", [p + "out", ints("split", sizes)], outs, axis=2) if version >= 13
                         else helper.make_node("Split", [p + "out"], outs, axis=2, split=sizes))
        nodes += [helper.make_node("Transpose", [o], [m.output[0]], perm=[0, 2, 1]) for o, m in zip(outs, members)]
        replaced[members[0].output[0]] = nodes
    rewritten = {m.output[0] for ms in groups.values() for m in ms}
    still_read = {i for n in g.node if n.op_type != "Conv" or n.output[0] not in rewritten for i in n.input}
    still_read |= {o.name for o in g.output}
    kept = []
    for n in g.node:
        if n.op_type == "Conv" and n.output[0] in rewritten:
            kept += replaced.get(n.output[0], [])  # the group's nodes where its first conv was
        elif n.op_type == "Transpose" and n.output[0] not in still_read:
            continue  # the Transpose that only fed rewritten Convs
        else:
            kept.append(n)
    del g.node[:]
    g.node.extend(kept)
    used = {i for n in g.node for i in n.input} | {i.name for i in g.input}
    live = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(live + new_inits)
    return out
