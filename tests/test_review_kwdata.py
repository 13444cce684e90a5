"""Keyword training data (review): negatives never say the keyword, evaluation audio never spliced, the bank's
edge cases (audio that resamples to nothing, silent positives, background weights)."""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.train import words
from speechseq.train.words import DICT_PATH, contains_keyword, ordinary_words, sound_alikes
from tests.phone_bank import phone_recording
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]

PRONS = {"knight": [("N", "AY", "T")], "night": [("N", "AY", "T")], "tonight": [("T", "AH", "N", "AY", "T")],
         "nightly": [("N", "AY", "T", "L", "IY")], "knife": [("N", "AY", "F")], "knit": [("N", "IH", "T")],
         "nigh": [("N", "AY",)], "light": [("L", "AY", "T")], "table": [("T", "EY", "B", "AH", "L")]}
WORDS = sorted(PRONS)


def test_a_keyword_of_several_words_is_found_across_the_words_of_a_text():
    assert contains_keyword("Hey, robot! Open the door.", "hey robot")
    assert contains_keyword("they robotically", "hey robot")          # as "activated" holds "activate"
    assert contains_keyword("reactivated", "activate")
    assert not contains_keyword("hey there robot", "hey robot")
    assert not contains_keyword("a robot", "hey robot")


def test_ordinary_phrases_never_hold_a_keyword_of_several_words(tmp_path):
    from speechseq.train.words import ordinary_phrases

    text = tmp_path / "t.txt"
    text.write_text("hey robot\n" * 5 + "the quiet river ran on\n")
    out = ordinary_phrases([text], 10, seed=0, exclude=["hey robot"])
    assert out and not any("hey robot" in p.lower() for p in out)


def test_sound_alikes_and_ordinary_words_leave_out_the_keywords_homophones():
    out = sound_alikes("knight", 20, words=WORDS, prons=PRONS)
    assert {"night", "tonight", "nightly"}.isdisjoint(out) and {"knife", "knit", "nigh"} <= set(out)
    assert {"night", "tonight"} <= set(sound_alikes("knight", 20, words=WORDS))  # without pronunciations: letters
    drawn = ordinary_words(20, exclude=["knight"], min_len=4, words=WORDS, prons=PRONS)
    assert sorted(drawn) == ["knife", "knit", "light", "nigh", "table"]
    assert ordinary_words(20, exclude=["knight"], min_len=4, words=WORDS, prons=PRONS) == drawn
    # where no word says it, the draw is the one without pronunciations (same seed, same words)
    assert ordinary_words(3, seed=2, exclude=["zebra"], words=WORDS, prons=PRONS) == \
        ordinary_words(3, seed=2, exclude=["zebra"], words=WORDS)


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None or not DICT_PATH.exists(),
                    reason="needs pocketsphinx and wamerican")
def test_the_synthetic_keyword_sets_negatives_are_no_homophones(tmp_path, monkeypatch):
    from speechseq.train import synth, synth_sets

    if not [v for v in synth.list_voices(("flite",))]:
        pytest.skip("needs flite")
    monkeypatch.setattr(synth, "synthesize", lambda text, voice, speed=1.0, pitch=1.0: np.full(1600, 0.1, np.float32))
    _, neg = synth_sets.keyword_set("knight", tmp_path / "kw", synth_sets.KeywordSet(variations=1, min_per_engine=0,
                                                                                      neg_ratio=4.0, alike_words=20),
                                    synth_sets.VoiceOptions(engines=("flite",), workers=1), say=lambda s: None)
    texts = {r["text"] for r in neg}
    assert texts and not texts & {"night", "tonight", "midnight", "goodnight", "overnight", "fortnight"}


def _splice_script():
    return load_script("make_splice_data", register=True)  # the align pool pickles its worker by module name


def _splice_keyword(tmp_path: Path, keyword: str, phones: str, positives: int, negatives: int):
    """The splice script's keyword step for `keyword` on a recording aligned to `phones` (tests/phone_bank.py),
    written to tmp_path/kw: (the script, that folder)."""
    script = _splice_script()
    out = tmp_path / "kw"
    script.cmd_keyword(argparse.Namespace(keyword=keyword, align=phone_recording(tmp_path, phones), out=str(out),
                                          positives=positives, negatives=negatives, fade=80, seed=0))
    return script, out


