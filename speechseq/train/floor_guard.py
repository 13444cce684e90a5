"""The runtime's floor guard (`speechseq.runtime.level.FloorGuard`) on batches of training features, in torch,
so that a detector trains on the frames the runtime detector will give it.

Each row of a batch is a stream from its start: the guard's state starts quiet, as a fresh runtime stream's
does. The runtime leaves a frame as it is where the raised floor would change it by under 1e-4 (in log);
here every frame is raised, so the two differ by at most that. The guard's release is per second: `hop_s`, the
seconds a frame hops, is the frontend's (hop_length / sample_rate), as the runtime detector gives its guard; the
default is the feature banks' frontend (speechseq.train.kwbank: FrontendConfig's 10 ms).
"""
from __future__ import annotations

import torch

from ..frontend import FrontendConfig
from ..runtime.level import FloorGuard

__all__ = ["BANK_HOP_S", "guard_extra", "guard_features"]

BANK_HOP_S = FrontendConfig().hop_length / FrontendConfig().sample_rate  # the feature banks' frames: 10 ms


def guard_extra(loudest: torch.Tensor, floor: float, range_db: float, hop_s: float = BANK_HOP_S) -> torch.Tensor:
    """loudest (B, T): each frame's loudest band, log-mel (frontend floor `floor`, frames `hop_s` apart) -> (B, T)
    float32, the mel power the guard adds to every band of the frame (0 where it leaves the frame as it is)."""
    g = FloorGuard(floor, range_db, hop_s=hop_s)
    n = g.fall * torch.arange(1, loudest.shape[1] + 1, dtype=torch.float64, device=loudest.device)  # the release
    held = torch.cummax(torch.clamp(loudest.double() + n, min=g.quiet), dim=1).values - n           # log P per frame
    return torch.clamp(torch.exp(held + g.log_k) - g.floor, min=0.0).float()


def guard_features(x: torch.Tensor, floor: float, range_db: float, hop_s: float = BANK_HOP_S) -> torch.Tensor:
    """x (B, T, F) log-mel (frontend floor `floor`, frames `hop_s` apart) -> the frames the runtime's
    FloorGuard(floor, range_db, hop_s=hop_s) gives."""
    extra = guard_extra(x.amax(dim=-1), floor, range_db, hop_s).to(x.dtype)
    if not bool((extra > 0).any()):
        return x
    return torch.log(torch.exp(x) + extra[..., None])
