"""speechseq from Python: the shipped models loaded as the commands load them, files or arrays in.

    import speechseq
    t = speechseq.transcribe("talk.flac")           # as `speechseq transcribe talk.flac --format json`
    print(t.text, [(w.word, w.start, w.end, w.confidence) for w in t.words])
    for d in speechseq.detect(audio, sr=16000):     # as `speechseq detect --json`: keyword, start, end, score
        print(d.keyword, d.start, d.end, d.score)
    rec = speechseq.load_recognizer(decoder="greedy", vad="off")   # loaded once, for many files
    det = speechseq.load_detector("runs/hey-robot/hey_robot.onnx", threshold=0.6)
    listener = speechseq.load_listener()           # `speechseq listen`'s: its finals are the command's

`transcribe` and `detect` load the shipped models on their first call and keep them (load_recognizer() and
load_detector() with their defaults, found in $SPEECHSEQ_MODELS or the checkout's models/, as the commands find them);
pass recognizer= or detector= for others. Audio is a file path (any format `speechseq.audio` reads, resampled to the
models' rate) or samples with their rate `sr` in Hz: (N,) or (N, channels), float at full scale 1.0 or integers
(int16 as a WAV holds them). Errors a user can cause (a missing file, an array without its rate) are
SpeechseqError, with the one line the commands print, naming the file or the argument as the call gave it (never a
command-line option: "path=''", not "--model"); ValueError for an argument no call could take (decoder="fast",
beam_size=0, threads=0), TypeError for one of another type (path=123, detector="x").
"""
from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .checks import finite, whole
from .errors import SpeechseqError

if TYPE_CHECKING:
    from .runtime.detector import Detection, Detector
    from .runtime.listener import Listener
    from .runtime.recognizer import DecodeOptions, Recognizer, Transcript

__all__ = ["load_detector", "load_recognizer", "load_listener", "detect", "transcribe", "SpeechRecognizer"]

DECODERS = ("auto", "greedy", "beam", "beam-lm", "rescore", "lexicon")   # `speechseq transcribe --decoder`
VADS = ("auto", "silero", "energy", "off")                                # and its --vad
DETECTOR_SETTINGS = ("smoothing_steps", "refractory_s", "max_wait_s", "range_db", "merge")   # load_detector's settings
BLOCK_S = 10.0   # arrays are fed in blocks of this many seconds, as the commands read files (stream_audio)


@dataclass(frozen=True)
class SpeechRecognizer:
    """What `speechseq transcribe` runs on each file: a recogniser, its decoding options and a voice activity
    detector (None: every stretch recognised). Made by load_recognizer; `transcribe` turns audio into a Transcript."""

    recognizer: Recognizer        # speechseq.runtime.recognizer.Recognizer (beam-lm, rescore: one that decodes so)
    options: DecodeOptions | None  # its DecodeOptions (None for beam-lm and rescore: the recogniser holds them)
    vad: Any                      # a speechseq.runtime.vad.Vad, or None
    decoder: str                  # the decoder run: "auto" resolved ("lexicon" with the shipped lexicon)
    max_segment_s: float = 20.0   # the longest utterance before a cut at a pause (transcribe --max-segment)

    def transcribe(self, audio: str | os.PathLike | np.ndarray, sr: float | None = None) -> Transcript:
        """Text, words (word, start, end in seconds from the audio's start, confidence) and segments of a file
        or of samples at `sr` Hz (see the module's docstring); `.to_json(name)` is transcribe --format json's object."""
        rate = self.recognizer.frontend.sample_rate
        if _is_path(audio, sr):
            return self.recognizer.transcribe_file(audio, self.options, self.max_segment_s, vad=self.vad)
        return self.recognizer.transcribe(_blocks(_samples_at(audio, sr, rate), rate), self.options,
                                          self.max_segment_s, vad=self.vad)


