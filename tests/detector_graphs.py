"""Shared by the tests of the runtime's detector graphs (tests/test_conv_blocks.py, tests/test_conv_taps.py): a
small detector config, a graph's node kinds, and log-mel features of test audio."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from speechseq.audio import load_audio
from speechseq.frontend import FrontendConfig, logmel
from speechseq.nn.detector import DetectorConfig

ROOT = Path(__file__).resolve().parents[1]
BASE = DetectorConfig(n_mels=40, conv_channels=16, kernel=7, stride=3, hidden=12, layers=2, dropout=0.1, norm_frames=20)
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"  # "activate" near 1.68 s


def ops(model) -> list[str]:
    """The node kinds of an onnx.ModelProto, in order."""
    return [n.op_type for n in model.graph.node]


def features(path: Path | None, seconds: float, gain: float = 1.0) -> np.ndarray:
    """40-band log-mel of `seconds` of `path` times `gain`, or of noise bursts (path None)."""
    if path is None:
        rng = np.random.default_rng(4)
        n = int(16000 * seconds)
        audio = 0.1 * rng.standard_normal(n) * (0.05 + (np.sin(np.linspace(0, 30, n)) > 0))
    else:
        audio = load_audio(path, sr=16000)[: int(16000 * seconds)]
    return logmel((gain * audio).astype(np.float32), FrontendConfig(n_mels=40))
