"""onnxruntime sessions and the metadata every speechseq ONNX file carries.

Metadata is one JSON object stored under the key "speechseq" in the model's `metadata_props`
(readable by any ONNX tool, and by onnxruntime without the `onnx` package). Writing it needs the
`onnx` package (an export-time dependency); reading needs only onnxruntime.
"""
from __future__ import annotations

import contextlib
import json
import os
import shlex
import stat
from collections.abc import Iterator
from pathlib import Path

from ..checks import refuse, whole
from ..errors import SpeechseqError

__all__ = ["METADATA_KEY", "ModelError", "make_session", "read_metadata", "write_metadata", "session_metadata", "jsonable",
           "open_model", "direct_run", "graph_metadata", "twin_path", "untagged", "reading_metadata", "frontend_of",
           "check_inputs", "check_vocabulary", "check_model_file", "is_checkpoint", "missing_model", "MODEL_KINDS",
           "model_kind_error"]

METADATA_KEY = "speechseq"
# the speechseq models (their metadata's "kind") in words: what a file given where another kind is read is
MODEL_KINDS = {"detector": "a trigger-word detector", "recognizer": "a speech recogniser",
               "recognizer-stream": "a streaming speech recogniser", "lm": "a language model",
               "attention-decoder": "an attention decoder", "frontend": "a log-mel frontend"}


class ModelError(SpeechseqError):
    """A model file that is missing, unreadable, or not a speechseq model of the expected kind."""


def model_kind_error(path: str | os.PathLike, kind: object, wanted: str) -> str:
    """The one line for a model file whose metadata's `kind` is not `wanted` (a key of MODEL_KINDS): another speechseq
    model said as what it is ("PATH: a speech recogniser, not a trigger-word detector", as the commands say it); a
    kind speechseq does not make, named as it is."""
    if isinstance(kind, str) and kind in MODEL_KINDS and wanted in MODEL_KINDS:   # (damaged metadata: a list, say)
        return f"{path}: {MODEL_KINDS[kind]}, not {MODEL_KINDS[wanted]}"
    return f"{path}: not a speechseq {wanted} (metadata kind {kind!r})"


