"""Review of `transcribe --plot` (speechseq/commands/transcript_plot.py), session 52 i: a file with no spectrogram
frame (shorter than one 25 ms window) drew its "mel band" axis from -0.05 to 0.05, matplotlib's range for no data,
where every other picture has the model's 0..n_mels bands."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "recognizer-en.onnx"

needs_model = pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped recogniser is not here")


@needs_model
@pytest.mark.parametrize("n", [1, 300, 400])   # no frame (one sample, 18.75 ms), and exactly one frame (25 ms)
def test_the_mel_axis_has_the_models_bands_with_or_without_a_frame(tmp_path, n):
    from speechseq.commands.transcript_plot import plot_transcript
    from speechseq.runtime.recognizer import DecodeOptions, Recognizer

    wav = tmp_path / "short.wav"
    sf.write(wav, 0.3 * np.sin(0.3 * np.arange(n)).astype(np.float32), 16000)
    rec = Recognizer(SHIPPED)
    t = rec.transcribe_file(wav, DecodeOptions(decoder="greedy"))
    fig = plot_transcript(rec, wav, t, str(tmp_path / "p.png"))
    assert fig.axes[0].get_ylim() == (0, rec.frontend.n_mels)
    assert fig.axes[1].get_xlim() == pytest.approx((0, max(n / 16000, 0.01)))


def test_long_posterior_lines_are_pooled_keeping_peaks_and_gaps():
    """20 minutes' 60,000 frames a line filled the panel as one blue block: drawn as at most LINE_POINTS points, each
    run of frames at its least blank and most best symbol (a word's peak stays), a gap (NaN) still a gap."""
    from speechseq.commands.transcript_plot import LINE_POINTS, pooled_lines

    n = 60_000
    times = (np.arange(n) + 0.5) * 0.02
    blank, best = np.full(n, 0.99), np.full(n, 0.01)
    blank[31_337], best[31_337] = 0.05, 0.93          # one frame of a word
    times[10_000:10_100] = blank[10_000:10_100] = best[10_000:10_100] = np.nan   # between two stretches
    t, b, p = pooled_lines(times, blank, best)
    assert len(t) == len(b) == len(p) == LINE_POINTS
    assert np.nanmin(b) == 0.05 and np.nanmax(p) == 0.93
    assert np.isnan(p).sum() >= 1 and np.all(np.diff(t[~np.isnan(t)]) > 0)
    short = (times[:500], blank[:500], best[:500])
    assert all(x is y for x, y in zip(pooled_lines(*short), short))   # as they are
