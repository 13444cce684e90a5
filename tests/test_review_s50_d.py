"""Thresholds above 0.99: a fine-tuned detector's posteriors saturate (session 49's android fine-tune scored half its
held-out keywords over 0.99 and one validation mix 0.9926), and every threshold grid stopped at 0.99, so validation met
no false-accept target there ("all rejected", val_frr_at_fa 1.0, 0.99 exported over the target) where 0.993 met it.
The grids now end 0.991 ... 0.999, 0.9991 ... 0.9999 (speechseq.metrics.SATURATED_THRESHOLDS)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

torch = pytest.importorskip("torch")

from tests.test_detector_train import _tone_validation_bank  # noqa: E402


def _logit(p: float) -> float:
    return 30.0 if p == 1.0 else float(np.log(p / (1 - p)))  # 30: a posterior of 1.0 in float32


class FromFeatures(torch.nn.Module):
    """A detector without a network: each output step's logit is the first mel band of the step's last frame, so a
    test writes the posteriors it wants into the features."""

    def forward(self, x):
        return x[:, 3::4, 0]


def _stream(peaks: list[float], steps: int = 100) -> torch.Tensor:
    """(1, 4 * steps, 40) features whose posterior is 0.01, and each of `peaks` for 5 steps, 10 apart from step 20."""
    logits = np.full(steps, _logit(0.01), np.float32)
    for k, p in enumerate(peaks):
        logits[20 + 15 * k: 25 + 15 * k] = _logit(p)
    x = np.zeros((1, 4 * steps, 40), np.float32)
    x[0, 3::4, 0] = logits
    return torch.from_numpy(x)


def _saturated_validation(pos_peaks: list[float], neg_peaks: list[float]):
    """Validation (smoothing 1) of positives each scored `pos_peaks[i]` and one negative stream of 60 s whose
    posterior reaches each of `neg_peaks` once."""
    from speechseq.train.detector import TrainRecipe, Validation
    from speechseq.train.kwmix import MixConfig

    recipe = TrainRecipe(val_positives=4, val_neg_hours=0.01, smoothing_steps=1, fa_target_per_h=0.5)
    validation = Validation(_tone_validation_bank(0.5), MixConfig(reverb_prob=0.0), recipe, 4, "cpu")
    validation.pos_x = [torch.cat([_stream([p]) for p in pos_peaks])]
    y = torch.zeros(len(pos_peaks), 100)
    y[:, 20:30] = 1.0  # the keyword's label stretch, where each positive's peak lies
    validation.pos_y = [y]
    validation.neg_x = [_stream(neg_peaks, steps=1500)]
    validation.neg_frames = [np.array([6000])]
    validation.neg_hours = 60 / 3600
    return validation


def test_validation_of_a_saturated_model_keeps_a_threshold_above_its_negatives_not_all_rejected():
    """Negatives reaching 0.9952, keywords 0.998 / 0.9985 / 0.97 / 0.5: the lowest threshold with no false accept
    is 0.996 (half the keywords found); before, the grid's last 0.99 still fired, and validation said every keyword
    was missed (1.0) at 0.99, a threshold over the false-accept target, and exported it."""
    validation = _saturated_validation([0.998, 0.9985, 0.97, 0.5], [0.9952])
    out = validation(FromFeatures())
    assert 0.9952 < out["val_threshold"] < 1.0
    assert out["val_threshold"] == pytest.approx(0.996)
    assert out["val_fa_per_h"] == 0.0
    assert out["val_frr_at_fa"] == pytest.approx(0.5)


def test_validation_of_negatives_at_one_is_all_rejected_at_the_grids_top():
    """A negative whose posterior is 1.0 (float32 saturation) fires at every threshold under 1: no threshold meets
    the target, every keyword counts as missed, at the grid's top, 0.9999."""
    validation = _saturated_validation([0.99999, 0.998], [1.0])
    out = validation(FromFeatures())
    assert out["val_frr_at_fa"] == 1.0 and out["val_threshold"] == pytest.approx(0.9999)
    assert out["val_fa_per_h"] == pytest.approx(60.0)


def test_unsaturated_validation_keeps_the_thresholds_it_chose_before():
    """The grid up to 0.99 is the old one: a model whose negatives stop at 0.805 keeps 0.81."""
    from speechseq.train.detector_validation import THRESHOLDS

    assert np.array_equal(THRESHOLDS[:95], np.round(np.arange(0.05, 0.9951, 0.01), 3))
    out = _saturated_validation([0.9, 0.7], [0.805])(FromFeatures())
    assert out["val_threshold"] == pytest.approx(0.81) and out["val_frr_at_fa"] == pytest.approx(0.5)


