"""Files written whole or not at all: `written_atomically(out)` gives a temporary path beside `out` to write to,
renamed to `out` when the block ends without an error (the exports, transcribe's outputs, record's takes)."""
from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["written_atomically"]


@contextlib.contextmanager
def written_atomically(out: Path, *, exclusive: bool = False) -> Iterator[Path]:
    """A temporary path beside `out` to write the whole file to (graph, then metadata), renamed to `out` when the
    block ends without an error: an export that fails or is interrupted leaves the file at `out` as it was (no
    graph without its metadata, no half file), and no temporary file behind. `exclusive`: a file at `out`, one
    made while this one was written (by another process too) included, is never replaced: FileExistsError."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # a fresh name, the file made by the writer (mkstemp's would keep its 0600 mode through the rename)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{out.suffix}")
    try:
        yield tmp
        if exclusive:
            _place_new(tmp, out)
        else:
            os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _place_new(tmp: Path, out: Path) -> None:
    """`tmp` as `out`, where no file is: a hard link, made or refused at once (a check, then a rename, can
    replace a file made in between)."""
    try:
        os.link(tmp, out)
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links (FAT, some network shares): the check, then the rename
        if os.path.lexists(out):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(out)) from None
        os.replace(tmp, out)
