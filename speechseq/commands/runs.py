"""A training run's folder (OUT): whether a rerun of `speechseq train ...` may resume what it holds.

A rerun resumes from OUT/last.pt (and the detector's OUT/bank.npz). Resuming a run of other data, of another model
size or from a damaged file would train the wrong thing, or fail with a traceback deep in torch: these checks say so
in one line first, with what to do. A run holds its OUT while it trains (`only_run`): a second command into it
is refused at once; then one it cannot write in (`writable_out`). The train commands take OUT through `held_out`,
which removes the lock (and the folders made for it) again where the input fails before anything is written.
"""
from __future__ import annotations

import errno
import os
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import SpeechseqError

try:
    import fcntl
except ImportError:  # Windows: runs are not locked
    fcntl = None

_HELD: set[int] = set()  # the descriptors of the locks this process holds (only_run)


def _drop_held() -> None:
    """In a process forked while OUT is held (a pool of batch or synthesis workers): its copy of the lock closed. A
    flock belongs to the open file, which a fork shares: a worker kept OUT held after its run (train recognizer keeps
    its workers for the process's life), and after a SIGKILL of the run until the last worker ended."""
    for fd in _HELD:
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_held)


@contextmanager
def only_run(out: Path) -> Iterator[None]:
    """OUT held by this process while the block runs: an exclusive lock on OUT/.lock (with this pid in it, unless
    the file is another user's: `_open_lock`), so that a second training into the same OUT (the command run twice)
    is refused in one line before any work, instead of both writing last.pt, the snapshots and the bank over each
    other. The OS lets go of it when the process ends, so a killed run leaves none behind and its rerun resumes; a
    process forked meanwhile (a worker) does not hold it."""
    if fcntl is None:
        yield
        return
    path = Path(out) / ".lock"
    fd = _taken(path, out)
    try:
        yield
    finally:
        _let_go(fd)


LOCK_TRIES = 10  # OUT/.lock found removed or replaced once locked: taken again at most so many times


def _taken(path: Path, out: Path) -> int:
    """OUT/.lock open and locked by this process (only_run), the file OUT names now: a lock opened just before a run
    removed it (held_out removes the lock it made when the run's input fails, while it holds it) was locked
    once that run let go, a removed file, while a third run made a new OUT/.lock and held it too: two runs trained
    into OUT. So a lock that is no longer OUT's once locked is let go and OUT's taken instead."""
    for _ in range(LOCK_TRIES):
        fd, mine = _open_lock(path, out)  # not mine: another user's lock, its pid left as it is
        _HELD.add(fd)
        try:
            locked = _locked(fd, out)
        except BaseException:
            _let_go(fd)
            raise
        if not locked:  # a file system without locks: nothing to hold
            return fd
        if _names(path, fd):
            if mine:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
            return fd
        _let_go(fd)
    raise SpeechseqError(f"{out}: its run lock {path} was removed or replaced each time this run took it "
                         f"({LOCK_TRIES} times): start one run at a time")


