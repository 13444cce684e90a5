"""A detector's runtime graph fixed to one stream a call (batch 1), its layout changes made Reshapes.

The runtime feeds a detector one stream at a time (speechseq.runtime.detector: features (1, T, F)). With the batch
fixed at 1 in the graph's inputs and outputs, two of the exported graph's patterns need no data movement:

- the conv's outputs, as speechseq.runtime.conv_taps (or conv_blocks) computes them, (1, P, C) -> Add bias ->
  Transpose to the conv's (1, C, P) -> Relu -> Transpose to the GRU's (P, 1, C), become one Gemm (weights and
  bias, onnxruntime fusing the Relu into it) on (P, k F) and a Reshape to (P, 1, C);
- the output layer, GRU outputs (T, 1, 1, H) -> Squeeze -> Transpose -> MatMul -> Add -> Squeeze -> Sigmoid,
  becomes Reshape -> Gemm -> Sigmoid -> Reshape (1, T).

activate.onnx then runs 14 nodes a call instead of 19, with the same outputs (to 1e-7), and a batch of 2 is an
error of onnxruntime's instead of silently wrong. Any part that is not exactly such a pattern stays as it is.

    model = one_stream(conv_as_taps(onnx.load("models/activate.onnx"), context=105)[0])

Measured, session 34 (this project's 2-core Xeon, one thread; the loop of `scripts/bench.py`, frontend +
activate.onnx, this rewrite on and off in alternating rounds in one process, three runs of five rounds): 4 % less
CPU at the median round (80 ms chunks: ratios 0.90-1.01, under 1 in 13 of 15 rounds; 100 ms: 0.88-1.04, 12 of
15). This machine drifted by 10 % over those runs, so the ratios, not the levels, are the figure.
"""
from __future__ import annotations

import numpy as np

from .graph_edit import attrs, constant, live_nodes, opset, value

__all__ = ["one_stream"]


def _consumers(g) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            out.setdefault(i, []).append(n)
    return out


def _only(name: str, consumers: dict, op: str, outputs: set[str]):
    """The one node reading `name` when it is an `op` and `name` is no graph output; else None."""
    nodes = consumers.get(name, [])
    return nodes[0] if len(nodes) == 1 and nodes[0].op_type == op and name not in outputs else None


def _axes(node, inits: dict, producers: dict) -> list[int] | None:
    """A Squeeze's axes (its input since opset 13, else its attribute); None when not constant."""
    if len(node.input) > 1:
        v = value(node.input[1], inits, producers)
        return None if v is None else [int(a) for a in v.reshape(-1)]
    a = attrs(node).get("axes")
    return None if a is None else [int(x) for x in a]


