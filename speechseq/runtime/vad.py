"""Voice activity detection for endpointing: Silero's ONNX model when installed, else an energy VAD.

    vad = load_vad()                       # "auto": Silero if the silero-vad wheel is there
    state = vad.initial_state()
    probs, state = vad.step(chunk, state)  # chunk (N,) float32 16 kHz -> (n,) speech probabilities,
                                           # one per 32 ms frame completed by the chunk

A chunk is (N,) or a driver's (N, 1) column, integer samples scaled to full scale 1.0 (speechseq.audio.mono_samples);
ValueError for more channels (mix them first: speechseq.audio.to_mono). A NaN sample counts as 0, an infinite one as
+-1 (speechseq.audio.finite_samples).

Silero VAD (MIT, ~2 MB) ships inside the `silero-vad` wheel; only its ONNX file is used, through
onnxruntime (install it with `pip install --no-deps silero-vad`: its declared dependencies pull
torch, which is not needed). Its input is 64 samples of context + 512 new samples with a
(2, 1, 128) recurrent state; both are carried in the state value here.

The energy VAD tracks the noise floor (falls fast, rises slowly) and maps a frame's level above
it to a probability; it is the fallback when Silero is absent, and cruder in noise. Its speech begins
12 dB above the floor and, once it has lasted 0.16 s there (each other frame taking back a quarter of one), goes on
while the level stays 6 dB above it (for up to 0.2 s after its last frame at 12 dB, rounded up to whole 32 ms frames:
0.224 s, through dips under it of up to 2 frames): a sentence's quiet end is not cut off in noise.
Nothing quieter than -55 dBFS is speech, however low the floor. A stream's floor starts at a guess, -60 dB; where its
first 0.5 s are one steady sound (within 6 dB) above it, that is the room: the floor goes to 10 dB under it and climbs
6 dB/s until the noise meets it (a steady -40 dBFS room was speech for the first 5.7 s, now 0.5 s).
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import numpy as np

from ..checks import finite, refuse
from ..samples import finite_samples, mono_samples
from .onnx import ModelError, make_session

__all__ = ["FRAME", "VadState", "Vad", "SileroVad", "EnergyVad", "load_vad", "silero_model_path"]

FRAME = 512          # samples per VAD frame at 16 kHz (32 ms)
SAMPLE_RATE = 16000
START_FLOOR_DB = -60.0   # the energy VAD's floor before it has heard a frame


@dataclass(frozen=True)
class VadState:
    """pending: samples not yet a whole frame (< FRAME,); context: the last 64 samples (Silero);
    rnn: Silero's (2, 1, 128) state; floor_db: the energy VAD's noise floor; frames: frames so far; the energy VAD's
    hysteresis: loud: frames at its entry margin less `hold_leak` for each other frame (at most what arms the hold),
    hold: frames for which it may still keep speech at its lower hold level (0: none), dip: frames in a row under that
    level the hold has outlasted; start: frames left of its start window (0: none), start_low / start_high: the
    quietest / loudest frame in it so far, climb: its floor, put up at the window's end, rises fast until a frame is
    at or under it; kept: its own step left the floor at the start guess (with rise_db_per_s 0), no new start."""

    pending: np.ndarray
    context: np.ndarray
    rnn: np.ndarray
    floor_db: float = START_FLOOR_DB
    frames: int = 0
    hold: int = 0
    loud: float = 0.0
    dip: int = 0
    start: int = 0
    start_low: float = float("inf")
    start_high: float = float("-inf")
    climb: bool = False
    kept: bool = False


class Vad(Protocol):
    name: str
    frame_s: float

    def initial_state(self) -> VadState: ...

    def step(self, chunk: np.ndarray, state: VadState) -> tuple[np.ndarray, VadState]: ...


def _frames(chunk: np.ndarray, state: VadState) -> tuple[np.ndarray, np.ndarray]:
    """(k, FRAME) whole frames of pending + chunk, and the rest. Integer samples are scaled to full scale 1.0 and
    more than one channel is refused (mono_samples): an int16 chunk taken as it came was 32768 times too loud, and an
    (N, 2) one flattened read its interleaved channels as a stream twice as long. NaN and infinite samples are made
    finite (finite_samples): one NaN made the energy VAD's clip floor NaN, and no frame of the clip was speech."""
    chunk = finite_samples(mono_samples(chunk))
    buf = np.concatenate([state.pending, chunk]) if len(state.pending) else chunk
    k = len(buf) // FRAME
    return buf[: k * FRAME].reshape(k, FRAME), buf[k * FRAME :].copy()


