"""Keyword clips spliced from recorded phones (speechseq.train.splice): unit choice, joins, errors."""
from __future__ import annotations

import numpy as np
import pytest

from speechseq.train.splice import (Phone, SpliceError, Unit, UnitIndex, Utterance, plan_units, render, splice,
                                    word_pronunciations)

PH = 800  # samples a phone


def _utt(names: str, source: str = "") -> Utterance:
    """An utterance whose phone k is a constant level k + 1 (so a sample tells which phone it came from)."""
    names = names.split()
    audio = np.concatenate([np.full(PH, float(k + 1), np.float32) for k in range(len(names))])
    phones = tuple(Phone(n, k * PH, (k + 1) * PH) for k, n in enumerate(names))
    return Utterance(audio, phones, source)


def _spelled(index: UnitIndex, units: list[Unit]) -> list[str]:
    return [p.name for u in units for p in index.utterances[u.utterance].phones[u.first: u.first + u.length]]


def test_runs_stop_at_silence_and_gaps():
    u = _utt("A B SIL C D")
    gap = Utterance(np.zeros(4 * PH, np.float32), (Phone("E", 0, PH), Phone("F", 2 * PH, 3 * PH)))
    index = UnitIndex([u, gap], max_len=4)
    assert ("A", "B") in index.runs and ("C", "D") in index.runs
    assert not any("SIL" in k for k in index.runs)
    assert ("B", "SIL") not in index.runs and ("B", "SIL", "C") not in index.runs
    assert ("E", "F") not in index.runs and ("E",) in index.runs and ("F",) in index.runs
    assert index.runs[("C", "D")] == [(0, 3)]


def test_plan_spells_the_target_with_the_longest_runs():
    index = UnitIndex([_utt("X A N D Y"), _utt("R OY D Z"), _utt("A N"), _utt("D R")])
    rng = np.random.default_rng(0)
    for _ in range(50):
        units = plan_units(index, ("A", "N", "D", "R", "OY", "D"), rng)
        assert _spelled(index, units) == ["A", "N", "D", "R", "OY", "D"]
    # always the longest: "A N D" (one recording), then "R OY D"
    units = plan_units(index, ("A", "N", "D", "R", "OY", "D"), rng, p_longest=1.0)
    assert [(u.utterance, u.first, u.length) for u in units] == [(0, 1, 3), (1, 0, 3)]
    # a recording of the whole word is one unit
    whole = UnitIndex([_utt("A N D R OY D"), _utt("A N")])
    assert [u.length for u in plan_units(whole, ("A", "N", "D", "R", "OY", "D"), rng, p_longest=1.0)] == [6]


def test_a_phone_nobody_recorded_is_a_clear_error():
    index = UnitIndex([_utt("A B")])
    with pytest.raises(SpliceError, match="'Q'"):
        plan_units(index, ("A", "Q"), np.random.default_rng(0))
    with pytest.raises(SpliceError):
        plan_units(index, (), np.random.default_rng(0))


def test_context_matching_occurrences_are_preferred():
    # "B" occurs after "A" in utterance 0 and after "C" in utterance 1, both at a recording's end (as the
    # target's "B" is at its end: +3 each); the one after a matching "A" (+3 more) is drawn 7 / 11 of the time
    index = UnitIndex([_utt("A B"), _utt("C B"), _utt("A")], max_len=1)
    rng = np.random.default_rng(1)
    picks = [plan_units(index, ("A", "B"), rng, context_weight=3.0)[1].utterance for _ in range(4000)]
    share = np.mean(np.array(picks) == 0)
    assert abs(share - 7 / 11) < 0.03


