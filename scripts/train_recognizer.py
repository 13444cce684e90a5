#!/usr/bin/env python
"""Reproduce models/recognizer-en.onnx and models/recognizer-en.int8.onnx.

One command does everything (features, two training stages, export), on a GPU when there is one
(about 12 minutes of an H100; on one CPU thread it would take days):
    python scripts/train_recognizer.py all --data ../shared/data --synth cache/synth/sentences \
        --work runs/recognizer-en --models models

How the shipped model was made, step by step (features here, training on a GPU machine that
gets the features as a <64 MB transfer):
    # 1. features of the training audio, quantised and packed (~60 MB):
    python scripts/train_recognizer.py prepare --data ../shared/data --synth cache/synth/sentences --out .carry/asr
    #    (more synthetic folders and hours: --synth DIR DIR --synth-hours 14 --shard-hours 4 writes
    #    OUT/shardK/ folders of < 64 MB each; carry them to the GPU machine one per call, where they
    #    stay while it is warm, then `fit --features .carry/asr` reads them all)
    # 2. stage 1, full augmentation, epochs fitted to a time budget (it gave 41):
    python scripts/train_recognizer.py fit --features .carry/asr --out runs/stage1 --device cuda --minutes 8
    # 3. stage 2, milder augmentation, from stage 1's best weights (18 epochs scheduled; the
    #    shipped checkpoint is epoch 17, the run was stopped by its time limit in epoch 18):
    python scripts/train_recognizer.py fit --features .carry/asr --out runs/stage2 --device cuda --epochs 18 \
        --init runs/stage1/best.pt --augment light --fsdd-repeats 0.3 --synth-fraction 0.8 --warmup 100
    # 4. ONNX export, fp32 and int8:
    python scripts/train_recognizer.py export --checkpoint runs/stage2/best.pt --out models/recognizer-en.onnx

Training data: Kathleen `train`, FSDD `train` (../shared/data) and synthetic sentences of the
voices that are not held out (scripts/make_synth_data.py sentences). Kathleen `dev` and FSDD
`test` are never read here: they are what the model is measured on (speechseq eval recognizer).
A small validation slice of each training source (whole prompts, never a prompt on both
sides) is held out to pick the best epoch.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import types
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

try:  # a GPU machine without libsndfile can still train from packed features (no audio is read)
    import soundfile  # noqa: F401
except (ImportError, OSError):
    sys.modules["soundfile"] = types.ModuleType("soundfile")

import numpy as np  # noqa: E402

from speechseq.commands.common import bounded, names_stdout, output_dir, stdout_refused  # noqa: E402
from speechseq.frontend import FrontendConfig  # noqa: E402
from speechseq.train.featbank import FeatureBank  # noqa: E402

SOURCES = ("kathleen", "fsdd", "synth")
# Milder than AugmentConfig(): less noise, less reverberation, fewer masks (for fine-tuning).
LIGHT_AUGMENT_ARGS = dict(noise_prob=0.4, snr_db=(10.0, 40.0), reverb_prob=0.2, reverb_gain=(0.02, 0.2),
                          time_masks_per_s=0.3, freq_masks=1)
VAL_PERCENT = {"kathleen": 4, "fsdd": 4, "synth": 3}


def _val_side(key: str, percent: int) -> bool:
    return zlib.crc32(key.encode()) % 100 < percent


def prepare(args: argparse.Namespace) -> None:
    """Features of every training utterance (+ validation slices + noise) into args.out."""
    from speechseq.audio import load_audio
    from speechseq.train.data import load_manifest
    from speechseq.train.feataug import colored_noise_features
    from speechseq.train.featbank import featurize, quantize
    from speechseq.train.recognizer import FRONTEND

    data, out = Path(args.data), Path(args.out)
    given = getattr(args, "heldout_text", None)
    held_files = given or [Path(d) / "heldout.jsonl" for d in _as_list(args.synth or [])]
    for f in held_files if args.synth else []:  # one left out would be trained on, without a word
        if not Path(f).is_file():
            raise SystemExit(f"--heldout-text {f}: no such file" if given else
                             f"{f}: no such file (`make_synth_data.py sentences` writes it beside train.jsonl: its "
                             f"sentences are evaluation text; --heldout-text names the held-out manifests otherwise)")
    output_dir(out, "--out")
    written: list[Path] = []
    sets = {
        # Kathleen reads some prompts twice: split by prompt id so no prompt is on both sides.
        "kathleen": (load_manifest(data / "kathleen/manifest.jsonl", split="train"),
                     lambda u: Path(u.audio).name.split("_")[1]),
        # FSDD: split by take (speaker + take number), all digits of a take together.
        "fsdd": (load_manifest(data / "fsdd/manifest.jsonl", split="train"),
                 lambda u: "_".join(Path(u.audio).stem.split("_")[1:])),
    }
    if args.synth:
        synth = [u for d in _as_list(args.synth) for u in load_manifest(Path(d) / "train.jsonl")]
        if any(u.get("heldout") for u in synth):
            raise SystemExit("the synthetic train manifest holds held-out voices")
        # Held-out synthetic sentences are evaluation text: no training voice may say them either
        # (folders made with other seeds share the text pool); nor may one say a Kathleen dev prompt
        # (a folder made without --exclude-manifest holds them).
        synth, dropped = _without_evaluation_text(synth, data, held_files)
        print(f"synth: {dropped} of {len(synth) + dropped} utterances dropped (their text is held out or a "
              f"Kathleen dev prompt)", file=sys.stderr)
        rng = np.random.default_rng(0)
        order = rng.permutation(len(synth))
        keep, total = [], 0.0
        for i in order:  # at most --synth-hours of it, a random choice
            if total + synth[i].duration > args.synth_hours * 3600:
                continue
            keep.append(synth[i])
            total += synth[i].duration
        sets["synth"] = (keep, lambda u: u.text)
    for name, (utts, key) in sets.items():
        if any(u.split in ("dev", "test") for u in utts):
            raise SystemExit(f"{name}: evaluation audio in the training list")
        val = [u for u in utts if _val_side(key(u), VAL_PERCENT[name])]
        train = [u for u in utts if not _val_side(key(u), VAL_PERCENT[name])]
        for side, part in (("train", train), ("val", val)):
            bank = featurize(part, FRONTEND, name)
            for where, piece in _shards(bank, out, name, side, getattr(args, "shard_hours", None)):
                js, xz = piece.save(where)
                written.append(where)
                print(f"{where.parent.name}/{where.name}: {len(piece)} utterances, {piece.hours * 60:.1f} min, "
                      f"{xz.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    # Noise for augmentation: kitchen noise and white, pink and brown noise, 20 s each.
    feats = colored_noise_features(FRONTEND, extra=[load_audio(p) for p in sorted((data / "noise").glob("*.wav"))])
    bank = FeatureBank(quantize(feats), np.array([0, len(feats)]), ["noise"], ["noise"], FRONTEND.to_dict())
    bank.save(out / "noise")
    _remove_stale(out, written)


def _remove_stale(out: Path, written: list[Path]) -> None:
    """Remove the banks an earlier `prepare` left in `out` that this one did not write (a shardK/ of more shards,
    the synthetic banks of a run with --synth): `fit --features out` reads every bank there."""
    from speechseq.train.featbank import _files

    kept = {p for w in written for p in _files(w)}
    old = [out / f"{s}_{side}" for s in SOURCES for side in ("train", "val")]
    old += [d / "synth_train" for d in out.glob("shard*") if d.is_dir()]
    for bank in old:
        for f in _files(bank):
            if f not in kept and f.exists():
                f.unlink()
                print(f"removed {f} (an earlier prepare's)", file=sys.stderr)
        if bank.parent != out and bank.parent.is_dir() and not any(bank.parent.iterdir()):
            bank.parent.rmdir()


def _without_evaluation_text(utts: list, data: Path, held_files) -> tuple[list, int]:
    """`utts` (synthetic training utterances) without those whose text is evaluation text: a sentence of the
    held-out manifests `held_files` (each must exist), or a (near-)copy of a Kathleen `dev` prompt (matched
    after normalisation, as `make_synth_data.py sentences --exclude-manifest` leaves them out); and how many
    were dropped."""
    from speechseq.text import normalize
    from speechseq.train.manifests import load_manifest
    from speechseq.train.synth_sets import excluded_texts, is_evaluation_text

    held = frozenset(normalize(u.text) for f in held_files for u in load_manifest(f))
    kathleen = data / "kathleen" / "manifest.jsonl"
    dev = excluded_texts([str(kathleen)], ["dev"]) if kathleen.is_file() else []
    keep = [u for u in utts if not is_evaluation_text(u.text, held, dev)]
    return keep, len(utts) - len(keep)


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _shards(bank: FeatureBank, out: Path, name: str, side: str, shard_hours: float | None):
    """Where each piece of `bank` goes: out/NAME_SIDE, or with shard_hours (synthetic training side) the
    first shard there and the others in out/shardK/NAME_SIDE, each at most shard_hours of audio
    (so each folder fits one transfer to a GPU machine; `fit --features` takes them all)."""
    if not shard_hours or side != "train" or name != "synth" or bank.hours <= shard_hours:
        return [(out / f"{name}_{side}", bank)]
    secs = bank.lengths / FrontendConfig(**bank.frontend).frame_rate
    pieces, start, acc = [], 0, 0.0
    for i, d in enumerate(secs):
        if acc + d > shard_hours * 3600 and i > start:
            pieces.append(range(start, i))
            start, acc = i, 0.0
        acc += d
    pieces.append(range(start, len(secs)))
    return [(out / f"{name}_{side}" if k == 0 else out / f"shard{k}" / f"{name}_{side}", bank.subset(list(r)))
            for k, r in enumerate(pieces)]


def feature_dirs(features: Path | list[Path]) -> list[Path]:
    """The --features folders, each checked: one that is not there, not a folder or without any feature bank
    (a typo) is a SystemExit naming it, not passed over (the run would train on less data). NAME.shardK, as
    models/recognizer-en.md's stage commands pass it, is dropped with a note where NAME/shardK is there: it is
    read with NAME."""
    given = [Path(d) for d in _as_list(features)]
    dirs = []
    for d in given:
        name, _, shard = d.name.rpartition(".")
        whole = d.with_name(name) if name else d
        if not d.exists() and shard.startswith("shard") and whole in given and (whole / shard).is_dir():
            print(f"--features {d}: not there; {whole / shard} is read with {whole}", file=sys.stderr)
            continue
        if not d.exists():
            raise SystemExit(f"--features {d}: no such folder (`prepare --out DIR` makes one)")
        if not d.is_dir():
            raise SystemExit(f"--features {d}: not a folder (`prepare --out DIR` makes one)")
        if not any(d.glob("*.json")) and not any(d.glob("shard*/*.json")):
            raise SystemExit(f"--features {d}: no feature bank in it (`prepare --out DIR` writes them)")
        dirs.append(d)
    return dirs


def load_banks(features: Path | list[Path], sources=SOURCES, synth_fraction: float = 1.0
               ) -> tuple[FeatureBank, dict[str, FeatureBank], np.ndarray]:
    """Training banks of every source found in the feature folders (a folder's shardK/ subfolders
    too), the validation banks and the noise (from the first folder that has them)."""
    dirs = feature_dirs(features)
    dirs += [s for d in dirs for s in sorted(d.glob("shard*")) if s.is_dir() and s not in dirs]
    by_source: dict[str, list[FeatureBank]] = {}
    for s in sources:
        for d in dirs:
            if (d / f"{s}_train.json").exists():
                by_source.setdefault(s, []).append(FeatureBank.load(d / f"{s}_train"))
    if not by_source:
        raise SystemExit(f"no training features in {', '.join(map(str, dirs))} (make them: prepare --out DIR)")
    banks = []
    for s, parts in by_source.items():
        bank = FeatureBank.concat(parts)
        if s == "synth" and synth_fraction < 1.0:  # a fixed random share (seed 0)
            order = np.random.default_rng(0).permutation(len(bank))
            bank = bank.subset(sorted(order[: int(synth_fraction * len(bank))]))
        banks.append(bank)
    train = FeatureBank.concat(banks)

    def first(name: str) -> Path:
        for d in dirs:
            if (d / f"{name}.json").exists():
                return d
        raise SystemExit(f"no {name} features in {', '.join(map(str, dirs))} (`prepare --out DIR` writes them "
                         f"beside the training features)")

    val = {s: FeatureBank.load(first(f"{s}_val") / f"{s}_val") for s in by_source}
    noise = FeatureBank.load(first("noise") / "noise")[0]
    return train, val, noise


def _light():
    from speechseq.train.feataug import AugmentConfig

    return AugmentConfig(**LIGHT_AUGMENT_ARGS)


def fit(args: argparse.Namespace) -> None:
    """Train to a time budget: a few timed steps fit the number of epochs to --minutes. Rerun with the same --out,
    it resumes from OUT/last.pt with the epochs that run was fitted to (--epochs N: another number); other
    features or another model size there are an error."""
    import torch

    from speechseq.nn.recognizer import RecognizerConfig
    from speechseq.train.loop import LoopConfig
    from speechseq.train.recognizer import TrainOptions, calibrate, train_recognizer

    t_start = time.time()
    out = Path(args.out)
    features = feature_dirs(args.features)  # before any work (--out not made yet): a mistyped folder is no less data
    output_dir(out, "--out")
    train, val, noise = load_banks(features, synth_fraction=args.synth_fraction)
    print(f"train: {len(train)} utterances, {train.hours:.2f} h "
          f"{ {s: train.sources.count(s) for s in dict.fromkeys(train.sources)} }; "
          f"val: { {k: len(v) for k, v in val.items()} }", file=sys.stderr)
    model_cfg = RecognizerConfig(hidden=args.hidden, layers=args.layers, front=args.front, stride=args.stride,
                                 front_dim=args.front_dim, dropout=args.dropout)
    from speechseq.train.feataug import AugmentConfig

    augment = AugmentConfig() if args.augment == "full" else _light()
    opts = TrainOptions(batch_seconds=args.batch_seconds, workers=args.workers, augment=augment,
                        repeats={"kathleen": args.kathleen_repeats, "fsdd": args.fsdd_repeats,
                                 "synth": args.synth_repeats})
    init = None
    if args.init:
        ck = torch.load(args.init, map_location="cpu", weights_only=False)
        _same_model(ck.get("model_config"), model_cfg, f"--init {args.init}: a model of")
        init = ck["model"]
    last = _resumable(out, model_cfg, train)
    epochs = args.epochs
    if epochs is None and last is not None:  # the epochs its budget was fitted to: the same schedule goes on
        epochs = int(last["loop_config"]["epochs"])
        print(f"resuming {out / 'last.pt'}: its {epochs} epochs (fitted to its budget; --epochs N for another "
              f"number), no calibration", file=sys.stderr)
    if epochs is None:
        per_epoch = calibrate(train, val, model_cfg, opts, args.device, noise)
        left = args.minutes * 60 - (time.time() - t_start)
        epochs = max(1, int(0.9 * left / per_epoch))
        note = "" if left >= per_epoch else " (less than one epoch is left: one epoch is run anyway)"
        print(f"calibration: {per_epoch:.1f} s per epoch, {max(0.0, left):.0f} s left -> {epochs} epochs{note}",
              file=sys.stderr)
    loop_cfg = LoopConfig(epochs=epochs, lr=args.lr, device=args.device, warmup_steps=args.warmup,
                          ema_decay=args.ema, weight_decay=args.weight_decay)
    extra = {"training": {"device": args.device, "hardware": _hardware(args.device), "epochs": epochs,
                          "command": " ".join(sys.argv)}}
    extra["training"]["init"] = args.init
    extra["training"]["augment"] = args.augment
    train_recognizer(train, val, args.out, model_cfg, loop_cfg, opts, noise=noise, extra=extra,
                     progress=not args.quiet, init=init)
    print(f"training done in {(time.time() - t_start) / 60:.1f} min", file=sys.stderr)
    if args.slim:
        slim(Path(args.out) / "best.pt", Path(args.slim))


# RecognizerConfig fields -> the options of `fit` that set them (dropout may differ on a resume: no weight changes)
MODEL_OPTIONS = {"hidden": "--hidden", "layers": "--layers", "front": "--front", "front_dim": "--front-dim",
                 "stride": "--stride"}


def _same_model(was: dict | None, model_cfg, what: str, fix: str = "") -> None:
    """SystemExit naming the option when the model config `was` (a checkpoint's) is not that of these options."""
    now = model_cfg.to_dict()
    for key, value in (was or {}).items():
        if key != "dropout" and key in now and now[key] != value:
            option = MODEL_OPTIONS.get(key, key)
            raise SystemExit(f"{what} {option} {value}, not {now[key]}{fix}")


def _resumable(out: Path, model_cfg, train: FeatureBank) -> dict | None:
    """OUT/last.pt, which `fit` resumes from, or None; SystemExit when it holds a run of another model (a traceback
    in load_state_dict after the calibration) or of other features (trained on from the old run's weights)."""
    from speechseq.commands.runs import read_last
    from speechseq.train.recognizer import KIND

    ck = read_last(out)
    if ck is None:
        return None
    fix = f" ({out / 'last.pt'}): use a new --out, or delete {out} to start over"
    if not isinstance(ck, dict) or ck.get("kind") != KIND:
        raise SystemExit(f"{out} holds no recognizer run{fix}")
    _same_model(ck.get("model_config"), model_cfg, f"{out} was made with", fix)
    extra = ck.get("extra") or {}
    now = {s: train.sources.count(s) for s in dict.fromkeys(train.sources)}
    hours = round(train.hours, 3)
    if "train_sources" in extra and (extra["train_sources"], extra.get("train_hours")) != (now, hours):
        raise SystemExit(f"{out} holds a run on other features ({extra.get('train_hours')} h "
                         f"{extra['train_sources']}, now {hours} h {now}){fix}")
    return ck


def _hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    import platform

    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} thread(s)"


