"""`speechseq record`: record your own takes of a keyword, one WAV each, to fit a detector to your voice.

    speechseq record android --out my-android-clips              # say it, pause, say it again, ... (50 takes)
    speechseq record "hey robot" --out clips --count 40 --device 2
    speechseq record android --out clips --input session.flac    # cut a recording of repeated takes instead
    speechseq record --background 15 --out my-room               # 15 min of the room, a file a minute

Each utterance between pauses is one take (speechseq.runtime.takes): kept as DIR/<keyword>-NNN.wav
(16 kHz mono, 16-bit, padded by 0.2 s of what the microphone heard), numbered after the takes
already there, each written whole as soon as it is cut, so an interrupted session keeps every take
it reported. A take that is too long, clipped or too quiet is reported and not kept, and so is one whose start
was not heard (said as the microphone opened, or where audio was lost); one whose samples a take there holds
already (the same recording cut again) is reported and not saved twice.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import sys
import threading
import warnings
from pathlib import Path

from ..errors import SpeechseqError
from ..files import check_keyword_file
from .common import (MAX_MINUTES, MODELS, NO_STDIN, HelpFormatter, bounded, device_arg, folder_named, named_device,
                     names_stdin, output_dir, print_input_devices, print_json_line, stop_on_sigterm, warn)

SAMPLE_RATE = 16000
BACKGROUND_FILE_S = 60  # seconds per background file
MIN_BACKGROUND_S = 1  # a background file's least length: less at the end of a session is not worth a file
MAX_BACKGROUND_MIN = 24 * 60  # --background's most: a day of the room (1e300 ran, its progress line 300 digits long)
MIN_TAKE_S = 0.15  # speechseq.runtime.takes.TakeConfig.min_speech_s: a take must be allowed to be longer
SILENT_DBFS = -80.0  # a background file that peaks below this heard nothing (a muted microphone: a few 16-bit steps)
MAX_PAUSE_MS = 60000.0  # --pause-ms' most: a longer pause is no pause between takes
ROOM_S = 10  # seconds at the start of an --input file whose quiet frames start the energy VAD's noise floor


EXAMPLES = """examples:
  speechseq record "hey robot" --out my-clips --count 30
  speechseq record android --out my-clips --input session.wav     # cut a recording into takes
  speechseq record --background 15 --out my-room                  # 15 minutes of the room, for --backgrounds"""


