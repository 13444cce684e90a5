"""A speaker's takes of a keyword, cut out of a stream: one clip per utterance, checked.

`speechseq record` asks the speaker to say the keyword again and again with a pause after each;
this cuts the stream at the pauses, as it arrives, into one padded clip per utterance and says
what is wrong with a clip that should not be trained on (too long, clipped, too quiet).

    cutter = TakeCutter(TakeConfig())
    state = cutter.initial_state()
    takes, state = cutter.step(chunk, probs, state)   # chunk: new samples (16 kHz); probs: the VAD
                                                      # probabilities of the frames they completed

VAD frame k covers samples [k F, (k + 1) F) of the stream (F = `frame` samples). The rules are
`speech_regions`' with merge_gap_s = end_silence_s (the same cuts where end_silence_s >= 2 pad_s, so
that padded takes never overlap, and the stream ends in a pause): frames at or above `threshold` are speech; an
utterance ends once `end_silence_s` of non-speech follows its last speech frame; utterances
shorter than `min_speech_s` (clicks, a cough's edge) are dropped unreported; a kept one is widened
by `pad_s` on both sides. An utterance that runs past `max_take_s` is reported as too long when it
ends, and its audio is not kept meanwhile, so memory stays bounded however long someone talks.
Where the stream breaks (audio was dropped), `end(state)` ends the utterance in progress at its last
speech frame, as if its pause had been heard. An utterance whose speech comes within `pad_s` of where a live
stream began (`initial_state(live=True)`: a microphone opened while someone talks) or broke was not heard from its
start: it is reported, not kept.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import finite, refuse, whole
from ..samples import mono_samples

__all__ = ["TakeConfig", "Take", "TakeState", "TakeCutter", "take_problem", "peak_dbfs", "take_bounds"]


@dataclass(frozen=True)
class TakeConfig:
    threshold: float = 0.5       # VAD probability that counts as speech
    end_silence_s: float = 0.5   # a pause this long ends a take
    min_speech_s: float = 0.15   # shorter sounds are not takes
    max_take_s: float = 2.5      # longer utterances are not one keyword: reported, not kept
    pad_s: float = 0.2           # margin kept before and after the speech
    clip_level: float = 0.99     # a sample this loud (of full scale) counts as clipped ...
    clip_samples: int = 3        # ... and this many of them make a take clipped
    quiet_dbfs: float = -35.0    # a take whose peak stays below this is too quiet

    def __post_init__(self) -> None:
        # NaN passed the comparisons below (a NaN end_silence_s then failed in TakeCutter: "cannot convert float NaN
        # to integer"), and a clip count or level of 0 called every take clipped
        refuse("take settings", [
            *((name, getattr(self, name), finite(getattr(self, name)), "a finite number of seconds")
              for name in ("end_silence_s", "min_speech_s", "max_take_s", "pad_s")),
            ("clip_level", self.clip_level, finite(self.clip_level) and self.clip_level > 0, "a finite number > 0"),
            ("clip_samples", self.clip_samples, whole(self.clip_samples), "a whole number >= 1"),
            ("quiet_dbfs", self.quiet_dbfs, finite(self.quiet_dbfs) or self.quiet_dbfs == float("-inf"),
             "a number (-inf: never too quiet)")])
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {self.threshold}")
        if min(self.end_silence_s, self.min_speech_s, self.pad_s) < 0 or self.max_take_s <= self.min_speech_s:
            raise ValueError(f"durations must be >= 0 and max_take_s > min_speech_s: {self}")
        if self.pad_s > self.end_silence_s:
            raise ValueError(f"pad_s ({self.pad_s}) must not exceed end_silence_s ({self.end_silence_s}): "
                             "the padding after a take is audio already heard when it ends")


@dataclass(frozen=True)
class Take:
    """One utterance: its speech from `start` to `end` (seconds of stream time), the padded clip
    (empty when not kept) and what is wrong with it (None: fit to train on)."""

    start: float
    end: float
    audio: np.ndarray
    problem: str | None = None


@dataclass(frozen=True)
class TakeState:
    """audio: the stream's samples from `offset` on that a take may still need; frames: VAD frames
    seen; start / last: the current utterance's first and last speech frames (-1: none);
    too_long: the current utterance has run past max_take_s (its audio is no longer kept); joined: the sample
    where a live stream began or broke (-1: none), speech within pad_s after which had its start unheard."""

    audio: np.ndarray
    offset: int = 0
    frames: int = 0
    start: int = -1
    last: int = -1
    too_long: bool = False
    joined: int = -1


def peak_dbfs(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return 20.0 * np.log10(max(peak, 1e-10))


def take_problem(audio: np.ndarray, cfg: TakeConfig = TakeConfig()) -> str | None:
    """Why a clip should not be trained on, or None."""
    if int(np.count_nonzero(np.abs(audio) >= cfg.clip_level)) >= cfg.clip_samples:
        return "clipped: move back from the microphone or turn its gain down"
    if peak_dbfs(audio) < cfg.quiet_dbfs:
        return f"too quiet (peak {peak_dbfs(audio):.0f} dBFS): speak up or move closer"
    return None


class TakeCutter:
    def __init__(self, cfg: TakeConfig = TakeConfig(), frame: int = 512, sample_rate: int = 16000) -> None:
        # 0 was a ZeroDivisionError; a negative frame or rate cut takes at negative times, a fractional frame none
        refuse("take cutter settings", [
            ("frame", frame, whole(frame), "a whole number of samples >= 1"),
            ("sample_rate", sample_rate, finite(sample_rate) and sample_rate > 0, "a positive number of Hz")])
        self.cfg, self.frame, self.sample_rate = cfg, frame, sample_rate
        frame_s = frame / sample_rate
        self._gap = int(np.ceil(cfg.end_silence_s / frame_s - 1e-9))   # non-speech frames that end a take
        self._min = cfg.min_speech_s / frame_s
        self._max = cfg.max_take_s / frame_s
        self._pad = int(round(cfg.pad_s * sample_rate))

    def initial_state(self, live: bool = False) -> TakeState:
        """live: the stream joins sound already going on (a microphone opens whenever the command starts): an
        utterance under way there is not whole. A file's start is its start."""
        return TakeState(np.zeros(0, np.float32), joined=0 if live else -1)

    def step(self, chunk: np.ndarray, probs: np.ndarray, state: TakeState) -> tuple[list[Take], TakeState]:
        """`chunk`: the stream's next samples, (N,) or a driver's (N, 1) column, integer samples scaled to full scale
        1.0 (mono_samples: int16 taken as it came called every take clipped); ValueError for more channels.
        `probs`: one VAD probability per frame they completed."""
        audio = np.concatenate([state.audio, mono_samples(chunk)])
        offset, start, last, too_long = state.offset, state.start, state.last, state.too_long
        takes: list[Take] = []
        speech = np.asarray(probs, np.float32).reshape(-1) >= self.cfg.threshold
        for j, s in enumerate(speech.tolist()):
            k = state.frames + j
            if start < 0:
                if s:
                    start = last = k
                continue
            if s:
                last = k
            elif k - last >= self._gap:
                take = self._finish(start, last, too_long, audio, offset, state.joined)
                if take is not None:
                    takes.append(take)
                start, last, too_long = -1, -1, False
                continue
            if not too_long and last + 1 - start > self._max:
                too_long = True
        # Keep what a take may still need: from the current one's padded start, else (none, or one
        # too long to keep) from the pad before the next frame, the earliest a take can start.
        frames = state.frames + len(speech)
        keep_from = max(0, (start if start >= 0 and not too_long else frames) * self.frame - self._pad)
        cut = max(0, keep_from - offset)
        return takes, TakeState(audio[cut:].copy() if cut else audio, offset + cut, frames, start, last, too_long,
                                state.joined)

    def end(self, state: TakeState, whole: bool = True) -> tuple[list[Take], TakeState]:
        """The stream breaks here (audio lost): the utterance in progress ends at its last speech frame, as if its
        pause had been heard, padded after with what was heard of it (whole=False: the loss fell inside it, no take);
        the frames that follow start afresh, an utterance under way at the break not whole."""
        takes: list[Take] = []
        if state.start >= 0 and whole:
            take = self._finish(state.start, state.last, state.too_long, state.audio, state.offset, state.joined)
            takes = [] if take is None else [take]
        keep_from = max(0, state.frames * self.frame - self._pad)
        cut = max(0, keep_from - state.offset)
        return takes, TakeState(state.audio[cut:].copy(), state.offset + cut, state.frames,
                                joined=state.offset + len(state.audio))

    def _finish(self, start: int, last: int, too_long: bool, audio: np.ndarray, offset: int,
                joined: int = -1) -> Take | None:
        t0, t1 = start * self.frame / self.sample_rate, (last + 1) * self.frame / self.sample_rate
        if too_long:
            return Take(t0, t1, np.zeros(0, np.float32),
                        f"too long ({t1 - t0:.1f} s): say only the keyword, then pause")
        if last + 1 - start < self._min:
            return None
        a = max(0, start * self.frame - self._pad - offset)
        b = min(len(audio), (last + 1) * self.frame + self._pad - offset)
        clip = audio[a:b].copy()
        # speech within the pad after a live stream's start or break (its first frame at least) may have begun
        # before it (on a word under way, Silero's probability rose up to 2 frames late): not the whole word
        if joined >= 0 and start * self.frame - joined < max(self._pad, self.frame):
            return Take(t0, t1, clip, "its start was not heard (it was under way as the recording began or where "
                                      "audio was lost): say it again")
        return Take(t0, t1, clip, take_problem(clip, self.cfg))


def take_bounds(audio: np.ndarray, vad, cfg: TakeConfig = TakeConfig(),
                sample_rate: int = 16000) -> tuple[int, int] | None:
    """Samples [a, b) of one recorded take within a recording of it, cut as `speechseq record` cuts: from
    the first to the last stretch of speech a fresh `vad` hears (`speech_regions` by cfg's rules), padded
    by cfg.pad_s; None when it hears none. Training cuts a person's recordings of the keyword so before
    its energy rule (speechseq.train.kwbank): that rule alone put the end of 21 of the 117 Precise
    amelia dev clips 0.3-1.1 s after the word, at a noise or the recording's end."""
    from .speech_regions import RegionConfig, speech_probabilities, speech_regions

    probs = speech_probabilities(vad, audio, sample_rate)
    rules = RegionConfig(threshold=cfg.threshold, merge_gap_s=cfg.end_silence_s, min_speech_s=cfg.min_speech_s,
                         pad_s=cfg.pad_s)
    regions = speech_regions(probs, vad.frame_s, len(audio), sample_rate, rules)
    return (regions[0][0], regions[-1][1]) if regions else None