def _fake_align(item):
    return item[0], [["AH", 0, 10]], None


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None, reason="needs pocketsphinx")
def test_splice_align_never_reads_evaluation_audio(tmp_path, monkeypatch):
    """--split '' takes every row but the evaluation audio (Kathleen dev, FSDD test)."""
    script = _splice_script()
    monkeypatch.setattr(script, "_align_one", _fake_align)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": f"audio/{name}.flac", "text": "hello world",
                                            "split": split}) + "\n"
                                for name, split in (("a", "train"), ("b", "dev"), ("c", "test"), ("d", None))))
    out = tmp_path / "align.json"
    script.cmd_align(argparse.Namespace(manifest=str(manifest), split="", skip_pct=0, out=str(out), workers=1))
    got = sorted(Path(r["audio_filepath"]).stem for r in json.loads(out.read_text()))
    assert got == ["a", "d"]


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None or not DICT_PATH.exists(),
                    reason="needs pocketsphinx and wamerican")
def test_spliced_negatives_never_spell_the_keywords_phones(tmp_path, capsys):
    """Knight (N AY T): "night" and "nightly" spliced from the same phones would be the keyword labelled negative."""
    script, out = _splice_keyword(tmp_path, "knight", "N AY T L IY F IH SIL", positives=3, negatives=40)
    prons = script._dictionary()
    neg = [json.loads(line) for line in (out / "negatives.jsonl").read_text().splitlines()]
    assert neg  # "knife", "nigh", "fit", ...
    for r in neg:
        assert not any(words.holds_phones(p, ("N", "AY", "T")) for p in prons.get(r["text"], [])), r["text"]


def test_audio_that_resamples_to_nothing_is_skipped_not_fatal(tmp_path):
    from speechseq.train.kwbank import BankItem, build_bank

    sf.write(tmp_path / "tick.wav", np.array([0.5], np.float32), 44100)  # one sample: none at 16 kHz
    sf.write(tmp_path / "word.wav", (0.1 * np.sin(np.arange(8000) * 0.2)).astype(np.float32), 44100)
    items = [BankItem(str(tmp_path / "tick.wav"), "pos", synthetic=True),
             BankItem(str(tmp_path / "word.wav"), "pos", synthetic=True),
             BankItem(str(tmp_path / "tick.wav"), "neg"), BankItem(str(tmp_path / "word.wav"), "neg")]
    bank = build_bank(items, workers=1)
    assert bank["meta"]["failed"] == 2 and bank["meta"]["files"] == {"pos": 1, "neg": 1}
    assert len(bank["pos/end"]) == 1 and len(bank["neg/end"]) == 1


def test_a_silent_recording_is_no_positive(tmp_path, capfd):
    from speechseq.train.kwbank import BankConfig, BankItem, build_bank

    sf.write(tmp_path / "muted.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "said.wav", (0.1 * np.sin(np.arange(16000) * 0.2)).astype(np.float32), 48000)
    bank = build_bank([BankItem(str(tmp_path / "muted.wav"), "pos"), BankItem(str(tmp_path / "said.wav"), "pos")],
                      BankConfig(reverb_prob=0.0, colour_prob=0.0), workers=1)
    assert bank["meta"]["failed"] == 1 and len(bank["pos/end"]) == 1
    assert "muted.wav: digital silence" in capfd.readouterr().err


def test_backgrounds_of_one_folder_name_keep_each_their_weight(tmp_path, rng):
    """--backgrounds raw_data/backgrounds other/backgrounds:3: two folders named alike, each its own weight."""
    from speechseq.train.kwbank import BankItem, build_bank

    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, (0.05 * rng.standard_normal(16000)).astype(np.float32), 16000)
    bank = build_bank([BankItem(str(tmp_path / "a.wav"), "bg", 1.0, "backgrounds"),
                       BankItem(str(tmp_path / "b.wav"), "bg", 3.0, "backgrounds")], workers=1)
    assert sorted(bank["bg/weight"].tolist()) == [1.0, 3.0]
    assert bank["bg/offsets"][-1] == 2 * 98


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None or not DICT_PATH.exists(),
                    reason="needs pocketsphinx and wamerican")
