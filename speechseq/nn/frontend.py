"""The log-mel frontend as a torch module, for training and ONNX export.

Same arithmetic as `speechseq.frontend.logmel` (pinned by tests): the windowed DFT is a strided
Conv1d whose kernels are hann * cos and hann * sin, so the exported graph is plain Concat/Conv/Slice/Mul/MatMul/Log.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..frontend import FrontendConfig, hann_window, mel_filterbank

__all__ = ["LogMel"]


class LogMel(nn.Module):
    """(B, N) audio at cfg.sample_rate -> (B, T, n_mels) log-mel, T = num_frames(N): 1 + (N - win) // hop, 0 when
    N < win (no error), in eager torch and in the exported graph alike."""

    def __init__(self, cfg: FrontendConfig = FrontendConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        n = np.arange(cfg.win_length)
        k = np.arange(cfg.n_fft // 2 + 1)
        angle = 2 * np.pi * np.outer(k, n) / cfg.n_fft
        window = hann_window(cfg)
        kernels = np.concatenate([window * np.cos(angle), -window * np.sin(angle)])  # (2K, win)
        self.register_buffer("dft", torch.tensor(kernels[:, None, :], dtype=torch.float32), persistent=False)
        self.register_buffer("mel", torch.tensor(mel_filterbank(cfg).T, dtype=torch.float32), persistent=False)
        self.n_bins = len(k)
        # Conv refuses an input shorter than its kernel (onnxruntime too), and a trace has no length test: the audio
        # gets `extra` hops of zeros, the least that make N = 0 one window, which adds exactly `extra` frames, all
        # after the clip's own (frame T - 1 ends at sample (T - 1) * hop + win <= N); they are cut off again, leaving
        # none when N < win. The same graph for every N, at the cost of 3 frames' DFT a call.
        self.extra = -(-cfg.win_length // cfg.hop_length)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        padded = torch.cat([audio, audio.new_zeros((audio.shape[0], self.extra * self.cfg.hop_length))], dim=1)
        spec = nn.functional.conv1d(padded.unsqueeze(1), self.dft, stride=self.cfg.hop_length)[..., : -self.extra]
        re, im = spec[:, : self.n_bins], spec[:, self.n_bins :]
        power = (re * re + im * im).transpose(1, 2)  # (B, T, K)
        return torch.log(power @ self.mel + self.cfg.floor)


def export_frontend(cfg: FrontendConfig, path: str | os.PathLike, opset: int = 17) -> None:
    """Write the frontend as an ONNX graph: input "audio" (B, N) -> output "logmel" (B, T, n_mels), with
    `cfg` (the log floor included) in its metadata, "frontend", as every model carries its own. Written whole or not
    at all (files.written_atomically): a failure leaves the file at `path` as it was, never a graph without metadata."""
    from ..files import written_atomically
    from ..runtime.onnx import write_metadata

    model = LogMel(cfg).eval()
    example = torch.zeros(1, cfg.sample_rate)
    with written_atomically(Path(path)) as tmp:
        torch.onnx.export(model, (example,), str(tmp), input_names=["audio"], output_names=["logmel"],
                          dynamic_axes={"audio": {0: "batch", 1: "samples"}, "logmel": {0: "batch", 1: "frames"}},
                          opset_version=opset, dynamo=False)
        write_metadata(tmp, {"kind": "frontend", "format": 1, "frontend": cfg.to_dict(),
                             "inputs": {"audio": f"(batch, samples) float32 at {cfg.sample_rate} Hz"},
                             "outputs": {"logmel": f"(batch, max(0, 1 + (samples - {cfg.win_length}) // "
                                                   f"{cfg.hop_length}), {cfg.n_mels}) log(mel power + "
                                                   f"{cfg.floor:g})"}})
