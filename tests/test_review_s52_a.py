"""Leftovers of the listener and recorder: --exec "sh -c '...' sh" (the form listen's warning recommends) was warned
of as run without a shell; --exec without --commands handed on the listener's own $SPEECHSEQ_COMMAND; a Listener
with a transcriber of the caller's own failed at its first recorded block unless it had `opts`; --max-minutes of
listen and record took 1e300."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.runtime.detector import Detector
from speechseq.runtime.events import FinalEvent
from speechseq.runtime.listener import Listener, ListenerConfig, Transcriber
from speechseq.runtime.vad import load_vad

from .cli_run import run
from .listener_fixtures import SAMPLE, tiny_models  # noqa: F401  (fixture)

NOT_EXPANDED = "is passed as written, not expanded"


def _exec_warnings(tmp_path, cmd: str) -> list[str]:
    """The warnings of `listen --exec CMD`, which then stops at its missing keyword model (no model is loaded)."""
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--keyword-model", tmp_path / "none.onnx",
                         "--exec", cmd)
    assert code == 1 and "none.onnx" in err, err
    return [line for line in err.splitlines() if "warning" in line]


@pytest.mark.parametrize("cmd", ["sh -c 'echo \"$1\"' sh", "/bin/sh -c 'echo \"$SPEECHSEQ_TEXT\"'",
                                 "bash -c 'notify-send \"${SPEECHSEQ_COMMAND:-$1}\"' hook",
                                 "dash -ec 'echo $1' sh", "/usr/bin/bash -o errexit -c 'echo $1' sh"])
def test_a_shell_given_c_expands_its_script_and_is_not_warned_of(tmp_path, cmd):
    """The warning said "$1" of `sh -c 'echo "$1"' sh` went unexpanded: the command is the shell the warning
    recommends, and it expands its script."""
    assert _exec_warnings(tmp_path, cmd) == []


@pytest.mark.parametrize("cmd, word", [("echo $SPEECHSEQ_TEXT", "$SPEECHSEQ_TEXT"),
                                       ("sh hook.sh $HOME", "$HOME"),             # a script file: no -c
                                       ("sh -c 'echo \"$1\"' $HOME", "$HOME"),   # $0 of the script, as written
                                       ("shx -c 'echo $1' sh", "echo $1")])      # not a shell
def test_a_dollar_no_shell_expands_is_still_warned_of(tmp_path, cmd, word):
    if cmd.startswith("shx"):
        (tmp_path / "shx").write_text("#!/bin/sh\n")
        (tmp_path / "shx").chmod(0o755)
        cmd = f"{tmp_path / 'shx'}{cmd[3:]}"
    warned = _exec_warnings(tmp_path, cmd)
    assert len(warned) == 1 and f"{word!r} {NOT_EXPANDED}" in warned[0], warned


def _seen_command(tmp_path, *extra: str, m) -> list:
    """The final's text as --exec's command saw it, and its $SPEECHSEQ_COMMAND (None: unset)."""
    seen = tmp_path / "seen.json"
    hook = (f"{sys.executable} -c \"import json, os, sys; open(sys.argv[1], 'w').write(json.dumps([sys.argv[2], "
            f"os.environ.get('SPEECHSEQ_COMMAND')]))\" {seen}")
    code, out, err = run("listen", "--input", SAMPLE, "--keyword-model", m.detector, "--model", m.recognizer,
                         "--lm", "none", "--decoder", "greedy", "--fast", "--no-partials", *extra, "--exec", hook)
    assert code == 0, err
    return json.loads(seen.read_text())


def test_exec_without_commands_gets_no_inherited_speechseq_command(tiny_models, tmp_path, monkeypatch):  # noqa: F811
    """A $SPEECHSEQ_COMMAND in listen's own environment (a hook's shell, a test) reached CMD, which took the text as
    that command; without --commands CMD gets no such variable."""
    monkeypatch.setenv("SPEECHSEQ_COMMAND", "turn off the lights")
    text, command = _seen_command(tmp_path, m=tiny_models)
    assert text and command is None


class OwnTranscriber:
    """A transcriber of the caller's own, as Listener's contract allows: transcribe(feats, partial=False) -> Result
    and a frontend, no `opts` (here the real decode inside)."""

    def __init__(self, path) -> None:
        self._inner = Transcriber(path)
        self.frontend = self._inner.frontend
        self.calls = 0

    def transcribe(self, feats: np.ndarray, partial: bool = False):
        self.calls += 1
        return self._inner.transcribe(feats, partial)


def _finals(listener: Listener) -> list[FinalEvent]:
    audio, state, events = load_audio(SAMPLE), listener.initial_state(), []
    for i in range(0, len(audio), 800):
        new, state = listener.step(audio[i : i + 800], state)
        events += new
    return [e for e in events + listener.finish(state) if isinstance(e, FinalEvent)]


@pytest.mark.parametrize("partial_decoder", [None, "final"])
def test_a_transcriber_of_the_callers_own_needs_no_opts(tiny_models, partial_decoder):  # noqa: F811
    """Listener takes any object with transcribe and frontend, but read its `opts` at every recorded block (for the
    command list): AttributeError at the first block after the wake. Without opts, there is no command list; the
    finals are those of the real Transcriber."""
    m = tiny_models
    cfg = ListenerConfig(partial_decoder=partial_decoder)
    own = OwnTranscriber(m.recognizer)
    got = _finals(Listener(Detector.load([m.detector]), own, None, load_vad(), cfg))
    want = _finals(Listener(Detector.load([m.detector]), Transcriber(m.recognizer), None, load_vad(), cfg))
    assert [(e.text, e.command) for e in got] == [(e.text, e.command) for e in want]
    assert len(got) == 1 and got[0].text and own.calls >= 1


@pytest.mark.parametrize("argv", [["listen", "--input", SAMPLE, "--fast"],
                                  ["record", "activate", "--out", "clips", "--input", SAMPLE]])
@pytest.mark.parametrize("minutes", ["1e300", "525600.5"])
def test_max_minutes_is_at_most_a_year(tmp_path, monkeypatch, argv, minutes):
    """--max-minutes 1e300 was taken (record --background is at most a day since session 51): "stopping after 1e+300
    min". A year at most now, a usage error naming the option beyond it."""
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*argv, "--max-minutes", minutes)
    assert code == 2 and err.strip().splitlines()[-1].endswith(
        f"argument --max-minutes: must lie in (0, 525600], got {minutes}"), err
    assert not (tmp_path / "clips").exists()


def test_record_takes_a_year_of_max_minutes(tmp_path):
    """A year is taken: no limit any recording reaches (the file is cut into its takes as without it)."""
    base = ["record", "activate", "--input", SAMPLE, "--json"]
    code, out, err = run(*base, "--out", tmp_path / "a")
    assert code == 0, err
    assert run(*base, "--out", tmp_path / "b", "--max-minutes", "525600")[:2] == (0, out.replace(
        str(tmp_path / "a"), str(tmp_path / "b")))