def test_a_keyword_the_speaker_never_says_the_phones_of_is_one_clear_error(tmp_path):
    script = _splice_script()
    names = "N IH T SIL".split()
    sf.write(tmp_path / "u.wav", np.zeros(len(names) * 1600, np.float32) + 0.01, 16000)
    (tmp_path / "align.json").write_text(json.dumps([{"audio_filepath": str(tmp_path / "u.wav"), "speaker": "x",
                                                      "phones": [[n, 10 * k, 10] for k, n in enumerate(names)]}]))
    with pytest.raises(SystemExit, match="never say the phone.*AY"):
        script.cmd_keyword(argparse.Namespace(keyword="knight", align=str(tmp_path / "align.json"),
                                              out=str(tmp_path / "kw"), positives=3, negatives=5, fade=80, seed=0))
    assert not (tmp_path / "kw" / "positives.jsonl").exists()


def test_contains_keyword_reads_letters_of_any_alphabet():
    """It read a-z alone: for "привет" the key was "" and every text held it (every manifest row left out as a
    negative); "café" was "caf" and "cafeteria" held it. A keyword with no letter is in no text."""
    assert contains_keyword("Привет, робот!", "привет") and not contains_keyword("hello there", "привет")
    assert not contains_keyword("a cafeteria", "café") and contains_keyword("Le Café", "cafe\u0301")
    assert contains_keyword("reactivated", "activate") and contains_keyword("Hey, robot!", "hey robot")
    assert not contains_keyword("anything at all", "123")


_ALIGN_INTERRUPTED = """
import argparse, sys, time
sys.path.insert(0, sys.argv[3])
from tests.script_loader import load_script
script = load_script("make_splice_data", register=True)
def slow(item):
    if item[0].endswith("/a0.wav"):  # the first job: the pool is at work
        print("started", flush=True)
    try:
        time.sleep(5.0)
    except KeyboardInterrupt:  # Ctrl+C in a worker (its traceback printed unless the pool was stopped first)
        open(sys.argv[4] + "/worker-interrupted", "a").close()
        raise
    return item[0], [["AH", 0, 10]], None
script._align_one = slow
script._dictionary = lambda: {"hello": [("HH", "AH", "L", "OW")]}
try:
    script.cmd_align(argparse.Namespace(manifest=sys.argv[1], split="", skip_pct=0, out=sys.argv[2], workers=2))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_stops_the_alignment_without_a_traceback_from_each_worker(tmp_path):
    """Ctrl+C (SIGINT to the process group) during `make_splice_data.py align` printed a KeyboardInterrupt traceback
    from every worker of its pool busy on an utterance, besides the main process's own stop."""
    from .interrupts import interrupted_run

    script, manifest = tmp_path / "run.py", tmp_path / "manifest.jsonl"
    script.write_text(_ALIGN_INTERRUPTED)
    manifest.write_text("".join(json.dumps({"audio_filepath": f"a{i}.wav", "text": "hello"}) + "\n"
                                for i in range(400)))
    # each worker in the middle of its first utterances (5 s each); minutes of work left: a hang check
    out, err, code = interrupted_run([str(script), str(manifest), str(tmp_path / "align.json"), str(ROOT),
                                      str(tmp_path)], "ctrl-c", after_s=0.5, within_s=15, timeout_s=30)
    assert code == 130 and "interrupted" in out, err[-2000:]
    assert not (tmp_path / "worker-interrupted").exists()  # the main process alone stops the pool
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert not (tmp_path / "align.json").exists()


@pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None, reason="needs pocketsphinx")
def test_spliced_positives_are_all_of_the_pronunciations_the_recordings_can_spell(tmp_path, capsys):
    """"route" is R UW T or R AW T: from recordings that never say AW, every other positive was skipped ("no recording
    has the phone 'AW'"), --positives 6 writing 3."""
    _, out = _splice_keyword(tmp_path, "route", "R UW T SIL", positives=6, negatives=0)
    printed = capsys.readouterr()
    pos = [json.loads(line) for line in (out / "positives.jsonl").read_text().splitlines()]
    assert len(pos) == 6 and "skipped 'route'" not in printed.out + printed.err
    assert "6 positives (R UW T;" in printed.out and "0 skipped" in printed.out


