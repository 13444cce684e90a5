"""Utterance and file recognition on onnxruntime (no torch).

    rec = Recognizer("models/recognizer-en.onnx")
    result = rec.recognize(audio)                       # float32 16 kHz, one utterance
    print(result.text, [(w.word, w.start, w.end) for w in result.words])
    t = rec.transcribe_file("talk.flac", DecodeOptions(decoder="beam", beam_size=8))
    t = rec.transcribe_file("talk.flac", DecodeOptions(decoder="lexicon", lexicon=load_lexicon("models/words-en.npz")))
    result = rec.recognize(audio, DecodeOptions(commands=CommandSet.load("data/commands/home.txt")))  # a phrase, or free

Long files are read in blocks (bounded memory) and cut at pauses into segments of at most
`max_segment_s` (about 20 s): when the buffer holds that much audio, it is cut at its quietest
stretch (the lowest energy over a 300 ms window) between `min_segment_s` and `max_segment_s`,
and the part before the cut is recognised on its own (`transcribe`: `min_segment_s` is 5 s, or a
quarter of `max_segment_s` when that is shorter, so that short segments are cut at pauses too).
Word times are relative to the file.
With a voice activity detector (`transcribe(..., vad=load_vad())`), only the speech in each
segment is recognised, stretch by stretch (`speech_regions`): silence and steady noise give no
words instead of the recogniser's guesses.
With a command list (DecodeOptions.commands), stretches of speech close together (at most COMMAND_SPAN_S from the
first's start to the last's end, and no more speech in them than the list's longest phrase could take to say,
phrase_speech_s), none after the first a phrase on its own, are tried as one utterance too, and the longest a phrase
is accepted for is taken (where the first is a phrase, one closer to the audio than it): a command said with a pause
in it is two stretches, neither of them a phrase, or a first that is one only just. A phrase taken is timed on the
frames that say it (command_set.phrase_frames): a keyword said just before it, in the same piece, is no part of it;
with DecodeOptions.words_around (`transcribe`), the free decode's words that end before the phrase's first word or
start after its last are kept around it (the listener's final is the phrase alone: the command --exec runs).
No word starts before the speech of its piece as the VAD (with `vad=None`, and in `recognize`, the energy VAD) hears
it begin, less ONSET_MARGIN_S: the recogniser writes an utterance's first letters in its first frames however much
silence comes before them, so that the first word started at the piece's start (0.25 s early on the median VAD region,
its padding; up to the whole pause before it without a VAD). Nor does any word end after the speech as the VAD hears
it end, plus the VAD's offset_margin: the recogniser puts an unheard last letter in the piece's last frames, so that
the last word ended at the piece's end (0.3 s late with a VAD, at the file's end in a third of Kathleen's sentences
without one).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from ..audio import finite_samples, mono_samples
from ..frontend import FrontendConfig, logmel
from ..text import CTC_SIZE, VOCAB
from .command_set import CommandMatch, CommandSet, phrase_frames
from .decoding import (LM_WEIGHT, WORD_BONUS, Hypothesis, LanguageModel, Word, greedy, prefix_beam_search,
                       word_timestamps, words_not_after, words_not_before)
from .lexicon import Lexicon
from .lexicon_search import LexiconOptions, lexicon_beam_search
from .onnx import (ModelError, check_inputs, check_vocabulary, frontend_of, make_session, reading_metadata,
                   session_metadata)
from .speech_regions import RegionConfig, speech_offset, speech_onset, speech_probabilities, speech_regions
from .vad import EnergyVad

__all__ = ["DecodeOptions", "Result", "Segment", "Transcript", "Recognizer", "split_at_pauses", "bound_words"]

# How long before the VAD's onset a piece's first word may start: Silero's onset came 0.017 s after the speech's
# (its first 10 ms within 35 dB of its loudest) on the median of 50 Kathleen sentences between noisy pauses, 0.059 s
# at the 95th percentile; the energy VAD's 0.000 and 0.045 s.
ONSET_MARGIN_S = 0.06
# How long after the VAD's offset (the end of its last speech frame) a piece's last word may end, by VAD: the
# recogniser's output for an unheard last letter rises in the audio's last frames, and its alignment put the last word's
# end there (decoding.words_not_after). Measured on the 131 Kathleen dev sentences, each between pauses of kitchen noise
# (noise/doing_the_dishes.wav) at -60 and at -45 dBFS: the speech's end (its last 10 ms within 35 dB of its loudest and
# above the pauses' level) came after the energy VAD's offset by 0.024 s on the median, 0.21 s at the 90th percentile
# and 0.28 s at the 95th (in the louder noise it missed quiet last sounds), 0.006, 0.20 and 0.245 s with its first
# hysteresis (vad.EnergyVad hold_db), 0.002, 0.135 and 0.206 s since its hold outlasts short dips and arms with a leak;
# after Silero's by -0.080, 0.018 and 0.074 s.
# The energy VAD's margin is the smallest that left every last word of transcribe(vad=None) (greedy and lexicon) ending
# no earlier than before; re-measured with the hysteresis, still 0.2 s: the latest such word inside the speech ends
# 0.212 s after the offset (0.216 s before it), though fewer end more than 0.12 s after it (4-6 of 131 x 2, 9-14
# before). Re-measured after the dips and the leak, still 0.2 s: that latest word ends 0.136 s after the offset (fp32
# and int8 models), but decoded as transcribe(vad=EnergyVad()) decodes (each region on its own) one last word inside the
# speech ends 0.288 s after it whatever the margin, and a margin of 0.14 s put 8 of 262 last words further from the
# speech's end than no bound did (by up to 0.148 s; 0.2 s: 4, by up to 0.088 s). Silero's, its 95th percentile (larger
# ones only moved ends away from the speech's end).
# transcribe's last word ended 0.54 s from the speech's end on average with vad=None (greedy; at the audio's end in 36%
# of them), now 0.26 s; with Silero 0.21 s, now 0.16 s. On 60 FSDD test digits between the same pauses (the speech's
# end: the clip's), 0.87 s (at the audio's end in 96%), now 0.29 s; with Silero 0.35, now 0.16 s. A VAD of another
# name gets the largest margin.
OFFSET_MARGIN_S = {"energy": 0.2, "silero": 0.08}
# The shortest a bound makes a word, a character: a bound cut a word to what was left between its start and the end
# bound (20-44 ms of a last word where the energy VAD heard a quiet end early), or between the onset bound and its end.
# The alignment's own words of four letters or more lasted 0.036-0.046 s a letter at the 5th percentile, 0.05-0.07 on
# the median (the inner words of 30 Kathleen dev sentences); a word aligned shorter than this keeps its own length.
MIN_CHAR_S = 0.04
# The longest stretch of speech regions (and the pauses between them) tried as one utterance against a command list:
# a command said with a pause longer than the VAD's merge_gap_s (0.8 s) in it is two regions. Home commands take about
# 1-2.5 s to say (espeak-ng), so this leaves room for a pause or two of a couple of seconds.
COMMAND_SPAN_S = 8.0
# The most speech a phrase of a command list can take to say (its VAD regions less their padding, the pauses between
# them left out): PHRASE_S_PER_CHAR a character of the list's longest phrase, plus PHRASE_S_EXTRA. A run of regions
# with more speech than that is no phrase, and is not tried (speech that was no command was decoded again
# in every run up to COMMAND_SPAN_S). Measured with both VADs (regions unpadded, over the characters
# as spelt): Kathleen's dev sentences took 0.066 s a character on the median and 0.108 s at the slowest (a third of
# her train rows: 0.164, "Ah, indeed."), FSDD's 300 test digits 0.085 and 0.267 s ("six", 0.80 s), the 40 Precise
# not-wake-word phrases 0.073 and 0.133 s; espeak-ng (en-us, en-us+f3, en-gb) saying home.txt's phrases and the digits
# at 80 words a minute, under half its rate, 0.117 and 0.30 s. 0.15 s a character plus 0.35 s covers every real one
# (a short word's end is a larger share), plus 0.49 s every 80-wpm one; 0.5 s leaves a margin over both.
# Against home.txt (31 characters: 5.15 s) Kathleen's dev sentences, four to a file with 1 s pauses, were decoded
# 1.44 s a second of audio, now 1.14 (energy VAD; Silero 1.41, now 1.07); the Precise phrases, about 1 s each, 2.79
# and 2.61, now 2.72 and 2.61: four of them are no more speech than the longest command said slowly.
PHRASE_S_PER_CHAR = 0.15
PHRASE_S_EXTRA = 0.5


def phrase_speech_s(commands: CommandSet) -> float:
    """The most speech (s) saying a phrase of `commands` can take (PHRASE_S_PER_CHAR, PHRASE_S_EXTRA)."""
    return PHRASE_S_PER_CHAR * commands.longest + PHRASE_S_EXTRA


def offset_margin(vad) -> float:
    """OFFSET_MARGIN_S of `vad` (by its name; the largest for a VAD it has no measurement of)."""
    return OFFSET_MARGIN_S.get(getattr(vad, "name", None), max(OFFSET_MARGIN_S.values()))


@dataclass(frozen=True)
class DecodeOptions:
    decoder: str = "greedy"                  # "greedy", "beam" (CTC prefix beam search) or "lexicon"
    beam_size: int = 8
    nbest: int = 1                           # hypotheses kept in Result.hypotheses (beam, lexicon)
    lm: LanguageModel | None = None          # character LM: shallow fusion (beam), or with lexicon
    alpha: float = LM_WEIGHT                 # beam + lm: LM weight and per-character bonus (tuned: decoding's)
    beta: float = WORD_BONUS
    lexicon: Lexicon | None = None           # "lexicon": runtime.lexicon.load_lexicon(path)
    lexicon_options: LexiconOptions = LexiconOptions()  # its weights (its beam_size is replaced by ours)
    commands: CommandSet | None = None       # a phrase of this list is the text when one is accepted (command_set)
    # with commands: an accepted phrase's utterance keeps the words said before and after the phrase, as the free
    # decode spells them (transcribe: "activate, turn on the kitchen lights" lost its keyword); False: the phrase alone
    # (the listener's final, the command that --exec runs)
    words_around: bool = False

    def __post_init__(self) -> None:
        if self.decoder not in ("greedy", "beam", "lexicon"):
            raise ValueError(f"decoder must be 'greedy', 'beam' or 'lexicon', got {self.decoder!r}")
        for name in ("beam_size", "nbest"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        bad = [f"{name} {value!r}" for name, value in (("alpha", self.alpha), ("beta", self.beta))
               if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value)]
        if bad:   # nan or inf poisons every fused score
            raise ValueError(f"decoder weights must be finite numbers, got {', '.join(bad)}")
        if self.decoder == "lexicon" and self.lexicon is None:
            raise ValueError("decoder 'lexicon' needs a lexicon")
        for name, readers in (("lm", ("beam", "lexicon")), ("lexicon", ("lexicon",))):   # unread, it changed nothing
            if getattr(self, name) is not None and self.decoder not in readers:
                raise ValueError(f"decoder {self.decoder!r} reads no {name} (decoder='beam' fuses an lm, 'lexicon' "
                                 f"searches a lexicon)")
        if not isinstance(self.words_around, (bool, np.bool_)):
            raise ValueError(f"words_around must be True or False, got {self.words_around!r}")
        if self.commands is not None and not isinstance(self.commands, CommandSet):
            raise ValueError(f"commands must be a CommandSet (CommandSet.load(path) reads a list), got "
                             f"{type(self.commands).__name__}")


@dataclass(frozen=True)
class Result:
    """One utterance: text, words (seconds from the utterance start), the n-best hypotheses of the free decode.
    With DecodeOptions.commands: `command` is the best phrase, and when it is accepted the text and words are its
    own (else the free decode's), with DecodeOptions.words_around between the words said before and after it, and
    `command_words` the [first, last + 1) of `words` that are the phrase's (None where no phrase was accepted)."""

    text: str
    words: tuple[Word, ...]
    hypotheses: tuple[Hypothesis, ...]
    command: CommandMatch | None = None
    command_words: tuple[int, int] | None = None


@dataclass(frozen=True)
class Segment:
    """A stretch of a file recognised as one utterance; times in seconds from the file start. command: the phrase of
    DecodeOptions.commands it was taken as, as the list writes it (CommandMatch.phrase), or None; command_words: the
    [first, last + 1) of `words` that say it (Result.command_words; None: all of them)."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]
    command: str | None = None
    command_words: tuple[int, int] | None = None


@dataclass(frozen=True)
class Transcript:
    """A whole file: duration (s), text (segments joined), words and segments with file times."""

    duration: float
    text: str
    words: tuple[Word, ...]
    segments: tuple[Segment, ...] = field(default=())

    def to_json(self, file: str, commands: bool = False) -> dict:
        """The `speechseq transcribe --format json` object (exact schema); commands (transcribe --commands): with
        "commands" last, each segment taken as a phrase of the list, in order: the phrase as the list writes it and
        the start of its first word and the end of its last, not of the words said around it in its segment ([] when
        none was)."""
        out = {"file": file, "duration": round(self.duration, 3), "text": self.text,
               "words": [{"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3),
                          "confidence": round(w.confidence, 4)} for w in self.words]}
        if commands:
            out["commands"] = [{"command": s.command, "start": round(said[0].start if said else s.start, 3),
                                "end": round(said[-1].end if said else s.end, 3)}
                               for s in self.segments if s.command is not None
                               for said in [s.words[slice(*s.command_words)] if s.command_words else s.words]]
        return out


def _bounded(words: Iterable[Word], vad, probs: np.ndarray, span: tuple[int, int], sample_rate: int,
             threshold: float) -> list[Word]:
    """The words of the piece `span` [a, b) (times from a) of a clip that `vad` gave `probs` for: none ending after
    the speech's offset plus its offset_margin, then none starting before its onset less ONSET_MARGIN_S, nor before
    the piece (late words longer than the speech before the offset's bound are moved back that far); then each at
    least MIN_CHAR_S a character (or its aligned length, when shorter), in order, apart, and inside the piece."""
    a, length = span[0], (span[1] - span[0]) / sample_rate
    onset = (speech_onset(probs, vad.frame_s, span, sample_rate, threshold) - a) / sample_rate
    offset = (speech_offset(probs, vad.frame_s, span, sample_rate, threshold) - a) / sample_rate
    return bound_words(words, max(onset - ONSET_MARGIN_S, 0.0), offset + offset_margin(vad), length)


def bound_words(words: Iterable[Word], first: float, last: float, length: float) -> list[Word]:
    """`words` (times from a piece's start, the piece `length` s long) none ending after `last` nor starting before
    `first` (decoding.words_not_after / words_not_before: late words longer than the room before `last` are moved
    back that far), then each at least MIN_CHAR_S a character (or its aligned length, when shorter), in order, apart
    and inside the piece: the rule of transcribe's pieces (`_bounded`, from their VAD onset and offset) and of the
    listener's final (from its own)."""
    words = list(words)
    moved = words_not_before(words_not_after(words, last), first)
    if not moved:
        return moved
    shortest = [min(w.end - w.start, MIN_CHAR_S * len(w.word)) for w in words]
    lo, hi = max(0.0, min(first, moved[0].start)), min(length, max(last, moved[-1].end))
    if sum(shortest) > hi - lo:   # no room between the bounds (or the words they pushed): the whole piece
        lo, hi = 0.0, length
    return _spaced(moved, shortest, lo, hi)


def _spaced(words: list[Word], shortest: list[float], lo: float, hi: float) -> list[Word]:
    """`words` (in order) each at least its `shortest` (all scaled down alike where they do not fit), in order,
    apart and inside [lo, hi]: a word too short ends later, then a word past hi (or into the next) starts earlier."""
    room = hi - lo
    if sum(shortest) > room:
        shortest = [m * room / sum(shortest) for m in shortest]
    spans, t = [], lo
    for w, m in zip(words, shortest):
        start = max(w.start, t)
        t = max(w.end, start + m)
        spans.append((start, t))
    out, t = [], hi
    for w, m, (start, end) in zip(reversed(words), reversed(shortest), reversed(spans)):
        end = min(end, t)
        t = max(lo, min(start, end - m))
        out.append(Word(w.word, t, max(end, t), w.confidence))
    return out[::-1]


def _command_pieces(spans: list[tuple[int, int]], recognize: Callable[[int, int], Result], sample_rate: int,
                    phrase_s: float = math.inf, pad: int = 0,
                    run: Callable[[int, int], Result] | None = None) -> Iterator[tuple[int, int, Result]]:
    """The speech regions `spans` as utterances to match a command list in: from each region on, the longest run of
    it and the regions after it that are no phrase on their own, spanning at most COMMAND_SPAN_S and with at most
    `phrase_s` of speech (phrase_speech_s: the regions' lengths less `pad` samples of padding at each end, the pauses
    between them left out; a region clipped at the audio's ends counts short, so that a run is tried where it need
    not be, never left out where it is a phrase), whose audio
    `recognize(a, b)` takes as a phrase of the list (closer to its audio, a smaller deficit, than the first region
    alone where that is a phrase), else the region alone. A command said with a pause in it is two regions, neither of
    them a phrase, or a first that is one only by a phrase's per-character allowance ("turn the volume ... down": the
    first alone "turn the volume up", deficit 1.8, the two together "turn the volume down", 0.2); a region that is a
    phrase is never taken into a run after its first, and is decoded once (commands said one after another were taken
    into a run the recogniser wrote as one of them, "eight ... six ... eight" as "eight", and each region was decoded
    again in every run up to COMMAND_SPAN_S). A run's first region is then left out (and given alone) while the run
    without it is a phrase closer to its audio (a smaller deficit): a phrase's per-character allowance took in a wake
    word said before the command ("activate ... turn on the kitchen lights": "turn" ran from inside "activate" across
    the pause). `run(a, b)` recognises a run of regions (default: `recognize`): only a run that is a phrase is used, so
    its Result need be whole only then (Recognizer._command_run leaves out the free decode of the others)."""
    run = recognize if run is None else run
    alone: dict[int, Result] = {}

    def region(n: int) -> Result:
        if n not in alone:
            alone[n] = recognize(*spans[n])
        return alone[n]

    def speech(n: int) -> int:
        return max(0, spans[n][1] - spans[n][0] - 2 * pad)

    i = 0
    while i < len(spans):
        a, k = spans[i][0], i
        best = first = region(i)
        said = speech(i)
        for j in range(i + 1, len(spans)):
            said += speech(j)
            if ((spans[j][1] - a) / sample_rate > COMMAND_SPAN_S or said / sample_rate > phrase_s
                    or _is_phrase(region(j))):
                break
            r = run(a, spans[j][1])
            if _is_phrase(r) and not (_is_phrase(first) and r.command.deficit >= first.command.deficit):
                best, k = r, j
        while i + 1 < k:   # (region k alone is no phrase: a run of two keeps its first)
            rest = run(spans[i + 1][0], spans[k][1])
            if not (_is_phrase(rest) and rest.command.deficit < best.command.deficit):
                break
            yield spans[i][0], spans[i][1], region(i)
            i, best = i + 1, rest
        yield spans[i][0], spans[k][1], best
        i = k + 1


def _is_phrase(r: Result) -> bool:
    """Whether `r` is a phrase of the command list (accepted)."""
    return r.command is not None and r.command.accepted


def _frame_energy(audio: np.ndarray, hop: int) -> np.ndarray:
    """(N,) -> (N // hop,) log mean square per hop-sized frame."""
    n = len(audio) // hop
    x = audio[: n * hop].astype(np.float64).reshape(n, hop)
    return np.log((x * x).mean(axis=1) + 1e-10)


def split_at_pauses(blocks: Iterable[np.ndarray], sample_rate: int = 16000, max_segment_s: float = 20.0,
                    min_segment_s: float = 5.0, window_s: float = 0.3) -> Iterator[tuple[int, np.ndarray]]:
    """Cut a stream of audio blocks into segments of at most max_segment_s, at pauses.

    Yields (first sample index, segment samples). Concatenating the segments gives the stream.
    Memory holds at most max_segment_s plus one block. Blocks are mono (N,) or (N, 1), integer samples scaled to
    full scale 1.0 (speechseq.audio.mono_samples), NaN as 0 (finite_samples, as the detector and the VAD take it);
    one array is one block, the whole stream (iterated, a stereo (N, 2) array was read as its rows, one channel).
    """
    if isinstance(blocks, np.ndarray):
        blocks = (blocks,)
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)) or sample_rate < 100:
        raise ValueError(f"sample_rate must be a whole number of Hz >= 100, got {sample_rate!r}")  # hop: 10 ms
    hop = sample_rate // 100
    if not hop / sample_rate <= max_segment_s < math.inf:  # under one hop: no frame to find a pause in
        raise ValueError(f"max_segment_s must be a finite number of seconds >= {hop / sample_rate:g}, got "
                         f"{max_segment_s!r}")
    # in samples, at most 2**62: 1e308 s is finite, but its samples (x sample_rate) are not (OverflowError); a
    # segment longer than any stream never cuts it
    max_n, min_n = (int(min(s * sample_rate, 2.0 ** 62)) for s in (max_segment_s, min_segment_s))
    win = max(1, int(window_s * 100))
    buf, start = np.zeros(0, np.float32), 0
    for block in blocks:
        buf = np.concatenate([buf, finite_samples(mono_samples(block))])
        while len(buf) > max_n:
            energy = _frame_energy(buf[:max_n], hop)
            smooth = np.convolve(energy, np.ones(win) / win, mode="same")
            lo = min_n // hop
            cut = (lo + int(np.argmin(smooth[lo:]))) * hop if len(smooth) > lo else max_n
            cut = max(hop, min(cut, max_n))
            yield start, buf[:cut]
            buf, start = buf[cut:], start + cut
    if len(buf):
        yield start, buf


class Recognizer:
    """A speechseq recogniser ONNX file: log-mel features (T, F) -> CTC log-probs (T', V)."""

    def __init__(self, path: str | os.PathLike, threads: int = 1) -> None:
        self.path = str(path)
        self.session = make_session(path, threads)
        meta = session_metadata(self.session, path)
        if meta.get("kind") != "recognizer":
            raise ModelError(f"{path}: not a speechseq recognizer (metadata kind {meta.get('kind')!r})")
        self.meta = meta
        with reading_metadata(path, "recognizer"):
            self.frontend: FrontendConfig = frontend_of(meta)
            self.frame_shift_s = float(meta["frame_shift_s"])
            self.vocabulary = tuple(meta["vocabulary"])
        check_vocabulary(meta, path, VOCAB[:CTC_SIZE])  # the decoders spell with speechseq.text's
        check_inputs(self.session, path, "recognizer", {"features": (None, None, self.frontend.n_mels)})

    def log_probs(self, feats: np.ndarray) -> np.ndarray:
        """(T, F) log-mel -> (T', V) log-probs; (0, V) for no frames. ValueError for features of another shape (they
        were onnxruntime's InvalidArgument)."""
        feats = np.asarray(feats, np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.frontend.n_mels:
            raise ValueError(f"features must be (T, {self.frontend.n_mels}) log-mel frames of this model's frontend, "
                             f"got shape {feats.shape}")
        if len(feats) == 0:  # the graph's convolution fails on no frames
            return np.zeros((0, len(self.vocabulary)), np.float32)
        return self.session.run(None, {"features": feats[None]})[0][0]

    def decode(self, log_probs: np.ndarray, opts: DecodeOptions = DecodeOptions(), *,
               match: CommandMatch | None = None) -> Result:
        """Text, timed words and n-best of (T', V) log-probs over the model's vocabulary (ValueError otherwise: other
        columns would be spelt as its symbols). `match`: opts.commands' match of these log-probs where the caller has
        it already (_command_run), not made again."""
        log_probs = np.asarray(log_probs)
        if log_probs.ndim != 2 or log_probs.shape[1] != len(self.vocabulary):
            raise ValueError(f"log_probs must be (T', {len(self.vocabulary)}) over the model's vocabulary, got shape "
                             f"{log_probs.shape}")
        if opts.decoder == "greedy":
            hyps = [greedy(log_probs)]
        elif opts.decoder == "lexicon":
            lex_opts = replace(opts.lexicon_options, beam_size=opts.beam_size)
            hyps = lexicon_beam_search(log_probs, opts.lexicon, lex_opts, lm=opts.lm)[: opts.nbest]
        else:
            hyps = prefix_beam_search(log_probs, opts.beam_size, lm=opts.lm, alpha=opts.alpha,
                                      beta=opts.beta)[: opts.nbest]
        best = hyps[0]
        command = match if match is not None or opts.commands is None else opts.commands.match(log_probs)
        if command is not None and command.accepted:
            best = Hypothesis(command.tokens, command.text, command.log_likelihood, command.log_likelihood)
            # timed on the frames that say the phrase: aligned over the whole utterance, a wake word said before
            # it took the phrase's first word ("set" of "activate ... set a timer for five minutes" on "activate")
            a, b = phrase_frames(log_probs, command.tokens)
            words = [Word(w.word, w.start + a * self.frame_shift_s, w.end + a * self.frame_shift_s, w.confidence)
                     for w in word_timestamps(log_probs[a:b], best, self.frame_shift_s)]
            text = " ".join(best.text.split())
            if not opts.words_around or not words:
                return Result(text, tuple(words), tuple(hyps), command, (0, len(words)))
            # the words said around it: the free decode's that end before the phrase's first word starts, and those
            # that start after its last ends (the free decode of the frames before and after phrase_frames' spelt
            # the phrase's own first and last letters where it had heard them as others: "e turn on the kitchen
            # lights s" on a clip that says the command alone)
            free = word_timestamps(log_probs, hyps[0], self.frame_shift_s) if hyps[0].tokens else []
            before = [w for w in free if w.end <= words[0].start]
            after = [w for w in free if w.start >= words[-1].end]
            text = " ".join([*(w.word for w in before), text, *(w.word for w in after)])
            said = (len(before), len(before) + len(words))
            return Result(text, (*before, *words, *after), tuple(hyps), command, said)
        words = word_timestamps(log_probs, best, self.frame_shift_s) if best.tokens else []
        return Result(" ".join(best.text.split()), tuple(words), tuple(hyps), command)   # "a  b": two space tokens

    def recognize(self, audio: np.ndarray, opts: DecodeOptions = DecodeOptions(), *, onset: bool = True) -> Result:
        """One utterance: (N,) (or (N, 1)) samples at the model's sample rate, integers scaled to full scale 1.0.
        No word starts before the speech as the energy VAD hears it begin, less ONSET_MARGIN_S, nor ends after it
        ends, plus the energy VAD's OFFSET_MARGIN_S (as in transcribe); onset=False: the words where the recogniser
        puts them, for a caller that reads the text only."""
        audio = finite_samples(mono_samples(audio))   # NaN as 0, as the detector hears it (one changed the text)
        r = self._recognize(audio, opts)
        if not onset or not r.words:
            return r
        sr, vad = self.frontend.sample_rate, EnergyVad()
        probs = speech_probabilities(vad, audio, sr)
        return replace(r, words=tuple(_bounded(r.words, vad, probs, (0, len(audio)), sr, RegionConfig().threshold)))

    def _recognize(self, audio: np.ndarray, opts: DecodeOptions) -> Result:
        """recognize on mono samples, its words where the recogniser puts them (the first in the first frames)."""
        feats = logmel(audio, self.frontend)
        if len(feats) == 0:
            return Result("", (), ())
        return self.decode(self.log_probs(feats), opts)

    def _command_run(self, audio: np.ndarray, opts: DecodeOptions) -> Result:
        """_recognize for a run of regions that _command_pieces tries as one phrase of opts.commands: the same Result
        where the run is a phrase; else only its CommandMatch (no text, words or hypotheses: nothing reads them),
        without the free decode, most of a run's time with the lexicon search and its LMs (`transcribe --commands
        data/commands/home.txt` on Precise's not-wake-word phrases ten to a file, a second apart: 0.029-0.030 s CPU a
        second of audio, 0.056-0.058 when every run was spelt out; Silero 0.031-0.033 against 0.059-0.066; the same
        output). The run is matched once: decode is given the match it was accepted by."""
        feats = logmel(audio, self.frontend)
        if len(feats) == 0:
            return Result("", (), ())
        log_probs = self.log_probs(feats)
        command = opts.commands.match(log_probs)
        return self.decode(log_probs, opts, match=command) if command.accepted else Result("", (), (), command)

    def transcribe(self, blocks: Iterable[np.ndarray], opts: DecodeOptions = DecodeOptions(),
                   max_segment_s: float = 20.0,
                   on_segment: Callable[[Segment], None] | None = None,
                   vad=None, regions: RegionConfig = RegionConfig()) -> Transcript:
        """A stream of any length, as blocks of samples (or one array: the whole stream), cut at pauses (see
        split_at_pauses).

        vad: a speechseq.runtime.vad.Vad; when given, each cut is recognised only where it
        has speech (one Segment per speech region, or per run of them that opts.commands takes as one phrase;
        none for a cut without speech).
        """
        sr = self.frontend.sample_rate
        segments, total = [], 0
        onsets = vad if vad is not None else EnergyVad()  # where each piece's speech begins and ends (_bounded)
        # recognize less its bounding, which is done here by the pieces' own onsets and offsets (a recognize set on
        # the object itself, a stand-in's, is called as it is)
        own = getattr(self.recognize, "__func__", None) is not Recognizer.recognize
        utterance = self.recognize if own else self._recognize
        # a pause is looked for between min_segment_s and max_segment_s: 5 s over a --max-segment under it left
        # no room, and every cut fell at max_segment_s, in speech
        for first, audio in split_at_pauses(blocks, sr, max_segment_s, min_segment_s=min(5.0, max_segment_s / 4)):
            probs = speech_probabilities(onsets, audio, sr)
            if vad is None:
                spans = [(0, len(audio))]
            else:
                spans = speech_regions(probs, vad.frame_s, len(audio), sr, regions)
            pieces = (_command_pieces(spans, lambda a, b: utterance(audio[a:b], opts), sr,
                                      phrase_speech_s(opts.commands), round(regions.pad_s * sr),
                                      None if own else lambda a, b: self._command_run(audio[a:b], opts))
                      if getattr(opts, "commands", None) is not None
                      else ((a, b, utterance(audio[a:b], opts)) for a, b in spans))
            for a, b, r in pieces:  # r's words are bounded here, by the piece's onset and offset
                t0 = (first + a) / sr
                words = [Word(w.word, w.start + t0, w.end + t0, w.confidence)
                         for w in _bounded(r.words, onsets, probs, (a, b), sr, regions.threshold)]
                seg = Segment(t0, t0 + (b - a) / sr, r.text, tuple(words),
                              r.command.phrase if _is_phrase(r) else None,
                              r.command_words if _is_phrase(r) else None)
                segments.append(seg)
                if on_segment is not None:
                    on_segment(seg)
            total = first + len(audio)
        text = " ".join(s.text for s in segments if s.text)
        return Transcript(total / sr, text, tuple(w for s in segments for w in s.words), tuple(segments))

    def transcribe_file(self, path: str | os.PathLike, opts: DecodeOptions = DecodeOptions(),
                        max_segment_s: float = 20.0,
                        on_segment: Callable[[Segment], None] | None = None, vad=None,
                        regions: RegionConfig = RegionConfig()) -> Transcript:
        """A file of any length (read in blocks; raises speechseq.audio.AudioError if unreadable)."""
        from ..audio import stream_audio

        return self.transcribe(stream_audio(path, block_s=10.0, sr=self.frontend.sample_rate), opts,
                               max_segment_s, on_segment, vad, regions)
