"""Review (s51, c): the public API's errors name the Python arguments a caller wrote, never the command-line options
it never did ("--beam-size must be >= 1" for load_recognizer(beam_size=0), "--model PATH: ..." for its path=, "--lm
PATH" for the models folder's LM); a wrong type or value of every keyword argument of load_detector, load_recognizer,
load_listener, detect and transcribe is one SpeechseqError, ValueError or TypeError naming it, not an AttributeError
or a TypeError from deep inside; load_detector given one path twice says so plainly, as `speechseq detect` does."""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import speechseq
from speechseq.errors import SpeechseqError

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
HOME = ROOT / "data" / "commands" / "home.txt"
CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _no_option(err: pytest.ExceptionInfo) -> None:
    assert "--" not in str(err.value), err.value   # no command-line option, which a Python caller never wrote


# --- 1. each argument named as the caller wrote it ---------------------------------------------------------------

@pytest.mark.parametrize("decoder", ["greedy", "beam", "lexicon", "beam-lm", "auto"])
@pytest.mark.parametrize("beam_size", [0, -1, "8", 2.5, True])
def test_a_beam_size_below_one_or_not_whole_names_beam_size(decoder, beam_size):
    # 0 and -1 were SpeechseqError "--beam-size must be >= 1", "8" a TypeError of '<' between str and int
    said = rf"^beam_size must be a whole number >= 1 .*got {re.escape(repr(beam_size))}$"
    with pytest.raises(ValueError, match=said) as err:
        speechseq.load_recognizer(decoder=decoder, beam_size=beam_size, vad="off")
    _no_option(err)


@pytest.mark.parametrize("call", [
    lambda t: speechseq.load_recognizer(decoder="greedy", vad="off", threads=t),
    lambda t: speechseq.load_detector(threads=t)])
@pytest.mark.parametrize("threads", [0, -1, "2", 1.5, None, True])
def test_a_thread_count_that_is_none_names_threads(call, threads):
    # onnxruntime's session said "onnxruntime session out of range: threads 0", after the other files were read
    with pytest.raises(ValueError, match=rf"^threads must be a whole number >= 1, got {re.escape(repr(threads))}$"):
        call(threads)


def test_more_threads_than_cpus_are_taken_as_the_cpus_said_with_the_argument(capsys):
    # as the commands' --threads (common.cpu_threads): onnxruntime started every thread asked for
    det = speechseq.load_detector(MODELS / "activate.onnx", threads=CPUS + 1)
    assert [m.threads for m in det.models] == [CPUS]
    assert f"speechseq: warning: threads={CPUS + 1}: more than the {CPUS} CPUs here; using {CPUS}\n" in \
        capsys.readouterr().err


@pytest.mark.parametrize("call, name", [
    (lambda: speechseq.load_recognizer(123), "path"),
    (lambda: speechseq.load_recognizer(decoder="greedy", commands=123), "commands"),
    (lambda: speechseq.load_detector(123), "path"),
    (lambda: speechseq.load_detector([MODELS / "activate.onnx", None]), "path"),
    (lambda: speechseq.load_listener(commands=123), "commands"),
])
def test_a_path_of_another_type_names_its_argument(call, name):
    # "expected str, bytes or os.PathLike object, not int", "'int' object is not iterable"
    with pytest.raises(TypeError, match=rf"^{name} must be a .*, got (123|None)$"):
        call()


@pytest.mark.parametrize("call, said", [
    (lambda: speechseq.load_recognizer(""), "path='': an empty path names no model file"),
    (lambda: speechseq.load_recognizer(decoder="greedy", commands=""), "commands='': an empty path names no command"),
    (lambda: speechseq.load_detector(""), "path='': an empty path names no model file"),
    (lambda: speechseq.load_listener(commands=""), "commands='': an empty path names no command list"),
    (lambda: speechseq.detect(""), "audio='': an empty path names no audio file"),
    (lambda: speechseq.transcribe(""), "audio='': an empty path names no audio file"),
])
def test_an_empty_path_is_said_as_one(call, said):
    # Path("") is ".": ".: is a directory, not a model file" (and load_listener's "--commands '': ...")
    with pytest.raises(SpeechseqError, match=f"^{re.escape(said)}"):
        call()


