"""Helpers shared by command modules: input file lists, output of JSON lines, progress."""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TextIO, TypeVar

from ..errors import SpeechseqError
from ..files import checked_utf8, read_utf8
from ..runtime.onnx import MODEL_KINDS
from ..runtime.settings import GUARD_RANGE_DB

_T = TypeVar("_T")


def models_folder() -> Path:
    """Where the commands find the shipped models: $SPEECHSEQ_MODELS, else the checkout's models/ beside the package
    (where `pip install -e .` leaves them; a wheel holds no models: point SPEECHSEQ_MODELS at a copy of the folder)."""
    env = os.environ.get("SPEECHSEQ_MODELS")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "models"


MODELS = models_folder()  # read once, at import: --help's defaults name the same folder the run uses


def no_shipped(what: str, folder: Path | None = None) -> str:
    """The end of a message for shipped models that are not there: where they were looked for (`folder`, None: MODELS),
    and how to say."""
    where = MODELS if folder is None else folder
    return f"{what} in {where} (set SPEECHSEQ_MODELS to the folder of speechseq's models/)"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """--help of every command. "(default: X)" follows the help of each option whose default is worth
    naming (not a required option's, a flag's, an empty list or string or None, nor where the help names it).
    Descriptions and epilogs are wrapped paragraph by paragraph; an indented line (a command example)
    is kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        d = action.default  # by identity: a default of 0 (== False) is worth naming
        if (action.required or d is None or d is False or d is argparse.SUPPRESS or d == [] or d == ""
                or "(default" in text):
            return text
        return super()._get_help_string(action)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        out: list[str] = []
        para: list[str] = []

        def flush() -> None:
            if para:
                out.append(textwrap.fill(" ".join(para), width, initial_indent=indent, subsequent_indent=indent))
                para.clear()
        for line in text.splitlines():
            if not line.strip():
                flush()
                out.append("")
            elif line[0].isspace():
                flush()
                out.append(indent + line)
            else:
                para.append(line.strip())
        flush()
        return "\n".join(out)


AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au")
NO_STDIN = "-: audio is not read from standard input; save it to a file and name that"
MAX_MINUTES = 365 * 24 * 60  # listen's and record's --max-minutes at most: a year (1e300 was taken, said as such)


def names_stdin(raw: str | os.PathLike) -> bool:
    """Whether an audio path given is the '-' that Unix commands read as standard input (not a file named "-" that
    is there): audio is read from files only, and a '-' said "-: no such file", as if one were missing."""
    return str(raw) == "-" and not os.path.lexists(raw)


def expand_inputs(paths: Iterable[str], recursive_dirs: bool = True, skipped: list[str] | None = None) -> list[Path]:
    """Files named, plus audio files inside directories named. Inside a directory, hidden files and folders (a name
    starting with ".", such as the "._NAME.wav" metadata files macOS leaves beside each file it copies) are left
    out, with a warning saying how many; named on their own they are read. Folders that are symbolic links are
    read too, each real folder once. A directory without audio files, an empty path (which would name the working
    directory) or a JSONL manifest is an error; given a `skipped` list, it is reported as a warning, noted there,
    and the rest go on (a batch command)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not str(raw):
            msg = "'': an empty path names no file"
            if skipped is None:
                raise SpeechseqError(msg)
            warn(msg)
            skipped.append(str(raw))
            continue
        if names_stdin(raw):
            msg = f"{NO_STDIN} (or, for a microphone, use `speechseq listen`)"
            if skipped is None:
                raise SpeechseqError(msg)
            warn(msg)
            skipped.append(str(raw))
            continue
        if p.is_dir() and recursive_dirs:
            from ..audio import UNREAD_SUFFIXES

            found, hidden, unread = [], 0, {}
            for q in _files_under(p):
                if not q.is_file() or any(part.startswith(".") for part in q.relative_to(p).parts[:-1]):
                    hidden += q.is_file() and q.suffix.lower() in AUDIO_SUFFIXES
                elif q.suffix.lower() in AUDIO_SUFFIXES:
                    if q.name.startswith("."):
                        hidden += 1
                    else:
                        found.append(q)
                elif q.suffix.lower() in UNREAD_SUFFIXES and not q.name.startswith("."):
                    name = UNREAD_SUFFIXES[q.suffix.lower()]
                    unread[name] = unread.get(name, 0) + 1
            if hidden:
                warn(f"{p}: {hidden} hidden audio file{'s' if hidden > 1 else ''} left out (a name or folder "
                     f"starting with '.'; name a file to read it)")
            n = sum(unread.values())
            formats = f"in formats speechseq does not read ({', '.join(f'{k}: {v}' for k, v in sorted(unread.items()))})"
            if unread and found:
                warn(f"{p}: {n} file{'s' if n > 1 else ''} {formats} left out: convert them first, e.g. with ffmpeg")
            if not found:
                msg = f"{p}: directory holds no audio files ({', '.join(AUDIO_SUFFIXES)})" + (
                    f"; {n} {formats}: convert them first, e.g. with ffmpeg" if unread else "")
                if skipped is None:
                    raise SpeechseqError(msg)
                warn(msg)
                skipped.append(str(p))
            out.extend(found)
        elif p.is_dir():
            raise SpeechseqError(f"{p}: is a directory, not an audio file")
        elif p.suffix.lower() == ".jsonl" and p.is_file():  # eval, train read manifests: "cannot decode audio" misled
            msg = (f"{p}: a JSONL manifest, not an audio file: name its audio files (`speechseq eval` reads "
                   f"manifests)")
            if skipped is None:
                raise SpeechseqError(msg)
            warn(msg)
            skipped.append(str(p))
        else:
            out.append(p)
    return out


