"""Closed-set command recognition: which of a list of phrases was said, or none of them.

    commands = CommandSet.load("data/commands/home.txt") # one phrase a line; '#' starts a comment
    match = commands.match(log_probs)                    # (T, V) CTC log-probs of one utterance
    if match.accepted: print(match.text)

A recogniser that spells every sentence freely must get each letter right; one that only has to tell a few
dozen known phrases apart needs far less (what Vosk's grammars, pocketsphinx's JSGF and Rhino's contexts give a
command listener). Each phrase is scored by its CTC log-likelihood log P(phrase | audio), summed over all its
alignments (the forward algorithm, all phrases at once), and the best one is taken when it is close enough to what
the audio says on its own: its `deficit`, (log-prob of the best path - log P(phrase | audio)) per character of the
phrase, is at most `max_deficit`. Speech that is no phrase of the list scores far below the free best path; a phrase
said with an extra word, or in a voice the recogniser hears badly, a little below. (Per character, not per frame:
the silence around a short command costs every phrase the same and would dilute a per-frame figure; on the tuning
sets a bound per character told the phrases said from the others better at every false-accept rate.) `scripts/eval_commands.py` measures
both sides for a range of `max_deficit` (README, "Commands").

Noise is no phrase, yet close to some: the recogniser is unsure on every frame of it, so that any spelling costs
little more than its own best guess (3 s of white noise: "what time is it" at a deficit of 0.08), and where the VAD
let noise through (the energy VAD: kitchen noise, a fan, a tap) a command came out. What speech has and noise lacks is
order: a phrase said scores far above the same letters read backwards, noise about the same. So the best phrase is
also taken only when its `order` (log P(phrase | audio) less log P(phrase reversed | audio), per character) is at
least `min_order` (MIN_ORDER).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SpeechseqError
from ..files import read_utf8, split_lines
from ..text import BLANK, CTC_SIZE, SPACE, VOCAB, encode, normalize
from .settings import MAX_DEFICIT  # the default acceptance bound (there: --command-bound's too)

__all__ = ["CommandMatch", "CommandSet", "ctc_log_likelihoods", "phrase_frames", "MAX_DEFICIT", "MIN_ORDER"]

# The least a phrase must score above itself read backwards (nats per character) to be taken: noise the VAD let
# through was taken as a command, at a deficit well within MAX_DEFICIT (README, "Commands"). On 30 minutes of noise
# (doing_the_dishes.wav, Precise's background recordings, white / pink / brown noise at std 0.003-0.3, steady and in
# bursts) `transcribe --commands data/commands/home.txt` took 124 phrases with the energy VAD (1 with Silero): the
# 141 its pieces and runs accepted were in order by -0.29 to 1.12 (recognizer-en.onnx); the Precise not-wake-word
# phrases taken (a tuning set of MAX_DEFICIT's) by 2.54 and up, and neither tuning set's figures change up to 1.5.
# 1.25: over all the noise measured, which now gives no command (`listen` after a wake neither).
MIN_ORDER = 1.25
# How far (nats) above the least shortfall a stretch of frames may be and still be taken as the one that says a phrase
# (phrase_frames, the widest such): silence around a phrase costs it a hair, and stays in. With the shipped recogniser
# (greedy; Silero, the energy VAD and none), home.txt's 28 phrases said by espeak-ng (en-us, en-gb+f3) between 0.5 s
# pauses and 60 FSDD test digits against the ten: of 348 utterances, the words of 15 moved (each by at most 0.08 s,
# the first word closer to the speech: its mean distance without a VAD 0.070 -> 0.053 s), 32 with a slack of 0 (by up
# to 0.28 s). espeak-ng's "activate" said 0.3-1.3 s before four of the phrases (three voices): the phrase's first word
# started 0.37 s from where it is said on the mean (17 of 65 by over 0.2 s, on the keyword), now 0.03 s (none).
SPAN_SLACK = 1.0
_BATCH = 256          # phrases scored together (memory: frames x batch x states floats)
_SILENT = frozenset((SPACE, VOCAB.index("'")))   # symbols said by no sound of their own (scrambled)


def ctc_log_likelihoods(log_probs: np.ndarray, phrases: Sequence[Sequence[int]]) -> np.ndarray:
    """log P_ctc(tokens | audio) of each token sequence in `phrases` over (T, V) log-probs: the CTC forward
    algorithm, vectorised over the phrases. -inf where a phrase cannot fit in T frames, and where its alignments fall
    over 1e308 (709 nats) below the phrase's best partial one at some frame (a 160-letter phrase the audio does not
    say, -1226 in the log domain: a deficit of 7.7 for one of inf). ValueError for a token outside
    the V symbols (one past them failed with a bare IndexError; a negative one read another symbol's column)."""
    lp = np.asarray(log_probs, np.float64)
    if lp.ndim != 2:
        raise ValueError(f"log_probs must be (T, V), got shape {lp.shape}")
    for i, p in enumerate(phrases):
        if len(p) and not (0 <= min(p) and max(p) < lp.shape[1]):
            raise ValueError(f"phrase {i + 1} ({[int(t) for t in p]}) has a token outside the log-probs' "
                             f"{lp.shape[1]} symbols")
    out = np.full(len(phrases), -np.inf)
    # shortest first: a batch costs as many states as its longest phrase (a few long phrases spread over a long list
    # of short ones made every batch long: 8 among 2,048 took 11 times as long as the 2,048 alone)
    order = np.argsort([len(p) for p in phrases], kind="stable")
    for b in range(0, len(phrases), _BATCH):
        rows = order[b : b + _BATCH]
        out[rows] = _forward(lp, [phrases[i] for i in rows])
    return out


def phrase_frames(log_probs: np.ndarray, tokens: Sequence[int], slack: float = SPAN_SLACK) -> tuple[int, int]:
    """The frames [start, end) of (T, V) log-probs that say the token sequence `tokens`: the widest stretch whose
    shortfall (best path log-prob - log P_ctc(tokens | the stretch)) is within `slack` nats of the least any suffix,
    then any prefix of that suffix, has. The frames around a phrase that say something else cost it their best path
    (a wake word before a command: "activate ... set a timer for five minutes" accepted whole, and aligned whole,
    put "set" on "activate"); silence around it costs nothing, and is kept. (0, T) where the phrase cannot fit."""
    lp = np.asarray(log_probs, np.float64)
    tokens = [int(t) for t in tokens]
    best = lp.max(axis=1) if lp.size else np.zeros(len(lp))
    # log P(tokens | lp[s:]) for every s: the forward algorithm over the frames and the tokens reversed (CTC reads
    # the same either way), its row t over the last t + 1 frames
    suffix = _forward(lp[::-1], [tokens[::-1]], every_frame=True)[::-1, 0]
    start = _least(np.cumsum(best[::-1])[::-1] - suffix, slack, last=False)
    if start is None:
        return 0, len(lp)
    prefix = _forward(lp[start:], [tokens], every_frame=True)[:, 0]
    end = _least(np.cumsum(best[start:]) - prefix, slack, last=True)
    return start, start + end + 1


def scrambled(tokens: Sequence[int]) -> tuple[int, ...] | None:
    """The token sequence `tokens` in another order, the reference a phrase's `order` is measured against: reversed,
    or where its letters read the same backwards ("wow", and "race car", whose reversal "rac ecar" only moves the
    space, as the recogniser hears it) rotated by half its length, then by one more each time; None where every
    order has the same letters (one letter, or one letter again and again: no order to hear)."""
    tokens = tuple(int(t) for t in tokens)
    letters = _letters(tokens)
    for other in (tokens[::-1], *(tokens[k:] + tokens[:k] for k in range(len(tokens) // 2, len(tokens)))):
        if _letters(other) != letters:
            return other
    return None


def _letters(tokens: tuple[int, ...]) -> tuple[int, ...]:
    """`tokens` without the symbols no sound says (spaces, apostrophes): "race car" and "rac ecar" are said alike."""
    return tuple(t for t in tokens if t not in _SILENT)


def _least(cost: np.ndarray, slack: float, last: bool) -> int | None:
    """The first (or last) index of `cost` within `slack` of its least value (None: none is finite)."""
    finite = np.isfinite(cost)
    if not finite.any():
        return None
    near = np.flatnonzero(finite & (cost <= cost[finite].min() + slack))
    return int(near[-1] if last else near[0])


def _forward(lp: np.ndarray, phrases: Sequence[Sequence[int]], every_frame: bool = False) -> np.ndarray:
    """(P,) log P_ctc of each phrase over the (T, V) log-probs `lp`; every_frame: (T, P), row t over lp[: t + 1]."""
    n_frames = lp.shape[0]
    lengths = np.array([len(p) for p in phrases])
    n_states = 2 * int(lengths.max(initial=0)) + 1
    labels = np.full((len(phrases), n_states), BLANK, np.int64)
    for i, p in enumerate(phrases):
        labels[i, 1 : 2 * len(p) : 2] = p
    skip = np.zeros_like(labels, bool)     # s-2 -> s: a symbol after a different symbol
    skip[:, 3::2] = (labels[:, 3::2] != labels[:, 1:-2:2]) & (labels[:, 3::2] != BLANK)
    rows = np.arange(len(phrases))
    ends = np.stack([2 * lengths, np.maximum(2 * lengths - 1, 0)], 1)    # the last blank and the last symbol
    if n_frames == 0:
        empty = np.where(lengths == 0, 0.0, -np.inf)
        return empty[None][:0] if every_frame else empty
    # A shorter phrase's states past its last blank read an extra column of zeros: mass run on into them (their
    # alignments multiply with the frames left) outgrew the phrase's own states by over 1e308 beside a long phrase
    # on a long utterance, and the row's scaling to their maximum lost them (a log P above 0).
    labels[np.arange(n_states) > 2 * lengths[:, None]] = lp.shape[1]
    # In probabilities, each phrase's column scaled to a maximum of 1 at every frame (its log kept): sums and products
    # where the log domain needs logaddexp, about 4x faster; what falls 1e-308 below the column's best is dropped.
    # States along the first axis, phrases along the second: the shifts, the skips (on symbol states, the only ones
    # with any) and the maximum over states are operations on whole rows, in buffers made once, 1.8x faster than
    # phrases along the first axis (0.24 against 0.13 s CPU for 10,000 phrases on a 1.9 s command), the same sums.
    labels = np.ascontiguousarray(labels.T)
    hop = np.ascontiguousarray(skip[:, 3::2].T, np.float64)
    probs = np.exp(np.pad(lp, ((0, 0), (0, 1)), constant_values=-np.inf))
    alpha = np.zeros(labels.shape)
    alpha[:2] = probs[0, labels[:2]]
    nxt, emit, hopped = np.empty_like(alpha), np.empty_like(alpha), np.empty_like(hop)
    top, log_scale = np.empty(len(phrases)), np.zeros(len(phrases))
    frames = np.empty((n_frames if every_frame else 0, len(phrases)))
    for t in range(n_frames):
        if t:
            nxt[0] = alpha[0]
            np.add(alpha[1:], alpha[:-1], out=nxt[1:])
            np.multiply(hop, alpha[1:-2:2], out=hopped)
            nxt[3::2] += hopped
            np.take(probs[t], labels, out=emit, mode="clip")   # (in range: "raise" goes through a buffer)
            nxt *= emit
            alpha, nxt = nxt, alpha
        np.max(alpha, axis=0, out=top)
        top[top == 0] = 1.0                # no path left: the column stays 0 (log P = -inf)
        alpha /= top
        log_scale += np.log(top)
        if every_frame:
            frames[t] = _ended(alpha, rows, ends, lengths) + log_scale
    return frames if every_frame else _ended(alpha, rows, ends, lengths) + log_scale


def _ended(alpha: np.ndarray, rows: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """log of each phrase's (scaled) forward mass in its last blank and last symbol."""
    last = alpha.T[rows[:, None], ends]
    last[lengths == 0, 1] = 0.0           # an empty phrase ends on its only (blank) state
    with np.errstate(divide="ignore"):
        return np.log(last.sum(axis=1))


@dataclass(frozen=True)
class CommandMatch:
    """The best phrase for an utterance. text: the phrase as normalised (speechseq.text.normalize); index: its
    place in the list; log_likelihood: log P_ctc(phrase | audio); deficit: (best path log-prob - log_likelihood)
    per character of the phrase; accepted: deficit <= the set's max_deficit and order >= its min_order; runner_up: the
    second-best phrase's deficit (inf when there is none); phrase: the phrase as the list writes it ("Set a timer for 5
    minutes" where text is "set a timer for five minutes"), for a caller that compares it with its own list; order:
    (log_likelihood - log P_ctc(the phrase reversed | audio)) per character (CommandSet.order; inf for a phrase with
    no other order; nan where the deficit alone refused it: not measured)."""

    text: str
    index: int
    tokens: tuple[int, ...]
    log_likelihood: float
    deficit: float
    accepted: bool
    runner_up: float = float("inf")
    phrase: str = ""
    order: float = float("inf")


class CommandSet:
    """A list of phrases to choose from (duplicates after normalising kept once, first place). `texts`: the phrases
    normalised, as the recogniser spells them; `phrases`: as the list writes them; `longest`: the characters of the
    longest of them, as spelt (what bounds how long saying one can take)."""

    def __init__(self, phrases: Sequence[str], max_deficit: float = MAX_DEFICIT, source: str = "commands",
                 min_order: float = MIN_ORDER) -> None:
        for name, value in (("max_deficit", max_deficit), ("min_order", min_order)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        texts: dict[str, str] = {}     # normalised -> as written (the first)
        for i, phrase in enumerate(phrases):
            text = normalize(phrase)
            if not text:
                raise SpeechseqError(f"{source}: phrase {i + 1} ({phrase!r}) has no letters to say")
            texts.setdefault(text, phrase.strip())
        if not texts:
            raise SpeechseqError(f"{source}: no phrases (one a line; '#' starts a comment)")
        self.texts = tuple(texts)
        self.phrases = tuple(texts.values())
        self.tokens = tuple(tuple(encode(t)) for t in self.texts)
        self._chars = np.array([len(t) for t in self.tokens], np.float64)   # each deficit's denominator
        self.longest = int(self._chars.max())
        self.max_deficit = float(max_deficit)
        self.min_order = float(min_order)

    @classmethod
    def load(cls, path: str | os.PathLike, max_deficit: float = MAX_DEFICIT,
             min_order: float = MIN_ORDER) -> CommandSet:
        """One phrase a line (UTF-8); blank lines and what follows a '#' are left out."""
        path = Path(path)
        try:
            # read once, checked as it is read: a recording named by mistake is refused at its first bytes, and a
            # pipe (--commands <(grep -v '^x' home.txt)) can be read only once
            text = read_utf8(path).removeprefix("\ufeff")
        except FileNotFoundError:
            raise SpeechseqError(f"{path}: no such command list") from None
        except IsADirectoryError:
            raise SpeechseqError(f"{path}: is a folder, not a command list (one phrase a line)") from None
        except OSError as err:
            raise SpeechseqError(f"{path}: cannot read the command list ({err.strerror or err})") from None
        except ValueError as err:
            raise SpeechseqError(f"{path}: not a text file of phrases ({err})") from None
        lines = [line.split("#", 1)[0].strip() for line in split_lines(text)]
        return cls([line for line in lines if line], max_deficit, source=str(path), min_order=min_order)

    def __len__(self) -> int:
        return len(self.texts)

    def scores(self, log_probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each phrase's log P_ctc(phrase | audio) and deficit (per character) over (T, V) CTC log-probs, V the CTC
        vocabulary's CTC_SIZE symbols (ValueError otherwise, as Recognizer.decode: fewer columns failed with a bare
        IndexError, more were taken, the extra ones raising the best path, so that any phrase was accepted)."""
        lp = np.asarray(log_probs, np.float64)
        if lp.ndim != 2 or lp.shape[1] != CTC_SIZE:
            raise ValueError(f"log_probs must be (T, {CTC_SIZE}) CTC log-probs over speechseq.text's symbols, "
                             f"got shape {lp.shape}")
        scores = ctc_log_likelihoods(lp, self.tokens)
        best_path = float(lp.max(axis=1).sum()) if lp.size else 0.0
        return scores, (best_path - scores) / self._chars

    def order(self, log_probs: np.ndarray, index: int, log_likelihood: float | None = None) -> float:
        """How much better phrase `index` fits the (T, V) CTC log-probs than its own letters in another order
        (`scrambled`: reversed), per character: (log P(phrase | audio) - log P(reversed | audio)) / its characters;
        inf for a phrase with no other order, nan where neither fits the frames. `log_likelihood`: the phrase's own,
        where the caller has it (scores)."""
        tokens = self.tokens[index]
        other = scrambled(tokens)
        if other is None:
            return float("inf")
        if log_likelihood is None:
            mine, theirs = ctc_log_likelihoods(log_probs, [tokens, other])
        else:
            mine, theirs = log_likelihood, ctc_log_likelihoods(log_probs, [other])[0]
        with np.errstate(invalid="ignore"):
            return float((mine - theirs) / len(tokens))

    def match(self, log_probs: np.ndarray) -> CommandMatch:
        """The best phrase for one utterance's (T, V) CTC log-probs (not accepted when it has no frames)."""
        scores, deficits = self.scores(log_probs)
        ranked = np.argsort(deficits, kind="stable")
        i = int(ranked[0])
        runner_up = float(deficits[ranked[1]]) if len(ranked) > 1 else float("inf")
        deficit = float(deficits[i])
        close = bool(len(log_probs) > 0 and deficit <= self.max_deficit)
        # the order only where it decides (one more forward pass, of one phrase)
        order = self.order(log_probs, i, float(scores[i])) if close else float("nan")
        return CommandMatch(self.texts[i], i, self.tokens[i], float(scores[i]), deficit,
                            close and order >= self.min_order, runner_up, self.phrases[i], order)