def test_splice_align_says_why_a_manifest_gives_it_nothing_to_align(tmp_path, monkeypatch):
    """A manifest without a "split" column (the docstring's "any JSONL manifest of one speaker") gave nothing to
    align at the default --split train: "wrote align.json: 0 utterances aligned", and the keyword step then said the
    recordings never say the keyword's phones. A blank line in the manifest was a JSONDecodeError traceback."""
    script = _splice_script()
    monkeypatch.setattr(script, "_align_one", _fake_align)
    monkeypatch.setattr(script, "_dictionary", lambda: {"hello": [("HH", "AH", "L", "OW")]})
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": f"{name}.wav", "text": "hello"}) + "\n"
                                for name in ("a", "b", "c")) + "\n")
    out = tmp_path / "align.json"

    def align(split: str, skip_pct: int = 0) -> None:
        script.cmd_align(argparse.Namespace(manifest=str(manifest), split=split, skip_pct=skip_pct, out=str(out),
                                            workers=1))

    with pytest.raises(SystemExit) as err:
        align("train")
    assert "no row of split 'train'" in str(err.value) and "--split ''" in str(err.value) and not out.exists()
    align("")  # every row (the blank line skipped)
    assert len(json.loads(out.read_text())) == 3
    manifest.write_text(manifest.read_text() + "audio_filepath,text\n")
    with pytest.raises(SystemExit) as err:
        align("")
    assert f"{manifest}, line 5: not a JSON row" in str(err.value)


def test_splice_keyword_refuses_no_positives_and_align_never_takes_evaluation_splits(tmp_path, monkeypatch, capsys):
    """--positives 0 printed "nan units a clip" with numpy's "Mean of empty slice" warning; align with --split ''
    took a Speech Commands-style manifest's `validation` rows (only dev and test counted as evaluation audio)."""
    script = _splice_script()
    monkeypatch.setattr(sys, "argv", ["make_splice_data.py", "keyword", "--keyword", "hello", "--out",
                                      str(tmp_path / "kw"), "--positives", "0"])
    with pytest.raises(SystemExit) as err:
        script.main()
    assert err.value.code == 2 and "--positives: must be at least 1, got 0" in capsys.readouterr().err
    monkeypatch.setattr(script, "_align_one", _fake_align)
    monkeypatch.setattr(script, "_dictionary", lambda: {"hello": [("HH", "AH", "L", "OW")]})
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": f"{name}.wav", "text": "hello", "split": split}) + "\n"
                                for name, split in (("a", "train"), ("b", "validation"), ("c", "test"))))
    out = tmp_path / "align.json"
    script.cmd_align(argparse.Namespace(manifest=str(manifest), split="", skip_pct=0, out=str(out), workers=1))
    assert len(json.loads(out.read_text())) == 1


def test_text_that_is_not_utf8_is_one_error_not_words_cut(tmp_path):
    """Phrases cut from a Latin-1 text (--synth-text) and a Latin-1 word list: read with errors="ignore", "café au
    lait" gave the phrase "caf au lait" and the word "caf"; now the text is one error naming the byte, and a word list's
    damaged word is dropped, not cut."""
    from speechseq.errors import SpeechseqError
    from speechseq.train.words import load_words, ordinary_phrases

    text = tmp_path / "latin1.txt"
    text.write_bytes("un café au lait please\nthe other words here\n".encode("latin-1"))
    with pytest.raises(SpeechseqError, match=r"latin1.txt: not a UTF-8 text file \(byte 6: 0xe9\)"):
        ordinary_phrases([text], 2, min_words=2, max_words=3)
    good = tmp_path / "utf8.txt"
    good.write_text("\ufeffun café au lait please\nthe other words here\n", encoding="utf-8")
    phrases = ordinary_phrases([good], 20, min_words=2, max_words=3)
    assert phrases and not any("caf " in p or p.startswith("\ufeff") for p in phrases)
    words = tmp_path / "words"
    words.write_bytes("cafe\ncaf\xe9\nlait\n".encode("latin-1"))
    assert load_words(words) == ("cafe", "lait")


