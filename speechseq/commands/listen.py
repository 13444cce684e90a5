"""`speechseq listen`: the live listener (microphone or file -> keyword -> streamed transcription).

    speechseq listen                                   # default microphone, shipped models
    speechseq listen --list-devices
    speechseq listen --device 2 --keyword-model models/computer.onnx --chime
    speechseq listen --json --exec "notify-send"       # one JSON object a line; run a command per final
    speechseq listen --input data/samples/activate_kitchen_lights.wav --fast
    speechseq listen --commands data/commands/home.txt --exec ./on-command.sh   # one of these phrases, or free text
"""
from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

from ..errors import SpeechseqError
from ..runtime.onnx import check_model_file, twin_path, untagged
from ..runtime.settings import PARTIAL_BEAM_SIZE, PARTIAL_EVERY_MS, PARTIAL_EVERY_MS_RANGE
from .common import (LISTEN_LEXICON_BEAM, MAX_MINUTES, MODELS, NO_STDIN, WEIGHT_MAX, HelpFormatter, add_range_arg,
                     beam_arg, beam_size, bounded, device_arg, guard_range, load_lm, model_paths, named_device,
                     names_stdin, no_shipped, option_file, option_files, print_input_devices, print_json_line,
                     said_with, stop_on_sigterm, tuned_lexicon_options, unnamed_model, warn)
from .exec_words import check_exec, warn_shell_words
from .transcribe import LM_WEIGHT, WORD_BONUS, add_commands_args, check_lexicon_arg, check_model_arg, command_set

DEFAULT_KEYWORDS = ("activate.onnx", "computer.onnx")
# --decoder beam fuses the LM at transcribe's beam-lm weights (LM_WEIGHT, WORD_BONUS: the runtime's): listen's own
# alpha 0.5 was never tuned, and on sets no figure is reported on (Kathleen train-val, synthetic val: 1,698 words)
# 0.8 made 713 word errors to its 754 (session 51)
EXEC_WAIT_S = 10.0  # at exit, the longest wait for --exec commands still running
END_GRACE_S = 2.0   # commands ended at exit: the time each has to end on its signal before SIGKILL
CHUNK_MS, LOOKAHEAD_MS = 400.0, 200.0  # --partial-decoder stream's chunk and look-ahead defaults


EXAMPLES = """examples:
  speechseq listen                                    # the default microphone, the shipped keywords
  speechseq listen --list-devices
  speechseq listen --device USB --json --exec notify-send
  speechseq listen --input data/samples/activate_kitchen_lights.wav --fast
  speechseq listen --keyword-model runs/hey-robot/hey_robot.onnx --chime
  speechseq listen --commands data/commands/home.txt --json   # "command": the list's line, or null"""


