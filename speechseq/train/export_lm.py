"""Export the text side to ONNX step graphs (torch.onnx.export, dynamo=False), with metadata.

LM step graph (`export_lm`), B = rows (e.g. the beam), L layers, H units:
    inputs  tokens (B,) int64, state_h (B, L, H) [, state_c (B, L, H) for an LSTM]
    outputs log_probs (B, V), state_h_out [, state_c_out]
States are batch-first (the graph transposes to the RNN's layout), so a beam search reorders
them by indexing axis 0. Zeros are the state before <sos>.

Attention decoder step graph (`export_decoder`), Bm = 1 (one utterance shared by the B rows)
or B, T' encoder frames, E encoder size:
    inputs  memory (Bm, T', E) float, tokens (B,) int64, state_h (B, L, H), state_c (B, L, H),
            context (B, E)
    outputs log_probs (B, V), attention (B, T'), state_h_out, state_c_out, context_out
The attention keys are recomputed from `memory` at each step (one (T', E) x (E, A) product per
call, shared by the rows when Bm = 1).
"""
from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import torch

from ..files import written_atomically
from ..nn.text import AttentionDecoder, CharLM
from ..runtime.onnx import write_metadata, jsonable
from ..text import EOS, SOS, UNK, VOCAB

__all__ = ["export_lm", "export_decoder", "export_encoder", "export_checkpoint", "export_decoder_checkpoint", "OPSET"]

OPSET = 17


class _LMStep(torch.nn.Module):
    def __init__(self, model: CharLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: torch.Tensor, *state: torch.Tensor):
        st = tuple(s.transpose(0, 1).contiguous() for s in state)         # (B, L, H) -> (L, B, H)
        log_probs, new = self.model.step(tokens, st)
        return (log_probs, *(s.transpose(0, 1) for s in new))


def _state_names(n: int) -> list[str]:
    return ["state_h", "state_c"][:n]


