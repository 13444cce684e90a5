"""Training the CTC recogniser: batches from feature banks, augmentation, CTC loss, validation
WER/CER, and the glue to the shared training loop (speechseq.train.loop).

    train = FeatureBank.concat([featurize(load_manifest(m, split="train"), FRONTEND, "kathleen"), ...])
    history = train_recognizer(train, val, out_dir, RecognizerConfig(), LoopConfig(epochs=30))

Batches are length-bucketed (speechseq.train.data.length_buckets) within a padded-seconds
budget, so short digit clips and long sentences each fill a batch; the batch list is a pure
function of the epoch, so a resumed run and every DDP rank see the same batches.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..checks import finite, refuse, whole
from ..frontend import FrontendConfig
from ..nn.recognizer import Recognizer, RecognizerConfig, build_recognizer
from ..text import encode
from .featbank import FeatureBank
from .feataug import AugmentConfig, augment_batch, slowest_frames, speed_warp
from .pools import quiet_worker

__all__ = ["FRONTEND", "Batch", "TrainOptions", "padded_seconds", "make_batches", "augment_generator", "ctc_loss_fn",
           "make_validate", "recognizer_from_checkpoint", "recognize_bank", "feature_stats", "train_recognizer",
           "load_recognizer_checkpoint", "KIND"]

KIND = "recognizer"
FRONTEND = FrontendConfig(n_mels=80)


class Batch(NamedTuple):
    """features (B, T, F) float32, lengths (B,), targets (sum S_i,) int, target_lengths (B,)."""

    features: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor
    target_lengths: torch.Tensor


@dataclass(frozen=True)
class TrainOptions:
    batch_seconds: float = 160.0            # padded audio per batch
    max_batch_size: int = 128
    repeats: dict = field(default_factory=dict)  # source -> times per epoch (default 1; fractions sample)
    augment: AugmentConfig = AugmentConfig()
    seed: int = 0
    workers: int = 0                        # processes making batches (0: in the training process)

    def __post_init__(self) -> None:   # each was taken, then failed (or sampled nothing) once batches were made
        refuse("training options", [
            ("batch_seconds", self.batch_seconds, finite(self.batch_seconds) and self.batch_seconds > 0,
             "a finite number of seconds > 0"),
            ("max_batch_size", self.max_batch_size, whole(self.max_batch_size), "a whole number >= 1"),
            ("repeats", self.repeats, isinstance(self.repeats, dict) and all(
                finite(v) and v >= 0 for v in self.repeats.values()), "source -> a finite number >= 0"),
            ("workers", self.workers, whole(self.workers, 0), "a whole number >= 0")])


def feature_stats(bank: FeatureBank, max_frames: int = 2_000_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation of a bank's frames (a random sample), (F,) each."""
    rng = np.random.default_rng(seed)
    n = len(bank.frames)
    idx = rng.choice(n, size=min(n, max_frames), replace=False) if n > max_frames else slice(None)
    x = bank.frames[idx].astype(np.float32) * 0.25 - 14.0
    return x.mean(axis=0), x.std(axis=0)


def _epoch_items(bank: FeatureBank, opts: TrainOptions, rng: np.random.Generator) -> np.ndarray:
    """Item indices of one epoch: each source repeated opts.repeats[source] times."""
    sources = np.array(bank.sources)
    out = []
    for src in dict.fromkeys(bank.sources):
        idx = np.flatnonzero(sources == src)
        r = float(opts.repeats.get(src, 1.0))
        whole, frac = int(r), r - int(r)
        out += [idx] * whole
        if frac > 0:
            out.append(rng.choice(idx, size=int(round(frac * len(idx))), replace=False))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def padded_seconds(bank: FeatureBank, opts: TrainOptions, augment: bool = True) -> np.ndarray:
    """(n,) seconds each item of `bank` takes in a batch of opts.batch_seconds: its length or, when
    augmenting, the most frames the speed augmentation makes of it (at its slowest factor, rounding
    included: an upper bound, reached), so that no batch goes over the budget."""
    fps = FrontendConfig(**bank.frontend).frame_rate
    return (slowest_frames(bank.lengths, opts.augment) if augment else bank.lengths) / fps


def _plan(bank: FeatureBank, epoch: int, opts: TrainOptions, rank: int, world: int,
          augment: bool) -> tuple[np.ndarray, list[list[int]]]:
    """Items of the epoch and this rank's batches of them (indices into the items)."""
    from .batching import length_buckets

    items = _epoch_items(bank, opts, np.random.default_rng([opts.seed, epoch]))
    seconds = padded_seconds(bank, opts, augment)[items]
    fits = seconds <= opts.batch_seconds  # the others are left out (train_recognizer warns once)
    items, seconds = items[fits], seconds[fits]
    batches = length_buckets(seconds.tolist(), opts.batch_seconds, seed=opts.seed * 1000 + epoch,
                             pool_size=4096, max_batch_size=opts.max_batch_size)
    if world > 1:  # equal shares so every rank runs the same number of steps
        batches = batches[: len(batches) - len(batches) % world][rank::world]
    return items, batches


