"""Latency-controlled chunked recognition (LC-BLSTM) for a trained `Recognizer`, in torch.

    B = 1, C: chunk steps (output frames), R: look-ahead steps, s: the model's stride,
    k, p: the front's receptive field and left padding in input frames (conv: kernel, kernel // 2;
    stack: s, 0), F: mel bands, L: LSTM layers, H: hidden units per direction, V: CTC symbols.

Output step j of the front sees input frames [s j - p, s j - p + k). To produce steps
[j0, j0 + C + R) the caller hands over

    chunk      input frames [s j0 - p, s (j0 + C) - p)                 (1, s C, F)
    lookahead  input frames [s (j0 + C) - p, s (j0 + C + R - 1) - p + k)  (1, s R + k - s, F)

with frames before the stream's start or after its end filled with the model's feature mean
(0 after normalisation: the offline model's zero padding). Each LSTM layer then runs

    forward:  over the C chunk steps from the carried state (the state after them is carried on),
              then over the R look-ahead steps from there (for the layer above; not carried);
    backward: over chunk + look-ahead from a zero state, reversed.

The chunk's C outputs are final; the R look-ahead outputs are tentative (their backward pass
started inside the utterance). When the look-ahead reaches the end of the utterance the outputs
equal the offline model's exactly; this is what tests check.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from .recognizer import Recognizer

__all__ = ["FrontGeometry", "ChunkedRecognizer", "front_geometry", "chunked_forward"]


@dataclass(frozen=True)
class FrontGeometry:
    """How output steps map to input frames: step j sees frames [stride j - left, stride j - left + kernel)."""

    stride: int
    kernel: int
    left: int

    def lookahead_frames(self, lookahead_steps: int) -> int:
        """Input frames of the look-ahead tensor for R look-ahead steps: s R + k - s (never negative)."""
        return max(0, self.stride * lookahead_steps + self.kernel - self.stride)


def front_geometry(model: Recognizer) -> FrontGeometry:
    cfg = model.cfg
    if cfg.front == "conv":
        return FrontGeometry(cfg.stride, cfg.kernel_size, cfg.kernel_size // 2)
    return FrontGeometry(cfg.stride, cfg.stride, 0)


def _unidirectional(lstm: nn.LSTM, layer: int, reverse: bool) -> nn.LSTM:
    """A one-layer unidirectional LSTM holding one direction of one layer of `lstm`'s weights."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    w_ih = getattr(lstm, "weight_ih" + suffix)
    one = nn.LSTM(w_ih.shape[1], lstm.hidden_size, batch_first=True)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(one, name + "_l0").copy_(getattr(lstm, name + suffix))
    return one


