"""Export the latency-controlled (chunked) recogniser to ONNX, from a checkpoint or an offline ONNX file.

    python -m speechseq.train.export_streaming --from-onnx models/recognizer-en.onnx \\
        --out models/recognizer-en.stream.onnx [--int8]
    python -m speechseq.train.export_streaming --checkpoint runs/recognizer-en/best.pt --out ...

The graph (see speechseq.nn.streaming): inputs `chunk` (1, s C, F), `lookahead` (1, s R + k - s, F)
raw log-mel, `h`, `c` (L, 1, H) forward LSTM states; outputs `log_probs` (1, C + R, V), `h_out`,
`c_out`. C and R are free at run time (any chunk and look-ahead size). The metadata carries
kind "recognizer-stream", the front's geometry, the feature mean used to pad the stream's
edges, the frontend and the vocabulary. An offline fp32 ONNX file is a complete source: its
weights are read back into a torch `Recognizer` (checked against onnxruntime before export), so
the streaming twin of a shipped model needs no training checkpoint.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from ..errors import SpeechseqError
from ..files import written_atomically
from ..nn.recognizer import Recognizer, RecognizerConfig
from ..nn.streaming import ChunkedRecognizer
from ..runtime.onnx import ModelError, read_metadata, twin_path, untagged, write_metadata
from ..runtime.streaming_recognizer import source_digest
from ..text import CTC_SIZE, VOCAB
from .export_recognizer import _quiet_preprocessing_advice

__all__ = ["export_streaming", "quantize_streaming", "recognizer_from_checkpoint_file", "recognizer_from_onnx",
           "source_digest", "stream_path"]


def stream_path(offline: str | os.PathLike) -> Path:
    """models/x.onnx -> models/x.stream.onnx (`twin_path`'s rule: x.ONNX -> x.stream.ONNX)"""
    return twin_path(offline, "stream")


def _gates_onnx_to_torch(w: np.ndarray, hidden: int) -> np.ndarray:
    """ONNX LSTM gate blocks i, o, f, c -> torch's i, f, g(=c), o along axis 0."""
    i, o, f, c = (w[k * hidden : (k + 1) * hidden] for k in range(4))
    return np.concatenate([i, f, c, o], axis=0)


def recognizer_from_onnx(path: str | os.PathLike) -> tuple[Recognizer, dict]:
    """Rebuild the torch `Recognizer` of an fp32 offline export (speechseq.train.export_recognizer).

    Returns the model (eval mode) and the file's metadata. Raises ModelError for files that are not
    fp32 speechseq recognisers.
    """
    import onnx
    from onnx import numpy_helper

    meta = read_metadata(path)
    if meta.get("kind") != "recognizer" or "model_config" not in meta:
        raise ModelError(f"{path}: not a speechseq recognizer export (kind {meta.get('kind')!r})")
    if meta.get("quantization"):
        raise ModelError(f"{path}: a quantised model; export the streaming twin from the fp32 file")
    cfg = RecognizerConfig(**meta["model_config"])
    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t).copy() for t in graph.initializer}
    for node in graph.node:  # weights folded into Constant nodes by some exporters
        if node.op_type == "Constant" and node.output[0] not in init:
            for a in node.attribute:
                if a.name == "value":
                    init[node.output[0]] = numpy_helper.to_array(a.t).copy()
    model = Recognizer(cfg)
    sd = {k: v.clone() for k, v in model.state_dict().items()}
    sd["feat_mean"], sd["feat_std"] = torch.tensor(init["model.feat_mean"]), torch.tensor(init["model.feat_std"])
    lstms = [n for n in graph.node if n.op_type == "LSTM"]
    matmuls = [n for n in graph.node if n.op_type in ("MatMul", "Gemm")]
    adds = {i: n for n in graph.node if n.op_type == "Add" for i in n.input}
    if len(lstms) != cfg.layers:
        raise ModelError(f"{path}: {len(lstms)} LSTM node{'s' * (len(lstms) != 1)}, config says {cfg.layers} "
                         f"layer{'s' * (cfg.layers != 1)}")
    h = cfg.hidden
    for layer, node in enumerate(lstms):
        w, r, b = (init[node.input[k]] for k in (1, 2, 3))
        for d, suffix in enumerate(("", "_reverse")):
            sd[f"lstm.weight_ih_l{layer}{suffix}"] = torch.from_numpy(_gates_onnx_to_torch(w[d], h))
            sd[f"lstm.weight_hh_l{layer}{suffix}"] = torch.from_numpy(_gates_onnx_to_torch(r[d], h))
            sd[f"lstm.bias_ih_l{layer}{suffix}"] = torch.from_numpy(_gates_onnx_to_torch(b[d][: 4 * h], h))
            sd[f"lstm.bias_hh_l{layer}{suffix}"] = torch.from_numpy(_gates_onnx_to_torch(b[d][4 * h :], h))

    def linear(node) -> tuple[np.ndarray, np.ndarray]:
        weight = init[node.input[1]]
        if node.op_type == "Gemm":
            trans_b = any(a.name == "transB" and a.i for a in node.attribute)
            return (weight if trans_b else weight.T), init[node.input[2]]
        add = adds[node.output[0]]
        bias = next(init[i] for i in add.input if i in init)
        return weight.T, bias

    if cfg.front == "conv":
        sd["front.weight"] = torch.from_numpy(init["model.front.weight"])
        sd["front.bias"] = torch.from_numpy(init["model.front.bias"])
    else:
        sd["front.weight"], sd["front.bias"] = map(torch.from_numpy, linear(matmuls[0]))
    sd["out.weight"], sd["out.bias"] = map(torch.from_numpy, linear(matmuls[-1]))
    model.load_state_dict({k: torch.as_tensor(np.ascontiguousarray(v), dtype=torch.float32) for k, v in sd.items()})
    model.eval()
    _check_against_onnx(model, path)
    return model, meta


