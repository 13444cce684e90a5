"""`speechseq train recognizer`: train a BiLSTM + CTC recogniser from manifests.

    speechseq train recognizer --manifest ../shared/data/kathleen/manifest.jsonl@train \\
        --manifest cache/synth/sentences/train.jsonl --out runs/my-recognizer --epochs 30
    speechseq export runs/my-recognizer/best.pt --out models/my-recognizer.onnx --int8

--manifest PATH@SPLIT takes that split of PATH alone; --split S takes split S of every --manifest without its own
@SPLIT; a manifest with neither gives every row but those of the evaluation splits (dev, test, validation). Each
manifest's count of training utterances is said before training. A clip that is missing or cannot be read is
reported on one line and left out. Features are computed once (and cached in OUT/features) and augmented on the fly.
Rerunning the same command resumes from OUT/last.pt (other manifests, another model size, or another --lr, --seed,
--batch-seconds, --repeat, augmentation or number of processes (torchrun --nproc-per-node): an error; --epochs
may grow, but raised on a finished run, the learning rate's cosine decay is stretched over the new total: the rate
jumps from its floor (5 % of --lr) back to about half of --lr for twice the epochs, and decays again; give the
whole --epochs from the start to keep one decay). Validation WER/CER is measured each epoch on
--val-manifest (PATH@SPLIT: that split of it, as --manifest takes one), or on a small slice held out from the
training manifests; OUT/best.pt keeps the best epoch and OUT/curve.png the training curve. The updates the run will
make (epochs x batches an epoch) are said before training; a run that ends with its best validation WER over 50 %
and still improving is said to be maybe undertrained, with the rerun that trains it on. For several processes:
torchrun --nproc-per-node N -m speechseq.train.ddp ... (see speechseq/train/ddp.py).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import math
import os
import shlex
import sys
import zlib
from collections import Counter
from pathlib import Path

from ..errors import SpeechseqError
from ..splits import EVAL_SPLITS
from .common import HelpFormatter, bounded, checked_device, draws_bars, require_torch, seed_arg, warn
from .runs import held_out, resumable, run_path
from .undertrained import said_undertrained


# RecognizerConfig fields -> the options that set them (to name them when a rerun differs)
OPTIONS = {"hidden": "--hidden", "front_dim": "--hidden", "layers": "--layers", "stride": "--stride",
           "front": "--front"}


EXAMPLES = """examples:
  speechseq train recognizer --manifest ../shared/data/kathleen/manifest.jsonl --split train --out runs/rec
  speechseq train recognizer --manifest kathleen/manifest.jsonl@train --manifest synth/train.jsonl --out runs/mix
  speechseq train recognizer --manifest corpus-a.jsonl --manifest corpus-b.jsonl --repeat 1 --repeat 3 --out runs/rec2"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recognizer", epilog=EXAMPLES, help="train a BiLSTM + CTC speech recogniser",
                       description=__doc__, formatter_class=HelpFormatter)
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", action="append", required=True, metavar="PATH[@SPLIT]", type=manifest_arg,
                   help="training manifest or corpus directory (repeat to mix several); PATH@SPLIT: only that split "
                        "of this one (e.g. kathleen/manifest.jsonl@train beside a synth train.jsonl, whose rows name "
                        "no split)")
    p.add_argument("--split", help="only this split of every --manifest without its own @SPLIT (a manifest without a "
                   "row of it is an error that names the splits it has); without either, every row but those of "
                   "the evaluation splits dev, test and validation ('': the same as leaving it out)")
    p.add_argument("--repeat", action="append", type=bounded(float, ge=0), metavar="R",
                   help="times each --manifest is used per epoch, in order (default 1 each)")
    p.add_argument("--val-manifest", metavar="PATH[@SPLIT]", type=manifest_arg,
                   help="validation manifest (default: 3%% held out of training); PATH@SPLIT: only that split of it, "
                        "as --manifest PATH@SPLIT takes one")
    p.add_argument("--val-split", help="only this split of --val-manifest, as its @SPLIT (without either: every row "
                   "but those of the evaluation splits dev, test and validation)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, curve, features cache)")
    p.add_argument("--epochs", type=bounded(int, ge=1), default=30, help="passes over the training manifests")
    p.add_argument("--lr", type=bounded(float, gt=0), default=1.5e-3, help="peak learning rate")
    p.add_argument("--batch-seconds", type=bounded(float, gt=0), default=160.0, help="padded audio per batch")
    p.add_argument("--hidden", type=bounded(int, ge=1), default=256, help="LSTM units per direction")
    p.add_argument("--layers", type=bounded(int, ge=1), default=3, help="stacked bidirectional LSTM layers")
    p.add_argument("--stride", type=bounded(int, ge=1), default=2,
                   help="frame-rate reduction of the front (100 / stride outputs a second; the conv front's kernel is 5 "
                        "frames, or the odd number at or above a longer stride)")
    p.add_argument("--front", choices=("conv", "stack"), default="conv",
                   help="strided convolution or frame stacking before the LSTMs")
    p.add_argument("--no-augment", action="store_true", help="no SpecAugment, noise, speed or reverberation")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--workers", type=bounded(int, ge=0), default=0, help="processes making batches")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="random seed (initial weights, batches, augmentation)")


