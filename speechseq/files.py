"""Files written whole or not at all: `written_atomically(out)` gives a temporary path beside `out` to write to,
renamed to `out` when the block ends without an error (the exports, transcribe's outputs)."""
from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["written_atomically"]


@contextlib.contextmanager
def written_atomically(out: Path) -> Iterator[Path]:
    """A temporary path beside `out` to write the whole file to (graph, then metadata), renamed to `out` when the
    block ends without an error: an export that fails or is interrupted leaves the file at `out` as it was (no
    graph without its metadata, no half file), and no temporary file behind."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name, the file made by the writer (mkstemp's would keep its 0600 mode through the rename)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{out.suffix}")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