def recognizer_from_checkpoint_file(path: str | os.PathLike) -> tuple[Recognizer, dict]:
    """The model (eval mode) and the checkpoint of a recogniser training checkpoint. ModelError (one line) for a file
    torch cannot read as one or a checkpoint of another kind; OSError as it is (a missing file)."""
    from .recognizer import load_recognizer_checkpoint

    try:
        return load_recognizer_checkpoint(path)
    except (OSError, SpeechseqError):
        raise
    except ValueError as err:  # a checkpoint of another kind ("a 'detector' checkpoint, not a recognizer")
        raise ModelError(str(err)) from None
    except Exception as err:  # torch.load of a damaged file or of something else: pickle, zip, attribute errors
        raise ModelError(f"{path}: not a speechseq recognizer checkpoint ({err.__class__.__name__})") from None


def _check_against_onnx(model: Recognizer, path: str | os.PathLike, tol: float = 1e-3) -> None:
    from ..runtime.onnx import make_session

    x = np.random.default_rng(0).normal(size=(1, 123, model.cfg.n_mels)).astype(np.float32)
    x = x * model.feat_std.numpy() + model.feat_mean.numpy()
    ref = make_session(path).run(None, {"features": x})[0]
    with torch.no_grad():
        got = model(torch.from_numpy(x))[0].numpy()
    err = float(np.abs(ref - got).max())
    if err > tol:
        raise ModelError(f"{path}: weights read back from ONNX disagree with it (max |diff| {err:.2e})")


