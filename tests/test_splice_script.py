"""scripts/make_splice_data.py keyword: a long keyword is spliced and checked word by word, never from every
combination of its words' pronunciations (2 ** 20 for 20 words said two ways each); the keyword read as the recogniser
reads text; an align file that is not one is one message."""
from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.train.words import DICT_PATH, holds_phones
from tests.phone_bank import phone_recording
from tests.script_loader import load_script

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pocketsphinx") is None or not DICT_PATH.exists(),
                                reason="needs pocketsphinx (its dictionary) and wamerican")


class _Phones(tuple):
    """A word's pronunciation that counts how often it is read (each combination spelled out reads each word's)."""
    reads = 0

    def __iter__(self):
        _Phones.reads += 1
        return super().__iter__()


def _keyword(script, monkeypatch, tmp_path, keyword: str, positives: int, negatives: int,
             bank: str = "R IY D DH AH SIL R EH D DH IY SIL") -> tuple[list, dict]:
    """cmd_keyword on the real dictionary, "read" and "the" (two pronunciations each) counting their reads, and an
    aligned bank saying `bank`: the phone sequences spliced as positives, and the rows written."""
    real = script._dictionary()
    for w in ("read", "the"):
        real[w] = [_Phones(p) for p in real[w]]
    monkeypatch.setattr(script, "_dictionary", lambda: real)
    said = []

    def splice(index, target, rng, fade=80):
        said.append(tuple(target))
        return real_splice(index, target, rng, fade=fade)

    real_splice = script.splice
    monkeypatch.setattr(script, "splice", splice)
    out = tmp_path / "kw"
    _Phones.reads = 0
    script.cmd_keyword(argparse.Namespace(keyword=keyword, align=phone_recording(tmp_path, bank),
                                          out=str(out), positives=positives, negatives=negatives, fade=80, seed=0))
    rows = {k: [json.loads(line) for line in (out / f"{k}.jsonl").read_text().splitlines()]
            for k in ("positives", "negatives")}
    return said[:positives], rows


def test_a_long_keyword_is_spliced_one_choice_per_word_not_from_every_combination(tmp_path, monkeypatch, capsys):
    """"read the" said six times (12 words, 4,096 ways) built all 4,096 pronunciations and checked every negative
    against each (20 words: 2 ** 20, and the keyword step never ended); its positives were the first of them, the
    first words always R EH D, DH AH. Now a pronunciation is read a few times a clip, each word's drawn in turn."""
    script = load_script("make_splice_data")
    said, rows = _keyword(script, monkeypatch, tmp_path, "read the " * 6, positives=20, negatives=10)
    assert _Phones.reads <= 4 * 12 * 20   # was 4,096 combinations x 12 words (49,152) before a clip was cut
    assert len(rows["positives"]) == 20 and len(said) == 20
    for k in range(6):                    # each word said both ways among the positives
        assert {p[5 * k: 5 * k + 3] for p in said} == {("R", "IY", "D"), ("R", "EH", "D")}
        assert {p[5 * k + 3: 5 * k + 5] for p in said} == {("DH", "AH"), ("DH", "IY")}
    assert "4096 pronunciations" in capsys.readouterr().out
    # no negative says the keyword (in any of its 4,096 pronunciations), checked word by word
    every = [tuple(itertools.chain.from_iterable(c))
             for c in itertools.product(*[[("R", "IY", "D"), ("R", "EH", "D")], [("DH", "AH"), ("DH", "IY")]] * 6)]
    prons = script._dictionary()
    for r in rows["negatives"]:
        assert not any(holds_phones(p, k) for p in prons[r["text"]] for k in every), r["text"]


def test_a_keyword_of_few_pronunciations_says_each_in_turn_as_before(tmp_path, monkeypatch, capsys):
    """Where the positives are as many as the pronunciations or more, each is said in turn (the old draw, kept: the
    output of a keyword such as "route" is unchanged)."""
    script = load_script("make_splice_data")
    said, rows = _keyword(script, monkeypatch, tmp_path, "read the", positives=6, negatives=4)
    assert [" ".join(p) for p in said] == ["R EH D DH AH", "R EH D DH IY", "R IY D DH AH", "R IY D DH IY",
                                          "R EH D DH AH", "R EH D DH IY"]
    out = capsys.readouterr().out
    assert "6 positives (R EH D DH AH / R EH D DH IY / R IY D DH AH / R IY D DH IY;" in out


