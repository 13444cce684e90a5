"""Review (s51, j): option values at their edges. A negative number in scientific notation (-1e5, -1e-1, -.5e2) is a
number to every command, not an option; the decoding weights and bonuses are bounded (|w| <= 1e3: 1e308 overflowed the
searches' scores), and tune fusion decodes a value given twice once; '' or '-' as a model path is said as such; an
empty --split is every row; a streaming recogniser where an offline one is read names the file to pass; record
--device '' names no device, and a recording that gave no take is an exit code 1."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import _Parser, build_parser

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
RECOGNIZER, STREAM, LM = MODELS / "recognizer-en.onnx", MODELS / "recognizer-en.stream.onnx", MODELS / "lm-en.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
needs_models = pytest.mark.skipif(not all(p.exists() for p in (RECOGNIZER, STREAM, LM, SAMPLE)),
                                  reason="shipped models or sample missing")
TUNE = ["tune", "fusion", "--model", "M", "--lm", "L", "--manifest", "X"]


def _usage_error(argv) -> str:
    code, out, err = run(*argv)
    assert code == 2 and out == "", err
    return err.strip().splitlines()[-1]


def _one_error(argv) -> str:
    code, out, err = run(*argv)
    assert code == 1 and len(err.splitlines()) == 1 and err.startswith("speechseq: error: "), (code, err)
    return err.strip()[len("speechseq: error: "):]


def _manifest(tmp_path: Path, splits) -> Path:
    m = tmp_path / "m.jsonl"
    m.write_text("".join(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights",
                                     **({"split": s} if s is not None else {})}) + "\n" for s in splits))
    return m


# --- 1. a negative number in scientific notation is a number -------------------------------------------------------

@pytest.mark.parametrize("argv, name, value", [
    (TUNE + ["--betas", "-1e2", "-.5e2", "1", "-1e-1"], "betas", [-100.0, -50.0, 1.0, -0.1]),
    (TUNE + ["--alphas", "1e2", "--betas", "-1E+2"], "betas", [-100.0]),
    (["transcribe", "a.wav", "--word-bonus", "-1e-1"], "word_bonus", -0.1),
    (["transcribe", "a.wav", "--char-bonus", "-.5e1", "--word-insertion-bonus", "-2."], "char_bonus", -5.0),
    (["listen", "--word-bonus", "-1e2"], "word_bonus", -100.0),
])
def test_a_negative_number_in_scientific_notation_is_a_number(argv, name, value):
    # argparse's own pattern (-1, -.5) took "-1e5" for an option: "argument --betas: expected at least one argument"
    assert getattr(build_parser().parse_args(argv), name) == value


def test_a_negative_number_out_of_bounds_is_said_as_a_number():
    assert _usage_error(TUNE + ["--betas", "-1e5"]) == (
        "speechseq tune fusion: error: argument --betas: must lie in [-1000, 1000], got -1e5")


def test_an_option_that_looks_like_a_number_still_makes_such_words_options():
    # as argparse does for an option -1 (then -2 is an unknown option, not a positional): with -1e3 too
    p = _Parser(prog="x")
    p.add_argument("-1e3", dest="k", action="store_true")
    p.add_argument("v", nargs="?")
    assert p.parse_args(["-1e3"]).k is True
    with pytest.raises(SystemExit):
        p.parse_args(["-2e3"])
    q = _Parser(prog="y")    # without one, a number (in an argument group too)
    q.add_argument_group("g").add_argument("--z", type=float)
    q.add_argument("v", nargs="?")
    assert vars(q.parse_args(["--z", "-1e-1", "-2e3"])) == {"z": -0.1, "v": "-2e3"}


# --- 2. the decoding weights are bounded --------------------------------------------------------------------------

@pytest.mark.parametrize("argv, option, bounds", [
    (["transcribe", "a.wav", "--lm-weight", "1e308"], "--lm-weight", "[0, 1000]"),
    (["transcribe", "a.wav", "--word-bonus", "1e308"], "--word-bonus", "[-1000, 1000]"),
    (["transcribe", "a.wav", "--word-bonus", "-1001"], "--word-bonus", "[-1000, 1000]"),
    (["transcribe", "a.wav", "--word-lm-weight", "1e308"], "--word-lm-weight", "[0, 1000]"),
    (["transcribe", "a.wav", "--word-insertion-bonus", "1e308"], "--word-insertion-bonus", "[-1000, 1000]"),
    (["transcribe", "a.wav", "--oov-penalty", "1e308"], "--oov-penalty", "[0, 1000]"),
    (["transcribe", "a.wav", "--char-lm-weight", "1e308"], "--char-lm-weight", "[0, 1000]"),
    (["transcribe", "a.wav", "--char-bonus", "-1e308"], "--char-bonus", "[-1000, 1000]"),
    (["listen", "--lm-weight", "1e308"], "--lm-weight", "[0, 1000]"),
    (["listen", "--word-bonus", "1e4"], "--word-bonus", "[-1000, 1000]"),
    (["eval", "recognizer", "--manifest", "X", "--lm-weight", "1e308"], "--lm-weight", "[0, 1000]"),
    (["eval", "recognizer", "--manifest", "X", "--word-bonus", "-1e308"], "--word-bonus", "[-1000, 1000]"),
    (["eval", "recognizer", "--manifest", "X", "--word-lm-weight", "1e308"], "--word-lm-weight", "[0, 1000]"),
    (["analyze", "--manifest", "X", "--model", "M", "--lm-weight", "1e308"], "--lm-weight", "[0, 1000]"),
    (["analyze", "--manifest", "X", "--model", "M", "--word-bonus", "1e308"], "--word-bonus", "[-1000, 1000]"),
    (TUNE + ["--alphas", "0", "1e308"], "--alphas", "[0, 1000]"),
    (TUNE + ["--betas", "1e308"], "--betas", "[-1000, 1000]"),
])
def test_a_decoding_weight_past_1e3_is_a_usage_error_naming_the_option(argv, option, bounds):
    # 1e308 overflowed the scores: numpy's "RuntimeWarning: overflow encountered in multiply" with its source lines
    said = _usage_error(argv)
    assert said.endswith(f"error: argument {option}: must lie in {bounds}, got {argv[-1]}"), said


def test_a_decoding_weight_of_1e3_is_taken():
    args = build_parser().parse_args(["transcribe", "a.wav", "--lm-weight", "1e3", "--word-bonus", "-1e3"])
    assert (args.lm_weight, args.word_bonus) == (1000.0, -1000.0)


@needs_models
def test_tune_fusion_decodes_a_value_given_twice_once(tmp_path):
    m = _manifest(tmp_path, [None])
    code, out, err = run("tune", "fusion", "--model", RECOGNIZER, "--lm", LM, "--manifest", m,
                         "--alphas", "0.5", "0.5", "0", "--betas", "1", "1.0", "2")
    assert code == 0, err
    rows = out.splitlines()
    assert rows[0].split() == ["WER", "%", "b=1", "b=2"], out           # b=1 was a column twice
    assert [r.split()[0] for r in rows[1:]] == ["a=0.5", "a=0"], out     # a=0.5 a row twice, decoded twice


# --- 3. '' and '-' name no model file ------------------------------------------------------------------------------

@needs_models
@pytest.mark.parametrize("argv, said", [
    (["transcribe", SAMPLE, "--model", ""], "--model '': an empty path names no model file"),
    (["transcribe", SAMPLE, "--model", "-"], "--model -: a model is not read from standard input; save it to a file "
                                             "and name that"),
    (["transcribe", SAMPLE, "--decoder", "beam-lm", "--lm", ""], "--lm '': an empty path names no model file"),
    (["transcribe", SAMPLE, "--decoder", "rescore", "--lm", "-"], "--lm -: a model is not read from standard input"),
    (["transcribe", SAMPLE, "--decoder", "rescore", "--attention-decoder", "-"],
     "--attention-decoder -: a model is not read from standard input"),
    (["transcribe", SAMPLE, "--lm", ""], "--lm '': an empty path names no model file"),   # auto: left out in silence
    (["transcribe", SAMPLE, "--lexicon", "none", "--attention-decoder", ""],     # auto without a lexicon: the same
     "--attention-decoder '': an empty path names no model file"),
    (["transcribe", SAMPLE, "--decoder", "lexicon", "--char-lm-weight", "1", "--lm", "-"],
     "--lm -: a model is not read from standard input"),
    (["listen", "--input", SAMPLE, "--decoder", "beam", "--lm", ""], "--lm '': an empty path names no model file"),
    (["listen", "--input", SAMPLE, "--model", "-"], "--model -: a model is not read from standard input"),
    (["eval", "recognizer", "--manifest", "MANIFEST", "--model", ""], "--model '': an empty path names no model file"),
    (["eval", "recognizer", "--manifest", "MANIFEST", "--decoder", "beam-lm", "--lm", "-"],
     "--lm -: a model is not read from standard input"),
    (["analyze", "--manifest", "MANIFEST", "--model", RECOGNIZER, "--lm", ""],    # was an analysis without the LM
     "--lm '': an empty path names no model file"),
    (["tune", "fusion", "--manifest", "MANIFEST", "--model", RECOGNIZER, "--lm", ""],
     "--lm '': an empty path names no model file"),
    (["tune", "fusion", "--manifest", "MANIFEST", "--model", RECOGNIZER, "--lm", "-"],
     "--lm -: a model is not read from standard input"),
    (["sample", "--lm", ""], "--lm '': an empty path names no model file"),
])
def test_an_empty_or_stdin_model_path_is_said_as_such(tmp_path, monkeypatch, argv, said):
    # ".: is a directory, not a model file" (Path("") is the working folder), "-: no such model file"
    monkeypatch.chdir(tmp_path)
    m = _manifest(tmp_path, [None])
    assert _one_error([m if a == "MANIFEST" else a for a in argv]).startswith(said)


def test_a_model_file_named_dash_is_read_as_a_file(tmp_path, monkeypatch):
    from speechseq.commands.transcribe import check_model_arg

    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_bytes(b"x")
    check_model_arg("-", None, "--model")      # there: the loader says what it is


# --- 4. an empty --split is every row ------------------------------------------------------------------------------

@needs_models
@pytest.mark.parametrize("argv, said", [
    (["eval", "recognizer", "--manifest", "MANIFEST", "--vad", "off", "--json", "-"], "utterances"),
    (["analyze", "--manifest", "MANIFEST", "--model", RECOGNIZER, "--json"], "summary"),
    (["tune", "fusion", "--manifest", "MANIFEST", "--model", RECOGNIZER, "--lm", LM, "--alphas", "0", "--betas", "0",
      "--json"], "utterances"),
])
def test_an_empty_split_is_every_row(tmp_path, argv, said):
    # "no utterances (of split '')": a row's "" is no split, and so is tune fusion's default
    m = _manifest(tmp_path, ["a", "b"])
    code, out, err = run(*[m if a == "MANIFEST" else a for a in argv], "--split", "")
    assert code == 0, err
    last = json.loads(out.strip().splitlines()[-1] if said == "summary" else out)
    n = last["summary"]["utterances"] if said == "summary" else last["utterances"]
    assert n == 2, out


# --- 5. a streaming recogniser where an offline one is read -------------------------------------------------------

@needs_models
@pytest.mark.parametrize("argv", [
    ["eval", "recognizer", "--manifest", "MANIFEST"],
    ["analyze", "--manifest", "MANIFEST"],
    ["tune", "fusion", "--manifest", "MANIFEST", "--lm", LM],
    ["transcribe", SAMPLE],
])
def test_a_streaming_recogniser_names_the_offline_one_to_pass(tmp_path, argv):
    # "a streaming speech recogniser, not a speech recogniser": which file to give was left to guess
    m = _manifest(tmp_path, [None])
    said = _one_error([m if a == "MANIFEST" else a for a in argv] + ["--model", STREAM])
    assert said == (f"--model {STREAM}: a streaming speech recogniser (chunked, for live partials), not an offline "
                    f"one: pass the one it was made from, {RECOGNIZER}")


@needs_models
def test_a_streaming_recogniser_without_its_twin_names_the_shipped_one(tmp_path):
    alone = tmp_path / "mine.stream.onnx"
    alone.write_bytes(STREAM.read_bytes())
    said = _one_error(["analyze", "--manifest", _manifest(tmp_path, [None]), "--model", alone])
    assert said == (f"--model {alone}: a streaming speech recogniser (chunked, for live partials), not an offline "
                    f"one: pass one, such as {MODELS / 'recognizer-en.onnx'}")


# --- 6. record ----------------------------------------------------------------------------------------------------

def test_record_an_empty_device_names_no_device(tmp_path):
    # '' is a part of every name: "more than one input device matches ''" (or "no input device ''")
    said = _one_error(["record", "android", "--out", tmp_path / "clips", "--device", ""])
    assert said == "--device '': an empty name names no device (give its index or a part of its name: " \
                   "--list-devices lists them)"
    assert not (tmp_path / "clips").exists()


def test_record_a_recording_without_a_take_is_an_error(tmp_path):
    # 2 s of a faint noise floor: "kept 0 takes", exit 0, as if the takes were there to train on
    src = tmp_path / "quiet.wav"
    sf.write(src, np.random.default_rng(0).normal(0, 1e-4, 32000).astype(np.float32), 16000)
    code, out, err = run("record", "android", "--out", tmp_path / "clips", "--input", src, "--vad", "energy")
    assert code == 1, err
    assert err.splitlines()[-1] == f"speechseq: warning: {src}: no take of \"android\" found (no speech was heard in it)"


def test_record_a_recording_whose_speech_was_all_rejected_says_so(tmp_path):
    # the demo's command, 1.8 s of speech, longer than --max-seconds 1: rejected, and nothing else said
    a = sf.read(SAMPLE, dtype="float32")[0]
    src = tmp_path / "long.wav"
    sf.write(src, np.concatenate([np.zeros(8000, np.float32), a[int(2.5 * 16000): int(4.3 * 16000)],
                                  np.zeros(16000, np.float32)]), 16000)
    code, out, err = run("record", "android", "--out", tmp_path / "clips", "--input", src, "--vad", "energy",
                         "--max-seconds", "1")
    assert code == 1, err
    assert "not kept" in out
    assert err.splitlines()[-1] == (f"speechseq: warning: {src}: no take of \"android\" found (1 stretch of speech, "
                                    "none kept)")
