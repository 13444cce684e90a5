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
from dataclasses import dataclass

from ..errors import SpeechseqError
from .common import warn

__all__ = ["check_exec", "warn_shell_words", "SHELLS", "WRAPPERS", "Wrapper"]

SHELLS = ("sh", "bash", "dash", "zsh", "ksh")  # --exec programs that expand their -c script's $VARIABLEs themselves
SHELL_VALUED = ("--rcfile", "--init-file")  # a shell's long options that take the next word (short: o and O, below)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # sudo's usual secure_path, and doas's


@dataclass(frozen=True)
class Wrapper:
    """A program that runs the rest of its words as a command (`env sh -c '...' sh`): its short and long options that
    take a value (the next word, where not attached), the operands before the command (timeout's DURATION, taskset's
    mask, chrt's priority, flock's file), and whether NAME=VALUE words may come before it (env's and sudo's)."""
    short: str = ""
    long: tuple[str, ...] = ()
    operands: int = 0
    assigns: bool = False


# env's -S STRING is read as the words env splits it into (_words): `env -S 'sh -c'` is `env sh -c`
WRAPPERS = {"env": Wrapper("uCS", ("--unset", "--chdir", "--split-string"), assigns=True),
            "nice": Wrapper("n", ("--adjustment",)), "nohup": Wrapper(), "setsid": Wrapper(),
            "timeout": Wrapper("sk", ("--signal", "--kill-after"), 1),
            "ionice": Wrapper("cnpPu", ("--class", "--classdata", "--pid", "--pgid", "--uid")),
            "stdbuf": Wrapper("ioe", ("--input", "--output", "--error")),
            "time": Wrapper("fo", ("--format", "--output")),
            "taskset": Wrapper(operands=1),
            "chrt": Wrapper("TPD", ("--sched-runtime", "--sched-period", "--sched-deadline"), 1),
            "flock": Wrapper("wE", ("--wait", "--timeout", "--conflict-exit-code"), 1),
            "sudo": Wrapper("aCcDghpRrtTUu", ("--auth-type", "--close-from", "--login-class", "--chdir", "--group",
                                              "--host", "--prompt", "--chroot", "--role", "--type", "--command-timeout",
                                              "--other-user", "--user"), assigns=True),
            "doas": Wrapper("aCu")}
SHELL_CODE = "would run the final text as shell code"
EXAMPLE = "--exec \"sh -c 'your-command \\\"$1\\\"' sh\""  # a shell's script, the text its $1


def check_exec(cmd: str) -> None:
    """--exec CMD split into words as a shell does (_words), each program it runs one that runs; SpeechseqError saying
    why not (a script not made executable, or a folder, was said to be "no such command"; a program not found behind a
    wrapper, `env nosuchprog`, failed with exit 127 at every final). A shell given -c and no script is refused: the
    final text would be its script, words heard run as shell code; so is a wrapper given no command (`env`,
    `timeout 5`: the text would be the command), flock's -c (_flock_c) and a -c script that is empty (it runs nothing)."""
    words = _words(cmd)
    if not words:
        raise SpeechseqError(f"--exec {cmd!r}: an empty command names nothing to run")
    _flock_c(cmd, words)
    _check_programs(cmd, words)
    start, wrapper = _wrapped(words)
    if wrapper is not None and start == len(words):
        raise SpeechseqError(f"--exec {cmd!r}: {wrapper} is given no command, so the final text would be run as "
                             f"one: name the command after it")
    given_c, script = _shell_script(words)
    if given_c and script is None:
        raise SpeechseqError(f"--exec {cmd!r}: a shell's -c with no script {SHELL_CODE}; "
                             f"give it a script that takes the text as its $1: {EXAMPLE}")
    if script is not None and not words[script].strip():
        raise SpeechseqError(f"--exec {cmd!r}: a shell's -c with an empty script runs nothing; give it a script "
                             f"that takes the text as its $1: {EXAMPLE}")


def _words(cmd: str) -> list[str]:
    """--exec CMD's words as its programs read them: split as a shell splits them, and each env's -S STRING (-S'sh -c',
    --split-string=...) split in its place into the words env splits it into, read as env's next words (`env -S'-i
    sh -c'` is `env -i sh -c`); SpeechseqError for an unbalanced quote."""
    try:
        words, at = shlex.split(cmd), 0
        while at < len(words) and os.path.basename(words[at]) in WRAPPERS:
            if os.path.basename(words[at]) == "env":
                words = _split_strings(words, at)
            at = _past_wrapper(words, at)
    except ValueError as err:
        raise SpeechseqError(f"--exec {cmd!r}: {err}") from None
    return words


def _split_strings(words: list[str], at: int) -> list[str]:
    """`words` with the -S STRINGs of the env at words[at] replaced by their words (shlex: env's own splitting, but
    for its ${NAME} and \\c), an option clustered before S kept (-iS'sh -c': -i, sh, -c)."""
    i = at + 1
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        held = _string_of(words, i)
        if held is None:
            i += 1 + _takes_next(words[i], "uC", ("--unset", "--chdir"))
            continue
        head, string, span = held
        words = [*words[:i], *([head] if head else []), *shlex.split(string), *words[i + span:]]
        i += bool(head)   # (STRING's words are env's next words, its options read as such)
    return words