def _locked(fd: int, out: Path) -> bool:
    """The lock open at `fd` locked by this process, True; False (and a warning) on a file system without locks;
    an error where another run holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _holder(fd)
        holder = f" (pid {pid})" if pid else ""
        raise SpeechseqError(f"{out} is in use by another training run{holder}: wait for it to end, or use "
                             f"another --out") from None
    except OSError as err:  # a file system without locks (some network mounts): train as before
        from .common import warn

        warn(f"{out}: cannot lock it against a second run into it ({err.strerror or err}): start one at a time")
        return False
    return True


def _names(path: Path, fd: int) -> bool:
    """Whether `path` names the file open at `fd` (not removed, nor replaced by another since it was opened)."""
    try:
        now = os.stat(path)
    except OSError:  # removed (or OUT itself)
        return False
    was = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (was.st_dev, was.st_ino)


def _let_go(fd: int) -> None:
    """The lock open at `fd` closed, and so let go of, unless a process forked while it was held closed its copy
    (_drop_held)."""
    if fd in _HELD:
        _HELD.discard(fd)
        os.close(fd)


PROBE_BYTES = 1 << 20  # written to OUT before a run: a disk with less room left is full for training's files


def writable_out(out: Path) -> None:
    """An error unless this process can make a file of PROBE_BYTES in OUT (removed at once), checked by every train
    command once it holds OUT (`only_run`, which says first whether another run trains there): the first write to
    OUT was the first checkpoint, so a full disk (or a folder where no file can be made: os.access passes /proc for
    root) was found an epoch later, the recogniser's features or the detector's bank made for nothing."""
    probe = Path(out) / f".write-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as err:
        raise _cannot_write(out, err) from None
    try:
        block, written = bytes(1 << 16), 0
        while written < PROBE_BYTES:
            done = os.write(fd, block[: PROBE_BYTES - written])
            if not done:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written += done
    except OSError as err:
        raise _cannot_write(out, err) from None
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


@contextmanager
def held_out(path: str | Path) -> Iterator[Path]:
    """OUT made, held by this run (only_run: the run lock OUT/.lock) and written to (writable_out) before the input
    is read: OUT held by another run, or one that cannot be written, is said first, not after GBs of input. Where
    the block fails before anything is written to OUT, the lock file and the folders made for it are removed again:
    an error of the input (a missing manifest, a --synth folder of another keyword) leaves no folder behind, nor a
    lock in a folder that was there. Every train command takes OUT so; a run that wrote something keeps it (a rerun
    resumes from it)."""
    from .common import folder_named, output_dir

    wanted = folder_named(path, "--out")
    made = [p for p in (wanted, *wanted.parents) if not p.exists()]  # deepest first
    new_lock = not (wanted / ".lock").exists()
    out = output_dir(path, "--out")
    with only_run(out):
        writable_out(out)
        try:
            yield out
        except BaseException:
            if new_lock and [p.name for p in out.iterdir()] == [".lock"]:
                (out / ".lock").unlink()  # while it is held: a run that opened it meanwhile takes OUT's new one
                # once it has this one (only_run), never this removed file
                for p in made:
                    try:
                        p.rmdir()
                    except OSError:  # it holds another's files: kept, and the folders above it
                        break
            raise


def _cannot_write(out: Path, err: OSError) -> SpeechseqError:
    """writable_out's one line: the system's reason, and room to make where the disk is full."""
    why = "permission denied" if isinstance(err, PermissionError) else (err.strerror or str(err)).lower()
    room = "free some space on it, or " if err.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return SpeechseqError(f"{out}: cannot write in it ({why}): {room}use another --out")


def _holder(fd: int) -> str | None:
    """The pid of the process that holds the lock open at `fd`, None where it is not known: the one the system lists
    (Linux's /proc/locks), else the one in the file while that process lives. The file's alone misled: a run that
    may only read another user's lock writes no pid there, and the pid of that user's last run, long ended, was
    named as the holder."""
    st = os.fstat(fd)
    try:
        with open("/proc/locks", "rb") as f:  # bytes: no codec to look up (a run as another user may read none)
            table = [line.decode("ascii", "replace").split() for line in f]
    except OSError:
        table = []
    # "1: FLOCK  ADVISORY  WRITE 2790 fe:00:2146631 0 EOF" (a waiter's line has "->" after "1:": never this one's)
    flocks = [(row[4], row[5]) for row in table if len(row) > 5 and row[1] == "FLOCK"]
    here = [pid for pid, at in flocks if at == f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"]
    inode = [pid for pid, at in flocks if at.rsplit(":", 1)[-1] == str(st.st_ino)]
    if here or len(inode) == 1:  # the device as the kernel names it (btrfs's stat gives another): the inode alone
        pid = (here or inode)[0]
        return pid if pid.isdigit() and pid != "0" else None  # 0: a process outside this pid namespace
    pid = os.read(fd, 32).decode("ascii", "replace").strip()
    if not pid.isdigit() or int(pid) == 0:  # 0 would ask after this process's group
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:  # ended: it is not the holder
        return None
    except (PermissionError, OverflowError):  # another user's process (alive); a number no pid is
        return pid if int(pid) < 2**31 else None
    return pid


def _open_lock(path: Path, out: Path) -> tuple[int, bool]:
    """OUT/.lock open to be locked, and whether for writing: made 0644 when there is none, so that in a folder two
    users train into the other's is open for reading only, which flock locks all the same ('Permission denied'
    was every run's line, held or not). One line where this user may not even read it (whether a run holds OUT
    is then unknown), or there is none and this user may not make one."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644), True  # not truncated: it names the holder
    except PermissionError:
        pass
    except OSError as err:  # a folder where no file can be made (/proc), a read-only disk: as writable_out says it
        raise _cannot_write(out, err) from None
    try:
        return os.open(path, os.O_RDONLY), False
    except FileNotFoundError:  # none, and none this user may make
        raise SpeechseqError(f"{out}: cannot write in it (permission denied): use another --out") from None
    except PermissionError:
        raise SpeechseqError(f"{path}: cannot read this run lock (permission denied): whether another user's run is "
                             f"training into {out} is unknown: use another --out, or have the lock's owner delete it "
                             f"once no run uses {out}") from None


def run_path(path: str | Path, out: Path) -> str:
    """A data path as a run records it: inside OUT relative to it ("OUT/synth/positives.jsonl"), so that a run
    folder moved or renamed with its data still resumes; elsewhere absolute."""
    p, root = Path(path).resolve(), Path(out).resolve()
    return f"OUT/{p.relative_to(root).as_posix()}" if p.is_relative_to(root) else str(p)


