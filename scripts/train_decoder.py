#!/usr/bin/env python
"""Reproduce models/decoder-en.onnx: the attention decoder that rescores the recogniser's n-best,
trained on CPU on the shipped recogniser's (frozen) encoder outputs.

    # 1. a recogniser graph that also outputs its BiLSTM states (same weights, same log-probs):
    python scripts/train_decoder.py encoder --checkpoint runs/recognizer-en/best.pt --out cache/dec/recognizer-mem.onnx
    # 2. encoder outputs of the training audio, decoder training, export:
    nice -n 10 python scripts/train_decoder.py fit --recognizer cache/dec/recognizer-mem.onnx \\
        --lm-checkpoint runs/lm-en/best.pt --data ../shared/data --synth cache/synth/sentences/train.jsonl \\
        --work runs/decoder-en --out models/decoder-en.onnx --epochs 25   # the shipped file's (default 15)

Training audio: Kathleen `train`, FSDD `train` and (optionally) synthetic sentences of the
non-held-out voices, the same sources as the recogniser. Kathleen `dev`, FSDD `test` and the
held-out voices are never read, nor is an utterance whose text is a held-out sentence
(heldout.jsonl beside --synth) or a Kathleen `dev` prompt (left out of a cached
memories.npz too). 4% of the training prompts (whole prompts) are held out to pick the
epoch. The decoder's embedding starts from the LM's (--lm-checkpoint).
"""
from __future__ import annotations

import argparse
import os
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _need(path: str | None, option: str, what: str) -> None:
    """SystemExit naming `option` unless `path` is a file: before any work, not a traceback after it."""
    if path is not None and not Path(path).is_file():
        raise SystemExit(f"{option} {path}: no such file ({what})")


def _not_stdout(args: argparse.Namespace) -> None:
    """SystemExit where --out (a model) or --work (a folder) is '-', before any work: a file or folder "-" was
    written, not standard output."""
    from speechseq.commands.common import names_stdout, stdout_refused

    if names_stdout(args.out):
        raise SystemExit(stdout_refused("--out", "a model", "a file (.onnx)"))
    if names_stdout(getattr(args, "work", None)):
        raise SystemExit(stdout_refused("--work", "a folder", "a folder"))


