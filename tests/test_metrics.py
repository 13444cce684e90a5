"""Error rates and detection metrics on known numbers."""
from __future__ import annotations

import numpy as np
import pytest

from speechseq.metrics import (
    DetCurve, EditOps, cer, det_curve, edit_distance, false_accepts_per_hour, false_reject_rate, plot_det, wer,
)


def reference_distance(a, b) -> int:
    """Plain Levenshtein, the textbook double loop."""
    d = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return d[-1]


def test_edit_distance_known_counts():
    assert edit_distance("kitten", "sitting") == EditOps(substitutions=2, deletions=0, insertions=1, ref_len=6)
    assert edit_distance("abc", "") == EditOps(0, 3, 0, 3)
    assert edit_distance("", "ab") == EditOps(0, 0, 2, 0)
    assert edit_distance("the cat sat".split(), "the sat".split()) == EditOps(0, 1, 0, 3)
    assert edit_distance([], []).rate == 0.0 and edit_distance([], ["x"]).rate == float("inf")


def test_edit_distance_matches_reference_on_random_strings():
    rng = np.random.default_rng(0)
    for _ in range(200):
        a = "".join(rng.choice(list("abc"), rng.integers(0, 12)))
        b = "".join(rng.choice(list("abc"), rng.integers(0, 12)))
        ops = edit_distance(a, b)
        assert ops.distance == reference_distance(a, b)
        assert len(b) == len(a) - ops.deletions + ops.insertions      # counts are consistent


def test_wer_corpus_level_and_worst():
    refs = ["the cat sat on the mat", "hello world"]
    hyps = ["the cat sat on mat", "hello big world"]
    result = wer(refs, hyps)
    assert (result.substitutions, result.deletions, result.insertions, result.ref_len) == (0, 1, 1, 8)
    assert result.rate == pytest.approx(2 / 8)
    assert [u.index for u in result.worst(2)] == [1, 0]                # equal edits, higher rate first
    assert result.utterances[0].ops.rate == pytest.approx(1 / 6)
    assert result.summary() == "WER 25.00% (2/8: S=0 D=1 I=1, 2 utterances)"
    assert cer("abc", "abd").summary() == "CER 33.33% (1/3: S=1 D=0 I=0, 1 utterance)"
    assert wer("a b c d", "a x c").rate == pytest.approx(2 / 4)


def test_cer_counts_spaces_once():
    assert cer(["abc"], ["abd"]).rate == pytest.approx(1 / 3)
    result = cer(["hello  world"], ["helo world"])                      # double space = one space
    assert (result.ref_len, result.deletions, result.errors) == (11, 1, 1)


def test_error_rate_rejects_bad_input():
    with pytest.raises(ValueError, match=r"^1 references but 2 hypotheses$"):
        wer(["a"], ["a", "b"])
    with pytest.raises(ValueError, match=r"^the references are empty"):
        wer([""], ["a"])


POS = np.array([0.9, 0.8, 0.3, 0.6])
NEG = np.array([0.55, 0.2, 0.7, 0.95])          # event peaks on 2 hours of negative audio


def test_frr_and_fa_per_hour_known_numbers():
    assert false_reject_rate(POS, 0.5) == pytest.approx(0.25)
    assert false_reject_rate(POS, 0.8) == pytest.approx(0.5)             # 0.8 itself is accepted
    assert false_accepts_per_hour(NEG, 2.0, 0.5) == pytest.approx(1.5)
    assert false_accepts_per_hour(NEG, 2.0, 0.95) == pytest.approx(0.5)
    np.testing.assert_allclose(false_accepts_per_hour(NEG, 2.0, np.array([0.0, 0.6, 1.0])), [2.0, 1.0, 0.0])
    with pytest.raises(ValueError):
        false_accepts_per_hour(NEG, 0.0, 0.5)


