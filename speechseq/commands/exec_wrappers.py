"""--exec CMD's words as its programs read them, and the walk past the wrappers among them: CMD split as a shell
splits it, each env's -S STRING split in its place into the words env splits it into (`env -S 'sh -c'` is `env sh -c`);
WRAPPERS, the programs that run the rest of their words as a command (`env`, `nice`, `timeout 5`, ...), walked past to
the program each one runs (_programs, _wrapped). What a particular program does with its words is exec_programs';
what --exec refuses or warns of, exec_words'.
"""
from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass

from ..errors import SpeechseqError

__all__ = ["Wrapper", "WRAPPERS"]


@dataclass(frozen=True)
class Wrapper:
    """A program that runs the rest of its words as a command (`env sh -c '...' sh`): its short and long options that
    take a value (the next word, where not attached), the operands before the command (timeout's DURATION, taskset's
    mask, chrt's priority, flock's file, chroot's NEWROOT), and whether NAME=VALUE words may come before it (env's and
    sudo's); `off` and `on` (_is_wrapper)."""
    short: str = ""
    long: tuple[str, ...] = ()
    operands: int = 0
    assigns: bool = False
    off: tuple[str, ...] = ()   # options with which it runs no command (taskset's and chrt's -p: a running process's)
    on: tuple[str, ...] = ()    # options without which it runs none (watch's -x: else sh -c runs its words, joined)


# env's -S STRING is read as the words env splits it into (_words): `env -S 'sh -c'` is `env sh -c`
WRAPPERS = {"env": Wrapper("uCS", ("--unset", "--chdir", "--split-string"), assigns=True),
            "nice": Wrapper("n", ("--adjustment",)), "nohup": Wrapper(), "setsid": Wrapper(),
            "timeout": Wrapper("sk", ("--signal", "--kill-after"), 1),
            "ionice": Wrapper("cnpPu", ("--class", "--classdata", "--pid", "--pgid", "--uid")),
            "stdbuf": Wrapper("ioe", ("--input", "--output", "--error")),
            "time": Wrapper("fo", ("--format", "--output")),
            "taskset": Wrapper(operands=1, off=("-p", "--pid")),
            "chrt": Wrapper("TPD", ("--sched-runtime", "--sched-period", "--sched-deadline"), 1, off=("-p", "--pid")),
            "chroot": Wrapper(long=("--userspec", "--groups"), operands=1),
            "xargs": Wrapper("adEILnPs", ("--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars",
                                          "--process-slot-var")),
            "watch": Wrapper("nq", ("--interval", "--equexit"), on=("-x", "--exec")),
            "flock": Wrapper("wE", ("--wait", "--timeout", "--conflict-exit-code"), 1),
            "sudo": Wrapper("aCcDghpRrtTUu", ("--auth-type", "--close-from", "--login-class", "--chdir", "--group",
                                              "--host", "--prompt", "--chroot", "--role", "--type", "--command-timeout",
                                              "--other-user", "--user"), assigns=True),
            "doas": Wrapper("aCu")}


def _words(cmd: str) -> list[str]:
    """--exec CMD's words as its programs read them: split as a shell splits them, and each env's -S STRING (-S'sh -c',
    --split-string=...) split in its place into the words env splits it into, read as env's next words (`env -S'-i
    sh -c'` is `env -i sh -c`); SpeechseqError for an unbalanced quote."""
    try:
        words, at = shlex.split(cmd), 0
        while at < len(words) and _is_wrapper(words, at):
            if os.path.basename(words[at]) == "env":
                words = _split_strings(words, at)
            at = _past_wrapper(words, at)
    except ValueError as err:
        raise SpeechseqError(f"--exec {cmd!r}: {err}") from None
    return words


def _split_strings(words: list[str], at: int) -> list[str]:
    """`words` with the -S STRINGs of the env at words[at] replaced by their words (shlex: env's own splitting, its
    ${NAME} expanded (_env_expanded), but for its \\c), an option clustered before S kept (-iS'sh -c': -i, sh, -c)."""
    i = at + 1
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        held = _string_of(words, i)
        if held is None:
            i += 1 + _takes_next(words[i], "uC", ("--unset", "--chdir"))
            continue
        head, string, span = held
        words = [*words[:i], *([head] if head else []), *shlex.split(_env_expanded(string)), *words[i + span:]]
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


def _env_expanded(string: str) -> str:
    """env -S's STRING with each ${NAME} outside single quotes replaced by NAME's value in listen's environment, which
    its commands get (quoted for shlex: env does not split it); ValueError for any other $ there, which fails env
    ("only ${VARNAME} expansion is supported", exit 125) at every final."""
    out, quote, i = [], None, 0
    while i < len(string):
        ch = string[i]
        if ch == "\\" and quote != "'":
            out.append(string[i:i + 2])
            i += 2
            continue
        if ch == "$" and quote != "'":
            name = re.match(r"\$\{([A-Za-z_]\w*)\}", string[i:])
            if name is None:
                raise ValueError(f"env -S expands only ${{NAME}}, so {string[i:].split()[0]!r} in {string!r} fails env "
                                 f"(exit 125) at every final")
            value = os.environ.get(name[1], "")
            out.append(re.sub(r'(["\\])', r"\\\1", value) if quote else (shlex.quote(value) if value else ""))
            i += name.end()
            continue
        if ch in "'\"" and quote in (None, ch):
            quote = None if quote else ch
        out.append(ch)
        i += 1
    return "".join(out)


def _wrapped(words: list[str]) -> tuple[int, str | None]:
    """(the index in `words` of the program that their WRAPPERS (`nice -n 5 env A=1 sh ...`) run, len(words) where none
    is left; the name of the last wrapper, None where `words` open with none)."""
    programs = _programs(words)
    return programs[-1], (os.path.basename(words[programs[-2]]) if len(programs) > 1 else None)


def _programs(words: list[str]) -> list[int]:
    """The indices in `words` of the programs they run: the first, and the command of each of WRAPPERS in turn
    (`nice -n 5 env A=1 sh ...`: 0, 3, 5); the last is len(words) where a wrapper is given none."""
    programs = [0]
    while programs[-1] < len(words) and _is_wrapper(words, programs[-1]):
        programs.append(_past_wrapper(words, programs[-1]))
    return programs


def _is_wrapper(words: list[str], at: int) -> bool:
    """Whether words[at] is one of WRAPPERS that runs a command: given none of its `off` options, and one of its `on`
    options where it has any (`taskset -p 1 1234`, `watch echo`: no wrapper, exec_programs' READERS)."""
    wrapper = WRAPPERS.get(os.path.basename(words[at]))
    return wrapper is not None and not _given(words, at, wrapper.off) \
        and (not wrapper.on or _given(words, at, wrapper.on))


def _given(words: list[str], at: int, options: tuple[str, ...]) -> bool:
    """Whether the wrapper words[at] is given one of `options` ("-p" in a cluster too, "--pid") before its command."""
    wrapper, i = WRAPPERS[os.path.basename(words[at])], at + 1
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        word = words[i]
        if word.startswith("--") and word.partition("=")[0] in options:
            return True
        for letter in word[1:] if not word.startswith("--") else "":
            if "-" + letter in options:
                return True
            if letter in wrapper.short:   # (the rest of the word is its value)
                break
        i += 1 + _takes_next(word, wrapper.short, wrapper.long)
    return False


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
