"""onnxruntime sessions and the metadata every speechseq ONNX file carries.

Metadata is one JSON object stored under the key "speechseq" in the model's `metadata_props`
(readable by any ONNX tool, and by onnxruntime without the `onnx` package). Writing it needs the
`onnx` package (an export-time dependency); reading needs only onnxruntime.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import SpeechseqError

__all__ = ["METADATA_KEY", "ModelError", "make_session", "read_metadata", "write_metadata", "session_metadata", "jsonable",
           "open_model", "direct_run", "graph_metadata", "twin_path", "untagged"]

METADATA_KEY = "speechseq"


class ModelError(SpeechseqError):
    """A model file that is missing, unreadable, or not a speechseq model of the expected kind."""


def make_session(path: str | os.PathLike | bytes, threads: int = 1, profile_prefix: str | None = None,
                 name: str = "merged model"):
    """An onnxruntime CPU session, single-threaded by default (predictable, and fair on shared machines).

    `path` is a file, or a serialized model (bytes; `name` says what it is in errors). With `profile_prefix`, onnxruntime's profiler
    records every call into a JSON trace under that prefix (`session.end_profiling()` names it).
    Raises ModelError when the file is missing or not a valid ONNX model.
    """
    import onnxruntime as ort

    p = path if isinstance(path, bytes) else Path(path)
    if not isinstance(p, bytes) and not p.is_file():
        raise ModelError(missing_model(p))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if profile_prefix is not None:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    try:
        return ort.InferenceSession(p if isinstance(p, bytes) else str(p), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        where = name if isinstance(p, bytes) else p
        raise ModelError(f"{where}: cannot load ONNX model ({str(err).splitlines()[0][:200]})") from None


def direct_run(session):
    """`session.run`'s C++ counterpart, called as run(output_names, feed, None): the same outputs without
    onnxruntime's Python-side check of the feed's names, about 3 us a call here (a detector's call on a 100 ms
    chunk is about 40). A missing input still fails, in the C++ session. onnxruntime's InferenceSession keeps
    that session as `_sess`; a release that does not gets `session.run` itself, which takes the same arguments."""
    inner = getattr(session, "_sess", None)
    run = getattr(inner, "run", None)
    return run if callable(run) else session.run


def session_metadata(session) -> dict:
    """The speechseq metadata of a loaded session ({} when it has none)."""
    return _parse_metadata(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY))


def graph_metadata(model) -> dict:
    """The speechseq metadata of an onnx.ModelProto ({} when it has none), as `session_metadata` reads it."""
    values = [p.value for p in model.metadata_props if p.key == METADATA_KEY]
    return _parse_metadata(values[-1] if values else None)  # the last, as onnxruntime reads a repeated key


def _parse_metadata(raw: str | None) -> dict:
    if raw is None:
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise ModelError(f"model metadata is not valid JSON ({err})") from None


def read_metadata(path: str | os.PathLike) -> dict:
    """The speechseq metadata of an ONNX file, read through onnxruntime ({} when it has none)."""
    return session_metadata(make_session(path))


def write_metadata(path: str | os.PathLike, meta: dict) -> None:
    """Store `meta` (JSON-serialisable) in the ONNX file at `path`, replacing earlier speechseq metadata."""
    import onnx

    model = onnx.load(str(path))
    props = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta, sort_keys=True)
    tmp = Path(str(path) + ".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, path)


def jsonable(obj):
    """`obj` with numpy scalars made Python numbers and tuples made lists, ready for json.dumps."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "shape", None) == ():  # numpy scalar
        return obj.item()
    return obj


def open_model(path: str | os.PathLike, kind: str, what: str, threads: int = 1,
               vocabulary: tuple[str, ...] | None = None):
    """A session for a speechseq model of `kind`, and its metadata; ModelError when the file is of
    another kind or (if `vocabulary` is given) was trained on another vocabulary."""
    session = make_session(path, threads)
    meta = session_metadata(session)
    if meta.get("kind") != kind:
        raise ModelError(f"{path}: not a speechseq {what} (kind {meta.get('kind')!r})")
    if vocabulary is not None and list(meta.get("vocabulary", [])) != list(vocabulary):
        raise ModelError(f"{path}: the model's vocabulary differs from speechseq.text.VOCAB")
    return session, meta


def missing_model(p: Path) -> str:
    """The message for a model path that is not a file: a folder is named as one."""
    return f"{p}: is a directory, not a model file" if p.is_dir() else f"{p}: no such model file"


def _split_name(model: str | os.PathLike) -> tuple[Path, str, str, str]:
    """models/x.stream.Int8.ONNX -> (the path, "x.stream", ".Int8", ".ONNX"): the name without its int8 tag and
    .onnx suffix (either of any case, kept as written; "" where absent), the tag, the suffix."""
    p = Path(model)
    name, suffix, quant = p.name, "", ""
    if name.lower().endswith(".onnx") and len(name) > 5:
        name, suffix = name[:-5], name[-5:]
    if name.lower().endswith(".int8") and len(name) > 5:
        name, quant = name[:-5], name[-5:]
    return p, name, quant, suffix


def twin_path(model: str | os.PathLike, tag: str) -> Path:
    """The file named for `model` with `tag`: x.onnx -> x.TAG.onnx. The .onnx suffix may have any case and is
    kept as written (x.ONNX -> x.TAG.ONNX; a name without it gains .TAG.onnx); an int8 tag is named last and
    once (x.int8.onnx -> x.TAG.int8.onnx; the int8 twin of x.stream.onnx is x.stream.int8.onnx, and of
    x.int8.onnx itself). The one naming rule of the int8, chunked ("stream") and decoder twins."""
    p, name, quant, suffix = _split_name(model)
    if tag.lower() == "int8":
        return p.with_name(f"{name}{quant or '.' + tag}{suffix or '.onnx'}")
    return p.with_name(f"{name}.{tag}{quant}{suffix or '.onnx'}")


def untagged(model: str | os.PathLike, tag: str = "int8") -> Path:
    """`model` without its int8 `tag` (any case): x.Int8.ONNX -> x.ONNX; a model without it, unchanged."""
    if tag.lower() != "int8":
        raise ValueError(f"only the int8 tag can be removed, not {tag!r}")
    p, name, quant, suffix = _split_name(model)
    return p.with_name(f"{name}{suffix}") if quant and suffix else p
