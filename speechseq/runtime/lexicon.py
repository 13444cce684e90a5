"""A word lexicon (a character trie) and a word trigram language model, for lexicon-constrained
CTC decoding (speechseq.runtime.lexicon_search). numpy only.

    lex = load_lexicon("models/words-en.npz")
    node = lex.trie.walk(encode("hous"))           # trie node of a partial word, -1 if none
    lex.lm.logp(lex.lm.id("cat"), h1=lex.lm.id("the"), h2=BOS)   # ln P(cat | <s> the)

The trie runs over CTC symbols (letters a..z = 2..27 and the apostrophe 28, speechseq.text): its
edges are sorted int64 keys node * CTC_SIZE + symbol with the child node of each (``children``
looks up many at once; -1: none), ``word`` (N,) the LM word id ending at each node (-1: not a
word); the Lexicon's ``search_smear`` (N + 1,) is the best unigram ln-probability of any word below
a node (the LM look-ahead; the last entry is the search's OOV node). Node 0 is the root (the empty
partial word).

The word LM is an interpolated Kneser-Ney trigram stored in backoff form, probabilities in
**natural log** (the unit of CTC log-probs). Word ids: 0 = <s> (a context only, never predicted),
1 = </s>, 2 = <unk>, 3.. = the words. For the vocabulary V' (every id but <s>):
    ln P(w | h2 h1) = tri[h2 h1 w]                                    if that trigram was seen
                    = bow2[h2 h1] + bi[h1 w]                          elif the bigram was seen
                    = bow2[h2 h1] + bow1[h1] + uni[w]                 otherwise
(bow2 = 0 for an unseen history), which sums to 1 over V' for every context.

File: an .npz (no pickle) with the arrays words (V,) str, uni (V,), bow1 (V,), bi_keys (B,) int64
= h1 * V + w (sorted), bi (B,), h2_keys (H,) int64 = h2 * V + h1 (sorted), bow2 (H,), tri_keys (G,)
int64 = (h2 * V + h1) * V + w (sorted), tri (G,), and meta: a JSON string (data, counts, discounts). The values
(uni, bow1, bi, bow2, tri) are finite numbers: load_lexicon refuses a NaN, an infinity, text or true/false.
Written by speechseq.train.wordlm.
"""
from __future__ import annotations

import itertools
import json
import os
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import SpeechseqError
from ..text import CTC_SIZE, VOCAB, encode

__all__ = ["BOS", "EOS_WORD", "UNK_WORD", "SPECIALS", "FORMAT", "LexiconError", "Trie", "WordLM", "Lexicon",
           "load_lexicon", "save_word_lm"]

BOS, EOS_WORD, UNK_WORD = 0, 1, 2
SPECIALS = ("<s>", "</s>", "<unk>")
FORMAT = "speechseq-wordlm-1"
_ARRAYS = ("words", "uni", "bow1", "bi_keys", "bi", "h2_keys", "bow2", "tri_keys", "tri")
_KINDS = {"b": "true/false", "U": "text", "S": "bytes", "c": "complex numbers", "M": "dates", "m": "time spans"}


# symbol of each character code below 128 (-1: none): Trie.from_words's table
_SYMBOL_OF_CODE = np.full(129, -1, np.int64)
_SYMBOL_OF_CODE[[ord(ch) for ch in VOCAB[1:CTC_SIZE]]] = np.arange(1, CTC_SIZE)


class LexiconError(SpeechseqError):
    """A lexicon file that is missing or malformed."""


