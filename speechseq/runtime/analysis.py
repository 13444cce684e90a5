"""Beam-search error analysis: is a wrong output the search's fault or the model's?

For each utterance the system gets wrong, the model's score of the reference is compared with
its score of the output, both computed exactly on the objective the search maximises:
reference higher -> the search missed a better answer (a wider beam would help); otherwise the
model prefers the error (better models, LM or data would help).

CTC systems (greedy / prefix beam search with shallow fusion): the objective is
    log P_ctc(y | x) + alpha * log P_lm(y <eos>) + beta * len(y)     (alpha = beta = 0 without LM)
with log P_ctc summed over every alignment (the CTC forward algorithm). Attention systems: the
decoder's log P(y <eos> | x) / (len(y) + 1) ** alpha, as attention_beam_search ranks.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..text import BLANK, encode, normalize
from .decoding import StepFn, attention_beam_search, classify_error, prefix_beam_search, score_sequence

__all__ = ["ctc_log_likelihood", "fused_score", "ErrorCase", "analyze_ctc", "analyze_attention", "summarize"]


def ctc_log_likelihood(log_probs: np.ndarray, tokens: Sequence[int]) -> float:
    """log P_ctc(tokens | x), summed over all alignments. log_probs: (T, V), blank = 0.

    -inf when no alignment fits in T frames."""
    lp = np.asarray(log_probs, dtype=np.float64)
    tok = np.asarray(tokens, dtype=np.int64)
    n_states = 2 * tok.size + 1
    labels = np.full(n_states, BLANK, dtype=np.int64)
    labels[1::2] = tok
    skip = np.zeros(n_states, dtype=bool)
    skip[3::2] = tok[1:] != tok[:-1]
    if lp.shape[0] == 0:
        return 0.0 if tok.size == 0 else -np.inf
    alpha = np.full(n_states, -np.inf)
    alpha[0] = lp[0, labels[0]]
    if n_states > 1:
        alpha[1] = lp[0, labels[1]]
    for t in range(1, lp.shape[0]):
        prev = alpha
        alpha = prev.copy()
        alpha[1:] = np.logaddexp(alpha[1:], prev[:-1])
        alpha[2:] = np.where(skip[2:], np.logaddexp(alpha[2:], prev[:-2]), alpha[2:])
        alpha = alpha + lp[t, labels]
    end = alpha[-1] if n_states == 1 else np.logaddexp(alpha[-1], alpha[-2])
    return float(end)


def fused_score(log_probs: np.ndarray, tokens: Sequence[int], lm: Any = None, alpha: float = 0.0,
                beta: float = 0.0) -> float:
    """The objective prefix_beam_search ranks by: log P_ctc + alpha log P_lm(y <eos>) + beta len(y)
    (just log P_ctc when there is no LM or alpha is 0, as in the search)."""
    score = ctc_log_likelihood(log_probs, tokens)
    if lm is not None and alpha != 0.0:
        score += alpha * float(lm.score_tokens([list(tokens)])[0]) + beta * len(tokens)
    return score


@dataclass(frozen=True)
class ErrorCase:
    """One wrongly recognised utterance: `reference` normalised (speechseq.text.normalize), `output` as decoded
    (wrong once normalised as the reference is). Scores are on the search's own objective."""

    key: str
    reference: str
    output: str
    reference_score: float
    output_score: float
    blame: Literal["search", "model"]

    @property
    def margin(self) -> float:
        """How much better the reference scores than the output (> 0: a search error)."""
        return self.reference_score - self.output_score


def analyze_ctc(key: str, log_probs: np.ndarray, reference: str, beam_size: int = 8, lm: Any = None,
                alpha: float = 0.0, beta: float = 0.0, **search: Any) -> ErrorCase | None:
    """Decode with prefix_beam_search (+ shallow fusion) and, when the output is wrong, blame the
    search or the model. Returns None for a correct output (the reference's words once normalised as it is, as
    `speechseq eval recognizer` counts them: however spaced, "dogs'" for "dogs").
    `search`: pruning options."""
    ref = normalize(reference)
    hyp = prefix_beam_search(log_probs, beam_size, lm=lm, alpha=alpha, beta=beta, **search)
    out = hyp[0].text if hyp else ""
    if normalize(out) == ref:  # as eval recognizer counts it: "the dogs' bones" (spaced anyhow) is "the dogs bones"
        return None
    s_ref = fused_score(log_probs, encode(ref), lm, alpha, beta)
    s_out = fused_score(log_probs, hyp[0].tokens if hyp else (), lm, alpha, beta)
    return ErrorCase(key, ref, out, s_ref, s_out, classify_error(s_ref, s_out))


def analyze_attention(key: str, step: StepFn, init_state: Any, reference: str, beam_size: int = 8,
                      max_len: int = 300, length_norm_alpha: float = 0.7, **kw: Any) -> ErrorCase | None:
    """The same for an attention decoder searched by attention_beam_search."""
    ref = normalize(reference)
    # long enough to reach the reference and its end (a caller's max_len from the raw text, "$5.50", fell short of
    # the normalised "five dollars and fifty cents": the search could not produce it and was blamed)
    max_len = max(max_len, len(encode(ref)) + 1)
    hyps = attention_beam_search(step, init_state, beam_size, max_len, length_norm_alpha, **kw)
    out = hyps[0].text
    if normalize(out) == ref:
        return None
    ends = {k: kw[k] for k in ("sos", "eos") if k in kw}   # the symbols the search started and ended with
    s_ref = score_sequence(step, init_state, encode(ref), length_norm_alpha, **ends)
    s_out = score_sequence(step, init_state, hyps[0].tokens, length_norm_alpha, **ends)
    return ErrorCase(key, ref, out, s_ref, s_out, classify_error(s_ref, s_out))


def summarize(cases: Sequence[ErrorCase | None]) -> dict[str, float]:
    """{"utterances", "wrong", "search", "model", "search_share", "model_share"} over every
    analysed utterance (None = correct); shares are of the wrong ones (0 when none is)."""
    wrong = [c for c in cases if c is not None]
    n_search = sum(c.blame == "search" for c in wrong)
    n = max(1, len(wrong))   # shares are 0.0 when nothing is wrong
    return {"utterances": len(cases), "wrong": len(wrong), "search": n_search, "model": len(wrong) - n_search,
            "search_share": n_search / n, "model_share": (len(wrong) - n_search) / n}
