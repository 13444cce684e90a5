"""The `speechseq` command: a thin dispatcher over speechseq/commands/<name>.py.

Each command module exposes `register(subparsers)`, which adds its parser and sets
`func=run`. Grouped commands (`train X`, `eval X`) have a module per target. Command modules
import their heavy dependencies inside `run`, so `speechseq --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import io
import os
import signal
import sys
import threading
import warnings

from . import __version__
from .errors import SpeechseqError, SpeechseqWarning
from .commands.common import HelpFormatter, writes_utf8

__all__ = ["main", "build_parser"]

# speechseq/commands/<name>.py
COMMANDS: tuple[str, ...] = ("features", "export", "listen", "sample", "analyze", "transcribe", "detect", "record",
                             "synth")
# `speechseq train <target>` and `speechseq eval <target>`: speechseq/commands/<group>_<target>.py
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "train": ("train a model (detector, recognizer, lm) from data", ("lm", "recognizer", "detector")),
    "eval": ("measure a model on labelled recordings", ("recognizer", "detector")),
    "tune": ("tune decoding weights on a tuning set, not the one you report on", ("fusion",)),
}
# the order --help lists them in: using the models, making them, measuring them, the rest
ORDER: tuple[str, ...] = ("listen", "transcribe", "detect", "record", "synth", "train", "export", "eval", "tune",
                          "analyze", "features", "sample")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, with the nearest name where a command (or any other choice) is misspelled, and where an
    option argparse reports as missing was given misspelled ("the following arguments are required: --keyword" for
    `--keywrd x`). Its command parsers are of this class too (add_subparsers makes them so)."""

    def __init__(self, *args, **kwargs):
        import re

        super().__init__(*args, **kwargs)
        # what argparse reads as a negative number, not an option: "-1e5", "-1e-1", "-.5e2" too, which its own pattern
        # (-1, -.5) took for options ("--betas -1e5": "expected at least one argument"). A parser with an option that
        # looks like one still reads such a word as an option, as argparse does for -1: its groups, which hold the
        # options and flag them so, match with the same pattern.
        self._negative_number_matcher = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
        for group in self._action_groups:
            group._negative_number_matcher = self._negative_number_matcher

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        group._negative_number_matcher = self._negative_number_matcher  # (__init__'s own groups: set there)
        return group

    def parse_known_args(self, args=None, namespace=None):
        self._given = list(sys.argv[1:] if args is None else args)  # this parser's words, for error()
        return super().parse_known_args(args, namespace)

    def _check_value(self, action, value):
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError:
            choices = [c for c in action.choices or () if isinstance(c, str)]
            near = _nearest(value, choices) if isinstance(value, str) else None
            if near is None:
                raise
            raise argparse.ArgumentError(action, f"invalid choice: {value!r} (did you mean {near}?); choose from "
                                                 f"{', '.join(map(repr, action.choices))}") from None

    def error(self, message):
        required = "the following arguments are required: "
        missing = ([o for name in message[len(required):].split(", ") for o in name.split("/") if o[:1] == "-"]
                   if message.startswith(required) else [])
        known = [o for a in self._actions for o in a.option_strings]
        hints = []
        for word in getattr(self, "_given", []):
            if word == "--":
                break
            name = word.split("=", 1)[0]
            if name[:1] != "-" or name == "-" or any(o.startswith(name) for o in known):  # an option, or abbreviated
                continue
            near = _nearest(name, missing)
            if near:
                hints.append(f"{word}: did you mean {near}?")
            elif os.path.lexists(word):  # a file's name, which argparse took for an option: FILE "missing", say
                hints.append(f"{word}: a file name starting with '-' is read as an option: write ./{word}, or put "
                             "-- before it")
        if hints:
            message += f" ({'; '.join(hints)})"
        super().error(message)


