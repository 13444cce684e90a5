"""Review of listen --exec's reading (speechseq/commands/exec_*.py), session 53 p: ionice -p/-P/-u (running
processes', no command) refused as taskset -p and chrt -p are; a wrapper's long option given by an unambiguous prefix,
as getopt_long reads it (`env --spl 'sh -c'`, `nice --adj 5`, `timeout --sig KILL 5`); runuser read as su (but with -u,
a wrapper)."""
from __future__ import annotations

import pytest

from speechseq.commands.exec_words import _words

from .exec_checks import SHELL_CODE, listen_exec as _listen_exec, refused as _refused, passed as _passed


# 1. ionice -p / -P / -u: running processes, no command

@pytest.mark.parametrize("cmd, what", [("ionice -p 1234", "PID"), ("ionice -p", "PID"), ("ionice -c 3 -p 1", "PID"),
                                       ("ionice -tp 1", "PID"), ("ionice --pid=1", "PID"), ("ionice -P 5", "PGID"),
                                       ("ionice --pgid 5", "PGID"), ("ionice -u 0", "UID"),
                                       ("ionice -n 7 --uid 0", "UID"), ("nice ionice -u 0", "UID"),
                                       ("ionice --pi 1", "PID"), ("taskset --pi 1234", "PID")])
def test_the_process_modes_of_ionice_are_refused(tmp_path, cmd, what):
    """`ionice -u 0` was refused as "ionice is given no command" and `ionice -p 1234` as "no such command: 1234": they
    act on running processes and run none; the final text would be read as one more (`ionice: invalid UID argument`)."""
    code, err = _listen_exec(tmp_path, cmd)
    _refused(code, err, "runs no command")
    assert f"as a {what}" in err and f"invalid {what} argument" in err, err


@pytest.mark.parametrize("cmd", ["ionice -c 3 sh -c 'echo \"$1\"' sh", "ionice -c3 -n7 -t env A=1 sh -c 'echo $1' sh"])
def test_ionice_running_a_command_is_still_a_wrapper(tmp_path, cmd):
    _passed(*_listen_exec(tmp_path, cmd))


def test_ionice_given_no_command_is_refused_as_such(tmp_path):
    _refused(*_listen_exec(tmp_path, "ionice -c 3"), "ionice is given no command")


# 2. a long option by an unambiguous prefix (getopt_long)

@pytest.mark.parametrize("cmd, words", [
    ("env --split='sh -c'", ["env", "sh", "-c"]),
    ("env --spl 'sh -c'", ["env", "sh", "-c"]),
    ("env --s='-i sh -c' x", ["env", "-i", "sh", "-c", "x"]),
    ("env --spl 'nice --adj 5 sh -c'", ["env", "nice", "--adjustment", "5", "sh", "-c"]),
    ("nice --adj 5 sh", ["nice", "--adjustment", "5", "sh"]),
    ("timeout --sig KILL --k=1 5 sh", ["timeout", "--signal", "KILL", "--kill-after=1", "5", "sh"]),
    ("ionice --classd 7 sh", ["ionice", "--classdata", "7", "sh"]),
    ("env --nosuch 1 sh", ["env", "--nosuch", "1", "sh"]),
    ("sh --spl x", ["sh", "--spl", "x"]),                              # (no wrapper's)
    ("env -- --spl x", ["env", "--", "--spl", "x"])])                  # (the command's)
def test_a_wrappers_long_option_prefix_is_read_as_its_full_name(cmd, words):
    """`env --spl 'sh -c'` is `env --split-string 'sh -c'`, which is `env sh -c`: the prefix was read as an option
    that takes no value, 'sh -c' as the command; an unknown one is left (an ambiguous one: test_review_s53_q)."""
    assert _words(cmd) == words


@pytest.mark.parametrize("cmd", ["env --split='sh -c'", "env --spl 'sh -c'", "env --split-s='-i sh -c'",
                                 "nice --adj 5 sh -c", "nice --adj=5 bash -c", "timeout --sig KILL 5 sh -c",
                                 "timeout --sig=KILL --kill 1 5 sh -c", "stdbuf --out L sh -c",
                                 "time --output /dev/null sh -c", "time --o /dev/null sh -c",
                                 "xargs --max-a 1 sh -c", "flock --wa 1 {tmp}/lock sh -c"])
def test_a_shells_c_behind_a_prefixed_option_is_refused(tmp_path, cmd):
    """`env --spl 'sh -c'` ran `sh -c TEXT`: it was refused as "no such command: sh -c", `env --split='sh -c'` as env
    given no command, `nice --adj 5 sh -c` as "no such command: 5"."""
    _refused(*_listen_exec(tmp_path, cmd.format(tmp=tmp_path)), SHELL_CODE)


@pytest.mark.parametrize("cmd", ["env --spl \"sh -c 'echo \\\"\\$1\\\"' sh\"", "nice --adj 5 sh -c 'echo \"$1\"' sh",
                                 "timeout --sig KILL 5 sh -c 'echo \"$1\"' sh",
                                 "time --output-file /dev/null sh -c 'echo \"$1\"' sh",
                                 "chroot --user 0:0 / true"])
def test_a_command_behind_a_prefixed_option_passes(tmp_path, cmd):
    """`nice --adj 5 sh -c 'echo "$1"' sh` was refused as "no such command: 5"; time's --output-file (its full name)
    was read as taking no value."""
    _passed(*_listen_exec(tmp_path, cmd))


# 3. runuser: su's twin

@pytest.mark.parametrize("cmd, why", [("runuser -c", SHELL_CODE), ("runuser bob -c", SHELL_CODE),
                                      ("runuser - bob -c", SHELL_CODE), ("runuser bob -- -c", SHELL_CODE),
                                      ("runuser -c 'notify-send \"$1\"'", "the user runuser switches to"),
                                      ("runuser", "the user runuser switches to"),
                                      ("runuser bob", "a script file"),
                                      ("runuser -u bob", "runuser is given no command"),
                                      ("runuser -u bob -- sh -c", SHELL_CODE),
                                      ("runuser --user=bob -- nosuchprog", "no such command: nosuchprog")])
def test_what_runuser_would_read_the_text_as_is_refused(tmp_path, cmd, why):
    """runuser reads its words as su does (util-linux's su-common): `runuser bob -c` ran the text as shell code and
    `runuser bob` took it for a script file, both passed; with -u it runs its command itself, as a wrapper."""
    code, err = _listen_exec(tmp_path, cmd)
    _refused(code, err, why)
    assert "su " not in err.replace("runuser", ""), err   # (runuser's words, not su's)


@pytest.mark.parametrize("cmd", ["runuser bob -c 'notify-send \"$1\"' sh", "runuser -l bob -c 'echo $1' sh",
                                 "runuser -u bob -- sh -c 'echo \"$1\"' sh", "runuser -u bob true"])
def test_runuser_with_its_user_and_script_passes(tmp_path, cmd):
    _passed(*_listen_exec(tmp_path, cmd))
