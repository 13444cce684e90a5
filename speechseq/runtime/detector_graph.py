"""A detector file's graph as the runtime runs it, and several keywords' graphs merged into one session.

    graph, taps = load_graph("models/activate.onnx")     # onnx.ModelProto, the Taps it reads per call

The file's running-mean normalisation and convolution become taps products (speechseq.runtime.conv_taps) or a blocked
MatMul (conv_blocks), fixed to one stream a call (one_stream); the result is kept in the graph cache
(speechseq.runtime.graph_cache), so that a later load needs no onnx import. speechseq.runtime.detector runs them.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .conv_blocks import conv_as_matmul
from .conv_taps import Taps, conv_as_taps
from .graph_cache import cached
from .graph_edit import attrs
from .graph_merge import merge_side_by_side, prefixed
from .one_stream import one_stream
from .onnx import ModelError, check_model_file, graph_metadata, make_session, model_kind_error

if TYPE_CHECKING:
    from .detector import KeywordModel

__all__ = ["load_graph", "runtime_graph", "merged_session", "GraphSizes"]


def load_graph(path: str | os.PathLike) -> tuple:
    """A detector file's graph as the runtime runs it (onnx.ModelProto), and the taps matrices it reads (Taps,
    fed per call): its running-mean normalisation and convolution as taps products (speechseq.runtime.conv_taps),
    or, where its graph is not the export's pattern, its convolution as a blocked MatMul (conv_blocks; no taps);
    then fixed to one stream a call (speechseq.runtime.one_stream: batch 1, layout changes as Reshapes). The same
    outputs, a cheaper call. ModelError when the file is missing or not ONNX."""
    return _rewrite(_parse(Path(path))[0])


def _rewrite(model) -> tuple:
    """`load_graph` of a parsed file."""
    ctx_input = next((v for v in model.graph.input if v.name == "context"), None)
    dims = ctx_input.type.tensor_type.shape.dim if ctx_input is not None else []
    context = dims[1].dim_value if len(dims) == 3 else 0  # the frames it carries, where the file says
    rewritten, taps = conv_as_taps(model, context) if context > 0 else (model, ())
    return (one_stream(rewritten), taps) if taps else (one_stream(conv_as_matmul(model)), ())


def runtime_graph(path: str | os.PathLike) -> tuple[bytes, tuple[Taps, ...], dict, list[str], GraphSizes]:
    """`load_graph`'s graph as bytes, the taps it reads, the file's metadata, the graph's output names and the sizes
    it fixes (GraphSizes, checked against the metadata by KeywordModel): from the
    graph cache (speechseq.runtime.graph_cache: no onnx import), built and kept there on a miss. A graph is kept
    only once onnxruntime has taken it and its metadata says detector: ModelError, naming the file, otherwise."""
    p = Path(path)
    check_model_file(p)

    def build(files: list[bytes]) -> tuple[bytes, dict, None, bool]:
        model, external = _parse(p, files[0])
        graph, taps = _rewrite(model)
        data = graph.SerializeToString()
        make_session(data, 1, name=str(p))  # onnxruntime's checks, now, as where a session is made at load
        meta = graph_metadata(graph, p)
        if meta.get("kind") != "detector":
            raise ModelError(model_kind_error(p, meta.get("kind"), "detector"))
        record = {"taps": [asdict(t) for t in taps], "meta": meta, "outputs": [o.name for o in graph.graph.output],
                  "inputs": {v.name: [d.dim_param or (d.dim_value if d.HasField("dim_value") else None)
                                      for d in v.type.tensor_type.shape.dim] for v in graph.graph.input},
                  "strides": sorted({int(attrs(n).get("strides", [1])[0]) for n in model.graph.node
                                     if n.op_type == "Conv"})}
        return data, record, None, not external
    try:
        data, record, _ = cached("detector", [p], build)
    except OSError as err:
        raise ModelError(f"{p}: cannot read the model file ({err.strerror or err})") from None
    sizes = GraphSizes(record["inputs"], tuple(record["strides"]))
    return data, tuple(Taps(**t) for t in record["taps"]), record["meta"], list(record["outputs"]), sizes


class GraphSizes(NamedTuple):
    """What a detector graph fixes that its metadata also says: each input's sizes (an int where fixed, else a name
    or None) and its convolutions' strides (() where not known: a file's own graph, run without the rewrite)."""

    inputs: dict
    strides: tuple[int, ...] = ()

    def check(self, path: str | os.PathLike, n_mels: int, context: int, layers: int, hidden: int,
              stride: int) -> None:
        """ModelError unless the graph takes the sizes the metadata gives: metadata that does not describe its graph
        fails at load, not as onnxruntime's or the taps' error in the first chunk."""
        for name, want in (("features", (None, None, n_mels)), ("context", (None, context, n_mels)),
                           ("hidden", (layers, None, hidden))):
            if name not in self.inputs:
                raise ModelError(f"{path}: a detector graph without the input {name!r} (it has {sorted(self.inputs)})")
            got = list(self.inputs[name])
            if len(got) != len(want) or any(isinstance(g, int) and w is not None and g != w
                                            for g, w in zip(got, want)):
                raise ModelError(f"{path}: input {name!r} of the graph is {got}, its metadata says "
                                 f"{['*' if w is None else w for w in want]}")
        if self.strides and self.strides != (stride,):
            raise ModelError(f"{path}: the graph's convolution has stride {', '.join(map(str, self.strides))}, its "
                             f"metadata says {stride}")


def _parse(p: Path, data: bytes | None = None) -> tuple:
    """The ONNX file at `p` (onnx.ModelProto), from its bytes `data` where they are read already, with the tensors
    it keeps in other files read from p's folder (as onnx.load does), and whether it had such tensors (external
    data: their bytes are not in the graph cache's key, so such a graph is not kept). ModelError when it is missing
    or not ONNX."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    if data is None:
        check_model_file(p)
    try:
        model = onnx.load_model_from_string(data if data is not None else p.read_bytes())
        external = any(uses_external_data(t) for t in model.graph.initializer)
        if external:
            load_external_data_for_model(model, str(p.parent))
        return model, external
    except Exception as err:  # protobuf's DecodeError and kin
        why = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise ModelError(f"{p}: cannot load ONNX model ({why})") from None


