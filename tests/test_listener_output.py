"""What `speechseq listen` shows and runs (commands/listen.py's _Output): a failed --exec command is said, and a
partial line on a terminal fits its width."""
from __future__ import annotations

import argparse
import io
import sys
import time

from speechseq.commands.listen import _Output
from speechseq.runtime.events import FinalEvent, PartialEvent

from .listener_fixtures import SAMPLE, tiny_models  # noqa: F401  (fixture)


def _reaped(out: _Output, seconds: float = 30.0) -> None:
    """Feed the output empty event lists (as the listener does after every block) until its commands ended."""
    end = time.monotonic() + seconds
    while out.children and time.monotonic() < end:
        time.sleep(0.02)
        out([])


def test_a_failed_exec_command_is_said_and_listening_goes_on(capsys):
    """--exec CMD that fails (exit status 3, or killed by a signal) went unsaid: the command a user asked for did
    not happen, and nothing told them. Each is one warning naming the text, while the listener goes on."""
    fails = f"{sys.executable} -c \"import sys; sys.exit(3)\""
    out = _Output(argparse.Namespace(json=False, exec_cmd=fails, chime=False))
    out([FinalEvent("turn on the lights", (), 4.5, 2.0, 4.5, 4.1)])
    _reaped(out)
    err = capsys.readouterr().err
    assert err == (f"speechseq: warning: --exec {fails!r} failed on 'turn on the lights': exit status 3\n"), err
    killed = f"{sys.executable} -c \"import os, signal; os.kill(os.getpid(), signal.SIGKILL)\""
    out = _Output(argparse.Namespace(json=False, exec_cmd=killed, chime=False))
    out([FinalEvent("lights off", (), 4.5, 2.0, 4.5, 4.1)])
    _reaped(out)
    assert capsys.readouterr().err.endswith("failed on 'lights off': killed by SIGKILL\n")
    works = f"{sys.executable} -c \"pass\""
    out = _Output(argparse.Namespace(json=False, exec_cmd=works, chime=False))
    out([FinalEvent("lights off", (), 4.5, 2.0, 4.5, 4.1)])
    _reaped(out)
    assert capsys.readouterr().err == ""


def test_cli_says_an_exec_command_that_failed_before_exit(tiny_models, capsys):  # noqa: F811
    """At exit listen waits for its --exec commands: one that failed meanwhile is said too."""
    from speechseq.cli import main

    m = tiny_models
    fails = f"{sys.executable} -c \"import sys, time; time.sleep(0.3); sys.exit(2)\""
    code = main(["listen", "--input", str(SAMPLE), "--fast", "--keyword-model", str(m.detector), "--model",
                 str(m.recognizer), "--no-partials", "--lm", "none", "--decoder", "greedy", "--exec", fails])
    err = capsys.readouterr().err
    assert code == 0, err
    failed = [x for x in err.splitlines() if "failed on" in x]
    assert len(failed) == 1 and failed[0].startswith(f"speechseq: warning: --exec {fails!r} failed on '")
    assert failed[0].endswith("': exit status 2")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_partial_longer_than_the_terminal_is_cut_to_its_width(monkeypatch):
    """On a terminal a partial is overwritten in place ("\\r" + clear line): one longer than the terminal wrapped
    onto a second row, and the next partial cleared the last row only, leaving the first on screen (a screenful of
    stale rows in a long command). It is cut to the width, its newest words kept; a short one is shown whole."""
    screen = _Terminal()
    monkeypatch.setattr(sys, "stdout", screen)
    monkeypatch.setenv("COLUMNS", "40")
    out = _Output(argparse.Namespace(json=False, exec_cmd=None, chime=False))
    long = "set a timer for five minutes and then turn off the kitchen lights"
    out([PartialEvent("set a timer", 3.0), PartialEvent(long, 6.0)])
    out([FinalEvent(long, (), 7.0, 2.0, 7.0, 6.5)])
    writes = screen.getvalue().split("\r\033[K")[1:]
    assert writes[0] == str(PartialEvent("set a timer", 3.0))
    assert len(writes[1]) == 39 and writes[1].startswith("[   6.00s]   ... ...")
    assert writes[1].endswith("the kitchen lights")
    assert writes[2] == str(FinalEvent(long, (), 7.0, 2.0, 7.0, 6.5)) + "\n"     # a final is shown whole


