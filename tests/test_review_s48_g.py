"""Session 48 (G), review of the session's changes: a job with a speed or pitch synthesize refuses is one failed job
in synthesize_many, not the batch's end (train/synth.py job_identity); listen's --exec commands, in sessions of their
own, are ended when the terminal hangs up (commands/listen.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from speechseq.train.synth import SynthJob, Voice
from speechseq.train.synth_cache import job_path, synthesize_many

from .listener_fixtures import listening_with_exec, tiny_models  # noqa: F401  (fixture)


def test_a_job_with_factors_synthesize_refuses_is_skipped_not_the_batch(tmp_path, capsys):
    """The cache key came to hold how each job is made (job_identity: piper's length scale from 1/speed, espeak-ng's
    pitch setting from round(50 * pitch)): a piper job at speed 0 raised ZeroDivisionError, an espeak-ng one at speed
    NaN ValueError, at pitch inf OverflowError, from job_path, before any job ran, and the whole batch ended in a
    traceback. synthesize refuses those factors: each is one job skipped and said, as before."""
    bad = [SynthJob("yes", Voice("piper", "en_US-joe-medium"), 0.0),
           SynthJob("yes", Voice("espeak-ng", "en-us"), float("nan")),
           SynthJob("yes", Voice("espeak-ng", "en-us"), 1.0, float("inf")),
           SynthJob("yes", Voice("mbrola", "mb-us1"), -1.0, 9.0)]
    assert len({job_path(j, tmp_path) for j in bad}) == len(bad)
    assert synthesize_many(bad, tmp_path / "cache", workers=1, progress=False) == [None] * len(bad)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert [line.split(": ", 1)[1] for line in err.splitlines() if line.startswith("skipped job")] == [
        "ValueError: speed and pitch must be factors in [0.25, 4], got 0.0, 1.0",
        "ValueError: speed and pitch must be factors in [0.25, 4], got nan, 1.0",
        "ValueError: speed and pitch must be factors in [0.25, 4], got 1.0, inf",
        "ValueError: speed and pitch must be factors in [0.25, 4], got -1.0, 9.0"], err
    assert err.splitlines()[-1] == "4 of 4 jobs failed", err


# A command that writes its pid, then sleeps (the whole test if nothing ends it).
SLEEPER = """import os, sys, time
open(sys.argv[1] + '.part', 'w').write(str(os.getpid()))
os.replace(sys.argv[1] + '.part', sys.argv[1])
time.sleep(float(sys.argv[2]))
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (ended, not yet reaped by its parent, init here) counts as ended
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_terminal_hang_up_ends_the_exec_commands_too(tiny_models, tmp_path):  # noqa: F811
    """A terminal that closes sends SIGHUP to its foreground job, listen's process group; the --exec commands were
    in it and ended with listen. In sessions of their own (session 48, for Ctrl+C), they were left running for ever,
    away from any terminal, while listen died of the SIGHUP without its exit's clean-up. listen now ends them, as
    the hang-up would have, and exits."""
    mark = tmp_path / "pid"
    # (SIGHUP as a terminal's job has it: not nohup's, inherited)
    proc = listening_with_exec(tiny_models, tmp_path, SLEEPER, f"{mark} 120", mark, signal.SIGHUP,
                               stdout=subprocess.DEVNULL)
    pid = None
    try:
        pid = int(mark.read_text())
        os.killpg(proc.pid, signal.SIGHUP)                   # the terminal's hang-up, to its foreground job
        proc.wait(timeout=30)
        for _ in range(100):                                  # (ended by the time listen exits; a moment's slack)
            if not _alive(pid):
                break
            time.sleep(0.05)
        assert not _alive(pid), f"--exec command {pid} left running after listen's hang-up"
        assert proc.returncode == -signal.SIGHUP, proc.returncode     # died of it, as before
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if pid is not None and _alive(pid):
            os.killpg(pid, signal.SIGKILL)
