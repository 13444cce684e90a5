"""Two training commands into one --out at once (the same command in two terminals, a script starting it twice): the
second is refused in one line naming the folder and the first's pid, before any work, and the first's files are left
as they are; a run that ends, or is killed, lets go of its folder, so that a rerun resumes."""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main

from .another_user import as_another_user, shared_folder

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
TINY_LM = ("--hidden", "8", "--embed-dim", "4", "--batch-tokens", "256", "--threads", "1")
# a process holding OUT as a training run does (speechseq.commands.runs.only_run): flock on OUT/.lock, its pid in it
HOLD = ("import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); "
        "os.write(fd, str(os.getpid()).encode()); print('held', flush=True); sys.stdin.read()")


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def _refusal(out: Path, pid: int) -> str:
    return (f"speechseq: error: {out} is in use by another training run (pid {pid}): wait for it to end, or use "
            f"another --out")


@contextmanager
def _held(out: Path) -> Iterator[int]:
    """OUT held by another process (its pid) until the block ends."""
    out.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out / ".lock")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "held\n"
        yield proc.pid
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


@contextmanager
def _paused_lm(text: Path, out: Path, epochs: int) -> Iterator[subprocess.Popen]:
    """`speechseq train lm` in a process of its own, stopped (SIGSTOP) once it has said how many sentences it
    trains on (OUT made and held), before it trains; killed at the end unless the block let it finish."""
    proc = subprocess.Popen([sys.executable, "-m", "speechseq", "train", "lm", "--text", str(text), "--out", str(out),
                             "--epochs", str(epochs), *TINY_LM], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        while True:
            assert select.select([proc.stderr], [], [], 120)[0], "no line from `train lm` in 120 s"
            line = proc.stderr.readline()
            assert line, f"`train lm` ended first (code {proc.wait()})"
            if " sentences " in line:
                break
        os.kill(proc.pid, signal.SIGSTOP)
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"sentence number {i} of the corpus" for i in range(60)))
    return path


def test_a_second_lm_run_into_a_folder_in_training_is_refused_and_leaves_it_alone(corpus, tmp_path, capsys):
    """The same `train lm` started twice trained twice into OUT, each writing last.pt, best.pt and history.json over
    the other's. The second is one line, and the first trains on to its end as if alone."""
    out = tmp_path / "lm"
    with _paused_lm(corpus, out, epochs=2) as first:
        before = _files(out)
        code = main(["train", "lm", "--text", str(corpus), "--out", str(out), "--epochs", "2", *TINY_LM])
        err = capsys.readouterr().err
        assert (code, err.splitlines()) == (1, [_refusal(out, first.pid)])
        assert _files(out) == before
        os.kill(first.pid, signal.SIGCONT)
        _, first_err = first.communicate(timeout=300)
        assert first.returncode == 0, first_err[-2000:]
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1, 2]
    # its folder is free again: the same command with more epochs resumes
    assert main(["train", "lm", "--text", str(corpus), "--out", str(out), "--epochs", "3", *TINY_LM]) == 0
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1, 2, 3]


def test_a_killed_run_leaves_no_lock_behind(corpus, tmp_path, capsys):
    """A run killed (SIGKILL: no handler runs) while it holds OUT: the rerun is not refused."""
    out = tmp_path / "lm"
    with _paused_lm(corpus, out, epochs=1) as first:
        first.kill()
        first.wait()
    assert main(["train", "lm", "--text", str(corpus), "--out", str(out), "--epochs", "1", *TINY_LM]) == 0
    assert "in use" not in capsys.readouterr().err and (out / "last.pt").is_file()


