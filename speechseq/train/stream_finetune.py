"""Fine-tune a trained recogniser for chunked (latency-controlled) decoding, and export its streaming twin.

    python -m speechseq.train.stream_finetune --from-onnx models/recognizer-en.onnx --features .carry/asr \\
        --out runs/recognizer-en-stream --epochs 3 [--device cuda] [--export models/recognizer-en.stream.onnx --int8]

A BiLSTM trained on whole utterances has only seen backward states that start at the utterance's
end; in chunked mode they start at the end of a short look-ahead, and its partial text suffers.
Training on the chunked forward itself (speechseq.nn.streaming.chunked_forward, the same
computation as the exported graph, differentiable through the model's weights) with chunk and
look-ahead sizes drawn around the deployed ones fixes most of that. The offline CTC loss is
kept in the mix (weight --offline-weight) so that the fine-tuned weights stay sound for the whole
utterance too. The listener still decodes its final text with the offline model; this model only
produces the partials. Data: the feature banks of scripts/train_recognizer.py prepare (train and
validation splits of the same sources; evaluation audio is never in them). The shared training
loop gives checkpoints, resume, EMA and the curve; the best epoch is chosen by the chunked WER.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..frontend import FrontendConfig
from ..nn.recognizer import Recognizer
from ..nn.streaming import chunked_forward
from .feataug import augment_batch
from .featbank import FeatureBank
from .recognizer import FRONTEND, Batch, TrainOptions, collate, make_batches

__all__ = ["SETTINGS", "chunked_generators", "chunked_loss_fn", "chunked_validate", "main"]

KIND = "recognizer"
# (chunk, look-ahead) in output steps (20 ms at stride 2), drawn uniformly per batch.
SETTINGS: tuple[tuple[int, int], ...] = ((10, 5), (20, 5), (20, 10), (20, 20), (40, 10), (40, 20))


def _check_settings(settings: Sequence[tuple[int, int]]) -> None:
    """ValueError unless `settings` is one or more (chunk >= 1, look-ahead >= 0) pairs of integers: when they are
    made, not in the first batch or at the end of the first epoch (whose training a failing validation loses)."""
    if not settings:
        raise ValueError("no (chunk, look-ahead) settings to train or validate with")
    for pair in settings:
        ok = isinstance(pair, (tuple, list)) and len(pair) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
        if not ok or pair[0] < 1 or pair[1] < 0:
            raise ValueError(f"a (chunk, look-ahead) setting must be integer steps, chunk >= 1 and look-ahead >= 0, "
                             f"got {pair!r}")


def chunked_generators(opts: TrainOptions, device: str) -> dict:
    """The random generators of chunked_loss_fn, by name (train_loop keeps their state in last.pt): the
    augmentation's ("augment") and the chunk settings' ("settings")."""
    return {"augment": torch.Generator(device=device).manual_seed(opts.seed * 7919 + 1),
            "settings": np.random.default_rng(opts.seed)}


def chunked_loss_fn(opts: TrainOptions, noise: torch.Tensor | None, device: str, offline_weight: float,
                    settings: Sequence[tuple[int, int]] = SETTINGS, floor: float = FRONTEND.floor,
                    generators: dict | None = None) -> Callable[[torch.nn.Module, Batch], tuple]:
    """loss_fn(model, batch) for train_loop: chunked CTC (+ offline_weight x offline CTC). floor: the
    features' frontend floor; generators: chunked_generators' (None: fresh ones)."""
    _check_settings(settings)
    gens = generators if generators is not None else chunked_generators(opts, device)
    g, rng = gens["augment"], gens["settings"]
    noise_dev = None if noise is None else noise.to(device)

    def ctc(lp: torch.Tensor, out_len: torch.Tensor, batch: Batch) -> torch.Tensor:
        return torch.nn.functional.ctc_loss(lp.transpose(0, 1), batch.targets.to(device), out_len,
                                            batch.target_lengths.to(device), blank=0, reduction="mean",
                                            zero_infinity=True)

    def loss_fn(model: torch.nn.Module, batch: Batch) -> tuple[torch.Tensor, dict]:
        x, lengths = batch.features.to(device, non_blocking=True), batch.lengths.to(device)
        x = augment_batch(x, lengths, opts.augment, g, noise_dev, model.feat_mean, floor=floor)
        c, r = settings[int(rng.integers(len(settings)))]
        out_len = model.output_lengths(lengths).clamp(1)
        loss_chunked = ctc(chunked_forward(model, x, c, r, lengths), out_len, batch)
        logs = {"chunked": float(loss_chunked.detach())}
        loss = loss_chunked
        if offline_weight > 0:
            lp, out_len = model(x, lengths)
            loss_offline = ctc(lp, out_len, batch)
            loss = loss + offline_weight * loss_offline
            logs["offline"] = float(loss_offline.detach())
        return loss, logs

    return loss_fn


@torch.no_grad()
def _recognize(model: Recognizer, bank: FeatureBank, device: str, chunk: int | None, lookahead: int,
               batch: int = 32) -> list[str]:
    from ..runtime.decoding import greedy

    model.eval()
    order = np.argsort(bank.lengths)
    out: list[str] = [""] * len(bank)
    for k in range(0, len(order), batch):
        idx = order[k : k + batch]
        b = collate([bank[int(i)] for i in idx], ["" for _ in idx])
        x, lengths = b.features.to(device), b.lengths.to(device)
        lp = model(x, lengths)[0] if chunk is None else chunked_forward(model, x, chunk, lookahead, lengths)
        n = model.output_lengths(lengths).cpu().numpy()
        lp = lp.float().cpu().numpy()
        for j, i in enumerate(idx):
            out[int(i)] = greedy(lp[j, : n[j]]).text.strip()
    return out


def chunked_validate(banks: dict[str, FeatureBank], device: str, chunk: int = 20, lookahead: int = 10
                     ) -> Callable[[torch.nn.Module], dict]:
    """validate(model) -> {"val_wer" (chunked, the deployed setting), "offline_wer"} in percent."""
    from ..metrics import wer

    _check_settings([(chunk, lookahead)])

    def validate(model: torch.nn.Module) -> dict[str, float]:
        refs, chunked, offline = [], [], []
        for bank in banks.values():
            refs += bank.texts
            chunked += _recognize(model, bank, device, chunk, lookahead)
            offline += _recognize(model, bank, device, None, 0)
        return {"val_wer": 100 * wer(refs, chunked).rate, "offline_wer": 100 * wer(refs, offline).rate}

    return validate


def _load_banks(features: Path, val_limit: int) -> tuple[FeatureBank, dict[str, FeatureBank], torch.Tensor | None]:
    names = sorted(p.name.removesuffix("_train.json") for p in features.glob("*_train.json"))
    if not names:
        raise SystemExit(f"{features}: no *_train feature banks (scripts/train_recognizer.py prepare makes them)")
    train = FeatureBank.concat([FeatureBank.load(features / f"{n}_train") for n in names])
    val = {}
    for n in names:
        if (features / f"{n}_val.json").exists():
            bank = FeatureBank.load(features / f"{n}_val")
            val[n] = bank.subset(np.arange(min(len(bank), val_limit)))
    if not any(bank.texts for bank in val.values()):  # the best epoch is chosen by the validation WER
        raise SystemExit(f"{features}: no *_val feature banks with utterances beside the *_train ones "
                         f"(scripts/train_recognizer.py prepare makes both)")
    noise = None
    if (features / "noise.json").exists():
        noise = torch.from_numpy(np.ascontiguousarray(FeatureBank.load(features / "noise")[0]))
    return train, val, noise


def _sources(args: argparse.Namespace) -> dict[str, str | None]:
    """What a fine-tune starts from and trains on, as its last.pt records them: the source model (by its bytes, so
    a moved copy is the same) and the feature banks' folder."""
    import hashlib

    def digest(path: str | None) -> str | None:
        return None if path is None else hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]

    return {"--from-onnx": digest(args.from_onnx), "--checkpoint": digest(args.checkpoint),
            "--features": str(Path(args.features).resolve())}