def _levels_db(frames: np.ndarray) -> np.ndarray:
    """(k, FRAME) -> (k,) each frame's power about its mean, in dB: a DC offset (a cheap microphone's, a
    file's) is no sound, and counted it hid speech under it."""
    return 10 * np.log10(np.var(frames.astype(np.float64), axis=1) + 1e-10) if len(frames) else np.zeros(0)


def silero_model_path() -> Path | None:
    """silero_vad.onnx inside the installed `silero-vad` wheel, found without importing it (it imports torch)."""
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / "data" / "silero_vad.onnx"
        if p.is_file():
            return p
    return None


class SileroVad:
    """Silero VAD v5/v6 on onnxruntime (16 kHz)."""

    name = "silero"
    frame_s = FRAME / SAMPLE_RATE
    context = 64

    def __init__(self, path: str | os.PathLike | None = None, threads: int = 1) -> None:
        path = path or silero_model_path()
        if path is None:
            raise ModelError("Silero VAD not installed (pip install --no-deps silero-vad)")
        self.path = str(path)
        self.session = make_session(path, threads)
        names = sorted(i.name for i in self.session.get_inputs())
        if names != ["input", "sr", "state"]:  # fail here, not on the first step with onnxruntime's words
            raise ModelError(f"{path}: not a Silero VAD graph (its inputs are {names}, not input, state and sr)")
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def initial_state(self) -> VadState:
        return VadState(np.zeros(0, np.float32), np.zeros(self.context, np.float32), np.zeros((2, 1, 128), np.float32))

    def step(self, chunk: np.ndarray, state: VadState) -> tuple[np.ndarray, VadState]:
        frames, rest = _frames(chunk, state)
        ctx, rnn = state.context, state.rnn
        probs = np.empty(len(frames), np.float32)
        for i, f in enumerate(frames):
            x = np.concatenate([ctx, f])[None]
            p, rnn = self.session.run(None, {"input": x, "state": rnn, "sr": self._sr})
            probs[i] = p.reshape(-1)[0]
            ctx = f[-self.context :]
        # (a copy: the last frame may lie in the caller's chunk, whose memory it may reuse)
        return probs, replace(state, pending=rest, context=ctx.copy(), rnn=rnn, frames=state.frames + len(frames))