class ChunkedRecognizer(nn.Module):
    """One latency-controlled step: (chunk, lookahead, h, c) -> (log_probs, h, c).

    chunk (1, s C, F) and lookahead (1, s R + k - s, F) raw log-mel (see the module docstring);
    h, c (L, 1, H): forward LSTM states before the chunk (zeros at the stream's start).
    Returns log_probs (1, C + R, V) (the first C final, the rest tentative) and h, c (L, 1, H)
    after the chunk. The weights are copies of `model`'s, so the model is unchanged.
    """

    def __init__(self, model: Recognizer) -> None:
        super().__init__()
        cfg = model.cfg
        self.cfg = cfg
        self.geometry = front_geometry(model)
        self.register_buffer("feat_mean", model.feat_mean.detach().clone())
        self.register_buffer("feat_std", model.feat_std.detach().clone())
        if cfg.front == "conv":
            self.front = nn.Conv1d(cfg.n_mels, cfg.front_dim, cfg.kernel_size, stride=cfg.stride, padding=0)
        else:
            self.front = nn.Linear(cfg.n_mels * cfg.stride, cfg.front_dim)
        self.front.load_state_dict(model.front.state_dict())
        self.fwd = nn.ModuleList(_unidirectional(model.lstm, i, False) for i in range(cfg.layers))
        self.bwd = nn.ModuleList(_unidirectional(model.lstm, i, True) for i in range(cfg.layers))
        self.out = nn.Linear(2 * cfg.hidden, cfg.vocab_size)
        self.out.load_state_dict(model.out.state_dict())
        self.eval()

    def initial_state(self) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros(self.cfg.layers, 1, self.cfg.hidden)
        return z, z.clone()

    def _front(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.feat_mean) / self.feat_std
        if self.cfg.front == "conv":
            return torch.relu(self.front(x.transpose(1, 2))).transpose(1, 2)
        b, t, f = x.shape
        s = self.cfg.stride
        return torch.relu(self.front(x.reshape(b, t // s, f * s)))

    def forward(self, chunk: torch.Tensor, lookahead: torch.Tensor, h: torch.Tensor, c: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n_chunk = chunk.shape[1] // self.cfg.stride
        x = self._front(torch.cat([chunk, lookahead], dim=1))        # (1, C + R, D)
        hs, cs = [], []
        for i in range(self.cfg.layers):
            a, (h_i, c_i) = self.fwd[i](x[:, :n_chunk], (h[i : i + 1], c[i : i + 1]))
            if torch.jit.is_tracing() or x.shape[1] > n_chunk:  # torch's LSTM refuses empty sequences; ONNX's does not
                b, _ = self.fwd[i](x[:, n_chunk:], (h_i, c_i))
                a = torch.cat([a, b], dim=1)
            r, _ = self.bwd[i](torch.flip(x, dims=[1]))
            x = torch.cat([a, torch.flip(r, dims=[1])], dim=2)
            hs.append(h_i)
            cs.append(c_i)
        return torch.log_softmax(self.out(x), dim=-1), torch.cat(hs, 0), torch.cat(cs, 0)


def _direction(lstm: nn.LSTM, layer: int, reverse: bool) -> tuple[nn.LSTM, dict[str, torch.Tensor]]:
    """A one-layer LSTM module and the (trainable) parameters of one direction of `lstm`'s layer."""
    suffix = f"_l{layer}" + ("_reverse" if reverse else "")
    params = {f"{n}_l0": getattr(lstm, n + suffix) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    shell = nn.LSTM(params["weight_ih_l0"].shape[1], lstm.hidden_size, batch_first=True).to(params["weight_ih_l0"].device)
    return shell, params


def chunked_forward(model: Recognizer, features: torch.Tensor, chunk_steps: int, lookahead_steps: int,
                    lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Latency-controlled forward of a whole batch, differentiable through `model`'s own weights.

    features (B, T, F) [+ lengths (B,) input frames] -> log_probs (B, ceil(T / stride), V), as the
    chunked runtime computes them: each chunk of `chunk_steps` output steps sees `lookahead_steps`
    more (cut at the utterance's end), forward states carried. For training a model to be good
    in chunked mode too (mix its CTC loss with the offline one); steps past an utterance's end
    are junk, as in any padded batch.
    """
    if not isinstance(chunk_steps, numbers.Integral) or not isinstance(lookahead_steps, numbers.Integral) \
            or chunk_steps < 1 or lookahead_steps < 0:
        raise ValueError(f"chunk_steps must be an integer >= 1 and lookahead_steps an integer >= 0, "
                         f"got {chunk_steps!r}, {lookahead_steps!r}")
    cfg = model.cfg
    c, r = int(chunk_steps), int(lookahead_steps)
    x = model._front(features, lengths)                          # (B, T', D): local, exact (padding: the mean)
    b, t, _ = x.shape
    n = -(-t // c)
    x = nn.functional.pad(x, (0, 0, 0, n * c + r - t))            # (B, n C + R, D)
    dev = x.device
    steps = model.output_lengths(lengths.to(dev)) if lengths is not None else torch.full((b,), t, device=dev)
    # The backward pass of segment k (chunk + look-ahead) starts at the utterance's end when that
    # comes first: reverse only its valid part (an involution), run forward, reverse back.
    valid = (steps[:, None] - torch.arange(n, device=dev)[None, :] * c).clamp(0, c + r).reshape(b * n, 1)
    j = torch.arange(c + r, device=dev)[None, :]
    rev_idx = torch.where(j < valid, valid - 1 - j, j)            # (B n, C + R)
    idx = torch.arange(n, device=dev)[:, None] * c + torch.arange(c + r, device=dev)[None, :]
    chunks = x[:, : n * c]                                        # layer input at chunk steps (B, n C, D)
    look = x[:, idx[:, c:]] if r else x.new_zeros(b, n, 0, x.shape[-1])   # (B, n, R, D)
    for layer in range(cfg.layers):
        fwd, fp = _direction(model.lstm, layer, False)
        bwd, bp = _direction(model.lstm, layer, True)
        h = chunks.new_zeros(1, b, cfg.hidden)
        state = (h, h)
        outs, states = [], []
        for k in range(n):                                        # forward: carried across chunks
            o, state = functional_call(fwd, fp, (chunks[:, k * c : (k + 1) * c], state))
            outs.append(o)
            states.append(state)
        f_chunk = torch.cat(outs, dim=1)                          # (B, n C, H)
        seg = torch.cat([chunks.reshape(b, n, c, -1), look], dim=2).reshape(b * n, c + r, -1)
        gather = rev_idx[:, :, None]
        rev, _ = functional_call(bwd, bp, (seg.gather(1, gather.expand(-1, -1, seg.shape[-1])),))
        rev = rev.gather(1, gather.expand(-1, -1, rev.shape[-1])).reshape(b, n, c + r, -1)
        if r:
            h0 = torch.stack([s[0][0] for s in states], dim=1).reshape(1, b * n, -1)
            c0 = torch.stack([s[1][0] for s in states], dim=1).reshape(1, b * n, -1)
            f_look, _ = functional_call(fwd, fp, (look.reshape(b * n, r, -1), (h0, c0)))
            look = torch.cat([f_look.reshape(b, n, r, -1), rev[:, :, c:]], dim=-1)
        else:
            look = rev.new_zeros(b, n, 0, 2 * cfg.hidden)
        chunks = torch.cat([f_chunk, rev[:, :, :c].reshape(b, n * c, -1)], dim=-1)
    return torch.log_softmax(model.out(model.drop(chunks[:, :t])), dim=-1)