def epoch_steps(bank: FeatureBank, opts: TrainOptions, rank: int = 0, world: int = 1) -> int:
    """The optimizer steps of one epoch (its first; the others differ by a batch or so, as length buckets fall)."""
    return len(_plan(bank, 0, opts, rank, world, True)[1])


def _make_one(bank: FeatureBank, opts: TrainOptions, augment: bool, seed: list[int], chosen: np.ndarray) -> tuple:
    """One batch as numpy arrays (what a worker process sends back)."""
    rng = np.random.default_rng(seed)
    floor = FrontendConfig(**bank.frontend).floor
    feats = [speed_warp(bank[int(i)], opts.augment, rng, floor=floor) if augment else bank[int(i)] for i in chosen]
    return _collate_np(feats, [bank.texts[int(i)] for i in chosen])


_POOL: dict = {}


def _pool_job(job: tuple) -> tuple:
    bank, opts, augment = _POOL["state"]
    return _make_one(bank, opts, augment, *job)


def make_batches(bank: FeatureBank, epoch: int, opts: TrainOptions, rank: int = 0, world: int = 1,
                 augment: bool = True, workers: int = 0) -> Iterator[Batch]:
    """The batches of `epoch` (this rank's share of them), CPU-side augmentation applied.

    workers > 0 makes them in that many forked processes (kept for later epochs), in order; the
    result is the same either way (each batch has its own seed).
    """
    items, batches = _plan(bank, epoch, opts, rank, world, augment)
    jobs = [([opts.seed, epoch, rank, k], items[b]) for k, b in enumerate(batches)]
    if workers <= 0:
        for job in jobs:
            yield Batch(*map(torch.from_numpy, _make_one(bank, opts, augment, *job)))
        return
    import multiprocessing

    key = (id(bank), id(opts), augment, workers)
    if _POOL.get("key") != key:
        if "pool" in _POOL:
            _POOL["pool"].terminate()
        _POOL.update(state=(bank, opts, augment), key=key)
        _POOL["pool"] = multiprocessing.get_context("fork").Pool(workers, initializer=quiet_worker)
    for arrays in _POOL["pool"].imap(_pool_job, jobs, chunksize=2):
        yield Batch(*map(torch.from_numpy, arrays))


def _collate_np(feats: Sequence[np.ndarray], texts: Sequence[str]) -> tuple[np.ndarray, ...]:
    lengths = np.array([len(f) for f in feats], dtype=np.int64)
    x = np.full((len(feats), int(lengths.max()), feats[0].shape[1]), math.log(1e-6), dtype=np.float32)
    for k, f in enumerate(feats):
        x[k, : len(f)] = f
    ids = [encode(t) for t in texts]
    return (x, lengths, np.array([c for s in ids for c in s], dtype=np.int64),
            np.array([len(s) for s in ids], dtype=np.int64))


def collate(feats: Sequence[np.ndarray], texts: Sequence[str]) -> Batch:
    """Pad (T_i, F) features with the log floor and concatenate the encoded texts."""
    return Batch(*map(torch.from_numpy, _collate_np(feats, texts)))


def augment_generator(opts: TrainOptions, device: str = "cpu", rank: int = 0) -> torch.Generator:
    """The batch augmentation's random generator, seeded for `rank` (train_loop keeps its state in last.pt)."""
    return torch.Generator(device=device).manual_seed(opts.seed * 7919 + rank)


def ctc_loss_fn(opts: TrainOptions, noise: torch.Tensor | None = None, device: str = "cpu", rank: int = 0,
                floor: float = FRONTEND.floor, generator: torch.Generator | None = None,
                ) -> Callable[[torch.nn.Module, Batch], tuple[torch.Tensor, dict]]:
    """loss_fn(model, batch) for train_loop: batch augmentation (on `device`), then the mean CTC
    loss (per target symbol, averaged over the batch). floor: the features' frontend floor (the bank's
    FrontendConfig.floor); generator: the augmentation's (None: augment_generator(opts, device, rank))."""
    g = generator if generator is not None else augment_generator(opts, device, rank)
    noise_dev = None if noise is None else noise.to(device)

    def loss_fn(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, dict]:
        core = model.module if hasattr(model, "module") else model
        x, lengths = batch.features.to(device, non_blocking=True), batch.lengths.to(device)
        x = augment_batch(x, lengths, opts.augment, g, noise_dev, core.feat_mean, floor=floor)
        log_probs, out_lengths = model(x, lengths)
        loss = torch.nn.functional.ctc_loss(log_probs.transpose(0, 1), batch.targets.to(device), out_lengths,
                                            batch.target_lengths.to(device), blank=0, reduction="mean",
                                            zero_infinity=True)
        return loss, {}

    return loss_fn


