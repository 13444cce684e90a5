"""Review of listen --exec's reading (speechseq/commands/exec_words.py), session 53 j: programs that run the final text,
given as one more word without a shell, as shell code all the same (ssh's remote shell, watch's sh -c, su's and
script's -c), or as something else than their command's word (su's user, script's log file), refused before any model
loads; chroot and xargs read as the wrappers they are (watch refused: it reruns its command); taskset -p and chrt -p
(a running process's) not; env -S's ${NAME}, which env expands, not warned of, and its $NAME, which fails env,
refused; sudo -s's shell's expansion said."""
from __future__ import annotations

import pytest

from speechseq.commands.exec_words import _shell_script, check_exec, warn_shell_words
from speechseq.errors import SpeechseqError

from .exec_checks import NOT_EXPANDED, SHELL_CODE, listen_exec as _listen_exec, refused as _refused, passed as _passed


# 1. ssh: the remote shell reads the joined words

@pytest.mark.parametrize("cmd", ["ssh host notify-send", "ssh host", "ssh -p 2222 me@host 'notify-send'",
                                 "nice ssh host echo", "env A=1 ssh -t host logger", "/usr/bin/ssh -- host echo"])
def test_ssh_is_refused_its_remote_shell_reads_the_text(tmp_path, cmd):
    """`ssh host notify-send` ran `notify-send TEXT` through the remote user's shell: a heard "; rm -rf ~" ran there
    (ssh joins its command's words with spaces into one line for that shell; no option of ssh quotes them)."""
    code, err = _listen_exec(tmp_path, cmd)
    _refused(code, err, "the remote shell")
    assert "| ssh HOST" in err, err   # (the form that sends the text on ssh's stdin)


def test_the_form_ssh_is_told_to_take_passes(tmp_path):
    _passed(*_listen_exec(tmp_path, "sh -c 'echo \"$1\" | ssh HOST your-script' sh"))


# 2. watch: its words run through sh -c without -x; with it or not, it reruns them until stopped (session 53 q: each
# final left one running, repainting the terminal, until listen's exit)

@pytest.mark.parametrize("cmd", ["watch echo", "watch -n 1 notify-send", "watch", "nice watch -d echo",
                                 "watch -n 1 sh -c 'echo \"$1\"' sh", "watch -x echo", "watch -x",
                                 "watch -n 1 -x sh -c 'echo \"$1\"' sh", "watch --exe sh -c 'echo \"$1\"' sh",
                                 "watch --exec --interval 5 env A=1 sh -c 'echo \"$1\"' sh"])
def test_watch_is_refused(tmp_path, cmd):
    """`watch echo` ran `sh -c "echo TEXT"` every two seconds (the text as shell code); `watch -x echo` ran `echo
    TEXT` every two seconds until listen's exit."""
    _refused(*_listen_exec(tmp_path, cmd), "watch reruns its command every 2 s")


# 3. chroot and xargs: wrappers

@pytest.mark.parametrize("cmd, why", [("chroot /", "chroot is given no command"),
                                      ("chroot --userspec 1:1 / sh -c", SHELL_CODE),
                                      ("xargs", "xargs is given no command"),
                                      ("xargs -n 1", "xargs is given no command"),
                                      ("xargs -I {} sh -c", SHELL_CODE)])
def test_what_chroot_and_xargs_would_run_as_the_text_is_refused(tmp_path, cmd, why):
    """`chroot /` ran the final text as its command (or, given none, a shell); `xargs` too."""
    _refused(*_listen_exec(tmp_path, cmd), why)


@pytest.mark.parametrize("cmd", ["chroot / sh -c 'echo \"$1\"' sh", "chroot --groups 0 / sh -c 'echo $1' sh",
                                 "chroot /srv/jail /bin/only-in-the-jail", "xargs -n 1 sh -c 'echo \"$1\"' sh"])
def test_a_command_behind_chroot_and_xargs_passes(tmp_path, cmd):
    """Their shell's script is not warned of; chroot's command is looked for in the new root, not refused here."""
    _passed(*_listen_exec(tmp_path, cmd))


# 4. su: -c's script, its user, its shell's arguments

@pytest.mark.parametrize("cmd, why", [("su -c", SHELL_CODE), ("su bob -c", SHELL_CODE), ("su - bob -c", SHELL_CODE),
                                      ("su bob -- -c", SHELL_CODE), ("su bob -- -lc", SHELL_CODE),
                                      ("su -c 'notify-send \"$1\"'", "the user su switches to"),
                                      ("su", "the user su switches to"), ("su -l", "the user su switches to"),
                                      ("su -", "the user su switches to"),
                                      ("su bob", "a script file"), ("su - bob", "a script file")])
def test_what_su_would_read_the_text_as_is_refused(tmp_path, cmd, why):
    """su passes -c's string to the user's shell's -c and its words after the user to that shell: `su bob -c` (getopt
    reads -c after the user too) ran the text as shell code; `su -c CMD` took it for the user (`su: user turn on the
    lights does not exist`, at every final), `su bob` for a script the shell runs."""
    _refused(*_listen_exec(tmp_path, cmd), why)


@pytest.mark.parametrize("cmd", ["su bob -c 'notify-send \"$1\"' sh", "su -c 'notify-send \"$1\"' bob sh",
                                 "su -l -s /bin/sh bob -c 'echo $1' sh", "su bob -- ./on-command.sh"])
def test_su_with_its_user_and_script_passes(tmp_path, cmd):
    """`su bob -c 'notify-send "$1"' sh` runs `sh -c SCRIPT sh TEXT` as bob: its script's $1 was warned of as passed
    as written."""
    _passed(*_listen_exec(tmp_path, cmd))


