"""The machinery every CTC prefix beam search shares (plain, LM-fused, lexicon-constrained).

    pr = prune(lp, prune_top_k, prune_logp, blank_skip)     # lp: (T, V) checked log-probs
    trie = PrefixTrie()                                     # prefixes as nodes, node 0 = empty
    for t in range(T):
        new_pb, new_pnb, total = advance(pb, pnb, last, pr.lp[t])
        if not pr.active[t]: ...                             # nothing extends at this frame
        ext = extensions(pb, total, new_pnb, last, ppos, pr, t)   # (n, k), merges done in place
        kept, rows, cols = choose(stay, grow, beam_size)        # scores of staying (n,), growing (n, k)
        ... trie.child(...) for the new prefixes, trie.parent_positions(ids)
    tokens, frames = trie.backtrace(node)

Each prefix carries log P(prefix, paths ending in blank) `pb` and in a symbol `pnb`; `last` is
its last symbol (V for the empty prefix: column V of pr.lp is -inf, so it never repeats).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..text import BLANK

__all__ = ["NEG", "Pruning", "prune", "advance", "extensions", "choose", "PrefixTrie"]

NEG = -np.inf


@dataclass(frozen=True)
class Pruning:
    """Per frame, the symbols allowed to extend a prefix.

    lp: (T, V + 1) log-probs with a -inf column V; top: (T, k) the k likeliest non-blank symbols;
    top_lp: (T, k) their log-probs (-inf where pruned); col: (T, V + 1) each symbol's place in
    top[t] (-1: not there); active: (T,) frames at which anything extends.
    """

    lp: np.ndarray
    top: np.ndarray
    top_lp: np.ndarray
    col: np.ndarray
    active: np.ndarray
    k: int


def check_pruning(prune_top_k: int, prune_logp: float, blank_skip: float) -> None:
    """ValueError unless the pruning settings can work: prune_top_k <= 0 was taken as 1 without a word, and
    blank_skip 0 skipped every frame (an empty text, after a divide warning)."""
    if isinstance(prune_top_k, bool) or not isinstance(prune_top_k, (int, np.integer)) or prune_top_k < 1:
        raise ValueError(f"prune_top_k must be a whole number >= 1, got {prune_top_k!r}")
    if not _is_number(prune_logp) or np.isnan(prune_logp):
        raise ValueError(f"prune_logp must be a number (-inf: no pruning), got {prune_logp!r}")
    if not _is_number(blank_skip) or not 0.0 < blank_skip <= 1.0:
        raise ValueError(f"blank_skip must lie in (0, 1] (1: never skip a frame), got {blank_skip!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool)


def prune(lp: np.ndarray, prune_top_k: int, prune_logp: float, blank_skip: float) -> Pruning:
    """Only the `prune_top_k` likeliest non-blank symbols with log-prob >= `prune_logp` extend at a
    frame, and a frame whose blank probability exceeds `blank_skip` extends nothing (check_pruning's settings)."""
    check_pruning(prune_top_k, prune_logp, blank_skip)
    n_frames, n_sym = lp.shape
    lp = np.concatenate([lp, np.full((n_frames, 1), NEG)], axis=1)
    k = max(1, min(prune_top_k, n_sym - 1))
    top = np.argpartition(-lp[:, 1:n_sym], k - 1, axis=1)[:, :k] + 1
    top_lp = np.take_along_axis(lp, top, axis=1)
    top_lp[top_lp < prune_logp] = NEG
    col = np.full((n_frames, n_sym + 1), -1)
    np.put_along_axis(col, top, np.where(top_lp > NEG, np.arange(k), -1), axis=1)
    active = (top_lp > NEG).any(axis=1)
    if blank_skip < 1.0:
        active &= lp[:, BLANK] <= np.log(blank_skip)
    return Pruning(lp, top, top_lp, col, active, k)


def advance(pb: np.ndarray, pnb: np.ndarray, last: np.ndarray, frame: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each prefix kept as it is through one frame: (new pb, new pnb, total = pb (+) pnb before)."""
    total = np.logaddexp(pb, pnb)
    return total + frame[BLANK], pnb + frame[last], total


def extensions(pb: np.ndarray, total: np.ndarray, new_pnb: np.ndarray, last: np.ndarray, ppos: np.ndarray,
               pr: Pruning, t: int) -> np.ndarray:
    """(n, k) log-prob of each prefix extended by each of frame t's symbols.

    Extending by the prefix's own last symbol needs a blank in between (only pb counts). An
    extension that re-creates a prefix already in the beam (ppos: each prefix's parent's place in
    the beam, -1 if absent) is added to that prefix's new_pnb, in place, and set to -inf here.
    """
    cand = pr.top[t]
    ext = np.where(last[:, None] == cand, pb[:, None], total[:, None]) + pr.top_lp[t]
    cols = pr.col[t, last]
    js = np.flatnonzero((ppos >= 0) & (cols >= 0))
    if js.size:
        r, c = ppos[js], cols[js]
        new_pnb[js] = np.logaddexp(new_pnb[js], ext[r, c])
        ext[r, c] = NEG
    return ext


def choose(stay: np.ndarray, grow: np.ndarray, beam_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The next beam, from the scores of n prefixes kept as they are, `stay` (n,), and grown by each of the frame's
    k symbols, `grow` (n, k): the `beam_size` best (unordered) but those of probability 0, as (places of the
    prefixes kept, and of each one grown its prefix's place and its symbol's column); all three empty where every
    score is -inf (the caller says why)."""
    scores = np.concatenate([stay, grow.ravel()])
    sel = np.argpartition(-scores, beam_size - 1)[:beam_size] if scores.size > beam_size else np.arange(scores.size)
    sel = sel[scores[sel] > NEG]
    n, k = len(stay), grow.shape[1]
    grown = sel[sel >= n] - n
    return sel[sel < n], grown // k, grown % k


class PrefixTrie:
    """Prefixes as nodes (node 0 = the empty prefix). A prefix that left the beam and comes back
    gets its old node, so "parent in the beam" stays a test on node ids."""

    def __init__(self) -> None:
        self.parent, self.token, self.first_frame = [-1], [-1], [-1]
        self._children: dict[tuple[int, int], int] = {}

    def child(self, node: int, sym: int, t: int) -> int:
        """The node of prefix `node` + `sym` (made at frame t if new)."""
        key = (node, sym)
        nd = self._children.get(key)
        if nd is None:
            nd = self._children[key] = len(self.parent)
            self.parent.append(node)
            self.token.append(sym)
            self.first_frame.append(t)
        return nd

    def parent_positions(self, ids: list[int]) -> np.ndarray:
        """(n,) the place of each beam prefix's parent in the beam `ids`, -1 where absent."""
        pos = {nd: j for j, nd in enumerate(ids)}
        return np.array([pos.get(self.parent[nd], -1) for nd in ids])

    def backtrace(self, node: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(tokens, frame at which each token first appeared) of prefix `node`."""
        toks, frames = [], []
        while node > 0:
            toks.append(self.token[node])
            frames.append(self.first_frame[node])
            node = self.parent[node]
        return tuple(reversed(toks)), tuple(reversed(frames))