def manifest_split(text: str, option: str = "--manifest") -> tuple[str, str | None]:
    """(path, split) of a --manifest (or --val-manifest: `option`) PATH[@SPLIT]; split None where none is named. A
    file or folder whose own name holds an '@' is that path (as is TEXT whose part after the last '@' holds a '/': no
    split name does)."""
    path, at, split = text.rpartition("@")
    if not at or Path(text).exists() or "/" in split or os.sep in split:
        return text, None
    if not path or not split.strip():
        raise SpeechseqError(f"{option} {text}: give it as PATH@SPLIT (e.g. manifest.jsonl@train), or PATH alone "
                             "for every row but those of the evaluation splits")
    return path, split


def manifest_arg(text: str) -> str:
    """argparse's check of a --manifest or --val-manifest (manifest_split): the text as given."""
    try:
        manifest_split(text)
    except SpeechseqError as err:
        raise argparse.ArgumentTypeError(str(err).split(": ", 1)[1]) from None
    return text


def _selected(args: argparse.Namespace) -> list[tuple[str, str | None]]:
    """Each --manifest's path and the split taken of it: its own @SPLIT, else --split, else None (every row but
    those of the evaluation splits). An empty --split names none (an unset variable), as tune fusion's: the default,
    where it took the rows of split '' ("no utterances")."""
    picked = [manifest_split(m) for m in args.manifest]
    return [(path, (args.split or None) if split is None else split) for path, split in picked]


def _val_selected(args: argparse.Namespace) -> tuple[str, str | None] | None:
    """--val-manifest's path and the split taken of it: its own @SPLIT, else --val-split, else None (every row but
    those of the evaluation splits; an empty --val-split too, as --split); None without --val-manifest."""
    if not args.val_manifest:
        return None
    path, split = manifest_split(args.val_manifest, "--val-manifest")
    return path, (args.val_split or None) if split is None else split


def _sources(args: argparse.Namespace) -> dict:
    """What the run is trained and validated on (runs.run_path), kept in OUT/last.pt to compare on a rerun:
    the feature cache is named by position (m0, m1, val), so other data would resume on the old features. One
    split for every manifest is recorded as --split was before @SPLIT (runs made then resume); else one each.
    --val-manifest PATH@SPLIT is recorded as PATH with --val-split SPLIT (the same rows)."""
    out, picked, val = Path(args.out), _selected(args), _val_selected(args)
    splits = [split for _, split in picked]
    return {"--manifest": [run_path(m, out) for m, _ in picked],
            "--split": splits[0] if len(set(splits)) == 1 else [s if s is not None else "(none)" for s in splits],
            "--val-manifest": run_path(val[0], out) if val else None,
            "--val-split": val[1] if val else None}


