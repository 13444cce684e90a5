"""The word lexicon (trie), the Kneser-Ney word trigram LM, lexicon-constrained CTC beam search and
`--decoder lexicon` in the CLI. Tiny hand-made inputs; no shared data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from speechseq.cli import main
from speechseq.runtime.decoding import prefix_beam_search, word_timestamps
from speechseq.runtime.lexicon import BOS, EOS_WORD, UNK_WORD, Lexicon, LexiconError, Trie, WordLM, load_lexicon, \
    save_word_lm
from speechseq.runtime.lexicon_search import LexiconOptions, lexicon_beam_search
from speechseq.text import VOCAB, encode
from speechseq.train.wordlm import kneser_ney

ROOT = Path(__file__).resolve().parents[1]
SENTENCES = ["the cat sat on the mat", "the dog sat", "a cat ran on the road", "the cat ran home",
             "the dog ran to the cat", "a dog sat on a mat"]


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon(WordLM(*kneser_ney(SENTENCES)))


def _frames(spec: list[dict[str, float]]) -> np.ndarray:
    """CTC log-probs (2 * len(spec), 29): each dict's symbols ("_" = blank) on one frame, the rest of
    its mass on blank, then a frame of blank."""
    rows = []
    for d in spec:
        p = np.full(29, 1e-4)
        for ch, q in d.items():
            p[0 if ch == "_" else VOCAB.index(ch)] = q
        p[0] += max(0.0, 1.0 - sum(d.values()))
        blank = np.full(29, 1e-4)
        blank[0] = 1.0
        rows += [np.log(p / p.sum()), np.log(blank / blank.sum())]
    return np.array(rows)


def _spell(text: str, p: float = 0.9) -> list[dict[str, float]]:
    return [{ch: p} for ch in text]


def test_trie_prefixes_and_words():
    trie = Trie.build([encode(w) for w in ["cat", "cats", "car", "dog"]], [3, 4, 5, 6])
    assert trie.is_prefix("ca") and trie.is_prefix("cat") and trie.is_prefix("d")
    assert not trie.is_prefix("cx") and not trie.is_prefix("dogs") and not trie.is_prefix("a")
    assert [trie.word_at(w) for w in ["cat", "cats", "car", "dog", "ca", "do", "x"]] == [3, 4, 5, 6, -1, -1, -1]
    assert trie.size == 1 + 4 + 1 + 3                           # root, c-a-t-s, r, d-o-g
    assert trie.walk(encode("ca")) > 0 and trie.walk(encode("cab")) == -1
    look = trie.subtree_max(np.array([0, 0, 0, -1.0, -3.0, -2.0, -4.0]))
    assert look[trie.walk(encode("ca"))] == -1.0 and look[trie.walk(encode("cats"))] == -3.0
    assert look[trie.walk(encode("do"))] == -4.0
    with pytest.raises(ValueError):
        Trie.build([[1, 2]], [3])                               # a space inside a word


def test_children_are_the_dense_table():
    """The sorted edges answer every (node, symbol) pair as a dense child table built from the words would: the
    child or -1, -1 for symbols and nodes outside the trie; the search's OOV node keeps its letters."""
    words = ["cat", "cats", "car", "dog", "do", "don't", "a", "zebra", "zeal"]
    trie = Trie.build([encode(w) for w in words], list(range(3, 3 + len(words))))
    ids: dict[str, int] = {"": 0}          # each prefix's node: by length, then in the order the words meet them
    for d in range(1, max(map(len, words)) + 1):
        for w in words:
            if len(w) >= d:
                ids.setdefault(w[:d], len(ids))
    dense = np.full((len(ids), 29), -1)
    for prefix, node in ids.items():
        if prefix:
            dense[ids[prefix[:-1]], encode(prefix[-1])[0]] = node
    assert trie.size == len(ids) and (dense >= 0).sum() == trie.size - 1   # one edge per node but the root
    assert all(trie.walk(encode(p)) == n for p, n in ids.items())
    assert [trie.word[ids[w]] for w in words] == list(range(3, 3 + len(words)))
    assert all(trie.parent[n] == ids[p[:-1]] and trie.depth[n] == len(p) for p, n in ids.items() if p)
    assert trie.word[[n for p, n in ids.items() if p not in words]].tolist() == [-1] * (len(ids) - len(words))
    again = Trie.from_words(words + ["cat", ""], list(range(3, 5 + len(words))))   # a repeat: the first id stays
    assert all(np.array_equal(getattr(again, f), getattr(trie, f)) for f in ("edges", "targets", "word", "parent"))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        Trie.from_words(["café"], [3])
    with pytest.raises(ValueError, match="symbol 1 cannot"):
        Trie.from_words(["a b"], [3])
    nodes, syms = np.arange(trie.size)[:, None], np.arange(29)[None, :]
    assert np.array_equal(trie.children(nodes, syms), dense)
    assert trie.children(np.array([0, 0, -1, trie.size, 2 ** 62]), np.array([29, -1, 4, 4, 4])).tolist() == [-1] * 5
    assert trie.walk([4, 29]) == trie.walk([4, -1]) == trie.walk([4], node=trie.size) == -1
    assert Trie.build([], []).children(np.array([0]), np.array([4])).tolist() == [-1]

    lex = Lexicon(WordLM(*kneser_ney(["the cat sat", "a dog ran"])))
    oov = lex.oov_node
    assert oov == lex.trie.size
    n = np.arange(oov + 1, dtype=np.int64)[:, None]
    got = lex.search_children(n, np.arange(29, dtype=np.int64)[None, :])
    assert np.array_equal(got[:oov], lex.trie.children(n[:oov], syms))
    assert got[oov].tolist() == [-1, -1] + [oov] * 27              # blank and space lead nowhere, letters back


