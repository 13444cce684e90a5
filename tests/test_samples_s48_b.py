"""speechseq.samples.float_samples given what holds no samples: None came back as a NaN array (a recogniser then
heard silence, finite_samples made it 0), a dict or a generator as numpy's "float() argument must be a string or a
real number, not 'dict'"; a None among numbers became a NaN sample. Each is now an error that says what audio is."""
from __future__ import annotations

import numpy as np
import pytest

from speechseq.audio import resample, to_mono
from speechseq.samples import float_samples, mono_samples

NOT_SAMPLES = r"audio must be samples \(a numpy array, or a list or tuple of numbers\), got "


@pytest.mark.parametrize("given, named", [(None, "None"), ({"audio": [0.5]}, "dict"), ({0.5, 0.25}, "set"),
                                          ((v for v in (0.5, 0.25)), "generator"), (object(), "object")])
def test_what_holds_no_samples_is_a_type_error_naming_it(given, named):
    for f in (float_samples, mono_samples, to_mono):
        with pytest.raises(TypeError, match=NOT_SAMPLES + named + "$"):
            f(given)
    with pytest.raises(TypeError, match=NOT_SAMPLES + named):
        resample(given, 16000)


@pytest.mark.parametrize("given", [[0.5, None], (None,), [[0.25], [None]], np.array([0.5, None]), np.array(None)])
def test_a_none_among_the_samples_is_a_value_error_not_nan(given):
    with pytest.raises(ValueError, match=r"audio samples must be numbers, got None among them"):
        float_samples(given)


def test_every_accepted_input_converts_as_before():
    y = np.zeros(4, np.float32)
    assert float_samples(y) is y
    assert float_samples(np.array([16384, -32768], np.int16)).tolist() == [0.5, -1.0]
    assert float_samples(np.array([0, 128, 192], np.uint8)).tolist() == [-1.0, 0.0, 0.5]
    assert float_samples([0, 1, -1]).tolist() == [0.0, 1.0, -1.0]
    assert float_samples((0.5, 2)).dtype == np.float32
    nan = float_samples([0.5, float("nan")])            # a NaN sample given is a sample (finite_samples makes it 0)
    assert nan[0] == 0.5 and np.isnan(nan[1])
    assert float_samples(np.array([0.5, 0.25], dtype=object)).tolist() == [0.5, 0.25]
    assert float_samples(np.float32(0.5)).shape == () and float_samples(np.float32(0.5)) == 0.5
    assert float_samples(memoryview(np.array([16384], np.int16))).tolist() == [0.5]
    assert float_samples([]).shape == (0,)
    with pytest.raises(ValueError, match="could not convert"):
        float_samples([0.5, "loud"])
    with pytest.raises(TypeError, match="audio must be samples, not a path"):
        float_samples("talk.wav")
