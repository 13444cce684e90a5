"""`speechseq listen --exec CMD` when the listener is stopped (commands/listen.py's _Output): Ctrl+C stops the listener,
not the commands it started, which it waits for and then ends; and a script whose '#!' interpreter is missing is said
in words."""
from __future__ import annotations

import argparse
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from speechseq.commands.listen import _Output
from speechseq.runtime.events import FinalEvent

from .listener_fixtures import listening_with_exec, tiny_models  # noqa: F401  (fixture)

# A command that says it started (its pid), then finishes in `sleep` seconds, writing the text it was given; a Ctrl+C
# that reaches it is written down too.
CHILD = """import os, sys, time
mark = sys.argv[1]
open(mark + '.started', 'w').write(str(os.getpid()))
try:
    time.sleep(float(sys.argv[2]))
except KeyboardInterrupt:
    open(mark + '.interrupted', 'w').close()
    sys.exit(130)
open(mark + '.done', 'w').write(sys.argv[-1])
"""


def _listening(tiny_models, tmp_path: Path, sleep_s: float) -> tuple[subprocess.Popen, Path]:  # noqa: F811
    """`speechseq listen` with --exec running CHILD (listener_fixtures.listening_with_exec), SIGINT restored in it;
    returned once the command started (its mark: tmp_path/cmd)."""
    mark = tmp_path / "cmd"
    proc = listening_with_exec(tiny_models, tmp_path, CHILD, f"{mark} {sleep_s}", Path(f"{mark}.started"),
                               signal.SIGINT)
    return proc, mark


def _stderr_until(proc: subprocess.Popen, text: str, timeout_s: float = 60.0) -> str:
    """What `proc` wrote on stderr up to a line with `text` (read from the pipe unbuffered: a line kept in a
    buffer would wait for the next write)."""
    said = b""
    end = time.monotonic() + timeout_s
    fd = proc.stderr.fileno()
    while text.encode() not in said:
        assert select.select([fd], [], [], max(0.0, end - time.monotonic()))[0], f"no {text!r} on stderr: {said}"
        chunk = os.read(fd, 65536)
        assert chunk, f"no {text!r} on stderr: {said}"
        said += chunk
    return said.decode()


def _stop(proc: subprocess.Popen, said: str = "") -> tuple[str, str]:
    """`proc`'s stdout and stderr (`said`: what was read of it before) once it ended."""
    try:
        out, err = proc.communicate(timeout=60)
        return out, said + err
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_ctrl_c_stops_the_listener_and_its_exec_command_finishes(tiny_models, tmp_path):  # noqa: F811
    """Ctrl+C in a terminal is SIGINT to the whole foreground process group: the --exec command listen was running
    got it too and was cut off half way (a script turning on lights), said as "failed ... exit status 1". It stops
    the listener only: the command finishes, listen waiting for it as it does at every exit."""
    proc, mark = _listening(tiny_models, tmp_path, 1.0)
    try:
        os.killpg(proc.pid, signal.SIGINT)                    # the terminal's Ctrl+C
    finally:
        out, err = _stop(proc)
    finals = [e for e in map(json.loads, out.splitlines()) if e["event"] == "final"]
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert "speechseq: stopped" in err and "waiting for 1 --exec command to finish" in err, err
    assert not Path(f"{mark}.interrupted").exists(), err      # the Ctrl+C did not reach the command
    assert Path(f"{mark}.done").read_text() == finals[0]["text"] != "", err
    assert "failed" not in err and "ending" not in err, err


def test_a_second_ctrl_c_ends_the_exec_commands_it_waits_for(tiny_models, tmp_path):  # noqa: F811
    """Commands in a session of their own no longer get the terminal's Ctrl+C: a second one, while listen waits for
    them, ends them (SIGINT, as the terminal would have sent), so that none is left running unseen."""
    proc, mark = _listening(tiny_models, tmp_path, 60.0)
    said = ""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        said = _stderr_until(proc, "waiting for 1 --exec command to finish\n")
        assert not Path(f"{mark}.interrupted").exists()       # the first Ctrl+C stopped the listener only
        os.killpg(proc.pid, signal.SIGINT)
    finally:
        out, err = _stop(proc, said)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert err.splitlines()[-1] == "speechseq: warning: ending 1 --exec command (Ctrl+C)", err
    assert Path(f"{mark}.interrupted").exists() and not Path(f"{mark}.done").exists()