def register(sub: argparse._SubParsersAction, models: Path | None = None) -> None:
    """The listen command; `models`: the folder of the shipped models its defaults name (None: common.MODELS, read at
    import, so that --help names the folder the run uses; speechseq.load_listener() passes the one of its call)."""
    models = MODELS if models is None else models
    p = sub.add_parser("listen", epilog=EXAMPLES, help="listen for a keyword, then transcribe what is said next (live)",
                       description="Listen to the microphone (or a file), wake on a keyword, stream a transcription "
                                   "of what follows until the speaker stops, and go back to listening.",
                       formatter_class=HelpFormatter)
    src = p.add_argument_group("input")
    src.add_argument("--device", help="input device index or name substring (default: the system's default input)")
    src.add_argument("--list-devices", action="store_true", help="list input devices and exit")
    src.add_argument("--check-input", action="store_true",
                     help="exit 0 if the input device opens and delivers audio, 1 otherwise")
    src.add_argument("--samplerate", type=bounded(int, ge=8000), help="open the device at this rate, 8000 Hz or more (default: the device's own)")
    src.add_argument("--input", metavar="FILE", help="stream this audio file instead of a microphone")
    src.add_argument("--fast", action="store_true", help="with --input: as fast as possible, not in real time")
    src.add_argument("--block-ms", type=bounded(float, ge=5, le=1000), default=50.0,
                     help="audio block size: larger blocks wake the listener less often, so it uses less CPU while "
                          "idle, but every event may come up to a block later (README, Benchmarks)")
    src.add_argument("--reconnect-s", type=bounded(float, ge=0), default=30.0,
                     help="when the device vanishes, keep trying to reopen it this long (0: exit at once)")
    src.add_argument("--max-minutes", type=bounded(float, gt=0, le=MAX_MINUTES),
                     help="stop after this many minutes of audio (a year at most)")
    m = p.add_argument_group("models")
    m.add_argument("--keyword-model", action="append", metavar="ONNX",
                   help="a keyword detector (repeat for several; default: the shipped ones)")
    m.add_argument("--threshold", type=bounded(float, gt=0, lt=1),
                   help="detection threshold for every keyword, in (0, 1) (default: each model's)")
    m.add_argument("--wake-wait-ms", type=bounded(float, ge=0), default=0.0,
                   help="after the threshold is crossed, wait up to this long for the posterior's peak before "
                        "waking (default 0: wake at the crossing, scored by the crossing value; each 40 ms output "
                        "step of waiting gives a truer score and a later wake: scripts/bench_listener.py --wake-wait-ms)")
    add_range_arg(m)
    m.add_argument("--model", default=str(models / "recognizer-en.int8.onnx"),
                   help="recogniser for the final text (falls back to recognizer-en.onnx)")
    m.add_argument("--partial-decoder", choices=("final", "stream"),
                   help="how partial text is made: final (the default unless --stream-model is given): the final's "
                        f"recogniser and decoder (at a beam of at most {PARTIAL_BEAM_SIZE}) over the speech so far "
                        "every --partial-every-ms, a word fixed once two decodes agree on it and the newest decode's "
                        "next word shown after them (a partial may change its last word), so that the final rewrites "
                        "few of its words (27.2-31.6%% of a core while recording); stream: the chunked recogniser's "
                        "greedy text (--stream-model, --chunk-ms, "
                        "--lookahead-ms), its words fixed as for final, 1.9-2.1%% of a core but about 70%% WER, "
                        "which the final rewrites (CPU measured by scripts/bench_listener.py on a 2-core AMD "
                        "machine: README, Benchmarks)")
    lo, hi = PARTIAL_EVERY_MS_RANGE
    m.add_argument("--partial-every-ms", type=bounded(float, ge=lo, le=hi), default=PARTIAL_EVERY_MS,
                   help="--partial-decoder final: decode the speech so far once per this many ms of it (at most "
                        "once a --block-ms block): sooner partials for more CPU while recording, each decode "
                        "covering up to the last 4 s (default %(default)g; 300 until session 53)")
    m.add_argument("--partial-beam-size", type=bounded(int, ge=1, le=1024), default=PARTIAL_BEAM_SIZE,
                   help="--partial-decoder final: the partial decodes' beam, at most the final's --beam-size "
                        "(default %(default)s: at the final's 32 every 200 ms, their backlog delayed the final; "
                        "README, Benchmarks)")
    m.add_argument("--stream-model", help="chunked recogniser for --partial-decoder stream (default: the --model's "
                                          "twin, NAME.stream.int8.onnx, else NAME.stream.onnx, when present)")
    m.add_argument("--lm", default="auto", help="character LM for the final decode (beam search + fusion): a "
                                                 "path, 'auto' (the shipped lm-en.onnx when present) or 'none'")
    m.add_argument("--lm-weight", type=bounded(float, ge=0, le=WEIGHT_MAX), default=LM_WEIGHT,
                   help="shallow fusion weight (alpha) of --decoder beam, the same as transcribe --decoder "
                        "beam-lm's (tuned in models/lm-en.md; the lexicon search, auto's first choice, takes the "
                        "weights tuned in models/words-en.md)")
    m.add_argument("--word-bonus", type=bounded(float, ge=-WEIGHT_MAX, le=WEIGHT_MAX), default=WORD_BONUS,
                   help="shallow fusion length bonus (beta) of --decoder beam, per character")
    m.add_argument("--decoder", choices=("auto", "greedy", "beam", "lexicon"), default="auto",
                   help="final decoder: lexicon (beam search kept to the words of --lexicon with its word "
                        "trigram LM, + the character LM when there is one), beam (+ the LM when there is one), "
                        "greedy; auto: lexicon when the lexicon file exists, else beam with an LM, else greedy")
    m.add_argument("--lexicon", default=str(models / "words-en.npz"),
                   help="word list + word LM for --decoder lexicon; none: no lexicon (--decoder auto then picks another)")
    m.add_argument("--beam-size", type=beam_arg, default="auto",
                   help="final decode's beam width; auto: 32 for lexicon (the decode must fit in the "
                        "endpoint's silence), 8 for beam")
    m.add_argument("--chunk-ms", type=bounded(float, ge=20), default=CHUNK_MS,
                   help="chunk size of the streamed recogniser (--partial-decoder stream)")
    m.add_argument("--lookahead-ms", type=bounded(float, ge=0), default=LOOKAHEAD_MS,
                   help="look-ahead of the streamed recogniser (--partial-decoder stream)")
    m.add_argument("--no-partials", action="store_true", help="final text only (no partial text)")
    add_commands_args(p)
    e = p.add_argument_group("endpointing")
    e.add_argument("--vad", choices=("auto", "silero", "energy"), default="auto",
                   help="voice activity detector (auto: Silero when installed)")
    e.add_argument("--silence-ms", type=bounded(float, ge=50), default=350.0,
                   help="trailing silence that ends an utterance")
    e.add_argument("--early-decode-ms", type=bounded(float, ge=0), default=150.0,
                   help="decode ahead once this much trailing silence is heard, so the final text is ready "
                        "when --silence-ms is reached (0: decode only at the end)")
    e.add_argument("--max-utterance-s", type=bounded(float, ge=1), default=15.0,
                   help="the longest command: recording stops and is transcribed after this many seconds")
    e.add_argument("--no-speech-s", type=bounded(float, gt=0), default=3.0,
                   help="give up when nothing is said this long after the keyword")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true",
                   help="one JSON object a line (wake, partial, final, overrun); every \"time\" is when the event was "
                        "made, in seconds of the stream (of the file, or since listening began); a final's words' "
                        "\"start\" and \"end\" are stream seconds too, as is its \"start\": where its recording "
                        "began. A keyword said again before anything else is a second wake, the recording starting "
                        "again after it")
    o.add_argument("--chime", action="store_true", help="play a short chime on the default output at each wake")
    o.add_argument("--exec", dest="exec_cmd", metavar="CMD",
                   help="run CMD (split into words as a shell does, but run without one: no $VARIABLE in it is "
                        "expanded, but by a shell it runs, as in sh -c 'notify-send \"$1\"' sh, the text its $1; a "
                        "shell's -c needs its script, or the text would run as shell code) with the final text as its "
                        "last argument (also in $SPEECHSEQ_TEXT; with --commands, $SPEECHSEQ_COMMAND holds the "
                        "phrase taken as the list writes it, empty when none was; without, it is unset); with "
                        "--json, what CMD prints goes to stderr, so that stdout holds JSON lines only; its stdin is "
                        "empty (/dev/null: the terminal's keys stay the user's). Listening goes "
                        f"on while CMD runs (one that fails is said on stderr). Each CMD runs in a session of its own: "
                        f"Ctrl+C stops the listener, not the commands it started; at exit, listen waits up to "
                        f"{EXEC_WAIT_S:g} s for those still running, then ends them (SIGTERM; a second Ctrl+C during "
                        f"the wait ends them at once)")
    p.set_defaults(func=run, models_folder=models)


