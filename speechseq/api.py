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
SpeechseqError, with the one line the commands print; ValueError for an argument no call could take (decoder="fast").
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

from .errors import SpeechseqError

if TYPE_CHECKING:
    from .runtime.detector import Detection, Detector
    from .runtime.listener import Listener
    from .runtime.recognizer import DecodeOptions, Recognizer, Transcript

__all__ = ["load_detector", "load_recognizer", "load_listener", "detect", "transcribe", "SpeechRecognizer"]

DECODERS = ("auto", "greedy", "beam", "beam-lm", "rescore", "lexicon")   # `speechseq transcribe --decoder`
VADS = ("auto", "silero", "energy", "off")                                # and its --vad
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
    command, a file byte for byte one before it is loaded once, and two models of one keyword are said (on stderr)."""
    from .commands.detect import DEFAULT_MODELS, load_distinct

    if path is None:
        folder = _models_folder()
        paths = [folder / m for m in DEFAULT_MODELS if (folder / m).is_file()]
        if not paths:
            raise SpeechseqError(_not_shipped("no shipped detectors", folder))
    else:
        paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    for p in paths:
        _model_file(p)
    return load_distinct([Path(p) for p in paths], None, threads=threads, threshold=threshold, **settings)


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
    folder = _models_folder()
    model = _model_file(path) if path is not None else _shipped(folder, "recognizer-en.onnx")
    args = _transcribe_args(model=str(model), decoder=decoder, beam_size=beam_size, threads=threads,
                            **{k: str(folder / name) for k, name in (("lm", "lm-en.onnx"), ("lexicon", "words-en.npz"),
                                                                     ("attention_decoder", "decoder-en.onnx"))})
    tuned = resolve_decoder(args)   # auto: the lexicon search with the tuned weights and the character LM, as the command
    cmds = _command_set(commands, args.decoder)
    if args.decoder == "lexicon":
        _shipped(folder, "words-en.npz", ", which decoder='lexicon' reads")
    elif args.decoder in ("beam-lm", "rescore"):
        for needed in (args.lm, args.attention_decoder) if args.decoder == "rescore" else (args.lm,):
            _model_file(needed)
    rec, opts = decoding(args, tuned, cmds, decoder)
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

    parser = argparse.ArgumentParser(prog="speechseq")
    listen.register(parser.add_subparsers(), models=_models_folder())   # the command's defaults, of this call's folder
    args = parser.parse_args(["listen"] + ([] if commands is None else [f"--commands={os.fspath(commands)}"]))
    return listen.build_listener(args)


def detect(audio: str | os.PathLike | np.ndarray, sr: float | None = None, *,
           detector: Detector | None = None) -> list[Detection]:
    """The trigger words heard in a file or in samples at `sr` Hz, as `speechseq detect --json` lists them: each a
    Detection with keyword, start, end (s from the audio's start) and score (and `time`, when the stream emitted
    it). detector: load_detector(...)'s (None: the shipped models, loaded once)."""
    from .commands.detect import detect_blocks, detect_file

    path = _is_path(audio, sr)   # a missing rate said before the models load
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
    """Whether `audio` names a file; SpeechseqError for a file given a rate, or samples given none."""
    if isinstance(audio, (str, os.PathLike)):
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
