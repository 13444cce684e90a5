"""Review of four command-line defects: `train lm --out -` refused before --text is read (it was refused after the
whole text had been read), scripts/train_detectors.py's folders refused as '-' (--models - made a folder "-"),
`train recognizer --val-manifest PATH@SPLIT` (read as a file name), and --lm / --lexicon files of the wrong kind
named with their option (the message named the file alone)."""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import pytest

from speechseq.errors import SpeechseqError

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
DETECTOR = ROOT / "models" / "activate.onnx"
RECOGNIZER = ROOT / "models" / "recognizer-en.onnx"
LM = ROOT / "models" / "lm-en.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"  # "activate, turn on the kitchen lights"
AUDIO = ROOT / "tests" / "fixtures" / "manifests" / "jsonl" / "audio"
KATHLEEN = ROOT / "tests" / "fixtures" / "manifests" / "mixed_splits" / "kathleen.jsonl"  # 4 train rows among others
needs_models = pytest.mark.skipif(not all(p.exists() for p in (DETECTOR, RECOGNIZER, LM, SAMPLE)),
                                  reason="shipped models or sample missing")
REFUSED = "a folder is not written to standard output (only text reports are); name a folder"


# --- 1. train lm --out -: refused before any input is read --------------------------------------------------------
@pytest.mark.parametrize("out, said", [("-", f"--out -: {REFUSED}"),
                                       ("FILE", "--out {FILE}: exists and is not a directory")])
def test_train_lm_refuses_its_out_before_reading_text(tmp_path, monkeypatch, out, said):
    """--out - (or a file) was refused only after every --text file had been read whole (minutes for GBs of text): a
    --text that does not exist was said instead. Now the --out error comes first, in output_dir's words as train
    detector and train recognizer say it, and nothing is made (the folder is made once the text is read: an error
    of the input leaves none)."""
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder\n")
    given = "a-file" if out == "FILE" else out
    code, stdout, err = run("train", "lm", "--text", "gone.txt", "--epochs", "1", "--out", given)
    assert code == 1 and stdout == "" and len(err.splitlines()) == 1, err
    assert err.strip() == "speechseq: error: " + said.format(FILE=given), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