def _existing(path: Path, *fallbacks: Path) -> Path:
    for p in (path, *fallbacks):
        if p.is_file():
            return p
    return path


def stream_twin(model: Path) -> Path:
    """The chunked twin of the offline recogniser `model` (x.onnx or x.int8.onnx, any case): x.stream.int8.onnx
    when it exists, else x.stream.onnx (the names `twin_path` gives; that path when neither exists)."""
    plain = twin_path(untagged(model, "int8"), "stream")
    return _existing(twin_path(plain, "int8"), plain)


def build_listener(args: argparse.Namespace, options: bool = True):
    """The Listener for these options (models loaded, files checked). options: an error of a file names the option
    that gave it (--model PATH: ...); False: the file alone (speechseq.load_listener, whose caller wrote no option)."""
    from ..runtime.detector import Detector
    from ..runtime.listener import Listener, ListenerConfig, Transcriber
    from ..runtime.recognizer import DecodeOptions
    from ..runtime.streaming_recognizer import StreamingRecognizer, source_digest
    from ..runtime.vad import load_vad

    folder = args.models_folder   # register's: the shipped models' folder
    kw = model_paths(args.keyword_model, "--keyword-model") if args.keyword_model else [
        folder / k for k in DEFAULT_KEYWORDS if (folder / k).is_file()]
    if not kw:
        raise SpeechseqError("no keyword models given (--keyword-model PATH), and "
                             + no_shipped("none shipped", folder))
    for path in kw:  # a training checkpoint named as one is said to be (the detectors' loader reads it as ONNX)
        check_model_arg(str(path), None, "--keyword-model")
        check_model_file(path)
    model = Path(args.model)
    if not model.is_file():
        model = _existing(model, untagged(model, "int8"))     # recognizer-en.int8.onnx -> recognizer-en.onnx
    if not model.is_file():  # each model file an option names, found before any is loaded; the option named
        check_model_arg(args.model, folder / "recognizer-en.int8.onnx", "--model")
    if args.lm not in ("none", "auto"):
        check_model_arg(args.lm, folder / "lm-en.onnx", "--lm")
    if args.stream_model is not None:  # '' too, which was left out (its partials made by the final's decoder)
        unnamed_model(args.stream_model, "--stream-model")
    partial_decoder = args.partial_decoder or ("stream" if args.stream_model else "final")
    if args.stream_model and partial_decoder == "stream" and not args.no_partials:
        check_model_arg(args.stream_model, None, "--stream-model")
    for reader, given in (("stream", (("--stream-model", args.stream_model is not None),
                                      ("--chunk-ms", args.chunk_ms != CHUNK_MS),
                                      ("--lookahead-ms", args.lookahead_ms != LOOKAHEAD_MS))),
                          ("final", (("--partial-every-ms", args.partial_every_ms != PARTIAL_EVERY_MS),
                                     ("--partial-beam-size", args.partial_beam_size != PARTIAL_BEAM_SIZE)))):
        unread = [flag for flag, differs in given if differs]
        if unread and (args.no_partials or partial_decoder != reader):   # as the fusion weights below
            reads = f"--partial-decoder {reader} reads {'it' if len(unread) == 1 else 'them'}"
            warn(f"{', '.join(unread)}: not used "
                 + ("with --no-partials" if args.no_partials else f"by --partial-decoder {partial_decoder} ({reads})"))
    commands = command_set(args, options)  # read before any model loads, as the model files are checked
    with option_files(*[("--keyword-model", p, "detector") for p in (kw if args.keyword_model else ())]):
        detector = Detector.load(kw, threshold=args.threshold, max_wait_s=args.wake_wait_ms / 1000,
                                 range_db=guard_range(args.range_db))
    lm_path = {"none": None, "auto": folder / "lm-en.onnx"}.get(args.lm, Path(args.lm))
    if args.lm == "auto" and not lm_path.is_file():
        lm_path = None
    lm = None
    if lm_path is not None:
        lm = load_lm(lm_path, option=said_with("--lm", options))
    check_lexicon_arg(args.lexicon, folder / "words-en.npz", args.decoder)
    lexicon = args.decoder == "lexicon" or (args.decoder == "auto" and args.lexicon != "none"
                                            and Path(args.lexicon).is_file())
    greedy = not lexicon and (args.decoder == "greedy" or (args.decoder == "auto" and lm is None))
    unread = [flag for flag, value, default in (("--lm-weight", args.lm_weight, LM_WEIGHT),
                                                ("--word-bonus", args.word_bonus, WORD_BONUS)) if value != default]
    if unread and (lexicon or greedy):  # as transcribe says it (its unread_options): they would change nothing
        how = ("the lexicon search, with the weights tuned in models/words-en.md" if lexicon else "greedy decoding")
        warn(f"{', '.join(unread)}: not used by --decoder {args.decoder} (here {how}; --decoder beam reads them)")
    if lexicon:
        opts = tuned_lexicon_options(Path(args.lexicon), lm, beam_size(args.beam_size, "lexicon", LISTEN_LEXICON_BEAM),
                                     said_with("--lexicon", options))
    else:
        opts = DecodeOptions(decoder="greedy" if greedy else "beam", beam_size=beam_size(args.beam_size, "beam"),
                             lm=None if greedy else lm, alpha=args.lm_weight, beta=args.word_bonus)
    if commands is not None:   # the final only: partial text is spelt freely (Transcriber.transcribe)
        opts = replace(opts, commands=commands)
    with option_file(said_with("--model", options), model, "recognizer"):
        transcriber = Transcriber(model, opts, partial_beam=args.partial_beam_size)
    streaming = None
    if not args.no_partials and partial_decoder == "stream":
        stream_path = Path(args.stream_model) if args.stream_model else stream_twin(model)
        if stream_path.is_file():
            with option_files(("--stream-model", stream_path if args.stream_model else None, "recognizer-stream")):
                streaming = StreamingRecognizer(stream_path, args.chunk_ms / 1000, args.lookahead_ms / 1000)
            made_from = streaming.meta.get("source_digest")
            if made_from and made_from != source_digest(transcriber.recognizer.meta):
                warn(f"{stream_path} was made from another version of {model.name}: partial text may disagree with "
                     "the final (remake it: python -m speechseq.train.export_streaming --from-onnx MODEL)")
        else:  # (a --stream-model that is not there was named above)
            warn(f"no chunked recogniser next to {model} (make one: python -m speechseq.train.export_streaming "
                 f"--from-onnx MODEL): final text only")
    early = args.early_decode_ms / 1000 if args.early_decode_ms > 0 else None
    cfg = ListenerConfig(silence_s=args.silence_ms / 1000, early_decode_s=early, no_speech_s=args.no_speech_s,
                         max_utterance_s=args.max_utterance_s, partials=not args.no_partials and (
                             partial_decoder == "final" or streaming is not None), partial_decoder=partial_decoder,
                         partial_interval_s=args.partial_every_ms / 1000)
    return Listener(detector, transcriber, streaming, load_vad(args.vad), cfg)


