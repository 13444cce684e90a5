"""Decoding over hand-made log-prob matrices: known answers, brute-force sums, planted errors."""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from speechseq.runtime.decoding import (
    AttentionHypothesis, attention_beam_search, classify_error, ctc_align, greedy,
    prefix_beam_search, score_sequence, word_timestamps,
)
from speechseq.text import BLANK, CTC_SIZE, EOS, SOS, VOCAB, encode

EXACT = dict(prune_top_k=CTC_SIZE, prune_logp=-np.inf, blank_skip=1.0)


def frames_from(labels: str, peak: float = 0.9, n_sym: int = CTC_SIZE) -> np.ndarray:
    """(T, V) log-probs: one frame per character of ``labels`` ('-' = blank) holding ``peak``."""
    lp = np.full((len(labels), n_sym), (1 - peak) / (n_sym - 1))
    for t, ch in enumerate(labels):
        lp[t, BLANK if ch == "-" else encode(ch)[0]] = peak
    return np.log(lp).astype(np.float32)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def peaky(rng: np.random.Generator, n_frames: int, n_sym: int = CTC_SIZE) -> np.ndarray:
    """Random CTC-like output: each frame's winner (blank 60%) gets > 0.95 of the mass."""
    winner = np.where(rng.random(n_frames) < 0.6, BLANK, rng.integers(1, n_sym, n_frames))
    logits = rng.normal(0, 1, (n_frames, n_sym))
    logits[np.arange(n_frames), winner] += 9.0
    return log_softmax(logits).astype(np.float32)


