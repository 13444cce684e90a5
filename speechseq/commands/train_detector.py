"""`speechseq train detector`: train a trigger-word detector for any keyword, then export it."""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from ..errors import SpeechseqError

EXAMPLE = """example (synthetic data from scripts/make_synth_data.py, plus real backgrounds):
  python scripts/make_synth_data.py keyword --keyword activate --out cache/synth/kw-activate
  speechseq train detector --keyword activate --out runs/activate --synth cache/synth/kw-activate \\
      --backgrounds ../shared/data/noise ../shared/data/kathleen/manifest.jsonl:2 --device cuda
the course's layout works as is:
  speechseq train detector --keyword activate --out runs/act --positives raw_data/activates \\
      --negatives raw_data/negatives --backgrounds raw_data/backgrounds
PATH:WEIGHT gives a source a sampling weight (default 1). Manifest rows marked "heldout": true,
and 15 % of other files (by a hash of the name), are kept for validation. Rerunning the same
command resumes (the feature bank is cached in OUT/bank.npz, the training in OUT/last.pt)."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detector", help="train a trigger-word detector (keyword spotting)", epilog=EXAMPLE,
                       description="Mix keyword clips, other speech and backgrounds into 10-s training examples "
                                   "(the course's recipe, in the feature domain), train Conv1D + GRU, keep the "
                                   "checkpoint with the fewest false rejects at the target false-accept rate, "
                                   "and export OUT/KEYWORD.onnx.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keyword", required=True)
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--synth", nargs="*", default=[], metavar="DIR", help="make_synth_data.py keyword output dirs")
    p.add_argument("--positives", nargs="*", default=[], metavar="PATH[:W]", help="keyword recordings")
    p.add_argument("--negatives", nargs="*", default=[], metavar="PATH[:W]", help="other words and phrases")
    p.add_argument("--backgrounds", nargs="*", default=[], metavar="PATH[:W]", help="background audio (noise, speech)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--steps", type=int, default=200, help="batches per epoch")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--target-fa", type=float, default=0.5, help="false accepts per hour used to pick the threshold")
    p.add_argument("--workers", type=int, default=2, help="processes for computing features")
    p.set_defaults(func=run)


def _split_weight(spec: str) -> tuple[Path, float]:
    head, sep, tail = spec.rpartition(":")
    if sep and head and tail.replace(".", "", 1).isdigit():
        return Path(head), float(tail)
    return Path(spec), 1.0


def _val(name: str, pct: int = 15) -> bool:
    return int(hashlib.sha1(Path(name).name.encode()).hexdigest()[:8], 16) % 100 < pct


def items_from(specs: list[str], role: str, keyword: str) -> list:
    """BankItems of one role from files, directories and JSONL manifests."""
    from ..train.kwbank import BankItem
    from ..train.words import contains_keyword
    from .common import expand_inputs

    items = []
    for spec in specs:
        path, weight = _split_weight(spec)
        if not path.exists():
            raise SpeechseqError(f"{path}: no such file or directory")
        if path.suffix == ".jsonl":
            with open(path) as f:
                rows = [json.loads(line) for line in f if line.strip()]
            for r in rows:
                if r.get("split") in ("dev", "test"):
                    continue  # evaluation audio is never trained on
                text = r.get("text", "")
                if role == "neg" and contains_keyword(text, keyword):
                    continue
                held = r["heldout"] if "heldout" in r else _val(r["audio_filepath"])
                items.append(BankItem(str(path.parent / r["audio_filepath"]), ("val_" + role) if held else role, weight,
                                      r.get("engine", path.parent.name), synthetic="engine" in r, text=text))
        else:
            for f in expand_inputs([str(path)]):
                items.append(BankItem(str(f), ("val_" + role) if _val(str(f)) else role, weight, path.name))
    return items


def run(args: argparse.Namespace) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SpeechseqError("training needs torch: pip install 'speechseq[train]'") from None
    import numpy as np

    from ..nn.detector import DetectorConfig
    from ..train.augment import coloured_noise
    from ..train.detector import TrainRecipe, train_detector
    from ..train.export_detector import export_checkpoint
    from ..train.kwbank import BankConfig, build_bank, load_bank, save_bank
    from ..train.kwmix import MixConfig

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pos, neg = list(args.positives), list(args.negatives)
    for d in args.synth:
        pos.append(str(Path(d) / "positives.jsonl"))
        neg.append(str(Path(d) / "negatives.jsonl"))
    items = items_from(pos, "pos", args.keyword) + items_from(neg, "neg", args.keyword) + \
        items_from(args.backgrounds, "bg", args.keyword)
    roles = {i.role for i in items}
    for need in ("pos", "neg"):
        if need not in roles:
            raise SpeechseqError(f"no training {'positives' if need == 'pos' else 'negatives'}: give --synth or "
                                 f"--{'positives' if need == 'pos' else 'negatives'}")
    bank_path = out / "bank.npz"
    if bank_path.exists():
        bank = load_bank(bank_path)
    else:
        rng = np.random.default_rng(3)
        noise = {k: (coloured_noise(k, 16000 * 60, rng) * 0.05, "bg") for k in ("white", "pink", "brown")}
        bank = build_bank(items, BankConfig(), args.workers, extra_arrays=noise, meta={"keyword": args.keyword})
        save_bank(bank, bank_path)
    recipe = TrainRecipe(batch=args.batch, steps_per_epoch=args.steps, epochs=args.epochs, lr=args.lr,
                         fa_target_per_h=args.target_fa)
    train_detector(bank, out, args.keyword, recipe, DetectorConfig(), MixConfig(), args.device)
    best = out / "best.pt"
    if best.exists():
        for path in export_checkpoint(best, out / f"{args.keyword.replace(' ', '_')}.onnx"):
            print(f"wrote {path}")
    return 0