def export_streaming(model: Recognizer, out: str | os.PathLike, meta: dict | None = None, opset: int = 17) -> Path:
    """Write the chunked twin of `model` to `out` with its metadata, atomically (a file at `out` stays as it was
    until the new one is whole). `meta` adds to / overrides the metadata (pass the offline model's: frontend,
    training data, metrics). The graph is a CPU copy's in eval mode: the caller's model keeps its device and mode."""
    out = Path(out)
    net = ChunkedRecognizer(copy.deepcopy(model).cpu().eval())
    g, cfg = net.geometry, model.cfg
    h, c = net.initial_state()
    example = (torch.randn(1, g.stride * 4, cfg.n_mels), torch.randn(1, g.lookahead_frames(2), cfg.n_mels), h, c)
    base = {k: v for k, v in (meta or {}).items() if k not in ("inputs", "outputs", "quantization")}
    from .export_recognizer import recognizer_frontend

    frontend = recognizer_frontend(cfg.n_mels, base.get("frontend"))  # the bands the graph reads, before the file
    frame_rate = frontend["sample_rate"] / frontend["hop_length"]
    base.update({
        "kind": "recognizer-stream", "format": 1, "frontend": frontend, "model_config": cfg.to_dict(),
        "vocabulary": list(VOCAB[:CTC_SIZE]), "blank": 0, "stride": g.stride, "kernel": g.kernel, "left": g.left,
        "frame_shift_s": g.stride / frame_rate, "layers": cfg.layers, "hidden": cfg.hidden,
        "feat_mean": [float(v) for v in model.feat_mean.tolist()],
        "inputs": {"chunk": "(1, stride*C, n_mels) log-mel frames [s*j0 - left, s*(j0 + C) - left)",
                   "lookahead": "(1, stride*R + kernel - stride, n_mels) the frames after the chunk",
                   "h": "(layers, 1, hidden) forward LSTM state", "c": "(layers, 1, hidden) forward LSTM cell"},
        "outputs": {"log_probs": "(1, C + R, vocabulary): C final, R tentative",
                    "h_out": "(layers, 1, hidden)", "c_out": "(layers, 1, hidden)"},
    })
    with warnings.catch_warnings(), written_atomically(out) as tmp:
        # Known notes, shown by `python -m` of this module: torch's advice for LSTMs of any batch size is followed
        # already (the states are inputs), and the legacy exporter is chosen on purpose (dynamo=False: the new one
        # bakes the example's sequence length into the LSTM graph)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        torch.onnx.export(net, example, str(tmp), input_names=["chunk", "lookahead", "h", "c"],
                          output_names=["log_probs", "h_out", "c_out"], opset_version=opset, dynamo=False,
                          dynamic_axes={"chunk": {1: "chunk_frames"}, "lookahead": {1: "lookahead_frames"},
                                        "log_probs": {1: "steps"}})
        write_metadata(tmp, base)
    return out


def _unshare_lstm_weights(src: Path, dst: Path) -> None:
    """A copy of the graph in which no two LSTM nodes share a weight initializer.

    The forward LSTM of each layer runs twice (chunk, then look-ahead) on the same weights, and
    onnxruntime's quantiser quantises shared weights for one node only: the other would stay float.
    """
    import onnx

    model = onnx.load(str(src))
    inits = {t.name: t for t in model.graph.initializer}
    # The exporter shares a weight through Identity nodes: look through them.
    alias = {n.output[0]: n.input[0] for n in model.graph.node if n.op_type == "Identity" and n.input[0] in inits}
    seen: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "LSTM":
            continue
        for k, name in enumerate(node.input):
            name = alias.get(name, name)
            if name not in inits:
                continue
            node.input[k] = name
            if name in seen:
                copy = onnx.TensorProto()
                copy.CopyFrom(inits[name])
                copy.name = f"{name}_{node.name or id(node)}"
                model.graph.initializer.append(copy)
                node.input[k] = copy.name
            seen.add(name)
    used = {i for n in model.graph.node for i in n.input} | {o.name for o in model.graph.output}
    dead = [n for n in model.graph.node if n.op_type == "Identity" and n.output[0] not in used]
    for n in dead:
        model.graph.node.remove(n)
    used = {i for n in model.graph.node for i in n.input}
    for t in [t for t in model.graph.initializer if t.name not in used]:
        model.graph.initializer.remove(t)
    onnx.save(model, str(dst))


def quantize_streaming(fp32: str | os.PathLike, out: str | os.PathLike) -> Path:
    """int8 twin (onnxruntime quantize_dynamic: LSTM, MatMul, Gemm), metadata copied, written atomically."""
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    meta = read_metadata(fp32)
    meta["quantization"] = "int8 dynamic (onnxruntime quantize_dynamic: LSTM, MatMul, Gemm)"
    with tempfile.TemporaryDirectory() as tmp, written_atomically(Path(out)) as part:
        unshared = Path(tmp) / "unshared.onnx"
        _unshare_lstm_weights(Path(fp32), unshared)
        with _quiet_preprocessing_advice():
            quantize_dynamic(str(unshared), str(part), weight_type=QuantType.QInt8,
                             op_types_to_quantize=["LSTM", "MatMul", "Gemm"])
        write_metadata(part, meta)
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-onnx", metavar="ONNX", help="an fp32 offline recogniser export")
    src.add_argument("--checkpoint", metavar="PT", help="a recogniser training checkpoint (best.pt)")
    ap.add_argument("--meta-from", metavar="ONNX", help="with --checkpoint: the offline export this model belongs to "
                                                         "(its metadata is copied; the listener checks they match)")
    ap.add_argument("--out", help="output path (default: with --from-onnx x.onnx, x.stream.onnx next to it; "
                                  "with --checkpoint, recognizer.stream.onnx in the current folder)")
    ap.add_argument("--int8", action="store_true", help="also write the int8 twin (.stream.int8.onnx)")
    args = ap.parse_args(argv)
    if args.meta_from and not args.checkpoint:
        ap.error("--meta-from goes with --checkpoint (--from-onnx copies the metadata of the file it reads)")
    try:
        return _export(args)
    except (SpeechseqError, OSError, ValueError) as err:  # a file of another kind, missing or damaged: one line
        print(f"export_streaming: error: {err}", file=sys.stderr)
        return 1