def test_phrases_keep_accented_words_whole_and_break_at_another_alphabet(tmp_path):
    """[A-Za-z']+ cut "café" to "caf" and "naïve" to "na", "ve" (words that are said otherwise); a word of another
    alphabet joined its neighbours into a phrase that was never written."""
    from speechseq.train.words import ordinary_phrases

    good = tmp_path / "utf8.txt"
    good.write_text("a naïve café owner\nred привет blue green\n", encoding="utf-8")
    phrases = set(ordinary_phrases([good], 50, min_words=2, max_words=4))
    assert phrases == {"a naïve", "naïve café", "café owner", "a naïve café", "naïve café owner", "a naïve café owner",
                       "blue green"}


def test_phrases_keep_words_normalize_spells_and_break_at_a_number(tmp_path):
    """A curly apostrophe split a word ("don’t": "don", "t"); "Straße" and "Ærø" (spelt by normalize: strasse, aero)
    ended a run as another alphabet; a number was skipped, joining words never written side by side."""
    from speechseq.train.words import ordinary_phrases

    good = tmp_path / "utf8.txt"
    good.write_text("don’t go\nthe Straße bend\nred 42 blue\n", encoding="utf-8")
    phrases = set(ordinary_phrases([good], 50, min_words=2, max_words=3))
    assert phrases == {"don't go", "the Straße", "Straße bend", "the Straße bend"}


def test_phrases_leave_out_a_quote_mark_alone(tmp_path):
    """A quote mark standing alone ("’", "''", "'") is punctuation, left out as a comma is; read as a word that
    normalize spells as nothing, it ended the run, so that the words either side were never one phrase."""
    from speechseq.train.words import ordinary_phrases

    good = tmp_path / "utf8.txt"
    good.write_text("some ’ thing\nblue '' green\nred ' hot\n", encoding="utf-8")
    phrases = set(ordinary_phrases([good], 50, min_words=2, max_words=2))
    assert phrases == {"some thing", "blue green", "red hot"}


def test_phrases_do_not_begin_with_letters_glued_to_a_number(tmp_path):
    """Since a number breaks a run, "the 3rd day" gave the run "rd day" (and "1990s music" "s music"): the letters
    glued to a number are part of it."""
    from speechseq.train.words import ordinary_phrases

    text = tmp_path / "t.txt"
    text.write_text("on the 3rd day\nin 1990s music halls\n", encoding="utf-8")
    assert set(ordinary_phrases([text], 50, min_words=2, max_words=3)) == {"on the", "music halls"}


def test_a_keyword_with_an_apostrophe_has_its_homophones_left_out():
    """"he'll" was read as the words "he" and "ll" (no pronunciation): its homophones "heal" and "heel" were among its
    sound-alike and ordinary negatives. The dictionary spells contractions whole, and a curly apostrophe is one."""
    prons = {"he'll": [("HH", "IY", "L")], "heal": [("HH", "IY", "L")], "heel": [("HH", "IY", "L")],
             "he": [("HH", "IY")], "heap": [("HH", "IY", "P")], "heat": [("HH", "IY", "T")]}
    vocab = ["heal", "heap", "heat", "heel"]
    for keyword in ("he'll", "He’ll"):
        out = sound_alikes(keyword, 10, words=vocab, prons=prons)
        assert {"heal", "heel"}.isdisjoint(out) and "heap" in out, keyword
        assert sorted(ordinary_words(10, exclude=[keyword], words=vocab, prons=prons)) == ["heap", "heat"], keyword


def test_phrases_leave_out_the_keywords_homophones_as_the_words_do(tmp_path):
    """Negative phrases cut from --text were checked by letters only: for "knight" the phrase "the night sky" (and for
    "right" "write their") was a negative that says the keyword, which sound_alikes and ordinary_words leave out;
    so is a phrase that says it across its words ("a nice cream" holds "ice cream")."""
    from speechseq.train.words import ordinary_phrases

    text = tmp_path / "t.txt"
    text.write_text("the night sky\nthe light sky\nmake a nice cream cake\n", encoding="utf-8")
    prons = {**PRONS, "the": [("DH", "AH")], "sky": [("S", "K", "AY")], "ice": [("AY", "S")],
             "nice": [("N", "AY", "S")], "cream": [("K", "R", "IY", "M")], "a": [("AH",)],
             "make": [("M", "EY", "K")], "cake": [("K", "EY", "K")]}
    phrases = set(ordinary_phrases([text], 50, exclude=["knight", "ice cream"], prons=prons))
    assert phrases == {"the light", "light sky", "the light sky", "make a", "a nice", "cream cake", "make a nice"}
    # without pronunciations: letters only, as before
    assert {"the night", "night sky", "a nice cream"} <= set(ordinary_phrases([text], 50, exclude=["knight"]))


