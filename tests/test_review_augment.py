"""Review of the waveform-domain augmentations (speechseq.train.augment): what a drawn room response and a noise
colour measure as."""
from __future__ import annotations

import numpy as np
import pytest

from speechseq.train.augment import mic_colour, synth_rir


@pytest.mark.parametrize("drr_db", [-3.0, 3.0, 12.0])
def test_room_response_has_the_drawn_direct_to_reverberant_ratio(drr_db):
    """DRR is the direct path's energy against all the rest (early reflections and tail): the reflections were added
    after the tail was set to the drawn ratio, so a drawn 12 dB measured 3.9 dB on average (-1.0 at worst)."""
    for seed in range(20):
        h = synth_rir(np.random.default_rng(seed), drr_db=(drr_db, drr_db)).astype(np.float64)
        assert h[0] == 1.0
        assert 10 * np.log10(h[0] ** 2 / np.sum(h[1:] ** 2)) == pytest.approx(drr_db, abs=0.01)



@pytest.mark.parametrize("kind, db_per_octave", [("white", 0.0), ("pink", -3.0), ("brown", -6.0)])
def test_coloured_noise_has_its_slope_at_rms_1_and_no_dc_offset(kind, db_per_octave):
    """1/f^k noise has no level at f = 0: the DC bin was weighted as the lowest bin, so brown noise carried a constant
    offset holding 22 % of its power on average (up to 55 %: 3.5 dB less noise than "RMS 1" says), pink 3 %."""
    from speechseq.train.augment import coloured_noise

    for seed in range(10):
        y = coloured_noise(kind, 16000 * 4, np.random.default_rng(seed)).astype(np.float64)
        assert np.sqrt(np.mean(y**2)) == pytest.approx(1.0, rel=1e-4)
        assert abs(y.mean()) < 0.02
        power = np.abs(np.fft.rfft(y)) ** 2
        f = np.fft.rfftfreq(len(y), 1 / 16000)
        octaves = [power[(f >= lo) & (f < 2 * lo)].mean() for lo in (250.0, 500.0, 1000.0, 2000.0)]
        assert np.mean(np.diff(10 * np.log10(octaves))) == pytest.approx(db_per_octave, abs=0.5)


def test_empty_inputs_and_8_khz_give_no_error():
    """coloured_noise of 0 samples (pad_recording with no lead and no tail), reverberate of an empty clip
    (np.max of an empty array) and mic_colour at 8 kHz (a low-pass drawn up to 7.8 kHz, above its 4 kHz
    Nyquist: scipy refused it 70 % of the time) raised."""
    from speechseq.train.augment import coloured_noise, mic_colour, reverberate

    rng = np.random.default_rng(0)
    for kind in ("white", "pink", "brown"):
        assert coloured_noise(kind, 0, rng).shape == (0,)
    rir = synth_rir(rng, 16000)
    assert not reverberate(np.zeros(0, np.float32), rir).any()
    tone = np.sin(np.arange(8000) * 0.3).astype(np.float32)
    for seed in range(20):
        y = mic_colour(tone, np.random.default_rng(seed), sr=8000)
        assert y.shape == tone.shape and np.isfinite(y).all()


def test_mix_clip_takes_integer_clips_and_an_empty_background():
    """mix_clip sets each clip's level from its RMS: an int16 clip's square overflowed (NaN over the whole mix, no
    error); an empty background raised numpy's "zero-size array to reduction operation maximum"."""
    from speechseq.train.augment import mix_clip

    tone = 0.5 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 16000)
    bg = np.zeros(32000, np.float32)
    as_float = mix_clip(np.random.default_rng(0), bg, [tone.astype(np.float32)], [], floor_dbfs=-60.0)
    as_int = mix_clip(np.random.default_rng(0), bg, [np.round(tone * 32767).astype(np.int16)], [], floor_dbfs=-60.0)
    assert np.isfinite(as_int.audio).all()
    np.testing.assert_allclose(as_int.audio, as_float.audio, atol=1e-4)
    np.testing.assert_array_equal(as_int.labels, as_float.labels)
    empty = mix_clip(np.random.default_rng(0), np.zeros(0, np.float32), [tone], [tone[:100]])
    assert empty.audio.shape == (0,) and empty.labels.shape == (0,) and empty.positive_ends == []


def test_mix_clip_labels_no_keyword_for_a_positive_of_no_samples():
    """A positive of 0 samples holds no keyword: it was placed (a start in the clip) and labelled there, 1 for the
    label stretch after nothing."""
    from speechseq.train.augment import mix_clip

    for seed in range(5):
        out = mix_clip(np.random.default_rng(seed), np.zeros(32000, np.float32), [np.zeros(0, np.float32)], [])
        assert out.labels.sum() == 0 and out.positive_ends == []
        assert np.isfinite(out.audio).all()


def test_mic_colour_of_an_empty_clip_is_empty():
    """mic_colour of 0 samples raised scipy's "cannot reshape array of size 0" (reverberate takes one already)."""
    for seed in range(10):
        assert mic_colour(np.zeros(0, np.float32), np.random.default_rng(seed)).shape == (0,)


def test_mix_clip_says_it_takes_mono_audio():
    """A stereo background or clip (as soundfile reads a two-channel file) raised numpy's "operands could not be
    broadcast together with shapes (16000,2) (16000,)": one message naming what was not mono."""
    from speechseq.train.augment import mix_clip

    mono = np.zeros(16000, np.float32)
    with pytest.raises(ValueError, match=r"background must be mono \(1-D\) samples, got shape \(16000, 2\)"):
        mix_clip(np.random.default_rng(0), np.zeros((16000, 2), np.float32), [], [])
    with pytest.raises(ValueError, match=r"negatives\[1\] must be mono \(1-D\) samples, got shape \(800, 2\)"):
        mix_clip(np.random.default_rng(0), mono, [mono[:800]], [mono[:800], np.zeros((800, 2))])
