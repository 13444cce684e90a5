"""A long keyword's pronunciations (speechseq.train.words, speechseq.train.splice): the work grows with its length,
not with the number of ways to say it; the homophones found are those of every way."""
from __future__ import annotations

import itertools
import random

from speechseq.train import words
from speechseq.train.splice import phrase_pronunciations, word_pronunciations
from speechseq.train.words import holds_phones, ordinary_phrases, ordinary_words, sound_alikes

# "read" and "the" have two pronunciations each, as in the CMU dictionary
PRONS = {"read": [("R", "IY", "D"), ("R", "EH", "D")], "the": [("DH", "AH"), ("DH", "IY")],
         "reed": [("R", "IY", "D")], "red": [("R", "EH", "D")], "thee": [("DH", "IY")], "tree": [("T", "R", "IY")],
         "bread": [("B", "R", "EH", "D")], "breedthee": [("B", "R", "IY", "D", "DH", "IY")],
         "redder": [("R", "EH", "D", "ER")], "rethread": [("R", "IY", "TH", "R", "EH", "D")],
         "ready": [("R", "EH", "D", "IY")], "a": [("AH",)], "book": [("B", "UH", "K")]}
VOCAB = sorted(w for w in PRONS if len(w) >= 2)


class _Counted(dict):
    """A pronunciation dictionary that counts the words looked up in it."""
    looked = 0

    def __contains__(self, word: object) -> bool:
        self.looked += 1
        return super().__contains__(word)


def test_a_long_keyword_is_one_choice_per_word_not_every_combination():
    """Every combination of its words' pronunciations was built for a keyword (65,536 for 16 words of two each:
    24,576 for a natural phrase of 161 letters), each then sought in every word of the dictionary: `synth keyword`
    ran for minutes, 20 words never ended. Now one entry, a choice of pronunciations per word."""
    key = words._keyword_prons("read the " * 8, PRONS)
    assert len(key) == 1
    assert len(key[0]) == 16 and all(len(choice) == 2 for choice in key[0])
    assert words._keyword_prons("book", PRONS) == [((("B", "UH", "K"),),)]
    assert words._keyword_prons("read zzz", PRONS) == []            # a word no pronunciation spells: none


def test_holds_keyword_is_holds_phones_of_any_combination():
    """The choices matched in place find what every combination spelled out and sought one by one found."""
    rng = random.Random(0)
    phones = ("A", "B", "C")
    for _ in range(3000):
        choices = tuple(tuple(tuple(rng.choice(phones) for _ in range(rng.randint(0, 3)))
                              for _ in range(rng.randint(1, 3))) for _ in range(rng.randint(1, 3)))
        pron = tuple(rng.choice(phones) for _ in range(rng.randint(0, 9)))
        every = [tuple(itertools.chain.from_iterable(c)) for c in itertools.product(*choices)]
        assert words.holds_keyword(pron, choices) == any(holds_phones(pron, k) for k in every), (pron, choices)


def test_a_keyword_of_twenty_words_has_its_negatives():
    """A keyword of 20 words (2 ** 20 combinations) had not found its negatives after 90 s; its sound-alikes and
    ordinary words are as for any keyword no word of the list says, and the homophones of a short one are left out."""
    long = " ".join(["read the"] * 10)
    assert sound_alikes(long, 5, words=VOCAB, prons=PRONS) == sound_alikes(long, 5, words=VOCAB)
    assert sorted(ordinary_words(20, exclude=[long], min_len=2, words=VOCAB, prons=PRONS)) == VOCAB
    # "breedthee" says "read the" (B [R IY D DH IY]), "rethread" does not; "the" said "thee" is found too
    assert sorted(ordinary_words(20, exclude=["read the"], min_len=2, words=VOCAB, prons=PRONS)) == \
        [w for w in VOCAB if w != "breedthee"]
    assert "breedthee" not in sound_alikes("read the", 20, words=VOCAB, prons=PRONS)


def test_phrases_of_a_long_keyword_leave_out_what_says_a_short_one(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("a red tree\nread the book\nred thee book\n", encoding="utf-8")
    long = " ".join(["read the"] * 10)
    assert set(ordinary_phrases([text], 50, exclude=[long], prons=PRONS, max_words=3)) == {
        "a red", "red tree", "a red tree", "read the", "the book", "read the book", "red thee", "thee book",
        "red thee book"}
    # "red thee" says "read the" as R EH D + DH IY: left out across its words too
    assert set(ordinary_phrases([text], 50, exclude=["read the"], prons=PRONS, max_words=3)) == {
        "a red", "red tree", "a red tree", "the book", "thee book"}


def test_a_long_word_the_dictionary_lacks_is_split_in_time_linear_in_its_pieces():
    """A word the dictionary lacks was split by trying every split of every rest: "ab" 22 times and a "q" (45
    letters) took 5 s, each "ab" more 1.6 times as long. Each rest is split once now."""
    prons = _Counted({"ab": [("AE", "B")], "abab": [("X",)], "ba": [("B", "AA")], "a": [("AH",)]})
    assert word_pronunciations("ab" * 24 + "q", prons) == []
    assert prons.looked < 49 * 49
    # the split is the same: fewest parts, then the longest first part
    assert word_pronunciations("ab" * 5, prons) == [("X", "X", "AE", "B")]
    assert phrase_pronunciations(["abab", "ab"], prons) == [("X", "AE", "B")]
