"""The pictures, checked on their matplotlib artists before (and after) they are saved: what a user reads off them."""
from __future__ import annotations

import math

import numpy as np
import pytest

DETECTOR_HISTORY = [  # as train detector writes it (runs/amelia, 3 of its 5 epochs)
    {"epoch": 1, "step": 200, "seconds": 92.0, "train_loss": 0.166, "val_frr_at_fa": 0.92, "val_threshold": 0.48,
     "val_fa_per_h": 0.0, "val_frr_at_05": 0.988, "val_fa_per_h_at_05": 0.0, "val_end_offset_s": 0.16,
     "val_end_offset_table": {"threshold": [0.5], "end_offset_s": [0.16]}},
    {"epoch": 2, "step": 400, "seconds": 154.2, "train_loss": 0.064, "val_frr_at_fa": 0.71, "val_threshold": 0.58,
     "val_fa_per_h": 0.0, "val_frr_at_05": 0.513, "val_fa_per_h_at_05": 8.57, "val_end_offset_s": 0.12},
    {"epoch": 3, "step": 600, "seconds": 210.0, "train_loss": 0.054, "val_frr_at_fa": 0.35, "val_threshold": 0.7,
     "val_fa_per_h": 0.0, "val_frr_at_05": 0.3, "val_fa_per_h_at_05": 12.4, "val_end_offset_s": 0.1},
]


def _lines(fig) -> dict[str, tuple]:
    """{legend label: (axes, Line2D)} of every line drawn."""
    return {line.get_label(): (ax, line) for ax in fig.axes for line in ax.lines}


def test_curve_draws_false_accepts_per_hour_apart_from_the_rates(tmp_path):
    """Up to 12 false accepts an hour shared an axis with rates in [0, 1]: the selecting metric (val_frr_at_fa) lay
    flat along the bottom, its fall from 0.92 to 0.35 unreadable."""
    from speechseq.train.loop import plot_history

    fig = plot_history(DETECTOR_HISTORY, tmp_path / "curve.png", "val_frr_at_fa")
    lines = _lines(fig)
    rates_ax = lines["val_frr_at_fa (selects)"][0]
    per_hour_ax = lines["val_fa_per_h_at_05"][0]
    assert per_hour_ax is not rates_ax and lines["val_fa_per_h"][0] is per_hour_ax
    assert rates_ax.get_ylim()[1] < 1.2  # the rates fill their axis
    assert "per hour" in per_hour_ax.get_ylabel()
    fig.canvas.draw()
    for ax in fig.axes:  # whole epochs on every panel
        lo, hi = ax.get_xlim()
        assert lo < 1 and hi > 3 and all(t == int(t) for t in ax.get_xticks() if lo <= t <= hi)
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_curve_of_one_epoch_has_whole_epochs_and_says_a_missing_validation(tmp_path):
    """One epoch gave ticks at 0.96, 0.98, 1.00, 1.02, 1.04 "epoch", and a run without validation an empty
    validation panel of 0-1 axes that said nothing."""
    from speechseq.train.loop import plot_history

    fig = plot_history([{"epoch": 1, "step": 3, "seconds": 1.0, "train_loss": 0.66}], tmp_path / "curve.png")
    fig.canvas.draw()
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(t == int(t) for t in ticks), ticks
    assert len(_lines(fig)["train_loss"][1].get_xdata()) == 1
    empty = [ax for ax in fig.axes if not ax.lines]
    assert empty and all("no validation" in " ".join(t.get_text() for t in ax.texts) for ax in empty)


def test_curve_says_values_that_are_not_finite(tmp_path):
    """A NaN loss or metric was drawn as nothing at all (a metric NaN at every epoch: a legend entry with no line)."""
    from speechseq.train.loop import plot_history

    history = [{"epoch": 1, "step": 2, "seconds": 1.0, "train_loss": 2.0, "val_loss": math.nan},
               {"epoch": 2, "step": 4, "seconds": 1.0, "train_loss": math.nan, "val_loss": math.nan},
               {"epoch": 3, "step": 6, "seconds": 1.0, "train_loss": 1.0, "val_loss": math.nan}]
    fig = plot_history(history, tmp_path / "curve.png", "loss")
    labels = set(_lines(fig))
    assert "train_loss (not finite at epoch 2)" in labels
    assert "val_loss (not finite at epochs 1-3)" in labels
    assert all(ax.get_xlim()[0] < 1 and ax.get_xlim()[1] > 3 for ax in fig.axes)  # the epochs, NaN or not


