"""Mixing manifests by weight, length-bucketed batches, and their split across DDP ranks.

Everything here is a pure function of its inputs and a seed, so every rank of a distributed
run computes the same batch list and takes its own share of it.
"""
from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from speechseq.errors import SpeechseqWarning
from speechseq.train.manifests import Utterance

__all__ = ["mix", "length_buckets", "DistributedBatches"]


def mix(sources: Sequence[tuple[Sequence[Utterance], float]], n: int, seed: int = 0) -> list[Utterance]:
    """`n` utterances drawn from several sources, each pick from source i with probability
    weight_i / sum(weights).

    Within a source, utterances are taken in a shuffled order and the order is reshuffled
    each time the source runs out, so a small source is repeated evenly (not at random)
    and a large one is sampled without repetition. Weight 0 leaves a source out.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    weights = np.array([w for _, w in sources], dtype=np.float64)
    if weights.size == 0 or np.any(weights < 0) or not np.isfinite(weights).all() or weights.sum() <= 0:
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {weights.tolist()}")
    for i, (utts, w) in enumerate(sources):
        if w > 0 and len(utts) == 0:
            raise ValueError(f"source {i} has weight {w} but no utterances")
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(sources), size=n, p=weights / weights.sum())
    orders: list[list[int]] = [[] for _ in sources]
    out = []
    for i in picks:
        if not orders[i]:
            orders[i] = rng.permutation(len(sources[i][0])).tolist()
        out.append(sources[i][0][orders[i].pop()])
    return out


def _durations(items: Sequence[Utterance | float]) -> np.ndarray:
    return np.array([u.duration if isinstance(u, Utterance) else float(u) for u in items],
                    dtype=np.float64)


def length_buckets(utterances: Sequence[Utterance | float], batch_seconds: float, *,
                   seed: int = 0, pool_size: int | None = None, max_batch_size: int | None = None,
                   shuffle: bool = True, drop_long: bool = False) -> list[list[int]]:
    """Batches of indices into `utterances` (Utterances or plain durations in seconds).

    Utterances are sorted by duration within pools of `pool_size` (None: one pool of all,
    the least padding; smaller pools give more varied batches from one seed to the next) and
    cut greedily into batches whose padded length, len(batch) * longest duration, is at most
    `batch_seconds` (so their total audio is too), with at most `max_batch_size` items. The
    batch order is shuffled with `seed` (use seed + epoch for a new order each epoch).

    An utterance longer than `batch_seconds` fits no batch: ValueError, or with
    `drop_long=True` a SpeechseqWarning and it is left out. Otherwise every index appears exactly once.
    Returns: list of batches, each a list of indices sorted by increasing duration.
    """
    if batch_seconds <= 0:
        raise ValueError(f"batch_seconds must be > 0, got {batch_seconds}")
    if max_batch_size is not None and max_batch_size < 1:
        raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
    if pool_size is not None and pool_size < 1:
        raise ValueError(f"pool_size must be >= 1 or None, got {pool_size}")
    durations = _durations(utterances)
    if not np.isfinite(durations).all():  # NaN is neither too long nor short enough: it would vanish
        bad = np.flatnonzero(~np.isfinite(durations))
        raise ValueError(f"durations must be finite: {bad.size} are not (first at index {int(bad[0])})")
    long = np.flatnonzero(durations > batch_seconds)
    if long.size:
        message = (f"{long.size} utterance(s) longer than batch_seconds={batch_seconds} "
                   f"(longest {durations[long].max():.2f} s)")
        if not drop_long:
            raise ValueError(message + ": raise batch_seconds or pass drop_long=True")
        warnings.warn(message + ": left out", SpeechseqWarning, stacklevel=2)
    rng = np.random.default_rng(seed)
    keep = np.flatnonzero(durations <= batch_seconds)
    order = rng.permutation(keep) if shuffle else keep  # random pools and tie order
    step = pool_size or max(len(order), 1)
    batches: list[list[int]] = []
    for start in range(0, len(order), step):
        pool = order[start:start + step]
        pool = pool[np.argsort(durations[pool], kind="stable")]
        batch: list[int] = []
        for i in pool.tolist():
            # sorted ascending, so the newcomer is the longest of the batch
            full = max_batch_size is not None and len(batch) >= max_batch_size
            if batch and (full or (len(batch) + 1) * durations[i] > batch_seconds):
                batches.append(batch)
                batch = []
            batch.append(i)
        if batch:
            batches.append(batch)
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


@dataclass(frozen=True)
class DistributedBatches:
    """One rank's share of a batch list, for DDP: rank r takes batches r, r + W, r + 2W, ...

    Every rank must build `batches` identically (same manifest, same seed) and must run the
    same number of steps, else the all-reduce waits forever: `drop_last=True` drops the last
    len(batches) % world_size batches, `drop_last=False` instead pads the tail by repeating
    batches from the start. Usable as a torch DataLoader `batch_sampler`.
    """

    batches: Sequence[Sequence[int]]
    rank: int = 0
    world_size: int = 1
    drop_last: bool = True

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={self.rank}, "
                             f"world_size={self.world_size}")

    def _mine(self) -> list[Sequence[int]]:
        total = len(self.batches)
        if self.drop_last:
            total -= total % self.world_size
        elif total % self.world_size and total:
            total += self.world_size - total % self.world_size
        return [self.batches[i % len(self.batches)] for i in range(self.rank, total, self.world_size)]

    def __len__(self) -> int:
        n, w = len(self.batches), self.world_size
        return n // w if self.drop_last else -(-n // w)

    def __iter__(self) -> Iterator[list[int]]:
        return (list(b) for b in self._mine())

    def __getitem__(self, i: int) -> list[int]:
        return list(self._mine()[i])
