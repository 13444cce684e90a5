"""Review of listen --exec's reading (speechseq/commands/exec_words.py), session 53 a: env's -S STRING read as the
words env splits it into (`env -S'sh -c'` ran the final text as shell code); a program not found behind a wrapper
(`env nosuchprog`) refused up front, not failed with exit 127 at every final; and sudo, doas, time, taskset, chrt and
flock read as the wrappers they are, so that a shell's -c script behind them is not warned of as passed as written."""
from __future__ import annotations

import pytest

from speechseq.commands.exec_words import _shell_script, check_exec, warn_shell_words
from speechseq.errors import SpeechseqError

from .exec_checks import NOT_EXPANDED, SHELL_CODE, listen_exec as _listen_exec, refused as _refused, passed as _passed


# 1. env -S STRING: the words env splits STRING into, read in its place

@pytest.mark.parametrize("cmd", ["env -S'sh -c'", "env -S 'sh -c'", "env --split-string='sh -c'",
                                 "env --split-string 'sh -c'", "env -iS'sh -c'", "env -S'-i A=1 bash -lc'",
                                 "nice env -S 'sh -c --'", "env -S 'nice -n 5' sh -c", "env -S 'env -S \"sh -c\"'"])
def test_a_shell_given_c_in_envs_split_string_is_refused(tmp_path, cmd):
    """`env -S"sh -c"` passed (its -S word taken for the command, which is no shell) and ran the final text as shell
    code: env splits "sh -c" into sh and -c (`env -S'-i A=1 sh -c' 'echo $A'` prints 1)."""
    _refused(*_listen_exec(tmp_path, cmd), SHELL_CODE)


@pytest.mark.parametrize("cmd", ["env -S 'sh -c' 'notify-send \"$1\"' sh", "env -S\"sh -c\" 'echo \"$1\"' sh",
                                 "env --split-string='sh -c' 'echo $1' sh", "env -S 'sh -c' echo"])
def test_a_shells_script_after_envs_split_string_still_runs_unwarned(tmp_path, cmd):
    """With its script, as `env sh -c '...' sh` does; `env -S 'sh -c'` was refused as "no such command" ('sh -c' taken
    for one program's name) and `env -S"sh -c" 'echo "$1"' sh` warned of its script's $1 as passed as written."""
    _passed(*_listen_exec(tmp_path, cmd))


def test_a_variable_in_envs_split_string_is_warned_of(tmp_path):
    """env -S leaves '$HOME' in its single quotes as written (it expands ${HOME} only, and fails on a bare $HOME:
    test_review_s53_j): the warning holds there as for `env echo $HOME`."""
    code, err = _listen_exec(tmp_path, "env -S \"echo '$HOME'\"")
    assert code == 1 and "none.onnx" in err and f"'$HOME' {NOT_EXPANDED}" in err, err


def test_an_unbalanced_quote_in_envs_split_string_is_refused(tmp_path):
    _refused(*_listen_exec(tmp_path, "env -S \"sh -c 'echo\""), "No closing quotation")


def test_envs_split_string_with_nothing_after_is_no_command(tmp_path):
    _refused(*_listen_exec(tmp_path, "env -S ''"), "env is given no command")


# 2. a program not found, behind a wrapper too

@pytest.mark.parametrize("cmd", ["env nosuchprog", "nice nosuchprog", "nice -n 5 nosuchprog --flag",
                                 "timeout 5 env A=1 nosuchprog", "env -S 'nosuchprog x'", "nosuchprog"])
def test_a_program_not_found_is_refused_naming_it(tmp_path, cmd):
    """`env nosuchprog` passed and failed with exit 127 at every final; refused before any model loads."""
    _refused(*_listen_exec(tmp_path, cmd), "no such command")
    assert "nosuchprog" in _listen_exec(tmp_path, cmd)[1].split(":", 2)[2]   # named after the --exec CMD said


def test_a_path_behind_a_wrapper_that_cannot_run_says_why(tmp_path):
    script = tmp_path / "on-command.sh"
    script.write_text("#!/bin/sh\necho \"$1\"\n")
    script.chmod(0o644)
    _refused(*_listen_exec(tmp_path, f"env {script}"), f"{script} is not executable")
    _refused(*_listen_exec(tmp_path, f"nice {tmp_path}"), f"{tmp_path} is a folder, not a command")
    _refused(*_listen_exec(tmp_path, f"nohup {tmp_path}/gone.sh"), f"no such command: {tmp_path}/gone.sh")


