"""Training a keyword detector from a feature bank: the loop (its recipe: speechseq.train.detector_recipe; its
validation and the shipped threshold's choice: speechseq.train.detector_validation; its checkpoints:
speechseq.train.detector_checkpoints).

    bank = load_bank("cache/banks/activate.npz")          # speechseq.train.kwbank
    history = train_detector(bank, "runs/activate", "activate", TrainRecipe(), device="cuda")

Each epoch is validated on the EMA weights (`Validation`): the false reject rate at the lowest threshold whose
false accepts per hour stay within the target (`val_frr_at_fa`) selects the best checkpoint.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..nn.detector import Detector, DetectorConfig
# the checkpoint functions importers know from here: kept importable from this module (noqa)
from .detector_checkpoints import (KIND, averaged_checkpoint, epoch_of, finetune_ema_decay,  # noqa: F401
                                   scratch_ema_decay, snapshot_as_checkpoint, snapshot_path, trained_weights,
                                   warped_checkpoint, with_validation)
from .detector_pretrain import init_from_pretrained
from .detector_recipe import TrainRecipe
from .detector_validation import Validation, choose_threshold, quiet_tail
from .import_detector import calibrate_norm
from .kwmix import MixConfig, Mixer
from .loop import LoopConfig, load_checkpoint, save_checkpoint, train_loop

__all__ = ["KIND", "TrainRecipe", "Validation", "train_detector", "data_summary", "event_max_loss",
           "averaged_checkpoint", "warped_checkpoint", "trained_weights", "finetune_ema_decay", "run_ema_decay",
           "snapshot_as_checkpoint", "quiet_tail", "choose_threshold"]

# Hours of validation mixes without the keyword that set a warp ensemble's threshold (the epochs' own passes use
# TrainRecipe.val_neg_hours, 1 h). Session 29, 13 custom-keyword runs: on 1 h the ensembles fired 10 times in
# 6.1 h of real speech at their thresholds (the models alone twice); on 3 h, 3 times (alone: none).
WARP_VAL_NEG_HOURS = 3.0


def data_summary(bank: dict) -> dict:
    """What the model was trained on (stored in the checkpoint and the ONNX metadata)."""
    roles = bank["meta"].get("roles", {})
    return {role: {"clips": v["clips"], "hours": v["hours"], "sources": v.get("per_source", {})}
            for role, v in roles.items()}


def keyword_duration(bank: dict) -> float:
    """Median spoken length of the training positives (s), for estimating an event's start."""
    pad = int(round(bank["meta"]["config"]["pad_s"] * 100))
    return float(np.median(np.maximum(bank["pos/end"] - pad, 1)) / 100)


