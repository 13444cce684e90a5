"""`listen --exec CMD`, read before anything runs: CMD is split into words as a shell splits them, but runs without a
shell, the final text its last argument. `check_exec` refuses what cannot run (or would run the text as shell code);
`warn_shell_words` warns where CMD reads as written for a shell ($VARIABLEs that nothing expands).

A shell's -c script is expanded by that shell (`sh -c 'notify-send "$1"' sh`, the form the warning recommends), behind a
wrapper that runs the rest of its words as a command too (`env`, `nice`, `timeout 5`, ...): the words before and after
the script are still passed as written.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil

from ..errors import SpeechseqError
from .common import warn

__all__ = ["check_exec", "warn_shell_words", "SHELLS", "WRAPPERS"]

SHELLS = ("sh", "bash", "dash", "zsh", "ksh")  # --exec programs that expand their -c script's $VARIABLEs themselves
SHELL_VALUED = ("--rcfile", "--init-file")  # a shell's long options that take the next word (short: o and O, below)
# --exec programs that run the rest of their words as a command (`env sh -c '...' sh`): their short and long options
# that take a value (the next word, where not attached), and the operands before the command (timeout's DURATION);
# env's NAME=VALUE words too (its -S STRING is read as the command it is: `env -S sh -c`, the shell given -c)
WRAPPERS = {"env": ("uC", ("--unset", "--chdir"), 0), "nice": ("n", ("--adjustment",), 0),
            "nohup": ("", (), 0), "setsid": ("", (), 0), "timeout": ("sk", ("--signal", "--kill-after"), 1),
            "ionice": ("cnpPu", ("--class", "--classdata", "--pid", "--pgid", "--uid"), 0),
            "stdbuf": ("ioe", ("--input", "--output", "--error"), 0)}
EXAMPLE = "--exec \"sh -c 'your-command \\\"$1\\\"' sh\""  # a shell's script, the text its $1


def check_exec(cmd: str) -> None:
    """--exec CMD split into words as a shell does, its program one that runs; SpeechseqError saying why not (a
    script not made executable, or a folder, was said to be "no such command"). A shell given -c and no script is
    refused: the final text would be its script, words heard run as shell code; so is a wrapper given no command
    (`env`, `timeout 5`: the text would be the command), and a -c script that is empty (it runs nothing)."""
    try:
        words = shlex.split(cmd)
    except ValueError as err:  # an unbalanced quote
        raise SpeechseqError(f"--exec {cmd!r}: {err}") from None
    if not words:
        raise SpeechseqError(f"--exec {cmd!r}: an empty command names nothing to run")
    if shutil.which(words[0]) is None:
        _not_a_command(cmd, words[0])
    start, wrapper = _wrapped(words)
    if wrapper is not None and start == len(words):
        raise SpeechseqError(f"--exec {cmd!r}: {wrapper} is given no command, so the final text would be run as "
                             f"one: name the command after it")
    given_c, script = _shell_script(words)
    if given_c and script is None:
        raise SpeechseqError(f"--exec {cmd!r}: a shell's -c with no script would run the final text as shell code; "
                             f"give it a script that takes the text as its $1: {EXAMPLE}")
    if script is not None and not words[script].strip():
        raise SpeechseqError(f"--exec {cmd!r}: a shell's -c with an empty script runs nothing; give it a script "
                             f"that takes the text as its $1: {EXAMPLE}")


def _not_a_command(cmd: str, program: str) -> None:
    """SpeechseqError saying why --exec's `program`, not found on PATH, does not run."""
    if os.sep in program and os.path.isdir(program):
        raise SpeechseqError(f"--exec {cmd!r}: {program} is a folder, not a command")
    if os.sep in program and os.path.isfile(program):   # (a name without a folder is looked up on PATH only)
        raise SpeechseqError(f"--exec {cmd!r}: {program} is not executable (chmod +x {shlex.quote(program)})")
    raise SpeechseqError(f"--exec {cmd!r}: no such command")


def warn_shell_words(cmd: str) -> None:
    """A warning where --exec CMD reads as written for a shell: it runs without one, so `echo "$SPEECHSEQ_TEXT"` printed
    "$SPEECHSEQ_TEXT" and the text, in silence. Not for a shell's -c script (the module's docstring)."""
    words = shlex.split(cmd)
    script = _shell_script(words)[1]
    written = [w for i, w in enumerate(words) if i != script and re.search(r"\$(\w|\{)", w)]
    if written:
        warn(f"--exec {cmd!r}: run without a shell, so {written[0]!r} is passed as written, not expanded (to have a "
             "shell expand it: --exec \"sh -c '...' sh\", the text then its $1)")


def _shell_script(words: list[str]) -> tuple[bool, int | None]:
    """(whether `words` run a shell (SHELLS, by name, with or without a folder, behind any WRAPPERS) given -c, the index
    of its script: the first word after its options, None where there is none). A short option cluster's o and O
    (-o pipefail, -co pipefail) and SHELL_VALUED take a word each; "--" or "-" ends the options. dash and bash take
    +c as -c (`sh +c TEXT` runs TEXT)."""
    start = _wrapped(words)[0]
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


def _wrapped(words: list[str]) -> tuple[int, str | None]:
    """(the index in `words` of the program that their WRAPPERS (`nice -n 5 env A=1 sh ...`) run, len(words) where none
    is left; the name of the last wrapper, None where `words` open with none)."""
    i, name = 0, None
    while i < len(words) and os.path.basename(words[i]) in WRAPPERS:
        name, i = os.path.basename(words[i]), _past_wrapper(words, i)
    return i, name


def _past_wrapper(words: list[str], at: int) -> int:
    """The index of the first word after the wrapper words[at] (WRAPPERS): past its options, the values they take,
    its operands and env's NAME=VALUE words ("-" alone is env's -i)."""
    name = os.path.basename(words[at])
    short, long, operands = WRAPPERS[name]
    i = at + 1
    while i < len(words) and words[i].startswith("-"):
        i, word = i + 1, words[i]
        if word == "--":
            break
        if name == "env" and _holds_split_string(word):
            return i - 1   # (the word is the command, not read further)
        if _takes_next(word, short, long):
            i += 1
    while name == "env" and i < len(words) and "=" in words[i]:
        i += 1
    return min(i + operands, len(words))


def _holds_split_string(option: str) -> bool:
    """Whether env's `option` word holds -S's STRING, the command's words (-S'sh -c x', --split-string=...)."""
    if option.startswith("--"):
        return option.startswith("--split-string=")
    valued = [k for k, letter in enumerate(option[1:], 1) if letter in "uCS"]
    return bool(valued) and option[valued[0]] == "S" and valued[0] < len(option) - 1


def _takes_next(option: str, short: str, long: tuple[str, ...]) -> bool:
    """Whether a wrapper's `option` word takes the next word as its value: a long one of `long` without "=VALUE", or
    a cluster of short ones ending in one of `short` (-n 5; not -n5, its value attached)."""
    if option.startswith("--"):
        return option in long
    for k, letter in enumerate(option[1:], 1):
        if letter in short:
            return k == len(option) - 1
    return False