def _cached(cache: Path, name: str, manifest: str, split: str | None, source: str):
    """The feature bank of a manifest's rows (of `split`): from the cache when made from them (as
    OUT/features/sources.json records) as they are now (stamps.json: `_stamp`), or as they were when OUT/last.pt
    keeps a training on them (with a warning when the manifest has changed since); else made and cached. An error,
    and nothing written, when no utterance is left."""
    import json

    from ..text import normalize
    from ..train.featbank import FeatureBank, featurize
    from ..train.recognizer import FRONTEND
    from .eval_recognizer import load_utterances

    path, stamps = cache / "sources.json", cache / "stamps.json"
    record = json.loads(path.read_text()) if path.exists() else {}
    made_from, stamp = [str(Path(manifest).resolve()), split], _stamp(manifest)
    was = _stamps(stamps).get(name)  # None: made before stamps were kept
    kept = (cache.parent / "last.pt").exists()  # a run resumes on the features it was trained on
    if (cache / f"{name}.json").exists() and record.get(name, made_from) == made_from and (was == stamp or kept):
        if was not in (stamp, None):  # unrecorded: older runs
            warn(f"{manifest} has changed since the features of {cache.parent} were made from it: the run resumes on "
                 "those (use a new --out to train on it as it is now)")
        return FeatureBank.load(cache / name)
    utts, skipped = load_utterances(manifest, split)  # a missing or unreadable clip: one line, and left out
    where = manifest + (f" (split {split!r})" if split else "")
    if not utts:
        raise SpeechseqError(f"{manifest}: no utterances" + (f" in split {split!r}" if split else "")
                             + (f" that can be read ({skipped} skipped)" if skipped else "")
                             + (_splits_held(manifest, name) if split and not skipped else ""))
    if split is not None and name != "val":
        _say_left_out(manifest, split, len(utts))
    if split is None:  # evaluation rows (Kathleen dev, FSDD test) are trained and validated on only when named
        evaluation = sum(u.split in EVAL_SPLITS for u in utts)
        if evaluation == len(utts):
            named = "PATH@SPLIT or --split" if name != "val" else "PATH@SPLIT or --val-split"
            raise SpeechseqError(f"{manifest}: every row is of an evaluation split ({'/'.join(EVAL_SPLITS)}), never "
                                 f"used unless named: give the split ({named})")
        if evaluation:
            warn(f"{manifest}: {evaluation} row{'s' * (evaluation != 1)} of the evaluation splits "
                 f"({'/'.join(EVAL_SPLITS)}) left out; "
                 + ("--manifest PATH@S would take split S alone (--split S: of every --manifest)" if name != "val"
                    else "--val-manifest PATH@S (or --val-split S) would take split S alone"))
            utts = [u for u in utts if u.split not in EVAL_SPLITS]
    if not any(normalize(u.text) for u in utts):
        raise SpeechseqError(f"{where}: no utterance has text in a-z ' after normalisation ({len(utts)} row"
                              f"{'s' * (len(utts) != 1)})")
    bank = featurize(utts, FRONTEND, source, progress=draws_bars())
    if not len(bank):
        raise SpeechseqError(f"{where}: no utterance left of {len(utts)} row{'s' * (len(utts) != 1)} (see the "
                             f"warning above)")
    (cache / f"{name}.json").unlink(missing_ok=True)  # features of other data never outlive their record
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**record, name: made_from}, indent=1))
    stamps.write_text(json.dumps({**_stamps(stamps), name: stamp}, indent=1))
    bank.save(cache / name)
    return bank


def _split_counts(manifest: str) -> Counter | None:
    """How many rows of each split (None: a row that names none) the manifest holds, its missing clips counted
    (None where it cannot be read whole: a Common Voice folder needs a split)."""
    import warnings

    from ..train.data import load_manifest

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # said once already, as the rows were loaded
            return Counter(u.split for u in load_manifest(manifest, skip_missing=True))
    except SpeechseqError:
        return None


def _shown(counts: Counter) -> str:
    return ", ".join(f"{'no split' if s is None else repr(s)} {n}" for s, n in sorted(
        counts.items(), key=lambda kv: (kv[0] is None, kv[0] or "")))


def _splits_held(manifest: str, name: str) -> str:
    """The end of the error for a split the manifest has no row of: the splits it holds."""
    counts = _split_counts(manifest)
    if not counts:
        return ""
    how = ("; --manifest PATH@SPLIT names one manifest's split, --split that of every --manifest without one, and "
           "PATH alone takes every row but those of the evaluation splits") if name != "val" else ""
    return f" (its rows: {_shown(counts)}){how}"