@pytest.mark.parametrize("context", [("<s>", "<s>"), ("<s>", "the"), ("the", "cat"), ("cat", "dog"),
                                     ("zebra", "the"), ("the", "zebra"), ("mat", "</s>")])
def test_word_lm_is_a_distribution(lexicon, context):
    lm = lexicon.lm
    p = np.exp(lm.next_logprobs(lm.id(context[1]), lm.id(context[0])))
    assert p[BOS] < 1e-30
    assert abs(p.sum() - 1.0) < 1e-5
    assert (p[1:] > 0).all()                                   # every word, </s> and <unk> possible


def test_word_lm_prefers_seen_continuations(lexicon):
    lm = lexicon.lm
    the, cat, sat, road = lm.id("the"), lm.id("cat"), lm.id("sat"), lm.id("road")
    assert lm.logp(cat, the, BOS) > lm.logp(road, the, BOS)
    assert lm.logp(sat, cat, the) > lm.logp(road, cat, the)
    assert lm.id("zebra") == UNK_WORD and lm.logp(EOS_WORD, lm.id("mat"), the) > np.log(0.3)
    assert lm.sentence_logp("the cat sat") > lm.sentence_logp("sat cat the")
    meta = lm.meta
    assert meta["vocabulary"] == 11 and meta["ngrams"][0] == 12 and all(0 < d < 1 for d in meta["discounts"])


BACKGROUND = {"the": 0.05, "cat": 0.001, "zebra": 0.0004, "music": 0.0002, "kitchen": 0.0001}


