"""Review of the language-model side: the Kneser-Ney word trigram against a from-scratch reference,
bad input to the LM builders, perplexity of nothing, sampling limits, and normalisation cases."""
from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict

import numpy as np
import pytest

from speechseq.runtime.lexicon import BOS, WordLM
from speechseq.text import normalize
from speechseq.train.wordlm import kneser_ney, read_wordfreq

SENTS = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog", "the cat", "", "dog dog dog",
         "the cat sat", "on the mat the cat sat"]


def _reference_kn(sentences, min_count):
    """Interpolated KN straight from the module docstring's formulas, with dicts and sets."""
    freq = Counter(w for s in sentences for w in s.split())
    vocab = sorted((w for w, c in freq.items() if c >= min_count), key=lambda w: (-freq[w], w))
    words = ["<s>", "</s>", "<unk>", *vocab]
    tri = Counter()
    for s in sentences:
        t = ["<s>", "<s>", *(w if w in vocab else "<unk>" for w in s.split()), "</s>"]
        tri.update(tuple(t[i:i + 3]) for i in range(len(t) - 2))

    def discount(counts):
        n1, n2 = sum(c == 1 for c in counts), sum(c == 2 for c in counts)
        return min(max(n1 / (n1 + 2 * n2), 0.05), 0.95) if n1 + n2 else 0.5

    left2 = defaultdict(set)
    for a, b, c in tri:
        left2[b, c].add(a)
    bi = {k: len(v) for k, v in left2.items()}
    left1 = defaultdict(set)
    for b, c in bi:
        left1[c].add(b)
    uni = {k: len(v) for k, v in left1.items()}
    d1, d2, d3 = discount(uni.values()), discount(bi.values()), discount(tri.values())
    n_uni = sum(uni.values())

    def p1(c):
        return max(uni.get(c, 0) - d1, 0) / n_uni + d1 * len(uni) / n_uni / (len(words) - 1)

    def p2(c, b):
        tot = sum(v for (x, _), v in bi.items() if x == b)
        types = sum(1 for (x, _) in bi if x == b)
        return p1(c) if not tot else max(bi.get((b, c), 0) - d2, 0) / tot + d2 * types / tot * p1(c)

    def p3(c, a, b):
        tot = sum(v for (x, y, _), v in tri.items() if (x, y) == (a, b))
        types = sum(1 for (x, y, _) in tri if (x, y) == (a, b))
        return p2(c, b) if not tot else max(tri.get((a, b, c), 0) - d3, 0) / tot + d3 * types / tot * p2(c, b)

    return words, p3


@pytest.mark.parametrize("min_count", [1, 2])
def test_kneser_ney_equals_the_definition_in_every_context(min_count):
    lm = WordLM(*kneser_ney(SENTS, min_count=min_count))
    words, p3 = _reference_kn(SENTS, min_count)
    assert lm.words == words
    for h2, h1 in itertools.product(range(len(words)), repeat=2):   # seen, unseen and impossible contexts
        lp = lm.next_logprobs(h1, h2)
        p = np.exp(lp[1:])
        assert abs(p.sum() - 1.0) < 1e-5 and (p > 0).all()
        ref = [math.log(p3(words[w], words[h2], words[h1])) for w in range(1, len(words))]
        np.testing.assert_allclose(lp[1:], ref, atol=1e-5)
    assert lm.next_logprobs(BOS, BOS)[BOS] < -50


def test_kneser_ney_refuses_an_empty_corpus():
    # It returned a model of NaN log-probabilities (0 / 0 in the unigrams), saved without a word.
    with pytest.raises(ValueError, match="no sentence"):
        kneser_ney([])


@pytest.mark.parametrize("sentence", ["a <unk> b", "the <s> end", "The Cat.", "rock n' roll"])
def test_kneser_ney_refuses_words_the_recogniser_cannot_spell(sentence):
    # "<unk>" in the text became a second "<unk>" word id; capitals and punctuation only failed when the
    # saved file was loaded (the trie), after the work was done.
    with pytest.raises(ValueError, match="normali"):
        kneser_ney(["a cat", sentence])
    bad = [w for w in sentence.split() if w not in ("a", "b", "the", "end", "rock", "roll", "<unk>", "<s>")]
    if bad:   # a background list's specials are skipped, as before
        with pytest.raises(ValueError, match="normali"):
            kneser_ney(["a cat"], background={bad[0]: 0.1})


@pytest.mark.parametrize("share", [0.0, -0.5, 1.5, float("nan")])
def test_kneser_ney_refuses_a_uniform_share_outside_0_1(share):
    # 0 gave <unk> probability 0 (ln = -inf); outside [0, 1] negative probabilities.
    with pytest.raises(ValueError, match="uniform_share"):
        kneser_ney(["a cat sat"], background={"dog": 0.1}, uniform_share=share)


def test_read_wordfreq_keeps_only_words_normalisation_can_give(tmp_path):
    # normalize() never leaves an apostrophe at a word's end (nor two in a row): "goin'" could never be right.
    import gzip

    import msgpack

    f = tmp_path / "w.msgpack.gz"
    f.write_bytes(gzip.compress(msgpack.packb([{"format": "cB"}, ["the", "goin'", "o''clock", "don't"]])))
    got = read_wordfreq(f, 10)
    assert list(got) == ["the", "don't"]
    assert all(normalize(w) == w for w in got)


