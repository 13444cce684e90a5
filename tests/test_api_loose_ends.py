"""Loose ends of the Python API (session 47): a path given where samples go, a listener's overrun of NaN or
negative seconds and a listener made without a detector, onnxruntime thread counts that cannot work."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from speechseq.runtime.detector import Detector
from speechseq.runtime.listener import Listener, Transcriber
from speechseq.runtime.onnx import make_session
from speechseq.runtime.recognizer import Recognizer
from speechseq.runtime.vad import EnergyVad
from speechseq.samples import float_samples, mono_samples

from .listener_fixtures import tiny_models  # noqa: F401  (fixture)

NOT_A_PATH = "audio must be samples, not a path"


@pytest.mark.parametrize("given", ["talk.wav", Path("talk.wav"), b"talk.wav", np.str_("talk.wav"),
                                   np.array(["talk.wav"]), ["talk.wav"], (Path("a.wav"), Path("b.wav"))])
def test_a_path_given_as_samples_says_so(given):
    """numpy's "could not convert string to float: np.str_('talk.wav')" (a Path: "float() argument must be a string
    or a real number"): one TypeError that says where a file is read."""
    for f in (float_samples, mono_samples):
        with pytest.raises(TypeError, match=NOT_A_PATH) as err:
            f(given)
        assert "speechseq.audio.load_audio" in str(err.value)


def test_samples_still_convert_as_before():
    assert float_samples([0.5, -0.25]).tolist() == [0.5, -0.25]
    assert float_samples(np.array([16384, -32768], np.int16)).tolist() == [0.5, -1.0]
    with pytest.raises(ValueError, match="could not convert"):   # a word among numbers is no path: numpy says so
        float_samples([0.5, "loud"])


def test_the_recognizer_and_the_detector_given_a_path_say_so(tiny_models):  # noqa: F811
    rec = Recognizer(tiny_models.recognizer)
    with pytest.raises(TypeError, match=NOT_A_PATH):
        rec.recognize("talk.wav")
    det = Detector.load([tiny_models.detector])
    with pytest.raises(TypeError, match=NOT_A_PATH):
        det.step(Path("talk.wav"), det.initial_state())


@pytest.fixture(scope="module")
def listener(tiny_models) -> Listener:  # noqa: F811
    return Listener(Detector.load([tiny_models.detector]), Transcriber(tiny_models.recognizer), vad=EnergyVad())


@pytest.mark.parametrize("dropped_s", [math.nan, -0.5, math.inf, None, "0.5"])
def test_an_overrun_of_no_length_is_refused(listener, dropped_s):
    """NaN made the stream's clock NaN, a negative value moved it back (and every later time with it)."""
    state = listener.initial_state()
    with pytest.raises(ValueError, match=r"overrun out of range: dropped_s .*a finite number of seconds >= 0"):
        listener.overrun(dropped_s, state)


def test_an_overrun_still_moves_the_clocks(listener):
    (event,), state = listener.overrun(0.25, listener.initial_state(), 1)
    assert (event.dropped_s, event.time, event.input_overflows, state.time) == (0.25, 0.0, 1, 0.25)
    (_,), state = listener.overrun(0, state)
    assert state.time == 0.25
    with pytest.raises(ValueError, match="input_overflows -1"):
        listener.overrun(0.25, state, -1)


def test_a_listener_without_a_detector_is_refused_when_made(tiny_models):  # noqa: F811
    """Listener(None, ...) was made, and failed only at initial_state() with "'NoneType' object has no attribute
    'initial_state'"; a transcriber of None with "... no attribute 'frontend'"."""
    tr = Transcriber(tiny_models.recognizer)
    with pytest.raises(TypeError, match=r"detector must be .*Detector.*got None"):
        Listener(None, tr, vad=EnergyVad())
    with pytest.raises(TypeError, match=r"transcriber must be .*Transcriber.*got 'models/recognizer-en.onnx'"):
        Listener(Detector.load([tiny_models.detector]), "models/recognizer-en.onnx", vad=EnergyVad())


@pytest.mark.parametrize("threads", [0, -1, None, 1.5, "2", True])
def test_a_session_thread_count_below_one_or_not_whole_is_refused(tiny_models, threads):  # noqa: F811
    """0 and negative counts were taken as 1 (onnxruntime itself reads 0 as every core), None was int()'s TypeError:
    the commands' --threads take a whole number >= 1, and so does make_session."""
    with pytest.raises(ValueError, match=r"onnxruntime session out of range: threads .*a whole number >= 1"):
        make_session(tiny_models.recognizer, threads)


def test_a_session_takes_whole_thread_counts(tiny_models):  # noqa: F811
    for threads in (1, 2, np.int64(2)):
        assert make_session(tiny_models.recognizer, threads).get_session_options().intra_op_num_threads == threads
