"""scripts/detector_tradeoff.py: --gain-db's detector scales the signal and nothing else."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from detector_tradeoff import Gained, _key  # noqa: E402
from speechseq.runtime.detector import Detector  # noqa: E402

MODEL = ROOT / "models" / "activate.onnx"


def test_gained_detector_sees_the_scaled_signal():
    x = (0.5 * np.sin(np.arange(32000) / 7) * np.random.default_rng(0).random(32000)).astype(np.float32)
    det = Detector.load([MODEL])
    plain, gained = [[]], [[]]
    det.step(0.1 * x, det.initial_state(), plain)
    g = Gained(Detector.load([MODEL]), 0.1)
    g.step(x, g.initial_state(), gained)
    assert g.models[0].keyword == "activate"                      # the rest is the detector's own
    np.testing.assert_allclose(np.concatenate(gained[0]), np.concatenate(plain[0]), atol=1e-6)
    unscaled = [[]]
    det.step(x, det.initial_state(), unscaled)
    assert np.abs(np.concatenate(unscaled[0]) - np.concatenate(plain[0])).max() > 1e-3


def test_cache_key_names_the_gain_and_keeps_the_old_key_without_it():
    assert _key(MODEL, 0.0) == _key(MODEL, 0.0) and "gain" not in _key(MODEL, 0.0)
    assert _key(MODEL, -10.0).endswith("-gain-10dB") and _key(MODEL, -10.0).startswith(_key(MODEL, 0.0))
