"""Lexicon-constrained CTC prefix beam search with a word trigram LM (+ optional character LM).

    lex = load_lexicon("models/words-en.npz")
    hyps = lexicon_beam_search(log_probs, lex, LexiconOptions(beam_size=8))   # (T, V) -> best first

Every hypothesis is a character prefix, as in speechseq.runtime.decoding.prefix_beam_search (paths
summed over CTC alignments), whose last, unfinished word is followed in the lexicon trie. A word
ends at a space or at the end of the input; a hypothesis is ranked by
    log P_ctc + word_weight * (ln P_wordlm(finished words) + lookahead(partial word))
              + word_bonus * (finished words) - oov_penalty * (out-of-vocabulary words)
              [+ char_weight * ln P_charlm(characters) + char_bonus * (characters)]
where lookahead is the best unigram ln P of any lexicon word the partial word can still become
(0 for an empty one), replaced by the real trigram score when the word ends, and ln
P_wordlm(</s> | last two words) is added at the end. The out-of-vocabulary escape: a partial word
may leave the trie (at a letter the trie has no branch for) or end on a node that is not a word;
it then costs oov_penalty once, has no LM score, and the next word's context is <unk>. A space
cannot open a word or follow a space. States are functions of the prefix's text, so prefixes that
meet are merged as in the plain search.
"""
from __future__ import annotations

import numpy as np

from ..text import CTC_SIZE, EOS, SOS, SPACE, decode
from .ctc_prefix import PrefixTrie, advance, choose, extensions, prune
from .decoding import Hypothesis, LanguageModel, _check_log_probs, advance_lm, distinct_texts
from .lexicon import BOS, EOS_WORD, UNK_WORD, Lexicon
from .settings import LexiconOptions  # named here as before; defined there, without numpy, for --help

__all__ = ["LexiconOptions", "lexicon_beam_search"]

_NEG = -np.inf


def tuned_options(beam_size: int = 8, char_lm: bool = False) -> LexiconOptions:
    """The weights tuned in models/words-en.md (never on Kathleen dev): the defaults when the
    lexicon's word LM is alone, word bonus -1 and character LM 0.3 / bonus 1.0 with it fused."""
    if char_lm:
        return LexiconOptions(beam_size, word_bonus=-1.0, char_weight=0.3, char_bonus=1.0)
    return LexiconOptions(beam_size)