class _Output:
    """Prints events, plays the chime and runs --exec commands (without waiting for them, but at exit)."""

    def __init__(self, args: argparse.Namespace, commands: bool = False) -> None:
        self.json, self.exec_cmd, self.chime = args.json, args.exec_cmd, args.chime
        self.commands = commands   # --commands: each final says the phrase it was taken as (FinalEvent.command)
        self.children: list[tuple[subprocess.Popen, str]] = []   # --exec commands running, each with its text
        self._chime_failed = False
        self._tty = sys.stdout.isatty() and not self.json
        self._open_line = False        # a partial is on screen, to be overwritten

    def __call__(self, events) -> None:
        from ..runtime.events import FinalEvent, PartialEvent, WakeEvent

        for ev in events:
            final = isinstance(ev, FinalEvent)
            # the match's decision, as transcribe --commands takes it: not a free decode that spells a phrase it refused
            command = ev.command if final and self.commands else None
            line = str(ev) + (f" ({'command' if command else 'no command'})" if final and self.commands
                              and ev.text else "")
            if self.json:
                print_json_line({**ev.to_dict(), "command": command} if final and self.commands else ev.to_dict())
            elif self._tty:   # a partial on one row: "\r" + clear line takes back the last row of a wrapped one only
                sys.stdout.write("\r\033[K" + (_fit(line, ev.text) if isinstance(ev, PartialEvent) else line + "\n"))
                sys.stdout.flush()
                self._open_line = isinstance(ev, PartialEvent)
            else:
                print(line, flush=True)
            if isinstance(ev, WakeEvent) and self.chime:
                self._play_chime()
            if final and self.exec_cmd and ev.text:
                self._exec(ev.text, command)
        self._reap()

    def end_line(self) -> None:
        """Before a line of our own on the terminal: a partial left open there is ended, not written over."""
        if self._open_line:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._open_line = False

    def wait_children(self, stop: threading.Event) -> None:
        """At exit: wait for the --exec commands still running, so that a script that runs listen and then reads
        what they wrote finds it there; for at most EXEC_WAIT_S, said on stderr. They run in sessions of their own
        (_exec), out of reach of the terminal's Ctrl+C and hang-up, so that none is left running unseen: those still
        running when the wait ends, or when Ctrl+C or SIGTERM (`stop`, set during the wait) ends it, are ended with that
        signal (SIGTERM at the wait's end), and said so."""
        import signal

        why, sig = f"still busy after {EXEC_WAIT_S:g} s", signal.SIGTERM
        try:   # (all of it: a Ctrl+C may come at any point, as soon as the line below is read)
            running = self._reap()
            if not running:
                return
            self.end_line()
            # one write, its newline in it: a Ctrl+C between print's two writes left the line open
            sys.stderr.write(f"speechseq: waiting for {_commands(len(running))} to finish\n")
            sys.stderr.flush()
            deadline = time.monotonic() + EXEC_WAIT_S
            while running and time.monotonic() < deadline and not stop.is_set():
                time.sleep(0.02)
                running = self._reap()
            if stop.is_set():
                why = "SIGTERM"
        except KeyboardInterrupt:
            why, sig = "Ctrl+C", signal.SIGINT   # what the terminal sends its foreground job
        running = [(child, text) for child, text in self.children if child.poll() is None]
        if running:
            warn(f"ending {_commands(len(running))} ({why})")
            _end([child for child, _ in running], sig)
        self.children = []

    def _reap(self) -> list[tuple[subprocess.Popen, str]]:
        """The --exec commands still running (kept in self.children); one that ended in failure is said, once:
        the command asked for did not happen (the listener goes on)."""
        running = []
        for child, text in self.children:
            code = child.poll()
            if code is None:
                running.append((child, text))
            elif code:
                self.end_line()
                why = _env_not_found(shlex.split(self.exec_cmd)[0]) if code == 127 else None  # env's "not found"
                warn(f"--exec {self.exec_cmd!r} failed on {text!r}: "
                     + (why or (f"killed by {_signal_name(-code)}" if code < 0 else f"exit status {code}")))
        self.children = running
        return running

    def _exec(self, text: str, command: str | None = None) -> None:
        import os

        env = {**os.environ, "SPEECHSEQ_TEXT": text}
        if self.commands:   # the phrase of --commands, or empty when none was taken
            env["SPEECHSEQ_COMMAND"] = command or ""
        else:   # not listen's own (set in the shell that started it), which CMD read as a command taken
            env.pop("SPEECHSEQ_COMMAND", None)
        try:   # (a session of its own: the terminal's Ctrl+C, sent to its foreground job, stops the listener only,
            # not a command half way through; wait_children ends those still running at exit)
            # stdin: nothing (the terminal's keys are the user's: `xargs echo` waited on them at each final, and took
            # them as more of the text)
            self.children.append((subprocess.Popen([*shlex.split(self.exec_cmd), text], env=env,
                                                   stdin=subprocess.DEVNULL,
                                                   stdout=2 if self.json else None,  # 2: this process's stderr
                                                   start_new_session=True), text))
        except OSError as err:
            warn(f"--exec {self.exec_cmd!r}: {_not_started(shlex.split(self.exec_cmd)[0], err)}")

    def _play_chime(self) -> None:
        if self._chime_failed:
            return
        try:
            import numpy as np

            from ..sources import import_sounddevice
            sd = import_sounddevice()
            sr = 16000
            t = np.arange(int(0.15 * sr)) / sr
            tone = 0.2 * np.sin(2 * np.pi * 880 * t) * np.minimum(1, np.minimum(t, t[::-1]) / 0.01)
            sd.play(tone.astype(np.float32), sr)           # returns at once
        except Exception as err:  # no output device: say so once, keep listening
            self._chime_failed = True
            warn(f"cannot play the chime ({err})")


