"""Training a keyword detector from a feature bank: recipe, validation, the loop (its checkpoints:
speechseq.train.detector_checkpoints).

    bank = load_bank("cache/banks/activate.npz")          # speechseq.train.kwbank
    history = train_detector(bank, "runs/activate", TrainRecipe(), "activate", device="cuda")

Validation (each epoch, on the EMA weights) mirrors the runtime: posteriors smoothed over
`smoothing_steps`, events counted by the streaming trigger (`trigger_events`) on negative
audio (held-out real recordings, each file a stream of its own, plus held-out synthetic negatives
mixed over them), and each held-out positive scored by its maximum posterior just after it ends.
Every file and mix is followed by the second of quiet noise `detect` hears after a file (`quiet_tail`,
eval detector's): a detector's posterior rises only after a word ends, so without it a word at a
stream's end could never fire (a false accept uncounted) nor a keyword there be found (a miss
counted). It reports the false
reject rate at the lowest threshold whose false accepts per hour stay within the target
(`val_frr_at_fa`, what selects the best checkpoint) and that threshold (`val_threshold`).
If the bank has real keyword recordings ("real_pos"), their false reject rate at that
threshold is reported too (`real_frr`): measured, never used for selection.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..checks import finite, fraction, refuse, whole
from ..errors import SpeechseqError
from ..nn.detector import Detector, DetectorConfig
from ..runtime.detector import MAX_SMOOTHING_STEPS, settle_steps, smooth, trigger_events
# the checkpoint functions importers know from here: kept importable from this module (noqa)
from .detector_checkpoints import (KIND, averaged_checkpoint, epoch_of, finetune_ema_decay,  # noqa: F401
                                   scratch_ema_decay, snapshot_as_checkpoint, snapshot_path, trained_weights,
                                   warped_checkpoint, with_validation)
from .detector_pretrain import init_from_pretrained
from .floor_guard import guard_features
from .import_detector import calibrate_norm
from .kwmix import MixConfig, Mixer
from .loop import LoopConfig, load_checkpoint, save_checkpoint, train_loop

__all__ = ["KIND", "TrainRecipe", "Validation", "train_detector", "data_summary", "event_max_loss",
           "averaged_checkpoint", "warped_checkpoint", "trained_weights", "finetune_ema_decay", "run_ema_decay",
           "snapshot_as_checkpoint", "quiet_tail"]

THRESHOLDS = np.round(np.arange(0.05, 0.9951, 0.01), 3)
# Hours of validation mixes without the keyword that set a warp ensemble's threshold (the epochs' own passes use
# TrainRecipe.val_neg_hours, 1 h). Session 29, 13 custom-keyword runs: on 1 h the ensembles fired 10 times in
# 6.1 h of real speech at their thresholds (the models alone twice); on 3 h, 3 times (alone: none).
WARP_VAL_NEG_HOURS = 3.0
# Validation's batches of streams: at most this many rows, and this many frames in all (padding included)
ROWS, BATCH_FRAMES = 128, 128 * 3000


@dataclass(frozen=True)
class TrainRecipe:
    batch: int = 64
    steps_per_epoch: int = 200
    epochs: int = 20
    lr: float = 2e-3
    weight_decay: float = 1e-4
    ema_decay: float = 0.999       # at most: a short run's is lower (run_ema_decay)
    fa_target_per_h: float = 0.5
    smoothing_steps: int = 3
    refractory_s: float = 1.0
    max_wait_s: float = 0.2
    val_positives: int = 600
    val_neg_hours: float = 1.0
    seed: int = 0
    # Max-pooling event loss beside the course's per-step BCE (0: off): each labelled stretch's
    # highest logit is pushed to 1, and each clip's highest logit away from any keyword to 0 --
    # the two numbers that decide a miss and a false accept at the runtime's threshold.
    event_loss_weight: float = 0.0
    event_guard_before: int = 25   # output steps before a stretch (the keyword itself) left out of the negatives
    event_guard_after: int = 5     # and after it
    # A backbone pretrained as a character recogniser (speechseq.train.detector_pretrain, its best.pt):
    # the conv, batch norm and GRU weights start from it ("": from a random initialisation). On real
    # "amelia" no better at equal false accepts (session 17, scripts/train_detectors.py "natural-pre").
    init: str = ""
    # A trained detector (a run's best.pt or final.pt, or an exported .onnx): the whole model, output
    # layer included, starts from its weights ("": off). Fine-tuning to a speaker's own clips (`--init`).
    finetune: str = ""
    # Domain-adversarial training (speechseq.train.domain; 0: off): a critic tells synthetic from real
    # speech by the last GRU layer's outputs; its gradient reaches the detector reversed, times this
    # weight (ramped up over training), so that real voices and synthetic ones look alike to the head.
    domain_weight: float = 0.0
    domain_clips: int = 16         # examples of each domain per step, beside the `batch` mixes
    domain_pool: str = "mean"      # what the critic reads: "mean" the last GRU layer's outputs averaged over
                                   # each example, "end" each output step just after a clip ends (where the
                                   # keyword head decides; the mixer's label stretches)

    def __post_init__(self) -> None:
        # each was taken and failed (or trained nothing) only once the run had started
        refuse("detector training recipe", [
            *((name, getattr(self, name), whole(getattr(self, name)), "a whole number >= 1")
              for name in ("batch", "steps_per_epoch", "epochs", "domain_clips")),
            ("lr", self.lr, finite(self.lr) and self.lr > 0, "a finite number > 0"),
            ("ema_decay", self.ema_decay, fraction(self.ema_decay, below_one=True), "in [0, 1)"),
            ("smoothing_steps", self.smoothing_steps,
             whole(self.smoothing_steps) and self.smoothing_steps <= MAX_SMOOTHING_STEPS,
             f"a whole number from 1 to {MAX_SMOOTHING_STEPS}, as the runtime's"),
            *((name, getattr(self, name), finite(getattr(self, name)) and getattr(self, name) >= 0,
               "a finite number >= 0")
              for name in ("weight_decay", "fa_target_per_h", "refractory_s", "max_wait_s", "val_neg_hours",
                           "event_loss_weight", "domain_weight")),
            *((name, getattr(self, name), whole(getattr(self, name), 0), "a whole number >= 0")
              for name in ("val_positives", "event_guard_before", "event_guard_after")),
            ("domain_pool", self.domain_pool, self.domain_pool in ("mean", "end"), "'mean' or 'end'")])

    def to_dict(self) -> dict:
        return asdict(self)


class Validation:
    """A fixed validation set (made once, seeded) and the metrics of a model on it."""

    def __init__(self, bank: dict, mix: MixConfig, recipe: TrainRecipe, stride: int, device: str) -> None:
        self.recipe, self.stride, self.dev = recipe, stride, torch.device(device)
        self.step_s = stride / 100
        rng = np.random.default_rng(recipe.seed + 1000)
        quiet = replace(mix, specaug_prob=0.0, trunc_neg_prob=0.0, clip_s=4.0)
        roles = ("val_pos", "val_neg", "val_bg")
        self.has_val = all(f"{r}/q" in bank for r in roles)
        if self.has_val and recipe.val_positives < 1:
            raise ValueError(f"val_positives must be at least 1, got {recipe.val_positives}")
        # each mix and file followed by the quiet second `detect` hears after a file; neg_frames: each negative
        # row's frames with it (a file's row padded beyond), the hours without it
        self.pos_x, self.pos_y, self.neg_x, self.neg_frames, self.real = [], [], [], [], []
        self.label_steps = max(1, int(round(mix.label_s * 100 / stride)))  # the mixer's label stretch
        own = 0
        if self.has_val:
            tail = torch.from_numpy(quiet_tail(bank["val_bg/q"].shape[1])).to(self.dev)
            pos_mixer = Mixer(bank, quiet, stride, device, roles=roles)
            for n in _split(recipe.val_positives, 128):
                x, y = pos_mixer.batch(rng, n, min_pos=1, max_pos=1, max_neg=1, specaug=False)
                self.pos_x.append(_followed(x, tail, bank, mix.range_db))
                self.pos_y.append(y)
            neg_mixer = Mixer(bank, replace(quiet, clip_s=10.0), stride, device, roles=roles)
            for n in _split(int(recipe.val_neg_hours * 360), 128):
                x = neg_mixer.batch(rng, n, max_pos=0, specaug=False)[0]
                own += x.shape[0] * x.shape[1]
                self.neg_x.append(_followed(x, tail, bank, mix.range_db))
                self.neg_frames.append(np.full(n, self.neg_x[-1].shape[1]))
            rows, frames, files = _file_rows(bank, "val_bg", self.dev, mix.range_db)  # the real recordings as they are
            self.neg_x += rows
            self.neg_frames += frames
            own += files
        self.neg_hours = own / 100 / 3600
        if self.has_val and not any(bool((y > 0).any()) for y in self.pos_y):
            # every held-out keyword too long for a mix: each epoch would miss "all" of none (a constant 1.0 picking
            # epoch 1), the threshold set by the false accepts alone
            shortest = float(np.diff(bank["val_pos/offsets"]).min()) / 100
            raise SpeechseqError(f"none of the {len(bank['val_pos/offsets']) - 1} held-out keyword clips fits a "
                                 f"{quiet.clip_s:g}-s validation mix (the shortest lasts {shortest:.1f} s), so no "
                                 f"false reject can be measured: give keyword clips cut to the keyword and short "
                                 f"pauses")
        if self.has_val and self.neg_hours == 0:
            raise ValueError(f"no validation audio without the keyword to count false accepts per hour on "
                             f"(val_neg_hours {recipe.val_neg_hours:g} makes no 10-s mix, and the held-out "
                             f"backgrounds hold no frame)")
        if "real_pos/q" in bank:
            self.real = _clip_rows(bank, "real_pos", self.dev, mix.range_db)

    def _posteriors(self, model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
        out = [torch.sigmoid(model(x[i: i + 128])).float().cpu().numpy() for i in range(0, len(x), 128)]
        return smooth(np.concatenate(out), self.recipe.smoothing_steps)

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        r = self.recipe
        model.eval()
        out: dict[str, float] = {}
        if self.has_val:
            refr, wait = int(round(r.refractory_s / self.step_s)), max(1, int(round(r.max_wait_s / self.step_s)))
            neg = [p[: n // self.stride] for x, frames in zip(self.neg_x, self.neg_frames)
                   for p, n in zip(self._posteriors(model, x), frames)]
            settle = settle_steps(self.step_s)  # each row a fresh stream, as the runtime's
            fa = np.array([sum(len(trigger_events(p, th, refr, wait, settle)) for p in neg)
                           for th in THRESHOLDS]) / self.neg_hours
            scores, onsets = [], []
            for x, y in zip(self.pos_x, self.pos_y):
                post = self._posteriors(model, x)
                yy = y.cpu().numpy()
                for p, lab in zip(post, yy):
                    on = np.flatnonzero(lab)
                    if not len(on):  # the keyword did not fit beside the negative: not in this mix, not missed
                        continue
                    # no event starts while the stream settles: a keyword ending then counts from `settle` on; the
                    # whole stretch and 5 steps after, into the quiet tail where a mix's end cuts the labels short
                    scores.append(float(p[max(on[0], settle): on[0] + self.label_steps + 5].max(initial=0.0)))
                    onsets.append((p[on[0]:], on[0]))
            scores = np.array(scores)
            frr = np.array([(scores < th).mean() if len(scores) else 1.0 for th in THRESHOLDS])
            ok = np.flatnonzero(fa <= r.fa_target_per_h)
            i = int(ok[0]) if len(ok) else len(THRESHOLDS) - 1
            th = float(THRESHOLDS[i])
            out.update(val_frr_at_fa=float(frr[i]) if len(ok) else 1.0, val_threshold=th, val_fa_per_h=float(fa[i]),
                       val_frr_at_05=float(frr[np.argmin(np.abs(THRESHOLDS - 0.5))]),
                       val_fa_per_h_at_05=float(fa[np.argmin(np.abs(THRESHOLDS - 0.5))]))
            delays = [int(np.argmax(p >= th)) - (r.smoothing_steps - 1) / 2 for p, _ in onsets if len(p) and p.max() >= th]
            out["val_end_offset_s"] = float(np.median(delays) * self.step_s) if delays else 0.0
        if self.real:
            th = out.get("val_threshold", 0.5)
            settle = settle_steps(self.step_s)  # as eval detector's peak_scores: the events a fresh stream can give
            real = np.array([float(self._posteriors(model, x)[0][settle:].max(initial=0.0)) for x in self.real])
            out.update(real_frr=float((real < th).mean()), real_frr_at_05=float((real < 0.5).mean()))
        model.train()
        return out


def _split(total: int, size: int) -> list[int]:
    return [min(size, total - i) for i in range(0, total, size)]


def quiet_tail(n_mels: int) -> np.ndarray:
    """(T, n_mels) float32: the features of the second of quiet noise that `detect` hears after a file and `eval
    detector` streams after each negative (`kwbank.pad_recording`'s tail, the same draw), as the bank's frontend
    and quantisation give them."""
    from ..frontend import FrontendConfig, logmel
    from .kwbank import dequantize, pad_recording, quantize

    audio = pad_recording(np.zeros(0, np.float32), np.random.default_rng(0), lead_s=0.0)
    return dequantize(quantize(logmel(audio, FrontendConfig(n_mels=n_mels))))


def _followed(x: torch.Tensor, tail: torch.Tensor, bank: dict, range_db: float) -> torch.Tensor:
    """Streams (B, T, F) followed by `tail` (T', F), the tail through the floor guard after each stream's own
    frames where `range_db` is set (the streams' frames are guarded already)."""
    t = tail[None].expand(len(x), -1, -1)
    if range_db > 0:
        t = _guarded(torch.cat([x, t], 1), bank, range_db)[:, x.shape[1]:]
    return torch.cat([x, t], 1)


def _file_rows(bank: dict, role: str, device: torch.device,
               range_db: float = 0.0) -> tuple[list[torch.Tensor], list[np.ndarray], int]:
    """Each file of a role (`kwbank.file_offsets`) as a stream of its own, followed by `quiet_tail`, as `detect`
    hears a file, through the floor guard where `range_db` is set: batches (B, T, F) of rows by length (a row
    padded beyond its file and tail, which a causal model never hears), each batch's rows' frames (file and tail),
    and the files' own frames in all."""
    from .kwbank import dequantize, file_offsets

    if f"{role}/q" not in bank:
        return [], [], 0
    q, files = bank[f"{role}/q"], file_offsets(bank, role)
    spans = [(int(a), int(b)) for a, b in zip(files[:-1], files[1:]) if b > a]
    if not spans:
        return [], [], 0
    tail = quiet_tail(q.shape[1])
    order = sorted(range(len(spans)), key=lambda i: spans[i][1] - spans[i][0])
    rows, frames, batch = [], [], []
    for k, i in enumerate(order):
        batch.append(i)
        last = k + 1 == len(order)
        longest = (spans[order[k + 1]][1] - spans[order[k + 1]][0]) if not last else 0
        if last or len(batch) == ROWS or (len(batch) + 1) * (longest + len(tail)) > BATCH_FRAMES:
            n = np.array([spans[j][1] - spans[j][0] + len(tail) for j in batch])
            x = np.repeat(tail[-1:][None], len(batch), 0).repeat(n.max(), 1)
            for row, j in enumerate(batch):
                a, b = spans[j]
                x[row, : b - a] = dequantize(q[a:b])
                x[row, b - a: n[row]] = tail
            rows.append(_guarded(torch.from_numpy(x).to(device), bank, range_db))
            frames.append(n)
            batch = []
    return rows, frames, sum(b - a for a, b in spans)


def _clip_rows(bank: dict, role: str, device: torch.device, range_db: float = 0.0) -> list[torch.Tensor]:
    """Each clip of a role as its own (1, T, F) tensor (through the floor guard where `range_db` is set)."""
    from .kwbank import dequantize

    off = bank[f"{role}/offsets"]
    return [_guarded(torch.from_numpy(dequantize(bank[f"{role}/q"][a:b])[None]).to(device), bank, range_db)
            for a, b in zip(off[:-1], off[1:])]


def _guarded(x: torch.Tensor, bank: dict, range_db: float) -> torch.Tensor:
    return guard_features(x, float(bank["meta"].get("floor", 1e-6)), range_db) if range_db > 0 else x


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
        cfg, state = trained_weights(recipe.finetune)
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


@torch.no_grad()
def choose_threshold(model: torch.nn.Module, bank: dict, recipe: TrainRecipe = TrainRecipe(), max_tune_fa: float = 1.0,
                     lowest: float = 0.3, grid_step: float = 0.05) -> tuple[float, dict]:
    """The shipped threshold: the lowest grid threshold with no false accept on the bank's real
    validation speech ("val_bg") and at most `max_tune_fa` per hour on its threshold-choice speech
    ("tune_bg": synthetic sentences never trained on), and at least `lowest`. Each file is streamed
    alone and followed by `quiet_tail`, as `detect` hears it and `eval detector` counts its events (the
    hours are the files' own).

    Chosen on amelia, where real keyword recordings exist: thresholds set by the synthetic
    negatives of the validation (dense sound-alikes) missed most real keywords, while the real
    validation speech alone (0.25 h) let through false accepts on other speech. Returns the
    threshold and a table of false accepts per hour at every grid threshold on each stream.
    """
    model = model.eval()
    stride = model.cfg.stride
    step_s = stride / 100
    refr, wait = int(round(recipe.refractory_s / step_s)), max(1, int(round(recipe.max_wait_s / step_s)))
    cpu = torch.device("cpu")

    def posteriors(role: str) -> tuple[list[np.ndarray], float]:
        rows, frames, own = _file_rows(bank, role, cpu)
        post = [p[: n // stride] for x, lengths in zip(rows, frames)
                for p, n in zip(smooth(torch.sigmoid(model(x)).numpy(), recipe.smoothing_steps), lengths)]
        return post, own / 100 / 3600

    grid = np.round(np.arange(grid_step, 1.0, grid_step), 3)
    table: dict = {"threshold": grid.tolist()}
    ok = np.ones(len(grid), bool)
    for role, limit in (("val_bg", 0.0), ("tune_bg", max_tune_fa)):
        post, hours = posteriors(role)
        if hours == 0:
            continue
        fa = [sum(len(trigger_events(p, th, refr, wait, settle_steps(step_s))) for p in post) / hours for th in grid]
        # files: the streams heard (a bank built before it kept its files: one a source)
        table[role] = {"hours": round(hours, 3), "files": len(post), "fa_per_h": [round(f, 2) for f in fa]}
        ok &= np.array(fa) <= limit
    th = float(grid[np.flatnonzero(ok)[0]]) if ok.any() else float(grid[-1])
    return round(max(lowest, th), 3), table