def test_su_with_a_script_and_only_its_user_warns_of_dollar_zero(tmp_path):
    """`su -c 'notify-send "$1"' bob`: the text is the script's $0, its $1 empty; a script that reads $0 works."""
    code, err = _listen_exec(tmp_path, "su -c 'notify-send \"$1\"' bob")
    assert code == 1 and "none.onnx" in err and "$0" in err and NOT_EXPANDED not in err, err


@pytest.mark.parametrize("words, found", [(["su", "bob", "-c", "x", "sh"], (True, 3)),
                                          (["su", "-cx", "bob"], (True, 1)),
                                          (["su", "--command", "x", "bob"], (True, 2)),
                                          (["su", "-s", "/bin/sh", "bob", "-c"], (True, None)),
                                          (["su", "bob", "--", "-c", "x"], (False, None))])
def test_the_script_found_behind_su(words, found):
    assert _shell_script(words) == found


# 5. script: its -c's shell, its log file

@pytest.mark.parametrize("cmd, why", [("script -c", SHELL_CODE), ("script -q --command", SHELL_CODE),
                                      ("script -q -c 'notify-send hi'", "log file"), ("script", "log file"),
                                      ("script -c true /dev/null", "unexpected number of arguments"),
                                      ("script /dev/null -qc true", "unexpected number of arguments")])
def test_script_is_refused(tmp_path, cmd, why):
    """`script -c` ran the text as sh -c's script; after -c CMD it named script's log file (written in the current
    folder, its command given none of the text); after a log file, one word too many (exit 1)."""
    _refused(*_listen_exec(tmp_path, cmd), why)


# 6. taskset -p and chrt -p run no command

@pytest.mark.parametrize("cmd", ["taskset -p 1 1234", "taskset -cp 0 1234", "taskset --pid 1234", "chrt -p 1234",
                                 "chrt -p 5 1234", "chrt -f -p 5 1234"])
def test_the_pid_modes_of_taskset_and_chrt_are_refused(tmp_path, cmd):
    """`taskset -p 1 1234` was refused as "no such command: 1234" and `chrt -p 1234` as given no command: they change
    a running process and run none; the text would be read as its pid (`invalid PID argument`, at every final)."""
    _refused(*_listen_exec(tmp_path, cmd), "runs no command")


# 7. env -S: ${NAME} is env's; $NAME fails env

@pytest.mark.parametrize("cmd", ["env -S 'echo ${HOME}'", "env -S 'echo \"at ${HOME}\"'",
                                 "env -S \"sh -c 'echo \\\"\\$1\\\" \\${HOME}' sh\""])
def test_a_braced_variable_in_envs_split_string_is_not_warned_of(tmp_path, cmd):
    """env -S expands ${HOME} itself (`env -S 'echo ${HOME}'` prints /root): it was warned of as passed as written."""
    _passed(*_listen_exec(tmp_path, cmd))


@pytest.mark.parametrize("cmd", ["env -S 'echo $HOME'", "env -S 'echo \"$HOME\"'", "env -S 'echo ${1}'",
                                 "env -S 'echo a$'", "env -S 'sh -c \"echo $1\" sh'"])
def test_an_unbraced_variable_in_envs_split_string_is_refused(tmp_path, cmd):
    """env -S takes no $NAME: `env: only ${VARNAME} expansion is supported`, exit 125 at every final."""
    _refused(*_listen_exec(tmp_path, cmd), "exit 125")


def test_a_dollar_in_single_quotes_in_envs_split_string_is_warned_of(tmp_path):
    code, err = _listen_exec(tmp_path, "env -S \"echo '$HOME'\"")
    assert code == 1 and "none.onnx" in err and f"'$HOME' {NOT_EXPANDED}" in err, err


def test_the_program_envs_split_string_expands_to_is_read(tmp_path, monkeypatch):
    """`env -S '${J_SHELL} -c'` runs sh -c with the final text as its script where J_SHELL=sh."""
    monkeypatch.setenv("J_SHELL", "sh")
    _refused(*_listen_exec(tmp_path, "env -S '${J_SHELL} -c'"), SHELL_CODE)


# 8. sudo -s / -i: a shell of sudo's expands the command's $ first

@pytest.fixture
def sudo_here(tmp_path, monkeypatch):
    """sudo on PATH (not installed here, and never run by these checks): a stand-in that does nothing."""
    (tmp_path / "sudo").write_text("#!/bin/sh\nexit 1\n")
    (tmp_path / "sudo").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


@pytest.mark.parametrize("cmd", ["sudo -s sh -c 'notify-send \"$1\"' sh", "sudo -u bob -i echo $HOME",
                                 "sudo --login -u bob sh -c 'echo $1' sh", "sudo -Es logger ${USER}"])
def test_sudos_shell_expanding_the_commands_dollars_is_said(sudo_here, capsys, cmd):
    """sudo -s/-i escapes the command's words for its shell but for $: `sudo -s sh -c 'notify-send "$1"' sh` gave sh
    the script `notify-send ""` (sudo's shell's $1, empty): it was warned of as passed as written, or not at all."""
    check_exec(cmd)
    warn_shell_words(cmd)
    err = capsys.readouterr().err
    assert "sudo -s or -i" in err and "expands" in err and NOT_EXPANDED not in err, err


def test_sudo_s_without_dollars_is_not_warned_of(sudo_here, capsys):
    for cmd in ("sudo -s notify-send", "sudo -u bob sh -c 'notify-send \"$1\"' sh"):
        check_exec(cmd)
        warn_shell_words(cmd)
    assert capsys.readouterr().err == ""


def test_sudo_s_given_a_shells_c_alone_is_refused(sudo_here):
    with pytest.raises(SpeechseqError, match="shell code"):
        check_exec("sudo -s sh -c")
