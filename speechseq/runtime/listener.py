"""The live listener: wait for a keyword, record what follows until the speaker stops, transcribe it.

    import speechseq
    from speechseq.sources import FileStream, Overrun
    listener = speechseq.load_listener()            # `speechseq listen`'s: its models, decoders and settings
    state, events = listener.initial_state(), []
    with FileStream("talk.wav", realtime=False) as source:   # or sources.Microphone()
        for block in source.blocks():               # float32 mono 16 kHz, or a sources.Overrun
            if isinstance(block, Overrun):          # audio lost: step() takes samples only
                new, state = listener.overrun(block.dropped_s, state, block.input_overflows)
            else:
                new, state = listener.step(block, state)
            events += new                           # WakeEvent, PartialEvent, FinalEvent, OverrunEvent (events.py)
    events += listener.finish(state)

Its final events are those of `speechseq listen --input talk.wav --fast`. Built by hand, Listener(detector,
transcriber, streaming, vad, cfg) takes what it is given: Transcriber(model) alone decodes greedily ("ern on the
cictan life" where the command's lexicon search writes "are on the carton life"; load_listener's Transcriber holds
the lexicon search's DecodeOptions). A transcriber of one's own needs `transcribe(feats, partial=False)`, returning a
recognizer.Result, and `frontend`; its `opts` (DecodeOptions: the command list) is read where it has one, and without
one there is no command list.

States: LISTENING (only the detectors run: cheap) -> on a wake event, RECORDING from where the
keyword ended (kept in a short history buffer, so nothing said right after the keyword is lost):
the recogniser's frontend, the chunked recogniser (partial text) and the VAD run; the utterance
ends after `silence_s` of trailing silence once speech was heard, after `no_speech_s` without
speech, or at `max_utterance_s`; then the whole utterance is decoded offline (final event) and
the listener goes back to LISTENING with fresh detector state. The state is a value.

The detectors keep running while recording, fresh from where the recording starts (about 1 ms of CPU a second of audio;
fresh, so that a keyword said again is not inside the first one's refractory time): a keyword heard again before the
recording has heard any other speech ("activate ... activate, turn on the kitchen lights": nothing seemed to happen,
so the speaker said it again) wakes the listener again, a second wake event, and the recording starts again from
where it ended. The recording held the second keyword before the command, or ended on it alone, and the command was
lost. A keyword said after other speech is part of what is said: the recording goes on. So is a recording that is a
phrase of the command list so far (DecodeOptions.commands): a detector takes a short command for its keyword now and
then (the shipped "activate" takes "what time is it" from 3 of 6 held-out espeak-ng voices). Without a list, a
recording started again that hears no speech gives the final of the one it replaced (`Recording.before`), so that
such a command is late by `no_speech_s`, not lost.

Partial text (`partial_decoder`): "final" decodes the utterance so far as the final will (the offline recogniser and
its decoder, at a beam of at most the Transcriber's `partial_beam`), every `partial_interval_s` of features and over
at most the last `partial_window_s`, and shows the words two decodes in a row agree on (fixed from then on) and the
newest decode's next word: a partial keeps every word of the previous one but the last. "stream" shows the chunked
recogniser's greedy text (its final chunks and its look-ahead) with its words fixed by the same agreement at each
chunk (every chunk re-reads the look-ahead, which rewrote an earlier word now and then), cheaper but about 70% WER
with the shipped models, where the final's lexicon search gives about 44%: the final rewrote most of it. The default
(None): "stream" when a chunked recogniser is given, else no partial text (`speechseq listen` asks for "final").

Early decode: once the trailing silence reaches `early_decode_s` the utterance so far is decoded
ahead of time and kept; if no speech follows before `silence_s`, that result is the final one, so
the final event does not wait for the decode (in real time the decode runs while the rest of the
silence arrives). Speech that resumes discards it. The result is the same text the final decode
gives, up to the shorter trailing silence it saw.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np

from ..audio import finite_samples, mono_samples
from ..checks import finite, refuse, whole
from ..frontend import StreamingFrontend
from .command_set import CommandSet
from .decoding import Word
from .detector import Detection, Detector
from .events import Event, FinalEvent, OverrunEvent, PartialEvent, WakeEvent
from .listener_state import ListenerState, Mode, Recording
from .onnx import ModelError
from .partials import settle
from .recognizer import ONSET_MARGIN_S, DecodeOptions, Recognizer, Result, bound_words, offset_margin
from .settings import PARTIAL_BEAM_SIZE, PARTIAL_EVERY_MS
from .streaming_recognizer import StreamingRecognizer
from .vad import EnergyVad, Vad, VadState, load_vad

__all__ = ["ListenerConfig", "Mode", "ListenerState", "Listener", "Transcriber"]

SAMPLE_RATE = 16000
GAPS_KEPT_S = 30.0   # losses while listening older than this (of the detector's clock) can no longer move a keyword


@dataclass(frozen=True)
class ListenerConfig:
    silence_s: float = 0.35         # trailing silence that ends an utterance
    early_decode_s: float | None = 0.15  # decode ahead after this much silence (None: only at the end)
    no_speech_s: float = 3.0        # give up when nothing is said this long after the keyword
    max_utterance_s: float = 15.0
    vad_threshold: float = 0.5
    start_offset_s: float = 0.0     # the utterance starts this long after the keyword's estimated end
    # 0, no pre-roll, since the shipped detectors' ends carry their end-offset tables (session 46): 6 held-out espeak-ng
    # voices saying "activate"/"computer", then 10 home.txt phrases 0-400 ms later; free WER, --commands phrase taken,
    # free text with an extra word before the command; clean (366 woke) / at 20 dB kitchen noise (467):
    #   0      51.7% 99.5%  2.5% / 55.3% 97.0%  4.7%      -0.05  53.0% 98.6%  1.9% / 57.4% 97.4%  5.8%
    #   -0.1   54.9% 98.6% 17.8% / 58.1% 99.1% 25.1%      -0.15  57.7% 95.4% 47.5% / 64.0% 96.8% 55.9%
    #   the files without the tables (ends 80-150 ms early): 54.0% 99.2% 18.0% / 59.5% 98.5% 28.9%
    # A pre-roll wins back commands only in noise, where an end can fall on a command said within 50 ms of the keyword
    # (7% of recordings there began after the command had).
    history_s: float = 1.5          # audio kept while listening (covers the wake event's delay)
    keyword_tail_s: float = 0.35    # speech ending this soon after the start, then a pause of
    tail_gap_s: float = 0.2         # tail_gap_s, is the keyword's own tail (its end is estimated)
    pre_speech_s: float = 0.3       # audio kept before the VAD's speech onset (the rest is dropped)
    again_margin_s: float = 0.35    # a keyword heard again while recording wakes the listener again when the VAD heard
    # no speech start more than this before the keyword's estimated start (which is its end less the model's typical
    # length: a slower "activate" began up to ~0.3 s earlier)
    partials: bool = True
    partial_decoder: str | None = None  # "final", "stream" (the chunked recogniser), None: the module's docstring
    partial_interval_s: float = PARTIAL_EVERY_MS / 1000   # "final": features between two decodes
    partial_window_s: float = 4.0       # "final": the longest stretch decoded (its cost per decode)

    def __post_init__(self) -> None:
        # each was taken: a NaN silence_s never ended an utterance, a NaN max_utterance_s never cut one, a
        # vad_threshold of 2 heard no speech, a negative history_s kept one block
        early = self.early_decode_s
        refuse("listener settings", [
            *((name, getattr(self, name), finite(getattr(self, name)) and getattr(self, name) > 0,
               "a finite number of seconds > 0") for name in ("silence_s", "no_speech_s", "max_utterance_s")),
            ("early_decode_s", early, early is None or (finite(early) and early >= 0),
             "None (decode at the end only) or a finite number of seconds >= 0"),
            ("vad_threshold", self.vad_threshold, finite(self.vad_threshold) and 0 <= self.vad_threshold <= 1,
             "a probability in [0, 1]"),
            ("start_offset_s", self.start_offset_s, finite(self.start_offset_s), "a finite number of seconds"),
            ("partial_decoder", self.partial_decoder, self.partial_decoder in (None, "final", "stream"),
             "'final', 'stream' or None"),
            *((name, getattr(self, name), finite(getattr(self, name)) and getattr(self, name) > 0,
               "a finite number of seconds > 0") for name in ("partial_interval_s", "partial_window_s")),
            *((name, getattr(self, name), finite(getattr(self, name)) and getattr(self, name) >= 0,
               "a finite number of seconds >= 0")
              for name in ("history_s", "keyword_tail_s", "tail_gap_s", "pre_speech_s", "again_margin_s"))])


class Transcriber:
    """The final, offline decode of a whole utterance: log-mel (T, F) -> a recognizer.Result (text, timed words, the
    command match).

    A thin layer over `speechseq.runtime.recognizer.Recognizer` with fixed decoding options; the partial text's
    decodes (transcribe(partial=True)) take a beam of at most `partial_beam`.
    """

    def __init__(self, path: str | os.PathLike, opts: DecodeOptions = DecodeOptions(), threads: int = 1,
                 partial_beam: int = PARTIAL_BEAM_SIZE) -> None:
        # min() took None or "16" with a TypeError, and 0 or 2.5 were refused as a beam_size the caller never passed
        refuse("transcriber", [("partial_beam", partial_beam, whole(partial_beam), "a whole number >= 1")])
        self.recognizer = Recognizer(path, threads)
        self.opts = opts
        # partial text is spelt freely (transcribe), by a beam of at most `partial_beam`: decoded every
        # partial_interval_s, a wider one left a backlog that delayed the final (settings.PARTIAL_BEAM_SIZE)
        self._partial_opts = replace(opts, commands=None, beam_size=min(opts.beam_size, partial_beam))
        self.frontend = self.recognizer.frontend

    def transcribe(self, feats: np.ndarray, partial: bool = False) -> Result:
        """The recogniser's Result of an utterance's features (T, F): its text, words (seconds from the first frame)
        and, with DecodeOptions.commands, the phrase's match (`taken_phrase` reads it). partial: of the utterance so
        far, spelt freely (a command list is for whole utterances: a phrase matched to half a command would be shown,
        then taken back)."""
        if len(feats) == 0:
            return Result("", (), ())
        opts = self._partial_opts if partial else self.opts
        return self.recognizer.decode(self.recognizer.log_probs(feats), opts)


def taken_phrase(result: Result) -> str | None:
    """The phrase of DecodeOptions.commands that `result` was taken as, as the list writes it, or None. The match
    decides, as in `transcribe --commands`: a free decode that spells a phrase the match refused (beyond the deficit
    bound, or no more in order than its letters reversed: MIN_ORDER) is no command."""
    command = result.command
    return command.phrase if command is not None and command.accepted else None


class Listener:
    """Detectors + recogniser + VAD; stateless (the state is passed in and returned)."""

    def __init__(self, detector: Detector, transcriber: Transcriber, streaming: StreamingRecognizer | None = None,
                 vad: Vad | None = None, cfg: ListenerConfig = ListenerConfig()) -> None:
        # None was taken here and failed at the first step (no attribute 'initial_state'); a stand-in needs only these
        # (a transcriber's transcribe(feats, partial=False) returns a recognizer.Result; its `opts`, a DecodeOptions, is
        # read where it has one: without, no command list)
        for name, value, kind, needs in (
                ("detector", detector, "Detector (speechseq.runtime.detector: Detector.load(paths))",
                 ("initial_state", "step", "flush")),
                ("transcriber", transcriber, "Transcriber (Transcriber(path))", ("transcribe", "frontend"))):
            if not all(hasattr(value, n) for n in needs):
                raise TypeError(f"{name} must be a {kind}, got {value!r}")
        self.detector, self.transcriber, self.streaming, self.cfg = detector, transcriber, streaming, cfg
        self.vad = vad if vad is not None else load_vad()
        self.frontend = StreamingFrontend(transcriber.frontend)
        # the listener counts samples at 16 kHz (its sources, the VAD, the history): a model at another rate was fed
        # 16 kHz audio as its own, its times off by the ratio (a detector without a frontend, a stand-in, is taken
        # at its word: its step's interface says 16 kHz)
        det_fe = getattr(detector, "frontend", None)
        rates = {"keyword": det_fe.cfg.sample_rate if det_fe is not None else SAMPLE_RATE,
                 "recogniser": transcriber.frontend.sample_rate}
        other = [f"the {what} models' {rate} Hz" for what, rate in rates.items() if rate != SAMPLE_RATE]
        if other:
            raise ModelError(f"the listener runs at {SAMPLE_RATE} Hz, not at {' and '.join(other)}")
        if streaming is not None and streaming.frontend != transcriber.frontend:
            raise ModelError("the chunked and offline recognisers use different frontends")
        self.partial_decoder = cfg.partial_decoder or ("stream" if streaming is not None else None)
        if self.partial_decoder == "stream" and streaming is None and cfg.partials:
            raise ValueError("partial_decoder 'stream' needs a chunked recogniser (streaming=...)")

    def initial_state(self) -> ListenerState:
        return ListenerState(Mode.LISTENING, 0.0, self.detector.initial_state(), 0.0, ())

    # -- listening ---------------------------------------------------------------------------
    def _listen(self, block: np.ndarray, state: ListenerState) -> tuple[list[Event], ListenerState]:
        dets, det_state = self.detector.step(block, state.detector)
        history = _trim((*state.history, block), int(self.cfg.history_s * SAMPLE_RATE))
        state = replace(state, time=state.time + len(block) / SAMPLE_RATE, detector=det_state, history=history)
        if not dets:
            return [], state
        return self._wake(dets, state)

    def _wake(self, dets: list[Detection], state: ListenerState) -> tuple[list[Event], ListenerState]:
        """The best of the detections `dets` wakes the listener (one wake, however many keywords fired)."""
        det = max(dets, key=lambda d: d.score)
        kw_end = state.detector_end(det.end)     # a keyword that ended before a loss the wake came after
        wake = WakeEvent(det.keyword, state.time, det.score, kw_end)
        # Record from the keyword's end: take what followed it from the history.
        history = state.history
        audio = np.concatenate(history) if history else np.zeros(0, np.float32)
        hist_start = state.time - len(audio) / SAMPLE_RATE
        start = min(max(kw_end + self.cfg.start_offset_s, hist_start), state.time)
        cut = int(round((start - hist_start) * SAMPLE_RATE))
        vad = self._vad_start(audio[:cut])
        audio = audio[cut:]
        old = state.recording     # woken again while recording: what was said is kept, in case nothing follows
        before = old if old is None or old.speech_seen else old.before
        rec = Recording(start, start, 0, self.frontend.initial_state(), (), vad,
                        self.streaming.initial_state() if self.partial_decoder == "stream" and self.cfg.partials
                        else None,
                        speech_end=start, before=None if before is None else replace(before, before=None))
        # the detectors run on the recording too, fresh from its start (the module's docstring)
        state = replace(state, mode=Mode.RECORDING, history=(), recording=rec, detector=self.detector.initial_state(),
                        detector_offset=start, detector_gaps=())
        events, state = self._record(audio, state, advance=False)
        return [wake, *events], state

    def _again(self, dets: list[Detection], rec: Recording) -> list[Detection]:
        """The detections `dets` of the recording's detectors (their clock: the recording's own from rec.origin) that
        wake the listener again: a keyword that began after the recording did (an event on the first keyword's own
        tail, where its end was estimated early, starts at 0), before any other speech the VAD heard in it, where
        the recording so far is no phrase of the command list (the module's docstring)."""
        again = [d for d in dets if d.start > 0 and (
            rec.onset is None or rec.onset >= rec.origin + d.start - self.cfg.again_margin_s)]
        if again and self.commands is not None and rec.feats:
            if taken_phrase(self.transcriber.transcribe(np.concatenate(rec.feats))) is not None:
                return []
        return again

    @property
    def commands(self) -> CommandSet | None:
        """The transcriber's command list (its DecodeOptions.commands; load_listener(commands=...)'s); None without one,
        or for a transcriber of the caller's own that has no `opts` (the constructor's stand-in needs only transcribe
        and frontend). Read it here, not through transcriber.opts, which such a transcriber lacks."""
        return getattr(getattr(self.transcriber, "opts", None), "commands", None)

    def _vad_start(self, before: np.ndarray) -> VadState:
        """A recording's first VAD state; `before`: the audio before it (what the history holds). The energy VAD's
        noise floor starts at the quietest whole frame of the last second before the recording, where that is above
        its usual start: from there it rises 1.5 dB/s, and a steady noise of -40 dBFS was speech for the first 3 s
        of every utterance (the final came that late), one of -35 dBFS for 8.7 s."""
        state = self.vad.initial_state()
        frame = int(round(self.vad.frame_s * SAMPLE_RATE))
        n = min(len(before), SAMPLE_RATE) // frame * frame      # frames that end where the recording starts
        if not isinstance(self.vad, EnergyVad) or n == 0:
            return state
        floor = self.vad.clip_floor_db(before[len(before) - n :], quantile=0.0, min_s=0.0)
        return replace(state, floor_db=max(state.floor_db, floor))

    # -- recording ---------------------------------------------------------------------------
    def _record(self, block: np.ndarray, state: ListenerState, advance: bool = True
                ) -> tuple[list[Event], ListenerState]:
        """Feed `block` (the audio after state.time; advance=False: the audio that ends at state.time, from
        the history) one VAD frame at a time, cut also where the utterance reaches no_speech_s or
        max_utterance_s, so that the restarts and the endpoint fall where they would however the stream is
        cut into blocks; the audio after the endpoint goes back to listening. The events' time is the end of
        the block (the audio delivered when they are made)."""
        t0 = state.time - (0.0 if advance else len(block) / SAMPLE_RATE)     # the block's first sample
        produced = max(state.time, t0 + len(block) / SAMPLE_RATE)
        frame = int(round(self.vad.frame_s * SAMPLE_RATE))
        events: list[Event] = []
        pos = 0
        while True:
            rec, cfg = state.recording, self.cfg
            limit = cfg.max_utterance_s if rec.speech_seen else min(cfg.no_speech_s, cfg.max_utterance_s)
            # in floats: a limit no take reaches (1e308 s) is an infinite count of samples, which int() refused
            n = int(min(frame - len(rec.vad.pending), max(1.0, np.ceil(limit * SAMPLE_RATE) - rec.samples)))
            end = min(len(block), pos + n)
            piece_ev, state = self._record_piece(block[pos:end], state, max(state.time, t0 + end / SAMPLE_RATE),
                                                 produced, last=end >= len(block))
            events += piece_ev
            pos = end
            if state.mode is Mode.LISTENING:        # the utterance ended: the rest of the block is listened to
                if pos < len(block):
                    at = t0 + pos / SAMPLE_RATE
                    piece_ev, state = self._listen(block[pos:], replace(state, time=at, detector_offset=at,
                                                                        detector_gaps=()))
                    events += piece_ev
                return events, state
            if pos >= len(block):
                return events, state

    def _record_piece(self, block: np.ndarray, state: ListenerState, now: float, produced: float, last: bool
                      ) -> tuple[list[Event], ListenerState]:
        """A piece of the block that completes at most one VAD frame; `now`: the stream time at its end;
        `produced`: the time of its events (the block's end)."""
        dets, det_state = self.detector.step(block, state.detector)
        history = _trim((*state.history, block), int(self.cfg.history_s * SAMPLE_RATE)) if len(block) else state.history
        state = replace(state, detector=det_state, history=history)
        again = self._again(dets, state.recording)
        if again:   # the keyword again: the recording starts again after it (the history holds the audio since)
            events, state = self._wake(again, replace(state, time=now))
            return [replace(e, time=produced) for e in events], state
        rec, cfg = state.recording, self.cfg
        feats, fe_state = self.frontend.step(block, rec.frontend)
        probs, vad_state = self.vad.step(block, rec.vad)
        stream = rec.stream
        if stream is not None and len(feats):
            stream = self.streaming.accept(feats, stream)
        speech_seen, silence, speech_end, onset = rec.speech_seen, rec.silence_s, rec.speech_end, None
        frame_s = self.vad.frame_s
        for i, p in enumerate(probs.tolist()):
            t = rec.origin + (vad_state.frames - len(probs) + i) * frame_s    # this VAD frame's start
            if p >= cfg.vad_threshold:
                if not speech_seen:
                    onset = t
                speech_seen, silence, speech_end = True, 0.0, t + frame_s
            else:
                silence += frame_s
        rec = replace(rec, samples=rec.samples + len(block), frontend=fe_state, vad=vad_state, stream=stream,
                      feats=(*rec.feats, feats) if len(feats) else rec.feats, speech_seen=speech_seen,
                      silence_s=silence, speech_end=speech_end, onset=rec.onset if onset is None else onset)
        if speech_seen and silence >= cfg.tail_gap_s and speech_end - rec.start <= cfg.keyword_tail_s:
            rec = self._restart(rec, speech_end, keep_speech=False)      # that was the keyword's own tail
        elif onset is not None and onset - cfg.pre_speech_s > rec.start:
            rec = self._restart(rec, onset - cfg.pre_speech_s, keep_speech=True)   # drop the silence before
        if rec.early is not None and rec.early[0] != rec.speech_end:
            rec = replace(rec, early=None)                                  # speech resumed
        if (cfg.early_decode_s is not None and rec.early is None and rec.speech_seen and rec.feats
                and cfg.early_decode_s <= rec.silence_s < cfg.silence_s):
            heard = self.transcriber.transcribe(np.concatenate(rec.feats))
            rec = replace(rec, early=(rec.speech_end, heard.text, tuple(heard.words), taken_phrase(heard)))
        events: list[Event] = []
        length = rec.samples / SAMPLE_RATE
        done = ((rec.speech_seen and rec.silence_s >= cfg.silence_s) or (not rec.speech_seen and length >= cfg.no_speech_s)
                or length >= cfg.max_utterance_s)
        if cfg.partials and self.partial_decoder and rec.speech_seen and (last or done):   # once a block
            rec, text = self._partial(rec, done)
            if text and text != rec.partial:
                rec = replace(rec, partial=text)
                events.append(PartialEvent(text, produced))
        state = replace(state, time=now, recording=rec)
        if done:
            final, state = self._final(state, produced)
            events.append(final)
        return events, state

    def _partial(self, rec: Recording, done: bool) -> tuple[Recording, str]:
        """The partial text now, and the recording with what it keeps for the next one."""
        if rec.stream is not None:   # at each chunk its greedy words, fixed as the final decoder's: its look-ahead
            if rec.stream.steps <= rec.decoded:                 # is re-read, and an earlier word could change
                return rec, rec.partial
            settled, unsettled, text = settle(rec.settled, rec.unsettled, 0, self.streaming.partial_words(rec.stream))
            return replace(rec, decoded=rec.stream.steps, settled=settled, unsettled=unsettled), text
        cfg, frame_s = self.cfg, self.frontend.cfg.hop_length / SAMPLE_RATE
        every = max(1, int(round(cfg.partial_interval_s / frame_s)))
        n = sum(len(f) for f in rec.feats) // every * every       # at the same frames however the audio is cut
        if done or rec.early is not None or n <= rec.decoded:     # the final comes next, or nothing new
            return rec, rec.partial
        # Decode from the end of the last settled word that leaves partial_window_s (its first words: the settled
        # ones after it, found again in the new decode by word alignment).
        old = [w for w in rec.settled if w.end <= n * frame_s - cfg.partial_window_s]
        skip = int(round(old[-1].end / frame_s)) if old else 0
        words = self.transcriber.transcribe(np.concatenate(rec.feats)[skip:n], partial=True).words
        words = [replace(w, start=w.start + skip * frame_s, end=w.end + skip * frame_s) for w in words]
        settled, unsettled, text = settle(rec.settled, rec.unsettled, len(old), words)
        return replace(rec, decoded=n, settled=settled, unsettled=unsettled), text

    def _restart(self, rec: Recording, new_start: float, keep_speech: bool) -> Recording:
        """The utterance from `new_start` on (features cut, the chunked recogniser re-fed)."""
        hop = self.frontend.cfg.hop_length
        skip = max(0, int(round((new_start - rec.start) * SAMPLE_RATE / hop)))
        feats = np.concatenate(rec.feats)[skip:] if rec.feats else np.zeros((0, self.frontend.cfg.n_mels), np.float32)
        stream = rec.stream
        if stream is not None:
            stream = self.streaming.accept(feats, self.streaming.initial_state())
        start = rec.start + skip * hop / SAMPLE_RATE
        rec = replace(rec, start=start, samples=rec.samples - skip * hop, feats=(feats,) if len(feats) else (),
                      stream=stream, partial="", early=None, decoded=0, settled=(), unsettled=())
        return rec if keep_speech else replace(rec, speech_seen=False, silence_s=0.0, speech_end=start, onset=None)

    def _final(self, state: ListenerState, produced: float | None = None) -> tuple[FinalEvent, ListenerState]:
        rec = state.recording
        if not rec.speech_seen and rec.before is not None:    # woken again, then nothing: what woke it was said
            rec = rec.before
        text, words, command = "", [], None
        if rec.early is not None and rec.early[0] == rec.speech_end:
            _, text, early_words, command = rec.early
            words = list(early_words)
        elif rec.speech_seen and rec.feats:
            heard = self.transcriber.transcribe(np.concatenate(rec.feats))
            text, words, command = heard.text, list(heard.words), taken_phrase(heard)
        words = self._bounded(words, rec)
        at = rec.stream_time
        time = state.time if produced is None else produced
        # the recording's end is at most the event's time: state.time is summed block by block and the recording's
        # start + samples / rate not, so they parted by ~1e-14 s and an end came after its own event's time
        final = FinalEvent(text, tuple(replace(w, start=at(rec.start + w.start), end=at(rec.start + w.end, end=True))
                                       for w in words),
                           time, at(rec.start), min(at(rec.start + rec.samples / SAMPLE_RATE, end=True), time),
                           at(rec.speech_end, end=True), command)
        return final, replace(state, mode=Mode.LISTENING, recording=None, detector=self.detector.initial_state(),
                              detector_offset=state.time, history=(), detector_gaps=())

    def _bounded(self, words: list[Word], rec: Recording) -> list[Word]:
        """The final's `words` (times from rec.start) bounded as transcribe bounds a piece's (recognizer.bound_words),
        on the listener's own onset and speech end: none ending after the speech's end plus the VAD's offset_margin (an
        unheard last letter is put in the last frames), none starting before its onset less ONSET_MARGIN_S (the first
        letters are written in the first frames), nor before the recording; each at least MIN_CHAR_S a character, in
        order, apart and inside the recording (a bound left a word 22 ms, and pushed words ran past the audio heard)."""
        length = rec.samples / SAMPLE_RATE
        first = max(rec.onset - ONSET_MARGIN_S - rec.start, 0.0) if rec.onset is not None else 0.0
        last = rec.speech_end + offset_margin(self.vad) - rec.start if rec.speech_seen else length
        return bound_words(words, first, last, length)

    # -- public ------------------------------------------------------------------------------
    def step(self, block: np.ndarray, state: ListenerState) -> tuple[list[Event], ListenerState]:
        """Feed a block (N,) (or a driver's (N, 1) column) float32 at 16 kHz, integer samples scaled to full scale 1.0;
        returns the events it completed. ValueError for more channels: an (N, 2) block flattened was 2N samples."""
        # A copy: the history keeps the block, and the caller may reuse its memory (a device buffer).
        block = finite_samples(np.array(mono_samples(block)))
        if state.mode is Mode.LISTENING:
            return self._listen(block, state)
        return self._record(block, state)

    def overrun(self, dropped_s: float, state: ListenerState,
                input_overflows: int = 0) -> tuple[list[Event], ListenerState]:
        """Account for audio that never arrived: report it and keep the clocks in step.

        The detector's clock is shifted, and the loss noted, so that a keyword that ended before it and wakes after
        it keeps its end (ListenerState.detector_end); while recording the gap is also absent from the
        utterance's audio, and noted where it fell, so that the final event's times after it (words, end,
        speech end) are later by `dropped_s`, as on the stream. `input_overflows`: the input driver discarded
        audio too (sources.Overrun), of a length it does not say: reported, nothing added to the clocks.
        ValueError for a `dropped_s` that is no length (NaN made the stream's clock NaN, a negative one moved it back).
        """
        refuse("overrun", [("dropped_s", dropped_s, finite(dropped_s) and dropped_s >= 0,
                            "a finite number of seconds >= 0"),
                           ("input_overflows", input_overflows, whole(input_overflows, 0), "a whole number >= 0")])
        event = OverrunEvent(dropped_s, state.time, input_overflows)
        heard = state.time - state.detector_offset        # the detector's clock: the audio it was fed
        # a detection ends at most a few seconds before the block that completes it
        gaps = tuple(g for g in state.detector_gaps if g[0] > heard - GAPS_KEPT_S)
        state = replace(state, time=state.time + dropped_s, detector_offset=state.detector_offset + dropped_s,
                        history=(), detector_gaps=(*gaps, (heard, dropped_s)))
        if state.mode is Mode.RECORDING:
            rec = state.recording
            gap = (rec.start + rec.samples / SAMPLE_RATE, dropped_s)
            state = replace(state, recording=replace(rec, gaps=(*rec.gaps, gap)))
        return [event], state

    def finish(self, state: ListenerState) -> list[Event]:
        """End of the stream: a keyword still waiting for its peak and an utterance in progress are reported."""
        return self.flush(state)[0]

    def flush(self, state: ListenerState) -> tuple[list[Event], ListenerState]:
        """The audio so far is all there is (the stream ended, or broke off: a lost device): a keyword still
        waiting for its peak wakes the listener as it would have (its utterance is what the history kept after
        it), and the utterance in progress gets its final event. Returns those events and the state to go on
        from: listening, with fresh detectors and no history, on the same clock."""
        events: list[Event] = []
        while state.mode is Mode.LISTENING:
            dets = self.detector.flush(state.detector)
            if not dets:
                return events, replace(state, detector=self.detector.initial_state(), detector_offset=state.time,
                                       history=(), detector_gaps=())
            woke, state = self._wake(dets, state)
            events += woke
        final, state = self._final(state)
        return [*events, final], state


def _trim(blocks: tuple[np.ndarray, ...], max_samples: int) -> tuple[np.ndarray, ...]:
    """Drop the oldest whole blocks beyond max_samples (keeps at least the newest block)."""
    total = sum(len(b) for b in blocks)
    i = 0
    while i < len(blocks) - 1 and total - len(blocks[i]) >= max_samples:
        total -= len(blocks[i])
        i += 1
    return blocks[i:]
