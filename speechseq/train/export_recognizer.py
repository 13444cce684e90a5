"""Export a trained recogniser to ONNX (fp32) and its int8 twin, with metadata.

The graph: input `features` (B, T, F) raw log-mel of the frontend named in the metadata;
output `log_probs` (B, T', V), T' = ceil(T / stride). Batch and time are dynamic (one utterance
per row, no padding: the graph has no lengths input). The int8 twin comes from
`onnxruntime.quantization.quantize_dynamic` (weights int8, activations quantised on the fly);
the LSTMs become DynamicQuantizeLSTM, the linear layers MatMulInteger; the convolution stays
float (ConvInteger is slower than float Conv in onnxruntime). The metadata (JSON under
"speechseq") holds the vocabulary, frontend constants, stride, sizes, training data and metrics.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import os
import warnings
from pathlib import Path

import torch

from ..errors import SpeechseqError
from ..files import written_atomically
from ..nn.recognizer import Recognizer, RecognizerConfig
from ..runtime.onnx import jsonable, twin_path, write_metadata
from ..text import CTC_SIZE, VOCAB
from .recognizer import FRONTEND, load_recognizer_checkpoint

__all__ = ["export_recognizer", "quantize_recognizer", "export_checkpoint", "int8_path", "twin_path",
           "recognizer_frontend", "checkpoint_frontend", "check_checkpoint"]


def int8_path(out: str | os.PathLike) -> Path:
    """models/x.onnx -> models/x.int8.onnx (models/x.ONNX -> models/x.int8.ONNX)"""
    return twin_path(out, "int8")


def _metadata(model: Recognizer, frontend: dict, meta: dict) -> dict:
    cfg = model.cfg
    frame_rate = frontend["sample_rate"] / frontend["hop_length"]
    return {"kind": "recognizer", "format": 1, **meta,
            "frontend": frontend, "model_config": cfg.to_dict(), "vocabulary": list(VOCAB[:CTC_SIZE]),
            "blank": 0, "stride": cfg.stride, "frame_shift_s": cfg.stride / frame_rate,
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "inputs": {"features": "(batch, frames, n_mels) log-mel"},
            "outputs": {"log_probs": "(batch, ceil(frames / stride), vocabulary) CTC log-probabilities",
                        "encoder_out": "(batch, ceil(frames / stride), 2 x hidden) BiLSTM outputs (attention decoder memory)"}}


def recognizer_frontend(n_mels: int, frontend: dict | None = None) -> dict:
    """The frontend an exported recogniser's metadata names: `frontend` (the one its features were made with), which
    must make the `n_mels` bands the model reads (ValueError otherwise: the file written would not load); without
    one, FRONTEND, the one `train recognizer` makes features with, at the model's bands (a hand-made model's other
    number included: the metadata said 80 while the graph read the model's, and the file failed to load)."""
    if frontend is None:
        return {**FRONTEND.to_dict(), "n_mels": n_mels}
    if frontend.get("n_mels") != n_mels:
        raise ValueError(f"the frontend makes {frontend.get('n_mels')!r} mel bands, the model reads {n_mels}")
    return frontend


def checkpoint_frontend(ckpt: dict, n_mels: int, name: str) -> dict:
    """The frontend of a recogniser checkpoint (`name` its file) whose model reads `n_mels` bands: the one its run
    recorded (extra.frontend), else FRONTEND where the model reads FRONTEND's bands (a run that recorded none made
    its features so); an error otherwise, naming the checkpoint: which frontend made its features is unknown."""
    frontend = (ckpt.get("extra") or {}).get("frontend")
    if frontend is not None and not isinstance(frontend, dict):
        raise SpeechseqError(f"{name}: its extra['frontend'] is not a table of frontend settings (a "
                             f"{type(frontend).__name__})")
    if frontend is None and n_mels != FRONTEND.n_mels:
        raise SpeechseqError(f"{name}: records no frontend (extra['frontend']), and its model reads {n_mels} mel "
                             f"bands, not the {FRONTEND.n_mels} of the frontend `train recognizer` makes features "
                             "with: which frontend made its features is unknown; add its settings to the checkpoint "
                             "(extra['frontend'] = FrontendConfig(...).to_dict()) and export again")
    try:
        return recognizer_frontend(n_mels, frontend)
    except ValueError:  # its bands are not the model's
        raise SpeechseqError(f"{name}: its frontend (extra['frontend']) makes {frontend.get('n_mels')!r} mel bands, "
                             f"its model reads {n_mels}: the exported model would not load") from None


