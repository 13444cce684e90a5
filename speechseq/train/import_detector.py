"""A torch `Detector` from an exported detector (.onnx), so that a shipped model can be fine-tuned.

The export folds things into the weights (`Detector.folded`, and batch norm into the conv): the
fixed input scaling (x - shift) / scale and the batch norm's affine map are gone from the graph.
The import puts the scaling back (conv weights times scale; with the mean normalisation the shift
cancels, without it the bias takes it back), and a batch norm that is the identity in eval mode.
For training, `calibrate_norm` then sets that batch norm's statistics to the conv outputs' own on
training data, so that train mode (batch statistics) is also close to the identity and the first
steps start from the exported model rather than from a rescaled one.

ONNX's GRU keeps its gates in the order (z, r, h), torch in (r, z, n); both apply the reset gate
after the recurrent product (linear_before_reset=1, as torch exports it).

    model = detector_from_onnx("models/activate.onnx")   # checked against onnxruntime (<= 1e-4)
    calibrate_norm(model, [x1, x2])                      # x: (B, T, F) log-mel training mixes
"""
from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import torch

from ..nn.detector import Detector, DetectorConfig

__all__ = ["detector_from_onnx", "calibrate_norm"]


def _gates(w: np.ndarray, hidden: int) -> torch.Tensor:
    """ONNX (z, r, h) rows -> torch (r, z, n) rows, along the first axis."""
    z, r, h = w[:hidden], w[hidden: 2 * hidden], w[2 * hidden:]
    return torch.from_numpy(np.ascontiguousarray(np.concatenate([r, z, h]))).float()


def detector_from_onnx(path: str | os.PathLike, check: bool = True) -> Detector:
    """The detector of a speechseq detector file (one model, not an ensemble), in eval mode; with
    `check`, its posteriors on random features are compared with onnxruntime's (ValueError beyond 1e-4)."""
    import onnx
    from onnx import numpy_helper

    from ..runtime.onnx import ModelError, open_model, reading_metadata

    session, meta = open_model(path, "detector", "detector")
    with reading_metadata(path, "detector"):  # a field missing or of the wrong type: one ModelError, not a traceback
        if int(meta.get("members", 1)) != 1:
            raise ModelError(f"{path}: an ensemble of {meta['members']} models; fine-tune the run it came from instead")
        cfg = DetectorConfig.from_dict(meta["model_config"])
    if cfg.lifter:
        raise ModelError(f"{path}: its lifter is folded into the conv and cannot be taken back out")
    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def weights(op: str) -> list[list[np.ndarray]]:
        return [[init[i] for i in n.input if i in init] for n in graph.node if n.op_type == op]

    convs, grus, mms = weights("Conv"), weights("GRU"), weights("MatMul")
    if len(convs) != 1 or len(grus) != cfg.layers or len(mms) != 1:
        raise ModelError(f"{path}: not the graph of one Conv1D + {cfg.layers} x GRU detector")
    adds = [w for w in weights("Add") if w and w[0].size == 1]
    model = Detector(cfg)
    sd = model.state_dict()
    w_conv, b_conv = convs[0]
    sd["conv.weight"] = torch.from_numpy(w_conv * cfg.feat_scale).float()
    bias = b_conv if cfg.norm_frames else b_conv + cfg.feat_shift * w_conv.sum(axis=(1, 2))
    sd["conv.bias"] = torch.from_numpy(np.array(bias, dtype=np.float32))
    eps = model.norm.eps
    sd["norm.running_mean"], sd["norm.running_var"] = torch.zeros(cfg.conv_channels), torch.ones(cfg.conv_channels)
    sd["norm.weight"] = torch.full((cfg.conv_channels,), float(np.sqrt(1.0 + eps)))
    sd["norm.bias"] = torch.zeros(cfg.conv_channels)
    for k, (w, r, b) in enumerate(grus):
        h = cfg.hidden
        sd[f"gru.weight_ih_l{k}"], sd[f"gru.weight_hh_l{k}"] = _gates(w[0], h), _gates(r[0], h)
        sd[f"gru.bias_ih_l{k}"], sd[f"gru.bias_hh_l{k}"] = _gates(b[0, : 3 * h], h), _gates(b[0, 3 * h:], h)
    sd["out.weight"] = torch.from_numpy(mms[0][0].T.copy()).float()
    sd["out.bias"] = torch.from_numpy(adds[0][0].reshape(1).copy()).float() if adds else torch.zeros(1)
    try:
        model.load_state_dict(sd)
    except RuntimeError as err:  # weights of other sizes than its model_config's
        raise ModelError(f"{path}: its weights do not fit its model_config ({str(err).splitlines()[-1].strip()[:160]})"
                         ) from None
    model.eval()
    if check:
        _check(model, session, path)
    return model


def _check(model: Detector, session, path: str | os.PathLike) -> None:
    c = model.cfg
    x = np.random.default_rng(0).normal(-6.0, 3.0, (1, 12 * c.stride, c.n_mels)).astype(np.float32)
    ctx, h = model.initial_state()
    want = session.run(["probs"], {"features": x, "context": ctx.numpy(), "hidden": h.numpy()})[0]
    with torch.no_grad():
        got = model.step(torch.from_numpy(x))[0].numpy()
    if not np.allclose(got, want, atol=1e-4):
        raise ValueError(f"{path}: the imported detector differs from the file (max {np.abs(got - want).max():.2g})")


@torch.no_grad()
def calibrate_norm(model: Detector, batches: Iterable[torch.Tensor]) -> Detector:
    """Set the batch norm to the conv outputs' per-channel mean and variance over `batches` of
    (B, T, F) log-mel, and its affine map to undo them: eval mode stays exactly what it was (for
    an imported model, the identity) and train mode's normalisation by batch statistics nearly so."""
    n = model.norm
    sums, sq, count = 0.0, 0.0, 0
    for x in batches:
        full = torch.cat([model.initial_state(x.shape[0], x.device)[0], x], dim=1)
        y = model.conv(model.conv_input(full))            # (B, C, T'), before the batch norm
        sums = sums + y.sum(dim=(0, 2))
        sq = sq + (y * y).sum(dim=(0, 2))
        count += y.shape[0] * y.shape[2]
    if count == 0:
        raise ValueError("calibrate_norm needs at least one batch")
    mean = sums / count
    var = (sq / count - mean * mean).clamp_min(0.0)
    # eval mode maps y to a y + d; the new statistics with weight a sqrt(var + eps) and bias a mean + d keep
    # that map, and train mode, normalising by a batch's own statistics, comes out near it
    a = n.weight / torch.sqrt(n.running_var + n.eps)
    d = n.bias - n.running_mean * a
    n.running_mean.copy_(mean)
    n.running_var.copy_(var)
    n.weight.copy_(a * torch.sqrt(var + n.eps))
    n.bias.copy_(a * mean + d)
    return model
