"""What the runtime's rewrites of a detector graph share (speechseq.runtime.conv_blocks, conv_taps, one_stream):
reading a node's attributes and a tensor's constant value, and keeping the nodes the outputs still need."""
from __future__ import annotations

__all__ = ["attrs", "constant", "value", "live_nodes", "opset"]


def attrs(node) -> dict:
    """A node's attributes, name -> Python value."""
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def constant(name: str, inits: dict, producers: dict):
    """The initializer (TensorProto) behind `name`, through Identity nodes; None when it is computed."""
    while name not in inits and name in producers and producers[name].op_type == "Identity":
        name = producers[name].input[0]
    return inits.get(name)


def value(name: str, inits: dict, producers: dict):
    """The constant behind `name` (an initializer, a Constant node, through Identity nodes) as an array; None."""
    from onnx import numpy_helper

    t = constant(name, inits, producers)
    if t is not None:
        return numpy_helper.to_array(t)
    node = producers.get(name)
    if node is not None and node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
        return numpy_helper.to_array(node.attribute[0].t)
    return None


def live_nodes(nodes: list, outputs: set[str]) -> list:
    """`nodes` (in graph order) without those nothing on the way to `outputs` reads, in the same order."""
    needed, live = set(outputs), []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            live.append(n)
            needed.update(i for i in n.input if i)
    return live[::-1]


def opset(model) -> int:
    """The model's version of the default ONNX operator set (0 when it imports none)."""
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