def _files_under(folder: Path) -> list[Path]:
    """Every file under `folder`, sorted, through folders that are symbolic links too (a data folder of linked
    speakers; rglob leaves them out): each real folder once, so that a link to a folder above ends."""
    seen, out = set(), []
    for top, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        out += [Path(top, f) for f in files]
    return sorted(out)


def bounded(kind: type = float, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
            le: float | None = None):
    """An argparse type: a number of `kind` (int or float) within the bounds given, or a one-line usage error
    naming them ("must be > 0", "must lie in (0, 1)")."""
    lo = f"({gt:g}" if gt is not None else f"[{ge:g}" if ge is not None else None
    hi = f"{lt:g})" if lt is not None else f"{le:g}]" if le is not None else None
    if lo and hi:
        rule = f"must lie in {lo}, {hi}"
    elif lo:
        rule = f"must be {'>' if gt is not None else '>='} {lo[1:]}"
    elif hi:
        rule = f"must be {'<' if lt is not None else '<='} {hi[:-1]}"
    else:
        rule = ""
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if kind is float and not math.isfinite(value):  # nan and inf parse, and poison any search or sum
            raise argparse.ArgumentTypeError(f"not a finite number: {text!r}")
        if ((gt is not None and not value > gt) or (ge is not None and not value >= ge)
                or (lt is not None and not value < lt) or (le is not None and not value <= le)):
            raise argparse.ArgumentTypeError(f"{rule}, got {text}")
        return value

    parse.__name__ = noun  # argparse names the type in some messages
    return parse


IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".eps", ".ps")


def seed_arg(text: str) -> int:
    """argparse type of a training command's --seed: a whole number >= 0 that torch.manual_seed takes (64 bits; a
    larger one was a traceback once the work had begun)."""
    value = bounded(int, ge=0)(text)
    if value >= 2**64:
        raise argparse.ArgumentTypeError(f"must be < 2**64, got {text}")
    return value


seed_arg.__name__ = "a whole number"  # argparse names the type in some messages


STDOUT = "-"  # an output path written so is standard output, as for Unix commands (a file of that name is ./-)


def names_stdout(path: str | os.PathLike | None) -> bool:
    """Whether an output path given is '-': standard output for a text report (output_file's stdout=True), refused
    for a picture or a model. Always, a file named "-" there or not: `--json -` wrote a file "-" in the working
    folder, which would otherwise be written again each time."""
    return path is not None and os.fspath(path) == STDOUT


def stdout_refused(what: str, noun: str, name: str) -> str:
    """The one line refusing '-' for an output that is no text report: `noun` (a picture, a model, a folder) is not
    written to standard output; `name`: what to give instead ("a file (.onnx)", "a folder"). Scripts that say their
    errors with sys.exit use it as it is; the commands raise it (output_file, output_dir)."""
    return f"{what} -: {noun} is not written to standard output (only text reports are); name {name}"


