"""`listen --exec CMD`, read before anything runs: CMD is split into words as a shell splits them, but runs without a
shell, the final text its last argument. `check_exec` refuses what cannot run (or would run the text as shell code);
`warn_shell_words` warns where CMD reads as written for a shell ($VARIABLEs that nothing expands).

A shell's -c script is expanded by that shell (`sh -c 'notify-send "$1"' sh`, the form the warning recommends), behind a
wrapper that runs the rest of its words as a command too (`env`, `nice`, `timeout 5`, ...): the words before and after
the script are still passed as written. The words and the walk past wrappers are exec_wrappers'; the shell's -c script
and the programs that read the text their own way (ssh, su, script, ...) are exec_programs'; here, the programs that
must be found, and what --exec refuses or warns of.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil

from ..errors import SpeechseqError
from .common import warn
from .exec_programs import EXAMPLE, SHELL_CODE, SHELLS, _check_reader, _flock_c, _runuser_u, _shell_script
from .exec_wrappers import WRAPPERS, Wrapper, _given, _programs, _wrapped, _words

__all__ = ["check_exec", "warn_shell_words", "SHELLS", "WRAPPERS", "Wrapper"]

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # sudo's usual secure_path, and doas's


def check_exec(cmd: str) -> None:
    """--exec CMD split into words as a shell does (_words), each program it runs one that runs; SpeechseqError saying
    why not (a script not made executable, or a folder, was said to be "no such command"; a program not found behind a
    wrapper, `env nosuchprog`, failed with exit 127 at every final). A shell given -c and no script is refused: the
    final text would be its script, words heard run as shell code; so is a wrapper given no command (`env`,
    `timeout 5`: the text would be the command), flock's -c (_flock_c), runuser -u's words that fail it (_runuser_u),
    a -c script that is empty (it runs nothing) and READERS, which read the text as shell code or as no word of a
    command (_check_reader)."""
    words = _words(cmd)
    if not words:
        raise SpeechseqError(f"--exec {cmd!r}: an empty command names nothing to run")
    _flock_c(cmd, words)
    _runuser_u(cmd, words)
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