def load_detector(path: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
                  threshold: float | None = None, *, threads: int = 1, **settings) -> Detector:
    """The trigger-word detector of the model file `path` (or of several, one keyword each); None: the shipped
    activate.onnx and computer.onnx, as `speechseq detect` picks them. threshold: for every model, in (0, 1) (None:
    each model's own). settings: the Detector's others (smoothing_steps, refractory_s, max_wait_s, range_db). As the
    command, a file byte for byte one before it (or one path given twice) is loaded once, and two models of one
    keyword are said (on stderr)."""
    from .commands.common import model_paths
    from .commands.detect import DEFAULT_MODELS, load_distinct

    unknown = sorted(set(settings) - set(DETECTOR_SETTINGS))
    if unknown:   # (a name of load_distinct's own, option=, was its "got multiple values for argument")
        raise TypeError(f"load_detector() got an unexpected keyword argument {unknown[0]!r}")
    if threshold is not None and not (finite(threshold) and 0 < threshold < 1):   # "0.5" was taken, [0.5] float()'s
        raise ValueError(f"threshold must lie in (0, 1) (None: each model's own), got {threshold!r}")
    range_db = settings.get("range_db")   # the floor guard's, as --range-db: >= 0, 0 (or None) off ("60": a TypeError)
    if range_db is not None and not (finite(range_db) and range_db >= 0):
        raise ValueError(f"range_db must be a finite number of dB >= 0 (0 or None: no floor guard), got {range_db!r}")
    if not isinstance(settings.get("merge", True), bool):   # (the keywords' graphs run as one: the same outputs)
        raise TypeError(f"merge must be True or False, got {settings['merge']!r}")
    threads = _threads(threads)
    if path is None:
        folder = _models_folder()
        paths = [folder / m for m in DEFAULT_MODELS if (folder / m).is_file()]
        if not paths:
            raise SpeechseqError(_not_shipped("no shipped detectors", folder))
    else:
        given = [path] if isinstance(path, (str, os.PathLike)) else path
        if not isinstance(given, Iterable) or isinstance(given, bytes):
            raise TypeError(f"path must be a model file (str or os.PathLike) or a list of them, got {_kind(path)}")
        paths = model_paths([_path_arg(p, "path", "model file") for p in given], None)   # one path twice: once
    for p in paths:
        _model_file(p)
    return load_distinct(paths, None, threads=threads, threshold=threshold, **settings)


def load_recognizer(path: str | os.PathLike | None = None, decoder: str = "auto", *, beam_size: int | None = None,
                    vad: str = "auto", commands: str | os.PathLike | None = None,
                    threads: int = 1) -> SpeechRecognizer:
    """What `speechseq transcribe` runs: the recogniser `path` (None: the shipped recognizer-en.onnx) with its
    --decoder (auto: the lexicon search with the word and character LMs where models/ holds them, as the command;
    lexicon: its word LM alone, as --decoder lexicon),
    --beam-size (None: 64 for the lexicon search, 8 for the others), --vad (auto: Silero when installed, else the
    energy VAD; off: none) and --commands (a list of phrases, one a line: README, "Commands")."""
    from .commands.transcribe import decoding, make_vad, resolve_decoder

    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    if vad not in VADS:
        raise ValueError(f"vad must be one of {', '.join(VADS)}, got {vad!r}")
    if beam_size is not None and not whole(beam_size):   # the command's --beam-size message named its option
        raise ValueError(f"beam_size must be a whole number >= 1 (None: the decoder's default), got {beam_size!r}")
    threads = _threads(threads)
    if commands is not None:
        _path_arg(commands, "commands", "command list")
    folder = _models_folder()
    model = (_model_file(_path_arg(path, "path", "model file")) if path is not None
             else _shipped(folder, "recognizer-en.onnx"))
    args = _transcribe_args(model=str(model), decoder=decoder, beam_size=beam_size, threads=threads,
                            **{k: str(folder / name) for k, name in (("lm", "lm-en.onnx"), ("lexicon", "words-en.npz"),
                                                                     ("attention_decoder", "decoder-en.onnx"))})
    # auto: the lexicon search with the tuned weights and the character LM, as the command; each file's error names the
    # file alone (options=False): the caller wrote no --model or --lm
    tuned = resolve_decoder(args, options=False)
    cmds = _command_set(commands, args.decoder)
    if args.decoder == "lexicon":
        _shipped(folder, "words-en.npz", ", which decoder='lexicon' reads)")
    elif args.decoder in ("beam-lm", "rescore"):
        for name in ("lm-en.onnx", "decoder-en.onnx") if args.decoder == "rescore" else ("lm-en.onnx",):
            _shipped(folder, name, f", which decoder={args.decoder!r} reads)")
    rec, opts = decoding(args, tuned, cmds, decoder, options=False)
    return SpeechRecognizer(rec, opts, make_vad(vad, threads), args.decoder)


