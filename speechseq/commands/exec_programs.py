"""The programs in --exec CMD whose reading of their words decides where the final text, CMD's last argument, goes: a
shell given -c, whose script (_shell_script) expands its own $VARIABLEs (`sh -c 'notify-send "$1"' sh`, EXAMPLE, the
form the messages recommend); flock's -c (_flock_c); and READERS, which read the text as shell code or as no argument
of a command (ssh, watch, taskset, chrt and ionice given a running process, su and runuser, script:
_check_reader), su's and script's options read as GNU getopt reads them (_getopt); runuser -u's words (_runuser_u).
Their words are found behind any wrappers (exec_wrappers); check_exec and warn_shell_words (exec_words) say what follows
for --exec.
"""
from __future__ import annotations

import os
import shlex

from ..errors import SpeechseqError
from .common import warn
from .exec_wrappers import HELP, WRAPPERS, _full_name, _given, _programs, _wrapped

__all__ = ["SHELLS", "SHELL_CODE", "EXAMPLE", "READERS"]

SHELLS = ("sh", "bash", "dash", "zsh", "ksh")  # --exec programs that expand their -c script's $VARIABLEs themselves
SHELL_VALUED = ("--rcfile", "--init-file")  # a shell's long options that take the next word (short: o and O, below)
SHELL_CODE = "would run the final text as shell code"
EXAMPLE = "--exec \"sh -c 'your-command \\\"$1\\\"' sh\""  # a shell's script, the text its $1
SSH_EXAMPLE = "--exec \"sh -c 'echo \\\"$1\\\" | ssh HOST your-script' sh\""  # the text on ssh's stdin
# su's options that take a value (util-linux), and its others (long options read by unambiguous prefix: _getopt)
SU_OPTIONS = ("cgGsw", ("--command", "--session-command", "--shell", "--group", "--supp-group",
                        "--whitelist-environment", "--user"), ("--fast", "--login", "--preserve-environment", "--pty",
                                                               *HELP))
SU_C = ("-c", "--command", "--session-command")
SUS = ("su", "runuser")   # (util-linux's runuser reads its words as su does, but with -u: a wrapper then)
SCRIPT_OPTIONS = ("IOBTmcEo", ("--log-in", "--log-out", "--log-io", "--log-timing", "--logging-format", "--command",
                               "--echo", "--output-limit"),
                  ("--append", "--return", "--flush", "--force", "--quiet", "--timing", *HELP))
# runuser's options for the user's shell, which -u (its command run itself) goes with nowhere (- too)
RUNUSER_SHELL = ("-c", "--command", "--session-command", "-f", "--fast", "-l", "--login", "-s", "--shell")


def _shell_script(words: list[str]) -> tuple[bool, int | None]:
    """(whether `words` run a shell (SHELLS, by name, with or without a folder, behind any WRAPPERS) given -c, the index
    of its script: the first word after its options, None where there is none). A short option cluster's o and O
    (-o pipefail, -co pipefail) and SHELL_VALUED take a word each; "--" or "-" ends the options. dash and bash take
    +c as -c (`sh +c TEXT` runs TEXT). su's -c (--command, --session-command) SCRIPT is its user's shell's script
    (runuser's too: SUS)."""
    start = _wrapped(words)[0]
    if start < len(words) and os.path.basename(words[start]) in SUS:
        values = _getopt(words, start, *SU_OPTIONS)[0]
        given = [values[key] for key in SU_C if key in values]
        return bool(given), (None if None in given else max(given, default=None))
    if start == len(words) or os.path.basename(words[start]) not in SHELLS:
        return False, None
    given_c, i = False, start + 1
    while i < len(words) and words[i][:1] in ("-", "+") and words[i] not in ("-", "--"):
        word = words[i]
        if word.startswith("--"):
            i += 2 if word in SHELL_VALUED else 1
            continue
        given_c = given_c or "c" in word[1:]
        i += 1 + sum(letter in "oO" for letter in word[1:])
    if i < len(words) and words[i] in ("-", "--"):
        i += 1
    return given_c, (i if given_c and i < len(words) else None)