def train_detector(bank: dict, out_dir: str | os.PathLike, keyword: str, recipe: TrainRecipe = TrainRecipe(),
                   model_cfg: DetectorConfig = DetectorConfig(), mix: MixConfig = MixConfig(), device: str = "cpu",
                   progress: bool = True, average: int = 0, warps: Sequence[float] = ()) -> list[dict]:
    """Train (or resume) a detector in out_dir: last.pt, best.pt (EMA weights of the epoch with the
    lowest val_frr_at_fa), history.json, curve.png, and snapshots/epoch_NNN.pt (EMA weights of every
    epoch, for averaging or choosing on real recordings afterwards). With `average` N > 0 and
    validation data, also final.pt: the mean of the last N snapshots, validated (`averaged_checkpoint`).
    With `warps` (mel-axis warp factors besides 1.0) and validation data, final.pt holds those weights
    (or best.pt's) as a `warp_ensemble`, its threshold set by validating the ensemble on WARP_VAL_NEG_HOURS
    of mixes without the keyword (`warped_checkpoint`)."""
    out = Path(out_dir)
    (out / "snapshots").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(recipe.seed)
    model = Detector(model_cfg)
    if recipe.init and not (out / "last.pt").exists():  # a resumed run has its own weights
        init_from_pretrained(model, recipe.init)
    mixer = Mixer(bank, mix, model_cfg.stride, device)
    if recipe.finetune and not (out / "last.pt").exists():
        cfg, state = trained_weights(Path(recipe.finetune).expanduser())
        if cfg != model_cfg:
            raise ValueError(f"{recipe.finetune} holds a detector of another configuration than this training's")
        model.load_state_dict(state)
        if Path(recipe.finetune).suffix == ".onnx":  # its batch norm set to the training mixes' statistics
            rng = np.random.default_rng([recipe.seed, 999])
            calibrate_norm(model, [mixer.batch(rng, recipe.batch)[0].cpu() for _ in range(4)])
    validation = Validation(bank, mix, recipe, model_cfg.stride, device)
    done = load_checkpoint(out / "last.pt")["epoch"] if (out / "last.pt").exists() else 0
    for snap in (out / "snapshots").glob("epoch_*.pt"):
        if epoch_of(snap) > done:  # of an epoch interrupted after its snapshot: it is redone (and written again)
            snap.unlink()
    adversary = _Adversary(bank, mix, recipe, model_cfg, device, out, done) if recipe.domain_weight > 0 else None

    def batches(epoch: int):
        rng = np.random.default_rng([recipe.seed, epoch])
        for _ in range(recipe.steps_per_epoch):
            if adversary is None:
                yield mixer.batch(rng, recipe.batch)
            else:
                yield (*mixer.batch(rng, recipe.batch), *adversary.data.batch(rng, recipe.domain_clips))

    bce = torch.nn.BCEWithLogitsLoss()

    def loss_fn(m: torch.nn.Module, batch) -> tuple[torch.Tensor, dict]:
        if adversary is not None:
            return adversary.loss(m, batch, bce)
        x, y = batch
        logits = m(x)
        loss = bce(logits, y)
        if recipe.event_loss_weight <= 0:
            return loss, {}
        pos, neg = event_max_loss(logits, y, recipe.event_guard_before, recipe.event_guard_after)
        return loss + recipe.event_loss_weight * (pos + neg), {"event_pos": pos.detach(), "event_neg": neg.detach()}

    counter = {"epoch": done}

    def validate(m: torch.nn.Module) -> dict[str, float]:
        counter["epoch"] += 1
        rec = validation(m)
        # a snapshot is a checkpoint of its own (`speechseq export` takes it), at the threshold its epoch's
        # validation chose
        snap = {"kind": KIND, "model_config": model_cfg.to_dict(), "model": m.state_dict(), "epoch": counter["epoch"]}
        save_checkpoint(with_validation(snap, extra, rec, f"the EMA weights of epoch {counter['epoch']}"),
                        snapshot_path(out, counter["epoch"]))
        if adversary is not None:
            adversary.save(counter["epoch"])
        return rec

    # the keyword and sources (`speechseq train detector` checks a rerun's against them, bank.npz or not)
    extra = {"keyword": keyword, "sources": bank["meta"].get("sources"), "recipe": recipe.to_dict(),
             "mix": mix.to_dict(), "data": data_summary(bank),
             "label_s": mix.label_s, "smoothing_steps": recipe.smoothing_steps, "refractory_s": recipe.refractory_s,
             "keyword_duration_s": round(keyword_duration(bank), 3), "val_neg_hours": round(validation.neg_hours, 3)}
    if adversary is not None:
        extra["domain"] = adversary.data.summary
    loop = LoopConfig(epochs=recipe.epochs, lr=recipe.lr, weight_decay=recipe.weight_decay,
                      ema_decay=run_ema_decay(recipe),
                      seed=recipe.seed, device=device, warmup_steps=100, steps_per_epoch=recipe.steps_per_epoch)
    select = "val_frr_at_fa" if validation.has_val else "loss"
    history = train_loop(model, batches, loss_fn, validate, out, KIND, model_cfg.to_dict(), loop, select=select,
                         mode="min", extra=extra, progress=progress)
    if (average > 0 or warps) and validation.has_val:
        # with warps, only the ensemble's threshold counts: the averaged weights are validated as its members
        ck = averaged_checkpoint(out, average, None if warps else validation) if average > 0 else \
            torch.load(out / "best.pt", map_location="cpu", weights_only=False)
        if warps:
            longer = replace(recipe, val_neg_hours=max(WARP_VAL_NEG_HOURS, recipe.val_neg_hours))
            ck = warped_checkpoint(ck, warps, Validation(bank, mix, longer, model_cfg.stride, device))
        save_checkpoint(ck, out / "final.pt")
    return history


def run_ema_decay(recipe: TrainRecipe) -> float:
    """The weight average's decay in a run of `recipe`: its ema_decay, at most `finetune_ema_decay` of the run's
    steps for a fine-tune (the average starts at the weights it tunes) and `scratch_ema_decay`'s for a run from
    random weights (or a pretrained backbone, its output layer random), so that a short run validates, saves and
    exports what it learnt rather than its start."""
    steps = recipe.epochs * recipe.steps_per_epoch
    return min(recipe.ema_decay, finetune_ema_decay(steps) if recipe.finetune else scratch_ema_decay(steps))