def _transcribe_args(**given) -> argparse.Namespace:
    """`speechseq transcribe`'s options, its defaults with `given` set (the files it would read: none)."""
    from .commands import transcribe

    parser = argparse.ArgumentParser(prog="speechseq")
    transcribe.register(parser.add_subparsers())
    args = parser.parse_args(["transcribe", "-"])
    vars(args).update(given)
    return args


def load_listener(commands: str | os.PathLike | None = None) -> Listener:
    """The Listener `speechseq listen` runs (its defaults: the shipped detectors, the lexicon search with its LMs for
    the final text, partial text as the final's decoder, the VAD), so that its finals are the command's; commands: a
    list of phrases, as listen --commands. Run it as speechseq/runtime/listener.py's docstring does, on blocks of a
    speechseq.sources.Microphone or FileStream."""
    from .commands import listen

    folder = _models_folder()
    if commands is not None:   # read once, by build_listener
        _path_arg(commands, "commands", "command list")
    if not any((folder / name).is_file() for name in listen.DEFAULT_KEYWORDS):
        raise SpeechseqError("no keyword models given (load_listener runs the shipped detectors), and "
                             + _not_shipped("none shipped", folder, ")"))
    if not any((folder / name).is_file() for name in ("recognizer-en.int8.onnx", "recognizer-en.onnx")):
        raise SpeechseqError(_not_shipped("no recognizer-en.int8.onnx (nor recognizer-en.onnx)", folder, ")"))
    parser = argparse.ArgumentParser(prog="speechseq")
    listen.register(parser.add_subparsers(), models=folder)   # the command's defaults, of this call's folder
    args = parser.parse_args(["listen"] + ([] if commands is None else [f"--commands={os.fspath(commands)}"]))
    return listen.build_listener(args, options=False)   # each file's error names the file alone, as load_recognizer


def detect(audio: str | os.PathLike | np.ndarray, sr: float | None = None, *,
           detector: Detector | None = None) -> list[Detection]:
    """The trigger words heard in a file or in samples at `sr` Hz, as `speechseq detect --json` lists them: each a
    Detection with keyword, start, end (s from the audio's start) and score (and `time`, when the stream emitted
    it). detector: load_detector(...)'s (None: the shipped models, loaded once)."""
    from .commands.detect import detect_blocks, detect_file
    from .runtime.detector import Detector

    path = _is_path(audio, sr)   # a missing rate said before the models load
    if detector is not None and not isinstance(detector, Detector):
        raise TypeError(f"detector must be a speechseq Detector (load_detector's), got {_kind(detector)}")
    det = detector if detector is not None else _default_detector(str(_models_folder()))
    rate = det.frontend.cfg.sample_rate
    if path:
        return detect_file(det, Path(audio))[0]
    return detect_blocks(det, _blocks(_samples_at(audio, sr, rate), rate))[0]


def transcribe(audio: str | os.PathLike | np.ndarray, sr: float | None = None, *,
               recognizer: SpeechRecognizer | None = None) -> Transcript:
    """Text and timed words of a file or of samples at `sr` Hz, as `speechseq transcribe --format json` writes them
    (a speechseq.runtime.recognizer.Transcript: duration, text, words, segments). recognizer: load_recognizer(...)'s
    (None: the shipped models as the command runs them, loaded once)."""
    _is_path(audio, sr)   # a missing rate said before the models load
    if recognizer is not None and not isinstance(recognizer, SpeechRecognizer):
        raise TypeError(f"recognizer must be a speechseq.SpeechRecognizer (load_recognizer's), got "
                        f"{_kind(recognizer)}")
    rec = recognizer if recognizer is not None else _default_recognizer(str(_models_folder()))
    return rec.transcribe(audio, sr)


