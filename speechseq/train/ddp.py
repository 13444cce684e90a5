"""Data-parallel training of the recogniser over several processes (DDP), started by torchrun.

    torchrun --nproc-per-node 2 -m speechseq.train.ddp --manifest data/train.jsonl --out runs/r \\
        --device cpu            # gloo, one process per CPU share
    torchrun --nproc-per-node 4 -m speechseq.train.ddp ... --device cuda   # nccl, one GPU each

The options are those of `speechseq train recognizer`. Every rank computes the same batch list
for an epoch (a pure function of the seed and the epoch) and takes every world-th batch of it;
DistributedDataParallel averages the gradients, so each optimizer step sees world x the batch.
Rank 0 alone computes the feature cache (the others wait at a barrier), validates, writes the
checkpoints and shows progress. Rerunning the command resumes from OUT/last.pt on every rank.
"""
from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.distributed as dist

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from ..commands.train_recognizer import _banks, add_arguments, setup
    from .recognizer import train_recognizer

    parser = argparse.ArgumentParser(prog="python -m speechseq.train.ddp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        print("start this module with torchrun (e.g. torchrun --nproc-per-node 2 -m speechseq.train.ddp ...)",
              file=sys.stderr)
        return 2
    cuda = args.device.startswith("cuda")
    local = int(os.environ.get("LOCAL_RANK", 0))
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = f"cuda:{local}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(local)
    try:
        if rank == 0:
            _banks(args)  # the feature cache, made once
        dist.barrier()
        kwargs = setup(args, device, verbose=rank == 0)

        def wrap(model: torch.nn.Module) -> torch.nn.Module:
            return torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None)

        train_recognizer(**kwargs, rank=rank, world=world, wrap=wrap, progress=rank == 0)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
