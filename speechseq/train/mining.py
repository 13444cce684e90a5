"""Hard-negative mining for keyword detectors: the negatives a trained model mistakes for its keyword.

The course's recipe draws negatives (other words, sound-alikes, sentences) uniformly; most of them
are easy once the model has learnt a little, and the few that fire decide the false accepts at the
runtime threshold, hence the threshold, hence the misses. Mining scores every negative clip of a
bank with a trained model (the highest smoothed posterior over the clip and half a second of
silence after it, where a keyword's label would be) and draws the high scorers more often in a
continued training:

    scores = clip_scores(model, bank, "neg")
    bank["neg/weight"] = mined_weights(bank["neg/weight"], scores, threshold=0.2, boost=8.0)
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..runtime.detector import smooth
from .kwbank import dequantize

__all__ = ["clip_scores", "mined_weights"]


@torch.no_grad()
def clip_scores(model: torch.nn.Module, bank: dict, role: str = "neg", smoothing_steps: int = 3,
                tail_s: float = 0.5, batch: int = 64, device: str = "cpu") -> np.ndarray:
    """The highest smoothed posterior of `model` on each clip of `role`, (clips,) float32.

    Each clip is run alone from a fresh stream, followed by `tail_s` of digital silence; clips are
    batched by length (padded with silence, which cannot raise an earlier step's posterior: the
    model is causal).
    """
    model = model.eval().to(device)
    off = bank[f"{role}/offsets"].astype(np.int64)
    lengths = np.diff(off)
    silence = math.log(model.cfg.floor)
    tail = int(round(tail_s * 100))
    out = np.zeros(len(lengths), np.float32)
    order = np.argsort(lengths, kind="stable")
    q = bank[f"{role}/q"]
    for i in range(0, len(order), batch):
        idx = order[i: i + batch]
        n = int(lengths[idx].max()) + tail
        n += (-n) % model.cfg.stride
        x = np.full((len(idx), n, q.shape[1]), silence, np.float32)
        for row, j in enumerate(idx):
            x[row, : lengths[j]] = dequantize(q[off[j]: off[j + 1]])
        post = smooth(torch.sigmoid(model(torch.from_numpy(x).to(device))).cpu().numpy(), smoothing_steps)
        ends = -(-(lengths[idx] + tail) // model.cfg.stride)  # whole strides, the last one padded
        for row, j in enumerate(idx):
            out[j] = float(post[row, : max(1, ends[row])].max())
    return out


def mined_weights(weights: np.ndarray, scores: np.ndarray, threshold: float = 0.2, boost: float = 8.0) -> np.ndarray:
    """Sampling weights with the clips scoring at least `threshold` drawn `boost` times as often."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != np.shape(scores):
        raise ValueError(f"{len(weights)} weights for {len(scores)} scores")
    if boost <= 0:
        raise ValueError(f"boost must be positive, got {boost}")
    return (weights * np.where(np.asarray(scores) >= threshold, boost, 1.0)).astype(np.float32)