def lines_out(report: str | os.PathLike | None) -> TextIO:
    """Where a command's human-readable lines go: stderr while its report (the path `report`) takes standard output,
    so that the report there stays whole JSON; stdout otherwise."""
    return sys.stderr if names_stdout(report) else sys.stdout


def write_report(path: str | os.PathLike, text: str, stdout: TextIO | None = None) -> None:
    """A text report into the file `path` whole or not at all (a write that fails, a full disk, left the file cut
    short, over the whole one of an earlier run, and said only "No space left on device": it is written beside it and
    renamed), or onto standard output for '-' (`stdout`: the one to write to where a script has sent sys.stdout to
    stderr meanwhile, lines_out)."""
    from ..files import written_atomically

    if names_stdout(path):
        out = stdout or sys.stdout
        out.write(text if text.endswith("\n") else text + "\n")
        out.flush()
        return
    path = Path(path)
    try:
        with written_atomically(path) as tmp:  # failed or interrupted (Ctrl+C): no partial file left beside it
            tmp.write_text(text, encoding="utf-8")
    except OSError as err:
        raise SpeechseqError(f"{path}: not written ({err.strerror or err})") from None


def output_file(path: str | Path | None, what: str, suffixes: tuple[str, ...] | None = None,
                stdout: bool = False) -> Path | None:
    """Check an output file's path before the work that ends in writing it: its folder must exist (or be
    creatable) and be writable, it must not be a folder (nor empty), and its suffix must be one of `suffixes` (an
    image's, say). '-' is standard output where the output is a text report (`stdout`; returned as Path("-"), to
    write with write_report), refused otherwise (a picture or a model is no text to read there). None passes
    through. An error names the option (`what`)."""
    if path is None:
        return None
    if not str(path):  # Path("") is the working directory
        raise SpeechseqError(f"{what} '': an empty path names no file")
    if names_stdout(path):
        if stdout:
            return Path(STDOUT)
        noun = "a picture" if suffixes == IMAGE_SUFFIXES else "a model" if suffixes == (".onnx",) else "this output"
        raise SpeechseqError(stdout_refused(what, noun, "a file" + (f" ({suffixes[0]})" if suffixes else "")))
    p = Path(path)
    if p.is_dir():
        raise SpeechseqError(f"{what} {p}: is a directory, not a file")
    if str(path).endswith(("/", os.sep)):  # Path drops the slash: "results/" would be written as a file "results"
        raise SpeechseqError(f"{what} {path}: names a folder; give a file name")
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise SpeechseqError(f"{what} {p}: unsupported file type {p.suffix or '(none)'!r}; use one of "
                             f"{', '.join(suffixes)}")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise SpeechseqError(f"{what} {p}: {parent} is not a directory")
    if not writable(parent):  # found when the file was written, after the work
        raise SpeechseqError(f"{what} {p}: cannot write in {parent} ({unwritable_why(parent)})")
    return p


def writable(folder: Path) -> bool:
    """Whether this user may make files in an existing folder (False on a read-only file system too)."""
    return os.access(folder, os.W_OK | os.X_OK)


def unwritable_why(folder: Path) -> str:
    """Why a folder that is not `writable` cannot be written in: on a read-only mount not a matter of permissions
    (chmod would not help)."""
    read_only = hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY
    return "read-only file system" if read_only else "permission denied"


def output_dir(path: str | Path, what: str) -> Path:
    """Make an output folder (with its parents) that this user can write in, or a one-line error naming the
    option (an empty path too: it would be the working directory; and '-', which made a folder "-" where standard
    output was meant: a folder is not written there)."""
    p = folder_named(path, what)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SpeechseqError(f"{what} {p}: cannot create it ({err.strerror or err})") from None
    if not writable(p):
        raise SpeechseqError(f"{what} {p}: cannot write in it ({unwritable_why(p)})")
    return p


