"""--exec CMD's words as its programs read them, and the walk past the wrappers among them: CMD split as a shell
splits it, each env's -S STRING split in its place into the words env splits it into (`env -S 'sh -c'` is `env sh -c`),
each wrapper's long option by its full name where given by a prefix of it (`nice --adj 5` is `nice --adjustment 5`;
an ambiguous prefix, `env --i`, refused: the program fails on it);
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
    sudo's); `off` and `on` (_is_wrapper), each a short option and its long one in turn; `flags`, its other long
    options, listed where it reads them as getopt_long does, a long option given by any unambiguous prefix of its name
    (`env --spl 'sh -c'`: _full_name), None where it is read by its whole name only (sudo's are not listed here)."""
    short: str = ""
    long: tuple[str, ...] = ()
    operands: int = 0
    assigns: bool = False
    off: tuple[str, ...] = ()   # options with which it runs no command (taskset's and chrt's -p: a running process's)
    on: tuple[str, ...] = ()    # options without which it runs none (runuser's -u: else it runs a shell)
    flags: tuple[str, ...] | None = None   # (those that take no value, or only one attached: xargs's --eof=END)


# env's -S STRING is read as the words env splits it into (_words): `env -S 'sh -c'` is `env sh -c`. Long options as
# each program's getopt_long knows them, which names those an ambiguous prefix matches (`env --i`: coreutils 9.1,
# util-linux 2.38, findutils 4.9, procps-ng 4.0, GNU time)
HELP = ("--help", "--version")
WRAPPERS = {"env": Wrapper("uCS", ("--unset", "--chdir", "--split-string"), assigns=True,
                           flags=("--ignore-environment", "--null", "--debug", "--block-signal", "--default-signal",
                                  "--ignore-signal", "--list-signal-handling", *HELP)),
            "nice": Wrapper("n", ("--adjustment",), flags=HELP), "nohup": Wrapper(), "setsid": Wrapper(),
            "timeout": Wrapper("sk", ("--signal", "--kill-after"), 1,
                               flags=("--foreground", "--preserve-status", "--verbose", *HELP)),
            "ionice": Wrapper("cnpPu", ("--class", "--classdata", "--pid", "--pgid", "--uid"),
                              off=("-p", "--pid", "-P", "--pgid", "-u", "--uid"), flags=("--ignore", *HELP)),
            "stdbuf": Wrapper("ioe", ("--input", "--output", "--error"), flags=HELP),
            "time": Wrapper("fo", ("--format", "--output-file"),
                            flags=("--append", "--portability", "--quiet", "--verbose", *HELP)),
            "taskset": Wrapper(operands=1, off=("-p", "--pid"), flags=("--all-tasks", "--pid", "--cpu-list", *HELP)),
            "chrt": Wrapper("TPD", ("--sched-runtime", "--sched-period", "--sched-deadline"), 1, off=("-p", "--pid"),
                            flags=("--all-tasks", "--batch", "--deadline", "--fifo", "--idle", "--max", "--other",
                                   "--pid", "--reset-on-fork", "--rr", "--verbose", *HELP)),
            "chroot": Wrapper(long=("--userspec", "--groups"), operands=1, flags=("--skip-chdir", *HELP)),
            "xargs": Wrapper("adEILnPs", ("--arg-file", "--delimiter", "--max-args", "--max-procs", "--max-chars",
                                          "--process-slot-var"),
                             flags=("--eof", "--exit", "--interactive", "--max-lines", "--no-run-if-empty", "--null",
                                    "--open-tty", "--replace", "--show-limits", "--verbose", *HELP)),
            "flock": Wrapper("wE", ("--wait", "--timeout", "--conflict-exit-code"), 1,
                             flags=("--shared", "--exclusive", "--unlock", "--nonblock", "--nonblocking", "--close",
                                    "--no-fork", "--verbose", *HELP)),
            # runuser (util-linux) runs -u's USER's command itself; without -u it reads its words as su does (READERS)
            "runuser": Wrapper("cgGsuw", ("--command", "--session-command", "--shell", "--group", "--supp-group",
                                          "--whitelist-environment", "--user"), on=("-u", "--user"),
                               flags=("--fast", "--login", "--preserve-environment", "--pty", *HELP)),
            "sudo": Wrapper("aCcDghpRrtTUu", ("--auth-type", "--close-from", "--login-class", "--chdir", "--group",
                                              "--host", "--prompt", "--chroot", "--role", "--type", "--command-timeout",
                                              "--other-user", "--user"), assigns=True),
            "doas": Wrapper("aCu")}
