"""Building the word trigram LM of the lexicon decoder: interpolated Kneser-Ney, numpy only.

    sents, _ = corpus_sentences(["../shared/data/text/ljspeech.txt"], exclude_manifests=[("kathleen.jsonl", "dev")])
    arrays, meta = kneser_ney(sents, min_count=1)
    save_word_lm("models/words-en.npz", arrays, meta)

Each sentence is read as <s> <s> w1 ... wn </s>. With c(.) raw trigram counts, N(. b c) the number
of distinct words seen before the bigram b c, N(. c) the number of distinct words seen before c,
and one absolute discount per order, D = n1 / (n1 + 2 n2) from that order's count-of-counts
(kept within [0.05, 0.95]; 0.5 when no count is 1 or 2):
    P3(c | a b) = max(c(a b c) - D3, 0) / c(a b .) + D3 N1+(a b .) / c(a b .) * P2(c | b)
    P2(c | b)   = max(N(. b c) - D2, 0) / N(. b .) + D2 N1+(b .) / N(. b .) * P1(c)
    P1(c)       = max(N(. c) - D1, 0) / N(. .) + D1 N1+(.) / N(. .) / |V'|
V' is every word id but <s> (</s> and <unk> included): the uniform share gives <unk> and words
rarer than `min_count` (mapped to <unk>) their probability. With a `background` word list (word ->
relative frequency, e.g. wordfreq's English list), its words join the vocabulary and the uniform
1 / |V'| becomes Q(c) = (1 - u) B(c) + u / |V'|, B the list's frequencies normalised over V':
words the text never had get the share of P1 that KN gives unseen continuations, in proportion to
how common they are in general English. The result is stored in backoff form
(speechseq.runtime.lexicon), in natural log.
"""
from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from ..runtime.lexicon import BOS, EOS_WORD, SPECIALS, UNK_WORD

__all__ = ["corpus_sentences", "kneser_ney", "read_wordfreq"]

# A word as speechseq.text.normalize leaves it: letters, an apostrophe only between two of them.
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def corpus_sentences(text_files: Iterable[str | os.PathLike],
                     exclude_manifests: Sequence[tuple[str | os.PathLike, str | None]] = ()) -> tuple[list[str], int]:
    """(normalised sentences of `text_files` with duplicates removed and every sentence that
    overlaps a transcript of the excluded manifests dropped, number of excluded transcripts).
    exclude_manifests: (JSONL path, split or None for every row) pairs. Same rules as the
    character LM's corpus (speechseq.train.lm.load_corpus)."""
    from .lm import load_corpus, manifest_texts   # torch is imported there; training side only

    exclude = [t for path, split in exclude_manifests for t in manifest_texts(path, split)]
    return load_corpus(list(text_files), exclude=exclude), len(set(exclude))


def read_wordfreq(path: str | os.PathLike, n_words: int) -> dict[str, float]:
    """The `n_words` most frequent words of a wordfreq list file (e.g. wordfreq/data/large_en.msgpack.gz
    from the `wordfreq` wheel: gzip'd msgpack, a header then one list of words per centibel bin,
    bin i holding the words of frequency 10^(-i/100)) that a normalised transcript can hold
    (a-z, an apostrophe only between two letters: speechseq.text.normalize): word -> frequency."""
    import gzip

    import msgpack

    with gzip.open(path, "rb") as f:
        data = msgpack.unpackb(f.read(), raw=False)
    if (not isinstance(data, list) or not data or not isinstance(data[0], dict) or data[0].get("format") != "cB"
            or not all(isinstance(b, list) and all(isinstance(w, str) for w in b) for b in data[1:])):
        raise ValueError(f"{path}: not a wordfreq cB list")
    out: dict[str, float] = {}
    if n_words < 1:   # none asked (--background-words 0): the loop below would take its first word
        return out
    for i, words in enumerate(data[1:]):
        for w in words:
            if _WORD.fullmatch(w) and w not in out:
                out[w] = 10.0 ** (-i / 100)
                if len(out) >= n_words:
                    return out
    return out


def _discount(counts: np.ndarray) -> float:
    n1, n2 = int(np.sum(counts == 1)), int(np.sum(counts == 2))
    return float(np.clip(n1 / (n1 + 2 * n2), 0.05, 0.95)) if n1 + n2 else 0.5