def test_phrases_leave_out_the_keyword_as_normalize_spells_it(tmp_path):
    """A phrase written otherwise than the keyword but said alike ("the cafe" for "café", "Mister Robot" for
    "Mr Robot", "Dr. Who" for "doctor who") was a negative: its letters differ, its words after normalisation, which
    the engines say and the manifests hold, do not."""
    from speechseq.text import normalize
    from speechseq.train.words import ordinary_phrases

    text = tmp_path / "t.txt"
    text.write_text("at the cafe today\nsaw Mister Robot run\nlike Dr Who said\n", encoding="utf-8")
    for keyword, said in (("café", "cafe"), ("Mr Robot", "mister robot"), ("doctor who", "doctor who")):
        phrases = ordinary_phrases([text], 50, exclude=[keyword])
        assert phrases and not [p for p in phrases if said in normalize(p)], keyword


def test_a_keyword_ending_in_y_is_found_in_its_ie_forms():
    """"baby" said in "babied", "babiest", "crybabies" (and "party" in "partied", "carry" in "carrier"): the letters
    "baby" are in none of them and the CMU dictionary lacks most, so they were sound-alike and ordinary negatives
    (and phrases holding them negatives) that say the keyword."""
    vocab = ["babble", "babied", "babies", "babiest", "babyish", "crybabies", "maybe", "table", "tabby"]
    out = sound_alikes("baby", 20, words=vocab)
    assert {"babied", "babies", "babiest", "crybabies", "babyish"}.isdisjoint(out) and {"babble", "tabby"} <= set(out)
    assert sorted(ordinary_words(20, exclude=["baby"], words=vocab)) == ["babble", "maybe", "tabby", "table"]
    assert contains_keyword("She partied all night.", "party") and contains_keyword("the Carrier", "carry")
    assert contains_keyword("hey, babies!", "hey baby") and contains_keyword("heybabies", "hey baby")
    assert not contains_keyword("a partial view", "party") and not contains_keyword("the monkeys", "hey")


def test_a_clip_of_nothing_but_the_floor_is_skipped_not_mixed_in_as_noise(tmp_path, capfd):
    """The mixer scales each clip by its own power to its SNR: a negative of digital silence (or of -100 dBFS
    dither), whose features are the frontend's floor alone, went into the mixes as a second of flat noise 0-20 dB
    over the background (7 dB over it at 10 dB SNR), where the waveform mix adds nothing."""
    from speechseq.train.kwbank import BankConfig, BankItem, build_bank

    rng = np.random.default_rng(0)
    sf.write(tmp_path / "muted.wav", np.zeros(16000, np.float32), 16000)
    sf.write(tmp_path / "dither.wav", (1e-5 * rng.standard_normal(16000)).astype(np.float32), 16000, subtype="FLOAT")
    sf.write(tmp_path / "said.wav", (0.1 * np.sin(np.arange(8000) * 0.2)).astype(np.float32), 16000)
    sf.write(tmp_path / "room.wav", (0.01 * rng.standard_normal(48000)).astype(np.float32), 16000)
    cfg = BankConfig(reverb_prob=0.0, colour_prob=0.0)
    items = [BankItem(str(tmp_path / "said.wav"), "pos", synthetic=True), BankItem(str(tmp_path / "room.wav"), "bg")]
    bank = build_bank(items + [BankItem(str(tmp_path / f), "neg", synthetic=s) for f, s in
                               (("muted.wav", False), ("dither.wav", True), ("said.wav", False))], cfg, workers=1)
    assert bank["meta"]["failed"] == 2 and bank["meta"]["files"] == {"pos": 1, "neg": 1, "bg": 1}
    err = capfd.readouterr().err
    assert "muted.wav: digital silence" in err and "dither.wav: no sound above the frontend's floor" in err