SAME = {"--nonblocking": "--nonblock"}   # names of one option (flock's), which getopt_long finds no ambiguity between


def _words(cmd: str) -> list[str]:
    """--exec CMD's words as its programs read them: split as a shell splits them, each wrapper's options read as it
    reads them (_options_read: `env --spl 'sh -c'` is `env sh -c`, `nice --adj 5` is `nice --adjustment 5`);
    SpeechseqError for an unbalanced quote."""
    try:
        words, at = shlex.split(cmd), 0
        while at < len(words) and os.path.basename(words[at]) in WRAPPERS:
            words = _options_read(words, at)
            if not _is_wrapper(words, at):
                break
            at = _past_wrapper(words, at)
    except ValueError as err:
        raise SpeechseqError(f"--exec {cmd!r}: {err}") from None
    return words


def _options_read(words: list[str], at: int) -> list[str]:
    """`words` with the options of the wrapper at words[at] as it reads them: each long one by its full name
    (_full_name), and each env's -S STRING (-S'sh -c', --split-string=...) replaced by its words (shlex: env's own
    splitting, its ${NAME} expanded (_env_expanded), but for its \\c), read as env's next words, an option clustered
    before S kept (-iS'sh -c': -i, sh, -c; `env -S'-i sh -c'` is `env -i sh -c`)."""
    name = os.path.basename(words[at])
    wrapper, words, i = WRAPPERS[name], list(words), at + 1
    while i < len(words) and words[i].startswith("-") and words[i] != "--":
        words[i] = _full_name(words[i], name, _names(wrapper))
        held = _string_of(words, i) if name == "env" else None
        if held is None:
            i += 1 + _takes_next(words[i], wrapper.short, wrapper.long)
            continue
        head, string, span = held
        words = [*words[:i], *([head] if head else []), *shlex.split(_env_expanded(string)), *words[i + span:]]
        i += bool(head)   # (STRING's words are env's next words, its options read as such)
    return words


def _names(wrapper: Wrapper) -> tuple[str, ...] | None:
    """All the long options of `wrapper` where it reads them as getopt_long does (by prefix), None where by whole
    name only."""
    return None if wrapper.flags is None else (*wrapper.long, *wrapper.flags)


def _full_name(word: str, program: str, names: tuple[str, ...] | None) -> str:
    """The option word `word` of `program` with its long option's full name where given by an unambiguous prefix of
    one of `names` (`--spl=x`: `--split-string=x`), as getopt_long reads it; else as it is (a whole name, which it
    takes even where it begins another: --class, --classdata; an unknown one, which fails the program; `names` None:
    names read whole). ValueError for an ambiguous prefix (`env --i`: env fails on it at every final), but of names of
    one option (SAME)."""
    if names is None or not word.startswith("--") or word == "--":
        return word
    name, equals, value = word.partition("=")
    found = list(dict.fromkeys(SAME.get(full, full) for full in names if full.startswith(name)))
    if name in names or not found:
        return word
    if len(found) > 1:
        raise ValueError(f"{program}'s {name} is ambiguous ({', '.join(found)}), so {program} fails on it at every "
                         f"final; give the option's whole name")
    return found[0] + equals + value


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
    options where it has any (`taskset -p 1 1234`, `runuser bob`: no wrapper, exec_programs' READERS)."""
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