def test_perplexity_of_no_sentence_is_an_error():
    # It returned {"ppl": 1.0, "nll": 0.0}: a perfect model.
    torch = pytest.importorskip("torch")
    from speechseq.nn.text import CharLM, LMConfig
    from speechseq.train.lm import perplexity

    torch.manual_seed(0)
    model = CharLM(LMConfig(embed_dim=4, hidden=8, layers=1))
    with pytest.raises(ValueError, match="no sentence"):
        perplexity(model, [])


def test_perplexity_is_per_character_with_eos():
    torch = pytest.importorskip("torch")
    from speechseq.nn.text import CharLM, LMConfig
    from speechseq.text import EOS, SOS, encode
    from speechseq.train.lm import perplexity

    torch.manual_seed(0)
    model = CharLM(LMConfig(embed_dim=4, hidden=8, layers=1, dropout=0.0)).eval()
    sents = ["the cat", "a", "", "dogs and cats run"]
    nll, n = 0.0, 0
    with torch.no_grad():
        for s in sents:
            ids = [SOS, *encode(s), EOS]
            lp = torch.log_softmax(model(torch.tensor([ids[:-1]]))[0], -1)[0]
            nll -= float(sum(lp[k, ids[k + 1]] for k in range(len(ids) - 1)))
            n += len(s) + 1
    r = perplexity(model, sents, batch_tokens=10)
    assert r["nll"] == pytest.approx(nll / n, rel=1e-5)
    assert r["ppl"] == pytest.approx(math.exp(nll / n), rel=1e-5) and r["bpc"] == pytest.approx(nll / n / math.log(2))


def test_sample_refuses_a_prefix_longer_than_max_chars(tmp_path):
    # The docstring promises at most max_chars characters; a longer prefix came back whole.
    torch = pytest.importorskip("torch")
    from speechseq.nn.text import CharLM, LMConfig
    from speechseq.runtime.lm import OnnxLM, sample
    from speechseq.train.export_lm import export_lm

    torch.manual_seed(0)
    export_lm(CharLM(LMConfig(embed_dim=4, hidden=8, layers=1)).eval(), tmp_path / "lm.onnx")
    lm = OnnxLM(tmp_path / "lm.onnx")
    with pytest.raises(ValueError, match="max_chars"):
        sample(lm, np.random.default_rng(0), prefix="the president", max_chars=5)
    assert len(sample(lm, np.random.default_rng(0), prefix="the", max_chars=5)) <= 5


@pytest.mark.parametrize("raw,expected", [
    # currencies written before the amount were read after it ("pounds five")
    ("It cost £5 in 2001", "it cost five pounds in two thousand one"),
    ("€10.25 each", "ten euros and twenty five cents each"),
    ("£3.50", "three pounds and fifty pence"),
    # singular units, cents that round to nothing, amounts with a scale word
    ("$1", "one dollar"),
    ("$1.00 or $1.01", "one dollar or one dollar and one cent"),
    ("$3.001", "three dollars"),
    ("$0.50", "fifty cents"),
    ("$5 million and $1.5 billion", "five million dollars and one point five billion dollars"),
    # decades: a stray "s" word
    ("the 1990s and the '80s", "the nineteen nineties and the eighties"),
    ("the 1800's", "the eighteen hundreds"),
    ("in the 10s", "in the tens"),
    # commas that do not group thousands
    ("1,2,3", "one two three"),
    ("1,000,000 and 12,5", "one million and twelve five"),
    # letters NFKD does not decompose split a word in two; accent-like apostrophes split it too
    ("Straße, Søren, Æsir, Łódź, œuvre", "strasse soren aesir lodz oeuvre"),
    ("don\u00b4t won\u02bct", "don't won't"),
])
def test_normalize_review_cases(raw, expected):
    assert normalize(raw) == expected
    assert normalize(expected) == expected


def test_normalize_keeps_what_it_did_right():
    assert normalize("$3.50 for 2 apples, 30% off") == "three dollars and fifty cents for two apples thirty percent off"
    assert normalize("the 21st, 1,984 and 1984") == "the twenty first one thousand nine hundred eighty four and " \
                                                     "nineteen eighty four"


def test_manifest_texts_reads_a_manifest_that_starts_with_a_byte_order_mark(tmp_path):
    """`train lm --exclude-manifest` called a JSONL manifest saved with a BOM (Windows editors) "not a JSONL
    manifest", while every other command reads it (load_manifest: utf-8-sig)."""
    from speechseq.train.lm import manifest_texts

    path = tmp_path / "m.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"audio_filepath": "a.wav", "text": "The Cat sat.", "split": "dev"}\n'
                     b'{"audio_filepath": "b.wav", "text": "Caf\xc3\xa9 time", "split": "train"}\n')
    assert manifest_texts(path) == ["the cat sat", "cafe time"]
    assert manifest_texts(path, "dev") == ["the cat sat"]