def test_curve_keeps_skipped_batches_off_the_validation_metrics(tmp_path):
    """The count of batches skipped (a non-finite gradient) was drawn as a validation metric, on the metrics'
    axis."""
    from speechseq.train.loop import plot_history

    history = [{"epoch": 1, "step": 2, "seconds": 1.0, "train_loss": 2.0, "skipped_batches": 40, "val_wer": 0.9},
               {"epoch": 2, "step": 4, "seconds": 1.0, "train_loss": 1.0, "val_wer": 0.8}]
    fig = plot_history(history, tmp_path / "curve.png", "val_wer")
    assert "skipped_batches" not in _lines(fig)
    assert any("skipped" in ax.get_title() and "epoch 1" in ax.get_title() for ax in fig.axes)


def _clip_at(times: list[float], seconds: float, tail: float | None = None):
    """Quiet noise of `seconds` with the demo recording's first 2.3 s ("activate" and a pause) laid at each of
    `times`; 16 kHz float32."""
    import soundfile as sf

    from tests.test_detector_cli import ROOT

    demo, sr = sf.read(ROOT / "data" / "samples" / "activate_kitchen_lights.wav", dtype="float32")
    word = demo[: int(2.3 * sr)]
    audio = (0.002 * np.random.default_rng(1).standard_normal(int(seconds * sr))).astype(np.float32)
    for t in times:
        k = int(t * sr)
        audio[k: k + len(word)] += word[: len(audio) - k]
    return audio


def test_detect_plot_labels_neither_overlap_nor_leave_the_picture(tmp_path):
    """Two detections 3 s apart in 10 minutes had their "activate 0.96" labels drawn over each other (an hour of
    them: one black smear), and the label of a detection near the file's end ran past the axes, cut off at the
    picture's edge. A label that would cover another is left out (the shaded stretch and the posterior still show
    the event), one at the end is drawn to the left of its point, and the title counts the detections."""
    import soundfile as sf

    from speechseq.commands.detect import detect_file, plot_detections
    from speechseq.runtime.detector import Detector
    from tests.test_detector_cli import MODELS

    path = tmp_path / "room.wav"
    sf.write(path, _clip_at([100.0, 103.0, 597.0], 599.5), 16000, subtype="FLOAT")
    det = Detector.load(MODELS)
    events, duration, post, spec = detect_file(det, path, keep=True)
    assert [round(e.end) for e in events] == [102, 105, 599]
    fig = plot_detections(path, str(tmp_path / "p.png"), det, events, duration, post, spec)
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[1]
    labels = [t for t in ax.texts if t.get_text().startswith("activate ")]
    assert len(labels) == 3
    shown = [t.get_window_extent(renderer) for t in labels if t.get_visible()]
    assert len(shown) == 2
    for i, a in enumerate(shown):
        assert fig.bbox.x0 <= a.x0 and a.x1 <= ax.bbox.x1 + 1       # inside the axes' right edge
        assert not any(a.overlaps(b) for b in shown[i + 1:])
    assert fig.axes[0].get_title() == "room.wav: 3 detections"