class _Adversary:
    """The critic of domain-adversarial training, its own optimiser (stepped with the gradients of the
    previous step, at the start of the next), and its state beside the run for a resume: OUT/critic-NNN.pt after
    epoch NNN, the last two kept. The critic's file of an epoch is written before the run's last.pt, so an
    interrupt between the two leaves last.pt an epoch behind: a resume takes the critic of last.pt's epoch."""

    def __init__(self, bank: dict, mix: MixConfig, recipe: TrainRecipe, model_cfg: DetectorConfig, device: str,
                 out: Path, done: int = 0) -> None:
        from .domain import Critic, DomainData

        if recipe.domain_pool not in ("mean", "end"):
            raise ValueError(f"domain_pool must be 'mean' or 'end', got {recipe.domain_pool!r}")
        self.recipe, self.out = recipe, out
        self.data = DomainData(bank, mix, model_cfg.stride, device, seed=recipe.seed)
        self.critic = Critic(model_cfg.hidden).to(device)
        self.opt = torch.optim.AdamW(self.critic.parameters(), lr=recipe.lr)
        self.step, self.total = 0, recipe.epochs * recipe.steps_per_epoch
        for epoch, f in self._files():
            if epoch > done:  # an epoch redone now (its detector weights were not kept)
                f.unlink()
        if done and self.path(done).exists():
            ck = torch.load(self.path(done), map_location=device, weights_only=False)
            self.critic.load_state_dict(ck["critic"])
            self.opt.load_state_dict(ck["optimizer"])
            self.step = ck["step"]

    def path(self, epoch: int) -> Path:
        return self.out / f"critic-{epoch:03d}.pt"

    def _files(self) -> list[tuple[int, Path]]:
        return sorted((int(f.stem.split("-")[1]), f) for f in self.out.glob("critic-[0-9][0-9][0-9].pt"))

    def save(self, epoch: int) -> None:
        # the epoch's last gradients, which the next step would apply first: applied now, so that the state saved
        # is the one that step would have used (a resumed run, whose critic has no gradients, lost them before)
        self._step_critic()
        save_checkpoint({"critic": self.critic.state_dict(), "optimizer": self.opt.state_dict(), "step": self.step,
                         "epoch": epoch}, self.path(epoch))
        for e, f in self._files():
            if e < epoch - 1:
                f.unlink()

    def _step_critic(self) -> None:
        """Apply the critic's pending gradients, unless one is not finite: the batch train_loop skipped for its
        non-finite loss is skipped here too (a NaN critic made every later batch non-finite: training stalled)."""
        grads = [p.grad for p in self.critic.parameters() if p.grad is not None]
        if grads and all(bool(torch.isfinite(g).all()) for g in grads):
            self.opt.step()
        self.opt.zero_grad(set_to_none=True)

    def loss(self, m: Detector, batch, bce) -> tuple[torch.Tensor, dict]:
        from .domain import ramp, reverse_gradient

        if self.step > 0:
            self._step_critic()  # the previous step's gradients (train_loop steps only the detector)
        self.opt.zero_grad(set_to_none=True)
        x, y, xd, yd, ends = batch
        b = len(x)
        if xd.shape[1] != x.shape[1]:
            raise ValueError("domain clips must be as long as the training mixes")
        h = m.encode(torch.cat([x, xd]))                        # one pass: batch norm sees both
        logits = m.out(m.drop(h[:b])).squeeze(-1)
        scale = self.recipe.domain_weight * ramp(self.step / max(1, self.total))
        if self.recipe.domain_pool == "end":
            at = ends > 0
            d_logits = self.critic(reverse_gradient(h[b:][at], scale))    # (steps after clip ends,)
            yd = yd[:, None].expand_as(ends)[at]
        else:
            d_logits = self.critic(reverse_gradient(h[b:].mean(1), scale))
        d_loss = bce(d_logits, yd)
        self.step += 1
        acc = ((d_logits > 0).float() == yd).float().mean()
        return bce(logits, y) + d_loss, {"domain_loss": d_loss.detach(), "domain_acc": acc.detach()}


def event_max_loss(logits: torch.Tensor, labels: torch.Tensor, guard_before: int = 25,
                   guard_after: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-pooling losses over (B, T) logits and 0/1 labels (Sun et al., 2016, for keyword spotting).

    pos: mean BCE(max logit of each labelled stretch, 1) over the stretches in the batch (0 if none);
    neg: mean BCE(max logit of each clip outside every stretch widened by `guard_before` steps
    before and `guard_after` after, 0) over the clips that have such steps.
    """
    y = (labels > 0.5).to(logits.dtype)
    b = y.shape[0]
    starts = torch.diff(y, dim=1, prepend=torch.zeros_like(y[:, :1])) > 0
    run = torch.cumsum(starts.to(torch.long), dim=1) * y.to(torch.long)          # 0 off a stretch, 1..R on
    n_runs = int(run.max()) if run.numel() else 0
    zero = logits.sum() * 0.0
    if n_runs > 0:
        slot = (torch.arange(b, device=logits.device)[:, None] * (n_runs + 1) + run).reshape(-1)
        peak = torch.full((b * (n_runs + 1),), -1e4, dtype=logits.dtype, device=logits.device)
        peak = peak.scatter_reduce(0, slot, logits.reshape(-1), reduce="amax", include_self=False)
        seen = torch.zeros(b * (n_runs + 1), dtype=torch.bool, device=logits.device)
        seen[slot[run.reshape(-1) > 0]] = True
        peaks = peak[seen]
        pos = torch.nn.functional.binary_cross_entropy_with_logits(peaks, torch.ones_like(peaks))
    else:
        pos = zero
    near = torch.nn.functional.max_pool1d(torch.nn.functional.pad(y[:, None], (guard_after, guard_before)),
                                          guard_before + guard_after + 1, stride=1)[:, 0]
    far = near < 0.5
    has = far.any(dim=1)
    if bool(has.any()):
        worst = logits.masked_fill(~far, -1e4).amax(dim=1)[has]
        neg = torch.nn.functional.binary_cross_entropy_with_logits(worst, torch.zeros_like(worst))
    else:
        neg = zero
    return pos, neg