def _string_of(words: list[str], i: int) -> tuple[str, str, int] | None:
    """Where env's option word words[i] holds -S: (the options clustered before S, "" for none; STRING; the words
    they span: 1, STRING attached, or 2); None where it holds none, or -S has no STRING after it."""
    word = words[i]
    if word.startswith("--"):
        if word.startswith("--split-string="):
            return "", word.partition("=")[2], 1
        return ("", words[i + 1], 2) if word == "--split-string" and i + 1 < len(words) else None
    for k, letter in enumerate(word[1:], 1):
        if letter in "uC":     # (the rest of the word, or the next, is its value)
            return None
        if letter == "S":
            head = word[:k] if k > 1 else ""
            if k + 1 < len(word):
                return head, word[k + 1:], 1
            return (head, words[i + 1], 2) if i + 1 < len(words) else None
    return None


def _check_programs(cmd: str, words: list[str]) -> None:
    """SpeechseqError where a program `words` run does not: the first, and each wrapper's command, looked for where the
    wrapper looks: on PATH; behind sudo or doas on SYSTEM_PATH too (their secure path); not at all behind a wrapper
    that looks elsewhere (_looks_elsewhere: found, or not, where that holds, at each final)."""
    programs, path = _programs(words), None
    for before, at in zip([None, *programs], programs):
        wrapper = None if before is None else os.path.basename(words[before])
        if at == len(words) or (before is not None and _looks_elsewhere(wrapper, words[before + 1:at])):
            return
        if wrapper in ("sudo", "doas"):
            path = os.pathsep.join((os.environ.get("PATH", os.defpath), SYSTEM_PATH))
        if shutil.which(words[at], path=path) is None:
            _not_a_command(cmd, words[at], wrapper)


def _looks_elsewhere(wrapper: str, given: list[str]) -> bool:
    """Whether `wrapper`, given the words `given` before its command, looks for that command where listen's PATH and
    folder do not say: env that sets or unsets PATH, empties the environment (-i, -) or changes folder (-C); sudo or
    doas changing folder or root, or running it through a (login) shell. A loose reading: at worst a check not made."""
    options = [w for w in given if w.startswith("-") and not w.startswith("--")]
    if wrapper == "env":
        return any("PATH" in w or w == "-" or w.startswith(("--ignore", "--chdir")) for w in given) \
            or any(letter in w for w in options for letter in "iC")
    if wrapper in ("sudo", "doas"):
        return any(w.startswith(("--chdir", "--chroot", "--login", "--shell")) for w in given) \
            or any(letter in w for w in options for letter in "DRis")
    return False


def _not_a_command(cmd: str, program: str, wrapper: str | None = None) -> None:
    """SpeechseqError saying why --exec's `program` (the first, or the command `wrapper` runs), not found, does not
    run."""
    if os.sep in program and os.path.isdir(program):
        raise SpeechseqError(f"--exec {cmd!r}: {program} is a folder, not a command")
    if os.sep in program and os.path.isfile(program):   # (a name without a folder is looked up on PATH only)
        raise SpeechseqError(f"--exec {cmd!r}: {program} is not executable (chmod +x {shlex.quote(program)})")
    if wrapper is None:
        raise SpeechseqError(f"--exec {cmd!r}: no such command")
    raise SpeechseqError(f"--exec {cmd!r}: no such command: {program} (the command {wrapper} runs)")


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


def warn_shell_words(cmd: str) -> None:
    """A warning where --exec CMD reads as written for a shell: it runs without one, so `echo "$SPEECHSEQ_TEXT"` printed
    "$SPEECHSEQ_TEXT" and the text, in silence. Not for a shell's -c script (the module's docstring)."""
    words = _words(cmd)
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
    programs = _programs(words)
    return programs[-1], (os.path.basename(words[programs[-2]]) if len(programs) > 1 else None)


def _programs(words: list[str]) -> list[int]:
    """The indices in `words` of the programs they run: the first, and the command of each of WRAPPERS in turn
    (`nice -n 5 env A=1 sh ...`: 0, 3, 5); the last is len(words) where a wrapper is given none."""
    programs = [0]
    while programs[-1] < len(words) and os.path.basename(words[programs[-1]]) in WRAPPERS:
        programs.append(_past_wrapper(words, programs[-1]))
    return programs


def _past_wrapper(words: list[str], at: int) -> int:
    """The index of the first word after the wrapper words[at] (WRAPPERS): past its options, the values they take,
    its NAME=VALUE words and its operands ("-" alone is env's -i)."""
    wrapper = WRAPPERS[os.path.basename(words[at])]
    i = at + 1
    while i < len(words) and words[i].startswith("-"):
        i, word = i + 1, words[i]
        if word == "--":
            break
        if _takes_next(word, wrapper.short, wrapper.long):
            i += 1
    while wrapper.assigns and i < len(words) and "=" in words[i]:
        i += 1
    return min(i + wrapper.operands, len(words))


def _takes_next(option: str, short: str, long: tuple[str, ...]) -> bool:
    """Whether a wrapper's `option` word takes the next word as its value: a long one of `long` without "=VALUE", or
    a cluster of short ones ending in one of `short` (-n 5; not -n5, its value attached)."""
    if option.startswith("--"):
        return option in long
    for k, letter in enumerate(option[1:], 1):
        if letter in short:
            return k == len(option) - 1
    return False
