"""Review of listen --exec's reading (speechseq/commands/exec_words.py), session 52 h: forms that ran the final text
as shell code or as a command, and were let through. dash and bash both take `+c` as -c and a lone "-" as the end of
the options (`sh -c - TEXT` runs TEXT); a wrapper given no command (`env`, `nice`, `timeout 5`) runs the text as one."""
from __future__ import annotations

import pytest

from speechseq.commands.exec_words import _shell_script

from .cli_run import run
from .exec_checks import NOT_EXPANDED, listen_exec as _listen_exec, refused as _refused


@pytest.mark.parametrize("cmd", ["sh +c", "bash +c", "sh -c -", "bash -c -", "env -S sh -c", "nice sh +xc"])
def test_a_shell_that_runs_the_text_as_its_script_is_refused(tmp_path, cmd):
    """`sh +c TEXT` and `sh -c - TEXT` run TEXT as shell code in dash and bash alike (`dash +c 'echo hi'` prints
    hi); they passed, "-" taken for the script."""
    _refused(*_listen_exec(tmp_path, cmd), "would run the final text as shell code")


@pytest.mark.parametrize("words, found", [(["sh", "-c", "-", "x"], (True, 3)), (["sh", "+c", "x"], (True, 2)),
                                          (["sh", "-c", "-"], (True, None)), (["sh", "-c", "-e", "x"], (True, 3)),
                                          (["bash", "-O", "extglob", "-c", "x"], (True, 4)),
                                          (["sh", "+x", "x.sh"], (False, None))])
def test_the_script_after_a_lone_dash_or_plus_c(words, found):
    assert _shell_script(words) == found


def test_a_script_after_a_lone_dash_is_not_warned_of(tmp_path):
    code, err = _listen_exec(tmp_path, "sh -c - 'echo \"$1\"' sh")
    assert code == 1 and "none.onnx" in err and NOT_EXPANDED not in err, err


@pytest.mark.parametrize("cmd, wrapper", [("env", "env"), ("env -i", "env"), ("/usr/bin/env A=1", "env"),
                                          ("nice", "nice"), ("nice -n 5", "nice"), ("timeout 5", "timeout"),
                                          ("nohup", "nohup"), ("env -S", "env"), ("nice timeout -s KILL 5", "timeout")])
def test_a_wrapper_given_no_command_is_refused(tmp_path, cmd, wrapper):
    """`env TEXT`, `nice TEXT`, `timeout 5 TEXT` run the final text as a command ("reboot" would): refused."""
    _refused(*_listen_exec(tmp_path, cmd), f"{wrapper} is given no command, so the final text would be run as one")


@pytest.mark.parametrize("cmd", ["env echo", "timeout 5 sh -c 'echo \"$1\"' sh", "env -S 'sh -c x'",
                                 "env --split-string='sh -c x'", "nice -5 echo"])
def test_a_wrapper_with_its_command_still_runs(tmp_path, cmd):
    code, err = _listen_exec(tmp_path, cmd)
    assert code == 1 and "none.onnx" in err and "no command" not in err and NOT_EXPANDED not in err, err


@pytest.mark.parametrize("cmd", ["sh -c ''", "bash -c '  '", "env sh -c -- ''"])
def test_an_empty_script_is_refused(tmp_path, cmd):
    """`sh -c '' TEXT` runs nothing, in silence (the text its $0), as the empty --exec "" did, which is refused."""
    _refused(*_listen_exec(tmp_path, cmd), "empty script runs nothing")


def test_a_folder_named_sh_is_said_to_be_a_folder(tmp_path):
    """A folder `sh` given -c and no script was refused as a shell with no script; it runs nothing at all."""
    folder = tmp_path / "sh"
    folder.mkdir()
    _refused(*_listen_exec(tmp_path, f"{folder} -c"), "is a folder, not a command")


def test_listen_help_says_a_shells_c_needs_its_script():
    code, out, err = run("listen", "--help")
    text = " ".join(out.split())
    assert code == 0 and "sh -c 'notify-send \"$1\"' sh" in text and "shell's -c needs its script" in text, text


def test_synth_with_an_engine_given_twice_and_not_installed_names_it_once(tmp_path, monkeypatch):
    """`synth keyword --engines flite flite` with no flite on PATH: "none of the engines flite, flite is installed";
    the engines are used each once, and said so."""
    from speechseq.errors import SpeechseqError
    from speechseq.synth_settings import VoiceOptions
    from speechseq.train.synth_sets import _voices

    monkeypatch.setenv("PATH", str(tmp_path))   # (an empty folder: no engine's program is found)
    with pytest.raises(SpeechseqError, match="^none of the engines flite, pico is installed "):
        _voices(VoiceOptions(engines=("flite", "pico", "flite")), say=lambda line: None)
