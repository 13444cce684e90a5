"""The trigger-word detector: strided Conv1D + batch norm + ReLU -> unidirectional GRUs -> sigmoid.

The course's model, made causal and streamable. Shapes (B: batch, T: feature frames at 100 per
second, F: n_mels, S: conv stride, K: conv kernel, H: GRU hidden size, L: GRU layers):

    features (B, T, F) -> [context (K - S + N frames), features], each frame minus the mean of the
                          N frames ending at it (N = norm_frames; 0: no normalisation)
                       -> conv over the last K - S + T frames -> (B, T // S, C)
                       -> GRU x L -> (B, T // S, H) -> dense -> logits (B, T // S)

Output step j covers frames [S j - (K - S), S j + S) (their means reach N - 1 frames further back): it
is ready once frame S j + S - 1 exists.
The K - S + N frames before the first one are "digital silence" (log of the frontend's floor) for a
fresh stream, so `forward(x)` equals `step(x, initial_state)`, and streaming a clip in chunks of
any multiple of S frames, carrying the state, gives the same outputs as the whole clip.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from ..checks import finite, refuse, whole

__all__ = ["DetectorConfig", "Detector", "DetectorEnsemble", "DetectorState", "StepGraph", "warp_ensemble",
           "warp_matrix", "WARP_RANGE"]

DetectorState = tuple[torch.Tensor, torch.Tensor]  # (context (B, K - S + N, F), hidden (L, B, H))


@dataclass(frozen=True)
class DetectorConfig:
    n_mels: int = 40
    conv_channels: int = 128
    kernel: int = 9            # frames (90 ms of hops + one 25 ms window)
    stride: int = 4            # 100 frames/s -> 25 outputs/s
    hidden: int = 112
    layers: int = 2
    dropout: float = 0.25
    floor: float = 1e-6        # the frontend's log floor: what "before the stream" looks like
    feat_shift: float = -6.0   # fixed input scaling: (logmel - shift) / scale is about N(0, 1)
    feat_scale: float = 4.0
    norm_frames: int = 100     # N >= 2: subtract from each frame the mean of the last N frames (per mel
                               # bin, itself included), a streaming cepstral mean normalisation; 0: off.
                               # On real "amelia" it cut misses at 1 synthetic false accept/h from 28.7 to
                               # 18.4 % (session 6, models/activate.md)
    lifter: int = 0            # k >= 1: keep only the first k cepstral coefficients of each (normalised)
                               # frame (a DCT over the mel bins, truncated, inverted): the spectral
                               # envelope without the pitch harmonics' fine structure; 0: off. A fixed
                               # linear map, folded into the conv at export (no graph ops for it). On
                               # real "amelia" (session 16, scripts/train_detectors.py) 13 or 20 of 40
                               # did not beat 0 (16.6-20.6 vs 14.3-19.3 % missed at 0.5 FA/h)

    def __post_init__(self) -> None:
        # a feat_scale of 0 made every output NaN without a word, a floor of 0 a "math domain error", a float size
        # or a dropout of 1.5 torch's error when the model was built
        refuse("detector settings", [
            *((name, getattr(self, name), whole(getattr(self, name)), "a whole number >= 1")
              for name in ("n_mels", "conv_channels", "kernel", "stride", "hidden", "layers")),
            *((name, getattr(self, name), whole(getattr(self, name), 0), "a whole number >= 0")
              for name in ("norm_frames", "lifter")),
            ("dropout", self.dropout, finite(self.dropout) and 0 <= self.dropout < 1, "in [0, 1)"),
            ("floor", self.floor, finite(self.floor) and self.floor > 0, "a finite number > 0"),
            ("feat_shift", self.feat_shift, finite(self.feat_shift), "a finite number"),
            ("feat_scale", self.feat_scale, finite(self.feat_scale) and self.feat_scale > 0, "a finite number > 0")])
        if self.kernel <= self.stride:
            raise ValueError(f"kernel ({self.kernel}) must exceed stride ({self.stride}): the left context is the state")
        if min(self.n_mels, self.conv_channels, self.hidden, self.layers, self.stride) < 1:
            raise ValueError(f"sizes must be positive: {self}")
        if self.norm_frames < 0 or self.norm_frames == 1:
            raise ValueError(f"norm_frames must be 0 (off) or at least 2, got {self.norm_frames}")
        if not 0 <= self.lifter <= self.n_mels:
            raise ValueError(f"lifter must be 0 (off) or 1..n_mels ({self.n_mels}), got {self.lifter}")

    @property
    def context(self) -> int:
        """Frames of left context carried between chunks (K - S, plus norm_frames for the mean)."""
        return self.kernel - self.stride + self.norm_frames

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "DetectorConfig":
        d = {"norm_frames": 0, **d}  # checkpoints from before norm_frames existed have no normalisation
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def lifter_matrix(n_mels: int, keep: int) -> torch.Tensor:
    """(F, F) symmetric projection: x @ M keeps the first `keep` orthonormal DCT-II coefficients of x."""
    f = torch.arange(n_mels, dtype=torch.float64)
    k = torch.arange(keep, dtype=torch.float64)[:, None]
    dct = torch.cos(math.pi * k * (f + 0.5) / n_mels) * math.sqrt(2.0 / n_mels)  # (keep, F)
    dct[0] /= math.sqrt(2.0)
    return (dct.T @ dct).float()


WARP_RANGE = (0.5, 2.0)  # the mel-axis warp factors a warp ensemble accepts


def warp_matrix(n_mels: int, factor: float) -> torch.Tensor:
    """(F, F) float64 map W with W @ frame = the frame warped on the mel axis by `factor` (the vocal tract
    length warp `speechseq.frontend.mel_warp` that training applies to clips). Its rows sum to 1, so it
    commutes with the input scaling and the running-mean normalisation (linear, per band)."""
    from ..frontend import mel_warp

    i0, i1, w = (t[0] for t in mel_warp(n_mels, [factor]))
    m = torch.zeros(n_mels, n_mels, dtype=torch.float64)
    rows = torch.arange(n_mels)
    m[rows, torch.from_numpy(i0)] += 1.0 - torch.from_numpy(w).double()
    m[rows, torch.from_numpy(i1)] += torch.from_numpy(w).double()
    return m


class Detector(nn.Module):
    """Keyword posterior per output step; `forward` for training, `step` for streaming."""

    def __init__(self, cfg: DetectorConfig = DetectorConfig()) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv = nn.Conv1d(cfg.n_mels, cfg.conv_channels, cfg.kernel, stride=cfg.stride)
        self.norm = nn.BatchNorm1d(cfg.conv_channels)
        self.drop = nn.Dropout(cfg.dropout)
        self.gru = nn.GRU(cfg.conv_channels, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                          dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.out = nn.Linear(cfg.hidden, 1)
        if cfg.lifter:
            self.register_buffer("lift", lifter_matrix(cfg.n_mels, cfg.lifter), persistent=False)

    def initial_state(self, batch: int = 1, device: torch.device | str = "cpu") -> DetectorState:
        """A fresh stream: silence as left context, zero GRU state."""
        c = self.cfg
        ctx = torch.full((batch, c.context, c.n_mels), math.log(c.floor), device=device)
        return ctx, torch.zeros(c.layers, batch, c.hidden, device=device)

    def _logits(self, x: torch.Tensor, state: DetectorState) -> tuple[torch.Tensor, DetectorState]:
        y, state = self._encode(x, state)
        return self.out(self.drop(y)).squeeze(-1), state  # (B, T // S)

    def _encode(self, x: torch.Tensor, state: DetectorState) -> tuple[torch.Tensor, DetectorState]:
        """The last GRU layer's outputs (B, T // S, H) and the next state."""
        c = self.cfg
        ctx, h = state
        if not torch.jit.is_tracing() and x.shape[1] < c.stride:  # no output step (the conv would read fewer frames
            return x.new_zeros(x.shape[0], 0, c.hidden), (ctx, h)  # than its kernel): the state as it was
        full = torch.cat([ctx, x], dim=1)  # (B, K - S + N + T, F)
        z = self.drop(torch.relu(self.norm(self.conv(self.conv_input(full))))).transpose(1, 2)  # (B, T // S, C)
        y, h = self.gru(z, h)
        # Negative slicing keeps the exported graph valid for any chunk length (a multiple of S).
        if x.shape[1] % c.stride == 0:
            new_ctx = full[:, -c.context:]
        else:  # whole-clip forward of a ragged clip: the tail frames are the caller's
            used = c.stride * (x.shape[1] // c.stride)
            new_ctx = full[:, used: used + c.context]
        return y, (new_ctx, h)

    def conv_input(self, full: torch.Tensor) -> torch.Tensor:
        """Context + frames (B, N + T', F) -> what the conv reads (B, F, T'): scaled, each frame minus
        its running mean, liftered."""
        c = self.cfg
        # (a copy made by `folded` has its scaling in the conv weights: no graph ops for it here)
        z = full if (c.feat_shift, c.feat_scale) == (0.0, 1.0) else (full - c.feat_shift) / c.feat_scale
        if c.norm_frames:
            # Each frame minus the mean of the N frames ending at it. The window sums are differences
            # of a running sum over the chunk; carrying N context frames (not N - 1) means no zero row
            # has to be prepended. In onnxruntime this costs about half an average pool of width N.
            n = c.norm_frames
            run = torch.cumsum(z, dim=1)
            z = z[:, n:] - (run[:, n:] - run[:, :-n]) * (1.0 / n)
        if c.lifter:
            z = z @ self.lift
        return z.transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, F) log-mel of whole clips -> logits (B, T // S) (apply sigmoid for probabilities)."""
        logits, _ = self._logits(x, self.initial_state(x.shape[0], x.device))
        return logits

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, F) log-mel of whole clips -> the last GRU layer's outputs (B, T // S, H), what
        the sigmoid head reads (and a pretraining head, speechseq.train.detector_pretrain)."""
        y, _ = self._encode(x, self.initial_state(x.shape[0], x.device))
        return y

    def step(self, x: torch.Tensor, state: DetectorState | None = None) -> tuple[torch.Tensor, DetectorState]:
        """One chunk of a stream. x: (B, T, F) with T a multiple of the stride.

        Returns probabilities (B, T // S) and the state to pass with the next chunk.
        """
        if x.shape[1] % self.cfg.stride:
            raise ValueError(f"chunk of {x.shape[1]} frames is not a multiple of the stride {self.cfg.stride}")
        if state is None:
            state = self.initial_state(x.shape[0], x.device)
        logits, state = self._logits(x, state)
        return torch.sigmoid(logits), state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def folded(self) -> "Detector":
        """A copy with the same outputs whose fixed input scaling (x - shift) / scale lives in the conv.

        The conv is linear and unpadded, so conv(W, (x - a) / b) = conv(W / b, x) - (a / b) sum(W);
        with the mean normalisation the shift cancels outright (each frame minus a mean of frames).
        The exported step graph is this copy's: two elementwise ops fewer over every chunk's frames.
        The lifter (a linear map over the mel bins after the normalisation) goes into the conv too.
        """
        c = self.cfg
        out = copy.deepcopy(self)
        with torch.no_grad():
            w = out.conv.weight
            if c.lifter:
                w.copy_(torch.einsum("fg,cgk->cfk", out.lift, w))
                del out.lift
            if not c.norm_frames:
                out.conv.bias -= (c.feat_shift / c.feat_scale) * w.sum(dim=(1, 2))
            w /= c.feat_scale
        out.cfg = replace(c, feat_shift=0.0, feat_scale=1.0, lifter=0)
        return out

    def warped(self, factor: float) -> "Detector":
        """A folded copy that hears every frame warped on the mel axis by `factor` (`warp_matrix`,
        applied after the normalisation and before the lifter): conv(w, W z) = conv(W^T w, z), so the
        warp lives in the conv weights, at no cost."""
        out = self.folded()
        with torch.no_grad():
            wm = warp_matrix(self.cfg.n_mels, factor).to(out.conv.weight)
            out.conv.weight.copy_(torch.einsum("gf,cgk->cfk", wm, out.conv.weight))
        return out


class DetectorEnsemble(nn.Module):
    """Several detectors of one configuration (e.g. trained by different recipes) as one: the
    posterior is the mean of theirs (`combine="mean"`), or their maximum (`combine="max"`, for the
    warped copies of one model, `warp_ensemble`). Where the members err on different sounds, the mean
    separates keywords from other speech better than each of them (measured on amelia: the docstring of
    scripts/train_detectors.py); it costs the members' size and most of their CPU.

    Streams like a `Detector`: one shared context (the members read the same frames) and the
    members' GRU states stacked on the layer axis, (members * L, B, H); `forward` gives the logit
    of the mean probability, so it drops in wherever a `Detector`'s logits are used.
    """

    def __init__(self, members: list[Detector], combine: str = "mean") -> None:
        super().__init__()
        if not members or any(m.cfg != members[0].cfg for m in members):
            raise ValueError("an ensemble needs one or more detectors of the same configuration")
        if combine not in ("mean", "max"):
            raise ValueError(f"combine must be 'mean' or 'max', got {combine!r}")
        self.combine = combine
        self.members = nn.ModuleList(members)
        self.cfg = members[0].cfg
        self.state_layers = len(members) * self.cfg.layers

    def initial_state(self, batch: int = 1, device: torch.device | str = "cpu") -> DetectorState:
        ctx, h = self.members[0].initial_state(batch, device)
        return ctx, h.repeat(len(self.members), 1, 1)

    def _logits(self, x: torch.Tensor, state: DetectorState) -> tuple[torch.Tensor, DetectorState]:
        ctx, h = state
        L = self.cfg.layers
        probs, hs, new_ctx = [], [], ctx
        for i, m in enumerate(self.members):
            logits, (new_ctx, hi) = m._logits(x, (ctx, h[i * L:(i + 1) * L]))
            probs.append(torch.sigmoid(logits))
            hs.append(hi)
        p = torch.stack(probs)
        p = torch.clamp(p.amax(0) if self.combine == "max" else p.mean(0), 1e-7, 1 - 1e-7)
        return torch.log(p) - torch.log1p(-p), (new_ctx, torch.cat(hs, dim=0))

    forward = Detector.forward
    step = Detector.step
    num_parameters = Detector.num_parameters

    def folded(self) -> "DetectorEnsemble":
        return DetectorEnsemble([m.folded() for m in self.members], self.combine)


def warp_ensemble(model: Detector, warps: list[float]) -> DetectorEnsemble:
    """Test-time vocal tract length normalisation: `model` hearing the input at each mel-axis warp
    factor (1.0: as it is), the posterior the maximum of theirs, so a voice outside the synthetic
    voices' range is heard at the warp that brings it nearest them. Costs one model per factor.

    `speechseq train detector --warps` exports one; what it does on real voices is in the README."""
    if not warps:
        raise ValueError("warp_ensemble needs at least one warp factor")
    for a in warps:
        if not WARP_RANGE[0] <= a <= WARP_RANGE[1]:
            raise ValueError(f"warp factors must lie in [{WARP_RANGE[0]:g}, {WARP_RANGE[1]:g}], got {a}")
    return DetectorEnsemble([model.warped(float(a)) for a in warps], combine="max")


class StepGraph(nn.Module):
    """The exported streaming graph (eval mode).

    inputs:  features (B, T, F) float32, T a multiple of the stride;
             context (B, K - S + N, F) float32; hidden (L, B, H) float32
    outputs: probs (B, T // S); context_out; hidden_out (same shapes as the inputs)
    """

    def __init__(self, model: Detector | DetectorEnsemble) -> None:
        super().__init__()
        self.model = model.folded()  # the input scaling folded into the conv (Detector.folded)
        self.eval()  # the exporter restores the wrapper's mode afterwards: it must be eval too

    def forward(self, features: torch.Tensor, context: torch.Tensor, hidden: torch.Tensor):
        logits, (ctx, h) = self.model._logits(features, (context, hidden))
        return torch.sigmoid(logits), ctx, h