def test_a_program_on_the_path_env_gives_it_still_runs(tmp_path):
    """`env PATH=DIR prog` looks for prog on DIR (env sets PATH first): not refused for being off listen's PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    program = folder / "only-here"
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    _passed(*_listen_exec(tmp_path, f"env PATH={folder} only-here"))
    _refused(*_listen_exec(tmp_path, "env only-here"), "no such command: only-here")


# 3. wrappers outside the first table

@pytest.mark.parametrize("cmd", ["taskset -c 0 sh -c 'echo \"$1\"' sh", "taskset 1 sh -c 'echo \"$1\"' sh",
                                 "chrt -i 0 sh -c 'echo \"$1\"' sh", "chrt --other 0 sh -c 'echo $1' sh",
                                 "flock {tmp}/lock sh -c 'echo \"$1\"' sh",
                                 "flock -w 1 -E 3 {tmp}/lock sh -c 'echo \"$1\"' sh",
                                 "time -p sh -c 'echo \"$1\"' sh", "time -f %e sh -c 'echo \"$1\"' sh",
                                 "nice taskset -c 0 env A=1 sh -c 'echo \"$1\"' sh"])
def test_a_shells_script_behind_these_wrappers_is_not_warned_of(tmp_path, cmd):
    """`taskset -c 0 sh -c 'echo "$1"' sh` was warned of ('echo "$1"' passed as written), though sh expands it."""
    _passed(*_listen_exec(tmp_path, cmd.format(tmp=tmp_path)))


@pytest.mark.parametrize("cmd, why", [("taskset -c 0 sh -c", SHELL_CODE), ("chrt -i 0 bash -c", SHELL_CODE),
                                      ("flock {tmp}/lock sh -c", SHELL_CODE), ("time -p sh -c", SHELL_CODE),
                                      ("taskset -c 0", "taskset is given no command"),
                                      ("chrt -i 0", "chrt is given no command"),
                                      ("flock -w 1 {tmp}/lock", "flock is given no command"),
                                      ("time -f %e", "time is given no command")])
def test_what_these_wrappers_would_run_as_the_text_is_refused(tmp_path, cmd, why):
    _refused(*_listen_exec(tmp_path, cmd.format(tmp=tmp_path)), why)


@pytest.mark.parametrize("cmd, why", [("flock {tmp}/lock -c", SHELL_CODE),
                                      ("flock {tmp}/lock --command 'echo hi'", "exit 64")])
def test_flocks_c_is_refused(tmp_path, cmd, why):
    """`flock FILE -c` runs its one next word as $SHELL's -c script: the final text alone (shell code), or, after a
    script, one word too many (`flock: -c requires exactly one command argument`, exit 64, at every final)."""
    _refused(*_listen_exec(tmp_path, cmd.format(tmp=tmp_path)), why)


@pytest.mark.parametrize("words, found", [(["sudo", "-u", "bob", "sh", "-c", "x", "sh"], (True, 5)),
                                          (["sudo", "-g", "staff", "-C", "5", "A=1", "sh", "-c", "x"], (True, 8)),
                                          (["sudo", "-nu", "bob", "-D", "/", "--", "bash", "-c", "x"], (True, 8)),
                                          (["sudo", "--user=bob", "-p", "pw:", "sh", "-c", "x"], (True, 6)),
                                          (["doas", "-u", "bob", "sh", "-c", "x"], (True, 5)),
                                          (["doas", "-n", "-C", "/etc/doas.conf", "sh", "-c"], (True, None)),
                                          (["sudo", "-u", "bob", "echo", "-c", "x"], (False, None))])
def test_the_script_found_behind_sudo_and_doas(words, found):
    assert _shell_script(words) == found


@pytest.fixture
def sudo_here(tmp_path, monkeypatch):
    """sudo and doas on PATH (not installed here, and never run by these checks): stand-ins that do nothing."""
    for name in ("sudo", "doas"):
        (tmp_path / name).write_text("#!/bin/sh\nexit 1\n")
        (tmp_path / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


@pytest.mark.parametrize("cmd, why", [("sudo", "sudo is given no command"), ("sudo -u bob", "sudo is given no command"),
                                      ("doas -u bob", "doas is given no command"), ("sudo -u bob sh -c", SHELL_CODE),
                                      ("sudo nosuchprog", "no such command: nosuchprog")])
def test_sudo_and_doas_with_no_command_are_refused(sudo_here, cmd, why):
    with pytest.raises(SpeechseqError, match=why):
        check_exec(cmd)


def test_a_shells_script_behind_sudo_is_not_warned_of(sudo_here, capsys):
    """`sudo -u bob sh -c 'notify-send "$1"' sh` was warned of: sudo was not known to run the rest as a command."""
    for cmd in ("sudo -u bob sh -c 'notify-send \"$1\"' sh", "doas -u bob sh -c 'echo $1' sh",
                "sudo -u bob true"):
        check_exec(cmd)
        warn_shell_words(cmd)
    assert capsys.readouterr().err == ""


def test_a_program_behind_sudo_is_looked_for_where_sudo_looks(sudo_here):
    """sudo runs its command on its secure path (/usr/sbin, /sbin, ...), not listen's PATH: found there, not refused."""
    check_exec("sudo ldconfig")   # (/usr/sbin only; PATH here: the stand-ins, /usr/bin, /bin)