def test_render_cuts_whole_phones_and_crossfades_the_joins():
    index = UnitIndex([_utt("A B C"), _utt("D E")])
    one = render(index, [Unit(0, 1, 1)], fade=80)
    # phone B (level 2) with 40 samples of its neighbours on each side, faded in and out there
    assert len(one) == PH + 80
    assert np.all(one[40: 40 + PH] == 2)
    assert np.all(np.diff(one[:40]) > 0) and 0 < one[0] < 0.01 and 0.99 < one[39] <= 1       # A's level, rising
    assert np.all(np.diff(one[-40:]) < 0) and 0 < one[-1] < 0.03 and 2.97 < one[-40] <= 3    # C's level, falling
    two = render(index, [Unit(0, 0, 2), Unit(1, 1, 1)], fade=80)
    # A B (+40 of C after it; nothing before A) then E (+40 of D before it; nothing after E), overlapped 80
    assert len(two) == (2 * PH + 40) + (PH + 40) - 80
    join = two[2 * PH - 40: 2 * PH + 40]  # the crossfade: from C's level (3) ... to D's (1), then E
    assert np.all(np.diff(two[: 2 * PH - 40]) >= 0) and two[0] == 1 and two[-1] == 2  # recording edges: no fade
    assert np.all(join <= 3) and np.all(join >= 1)
    assert np.all(two[2 * PH + 40:] == 2)  # E itself, untouched after the fade


def test_splice_is_reproducible_by_seed():
    index = UnitIndex([_utt("X A N D Y"), _utt("R OY D Z"), _utt("N D R")])
    a, ua = splice(index, ("A", "N", "D", "R", "OY", "D"), np.random.default_rng(5))
    b, ub = splice(index, ("A", "N", "D", "R", "OY", "D"), np.random.default_rng(5))
    assert ua == ub and np.array_equal(a, b) and a.dtype == np.float32


def test_word_pronunciations_spell_a_compound_from_its_parts():
    prons = {"chatter": [("CH", "AE", "T", "ER")], "box": [("B", "AA", "K", "S")], "chat": [("CH", "AE", "T")],
             "terbox": [("X",)], "ter": [("T", "ER")], "hey": [("HH", "EY"), ("HH", "EY", "Y")], "a": [("AH",)]}
    assert word_pronunciations("hey", prons) == [("HH", "EY"), ("HH", "EY", "Y")]
    # two parts beat three (chat + ter + box), and of the two-part splits the longest first part wins
    assert word_pronunciations("chatterbox", prons) == [("CH", "AE", "T", "ER", "B", "AA", "K", "S")]
    assert word_pronunciations("heyhey", prons) == [("HH", "EY", "HH", "EY"), ("HH", "EY", "HH", "EY", "Y"),
                                                    ("HH", "EY", "Y", "HH", "EY"), ("HH", "EY", "Y", "HH", "EY", "Y")]
    assert word_pronunciations("boxq", prons) == []          # no split into known parts
    assert word_pronunciations("abox", prons) == []          # a one-letter part is not a word here


def test_a_clip_cut_from_running_speech_starts_and_ends_without_a_click():
    """A unit from the middle of a sentence: its neighbours' samples at the clip's two ends are cuts in running
    speech; they fade in and out (a step from the silence around the clip would be a broadband click)."""
    t = np.arange(5 * PH)
    audio = (0.3 * np.sin(2 * np.pi * t / 37.3)).astype(np.float32)
    utt = Utterance(audio, tuple(Phone(n, k * PH, (k + 1) * PH) for k, n in enumerate("A B C D E".split())))
    index = UnitIndex([utt])
    clip, _ = splice(index, ("B", "C", "D"), np.random.default_rng(0), fade=80, p_longest=1.0)
    assert len(clip) == 3 * PH + 80
    assert abs(clip[0]) < 0.01 and abs(clip[-1]) < 0.01
    assert np.max(np.abs(np.diff(clip))) < 0.06          # no step larger than the sine's own (2 pi 0.3 / 37.3)
    assert np.array_equal(clip[40: 40 + 3 * PH], audio[PH: 4 * PH])  # the phones themselves untouched
    assert np.array_equal(index.utterances[0].audio, audio)          # the recording is not faded in place