def test_exec_commands_still_busy_when_the_wait_ends_are_ended(tmp_path, capsys, monkeypatch):
    """After EXEC_WAIT_S listen left its commands running ("leaving 1 --exec command running"); in a session of their
    own, away from the terminal, one that never ends would run on unseen for ever. They are ended (SIGTERM to
    their process group, the command's own children too)."""
    import speechseq.commands.listen as listen

    monkeypatch.setattr(listen, "EXEC_WAIT_S", 0.3)
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    mark = tmp_path / "cmd"
    out = _Output(argparse.Namespace(json=False, exec_cmd=f"{sys.executable} {child} {mark} 120", chime=False))
    out([FinalEvent("lights off", (), 4.5, 2.0, 4.5, 4.1)])
    (command, _), = out.children
    try:
        out.wait_children(threading.Event())
        err = capsys.readouterr().err
        assert err.splitlines() == ["speechseq: waiting for 1 --exec command to finish",
                                    "speechseq: warning: ending 1 --exec command (still busy after 0.3 s)"], err
        assert command.poll() == -signal.SIGTERM and out.children == []
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()


def _failure(tmp_path: Path, capsys, name: str, body: str) -> str:
    """The warning of an --exec script `name` with `body`, run on a final."""
    script = tmp_path / name
    script.write_text(body)
    script.chmod(0o755)
    out = _Output(argparse.Namespace(json=False, exec_cmd=str(script), chime=False))
    out([FinalEvent("lights off", (), 4.5, 2.0, 4.5, 4.1)])
    end = time.monotonic() + 30
    while out.children and time.monotonic() < end:
        time.sleep(0.02)
        out([])
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("speechseq:")]  # not env's own line
    assert len(lines) == 1, lines
    return lines[0]


def test_an_exec_script_whose_env_interpreter_is_missing_says_so(tmp_path, capsys):
    """`#!/usr/bin/env missing-interpreter` starts (env is there), and env exits 127: the warning said only "exit
    status 127". It names the interpreter of the '#!' line that was not found; a script that exits 127 itself
    is still said as its exit status."""
    assert _failure(tmp_path, capsys, "gone.sh", "#!/usr/bin/env no-such-interpreter-s48\necho \"$1\"\n") == (
        f"speechseq: warning: --exec '{tmp_path}/gone.sh' failed on 'lights off': {tmp_path}/gone.sh cannot start: "
        "its interpreter no-such-interpreter-s48 (#!/usr/bin/env no-such-interpreter-s48) is not found on PATH")
    assert _failure(tmp_path, capsys, "split.sh", "#!/usr/bin/env -S no-such-interpreter-s48 -x\necho \"$1\"\n") == (
        f"speechseq: warning: --exec '{tmp_path}/split.sh' failed on 'lights off': {tmp_path}/split.sh cannot start: "
        "its interpreter no-such-interpreter-s48 (#!/usr/bin/env -S no-such-interpreter-s48 -x) is not found on PATH")
    assert _failure(tmp_path, capsys, "crlf.sh", "#!/usr/bin/env sh\r\necho \"$1\"\r\n") == (
        f"speechseq: warning: --exec '{tmp_path}/crlf.sh' failed on 'lights off': {tmp_path}/crlf.sh cannot start: "
        "its '#!' line ends in a Windows line ending (\\r), so env looks for 'sh\\r', which is not found")
    if sys.platform.startswith("linux"):    # all that follows the interpreter is one argument
        assert _failure(tmp_path, capsys, "args.sh", "#!/usr/bin/env sh -e\necho \"$1\"\n") == (
            f"speechseq: warning: --exec '{tmp_path}/args.sh' failed on 'lights off': {tmp_path}/args.sh cannot "
            "start: its '#!' line gives env 'sh -e' as one program name (Linux passes all that follows the "
            "interpreter as one argument; to split it: #!/usr/bin/env -S sh -e)")
    assert _failure(tmp_path, capsys, "own.sh", "#!/usr/bin/env sh\nexit 127\n") == (
        f"speechseq: warning: --exec '{tmp_path}/own.sh' failed on 'lights off': exit status 127")
