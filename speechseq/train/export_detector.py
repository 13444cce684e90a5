"""Export a trained detector to ONNX: the streaming step graph plus its metadata.

The graph (see `speechseq.nn.detector.StepGraph`): inputs `features` (B, T, F), `context`
(B, K - S + N, F), `hidden` (L, B, H) (K, S: the conv's kernel and stride, N: norm_frames, L: layers, times
the members of an ensemble); outputs `probs` (B, T // S), `context_out`, `hidden_out`.
Batch and time axes are dynamic. The metadata (JSON under "speechseq") holds everything the
runtime needs: keyword, threshold, frontend constants, sizes, timing (end_offset_table: where a keyword ended after
an event's start, by threshold), training data and metrics.
"""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from ..files import written_atomically
from ..frontend import FrontendConfig
from ..nn.detector import Detector, DetectorConfig, DetectorEnsemble, StepGraph, warp_ensemble
from ..runtime.onnx import write_metadata, jsonable

__all__ = ["export_detector", "export_checkpoint", "detector_from_checkpoint", "DEFAULT_RUNTIME"]

# Runtime settings stored in the file (the user can override them): posterior smoothing window,
# time after an event during which the same keyword cannot fire again.
DEFAULT_RUNTIME = {"threshold": 0.5, "smoothing_steps": 3, "refractory_s": 1.0}


def detector_from_checkpoint(ckpt: dict) -> Detector | DetectorEnsemble:
    """Rebuild the model of a checkpoint (EMA weights in best.pt) in eval mode; a checkpoint with
    "members" (weights of several runs of one configuration) gives their ensemble, one with "warps"
    (mel-axis warp factors) the model's `warp_ensemble`."""
    cfg = DetectorConfig.from_dict(ckpt["model_config"])
    if ckpt.get("warps") and "members" in ckpt:
        raise ValueError("a checkpoint has either members or warps, not both")
    if "members" in ckpt:
        members = [Detector(cfg) for _ in ckpt["members"]]
        for m, weights in zip(members, ckpt["members"]):
            m.load_state_dict(weights)
        return DetectorEnsemble(members).eval()
    model = Detector(cfg)
    model.load_state_dict(ckpt["model"])
    return (warp_ensemble(model, ckpt["warps"]) if ckpt.get("warps") else model).eval()


def export_detector(model: Detector | DetectorEnsemble, out: str | os.PathLike, meta: dict, opset: int = 17) -> Path:
    """Write `model`'s step graph to `out` with `meta` merged into the standard metadata, atomically (a file at
    `out` stays as it was until the new one is whole). The graph is a CPU copy's in eval mode: the caller's model
    keeps its device and the mode of each layer (a batch norm kept frozen in a fine-tune stays so)."""
    out = Path(out)
    cfg = model.cfg
    frontend = FrontendConfig(n_mels=cfg.n_mels, floor=cfg.floor)
    full = {"kind": "detector", "format": 1, **DEFAULT_RUNTIME, **meta,
            "frontend": frontend.to_dict(), "model_config": cfg.to_dict(),
            "stride": cfg.stride, "context": cfg.context, "layers": getattr(model, "state_layers", cfg.layers),
            "hidden": cfg.hidden, "members": len(getattr(model, "members", [model])),
            **({"combine": model.combine} if isinstance(model, DetectorEnsemble) else {}),
            "step_s": cfg.stride / frontend.frame_rate, "parameters": model.num_parameters()}
    full.setdefault("keyword", "keyword")
    model = copy.deepcopy(model).cpu().eval()
    graph = StepGraph(model)
    ctx, h = model.initial_state(1)
    feats = torch.zeros(1, 4 * cfg.stride, cfg.n_mels)
    with warnings.catch_warnings(), written_atomically(out) as tmp:
        # Two known tracer notes, not problems: the ragged-clip branch of Detector._encode is not in the graph
        # (the step graph takes whole strides, its contract), and torch's advice for GRUs of any batch size is
        # followed already (the initial states are inputs).
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean")
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        torch.onnx.export(
            graph, (feats, ctx, h), str(tmp), input_names=["features", "context", "hidden"],
            output_names=["probs", "context_out", "hidden_out"], opset_version=opset, dynamo=False,
            dynamic_axes={"features": {0: "batch", 1: "frames"}, "context": {0: "batch"}, "hidden": {1: "batch"},
                          "probs": {0: "batch", 1: "steps"}, "context_out": {0: "batch"},
                          "hidden_out": {1: "batch"}})
        write_metadata(tmp, full)
    return out


def export_checkpoint(ckpt_path: str | os.PathLike, out: str | os.PathLike, int8: bool = False) -> list[str]:
    """`speechseq export` for checkpoints of kind "detector". int8 is ignored: GRUs gain nothing from it."""
    from .detector_checkpoints import finish_checkpoint, snapshot_as_checkpoint

    ckpt = torch.load(Path(ckpt_path), map_location="cpu", weights_only=False)
    if ckpt.get("kind") is None:  # an epoch snapshot written before snapshots carried their settings
        ckpt = snapshot_as_checkpoint(ckpt_path)
    ckpt = finish_checkpoint(ckpt)
    model = detector_from_checkpoint(ckpt)
    extra = dict(ckpt.get("extra") or {})
    meta = {k: extra[k] for k in ("keyword", "threshold", "smoothing_steps", "refractory_s", "label_s",
                                  "keyword_duration_s", "end_offset_s", "end_offset_table", "data", "metrics", "recipe",
                                  "mix", "threshold_table", "checkpoint", "val_neg_hours") if k in extra}
    if "end_offset_table" in meta and "threshold" in meta:
        # end_offset_s at the shipped threshold (chosen after validation, scripts/train_detectors.py), for readers
        # without the table; the runtime reads the table at its own threshold
        table = meta["end_offset_table"]
        meta["end_offset_s"] = round(float(np.interp(meta["threshold"], table["threshold"], table["end_offset_s"])), 3)
    meta["checkpoint_epoch"] = int(ckpt.get("epoch", 0))
    if ckpt.get("warps"):
        meta["warps"] = ckpt["warps"]
    return [str(export_detector(model, out, jsonable(meta)))]