class EnergyVad:
    """Level above a tracked noise floor -> probability: 0.5 at `margin_db` above the floor, and never below `min_db`;
    with hysteresis, at `hold_db` above it (nor below `min_db`) for up to `hold_s` (in whole frames, rounded up) after
    a frame at `margin_db`, once the level has been there `hold_after_s` (its frames there counted less `hold_leak`
    for each other frame: a word of short syllables arms it, a clatter's blip does not); a dip under `hold_db` of up to
    `hold_dip_s` (whole frames, rounded up) uses up the hold but does not end it. 60 Kathleen dev sentences between
    1 s pauses of -45 dBFS kitchen noise ended after the VAD's offset by 0.073 s on the median, 0.24 s at the 90th and
    0.28 s at the 95th percentile with no hold (quiet last sounds lost), 0.022, 0.20 and 0.22 s with a hold armed only
    by `hold_after_s` in a row and ended by one dip, 0.019, 0.15 and 0.18 s now (at -60 dBFS: 0.019, 0.12, 0.16 s;
    0.005, 0.11, 0.16 s; now 0.003, 0.084, 0.12 s). In that noise alone (95 s, in 5 s clips) it hears as many stretches
    of speech as with no hold (7 at -45 dBFS, 6 at -60) and 7% more speech frames at -45 dBFS (the first hold: 4%),
    as many at -60; streamed from the floor of its first second, 26 and 43 stretches (no hold: 44 and 43; the first
    hold: 29 and 43). After a 20 dB step of a steady noise it hears speech for 5.7 s (no hold: 5.5 s).

    A stream's floor starts at a guess (START_FLOOR_DB; initial_state's, which `record` puts back after its priming
    on digital silence): a room louder than -48 dBFS was speech until the floor had risen to 12 dB under it, at 1.5
    dB/s (steady noise of -45 / -40 / -35 dBFS: white for the first 2.3 / 5.7 / 9.0 s, pink 0.0 / 3.8 / 7.2 s, the
    kitchen noise of ../shared/data/noise 0.7 / 3.7 / 6.7 s), and a word said then was lost inside it. A floor at
    the guess opens a start window of `start_s` (whole frames, rounded up), heard as before; where all its frames
    lie within `start_spread_db` of each other (a steady room, not speech or a clatter) its quietest, at most
    `start_max_db` (a louder sound is no room), less `start_below_db` becomes the floor if that is higher, what the
    window heard is no longer held, and the floor rises `start_rise_db_per_s` until a frame is at or under it.
    Speech now ends after the window (white 0.51 s, pink 0.02 / 0.51 / 0.51 s, kitchen 0.33 / 1.22 / 1.75 s), and of
    30 Kathleen train sentences at 20, 10 and 5 dB over such noise (90 a level), 0.5-3 s after the stream began,
    which were heard inside it (onset more than 0.1 s early, or missed) 56 / 90 / 90 times at -45 / -40 / -35 dBFS
    (pink 19 / 90 / 90, kitchen 28 / 77 / 90), all but 3 / 4 / 6 (1 / 3 / 0, 12 / 25 / 18) are heard on their own,
    their onset 0.004 s late on the median at -40 dBFS, white (0.239 s at the 90th percentile: at 5 dB most are
    barely above the margin). Nothing changes at or under -50 dBFS, for a stream that begins inside speech (the
    sentences started 0, 0.1 or 0.3 s into their speech), offline (speech_probabilities starts from the clip's
    floor) or after a floor set from audio (the listener's); in 10 minutes of noise alone, streamed, it hears no
    more stretches of speech (pink -40 dBFS: 1 of 17 frames, was 2 of 117 frames)."""

    name = "energy"
    frame_s = FRAME / SAMPLE_RATE

    def __init__(self, margin_db: float = 12.0, slope_db: float = 3.0, min_db: float = -55.0,
                 rise_db_per_s: float = 1.5, hold_db: float = 6.0, hold_s: float = 0.2,
                 hold_after_s: float = 0.16, hold_leak: float = 0.25, hold_dip_s: float = 0.064,
                 start_s: float = 0.5, start_spread_db: float = 6.0, start_below_db: float = 10.0,
                 start_max_db: float = -30.0, start_rise_db_per_s: float = 6.0) -> None:
        # a slope of 0 was a ZeroDivisionError on the first frame, a NaN margin NaN probabilities (never speech)
        refuse("energy VAD settings", [
            ("margin_db", margin_db, finite(margin_db), "a finite number of dB"),
            ("slope_db", slope_db, finite(slope_db) and slope_db > 0, "a finite number of dB > 0"),
            ("min_db", min_db, finite(min_db) or min_db == float("-inf"), "a number of dB (-inf: no lower bound)"),
            ("rise_db_per_s", rise_db_per_s, finite(rise_db_per_s) and rise_db_per_s >= 0,
             "a finite number of dB per second >= 0"),
            # a hold above the margin would end speech on the frame after it began
            ("hold_db", hold_db, finite(hold_db) and hold_db <= margin_db, "a finite number of dB <= margin_db"),
            ("hold_s", hold_s, finite(hold_s) and hold_s >= 0, "a finite number of seconds >= 0"),
            ("hold_after_s", hold_after_s, finite(hold_after_s) and hold_after_s >= 0,
             "a finite number of seconds >= 0"),
            ("hold_leak", hold_leak, hold_leak >= 0, "a number of frames >= 0 (inf: hold_after_s in a row)"),
            ("hold_dip_s", hold_dip_s, finite(hold_dip_s) and hold_dip_s >= 0, "a finite number of seconds >= 0"),
            ("start_s", start_s, finite(start_s) and start_s >= 0, "a finite number of seconds >= 0 (0: no window)"),
            ("start_spread_db", start_spread_db, finite(start_spread_db) and start_spread_db >= 0,
             "a finite number of dB >= 0"),
            ("start_below_db", start_below_db, finite(start_below_db) and start_below_db >= 0,
             "a finite number of dB >= 0"),
            ("start_max_db", start_max_db, finite(start_max_db), "a finite number of dB"),
            ("start_rise_db_per_s", start_rise_db_per_s, finite(start_rise_db_per_s) and start_rise_db_per_s >= 0,
             "a finite number of dB per second >= 0")])
        self.margin_db, self.slope_db, self.min_db, self.hold_db = margin_db, slope_db, min_db, hold_db
        self.rise = rise_db_per_s * self.frame_s
        self.hold_frames = int(np.ceil(hold_s / self.frame_s - 1e-9))
        self.arm_frames = max(1, int(np.ceil(hold_after_s / self.frame_s - 1e-9)))
        self.leak = hold_leak
        self.dip_frames = int(np.ceil(hold_dip_s / self.frame_s - 1e-9))
        self.start_frames = int(np.ceil(start_s / self.frame_s - 1e-9))
        self.start_spread, self.start_below, self.start_max = start_spread_db, start_below_db, start_max_db
        self.climb_rise = start_rise_db_per_s * self.frame_s

    def initial_state(self) -> VadState:
        return VadState(np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32),
                        floor_db=START_FLOOR_DB)

    def clip_floor_db(self, audio: np.ndarray, quantile: float = 0.1, min_s: float = 1.0) -> float | None:
        """The noise floor of a clip known whole: the level of its quietest frames. An offline caller starts the
        floor there, where a stream starts it low and lets it rise at `rise_db_per_s`: from there a steady noise
        would be speech for the first seconds to a minute of every clip. None for a clip under `min_s`, which
        may be one word cut tight (espeak's "zero" alone: its quietest frames are the word's), or under one frame."""
        frames, _ = _frames(audio, self.initial_state())
        if not len(frames) or len(frames) * self.frame_s < min_s:
            return None
        return float(np.quantile(_levels_db(frames), quantile))

    def step(self, chunk: np.ndarray, state: VadState) -> tuple[np.ndarray, VadState]:
        frames, rest = _frames(chunk, state)
        level = _levels_db(frames)
        # the floor goes no lower than where nothing is speech anyway (min_db - margin_db): from digital silence's
        # -100 dB it took 35 s to climb, and a -50 dBFS room after it was speech all that time
        lowest = self.min_db - self.margin_db
        floor, hold, loud, dip = max(state.floor_db, lowest), state.hold, state.loud, state.dip
        start, low, high, climb = state.start, state.start_low, state.start_high, state.climb
        if state.floor_db == START_FLOOR_DB and not state.kept:  # the start guess, unmoved: a stream's start
            start, low, high, climb = self.start_frames, float("inf"), float("-inf"), False
        probs = np.empty(len(frames), np.float32)
        for i, db in enumerate(level.tolist()):
            floor = max(db, lowest) if db < floor else min(floor + (self.climb_rise if climb else self.rise), db)
            climb = climb and db > floor
            above = db - floor
            # held, the frame's 0.5 is at hold_db: a sentence's quiet end lies 6-12 dB above a noise's floor (in
            # digital silence not under min_db: the demo's decay 52 dB under its loudest was no speech)
            x = ((db - max(floor + self.hold_db, self.min_db)) if hold > 0 else above - self.margin_db) / self.slope_db
            probs[i] = 1.0 / (1.0 + np.exp(-x))
            if above >= self.margin_db:
                loud = min(loud + 1.0, self.arm_frames)
                hold, dip = (self.hold_frames if hold > 0 or loud >= self.arm_frames else 0), 0
            else:   # a held frame uses up the hold, and so does a dip under it of up to dip_frames; a longer one ends it
                loud = max(loud - self.leak, 0.0)
                held = x >= 0 or (hold > 0 and dip < self.dip_frames)
                hold = max(hold - 1, 0) if held else 0
                dip = 0 if x >= 0 or hold == 0 else dip + 1
            if start > 0:   # the start window: one steady sound all through it is the room
                low, high, start = min(low, db), max(high, db), start - 1
                room = min(low, self.start_max) - self.start_below
                if high - low >= self.start_spread:
                    start = 0           # speech or a clatter in it (a stream begun inside a word): the floor as it is
                elif start == 0 and room > floor:
                    floor, climb = room, self.climb_rise > 0
                    hold, loud, dip = 0, 0.0, 0     # what the window held as speech was the room
        return probs, replace(state, pending=rest, floor_db=floor, frames=state.frames + len(frames), hold=hold,
                              loud=loud, dip=dip, start=start, start_low=low, start_high=high, climb=climb,
                              kept=state.kept if not len(frames) else floor == START_FLOOR_DB)


def load_vad(kind: str = "auto", path: str | os.PathLike | None = None, threads: int = 1) -> Vad:
    """"silero" (error if missing), "energy", or "auto" (Silero when installed, else energy)."""
    if kind not in ("auto", "silero", "energy"):
        raise ValueError(f"VAD kind must be auto, silero or energy, got {kind!r}")
    if kind == "energy":
        return EnergyVad()
    if kind == "silero" or path is not None:
        return SileroVad(path, threads)
    return SileroVad(threads=threads) if silero_model_path() is not None else EnergyVad()
