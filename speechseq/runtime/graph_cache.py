"""Detector graphs as the runtime runs them, kept on disk, so that a load that finds them needs no `onnx` import.

The runtime rewrites each detector file's graph (speechseq.runtime.detector.load_graph) and merges several into one
(graph_merge). Both need the onnx package, whose import costs more than the rest of a short `speechseq detect` run:
about 0.6 s (most of it ml_dtypes, which onnx.helper imports) and 17 MB of resident memory, measured in session 36.
So the result, the graph's bytes with a JSON record of what the runtime needs beside them, is written once into a
cache folder and read from there afterwards.

    graph, record = cached("detector", [path], build)    # build() -> (bytes, record), called on a miss only

The key is a SHA-256 of the kind, the model files' bytes and the source of the code that rewrites them, so an edited
model or changed code never reads an old entry; an entry whose graph does not match the digest in its record is
built again. Folder: $SPEECHSEQ_CACHE, else $XDG_CACHE_HOME/speechseq, else ~/.cache/speechseq, and in it graphs/,
which keeps the MAX_ENTRIES most recently used. Where it cannot be read or written, the graph is built every time, as
without a cache.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["cache_folder", "cached"]

# The modules whose code decides the runtime's graphs: a change to any of them is a new key.
_CODE = ("detector.py", "conv_taps.py", "conv_blocks.py", "one_stream.py", "graph_merge.py", "graph_edit.py",
         "graph_cache.py")
_code_digest: str | None = None
MAX_ENTRIES = 64  # graphs kept, about 1 MB each; the least recently used go first


def cache_folder() -> Path | None:
    """Where the graphs are kept ($SPEECHSEQ_CACHE, else $XDG_CACHE_HOME/speechseq, else ~/.cache/speechseq); None
    where there is no home folder to put it in."""
    if os.environ.get("SPEECHSEQ_CACHE"):
        return Path(os.environ["SPEECHSEQ_CACHE"]) / "graphs"
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "speechseq" / "graphs"
    home = os.path.expanduser("~")
    return Path(home) / ".cache" / "speechseq" / "graphs" if home != "~" else None


def _code() -> str:
    global _code_digest
    if _code_digest is None:
        h = hashlib.sha256()
        for name in _CODE:
            h.update(name.encode() + b"\0" + (Path(__file__).parent / name).read_bytes())
        _code_digest = h.hexdigest()
    return _code_digest


def _key(kind: str, paths: Sequence[str | os.PathLike]) -> str:
    h = hashlib.sha256(f"{kind}\0{_code()}".encode())
    for p in paths:
        data = Path(p).read_bytes()
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def _read(folder: Path, key: str) -> tuple[bytes, dict] | None:
    try:
        record = json.loads((folder / f"{key}.json").read_text())
        graph = (folder / f"{key}.onnx").read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("sha256") != hashlib.sha256(graph).hexdigest():
        return None
    return graph, record


def _write(folder: Path, key: str, graph: bytes, record: dict) -> None:
    """The graph first, then its record (which a reader needs to accept the graph), each replaced whole; then the
    least recently used entries beyond MAX_ENTRIES go (every trained and evaluated model makes one)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in ((f"{key}.onnx", graph), (f"{key}.json", json.dumps(record).encode())):
            tmp = folder / f"{name}.{os.getpid()}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, folder / name)
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in entries[: max(0, len(entries) - MAX_ENTRIES)]:
            for p in (old, old.with_suffix(".onnx")):
                p.unlink(missing_ok=True)
    except OSError:  # a read-only or full disk, or another process tidying at the same time
        pass


def cached(kind: str, paths: Sequence[str | os.PathLike], build: Callable[[], tuple[bytes, dict]]) -> tuple[bytes, dict]:
    """(graph bytes, record) for the model files `paths`: from the cache, or build() and keep it. The record is
    build()'s dict (JSON values) with "sha256", the graph's digest, added. OSError where a file cannot be read."""
    key, folder = _key(kind, paths), cache_folder()
    hit = _read(folder, key) if folder is not None else None
    if hit is not None:
        try:
            os.utime(folder / f"{key}.json")  # recently used: the last to go
        except OSError:
            pass
        return hit
    graph, record = build()
    record = {**record, "sha256": hashlib.sha256(graph).hexdigest()}
    if folder is not None:
        _write(folder, key, graph, record)
    return graph, record
