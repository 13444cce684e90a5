"""Domain-adversarial training (Ganin & Lempitsky's gradient reversal) of a detector: synthetic vs real speech.

A detector trained for a keyword hears the keyword only from synthetic voices, and real speech
only ever as something that is not the keyword. A small critic reads the detector's last GRU
outputs (averaged over time) on clips of synthetic speech and on clips of real speech, both mixed
over the same noise backgrounds by the same `Mixer` chain (room, microphone, level, noise floor,
SpecAugment), and learns to tell the two apart; its gradient reaches the detector reversed and
scaled, so the detector is pushed toward features by which synthetic and real speech look alike.

    domain = DomainData(bank, mix, stride, device)        # None-free: raises if the bank lacks either
    xd, yd, ends = domain.batch(rng, 16)                  # (32, T, F) features, (32,) 1 = synthetic
    critic = Critic(hidden)
    loss = bce(critic(reverse_gradient(h.mean(1), scale)), yd)       # "mean": the clip's average
    (or per output step, at the steps just after each clip ends: "end", where a keyword head decides)
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from .kwbank import dequantize, select_clips
from .kwmix import MixConfig, Mixer

__all__ = ["REAL_SPEECH", "NOISE", "reverse_gradient", "ramp", "Critic", "chop_role", "DomainData"]

REAL_SPEECH = ("kathleen", "fsdd", "precise-speech")  # background streams of real people talking
NOISE = ("noise-real", "white", "pink", "brown")      # background streams without speech


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, scale: float) -> torch.Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.scale * grad, None


def reverse_gradient(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Identity forwards; backwards the gradient times -scale."""
    return _Reverse.apply(x, float(scale))


def ramp(progress: float) -> float:
    """DANN's schedule of the reversal's strength over training (progress 0..1): 0 -> ~1, smoothly."""
    return 2.0 / (1.0 + math.exp(-10.0 * min(max(progress, 0.0), 1.0))) - 1.0


class Critic(torch.nn.Module):
    """(B, H) pooled detector features -> (B,) logit of "synthetic speech"."""

    def __init__(self, hidden: int, width: int = 64) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(hidden, width), torch.nn.ReLU(), torch.nn.Linear(width, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.net(h).squeeze(-1)


def _source_mask(bank: dict, role: str, sources: tuple[str, ...]) -> np.ndarray:
    names = bank["meta"]["roles"][role]["sources"]
    return np.array([names[i] in sources for i in bank[f"{role}/source"]], dtype=bool)


def chop_role(bank: dict, role: str, keep: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> dict:
    """The kept clips (streams) of `role` cut into consecutive pieces whose lengths (frames) are
    drawn from `lengths`, as a clip role: {"q", "offsets", "end", "power", "weight", "source"}.
    Power is the mean summed mel power of the frames within 30 dB of the piece's loudest (as
    `kwbank.clip_features` measures clips); pieces with no frame above the noise are dropped."""
    off = bank[f"{role}/offsets"]
    q_all = bank[f"{role}/q"]
    pieces, powers = [], []
    for i in np.flatnonzero(keep):
        a, b = int(off[i]), int(off[i + 1])
        while b - a >= int(lengths.min()):
            n = int(min(rng.choice(lengths), b - a))
            q = q_all[a: a + n]
            p = np.exp(dequantize(q).astype(np.float64)).sum(1)
            a += n
            if p.max() < 1e-3:  # digital silence or near it
                continue
            pieces.append(q)
            powers.append(float(p[p >= p.max() * 1e-3].mean()))
    if not pieces:
        raise ValueError(f"no {role} streams to cut into pieces")
    lens = np.array([len(p) for p in pieces], dtype=np.int64)
    return {"q": np.concatenate(pieces), "offsets": np.concatenate([[0], np.cumsum(lens)]).astype(np.int64),
            "end": lens, "power": np.array(powers), "weight": np.ones(len(pieces), np.float32),
            "source": np.zeros(len(pieces), np.int16)}


def _role_of(bank: dict, role: str, keep: np.ndarray | None = None) -> dict:
    """One role's clip arrays ({"q", "offsets", ...}), only the kept clips where `keep` is given."""
    if keep is not None:
        bank = select_clips(bank, role, keep)
    return {f: bank[f"{role}/{f}"] for f in ("q", "offsets", "end", "power", "weight", "source")}


def _as_bank(meta: dict, clips: dict, bg: dict) -> dict:
    out = {"meta": meta}
    for role, d in (("pos", clips), ("neg", clips), ("bg", bg)):
        out.update({f"{role}/{k}": v for k, v in d.items()})
    return out


class DomainData:
    """Batches of synthetic and real speech for the critic, mixed alike over noise backgrounds.

    Synthetic: the bank's training negatives (synthetic words, sound-alikes, sentences; never the
    keyword) no longer than `max_clip_s`. Real: the bank's training background streams of real
    speech (REAL_SPEECH; never the validation backgrounds), cut into pieces as long as synthetic
    clips are. Backgrounds: the bank's NOISE streams.
    """

    def __init__(self, bank: dict, mix: MixConfig, stride: int, device: str = "cpu", clip_s: float | None = None,
                 max_clip_s: float = 3.0, clips_per_example: tuple[int, int] = (2, 4), seed: int = 0) -> None:
        self.clips_per_example = clips_per_example
        noise = _source_mask(bank, "bg", NOISE)
        speech = _source_mask(bank, "bg", REAL_SPEECH)
        if not noise.any() or not speech.any():
            raise ValueError("domain-adversarial training needs real speech and noise among the backgrounds")
        syn = _role_of(bank, "neg")
        syn_len = np.diff(syn["offsets"])
        short = syn_len <= int(max_clip_s * 100)
        if not (short & (syn["weight"] > 0)).any():
            raise ValueError(f"domain-adversarial training needs training negatives of at most max_clip_s = "
                             f"{max_clip_s} s (weight > 0): all {len(syn_len)} are longer or weightless")
        syn["weight"] = np.where(short, syn["weight"], 0.0).astype(np.float32)
        real = chop_role(bank, "bg", speech, syn_len[short], np.random.default_rng(seed))
        bg = _role_of(bank, "bg", noise)
        cfg = mix if clip_s is None else replace(mix, clip_s=clip_s)  # as long as the training mixes
        meta = bank["meta"]
        self.synthetic = Mixer(_as_bank(meta, syn, bg), cfg, stride, device)
        self.real = Mixer(_as_bank(meta, real, bg), cfg, stride, device)
        self.device = torch.device(device)
        self.summary = {"synthetic_clips": int(short.sum()), "real_pieces": len(real["end"]),
                        "real_hours": round(float(real["end"].sum()) / 100 / 3600, 3)}

    def batch(self, rng: np.random.Generator, per_domain: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(2 per_domain, T, F) features, synthetic first; (2 per_domain,) labels, 1 synthetic, 0 real;
        and (2 per_domain, T // stride) marks of the output steps just after each clip ends (the
        mixer's keyword labels: where a keyword head decides)."""
        lo, hi = self.clips_per_example
        xs, ms = self.synthetic.batch(rng, per_domain, max_pos=hi, max_neg=0, min_pos=lo)
        xr, mr = self.real.batch(rng, per_domain, max_pos=hi, max_neg=0, min_pos=lo)
        y = torch.cat([torch.ones(per_domain), torch.zeros(per_domain)]).to(self.device)
        return torch.cat([xs, xr]), y, torch.cat([ms, mr])