def slim(best: Path, out_dir: Path, part_mb: float = 15.0) -> None:
    """best.pt without optimizer and EMA state, cut into parts of < part_mb MB (transfer limits).
    Join with `cat best.slim.pt.part* > best.pt`."""
    import io

    import torch

    ck = torch.load(best, map_location="cpu", weights_only=False)
    keep = {k: ck[k] for k in ("kind", "model_config", "model", "epoch", "step", "history", "best", "extra",
                               "loop_config") if k in ck}
    buf = io.BytesIO()
    torch.save(keep, buf)
    raw = buf.getvalue()
    out_dir.mkdir(parents=True, exist_ok=True)
    size = int(part_mb * 1e6)
    for k in range(0, len(raw), size):
        (out_dir / f"best.slim.pt.part{k // size}").write_bytes(raw[k : k + size])
    print(f"slim checkpoint: {len(raw) / 1e6:.1f} MB in {(len(raw) + size - 1) // size} part(s)", file=sys.stderr)


def average(args: argparse.Namespace) -> None:
    """The mean of several checkpoints' weights (a "model soup" of runs fine-tuned from one start);
    with --features, each input and the mean are measured on the validation slices, so that the
    mean is kept only when it beats them (in session 5 it did not: the recogniser card)."""
    import torch

    from speechseq.train.loop import average_states, save_checkpoint
    from speechseq.train.recognizer import make_validate, recognizer_from_checkpoint

    if any(Path(p).resolve() == Path(args.out).resolve() for p in args.checkpoints):
        raise SystemExit(f"--out {args.out} is one of the --checkpoints: the mean would replace it (measure the mean "
                         f"before keeping it): write it elsewhere")
    cks = [torch.load(p, map_location="cpu", weights_only=False) for p in args.checkpoints]
    configs = {repr(ck.get("model_config")) for ck in cks}
    if len(configs) != 1 or any(ck.get("kind") != cks[0].get("kind") for ck in cks):
        raise SystemExit("these checkpoints are not of one model (different kinds or configs)")
    out = {k: cks[0][k] for k in ("kind", "model_config", "extra", "loop_config") if k in cks[0]}
    out["model"] = average_states([ck["model"] for ck in cks])
    out["averaged_from"] = [str(p) for p in args.checkpoints]
    # what export writes into the model's metadata: this command and the runs, not the first run's alone
    out["extra"] = {**(out.get("extra") or {}), "training": {
        "averaged_from": out["averaged_from"], "command": " ".join(sys.argv),
        "runs": [(ck.get("extra") or {}).get("training") for ck in cks]}}
    out["epoch"] = max(int(ck.get("epoch") or 0) for ck in cks)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, Path(args.out))
    print(f"wrote {args.out}: the mean of {len(cks)} checkpoints")
    if args.features:
        _, val, _ = load_banks([Path(f) for f in args.features])
        validate = make_validate(val)
        named = [*zip(args.checkpoints, cks), (args.out, out)]       # no checkpoint is read twice
        rows = [(str(p), validate(recognizer_from_checkpoint(ck, str(p)))) for p, ck in named]
        keys = ["val_wer", "val_cer", *sorted(k for k in rows[0][1] if k not in ("val_wer", "val_cer"))]
        print("| checkpoint | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
        for name, r in rows:
            print(f"| {name} | " + " | ".join(f"{r[k]:.2f}" for k in keys) + " |")


def export(args: argparse.Namespace) -> None:
    from speechseq.train.export_recognizer import export_checkpoint

    for p in export_checkpoint(args.checkpoint, args.out, int8=True):
        print(f"wrote {p} ({Path(p).stat().st_size / 1e6:.1f} MB)")


def _not_stdout(args: argparse.Namespace) -> None:
    """A one-line error where a path written to is '-', before any work: a file or folder "-" was made, not standard
    output (a model, a checkpoint and a folder are no text to read there)."""
    from speechseq.errors import SpeechseqError

    written = {"export": ("a model", "a file (.onnx)"), "average": ("a checkpoint", "a file (.pt)")}
    for option in ("out", "slim", "work", "models"):
        noun, name = written.get(args.step, ("a folder", "a folder")) if option == "out" else ("a folder", "a folder")
        if names_stdout(getattr(args, option, None)):
            raise SpeechseqError(stdout_refused(f"--{option}", noun, name))


def main() -> None:
    from speechseq.errors import SpeechseqError

    try:
        _run()
    except SpeechseqError as err:  # a missing manifest, an unreadable bank, an --out that is a file: one line
        sys.exit(f"train_recognizer.py: {err}")
    except OSError as err:  # a checkpoint or folder that cannot be read or written
        sys.exit(f"train_recognizer.py: {str(err.filename) + ': ' if err.filename else ''}{err.strerror or err}")


def _run() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="step", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    pp.add_argument("--synth", nargs="+", help="folders of `make_synth_data.py sentences` (train.jsonl)")
    pp.add_argument("--synth-hours", type=float, default=2.2)
    pp.add_argument("--out", default=".carry/asr")
    pp.add_argument("--heldout-text", nargs="+", metavar="MANIFEST",
                    help="synthetic utterances whose text is in these manifests are not trained on (default: every "
                         "--synth folder's heldout.jsonl; name fewer to keep more data, and evaluate only on those)")
    pp.add_argument("--shard-hours", type=float, help="split the synthetic training features into OUT and "
                    "OUT/shardK/ folders of at most this much audio each (about 2.3 h per 30 MB)")
    pf = sub.add_parser("fit")
    pf.add_argument("--features", nargs="+", default=[".carry/asr"],
                    help="feature folders from `prepare` (their shardK/ subfolders are read too)")
    pf.add_argument("--out", default="runs/recognizer-en")
    pf.add_argument("--slim", help="also write best.pt, slimmed and cut in parts, to this folder")
    pf.add_argument("--quiet", action="store_true", help="no progress bars")
    _fit_options(pf)
    ps = sub.add_parser("slim", help="best.pt without optimizer state, cut in parts (for transfers)")
    ps.add_argument("--checkpoint", required=True)
    ps.add_argument("--out", required=True)
    pv = sub.add_parser("average", help="average checkpoints' weights (optionally measured on the validation slices)")
    pv.add_argument("--checkpoints", nargs="+", required=True)
    pv.add_argument("--out", required=True)
    pv.add_argument("--features", nargs="+", help="feature folders (as for fit): validate each input and the mean")
    pe = sub.add_parser("export")
    pe.add_argument("--checkpoint", required=True)
    pe.add_argument("--out", default="models/recognizer-en.onnx")
    pa = sub.add_parser("all")
    pa.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    pa.add_argument("--synth", nargs="+")
    pa.add_argument("--synth-hours", type=float, default=2.2)
    pa.add_argument("--work", default="runs/recognizer-en")
    pa.add_argument("--models", default="models")
    pa.add_argument("--quiet", action="store_true")
    pa.add_argument("--stage2-epochs", type=int, default=18)
    _fit_options(pa)
    args = p.parse_args()
    _not_stdout(args)
    if args.step == "prepare":
        prepare(args)
    elif args.step == "fit":
        fit(args)
    elif args.step == "export":
        export(args)
    elif args.step == "slim":
        slim(Path(args.checkpoint), Path(args.out))
    elif args.step == "average":
        average(args)
    else:
        work = Path(args.work)
        prepare(argparse.Namespace(**{**vars(args), "out": str(work / "features")}))
        base = {**vars(args), "features": str(work / "features"), "slim": None, "minutes": None}
        # Stage 1: full augmentation from random weights. Stage 2: milder augmentation, from
        # stage 1's best weights, FSDD mostly left out (already learnt), 80% of the synthetic bank.
        fit(argparse.Namespace(**{**base, "out": str(work / "stage1"), "epochs": args.epochs or 41}))
        fit(argparse.Namespace(**{**base, "out": str(work / "stage2"), "epochs": args.stage2_epochs,
                                  "init": str(work / "stage1" / "best.pt"), "augment": "light",
                                  "fsdd_repeats": 0.3, "synth_fraction": 0.8, "warmup": 100}))
        export(argparse.Namespace(checkpoint=str(work / "stage2" / "best.pt"),
                                  out=str(Path(args.models) / "recognizer-en.onnx")))

def _fit_options(p: argparse.ArgumentParser) -> None:
    import torch

    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--minutes", type=bounded(float, gt=0), default=8.0, help="time budget (epochs fitted to it; a "
                   "resumed run keeps the epochs it was fitted to)")
    p.add_argument("--epochs", type=bounded(int, ge=1), help="fixed number of epochs instead of --minutes")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--front", default="conv", choices=("conv", "stack"))
    p.add_argument("--front-dim", type=int, default=256)
    p.add_argument("--stride", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.15)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--weight-decay", type=float, default=1e-2)
    p.add_argument("--batch-seconds", type=float, default=160.0, help="padded audio per batch")
    p.add_argument("--workers", type=int, default=min(8, max(0, (os.cpu_count() or 1) - 2)),
                   help="processes making batches (0: in the training process)")
    p.add_argument("--kathleen-repeats", type=float, default=2.0)
    p.add_argument("--augment", choices=("full", "light"), default="full")
    p.add_argument("--init", help="start from this checkpoint's weights (fine-tuning)")
    p.add_argument("--fsdd-repeats", type=float, default=1.0)
    p.add_argument("--synth-repeats", type=float, default=1.0)
    p.add_argument("--synth-fraction", type=bounded(float, gt=0, le=1), default=1.0,
                   help="use only this share of the synthetic bank")


if __name__ == "__main__":
    main()