@pytest.mark.parametrize("kwargs", [{"threshold": "0.5"}, {"threshold": [0.5]}, {"threshold": True},
                                    {"threshold": float("nan")}, {"threshold": 1.0}])
def test_a_threshold_that_is_no_number_in_0_1_names_threshold(kwargs):
    # "0.5" was taken (float() of it), [0.5] was float()'s "argument must be a string or a real number"
    with pytest.raises(ValueError, match=r"^threshold must lie in \(0, 1\)"):
        speechseq.load_detector(MODELS / "activate.onnx", **kwargs)


@pytest.mark.parametrize("range_db", [-1, "60", float("inf"), float("nan")])
def test_a_range_that_is_no_finite_number_of_db_names_range_db(range_db):
    # -1 was said with the guard's release_db_s and hop_s, which no caller gave; "60" was a TypeError of '>'; inf was
    # taken (no guard), where --range-db refuses it
    said = rf"^range_db must be a finite number of dB >= 0 .*got {re.escape(repr(range_db))}$"
    with pytest.raises(ValueError, match=said):
        speechseq.load_detector(MODELS / "activate.onnx", range_db=range_db)


def test_range_db_zero_or_none_is_no_guard_as_the_command_s_zero():
    for off in (0, None):
        assert speechseq.load_detector(MODELS / "activate.onnx", range_db=off).guard is None


def test_merge_is_true_or_false():
    with pytest.raises(TypeError, match=r"^merge must be True or False, got 'no'$"):   # 'no' merged the graphs
        speechseq.load_detector(MODELS / "activate.onnx", merge="no")


@pytest.mark.parametrize("name", ["option", "paths", "foo"])
def test_an_unknown_setting_is_said_as_python_says_one(name):
    # option= was "load_distinct() got multiple values for argument 'option'"
    with pytest.raises(TypeError, match=rf"^load_detector\(\) got an unexpected keyword argument '{name}'$"):
        speechseq.load_detector(MODELS / "activate.onnx", **{name: 1})


@pytest.mark.parametrize("call, said", [
    (lambda: speechseq.detect(SAMPLE, detector="activate.onnx"), r"^detector must be .*Detector.*got 'activate.onnx'$"),
    (lambda: speechseq.detect(SAMPLE, detector=speechseq.SpeechRecognizer(None, None, None, "greedy")),
     r"^detector must be .*got SpeechRecognizer$"),
    (lambda: speechseq.transcribe(SAMPLE, recognizer="recognizer-en.onnx"),
     r"^recognizer must be .*SpeechRecognizer.*got 'recognizer-en.onnx'$"),
    (lambda: speechseq.transcribe(SAMPLE, recognizer=speechseq.load_detector(MODELS / "activate.onnx")),
     r"^recognizer must be .*got Detector$"),
])
def test_a_detector_or_recognizer_of_another_kind_names_the_argument(call, said):
    # AttributeError: 'str' object has no attribute 'frontend' / 'transcribe'
    with pytest.raises(TypeError, match=said):
        call()


@pytest.mark.parametrize("call", [speechseq.detect, speechseq.transcribe])
def test_complex_samples_are_refused_not_cut_to_their_real_part(call):
    with pytest.raises(SpeechseqError, match="^audio samples must be real numbers, got complex ones$"):
        call(np.zeros(16000, np.complex64), sr=16000)


