"""Review (s51, n): the detector scripts say another kind of model as the runtime says it; a synthetic set's manifests
are never a new one beside an old one (an interrupted `synth keyword` left new positives beside the last run's
negatives, which a rerun's `train detector --synth OUT` read as one set); `synth` whose options fail a check leaves
no --out folder behind."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from speechseq.errors import SpeechseqError

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
RECOGNIZER = ROOT / "models" / "recognizer-en.int8.onnx"


def _pico() -> bool:
    from speechseq.train import synth

    return len(synth.list_voices(("pico",))) > 0


needs_pico = pytest.mark.skipif(not _pico(), reason="needs pico2wave (scripts/install-system.sh)")


@pytest.mark.skipif(not RECOGNIZER.exists(), reason="shipped recogniser missing")
def test_the_detector_scripts_say_a_recogniser_as_the_runtime_says_it():
    """scripts/detector_tradeoff.py and detector_runon.py (one keyword_of) said "not a speechseq detector (metadata
    kind 'recognizer')" where speechseq.load_detector, detect and listen say "a speech recogniser, not a trigger-word
    detector"."""
    from detector_tradeoff import keyword_of

    import speechseq
    from speechseq.runtime.onnx import ModelError

    with pytest.raises(SystemExit) as script:
        keyword_of(RECOGNIZER)
    with pytest.raises(ModelError) as runtime:
        speechseq.load_detector(RECOGNIZER)
    assert str(script.value) == str(runtime.value) == f"{RECOGNIZER}: a speech recogniser, not a trigger-word detector"
    assert keyword_of(ROOT / "models" / "activate.onnx") == "activate"


def _texts(path: Path) -> list[str]:
    return [json.loads(line)["text"] for line in path.read_text().splitlines()]


@needs_pico
def test_a_keyword_set_whose_negatives_fail_to_be_written_leaves_no_new_positives_beside_old_negatives(tmp_path):
    """positives.jsonl was written, then negatives.jsonl: a failure or an interrupt between them left the new
    keyword's positives beside the last run's negatives (no stamp ties the two: `train detector --synth OUT` and its
    rerun read them as one set, the old negatives perhaps saying the new keyword). Here negatives.jsonl cannot be
    replaced (a real IsADirectoryError in the second write): positives.jsonl is not left holding the new keyword,
    so the folder is no set a reader takes (it says positives.jsonl is missing)."""
    from speechseq.train import synth_sets

    out = tmp_path / "kw"
    cfg = synth_sets.KeywordSet(variations=1, min_per_engine=0, alike_words=4)
    opts = synth_sets.VoiceOptions(engines=("pico",), workers=1)
    pos, neg = synth_sets.keyword_set("hello", out, cfg, opts, say=lambda line: None)
    assert pos and neg and set(_texts(out / "positives.jsonl")) == {"hello"}
    (out / "negatives.jsonl").unlink()
    (out / "negatives.jsonl").mkdir()   # a second write that fails for real, after the first one's
    (out / "negatives.jsonl" / "x").write_text("")
    with pytest.raises(OSError):
        synth_sets.keyword_set("goodbye", out, cfg, opts, say=lambda line: None)
    positives = out / "positives.jsonl"
    assert not positives.exists() or "goodbye" not in _texts(positives)
    assert sorted(p.name for p in out.iterdir()) == ["audio", "negatives.jsonl"]  # no temporary file left
    from speechseq.commands.train_detector import items_from

    with pytest.raises(SpeechseqError, match="positives.jsonl: no such file"):
        items_from([str(positives)], "pos", "goodbye")


@needs_pico
def test_a_sentence_set_whose_held_out_manifest_fails_leaves_no_new_train_beside_old_held_out(tmp_path):
    """The same for `synth sentences`: a new train.jsonl beside the last run's heldout.jsonl may train on its held-out
    sentences."""
    from speechseq.train import synth_sets

    out = tmp_path / "s"
    text = tmp_path / "t.txt"
    text.write_text("the quiet river ran past the old mill\nshe opened the window to let the morning in\n")
    opts = synth_sets.VoiceOptions(engines=("pico",), workers=1)
    (out / "heldout.jsonl").mkdir(parents=True)
    (out / "heldout.jsonl" / "x").write_text("")
    with pytest.raises(OSError):
        synth_sets.sentence_set(out, synth_sets.SentenceSet(text=(str(text),), n=2), opts, say=lambda line: None)
    assert not (out / "train.jsonl").exists()


def test_manifests_written_together_are_each_as_they_were_when_one_cannot_be_written(tmp_path):
    """An exception while the manifests are written (here a row json cannot write, as an interrupt or a full disk)
    leaves every one as it was, and no temporary file; written, each holds its rows."""
    from speechseq.train import synth_sets

    synth_sets._write_manifests(tmp_path, {"positives.jsonl": [{"text": "old"}], "negatives.jsonl": [{"text": "no"}]})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(TypeError):
        synth_sets._write_manifests(tmp_path, {"positives.jsonl": [{"text": "new"}],
                                               "negatives.jsonl": [{"text": "a"}, {"text": object()}]})
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    synth_sets._write_manifests(tmp_path, {"positives.jsonl": [{"text": "a"}, {"text": "b"}],
                                           "negatives.jsonl": [{"text": "c"}]})
    assert _texts(tmp_path / "positives.jsonl") == ["a", "b"] and _texts(tmp_path / "negatives.jsonl") == ["c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["negatives.jsonl", "positives.jsonl"]


TOO_MANY = ["--variations", "1000", "--min-per-engine", "50000", "--neg-ratio", "100"]


def test_a_keyword_set_over_the_clip_bound_leaves_no_out_folder(tmp_path):
    """The size check ran after --out was made: the command failed and left the folder it made, empty (as train lm's
    OUT is not, since session 50). The folders it made are removed again; one that was there is kept."""
    out = tmp_path / "a" / "kw"
    code, _, err = run("synth", "keyword", "--keyword", "hello", *TOO_MANY, "--out", out)
    assert code == 1 and "are over the 500000 clips a set makes at most" in err, err
    assert list(tmp_path.iterdir()) == []
    out.mkdir(parents=True)
    code, _, err = run("synth", "keyword", "--keyword", "hello", *TOO_MANY, "--out", out)
    assert code == 1 and out.is_dir() and list(out.iterdir()) == []


def test_a_sentence_set_of_no_usable_sentences_leaves_no_out_folder(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("one\n")
    code, _, err = run("synth", "sentences", "--text", text, "--out", tmp_path / "a" / "s")
    assert code == 1 and "no usable sentences" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]