def _end(children: list[subprocess.Popen], sig: int) -> None:
    """Send `sig` to each command's process group (its own session: the command and what it started), and SIGKILL to
    those groups after END_GRACE_S, or at once on Ctrl+C meanwhile (a command, or what it started, that ignores
    `sig` or outlives it)."""
    import signal

    groups = [child.pid for child in children if child.poll() is None]
    _signal_groups(groups, sig)
    deadline = time.monotonic() + END_GRACE_S
    try:
        while any(child.poll() is None for child in children) and time.monotonic() < deadline:
            time.sleep(0.02)
    except KeyboardInterrupt:
        pass
    _signal_groups(groups, signal.SIGKILL)
    for child in children:
        try:
            child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            pass


def _signal_groups(groups: list[int], sig: int) -> None:
    import os

    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except OSError:     # every process of the group has ended
            pass


def _shebang(program: str) -> str | None:
    """The '#!' line of the file `program` runs (looked up on PATH as the OS does), without "#!"; None when it has
    none or cannot be read."""
    import os
    import shutil

    path = shutil.which(program) or program
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as f:
            first = f.readline(4096)
    except OSError:
        return None
    return first[2:].rstrip(b"\n").decode(errors="replace") if first.startswith(b"#!") else None


def _env_not_found(program: str) -> str | None:
    """Why a script with an `#!/usr/bin/env NAME` line exited 127, in words: env (which is there, so the script
    started and _not_started saw no error) found no NAME on PATH, or was given "NAME ARGS" as one name (Linux passes
    all that follows the interpreter as one argument). None otherwise: the script's own exit status 127."""
    import os
    import shutil

    line = _shebang(program)
    words = (line or "").split()
    if not words or os.path.basename(words[0]) != "env" or len(words) < 2:
        return None
    rest = line.strip()[len(words[0]):].strip()
    said = f"#!{line.strip()}"
    if line.endswith("\r") and shutil.which(words[-1]) is not None:   # env looked for "NAME\r"
        return (f"{program} cannot start: its '#!' line ends in a Windows line ending (\\r), so env looks for "
                f"{words[-1] + chr(13)!r}, which is not found")
    if rest.startswith("-S"):              # env -S: splits what follows into words itself
        names = [w for w in rest[2:].split() if "=" not in w]
    elif rest.startswith("-"):
        return None
    elif len(words) > 2 and sys.platform.startswith("linux") and shutil.which(words[1]) is not None:
        return (f"{program} cannot start: its '#!' line gives env {rest!r} as one program name (Linux passes all "
                f"that follows the interpreter as one argument; to split it: #!{words[0]} -S {rest})")
    else:
        names = words[1:]
    if not names or shutil.which(names[0]) is not None:
        return None
    return f"{program} cannot start: its interpreter {names[0]} ({said}) is not found on PATH"