def _flock_c(cmd: str, words: list[str]) -> None:
    """SpeechseqError for flock FILE -c (--command): it runs its one next word as $SHELL's -c script, so the final
    text alone runs as shell code, and after a script it is one word too many (flock: "-c requires exactly one command
    argument", exit 64 at every final)."""
    start, wrapper = _wrapped(words)
    if wrapper != "flock" or start == len(words) or words[start] not in ("-c", "--command"):
        return
    example = EXAMPLE.replace('"sh -c', '"flock FILE sh -c')
    if start + 1 == len(words):
        raise SpeechseqError(f"--exec {cmd!r}: flock's -c with no script {SHELL_CODE}; give flock a shell's words "
                             f"instead: {example}")
    raise SpeechseqError(f"--exec {cmd!r}: flock's -c takes one word, so the final text after its script fails flock "
                         f"(exit 64) at every final; give flock a shell's words instead: {example}")


def _check_reader(cmd: str, words: list[str]) -> None:
    """SpeechseqError where the program `words` run (behind any WRAPPERS) is one of READERS, which read the final text
    as shell code or as no argument of a command."""
    start = _wrapped(words)[0]
    reader = READERS.get(os.path.basename(words[start])) if start < len(words) else None
    try:
        if reader is not None:
            reader(cmd, words, start)
    except ValueError as err:   # (an ambiguous long option: _getopt)
        raise SpeechseqError(f"--exec {cmd!r}: {err}") from None


def _runuser_u(cmd: str, words: list[str]) -> None:
    """SpeechseqError for runuser -u (a wrapper) where it fails at every final: given its options for the user's shell
    (RUNUSER_SHELL: "options ... are mutually exclusive"), or an option-like word among its command's without "--"
    before the command: runuser reads its words as getopt does, options among the operands (`runuser -u bob sh -c
    '...' sh`: -c its own; `echo -n`: "invalid option"). (The final text begins with no "-": text.VOCAB.)"""
    programs = _programs(words)
    for at, command in zip(programs, programs[1:]):
        if os.path.basename(words[at]) != "runuser":
            continue
        given = words[at + 1:command]
        if "-" in given or _given(words, at, RUNUSER_SHELL):
            raise SpeechseqError(f"--exec {cmd!r}: runuser's -c, -f, -l, -s and - (for the user's shell) do not go "
                                 f"with -u, which runs its command itself (runuser: options ... are mutually "
                                 f"exclusive, at every final); leave them out")
        dashed = [w for w in words[command:] if w.startswith("-") and w != "-"]
        if dashed and "--" not in given:
            raise SpeechseqError(f"--exec {cmd!r}: runuser -u reads the options among its command's words as its own "
                                 f"({dashed[0]!r}: runuser fails on it, or acts on it, at every final); put -- before "
                                 f"the command: runuser -u USER -- {shlex.join(words[command:])}")


def _ssh(cmd: str, words: list[str], start: int) -> None:
    """ssh joins its command's words, the final text with them, into one line for the remote user's shell (given no
    command, the text is that line): no option of its quotes them."""
    raise SpeechseqError(f"--exec {cmd!r}: ssh joins its words after the host, the final text with them, into one line "
                         f"that the remote shell runs, so the text would run there as shell code; send the text on "
                         f"ssh's stdin to a remote command that reads it there instead: {SSH_EXAMPLE}")


def _watch(cmd: str, words: list[str], start: int) -> None:
    """watch reruns its command every --interval (2 s) until it is stopped: each final would leave one running,
    repainting the terminal, until listen's exit (and without -x it runs its words, joined, through sh -c)."""
    raise SpeechseqError(f"--exec {cmd!r}: watch reruns its command every 2 s until it is stopped (and without -x "
                         f"runs it through sh -c, the text as shell code), so each final would leave one running; "
                         f"give the command itself")


def _pid_mode(cmd: str, words: list[str], start: int) -> None:
    """taskset -p, chrt -p and ionice -p, -P or -u act on running processes (a wrapper without: WRAPPERS' `off`)."""
    name = os.path.basename(words[start])
    off = WRAPPERS[name].off
    short, long = next(pair for pair in zip(off[::2], off[1::2]) if _given(words, start, pair))
    what = long[2:].upper()
    raise SpeechseqError(f"--exec {cmd!r}: {name} {short} ({long}) runs no command but acts on running processes, so "
                         f"the final text would be read as a {what} ({name}: invalid {what} argument) at every final")


