"""Session 51's change reviewed with fresh eyes (helper l): behaviour it changed where it should not have."""
import pytest

from speechseq.text import normalize


@pytest.mark.parametrize("raw,expected", [
    # a picture, a coin or a seal shows a king, and a tutor teaches one: "I" is his numeral there, as it was before
    # session 51 (the pronoun only after a verb that takes a person and then a clause: "I told Paul I.")
    ("The coin shows Henry I.", "the coin shows henry the first"),
    ("A portrait showing Charles I.", "a portrait showing charles the first"),
    ("The painting shows Charles I, who was beheaded.", "the painting shows charles the first who was beheaded"),
    ("The seal showed William I.", "the seal showed william the first"),
    ("Lanfranc taught Henry I.", "lanfranc taught henry the first"),
])
def test_normalize_reads_i_after_show_or_teach_and_a_monarch_as_his_numeral(raw, expected):
    assert normalize(raw) == expected