def _not_started(program: str, err: OSError) -> str:
    """Why --exec's program did not start, in words to act on: the OS says "Exec format error" for a script with no
    '#!' line, and "No such file or directory" for a script that is there but whose interpreter is not."""
    import errno
    import os
    import re

    if err.errno == errno.ENOEXEC:
        return f"{program} is not a program this system can run (a script needs a '#!' first line, such as #!/bin/sh)"
    first = _shebang(program) if err.errno == errno.ENOENT else None
    if first is None:
        return str(err)
    interpreter = re.split(r"[ \t]", first.lstrip(" \t"))[0]
    if interpreter.endswith("\r"):
        return (f"{program} cannot start: its '#!' line ends in a Windows line ending (\\r), so its interpreter "
                f"{interpreter!r} is missing")
    if os.path.exists(interpreter):
        return str(err)
    return f"{program} cannot start: its interpreter {interpreter} is missing"


def _commands(n: int) -> str:
    return f"{n} --exec command{'' if n == 1 else 's'}"


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _fit(line: str, text: str) -> str:
    """A partial's terminal `line` (ending in its `text`) within the terminal's width, less a column (a full row
    leaves the cursor waiting to wrap): its newest words kept, from a word's start where one fits, the cut said by
    "..."."""
    import shutil

    width = shutil.get_terminal_size().columns - 1
    if len(line) <= width:
        return line
    head = line[: len(line) - len(text)]
    room = width - len(head) - 4
    if room <= 0:
        return line[len(line) - width :] if width > 0 else ""
    tail = text[len(text) - room :]
    if text[len(text) - room - 1] != " " and " " in tail:   # not half a word
        tail = tail[tail.index(" ") :]
    return head + "... " + tail.lstrip()