def test_features_plot_of_a_long_file_is_pooled_to_what_a_picture_shows(tmp_path):
    """features --plot handed matplotlib every frame: an hour (360,000 columns for 1,000 pixels) took 889 MB at the
    peak against 164 MB without --plot. The columns are now at most detect --plot's 4096, each the maximum of the
    frames it stands for (a loud half second still shows where it was), on the file's own time axis."""
    from speechseq.commands import features
    from speechseq.commands.plotting import PLOT_ROWS
    from speechseq.frontend import FrontendConfig

    cfg = FrontendConfig()
    feats = np.full((100_003, 40), -10.0, np.float32)     # 1000.03 s of frames
    feats[62_000:62_050] = 2.0                          # loud from 620.0 to 620.5 s
    fig = features._plot(feats, cfg, str(tmp_path / "spec.png"), "long.wav")
    ax = fig.axes[0]
    (image,) = ax.get_images()
    shown = image.get_array()
    assert shown.shape[0] == 40 and 2048 <= shown.shape[1] <= PLOT_ROWS
    x0, x1 = image.get_extent()[:2]
    column_s = (x1 - x0) / shown.shape[1]
    loud = np.flatnonzero(shown.max(axis=0) > 0)
    assert x0 == 0 and 620.0 - column_s <= loud[0] * column_s and (loud[-1] + 1) * column_s <= 620.5 + column_s
    assert ax.get_xlim() == pytest.approx((0.0, 1000.03))
    # pooled as detect --plot pools (speechseq.commands.detect.MaxPool): 4096 columns are halved to 2048 of 2 frames,
    # and 8192 frames end as 2048 whole columns of 4 (the one-shot rule of before drew 4096 of 2)
    fig = features._plot(feats[:8192], cfg, str(tmp_path / "spec.png"), "whole.wav")
    (image,) = fig.axes[0].get_images()
    assert image.get_array().shape == (40, 2048) and image.get_extent()[:2] == pytest.approx((0.0, 81.92))
    # a short file is drawn frame for frame, as before
    fig = features._plot(feats[:500], cfg, str(tmp_path / "spec.png"), "short.wav")
    (image,) = fig.axes[0].get_images()
    assert image.get_array().shape == (40, 500) and image.get_extent()[:2] == pytest.approx((0.0, 5.0))


