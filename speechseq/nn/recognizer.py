"""The speech recogniser: a strided front, stacked bidirectional LSTMs, a linear layer to CTC symbols.

    B: batch size, T: input frames (100 per second), T': output frames (T / stride), F: mel bands,
    V: CTC symbols (speechseq.text.CTC_SIZE = 29: blank, space, a-z, apostrophe)

    features (B, T, F) log-mel ─► (x - mean) / std ─► front (B, T', C) ─► BiLSTM x L ─► linear
        ─► log_softmax (B, T', V)

The front cuts the frame rate as DeepSpeech 2 does, either by stacking `stride` frames into one
("stack") or with a strided 1-D convolution ("conv", kernel `kernel_size`, centred). Feature
normalisation (per-band mean and standard deviation measured on the training data) is part of
the model, so an exported graph takes the frontend's raw log-mel. Latency-controlled chunked
recognition of the same weights is speechseq.nn.streaming: the front needs only (kernel_size - 1) / 2
frames of context on each side, and each LSTM layer's forward state is carried between chunks.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..checks import finite, refuse, whole
from ..text import CTC_SIZE

__all__ = ["RecognizerConfig", "Recognizer", "build_recognizer"]


@dataclass(frozen=True)
class RecognizerConfig:
    n_mels: int = 80
    front: str = "conv"          # "conv" (strided Conv1d + ReLU) or "stack" (frame stacking + linear)
    stride: int = 2              # output frame rate = 100 / stride per second
    kernel_size: int = 5         # conv front only; odd, centred
    front_dim: int = 256
    hidden: int = 256            # LSTM units per direction
    layers: int = 3
    dropout: float = 0.1         # between LSTM layers and before the output layer
    vocab_size: int = CTC_SIZE

    def __post_init__(self) -> None:
        # each of these was taken, then failed in torch (a front_dim of 0: "input_size must be greater than zero", a
        # kernel_size of -1, odd: "negative dimension") or made a model of no output (vocab_size 0)
        refuse("recognizer settings", [
            *((name, getattr(self, name), whole(getattr(self, name)), "a whole number >= 1")
              for name in ("n_mels", "stride", "front_dim", "hidden", "layers")),
            # a conv front's windows must touch: with stride 6 and kernel 5 frame 6j + 3 was never read, unsaid
            ("kernel_size", self.kernel_size, whole(self.kernel_size) and self.kernel_size % 2 == 1
             and (self.front != "conv" or not whole(self.stride) or self.kernel_size >= self.stride),
             "an odd whole number >= 1, and with the conv front >= the stride"),
            ("vocab_size", self.vocab_size, whole(self.vocab_size, 2),
             "a whole number >= 2: the blank and a character"),
            ("dropout", self.dropout, finite(self.dropout) and 0 <= self.dropout < 1, "in [0, 1)")])
        if self.front not in ("conv", "stack"):
            raise ValueError(f"front must be 'conv' or 'stack', got {self.front!r}")
        if self.stride < 1 or self.layers < 1 or self.kernel_size % 2 == 0:
            raise ValueError("stride and layers must be >= 1 and kernel_size odd")

    def to_dict(self) -> dict:
        return asdict(self)


class Recognizer(nn.Module):
    """features (B, T, F) [+ lengths (B,)] -> (log_probs (B, T', V), out_lengths (B,))."""

    def __init__(self, cfg: RecognizerConfig = RecognizerConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("feat_mean", torch.zeros(cfg.n_mels))
        self.register_buffer("feat_std", torch.ones(cfg.n_mels))
        if cfg.front == "conv":
            self.front = nn.Conv1d(cfg.n_mels, cfg.front_dim, cfg.kernel_size, stride=cfg.stride,
                                   padding=cfg.kernel_size // 2)
        else:
            self.front = nn.Linear(cfg.n_mels * cfg.stride, cfg.front_dim)
        self.lstm = nn.LSTM(cfg.front_dim, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                            bidirectional=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(2 * cfg.hidden, cfg.vocab_size)

    def output_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Output frames for inputs of `lengths` frames: ceil(T / stride) for both fronts."""
        return torch.div(lengths + self.cfg.stride - 1, self.cfg.stride, rounding_mode="floor")

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-band statistics of the training features, (F,) each."""
        self.feat_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.feat_std.copy_(torch.as_tensor(std, dtype=torch.float32).clamp_min(1e-3))

    def _front(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = (x - self.feat_mean) / self.feat_std
        if lengths is not None:  # padding reads as the zeros an unpadded utterance is padded with
            real = torch.arange(x.shape[1], device=x.device)[None, :] < lengths.to(x.device)[:, None]
            x = x * real[:, :, None]
        if self.cfg.front == "conv":
            return torch.relu(self.front(x.transpose(1, 2))).transpose(1, 2)
        s = self.cfg.stride
        b, t, f = x.shape
        pad = (-t) % s
        x = nn.functional.pad(x, (0, 0, 0, pad))
        return torch.relu(self.front(x.reshape(b, (t + pad) // s, f * s)))

    def encode(self, features: torch.Tensor, lengths: torch.Tensor | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """features: (B, T, F) log-mel, padded after `lengths` (None: all T frames are real).

        Returns the BiLSTM outputs (B, T', 2 H) and out_lengths (B,). With `lengths` the LSTMs run on
        packed sequences, so padding never reaches the backward direction.
        """
        x = self._front(features, lengths)
        if lengths is None:
            y, _ = self.lstm(x)
            return y, torch.full((x.shape[0],), x.shape[1], dtype=torch.long, device=x.device)
        out_lengths = self.output_lengths(lengths.to(torch.long)).clamp(1, x.shape[1])
        packed = pack_padded_sequence(x, out_lengths.cpu(), batch_first=True, enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
        return y, out_lengths

    def forward(self, features: torch.Tensor, lengths: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """features: (B, T, F) log-mel, padded after `lengths` (None: all T frames are real).

        Returns log_probs (B, T', V) and out_lengths (B,) (`encode`, then the output layer); the
        exported graph has no lengths input (one utterance per row, no padding).
        """
        y, out_lengths = self.encode(features, lengths)
        return torch.log_softmax(self.out(self.drop(y)), dim=-1), out_lengths


def build_recognizer(model_config: dict) -> Recognizer:
    """Rebuild a model from the `model_config` dict saved in a checkpoint."""
    return Recognizer(RecognizerConfig(**model_config))