@pytest.mark.parametrize("context", [("<s>", "<s>"), ("the", "cat"), ("the", "zebra"), ("cat", "dog")])
def test_background_words_join_and_it_stays_a_distribution(context):
    """A general word list (wordfreq's, for the shipped LM) adds its words to the vocabulary, with
    the lowest order's unseen-continuation share split by their frequency."""
    lm = Lexicon(WordLM(*kneser_ney(SENTENCES, background=BACKGROUND))).lm
    assert lm.meta["vocabulary"] == 11 + 3 and lm.meta["vocabulary_from_background"] == 3
    zebra, music, kitchen = lm.id("zebra"), lm.id("music"), lm.id("kitchen")
    assert min(zebra, music, kitchen) > UNK_WORD                 # in the vocabulary now
    p = np.exp(lm.next_logprobs(lm.id(context[1]), lm.id(context[0])))
    assert abs(p.sum() - 1.0) < 1e-5 and p[BOS] < 1e-30 and (p[1:] > 0).all()
    uni = np.exp(lm.next_logprobs(lm.id("zzz"), lm.id("zzz")))  # unknown context: backs off to the unigrams
    assert uni[zebra] > uni[music] > uni[kitchen]             # in the order of the list's frequencies
    # the seen words keep most of the mass: a text word beats any background-only word
    assert uni[lm.id("road")] > uni[zebra]
    plain = Lexicon(WordLM(*kneser_ney(SENTENCES))).lm
    assert plain.id("music") == UNK_WORD


def test_build_load_round_trip(lexicon, tmp_path):
    path = save_word_lm(tmp_path / "w.npz", lexicon.lm.arrays, {**lexicon.lm.meta, "note": "x"})
    lex = load_lexicon(path)
    assert lex.vocabulary == lexicon.vocabulary and lex.lm.meta["note"] == "x"
    for ctx in [(BOS, BOS), (BOS, lex.lm.id("the")), (lex.lm.id("dog"), lex.lm.id("ran"))]:
        assert np.allclose(lex.lm.next_logprobs(ctx[1], ctx[0]), lexicon.lm.next_logprobs(ctx[1], ctx[0]))
    np.load(path, allow_pickle=False)["words"]                  # readable without pickle
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(LexiconError):
        load_lexicon(tmp_path / "bad.npz")
    with pytest.raises(LexiconError):
        load_lexicon(tmp_path / "missing.npz")



def _damaged(arrays: dict, how: str) -> dict:
    """The arrays of a word LM file (meta included), damaged as `how` says."""
    a = dict(arrays)
    if how == "meta not JSON":
        a["meta"] = np.asarray("{not json")
    elif how == "meta a list":
        a["meta"] = np.asarray("[1]")
    elif how == "uni short":
        a["uni"] = a["uni"][:2]
    elif how == "tri short":
        a["tri"] = a["tri"][:1]
    elif how == "a word outside the vocabulary":
        a["words"] = np.asarray([*a["words"][:3], "Hello!", *a["words"][4:]])
    elif how == "bigrams missing":
        del a["bi"]
    elif how == "a NaN trigram":
        a["tri"] = np.where(np.arange(len(a["tri"])) == 0, np.nan, a["tri"])
    elif how == "unigrams as text":
        a["uni"] = a["uni"].astype(str)
    elif how == "unigrams true/false":
        a["uni"] = a["uni"] < -2
    return a


@pytest.mark.parametrize("how, says", [("meta not JSON", "its meta is not valid JSON"),
                                       ("meta a list", "format [1], expected"),
                                       ("uni short", "word LM arrays uni, bow1 of shapes"),
                                       ("tri short", "word LM arrays tri_keys, tri of shapes"),
                                       ("a word outside the vocabulary", "character 'H' is not in the vocabulary"),
                                       ("bigrams missing", "word LM arrays missing: bi"),
                                       ("a NaN trigram", "word LM array tri holds NaN or infinite values"),
                                       ("unigrams as text", "word LM array uni holds text, not ln-probabilities"),
                                       ("unigrams true/false", "word LM array uni holds true/false, not"),
                                       ("cut short", "not a word LM file (File is not a zip file"),
                                       ("bytes damaged", "not a word LM file ("),
                                       ("one .npy array", "not a word LM file (one NumPy array (.npy), not a .npz")])
