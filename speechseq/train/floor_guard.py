"""The runtime's floor guard (`speechseq.runtime.level.FloorGuard`) on batches of training features, in torch,
so that a detector trains on the frames the runtime detector will give it.

Each row of a batch is a stream from its start: the guard's state starts quiet, as a fresh runtime stream's
does. The runtime leaves a frame as it is where the raised floor would change it by under 1e-4 (in log);
here every frame is raised, so the two differ by at most that.
"""
from __future__ import annotations

import torch

from ..runtime.level import FloorGuard

__all__ = ["guard_features"]


def guard_features(x: torch.Tensor, floor: float, range_db: float) -> torch.Tensor:
    """x (B, T, F) log-mel (frontend floor `floor`) -> the frames the runtime's FloorGuard(floor, range_db) gives."""
    g = FloorGuard(floor, range_db)
    loudest = x.amax(dim=-1).double()                                                   # (B, T)
    n = g.fall * torch.arange(1, x.shape[1] + 1, dtype=torch.float64, device=x.device)  # the release per frame
    held = torch.cummax(torch.clamp(loudest + n, min=g.quiet), dim=1).values - n        # log P per frame
    extra = torch.clamp(torch.exp(held + g.log_k) - g.floor, min=0.0).to(x.dtype)
    if not bool((extra > 0).any()):
        return x
    return torch.log(torch.exp(x) + extra[..., None])
