"""scripts/detector_levels.py: the loudness and floor it places a clip at, and its error without clips."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from detector_levels import level_mix  # noqa: E402


def test_level_mix_sets_the_clip_peak_and_the_floor():
    rng = np.random.default_rng(0)
    clip = (0.01 * np.sin(np.arange(8000) / 5)).astype(np.float32)
    x = level_mix(clip, 0.95, -60.0, rng, lead=16000, tail=16000)
    assert len(x) == 16000 + 8000 + 16000 and x.dtype == np.float32
    assert abs(np.abs(x[16000:24000]).max() - 0.95) < 0.01           # the floor adds about 1e-3 at most
    rms = np.sqrt(np.mean(np.concatenate([x[:16000], x[24000:]]).astype(np.float64) ** 2))
    assert abs(20 * np.log10(rms) + 60) < 0.2
    with pytest.raises(ValueError):
        level_mix(np.zeros(100, np.float32), 0.5, -60.0, rng)


def test_no_heldout_clips_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "scripts/detector_levels.py", "models/activate.onnx", "--synth", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "no held-out clips" in out.stderr and "Traceback" not in out.stderr


def test_missing_model_is_a_clear_error(tmp_path):
    """A model path that is not there was a ModelError traceback."""
    out = subprocess.run([sys.executable, "scripts/detector_levels.py", str(tmp_path / "none.onnx"), "--synth", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "none.onnx: no such model file" in out.stderr