def _group(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sums and counts of `values` per distinct key: (unique keys, inverse, sums, counts)."""
    uniq, inv = np.unique(keys, return_inverse=True)
    return uniq, inv, np.bincount(inv, weights=values), np.bincount(inv)


def kneser_ney(sentences: Sequence[str], min_count: int = 1, background: Mapping[str, float] | None = None,
               uniform_share: float = 0.1) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays of a word LM file (see speechseq.runtime.lexicon) and its meta (counts,
    discounts). Words seen fewer than `min_count` times are left out of the vocabulary (unless the
    `background` list has them); `uniform_share` is u above, in (0, 1]. ValueError for no sentence,
    or a word of the sentences or the list that is not normalised (speechseq.text.normalize)."""
    if not sentences:
        raise ValueError("no sentence to build a word LM from")
    if not 0.0 < uniform_share <= 1.0:  # 0: <unk> gets probability 0; outside: negative probabilities
        raise ValueError(f"uniform_share must be in (0, 1], got {uniform_share}")
    freq = Counter(w for s in sentences for w in s.split())
    bad = next((w for w in [*freq, *(w for w in background or {} if w not in SPECIALS)]
                if not _WORD.fullmatch(w)), None)
    if bad is not None:  # "<unk>" would be a second word id, "The" a word the trie cannot spell
        raise ValueError(f"word {bad!r} is not normalised text (a-z and inner apostrophes): normalize() the "
                         "sentences first")
    vocab = sorted((w for w, c in freq.items() if c >= min_count), key=lambda w: (-freq[w], w))
    seen = set(vocab)
    extra = sorted((w for w in (background or {}) if w not in seen and w not in SPECIALS),
                   key=lambda w: (-background[w], w))
    words = [*SPECIALS, *vocab, *extra]
    index = {w: i for i, w in enumerate(words)}
    v = len(words)
    toks: list[int] = []
    for s in sentences:
        toks += [BOS, BOS, *(index.get(w, UNK_WORD) for w in s.split()), EOS_WORD]
    t = np.array(toks, np.int64)
    # Trigrams never straddle sentences: the two <s> that open a sentence end the previous one.
    a, b, c = t[:-2], t[1:-1], t[2:]
    ok = c != BOS
    ok &= ~((b == BOS) & (a != BOS))  # "</s> <s> x" is not a trigram (x follows <s> <s>)
    tri_all = ((a * v + b) * v + c)[ok]
    tri_keys, tri_counts = np.unique(tri_all, return_counts=True)
    d3 = _discount(tri_counts)
    h3, h3_inv, h3_total, h3_types = _group(tri_keys // v, tri_counts.astype(np.float64))
    # Continuation counts: distinct left words of each bigram, and of each word.
    bi_keys, bi_cc = np.unique(tri_keys % (v * v), return_counts=True)
    d2 = _discount(bi_cc)
    h1, h1_inv, h1_total, h1_types = _group(bi_keys // v, bi_cc.astype(np.float64))
    uni_cc = np.bincount(bi_keys % v, minlength=v).astype(np.float64)
    uni_cc[BOS] = 0.0
    d1 = _discount(uni_cc[uni_cc > 0])
    total1, types1 = uni_cc.sum(), np.count_nonzero(uni_cc)
    floor = np.full(v, 1.0 / (v - 1))  # the lowest order's target over V' (every id but <s>)
    if background:
        b = np.array([float(background.get(w, 0.0)) for w in words])
        b[BOS] = 0.0
        if b.sum() > 0:
            floor = (1.0 - uniform_share) * b / b.sum() + uniform_share * floor
    floor[BOS] = 0.0
    p1 = np.maximum(uni_cc - d1, 0.0) / total1 + d1 * types1 / total1 * floor
    p1[BOS] = 0.0
    bow1 = np.ones(v)
    bow1[h1] = d2 * h1_types / h1_total
    p2 = np.maximum(bi_cc - d2, 0.0) / h1_total[h1_inv] + bow1[bi_keys // v] * p1[bi_keys % v]
    bow2 = d3 * h3_types / h3_total
    pos = np.searchsorted(bi_keys, tri_keys % (v * v))   # every trigram's bigram was counted
    p3 = np.maximum(tri_counts - d3, 0.0) / h3_total[h3_inv] + bow2[h3_inv] * p2[pos]
    with np.errstate(divide="ignore"):
        uni = np.log(p1)
    uni[BOS] = -99.0
    arrays = {"words": np.array(words, dtype=str), "uni": uni.astype(np.float32),
              "bow1": np.log(bow1).astype(np.float32), "bi_keys": bi_keys, "bi": np.log(p2).astype(np.float32),
              "h2_keys": h3, "bow2": np.log(bow2).astype(np.float32), "tri_keys": tri_keys,
              "tri": np.log(p3).astype(np.float32)}
    meta = {"order": 3, "smoothing": "interpolated Kneser-Ney, one discount per order", "log": "natural",
            "sentences": len(sentences), "tokens": int(sum(freq.values())), "vocabulary": len(vocab) + len(extra),
            "vocabulary_from_text": len(vocab), "vocabulary_from_background": len(extra),
            "min_count": min_count, "discounts": [round(d1, 4), round(d2, 4), round(d3, 4)],
            "ngrams": [int(np.count_nonzero(uni_cc)), int(len(bi_keys)), int(len(tri_keys))]}
    return arrays, meta
