"""A detector run's checkpoints: epoch snapshots, their mean, a warp ensemble's, and the export settings (threshold,
end offset and its table by threshold, metrics) each carries from its validation.

    ck = averaged_checkpoint("runs/amelia", last=3, validation=validation)   # the mean of the last 3 epochs
    ck = snapshot_as_checkpoint("runs/amelia/snapshots/epoch_007.pt")        # one epoch, for `speechseq export`
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..nn.detector import DetectorConfig
from .loop import average_states, load_checkpoint

if TYPE_CHECKING:
    from .detector import Validation

__all__ = ["KIND", "average_snapshots", "finetune_ema_decay", "scratch_ema_decay", "trained_weights", "snapshot_path",
           "epoch_of", "snapshot_as_checkpoint", "snapshot_checkpoint", "averaged_checkpoint", "warped_checkpoint",
           "with_validation", "finish_checkpoint"]

KIND = "detector"


def average_snapshots(paths: list[Path]) -> dict:
    """Mean of several snapshots' weights (batch-norm statistics averaged too)."""
    return average_states([torch.load(p, map_location="cpu", weights_only=False)["model"] for p in paths])


def finetune_ema_decay(total_steps: int) -> float:
    """The weight average's decay for a run that starts from trained weights: the average starts there, and
    at 0.999 a 600-step fine-tune would export more of the old weights than of the new (0.999 ** 600 = 0.55);
    this leaves them e ** -5 (0.7 %) by the end, and never averages over fewer than 20 steps. (The recogniser's
    training caps its decay so for a run from random weights too: speechseq.train.recognizer.train_recognizer.)"""
    return min(0.999, max(0.95, 1.0 - 5.0 / max(1, total_steps)))


def scratch_ema_decay(total_steps: int) -> float:
    """The weight average's cap for a detector run from random weights: at 0.999 a run of 1 epoch x 50 steps
    validated, saved and exported 95 % of the random start (0.999 ** 50). 1 - 2 / steps leaves e ** -2 (14 %) of it
    by the end, as much as the shipped runs left: 2 (not a fine-tune's 5) so that those, 10 x 200 steps at 0.999 =
    1 - 2 / 2000 (scripts/train_detectors.py), and longer runs keep exactly the decay they were trained with. Never
    an average over fewer than 20 steps, as a fine-tune's."""
    return min(0.999, max(0.95, 1.0 - 2.0 / max(1, total_steps)))


def trained_weights(path: str | os.PathLike) -> tuple[DetectorConfig, dict]:
    """The configuration and weights of a trained detector: a run's best.pt or final.pt (a warped
    final.pt gives its base model, heard at warp 1.0), a run directory (its best.pt), or an exported
    detector .onnx (`detector_from_onnx`: its batch norm the identity until `calibrate_norm`)."""
    p = Path(path)
    if p.suffix == ".onnx":
        from ..runtime.onnx import ModelError
        from .import_detector import detector_from_onnx

        try:
            model = detector_from_onnx(p)
        except ModelError as err:
            raise ValueError(str(err)) from None
        return model.cfg, model.state_dict()
    if p.is_dir():
        p = p / "best.pt"
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such checkpoint (give a run directory or its best.pt / final.pt)")
    try:
        ck = load_checkpoint(p)
    except Exception as err:  # torch raises pickle, zip and runtime errors alike for a file of another kind
        raise ValueError(f"{p} is not a checkpoint torch can read ({str(err).splitlines()[0][:120]})") from None
    if not isinstance(ck, dict) or ck.get("kind") != KIND or "model" not in ck:
        raise ValueError(f"{p} is not a trained detector's checkpoint")
    return DetectorConfig.from_dict(ck["model_config"]), ck["model"]


def snapshot_path(run: str | os.PathLike, epoch: int) -> Path:
    """Where `train_detector` keeps the EMA weights of a run's epoch (1-based)."""
    return Path(run) / "snapshots" / f"epoch_{epoch:03d}.pt"


def epoch_of(snap: Path) -> int:
    """7 for snapshots/epoch_007.pt."""
    return int(snap.stem.rpartition("_")[2])


def snapshot_as_checkpoint(path: str | os.PathLike) -> dict:
    """An epoch snapshot (run/snapshots/epoch_NNN.pt) as a checkpoint `speechseq export` takes. Snapshots
    written before they carried their kind and settings get them from their run's last.pt, and the
    threshold and metrics from that epoch's validation in its history."""
    path = Path(path)
    snap = load_checkpoint(path)
    if snap.get("kind") == KIND:
        return snap
    last = path.parent.parent / "last.pt"
    if path.parent.name != "snapshots" or not last.is_file():
        raise ValueError(f"{path}: an epoch snapshot without its settings, and no run's last.pt beside its folder")
    ck = load_checkpoint(last)
    if ck.get("kind") != KIND:
        raise ValueError(f"{last} is not a detector run's checkpoint")
    epoch = int(snap.get("epoch") or epoch_of(path))
    out = {k: ck[k] for k in ("kind", "model_config", "extra") if k in ck}
    out.update(model=snap["model"], epoch=epoch)
    rec = ck["history"][epoch - 1] if epoch <= len(ck.get("history", [])) else {}
    rec = {k: v for k, v in rec.items() if k.startswith(("val_", "real_"))}
    return with_validation(out, dict(ck.get("extra") or {}), rec, f"the EMA weights of epoch {epoch}")


