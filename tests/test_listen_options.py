"""`speechseq listen`'s options as a user who leaves it running uses them (commands/listen.py): --exec checked at the
start and waited for at exit however listen was stopped, --max-minutes of any size the parser takes."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

from .cli_run import run
from .listener_fixtures import ROOT, SAMPLE, tiny_models  # noqa: F401  (fixture)


def _base(m) -> list[str]:
    return ["listen", "--input", str(SAMPLE), "--keyword-model", str(m.detector), "--model", str(m.recognizer),
            "--lm", "none", "--decoder", "greedy"]


def test_sigterm_in_mid_command_still_waits_for_its_exec_command(tiny_models, tmp_path):  # noqa: F811
    """SIGTERM (`kill`, `timeout 60 speechseq listen ...`) while a command was being said: the take got its final and
    its --exec command was started, but listen left it running at once ("leaving 1 --exec command running (the wait
    was stopped)"), the signal that stopped listening taken as one that stopped the wait too, so a script reading
    what the command wrote found nothing; Ctrl+C waited. Both wait now; a second signal ends the wait."""
    said = tmp_path / "said.txt"
    slow = f"{sys.executable} -c \"import sys, time; time.sleep(0.5); open(sys.argv[1], 'w').write(sys.argv[2])\" {said}"
    proc = subprocess.Popen([sys.executable, "-m", "speechseq", *_base(tiny_models), "--json", "--exec", slow], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        events = []
        for line in proc.stdout:      # in real time: the first partial comes while the command is being said
            events.append(json.loads(line))
            if events[-1]["event"] == "partial":
                proc.send_signal(signal.SIGTERM)
                break
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    events += [json.loads(x) for x in out.splitlines()]
    assert [e["event"] for e in events][-1] == "final" and events[-1]["text"], (events, err)
    assert proc.returncode == 0 and "speechseq: stopped" in err and "Traceback" not in err, err
    assert "waiting for 1 --exec command to finish" in err and "leaving" not in err, err
    assert said.read_text() == events[-1]["text"]          # written before listen returned


def test_a_max_minutes_beyond_any_stream_is_no_limit(tiny_models):  # noqa: F811
    """--max-minutes 1e307 (any finite number was taken) ended in an OverflowError traceback at the first block: the
    limit in samples was infinite. A limit no stream reaches stops nothing: the most taken, a year (session 52)."""
    base = [*_base(tiny_models), "--fast", "--json", "--no-partials"]
    code, out, err = run(*base)
    assert code == 0 and out.count('"final"') == 1, err
    assert run(*base, "--max-minutes", "525600") == (code, out, err)


def test_a_take_limit_beyond_any_stream_is_no_limit(tiny_models):  # noqa: F811
    """--max-utterance-s and --no-speech-s 1e308 (any finite number is taken) ended in an OverflowError traceback in
    the first take: its limit in samples was infinite. A limit no take reaches cuts nothing."""
    base = [*_base(tiny_models), "--fast", "--json", "--no-partials"]
    code, out, err = run(*base, "--max-utterance-s", "1e3")
    assert code == 0 and out.count('"final"') == 1, err
    assert run(*base, "--max-utterance-s", "1e308") == (code, out, err)
    assert run(*base, "--max-utterance-s", "1e308", "--no-speech-s", "1e308")[0] == 0


def test_an_exec_program_that_cannot_run_says_why(tmp_path):
    """--exec ./on-command.sh (the README's example) with a script not made executable said "no such command", as if
    the file were not there; so did a folder. Each says what is wrong with it, before any model loads."""
    script = tmp_path / "on command.sh"
    script.write_text("#!/bin/sh\necho \"$1\"\n")
    script.chmod(0o644)
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--exec", f"'{script}' --flag")
    assert (code, out) == (1, "")
    assert err == (f"speechseq: error: --exec \"'{script}' --flag\": {script} is not executable "
                   f"(chmod +x '{script}')\n")
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--exec", str(tmp_path))
    assert (code, out, err) == (1, "", f"speechseq: error: --exec '{tmp_path}': {tmp_path} is a folder, not a "
                                       "command\n")
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--exec", "/no/such/cmd --flag")
    assert (code, out, err) == (1, "", "speechseq: error: --exec '/no/such/cmd --flag': no such command\n")


def test_an_exec_command_written_for_a_shell_is_said_to_get_none(tiny_models, tmp_path):  # noqa: F811
    """--exec 'echo "$SPEECHSEQ_TEXT"' (the help names the variable) printed "$SPEECHSEQ_TEXT are on the ...": CMD is
    split as a shell would but run without one, so the variable went as written, in silence. It still runs so (a
    '$' may be meant), with one warning at the start saying how to have a shell expand it."""
    said = tmp_path / "said.txt"
    cmd = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(' '.join(sys.argv[2:]))\" {said} $HOME"
    code, out, err = run(*_base(tiny_models), "--fast", "--no-partials", "--exec", cmd)
    assert code == 0, err
    warned = [x for x in err.splitlines() if "warning" in x]
    assert warned == [f"speechseq: warning: --exec {cmd!r}: run without a shell, so '$HOME' is passed as written, not "
                      "expanded (to have a shell expand it: --exec \"sh -c '...' sh\", the text then its $1)"], err
    text = said.read_text()
    assert text.startswith("$HOME ") and len(text) > len("$HOME ")
    code, out, err = run(*_base(tiny_models), "--fast", "--no-partials", "--exec", f"{sys.executable} -c pass")
    assert code == 0 and "warning" not in err, err


def test_an_empty_exec_command_is_refused_not_ignored():
    """`--exec "$ON_COMMAND"` with the variable unset listened on with no command to run, in silence (as `--input ''`
    listened to the microphone before it was refused): a command of no words is an error at the start."""
    for cmd in ("", "  "):
        code, out, err = run("listen", "--input", SAMPLE, "--fast", "--exec", cmd)
        assert (code, out, err) == (1, "", f"speechseq: error: --exec {cmd!r}: an empty command names nothing to run\n")