def test_det_curve_and_operating_point():
    curve = det_curve(POS, NEG, neg_hours=2.0, label="toy")
    assert curve.thresholds[0] == pytest.approx(0.2) and curve.fa_per_hour[-1] == 0.0
    assert np.all(np.diff(curve.frr) >= 0) and np.all(np.diff(curve.fa_per_hour) <= 0)
    # FA/h <= 0.5 first holds at 0.8 (only the 0.95 event remains); FRR there: 0.3, 0.6 -> 0.5.
    assert curve.threshold_for_fa_rate(0.5) == pytest.approx(0.8)
    assert curve.frr_at_fa_rate(0.5) == pytest.approx(0.5)
    assert curve.threshold_for_fa_rate(0.0) > 0.95
    with pytest.raises(ValueError):
        curve.threshold_for_fa_rate(-1.0)


def test_det_curve_with_counting_function_matches_scores():
    grid = np.linspace(0, 1, 21)
    counted = det_curve(POS, lambda th: int(np.sum(NEG >= th)), 2.0, thresholds=grid)
    scored = det_curve(POS, NEG, 2.0, thresholds=grid)
    np.testing.assert_allclose(counted.fa_per_hour, scored.fa_per_hour)
    np.testing.assert_allclose(counted.frr, scored.frr)
    with pytest.raises(ValueError, match="pass thresholds when neg_events is a function"):
        det_curve(POS, lambda th: 0, 2.0)
    # no hours of negative audio: refused on this path too (it was an inf FA/h and a numpy warning)
    with pytest.raises(ValueError, match=r"hours of negative audio must be > 0, got 0.0"):
        det_curve(POS, lambda th: 0, 0.0, thresholds=grid)


def test_plot_det_writes_png(tmp_path):
    curves = [det_curve(POS, NEG, 2.0, label="a"), det_curve(POS * 0.9, NEG, 2.0, label="b")]
    path = plot_det(curves, tmp_path / "det" / "curve.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_plot_det_steps_only_through_operating_points_a_threshold_reaches(tmp_path):
    """Thresholds 0.1 / 0.2 / 0.3 give FA/h 10 / 5 / 1 at FRR 0 / 50 / 100 %. Under 10 FA/h no threshold rejects
    fewer than 50 % (what frr_at_fa_rate says), but the plot's steps ran at FRR 0 % from 10 down to 5 FA/h and at
    50 % down to 1: operating points no threshold reaches. It is drawn as the staircase of those corners."""
    import matplotlib.image

    grid = DetCurve(np.array([0.1, 0.2, 0.3]), np.array([0.0, 0.5, 1.0]), np.array([10.0, 5.0, 1.0]), 1.0, 2)
    assert grid.frr_at_fa_rate(7.0) == 0.5
    corners = DetCurve(np.arange(5.0), np.array([0.0, 0.5, 0.5, 1.0, 1.0]), np.array([10.0, 10.0, 5.0, 5.0, 1.0]),
                       1.0, 2)
    a = matplotlib.image.imread(plot_det([grid], tmp_path / "grid.png"))
    b = matplotlib.image.imread(plot_det([corners], tmp_path / "corners.png"))
    assert a.shape == b.shape and np.abs(a - b).max() == 0


def test_a_det_curve_says_where_it_draws_no_false_accepts(tmp_path):
    """No false accept an hour cannot sit on the log axis, so such points are drawn at half the smallest rate (0.5 an
    hour when every rate is 0): the picture showed a line at '0.5 false accepts per hour' for a detector that made
    none. The place is now marked and named in the legend; a curve with none at 0 is drawn as before."""
    from speechseq.metrics import det_figure

    none = DetCurve(np.array([0.1, 0.5]), np.array([0.2, 0.6]), np.array([0.0, 0.0]), 1.0, 5)
    some = DetCurve(np.array([0.1, 0.5]), np.array([0.2, 0.6]), np.array([4.0, 0.0]), 1.0, 5)
    for curve, at in ((none, 0.5), (some, 2.0)):
        ax = det_figure([curve]).axes[0]
        legend = ax.get_legend()
        assert legend is not None and any("no false accept" in t.get_text() for t in legend.get_texts())
        marks = [line for line in ax.get_lines() if "no false accept" in line.get_label()]
        assert len(marks) == 1 and marks[0].get_xdata()[0] == pytest.approx(at)
    ax = det_figure([DetCurve(np.array([0.1]), np.array([0.2]), np.array([3.0]), 1.0, 5)]).axes[0]
    assert ax.get_legend() is None and not [ln for ln in ax.get_lines() if "no false accept" in ln.get_label()]
