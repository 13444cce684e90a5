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
SHELL_CODE = "would run the final text as shell code"
EXAMPLE = "--exec \"sh -c 'your-command \\\"$1\\\"' sh\""  # a shell's script, the text its $1


def check_exec(cmd: str) -> None:
    """--exec CMD split into words as a shell does (_words), each program it runs one that runs; SpeechseqError saying
    why not (a script not made executable, or a folder, was said to be "no such command"; a program not found behind a
    wrapper, `env nosuchprog`, failed with exit 127 at every final). A shell given -c and no script is refused: the
    final text would be its script, words heard run as shell code; so is a wrapper given no command (`env`,
    `timeout 5`: the text would be the command), flock's -c (_flock_c), a -c script that is empty (it runs nothing)
    and READERS, which read the text as shell code or as no word of a command (_check_reader)."""
    words = _words(cmd)
    if not words:
        raise SpeechseqError(f"--exec {cmd!r}: an empty command names nothing to run")
    _flock_c(cmd, words)
    _check_reader(cmd, words)
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
    return wrapper == "chroot"   # (in its new root)


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


SSH_EXAMPLE = "--exec \"sh -c 'echo \\\"$1\\\" | ssh HOST your-script' sh\""  # the text on ssh's stdin
SU_OPTIONS = ("cgGsw", ("--command", "--session-command", "--shell", "--group", "--supp-group",
                        "--whitelist-environment"))   # su's options that take a value (util-linux)
SU_C = ("-c", "--command", "--session-command")
SU_EXAMPLE = EXAMPLE.replace('"sh -c', '"su USER -c')
SCRIPT_OPTIONS = ("IOBTmcEo", ("--log-in", "--log-out", "--log-io", "--log-timing", "--logging-format", "--command",
                               "--echo", "--output-limit"))


def _check_reader(cmd: str, words: list[str]) -> None:
    """SpeechseqError where the program `words` run (behind any WRAPPERS) is one of READERS, which read the final text
    as shell code or as no argument of a command."""
    start = _wrapped(words)[0]
    reader = READERS.get(os.path.basename(words[start])) if start < len(words) else None
    if reader is not None:
        reader(cmd, words, start)


def _ssh(cmd: str, words: list[str], start: int) -> None:
    """ssh joins its command's words, the final text with them, into one line for the remote user's shell (given no
    command, the text is that line): no option of its quotes them."""
    raise SpeechseqError(f"--exec {cmd!r}: ssh joins its words after the host, the final text with them, into one line "
                         f"that the remote shell runs, so the text would run there as shell code; send the text on "
                         f"ssh's stdin to a remote command that reads it there instead: {SSH_EXAMPLE}")


def _watch(cmd: str, words: list[str], start: int) -> None:
    """watch without -x (a wrapper with it) runs its words, joined, through sh -c."""
    raise SpeechseqError(f"--exec {cmd!r}: watch runs its words, the final text with them, through sh -c, so the text "
                         f"would be run as shell code; give it -x (--exec) to run them as a command: watch -x ...")


def _pid_mode(cmd: str, words: list[str], start: int) -> None:
    """taskset -p and chrt -p change a running process (a wrapper without -p)."""
    name = os.path.basename(words[start])
    raise SpeechseqError(f"--exec {cmd!r}: {name} -p (--pid) runs no command but changes a running process, so the "
                         f"final text would be read as its pid ({name}: invalid PID argument) at every final")