def _check_meta_from(offline: dict, path: str, model: Recognizer, checkpoint: str) -> None:
    """ModelError unless `offline` (--meta-from's metadata) is an offline recogniser export of `model`'s network: its
    source_digest would stamp the twin as another model's, which `speechseq listen --model` it then takes for its own."""
    if offline.get("kind") != "recognizer":
        raise ModelError(f"{path}: not a speechseq recognizer export (kind {offline.get('kind')!r})")
    was, now = offline.get("model_config") or {}, model.cfg.to_dict()
    diffs = [f"{k} {was.get(k)!r}, not {v!r}" for k, v in now.items() if k != "dropout" and was.get(k) != v]
    if diffs:
        raise ModelError(f"{path}: the export of another network than {checkpoint}'s ({'; '.join(diffs)}): "
                         f"give the offline export of the model the checkpoint was trained from")


def _check_out(out: Path, sources: list[str], int8: bool, option: str = "--out") -> None:
    """ModelError where the files to write would replace one the export reads (the offline recogniser was replaced by
    its chunked twin), or with --int8 the fp32 twin would be written, then the int8 one over it. `option`: the one
    that names `out` (stream_finetune's --export)."""
    if int8 and twin_path(out, "int8") == out:
        raise ModelError(f"{option} {out} is the name of an int8 twin: with --int8 give the fp32 twin's name "
                         f"({untagged(out)}); its int8 twin is {out.name}")
    for target in [out] + ([twin_path(out, "int8")] if int8 else []):
        for src in sources:
            if target.resolve() == Path(src).resolve():
                raise ModelError(f"{target} is the source {src}: give {option} another name")


def _export(args: argparse.Namespace) -> int:
    from ..commands.common import output_file

    torch.set_num_threads(1)
    out = Path(args.out) if args.out else (stream_path(args.from_onnx) if args.from_onnx
                                           else Path("recognizer.stream.onnx"))
    output_file(args.out or out, "--out")  # a folder, before the work (the rename into it named a temporary file)
    _check_out(out, [p for p in (args.from_onnx, args.checkpoint, args.meta_from) if p], args.int8)
    if args.from_onnx:
        model, meta = recognizer_from_onnx(args.from_onnx)
        meta = {**meta, "source": Path(args.from_onnx).name, "source_digest": source_digest(meta)}
    else:
        model, ckpt = recognizer_from_checkpoint_file(args.checkpoint)
        extra = dict(ckpt.get("extra") or {})
        meta = {k: extra[k] for k in ("frontend", "train_hours", "train_sources", "data", "metrics") if k in extra}
        if args.meta_from:
            offline = read_metadata(args.meta_from)
            _check_meta_from(offline, args.meta_from, model, args.checkpoint)
            meta = {**offline, "source": Path(args.meta_from).name, "source_digest": source_digest(offline)}
        if "stream_finetune" in extra:
            hist = ckpt.get("history") or [{}]
            meta["stream_finetune"] = {**extra["stream_finetune"], "epoch": ckpt.get("epoch"),
                                       "val": {k: round(v, 2) for k, v in hist[-1].items() if "wer" in k}}
    paths = [export_streaming(model, out, meta)]
    if args.int8:
        paths.append(quantize_streaming(out, twin_path(out, "int8")))
    for p in paths:
        print(f"wrote {p} ({p.stat().st_size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
