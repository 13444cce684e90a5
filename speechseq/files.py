"""Files written whole or not at all: `written_atomically(out)` gives a temporary path beside `out` to write to,
renamed to `out` when the block ends without an error (the exports, transcribe's outputs, record's takes). Text
files read as text or refused: `utf8_text(data)`, `text_lines(path)`."""
from __future__ import annotations

import contextlib
import errno
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["written_atomically", "utf8_text", "text_lines"]


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


def utf8_text(data: bytes) -> str:
    """`data` as text: UTF-8 without NUL bytes, a leading byte order mark dropped. ValueError naming the first byte
    that is not ("not a UTF-8 text file (byte 3: 0xe9)"): a Latin-1 "café" read with errors="ignore" was "caf", and
    a WAV file named by mistake is no text."""
    try:
        text = data.decode("utf-8")
        bad = data.find(b"\0")
    except UnicodeDecodeError as err:
        bad = err.start
    if bad >= 0:   # counted from the file's start (utf-8-sig counts from after a byte order mark)
        raise ValueError(f"not a UTF-8 text file (byte {bad}: 0x{data[bad]:02x})")
    return text.removeprefix("\ufeff")


def text_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file (utf8_text); SpeechseqError in one line where it cannot be read or is not
    text."""
    from .errors import SpeechseqError

    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise SpeechseqError(f"cannot read text file {path}: {err.strerror or err}") from None
    try:
        return utf8_text(data).splitlines()
    except ValueError as err:
        raise SpeechseqError(f"cannot read text file {path}: {err}; give plain text, one sentence a line") from None