def lexicon_beam_search(log_probs: np.ndarray, lexicon: Lexicon, opts: LexiconOptions = LexiconOptions(),
                        lm: LanguageModel | None = None, *, distinct: bool = True) -> list[Hypothesis]:
    """Decode (T, V) CTC log-probs under `lexicon`; returns up to beam_size Hypothesis, best first, one per text
    (decoding.distinct_texts: "the cat " and "the cat" are the same words, scored alike by the word LM);
    distinct=False: every labelling in the beam.

    Hypothesis.lm_score is the word LM's ln P(words </s>) of the in-vocabulary words (OOV words
    contribute nothing); score is the full ranking score above. `lm` (a character LM) is used
    only when opts.char_weight != 0. Pruning as in prefix_beam_search (top-k symbols per frame,
    frames with blank probability above blank_skip extend nothing).

    beam_size 1 is no greedy decode kept to the lexicon: the one prefix grows only where that beats staying at once,
    and a new word pays its look-ahead (an OOV one its penalty) at its first letter, so whole words are left out
    (the first 20 Kathleen dev sentences with the shipped recogniser: 96 words written of 179 at beam 1, 144 at 2,
    173 at 4, 181 at 8; greedy 182).
    """
    lp = _check_log_probs(log_probs)
    o = opts
    fuse = lm is not None and o.char_weight != 0.0
    wlm = lexicon.lm
    n_frames, n_sym = lp.shape
    if n_sym > CTC_SIZE:
        raise ValueError(f"log_probs have {n_sym} symbols, the lexicon knows {CTC_SIZE}")
    ww, wb, op = o.word_weight, o.word_bonus, o.oov_penalty
    # Trie tables with one extra node, OOV, whose every letter leads back to itself (built once, by the Lexicon).
    oov = lexicon.oov_node
    word_of, smear = lexicon.search_word, lexicon.search_smear
    pr = prune(lp, o.prune_top_k, o.prune_logp, o.blank_skip)
    trie_p = PrefixTrie()
    ids = [0]
    pb, pnb = np.zeros(1), np.full(1, _NEG)
    last, ppos = np.full(1, n_sym), np.full(1, -1)
    node = np.zeros(1, np.int64)                       # trie node of the partial word
    h1, h2 = np.full(1, BOS), np.full(1, BOS)         # the last two finished words
    wsum, nwords, noov = np.zeros(1), np.zeros(1), np.zeros(1)
    end_lp, end_oov = np.zeros(1), np.zeros(1)        # what ending the partial word now would add
    n_chars, c_prev = np.zeros(1), np.zeros(1)
    cache: dict[tuple[int, int, int], float] = {}

    def word_logp(w: int, a: int, b: int) -> float:
        key = (w, a, b)
        v = cache.get(key)
        if v is None:
            v = cache[key] = wlm.logp(w, a, b)
        return v

    def ending(nodes: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(LM ln-prob, OOV count 0/1) that ending each partial word adds; (0, 0) at the root."""
        w = word_of[nodes]
        lpw = np.array([word_logp(int(x), int(y), int(z)) if x >= 0 else 0.0 for x, y, z in zip(w, a, b)])
        return lpw, ((w < 0) & (nodes > 0) & (nodes != oov)).astype(np.float64)   # OOV paid on leaving

    def bonus_of(wsum_, nwords_, noov_, node_, c_prev_, n_chars_):
        out = ww * (wsum_ + smear[node_]) + wb * nwords_ - op * noov_
        return out + o.char_weight * c_prev_ + o.char_bonus * n_chars_ if fuse else out

    bonus = bonus_of(wsum, nwords, noov, node, c_prev, n_chars)
    if fuse:
        lm_rows, lm_states = lm.step(np.array([SOS], dtype=np.int64), lm.initial_state())
        lm_rows = np.asarray(lm_rows, dtype=np.float64)
    for t in range(n_frames):
        new_pb, new_pnb, total = advance(pb, pnb, last, pr.lp[t])
        if not pr.active[t]:
            pb, pnb = new_pb, new_pnb
            continue
        cand = pr.top[t]
        ext = extensions(pb, total, new_pnb, last, ppos, pr, t)
        # The state each (prefix, symbol) extension would have.
        nxt = lexicon.search_children(node[:, None], cand[None, :])    # (n, k)
        is_space = (cand == SPACE)[None, :]
        leaves = (nxt < 0) & ~is_space
        g_node = np.where(is_space, 0, np.where(leaves, oov, nxt))
        g_wsum = wsum[:, None] + is_space * end_lp[:, None]
        g_nwords = nwords[:, None] + is_space
        g_noov = noov[:, None] + leaves + is_space * end_oov[:, None]
        grow = ext + bonus_of(g_wsum, g_nwords, g_noov, g_node, c_prev[:, None], n_chars[:, None] + 1)
        if fuse:
            grow = grow + o.char_weight * lm_rows[:, cand]
        grow[is_space & (node == 0)[:, None]] = _NEG                 # no empty words
        stay = np.logaddexp(new_pb, new_pnb) + bonus
        kept, rows, cidx = choose(stay, grow, o.beam_size)
        if kept.size + rows.size == 0:
            # the rows are checked (no row of -inf): what is left is a space where it would make an empty word
            raise ValueError(f"every prefix the lexicon search allows has probability 0 at frame {t} (it spells no "
                             "empty word: a space may neither open the text nor follow a space)")
        syms = cand[cidx]
        new_ids = [ids[j] for j in kept.tolist()]
        new_ids += [trie_p.child(ids[i], sym, t) for i, sym in zip(rows.tolist(), syms.tolist())]
        sp = syms == SPACE
        gn = g_node[rows, cidx]
        pb = np.concatenate([new_pb[kept], np.full(rows.size, _NEG)])
        pnb = np.concatenate([new_pnb[kept], ext[rows, cidx]])
        last = np.concatenate([last[kept], syms])
        finished = np.where(word_of[node[rows]] >= 0, word_of[node[rows]], UNK_WORD)
        n_h1 = np.where(sp, finished, h1[rows])
        n_h2 = np.where(sp, h1[rows], h2[rows])
        e_lp, e_oov = ending(gn, n_h1, n_h2)
        wsum = np.concatenate([wsum[kept], g_wsum[rows, cidx]])
        nwords = np.concatenate([nwords[kept], g_nwords[rows, cidx]])
        noov = np.concatenate([noov[kept], g_noov[rows, cidx]])
        node = np.concatenate([node[kept], gn])
        h1, h2 = np.concatenate([h1[kept], n_h1]), np.concatenate([h2[kept], n_h2])
        end_lp, end_oov = np.concatenate([end_lp[kept], e_lp]), np.concatenate([end_oov[kept], e_oov])
        if fuse:
            n_chars = np.concatenate([n_chars[kept], n_chars[rows] + 1])
            c_prev = np.concatenate([c_prev[kept], c_prev[rows] + lm_rows[rows, syms]])
            lm_rows, lm_states = advance_lm(lm, lm_rows, lm_states, kept, rows, syms)
        bonus = bonus_of(wsum, nwords, noov, node, c_prev, n_chars)
        ppos = trie_p.parent_positions(new_ids)
        ids = new_ids

    # The end: finish the partial word, then </s>.
    open_word = node > 0
    wsum = wsum + end_lp
    nwords = nwords + open_word
    noov = noov + end_oov
    finished = np.where(word_of[node] >= 0, word_of[node], UNK_WORD)
    f_h1, f_h2 = np.where(open_word, finished, h1), np.where(open_word, h1, h2)
    wsum = wsum + np.array([word_logp(EOS_WORD, int(a), int(b)) for a, b in zip(f_h1, f_h2)])
    ctc = np.logaddexp(pb, pnb)
    score = ctc + ww * wsum + wb * nwords - op * noov
    if fuse:
        score = score + o.char_weight * (c_prev + lm_rows[:, EOS]) + o.char_bonus * n_chars
    out = []
    for j in np.argsort(-score, kind="stable"):
        toks, frames = trie_p.backtrace(ids[j])
        out.append(Hypothesis(toks, decode(list(toks)), float(score[j]), float(ctc[j]), float(wsum[j]), frames))
    return distinct_texts(out) if distinct else out
