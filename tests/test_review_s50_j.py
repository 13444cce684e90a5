"""Review (s50, j): the public API's loose ends. speechseq.load_listener() read SPEECHSEQ_MODELS once, at import (the
listen command's defaults), where the API's other functions read it at each call; speechseq.load_detector() loaded a
byte-identical copy of a model twice and said nothing of two models of one keyword, where `speechseq detect` drops
the copy and says both; scripts said counts of one in the plural ("1 training utterances", "among its 1 rows").
(The listener docstring's example, now `speechseq listen`'s listener: tests/test_api_examples.py.)"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest

import speechseq
from speechseq.errors import SpeechseqError

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"


# --- 2. load_listener heeds SPEECHSEQ_MODELS set after import ----------------------------------------------------

def test_load_listener_reads_the_models_folder_at_each_call(tmp_path, monkeypatch):
    """Set after `import speechseq`, SPEECHSEQ_MODELS was ignored by load_listener (the shipped models of the checkout
    were loaded): an empty folder is said, and a folder with the activate detector, the recogniser and the character
    LM but no lexicon gives a listener of that one keyword that decodes with a beam and the LM, as listen would."""
    monkeypatch.setenv("SPEECHSEQ_MODELS", str(tmp_path))
    with pytest.raises(SpeechseqError, match=f"^no keyword models given .*none shipped in {re.escape(str(tmp_path))} "
                                             r"\(set SPEECHSEQ_MODELS"):
        speechseq.load_listener()
    for name in ("activate.onnx", "recognizer-en.int8.onnx", "lm-en.onnx"):
        (tmp_path / name).symlink_to(MODELS / name)
    listener = speechseq.load_listener()
    assert [m.keyword for m in listener.detector.models] == ["activate"]
    assert listener.transcriber.recognizer.path == str(tmp_path / "recognizer-en.int8.onnx")
    assert listener.transcriber.opts.decoder == "beam" and listener.transcriber.opts.lm is not None   # no lexicon
    monkeypatch.delenv("SPEECHSEQ_MODELS")
    shipped = speechseq.load_listener()
    assert [m.keyword for m in shipped.detector.models] == ["activate", "computer"]
    assert shipped.transcriber.opts.decoder == "lexicon"


def test_the_listen_command_still_reads_the_folder_of_its_import(tmp_path, monkeypatch):
    """The command's defaults (and --help's) name the folder read when the commands were imported: a variable set
    later in the same process changes nothing of `speechseq listen` (a new process reads it, as before)."""
    monkeypatch.setenv("SPEECHSEQ_MODELS", str(tmp_path))   # empty
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--json")
    assert code == 0, err
    finals = [e for e in map(json.loads, out.splitlines()) if e["event"] == "final"]
    assert len(finals) == 1 and finals[0]["text"]
    code, out, _ = run("listen", "--help")
    assert code == 0 and str(tmp_path) not in out


# --- 3. load_detector: a copy used once, two models of one keyword said -------------------------------------------

def test_load_detector_drops_a_copy_as_detect_does(tmp_path, capsys):
    copy = tmp_path / "mine.onnx"
    shutil.copy(MODELS / "activate.onnx", copy)
    det = speechseq.load_detector([MODELS / "activate.onnx", copy, MODELS / "computer.onnx"])
    assert [m.keyword for m in det.models] == ["activate", "computer"]
    err = capsys.readouterr().err
    assert f"speechseq: warning: {copy}: the same model as {MODELS / 'activate.onnx'}; used once\n" in err
    found = speechseq.detect(SAMPLE, detector=det)
    code, out, cli_err = run("detect", "--json", "--model", MODELS / "activate.onnx", "--model", copy,
                             "--model", MODELS / "computer.onnx", SAMPLE)
    assert code == 0 and f"--model {copy}: the same model as --model {MODELS / 'activate.onnx'}" in cli_err
    assert [d.to_dict() for d in found] == json.loads(out)["detections"] and [d.keyword for d in found] == [
        "activate"]   # once, not twice


def test_load_detector_says_two_models_of_one_keyword(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    other = onnx.load(str(MODELS / "activate.onnx"))   # the same keyword, another threshold: another model
    meta = json.loads(other.metadata_props[0].value)
    meta["threshold"] = 0.5
    other.metadata_props[0].value = json.dumps(meta)
    onnx.save(other, str(tmp_path / "other.onnx"))
    det = speechseq.load_detector([MODELS / "activate.onnx", tmp_path / "other.onnx"])
    assert [m.keyword for m in det.models] == ["activate", "activate"]   # both run, as detect runs them
    assert (f"speechseq: warning: {MODELS / 'activate.onnx'} and {tmp_path / 'other.onnx'} both detect 'activate': "
            "their events carry the same name\n") in capsys.readouterr().err
    assert [d.keyword for d in speechseq.detect(SAMPLE, detector=det)] == ["activate", "activate"]


# --- 4. counts of one in the singular -----------------------------------------------------------------------------

def test_word_lm_recipe_says_one_row_in_the_singular(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from tests.test_eval_data_exclusion import _data, _jsonl, _script

    data = _data(tmp_path)
    one = _jsonl(tmp_path / "one" / "manifest.jsonl",
                 [{"audio_filepath": "a.wav", "duration": 1.0, "text": "the cat", "split": "train"}])
    monkeypatch.setattr(sys, "argv", ["train_wordlm.py", "--data", str(data), "--out", str(tmp_path / "w.npz"),
                                      "--exclude-all", "--exclude-also", f"{one}:dev"])
    with pytest.raises(SystemExit, match=r"manifest.jsonl: no row of split 'dev' among its 1 row, so nothing"):
        _script("train_wordlm").main()


def test_decoder_recipe_says_one_training_utterance_in_the_singular(tmp_path):
    pytest.importorskip("torch")
    from tests.test_review_recipes import _decoder_setup, _run_here

    fit, files = _decoder_setup(tmp_path)   # four utterances ("word 0" and "word 1" twice): --every 4 keeps one
    assert _run_here("train_decoder", "encoder", "--checkpoint", str(files["rec"]), "--out",
                     str(tmp_path / "m.onnx")).returncode == 0
    r = _run_here("train_decoder", *fit, "--recognizer", str(tmp_path / "m.onnx"), "--lm-checkpoint",
                  str(files["lm"]), "--epochs", "1", "--hidden", "8", "--every", "4")
    assert r.returncode == 0, r.stderr
    assert "1 training utterance, 0 held out\n" in r.stderr and "utterances" not in r.stderr, r.stderr