def test_a_file_that_cannot_be_read_is_named_once_in_its_skip_line(tmp_path, capfd):
    """The bank's and the recogniser's feature making printed the reader's message after their own "skipped PATH:",
    which names the file too: "skipped /x/bad.wav: /x/bad.wav: cannot decode audio (...)"."""
    import warnings

    from speechseq.errors import SpeechseqWarning
    from speechseq.frontend import FrontendConfig
    from speechseq.train.featbank import featurize
    from speechseq.train.kwbank import BankItem, build_bank
    from speechseq.train.manifests import Utterance

    (tmp_path / "bad.wav").write_text("not audio\n")
    sf.write(tmp_path / "said.wav", (0.1 * np.sin(np.arange(8000) * 0.2)).astype(np.float32), 16000)
    bank = build_bank([BankItem(str(tmp_path / n), "neg") for n in ("bad.wav", "gone.wav", "said.wav")], workers=1)
    assert bank["meta"]["failed"] == 2
    lines = [line.strip() for line in capfd.readouterr().err.splitlines() if line.strip().startswith("skipped")]
    assert lines[0].startswith(f"skipped {tmp_path / 'bad.wav'}: cannot decode audio")
    assert lines[1] == f"skipped {tmp_path / 'gone.wav'}: no such file"
    utts = [Utterance(str(tmp_path / n), "yes", 0.5) for n in ("gone.wav", "said.wav")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fb = featurize(utts, FrontendConfig(), "t", progress=False)
    said = [str(w.message) for w in caught if issubclass(w.category, SpeechseqWarning)]
    assert len(fb) == 1 and said[0] == f"skipped {tmp_path / 'gone.wav'}: no such file"


def test_background_folders_of_one_name_and_weight_stay_two_sources(tmp_path, rng):
    """--backgrounds a/noise b/noise c/street: the two folders named alike, of the same weight, were keyed as one
    stream (role, folder name, weight), so the noise folders were drawn as one source of three: half the crops
    instead of two thirds. Each --backgrounds PATH is a stream of its own."""
    from speechseq.commands.train_detector import items_from
    from speechseq.train.kwbank import build_bank

    for folder, name in (("a/noise", "hum.wav"), ("b/noise", "fan.wav"), ("c/street", "street.wav")):
        (tmp_path / folder).mkdir(parents=True)
        sf.write(tmp_path / folder / name, (0.05 * rng.standard_normal(16000)).astype(np.float32), 16000)
    items = [i for spec in ("a/noise", "b/noise", "c/street") for i in items_from([str(tmp_path / spec)], "bg", "yes")]
    assert [i.role for i in items] == ["bg"] * 3
    bank = build_bank(items, workers=1)
    assert bank["bg/weight"].tolist() == [1.0, 1.0, 1.0]
    assert np.diff(bank["bg/offsets"]).tolist() == [98, 98, 98]
    assert bank["meta"]["roles"]["bg"]["per_source"] == {"noise": 2, "street": 1}


def _segments_manifest(tmp_path, rng, n: int = 20) -> Path:
    """long.wav: n stretches of 2 s (a second of noise, a second of a quieter one), and a manifest of one row for
    each stretch's first second (offset 2k s, duration 1 s)."""
    x = np.concatenate([np.concatenate([0.1 * rng.standard_normal(16000), 0.01 * rng.standard_normal(16000)])
                        for _ in range(n)]).astype(np.float32)
    sf.write(tmp_path / "long.wav", x, 16000)
    m = tmp_path / "segments.jsonl"
    m.write_text("".join(json.dumps({"audio_filepath": "long.wav", "text": "the old house", "offset": 2 * k,
                                     "duration": 1.0}) + "\n" for k in range(n)))
    return m


def test_manifest_rows_with_an_offset_are_their_segments_not_the_whole_file(tmp_path, rng):
    """A manifest of segments of one long file (NeMo's offset / duration, as the recogniser's manifests read them):
    each row was read as the whole 40-s file, every one of the 20 a copy of it, and all of them held out or none (by
    the file's name). Each row is its own second, held out by its name and offset."""
    from speechseq.commands.train_detector import items_from
    from speechseq.train.kwbank import BankConfig, build_bank

    items = items_from([str(_segments_manifest(tmp_path, rng))], "neg", "activate")
    assert len(items) == 20 and sorted(i.role for i in items).count("val_neg") == 2   # offsets 20 and 26 s
    bank = build_bank(items, BankConfig(reverb_prob=0.0, colour_prob=0.0), workers=1)
    lengths = np.concatenate([np.diff(bank["neg/offsets"]), np.diff(bank["val_neg/offsets"])])
    assert lengths.tolist() == [118] * 20                                    # 1 s and the bank's 0.1 s each side
    assert bank["meta"]["files"] == {"neg": 18, "val_neg": 2}


def test_segments_of_one_file_may_be_keyword_and_not_but_not_both(tmp_path, rng):
    """Rows of one recording's segments given as --positives and as --negatives are other audio: not "given both
    ways"; a segment given as both is."""
    from speechseq.commands.train_detector import _given_both_ways, items_from
    from speechseq.errors import SpeechseqError

    m = _segments_manifest(tmp_path, rng, n=4)
    rows = [json.loads(line) for line in m.read_text().splitlines()]
    (tmp_path / "pos.jsonl").write_text("".join(json.dumps({**r, "text": "activate"}) + "\n" for r in rows[:2]))
    (tmp_path / "neg.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[2:]))
    pos = items_from([str(tmp_path / "pos.jsonl")], "pos", "activate")
    _given_both_ways(pos + items_from([str(tmp_path / "neg.jsonl")], "neg", "activate"))
    with pytest.raises(SpeechseqError, match="1 file is given both as keyword recordings"):
        _given_both_ways(pos + items_from([str(m)], "neg", "activate")[:1])


def test_a_segment_outside_its_file_or_a_bad_offset_is_said(tmp_path, rng, capfd):
    """A segment that starts after its file ends is skipped with its times said; an offset that is not a number of
    seconds >= 0 is one line naming the manifest's line."""
    from speechseq.commands.train_detector import items_from
    from speechseq.errors import SpeechseqError
    from speechseq.train.kwbank import BankConfig, build_bank

    m = _segments_manifest(tmp_path, rng, n=2)
    m.write_text(m.read_text() + json.dumps({"audio_filepath": "long.wav", "text": "", "offset": 9.5}) + "\n")
    items = items_from([str(m)], "neg", "activate")
    bank = build_bank(items, BankConfig(reverb_prob=0.0, colour_prob=0.0), workers=1)
    assert bank["meta"]["failed"] == 1
    assert f"skipped {tmp_path / 'long.wav'}: segment from 9.5 s: the file ends at 4 s" in capfd.readouterr().err
    for bad, what in (("-1", "-1"), ('"soon"', "'soon'")):
        m.write_text(f'{{"audio_filepath": "long.wav", "text": "", "offset": 0}}\n'
                     f'{{"audio_filepath": "long.wav", "text": "", "offset": {bad}}}\n')
        with pytest.raises(SpeechseqError, match=f"^{m}:2: offset {what}: not a number of seconds >= 0"):
            items_from([str(m)], "neg", "activate")
    m.write_text('{"audio_filepath": "long.wav", "text": "", "offset": 1, "duration": 0}\n')
    with pytest.raises(SpeechseqError, match=f"^{m}:1: duration 0: not a number of seconds > 0"):
        items_from([str(m)], "neg", "activate")


def test_babble_is_never_made_of_the_whole_file_of_a_keyword_segment(tmp_path, rng):
    """A long recording's segments given as --positives (the keyword) and as --negatives (the rest): the generated
    babble background was made of each negative row's file, whole: the keyword segments in it, mixed in as audio
    without the keyword. Segments are left out of the babble (a file given whole is babbled as before)."""
    from speechseq.commands.train_detector import generated_backgrounds, items_from

    m = _segments_manifest(tmp_path, rng, n=4)
    rows = [json.loads(line) for line in m.read_text().splitlines()]
    (tmp_path / "pos.jsonl").write_text("".join(json.dumps({**r, "text": "activate"}) + "\n" for r in rows[:2]))
    (tmp_path / "neg.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[2:]))
    items = [*items_from([str(tmp_path / "pos.jsonl")], "pos", "activate"),
             *items_from([str(tmp_path / "neg.jsonl")], "neg", "activate")]
    assert "babble" not in generated_backgrounds(items, seconds=2)
    sf.write(tmp_path / "word.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    whole = items_from([str(tmp_path / "word.wav")], "neg", "activate")
    assert "babble" in generated_backgrounds(items + whole, seconds=2)