def read_last(out: Path) -> dict | None:
    """OUT/last.pt as torch reads it, None when there is none; one line naming it when it is a folder, this user
    may not read it, or it is damaged (only then is deleting it the advice)."""
    import torch

    last = out / "last.pt"
    if not last.exists():
        return None
    if last.is_dir():
        raise SpeechseqError(f"{last}: is a directory, not a checkpoint: move it out of {out}, or use a new --out")
    try:
        return torch.load(last, map_location="cpu", weights_only=False)
    except PermissionError:  # the checkpoint may be sound
        raise SpeechseqError(f"{last}: cannot read it (permission denied): make it readable (chmod u+r), or use a "
                             "new --out") from None
    except Exception as err:  # noqa: BLE001 - truncated, not a zip, not a checkpoint: the same advice
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err).split(". ")[0]
        best = out / "best.pt"
        raise SpeechseqError(f"{last}: cannot read the checkpoint, cut short or damaged ({why}): delete it to start "
                             "over" + (f", or copy {best} over it to go on from the best epoch" if best.exists()
                                       else "")) from None


def same_data(out: Path, before: dict | None, now: dict) -> None:
    """An error unless the run in `out` was made from the same data (`before`: option -> value as recorded,
    None when not recorded) as this one: a rerun would resume on the old features or weights."""
    for option, value in now.items():
        if before is not None and option in before and before[option] != value:
            was = before[option]
            if isinstance(was, list):
                was = " ".join(was) or "none"
            elif was is None:
                was = "none"
            raise SpeechseqError(f"{out} holds a run on other data ({option} was {was}): use a new --out, "
                                 f"or delete {out} to start over")


def resumable(out: Path, kind: str, model_config: dict, options: dict[str, str], sources: dict,
              select: str | None = None) -> dict | None:
    """An error unless OUT/last.pt, when there is one, can be read and holds a `kind` run of this model
    (`model_config`; `options` names the option of each key) on these data (`sources`, as `same_data`)
    whose best.pt was chosen by `select`: the training loop would otherwise fail on its weights with a
    traceback, or resume on other data and compare unlike scores to choose best.pt. Returns the checkpoint
    read (None without one), for further checks without reading it again."""
    last = out / "last.pt"
    ck = read_last(out)
    if ck is None:
        return None
    fix = f"use a new --out, or delete {out} to start over"
    was_kind = ck.get("kind") if isinstance(ck, dict) else None
    if was_kind != kind:
        a = "an" if kind == "lm" or kind[:1] in "aeiou" else "a"  # "an lm run": said el-em
        raise SpeechseqError(f"{last} is not a checkpoint of {a} {kind} run ({was_kind or 'no kind'}): {fix}")
    same_data(out, (ck.get("extra") or {}).get("sources"), sources)
    before = ck.get("model_config") or {}
    for key, now in model_config.items():
        if key in before and before[key] != now:
            what = f"{options[key]} {before[key]}" if key in options else f"{key}={before[key]!r}"
            raise SpeechseqError(f"{out} was made with {what} ({last}), not {now}: {fix}")
    chosen = (ck.get("best") or {}).get("select")
    if select and chosen and chosen != select:
        raise SpeechseqError(f"{out}/best.pt was chosen by {chosen}, this run would choose by {select} (other "
                             f"data?): {fix}")
    return ck


def last_run(out: Path) -> dict:
    """The keyword and sources of the run in `out` as its last.pt records them ({} when it has none), so that a
    rerun is checked against them even when OUT/bank.npz was deleted."""
    from ..train.detector import KIND

    last = out / "last.pt"
    ck = read_last(out)
    if ck is None:
        return {}
    kind = ck.get("kind") if isinstance(ck, dict) else None
    if kind != KIND:
        what = f"a {kind!r} checkpoint" if kind else "no checkpoint of a training run (no kind)"
        raise SpeechseqError(f"{last} is {what}, not a detector's: use a new --out")
    return {k: v for k, v in (ck.get("extra") or {}).items() if k in ("keyword", "sources")}


def same_run(out: Path, meta: dict, keyword: str, sources: dict[str, list[str]]) -> None:
    """An error unless the run in `out` (its bank's `meta`, or its last.pt's, `last_run`) is of this keyword and
    these sources: a rerun resumes from OUT/bank.npz and OUT/last.pt, which other data would silently leave in
    place."""
    if same_keyword(meta.get("keyword", keyword)) != same_keyword(keyword):
        raise SpeechseqError(f"{out} holds a run for keyword {meta['keyword']!r}, not {keyword!r}: use a new --out, "
                             f"or delete {out} to start over")
    before = meta.get("sources")  # absent in banks built before it was recorded
    if before is not None:  # the order of a detector's folders does not matter
        same_data(out, {k: sorted(before.get(k, [])) for k in sources}, {k: sorted(v) for k, v in sources.items()})


def same_keyword(keyword: str) -> str:
    """A keyword as runs compare it: without regard to case, spacing or how its accents are encoded ("Activate" is
    "activate", as its clips are found: speechseq.train.words.contains_keyword). Not text.normalize, which keeps
    only the letters a-z: every Cyrillic keyword would be the same."""
    return " ".join(unicodedata.normalize("NFC", keyword).casefold().split())