def one_stream(model):
    """A copy of `model` (onnx.ModelProto) with batch 1 in its inputs and outputs and the patterns of the module
    docstring rewritten; `model` itself when its inputs have no "batch" dimension."""
    import onnx
    from onnx import helper, numpy_helper

    dims = [d for v in list(model.graph.input) + list(model.graph.output) for d in v.type.tensor_type.shape.dim
            if d.dim_param == "batch"]
    if not dims:
        return model
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    for v in list(g.input) + list(g.output):
        for d in v.type.tensor_type.shape.dim:
            if d.dim_param == "batch":
                d.dim_value = 1  # clears the name: onnxruntime checks what is fed against it
    inits = {t.name: t for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    consumers = _consumers(g)
    outputs = {o.name for o in g.output}
    version = opset(model)
    replace: dict[int, list] = {}  # id of a node -> the nodes in its place
    drop: set[int] = set()
    new_inits = []

    def const(name: str, ints) -> str:
        new_inits.append(numpy_helper.from_array(np.asarray(ints, np.int64), name))
        return name

    def weight(name: str):
        t = constant(name, inits, producers)
        return None if t is None else numpy_helper.to_array(t)

    def source(name: str) -> str:  # the initializer itself, not an Identity of it (which may come later)
        return constant(name, inits, producers).name

    for c, mm in enumerate([n for n in g.node if n.op_type == "MatMul"]):
        p = f"/one_stream/conv{c}/"
        w = weight(mm.input[1])
        add = _only(mm.output[0], consumers, "Add", outputs)
        if w is None or w.ndim != 2 or add is None:
            continue
        bias_in = add.input[1] if add.input[0] == mm.output[0] else add.input[0]
        b = weight(bias_in)
        if b is None or b.shape != (w.shape[1],):
            continue
        split = _only(add.output[0], consumers, "Split", outputs)
        if split is not None:  # a --warps ensemble's convs, side by side
            sizes = value(split.input[1], inits, producers) if len(split.input) > 1 else attrs(split).get("split")
            if sizes is None or attrs(split).get("axis") != 2:
                continue
            branches, sizes = list(split.output), [int(s) for s in np.asarray(sizes).reshape(-1)]
        else:
            branches, sizes = [add.output[0]], [w.shape[1]]
        chains = []
        for y in branches:  # Transpose (0, 2, 1) -> Relu -> Transpose (2, 0, 1), each read once
            t1 = _only(y, consumers, "Transpose", outputs)
            relu = t1 and _only(t1.output[0], consumers, "Relu", outputs)
            t2 = relu and _only(relu.output[0], consumers, "Transpose", outputs)
            if not (t1 and relu and t2 and list(attrs(t1).get("perm", [])) == [0, 2, 1]
                    and list(attrs(t2).get("perm", [])) == [2, 0, 1]):
                break
            chains.append((t1, relu, t2))
        if len(chains) != len(branches):
            continue
        src, before = mm.input[0], producers.get(mm.input[0])
        if before is not None and before.op_type == "Reshape" and _only(src, consumers, "MatMul", outputs):
            src = before.input[0]  # one Reshape where there were two (conv_taps' rows, (1, P, k F))
            drop.add(id(before))
        nodes = [helper.make_node("Reshape", [src, const(p + "rows", [-1, w.shape[0]])], [p + "x"]),
                 helper.make_node("Gemm", [p + "x", source(mm.input[1]), source(bias_in)], [p + "y"])]
        parts = [p + "y"]
        if split is not None:
            parts = [p + f"y{i}" for i in range(len(branches))]
            nodes.append(helper.make_node("Split", [p + "y", const(p + "split", sizes)], parts, axis=1) if version >= 13
                         else helper.make_node("Split", [p + "y"], parts, axis=1, split=sizes))
        for i, ((t1, relu, t2), part, size) in enumerate(zip(chains, parts, sizes)):
            nodes += [helper.make_node("Relu", [part], [p + f"r{i}"]),
                      helper.make_node("Reshape", [p + f"r{i}", const(p + f"seq{i}", [-1, 1, size])], [t2.output[0]])]
            drop.update({id(t1), id(relu), id(t2)})
        replace[id(mm)] = nodes
        drop.update({id(add)} | ({id(split)} if split is not None else set()))

    for c, sig in enumerate([n for n in g.node if n.op_type == "Sigmoid"]):
        p = f"/one_stream/head{c}/"
        sq2 = producers.get(sig.input[0])
        add = producers.get(sq2.input[0]) if sq2 is not None and sq2.op_type == "Squeeze" else None
        if add is None or add.op_type != "Add" or _axes(sq2, inits, producers) != [2]:
            continue
        mm_out = next((i for i in add.input if i in producers and producers[i].op_type == "MatMul"), None)
        mm = producers.get(mm_out) if mm_out else None
        bias_in = next((i for i in add.input if i != mm_out), None)
        w, b = (weight(mm.input[1]), weight(bias_in)) if mm is not None and bias_in else (None, None)
        tr = producers.get(mm.input[0]) if mm is not None else None
        sq1 = producers.get(tr.input[0]) if tr is not None and tr.op_type == "Transpose" else None
        if (w is None or b is None or w.ndim != 2 or w.shape[1] != 1 or b.size != 1 or sq1 is None
                or sq1.op_type != "Squeeze" or _axes(sq1, inits, producers) != [1]
                or list(attrs(tr).get("perm", [])) != [1, 0, 2]
                or any(len(consumers.get(n.output[0], [])) != 1 or n.output[0] in outputs for n in (sq1, tr, mm, add, sq2))):
            continue
        bias = p + "bias"
        new_inits.append(numpy_helper.from_array(b.reshape(1), bias))
        replace[id(sq1)] = [helper.make_node("Reshape", [sq1.input[0], const(p + "steps", [-1, w.shape[0]])], [p + "y"]),
                            helper.make_node("Gemm", [p + "y", source(mm.input[1]), bias], [p + "logit"]),
                            helper.make_node("Sigmoid", [p + "logit"], [p + "p"]),
                            helper.make_node("Reshape", [p + "p", const(p + "row", [1, -1])], [sig.output[0]])]
        drop.update({id(tr), id(mm), id(add), id(sq2), id(sig)})

    if not replace:
        return out
    kept = []
    for n in g.node:
        if id(n) in replace:
            kept += replace[id(n)]
        elif id(n) not in drop:
            kept.append(n)
    live = live_nodes(kept, {o.name for o in g.output})  # then the nodes nothing reads any more (the Squeezes' axes) go
    del g.node[:]
    g.node.extend(live)
    g.initializer.extend(new_inits)
    used = {i for n in g.node for i in n.input} | {i.name for i in g.input}  # initializers nothing reads go
    kept_inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept_inits)
    known = {o for n in g.node for o in n.output} | {i.name for i in g.input} | {t.name for t in g.initializer}
    infos = [v for v in g.value_info if v.name in known]  # shapes of tensors gone, or now of another layout, go
    infos = [v for v in infos if not any(d.dim_param == "batch" for d in v.type.tensor_type.shape.dim)]
    del g.value_info[:]
    g.value_info.extend(infos)
    return out
