"""Leftovers of listen --exec (session 52): a shell's -c script behind a wrapper that runs the rest of its words as a
command (env, nice, nohup, timeout, setsid, ionice, stdbuf), or after a shell's long options (bash --rcfile FILE), was
still warned of as passed as written; the command's loop read the listener's transcriber's `opts` (the command list),
which a transcriber of the caller's own need not have."""
from __future__ import annotations

import argparse
import threading

import numpy as np
import pytest

from speechseq.commands import listen
from speechseq.runtime.detector import Detector
from speechseq.runtime.listener import Listener, ListenerConfig, Transcriber
from speechseq.runtime.vad import load_vad

from .listener_fixtures import SAMPLE, tiny_models  # noqa: F401  (fixture)
from .test_review_s52_a import NOT_EXPANDED, _exec_warnings  # listen --exec's warnings (no model is loaded)

SCRIPT = "'echo \"$1\"' sh"


@pytest.mark.parametrize("cmd", [f"env sh -c {SCRIPT}", f"/usr/bin/env VAR=1 OTHER=2 sh -c {SCRIPT}",
                                 f"env -i -u HOME -C / sh -c {SCRIPT}", f"env --unset HOME -- bash -c {SCRIPT}",
                                 f"nice bash -c {SCRIPT}", f"nice -n 10 sh -c {SCRIPT}", f"nice -n10 sh -c {SCRIPT}",
                                 f"nice -10 sh -c {SCRIPT}", f"env - PATH=/bin sh -c {SCRIPT}",
                                 f"nohup sh -c {SCRIPT}", f"timeout 5 sh -c {SCRIPT}",
                                 f"timeout -s KILL -k 1 5s sh -c {SCRIPT}", f"timeout --signal=INT 5 sh -c {SCRIPT}",
                                 f"setsid sh -c {SCRIPT}", f"setsid -f sh -c {SCRIPT}", f"ionice -c 3 sh -c {SCRIPT}",
                                 f"ionice -c2 -n 7 sh -c {SCRIPT}", f"stdbuf -oL sh -c {SCRIPT}",
                                 f"stdbuf -o L -e 0 sh -c {SCRIPT}", f"nice -n 5 nohup env A=1 sh -c {SCRIPT}",
                                 f"bash --rcfile /dev/null -c {SCRIPT}", f"bash --norc -c {SCRIPT}",
                                 f"bash --init-file /dev/null --noprofile -c {SCRIPT}"])
def test_a_shell_given_c_behind_a_wrapper_is_not_warned_of(tmp_path, cmd):
    """`env sh -c 'echo "$1"' sh` runs the shell the warning recommends, and that shell expands its script: no warning,
    as for `sh -c ...` alone."""
    assert _exec_warnings(tmp_path, cmd) == []


@pytest.mark.parametrize("cmd, word", [("env echo $SPEECHSEQ_TEXT", "$SPEECHSEQ_TEXT"),       # no shell behind env
                                       ("nice sh hook.sh $HOME", "$HOME"),                    # a script file: no -c
                                       (f"env GREETING=$HOME sh -c {SCRIPT}", "GREETING=$HOME"),  # env's own word
                                       (f"timeout $LIMIT sh -c {SCRIPT}", "$LIMIT"),          # timeout's duration
                                       ("timeout 5 echo $1", "$1"),
                                       ("nohup -- printf %s $USER", "$USER"),
                                       ("stdbuf -oL awk $1", "$1")])
def test_a_dollar_behind_a_wrapper_that_no_shell_expands_is_still_warned_of(tmp_path, cmd, word):
    warned = _exec_warnings(tmp_path, cmd)
    assert len(warned) == 1 and f"{word!r} {NOT_EXPANDED}" in warned[0], warned


class OwnTranscriber:
    """A transcriber of the caller's own, as Listener's contract allows: transcribe(feats, partial=False) -> Result
    and a frontend, no `opts` (the real decode inside)."""

    def __init__(self, path) -> None:
        self._inner = Transcriber(path)
        self.frontend = self._inner.frontend

    def transcribe(self, feats: np.ndarray, partial: bool = False):
        return self._inner.transcribe(feats, partial)


def _listen_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="speechseq")
    listen.register(parser.add_subparsers())
    return parser.parse_args(["listen", "--input", str(SAMPLE), "--fast", "--no-partials"])


def _through_the_commands_loop(listener: Listener, capsys) -> tuple[str, str]:
    """listen's loop (the source announced, the events printed) run on `listener`: (stdout, stderr)."""
    args = _listen_args()
    assert listen._loop(args, listener, listen._Output(args, listener.commands is not None), threading.Event()) == 0
    return capsys.readouterr()


def test_a_transcriber_of_the_callers_own_runs_through_the_commands_loop(tiny_models, capsys):  # noqa: F811
    """listen's loop read listener.transcriber.opts.commands when it announced the source: AttributeError for a
    Listener whose transcriber has no `opts`, which Listener takes (no command list). It prints the same final as
    with the real Transcriber now."""
    m, cfg = tiny_models, ListenerConfig(partials=False)
    own = Listener(Detector.load([m.detector]), OwnTranscriber(m.recognizer), None, load_vad(), cfg)
    real = Listener(Detector.load([m.detector]), Transcriber(m.recognizer), None, load_vad(), cfg)
    assert own.commands is None and real.commands is None
    got, want = _through_the_commands_loop(own, capsys), _through_the_commands_loop(real, capsys)
    assert got[0] == want[0] and got[0].count("\n") >= 2 and "listening on" in got[1], got


def test_listener_commands_is_the_command_list_of_load_listener(tmp_path):
    """Listener.commands: the list a listener takes commands from (load_listener(commands=...)), None without one."""
    import speechseq

    phrases = tmp_path / "home.txt"
    phrases.write_text("turn on the lights\nturn off the lights\n")
    assert list(speechseq.load_listener(commands=phrases).commands.texts) == ["turn on the lights",
                                                                              "turn off the lights"]
    assert speechseq.load_listener().commands is None
