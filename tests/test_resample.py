"""speechseq.samples.resample: any input rate to 16 kHz keeps a tone's level and frequency, and takes integer samples
at full scale 1.0 as the rest of speechseq.samples does."""
import numpy as np
import pytest

from speechseq.samples import resample


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 96000])
def test_a_tone_keeps_its_level_and_frequency(rate):
    t = np.arange(rate) / rate
    y = resample((0.5 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32), rate)
    assert y.dtype == np.float32 and y.shape == (16000,)
    mid = y[4000:12000].astype(np.float64)                       # away from the filter's edges
    assert np.sqrt(np.mean(mid ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    spectrum = np.abs(np.fft.rfft(mid * np.hanning(len(mid))))
    assert spectrum.argmax() * 16000 / len(mid) == 3000.0


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.uint8])
def test_integer_samples_are_taken_at_full_scale(rate, dtype):
    """resample cast integers to float32 as they were: int16 PCM came out 32768 times too loud (every log-mel band
    2 ln 32768 = 20.8 high), where to_mono, mono_samples and the frontend's stream scale it (float_samples)."""
    from speechseq.samples import float_samples

    t = np.arange(rate // 2) / rate
    info = np.iinfo(dtype)
    pcm = np.round((info.max + info.min) / 2 + 0.4 * (info.max - info.min) / 2 * np.sin(2 * np.pi * 440 * t))
    pcm = pcm.astype(dtype)
    got = resample(pcm, rate)
    want = resample(float_samples(pcm), rate)
    assert got.dtype == np.float32 and got.shape == want.shape == (8000,)
    assert np.array_equal(got, want) and 0.35 < np.abs(got).max() < 0.45