def _options(args: argparse.Namespace) -> dict[str, float | int]:
    """The options that shape a fine-tune's training and its choice of best epoch, as its last.pt records them (a
    rerun may change --epochs and --device only)."""
    return {"--lr": args.lr, "--offline-weight": args.offline_weight, "--fraction": args.fraction,
            "--batch-seconds": args.batch_seconds, "--ema": args.ema, "--val-limit": args.val_limit}


def _check_resume(out: Path, sources: dict[str, str | None] | None = None,
                  options: dict[str, float | int] | None = None) -> None:
    """SystemExit unless OUT/last.pt, if there, is a stream fine-tune's of these `sources` (_sources): its kind is a
    recogniser training run's too, and resuming one of those would go on training it with the chunked loss, writing
    over its checkpoints (its best.pt chosen by the offline WER, then compared with chunked ones); one from another
    source model or features would go on with the old weights, and export them stamped with the new source.
    SpeechseqError for a last.pt torch cannot read, or one of other `options` (_options): its later epochs would be
    trained (and its best.pt chosen) by others, and the twin's metadata would give the rerun's as the fine-tune's."""
    from ..commands.runs import read_last, same_data
    from ..errors import SpeechseqError

    last = out / "last.pt"
    ck = read_last(out)
    if ck is None:
        return
    tune = (ck.get("extra") or {}).get("stream_finetune") if isinstance(ck, dict) else None
    if tune is None:
        raise SystemExit(f"{last} is not a stream fine-tune's checkpoint (a recogniser training run?): "
                         f"give another --out")
    same_data(out, tune.get("sources"), sources or {})  # runs written before the sources were kept: as they are
    was = tune.get("options") or {}                       # and before the options were
    for option, now in (options or {}).items():
        if option in was and was[option] != now:
            raise SpeechseqError(f"{out} holds a run made with {option} {was[option]:g}, not {now:g}: rerun with its "
                                 f"options to resume it (--epochs and --device may change), use a new --out, or "
                                 f"delete {out} to start over")