@torch.no_grad()
def recognize_bank(model: Recognizer, bank: FeatureBank, device: str = "cpu",
                   batch_seconds: float = 600.0) -> list[str]:
    """Greedy transcripts of every item of `bank`, in order."""
    from ..runtime.decoding import greedy
    from .data import length_buckets

    model.eval()
    fps = FrontendConfig(**bank.frontend).frame_rate
    hyps: list[str] = [""] * len(bank)
    for batch in length_buckets((bank.lengths / fps).tolist(), batch_seconds, shuffle=False, drop_long=True):
        feats = [bank[i] for i in batch]
        b = collate(feats, [""] * len(feats))
        lp, n = model(b.features.to(device), b.lengths.to(device))
        lp, n = lp.float().cpu().numpy(), n.cpu().numpy()
        for k, i in enumerate(batch):
            hyps[i] = greedy(lp[k, : n[k]]).text
    return hyps


def make_validate(banks: dict[str, FeatureBank], device: str = "cpu") -> Callable[[torch.nn.Module], dict]:
    """validate(model) -> {"val_wer", "val_cer", "<name>_wer" ...}; WER/CER in percent, pooled
    over every bank for val_wer/val_cer."""
    from ..metrics import cer, wer

    def validate(model: torch.nn.Module) -> dict[str, float]:
        core = model.module if hasattr(model, "module") else model
        out, refs, hyps = {}, [], []
        for name, bank in banks.items():
            h = recognize_bank(core, bank, device)
            out[f"{name}_wer"] = 100 * wer(bank.texts, h).rate
            refs += bank.texts
            hyps += h
        out["val_wer"] = 100 * wer(refs, hyps).rate
        out["val_cer"] = 100 * cer(refs, hyps).rate
        return out

    return validate