def _su(cmd: str, words: list[str], start: int) -> None:
    """su [options] [-] [USER [ARG...]] (util-linux, options read anywhere before "--") runs USER's shell as `SHELL -c
    SCRIPT ARG...` or `SHELL ARG...`: the final text is USER where none is named (root where -c takes it: left to
    check_exec's -c check), else the shell's last argument: its script file given no ARG, its -c script after a -c
    ARG, $0 of -c's SCRIPT given no ARG (a warning: a script may read $0). runuser without -u too."""
    su = os.path.basename(words[start])
    example = EXAMPLE.replace('"sh -c', f'"{su} USER -c')
    given_c, script = _shell_script(words)
    operands = _getopt(words, start, *SU_OPTIONS)[1]
    operands = operands[1:] if operands and words[operands[0]] == "-" else operands
    if given_c and script is None:
        return
    if not operands:
        raise SpeechseqError(f"--exec {cmd!r}: {su} names no user, so it would take the final text for the user "
                             f"{su} switches to, at every final; name the user: {example}")
    args = [words[i] for i in operands[1:]]
    if not given_c and _shell_script(["sh", *args]) == (True, None):
        raise SpeechseqError(f"--exec {cmd!r}: {su} passes its words after the user to the user's shell, whose -c "
                             f"with no script {SHELL_CODE}; give {su} -c a script: {example}")
    if not given_c and not args:
        raise SpeechseqError(f"--exec {cmd!r}: {su} runs the user's shell with the final text as its argument, the "
                             f"name of a script file it would run; give {su} -c a script: {example}")
    if given_c and not args:
        warn(f"--exec {cmd!r}: {su} passes the final text to its -c script as $0, its $1 empty; to have it as $1, "
             f"add a word for $0 after the user: {su} USER -c '...' sh")


def _script(cmd: str, words: list[str], start: int) -> None:
    """script [options] [FILE] (util-linux) runs -c's COMMAND through $SHELL -c, passing it nothing: the final text
    would be that command (-c given none), FILE (script's log file), or a word too many after FILE."""
    values, operands = _getopt(words, start, *SCRIPT_OPTIONS)
    if any(key in values and values[key] is None for key in ("-c", "--command")):
        raise SpeechseqError(f"--exec {cmd!r}: script's -c with no command {SHELL_CODE} (script runs it with $SHELL "
                             f"-c)")
    why = ("script takes one log file, so the final text after it fails script (unexpected number of arguments, "
           "exit 1) at every final" if operands else "the final text would be the name of script's log file, "
           "written in the current folder, and reach no command")
    raise SpeechseqError(f"--exec {cmd!r}: {why}; script passes its command no argument: run it from a shell's script "
                         f"whose command reads the text from $SPEECHSEQ_TEXT (sh -c 'script -q -c ... /dev/null' sh)")


READERS = {"ssh": _ssh, "slogin": _ssh, "watch": _watch, "taskset": _pid_mode, "chrt": _pid_mode,
           "ionice": _pid_mode, "su": _su, "runuser": _su, "script": _script}
# (taskset, chrt, ionice, runuser: where they are no wrapper, exec_wrappers' _is_wrapper)


def _getopt(words: list[str], start: int, short: str, long: tuple[str, ...],
            flags: tuple[str, ...]) -> tuple[dict[str, int | None], list[int]]:
    """GNU getopt's reading of the words after words[start], options among the operands until "--", a long option by
    any unambiguous prefix of its name among `long` and `flags` (the program's others; exec_wrappers' _full_name, its
    ValueError for an ambiguous one): ({each of the options `short` (as "-c") and `long` that take a value given: the
    index of the word that holds its value (its own where attached), None where none is left, for the last one given},
    the indices of the operands)."""
    values: dict[str, int | None] = {}
    operands, i, program = [], start + 1, os.path.basename(words[start])
    while i < len(words):
        word, i = _full_name(words[i], program, (*long, *flags)), i + 1
        if word == "--":
            return values, [*operands, *range(i, len(words))]
        if not word.startswith("-") or word == "-":
            operands.append(i - 1)
        elif word.startswith("--") and word.partition("=")[0] in long:
            name, attached = word.partition("=")[0], "=" in word
            values[name] = i - 1 if attached else (i if i < len(words) else None)
            i += not attached
        elif not word.startswith("--"):
            for k, letter in enumerate(word[1:], 1):
                if letter in short:
                    attached = k + 1 < len(word)
                    values["-" + letter] = i - 1 if attached else (i if i < len(words) else None)
                    i += not attached
                    break
    return values, operands