class _Table:
    """A sorted int64 key -> float mapping; get(key) -> value or None."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        self.keys = np.ascontiguousarray(keys, dtype=np.int64)
        if len(self.keys) > 1 and not bool((np.diff(self.keys) > 0).all()):
            raise LexiconError("word LM keys are not sorted and unique")
        self.values = np.asarray(values)   # as stored (float32): float() of it is exact
        self._n = len(self.keys)

    def get(self, key: int, default: float | None = None) -> float | None:
        i = int(self.keys.searchsorted(key))
        return float(self.values[i]) if i < self._n and self.keys[i] == key else default


@dataclass(frozen=True)
class Trie:
    """Words as paths of CTC symbols. edges: (E,) int64 keys node * CTC_SIZE + symbol, sorted; targets: (E,) int32
    the child node of each; word, parent, depth: (N,) int32.

    Sorted edges, not a dense (N, CTC_SIZE) child table: a trie has N - 1 edges, so the table is 29 / 3 times the
    memory for the same lookups (14 against 1.5 MB for the shipped 52,000-word lexicon, which the listener holds)."""

    edges: np.ndarray
    targets: np.ndarray
    word: np.ndarray
    parent: np.ndarray
    depth: np.ndarray

    @classmethod
    def build(cls, spellings: Sequence[Sequence[int]], word_ids: Sequence[int]) -> "Trie":
        """A trie of `spellings` (each a sequence of symbols 2..CTC_SIZE-1); the node ending
        spellings[i] gets word id word_ids[i] (the first one, for a duplicate spelling)."""
        lens = np.fromiter((len(sp) for sp in spellings), np.int64, len(spellings))
        flat = np.fromiter(itertools.chain.from_iterable(spellings), np.int64, int(lens.sum()))
        return cls._from_symbols(flat, lens, np.asarray(word_ids, np.int64).reshape(-1))

    @classmethod
    def from_words(cls, words: Sequence[str], word_ids: Sequence[int]) -> "Trie":
        """`build` of normalised words (letters and apostrophes), their symbols looked up all at once: the shipped
        lexicon's 52,000 words in a tenth of the time of encoding each."""
        codes = np.frombuffer("".join(words).encode("utf-32-le"), np.uint32)
        flat = _SYMBOL_OF_CODE[np.minimum(codes, len(_SYMBOL_OF_CODE) - 1)]
        if (flat < 0).any():
            raise ValueError(f"character {chr(codes[np.argmax(flat < 0)])!r} is not in the vocabulary")
        lens = np.fromiter(map(len, words), np.int64, len(words))
        return cls._from_symbols(flat, lens, np.asarray(word_ids, np.int64).reshape(-1))

    @classmethod
    def _from_symbols(cls, flat: np.ndarray, lens: np.ndarray, word_ids: np.ndarray) -> "Trie":
        """The trie of the words whose symbols are `flat` cut at `lens`, built a depth at a time: the nodes of depth
        d + 1 are the distinct (node at depth d, symbol) pairs of the words that long, numbered in the order the
        words first reach them (node 0 the root, then the first letters, ...)."""
        bad = (flat < 2) | (flat >= CTC_SIZE)
        if bad.any():
            raise ValueError(f"symbol {int(flat[np.argmax(bad)])} cannot be part of a word (letters and apostrophe only)")
        starts = np.cumsum(lens) - lens
        node = np.zeros(len(lens), np.int64)            # each word's node so far
        keys, targets, parent, depth = [], [], [np.array([-1])], [np.array([0])]
        size = 1
        for d in range(int(lens.max()) if len(lens) else 0):
            reach = np.flatnonzero(lens > d)
            key = node[reach] * CTC_SIZE + flat[starts[reach] + d]
            uniq, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            order = np.argsort(first, kind="stable")     # new node r is the r-th pair met
            ids = np.empty(len(uniq), np.int64)
            ids[order] = size + np.arange(len(uniq))
            node[reach] = ids[inverse]
            keys.append(uniq)
            targets.append(ids)
            parent.append(uniq[order] // CTC_SIZE)
            depth.append(np.full(len(uniq), d + 1))
            size += len(uniq)
        word = np.full(size, -1, np.int32)
        ends, first = np.unique(node, return_index=True)   # each end node's first word
        word[ends[ends > 0]] = word_ids[first[ends > 0]]
        edges = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        kids = np.concatenate(targets) if targets else np.zeros(0, np.int64)
        order = np.argsort(edges, kind="stable")
        return cls(edges[order], kids[order].astype(np.int32), word, np.concatenate(parent).astype(np.int32),
                   np.concatenate(depth).astype(np.int32))

    def children(self, nodes: np.ndarray | int, symbols: np.ndarray | int) -> np.ndarray:
        """The child of each node by each symbol (nodes and symbols broadcast together), int32; -1 where the
        trie has no such edge (a node outside the trie, a symbol outside 0..CTC_SIZE-1: none)."""
        nodes, symbols = np.asarray(nodes, np.int64), np.asarray(symbols, np.int64)
        keys = nodes * CTC_SIZE + symbols
        if len(self.edges) == 0:
            return np.full(keys.shape, -1, np.int32)
        pos = np.minimum(self.edges.searchsorted(keys), len(self.edges) - 1)
        found = (self.edges[pos] == keys) & (symbols >= 0) & (symbols < CTC_SIZE) & (nodes >= 0) & (nodes < self.size)
        return np.where(found, self.targets[pos], np.int32(-1))

    @property
    def size(self) -> int:
        return len(self.word)

    def walk(self, symbols: Sequence[int], node: int = 0) -> int:
        """The node reached from `node` by `symbols`, or -1 when that path leaves the trie."""
        edges, n = self.edges, len(self.edges)
        for sym in symbols:  # one search a symbol, in Python ints (`children` is for arrays)
            if not 0 <= node < self.size or not 0 <= sym < CTC_SIZE:
                return -1
            key = node * CTC_SIZE + sym
            i = int(edges.searchsorted(key))
            if i == n or int(edges[i]) != key:
                return -1
            node = int(self.targets[i])
        return node

    def is_prefix(self, text: str) -> bool:
        """Is `text` (one partial word, normalised) the beginning of a lexicon word?"""
        return self.walk(encode(text)) >= 0

    def word_at(self, text: str) -> int:
        """The word id of `text` when it is a lexicon word, else -1."""
        node = self.walk(encode(text))
        return int(self.word[node]) if node > 0 else -1

    def subtree_max(self, values: np.ndarray) -> np.ndarray:
        """(N,) for each node the max of `values` (indexed by word id) over the words at or below
        it; -inf where none (cannot happen in a trie built from words)."""
        out = np.full(self.size, -np.inf)
        ends = self.word >= 0
        out[ends] = values[self.word[ends]]
        for d in range(int(self.depth.max()), 0, -1):   # children before parents
            nodes = np.flatnonzero(self.depth == d)
            np.maximum.at(out, self.parent[nodes], out[nodes])
        return out


class WordLM:
    """A backoff word trigram (see the module docstring); ln-probabilities, float64 lookups."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        missing = [k for k in _ARRAYS if k not in arrays]
        if missing:
            raise LexiconError(f"word LM arrays missing: {', '.join(missing)}")
        self.words = [str(w) for w in arrays["words"]]
        if tuple(self.words[:3]) != SPECIALS:
            raise LexiconError(f"the first words must be {SPECIALS}, got {tuple(self.words[:3])}")
        self.size = len(self.words)
        if self.size >= 2 ** 21:
            raise LexiconError(f"vocabulary of {self.size} words is too large (trigram keys are int64)")
        # the word strings live once, in self.words (the file's array of them is not kept)
        self._arrays = {k: np.asarray(arrays[k]) for k in _ARRAYS if k != "words"}
        for group in (("uni", "bow1"), ("bi_keys", "bi"), ("h2_keys", "bow2"), ("tri_keys", "tri")):
            sizes = [self._arrays[k].shape for k in group]
            want = (self.size,) if group[0] == "uni" else sizes[0][:1]
            if any(size != want for size in sizes):
                raise LexiconError(f"word LM arrays {', '.join(group)} of shapes {sizes}, not {want} each"
                                   + (f" ({self.size} words)" if group[0] == "uni" else ""))
        for k in ("uni", "bow1", "bi", "bow2", "tri"):   # a NaN scored every hypothesis that met it nan, ranked last
            a = self._arrays[k]
            what = (None if a.dtype.kind in "fiu" and np.isfinite(a).all() else "NaN or infinite values"
                    if a.dtype.kind == "f" else _KINDS.get(a.dtype.kind, f"{a.dtype} values"))
            if what:
                raise LexiconError(f"word LM array {k} holds {what}, not ln-probabilities")
        self.meta = dict(meta or {})
        self.uni = self._arrays["uni"].astype(np.float64)
        self.bow1 = self._arrays["bow1"].astype(np.float64)
        self._index = {w: i for i, w in enumerate(self.words)}
        # Sorted int64 keys searched with searchsorted: a tenth of the memory of dicts (the
        # listener's resident size counts), about a microsecond a lookup.
        self._bi, self._bow2, self._tri = (_Table(self._arrays[k], self._arrays[v]) for k, v in
                                           (("bi_keys", "bi"), ("h2_keys", "bow2"), ("tri_keys", "tri")))

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays of the file (for save_word_lm)."""
        return {**self._arrays, "words": np.array(self.words, dtype=str)}

    def id(self, word: str) -> int:
        """The id of `word`, or UNK_WORD."""
        return self._index.get(word, UNK_WORD)

    def logp(self, w: int, h1: int, h2: int) -> float:
        """ln P(w | h2 h1): h1 the previous word, h2 the one before (BOS at a sentence start)."""
        v = self.size
        p = self._tri.get((h2 * v + h1) * v + w)
        if p is not None:
            return p
        b = self._bow2.get(h2 * v + h1, 0.0)
        p = self._bi.get(h1 * v + w)
        return b + p if p is not None else b + self.bow1[h1] + self.uni[w]

    def next_logprobs(self, h1: int, h2: int) -> np.ndarray:
        """(V,) ln P(w | h2 h1) for every id w (ln P(<s>) is very negative: never predicted)."""
        return np.array([self.logp(w, h1, h2) for w in range(self.size)])

    def sentence_logp(self, text: str) -> float:
        """ln P(words </s>) of a normalised sentence, from <s> <s>; unknown words count as <unk>."""
        h2, h1, total = BOS, BOS, 0.0
        for w in [*(self.id(x) for x in text.split()), EOS_WORD]:
            total += self.logp(w, h1, h2)
            h2, h1 = h1, w
        return total


class Lexicon:
    """The trie of the word LM's vocabulary (ids 3..), with the unigram look-ahead per node."""

    def __init__(self, lm: WordLM) -> None:
        self.lm = lm
        ids = range(len(SPECIALS), lm.size)
        trie = Trie.from_words(lm.words[len(SPECIALS):], list(ids))
        smear = trie.subtree_max(lm.uni)
        smear[0] = 0.0            # the empty partial word commits to nothing
        # The search's tables: the trie's nodes plus one, OOV, whose every letter leads back to itself, and a last
        # key above any other, so that a lookup's position is always inside the table (search_children).
        self.trie = trie
        oov, letters = trie.size, np.arange(2, CTC_SIZE)
        self._search_edges = np.concatenate([trie.edges, oov * CTC_SIZE + letters, [np.iinfo(np.int64).max]])
        self._search_targets = np.concatenate([trie.targets, np.full(len(letters) + 1, oov, np.int32)])
        self.search_word = np.append(trie.word, -1)
        self.search_smear = np.append(smear, 0.0)

    @property
    def oov_node(self) -> int:
        """The search's out-of-vocabulary node: one past the trie's."""
        return self.trie.size

    def search_children(self, nodes: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """`Trie.children` of int64 nodes 0..oov_node and symbols 0..CTC_SIZE-1 (broadcast; the search's call, not
        checked), with the OOV node: its letters (symbols 2..) lead back to it, blank and space nowhere."""
        keys = nodes * CTC_SIZE + symbols
        pos = self._search_edges.searchsorted(keys)
        return np.where(self._search_edges[pos] == keys, self._search_targets[pos], np.int32(-1))

    @property
    def vocabulary(self) -> list[str]:
        return self.lm.words[len(SPECIALS):]

    def oov_rate(self, texts: Sequence[str]) -> float:
        """Share of the running words of `texts` (normalised) that are not in the lexicon."""
        words = [w for t in texts for w in t.split()]
        return sum(self.trie.word_at(w) < 0 for w in words) / max(1, len(words))


def save_word_lm(path: str | os.PathLike, arrays: dict[str, np.ndarray], meta: dict) -> Path:
    """Write a word LM file (.npz, compressed, no pickled objects)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = {k: np.asarray(arrays[k]) for k in _ARRAYS}
    data["words"] = np.asarray([str(w) for w in arrays["words"]], dtype=str)
    data["meta"] = np.asarray(json.dumps({"format": FORMAT, **meta}))
    tmp = p.with_name(p.name + ".tmp.npz")
    np.savez_compressed(tmp, **data)
    os.replace(tmp, p)
    return p


def load_lexicon(path: str | os.PathLike) -> Lexicon:
    """Read a word LM file (speechseq.train.wordlm) and build its lexicon trie; LexiconError, naming the file,
    when it is missing, cut short or not a word LM of this format."""
    p = Path(path)
    if not p.is_file():
        raise LexiconError(f"{p}: no such lexicon file (make one with scripts/train_wordlm.py)")
    try:
        with open(p, "rb") as f:   # np.load of a .npy file is one array, no archive (it was a TypeError)
            if f.read(6) == b"\x93NUMPY":
                raise ValueError("one NumPy array (.npy), not a .npz archive of them")
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:  # cut short, damaged, no zip
        # numpy's words for a file that is no .npz speak of pickles and an unsafe load: never the advice here
        why = ("an array of Python objects, not of plain strings and numbers" if "Object arrays" in str(err)
               else "not a NumPy .npz archive" if "pickle" in str(err) else str(err) or err.__class__.__name__)
        raise LexiconError(f"{p}: not a word LM file ({why}; make one with scripts/train_wordlm.py)") from None
    try:
        meta = json.loads(str(arrays.pop("meta", "{}")))
    except json.JSONDecodeError as err:
        raise LexiconError(f"{p}: its meta is not valid JSON ({err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else meta
        raise LexiconError(f"{p}: format {got!r}, expected {FORMAT!r}")
    try:
        return Lexicon(WordLM(arrays, meta))
    except (LexiconError, ValueError, TypeError) as err:  # arrays of other lengths or types, a word outside VOCAB
        raise LexiconError(f"{p}: {err}") from None