def merged_session(models: Sequence[KeywordModel]):
    """(One session running every model, whether it reads one shared "context" input, the (input name, Taps)
    it reads); (None, False, ()) for a single model, or models of different strides or opsets (graphs of different
    opsets make no one graph: each then runs in its own session)."""
    if len(models) < 2 or len({m.stride for m in models}) != 1:
        return None, False, ()
    shared_context = len({m.context for m in models}) == 1

    def build(files: list[bytes]) -> tuple[bytes, dict]:
        parsed = [_parse(Path(m.path), d) for m, d in zip(models, files)]
        graphs = [_rewrite(model) if m.rewrite else (model, ()) for m, (model, _) in zip(models, parsed)]
        keep = not any(e for _, e in parsed)
        if len({tuple(sorted((o.domain, o.version) for o in g.opset_import)) for g, _ in graphs}) > 1:
            return b"", {"separate": True}, None, keep
        taps = [t for _, t in graphs]
        shared_taps = shared_context and len(set(taps)) == 1  # the same matrices for every model: fed once
        shared = ({"features", "context"} if shared_context else {"features"}) | (
            {t.name for t in taps[0]} if shared_taps else set())
        try:
            merged = merge_side_by_side([g for g, _ in graphs], shared_inputs=shared)
        except ValueError as err:
            raise ModelError(f"cannot run {', '.join(m.path for m in models)} as one graph ({err}); "
                             "load them without merging") from None
        fed = ([(t.name, t) for t in taps[0]] if shared_taps
               else [(prefixed(i, t.name), t) for i, ts in enumerate(taps) for t in ts])
        data = merged.SerializeToString()
        session = make_session(data, models[0].threads)  # onnxruntime's checks before anything is kept
        return data, {"fed": [[name, asdict(t)] for name, t in fed]}, session, keep
    # The key holds what the graph's shape depends on beside the files: which are rewritten, and the context sizes
    # the models were loaded with (a file changed since gives another entry, never a wrong one for later loads).
    kind = "merged " + " ".join(f"{'r' if m.rewrite else 'f'}{m.context}" for m in models)
    try:
        data, record, session = cached(kind, [m.path for m in models], build)
    except OSError as err:
        raise ModelError(f"cannot read a model file ({err})") from None
    if record.get("separate"):
        return None, False, ()
    fed = [(name, Taps(**t)) for name, t in record["fed"]]
    return session or make_session(data, models[0].threads), shared_context, fed