def _tones(folder: Path, name: str, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        t = np.arange(int(16000 * (0.4 + 0.1 * i))) / 16000
        sf.write(folder / f"{name}-{i}.wav", 0.4 * np.sin(2 * np.pi * (200 + 50 * i) * t), 16000)
        paths.append(folder / f"{name}-{i}.wav")
    return paths


def _manifest(folder: Path) -> Path:
    rows = [{"audio_filepath": p.name, "text": t}
            for p, t in zip(_tones(folder, "a", 12), ["open the door", "play some music"] * 6)]
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "a.jsonl"


def test_train_detector_and_recognizer_into_a_held_folder_are_refused_before_any_work(tmp_path, capsys):
    """train detector built OUT/bank.npz and trained into a folder in use; train recognizer cached its features
    there (OUT/features) and trained: each is one line, and the folder keeps only what its holder put there."""
    _tones(tmp_path / "pos", "yes", 6)
    _tones(tmp_path / "neg", "no", 6)
    commands = {"detector": ["train", "detector", "--keyword", "yes", "--positives", str(tmp_path / "pos"),
                             "--negatives", str(tmp_path / "neg"), "--epochs", "1", "--steps", "2", "--batch", "4",
                             "--workers", "1"],
                "recognizer": ["train", "recognizer", "--manifest", str(_manifest(tmp_path / "m")), "--hidden", "8",
                               "--layers", "1", "--no-augment", "--epochs", "1"]}
    for name, argv in commands.items():
        out = tmp_path / name
        with _held(out) as pid:
            before = _files(out)
            code = main([*argv, "--out", str(out)])
            err = capsys.readouterr().err
            assert (code, err.splitlines()) == (1, [_refusal(out, pid)]), name
            assert _files(out) == before, name


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_torchrun_run_into_a_held_folder_stops_every_rank_in_one_line(tmp_path):
    """torchrun's ranks of train recognizer (speechseq.train.ddp) into a folder in use: rank 0 finds it held and
    every rank stops, said once (no rank left waiting for the others, no files written); a run into a free folder
    is held by rank 0 alone (the other ranks never take it, so they never wait for it)."""
    manifest = _manifest(tmp_path / "m")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp_path)}

    def torchrun(out: Path) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                               "--master-addr", "127.0.0.1", "--master-port", str(_free_port()), "-m",
                               "speechseq.train.ddp", "--manifest", str(manifest), "--out", str(out), "--epochs", "1",
                               "--hidden", "8", "--layers", "1", "--batch-seconds", "2", "--no-augment"],
                              env=env, capture_output=True, text=True, timeout=240)

    out = tmp_path / "held"
    with _held(out) as pid:
        before = _files(out)
        p = torchrun(out)
        assert p.returncode != 0 and p.stderr.count("speechseq: error:") == 1, p.stderr[-3000:]
        assert _refusal(out, pid) in p.stderr.splitlines(), p.stderr[-3000:]
        # torchrun adds its own report of the failed processes, never a rank's traceback
        assert "[rank0]: Traceback" not in p.stderr and "[rank1]: Traceback" not in p.stderr, p.stderr[-3000:]
        assert _files(out) == before
    p = torchrun(tmp_path / "free")
    assert p.returncode == 0, p.stderr[-3000:]
    assert (tmp_path / "free" / "last.pt").is_file()


def _probe(out: Path) -> tuple[int, str]:
    """Another process taking OUT as a run does: its exit code and what it said."""
    p = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path\nfrom speechseq.commands.runs "
                        "import only_run\nwith only_run(Path(sys.argv[1])): print('free')", str(out)],
                       capture_output=True, text=True, cwd=ROOT)
    return p.returncode, (p.stdout + p.stderr.strip().splitlines()[-1:][0] if p.stderr.strip() else p.stdout)


def test_a_forked_worker_does_not_keep_out_held(tmp_path):
    """A process forked while OUT is held (a pool of batch or synthesis workers) shared the holder's lock: OUT stayed
    held after the run while a worker lived (train recognizer keeps its batch workers for the process's life), and
    after a SIGKILL of the run until its workers ended. The worker drops it; the holder keeps it to the block's end."""
    import multiprocessing

    from speechseq.commands.runs import only_run

    out = tmp_path / "run"
    out.mkdir()
    with only_run(out):
        worker = multiprocessing.get_context("fork").Process(target=signal.pause)
        worker.start()
        try:
            code, said = _probe(out)
            assert code == 1 and f"in use by another training run (pid {os.getpid()})" in said, said
        except BaseException:
            worker.kill()
            raise
    try:
        assert _probe(out) == (0, "free\n")
    finally:
        worker.kill()
        worker.join()


