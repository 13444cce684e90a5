"""Review (s51, k): loose ends of the session's option reviews. An empty keyword or streaming model path, and an empty
--device, are said as such (not ".: is a directory", nor left out in silence); train recognizer --split '' is the
default, as elsewhere; --command-bound is bounded; the runtime's LM weight is the commands' tuned one; a detector
loader given another speechseq model says what it is, as the other loaders do."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
RECOGNIZER, LM = MODELS / "recognizer-en.onnx", MODELS / "lm-en.onnx"
HOME = ROOT / "data" / "commands" / "home.txt"
SPLITS = ROOT / "tests" / "fixtures" / "manifests" / "mixed_splits" / "kathleen.jsonl"
needs_models = pytest.mark.skipif(not all(p.exists() for p in (RECOGNIZER, LM, SAMPLE, MODELS / "activate.onnx")),
                                  reason="shipped models or sample missing")
NO_DEVICE = ("--device '': an empty name names no device (give its index or a part of its name: --list-devices "
             "lists them)")


def _one_error(argv) -> str:
    code, out, err = run(*argv)
    assert code == 1 and len(err.splitlines()) == 1 and err.startswith("speechseq: error: "), (code, err)
    return err.strip()[len("speechseq: error: "):]


def _usage_error(argv) -> str:
    code, out, err = run(*argv)
    assert code == 2 and out == "", err
    return err.strip().splitlines()[-1]


# --- 1. an empty model path or device name ------------------------------------------------------------------------

@needs_models
@pytest.mark.parametrize("argv, said", [
    (["detect", SAMPLE, "--model", ""], "--model '': an empty path names no model file"),
    (["detect", SAMPLE, "--model", MODELS / "activate.onnx", "--model", ""],
     "--model '': an empty path names no model file"),
    (["listen", "--input", SAMPLE, "--fast", "--keyword-model", ""],
     "--keyword-model '': an empty path names no model file"),
    (["listen", "--input", SAMPLE, "--fast", "--stream-model", ""],        # was a warning, and final partials
     "--stream-model '': an empty path names no model file"),
    (["listen", "--input", SAMPLE, "--fast", "--partial-decoder", "stream", "--stream-model", ""],
     "--stream-model '': an empty path names no model file"),
])
def test_an_empty_model_path_is_said_as_such(tmp_path, monkeypatch, argv, said):
    # ".: is a directory, not a model file (pass --model PATH)": Path('') is the working folder
    monkeypatch.chdir(tmp_path)
    assert _one_error(argv) == said


@pytest.mark.parametrize("argv", [["listen", "--device", ""], ["listen", "--check-input", "--device", ""]])
def test_listen_an_empty_device_names_no_device(argv):
    # '' is a part of every name: "no input device ''" (or "more than one input device matches ''"), said once the
    # models had loaded
    assert _one_error(argv) == NO_DEVICE


@needs_models
def test_listen_an_empty_device_with_input_is_ignored_as_any_device_is():
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--device", "", "--no-partials", "--json")
    assert code == 0, err
    assert "speechseq: warning: --device and --samplerate choose a microphone: with --input they are ignored" in err


def test_record_says_an_empty_device_in_the_same_words(tmp_path):
    assert _one_error(["record", "android", "--out", tmp_path / "clips", "--device", ""]) == NO_DEVICE


# --- 2. train recognizer --split '' -----------------------------------------------------------------------------

def _train_args(tmp_path: Path, *extra: str) -> argparse.Namespace:
    from speechseq.commands.train_recognizer import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(["--manifest", str(SPLITS), "--out", str(tmp_path / "out"), *extra])


def test_train_recognizer_an_empty_split_is_the_default(tmp_path):
    """--split '' (an unset variable) took the rows of split '': "no utterances"; it is the default now, every row
    but those of the evaluation splits, recorded as a run without --split (so that either resumes the other)."""
    from speechseq.commands.train_recognizer import _selected, _sources

    assert _selected(_train_args(tmp_path, "--split", "")) == _selected(_train_args(tmp_path)) == [(str(SPLITS), None)]
    assert _sources(_train_args(tmp_path, "--split", "")) == _sources(_train_args(tmp_path))


def test_train_recognizer_an_empty_val_split_is_the_default(tmp_path):
    from speechseq.commands.train_recognizer import _val_selected, _val_split_used

    args = _train_args(tmp_path, "--val-manifest", str(SPLITS), "--val-split", "")
    assert _val_selected(args) == (str(SPLITS), None)
    _val_split_used(_train_args(tmp_path, "--val-split", ""))   # was "--val-split  needs --val-manifest"


def test_train_recognizer_an_empty_split_reads_every_row_but_the_evaluation_ones(tmp_path, capsys):
    pytest.importorskip("torch")
    from speechseq.commands.train_recognizer import _banks

    train, val = _banks(_train_args(tmp_path, "--split", ""))
    texts = {t for part in train for t in part.texts} | set(val.texts)
    assert len(texts) == 6, texts      # 4 train rows and 2 that name no split; not dev's, not test's
    assert "2 rows of the evaluation splits (dev/test/validation) left out" in capsys.readouterr().err


# --- 3. --command-bound ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv", [
    ["transcribe", "a.wav"], ["listen"], ["eval", "recognizer", "--manifest", "X"],
], ids=["transcribe", "listen", "eval"])
@pytest.mark.parametrize("value", ["100.5", "1e308"])
def test_the_command_bound_is_bounded(argv, value):
    # 1e308 took a phrase for every utterance, as any bound over the measured deficits does: no bound at all
    said = _usage_error([*argv, "--command-bound", value])
    assert said.endswith(f"error: argument --command-bound: must lie in [0, 100], got {value}"), said


def test_a_command_bound_of_100_is_taken():
    from speechseq.cli import build_parser

    assert build_parser().parse_args(["transcribe", "a.wav", "--command-bound", "100"]).command_bound == 100.0


# --- 4. one bound on the decoding weights ---------------------------------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["transcribe", "a.wav"], "--lm-weight"), (["transcribe", "a.wav"], "--word-bonus"),
    (["listen"], "--lm-weight"), (["listen"], "--word-bonus"),
    (["eval", "recognizer", "--manifest", "X"], "--lm-weight"),
    (["eval", "recognizer", "--manifest", "X"], "--word-bonus"),
    (["analyze", "--manifest", "X", "--model", "M"], "--lm-weight"),
    (["analyze", "--manifest", "X", "--model", "M"], "--word-bonus"),
    (["tune", "fusion", "--model", "M", "--lm", "L", "--manifest", "X"], "--alphas"),
    (["tune", "fusion", "--model", "M", "--lm", "L", "--manifest", "X"], "--betas"),
])
def test_every_decoding_weight_is_bounded_by_the_one_constant(monkeypatch, argv, option):
    """transcribe's WEIGHT_MAX, written out as 1e3 in four other commands, is one constant (commands.common): each
    weight takes it, and no more."""
    from speechseq.cli import build_parser
    from speechseq.commands import common

    top = common.WEIGHT_MAX
    args = build_parser().parse_args([*argv, option, f"{top!r}"])
    assert getattr(args, option[2:].replace("-", "_")) in (top, [top])
    said = _usage_error([*argv, option, f"{top * 1.001!r}"])
    assert f"argument {option}: must lie in [" in said and f"{top:g}], got" in said, said


# --- 5. the runtime's default LM weight -----------------------------------------------------------------------------

def test_the_runtime_fuses_the_lm_at_the_commands_tuned_weights():
    from speechseq.commands.transcribe import LM_WEIGHT, WORD_BONUS
    from speechseq.runtime import recognizer, text_decoder
    from speechseq.runtime.decoding import prefix_beam_search

    assert (recognizer.DecodeOptions().alpha, recognizer.DecodeOptions().beta) == (LM_WEIGHT, WORD_BONUS) == (0.8, 1.0)
    assert (text_decoder.DecodeOptions().lm_weight, text_decoder.DecodeOptions().word_bonus) == (LM_WEIGHT, WORD_BONUS)
    defaults = prefix_beam_search.__defaults__
    assert defaults[-2:] == (LM_WEIGHT, WORD_BONUS), defaults


@needs_models
def test_a_recognizer_beam_with_an_lm_decodes_as_transcribe_beam_lm():
    """DecodeOptions(decoder="beam", lm=lm) fused at alpha 0.5 ("and to bate there on the cition life" on the demo),
    TextDecoder's beam-lm, which transcribe runs, at 0.8 ("... bet tern ..."): one text for the same log-probs."""
    from speechseq.audio import load_audio
    from speechseq.frontend import logmel
    from speechseq.runtime.lm import OnnxLM
    from speechseq.runtime.recognizer import DecodeOptions, Recognizer
    from speechseq.runtime.text_decoder import DecodeOptions as TextOptions
    from speechseq.runtime.text_decoder import TextDecoder

    rec, lm = Recognizer(RECOGNIZER), OnnxLM(LM)
    lp = rec.log_probs(logmel(load_audio(SAMPLE), rec.frontend))
    fused = rec.decode(lp, DecodeOptions(decoder="beam", lm=lm)).text
    assert fused == " ".join(TextDecoder(TextOptions("beam-lm"), lm=lm)(lp).text.split()) != ""