def export_lm(model: CharLM, out: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write the LM step graph to `out` with its metadata, atomically (the graph is a CPU copy's in eval mode:
    the caller's model keeps its device and mode)."""
    out = Path(out)
    model = copy.deepcopy(model).cpu().eval()
    state = tuple(s.transpose(0, 1) for s in model.initial_state(2))
    names = _state_names(len(state))
    dyn = {"tokens": {0: "batch"}, "log_probs": {0: "batch"},
           **{n: {0: "batch"} for n in names}, **{n + "_out": {0: "batch"} for n in names}}
    with torch.no_grad(), warnings.catch_warnings(), written_atomically(out) as tmp:
        # torch's advice for LSTMs of any batch size is followed already (the initial states are inputs)
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        torch.onnx.export(_LMStep(model).eval(), (torch.tensor([SOS, 3]), *state), str(tmp), dynamo=False,
                          input_names=["tokens", *names], output_names=["log_probs", *(n + "_out" for n in names)],
                          dynamic_axes=dyn, opset_version=OPSET)
        _lm_metadata(tmp, model, names, meta)
    return out


def _lm_metadata(out: Path, model: CharLM, names: list[str], meta: dict | None) -> None:
    cfg = model.cfg
    write_metadata(out, jsonable({
        "kind": "lm", "format": 1, **(meta or {}), "model_config": cfg.to_dict(), "vocabulary": list(VOCAB),
        "sos": SOS, "eos": EOS, "unk": UNK, "states": {n: [cfg.layers, cfg.hidden] for n in names},
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "inputs": {"tokens": "(batch,) int64", **{n: "(batch, layers, hidden)" for n in names}},
        "outputs": {"log_probs": "(batch, vocabulary) next-symbol log-probabilities",
                    **{n + "_out": "(batch, layers, hidden)" for n in names}}}))


class _DecoderStep(torch.nn.Module):
    def __init__(self, model: AttentionDecoder) -> None:
        super().__init__()
        self.model = model

    def forward(self, memory, tokens, h, c, context):
        logits, weights, (h, c, context) = self.model.step(memory, self.model.keys(memory), tokens, (h, c, context))
        return torch.log_softmax(logits, dim=-1), weights, h, c, context


def export_decoder(model: AttentionDecoder, out: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write the attention decoder step graph to `out` with its metadata, atomically (the graph is a CPU copy's in
    eval mode: the caller's model keeps its device and mode)."""
    out = Path(out)
    model = copy.deepcopy(model).cpu().eval()
    cfg = model.cfg
    h, c, ctx = model.initial_state(2)
    memory = torch.randn(1, 7, cfg.enc_dim)
    names_in = ["memory", "tokens", "state_h", "state_c", "context"]
    names_out = ["log_probs", "attention", "state_h_out", "state_c_out", "context_out"]
    dyn = {"memory": {0: "mem_batch", 1: "frames"}, "attention": {0: "batch", 1: "frames"},
           **{n: {0: "batch"} for n in names_in[1:] + names_out if n != "attention"}}
    with torch.no_grad(), written_atomically(out) as tmp:
        torch.onnx.export(_DecoderStep(model).eval(), (memory, torch.tensor([SOS, 3]), h, c, ctx), str(tmp),
                          dynamo=False,
                          input_names=names_in, output_names=names_out, dynamic_axes=dyn, opset_version=OPSET)
        _decoder_metadata(tmp, model, meta)
    return out


def _decoder_metadata(out: Path, model: AttentionDecoder, meta: dict | None) -> None:
    cfg = model.cfg
    write_metadata(out, jsonable({
        "kind": "attention-decoder", "format": 1, **(meta or {}), "model_config": cfg.to_dict(),
        "vocabulary": list(VOCAB), "sos": SOS, "eos": EOS,
        "states": {"state_h": [cfg.layers, cfg.hidden], "state_c": [cfg.layers, cfg.hidden], "context": [cfg.enc_dim]},
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "inputs": {"memory": "(1 or batch, frames, enc_dim) recogniser BiLSTM outputs", "tokens": "(batch,) int64",
                   "state_h": "(batch, layers, hidden)", "state_c": "(batch, layers, hidden)",
                   "context": "(batch, enc_dim)"},
        "outputs": {"log_probs": "(batch, vocabulary)", "attention": "(batch, frames) attention weights",
                    "state_h_out": "(batch, layers, hidden)", "state_c_out": "(batch, layers, hidden)",
                    "context_out": "(batch, enc_dim)"}}))


def export_checkpoint(ckpt_path: str | os.PathLike, out: str | os.PathLike, int8: bool = False) -> list[str]:
    """`speechseq export` for checkpoints of kind "lm" (int8 is not offered: the LM is small and
    onnxruntime does not quantise its single-step LSTM usefully)."""
    from .lm import load_lm_checkpoint

    model, ck = load_lm_checkpoint(ckpt_path)
    extra = dict(ck.get("extra") or {})
    best = ck.get("best") or {}
    meta = {k: extra[k] for k in ("train_sentences", "train_chars", "heldout_sentences", "data", "recipe")
            if k in extra}
    meta["checkpoint_epoch"] = int(ck.get("epoch", 0))
    if best.get("select") == "val_ppl":
        meta["heldout_perplexity"] = round(float(best["score"]), 4)
    return [str(export_lm(model, out, meta))]


class _EncoderGraph(torch.nn.Module):
    def __init__(self, model) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor):
        from .joint import encoder_outputs

        log_probs, _, memory = encoder_outputs(self.model, features)
        return log_probs, memory


def export_encoder(recognizer, out: str | os.PathLike, meta: dict | None = None, frontend: dict | None = None) -> Path:
    """A recogniser graph (as speechseq.train.export_recognizer writes it, same metadata) with a
    second output `encoder_out` (B, T', E): the BiLSTM outputs the attention decoder reads (the caller's model
    keeps its device and mode), written atomically: the file at `out` stays as it was until the graph and its
    metadata are both written."""
    from ..runtime.onnx import make_session, read_metadata
    from .export_recognizer import export_recognizer

    out = Path(out)
    # one temporary file for both steps: the fallback's graph written over the recogniser's at `out`, then its
    # metadata, left a graph without metadata at `out` when it failed or was killed between them
    with written_atomically(out) as tmp:
        export_recognizer(recognizer, tmp, meta, frontend)
        if "encoder_out" in [o.name for o in make_session(tmp).get_outputs()]:
            return out  # the recogniser's own exporter already writes it (the block's end renames tmp to out)
        full = read_metadata(tmp)
        recognizer = copy.deepcopy(recognizer).cpu().eval()  # a copy's graph: the caller's model keeps its mode
        example = torch.randn(1, 100, recognizer.cfg.n_mels)
        with torch.no_grad():
            torch.onnx.export(_EncoderGraph(recognizer).eval(), (example,), str(tmp), input_names=["features"],
                              output_names=["log_probs", "encoder_out"], opset_version=OPSET, dynamo=False,
                              dynamic_axes={"features": {0: "batch", 1: "frames"},
                                            "log_probs": {0: "batch", 1: "steps"},
                                            "encoder_out": {0: "batch", 1: "steps"}})
        full.setdefault("outputs", {})["encoder_out"] = ("(batch, steps, 2 x hidden) BiLSTM outputs "
                                                         "(attention decoder memory)")
        write_metadata(tmp, jsonable(full))
    return out


def export_decoder_checkpoint(ckpt_path: str | os.PathLike, out: str | os.PathLike, int8: bool = False) -> list[str]:
    """`speechseq export` for "attention-decoder" checkpoints (-> the decoder step graph at `out`, with the
    encoder_probe its training recorded) and "joint" ones (-> the recogniser with encoder outputs at `out`, [its
    int8 twin,] and the decoder at OUT_STEM.decoder.onnx, with the probe of that recogniser)."""
    from .joint import KIND_JOINT, load_decoder_checkpoint

    decoder, ck = load_decoder_checkpoint(ckpt_path)
    extra = dict(ck.get("extra") or {})
    # a decoder-only run's encoder_probe (train_decoder's): the recogniser it read, checked when rescoring
    meta = {k: extra[k] for k in ("train_utterances", "train_hours", "joint", "data", "recipe", "encoder", "metrics",
                                  "encoder_probe") if k in extra}
    meta["checkpoint_epoch"] = int(ck.get("epoch", 0))
    out = Path(out)
    if ck["kind"] != KIND_JOINT:
        return [str(export_decoder(decoder, out, meta))]
    from ..nn.recognizer import build_recognizer
    from .export_recognizer import checkpoint_frontend, quantize_recognizer, twin_path

    rec = build_recognizer(ck["model_config"]["recognizer"])
    rec.load_state_dict({k.removeprefix("module.").removeprefix("recognizer."): v for k, v in ck["model"].items()
                         if k.removeprefix("module.").startswith("recognizer.")})
    frontend = checkpoint_frontend(ck, rec.cfg.n_mels, str(ckpt_path))
    paths = [export_encoder(rec.eval(), out, meta, frontend)]
    if int8:
        paths.append(quantize_recognizer(paths[0]))
    # the fingerprint of the recogniser written beside it, as scripts/train_decoder.py stores its own: without it
    # `transcribe --decoder auto` never chose rescoring for the pair, and --decoder rescore could not warn of another
    from ..runtime.onnx import make_session
    from ..runtime.text_decoder import encoder_probe

    probe = encoder_probe(make_session(paths[0]), rec.cfg.n_mels)
    paths.append(export_decoder(decoder, twin_path(out, "decoder"), {**meta, "encoder_probe": probe}))
    return [str(p) for p in paths]
