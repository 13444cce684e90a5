"""Data-parallel training of the recogniser over several processes (DDP), started by torchrun.

    torchrun --nproc-per-node 2 -m speechseq.train.ddp --manifest data/train.jsonl --out runs/r \\
        --device cpu            # gloo, one process per CPU share
    torchrun --nproc-per-node 4 -m speechseq.train.ddp ... --device cuda   # nccl, one GPU each

The options are those of `speechseq train recognizer`. Every rank computes the same batch list
for an epoch (a pure function of the seed and the epoch) and takes every world-th batch of it;
DistributedDataParallel averages the gradients, so each optimizer step sees world x the batch.
Rank 0 alone computes the feature cache (the others wait for it), validates, writes the
checkpoints and shows progress; it holds OUT while the run lasts, so that a second run into it
stops at once (speechseq.commands.runs.only_run). Rerunning the command resumes from OUT/last.pt
on every rank, each with its own random state (dropout, augmentation) kept there, with as many
processes as the run began with (another number is refused: each step's batch and the schedule's
steps would differ); a run of one process resumes as `speechseq train recognizer` too.
An error of the options or the data (rank 0's, or any rank's while setting up) stops every rank,
said once in one line; torchrun then adds its own report of the failed processes. A run that may
be undertrained is said so at its end, as by `speechseq train recognizer`, with the torchrun
command that trains it on.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from contextlib import ExitStack

import torch
import torch.distributed as dist

from ..errors import SpeechseqError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from ..cli import _show_warning
    from ..commands.train_recognizer import add_arguments

    parser = argparse.ArgumentParser(prog="python -m speechseq.train.ddp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    if "RANK" not in os.environ:
        print("start this module with torchrun (e.g. torchrun --nproc-per-node 2 -m speechseq.train.ddp ...)",
              file=sys.stderr)
        return 2
    warnings.showwarning = _show_warning  # a SpeechseqWarning is one line, as in the CLI
    cuda = args.device.startswith("cuda")
    local = int(os.environ.get("LOCAL_RANK", 0))
    dist.init_process_group("nccl" if cuda else "gloo")
    rank = dist.get_rank()
    try:
        with ExitStack() as held:  # rank 0's hold on OUT, for the whole run (speechseq.commands.runs.only_run)
            _train(args, rank, dist.get_world_size(), local, cuda, held)
    except _Stop as err:  # an error every rank knows of: said once
        if rank == 0:
            print(f"speechseq: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl+C, or torchrun stopping the others when one process failed
        if rank == 0:
            print("speechseq: interrupted", file=sys.stderr)
        return 130
    finally:
        dist.destroy_process_group()
    return 0


class _Stop(Exception):
    """An error of the options or the data, known to every rank (see _agree)."""


def _message(err: Exception) -> str:
    if isinstance(err, OSError) and not isinstance(err, SpeechseqError):
        where = f"{err.filename}: " if getattr(err, "filename", None) else ""
        return f"{where}{err.strerror or err}"
    return str(err)


def _agree(error: str | None) -> None:
    """Every rank learns whether any failed (a collective every rank joins, so that none waits for a rank that
    has stopped, nor fails on its closed connection with a traceback): _Stop with the first rank's error."""
    errors: list[str | None] = [None] * dist.get_world_size()
    dist.all_gather_object(errors, error)
    failed = [(k, e) for k, e in enumerate(errors) if e is not None]
    if failed:
        k, e = failed[0]
        raise _Stop(e if k == 0 else f"rank {k}: {e}")


def _enough_batches(train, opts, world: int) -> None:
    """An error when an epoch makes fewer batches than there are processes: every rank's equal share would be
    none, and each epoch would train nothing (validated and checkpointed all the same)."""
    from .recognizer import _plan

    _, batches = _plan(train, 0, opts, 0, 1, True)
    if len(batches) < world:
        raise SpeechseqError(f"an epoch makes {len(batches)} batch{'es' * (len(batches) != 1)} of --batch-seconds "
                             f"{opts.batch_seconds:g}, fewer than the {world} processes: each would train on "
                             f"nothing; give a smaller --batch-seconds (or start fewer processes)")


def _train(args: argparse.Namespace, rank: int, world: int, local: int, cuda: bool, held: ExitStack) -> None:
    """This rank's share of the run; rank 0 holds OUT in `held` first (another run into it: every rank stops)."""
    from ..commands.runs import held_out
    from ..commands.train_recognizer import _banks, setup
    from ..commands.undertrained import said_undertrained
    from .recognizer import same_world, train_recognizer

    device = f"cuda:{local}" if cuda else "cpu"
    if cuda:
        torch.cuda.set_device(local)
    error = None
    if rank == 0:  # the others wait at _agree
        try:
            # written to now (a full disk found now, not at the first checkpoint an epoch later); a run whose input
            # fails (_Stop, raised through `held`) leaves no OUT, nor a lock, behind
            held.enter_context(held_out(args.out))
            _banks(args)  # the feature cache, made once
        except Exception as err:  # noqa: BLE001 - any failure here must reach the ranks waiting at _agree
            error = _message(err) if isinstance(err, (SpeechseqError, OSError)) else f"{type(err).__name__}: {err}"
    _agree(error)
    error, kwargs = None, {}
    try:
        kwargs = setup(args, device, verbose=rank == 0, world=world)
        _enough_batches(kwargs["train"], kwargs["opts"], world)
        same_world(args.out, world)  # here, said once (train_recognizer's own check would stop each rank)
    except Exception as err:  # noqa: BLE001 - as above: no rank left waiting for one that failed
        error = _message(err) if isinstance(err, (SpeechseqError, OSError)) else f"{type(err).__name__}: {err}"
    _agree(error)

    def wrap(model: torch.nn.Module) -> torch.nn.Module:
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=[local] if cuda else None)

    history = train_recognizer(**kwargs, rank=rank, world=world, wrap=wrap, progress=rank == 0)
    dist.barrier()
    if rank == 0:  # as `speechseq train recognizer` says it, once, with the torchrun command that trains it on
        said_undertrained(args, history, _program(world, int(os.environ.get("LOCAL_WORLD_SIZE", world))))


def _program(world: int, local: int) -> list[str]:
    """The torchrun words that start a run of `world` processes, `local` a node (a resumed run needs as many)."""
    nodes = ["--nnodes", str(world // local)] if world != local else []
    return ["torchrun", *nodes, "--nproc-per-node", str(local), "-m", "speechseq.train.ddp"]


def _end(code: int) -> None:
    """End this rank with `code` once the exit handlers have run (a pool of batch workers stopped, streams flushed),
    but without tearing the interpreter down: gloo's worker threads outlive destroy_process_group (DDP keeps the
    process group), and one that still had to let go of a collective's work (a last gradient all-reduce, which
    holds Python objects) once the interpreter was going down aborted the rank ("terminate called without an
    active exception"), on a busy machine, after a run that had trained and kept its checkpoints."""
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    _end(main())
