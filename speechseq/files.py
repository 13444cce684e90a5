"""Files written whole or not at all: `written_atomically(out)` gives a temporary path beside `out` to write to,
renamed to `out` when the block ends without an error (the exports, transcribe's outputs, record's takes). Text
files read as text or refused: `utf8_text(data)`, `text_lines(path)`, `checked_utf8(path)`, `read_utf8(path)`; a
text cut into lines as open() cuts them: `split_lines(text)`. A file's name on one line: `one_line(name)`. A keyword's
file name refused before any work where it is too long: `check_keyword_file`."""
from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["written_atomically", "utf8_text", "text_lines", "split_lines", "checked_utf8", "read_utf8", "one_line",
           "check_keyword_file"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_KEPT_ENDS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # str.splitlines' line ends that open() keeps in a line


def one_line(name: str) -> str:
    """A file's name on one line: a control character in it (Linux allows a newline there) as Python writes it in a
    string ("\\n"); every message and result line naming a file is one line, and a name's newline made it two, the
    second naming no file."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], name)


def check_keyword_file(keyword: str, out: Path, name: str, what: str, shown: str | None = None) -> None:
    """Refuse, before any work, a keyword whose file out/`name` (`what`: "its model", "its take files") would be longer
    than the folder's file system allows (NAME_MAX bytes, 255 on most), the name said as `shown` where given
    ("hey-robot-NNN.wav" for the takes up to `name`, "hey-robot-050.wav"): a keyword of 300 letters, or of 90
    Japanese characters, failed with "File name too long" only when the file was written, after `train detector`
    had trained to the end, or `record` had heard the first take. Refused, not shortened: the name is how a later
    run finds the file."""
    from .errors import SpeechseqError

    folder = out
    while not folder.exists() and folder != folder.parent:  # `out` is made later, once the options are checked
        folder = folder.parent
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # no limit this system says: the write will say it if there is one
        return
    size = len(os.fsencode(name))
    if limit is not None and limit > 0 and size > limit:
        raise SpeechseqError(f"keyword {keyword!r}: {what} would be named {shown or name}, {size} bytes, more than the "
                             f"{limit} a file name may have in {folder}: give a shorter keyword")


@contextlib.contextmanager
def written_atomically(out: Path, *, exclusive: bool = False) -> Iterator[Path]:
    """A temporary path beside `out` to write the whole file to (graph, then metadata), renamed to `out` when the
    block ends without an error: an export that fails or is interrupted leaves the file at `out` as it was (no
    graph without its metadata, no half file), and no temporary file behind. `exclusive`: a file at `out`, one
    made while this one was written (by another process too) included, is never replaced: FileExistsError.
    A file replaced is left as rewriting it would leave it (`_replace`): its mode, owner and group, and every name
    of a file of several (hard links)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary(out)
    try:
        yield tmp
        if exclusive:
            _place_new(tmp, out)
        else:
            _replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def _temporary(out: Path, most: int = 255) -> Path:
    """A fresh name beside `out`, the file made by the writer (mkstemp's would keep its 0600 mode through the
    rename), its suffix kept (a writer may choose the format by it), within the `most` bytes a name may have: `out`'s
    cut short where it is near them (80 Japanese characters were "File name too long")."""
    suffix = out.suffix if len(os.fsencode(out.suffix)) <= 32 else ""
    tag = f".{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffix}"
    name = out.name
    while name and len(os.fsencode(f".{name}{tag}")) > most:
        name = name[:-1]
    return out.with_name(f".{name}{tag}")


def _replace(tmp: Path, out: Path) -> None:
    """`tmp` as `out`, where a file may be: renamed over it with its mode, owner and group (the owner where this user
    is root, the group where it is one of this user's: root rewriting a user's model left it root's); a file of
    several names (hard links) written over in place instead, so that every name sees the new bytes (renamed, the
    other names kept the old file)."""
    try:
        st = os.lstat(out)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode):  # not a link: `out` itself is replaced, as before
        if st.st_nlink > 1 and hasattr(os, "pwrite") and _written_over(tmp, out, st.st_size):
            return
        try:  # a group this user is not in, a file system without owners (FAT): as this user made it
            if hasattr(os, "chown"):
                os.chown(tmp, st.st_uid if os.geteuid() == 0 else -1, st.st_gid)
        except OSError:
            pass
        try:  # after chown, which drops the set-id bits; the mode kept where the owner or group could not be
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        except OSError:
            pass
    os.replace(tmp, out)