def check_checkpoint(ckpt: dict, name: str) -> None:
    """What `speechseq export` checks of a recogniser or joint checkpoint before it writes anything: that the
    frontend of its recogniser is known (checkpoint_frontend). A model_config it cannot read is left to the export,
    which says what is wrong with it."""
    cfg = ckpt.get("model_config")
    if ckpt.get("kind") == "joint" and isinstance(cfg, dict):
        cfg = cfg.get("recognizer")
    n_mels = cfg.get("n_mels", RecognizerConfig.n_mels) if isinstance(cfg, dict) else None
    if isinstance(n_mels, int) and not isinstance(n_mels, bool):
        checkpoint_frontend(ckpt, n_mels, name)


def export_recognizer(model: Recognizer, out: str | os.PathLike, meta: dict | None = None,
                      frontend: dict | None = None, opset: int = 17) -> Path:
    """Write `model` to `out` (fp32) with its metadata, atomically: the frontend it names is `frontend`, or FRONTEND
    at the model's bands (recognizer_frontend). The graph is that of a CPU copy in eval mode: the caller's model
    keeps its device and its train/eval mode."""
    out = Path(out)
    frontend = recognizer_frontend(model.cfg.n_mels, frontend)  # before the file: a mismatch writes nothing
    model = copy.deepcopy(model).cpu().eval()
    example = torch.randn(1, 100, model.cfg.n_mels)
    with warnings.catch_warnings(), written_atomically(out) as tmp:
        # torch's note on LSTMs exported with a batch axis: the initial states are zeros made inside the graph at
        # the input's batch size, which onnxruntime runs at any batch size (tests/test_recognizer.py)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        torch.onnx.export(_Graph(model).eval(), (example,), str(tmp), input_names=["features"],
                          output_names=["log_probs", "encoder_out"], opset_version=opset, dynamo=False,
                          dynamic_axes={"features": {0: "batch", 1: "frames"}, "log_probs": {0: "batch", 1: "steps"},
                                        "encoder_out": {0: "batch", 1: "steps"}})
        write_metadata(tmp, jsonable(_metadata(model, frontend, meta or {})))
    return out


class _Graph(torch.nn.Module):
    """The exported computation: features (B, T, F) -> log_probs (B, T', V) and encoder_out
    (B, T', 2H), the BiLSTM outputs the attention decoder reads (speechseq.train.joint)."""

    def __init__(self, model: Recognizer) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from .joint import encoder_outputs

        log_probs, _, memory = encoder_outputs(self.model, features)
        return log_probs, memory


def quantize_recognizer(fp32: str | os.PathLike, out: str | os.PathLike | None = None) -> Path:
    """The int8 twin of an exported recogniser (metadata copied, "quantization" added), written atomically."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from ..runtime.onnx import read_metadata

    fp32 = Path(fp32)
    out = Path(out) if out is not None else int8_path(fp32)
    meta = read_metadata(fp32)
    meta["quantization"] = "int8 dynamic (onnxruntime quantize_dynamic: LSTM, MatMul, Gemm)"
    with written_atomically(out) as tmp:
        with _quiet_preprocessing_advice():
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["LSTM", "MatMul", "Gemm"])
        write_metadata(tmp, meta)
    return out


@contextlib.contextmanager
def _quiet_preprocessing_advice():
    """Without onnxruntime's "Please consider to run pre-processing before quantization" (logged on the root
    logger on every call, whatever the graph): the twin is quantised from the exported graph as it is, and
    tests/test_recognizer.py holds its posteriors to the fp32 model's."""

    def advice(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def export_checkpoint(ckpt_path: str | os.PathLike, out: str | os.PathLike, int8: bool = False) -> list[str]:
    """`speechseq export` for checkpoints of kind "recognizer": out (+ its .int8.onnx twin)."""
    model, ckpt = load_recognizer_checkpoint(ckpt_path)
    extra = dict(ckpt.get("extra") or {})
    meta = {k: extra[k] for k in ("train_hours", "train_sources", "data", "metrics", "recipe", "training")
            if k in extra}
    meta["checkpoint_epoch"] = int(ckpt.get("epoch", 0))
    paths = [export_recognizer(model, out, meta, checkpoint_frontend(ckpt, model.cfg.n_mels, str(ckpt_path)))]
    if int8:
        paths.append(quantize_recognizer(paths[0]))
    return [str(p) for p in paths]