def _su(cmd: str, words: list[str], start: int) -> None:
    """su [options] [-] [USER [ARG...]] (util-linux, options read anywhere before "--") runs USER's shell as `SHELL -c
    SCRIPT ARG...` or `SHELL ARG...`: the final text is USER where none is named (root where -c takes it: left to
    check_exec's -c check), else the shell's last argument: its script file given no ARG, its -c script after a -c
    ARG, $0 of -c's SCRIPT given no ARG (a warning: a script may read $0)."""
    given_c, script = _shell_script(words)
    operands = _getopt(words, start, *SU_OPTIONS)[1]
    operands = operands[1:] if operands and words[operands[0]] == "-" else operands
    if given_c and script is None:
        return
    if not operands:
        raise SpeechseqError(f"--exec {cmd!r}: su names no user, so it would take the final text for the user su "
                             f"switches to, at every final; name the user: {SU_EXAMPLE}")
    args = [words[i] for i in operands[1:]]
    if not given_c and _shell_script(["sh", *args]) == (True, None):
        raise SpeechseqError(f"--exec {cmd!r}: su passes its words after the user to the user's shell, whose -c with "
                             f"no script {SHELL_CODE}; give su -c a script: {SU_EXAMPLE}")
    if not given_c and not args:
        raise SpeechseqError(f"--exec {cmd!r}: su runs the user's shell with the final text as its argument, the name "
                             f"of a script file it would run; give su -c a script: {SU_EXAMPLE}")
    if given_c and not args:
        warn(f"--exec {cmd!r}: su passes the final text to its -c script as $0, its $1 empty; to have it as $1, add a "
             f"word for $0 after the user: su USER -c '...' sh")


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


READERS = {"ssh": _ssh, "slogin": _ssh, "watch": _watch, "taskset": _pid_mode, "chrt": _pid_mode, "su": _su,
           "script": _script}   # (watch, taskset, chrt: where they are no wrapper, _is_wrapper)


def _getopt(words: list[str], start: int, short: str,
            long: tuple[str, ...]) -> tuple[dict[str, int | None], list[int]]:
    """GNU getopt's reading of the words after words[start], options among the operands until "--": ({each of the
    options `short` (as "-c") and `long` that take a value given: the index of the word that holds its value (its own
    where attached), None where none is left, for the last one given}, the indices of the operands)."""
    values: dict[str, int | None] = {}
    operands, i = [], start + 1
    while i < len(words):
        word, i = words[i], i + 1
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


def warn_shell_words(cmd: str) -> None:
    """A warning where --exec CMD reads as written for a shell: it runs without one, so `echo "$SPEECHSEQ_TEXT"` printed
    "$SPEECHSEQ_TEXT" and the text, in silence. Not for a shell's -c script (the module's docstring)."""
    words = _words(cmd)
    shelled = [at for at in _programs(words)[:-1] if os.path.basename(words[at]) == "sudo"
               and _given(words, at, ("-s", "-i", "--shell", "--login"))]
    expanded = [w for w in words[shelled[0] + 1:] if "$" in w] if shelled else []
    if expanded:
        warn(f"--exec {cmd!r}: sudo -s or -i runs its command through a shell, which expands the $ in {expanded[0]!r} "
             f"first (a shell's $1 there: empty), and in the final text; without -s and -i they are passed as "
             f"written (sudo -u USER sh -c '...' sh)")
        return
    script = _shell_script(words)[1]
    written = [w for i, w in enumerate(words) if i != script and re.search(r"\$(\w|\{)", w)]
    if written:
        warn(f"--exec {cmd!r}: run without a shell, so {written[0]!r} is passed as written, not expanded (to have a "
             "shell expand it: --exec \"sh -c '...' sh\", the text then its $1)")


def _shell_script(words: list[str]) -> tuple[bool, int | None]:
    """(whether `words` run a shell (SHELLS, by name, with or without a folder, behind any WRAPPERS) given -c, the index
    of its script: the first word after its options, None where there is none). A short option cluster's o and O
    (-o pipefail, -co pipefail) and SHELL_VALUED take a word each; "--" or "-" ends the options. dash and bash take
    +c as -c (`sh +c TEXT` runs TEXT). su's -c (--command, --session-command) SCRIPT is its user's shell's script."""
    start = _wrapped(words)[0]
    if start < len(words) and os.path.basename(words[start]) == "su":
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
    options where it has any (`taskset -p 1 1234`, `watch echo`: no wrapper, READERS)."""
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