def main(argv: list[str] | None = None) -> int:
    from ..commands.common import bounded
    from ..errors import SpeechseqError

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-onnx", help="the fp32 offline recogniser export to start from")
    src.add_argument("--checkpoint", help="a recogniser training checkpoint to start from")
    ap.add_argument("--features", required=True, help="feature banks (scripts/train_recognizer.py prepare)")
    ap.add_argument("--out", required=True, help="run directory (checkpoints; rerun with the same options to resume: "
                                              "--epochs and --device may change)")
    ap.add_argument("--epochs", type=bounded(int, ge=1), default=3)
    ap.add_argument("--fraction", type=bounded(float, gt=0), default=0.5, help="share of the training data per epoch")
    ap.add_argument("--lr", type=bounded(float, gt=0), default=2e-4)
    ap.add_argument("--offline-weight", type=bounded(float, ge=0), default=0.3)
    ap.add_argument("--ema", type=bounded(float, ge=0, lt=1), default=0.99, help="EMA decay of the weights (0: none)")
    ap.add_argument("--batch-seconds", type=bounded(float, gt=0), default=320.0)
    ap.add_argument("--val-limit", type=bounded(int, ge=1), default=300, help="validation utterances per source")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--export", help="write the streaming twin of the best epoch here (.stream.onnx)")
    ap.add_argument("--int8", action="store_true", help="with --export: also the int8 twin")
    args = ap.parse_args(argv)
    if args.int8 and not args.export:
        ap.error("--int8 needs --export (the int8 twin is made of the exported streaming model)")
    try:
        with contextlib.ExitStack() as hold:   # OUT, once _run takes it
            return _run(args, hold)
    except (SpeechseqError, OSError) as err:  # a source or bank missing, damaged or of another kind: one line
        print(f"stream_finetune: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl+C or SIGTERM: the loop has said which epoch last.pt keeps (as `speechseq train`)
        print("stream_finetune: interrupted", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, hold: contextlib.ExitStack) -> int:
    from ..commands.common import checked_device
    from ..commands.runs import only_run, writable_out
    from ..runtime.onnx import twin_path
    from .loop import LoopConfig, load_checkpoint, train_loop

    checked_device(args.device)  # one line for a device torch cannot use, before any work
    if args.export:   # found before the fine-tune, not after it: a folder, or the source the twin would replace
        from ..commands.common import output_file
        from .export_streaming import _check_out

        _check_out(output_file(args.export, "--export"), [p for p in (args.from_onnx, args.checkpoint) if p],
                   args.int8, "--export")
    if args.device == "cpu":
        torch.set_num_threads(1)
    if args.from_onnx:
        from .export_streaming import recognizer_from_onnx

        from ..runtime.streaming_recognizer import source_digest

        model, meta = recognizer_from_onnx(args.from_onnx)
        meta = {**meta, "source": Path(args.from_onnx).name, "source_digest": source_digest(meta)}
    else:
        from .export_streaming import recognizer_from_checkpoint_file

        model, ck = recognizer_from_checkpoint_file(args.checkpoint)
        meta = {k: v for k, v in (ck.get("extra") or {}).items() if k in ("frontend", "data")}
    sources, options = _sources(args), _options(args)
    _check_resume(Path(args.out), sources, options)
    train, val, noise = _load_banks(Path(args.features), args.val_limit)
    bank_frontend = FrontendConfig(**train.frontend)
    if bank_frontend.n_mels != model.cfg.n_mels or (
            meta.get("frontend") is not None and FrontendConfig(**meta["frontend"]) != bank_frontend):
        raise SystemExit(f"the feature banks and the model use different frontends ({bank_frontend} and "
                         f"{meta.get('frontend') or f'n_mels={model.cfg.n_mels}'})")
    if meta.get("frontend") is None:  # a checkpoint that kept none: the features it is fine-tuned on say which
        meta["frontend"] = bank_frontend.to_dict()
    opts = TrainOptions(batch_seconds=args.batch_seconds, repeats={s: args.fraction for s in set(train.sources)})
    loop_cfg = LoopConfig(epochs=args.epochs, lr=args.lr, device=args.device, ema_decay=args.ema or None)
    validate = chunked_validate(val, args.device)
    Path(args.out).mkdir(parents=True, exist_ok=True)   # held from here (its checks done): a second fine-tune into
    hold.enter_context(only_run(Path(args.out)))        # OUT is refused, as the training commands refuse one
    writable_out(Path(args.out))                         # a full disk found now, not at the first checkpoint
    if not (Path(args.out) / "last.pt").exists():
        model.to(args.device)
        print(f"before fine-tuning: {validate(model)}", file=sys.stderr)
    extra = {"stream_finetune": {"settings": SETTINGS, "offline_weight": args.offline_weight, "source": meta.get("source"),
                                 "sources": sources, "options": options, "command": " ".join(sys.argv)},
             "frontend": meta.get("frontend")}
    gens = chunked_generators(opts, args.device)
    loss_fn = chunked_loss_fn(opts, noise, args.device, args.offline_weight,
                              floor=FrontendConfig(**train.frontend).floor, generators=gens)
    train_loop(model, lambda e: make_batches(train, e, opts), loss_fn, validate, args.out, KIND, model.cfg.to_dict(),
               loop_cfg, select="val_wer", mode="min", extra=extra, generators=gens)
    if args.export:
        from .export_streaming import export_streaming, quantize_streaming

        best = load_checkpoint(Path(args.out) / "best.pt")
        model.load_state_dict(best["model"])
        model.cpu().eval()
        hist = best.get("history") or [{}]
        meta = {**meta, "stream_finetune": {k: v for k, v in extra["stream_finetune"].items() if k != "sources"},
                "stream_metrics": {k: v for k, v in hist[-1].items() if "wer" in k}}
        out = export_streaming(model, args.export, meta)
        if args.int8:
            quantize_streaming(out, twin_path(out, "int8"))  # the name the listener looks for
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:  # a GPU machine without libsndfile can still train from feature banks (no audio is read)
        import soundfile  # noqa: F401
    except (ImportError, OSError):
        import types

        sys.modules["soundfile"] = types.ModuleType("soundfile")
    sys.exit(main())
