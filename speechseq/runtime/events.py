"""What the listener says: frozen event values, each with its one-line JSON form.

`time` is stream time in seconds (audio delivered so far, dropped audio included) when the
event was produced; word times are stream times too, as is a final's `start`, where its recording began.
"""
from __future__ import annotations

from dataclasses import dataclass

from .decoding import Word

__all__ = ["WakeEvent", "PartialEvent", "FinalEvent", "OverrunEvent", "Event", "lost_in_words"]


def lost_in_words(dropped_s: float, input_overflows: int = 0) -> str:
    """What a loss of audio (a sources.Overrun) lost, in the words `listen` and `record` both use: the length
    dropped because processing fell behind, and audio the input driver discarded (PortAudio's input overflow),
    of a length it does not say."""
    said = []
    if dropped_s > 0:  # a loss, however short, is not "0 ms"
        ms = max(1, round(dropped_s * 1000))
        length = f"{ms} ms" if ms < 1000 else f"{dropped_s:.2f} s"
        said.append(f"{length} of audio was dropped (the machine fell behind)")
    if input_overflows:
        said.append("the input driver discarded audio (how much it does not say)")
    return "; ".join(said) or "no audio was lost"


@dataclass(frozen=True)
class WakeEvent:
    """A keyword was heard; `keyword_end` is where it ended (the utterance is recorded from there)."""

    keyword: str
    time: float
    score: float
    keyword_end: float

    def to_dict(self) -> dict:
        return {"event": "wake", "keyword": self.keyword, "time": round(self.time, 3), "score": round(self.score, 4)}

    def __str__(self) -> str:
        return f"[{self.time:7.2f}s] wake: {self.keyword} ({self.score:.2f})"


@dataclass(frozen=True)
class PartialEvent:
    """Text so far while the user speaks; only its last word or so may still change."""

    text: str
    time: float

    def to_dict(self) -> dict:
        return {"event": "partial", "text": self.text, "time": round(self.time, 3)}

    def __str__(self) -> str:
        return f"[{self.time:7.2f}s]   ... {self.text}"


@dataclass(frozen=True)
class FinalEvent:
    """The utterance after the keyword, decoded whole; empty text when nothing was said.

    `start`/`end` bound the recorded audio; `speech_end` is where the VAD last heard speech. Its JSON has "start" too
    (after issue 6's keys), so that a consumer that keeps the audio finds the recording in it. `command`: the phrase
    of the command list (DecodeOptions.commands) the utterance was taken as, as the list writes it, or None (`listen
    --commands --json` writes it as "command").
    """

    text: str
    words: tuple[Word, ...]
    time: float
    start: float
    end: float
    speech_end: float
    command: str | None = None

    def to_dict(self) -> dict:
        return {"event": "final", "text": self.text,
                "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                           "confidence": round(w.confidence, 3)} for w in self.words],
                "time": round(self.time, 3), "start": round(self.start, 3)}

    def __str__(self) -> str:
        return f"[{self.time:7.2f}s] heard: {self.text}" if self.text else f"[{self.time:7.2f}s] heard nothing"


@dataclass(frozen=True)
class OverrunEvent:
    """Audio was lost (the listener goes on): `dropped_s` because processing fell behind, and where
    `input_overflows` > 0 audio the input driver discarded, of a length it does not say (times after it are
    early by that much)."""

    dropped_s: float
    time: float
    input_overflows: int = 0

    def to_dict(self) -> dict:
        out = {"event": "overrun", "dropped_s": round(self.dropped_s, 3), "time": round(self.time, 3)}
        return {**out, "input_overflows": self.input_overflows} if self.input_overflows else out

    def __str__(self) -> str:
        early = "; times after it are early by what the driver discarded" if self.input_overflows else ""
        return f"[{self.time:7.2f}s] overrun: {lost_in_words(self.dropped_s, self.input_overflows)}{early}"


Event = WakeEvent | PartialEvent | FinalEvent | OverrunEvent