def _checkpoint(load, path: str, option: str):
    """load(path), a checkpoint of another kind or no checkpoint at all said in one line naming `option`."""
    import pickle

    try:
        return load(path)
    except (ValueError, KeyError, pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise SystemExit(f"{option} {path}: {err}") from None


def encoder(args: argparse.Namespace) -> int:
    from speechseq.train.export_lm import export_encoder
    from speechseq.train.recognizer import load_recognizer_checkpoint

    model, ck = _checkpoint(load_recognizer_checkpoint, args.checkpoint, "--checkpoint")
    extra = dict(ck.get("extra") or {})
    keys = ("train_hours", "train_sources", "data", "metrics", "recipe", "training")
    meta = {k: extra[k] for k in keys if k in extra}
    print(f"wrote {export_encoder(model, args.out, meta, extra.get('frontend'))}")
    return 0


def _utterances(args: argparse.Namespace):
    from speechseq.train.manifests import load_manifest

    data = Path(args.data)
    utts = list(load_manifest(data / "kathleen/manifest.jsonl", split="train"))
    utts += list(load_manifest(data / "fsdd/manifest.jsonl", split="train"))
    if args.synth:
        evaluation = _evaluation_text(args)
        synth = [u for u in load_manifest(args.synth) if not u.get("heldout") and not evaluation(u.text)]
        utts += synth[: args.synth_limit]
    return utts[:: args.every]


def _evaluation_text(args: argparse.Namespace):
    """text -> whether it is evaluation text, never trained on in any voice: a held-out synthetic sentence
    (heldout.jsonl beside --synth: a folder made with --n over its text pool has them in train.jsonl too) or
    a (near-)copy of a Kathleen dev prompt."""
    from speechseq.text import normalize
    from speechseq.train.manifests import load_manifest
    from speechseq.train.synth_sets import excluded_texts, is_evaluation_text

    held_file = Path(args.synth).parent / "heldout.jsonl" if args.synth else None
    held = frozenset(normalize(u.text) for u in load_manifest(held_file)) if held_file and held_file.is_file() \
        else frozenset()
    kathleen = Path(args.data) / "kathleen/manifest.jsonl"
    dev = excluded_texts([str(kathleen)], ["dev"]) if kathleen.is_file() else []
    return lambda text: is_evaluation_text(text, held, dev)


def _cache_source(args: argparse.Namespace, runner) -> dict:
    """What work/memories.npz is made of: the recogniser (its encoder_probe) and the utterances chosen."""
    from speechseq.runtime.text_decoder import encoder_probe

    synth = str(Path(args.synth).resolve()) if args.synth else None
    return {"encoder_probe": encoder_probe(runner.session, runner.frontend.n_mels),
            "data": str(Path(args.data).resolve()), "synth": synth,
            "synth_limit": args.synth_limit if synth else None, "every": args.every}


def _load_cache(cache: Path, source: dict) -> tuple[list, list, list]:
    """(mems, texts, keys) of a cache made from `source`; one made from another recogniser or other utterances
    is refused (training on it would stamp the decoder with a recogniser it never read). A cache written before
    its source was kept is used as it is."""
    import json

    import numpy as np

    with np.load(cache, allow_pickle=True) as z:
        made = json.loads(str(z["source"])) if "source" in z.files else None
        if made is not None:
            probe, want = made.get("encoder_probe") or [], source["encoder_probe"]
            differ = [k for k in source if k != "encoder_probe" and made.get(k) != source[k]]
            if len(probe) != len(want) or max((abs(a - b) for a, b in zip(probe, want)), default=0.0) > 0.05:
                differ.insert(0, "recogniser")
            if differ:
                raise SystemExit(f"{cache} holds encoder outputs made with another {', '.join(differ)}: "
                                 f"delete it (and the run there) or use another --work")
        return list(z["mems"]), list(z["texts"]), list(z["keys"])


def _check_resume(work: Path, model_config: dict) -> None:
    """SystemExit unless work/last.pt, where there is one, is a decoder run of this size: resuming one of another
    --hidden (or another LM's embedding, another recogniser's encoder size) was a torch traceback."""
    from speechseq.commands.runs import read_last
    from speechseq.train.joint import KIND_DECODER

    ck = read_last(work)
    if ck is None:
        return
    fix = f"use another --work, or delete {work} to start over"
    if not isinstance(ck, dict) or ck.get("kind") != KIND_DECODER:
        raise SystemExit(f"{work / 'last.pt'} is not an attention decoder's checkpoint: {fix}")
    before = ck.get("model_config") or {}
    names = {"hidden": "--hidden", "embed_dim": "an LM of embed_dim", "enc_dim": "a recogniser of encoder size"}
    for key, now in model_config.items():
        if key in before and before[key] != now:
            raise SystemExit(f"{work} holds a decoder made with {names.get(key, key)} {before[key]}, not {now}: {fix}")


def _save_cache(cache: Path, mems: list, texts: list, keys: list, source: dict) -> None:
    """Write the cache through a temp file and a rename: an interrupted write leaves no half-written cache."""
    import json

    import numpy as np

    arr = np.empty(len(mems), dtype=object)   # np.array(mems, dtype=object) is 3-D when all lengths agree
    arr[:] = mems
    tmp = cache.with_name(cache.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, mems=arr, texts=np.array(texts, dtype=str), keys=np.array(keys, dtype=str),
                 source=np.array(json.dumps(source)))
    os.replace(tmp, cache)


def fit(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from speechseq.audio import load_audio
    from speechseq.commands.eval_recognizer import plural
    from speechseq.errors import SpeechseqError
    from speechseq.nn.text import DecoderConfig
    from speechseq.runtime.posteriors import RecognizerRunner
    from speechseq.text import normalize
    from speechseq.train.export_lm import export_decoder_checkpoint
    from speechseq.train.joint import JointConfig, train_decoder
    from speechseq.train.lm import load_lm_checkpoint
    from speechseq.train.loop import LoopConfig

    torch.set_num_threads(1)
    lm, _ = _checkpoint(load_lm_checkpoint, args.lm_checkpoint, "--lm-checkpoint")  # before the encoder pass
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "memories.npz"
    runner = RecognizerRunner(args.recognizer)
    if not runner.has_memory:
        raise SystemExit(f"{args.recognizer} has no encoder_out output: run the `encoder` step first")
    source = _cache_source(args, runner)
    if cache.exists():
        mems, texts, keys = _load_cache(cache, source)
    else:
        mems, texts, keys = [], [], []
        utts = _utterances(args)
        for k, u in enumerate(utts):
            try:
                audio = load_audio(u.audio, runner.frontend.sample_rate)
            except SpeechseqError as err:  # one unreadable file is reported, the rest go on
                print(f"skipped: {err}", file=sys.stderr)
                continue
            _, mem = runner(audio)
            mems.append(mem.astype(np.float16))
            texts.append(normalize(u.text))
            keys.append(u.text)
            if k % 200 == 0:
                print(f"encoder outputs: {k}/{len(utts)}", file=sys.stderr, flush=True)
        _save_cache(cache, mems, texts, keys, source)
    evaluation = _evaluation_text(args)  # a cache made before the text was checked: checked here
    kept = [i for i, k in enumerate(keys) if not evaluation(str(k))]
    if len(kept) < len(keys):
        print(f"{plural(len(keys) - len(kept), 'cached utterance')} left out: their text is evaluation text",
              file=sys.stderr)
        mems, texts, keys = [mems[i] for i in kept], [texts[i] for i in kept], [keys[i] for i in kept]
    if not mems:
        raise SystemExit("no utterance to train the decoder on (every one unreadable or evaluation text)")
    val = [zlib.crc32(normalize(k).encode()) % 100 < 4 for k in keys]       # whole prompts held out
    train = ([m for m, v in zip(mems, val) if not v], [t for t, v in zip(texts, val) if not v])
    held = ([m for m, v in zip(mems, val) if v], [t for t, v in zip(texts, val) if v])
    cfg = DecoderConfig(embed_dim=lm.cfg.embed_dim, enc_dim=mems[0].shape[1], hidden=args.hidden, attn_dim=128,
                        dropout=0.2)
    print(f"{plural(len(train[0]), 'training utterance')}, {len(held[0])} held out", file=sys.stderr)
    if not train[0]:  # train_decoder refuses it (it kept the random weights as best.pt)
        raise SystemExit(f"no utterance to train the decoder on: all {len(held[0])} are of the 4 % of prompts held "
                         "out to choose the epoch (give more utterances: a smaller --every)")
    _check_resume(work, cfg.to_dict())
    from speechseq.runtime.onnx import read_metadata, write_metadata
    from speechseq.runtime.text_decoder import encoder_probe

    probe = encoder_probe(runner.session, runner.frontend.n_mels)  # which recogniser this decoder reads
    train_decoder(train, held, work, cfg, LoopConfig(epochs=args.epochs, lr=2e-3, ema_decay=0.995, warmup_steps=50),
                  JointConfig(ctc_weight=0.0, label_smoothing=0.1, memory_dropout=0.2), embedding=lm.embedding,
                  batch_frames=args.batch_frames,
                  extra={"encoder": Path(args.recognizer).name, "data": {"kathleen": "train", "fsdd": "train",
                                                                          "synth": bool(args.synth)}},
                  encoder_probe=probe)
    for p in export_decoder_checkpoint(work / "best.pt", args.out):
        meta = read_metadata(p)  # checked when rescoring (a run begun before checkpoints kept the probe has none)
        meta["encoder_probe"] = probe
        write_metadata(p, meta)
        print(f"wrote {p}")
    return 0


def main(argv: list[str] | None = None) -> int:
    from speechseq.commands.common import bounded   # a bad number is one usage line, not a traceback after the work

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="step", required=True)
    e = sub.add_parser("encoder", help="recogniser checkpoint -> ONNX with log_probs + encoder_out")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--out", required=True)
    f = sub.add_parser("fit", help="train the decoder on frozen encoder outputs and export it")
    f.add_argument("--recognizer", required=True, help="recogniser .onnx with an encoder_out output")
    f.add_argument("--lm-checkpoint", required=True, help="LM checkpoint whose embedding the decoder starts from")
    f.add_argument("--data", default="../shared/data")
    f.add_argument("--synth", default=None, help="synthetic sentences manifest (train.jsonl)")
    f.add_argument("--synth-limit", type=bounded(int, ge=0), default=3000)
    f.add_argument("--work", default="runs/decoder-en")
    f.add_argument("--out", default="models/decoder-en.onnx")
    f.add_argument("--every", type=bounded(int, ge=1), default=1, help="use every N-th utterance only (quick trials)")
    f.add_argument("--epochs", type=bounded(int, ge=1), default=15)
    f.add_argument("--hidden", type=bounded(int, ge=1), default=256)
    f.add_argument("--batch-frames", type=bounded(int, ge=1), default=12000)
    args = ap.parse_args(argv)
    _not_stdout(args)
    if args.step == "encoder":
        _need(args.checkpoint, "--checkpoint", "a recogniser training checkpoint, e.g. runs/recognizer-en/best.pt")
        return encoder(args)
    _need(args.recognizer, "--recognizer", "the `encoder` step writes it")
    _need(args.lm_checkpoint, "--lm-checkpoint", "the character LM's training checkpoint, e.g. runs/lm-en/best.pt")
    _need(args.synth, "--synth", "make_synth_data.py sentences' train.jsonl")
    return fit(args)


if __name__ == "__main__":
    from speechseq.errors import SpeechseqError

    try:
        sys.exit(main())
    except SpeechseqError as err:  # a model or manifest missing or damaged, a --work of another run: one line
        sys.exit(f"train_decoder.py: {err}")
