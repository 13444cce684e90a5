"""Beam-search error analysis: planted search errors and model errors land in the right bins,
and the exact scores it compares are the ones the search ranks by."""
import itertools

import numpy as np
import pytest

from speechseq.runtime.analysis import analyze_attention, analyze_ctc, ctc_log_likelihood, fused_score, summarize
from speechseq.runtime.decoding import prefix_beam_search
from speechseq.text import CTC_SIZE, EOS, SPACE, VOCAB
from tests.table_decoder import table_step

A, B, C = (VOCAB.index(ch) for ch in "abc")


def _frames(rows):
    lp = np.full((len(rows), CTC_SIZE), 1e-6)
    for t, row in enumerate(rows):
        for sym, p in row.items():
            lp[t, sym] = p
    lp /= lp.sum(1, keepdims=True)
    return np.log(lp)


def _brute_force(lp, tokens):
    """Sum over every frame path that collapses to `tokens`."""
    total = -np.inf
    for path in itertools.product(range(lp.shape[1]), repeat=lp.shape[0]):
        out = [s for k, s in enumerate(path) if s != 0 and (k == 0 or path[k - 1] != s)]
        if out == list(tokens):
            total = np.logaddexp(total, sum(lp[t, s] for t, s in enumerate(path)))
    return total


def test_ctc_likelihood_sums_every_alignment(rng):
    logits = rng.normal(size=(4, 4))
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    for tokens in [(), (1,), (1, 1), (2, 3), (1, 2, 1), (3, 3, 3)]:
        assert ctc_log_likelihood(lp, tokens) == pytest.approx(_brute_force(lp, tokens), abs=1e-9)
    assert ctc_log_likelihood(lp[:2], (1, 1, 1)) == -np.inf


# Two frames, each blank .4 / a .35 / b .25: "" = .16, "a" = .4025, "b" = .2625 summed over paths.
PLANTED = _frames([{0: 0.4, A: 0.35, B: 0.25}] * 2)


def test_planted_ctc_search_error_and_model_error():
    # A beam of one keeps "" after frame 1 (.4 > .35) and never recovers "a" (.4025 > .16).
    search = analyze_ctc("s", PLANTED, "a", beam_size=1)
    assert search is not None and search.output == "" and search.blame == "search"
    assert search.reference_score == pytest.approx(np.log(0.4025), abs=1e-3) and search.margin > 0
    # A wide beam finds "a", the model's favourite; the reference "b" scores lower: the model's fault.
    model = analyze_ctc("m", PLANTED, "b", beam_size=8)
    assert model is not None and model.output == "a" and model.blame == "model" and model.margin < 0
    assert analyze_ctc("ok", PLANTED, "a", beam_size=8) is None
    s = summarize([search, model, None, None])
    assert (s["utterances"], s["wrong"], s["search"], s["model"]) == (4, 2, 1, 1)
    assert s["search_share"] == pytest.approx(0.5)


def test_planted_attention_search_error_and_model_error():
    # "a" looks best after one step (.55), but "b" <eos> (.45) beats every completion of "a" (.275).
    step = table_step({(): {A: 0.55, B: 0.45}, (A,): {EOS: 0.5, C: 0.5}, (A, C): {EOS: 1.0}, (B,): {EOS: 1.0}})
    kw = {"reorder": lambda states, rows: [states[r] for r in rows], "length_norm_alpha": 0.0, "max_len": 5}
    search = analyze_attention("s", step, [()], "b", beam_size=1, **kw)
    assert search is not None and search.output in ("a", "ac") and search.blame == "search"
    assert search.reference_score == pytest.approx(np.log(0.45))
    model = analyze_attention("m", step, [()], "a", beam_size=2, **kw)
    assert model is not None and model.output == "b" and model.blame == "model"
    assert analyze_attention("ok", step, [()], "b", beam_size=2, **kw) is None


def test_fused_score_is_what_the_search_ranks_by():
    """With pruning off, each hypothesis' fused score equals its recomputed objective."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.text import CharLM, LMConfig
    from speechseq.runtime.lm import OnnxLM
    from speechseq.train.export_lm import export_lm

    import tempfile
    from pathlib import Path

    torch.manual_seed(3)
    with tempfile.TemporaryDirectory() as tmp:
        export_lm(CharLM(LMConfig(embed_dim=8, hidden=16)).eval(), Path(tmp) / "lm.onnx")
        lm = OnnxLM(Path(tmp) / "lm.onnx")
        rng = np.random.default_rng(5)
        lp = np.full((5, CTC_SIZE), -np.inf)                # blank, a, b, c: at most 364 prefixes
        logits = rng.normal(0, 1.5, size=(5, 4))
        lp[:, [0, A, B, C]] = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        exact = {"prune_top_k": CTC_SIZE, "prune_logp": -np.inf, "blank_skip": 1.0}
        hyps = prefix_beam_search(lp, 400, lm=lm, alpha=0.8, beta=0.3, **exact)   # a beam that drops nothing
        assert len(hyps) > 50
        for h in hyps[:5]:
            assert h.score == pytest.approx(fused_score(lp, h.tokens, lm, 0.8, 0.3), abs=1e-3)


def test_output_right_but_for_spaces_is_not_an_error():
    """The recogniser strips its text and WER splits on spaces: " a" (a space, then a) is "a", not an error."""
    lp = _frames([{SPACE: 0.9}, {A: 0.9}, {SPACE: 0.9}])
    assert prefix_beam_search(lp, 4, prune_top_k=CTC_SIZE)[0].text == " a "
    assert analyze_ctc("k", lp, "a", beam_size=4) is None
    assert analyze_ctc("k", lp, "b", beam_size=4).output == " a "       # wrong words are still wrong
    step = table_step({(): {SPACE: 0.9, A: 0.1}, (SPACE,): {A: 1.0}, (SPACE, A): {EOS: 1.0}, (A,): {EOS: 1.0}})
    kw = {"reorder": lambda states, rows: [states[r] for r in rows], "max_len": 5}
    assert analyze_attention("k", step, [()], "a", beam_size=2, **kw) is None


def test_attention_search_may_always_reach_the_reference():
    """`analyze --system attention` set max_len from the raw text ("$5.50": 30) while the reference is the
    normalised one ("five dollars and fifty cents", 27 characters and more): the search could never produce it,
    and the case was blamed on the search."""
    step = table_step({(): {B: 0.9, A: 0.1}, (B,): {B: 1.0}, (B, B): {EOS: 1.0}, (A,): {EOS: 1.0}})
    kw = {"reorder": lambda states, rows: [states[r] for r in rows], "length_norm_alpha": 0.0}
    assert analyze_attention("k", step, [()], "bb", beam_size=2, max_len=1, **kw) is None