def _nearest(word: str, names: list[str]) -> str | None:
    import difflib

    return next(iter(difflib.get_close_matches(word, names, n=1)), None)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="speechseq", formatter_class=HelpFormatter,
        description="Offline trigger-word detection and speech recognition with recurrent models.",
        epilog="Run `speechseq COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"speechseq {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in ORDER:
        if name in COMMANDS:
            importlib.import_module(f"speechseq.commands.{name}").register(sub)
            continue
        help_text, targets = GROUPS[name]
        gp = sub.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
        gsub = gp.add_subparsers(dest="target", metavar="TARGET", required=True)
        for target in targets:
            importlib.import_module(f"speechseq.commands.{name}_{target}").register(gsub)
    return parser


def _unrecognized(parser: argparse.ArgumentParser, args: argparse.Namespace, unknown: list[str]) -> None:
    """Options no parser knows: a usage error (exit 2) from the command's own parser, with its usage line and the
    option nearest each typo, where argparse's parse_args names them under the top-level usage, as if the command
    were wrong."""
    import difflib

    for name in (getattr(args, "command", None), getattr(args, "target", None)):
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not name or not subs or name not in subs[0].choices:
            break
        parser = subs[0].choices[name]
    known = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
    hints = {}
    for word in unknown:
        near = difflib.get_close_matches(word.split("=", 1)[0], known, n=1) if word.startswith("--") else []
        if near:
            hints[word] = near[0]
    said = "; ".join(f"did you mean {near}?" if len(hints) == 1 else f"{word}: did you mean {near}?"
                     for word, near in hints.items())
    parser.error(f"unrecognized arguments: {' '.join(unknown)}" + (f" ({said})" if said else ""))


def _show_warning(message, category, filename, lineno, file=None, line=None, _default=warnings.showwarning):
    """A SpeechseqWarning is one "speechseq: warning:" line (on a line of its own under a progress bar); other
    warnings as Python shows them."""
    if issubclass(category, SpeechseqWarning):
        from .commands.common import warn

        warn(str(message))
    else:
        _default(message, category, filename, lineno, file, line)


def _sigterm_as_ctrl_c():
    """SIGTERM (`kill`, a service manager, a job scheduler) stops a command as Ctrl+C does, with its message and
    exit code 130, where it ended the process without a word (feature extraction before a training's first epoch,
    a long transcription). `listen`, `record` and the training loop set their own handlers while they run. Returns
    a function that puts the previous handler back; nothing is changed outside the main thread, or where SIGTERM
    is ignored (a parent's choice, as nohup's of SIGHUP)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_IGN:
        return lambda: None

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _printable_streams() -> None:
    """What a command prints never ends it with a UnicodeEncodeError traceback. A file name that is no UTF-8 reaches
    Python as lone surrogates (os.fsdecode): a UTF-8 stdout whose errors are strict (a UTF-8 locale other than
    C.UTF-8) writes those bytes back as they were given (surrogateescape); any other text is encoded as before. A
    stream whose encoding cannot spell a character (a Latin-1 or ASCII locale, PYTHONIOENCODING=ascii) gets it as a
    backslash escape, where "Café.wav" stopped a batch (JSON lines are written all-ASCII there:
    common.print_json_line)."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        try:
            if not writes_utf8(stream):
                reconfigure(errors="backslashreplace")
            elif stream is sys.stdout and getattr(stream, "errors", None) == "strict":
                reconfigure(errors="surrogateescape")
        except (ValueError, OSError):  # a stream replaced by a caller's, or closed
            pass


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    finally:  # argparse's exit (--help, --version) too
        _flush_stdout()


def _flush_stdout() -> None:
    """Write out what stdout holds now, where a reader that has gone (`| head -1`, `| grep -q`: what it read was all it
    wanted) is no error: Python's own flush at exit said "Exception ignored ... BrokenPipeError" and made the exit
    status 120, from every command. What is left goes to /dev/null (where the exit's flush writes it)."""
    stream = sys.stdout
    try:
        if stream is not None:
            stream.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # a stream without a file descriptor: no exit flush to fail either
            pass
    except (OSError, ValueError):  # a full disk, a closed stream: left to the exit's flush, as before
        pass


def _main(argv: list[str] | None) -> int:
    warnings.showwarning = _show_warning
    _printable_streams()
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        _unrecognized(parser, args, unknown)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    restore = _sigterm_as_ctrl_c()
    closed = sys.stdout is None
    if closed:
        sys.stdout = _ClosedStdout()
    try:
        return _run(args)
    finally:
        restore()
        if closed:
            sys.stdout = None


class _ClosedStdout(io.TextIOBase):
    """sys.stdout where the command was started with its standard output closed (`speechseq detect x.wav >&-`, a
    service started without one): Python makes sys.stdout None, and print() then dropped every result in silence,
    exit 0, and --json's write was an AttributeError traceback. The first thing written is one error now; a command
    that writes nothing there (a training, transcribe --output-dir) runs as before."""

    encoding = "utf-8"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        raise SpeechseqError("standard output is closed: the results have nowhere to go (send them to a file, or to "
                             "/dev/null)")


def _run(args: argparse.Namespace) -> int:
    try:
        code = args.func(args)
    except SpeechseqError as err:
        print(f"speechseq: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("speechseq: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as err:  # a file or folder that cannot be read or written: one line, not a traceback
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        print(f"speechseq: error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
