"""The live listener's state, a value passed in and returned (`speechseq.runtime.listener.Listener`): its mode, the
stream's clock, the detectors' state (while recording: fresh from the recording's start) and the last audio heard, and
the utterance in progress while recording."""
from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from ..frontend import FrontendState
from .decoding import Word
from .detector import DetectorState
from .streaming_recognizer import StreamState
from .vad import VadState

__all__ = ["Mode", "Recording", "ListenerState"]


class Mode(enum.Enum):
    LISTENING = "listening"
    RECORDING = "recording"


@dataclass(frozen=True)
class Recording:
    """One utterance in progress, on its own clock: the stream time of `origin` plus the audio fed since, the
    stream's clock less the audio lost while it was recorded (`gaps`: (own time of the loss, seconds lost)).
    start: its first sample's time; samples: its length; origin: where its frontend and VAD started (before a
    keyword tail was dropped). `stream_time` puts a time of this clock on the stream's."""

    start: float
    origin: float
    samples: int
    frontend: FrontendState
    feats: tuple[np.ndarray, ...]
    vad: VadState
    stream: StreamState | None
    speech_seen: bool = False
    silence_s: float = 0.0
    speech_end: float = 0.0
    onset: float | None = None          # where the VAD first heard speech (this clock): no word starts before it
    partial: str = ""
    early: tuple[float, str, tuple[Word, ...], str | None] | None = None   # (speech_end it covers, text, words,
    # the phrase of the command list taken: listener.taken_phrase)
    decoded: int = 0                    # partials: the features ("final") or chunked steps the last decode saw,
    settled: tuple[Word, ...] = ()      # the words two decodes in a row agreed on (times from `start`),
    unsettled: tuple[str, ...] = ()     # and the last decode's words after them
    gaps: tuple[tuple[float, float], ...] = ()
    before: Recording | None = None     # the recording a keyword heard again replaced, where it heard speech: the
    # final's when this one hears none (the "keyword" was a command the detector took for it: listener's docstring)

    def stream_time(self, t: float, end: bool = False) -> float:
        """Time `t` of this clock on the stream's: later by the audio lost before it. A loss at `t` itself
        comes before a start (the audio after it begins there) and after an `end`."""
        eps = 1e-6   # well under a sample: times from frames and from samples meet at a loss
        return t + sum(lost for at, lost in self.gaps if (at < t - eps if end else at <= t + eps))


@dataclass(frozen=True)
class ListenerState:
    mode: Mode
    time: float                          # stream seconds so far (dropped audio included)
    detector: DetectorState              # while recording: from the recording's start (its origin)
    detector_offset: float               # stream time of the detector's zero
    history: tuple[np.ndarray, ...]      # the last history_s seconds of audio (a wake records from it)
    recording: Recording | None = None
    detector_gaps: tuple[tuple[float, float], ...] = ()   # audio lost while listening: (detector time, seconds)

    def detector_end(self, t: float) -> float:
        """A time `t` of the detector's clock that ends something (a keyword) on the stream's: the detector's zero
        is moved by every loss, so a loss at or after `t` is taken back (the keyword ended before it)."""
        eps = 1e-6
        return self.detector_offset + t - sum(lost for at, lost in self.detector_gaps if at >= t - eps)