def _samples_at(audio, sr: float | None, rate: int) -> np.ndarray:
    """`audio` (samples at `sr` Hz: (N,), (N, channels) or a (1, N) row) as float32 mono at `rate` Hz, channels mixed
    as a file's are; SpeechseqError for a rate no file could have, for no samples or another shape."""
    from .audio import MAX_FILE_RATE, MIN_FILE_RATE
    from .samples import finite_samples, float_samples, mix_live, resample

    if isinstance(sr, (bool, np.bool_)) or not isinstance(sr, (int, float, np.integer, np.floating)) or not (
            MIN_FILE_RATE <= sr <= MAX_FILE_RATE):
        raise SpeechseqError(f"sr={sr!r}: a sample rate in Hz from {MIN_FILE_RATE} to {MAX_FILE_RATE}, as files are "
                             "read")
    if np.iscomplexobj(audio):   # cast to float32, the imaginary parts were dropped with only numpy's warning
        raise SpeechseqError("audio samples must be real numbers, got complex ones")
    try:
        x = float_samples(audio)
    except (TypeError, ValueError) as err:
        raise SpeechseqError(str(err)) from None
    if x.ndim == 2 and x.shape[0] == 1:   # a row
        x = x[0]
    if x.ndim not in (1, 2) or x.ndim == 2 and x.shape[1] > x.shape[0]:
        raise SpeechseqError(f"audio must be (N,) or (N, channels) samples, got shape {x.shape}"
                             + (" (channels first? pass audio.T)" if x.ndim == 2 else ""))
    if x.size == 0:
        raise SpeechseqError("audio holds no samples")
    return resample(finite_samples(mix_live(x)[0]), sr, rate)


def _blocks(x: np.ndarray, rate: int) -> Iterable[np.ndarray]:
    n = int(BLOCK_S * rate)
    return (x[i: i + n] for i in range(0, len(x), n))


def _is_path(audio, sr: float | None) -> bool:
    """Whether `audio` names a file; SpeechseqError for a file given a rate, an empty path, or samples given no rate."""
    if isinstance(audio, (str, os.PathLike)):
        _path_arg(audio, "audio", "audio file")
        if sr is not None:
            raise SpeechseqError(f"sr={sr!r} is for samples: a file is read at its own rate")
        return True
    if sr is None:
        raise SpeechseqError("samples need their rate: pass sr= in Hz (sr=16000 for 16 kHz); a file path says its own")
    return False


def _models_folder() -> Path:
    """$SPEECHSEQ_MODELS, else the checkout's models/, read at each call (set in Python, it is still heeded)."""
    from .commands.common import models_folder

    return models_folder()


def _not_shipped(what: str, folder: Path, tail: str = ", or pass path=)") -> str:
    return f"{what} in {folder} (set SPEECHSEQ_MODELS to the folder of speechseq's models/{tail}"


def _shipped(folder: Path, name: str, tail: str = ", or pass path=)") -> Path:
    """The shipped model `name` in `folder`; SpeechseqError saying where it was looked for."""
    if not (folder / name).is_file():
        raise SpeechseqError(_not_shipped(f"no {name}", folder, tail))
    return folder / name


def _model_file(path: str | os.PathLike) -> Path:
    """`path` as a Path, SpeechseqError unless it is a file (named as the commands name it)."""
    from .runtime.onnx import missing_model

    p = Path(path)
    if not p.is_file():
        raise SpeechseqError(missing_model(p))
    return p


def _path_arg(value, name: str, what: str) -> str | os.PathLike:
    """`value`, the argument `name`, as a path: TypeError unless a str or os.PathLike, SpeechseqError for an empty one
    (an unset variable: Path('') is '.', said as "is a directory")."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike) of a {what}, got {_kind(value)}")
    if not os.fspath(value):
        raise SpeechseqError(f"{name}={value!r}: an empty path names no {what}")
    return value


def _threads(threads) -> int:
    """`threads` as the commands' --threads: a whole number >= 1 (ValueError naming it), more than the CPUs here taken
    as that many, said."""
    from .commands.common import cpu_threads

    if not whole(threads):
        raise ValueError(f"threads must be a whole number >= 1, got {threads!r}")
    return cpu_threads(int(threads), f"threads={threads}")


def _kind(value) -> str:
    """A wrong argument as an error names it: a string as written, another object by its type."""
    return repr(value) if isinstance(value, (str, bytes, int, float, type(None))) else type(value).__name__


def _command_set(commands: str | os.PathLike | None, decoder: str):
    if commands is None:
        return None
    if decoder not in ("greedy", "beam", "lexicon"):
        raise SpeechseqError(f"commands= works with the greedy, beam or lexicon decoder, not {decoder}")
    from .runtime.command_set import CommandSet

    return CommandSet.load(commands)


@functools.lru_cache(maxsize=1)
def _default_detector(folder: str) -> Detector:
    """load_detector() of the models in `folder` (the key: another SPEECHSEQ_MODELS loads them again)."""
    return load_detector()


@functools.lru_cache(maxsize=1)
def _default_recognizer(folder: str) -> SpeechRecognizer:
    return load_recognizer()
