"""Detector graphs as the runtime runs them, kept on disk, so that a load that finds them needs no `onnx` import.

The runtime rewrites each detector file's graph (speechseq.runtime.detector_graph.load_graph) and merges several into one
(graph_merge). Both need the onnx package, whose import costs more than the rest of a short `speechseq detect` run:
about 0.6 s (most of it ml_dtypes, which onnx.helper imports) and 17 MB of resident memory, measured in session 36.
So the result, the graph's bytes with a JSON record of what the runtime needs beside them, is written once into a
cache folder and read from there afterwards.

    graph, record, _ = cached("detector", [path], build)  # build(files' bytes) -> (bytes, record, extra, keep)

The key is a SHA-256 of the kind, the model files' bytes, the source of the code that rewrites them and the onnx
release, so an edited model or changed code never reads an old entry; build() gets the very bytes the key was made
of, so a file replaced meanwhile cannot put its graph under the old file's key. An entry whose graph and record do
not match the digest stored with them is built again. Folder: $SPEECHSEQ_CACHE, else $XDG_CACHE_HOME/speechseq
(an absolute path), else ~/.cache/speechseq, and in it graphs/, which keeps the MAX_ENTRIES most recently used.
Where it cannot be read or written, or the code's source is not installed, the graph is built every time, as
without a cache. The digest guards against damage, not against someone who may write in the folder: keep it
private (a shared folder is no place for it).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["MAX_ENTRIES", "cache_folder", "cached"]

MAX_ENTRIES = 64  # graphs kept, about 1 MB each; the least recently used go first
# The modules whose code decides the runtime's graphs and records: a change to any of them is a new key.
_CODE = ("detector.py", "detector_graph.py", "conv_taps.py", "conv_blocks.py", "one_stream.py", "graph_merge.py",
         "graph_edit.py", "graph_cache.py", "onnx.py")
_STALE_S = 3600.0  # a graph without its record, or a temporary file, older than this is a writer's leftover
_code_digest: str | None = None


def cache_folder() -> Path | None:
    """Where the graphs are kept ($SPEECHSEQ_CACHE, else an absolute $XDG_CACHE_HOME/speechseq, else
    ~/.cache/speechseq); None where there is no home folder to put it in."""
    if os.environ.get("SPEECHSEQ_CACHE"):
        return Path(os.environ["SPEECHSEQ_CACHE"]) / "graphs"
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):
        return Path(xdg) / "speechseq" / "graphs"
    home = os.path.expanduser("~")
    return Path(home) / ".cache" / "speechseq" / "graphs" if os.path.isabs(home) and home != "/" else None


def _code() -> str | None:
    """The digest of the rewriting code and the onnx release; None where the sources are not installed."""
    global _code_digest
    if _code_digest is None:
        import importlib.util

        h = hashlib.sha256()
        try:
            for name in _CODE:
                h.update(name.encode() + b"\0" + (Path(__file__).parent / name).read_bytes())
        except OSError:  # an installation of compiled files only
            return None
        # the onnx release: its installed metadata's folder names it (found, not imported; importlib.metadata
        # would cost 40 ms, a sixth of a short detect run)
        spec = importlib.util.find_spec("onnx")
        if spec is not None and spec.origin:
            h.update("\0".join(sorted(p.name for p in Path(spec.origin).parents[1].glob("onnx-*-info"))).encode())
        _code_digest = h.hexdigest()
    return _code_digest


def _digest(graph: bytes, record: dict) -> str:
    return hashlib.sha256(graph + b"\0" + json.dumps(record, sort_keys=True).encode()).hexdigest()


def _read(folder: Path, key: str) -> tuple[bytes, dict] | None:
    try:
        stored = json.loads((folder / f"{key}.json").read_text())
        graph = (folder / f"{key}.onnx").read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or not isinstance(stored.get("record"), dict):
        return None
    if stored.get("sha256") != _digest(graph, stored["record"]):
        return None
    return graph, stored["record"]


def _replace(path: Path, data: bytes) -> None:
    """Write `path` whole: a new private file (O_EXCL, so no planted link is followed), then renamed over it."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _tidy(folder: Path) -> None:
    """Drop the least recently used entries beyond MAX_ENTRIES, and a killed writer's leftovers."""
    def mtime(p: Path) -> float:
        try:
            return p.stat().st_mtime
        except OSError:  # gone meanwhile
            return float("inf")

    def drop(p: Path) -> None:
        try:
            p.unlink(missing_ok=True)
        except OSError:  # not a file, or not ours: the others still go
            pass

    entries = sorted(folder.glob("*.json"), key=mtime)
    for old in entries[: max(0, len(entries) - MAX_ENTRIES)]:
        drop(old)
        drop(old.with_suffix(".onnx"))
    now = time.time()
    for p in [*folder.glob("*.tmp"), *(g for g in folder.glob("*.onnx") if not g.with_suffix(".json").exists())]:
        if now - mtime(p) > _STALE_S:
            drop(p)


def _write(folder: Path, key: str, graph: bytes, record: dict) -> None:
    """The graph first, then its record (which a reader needs to accept the graph); then the folder tidied."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _replace(folder / f"{key}.onnx", graph)
        _replace(folder / f"{key}.json", json.dumps({"record": record, "sha256": _digest(graph, record)}).encode())
        _tidy(folder)
    except OSError:  # a read-only or full disk, or another process tidying at the same time
        pass


def cached(kind: str, paths: Sequence[str | os.PathLike],
           build: Callable[[list[bytes]], tuple[bytes, dict, Any, bool]]) -> tuple[bytes, dict, Any]:
    """(graph bytes, record, extra) for the model files `paths`: from the cache (extra None), or build(their bytes,
    as read once here) -> (graph bytes, record, extra, keep), kept where keep is true. The record is a dict of
    JSON values; extra is anything the caller made on the way (a session). OSError where a file cannot be read;
    what build() raises, where it raises (nothing is kept then)."""
    data = [Path(p).read_bytes() for p in paths]
    code, folder = _code(), cache_folder()
    if code is None or folder is None:
        return build(data)[:3]
    h = hashlib.sha256(f"{kind}\0{code}".encode())
    for d in data:
        h.update(len(d).to_bytes(8, "little") + d)
    key = h.hexdigest()
    hit = _read(folder, key)
    if hit is not None:
        try:
            os.utime(folder / f"{key}.json")  # recently used: the last to go
        except OSError:
            pass
        return (*hit, None)
    graph, record, extra, keep = build(data)
    if keep:
        _write(folder, key, graph, record)
    return graph, record, extra