def test_train_recognizer_with_workers_resumed_in_the_same_process(tmp_path, capsys):
    """`main([... train recognizer --workers 2 ...])` run again in one process (a notebook, a script resuming with
    more epochs) was refused naming this process's own pid: its batch workers, forked while it held OUT and kept for
    later epochs, held OUT still. The rerun resumes."""
    out = tmp_path / "rec"
    argv = ["train", "recognizer", "--manifest", str(_manifest(tmp_path / "m")), "--hidden", "8", "--layers", "1",
            "--no-augment", "--workers", "2", "--out", str(out)]
    assert main([*argv, "--epochs", "1"]) == 0
    capsys.readouterr()
    code = main([*argv, "--epochs", "2"])
    err = capsys.readouterr().err
    assert (code, "in use" in err) == (0, False), err[-2000:]
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1, 2]


@pytest.fixture
def shared(tmp_path) -> Iterator[Path]:
    """A folder two users train into (as a group's runs folder is)."""
    with shared_folder(tmp_path, 0o777) as folder:
        yield folder


def _as_another_user(out: Path) -> str:
    """What taking OUT as a run says, tried by a user who does not own OUT/.lock (tests.another_user): "free", the
    error's line, or the name of anything else raised."""
    import io
    from contextlib import redirect_stderr

    from speechseq.commands.runs import only_run
    from speechseq.errors import SpeechseqError

    def take() -> str:
        err, said = io.StringIO(), "nothing"
        with redirect_stderr(err):
            try:
                with only_run(out):
                    said = "free"
            except SpeechseqError as e:
                said = f"error: {e}"
        return said + err.getvalue()

    return as_another_user(take)


def test_another_users_lock_says_whether_out_is_in_use_not_permission_denied(shared):
    """OUT/.lock is written 0644: in a folder two users train into, another user's lock is one this user may read
    but not open for writing, and every run into OUT was 'Permission denied' (the lock's path, whatever it held).
    Held by the other user's run, it is refused as in use (its pid); left by a run that ended, OUT is this run's; a
    lock this user may not even read is one line saying so, and what to do; so is a folder with none, where this
    user may not make one (`python -m speechseq.train.stream_finetune` takes OUT as it is)."""
    out = shared / "run"
    with _held(out) as pid:           # the other user's run, training
        (out / ".lock").chmod(0o444)  # not this user's to write (root's 0644, to NOBODY)
        assert _as_another_user(out) == f"error: {out} is in use by another training run (pid {pid}): wait for it " \
                                         "to end, or use another --out"
    assert _as_another_user(out) == "free"  # the other user's run ended
    (out / ".lock").chmod(0o000)
    assert _as_another_user(out) == (f"error: {out}/.lock: cannot read this run lock (permission denied): whether "
                                     f"another user's run is training into {out} is unknown: use another --out, or "
                                     f"have the lock's owner delete it once no run uses {out}")
    closed = shared / "closed"        # no lock yet, and none this user may make
    closed.mkdir(mode=0o555)
    assert _as_another_user(closed) == f"error: {closed}: cannot write in it (permission denied): use another --out"


def test_a_lock_held_by_a_user_who_may_not_write_it_names_its_holder_not_an_old_run(shared):
    """Another user's OUT/.lock, held by a run that may only read it (so that it cannot write its pid there): a third
    run was told the pid the lock's owner wrote in an earlier run, long ended. It names the holder, or no pid."""
    from speechseq.commands.runs import only_run
    from speechseq.errors import SpeechseqError

    out = shared / "run"
    with _held(out) as old:          # the lock's owner, a run that ended: its pid stays in the file
        pass
    (out / ".lock").chmod(0o444)     # not this user's to write (root's 0644, to NOBODY)

    def twice() -> list:
        with only_run(out):          # held, its pid not written; then taken again (a third run)
            try:
                with only_run(out):
                    return [os.getpid(), "free"]
            except SpeechseqError as e:
                return [os.getpid(), str(e)]

    holder, said = as_another_user(twice)
    assert (out / ".lock").read_text() == str(old)
    assert said in (f"{out} is in use by another training run (pid {holder}): wait for it to end, or use another --out",
                    f"{out} is in use by another training run: wait for it to end, or use another --out")
    if Path("/proc/locks").exists():  # Linux says who holds a lock
        assert f"(pid {holder})" in said
