"""Run several ONNX models in one onnxruntime call: their graphs side by side in one graph.

Each call of `InferenceSession.run` costs a fixed overhead (input checks, output allocation,
the Python binding: about 10 µs here) before any node runs, and the caller pays its own Python
per call. Ten keyword models fed the same features pay that ten times per audio chunk; one
merged graph pays it once. The merged graph computes exactly what the separate graphs compute.

    merged = merge_side_by_side([onnx.load(p) for p in paths], shared_inputs={"features"})
    session = make_session(merged.SerializeToString())   # speechseq.runtime.onnx: a file or a serialized model

Model i's names get the prefix f"m{i}." except the shared inputs, which every model reads.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["merge_side_by_side", "prefixed"]


def prefixed(i: int, name: str) -> str:
    """The name of model i's input or output `name` in the merged graph."""
    return f"m{i}.{name}"


def merge_side_by_side(models: Sequence, shared_inputs: Collection[str] = ()):
    """One onnx.ModelProto holding every model's graph, unconnected except for `shared_inputs`.

    Inputs: the shared ones once (their type from the first model), then model 0's other inputs
    prefixed, model 1's, ...; outputs: model 0's prefixed, model 1's, ... (so output k of model i
    is at index sum of the previous models' output counts + k). Metadata is not carried over.
    Raises ValueError when the models use different opsets or a shared input is missing.
    """
    import onnx
    from onnx import compose, helper

    if not models:
        raise ValueError("no models to merge")
    opsets = {tuple(sorted((o.domain, o.version) for o in m.opset_import)) for m in models}
    if len(opsets) != 1:
        raise ValueError(f"models use different opsets: {sorted(opsets)}")
    shared = set(shared_inputs)
    nodes, inits, inputs, outputs, infos = [], [], [], [], []
    shared_inputs_seen: dict[str, onnx.ValueInfoProto] = {}
    for i, model in enumerate(models):
        names = {v.name for v in model.graph.input}
        if not shared <= names:
            raise ValueError(f"model {i} lacks the shared inputs {sorted(shared - names)}")
        m = compose.add_prefix(model, prefixed(i, ""))
        back = {prefixed(i, s): s for s in shared}
        for node in m.graph.node:
            node.input[:] = [back.get(x, x) for x in node.input]
        for v in m.graph.input:
            if v.name in back:
                shared_inputs_seen.setdefault(back[v.name], v)
            else:
                inputs.append(v)
        nodes += m.graph.node
        inits += m.graph.initializer
        outputs += m.graph.output
        infos += [v for v in m.graph.value_info if v.name not in back]
    first = []
    for name in (v.name for v in models[0].graph.input if v.name in shared):
        v = onnx.ValueInfoProto()
        v.CopyFrom(shared_inputs_seen[name])
        v.name = name
        first.append(v)
    graph = helper.make_graph(nodes, "merged", first + inputs, outputs, initializer=inits, value_info=infos)
    merged = helper.make_model(graph, opset_imports=list(models[0].opset_import))
    merged.ir_version = max(m.ir_version for m in models)
    return merged