def run(args: argparse.Namespace) -> int:
    from ..sources import AudioDeviceError, check_input

    if args.list_devices:
        return print_input_devices()
    if args.check_input or not args.input:  # a microphone is read
        named_device(args.device)
    if args.check_input:  # at the --samplerate asked for, and saying why not
        try:
            print(f"speechseq: input device: {check_input(device_arg(args.device), args.samplerate)}", file=sys.stderr)
        except AudioDeviceError as err:
            print(f"speechseq: no working input device: {err}", file=sys.stderr)
            return 1
        return 0
    if args.input == "":  # not the microphone, which `not args.input` took it for
        raise SpeechseqError("--input '': an empty path names no file")
    if args.input is not None and names_stdin(args.input):
        raise SpeechseqError(f"{NO_STDIN} (or leave --input out to listen to the microphone)")
    if args.fast and not args.input:
        raise SpeechseqError("--fast needs --input FILE")
    if args.input and (args.device is not None or args.samplerate is not None):
        warn("--device and --samplerate choose a microphone: with --input they are ignored")
    if args.exec_cmd is not None:   # "" too: an unset variable's `--exec "$CMD"` ran nothing, in silence
        check_exec(args.exec_cmd)
        warn_shell_words(args.exec_cmd)
    listener = build_listener(args)
    out = _Output(args, listener.commands is not None)
    stop = threading.Event()
    restore, restore_hangup = stop_on_sigterm(stop), _hang_up_with(out)
    try:
        return _loop(args, listener, out, stop)
    finally:
        stop.clear()   # a SIGTERM that stopped listening does not end the wait, as Ctrl+C does not: a second does
        out.wait_children(stop)
        restore_hangup()
        restore()


def _hang_up_with(out: "_Output"):
    """SIGHUP (the terminal closed) ends listen, as it did, and first the --exec commands still running, which in
    sessions of their own no longer get it from the terminal and ran on unseen for ever. Nothing is written: the
    terminal is gone. Left alone where SIGHUP is ignored (nohup), as the commands then ignore it too. Returns a
    function that puts the previous handler back."""
    import os
    import signal

    def handler(signum, frame):
        _signal_groups([child.pid for child, _ in out.children if child.poll() is None], signal.SIGHUP)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGHUP)            # listen dies of it, as it did

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGHUP") \
            or signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
        return lambda: None
    previous = signal.signal(signal.SIGHUP, handler)
    return lambda: signal.signal(signal.SIGHUP, previous)


