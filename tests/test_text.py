"""Transcript normalisation and the shared character vocabulary."""
import pytest

from speechseq.text import BLANK, CTC_SIZE, EOS, SOS, SPACE, UNK, VOCAB, decode, encode, normalize, number_to_words


@pytest.mark.parametrize("raw,expected", [
    ("Hello, World!", "hello world"),
    ("Don't 'quote' me.", "don't quote me"),
    ("It's 100% done & dusted", "it's one hundred percent done and dusted"),
    ("I paid $3.50 for 2 apples", "i paid three dollars and fifty cents for two apples"),
    ("Born in 1984, on the 21st", "born in nineteen eighty four on the twenty first"),
    ("In 2005 we had 1,000,000 users", "in two thousand five we had one million users"),
    ("Pi is 3.14", "pi is three point one four"),
    ("Café   naïve\tcoöperate", "cafe naive cooperate"),
    ("Turn on the kitchen-lights; NOW", "turn on the kitchen lights now"),
    ("rock ’n’ roll", "rock n roll"),
    ("", ""),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("a .5 mm lead", "a point five mm lead"),               # was "a five mm lead": ten times the number
    ("it costs $.50", "it costs fifty cents"),             # was "it costs fifty"
    ("batting .300 and 0.5", "batting point three zero zero and zero point five"),   # was "three hundred"
    ("No.5 and 1.2.3", "no five and one point two three"),  # a dot after a word or a number is no decimal point
])
def test_normalize_a_number_that_starts_with_its_decimal_point(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("n,words", [(0, "zero"), (13, "thirteen"), (40, "forty"), (99, "ninety nine"),
                                     (101, "one hundred one"), (2026, "two thousand twenty six"),
                                     (1_000_001, "one million one")])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


def test_vocabulary_layout_is_fixed():
    assert len(VOCAB) == 32 and CTC_SIZE == 29
    assert (VOCAB[BLANK], VOCAB[SPACE], VOCAB[2], VOCAB[27], VOCAB[28]) == ("<blank>", " ", "a", "z", "'")
    assert (VOCAB[SOS], VOCAB[EOS], VOCAB[UNK]) == ("<sos>", "<eos>", "<unk>")


def test_encode_decode_round_trip():
    text = normalize("We'll meet at 7 o'clock!")
    ids = encode(text)
    assert all(0 < i < CTC_SIZE for i in ids)
    assert decode(ids) == text == "we'll meet at seven o'clock"
    assert decode([BLANK, *encode("ab"), SOS, EOS]) == "ab"
    with pytest.raises(ValueError, match="normalize"):
        encode("Hello")
