"""A detector's validation during training (speechseq.train.detector) and the shipped threshold's choice.

    validation = Validation(bank, MixConfig(), TrainRecipe(), stride=4, device="cpu")
    metrics = validation(model)                                  # val_frr_at_fa, val_threshold, ...
    threshold, table = choose_threshold(model, bank)

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
threshold is reported too (`real_frr`): measured, never used for selection. Where a keyword ended, from an event's
start, is measured at every threshold (`val_end_offset_table`, `end_offset_table`; `val_end_offset_s` at
`val_threshold`): the export stores it, and the runtime reads it at the threshold it runs at.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from ..errors import SpeechseqError
from ..metrics import threshold_grid
from ..runtime.detector import settle_steps, smooth, trigger_events
from .detector_recipe import TrainRecipe
from .floor_guard import guard_features
from .kwmix import MixConfig, Mixer

__all__ = ["Validation", "choose_threshold", "threshold_unmet", "quiet_tail", "end_offset_table", "THRESHOLDS"]

# the thresholds each epoch's validation counts false accepts and rejects at: 0.05 ... 0.99, then finer up to 0.9999
# (a fine-tuned model's posteriors saturate: speechseq.metrics.SATURATED_THRESHOLDS)
THRESHOLDS = threshold_grid(0.05, 0.01)
# Validation's batches of streams: at most this many rows, and this many frames in all (padding included)
ROWS, BATCH_FRAMES = 128, 128 * 3000


class Validation:
    """A fixed validation set (made once, seeded) and the metrics of a model on it."""

    def __init__(self, bank: dict, mix: MixConfig, recipe: TrainRecipe, stride: int, device: str) -> None:
        self.recipe, self.stride, self.dev = recipe, stride, torch.device(device)
        self.step_s = stride / 100
        rng = np.random.default_rng(recipe.seed + 1000)
        # keywords on their own (follow_share 0): the threshold and the epoch are chosen on the keyword as the recipe
        # has always validated it, whatever share of training's keywords speech follows at once
        quiet = replace(mix, specaug_prob=0.0, trunc_neg_prob=0.0, clip_s=4.0, follow_share=0.0)
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
            quiet = replace(quiet, clip_s=_positive_mix_s(bank, quiet.clip_s, mix))
            # each held-out keyword clip drawn alike: a source's weight (PATH:W) is how often training draws it
            once = {**bank, "val_pos/weight": np.ones(len(bank["val_pos/weight"]), np.float32)}
            pos_mixer = Mixer(once, quiet, stride, device, roles=roles)
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
            table = end_offset_table([p for p, _ in onsets], r.smoothing_steps, self.step_s)
            if table["threshold"]:
                out["val_end_offset_table"] = table
        if self.real:
            th = out.get("val_threshold", 0.5)
            settle = settle_steps(self.step_s)  # as eval detector's peak_scores: the events a fresh stream can give
            real = np.array([float(self._posteriors(model, x)[0][settle:].max(initial=0.0)) for x in self.real])
            out.update(real_frr=float((real < th).mean()), real_frr_at_05=float((real < 0.5).mean()))
        model.train()
        return out


def end_offset_table(posts: list[np.ndarray], smoothing_steps: int, step_s: float) -> dict[str, list[float]]:
    """The end offset at every threshold of THRESHOLDS that some positive reaches: the median, over the smoothed
    posteriors `posts` from each keyword's label start, of the steps to their first crossing, less (w - 1) / 2 (the
    runtime's own smoothing correction, speechseq.runtime.detector.Detector), in seconds. The posterior crosses a
    lower threshold sooner: one offset, measured at the validation threshold (0.97 for activate) and used at the
    shipped one (0.75), put events' ends 50 ms early, 90 ms at 0.5. {"threshold": [...], "end_offset_s": [...]}."""
    rows = [p for p in posts if len(p)]
    if not rows:
        return {"threshold": [], "end_offset_s": []}
    # first step at or above each threshold: where each posterior's running maximum reaches it (len(p): never)
    first = np.array([np.searchsorted(np.maximum.accumulate(p.astype(np.float64)), THRESHOLDS) for p in rows], float)
    first[first >= np.array([len(p) for p in rows])[:, None]] = np.nan
    reached = ~np.isnan(first).all(axis=0)
    delays = np.nanmedian(first[:, reached], axis=0) - (smoothing_steps - 1) / 2
    return {"threshold": [float(t) for t in THRESHOLDS[reached]],
            "end_offset_s": [round(float(d) * step_s, 4) for d in delays]}


def _positive_mix_s(bank: dict, clip_s: float, mix: MixConfig) -> float:
    """The length of the validation mixes of a keyword: `clip_s`, or where the longest held-out keyword clip at the
    slowest tempo does not fit one (a person's take of 3.5-5 s, kwbank.MAX_TAKE_S), twice that clip, so that a
    negative no longer than it fits beside it (a longer one is left out first), at most a training mix's length."""
    longest = int(np.diff(bank["val_pos/offsets"]).max()) / mix.tempo[0] / 100
    return clip_s if longest <= clip_s else max(clip_s, min(mix.clip_s, math.ceil(20 * longest) / 10))


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


@torch.no_grad()
def choose_threshold(model: torch.nn.Module, bank: dict, recipe: TrainRecipe = TrainRecipe(), max_tune_fa: float = 1.0,
                     lowest: float = 0.3, grid_step: float = 0.05) -> tuple[float, dict]:
    """The shipped threshold: the lowest grid threshold with no false accept on the bank's real
    validation speech ("val_bg") and at most `max_tune_fa` per hour on its threshold-choice speech
    ("tune_bg": synthetic sentences never trained on), and at least `lowest`. Each file is streamed
    alone and followed by `quiet_tail`, as `detect` hears it and `eval detector` counts its events (the
    hours are the files' own). The grid: `grid_step`, 2 `grid_step`, ..., 0.96 ... 0.99, then the saturated thresholds up
    to 0.9999, as validation's (speechseq.metrics.threshold_grid); where none meets the rule, the grid's top, as
    validation takes it, and the table says so ("met": False; it was 0.95 without a word).

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

    # `grid_step` steps (the shipped models' thresholds were chosen on 0.05 ones), then 0.96 ... 0.99 and past 0.99
    grid = np.union1d(threshold_grid(grid_step, grid_step), np.round(np.arange(0.96, 0.995, 0.01), 3))
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
    table["met"] = bool(ok.any())
    th = float(grid[np.flatnonzero(ok)[0]]) if ok.any() else float(grid[-1])
    return round(max(lowest, th), 6), table


def threshold_unmet(table: dict, max_tune_fa: float = 1.0) -> str | None:
    """Where `choose_threshold`'s rule was met by no grid threshold (its table's "met" False), what the grid's top
    still lets through, in one line: "no threshold up to 0.9999 meets the rule (...): at 0.9999, ..."; else None."""
    if table.get("met", True):
        return None
    from ..metrics import threshold_text

    top = threshold_text(table["threshold"][-1])
    said = [f"{table[role]['fa_per_h'][-1]:g}/h on {table[role]['hours']:g} h of {what}"
            for role, what in (("val_bg", "real validation speech"), ("tune_bg", "threshold-choice sentences"))
            if role in table]
    return (f"no threshold up to {top} meets the rule (no false accept on the real validation speech, at most "
            f"{max_tune_fa:g} per hour on the threshold-choice sentences): at {top}, " + ", ".join(said))
