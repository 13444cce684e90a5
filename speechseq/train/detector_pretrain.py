"""Pretraining a detector's conv + GRU layers as a small streaming character recogniser (CTC).

Transfer learning, as the course does it for small data sets: the keyword training sees a few
thousand synthetic utterances of one word, from a few dozen voices, and learns whatever separates
them from everything else -- including the synthesis itself. A backbone first trained to spell
out sentences (real read speech and synthetic voices alike, e.g. Kathleen `train` and the
synthetic sentences) has to represent what is said rather than who or what said it; the keyword
training then starts from those weights (`TrainRecipe.init`).

The network is the detector itself (`speechseq.nn.detector.Detector`, unidirectional and causal:
what it learns here streams as before) with a linear CTC head over the recogniser's characters on
its last GRU layer, in place of the sigmoid. Only conv, batch norm and GRU weights carry over.

    clips: [(log-mel (T, F) float, normalised text, sampling weight), ...]
    pretrain_detector(clips, out_dir, DetectorConfig(...), PretrainRecipe(...))  -> out_dir/best.pt
    init_from_pretrained(Detector(cfg), out_dir / "best.pt")

Measured on real "amelia" (session 17, scripts/train_detectors.py's "natural-pre" variants): the
real clips are found earlier in training, but sound-alike synthetic speech fires more, and at equal
synthetic false accepts the real misses were no lower than without pretraining (17.9-33.2 % against
14.3-19.3 % at 0.5 FA/h). Kept as a tool; the shipped detectors do not use it.
"""
from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..checks import finite, fraction, refuse, whole
from ..metrics import cer
from ..nn.detector import Detector, DetectorConfig
from ..runtime.decoding import greedy
from ..text import BLANK, CTC_SIZE, encode
from .batching import length_buckets
from .feataug import AugmentConfig, augment_batch, slowest_frames, speed_warp
from .loop import LoopConfig, load_checkpoint, train_loop
from .recognizer import Batch, collate

__all__ = ["KIND", "PretrainRecipe", "CTCPretrainNet", "pretrain_detector", "init_from_pretrained", "ctc_fits"]

KIND = "detector-pretrain"
# the weights a keyword detector takes over; its output layer is the keyword's own
CARRIED = ("conv.", "norm.", "gru.")
# DetectorConfig fields that must agree between the pretrained backbone and the detector
SHAPE_FIELDS = ("n_mels", "conv_channels", "kernel", "stride", "hidden", "layers", "norm_frames", "lifter",
                "feat_shift", "feat_scale", "floor")


def _detector_augment() -> AugmentConfig:
    # 40 bands: the band limit's cut-off scaled from the recogniser's 80 (about 2.3-6.6 kHz)
    return AugmentConfig(band_cut=(22, 37), freq_width=6)


@dataclass(frozen=True)
class PretrainRecipe:
    epochs: int = 30
    clips_per_epoch: int = 0          # clips drawn (by weight, with replacement) an epoch; 0: as many as there are
    batch_frames: int = 8000          # feature frames per batch (80 s of audio), padding included
    lr: float = 2e-3
    weight_decay: float = 1e-4
    ema_decay: float = 0.999
    val_share: float = 0.05           # of the clips, by position after a seeded shuffle
    seed: int = 0
    augment: AugmentConfig = field(default_factory=_detector_augment)

    def __post_init__(self) -> None:
        refuse("pretraining recipe", [
            ("epochs", self.epochs, whole(self.epochs), "a whole number >= 1"),
            ("clips_per_epoch", self.clips_per_epoch, whole(self.clips_per_epoch, 0), "a whole number >= 0"),
            ("batch_frames", self.batch_frames, whole(self.batch_frames), "a whole number >= 1"),
            ("lr", self.lr, finite(self.lr) and self.lr > 0, "a finite number > 0"),
            ("weight_decay", self.weight_decay, finite(self.weight_decay) and self.weight_decay >= 0,
             "a finite number >= 0"),
            ("ema_decay", self.ema_decay, fraction(self.ema_decay, below_one=True), "in [0, 1)"),
            ("val_share", self.val_share, fraction(self.val_share, below_one=True), "in [0, 1)")])

    def to_dict(self) -> dict:
        return asdict(self)