def test_a_damaged_lexicon_file_is_one_error_naming_it(lexicon, tmp_path, capsys, how, says):
    """Each was a traceback (JSONDecodeError, AttributeError, IndexError, ValueError, BadZipFile, zlib.error), an
    error without the file's name, or (tri short) a file taken that fails in the middle of a search. A NaN trigram, or
    probabilities of text or true/false, were taken: the NaN made every hypothesis that used it score nan, ranked last
    whatever its evidence, with a RuntimeWarning; text was parsed lookup by lookup, true/false read as 0 and 1."""
    good = save_word_lm(tmp_path / "good.npz", lexicon.lm.arrays, lexicon.lm.meta)
    bad = tmp_path / "bad.npz"
    raw = good.read_bytes()
    if how == "cut short":
        bad.write_bytes(raw[: len(raw) // 2])
    elif how == "bytes damaged":   # inside the compressed words: zlib's error or a bad CRC, whichever it meets
        bad.write_bytes(raw[:60] + bytes(b ^ 0xFF for b in raw[60:400]) + raw[400:])
    elif how == "one .npy array":   # np.load gives an array, no archive: a TypeError traceback (no context manager)
        with bad.open("wb") as f:
            np.save(f, np.arange(3))
    else:
        with np.load(good, allow_pickle=False) as z:
            np.savez(bad, **_damaged({k: z[k] for k in z.files}, how))
    with pytest.raises(LexiconError) as err:
        load_lexicon(bad)
    assert str(err.value).startswith(f"{bad}: ") and says in str(err.value)
    sample = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
    assert main(["transcribe", str(sample), "--decoder", "lexicon", "--lexicon", str(bad), "--lm", "none"]) == 1
    assert capsys.readouterr().err.strip() == f"speechseq: error: --lexicon {err.value}"  # its option named too


def test_lexicon_corrects_a_small_acoustic_margin(lexicon):
    opts = LexiconOptions(word_weight=1.0, word_bonus=1.0, oov_penalty=6.0)
    small = _frames(_spell("the ") + [{"k": 0.55, "c": 0.4}] + _spell("at"))
    assert prefix_beam_search(small, 8)[0].text == "the kat"
    best = lexicon_beam_search(small, lexicon, opts)[0]
    assert best.text == "the cat"
    assert best.lm_score == pytest.approx(lexicon.lm.sentence_logp("the cat"), abs=1e-9)
    # The same labelling as the plain search's runner-up (its paths pruned a little differently).
    runner_up = prefix_beam_search(small, 8)[1]
    assert runner_up.text == "the cat" and best.ctc_score == pytest.approx(runner_up.ctc_score, abs=1e-2)
    large = _frames(_spell("the ") + [{"k": 0.97, "c": 0.001}] + _spell("at"))
    assert lexicon_beam_search(large, lexicon, opts)[0].text == "the kat"     # the acoustic answer (OOV)


def test_oov_escape_and_its_penalty(lexicon):
    lp = _frames(_spell("the zog sat"))
    assert lexicon_beam_search(lp, lexicon, LexiconOptions(oov_penalty=5.0))[0].text == "the zog sat"
    # Without the escape (a prohibitive penalty) only lexicon words come out.
    words = lexicon_beam_search(lp, lexicon, LexiconOptions(oov_penalty=1e4))[0].text.split()
    assert words and all(lexicon.trie.word_at(w) >= 0 for w in words)
    # A partial word that ends on a trie node that is no word is an OOV word too: "ca" -> "cat"/"car"...
    assert lexicon_beam_search(_frames(_spell("ca")), lexicon, LexiconOptions(oov_penalty=1e4))[0].text != "ca"


def test_without_weights_it_is_plain_beam_search(lexicon):
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2.0, (60, 29))
    logits[:, 1] = -30.0                                        # no spaces: the one constraint not in play
    lp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    plain = prefix_beam_search(lp, 8)
    lex = lexicon_beam_search(lp, lexicon, LexiconOptions(word_weight=0.0, word_bonus=0.0, oov_penalty=0.0))
    assert [h.text for h in lex] == [h.text for h in plain]
    assert np.allclose([h.ctc_score for h in lex], [h.ctc_score for h in plain])


def test_no_empty_words_and_timestamps(lexicon):
    lp = _frames([{" ": 0.9}] + _spell("the") + [{" ": 0.9}, {" ": 0.9}] + _spell("cat") + [{" ": 0.9}])
    best = lexicon_beam_search(lp, lexicon, LexiconOptions())[0]
    assert best.text.strip() == "the cat" and "  " not in best.text and not best.text.startswith(" ")
    words = word_timestamps(lp, best, 0.04)
    assert [w.word for w in words] == ["the", "cat"] and words[0].end <= words[1].start


@pytest.mark.parametrize("labels, frame", [(" -c-a-t", 0), ("-c-a-t- - -s-a-t-", 9)])
def test_a_space_the_lexicon_search_cannot_spell_is_named(lexicon, labels, frame):
    # One-hot log-softmax outputs whose only labelling opens with a space or has two (the plain search reads " cat",
    # "cat  sat"): the lexicon search, which spells no empty word, said "every prefix has probability 0 at frame 0:
    # pass log-softmax outputs", blaming valid input.
    with np.errstate(divide="ignore"):
        lp = np.log(np.eye(29)[[0 if ch == "-" else VOCAB.index(ch) for ch in labels]])
    assert prefix_beam_search(lp, 4)[0].text == labels.replace("-", "")
    with pytest.raises(ValueError, match=f"at frame {frame}") as err:
        lexicon_beam_search(lp, lexicon, LexiconOptions())
    assert "log-softmax" not in str(err.value) and "space" in str(err.value)


def test_char_lm_fusion_is_used(lexicon):
    class Uniform:                     # a character LM that dislikes "k" only
        def initial_state(self):
            return np.zeros((1, 1))

        def step(self, tokens, states):
            out = np.full((len(tokens), len(VOCAB)), np.log(1 / 30))
            out[:, VOCAB.index("k")] = -20.0
            return out, np.zeros((len(tokens), 1))

    lp = _frames(_spell("the ") + [{"k": 0.7, "c": 0.25}] + _spell("ap"))    # "kap", "cap": both OOV
    no_lm = LexiconOptions(oov_penalty=1.0)
    assert lexicon_beam_search(lp, lexicon, no_lm, lm=Uniform())[0].text == "the kap"
    fused = LexiconOptions(oov_penalty=1.0, char_weight=0.5, char_bonus=0.5 * np.log(30))  # bonus offsets 1/30
    assert lexicon_beam_search(lp, lexicon, fused, lm=Uniform())[0].text == "the cap"


def test_cli_decoder_lexicon(lexicon, tmp_path, capsys):
    sample = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
    lex_file = save_word_lm(tmp_path / "words.npz", lexicon.lm.arrays, lexicon.lm.meta)
    code = main(["transcribe", str(sample), "--decoder", "lexicon", "--lexicon", str(lex_file), "--format", "json",
                 "--oov-penalty", "1000"])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["words"] and all(lexicon.trie.word_at(w["word"]) >= 0 for w in out["words"])
    assert out["text"] == " ".join(w["word"] for w in out["words"])
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": str(sample), "text": "activate kitchen lights"}) + "\n")
    for decoder in ("lexicon", "beam-lm"):
        assert main(["eval", "recognizer", "--manifest", str(manifest), "--decoder", decoder, "--lexicon",
                     str(lex_file), "--worst", "0"]) == 0
        text = capsys.readouterr().out
        assert f"decoder {decoder}" in text and "WER" in text
    with pytest.raises(SystemExit) as exc:
        main(["transcribe", str(sample), "--decoder", "nonsense"])
    assert exc.value.code == 2 and "argument --decoder: invalid choice: 'nonsense'" in capsys.readouterr().err


def test_read_wordfreq_list(tmp_path):
    """wordfreq's file format (gzip'd msgpack: a header, then one word list per centibel bin): the
    most frequent spellable words, with frequency 10^(-bin/100)."""
    import gzip

    import msgpack

    from speechseq.train.wordlm import read_wordfreq

    bins = [["the"], [], ["of", "2020", "New"], ["don't", "'til", "café", "cat"]]
    f = tmp_path / "tiny_en.msgpack.gz"
    f.write_bytes(gzip.compress(msgpack.packb([{"format": "cB", "version": 1}, *bins])))
    got = read_wordfreq(f, 10)
    assert list(got) == ["the", "of", "don't", "cat"]          # digits, capitals, accents, leading ' dropped
    assert got["the"] == 1.0 and abs(got["of"] - 10 ** -0.02) < 1e-12 and abs(got["cat"] - 10 ** -0.03) < 1e-12
    assert list(read_wordfreq(f, 2)) == ["the", "of"]
    assert read_wordfreq(f, 0) == {} and read_wordfreq(f, -1) == {}   # none asked: none (0 gave "the")
    bad = tmp_path / "bad.msgpack.gz"
    bad.write_bytes(gzip.compress(msgpack.packb([{"format": "other"}])))
    with pytest.raises(ValueError):
        read_wordfreq(bad, 5)


@pytest.mark.parametrize("content", [7, {"format": "cB"}, "cB", [{"format": "cB"}, "the of"], [{"format": "cB"}, [3]]])
def test_read_wordfreq_of_other_msgpack_is_one_value_error(tmp_path, content):
    """A gzip'd msgpack that is not a list of word lists was a TypeError ('int' object is not subscriptable), a
    traceback in train_wordlm.py and tune_lexicon.py."""
    import gzip

    import msgpack

    from speechseq.train.wordlm import read_wordfreq

    f = tmp_path / "odd.msgpack.gz"
    f.write_bytes(gzip.compress(msgpack.packb(content)))
    with pytest.raises(ValueError, match="not a wordfreq cB list"):
        read_wordfreq(f, 5)


def test_an_unpruned_search_scores_every_labelling_as_brute_force_does():
    """Oracle: with a beam wider than the prefixes and no pruning, the search's hypotheses are every labelling the
    lexicon rules allow (no leading or double space), each scored as the module docstring defines it, computed here
    from all CTC paths of a few frames over blank, space, a, b (OOV words: the penalty, no LM score, <unk> after),
    with a character bigram LM fused too."""
    import itertools

    from speechseq.text import EOS, SOS, decode

    lex = Lexicon(WordLM(*kneser_ney(["a ab", "ab ba a", "abb a", "ba ab abb", "a"])))
    lm, syms = lex.lm, [0, 1, VOCAB.index("a"), VOCAB.index("b")]
    rng = np.random.default_rng(0)
    table = rng.normal(0, 1.5, (len(VOCAB), len(VOCAB)))
    table -= np.logaddexp.reduce(table, axis=1, keepdims=True)

    class Bigram:
        def initial_state(self):
            return np.zeros(1, np.int64)

        def step(self, tokens, states):
            return table[tokens], tokens.copy()

    def expected(tokens, ctc, o):
        text = decode(list(tokens))
        if text.startswith(" ") or "  " in text:
            return None
        h2 = h1 = BOS
        words, wsum, n_oov = text.split(), 0.0, 0
        for w in words:
            wid = lex.trie.word_at(w)
            if wid >= 0:
                wsum += lm.logp(wid, h1, h2)
            n_oov += wid < 0
            h2, h1 = h1, wid if wid >= 0 else UNK_WORD
        wsum += lm.logp(EOS_WORD, h1, h2)
        chars = sum(table[a, b] for a, b in zip((SOS, *tokens), (*tokens, EOS)))
        fused = o.char_weight * chars + o.char_bonus * len(tokens) if o.char_weight else 0.0   # bonus: with the LM
        return ctc + o.word_weight * wsum + o.word_bonus * len(words) - o.oov_penalty * n_oov + fused

    for trial in range(12):
        n_frames = 1 + trial % 6
        logits = np.full((n_frames, 29), -np.inf)
        logits[:, syms] = rng.normal(0, 2, (n_frames, 4))
        lp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        o = LexiconOptions(beam_size=10 ** 5, word_weight=rng.uniform(0, 2), word_bonus=rng.normal(),
                           oov_penalty=rng.uniform(0, 5), char_weight=trial % 2 * rng.uniform(0.1, 1),
                           char_bonus=rng.normal(), prune_top_k=28, prune_logp=-np.inf, blank_skip=1.0)
        ctc: dict[tuple[int, ...], float] = {}
        for path in itertools.product(syms, repeat=n_frames):
            tokens = tuple(s for j, s in enumerate(path) if s and (j == 0 or s != path[j - 1]))
            ctc[tokens] = np.logaddexp(ctc.get(tokens, -np.inf), sum(lp[j, s] for j, s in enumerate(path)))
        want = {k: s for k, v in ctc.items() if (s := expected(k, v, o)) is not None}
        got = {h.tokens: h.score for h in lexicon_beam_search(lp, lex, o, lm=Bigram(), distinct=False)}
        assert set(got) == set(want)
        assert max(abs(got[k] - want[k]) for k in got) < 1e-9


def test_kneser_ney_matches_its_formulas_in_every_context():
    """The stored backoff form gives, for every (h2, h1, w), the interpolated Kneser-Ney probability of the
    docstring of speechseq.train.wordlm computed here from raw counts; every context sums to 1 over V'."""
    import itertools
    from collections import Counter

    lm = WordLM(*kneser_ney(SENTENCES + ["the the the", "cat"]))
    tri = Counter()
    for s in SENTENCES + ["the the the", "cat"]:
        t = ["<s>", "<s>", *s.split(), "</s>"]
        tri.update(zip(t, t[1:], t[2:]))
    bi_cc = Counter((b, c) for a, b, c in tri)          # N(. b c)
    uni_cc = Counter(c for b, c in bi_cc)                 # N(. c)

    def discount(counts):
        n1, n2 = sum(c == 1 for c in counts), sum(c == 2 for c in counts)
        return min(max(n1 / (n1 + 2 * n2), 0.05), 0.95)

    d1, d2, d3 = discount(uni_cc.values()), discount(bi_cc.values()), discount(tri.values())
    assert lm.meta["discounts"] == [round(d1, 4), round(d2, 4), round(d3, 4)]
    n_v = lm.size - 1

    def interp(counts, hist, c, lower):
        seen = {k[-1]: v for k, v in counts.items() if k[:-1] == hist}
        n = sum(seen.values())
        d = {3: d3, 2: d2}[len(hist) + 1]
        return lower if n == 0 else max(seen.get(c, 0) - d, 0) / n + d * len(seen) / n * lower

    worst = 0.0
    for h2, h1 in itertools.product(lm.words, lm.words):
        p = np.exp(lm.next_logprobs(lm.id(h1), lm.id(h2)))
        assert abs(p[1:].sum() - 1.0) < 1e-6
        for w in lm.words[1:]:
            p1 = max(uni_cc.get(w, 0) - d1, 0) / sum(uni_cc.values()) + d1 * len(uni_cc) / sum(uni_cc.values()) / n_v
            p3 = interp(tri, (h2, h1), w, interp(bi_cc, (h1,), w, p1))
            worst = max(worst, abs(np.log(p3) - lm.logp(lm.id(w), lm.id(h1), lm.id(h2))))
    assert worst < 1e-6


def test_lexicon_nbest_holds_each_text_once(lexicon):
    """"the cat " (a trailing space ends the word) and "the cat" (the end does) are the same two words, scored alike by
    the word LM: the n-best held both. Each text is kept once, at its best spelling; the first is the search's own."""
    lp = _frames(_spell("the cat") + [{" ": 0.5}])
    every = lexicon_beam_search(lp, lexicon, LexiconOptions(), distinct=False)
    assert {"the cat ", "the cat"} <= {h.text for h in every}
    hyps = lexicon_beam_search(lp, lexicon, LexiconOptions())
    words = [tuple(h.text.split()) for h in hyps]
    assert len(words) == len(set(words)) and hyps[0] == every[0]
    assert hyps == [h for k, h in enumerate(every) if all(g.text.split() != h.text.split() for g in every[:k])]