def _written_over(tmp: Path, out: Path, size: int) -> bool:
    """`tmp`'s bytes (written whole: a writer that failed left `out` as it was) written over the file at `out`, the
    room for them taken first (a full disk fails there, the file as it was), in one write; False where this user
    may not open it for writing (it is replaced then, as a file of one name)."""
    data = tmp.read_bytes()
    try:
        fd = os.open(out, os.O_WRONLY)
    except PermissionError:
        return False
    try:
        if len(data) > size and hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, len(data))
            except OSError as err:
                os.ftruncate(fd, size)  # anything it added taken back
                if err.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):  # no such call on this system
                    raise
        done = 0
        try:
            while done < len(data):
                done += os.pwrite(fd, memoryview(data)[done:], done)
        finally:
            os.ftruncate(fd, len(data))  # a shorter file than before ends where the new bytes do
    finally:
        os.close(fd)
    return True


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
        text, end = data.decode("utf-8"), len(data)
    except UnicodeDecodeError as err:
        text, end = None, err.start
    _refuse_at(data, _first_bad(data, end, text is None), 0)
    return text.removeprefix("\ufeff")


def checked_utf8(path: str | os.PathLike, piece: int = 1 << 20) -> None:
    """ValueError as utf8_text's unless the file at `path` holds UTF-8 text (OSError where it cannot be read), read
    a `piece` at a time: a recording of 2 GB named by mistake is refused at its first bytes, not read whole first."""
    for _ in _checked_pieces(path, piece):
        pass


def read_utf8(path: str | os.PathLike, piece: int = 1 << 20) -> str:
    """The text of the file at `path`, checked as checked_utf8 checks it while it is read, in one read: a pipe
    (`--text <(zcat corpus.gz)`) can be read only once. Decoded as Path.read_text(encoding="utf-8") decodes it,
    but for its line ends, kept as they are (a byte order mark kept, as there)."""
    data = bytearray()  # grown in place: no list of pieces beside their join
    for block in _checked_pieces(path, piece):
        data += block
    return data.decode("utf-8")


def _checked_pieces(path: str | os.PathLike, piece: int) -> Iterator[bytes]:
    """The bytes of the file at `path`, a `piece` at a time (checked_utf8): ValueError as utf8_text's at the first byte
    that is no text, raised before the generator ends (a character cut at a piece's end is checked with the next)."""
    done, carry = 0, b""  # bytes checked before `carry`, the start of a character cut at the last piece's end
    with open(path, "rb") as f:
        while True:
            block = f.read(piece)
            data = carry + block
            try:
                data.decode("utf-8")
                end, broken = len(data), False
            except UnicodeDecodeError as err:  # a character cut at the piece's end is read whole with the next
                end, broken = err.start, bool(not block or err.reason != "unexpected end of data")
            _refuse_at(data, _first_bad(data, end, broken), done)
            if not block:
                return
            yield block
            done, carry = done + end, data[end:]


def _first_bad(data: bytes, end: int, broken: bool) -> int:
    """The first byte of `data` that is no text (-1: none): a NUL before `end`, where decoding stopped, or the byte at
    `end` where it is `broken` (a NUL before a byte that is not UTF-8 is the first)."""
    bad = data.find(b"\0", 0, end)
    return end if bad < 0 and broken else bad


def _refuse_at(data: bytes, bad: int, start: int) -> None:
    if bad >= 0:   # counted from the file's start (utf-8-sig counts from after a byte order mark)
        raise ValueError(f"not a UTF-8 text file (byte {start + bad}: 0x{data[bad]:02x})")


def split_lines(text: str) -> list[str]:
    """A text file's `text` as its lines, cut as open() cuts them (at \\n, \\r\\n or a lone \\r, none of them kept),
    a leading byte order mark dropped; as str.splitlines() but for the other characters it ends a line at (\\x0b,
    \\x0c, \\x1c-\\x1e, \\x85, \\u2028, \\u2029), kept in their line: a phrase, a transcript or a JSON row
    holding one (json.dumps(ensure_ascii=False) writes \\u2028 as it is) was cut in two, every later line numbered
    one on."""
    text = text.removeprefix("\ufeff")
    if "\r" in text:  # re.split took 4x splitlines' time on a corpus
        if not any(end in text for end in _KEPT_ENDS):  # splitlines cuts it so, with no copy of a CRLF corpus of GBs
            return text.splitlines()
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if not lines[-1]:  # the last line's end, or an empty text: no line after it
        lines.pop()
    return lines


def text_lines(path: str | os.PathLike) -> list[str]:
    """The lines of a UTF-8 text file (utf8_text); SpeechseqError in one line where it cannot be read or is not
    text."""
    from .errors import SpeechseqError

    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise SpeechseqError(f"cannot read text file {path}: {err.strerror or err}") from None
    try:
        return split_lines(utf8_text(data))
    except ValueError as err:
        raise SpeechseqError(f"cannot read text file {path}: {err}; give plain text, one sentence a line") from None