# --- 2. scripts/train_detectors.py: its folders are not '-' --------------------------------------------------------
@pytest.mark.parametrize("option", ["--models", "--runs", "--banks"])
def test_train_detectors_refuses_a_folder_named_dash(tmp_path, monkeypatch, capsys, option):
    """--models - made a folder "-" (and exported the models into it); --runs - and --banks - made one too. Now one
    line, as the other scripts' --out/--work/--models say it (commit 51dc493), before any work."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    module = importlib.import_module("train_detectors")
    folders = {"--models": "models", "--runs": "runs", "--banks": "banks"}
    argv = [a for flag, name in folders.items() for a in (flag, "-" if flag == option else str(tmp_path / name))]
    monkeypatch.setattr(sys, "argv", ["train_detectors.py", *argv, "--stage", "export", "--keywords", "activate"])
    with pytest.raises(SystemExit) as exc:
        module.main()
    assert exc.value.code == f"{option} -: {REFUSED}"
    assert list(tmp_path.iterdir()) == []  # no "-", and none of the other folders either


# --- 3. train recognizer --val-manifest PATH@SPLIT ---------------------------------------------------------------
TRAIN = ["turn on the light", "open the door", "close the window"]
VALID = ["stop the music", "what time is it"]


def _two_splits(path: Path) -> str:
    """A manifest of two splits: 3 rows of 'train', 2 of 'valid' (no evaluation split: every row is read without
    one named)."""
    clips = ["a", "b", "c", "a", "b"]
    rows = [{"audio_filepath": str(AUDIO / f"{c}.flac"), "text": t, "split": s}
            for c, (t, s) in zip(clips, [(t, "train") for t in TRAIN] + [(t, "valid") for t in VALID])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _args(tmp_path: Path, *argv: str) -> argparse.Namespace:
    from speechseq.commands.train_recognizer import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args([*argv, "--out", str(tmp_path / "out")])


def _val_texts(args: argparse.Namespace) -> list[str]:
    from speechseq.commands.train_recognizer import _banks

    _, val = _banks(args)
    return sorted(val.texts)


def test_val_manifest_split_validates_on_that_split_alone(tmp_path):
    """--val-manifest m.jsonl@valid was read as a file of that name ("no such file"); now it is split 'valid' of
    m.jsonl alone, as --manifest PATH@SPLIT takes one, and @train the 3 others. Without a split, every row (none is
    of an evaluation split): the rule for a manifest without one, unchanged."""
    pytest.importorskip("torch")
    m = _two_splits(tmp_path / "m.jsonl")
    train = ["--manifest", f"{KATHLEEN}@train"]
    assert _val_texts(_args(tmp_path / "1", *train, "--val-manifest", f"{m}@valid")) == sorted(VALID)
    assert _val_texts(_args(tmp_path / "2", *train, "--val-manifest", f"{m}@train")) == sorted(TRAIN)
    assert _val_texts(_args(tmp_path / "3", *train, "--val-manifest", m)) == sorted(TRAIN + VALID)
    # the same rows as --val-split names them
    assert _val_texts(_args(tmp_path / "4", *train, "--val-manifest", m, "--val-split", "valid")) == sorted(VALID)


def test_val_manifest_split_is_recorded_as_val_split_was(tmp_path):
    """A run made with --val-manifest PATH --val-split S resumes when the split is given as PATH@S (the same rows),
    and PATH@S is not recorded as a file name."""
    from speechseq.commands.train_recognizer import _sources

    m = _two_splits(tmp_path / "m.jsonl")
    before = _sources(_args(tmp_path, "--manifest", str(KATHLEEN), "--val-manifest", m, "--val-split", "valid"))
    after = _sources(_args(tmp_path, "--manifest", str(KATHLEEN), "--val-manifest", f"{m}@valid"))
    assert after == before and (after["--val-manifest"], after["--val-split"]) == (m, "valid")


def test_val_manifest_split_errors_are_those_of_manifest(tmp_path):
    """The same parser as --manifest's: an empty split is a usage error (exit 2) that says the form; a split the
    manifest has no row of names the splits it holds; @SPLIT beside --val-split is one line."""
    pytest.importorskip("torch")
    m = _two_splits(tmp_path / "m.jsonl")
    code, _, err = run("train", "recognizer", "--manifest", KATHLEEN, "--val-manifest", f"{m}@",
                       "--out", tmp_path / "o")
    assert code == 2 and "argument --val-manifest: give it as PATH@SPLIT (e.g. manifest.jsonl@train)" in err, err
    with pytest.raises(SpeechseqError) as exc:
        _val_texts(_args(tmp_path / "5", "--manifest", f"{KATHLEEN}@train", "--val-manifest", f"{m}@dev"))
    assert str(exc.value) == f"{m}: no utterances in split 'dev' (its rows: 'train' 3, 'valid' 2)"
    code, _, err = run("train", "recognizer", "--manifest", KATHLEEN, "--val-manifest", f"{m}@valid", "--val-split",
                       "train", "--out", tmp_path / "o")
    assert code == 1 and err.strip() == (f"speechseq: error: --val-split train: --val-manifest {m}@valid names its "
                                         "split already; give one of them"), err
    assert not (tmp_path / "o").exists()


def test_a_validation_split_that_is_trained_on_too_is_said(tmp_path, capsys):
    """--manifest m.jsonl --val-manifest m.jsonl@valid trained on the 'valid' rows too (a manifest without a split
    gives every row but the evaluation splits'): a warning that says so; training on @train, none."""
    pytest.importorskip("torch")
    m = _two_splits(tmp_path / "m.jsonl")
    _val_texts(_args(tmp_path / "6", "--manifest", m, "--val-manifest", f"{m}@valid"))
    err = capsys.readouterr().err
    assert (f"--val-manifest {m}: split 'valid' is trained on too (--manifest {m}: every row but the evaluation "
            "splits'): validation scores rows the model is fitted to") in err, err
    _val_texts(_args(tmp_path / "7", "--manifest", f"{m}@train", "--val-manifest", f"{m}@valid"))
    assert "trained on too" not in capsys.readouterr().err


# --- 4. --lm / --lexicon of the wrong kind: the option named -----------------------------------------------------
def _text(tmp_path: Path) -> Path:
    text = tmp_path / "words.txt"
    text.write_text("hello\nworld\n")
    return text


def _one_error(code: int, out: str, err: str) -> str:
    assert code == 1 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("speechseq: error: "), err
    return err.strip()[len("speechseq: error: "):]


@needs_models
@pytest.mark.parametrize("options, said", [
    (["--decoder", "beam-lm", "--lm", DETECTOR], f"--lm {DETECTOR}: a trigger-word detector, not a language model"),
    (["--lm", DETECTOR], f"--lm {DETECTOR}: a trigger-word detector, not a language model"),   # auto: the lexicon's
    (["--decoder", "beam-lm", "--lm", RECOGNIZER], f"--lm {RECOGNIZER}: a speech recogniser, not a language model"),
    (["--decoder", "lexicon", "--lexicon", LM], f"--lexicon {LM}: a language model, not a word LM file"),
    (["--decoder", "beam-lm", "--lm", "TEXT"], "--lm TEXT: cannot load ONNX model ("),
    (["--lexicon", "TEXT"], "--lexicon TEXT: not a word LM file (not a NumPy .npz archive"),
], ids=["beam-lm-detector", "auto-detector", "beam-lm-recognizer", "lexicon-lm", "beam-lm-text", "auto-lexicon-text"])
def test_transcribe_names_the_option_of_a_wrong_file(tmp_path, options, said):
    """"models/activate.onnx: not a speechseq language model (kind 'detector')" named the file, not the option
    that gave it (transcribe reads --model, --lm, --lexicon and --attention-decoder files)."""
    text = _text(tmp_path)
    message = _one_error(*run("transcribe", SAMPLE, *[text if o == "TEXT" else o for o in options]))
    assert message.startswith(said.replace("TEXT", str(text))), message


@needs_models
@pytest.mark.parametrize("options, said", [
    (["--decoder", "beam-lm", "--lm", DETECTOR], f"--lm {DETECTOR}: a trigger-word detector, not a language model"),
    (["--decoder", "beam-lm", "--lm", RECOGNIZER], f"--lm {RECOGNIZER}: a speech recogniser, not a language model"),
    (["--decoder", "lexicon", "--lexicon", DETECTOR], f"--lexicon {DETECTOR}: a trigger-word detector, not a word LM"),
    (["--decoder", "lexicon", "--lexicon", "TEXT"], "--lexicon TEXT: not a word LM file"),
    (["--decoder", "lexicon", "--char-lm-weight", "0.5", "--lm", "TEXT"], "--lm TEXT: cannot load ONNX model"),
], ids=["beam-lm-detector", "beam-lm-recognizer", "lexicon-detector", "lexicon-text", "char-lm-text"])
def test_eval_recognizer_names_the_option_of_a_wrong_file(tmp_path, options, said):
    text = _text(tmp_path)
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights"}) + "\n")
    message = _one_error(*run("eval", "recognizer", "--manifest", m, *[text if o == "TEXT" else o for o in options]))
    assert message.startswith(said.replace("TEXT", str(text))), message


@needs_models
def test_listen_names_the_option_of_a_wrong_file(tmp_path):
    assert _one_error(*run("listen", "--input", SAMPLE, "--no-partials", "--lm", DETECTOR)) == (
        f"--lm {DETECTOR}: a trigger-word detector, not a language model")
    assert _one_error(*run("listen", "--input", SAMPLE, "--no-partials", "--lexicon", RECOGNIZER)) == (
        f"--lexicon {RECOGNIZER}: a speech recogniser, not a word LM file (make one with scripts/train_wordlm.py)")