def folder_named(path: str | Path, what: str) -> Path:
    """output_dir's one-line errors where `path` can name no output folder ('', '-', a file), without making it: for
    a command that reads its input before it makes the folder (train lm: --text may be GBs, and an error of the
    input leaves no folder behind), to say them before the input is read."""
    if not str(path):
        raise SpeechseqError(f"{what} '': an empty path names no folder")
    if names_stdout(path):
        raise SpeechseqError(stdout_refused(what, "a folder", "a folder"))
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise SpeechseqError(f"{what} {p}: exists and is not a directory")
    return p


def model_paths(given: list[str], option: str | None = "--model") -> list[Path]:
    """Keyword model paths in order, each once: a model named twice would fire twice (said with `option`; None: the
    path alone, speechseq.load_detector's, which checks for an empty one in its own words). '' or '-': unnamed_model's
    error."""
    out: list[Path] = []
    for raw in given:
        if option is not None:  # Path('') is '.', said as ".: is a directory" once checked
            unnamed_model(str(raw), option)
        p = Path(raw)
        if any(p.resolve() == q.resolve() for q in out):
            warn(f"{option + ' ' if option else ''}{raw}: given more than once; used once")
            continue
        out.append(p)
    return out


def unnamed_model(path: str, option: str) -> None:
    """A one-line error where the path `option` gives names no model file at all: '' (an unset variable; Path('') is
    the working folder, said as ".: is a directory") or '-' (standard input, which was said as "no such model file")."""
    if not path:
        raise SpeechseqError(f"{option} '': an empty path names no model file")
    if path == "-" and not Path(path).exists():
        raise SpeechseqError(f"{option} -: a model is not read from standard input; save it to a file and name that")


def text_file(path: str, what: str, holds: str = "plain text, one sentence a line") -> Path:
    """A text file named by an option, checked before long work: it must exist, be a file and hold UTF-8 text
    (not, say, a WAV file named by mistake, refused at its first bytes: files.checked_utf8). An error names the
    option (`what`) and what the file `holds`."""
    p = Path(path)
    _read_as_text(p, what, holds, checked_utf8)
    return p


def read_text_file(path: str, what: str, holds: str = "plain text, one sentence a line") -> str:
    """The text of a file named by an option, checked as text_file checks it while it is read (files.read_utf8), in
    one read: a pipe (`--text <(zcat corpus.gz)`) can be read only once, and a file of GBs was read twice."""
    return _read_as_text(Path(path), what, holds, read_utf8)


def present_file(path: str, what: str) -> Path:
    """A file named by an option that is there, and no directory (text_file's lines for them), said before long
    work without reading it: a file to be read once later (read_text_file)."""
    p = Path(path)
    _read_as_text(p, what, "", os.stat)
    return p


def _read_as_text(p: Path, what: str, holds: str, read: Callable[[Path], _T]) -> _T:
    """`read(p)`, with text_file's one line where `p` is a directory, no file, unreadable or not text."""
    if p.is_dir():
        raise SpeechseqError(f"{what} {p}: is a directory, not a text file")
    try:
        return read(p)
    except FileNotFoundError:
        raise SpeechseqError(f"{what} {p}: no such file") from None
    except OSError as err:
        raise SpeechseqError(f"{what} {p}: cannot read it ({err.strerror or err})") from None
    except ValueError as err:
        raise SpeechseqError(f"{what} {p}: {err}; give {holds}") from None


def writes_utf8(stream) -> bool:
    """Whether a text stream encodes as UTF-8 (it can spell any character)."""
    return (getattr(stream, "encoding", None) or "").lower().replace("-", "").replace("_", "") == "utf8"


def print_json_line(obj: dict) -> None:
    """One JSON object a line on stdout: UTF-8 as it is, all-ASCII (\\u escapes) where stdout's encoding is another."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=not writes_utf8(sys.stdout)) + "\n")
    sys.stdout.flush()


def device_arg(arg: str | None) -> int | str | None:
    """--device: an index (digits) or a name substring; None is the system's default input."""
    return int(arg) if arg is not None and arg.isdigit() else arg


def named_device(arg: str | None) -> None:
    """A one-line error for --device '' (an unset variable), said before any work: '' is a part of every name ("more
    than one input device matches ''", or "no input device ''" once the models had loaded)."""
    if arg == "":
        raise SpeechseqError("--device '': an empty name names no device (give its index or a part of its name: "
                             "--list-devices lists them)")