def test_a_model_of_another_kind_given_as_path_is_named_by_its_path_alone():
    lm = MODELS / "lm-en.onnx"
    with pytest.raises(SpeechseqError) as err:
        speechseq.load_recognizer(lm, decoder="greedy", vad="off")
    assert str(err.value) == f"{lm}: a language model, not a speech recogniser"   # was "--model PATH: ..."
    with pytest.raises(SpeechseqError, match=f"^{re.escape(str(ROOT / 'README.md'))}: cannot load ONNX model") as err:
        speechseq.load_recognizer(ROOT / "README.md")   # auto: the lexicon search
    _no_option(err)


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A models folder of SPEECHSEQ_MODELS with the shipped recogniser, lexicon and attention decoder."""
    monkeypatch.setenv("SPEECHSEQ_MODELS", str(tmp_path))
    for name in ("recognizer-en.onnx", "words-en.npz", "decoder-en.onnx"):
        (tmp_path / name).symlink_to(MODELS / name)
    return tmp_path


@pytest.mark.parametrize("decoder", ["auto", "beam-lm", "rescore"])
def test_a_models_folder_file_of_another_kind_is_named_by_its_path(folder, decoder):
    (folder / "lm-en.onnx").symlink_to(MODELS / "activate.onnx")   # a detector where the character LM goes
    with pytest.raises(SpeechseqError) as err:
        speechseq.load_recognizer(decoder=decoder, vad="off")
    assert str(err.value) == f"{folder / 'lm-en.onnx'}: a trigger-word detector, not a language model"


def test_a_models_folder_lexicon_that_is_no_lexicon_is_named_by_its_path(folder):
    (folder / "words-en.npz").unlink()
    (folder / "words-en.npz").symlink_to(SAMPLE)
    with pytest.raises(SpeechseqError, match=f"^{re.escape(str(folder / 'words-en.npz'))}: ") as err:
        speechseq.load_recognizer(decoder="lexicon", vad="off")
    _no_option(err)


@pytest.mark.parametrize("decoder", ["beam-lm", "rescore"])
def test_a_models_folder_without_the_lm_says_where_it_looked(folder, decoder):
    with pytest.raises(SpeechseqError) as err:
        speechseq.load_recognizer(decoder=decoder, vad="off")
    assert str(err.value) == (f"no lm-en.onnx in {folder} (set SPEECHSEQ_MODELS to the folder of speechseq's models/, "
                              f"which decoder='{decoder}' reads)")


def test_load_listener_says_a_missing_command_list_as_load_recognizer_does():
    for call in (speechseq.load_recognizer, speechseq.load_listener):
        with pytest.raises(SpeechseqError, match=r"^no/such.txt: no such command list$"):   # was "--commands ..."
            call(commands="no/such.txt")


def test_load_listener_without_shipped_models_names_no_option(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHSEQ_MODELS", str(tmp_path))
    with pytest.raises(SpeechseqError, match=r"^no keyword models given \(load_listener runs the shipped detectors\), "
                                             f"and none shipped in {re.escape(str(tmp_path))} "
                                             r"\(set SPEECHSEQ_MODELS to the folder of speechseq's models/\)$"):
        speechseq.load_listener()   # was "... given (--keyword-model PATH), and ..."
    (tmp_path / "activate.onnx").symlink_to(MODELS / "activate.onnx")
    with pytest.raises(SpeechseqError, match=r"^no recognizer-en.int8.onnx \(nor recognizer-en.onnx\) in ") as err:
        speechseq.load_listener()   # was "pass --model PATH: no recognizer-en.int8.onnx in ..."
    _no_option(err)


# --- the commands say what they said -----------------------------------------------------------------------------

def test_the_commands_still_name_their_options():
    code, _, err = run("transcribe", SAMPLE, "--decoder", "greedy", "--model", MODELS / "lm-en.onnx")
    assert code == 1 and err == f"speechseq: error: --model {MODELS / 'lm-en.onnx'}: a language model, not a speech " \
                                "recogniser\n"
    code, _, err = run("transcribe", SAMPLE, "--decoder", "beam-lm", "--lm", MODELS / "activate.onnx")
    assert code == 1 and err == f"speechseq: error: --lm {MODELS / 'activate.onnx'}: a trigger-word detector, not a " \
                                "language model\n"
    code, _, err = run("transcribe", SAMPLE, "--beam-size", "0")
    assert code == 2 and "--beam-size: beam width must be >= 1, got 0" in err


# --- 2. one path twice, said plainly ----------------------------------------------------------------------------

def test_one_path_given_twice_is_said_plainly_as_detect_says_it(capsys):
    # it was "PATH: the same model as PATH; used once", the file compared with itself
    a = MODELS / "activate.onnx"
    det = speechseq.load_detector([a, a, MODELS / "computer.onnx"])
    assert det.keywords == ["activate", "computer"]
    err = capsys.readouterr().err
    assert err == f"speechseq: warning: {a}: given more than once; used once\n"
    code, _, cli_err = run("detect", "--model", a, "--model", a, SAMPLE)
    assert code == 0 and cli_err == f"speechseq: warning: --model {a}: given more than once; used once\n"