def brute_force(lp: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(labelling) for every labelling, by summing all V**T paths."""
    probs: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(lp.shape[1]), repeat=lp.shape[0]):
        label = tuple(c for k, c in enumerate(path) if c != BLANK and (k == 0 or path[k - 1] != c))
        probs[label] = probs.get(label, 0.0) + float(np.exp(sum(lp[t, c] for t, c in enumerate(path))))
    return {k: np.log(v) for k, v in probs.items()}


class TableLM:
    """Trigram LM from a fixed table: state (B, 2) = the two previous tokens."""

    def __init__(self, table: np.ndarray):
        self.table = table                       # (V, V, V) log-probs of next given (prev, cur)
        self.calls = 0

    def initial_state(self) -> np.ndarray:
        return np.full((1, 2), SOS, dtype=np.int64)

    def step(self, tokens, states):
        self.calls += 1
        return self.table[states[:, 1], tokens], np.stack([states[:, 1], tokens], axis=1)

    def sequence_log_prob(self, tokens) -> float:
        seq, total = [SOS, *tokens, EOS], 0.0
        state = self.initial_state()
        for x, y in zip(seq[:-1], seq[1:]):
            rows, state = self.step(np.array([x]), state)
            total += rows[0, y]
        return total


def random_lm(rng: np.random.Generator, sharp: float = 1.0) -> TableLM:
    v = len(VOCAB)
    return TableLM(log_softmax(sharp * rng.normal(0, 1, (v, v, v))))


# ---------------------------------------------------------------- greedy and CTC beam search

@pytest.mark.parametrize("labels, text", [
    ("hh-e-ll-l-oo--", "hello"),          # the blank between the l runs keeps both
    ("-h-e-lll-o", "helo"),               # no blank: one l
    ("--c-aa--t- -cc-a-t", "cat cat"),
    ("-----", ""),
])
def test_greedy_and_beam_known_answers(labels, text):
    lp = frames_from(labels)
    assert greedy(lp).text == text
    assert prefix_beam_search(lp, beam_size=8)[0].text == text


def test_greedy_frames_and_path_score():
    lp = frames_from("-hh-i")
    hyp = greedy(lp)
    assert hyp.tokens == tuple(encode("hi")) and hyp.frames == (1, 4)
    assert hyp.ctc_score == pytest.approx(5 * np.log(0.9), abs=1e-5)


@pytest.mark.parametrize("seed", range(10))
def test_beam_width_one_equals_greedy_on_peaky_outputs(seed):
    # On peaky outputs the best path carries nearly all of its labelling's mass, so keeping one
    # prefix reproduces greedy (on flat outputs the two may legitimately differ).
    lp = peaky(np.random.default_rng(seed), 80)
    assert prefix_beam_search(lp, beam_size=1)[0].tokens == greedy(lp).tokens


def test_beam_beats_greedy_when_paths_sum():
    # V = {blank, a}: the best path is "--" (0.36), but "a" collects a-, -a, aa = 0.64.
    lp = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert greedy(lp).tokens == ()
    best = prefix_beam_search(lp, beam_size=4)[0]
    assert best.tokens == (1,)
    assert np.exp(best.ctc_score) == pytest.approx(0.64)


def test_beam_ctc_scores_match_brute_force():
    rng = np.random.default_rng(0)
    lp = log_softmax(rng.normal(0, 1.5, (4, 3)))
    truth = brute_force(lp)
    hyps = prefix_beam_search(lp, beam_size=100, distinct=False, **EXACT)   # every labelling, however spaced
    assert len(hyps) == len(truth)               # beam wide enough: every labelling survives
    for hyp in hyps:
        assert hyp.ctc_score == pytest.approx(truth[hyp.tokens], abs=1e-9)
    ranked = sorted(truth, key=truth.get, reverse=True)
    assert [h.tokens for h in hyps[:5]] == ranked[:5]
    assert np.logaddexp.reduce(list(truth.values())) == pytest.approx(0.0, abs=1e-9)


def test_pruned_search_keeps_the_answer_on_peaky_outputs():
    rng = np.random.default_rng(7)
    lp = peaky(rng, 200)
    fast, exact = prefix_beam_search(lp, beam_size=8), prefix_beam_search(lp, beam_size=8, **EXACT)
    assert fast[0].tokens == exact[0].tokens
    assert fast[0].ctc_score == pytest.approx(exact[0].ctc_score, abs=1e-2)


def test_fusion_with_alpha_zero_equals_plain_beam():
    rng = np.random.default_rng(1)
    lp = log_softmax(rng.normal(0, 2, (40, CTC_SIZE)))
    lm = random_lm(rng, sharp=3.0)
    plain = prefix_beam_search(lp, beam_size=6)
    fused = prefix_beam_search(lp, beam_size=6, lm=lm, alpha=0.0, beta=2.0)
    assert [h.tokens for h in fused] == [h.tokens for h in plain]
    assert [h.score for h in fused] == [h.score for h in plain]
    assert lm.calls == 0


def test_uniform_lm_with_matching_bonus_only_shifts_scores():
    # log P_lm = (n + 1) log(1/32), beta = alpha log 32: every score moves by -alpha log 32.
    lp = log_softmax(np.random.default_rng(2).normal(0, 2, (30, CTC_SIZE)))
    alpha, v = 0.8, len(VOCAB)
    lm = TableLM(np.full((v, v, v), -np.log(v)))
    plain = prefix_beam_search(lp, beam_size=5)
    fused = prefix_beam_search(lp, beam_size=5, lm=lm, alpha=alpha, beta=alpha * np.log(v))
    assert [h.tokens for h in fused] == [h.tokens for h in plain]
    for f, p in zip(fused, plain):
        assert f.score == pytest.approx(p.score - alpha * np.log(v), abs=1e-9)
        assert f.lm_score == pytest.approx((len(f.tokens) + 1) * -np.log(v), abs=1e-9)


def test_fused_scores_are_ctc_plus_weighted_lm():
    rng = np.random.default_rng(3)
    lp = peaky(rng, 60)
    lm = random_lm(rng)
    for hyp in prefix_beam_search(lp, beam_size=8, lm=lm, alpha=0.6, beta=0.5):
        # the cached per-prefix states must give the same LM score as a fresh sequential run
        assert hyp.lm_score == pytest.approx(lm.sequence_log_prob(hyp.tokens), abs=1e-9)
        assert hyp.score == pytest.approx(hyp.ctc_score + 0.6 * hyp.lm_score + 0.5 * len(hyp.tokens), abs=1e-9)


class TupleStateLM:
    """The same LM with its state wrapped in a tuple (like an LSTM's (h, c)); None = stateless."""

    def __init__(self, inner: TableLM, stateless: bool = False):
        self.inner, self.stateless = inner, stateless

    def initial_state(self):
        return None if self.stateless else (self.inner.initial_state(),)

    def step(self, tokens, states):
        if self.stateless:                        # a unigram-by-token LM needs no state
            return self.inner.table[SOS][tokens], None
        rows, new = self.inner.step(tokens, states[0])
        return rows, (new,)


def test_fusion_accepts_tuple_and_empty_states():
    rng = np.random.default_rng(4)
    lp, lm = peaky(rng, 50), random_lm(rng)
    direct = prefix_beam_search(lp, lm=lm, alpha=0.5)
    wrapped = prefix_beam_search(lp, lm=TupleStateLM(lm), alpha=0.5)
    assert [(h.tokens, h.score) for h in wrapped] == [(h.tokens, h.score) for h in direct]
    stateless = prefix_beam_search(lp, lm=TupleStateLM(lm, stateless=True), alpha=0.5)
    assert len(stateless) == 8 and all(np.isfinite(h.score) for h in stateless)


def test_bad_log_probs_raise():
    with pytest.raises(ValueError):
        prefix_beam_search(np.zeros(10))
    with pytest.raises(ValueError):
        greedy(np.full((3, 4), np.nan))


def test_positive_infinite_log_probs_are_one_clear_error():
    # A log-probability is <= 0: +inf (a broken graph's overflow) ranked a hypothesis with score inf, and the
    # alignment then said "no CTC alignment of 2 tokens in 4 frames", with RuntimeWarnings, as if the text were wrong.
    lp = np.log(np.full((4, CTC_SIZE), 1 / CTC_SIZE))
    lp[0, encode("a")[0]] = np.inf
    hyp = greedy(frames_from("a-b-"))
    for decode_it in (lambda: greedy(lp), lambda: prefix_beam_search(lp, 4), lambda: ctc_align(lp, hyp.tokens),
                      lambda: word_timestamps(lp, hyp, 0.04)):
        with pytest.raises(ValueError, match=r"log_probs contain \+inf at frame 0"):
            decode_it()
    ok = lp.copy()
    ok[0, encode("a")[0]] = -np.inf          # a probability of 0 stays valid input
    assert greedy(ok).score < 0


@pytest.mark.parametrize("frame", [2, 4])
def test_a_frame_impossible_for_every_symbol_is_one_clear_error(frame):
    # A row of -inf (no symbol possible, no path through the frame): greedy scored its text -inf without a word, the
    # beam search said "every prefix has probability 0 at frame 3" for a row at frame 2 (and at the last frame returned
    # hypotheses scored -inf), the alignment "no CTC alignment of 3 tokens in 5 frames", as if the text were wrong.
    lp = log_softmax(np.random.default_rng(0).normal(0, 3, (5, CTC_SIZE)))
    hyp = greedy(lp)
    lp[frame] = -np.inf
    for decode_it in (lambda: greedy(lp), lambda: prefix_beam_search(lp, 4), lambda: ctc_align(lp, hyp.tokens),
                      lambda: word_timestamps(lp, hyp, 0.04)):
        with pytest.raises(ValueError, match=f"log_probs are -inf for every symbol at frame {frame}"):
            decode_it()


@pytest.mark.parametrize("field,value", [("alpha", float("nan")), ("alpha", float("inf")), ("beta", float("-inf")),
                                         ("beta", float("nan"))])
def test_fusion_weights_must_be_finite(field, value):
    # nan or inf weights gave "every prefix has probability 0 at frame 1: pass log-softmax outputs" (or a best
    # hypothesis scored inf): a message about the input for a mistake in the weights.
    lp = log_softmax(np.random.default_rng(0).normal(0, 1, (5, CTC_SIZE)))
    lm = TableLM(np.full((len(VOCAB),) * 3, -np.log(len(VOCAB))))
    with pytest.raises(ValueError, match=f"{field} must be a finite number"):
        prefix_beam_search(lp, 4, lm=lm, **{field: value})


def test_lm_preferring_a_spelling_flips_the_choice():
    # The acoustics lean to "cat" (c 0.5 vs k 0.4); an LM sure that words start with k flips it.
    lp = np.log(np.full((4, CTC_SIZE), 1e-4))
    for t, probs in enumerate([{"c": 0.5, "k": 0.4}, {"a": 0.9}, {"t": 0.9}, {"-": 0.9}]):
        for ch, p in probs.items():
            lp[t, BLANK if ch == "-" else encode(ch)[0]] = np.log(p)
    lp = log_softmax(lp)
    v = len(VOCAB)
    table = np.full((v, v, v), -np.log(v))
    table[SOS, SOS] = np.log(np.full(v, 0.1 / (v - 1)))
    table[SOS, SOS, encode("k")[0]] = np.log(0.9)
    assert prefix_beam_search(lp, beam_size=4)[0].text == "cat"
    assert prefix_beam_search(lp, beam_size=4, lm=TableLM(table), alpha=1.0, beta=0.0)[0].text == "kat"


# ---------------------------------------------------------------- alignment and timestamps

def test_ctc_align_known_path():
    lp = frames_from("-hh-e-ll-l-o")
    owner = ctc_align(lp, encode("hello"))
    assert owner.tolist() == [-1, 0, 0, -1, 1, -1, 2, 2, -1, 3, -1, 4]
    with pytest.raises(ValueError):
        ctc_align(frames_from("all"), encode("all"))       # two l's need three frames


def test_ctc_align_zero_and_one_frame():
    # No frames and no tokens: the empty path exists (probability 1, as ctc_log_likelihood says),
    # so the alignment is empty rather than an error; any token needs at least one frame.
    empty = np.zeros((0, CTC_SIZE), dtype=np.float32)
    assert ctc_align(empty, []).tolist() == []
    with pytest.raises(ValueError):
        ctc_align(empty, encode("a"))
    one = frames_from("a")
    assert ctc_align(one, encode("a")).tolist() == [0] and ctc_align(one, []).tolist() == [-1]
    with pytest.raises(ValueError):
        ctc_align(one, encode("ab"))


def test_word_timestamps_known_times():
    lp = frames_from("--hh-i-- th-e-r-e--")
    hyp = prefix_beam_search(lp)[0]
    assert hyp.text == "hi there"
    words = word_timestamps(lp, hyp, frame_shift_s=0.04)
    assert [w.word for w in words] == ["hi", "there"]
    assert words[0].start == pytest.approx(0.08) and words[0].end == pytest.approx(0.24)
    assert words[1].start == pytest.approx(0.36) and words[1].end == pytest.approx(0.68)
    assert all(w.confidence == pytest.approx(0.9) for w in words)


@pytest.mark.parametrize("seed", range(3))
def test_word_timestamps_monotonic_and_in_range(seed):
    rng = np.random.default_rng(seed)
    n_frames, shift = 250, 0.04
    lp = peaky(rng, n_frames)
    hyp = prefix_beam_search(lp)[0]
    words = word_timestamps(lp, hyp, shift)
    assert len(words) == len(hyp.text.split())
    times = [x for w in words for x in (w.start, w.end)]
    assert times == sorted(times) and all(w.start < w.end for w in words)
    assert 0.0 <= times[0] and times[-1] <= n_frames * shift + 1e-9
    assert all(0.0 <= w.confidence <= 1.0 for w in words)


def test_piecewise_alignment_of_long_input_matches_full_alignment():
    lp = peaky(np.random.default_rng(5), 1500)
    hyp = prefix_beam_search(lp)[0]
    assert len(hyp.tokens) > 3 * 64                       # long enough to be cut into pieces
    pieces = word_timestamps(lp, hyp, 0.02)
    full = word_timestamps(lp, dataclasses.replace(hyp, frames=()), 0.02)   # no anchors: one Viterbi
    assert pieces == full


def _long_last_letters(words: int, stretch: int = 5, gap: int = 3) -> tuple[np.ndarray, str, list[int]]:
    """Log-probs of "abcd" + " xyz" * words where each word's last letter is heard over ``stretch`` frames
    at 0.52 (blank 0.44 there), then ``gap`` frames lean to blank at 0.40 before the space: the best path
    keeps the letter all ``stretch`` frames. Every other token: one frame at 0.9, then one blank frame.
    Tokens 63, 127, 191, ... (where 64-token pieces end) are such letters. Returns (log_probs, text,
    each word's end frame on the best path)."""
    text = "abcd" + " xyz" * words
    rows, ends = [], []

    def frame(probs: dict[int, float]) -> None:
        row = np.full(CTC_SIZE, (1 - sum(probs.values())) / (CTC_SIZE - len(probs)))
        row[list(probs)] = list(probs.values())
        rows.append(row)

    tokens = encode(text)
    for k, tok in enumerate(tokens):
        if k + 1 == len(tokens) or VOCAB[tokens[k + 1]] == " ":
            for _ in range(stretch):
                frame({tok: 0.52, BLANK: 0.44})
            ends.append(len(rows))
            for _ in range(gap):
                frame({BLANK: 0.40})
        else:
            frame({tok: 0.9})
            frame({BLANK: 0.9})
    return np.log(np.array(rows)).astype(np.float32), text, ends


def test_piecewise_alignment_keeps_a_long_letter_at_a_cut_whole():
    """The pieces were cut at the most blank-like frame between two tokens' first frames: inside the
    letter's own frames here (blank 0.44 there, 0.40 after it), which cut the last letter of the first
    piece short (its word ended 4 frames early). The word times now equal those of one Viterbi over the
    whole input, and the known ends."""
    lp, text, ends = _long_last_letters(60)
    hyp = greedy(lp)
    assert hyp.text == text and len(hyp.tokens) > 3 * 64                  # cut after tokens 63, 127 and 191
    full = word_timestamps(lp, dataclasses.replace(hyp, frames=()), 0.01)   # no anchors: one Viterbi
    assert [round(w.end / 0.01) for w in full] == ends
    assert word_timestamps(lp, hyp, 0.01) == full


# ---------------------------------------------------------------- attention beam search

class TreeModel:
    """A decoder given as next-token probabilities per prefix; state (B,) = prefix node ids."""

    def __init__(self, table: dict[tuple[int, ...], dict[int, float]]):
        self.table, self.prefixes = table, [()]

    def step(self, tokens, states):
        out = np.full((len(tokens), len(VOCAB)), -np.inf)
        new = np.empty(len(tokens), dtype=np.int64)
        for b, (tok, node) in enumerate(zip(tokens, states)):
            prefix = () if tok == SOS else self.prefixes[node] + (int(tok),)
            if prefix not in self.prefixes:
                self.prefixes.append(prefix)
            new[b] = self.prefixes.index(prefix)
            for sym, p in self.table.get(prefix, {}).items():
                out[b, sym] = np.log(p)
        return out, new


A, B, D = encode("a")[0], encode("b")[0], encode("d")[0]


def test_length_normalisation_rescues_a_longer_output():
    # "" scores log 0.5; "ab" scores log(0.5 * 0.8 * 0.9) = log 0.36: unnormalised search ends
    # at once, normalised by 3**0.7 "ab" wins (-0.473 vs -0.693).
    model = TreeModel({(): {EOS: 0.5, A: 0.5}, (A,): {B: 0.8, EOS: 0.2}, (A, B): {EOS: 0.9, D: 0.1}})
    raw = attention_beam_search(model.step, np.zeros(1, dtype=np.int64), beam_size=2, max_len=10,
                                length_norm_alpha=0.0)
    norm = attention_beam_search(model.step, np.zeros(1, dtype=np.int64), beam_size=2, max_len=10,
                                 length_norm_alpha=0.7)
    assert raw[0].tokens == () and raw[0].score == pytest.approx(np.log(0.5))
    assert norm[0].tokens == (A, B) and norm[0].text == "ab"
    assert norm[0].log_prob == pytest.approx(np.log(0.36))
    assert norm[0].score == pytest.approx(np.log(0.36) / 3 ** 0.7)


def test_attention_beam_with_tuple_state_and_custom_reorder():
    model = TreeModel({(): {A: 0.6, B: 0.4}, (A,): {EOS: 1.0}, (B,): {EOS: 1.0}})
    step = lambda tokens, states: (lambda out: (out[0], (out[1],)))(model.step(tokens, states[0]))
    seen = []
    reorder = lambda states, rows: (seen.append(rows.tolist()), (states[0][rows],))[1]
    hyps = attention_beam_search(step, (np.zeros(1, dtype=np.int64),), beam_size=2, max_len=5,
                                 reorder=reorder)
    assert [h.tokens for h in hyps] == [(A,), (B,)] and seen == [[0, 0]]
    assert all(isinstance(h, AttentionHypothesis) and h.finished for h in hyps)


def test_error_analysis_bins_search_and_model_errors():
    # P(a)=0.6, P(b)=0.4; "a" ends with 0.55 ("a" = 0.33, "ad" = 0.27); "b" ends surely (0.4).
    model = TreeModel({(): {A: 0.6, B: 0.4}, (A,): {EOS: 0.55, D: 0.45}, (B,): {EOS: 1.0},
                       (A, D): {EOS: 1.0}})
    init = np.zeros(1, dtype=np.int64)

    def analyse(ref, beam):
        hyp = attention_beam_search(model.step, init, beam_size=beam, max_len=6, length_norm_alpha=0.0)[0]
        assert score_sequence(model.step, init, hyp.tokens) == pytest.approx(hyp.log_prob)
        return hyp.tokens, classify_error(score_sequence(model.step, init, ref), hyp.log_prob)

    # Planted search error: greedy commits to "a" (0.33) though the model gives "b" 0.4.
    assert analyse((B,), beam=1) == ((A,), "search")
    # Planted model error: the truth "ad" (0.27) loses to "b" (0.4), which the search found.
    assert analyse((A, D), beam=2) == ((B,), "model")
    assert score_sequence(model.step, init, (A, D), length_norm_alpha=0.7) == pytest.approx(np.log(0.27) / 3 ** 0.7)


def test_words_not_before_moves_only_what_starts_too_early():
    """The first word wholly before t starts at t with its length; one that ends after t keeps its end; the words
    after it start no earlier than it ends, and the rest stay as they were."""
    from speechseq.runtime.decoding import Word, words_not_before

    words = [Word("he", 0.0, 0.06, 0.9), Word("was", 0.30, 0.50, 0.8), Word("here", 0.60, 0.90, 0.7)]
    got = words_not_before(words, 0.2)
    assert [(w.word, w.start, w.end, w.confidence) for w in got] == [
        ("he", 0.2, pytest.approx(0.26), 0.9), ("was", 0.30, 0.50, 0.8), ("here", 0.60, 0.90, 0.7)]
    got = words_not_before(words, 0.4)   # "he" now ends after "was" began: "was" starts where "he" ends
    assert [(w.start, w.end) for w in got] == [(0.4, pytest.approx(0.46)), (pytest.approx(0.46), 0.50), (0.60, 0.90)]
    got = words_not_before(words, 0.35)  # "was" is partly before: it starts later and keeps its end
    assert [(w.start, w.end) for w in got] == [(0.35, pytest.approx(0.41)), (pytest.approx(0.41), 0.50), (0.60, 0.90)]
    assert words_not_before(words, 0.0) == words and words_not_before([], 1.0) == []


def test_words_not_after_moves_only_what_ends_too_late():
    """The mirror of words_not_before: the last word wholly after t ends at t with its length; one that starts
    before t keeps its start; the words before it end no later than it starts, and the rest stay as they were."""
    from speechseq.runtime.decoding import Word, words_not_after

    words = [Word("he", 0.0, 0.06, 0.9), Word("was", 0.30, 0.50, 0.8), Word("here", 0.70, 0.90, 0.7)]
    got = words_not_after(words, 0.8)    # "here" is partly after: it ends at t and keeps its start
    assert [(w.word, w.start, w.end, w.confidence) for w in got] == [
        ("he", 0.0, 0.06, 0.9), ("was", 0.30, 0.50, 0.8), ("here", 0.70, 0.8, 0.7)]
    got = words_not_after(words, 0.7)    # "here" is wholly after: it ends at t with its length
    assert [(w.start, w.end) for w in got] == [(0.0, 0.06), (0.30, pytest.approx(0.5)), (pytest.approx(0.5), 0.7)]
    got = words_not_after(words, 0.65)   # "here" now starts before "was" ends: "was" ends where "here" starts
    assert [(w.start, w.end) for w in got] == [(0.0, 0.06), (0.30, pytest.approx(0.45)), (pytest.approx(0.45), 0.65)]
    got = words_not_after(words, 0.5)    # ... and before "was" starts: "was" moves back with its length too
    assert [(w.start, w.end) for w in got] == [(0.0, 0.06), (pytest.approx(0.1), pytest.approx(0.3)),
                                              (pytest.approx(0.3), 0.5)]
    assert words_not_after(words, 0.9) == words and words_not_after([], 0.0) == []
    for t in np.linspace(-1.0, 1.0, 41):   # ends >= starts, in order, none after t
        got = words_not_after(words, t)
        assert [w.word for w in got] == ["he", "was", "here"] and got[-1].end <= t + 1e-12 or got == words
        assert all(w.start <= w.end <= v.start + 1e-12 for w, v in zip(got, got[1:] + [Word("", got[-1].end, 0, 0)]))


@pytest.mark.parametrize("option, value", [("prune_top_k", 0), ("prune_top_k", -3), ("prune_top_k", 2.5),
                                           ("blank_skip", 0.0), ("blank_skip", 1.5), ("blank_skip", float("nan")),
                                           ("prune_logp", float("nan"))])
def test_prefix_beam_search_refuses_pruning_that_cannot_work(option, value):
    """prefix_beam_search took prune_top_k <= 0 as 1 without a word, and blank_skip 0 gave a divide warning and an
    empty text; the lexicon search's options refused them already. Both searches now say so in one line."""
    lp = np.log(np.full((4, 5), 0.2))
    with pytest.raises(ValueError, match=option):
        prefix_beam_search(lp, **{option: value})


# ---------------------------------------------------------------- n-best lists: one entry per text

def _hand_made(rows: list[dict[str, float]]) -> np.ndarray:
    """(T, V) log-probs: each dict's symbols ('-' = blank) with their probabilities, 1e-4 for the rest, normalised."""
    p = np.full((len(rows), CTC_SIZE), 1e-4)
    for t, row in enumerate(rows):
        for ch, q in row.items():
            p[t, BLANK if ch == "-" else encode(ch)[0]] = q
    return np.log(p / p.sum(axis=1, keepdims=True))


def first_per_text(hyps: list) -> list:
    """Of hypotheses best first, the first of each word sequence."""
    return [h for k, h in enumerate(hyps) if all(g.text.split() != h.text.split() for g in hyps[:k])]


def test_nbest_holds_each_text_once_however_spaced():
    """The n-best held "hi " and "hi" (a trailing space), and "a b" and "a  b" (a doubled one): the same words twice,
    one of them taking the place of another text. Each text is kept once, at its best-ranked spelling: the first
    hypothesis and every score are the labelling search's own."""
    trailing = _hand_made([{"h": 0.9}, {"i": 0.9}, {" ": 0.3, "-": 0.7}, {"-": 0.6, " ": 0.4}])
    doubled = _hand_made([{"a": 0.9}, {" ": 0.6, "-": 0.4}, {"-": 0.5, " ": 0.5}, {" ": 0.6, "-": 0.4}, {"b": 0.9}])
    v = len(VOCAB)
    lm = TableLM(np.full((v, v, v), -np.log(v)))
    for lp, pair in ((trailing, {"hi ", "hi"}), (doubled, {"a b", "a  b"})):
        for fusion in ({}, {"lm": lm, "alpha": 0.5, "beta": 0.2}):
            every = prefix_beam_search(lp, 8, distinct=False, **fusion)
            assert pair <= {h.text for h in every}
            hyps = prefix_beam_search(lp, 8, **fusion)
            words = [tuple(h.text.split()) for h in hyps]
            assert len(words) == len(set(words)) and len(pair & {h.text for h in hyps}) == 1
            assert hyps[0] == every[0] and hyps == first_per_text(every)
    assert [h.text for h in prefix_beam_search(doubled, 3)] == ["a b", "ab"]   # the beam of 3 held "a  b" too


def test_attention_nbest_holds_each_text_once():
    """attention_beam_search returned "hi " and "hi" (each finished: the same words) among its beam_size outputs."""
    from tests.table_decoder import table_step

    h, i, sp = encode("h")[0], encode("i")[0], encode(" ")[0]
    step = table_step({(): {h: 1.0}, (h,): {i: 1.0}, (h, i): {EOS: 0.5, sp: 0.5}, (h, i, sp): {EOS: 1.0}})
    hyps = attention_beam_search(step, [()], beam_size=3, max_len=6, reorder=lambda s, rows: [s[r] for r in rows])
    words = [tuple(x.text.split()) for x in hyps]
    assert hyps[0].text == "hi " and hyps[0].score == pytest.approx(np.log(0.5) / 4 ** 0.7)
    assert len(words) == len(set(words)) and ("hi",) not in words[1:]