def _cli(args: list[str], capsys) -> tuple[int, str]:
    from speechseq.cli import main

    code = main(args)
    return code, capsys.readouterr().err


def test_cli_says_when_its_partial_options_are_not_read(tiny_models, capsys):  # noqa: F811
    """--stream-model, --chunk-ms and --lookahead-ms are read by --partial-decoder stream only: with the final's
    decoder (the default) or --no-partials they changed nothing, in silence (a --stream-model that is not there was
    not even named), as --lm-weight did before it was said."""
    m = tiny_models
    base = ["listen", "--input", str(SAMPLE), "--fast", "--keyword-model", str(m.detector), "--model",
            str(m.recognizer), "--lm", "none", "--decoder", "greedy"]
    code, err = _cli(base + ["--partial-decoder", "final", "--stream-model", str(m.stream), "--chunk-ms", "200"],
                     capsys)
    assert code == 0, err
    warned = [x for x in err.splitlines() if "not used" in x]
    assert warned == ["speechseq: warning: --stream-model, --chunk-ms: not used by --partial-decoder final "
                      "(--partial-decoder stream reads them)"], err
    code, err = _cli(base + ["--no-partials", "--lookahead-ms", "100"], capsys)
    assert code == 0, err
    assert [x for x in err.splitlines() if "not used" in x] == [
        "speechseq: warning: --lookahead-ms: not used with --no-partials"], err
    for read in (["--stream-model", str(m.stream), "--chunk-ms", "200", "--lookahead-ms", "100"],  # stream, implied
                 ["--partial-decoder", "final"], []):
        code, err = _cli(base + read, capsys)
        assert code == 0 and "not used" not in err, err


def test_listen_from_an_empty_input_is_refused_not_the_microphone(capsys):
    """`--input ""` (a shell variable left unset) listened to the default microphone, as if no --input were given:
    an empty path names no file (as `record --input ''`)."""
    from speechseq.cli import main

    assert main(["listen", "--input", "", "--fast"]) == 1
    assert capsys.readouterr().err.strip() == "speechseq: error: --input '': an empty path names no file"


def test_an_exec_script_that_cannot_start_says_why_in_words(capsys, tmp_path):
    """An executable --exec script that the system cannot start was warned as a raw OS error on each final: one with
    no '#!' line as "[Errno 8] Exec format error: ...", one whose '#!' names a missing interpreter (or ends in a
    Windows line ending) as "No such file or directory: ...", though the script is there. Each names what to fix."""
    def warned(name: str, body: str) -> str:
        script = tmp_path / name
        script.write_bytes(body.encode())
        script.chmod(0o755)
        out = _Output(argparse.Namespace(json=False, exec_cmd=str(script), chime=False))
        out([FinalEvent("lights off", (), 4.5, 2.0, 4.5, 4.1)])
        _reaped(out)
        assert out.children == []
        return capsys.readouterr().err

    assert warned("no-hash.sh", "echo \"$1\"\n") == (
        f"speechseq: warning: --exec '{tmp_path}/no-hash.sh': {tmp_path}/no-hash.sh is not a program this system "
        "can run (a script needs a '#!' first line, such as #!/bin/sh)\n")
    assert warned("gone.sh", "#!/no/such/interpreter -x\necho \"$1\"\n") == (
        f"speechseq: warning: --exec '{tmp_path}/gone.sh': {tmp_path}/gone.sh cannot start: its interpreter "
        "/no/such/interpreter is missing\n")
    assert warned("crlf.sh", "#!/bin/sh\r\necho \"$1\"\r\n") == (
        f"speechseq: warning: --exec '{tmp_path}/crlf.sh': {tmp_path}/crlf.sh cannot start: its '#!' line ends in a "
        "Windows line ending (\\r), so its interpreter '/bin/sh\\r' is missing\n")