def _loop(args: argparse.Namespace, listener, out: "_Output", stop: threading.Event) -> int:
    """Stream the source through the listener until it ends, `--max-minutes`, Ctrl+C or `stop` is set."""
    from ..audio import SAMPLE_RATE
    from ..sources import DeviceLost, FileStream, Microphone, Overrun, import_sounddevice

    limit_s = args.max_minutes * 60 if args.max_minutes else None
    state = listener.initial_state()
    lost_at: float | None = None
    block_s = args.block_ms / 1000
    try:
        while True:
            if args.input:
                source = FileStream(args.input, realtime=not args.fast, block_s=block_s)
            else:
                source = Microphone(device_arg(args.device), samplerate=args.samplerate, block_s=block_s)
            try:
                with source:
                    announced = False
                    for item in source.blocks():
                        if isinstance(item, Overrun):
                            events, state = listener.overrun(item.dropped_s, state, item.input_overflows)
                        else:
                            if not announced:
                                announced, lost_at = True, None
                                _announce(source, listener, args)
                            # no audio past the limit: a block may end after it (a limit no stream reaches cuts
                            # nothing; before --max-minutes was bounded, 1e307's infinite seconds were an OverflowError)
                            if limit_s is not None and state.time + len(item) / SAMPLE_RATE > limit_s:
                                item = item[: max(0, int(round((limit_s - state.time) * SAMPLE_RATE)))]
                            events, state = listener.step(item, state)
                        out(events)
                        if stop.is_set():
                            raise KeyboardInterrupt
                        # (half a sample short of it: the blocks' lengths add up to a time a little off the limit)
                        if limit_s is not None and state.time >= limit_s - 0.5 / SAMPLE_RATE:
                            out.end_line()
                            print(f"speechseq: stopping after {args.max_minutes:g} min (--max-minutes)", file=sys.stderr)
                            break
                break
            except DeviceLost as err:
                # The audio broke off: what was said before is final now, not continued with what the device hears
                # when it is back (if it ever is); a keyword waiting for its peak wakes now.
                events, state = listener.flush(state)
                out(events)
                lost_at = lost_at or time.monotonic()
                if time.monotonic() - lost_at >= args.reconnect_s:
                    raise SpeechseqError(f"{err}; gave up after {args.reconnect_s:g} s") from None
                warn(f"{err}; reopening (for up to {args.reconnect_s:g} s)")
                if stop.wait(1.0):
                    raise KeyboardInterrupt from None
                _refresh_devices(import_sounddevice())
            except SpeechseqError as err:
                if lost_at is None:
                    raise
                if time.monotonic() - lost_at >= args.reconnect_s:
                    raise SpeechseqError(f"{err}; gave up after {args.reconnect_s:g} s") from None
                if stop.wait(1.0):
                    raise KeyboardInterrupt from None
                _refresh_devices(import_sounddevice())   # at every try: the device may be back by now
        out(listener.finish(state))
    except KeyboardInterrupt:
        out(listener.finish(state))
        out.end_line()
        print("speechseq: stopped", file=sys.stderr)
    except SpeechseqError:
        out(listener.finish(state))  # the utterance in progress still gets its final event, then the error
        raise
    return 0


def _refresh_devices(sd) -> None:
    """PortAudio lists the devices once per initialisation: start it again to see a device (or sound server) that
    came back."""
    sd._terminate()
    sd._initialize()


def _announce(source, listener, args) -> None:
    where = f"{source.name} ({source.rate} Hz, {source.channels} ch)" if hasattr(source, "rate") else source.name
    kws = ", ".join(m.keyword for m in listener.detector.models)
    if not listener.cfg.partials or listener.partial_decoder is None:
        partial = "no partials"
    elif listener.streaming is not None:
        partial = (f"partials every {listener.streaming.chunk_s * 1000:.0f} ms + "
                   f"{listener.streaming.lookahead_s * 1000:.0f} ms look-ahead")
    else:
        partial = f"partials every {listener.cfg.partial_interval_s * 1000:.0f} ms by the final's decoder"
    commands = listener.commands
    if commands is not None:
        partial += f"; {len(commands)} command{'' if len(commands) == 1 else 's'} of {args.commands}"
    print(f"speechseq: listening on {where} for: {kws} (VAD: {listener.vad.name}; {partial})", file=sys.stderr, flush=True)