def test_end_offset_table_reaches_the_thresholds_above_099_and_export_reads_them():
    """The end offset at 0.999 is where the posterior crosses 0.999 (step 6 here), not the 0.99 crossing's (step 2):
    the table stopped at 0.99 and the export's interpolation clamped every higher threshold to that entry."""
    from speechseq.train.detector_validation import end_offset_table

    p = np.array([0.5, 0.9, 0.9912, 0.993, 0.9955, 0.9983, 0.99915, 0.99915, 0.2], np.float32)
    table = end_offset_table([p, p], smoothing_steps=1, step_s=0.04)
    th = np.array(table["threshold"])
    at = dict(zip(np.round(th, 4), table["end_offset_s"]))
    assert at[0.99] == pytest.approx(0.08) and at[0.995] == pytest.approx(0.16)
    assert at[0.999] == pytest.approx(0.24) and at[0.9991] == pytest.approx(0.24)
    assert th.max() == pytest.approx(0.9991)  # 0.9992 and up: never reached, not in the table
    assert float(np.interp(0.998, th, table["end_offset_s"])) == pytest.approx(0.20)


def test_eval_detector_finds_a_target_threshold_above_a_saturated_negative():
    """eval detector's grid (for --target-fa and --save-threshold) stopped at 0.995: negatives at 0.996 left no
    threshold for the target (no --save-threshold); 0.997 now."""
    from speechseq.commands.eval_detector import thresholds
    from speechseq.metrics import det_curve
    from speechseq.runtime.detector import trigger_events

    neg = [np.array([0.01, 0.5, 0.996, 0.9, 0.01])]
    curve = det_curve(np.array([0.9995, 0.998, 0.99]), lambda t: sum(len(trigger_events(p, t, 25, 5)) for p in neg),
                      1.0, thresholds())
    assert curve.threshold_for_fa_rate(0.5) == pytest.approx(0.997)
    assert curve.frr_at_fa_rate(0.5) == pytest.approx(1 / 3)


def _posts(syn_peak: float, real_peak: float, pos_peaks: list[float]) -> dict:
    """detector_tradeoff's cached posteriors: one synthetic sentence (1 h) and one real-speech file, each reaching
    its peak once, and real keyword clips each reaching theirs; smoothing 1, no settling steps."""
    def stream(peak: float) -> np.ndarray:
        return np.array([0.01] * 10 + [peak] * 3 + [0.01] * 10, np.float32)

    return {"syn": [stream(syn_peak)], "real": [stream(real_peak)], "pos": [stream(p) for p in pos_peaks],
            "h_syn": 1.0, "trigger": (1, 25, 5, 0)}


def test_tradeoff_meets_a_budget_above_099_and_says_the_threshold_in_full():
    """Synthetic and real negatives at 0.9952 and 0.9922, real clips at 0.9983 / 0.99935 / 0.9: at <= 0 false accepts
    the threshold is 0.996 (a third missed); before, 'not met on the grid (at th 0.99 ...)', and a threshold of 0.993
    was printed as 0.99."""
    from detector_tradeoff import at_threshold, real_event_misses, tradeoff

    post = _posts(0.9952, 0.9922, [0.9983, 0.99935, 0.9])
    lines = tradeoff([post])
    assert lines[-1] == "FA<=0.0/h: th 0.996, missed 33.3 %, real-speech events 0"
    assert real_event_misses(post, [0]) == ["real<=0: 33.3% (th 0.993)", "syn<=0.5/h: 33.3% (th 0.996, real ev 0)"]
    assert at_threshold(post, 0.9993, 0.04).startswith("exported th 0.9993: missed 66.7%, real events 0")


def test_train_summary_says_a_threshold_above_099_in_full(tmp_path):
    """The summary after `train detector` printed 0.993 as 'threshold 0.99', the grid's old top that it no longer is."""
    from speechseq.commands.train_detector import summary
    from speechseq.runtime.onnx import read_metadata, write_metadata

    model = tmp_path / "kw.onnx"
    shutil.copy(ROOT / "models" / "activate.onnx", model)
    meta = read_metadata(model)
    meta.update(threshold=0.993, metrics={"val_frr_at_fa": 0.5083, "val_fa_per_h": 0.0}, checkpoint="epoch 3")
    write_metadata(model, meta)
    assert summary(model, synthetic=False).startswith("threshold 0.993: on held-out clips it missed 50.8 % at 0.00 ")