def snapshot_checkpoint(run: str | os.PathLike, snaps: Sequence[Path]) -> dict:
    """A run's last.pt with the mean of the EMA weights of the snapshots `snaps` (run/snapshots/epoch_*.pt)."""
    ck = torch.load(Path(run) / "last.pt", map_location="cpu", weights_only=False)
    ck["model"] = average_snapshots(list(snaps))
    ck["averaged"] = [Path(p).name for p in snaps]
    return ck


def averaged_checkpoint(run: str | os.PathLike, last: int = 3, validation: Validation | None = None) -> dict:
    """A run's last.pt with the mean of its last `last` epochs' EMA snapshots as the weights (on real
    "amelia" this missed fewer keywords than the epoch that synthetic validation picks). With
    `validation`, the threshold, end offset and metrics are measured on the averaged weights themselves."""
    run = Path(run)
    snaps = sorted((run / "snapshots").glob("epoch_*.pt"), key=epoch_of)[-last:]  # by number: epoch_1000 after 999
    if not snaps:
        raise FileNotFoundError(f"{run / 'snapshots'}: no epoch snapshots to average")
    ck = snapshot_checkpoint(run, snaps)
    if validation is not None and validation.has_val:
        ck = _validated(ck, validation, f"mean of the EMA weights of epochs {_span(snaps)}")
    return ck


def warped_checkpoint(ck: dict, warps: Sequence[float], validation: Validation) -> dict:
    """`ck` (one model's weights) as a `warp_ensemble` of 1.0 and `warps`, validated as such: the maximum of
    several posteriors rises on other speech too, so the threshold is the ensemble's own."""
    factors = sorted({1.0, *(float(a) for a in warps)})
    base = (f"mean of the EMA weights of epochs {_span([Path(n) for n in ck['averaged']])}" if ck.get("averaged")
            else f"the EMA weights of epoch {ck.get('epoch')}")
    out = {**finish_checkpoint(ck), "warps": factors}
    out["extra"] = {**out["extra"], "val_neg_hours": round(validation.neg_hours, 3)}
    return _validated(out, validation, f"{base}, heard at mel warps {', '.join(f'{a:g}' for a in factors)}")


def _validated(ck: dict, validation: Validation, what: str) -> dict:
    """`ck` with the threshold, end offset and metrics that `validation` measures of its model."""
    from .export_detector import detector_from_checkpoint

    rec = validation(detector_from_checkpoint(ck).to(validation.dev))
    return with_validation(ck, ck.get("extra") or {}, rec, what)


def with_validation(ck: dict, extra: dict, rec: dict[str, float], what: str) -> dict:
    """`ck` with `extra` and the threshold, end offset and metrics of a validation record `rec` (none when the
    run has no validation data)."""
    ck["extra"] = {**extra, "checkpoint": what}
    if "val_threshold" in rec:
        ck["extra"].update(threshold=rec["val_threshold"], end_offset_s=round(rec["val_end_offset_s"], 3))
        ck["extra"].pop("end_offset_table", None)  # another validation's
        if "val_end_offset_table" in rec:
            ck["extra"]["end_offset_table"] = rec["val_end_offset_table"]
    if rec:
        ck["extra"]["metrics"] = {k: round(v, 4) for k, v in rec.items() if k != "val_end_offset_table"}
    return ck


def _span(snaps: list[Path]) -> str:
    """ "8-10" for snapshots epoch_008.pt .. epoch_010.pt ("4" for one)."""
    first, last = (epoch_of(p) for p in (snaps[0], snaps[-1]))
    return f"{first}-{last}" if last != first else str(first)


def finish_checkpoint(ckpt: dict, history: list[dict] | None = None) -> dict:
    """The export settings of a checkpoint from its best epoch's validation: threshold, end offset, metrics."""
    history = history if history is not None else ckpt.get("history", [])
    extra = dict(ckpt.get("extra") or {})
    best = (ckpt.get("best") or {}).get("epoch") or ckpt.get("epoch") or len(history)
    if ckpt.get("averaged"):  # weights averaged over the last epochs: the last record describes them best
        best = len(history)
    rec = history[best - 1] if 0 < best <= len(history) else {}
    if "threshold" not in extra and "val_threshold" in rec:
        extra["threshold"] = rec["val_threshold"]
    if "end_offset_s" not in extra and "val_end_offset_s" in rec:
        extra["end_offset_s"] = round(rec["val_end_offset_s"], 3)
        if "val_end_offset_table" in rec:
            extra.setdefault("end_offset_table", rec["val_end_offset_table"])
    extra.setdefault("metrics", {k: (round(v, 4) if isinstance(v, float) else v) for k, v in rec.items()
                                 if k.startswith(("val_", "real_")) and k != "val_end_offset_table"})
    return {**ckpt, "extra": extra}