def test_features_plot_pools_its_columns_as_detect_plot_does(tmp_path):
    """features --plot pooled a long file by its own one-shot rule (ceil(frames / 4096) frames a column) where
    detect --plot streams its frames through MaxPool (2048-4096 columns by halving): the same file drew different
    columns in the two pictures. Both now pool by MaxPool: the same columns, to the value; under 4096 frames
    (40.96 s) both draw frame for frame, as before."""
    from speechseq.commands import features
    from speechseq.commands.plotting import MaxPool
    from speechseq.frontend import FrontendConfig

    cfg = FrontendConfig()
    feats = np.random.default_rng(0).normal(size=(30_001, 40)).astype(np.float32)
    for frames in (4095, 4096, 8192, 30_001):
        pool = MaxPool(np.zeros((0, 40), np.float32))
        for i in range(0, frames, 10):                  # as detect_file streams them: 100 ms chunks of 10 frames
            pool.add(feats[i: min(i + 10, frames)])
        streamed = pool.result()
        fig = features._plot(feats[:frames], cfg, str(tmp_path / "spec.png"), "f.wav")
        (image,) = fig.axes[0].get_images()
        shown = np.asarray(image.get_array())
        assert (frames, shown.shape) == (frames, streamed.rows.T.shape) and np.array_equal(shown, streamed.rows.T)
        assert image.get_extent()[:2] == pytest.approx((0.0, len(streamed.rows) * streamed.factor / 100))
        assert fig.axes[0].get_xlim() == pytest.approx((0.0, frames / 100))
    assert shown.shape == (40, 30_001 // 8 + 1)             # 3751 columns of 8 frames
    fig = features._plot(feats[:4095], cfg, str(tmp_path / "spec.png"), "f.wav")
    assert np.array_equal(fig.axes[0].get_images()[0].get_array(), feats[:4095].T)   # frame for frame


def test_attention_plot_of_a_long_utterance_keeps_its_title_and_rows_legible(tmp_path):
    """--plot-attention of 20 s (the default --max-segment) drew 250 output characters in 330 pixels: their labels
    one smear, rows of about 1 pixel (with nearest sampling, most rows not drawn at all); and its title, the whole
    transcript on one line, ran past both edges of the picture (cut off at 55 characters in 6 inches already)."""
    from speechseq.runtime.text_decoder import plot_attention

    text = ("there were stir and bose new faces and fresh backs and there was a bard whom also he must remember and "
            "there was a bard who also you must remember he had become man very early in life of things out be "
            "searly he did not know at my and in the mines of his")
    rows, frames = len(text) + 1, 2000
    attention = np.random.default_rng(0).dirichlet(np.ones(frames // 4), size=rows).astype(np.float32)
    features = np.random.default_rng(1).normal(size=(frames, 80)).astype(np.float32)
    fig = plot_attention(tmp_path / "att.png", features, attention, text, frame_shift_s=0.04)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    spec_ax, att_ax = fig.axes
    title = spec_ax.title.get_window_extent(renderer)
    assert fig.bbox.x0 <= title.x0 and title.x1 <= fig.bbox.x1 and title.y1 <= fig.bbox.y1
    assert att_ax.bbox.height / rows >= 9           # pixels a row
    ticks = [t.get_window_extent(renderer) for t in att_ax.get_yticklabels()]
    assert len(ticks) == rows and not any(a.overlaps(b) for a, b in zip(ticks, ticks[1:]))
    assert att_ax.get_xlim() == pytest.approx((0.0, 20.0)) and spec_ax.get_images()[0].get_extent()[1] == 20.0

    short = text[:62]     # a 3.7 s clip: its title alone was cut off at the picture's edges
    fig = plot_attention(tmp_path / "att.png", features[:368], attention[: len(short) + 1, :92], short, 0.04)
    fig.canvas.draw()
    title = fig.axes[0].title.get_window_extent(fig.canvas.get_renderer())
    assert fig.bbox.x0 <= title.x0 and title.x1 <= fig.bbox.x1 and title.y1 <= fig.bbox.y1

    fig = plot_attention(tmp_path / "att.png", features[:300], attention[:3, :75], "hi", frame_shift_s=0.04)
    assert fig.axes[0].get_title() == "attention: “hi”" and fig.get_size_inches()[1] == pytest.approx(7.0)


def test_a_file_named_in_a_script_no_font_here_has_a_title_that_draws(tmp_path):
    """features --plot of a file named in CJK (no installed font has it: DejaVu alone here) drew the name as boxes
    and printed matplotlib's "Glyph 20250 (\\N{CJK UNIFIED IDEOGRAPH-4F1A}) missing from font(s) DejaVu Sans." once
    a character to the user. Such characters are now written as Python escapes them; the picture is written."""
    import os
    import subprocess
    import sys

    import soundfile as sf

    from speechseq.commands import features
    from speechseq.commands.plotting import _covered, drawable
    from speechseq.frontend import FrontendConfig

    path, png = tmp_path / "会议录音.wav", tmp_path / "spec.png"
    sf.write(path, 0.3 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000), 16000, subtype="PCM_16")
    r = subprocess.run([sys.executable, "-m", "speechseq", "features", path, "--plot", png], capture_output=True,
                       text=True, timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert r.returncode == 0 and "Glyph" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout.startswith(f"{path}: 1.00 s")                      # printed as it is
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000

    title = features._plot(np.zeros((100, 40), np.float32), FrontendConfig(), str(png), str(path)).axes[0].get_title()
    assert all(ord(c) in _covered() for c in title)
    assert title in (str(path), f"{tmp_path}/\\u4f1a\\u8bae\\u5f55\\u97f3.wav")   # as it is where a font has CJK
    assert drawable("take \U0010fffd 2 é.wav") == "take \\U0010fffd 2 é.wav"    # a private-use character no font has


def test_detect_plot_of_a_file_named_in_a_script_no_font_here_draws_without_warnings(tmp_path):
    """detect --plot's title printed matplotlib's "Glyph ... missing" warnings for a CJK file name, as features --plot
    did (session 48: the same escaping)."""
    import os
    import subprocess
    import sys

    import soundfile as sf

    path, png = tmp_path / "会议录音.wav", tmp_path / "det.png"
    sf.write(path, 0.3 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000), 16000, subtype="PCM_16")
    r = subprocess.run([sys.executable, "-m", "speechseq", "detect", path, "--plot", png], capture_output=True,
                       text=True, timeout=300, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert r.returncode == 0 and "Glyph" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