def test_a_keyword_with_an_accent_or_a_curly_apostrophe_is_spliced_as_the_word_it_spells(tmp_path, monkeypatch, capsys):
    """Letters a-z alone were read: "naïve" was spliced as "na ve" (N AA V IY, labelled "naïve"), "R2D2" as "r d",
    and "café" or "he’ll" (a curly apostrophe, as phones type it) were "not in pocketsphinx's dictionary". Now the
    keyword is read as the recogniser's text is (speechseq.text.normalize)."""
    script = load_script("make_splice_data")
    bank = "N AY IY V SIL K AH F EY SIL K AE F EY SIL HH IY L SIL AA R T UW D IY T UW SIL"
    for n, (keyword, spelled) in enumerate( (("naïve", {"N AY IY V"}), ("Café", {"K AH F EY", "K AE F EY"}),
                             ("he\u2019ll", {"HH IY L"}), ("R2D2", {"AA R T UW D IY T UW"}))):
        (tmp_path / str(n)).mkdir()
        said, rows = _keyword(script, monkeypatch, tmp_path / str(n), keyword, positives=2, negatives=0, bank=bank)
        assert {" ".join(p) for p in said} == spelled, keyword
        assert [r["text"] for r in rows["positives"]] == [keyword, keyword]


def test_an_align_file_that_is_not_one_is_one_clear_error(tmp_path):
    """An empty or cut-off align file, or the manifest given as --align (JSON lines), was a JSONDecodeError traceback;
    a row without its phones a KeyError."""
    script = load_script("make_splice_data")
    good = json.loads(Path(phone_recording(tmp_path, "R IY D SIL")).read_text())
    for n, text in enumerate(("", json.dumps(good)[:-10], json.dumps(good[0]) + "\n" + json.dumps(good[0]) + "\n",
                              json.dumps({"rows": good}), json.dumps([{"audio_filepath": good[0]["audio_filepath"]}]),
                              json.dumps([{**good[0], "phones": [["R", 0]]}]))):
        bad = tmp_path / f"bad{n}.json"
        bad.write_text(text)
        with pytest.raises(SystemExit) as err:
            script.load_index(bad)
        assert str(err.value) == f"--align {bad}: not an align file (a JSON list of audio_filepath and phones, " \
                                 "as the `align` step writes it)", text
    index, speaker = script.load_index(tmp_path / "align.json")
    assert speaker == "x" and index.phones() == {"R", "IY", "D"}


class _CutWrites:
    """io.open as it is, but a file opened for writing under `folder` takes half of its first write, then Ctrl+C:
    the align step interrupted while it writes its output (a real Ctrl+C cannot be timed into that moment)."""

    def __init__(self, real, folder: Path) -> None:
        self.real, self.folder = real, folder

    def __call__(self, file, mode="r", *args, **kwargs):
        f = self.real(file, mode, *args, **kwargs)
        if "w" in mode and isinstance(file, (str, Path)) and Path(file).parent == self.folder:
            write = f.write

            def cut(data):
                write(data[: len(data) // 2])
                f.flush()
                raise KeyboardInterrupt
            f.write = cut
        return f


def test_an_align_step_interrupted_while_writing_keeps_the_align_file_it_had(tmp_path, monkeypatch):
    """`align` (minutes of pocketsphinx) wrote align.json with a plain write_text: Ctrl+C (or a full disk) in the
    write left half a JSON file where the last run's whole one was, and the keyword step refused it. It is written
    whole or not at all (speechseq.files.written_atomically); an uninterrupted run replaces it."""
    import builtins
    import io

    script = load_script("make_splice_data")
    sf.write(tmp_path / "u.wav", (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32), 16000)
    (tmp_path / "manifest.jsonl").write_text(json.dumps({"audio_filepath": "u.wav", "text": "read the"}) + "\n")
    folder = tmp_path / "splice"
    folder.mkdir()
    out = folder / "align.json"
    before = phone_recording(folder, "R IY D SIL")
    assert before == str(out)
    kept = out.read_bytes()
    args = argparse.Namespace(manifest=str(tmp_path / "manifest.jsonl"), split="", skip_pct=0, out=str(out), workers=1)
    cut = _CutWrites(io.open, folder)
    monkeypatch.setattr(io, "open", cut)
    monkeypatch.setattr(builtins, "open", cut)
    with pytest.raises(KeyboardInterrupt):
        script.cmd_align(args)
    monkeypatch.undo()
    assert out.read_bytes() == kept
    assert sorted(p.name for p in folder.iterdir()) == ["align.json", "u.wav"]   # no temporary file left
    script.cmd_align(args)
    rows = json.loads(out.read_text())   # the noise aligned or skipped: the last run's row replaced either way
    assert isinstance(rows, list) and all(r["audio_filepath"] == str(tmp_path / "u.wav") for r in rows)
    assert out.read_bytes() != kept and sorted(p.name for p in folder.iterdir()) == ["align.json", "u.wav"]
