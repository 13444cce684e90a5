"""Review of listen --exec's reading (speechseq/commands/exec_*.py), session 53 q: a wrapper's long option given by an
ambiguous prefix (`env --i`: env fails on it at every final) refused as such, aliases of one option not ambiguous
(flock's --nonb); `runuser -u USER CMD` without "--" before CMD, whose option-like words runuser takes as its own,
refused; su's, runuser's and script's long options read by unambiguous prefix, as getopt_long reads them (`su --comm`).
"""
from __future__ import annotations

import pytest

from .exec_checks import SHELL_CODE, NOT_EXPANDED, listen_exec as _listen_exec, refused as _refused, passed as _passed


# 1. an ambiguous prefix of a wrapper's long option

@pytest.mark.parametrize("cmd, names", [("env --i echo", "--ignore-environment, --ignore-signal"),
                                        ("ionice --cl 3 echo", "--class, --classdata"),
                                        ("timeout --v 5 echo", "--verbose, --version"),
                                        ("nice env --i=1 echo", "--ignore-environment, --ignore-signal"),
                                        ("xargs --max- 1 echo", "--max-args")])
def test_an_ambiguous_prefix_of_a_wrappers_option_is_refused(tmp_path, cmd, names):
    """`env --i echo` passed, and env failed on it (exit 125: "option '--i' is ambiguous") at every final; `ionice
    --cl 3 echo` was refused as "no such command: 3"."""
    code, err = _listen_exec(tmp_path, cmd)
    _refused(code, err, "is ambiguous")
    assert names in err and "at every final" in err, err


@pytest.mark.parametrize("cmd", ["flock --nonb {tmp}/lock echo", "ionice --class 3 echo",
                                 "flock --nonblock {tmp}/l echo", "env --ignore-e echo", "timeout --verb 5 echo",
                                 "env -- echo --i", "nice echo --i"])
def test_a_whole_name_or_an_alias_is_no_ambiguous_prefix(tmp_path, cmd):
    """getopt_long takes a whole name that is also a prefix of another (--class, --classdata) and a prefix of names of
    one option (flock's --nonblock and --nonblocking): no ambiguity; nor are the command's words, after "--"."""
    _passed(*_listen_exec(tmp_path, cmd.format(tmp=tmp_path)))


# 2. runuser -u USER CMD, without "--" before CMD

@pytest.mark.parametrize("cmd", ["runuser -u root sh -c 'echo \"$1\"' sh", "runuser -u root echo -n",
                                 "runuser --user=root logger -t speech", "nice runuser -u root env -i echo",
                                 "runuser -u root echo -- x", "runuser -u root -- nice runuser -u root echo -n"])
def test_runuser_u_with_options_in_its_command_and_no_double_dash_is_refused(tmp_path, cmd):
    """runuser -u reads its words as getopt does, options among the operands, so the command's -c was its own:
    `runuser -u root sh -c '...' sh` passed and failed at every final ("options --{shell,fast,command,session-command,
    login} and --user are mutually exclusive"), `runuser -u root echo -n` too ("invalid option -- 'n'")."""
    code, err = _listen_exec(tmp_path, cmd)
    _refused(code, err, "put -- before the command")
    assert "runuser -u USER -- " in err, err


@pytest.mark.parametrize("cmd", ["runuser -u root -l -- echo", "runuser -u root - echo",
                                 "runuser -s /bin/sh -u root echo", "runuser --user root --comm=true -- echo",
                                 "runuser -fu root -- echo"])
def test_runuser_u_with_its_options_for_a_shell_is_refused(tmp_path, cmd):
    """runuser -u runs its command itself: -c, -f, -l, -s and - (su's, for the user's shell) go with it nowhere
    ("options --{shell,fast,command,session-command,login} and --user are mutually exclusive", at every final)."""
    _refused(*_listen_exec(tmp_path, cmd), "do not go with -u")


@pytest.mark.parametrize("cmd", ["runuser -u root -- sh -c 'echo \"$1\"' sh", "runuser -u root -- echo -n",
                                 "runuser -u root echo", "runuser -u root echo -", "runuser -m -u root -- echo -e",
                                 "runuser -u root -- nice -n 5 runuser -u root -- echo -n"])
def test_runuser_u_with_double_dash_or_no_option_in_its_command_passes(tmp_path, cmd):
    _passed(*_listen_exec(tmp_path, cmd))


# 3. su's, runuser's and script's long options by prefix

@pytest.mark.parametrize("cmd", ["su --comm 'notify-send \"$1\"' bob sh", "su bob --sess 'echo \"$1\"' sh",
                                 "runuser --comm 'echo \"$1\"' bob sh", "su --sh /bin/sh --comm 'echo \"$1\"' bob sh",
                                 "su --pr bob --comm 'echo \"$1\"' sh"])
def test_su_options_by_prefix_pass(tmp_path, cmd):
    """`su --comm 'notify-send "$1"' bob sh` runs `sh -c 'notify-send "$1"' sh TEXT` as bob: it was warned of as
    written for a shell, su's --comm read as an option without a value, the script as its user."""
    code, err = _listen_exec(tmp_path, cmd)
    _passed(code, err)


@pytest.mark.parametrize("cmd, why", [("su --comm", SHELL_CODE), ("su bob --comm", SHELL_CODE),
                                      ("runuser - bob --session", SHELL_CODE),
                                      ("su --s /bin/sh bob -c 'echo \"$1\"' sh", "is ambiguous"),
                                      ("su --p bob -c 'echo \"$1\"' sh", "--preserve-environment, --pty"),
                                      ("script --comm", "script's -c with no command"),
                                      ("script --f -c true /dev/null", "--flush, --force")])
def test_su_and_script_options_by_prefix_are_read_so(tmp_path, cmd, why):
    """`su bob --comm` ran the final text as bob's shell's script: it was refused as taking the text for a script
    file; `su --comm` as naming no user; `script --comm` as taking the text for its log file."""
    _refused(*_listen_exec(tmp_path, cmd), why)


def test_su_by_prefix_warns_of_the_text_as_its_scripts_dollar_0(tmp_path):
    """`su --comm 'echo "$1"' bob`: the text is the script's $0 (as with --command), no word written for a shell."""
    code, err = _listen_exec(tmp_path, "su --comm 'echo \"$1\"' bob")
    assert code == 1 and "none.onnx" in err and "as $0" in err and NOT_EXPANDED not in err, err


def test_the_exec_command_reads_nothing_of_listens_stdin(tmp_path):
    """--exec's command gets no stdin: it inherited listen's (the terminal), so `xargs echo` waited on the user's
    keys at each final and took them as more of the text. Here listen's stdin holds a line the command must not see."""
    import subprocess
    import sys

    from .listener_fixtures import SAMPLE

    out = tmp_path / "got.txt"
    script = f'read line; echo "got:$line:$1" >> {out}'
    p = subprocess.run([sys.executable, "-m", "speechseq", "listen", "--input", str(SAMPLE), "--fast", "--exec",
                        f"sh -c '{script}' sh"], input="typed by the user\n", capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    lines = out.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("got::") and len(lines[0]) > len("got::"), lines