# the options that shape takes of a keyword (not read with --background), and their defaults
TAKE_DEFAULTS = {"count": 50, "pause_ms": 500.0, "max_seconds": 2.5, "vad": "auto"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("record", epilog=EXAMPLES, help="record your own takes of a keyword (for `train detector --positives`)",
                       description="Record takes of a keyword from the microphone (or cut them out of a recording): "
                                   "say the keyword, pause, say it again. Each utterance between pauses is saved as "
                                   "one WAV file, ready for `speechseq train detector --init ... --positives DIR:50` "
                                   "(README: Training your own keyword). Vary how you say it, your distance to the "
                                   "microphone and the room, as you will when you use it. With --background MINUTES "
                                   "it records the room instead (anything but the keyword): real backgrounds for "
                                   "the same training, and negatives for choosing its threshold.",
                       formatter_class=HelpFormatter)
    p.add_argument("keyword", nargs="?", help="the keyword you will say (names the files and the prompt)")
    p.add_argument("--out", metavar="DIR", help="folder for the takes, needed but for --list-devices (made if "
                                                 "missing; takes already there are kept and numbered after)")
    p.add_argument("--count", type=bounded(int, ge=1), default=TAKE_DEFAULTS["count"],
                   help="stop after this many new takes in this session (takes already in --out, those found there "
                        "again in a recording cut twice included, are kept but not counted; more help: README, "
                        "Training your own keyword)")
    src = p.add_argument_group("input")
    src.add_argument("--device", help="input device index or name substring (default: the system's default input)")
    src.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    src.add_argument("--samplerate", type=bounded(int, ge=8000), help="open the device at this rate, 8000 Hz or more (default: the device's own)")
    src.add_argument("--input", metavar="FILE", help="cut the takes out of this recording instead of a microphone")
    src.add_argument("--max-minutes", type=bounded(float, gt=0, le=MAX_MINUTES),
                     help="stop after this many minutes of audio (a year at most)")
    src.add_argument("--background", type=bounded(float, gt=0, le=MAX_BACKGROUND_MIN), metavar="MINUTES",
                     help="instead of takes, record this many minutes (a day at most) of the room as it sounds when "
                          "you use it (anything but the keyword) into DIR/background-NNN.wav, a file a minute: for "
                          "train detector --backgrounds, and eval detector --negatives --save-threshold (15 min or "
                          "more)")
    c = p.add_argument_group("cutting")
    # at most a minute: the file's tail is this pause of silence, held whole (1e300 was a traceback, 1e8 6 GB)
    c.add_argument("--pause-ms", type=bounded(float, gt=0, le=MAX_PAUSE_MS), default=TAKE_DEFAULTS["pause_ms"],
                   help="the pause that ends a take (a minute at most)")
    c.add_argument("--max-seconds", type=bounded(float, gt=MIN_TAKE_S), default=TAKE_DEFAULTS["max_seconds"],
                   help="a longer utterance is not one keyword: reported, not kept")
    c.add_argument("--vad", choices=("auto", "silero", "energy"), default=TAKE_DEFAULTS["vad"],
                   help="voice activity detector (auto: Silero when installed)")
    p.add_argument("--json", action="store_true",
                   help='one JSON object a line: {"event": "take", "file", "start", "end", "peak_dbfs"} (with '
                        '"already_there": true for a take whose samples a file there holds already) or '
                        '{"event": "rejected", "start", "end", "reason"} (times in seconds of audio heard); '
                        'with --background, {"event": "background", "file", "duration"}')
    p.set_defaults(func=run)


def slug(keyword: str) -> str:
    """The file-name stem for a keyword: "Hey Robot!" -> "hey-robot" (letters and digits of any alphabet kept,
    "café" composed or not the same)."""
    import unicodedata

    s = re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", keyword).lower()).strip("-")
    if not s:
        raise SpeechseqError(f"keyword {keyword!r} has no letters or digits to name its files by")
    return s


def numbered_files(out: Path, stem: str) -> list[tuple[int, Path]]:
    """(NNN, file) of the out/<stem>-NNN.wav files already there, by name."""
    pattern = re.compile(rf"^{re.escape(stem)}-(\d+)\.wav$")
    files = sorted(out.iterdir()) if out.is_dir() else []
    return [(int(m.group(1)), f) for f in files if (m := pattern.match(f.name))]


def next_number(out: Path, stem: str) -> int:
    """1 + the highest NNN of the out/<stem>-NNN.wav files already there (1 for none)."""
    return max((n for n, _ in numbered_files(out, stem)), default=0) + 1


def _from_here(path: Path) -> str:
    """`path` as a command run in the working folder names it: relative when it lies under that folder (the
    checkout's models/), else absolute (SPEECHSEQ_MODELS elsewhere, record run outside the checkout)."""
    full = path.resolve()
    try:
        return str(full.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(full)


def next_steps(keyword: str, stem: str, out: Path) -> str:
    """What to run with the takes: the fine-tune of the README, from the shipped model of this keyword
    when there is one, from a run of yours otherwise (ready to paste: the folder quoted for a shell)."""
    import shlex

    shipped = MODELS / f"{stem.replace('-', '_')}.onnx"
    init = shlex.quote(_from_here(shipped)) if shipped.is_file() else "runs/YOUR-RUN"
    synth = f"cache/synth/kw-{stem}"
    # in double quotes where a shell reads it as it is there ("hey robot"), else quoted so that it does (a '"', '$')
    said = f'"{keyword}"' if not set(keyword) & set('"$`\\!') else shlex.quote(keyword)
    return (f"speechseq: next, fit a detector to your voice (README: Training your own keyword):\n"
            f"  speechseq synth keyword --keyword {said} --out {synth}   # once\n"
            f"  speechseq train detector --keyword {said} --synth {synth} --init {init} \\\n"
            f"      --positives {shlex.quote(f'{out}:50')} --backgrounds SPEECH-WITHOUT-THE-KEYWORD --epochs 3 "
            f"--lr 0.001 --out runs/{stem}-me")


def write_take(path: Path, audio, seen: dict[str, Path] | None = None) -> Path:
    """The WAV written whole or not at all (files.written_atomically); returns its path. It never replaces a file:
    one at `path` (made by another session since the name was chosen) is a FileExistsError. With `seen`
    (`sample_digests` of the files there, kept up to date here), a take whose samples a file holds already is not
    written again (the same recording cut twice): that file's path is returned instead."""
    import io

    import soundfile as sf

    from ..files import written_atomically

    wav = io.BytesIO()
    sf.write(wav, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    # checked before it is written: a check of the written file, cut short (Ctrl+C) or failing, threw the take away
    digest = sample_digest(io.BytesIO(wav.getvalue())) if seen is not None else None
    if digest is not None and digest in seen:
        return seen[digest]
    try:
        # written by Python, not libsndfile: a full disk is "No space left on device", not "System error.",
        # and a folder whose name is not UTF-8 is written too
        with written_atomically(path, exclusive=True) as tmp, open(tmp, "wb") as f:
            f.write(wav.getbuffer())
    except OSError as err:  # a full disk, a folder not writable: no partial file left behind (nor by Ctrl+C)
        if isinstance(err, FileExistsError) and os.path.lexists(path):  # the name taken, not a file where --out was
            raise
        raise SpeechseqError(f"{path}: cannot write it ({err})") from None
    if digest is not None:
        seen[digest] = path
    return path


def sample_digest(wav) -> str:
    """A digest of a WAV's 16-bit samples (not of its header); `wav` is its path or the file object."""
    import hashlib

    import soundfile as sf

    source = os.fsencode(wav) if isinstance(wav, (str, os.PathLike)) else wav
    return hashlib.sha1(sf.read(source, dtype="int16")[0].tobytes()).hexdigest()


def sample_digests(out: Path, stem: str) -> dict[str, Path]:
    """{digest: file} of the out/<stem>-NNN.wav takes already there (one that cannot be read is left out)."""
    seen: dict[str, Path] = {}
    for _, f in numbered_files(out, stem):
        try:
            seen.setdefault(sample_digest(f), f)
        except (OSError, RuntimeError):  # soundfile's LibsndfileError is a RuntimeError
            continue
    return seen


def run(args: argparse.Namespace) -> int:
    if args.list_devices:
        return print_input_devices()
    if args.out is None:
        raise SpeechseqError("give the folder for the recordings: --out DIR")
    out = folder_named(args.out, "--out")  # '', '-', a file: before the input is opened (output_dir runs once it works)
    if args.input == "":  # not the microphone, which `if args.input` took it for
        raise SpeechseqError("--input '': an empty path names no file")
    if args.input is not None and names_stdin(args.input):  # was "-: no such file"
        raise SpeechseqError(f"{NO_STDIN} (or leave --input out to record from the microphone)")
    if args.input and (args.device is not None or args.samplerate is not None):
        warn("--device and --samplerate choose a microphone: with --input they are ignored")
    else:
        named_device(args.device)
    if args.background is not None:
        if args.keyword is not None:
            raise SpeechseqError(f"--background records the room, not {args.keyword!r}: give one or the other")
        unread = ["--" + name.replace("_", "-") for name, default in TAKE_DEFAULTS.items()
                  if getattr(args, name) != default]
        if unread:  # they shape takes of a keyword: a room is recorded a file a minute, whatever they say
            warn(f"{', '.join(unread)}: not used with --background (it records the room a file a minute)")
        option, minutes = min(("--background", args.background), ("--max-minutes", args.max_minutes or math.inf),
                              key=lambda o: o[1])
        if round(minutes * 60 * SAMPLE_RATE) < MIN_BACKGROUND_S * SAMPLE_RATE:  # the session would keep nothing
            least = math.ceil(MIN_BACKGROUND_S / 60 * 1000) / 1000
            raise SpeechseqError(f"{option} {minutes:g}: {minutes * 60:.3g} s, under the {MIN_BACKGROUND_S} s a "
                                 f"background file holds at least: give {least:g} minutes or more")
        stem = "background"
    else:
        if args.keyword is None:
            raise SpeechseqError("say which keyword you will record (speechseq record WORD --out DIR), "
                                 "or record the room with --background MINUTES")
        stem = slug(args.keyword)
    if args.background is None:
        last = next_number(out, stem) + args.count - 1  # the longest name of the session's takes
        check_keyword_file(args.keyword, out, f"{stem}-{last:03d}.wav", "its take files", f"{stem}-NNN.wav")
    session = _Background(args, out, stem) if args.background is not None else _Takes(args, out, stem)
    stop = threading.Event()
    restore = stop_on_sigterm(stop)
    try:
        session.run(stop)
        if stop.is_set():  # SIGTERM: the same clean stop as Ctrl+C, and the same line
            print("speechseq: stopped", file=sys.stderr)
    except KeyboardInterrupt:
        print("speechseq: stopped", file=sys.stderr)
    finally:
        restore()
        session.finish()
    return session.summary()


def lost(item) -> str:
    """What a sources.Overrun lost, in the words `listen` uses for it (runtime.events.lost_in_words)."""
    from ..runtime.events import lost_in_words

    return lost_in_words(item.dropped_s, item.input_overflows)


# a stop this long after the last speech keeps the take (the word was said; shorter: it may go on)
SPOKEN_S = 0.25


class _Recording:
    """One recording session: a source streamed block by block into `feed` until it ends, `done()`,
    --max-minutes, Ctrl+C or SIGTERM; `finish` writes what is still held (it runs in every case)."""

    tail_s = 0.0  # silence after a file's end (--input)

    def __init__(self, args: argparse.Namespace, out: Path, stem: str) -> None:
        self.args, self.out, self.stem = args, out, stem
        self.number = next_number(out, stem)
        self.kept: list[Path] = []
        self.heard = 0  # samples of audio fed

    def run(self, stop: threading.Event) -> None:
        from ..sources import DeviceLost, FileStream, Microphone, Overrun

        args = self.args
        if args.input:
            source = FileStream(args.input, realtime=False, tail_s=self.tail_s)
        else:
            source = Microphone(device_arg(args.device), samplerate=args.samplerate)
        limit = args.max_minutes * 60 * SAMPLE_RATE if args.max_minutes else None
        try:
            with source:
                announced = False
                for item in source.blocks():
                    if isinstance(item, Overrun):
                        self.overrun(item)
                        continue
                    if not announced:  # the input works: now the folder is worth making
                        announced = True
                        output_dir(self.out, "--out")
                        where = f"{source.name} ({source.rate} Hz)" if hasattr(source, "rate") else source.name
                        verb = "reading" if args.input else "recording from"   # a file is cut, not spoken to
                        print(f"speechseq: {verb} {where}: {self.prompt()}", file=sys.stderr, flush=True)
                    self.feed(item)
                    self.heard += len(item)
                    if self.done() or stop.is_set():
                        break
                    if limit is not None and self.heard >= limit:
                        print(f"speechseq: stopping after {args.max_minutes:g} min (--max-minutes)", file=sys.stderr)
                        break
        except DeviceLost as err:
            self.finish()
            raise SpeechseqError(f"{err}; {len(self.kept)} file{'s were' if len(self.kept) != 1 else ' was'} kept in "
                                 f"{self.out}") from None

    def write(self, audio, seen: dict[str, Path] | None = None) -> Path:
        """The next numbered file, or (with `seen`, see write_take) the file there that holds these samples."""
        while True:
            path = self.out / f"{self.stem}-{self.number:03d}.wav"
            try:
                got = write_take(path, audio, seen)
                break
            except FileExistsError:  # made since the session began (another session into the folder): kept
                self.number += 1
        if got == path:
            self.number += 1
            self.kept.append(path)
        return got

    # what a kind of recording does (each subclass defines them all)
    def prompt(self) -> str:
        raise NotImplementedError

    def feed(self, block) -> None:
        raise NotImplementedError

    def overrun(self, item) -> None:
        raise NotImplementedError

    def done(self) -> bool:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    def summary(self) -> int:
        """Say what the session kept; the command's exit code."""
        raise NotImplementedError


class _Takes(_Recording):
    """Takes of a keyword: one file per utterance between pauses, checked."""

    def __init__(self, args: argparse.Namespace, out: Path, stem: str) -> None:
        super().__init__(args, out, stem)
        from dataclasses import replace

        from ..runtime.speech_regions import primed_state
        from ..runtime.takes import TakeConfig, TakeCutter
        from ..runtime.vad import load_vad

        self.cfg = TakeConfig(end_silence_s=args.pause_ms / 1000, max_take_s=args.max_seconds,
                              pad_s=min(TakeConfig.pad_s, args.pause_ms / 1000))
        self.tail_s = self.cfg.end_silence_s + 0.5  # a take that ends with the file still meets its pause
        self.vad = load_vad(args.vad)
        self.cutter = TakeCutter(self.cfg, frame=int(round(self.vad.frame_s * SAMPLE_RATE)))
        # Silero, started cold on a word, may miss it; the energy VAD keeps its own noise floor to start from
        # (the priming's digital silence put it at -100 dB, and a room's -50 dB was speech for half a minute)
        self.vstate = replace(primed_state(self.vad), floor_db=self._start_floor(getattr(args, "input", None)))
        # a microphone opens whenever the command starts: a word under way then is not whole (a file's start is its own)
        self.tstate = self.cutter.initial_state(live=not getattr(args, "input", None))
        self.rejected = 0
        self.seen = sample_digests(out, stem)  # takes already there: one cut again is not saved twice
        self.again: list[Path] = []

    def _start_floor(self, path: str | None) -> float:
        """The energy VAD's first noise floor: its start guess, or for a file (known before it is streamed, as a clip
        is offline: EnergyVad.clip_floor_db) the floor of its first ROOM_S seconds where that is higher. From the
        guess, a steady -40 dBFS room was speech for the file's first 0.5 s (kept as a take of noise), and all of
        it where the file began inside a word (one take, too long). A file that cannot be read is left to the
        stream to say so."""
        from contextlib import closing

        import numpy as np

        from ..audio import stream_audio
        from ..runtime.vad import EnergyVad

        guess = self.vad.initial_state().floor_db
        if not path or not isinstance(self.vad, EnergyVad):
            return guess
        blocks, n = [], 0
        try:
            with warnings.catch_warnings(), closing(stream_audio(path, block_s=1.0)) as stream:
                warnings.simplefilter("ignore")     # a damaged file's warning: said once, as it is streamed
                for block in stream:
                    blocks.append(block)
                    n += len(block)
                    if n >= ROOM_S * SAMPLE_RATE:
                        break
        except SpeechseqError:
            return guess
        floor = self.vad.clip_floor_db(np.concatenate(blocks)[: ROOM_S * SAMPLE_RATE]) if blocks else None
        return guess if floor is None else max(guess, floor)

    def prompt(self) -> str:
        n, takes = self.args.count, f"take{'s' if self.args.count != 1 else ''}"
        if self.args.input:
            return (f"(VAD: {self.vad.name}) cutting the takes of \"{self.args.keyword}\" out of it at its pauses "
                    f"({n} {takes}; Ctrl+C stops, keeping every take saved)")
        return (f"(VAD: {self.vad.name}) say \"{self.args.keyword}\", pause, say it again ... ({n} {takes}; "
                "Ctrl+C stops, keeping every take saved)")

    def feed(self, block) -> None:
        probs, self.vstate = self.vad.step(block, self.vstate)
        takes, self.tstate = self.cutter.step(block, probs, self.tstate)
        for take in takes:
            self._handle(take)

    def overrun(self, item) -> None:
        """Audio lost in the pause after a word keeps that word, as a stop there does (`finish`); lost during one,
        the take is not whole: rejected, say it again (and so is what is heard of it after the loss)."""
        if not (item.dropped_s or item.input_overflows):  # nothing was lost: the take in progress is whole
            return
        spoken = self._spoken()
        if not spoken and self.tstate.start >= 0:
            self._say_rejected(self.tstate.start * self.cutter.frame / SAMPLE_RATE, self.heard / SAMPLE_RATE,
                               f"audio was lost during it ({lost(item)}): say it again")
        takes, self.tstate = self.cutter.end(self.tstate, whole=spoken)
        for take in takes:
            self._handle(take)

    def done(self) -> bool:
        return len(self.kept) >= self.args.count  # takes found already there are not counted (--count)

    def _spoken(self) -> bool:
        """A take is in progress, not too long, and SPOKEN_S or more have passed since its last speech."""
        st = self.tstate
        quiet_s = (st.frames - 1 - st.last) * self.cutter.frame / SAMPLE_RATE
        return st.start >= 0 and not st.too_long and quiet_s >= SPOKEN_S and not self.done()

    def finish(self) -> None:
        """A stop (Ctrl+C, --max-minutes, a lost device) in the pause after a word keeps that word: the pause it
        still needed is made of silence. A take still being spoken is not whole: nothing to keep."""
        if self._spoken():
            import numpy as np

            self.feed(np.zeros(int(round(self.tail_s * SAMPLE_RATE)), np.float32))

    def _handle(self, take) -> None:
        if take.problem is not None:
            self._say_rejected(take.start, take.end, take.problem)
            return
        from ..runtime.takes import peak_dbfs

        kept = len(self.kept)
        path = self.write(take.audio, self.seen)
        new = len(self.kept) > kept
        if not new:
            self.again.append(path)
        peak = peak_dbfs(take.audio)
        if self.args.json:
            print_json_line({"event": "take", "file": str(path), "start": round(take.start, 3),
                             "end": round(take.end, 3), "peak_dbfs": round(peak, 1),
                             **({} if new else {"already_there": True})})
        else:
            which = f"take {len(self.kept)}/{self.args.count}" if new else "take already there"
            print(f"{which}: {take.end - take.start:.2f} s of speech, peak {peak:.0f} dBFS -> {path}"
                  f"{'' if new else ' (the same samples: not saved again)'}", flush=True)

    def _say_rejected(self, start: float, end: float, reason: str) -> None:
        self.rejected += 1
        if self.args.json:
            print_json_line({"event": "rejected", "start": round(start, 3), "end": round(end, 3), "reason": reason})
        else:
            print(f"not kept ({start:.1f}-{end:.1f} s): {reason}", flush=True)

    def summary(self) -> int:
        n = len(self.kept)
        notes = ([f"{len(self.again)} already there"] if self.again else []) + (
            [f"{self.rejected} not kept"] if self.rejected else [])
        print(f"speechseq: kept {n} take{'s' if n != 1 else ''} in {self.out}"
              f"{' (' + ', '.join(notes) + ')' if notes else ''}", file=sys.stderr)
        if n or self.again:
            print(next_steps(self.args.keyword, self.stem, self.out), file=sys.stderr)
        elif self.args.input:  # a recording that gave nothing to train on: not a success (it was exit 0)
            why = (f"{self.rejected} stretch{'es' if self.rejected != 1 else ''} of speech, none kept"
                   if self.rejected else "no speech was heard in it")
            warn(f"{self.args.input}: no take of \"{self.args.keyword}\" found ({why})")
            return 1
        return 0


class _Background(_Recording):
    """The room as it sounds in use, anything but the keyword: files of BACKGROUND_FILE_S seconds."""

    def __init__(self, args: argparse.Namespace, out: Path, stem: str) -> None:
        super().__init__(args, out, stem)
        self.total = int(round(args.background * 60 * SAMPLE_RATE))
        self.held: list = []      # blocks not yet in a file
        self.held_n = 0
        self.written = 0          # samples in files so far

    def prompt(self) -> str:
        return (f"{self.args.background:g} min of the room as it sounds when you use it (talk, music, TV: "
                f"anything but the keyword), in files of {BACKGROUND_FILE_S // 60} min; Ctrl+C stops, keeping "
                "what was heard")

    def feed(self, block) -> None:
        import numpy as np

        block = block[: self.total - self.written - self.held_n]
        self.held.append(block)
        self.held_n += len(block)
        while self.held_n >= BACKGROUND_FILE_S * SAMPLE_RATE:
            audio = np.concatenate(self.held)
            self._write(audio[: BACKGROUND_FILE_S * SAMPLE_RATE])
            rest = audio[BACKGROUND_FILE_S * SAMPLE_RATE:]
            self.held, self.held_n = [rest], len(rest)

    def overrun(self, item) -> None:
        warn(lost(item))

    def done(self) -> bool:
        return self.written + self.held_n >= self.total

    def finish(self) -> None:
        import numpy as np

        if self.held_n >= MIN_BACKGROUND_S * SAMPLE_RATE:
            self._write(np.concatenate(self.held))
        self.held, self.held_n = [], 0

    def _write(self, audio) -> None:
        from ..runtime.takes import peak_dbfs

        path = self.write(audio)
        self.written += len(audio)
        seconds = len(audio) / SAMPLE_RATE
        if self.args.json:
            print_json_line({"event": "background", "file": str(path), "duration": round(seconds, 3)})
        else:
            print(f"{seconds:.1f} s -> {path} ({self.written / SAMPLE_RATE:.0f} of {self.total / SAMPLE_RATE:.0f} s)",
                  flush=True)
        if peak_dbfs(audio) < SILENT_DBFS:  # no room to train on or to set a threshold by
            warn(f"{path}: nothing was heard (no sample above {SILENT_DBFS:g} dBFS): is the microphone muted, or not "
                 "the one you meant (--list-devices, --device)?")

    def summary(self) -> int:
        seconds = self.written / SAMPLE_RATE
        length = f"{seconds:.1f} s" if seconds < 60 else f"{seconds:.0f} s ({seconds / 60:.1f} min)"
        print(f"speechseq: kept {length} of background in {len(self.kept)} file"
              f"{'s' if len(self.kept) != 1 else ''} in {self.out}", file=sys.stderr)
        if self.kept:
            import shlex

            out = shlex.quote(str(self.out))
            print(f"speechseq: use it as `speechseq train detector ... --backgrounds {out}`, and (15 min or "
                  f"more) as `speechseq eval detector ... --negatives {out} --save-threshold`", file=sys.stderr)
        return 0
