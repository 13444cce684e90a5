"""Interrupting a child Python process as a terminal's Ctrl+C (SIGINT to its process group) or `kill PID` (SIGTERM)
does, for the tests of what a run keeps and how fast it stops."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from typing import Callable


def interrupted_run(argv: list[str], how: str, after_s: float, within_s: float, timeout_s: float,
                    ready: Callable[[], bool] | None = None, poll_s: float = 0.02) -> tuple[str, str, int]:
    """Run `python argv...` in a session of its own, wait for its first stdout line to be "started", then `after_s`,
    and then (when given) until `ready()` is true, checked every `poll_s` (fails when the child exits first or it
    takes `timeout_s`: a busy machine only delays the interrupt), send Ctrl+C ("ctrl-c": SIGINT to the process
    group) or SIGTERM ("kill"), and wait for it: (stdout, stderr, return code). Fails when it takes `within_s` or
    more to stop (a hang check); killed after `timeout_s`."""
    # SIGINT restored in the child: a shell's background job (a CI started with &) ignores it, and so would the child
    proc = subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # a child that never says "started" (a crash before it, a hang) fails here instead of hanging the run
        assert select.select([proc.stdout], [], [], timeout_s)[0], f"no 'started' line in {timeout_s} s"
        assert proc.stdout.readline() == "started\n"
        time.sleep(after_s)
        deadline = time.monotonic() + timeout_s
        while ready is not None and not ready():
            assert proc.poll() is None, f"exited (code {proc.returncode}) before it was ready to interrupt"
            assert time.monotonic() < deadline, f"not ready to interrupt in {timeout_s} s"
            time.sleep(poll_s)
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        start = time.monotonic()
        out, err = proc.communicate(timeout=timeout_s)
        assert time.monotonic() - start < within_s, "took too long to stop"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return out, err, proc.returncode