def _say_left_out(manifest: str, split: str, taken: int) -> None:
    """One line for the rows of other splits a --manifest's split leaves out, a warning where some name no split
    (a manifest mixed of rows with and without one lost those silently)."""
    counts = _split_counts(manifest)
    if not counts:
        return
    counts.pop(split, None)
    if counts:
        print(f"{manifest}: {taken} row{'s' * (taken != 1)} of split {split!r} taken; left out: {_shown(counts)}",
              file=sys.stderr)
    if counts.get(None):
        one = counts[None] == 1
        warn(f"{manifest}: {counts[None]} {'row that names' if one else 'rows that name'} no split left out by split "
             f"{split!r} (give this manifest "
             f"without @{split} and --split for them too: every row but those of the evaluation splits)")


def _stamps(path: Path) -> dict:
    """OUT/features/stamps.json: {} when there is none, or none that can be read (left empty by a full disk or a
    kill as it was written, it was a JSONDecodeError traceback at every later run), as for features made before
    stamps were kept: made again unless OUT/last.pt keeps a training on them."""
    import json

    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _stamp(manifest: str) -> str:
    """The state of a manifest: of its file, what it holds (a file written again with the same rows, as `synth
    sentences` writes its train.jsonl at every run, is the same); of a folder (of a Kaldi wav.scp: of its data dir),
    the sizes and modification times of everything under it. Another stamp once it is edited, or once files are
    added to its folder, removed or changed."""
    root = Path(manifest)
    root = root.parent if root.name == "wav.scp" else root
    digest = hashlib.sha1()
    if root.is_file():
        with contextlib.suppress(OSError), open(root, "rb") as f:  # (unreadable: said when it is loaded)
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()[:16]
    top = os.fsencode(root)  # bytes: a name that is no UTF-8 was a traceback
    for folder, subfolders, names in os.walk(top):  # (not rglob and relative_to: 0.75 against 1.3 s for 100,000 files)
        subfolders.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            with contextlib.suppress(OSError):  # removed meanwhile, a broken link: the listing changed all the same
                st = os.stat(path)
                digest.update(os.path.relpath(path, top) + f"\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _val_split_used(args: argparse.Namespace) -> None:
    """--val-split names a split of --val-manifest: without one it would be ignored, and beside its own @SPLIT one of
    the two would be."""
    if args.val_split and not args.val_manifest:   # '': the default, as --split's
        raise SpeechseqError(f"--val-split {args.val_split} needs --val-manifest (without it, validation is held out "
                             "of the training manifests' rows)")
    if args.val_split and manifest_split(args.val_manifest, "--val-manifest")[1] is not None:
        raise SpeechseqError(f"--val-split {args.val_split}: --val-manifest {args.val_manifest} names its split "
                             "already; give one of them")


def _check(args: argparse.Namespace):
    """The RecognizerConfig of these options and OUT/last.pt (None without one), or a one-line error for options that cannot train (before any
    work): --repeat and --val-split that would be ignored or leave nothing to train on, a --device torch cannot
    use, an OUT/last.pt of another run (speechseq.commands.runs.resumable)."""
    from ..nn.recognizer import RecognizerConfig
    from ..train.recognizer import KIND

    if args.repeat and len(args.repeat) != len(args.manifest):
        raise SpeechseqError("give one --repeat per --manifest")
    if args.repeat and not any(args.repeat):
        raise SpeechseqError("every --repeat is 0: no training utterance would be used")
    _val_split_used(args)
    checked_device(args.device)
    # the conv front's kernel: 5, or the odd number at or above a longer stride (its windows must cover every frame);
    # frame stacking has none (the default kept, as runs begun before recorded it)
    kernel = max(5, args.stride | 1) if args.front == "conv" else RecognizerConfig.kernel_size
    model_cfg = RecognizerConfig(hidden=args.hidden, layers=args.layers, stride=args.stride, front=args.front,
                                 front_dim=args.hidden, kernel_size=kernel)
    return model_cfg, resumable(Path(args.out), KIND, model_cfg.to_dict(), OPTIONS, _sources(args))


def _banks(args: argparse.Namespace, check: bool = True):
    """Training and validation feature banks (cached in OUT/features). With `check`, first an error when OUT
    holds a run on other data (speechseq.train.ddp's rank 0 calls this before `setup` checks the options: the
    cache of the run in OUT must not be replaced by that of other data)."""
    from ..train.featbank import FeatureBank
    from ..train.recognizer import KIND

    if check:
        _val_split_used(args)
        resumable(Path(args.out), KIND, {}, OPTIONS, _sources(args))
    cache = Path(args.out) / "features"
    train_parts, val_parts = [], []
    for k, (m, split) in enumerate(_selected(args)):
        bank = _cached(cache, f"m{k}", m, split, Path(m).parent.name or f"m{k}")
        if args.val_manifest:
            train_parts.append(bank)
        else:  # whole transcripts on one side only
            held = [zlib.crc32(t.encode()) % 100 < 3 for t in bank.texts]
            if sum(held) == 0 or all(held):
                held = [i % 33 == 0 for i in range(len(bank))]
            train_parts.append(bank.subset([i for i, h in enumerate(held) if not h]))
            val_parts.append(bank.subset([i for i, h in enumerate(held) if h]))
    if args.val_manifest:
        val_parts = [_cached(cache, "val", *_val_selected(args), "val")]
        _trained_on_val(args)
    if not sum(len(p) for p in train_parts):
        n = sum(len(p) for p in val_parts)
        raise SpeechseqError(f"{n} utterance{'s' * (n != 1)} in --manifest: too few to hold some out for validation "
                             "and train on the rest; give --val-manifest or more data")
    return train_parts, FeatureBank.concat([v for v in val_parts if len(v)])


def _trained_on_val(args: argparse.Namespace) -> None:
    """A warning where the split --val-manifest names (PATH@SPLIT or --val-split) is trained on too: a --manifest of
    the same file taking that split, or every row but the evaluation splits' where it is none of them. best.pt would
    be chosen on rows the model was fitted to."""
    path, split = _val_selected(args)
    if split is None:  # every row but the evaluation splits': as before, the user's own choice of files
        return
    for m, taken in _selected(args):
        if Path(m).resolve() == Path(path).resolve() and (taken == split or taken is None and split not in EVAL_SPLITS):
            rows = f"split {taken!r}" if taken is not None else "every row but the evaluation splits'"
            warn(f"--val-manifest {path}: split {split!r} is trained on too (--manifest {m}: {rows}): validation "
                 "scores rows the model is fitted to; name the training split, PATH@SPLIT")


def setup(args: argparse.Namespace, device: str, verbose: bool = True, world: int = 1) -> dict:
    """The keyword arguments of speechseq.train.recognizer.train_recognizer for these options (of one of `world`
    data-parallel processes)."""
    from ..train.feataug import AugmentConfig, colored_noise_features
    from ..train.featbank import FeatureBank
    from ..train.loop import LoopConfig
    from ..train.recognizer import FRONTEND, TrainOptions, epoch_steps

    model_cfg, last = _check(args)
    train_parts, val = _banks(args, check=False)
    for k, part in enumerate(train_parts):  # one source name per manifest, for --repeat
        part.sources[:] = [f"m{k}"] * len(part)
    train = FeatureBank.concat(train_parts)
    repeats = {f"m{k}": r for k, r in enumerate(args.repeat or [])}
    used = sum(int(r) * len(p) + round((r - int(r)) * len(p)) for r, p in zip(args.repeat or [], train_parts))
    if args.repeat and not used:  # as speechseq.train.recognizer draws an epoch's items
        raise SpeechseqError(f"--repeat {' '.join(f'{r:g}' for r in args.repeat)}: no training utterance is used "
                             f"in an epoch ({', '.join(str(len(p)) for p in train_parts)} per --manifest)")
    opts = TrainOptions(batch_seconds=args.batch_seconds, repeats=repeats, seed=args.seed, workers=args.workers,
                        augment=AugmentConfig.off() if args.no_augment else AugmentConfig())
    fits(train, opts)
    same_settings(Path(args.out), last, args, opts)
    steps = epoch_steps(train, opts, 0, world)
    loop_cfg = LoopConfig(epochs=args.epochs, lr=args.lr, device=device, seed=args.seed,
                          warmup_steps=warmup_steps(args.epochs, steps))
    if verbose:
        for (m, split), part in zip(_selected(args), train_parts):
            rows = f"split {split!r}" if split is not None else "every row but the evaluation splits'"
            print(f"--manifest {m} ({rows}): {len(part)} training utterance{'s' * (len(part) != 1)}", file=sys.stderr)
        # the updates, not the epochs, train a model: 30 epochs of a small set are few (the README's FSDD example)
        print(f"training on {len(train)} utterance{'s' * (len(train) != 1)} ({train.hours:.2f} h), validating on "
              f"{len(val)}: {args.epochs} epoch{'s' * (args.epochs != 1)} of {steps} batch{'es' * (steps != 1)} = "
              f"about {args.epochs * steps} updates", file=sys.stderr)
    return dict(train=train, val={"val": val}, out_dir=args.out, model_cfg=model_cfg, loop_cfg=loop_cfg, opts=opts,
                noise=None if args.no_augment else colored_noise_features(FRONTEND),
                extra={"manifests": [str(m) for m in args.manifest], "sources": _sources(args)})


def same_settings(out: Path, ck: dict | None, args: argparse.Namespace, opts) -> None:
    """An error unless the run in `out` (its last.pt, `ck`), if any, was made with these training options: a rerun would
    train its later epochs by others (--epochs, --workers and --device may change). Runs whose last.pt predates a
    record (repeats) are not checked on it."""
    from dataclasses import asdict

    from ..train.feataug import AugmentConfig

    if not ck:
        return
    loop, extra = ck.get("loop_config") or {}, ck.get("extra") or {}

    def shown(value) -> str:
        if isinstance(value, dict):
            return " ".join(f"{v:g}" for v in value.values()) or "none"
        return f"{value:g}" if isinstance(value, (int, float)) else str(value)

    off = asdict(AugmentConfig.off())
    checks = [("--lr", loop.get("lr"), args.lr), ("--seed", loop.get("seed"), args.seed),
              ("--batch-seconds", extra.get("batch_seconds"), opts.batch_seconds),
              ("--repeat", extra.get("repeats"), dict(opts.repeats))]
    for option, was, now in checks:
        if was is not None and was != now:
            raise SpeechseqError(f"{out} holds a run made with {option} {shown(was)}, not {shown(now)}: {_rerun_fix(out)}")
    was_aug = extra.get("augment")
    if was_aug is not None and was_aug != asdict(opts.augment):
        said = ("--no-augment, not without it" if was_aug == off else "augmentation, not --no-augment"
                if asdict(opts.augment) == off else "another augmentation")
        raise SpeechseqError(f"{out} holds a run made with {said}: {_rerun_fix(out)}")


def _rerun_fix(out: Path) -> str:
    return (f"rerun with its options to resume it (--epochs, --workers and --device may change), use a new --out, "
            f"or delete {out} to start over")


def fits(train, opts) -> None:
    """An error when no training utterance fits in a batch of --batch-seconds (speechseq.train.recognizer
    would train on nothing, and warns of the ones left out when only some do not fit)."""
    from ..train.recognizer import padded_seconds

    seconds = padded_seconds(train, opts)
    if seconds.min() > opts.batch_seconds:
        slowest = opts.augment.speed[0]
        aug = f" (x{1 / slowest:.3g} at the speed augmentation's slowest, {slowest:g})" if slowest < 1 else ""
        raise SpeechseqError(f"no training batch: every utterance is longer than --batch-seconds "
                             f"{opts.batch_seconds:g}{aug}; the longest clip lasts "
                             f"{padded_seconds(train, opts, augment=False).max():.2f} s, "
                             f"give --batch-seconds {math.ceil(seconds.max())} or more")


def run(args: argparse.Namespace) -> int:
    require_torch("training")
    from ..train.recognizer import train_recognizer

    checked_device(args.device)  # before OUT is made
    _val_split_used(args)
    with held_out(args.out):  # written to before the features are made (not at the first checkpoint); an error of
        # the input (a missing manifest) leaves no OUT, nor a lock, behind
        history = train_recognizer(**setup(args, args.device), progress=draws_bars())
    said_undertrained(args, history)   # (.undertrained)
    best = shlex.quote(str(Path(args.out) / "best.pt"))
    print(f"best checkpoint: {Path(args.out) / 'best.pt'} (to run it: speechseq export {best} --out MODEL.onnx "
          f"--int8, then speechseq transcribe FILE --model MODEL.int8.onnx)", file=sys.stderr)
    return 0


def warmup_steps(epochs: int, steps: int) -> int:
    """The learning rate's warm-up, in updates, for `epochs` of `steps` updates: a tenth of the run (the rate then
    reaches the peak --lr names), 500 at most."""
    return min(500, max(1, epochs * steps // 10))