def print_input_devices() -> int:
    """--list-devices: the input devices, the default one starred; exit code 1 when there are none."""
    from ..sources import list_devices

    devices = list_devices()
    if not devices:
        print("no input devices found")
        return 1
    for d in devices:
        mark = "*" if d.is_default else " "
        print(f"{mark} {d.index:3d}  {d.name}  ({d.hostapi}, {d.max_input_channels} ch, {d.default_samplerate:g} Hz)")
    return 0


def stop_on_sigterm(stop: threading.Event):
    """SIGTERM (a service manager, `kill`) stops a live command (listen, record) as Ctrl+C does, cleanly:
    the handler only sets `stop`, which the loop checks after every block (so no exception is raised
    at an arbitrary point, such as inside a device's or a model's clean-up). Returns a function that
    puts the previous handler back."""

    def handler(signum, frame):
        stop.set()

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


def add_range_arg(p) -> None:
    """--range-db: the detectors' floor guard (speechseq.runtime.level.FloorGuard)."""
    p.add_argument("--range-db", type=bounded(float, ge=0), default=GUARD_RANGE_DB, metavar="DB",
                   help="the most dynamic range the keyword detectors see: under loud input each frame's floor is "
                        "raised to this far below the loudest sound of the last seconds (loud speech over a "
                        "near-silent floor is otherwise missed; README, Shipped models); 0: off")


def guard_range(value: float) -> float | None:
    """--range-db (>= 0, argparse checks it: bounded) as the Detector's range_db (None: no guard)."""
    return value or None


def warn(msg: str) -> None:
    """One warning line on stderr, on a line of its own under a progress bar (beside_bars)."""
    with beside_bars():
        print(f"speechseq: warning: {msg}", file=sys.stderr)


def beside_bars():
    """A context in which lines written to stdout or stderr stand on lines of their own while a progress bar is drawn
    on stderr: the bars are cleared first and drawn again after. A terminal shows both streams on one screen, and each
    transcript and warning was written after the bar's text, on its line ("transcribing:  40%|... [bad.wav]speechseq:
    warning: bad.wav: ...")."""
    tqdm = sys.modules.get("tqdm")  # not imported: no bar drawn
    return nullcontext() if tqdm is None else tqdm.tqdm.external_write_mode(file=sys.stderr)