class CTCPretrainNet(nn.Module):
    """A detector's backbone with a CTC head: log-mel (B, T, F) -> log-probs (B, T // S, CTC_SIZE)."""

    def __init__(self, cfg: DetectorConfig) -> None:
        super().__init__()
        self.detector = Detector(cfg)
        self.head = nn.Linear(cfg.hidden, CTC_SIZE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.detector.encode(x)
        return torch.log_softmax(self.head(self.detector.drop(y)), dim=-1)


def ctc_fits(frames: int, labels: Sequence[int], stride: int) -> bool:
    """Whether CTC can align `labels` to the T // S outputs of `frames` (repeats need a blank between)."""
    repeats = sum(1 for a, b in zip(labels, labels[1:]) if a == b)
    return len(labels) > 0 and frames // stride >= len(labels) + repeats


def pretrain_detector(clips: Sequence[tuple[np.ndarray, str, float]], out_dir: str | os.PathLike,
                      model_cfg: DetectorConfig = DetectorConfig(), recipe: PretrainRecipe = PretrainRecipe(),
                      noise: np.ndarray | None = None, device: str = "cpu", progress: bool = True) -> list[dict]:
    """Train (or resume) the CTC backbone in out_dir (last.pt, best.pt by validation CER, history.json,
    curve.png). clips: (log-mel (T, F), normalised text, weight); a clip whose text does not fit its
    output steps is left out. noise: (N, F) log-mel of noise for the augmentation (None: no noise)."""
    stride = model_cfg.stride
    kept = [(np.asarray(f, np.float32), t, float(w)) for f, t, w in clips if ctc_fits(len(f), encode(t), stride)]
    if len(kept) < 2:
        raise ValueError(f"{len(kept)} of {len(clips)} clips fit CTC at stride {stride}: nothing to pretrain on")
    perm = np.random.default_rng(recipe.seed).permutation(len(kept))
    n_val = min(max(1, int(round(recipe.val_share * len(kept)))), len(kept) - 1)  # at least one of each
    val = [kept[i] for i in perm[:n_val]]
    train = [kept[i] for i in perm[n_val:]]
    seconds = np.array([len(f) / 100 for f, _, _ in train])
    # the batch budget counts each clip at the most frames the speed augmentation makes of it (padding included)
    budget_s = slowest_frames(np.array([len(f) for f, _, _ in train]), recipe.augment) / 100
    p = np.array([w for _, _, w in train], dtype=np.float64)
    if not (np.isfinite(p).all() and (p >= 0).all() and p.sum() > 0):
        raise ValueError(f"clip weights must be finite, >= 0 and not all 0 among the {len(train)} training clips")
    p = p / p.sum()
    noise_t = None if noise is None else torch.as_tensor(np.asarray(noise, np.float32))
    # SpecAugment's masks take the per-band training mean (feataug), not 0 (a loud block in log-mel)
    fill = torch.as_tensor(sum(f.sum(0, dtype=np.float64) for f, _, _ in train) / sum(len(f) for f, _, _ in train),
                           dtype=torch.float32)
    torch.manual_seed(recipe.seed)
    model = CTCPretrainNet(model_cfg)
    dev = torch.device(device)

    def plan(epoch: int) -> tuple[np.random.Generator, list[np.ndarray]]:
        rng = np.random.default_rng([recipe.seed, epoch])
        order = rng.choice(len(train), size=recipe.clips_per_epoch or len(train), p=p)  # weighted, with replacement
        batch_s = recipe.batch_frames / 100
        pool = max(1, int(64 * batch_s / np.median(seconds)))  # 64 batches' worth sorted by length at a time
        buckets = length_buckets(budget_s[order], batch_s, seed=int(rng.integers(2**31)), pool_size=pool,
                                 drop_long=True)
        return rng, [order[b] for b in buckets]

    n_steps = len(plan(0)[1])
    if n_steps == 0:
        raise ValueError(f"no training clip fits a batch of batch_frames={recipe.batch_frames} (speed augmentation "
                         f"included): nothing to pretrain on")

    # The detector's runtime floor (DetectorConfig.floor, 1e-6), not its features' frontend's (1e-5): the detectors
    # train toward the floor they run at (kwbank's note on floors), as they always have.
    floor = model_cfg.floor

    def batches(epoch: int):
        rng, plan_ = plan(epoch)
        g = torch.Generator().manual_seed(int(rng.integers(2**31)))
        for idx in plan_:
            feats = [speed_warp(train[i][0], recipe.augment, rng, floor=floor) for i in idx]
            ok = [k for k, i in enumerate(idx) if ctc_fits(len(feats[k]), encode(train[i][1]), stride)]
            if not ok:
                continue
            b = collate([feats[k] for k in ok], [train[idx[k]][1] for k in ok])
            x = augment_batch(b.features, b.lengths, recipe.augment, g, noise_t, fill, floor=floor)
            yield b._replace(features=x)

    def loss_fn(m: torch.nn.Module, b: Batch) -> tuple[torch.Tensor, dict]:
        lp = m(b.features.to(dev))  # (B, U, V)
        out_lens = torch.clamp(b.lengths // stride, max=lp.shape[1])
        loss = nn.functional.ctc_loss(lp.transpose(0, 1), b.targets.to(dev), out_lens, b.target_lengths, blank=BLANK,
                                      reduction="mean", zero_infinity=True)
        return loss, {}

    def validate(m: torch.nn.Module) -> dict[str, float]:
        refs, hyps = [], []
        for s in range(0, len(val), 32):
            part = val[s: s + 32]
            b = collate([f for f, _, _ in part], [t for _, t, _ in part])
            lp = m(b.features.to(dev)).cpu().numpy()
            for row, n, (_, text, _) in zip(lp, (b.lengths // stride).tolist(), part):
                refs.append(text)
                hyps.append(greedy(row[:n]).text)
        return {"val_cer": cer(refs, hyps).rate}

    data_id = _clips_digest(kept)
    _check_resume(Path(out_dir), model_cfg, data_id, recipe)
    loop = LoopConfig(epochs=recipe.epochs, lr=recipe.lr, weight_decay=recipe.weight_decay, ema_decay=recipe.ema_decay,
                      seed=recipe.seed, device=device, warmup_steps=100, steps_per_epoch=n_steps)
    extra = {"recipe": recipe.to_dict(), "data": data_id, "clips": {"train": len(train), "val": len(val), "left_out": len(clips) - len(kept),
                                                   "train_hours": round(float(seconds.sum()) / 3600, 3)}}
    return train_loop(model, batches, loss_fn, validate, out_dir, KIND, model_cfg.to_dict(), loop, select="val_cer",
                      mode="min", extra=extra, progress=progress)


def _clips_digest(clips: Sequence[tuple[np.ndarray, str, float]]) -> str:
    """A fingerprint of the clips (features, texts, weights, in order) a run trains on."""
    h = hashlib.sha1()
    for f, t, w in clips:
        h.update(f"{f.shape}|{t}|{w!r}\n".encode())
        h.update(np.ascontiguousarray(f[:: max(1, len(f) // 8)]).tobytes())  # a few frames: quick, yet the audio's
    return h.hexdigest()[:16]


def _check_resume(out: Path, model_cfg: DetectorConfig, data_id: str, recipe: PretrainRecipe) -> None:
    """ValueError unless out/last.pt, where there is one, is a pretraining of this network on these clips by this
    recipe (its epochs aside): resuming another network was a torch traceback, and other clips were trained on as
    if the run had never stopped; another seed or val_share validated on clips it had trained on, another rate or
    batch trained the later epochs by other rules."""
    last = out / "last.pt"
    if not last.exists():
        return
    ck = load_checkpoint(last)
    fix = f"use another folder, or delete {out} to start over"
    if ck.get("kind") != KIND:
        raise ValueError(f"{last} is a {ck.get('kind')!r} checkpoint, not a pretraining's ({KIND!r}): {fix}")
    theirs = DetectorConfig.from_dict(ck["model_config"])
    diff = [f"{k}: {getattr(theirs, k)} vs {getattr(model_cfg, k)}" for k in SHAPE_FIELDS
            if getattr(theirs, k) != getattr(model_cfg, k)]
    if diff:
        raise ValueError(f"{last} pretrains another network ({'; '.join(diff)}): {fix}")
    before = (ck.get("extra") or {}).get("data")  # None: written before the clips were fingerprinted
    if before is not None and before != data_id:
        raise ValueError(f"{last} pretrains on other clips than these: {fix}")
    was, now = (ck.get("extra") or {}).get("recipe") or {}, recipe.to_dict()  # {}: written before it was kept
    diff = [f"{k}: {was[k]!r} vs {now[k]!r}" for k in now if k != "epochs" and k in was and was[k] != now[k]]
    if diff:
        raise ValueError(f"{last} pretrains by another recipe ({'; '.join(diff)}; only epochs may change): {fix}")


def init_from_pretrained(model: Detector, path: str | os.PathLike) -> Detector:
    """Copy a pretrained backbone's conv, batch norm and GRU weights (best.pt of pretrain_detector,
    its EMA weights) into `model`, in place; its output layer keeps its own initialisation."""
    try:
        ck = load_checkpoint(Path(path))
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(f"{path} is no torch checkpoint, so not a pretrained detector backbone ({KIND!r}): "
                         f"{err}") from None
    kind = ck.get("kind") if isinstance(ck, dict) else type(ck).__name__
    if kind != KIND:
        raise ValueError(f"{path} is a {kind!r} checkpoint, not a pretrained detector backbone ({KIND!r})")
    theirs = DetectorConfig.from_dict(ck["model_config"])
    diff = [f"{k}: {getattr(theirs, k)} vs {getattr(model.cfg, k)}" for k in SHAPE_FIELDS
            if getattr(theirs, k) != getattr(model.cfg, k)]
    if diff:
        raise ValueError(f"{path} was pretrained for another detector configuration ({'; '.join(diff)})")
    state = {k[len("detector."):]: v for k, v in ck["model"].items()
             if k.startswith("detector.") and k[len("detector."):].startswith(CARRIED)}
    missing = [k for k in model.state_dict() if k.startswith(CARRIED) and k not in state]
    if missing:
        raise ValueError(f"{path} lacks {missing[:3]}")
    model.load_state_dict(state, strict=False)
    return model