# --- 6. a detector loader given another speechseq model -------------------------------------------------------------

@needs_models
@pytest.mark.parametrize("name, what", [("recognizer-en.onnx", "a speech recogniser"),
                                        ("lm-en.onnx", "a language model")])
def test_a_detector_loader_says_what_another_model_is(tmp_path, monkeypatch, name, what):
    """speechseq.load_detector(recognizer-en.onnx) said "not a speechseq detector (metadata kind 'recognizer')" where
    load_recognizer and the commands say what the file is."""
    import speechseq
    from speechseq.errors import SpeechseqError
    from speechseq.runtime.detector import KeywordModel

    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "cache"))
    path = MODELS / name
    want = f"{path}: {what}, not a trigger-word detector"
    for load in (lambda: speechseq.load_detector(path), lambda: KeywordModel(path, rewrite=False),
                 lambda: KeywordModel(path)):
        with pytest.raises(SpeechseqError) as exc:
            load()
        assert str(exc.value) == want
    assert _one_error(["detect", SAMPLE, "--model", path]) == f"--model {want}"


def test_a_model_of_no_speechseq_kind_is_still_said_by_its_kind():
    from speechseq.runtime.onnx import model_kind_error

    assert model_kind_error("x.onnx", "vad", "detector") == "x.onnx: not a speechseq detector (metadata kind 'vad')"
    assert model_kind_error("x.onnx", None, "detector") == "x.onnx: not a speechseq detector (metadata kind None)"
    assert model_kind_error("x.onnx", ["lm"], "detector") == "x.onnx: not a speechseq detector (metadata kind ['lm'])"