def calibrate(train: FeatureBank, val: dict[str, FeatureBank], model_cfg: RecognizerConfig, opts: TrainOptions,
              device: str, noise: np.ndarray | None = None, steps: int = 12) -> float:
    """Estimated seconds per epoch (training steps plus validation), from a few timed steps of
    a throwaway model, for fitting the number of epochs to a time budget."""
    import time

    model = Recognizer(model_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    loss_fn = ctc_loss_fn(opts, None if noise is None else torch.as_tensor(noise), device,
                          floor=FrontendConfig(**train.frontend).floor)
    batches = list(make_batches(train, 0, opts, workers=opts.workers))
    order = np.argsort([-int(b.lengths.max()) for b in batches])  # the longest first: cuDNN plans, memory
    sample = [batches[i] for i in order[:3]] + [batches[i] for i in np.random.default_rng(0).permutation(len(batches))[:steps]]

    def run(bs: list[Batch]) -> None:
        for b in bs:
            loss, _ = loss_fn(model, b)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    run(sample[:3])
    t0 = time.time()
    make = list(make_batches(train, 1, opts, workers=opts.workers))  # CPU-side batch making, timed with the steps
    t_make = time.time() - t0
    t0 = time.time()
    run(sample[3:])
    t_step = (time.time() - t0) / max(1, len(sample) - 3)
    t0 = time.time()
    if val:
        make_validate(val, device)(model)
    t_val = time.time() - t0
    return t_make + t_step * len(make) + t_val


def train_recognizer(train: FeatureBank, val: dict[str, FeatureBank], out_dir: str | os.PathLike,
                     model_cfg: RecognizerConfig, loop_cfg, opts: TrainOptions = TrainOptions(),
                     noise: np.ndarray | None = None, rank: int = 0, world: int = 1,
                     wrap: Callable[[torch.nn.Module], torch.nn.Module] | None = None,
                     progress: bool = True, extra: dict | None = None, init: dict | None = None) -> list[dict]:
    """Train (or resume) a recogniser in out_dir; best.pt is chosen by pooled validation WER.

    noise: (N, F) log-mel of noise recordings for augmentation. wrap: e.g. DistributedDataParallel.
    init: a state dict to start from (fine-tuning) instead of random weights. From random weights, the weight
    average's decay (loop_cfg.ema_decay) is at most 1 - 5 / (the run's steps) (0.95 at least), so that the
    average validated and kept in best.pt holds e ** -5 of the random start at the end, however short the run.
    """
    import warnings

    from ..errors import SpeechseqWarning
    from .loop import train_loop

    if not len(train):
        raise ValueError("no training utterance: the training bank is empty")
    seconds = padded_seconds(train, opts)
    long = seconds > opts.batch_seconds
    if long.all():  # else every epoch would train on nothing and validation would still pick a "best"
        raise ValueError(f"no training batch: every utterance is longer than batch_seconds={opts.batch_seconds:g} "
                         f"(the shortest {seconds.min():.2f} s)")
    if long.any() and rank == 0:
        warnings.warn(f"{long.sum()} of {len(train)} training utterances longer than batch_seconds="
                      f"{opts.batch_seconds:g} (the longest {seconds.max():.2f} s) are left out", SpeechseqWarning,
                      stacklevel=2)
    same_world(out_dir, world)
    if init is None and loop_cfg.ema_decay:
        # The average starts at the random weights: at 0.999, a run of 1,000 steps (about 30 epochs of the Kathleen
        # train split) would validate and export 37 % of them. Leave e ** -5 of them by the end (as a detector's
        # fine-tune does of the weights it starts from)
        from .detector_checkpoints import finetune_ema_decay

        steps = loop_cfg.epochs * epoch_steps(train, opts, rank, world)
        loop_cfg = replace(loop_cfg, ema_decay=min(loop_cfg.ema_decay, finetune_ema_decay(steps)))
    torch.manual_seed(loop_cfg.seed)
    model = Recognizer(model_cfg)
    mean, std = feature_stats(train)
    model.set_normalization(torch.from_numpy(mean), torch.from_numpy(std))
    if init is not None:
        model.load_state_dict({k.removeprefix("module."): v for k, v in init.items()})
    model.to(loop_cfg.device)
    net = wrap(model) if wrap is not None else model
    noise_t = None if noise is None else torch.as_tensor(noise, dtype=torch.float32)
    # Every rank's augmentation generator goes into last.pt with the loop's random state (rank 0 gathers them), and
    # each resumes with its own
    g = augment_generator(opts, loop_cfg.device, rank)
    info = {"frontend": train.frontend, "train_hours": round(train.hours, 3),
            "train_sources": {s: train.sources.count(s) for s in dict.fromkeys(train.sources)},
            "augment": asdict(opts.augment), "batch_seconds": opts.batch_seconds, "repeats": dict(opts.repeats),
            "world": world, **(extra or {})}  # what a rerun must repeat to resume the run (with loop_config's lr, seed)
    return train_loop(net, lambda epoch: make_batches(train, epoch, opts, rank, world, workers=opts.workers),
                      ctc_loss_fn(opts, noise_t, loop_cfg.device, rank, FrontendConfig(**train.frontend).floor, g),
                      make_validate(val, loop_cfg.device) if val else None, out_dir, KIND, model_cfg.to_dict(),
                      loop_cfg, select="val_wer" if val else "loss", mode="min", extra=info,
                      progress=progress, is_main=rank == 0, generators={"augment": g}, rank=rank,
                      world=world)


def same_world(out_dir: str | os.PathLike, world: int) -> None:
    """SpeechseqError unless OUT/last.pt, where there is one, was trained by `world` processes (none recorded: not
    checked): each step takes the batches of every process at once, and last.pt counts the steps of one, by which
    the learning-rate schedule runs, so another number trained the later epochs by other batches and schedule. A
    last.pt that cannot be read is left to the loop (the commands have said so by then)."""
    from ..errors import SpeechseqError

    last = Path(out_dir) / "last.pt"
    try:
        was = (torch.load(last, map_location="cpu", weights_only=False).get("extra") or {}).get("world", world)
    except Exception:  # noqa: BLE001 - none, or one torch cannot read
        return
    if was != world:
        how = (f"by {was} processes (torchrun --nproc-per-node {was}), not {world}: resume it with {was}" if was != 1
               else f"in one process, not {world}: resume it in one (speechseq train recognizer)")
        raise SpeechseqError(f"{last} was trained {how}, use a new --out, or delete {out_dir} to start over")


def recognizer_from_checkpoint(ck: dict, name: str = "checkpoint") -> Recognizer:
    """The model of a loaded recogniser checkpoint dict, in eval mode."""
    if ck.get("kind") != KIND:
        raise ValueError(f"{name}: a {ck.get('kind')!r} checkpoint, not a recognizer")
    model = build_recognizer(ck["model_config"])
    state = {k.removeprefix("module."): v for k, v in ck["model"].items()}
    model.load_state_dict(state)
    return model.eval()


def load_recognizer_checkpoint(path: str | os.PathLike) -> tuple[Recognizer, dict]:
    """The model of a recogniser checkpoint (EMA weights in best.pt), in eval mode, and the checkpoint."""
    ck = torch.load(path, map_location="cpu", weights_only=False)
    return recognizer_from_checkpoint(ck, str(path)), ck
