"""Decoding: pure functions over log-probabilities; no model, no torch.

CTC side. ``log_probs``: (T, V) float log-softmax outputs; T frames, V symbols (``CTC_SIZE``
normally), blank = ``BLANK`` = 0.
    greedy, prefix_beam_search (+ shallow fusion with a character LM), ctc_align,
    word_timestamps.
Attention side. ``step(tokens (B,), states) -> (log_probs (B, V), states)``, B = beam.
    attention_beam_search (length-normalised), score_sequence and classify_error for the
    beam-search error analysis (is a wrong output the search's fault or the model's?).

States handed to an LM or a decoder step are an ndarray, or a (nested) tuple/list of ndarrays,
each with the batch on axis 0 (or None for stateless models).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Literal, Protocol, Sequence

import numpy as np

from speechseq.text import BLANK, CTC_SIZE, EOS, SOS, SPACE, decode

from .ctc_prefix import PrefixTrie, advance, choose, extensions, prune
from .settings import LM_WEIGHT, WORD_BONUS  # shallow fusion's tuned weights (there: the commands' too)

__all__ = ["Hypothesis", "Word", "AttentionHypothesis", "LanguageModel", "greedy", "prefix_beam_search",
           "ctc_align", "word_timestamps", "words_not_before", "words_not_after", "attention_beam_search",
           "score_sequence", "classify_error", "distinct_texts", "LM_WEIGHT", "WORD_BONUS"]

_NEG = -np.inf
StepFn = Callable[[np.ndarray, Any], tuple[np.ndarray, Any]]


class LanguageModel(Protocol):
    """A character LM over ``VOCAB`` (CTC symbols keep their indices), run one token at a time."""

    def initial_state(self) -> Any:
        """States of a batch of one sequence, before <sos> is fed."""

    def step(self, tokens: np.ndarray, states: Any) -> tuple[np.ndarray, Any]:
        """tokens (B,) int64 and states (batch B) -> (next-token log-probs (B, V_lm), states)."""


@dataclass(frozen=True)
class Hypothesis:
    """One CTC transcription.

    tokens: emitted symbols (repeats collapsed, blanks dropped); frames: for each token, the
    frame at which it was first emitted. ctc_score: log P_ctc(tokens | audio) summed over all
    alignments (greedy: the log-prob of its single best path). lm_score: log P_lm(tokens <eos>),
    0.0 without fusion. score: the ranking score, ctc_score + alpha * lm_score + beta * len(tokens)
    under fusion, else ctc_score.
    """

    tokens: tuple[int, ...]
    text: str
    score: float
    ctc_score: float
    lm_score: float = 0.0
    frames: tuple[int, ...] = ()


@dataclass(frozen=True)
class Word:
    """A word with its time span in seconds and a confidence in [0, 1]."""

    word: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class AttentionHypothesis:
    """An attention-decoder output: tokens exclude <sos>/<eos>; log_prob sums every emitted
    token's log-prob, <eos> included; score = log_prob / length ** alpha with length =
    len(tokens) + 1 (the number of terms summed); finished is False when max_len cut it short."""

    tokens: tuple[int, ...]
    text: str
    score: float
    log_prob: float
    finished: bool = True


def _check_log_probs(log_probs: np.ndarray) -> np.ndarray:
    lp = np.asarray(log_probs, dtype=np.float64)
    if lp.ndim != 2 or lp.shape[1] < 2:
        raise ValueError(f"log_probs must have shape (T, V) with V >= 2, got {lp.shape}")
    if np.isnan(lp).any():
        raise ValueError("log_probs contain NaN")
    over = np.isposinf(lp).any(axis=1)
    if over.any():   # log-probabilities are <= 0: +inf is a broken graph's overflow, and it poisons every sum
        raise ValueError(f"log_probs contain +inf at frame {int(np.argmax(over))}: pass log-softmax outputs")
    dead = np.isneginf(lp).all(axis=1)
    if dead.any():   # no path crosses such a frame: greedy scored -inf, the searches failed a frame later
        raise ValueError(f"log_probs are -inf for every symbol at frame {int(np.argmax(dead))}: pass log-softmax "
                         "outputs")
    return lp


def _rebuild(like: tuple | list, parts: list) -> Any:
    return type(like)(*parts) if hasattr(like, "_fields") else type(like)(parts)   # namedtuples too


def _take(states: Any, index: np.ndarray) -> Any:
    """Rows ``index`` (axis 0) of every array in a state structure."""
    if states is None or isinstance(states, np.ndarray):
        return None if states is None else states[index]
    if isinstance(states, (tuple, list)):
        return _rebuild(states, [_take(s, index) for s in states])
    raise TypeError(f"states must be arrays or tuples/lists of arrays, got {type(states).__name__}")


def _concat(parts: Sequence[Any]) -> Any:
    """Concatenate state structures of the same shape along axis 0."""
    first = parts[0]
    if first is None or isinstance(first, np.ndarray):
        return None if first is None else np.concatenate(parts, axis=0)
    return _rebuild(first, [_concat([p[k] for p in parts]) for k in range(len(first))])


def greedy(log_probs: np.ndarray) -> Hypothesis:
    """Best path decoding: per-frame argmax, repeats collapsed, blanks dropped.

    log_probs: (T, V). A repeated letter survives only with a blank between its two runs.
    """
    lp = _check_log_probs(log_probs)
    best = lp.argmax(axis=1)
    keep = best != BLANK
    keep[1:] &= best[1:] != best[:-1]
    frames = np.flatnonzero(keep)
    tokens = tuple(int(c) for c in best[frames])
    score = float(lp[np.arange(len(best)), best].sum())
    return Hypothesis(tokens, decode(tokens), score, score, 0.0, tuple(int(f) for f in frames))


def prefix_beam_search(
    log_probs: np.ndarray,
    beam_size: int = 8,
    lm: LanguageModel | None = None,
    alpha: float = LM_WEIGHT,
    beta: float = WORD_BONUS,
    *,
    prune_top_k: int = 12,
    prune_logp: float = -10.0,
    blank_skip: float = 0.999,
    distinct: bool = True,
) -> list[Hypothesis]:
    """CTC prefix beam search, with optional shallow fusion of a character LM.

    log_probs: (T, V). Returns up to ``beam_size`` hypotheses, best first, one per text (distinct_texts: of the
    labellings that spell the same words, spaced otherwise, the best ranked); distinct=False: every labelling in
    the beam.

    Each prefix carries log P(prefix, path ends in blank) and log P(prefix, path ends in a
    symbol); paths are summed, so the result ranks labellings rather than paths. With ``lm``
    and ``alpha != 0`` the ranking score is
        log P_ctc + alpha * log P_lm + beta * (number of characters, spaces included)
    and alpha * log P_lm(<eos> | prefix) is added at the end. The LM is run once per frame,
    batched over the prefixes that newly enter the beam; its states live beside the beam (a
    prefix's state is computed once, when it enters). Without fusion (lm None or alpha 0) beta
    is not applied either: the result is plain beam search.

    Pruning, for speed: at each frame only the ``prune_top_k`` most likely non-blank symbols
    with log-prob >= ``prune_logp`` extend prefixes, and a frame whose blank probability exceeds
    ``blank_skip`` extends nothing (the prefixes' blank and repeat terms are still updated; what their
    extensions would have added to prefixes already in the beam, at most 1 - blank_skip of the mass, is
    dropped, like the pruned symbols). Pass
    prune_top_k=V, prune_logp=-inf, blank_skip=1.0 for the exact search.

    beam_size 1 is greedy on peaked outputs. At a flat frame the two may differ: the one prefix kept is the likelier
    of staying (its blank and repeat paths summed) and growing by the frame's best symbol, so a letter greedy writes
    from a frame where it beats each other symbol but not their sum is left out (3 of the first 12 Kathleen dev
    sentences with the shipped recogniser: "whlom" greedy, "wlom" at beam 1).
    """
    lp = _check_log_probs(log_probs)
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not np.isfinite(value):   # nan or inf makes every score nan or inf: a ranking by nothing
            raise ValueError(f"{name} must be a finite number, got {value!r}")
    n_sym = lp.shape[1]
    fuse = lm is not None and alpha != 0.0
    pr = prune(lp, prune_top_k, prune_logp, blank_skip)
    trie = PrefixTrie()
    ids = [0]
    pb, pnb = np.zeros(1), np.full(1, _NEG)
    last = np.full(1, n_sym)                  # last symbol of each prefix (n_sym: none)
    ppos = np.full(1, -1)                     # position of each prefix's parent in the beam
    n_chars, lm_prev, bonus = np.zeros(1), np.zeros(1), np.zeros(1)
    if fuse:
        lm_rows, lm_states = lm.step(np.array([SOS], dtype=np.int64), lm.initial_state())
        lm_rows = np.asarray(lm_rows, dtype=np.float64)      # (n, V_lm) next-token log-probs
    for t in range(len(lp)):
        new_pb, new_pnb, total = advance(pb, pnb, last, pr.lp[t])
        if not pr.active[t]:
            pb, pnb = new_pb, new_pnb
            continue
        cand = pr.top[t]
        ext = extensions(pb, total, new_pnb, last, ppos, pr, t)
        stay, grow = np.logaddexp(new_pb, new_pnb), ext
        if fuse:
            stay = stay + bonus
            grow = ext + (bonus + beta)[:, None] + alpha * lm_rows[:, cand]
        kept, rows, cols = choose(stay, grow, beam_size)
        if kept.size + rows.size == 0:
            raise ValueError(f"every prefix has probability 0 at frame {t}: pass log-softmax outputs")
        syms = cand[cols]
        new_ids = [ids[j] for j in kept.tolist()]
        new_ids += [trie.child(ids[i], sym, t) for i, sym in zip(rows.tolist(), syms.tolist())]
        pb = np.concatenate([new_pb[kept], np.full(rows.size, _NEG)])
        pnb = np.concatenate([new_pnb[kept], ext[rows, cols]])
        last = np.concatenate([last[kept], syms])
        if fuse:
            n_chars = np.concatenate([n_chars[kept], n_chars[rows] + 1])
            lm_prev = np.concatenate([lm_prev[kept], lm_prev[rows] + lm_rows[rows, syms]])
            bonus = alpha * lm_prev + beta * n_chars
            lm_rows, lm_states = advance_lm(lm, lm_rows, lm_states, kept, rows, syms)
        ppos = trie.parent_positions(new_ids)
        ids = new_ids

    ctc = np.logaddexp(pb, pnb)
    if fuse:
        lm_score = lm_prev + lm_rows[:, EOS]
        score = ctc + alpha * lm_score + beta * n_chars
    else:
        lm_score, score = np.zeros(len(ids)), ctc
    out = []
    for j in np.argsort(-score, kind="stable"):
        toks, frames = trie.backtrace(ids[j])
        out.append(Hypothesis(toks, decode(list(toks)), float(score[j]), float(ctc[j]), float(lm_score[j]), frames))
    return distinct_texts(out) if distinct else out


def distinct_texts(hyps: Sequence[Any]) -> list[Any]:
    """``hyps`` (anything with a ``text``, best first) with one entry per text, the first: texts that differ only in
    their spaces (" hi", "hi ", "a  b" against "a b") are the same words, which the recogniser writes and WER counts
    alike, and would fill an n-best with one answer twice.

    The best spelling is kept rather than the group's probabilities summed: the first hypothesis, and so every
    transcript, stays the search's own, and each entry keeps the scores of its own tokens (under fusion the
    spellings' LM scores differ, so there is no one fused score to sum into)."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for h in hyps:
        words = tuple(h.text.split())
        if words not in seen:
            seen.add(words)
            out.append(h)
    return out


def advance_lm(lm: LanguageModel, lm_rows: np.ndarray, lm_states: Any, kept: np.ndarray, rows: np.ndarray,
               syms: np.ndarray) -> tuple[np.ndarray, Any]:
    """The LM's next-token rows and states for the new beam: the kept prefixes' as they were, then
    one batched LM step for the prefixes grown from `rows` by `syms`."""
    if not rows.size:
        return lm_rows[kept], _take(lm_states, kept)
    new_rows, new_states = lm.step(syms.astype(np.int64), _take(lm_states, rows))
    return (np.concatenate([lm_rows[kept], np.asarray(new_rows, dtype=np.float64)]),
            _concat([_take(lm_states, kept), new_states]))


def ctc_align(log_probs: np.ndarray, tokens: Sequence[int]) -> np.ndarray:
    """Viterbi forced alignment of ``tokens`` over the CTC topology.

    log_probs: (T, V). Returns (T,) int: for each frame, the index into ``tokens`` of the symbol
    the best path emits there, or -1 on blank frames. Raises ValueError if no path exists
    (T shorter than the tokens plus the blanks that separate repeats).
    """
    lp = _check_log_probs(log_probs)
    tok = np.asarray(tokens, dtype=np.int64)
    n_frames, n_states = lp.shape[0], 2 * tok.size + 1
    if n_frames == 0 and tok.size == 0:
        return np.zeros(0, dtype=np.int64)          # the empty path
    labels = np.zeros(n_states, dtype=np.int64)
    labels[1::2] = tok
    can_skip = np.zeros(n_states, dtype=bool)      # s-2 -> s: a symbol after a different symbol
    can_skip[3::2] = tok[1:] != tok[:-1]
    emit = lp[:, labels]                            # (T, S)
    score = np.full(n_states, _NEG)
    score[:2] = emit[0, :2] if n_frames else _NEG
    back = np.zeros((n_frames, n_states), dtype=np.int64)
    cols = np.arange(n_states)
    for t in range(1, n_frames):
        moves = np.full((3, n_states), _NEG)
        moves[0] = score
        moves[1, 1:] = score[:-1]
        moves[2, 2:] = np.where(can_skip[2:], score[:-2], _NEG)
        back[t] = moves.argmax(axis=0)
        score = moves[back[t], cols] + emit[t]
    state = n_states - 1
    if n_states > 1 and score[n_states - 2] > score[state]:
        state = n_states - 2
    if n_frames == 0 or not np.isfinite(score[state]):
        raise ValueError(f"no CTC alignment of {tok.size} tokens in {n_frames} frames")
    path = np.empty(n_frames, dtype=np.int64)
    for t in range(n_frames - 1, -1, -1):
        path[t] = state
        state -= back[t, state]
    return np.where(path % 2 == 1, (path - 1) // 2, -1)


def _align_in_pieces(lp: np.ndarray, tokens: np.ndarray, anchors: np.ndarray, piece: int = 64,
                     overlap: int = 16) -> np.ndarray:
    """ctc_align, in pieces of ``piece`` tokens when the search's token frames (``anchors``) are known.

    Viterbi costs O(T * len(tokens)): quadratic in the audio's length. Each piece is aligned together with
    the next ``overlap`` tokens, over the frames up to the most blank-like one between the anchors of its last
    two (each token's anchor stays in the piece, and anchors of repeated symbols are >= 2 frames apart, so
    every piece can be aligned); only its own tokens' frames are kept, up to the first frame of the next
    piece's first token, where the next piece starts. Cut at a blank-like frame alone, a piece's long last
    letter whose frames lean less to blank than the pause after it was cut short, its word ending early
    (tests/test_decoding.py builds one); with what follows in view it is aligned as in the whole. The result
    is the whole alignment's unless best paths differ more than ``overlap`` tokens back; a piece that cannot
    be aligned falls back to the whole.
    """
    n, n_frames = tokens.size, lp.shape[0]
    if anchors.size != n or n <= piece + overlap or np.any(np.diff(anchors) < 1) \
            or anchors[0] < 0 or anchors[-1] >= n_frames:
        return ctc_align(lp, tokens)
    owner, k0, frame0 = np.full(n_frames, -1), 0, 0
    try:
        while k0 + piece + overlap < n:
            k2 = k0 + piece + overlap                       # aligned: tokens [k0, k2); kept: [k0, k0 + piece)
            a, b = anchors[k2 - 1] + 1, anchors[k2] + 1
            part = ctc_align(lp[frame0 : a + int(np.argmax(lp[a:b, BLANK]))], tokens[k0:k2])
            keep = int(np.argmax(part >= piece))            # the first frame of token k0 + piece
            owner[frame0 : frame0 + keep] = np.where(part[:keep] >= 0, part[:keep] + k0, -1)
            k0, frame0 = k0 + piece, frame0 + keep
        part = ctc_align(lp[frame0:], tokens[k0:])
    except ValueError:
        return ctc_align(lp, tokens)
    owner[frame0:] = np.where(part >= 0, part + k0, -1)
    return owner


def word_timestamps(log_probs: np.ndarray, hyp: Hypothesis, frame_shift_s: float) -> list[Word]:
    """Words of ``hyp`` with times from a CTC forced alignment of its tokens.

    log_probs: (T, V); frame_shift_s: seconds per frame. Long hypotheses with ``frames`` (as
    the searches give) are aligned in pieces, in linear time. A word starts at the first frame of its
    first character and ends one frame after the last frame of its last character. Its
    confidence is the mean over its characters of each character's highest posterior along the
    alignment (the height of its CTC spike), in [0, 1].
    """
    lp = _check_log_probs(log_probs)
    tokens = np.asarray(hyp.tokens, dtype=np.int64)
    if tokens.size == 0:
        return []
    owner = _align_in_pieces(lp, tokens, np.asarray(hyp.frames, dtype=np.int64))
    frames = np.flatnonzero(owner >= 0)
    who = owner[frames]
    start = np.full(tokens.size, lp.shape[0])
    end = np.full(tokens.size, -1)
    conf = np.zeros(tokens.size)
    np.minimum.at(start, who, frames)
    np.maximum.at(end, who, frames)
    np.maximum.at(conf, who, np.exp(lp[frames, tokens[who]]))
    # Words are the runs of non-space tokens.
    bounds = np.flatnonzero(np.diff(np.concatenate([[0], tokens != SPACE, [0]]).astype(np.int8)))
    return [Word(decode(tokens[a:b].tolist()), float(start[a] * frame_shift_s), float((end[b - 1] + 1) * frame_shift_s),
                 float(np.clip(conf[a:b].mean(), 0.0, 1.0))) for a, b in zip(bounds[::2], bounds[1::2])]


def words_not_before(words: Sequence[Word], t: float) -> list[Word]:
    """``words`` (in order, each ending by the next one's start) with none starting before ``t`` (s).

    A word that did starts at ``t``, and keeps its end when that is later, else its length; the words after it
    then start no earlier than it ends. For an utterance's first word, whose onset its alignment cannot give: the
    shipped recogniser writes the first letters in its first frames however much silence comes before the speech.
    """
    out: list[Word] = []
    for k, w in enumerate(words):
        if w.start >= t:
            return out + list(words[k:])
        end = w.end if w.end > t else t + (w.end - w.start)
        out.append(Word(w.word, t, end, w.confidence))
        t = end
    return out


def words_not_after(words: Sequence[Word], t: float) -> list[Word]:
    """``words`` (in order, each ending by the next one's start) with none ending after ``t`` (s).

    A word that did ends at ``t``, and keeps its start when that is earlier, else its length; the words before it
    then end no later than it starts. For an utterance's last word, whose end its alignment cannot give when its last
    letter is not heard: the shipped recogniser's output for that letter rises in the audio's last frames, and the
    alignment puts it there however much silence comes after the speech.
    """
    out: list[Word] = []
    for k in range(len(words) - 1, -1, -1):
        w = words[k]
        if w.end <= t:
            return list(words[: k + 1]) + out[::-1]
        start = w.start if w.start < t else t - (w.end - w.start)
        out.append(Word(w.word, start, t, w.confidence))
        t = start
    return out[::-1]


def attention_beam_search(
    step: StepFn,
    init_state: Any,
    beam_size: int,
    max_len: int,
    length_norm_alpha: float = 0.7,
    sos: int = SOS,
    eos: int = EOS,
    reorder: Callable[[Any, np.ndarray], Any] | None = None,
) -> list[AttentionHypothesis]:
    """Beam search of an autoregressive decoder, ranked by log_prob / length ** alpha.

    step: (tokens (B,), states) -> (log_probs (B, V), states); the first call gets B = 1 with
    ``init_state``. States are reordered between steps with ``reorder(states, rows (B',))``,
    by default row-indexing every array of an ndarray/tuple/list state on axis 0.
    Every <eos> continuation of a live hypothesis is kept as finished; the live beam holds the
    best ``beam_size`` continuations by a text symbol (never <blank>, <sos> or <unk>). The search
    stops at ``max_len`` tokens (<eos> included) or as soon as no live hypothesis can beat the best
    finished one any more (log-probs are <= 0, so a live score s can at best become
    s / max_len ** alpha). Returns up to
    ``beam_size`` hypotheses, best first, one per text (distinct_texts); unfinished ones only when none finished.
    """
    if beam_size < 1 or max_len < 1:
        raise ValueError("beam_size and max_len must be >= 1")
    if length_norm_alpha < 0:
        raise ValueError(f"length_norm_alpha must be >= 0, got {length_norm_alpha}")
    reorder = reorder or _take
    tokens, states = np.array([sos], dtype=np.int64), init_state
    prefixes: list[tuple[int, ...]] = [()]
    live = np.zeros(1)
    finished: list[AttentionHypothesis] = []
    best = _NEG
    for length in range(1, max_len + 1):
        log_probs, states = step(tokens, states)
        log_probs = np.asarray(log_probs, dtype=np.float64)
        ended = live + log_probs[:, eos]
        for b in np.flatnonzero(ended > _NEG):
            norm = ended[b] / length ** length_norm_alpha
            best = max(best, norm)
            finished.append(AttentionHypothesis(prefixes[b], decode(prefixes[b]), float(norm), float(ended[b])))
        if length == max_len:
            break
        cand = live[:, None] + log_probs
        cand[:, eos] = _NEG
        # no other special token continues a text (<blank>, <sos>, <unk>): "h<blank>" printed as "h" with another score
        cand[:, [i for i in range(cand.shape[1]) if not 0 < i < CTC_SIZE]] = _NEG
        flat = cand.ravel()
        m = min(beam_size, int(np.count_nonzero(flat > _NEG)))
        if m == 0:
            if not finished:
                raise ValueError("the decoder gave every continuation probability 0")
            break
        sel = np.argpartition(-flat, m - 1)[:m]
        sel = sel[np.argsort(-flat[sel], kind="stable")]
        rows, syms = np.divmod(sel, log_probs.shape[1])
        prefixes = [prefixes[r] + (int(s),) for r, s in zip(rows, syms)]
        live, tokens, states = flat[sel], syms.astype(np.int64), reorder(states, rows)
        if best >= live.max() / max_len ** length_norm_alpha:
            break
    if not finished:
        finished = [AttentionHypothesis(p, decode(p), float(s / max(len(p), 1) ** length_norm_alpha), float(s), False)
                    for p, s in zip(prefixes, live)]
    return distinct_texts(sorted(finished, key=lambda h: -h.score))[:beam_size]


def score_sequence(step: StepFn, init_state: Any, tokens: Sequence[int], length_norm_alpha: float = 0.0,
                   sos: int = SOS, eos: int = EOS) -> float:
    """The decoder's log P(tokens <eos>), divided by (len(tokens) + 1) ** alpha.

    Use the alpha the search ranked with, so that reference and output are compared on the
    objective the search maximised.
    """
    inputs, targets = [sos, *tokens], [*tokens, eos]
    total, states = 0.0, init_state
    for x, y in zip(inputs, targets):
        log_probs, states = step(np.array([x], dtype=np.int64), states)
        total += float(np.asarray(log_probs)[0, y])
    return total / len(targets) ** length_norm_alpha


def classify_error(score_ref: float, score_hyp: float) -> Literal["search", "model"]:
    """Blame for a wrong output: "search" when the model scores the reference higher than what
    the search returned (a wider beam would help), else "model" (the model prefers the error)."""
    return "search" if score_ref > score_hyp else "model"