def draws_bars() -> bool:
    """Whether progress bars are drawn: where stderr is a terminal. tqdm redraws its line with "\\r" up to ten times
    a second whatever the stream, and in a log file (`2> train.log`, nohup, a job scheduler) every redraw stayed."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def progress(it: Iterable, total: int | None = None, desc: str = "", enable: bool | None = None) -> Iterator:
    """tqdm on stderr when it is a terminal (or when asked), silent otherwise."""
    if enable is None:
        enable = draws_bars()
    if not enable:
        yield from it
        return
    from tqdm import tqdm

    yield from tqdm(it, total=total, desc=desc, unit="file", file=sys.stderr)


# the most any decoding weight or bonus may be, either sign (--lm-weight, --word-bonus, the lexicon search's, tune
# fusion's --alphas and --betas): 1e308 overflowed the searches' scores (numpy's RuntimeWarnings, and a decode of
# nothing or of noise); at 1e3 the LM or the bonus alone decides already
WEIGHT_MAX = 1e3


# Default beam widths. The lexicon search gains most from a wide beam (shipped recogniser, Kathleen
# dev, lexicon + LMs: 46.6 % WER at 8, 42.0 % at 32, 40.9 % at 64; tuning sets 50.9 / 44.2 / 42.3 %),
# at about 20 / 30 / 40 ms of decoding per second of audio. The listener's final decode must fit in
# the endpoint's silence, so it takes 32; the other decoders keep 8 (their LM runs per hypothesis).
LEXICON_BEAM, LISTEN_LEXICON_BEAM, OTHER_BEAM = 64, 32, 8


def beam_arg(text: str) -> int | None:
    """argparse type of --beam-size: a width >= 1, or "auto" (None: the decoder's default)."""
    if text == "auto":
        return None
    try:
        width = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a beam width: {text!r} (a whole number >= 1, or auto)") from None
    if width < 1:
        raise argparse.ArgumentTypeError(f"beam width must be >= 1, got {width}")
    return width


def beam_size(requested: int | None, decoder: str, lexicon_default: int = LEXICON_BEAM) -> int:
    """--beam-size as given, or the default for `decoder` (an error below 1)."""
    if requested is None:
        return lexicon_default if decoder == "lexicon" else OTHER_BEAM
    if requested < 1:
        raise SpeechseqError(f"--beam-size must be >= 1, got {requested}")
    return requested


def decoder_fits(model: str, runner, decoder, option: str) -> None:
    """A one-line error, before any utterance is decoded, unless the recogniser `runner` (a
    runtime.posteriors.RecognizerRunner of the file `model`) has the encoder_out output, of the width, that the
    attention `decoder` (an OnnxDecoder, given as `option`) reads."""
    import numpy as np

    from ..runtime.text_decoder import encoder_run

    _, mem = encoder_run(runner.session, np.zeros((8, runner.frontend.n_mels), np.float32))
    if mem is None:
        raise SpeechseqError(f"{model}: the recogniser has no encoder_out output, which {option} reads")
    if mem.shape[-1] != decoder.enc_dim:
        raise SpeechseqError(f"{option} {decoder.path} reads an encoder of {decoder.enc_dim} channels, {model}'s has "
                             f"{mem.shape[-1]}: pass the decoder trained on this recogniser")


def tuned_lexicon_options(path: Path, lm, beam_size: int, option: str | None = "--lexicon"):
    """DecodeOptions for the lexicon search with the weights tuned in models/words-en.md, the
    character LM `lm` (an OnnxLM or None) fused when given: `listen`'s and `transcribe`'s
    --decoder auto. `option`: the one that named `path` (load_lexicon_arg)."""
    from ..runtime.lexicon_search import tuned_options
    from ..runtime.recognizer import DecodeOptions

    if not path.is_file():
        raise SpeechseqError(f"{path}: no such lexicon (pass --lexicon PATH, or another --decoder)")
    return DecodeOptions(decoder="lexicon", beam_size=beam_size, lm=lm, lexicon=load_lexicon_arg(path, option),
                         lexicon_options=tuned_options(beam_size, char_lm=lm is not None))


WORD_LM = "a word LM file (make one with scripts/train_wordlm.py)"


def load_lm(path: str | os.PathLike, threads: int = 1, option: str | None = "--lm"):
    """The character LM (a runtime.lm.OnnxLM) in the file `option` names; an error names the option (option_file)."""
    from ..runtime.lm import OnnxLM

    with option_file(option, path, "lm"):
        return OnnxLM(path, threads)


def load_lexicon_arg(path: str | os.PathLike, option: str | None = "--lexicon"):
    """The word LM (a runtime.lexicon.Lexicon) in the file `option` names; an error names the option (option_file)."""
    from ..runtime.lexicon import load_lexicon

    with option_file(option, path, None):
        return load_lexicon(path)


def said_with(option: str, options: bool) -> str | None:
    """How an error names the file `option` gives: with the option (the commands), or alone (None: options=False,
    speechseq.load_recognizer's and load_listener's, whose caller wrote no option)."""
    return option if options else None


@contextmanager
def option_file(option: str | None, path: str | os.PathLike, kind: str | None) -> Iterator[None]:
    """Load inside the file `path` that `option` names, a speechseq model of `kind` (None: no ONNX model, a word
    LM): its error ("PATH: why", as the runtime's loaders say it) is said as "OPTION PATH: why", and where the file
    is a speechseq model of another kind, as what it is: "--lm models/activate.onnx: a trigger-word detector, not a
    language model". The errors of other files loaded inside pass as they are, and so do those of a file that is not
    there: "PATH: no such model file (pass OPTION PATH)" names the option already."""
    with option_files((option, path, kind)):
        yield


@contextmanager
def option_files(*given: tuple[str | None, str | os.PathLike | None, str | None]) -> Iterator[None]:
    """option_file for each (option, path, kind) given, a None path left out: for a load that reads several files
    (transcribe's recogniser, LM and attention decoder), each one's error said with its own option. Where two
    options name the file whose error it is (--model given the --lm file), the one it is not a model for. A None
    option: the file said alone, as what it is (speechseq.load_recognizer's files, which no option named)."""
    try:
        yield
    except SpeechseqError as err:
        said = str(err)
        named = [g for g in given if g[1] is not None and said.startswith(f"{g[1]}: ") and Path(g[1]).is_file()]
        if not named:
            raise
        other = _model_kind(named[0][1])
        option, path, kind = next((g for g in named if g[2] != other), named[0])
        if other == "recognizer-stream" and kind == "recognizer":
            said = f"{path}: {MODEL_KINDS[other]} (chunked, for live partials), not an offline one: {_offline(path)}"
        elif other is not None and other != kind:
            said = f"{path}: {MODEL_KINDS[other]}, not {WORD_LM if kind is None else MODEL_KINDS[kind]}"
        raise SpeechseqError(f"{option} {said}" if option else said) from None


def _offline(stream: str | os.PathLike) -> str:
    """What to pass instead of the streaming recogniser `stream` where an offline (whole-utterance) one is read: its
    offline twin (x.stream.onnx: x.onnx, runtime.onnx.twin_path's naming) where it is there, else the shipped one
    (it was "a streaming speech recogniser, not a speech recogniser", which named no file to pass)."""
    import re

    twin = Path(stream).with_name(re.sub(r"\.stream(?=(\.int8)?\.onnx$)", "", Path(stream).name, flags=re.I))
    if twin.name != Path(stream).name and twin.is_file():
        return f"pass the one it was made from, {twin}"
    return f"pass one, such as {MODELS / 'recognizer-en.onnx'}"


def _model_kind(path: str | os.PathLike) -> str | None:
    """The kind of speechseq model an .onnx file is (None where it is none named in MODEL_KINDS, or no model). Only
    for a file named .onnx: another (a recording given by mistake) is not parsed again to find out."""
    from ..runtime.onnx import read_metadata

    if Path(path).suffix.lower() != ".onnx":
        return None
    try:
        kind = read_metadata(path).get("kind")
    except SpeechseqError:
        return None
    return kind if kind in MODEL_KINDS else None


def require_torch(what: str) -> None:
    """One line where torch is not installed (`pip install -e .` runs the models without it): `what` ("training",
    "export") needs the train extra, installed from the checkout as the README's "Install by hand" does."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SpeechseqError(f"{what} needs torch, which the train extra installs: pip install -e '.[train]' "
                             "(in the speechseq checkout)") from None


def checked_device(name: str) -> str:
    """A training command's --device, checked before any work: one line where torch knows no such device, or cannot
    use it here (the training would otherwise fail with a traceback from deep inside, once the features are made)."""
    import torch

    try:
        dev = torch.device(name)
    except RuntimeError:
        raise SpeechseqError(f"--device {name}: not a device torch knows (cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise SpeechseqError(f"--device {name}: torch sees no CUDA GPU here (use --device cpu)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise SpeechseqError(f"--device {name}: torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise SpeechseqError(f"--device {name}: torch cannot use Apple's GPU here (use --device cpu)")
    if dev.type not in ("cpu", "cuda", "mps"):  # xpu, vulkan, meta...: torch names them, a build may not run them
        try:
            torch.ones(1, device=dev).cpu()
        except Exception:  # noqa: BLE001 - not compiled in, no such hardware, no data (meta): the same advice
            raise SpeechseqError(f"--device {name}: torch cannot train on it here (use --device cpu or cuda)") from None
    return name


def cpu_threads(asked: int, said: str | None = None) -> int:
    """--threads as onnxruntime (or torch) gets it: at most the CPUs this process may run on, said where it asked more.
    onnxruntime starts a thread for each one asked: 100000 held 16 GB in 7,776 threads and stalled a 2-core machine
    (load 900, beyond SIGTERM's reach), and more threads than CPUs only wait on each other (200 took 7.3 s, 2 0.56).
    said: how the warning names the count (None: "--threads N", the commands' option)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if asked > cpus:
        warn(f"{said or f'--threads {asked}'}: more than the {cpus} CPUs here; using {cpus}")
        return cpus
    return asked