def make_session(path: str | os.PathLike | bytes, threads: int = 1, profile_prefix: str | None = None,
                 name: str = "merged model"):
    """An onnxruntime CPU session, single-threaded by default (predictable, and fair on shared machines).

    `path` is a file, or a serialized model (bytes; `name` says what it is in errors). With `profile_prefix`, onnxruntime's profiler
    records every call into a JSON trace under that prefix (`session.end_profiling()` names it).
    Raises ModelError when the file is missing or not a valid ONNX model. `threads`: a whole number >= 1, as the
    commands' --threads (ValueError otherwise: 0 and less were taken as 1, where onnxruntime reads 0 as every core).
    """
    import onnxruntime as ort

    refuse("onnxruntime session", [("threads", threads, whole(threads, 1), "a whole number >= 1")])
    p = path if isinstance(path, bytes) else Path(path)
    if not isinstance(p, bytes):
        check_model_file(p)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    if profile_prefix is not None:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    try:
        return ort.InferenceSession(p if isinstance(p, bytes) else _ort_path(p), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types
        where = name if isinstance(p, bytes) else p
        raise ModelError(f"{where}: cannot load ONNX model ({str(err).splitlines()[0][:200]})") from None


def _ort_path(p: Path) -> str | bytes:
    """`p` as onnxruntime takes a path (text it encodes as UTF-8), or the file's bytes where the name is no UTF-8: a
    Linux name is bytes, which Python names with surrogates, and onnxruntime refused those ("incompatible constructor
    arguments")."""
    try:
        str(p).encode("utf-8")
    except UnicodeEncodeError:
        return p.read_bytes()
    return str(p)


def direct_run(session):
    """`session.run`'s C++ counterpart, called as run(output_names, feed, None): the same outputs without
    onnxruntime's Python-side check of the feed's names, about 3 us a call here (a detector's call on a 100 ms
    chunk is about 40). A missing input still fails, in the C++ session. onnxruntime's InferenceSession keeps
    that session as `_sess`; a release that does not gets `session.run` itself, which takes the same arguments."""
    inner = getattr(session, "_sess", None)
    run = getattr(inner, "run", None)
    return run if callable(run) else session.run


def session_metadata(session, path: str | os.PathLike | None = None) -> dict:
    """The speechseq metadata of a loaded session ({} when it has none); ModelError, naming `path` (by default
    the file the session was made from), when it is not a JSON object."""
    where = path if path is not None else getattr(session, "_model_path", None)
    return _parse_metadata(session.get_modelmeta().custom_metadata_map.get(METADATA_KEY), where)


def graph_metadata(model, path: str | os.PathLike | None = None) -> dict:
    """The speechseq metadata of an onnx.ModelProto ({} when it has none), as `session_metadata` reads it."""
    values = [p.value for p in model.metadata_props if p.key == METADATA_KEY]
    return _parse_metadata(values[-1] if values else None, path)  # the last, as onnxruntime reads a repeated key


def _parse_metadata(raw: str | None, path: str | os.PathLike | None = None) -> dict:
    if raw is None:
        return {}
    where = f"{path}: " if path else ""
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ModelError(f"{where}model metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict):  # every reader asks it for keys
        raise ModelError(f"{where}model metadata is not a JSON object (a {type(meta).__name__})")
    return meta


def read_metadata(path: str | os.PathLike) -> dict:
    """The speechseq metadata of an ONNX file, read through onnxruntime ({} when it has none)."""
    return session_metadata(make_session(path), path)


def write_metadata(path: str | os.PathLike, meta: dict) -> None:
    """Store `meta` (JSON-serialisable) in the ONNX file at `path`, replacing earlier speechseq metadata. The file is
    replaced whole (a new file beside it, renamed over it: an interruption leaves it as it was), keeping its mode; a
    symlink's file is the one rewritten, the link kept."""
    import onnx

    from ..files import written_atomically

    path = Path(os.path.realpath(path))  # a symlink's file (the link was replaced, its target left as it was)
    model = onnx.load(str(path))
    props = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(props)
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(meta, sort_keys=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    with written_atomically(path) as tmp:  # interrupted or failed: the model as it was, no temporary file beside it
        onnx.save(model, str(tmp))
        os.chmod(tmp, mode)


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
    meta = session_metadata(session, path)
    if meta.get("kind") != kind:
        raise ModelError(f"{path}: not a speechseq {what} (kind {meta.get('kind')!r})")
    if vocabulary is not None:
        check_vocabulary(meta, path, vocabulary)
    return session, meta


def check_vocabulary(meta: dict, path: str | os.PathLike, vocabulary: tuple[str, ...]) -> None:
    """ModelError unless the metadata's "vocabulary" is `vocabulary`: the decoders spell with speechseq.text's."""
    given = meta.get("vocabulary")
    if not (isinstance(given, list) and given == list(vocabulary)):
        raise ModelError(f"{path}: the model's vocabulary differs from speechseq.text.VOCAB")


@contextlib.contextmanager
def reading_metadata(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Read a model's metadata fields inside: a missing field (KeyError) or a value of the wrong type (TypeError,
    ValueError) becomes one ModelError naming the file, as a user sees it, not a traceback."""
    try:
        yield
    except KeyError as err:
        raise ModelError(f"{path}: {what} metadata without {err.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as err:
        raise ModelError(f"{path}: {what} metadata not readable ({err})") from None


def frontend_of(meta: dict):
    """The FrontendConfig of a model's metadata ("frontend"), each setting a number of the field's type: KeyError or
    TypeError otherwise (raised inside `reading_metadata`). A dataclass takes any value, and a string n_mels would
    fail only in the first feature computation."""
    from ..frontend import FrontendConfig

    settings = meta["frontend"]
    if not isinstance(settings, dict):
        raise TypeError(f"'frontend' is {settings!r}, not an object of settings")
    defaults = FrontendConfig()
    for name, value in settings.items():
        want = type(getattr(defaults, name, None))
        if want not in (int, float):
            raise TypeError(f"frontend setting {name!r} is unknown to this version")
        if isinstance(value, bool) or not isinstance(value, (int, float) if want is float else int):
            raise TypeError(f"frontend setting {name!r} is {value!r}, not a{'n int' if want is int else ' number'}")
    # in range, or ValueError "frontend settings out of range: ..." (FrontendConfig's own check)
    return FrontendConfig(**settings)


def check_inputs(session, path: str | os.PathLike, what: str, shapes: dict[str, tuple[int | None, ...]]) -> None:
    """ModelError unless the graph has each input of `shapes` with those sizes (None: any) where its own are fixed:
    metadata that does not describe its graph fails here, not in the first run."""
    graph = {i.name: i.shape for i in session.get_inputs()}
    for name, want in shapes.items():
        if name not in graph:
            raise ModelError(f"{path}: a {what} graph without the input {name!r} (it has {sorted(graph)})")
        got = graph[name]
        if len(got) != len(want) or any(isinstance(g, int) and w is not None and g != w for g, w in zip(got, want)):
            raise ModelError(f"{path}: input {name!r} of the graph is {list(got)}, its metadata says "
                             f"{['*' if w is None else w for w in want]}")


def check_model_file(p: Path) -> None:
    """ModelError, before the file is parsed, where `p` is no model file: missing, a folder, or a training checkpoint
    (which onnxruntime calls "INVALID_PROTOBUF": the message names the export that makes a model of it)."""
    if not p.is_file():
        raise ModelError(missing_model(p))
    if is_checkpoint(p):
        # a checkpoint named .onnx: the export's output beside it, not over it (the run's weights)
        out = p.with_suffix(".onnx") if p.suffix.lower() != ".onnx" else p.with_name(f"{p.stem}-model.onnx")
        raise ModelError(f"{p}: a training checkpoint, not an ONNX model: export it first (speechseq export "
                         f"{shlex.quote(str(p))} --out {shlex.quote(str(out))})")


def is_checkpoint(p: Path) -> bool:
    """Whether the file is one torch.save wrote (a training checkpoint, .pt): a zip archive holding data.pkl, or a
    pickle (torch's legacy format). An ONNX file starts otherwise (a protobuf's first field, 0x08)."""
    try:
        with open(p, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    if len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5:  # a pickle's PROTO opcode
        return True
    if head != b"PK\x03\x04":
        return False
    import zipfile

    try:
        with zipfile.ZipFile(p) as z:
            return any(n.rsplit("/", 1)[-1] == "data.pkl" for n in z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False


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
