#!/usr/bin/env python
"""Export every epoch of a detector run, or the mean of a span of epochs, as ONNX: which epoch do real
recordings favour? (Synthetic validation picks the exported epoch otherwise.)

    .venv/bin/python scripts/detector_epochs.py runs/amelia --epochs 3-10 --average 6-10 --out runs/amelia-epochs
    .venv/bin/python scripts/detector_tradeoff.py runs/amelia-epochs/*/amelia.onnx --max-set 1

Each output is OUT/e07/KEYWORD.onnx (epoch 7's EMA weights) or OUT/a06-10/KEYWORD.onnx (their mean), with
the checkpoint it came from beside it (ck.pt).

Session 28, the custom-keyword command's runs of sessions 26-27 (`speechseq train detector --keyword K
--synth cache/synth/kw-K --seed S --out RUN`, 10 epochs; runs/s26/cli-amelia-final{,-seed1},
runs/s27/android-old-seed{0,1}, runs/s27/chat-old-seed0), real Precise clips missed at <= 0.5 synthetic false
accepts an hour:

    epoch            3     4     5     6     7     8     9     10 (exported)  mean 6-10  mean 5-10
    amelia s0      60.5  34.1  17.0  12.6  13.5  17.9  22.4  23.3           17.9       14.3
    amelia s1      76.2  52.0  40.8  27.4  25.1  25.1  25.6  25.6           24.2       26.0
    android s0     92.2  82.8  75.0  50.0  51.6  46.9  48.4  50.0           45.3       53.1
    android s1    100.0 100.0  96.9  89.1  82.8  73.4  62.5  59.4           68.8       75.0
    chatterbox s0  98.2  55.4  35.7  30.4  28.6  30.4  30.4  30.4           30.4       28.6

One run (amelia seed 0) is at its best at epoch 6 and loses 11 points by epoch 10; another (android seed 1)
gains 30 points over the same epochs; the mean of the five improves a little every epoch (41.9, 40.3,
38.7, 37.9, 37.7 % for epochs 6-10), and neither mean of epochs beats the last epoch on average (37.3 and
39.4 %). So no epoch count or average is better for every speaker; the seed decides more.

The same banks and seeds trained for 15 epochs (`--epochs 15`, runs/s28/{amelia,android}-e15-seed{0,1}):

    epoch            6     7     8     9     10    11    12    13    14    15 (exported: amelia s0 epoch 10)
    amelia s0       9.9  14.8  17.9  24.7  24.7  24.7  25.1  27.8  29.1  35.4
    amelia s1      26.0  21.1  18.4  20.6  22.9  24.7  25.1  25.6  26.5  28.7
    android s0     67.2  62.5  60.9  57.8  62.5  54.7  54.7  48.4  50.0  45.3
    android s1     90.6  76.6  73.4  65.6  65.6  62.5  60.9  60.9  64.1  65.6

Amelia's misses grow as training goes on and android's shrink: at epoch 15 the four miss 43.8 % on average,
(41.1 % for the four exported models) against 39.6 % for the same four at the end of 10 epochs. The
default stays 10.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechseq.commands.common import names_stdout, stdout_refused  # noqa: E402


def span(spec: str) -> list[int]:
    """ "3-10" -> [3, ..., 10]; "7" -> [7]."""
    a, _, b = spec.partition("-")
    first, last = int(a), int(b or a)
    if first < 1 or last < first:
        raise ValueError(f"not an epoch span: {spec!r}")
    return list(range(first, last + 1))


def export_epochs(run: Path, out: Path, epochs: list[int], averages: list[list[int]]) -> list[Path]:
    """ONNX files of single epochs and of means of epochs; returns their paths."""
    import torch

    from speechseq.train.detector_checkpoints import snapshot_checkpoint, snapshot_path
    from speechseq.train.export_detector import export_checkpoint

    jobs = [(f"e{e:02d}", [e]) for e in epochs] + [(f"a{s[0]:02d}-{s[-1]:02d}", s) for s in averages]
    written = []
    for name, span_ in jobs:
        snaps = [snapshot_path(run, e) for e in span_]
        missing = [p.name for p in snaps if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{run}: no snapshot {', '.join(missing)}")
        ck = snapshot_checkpoint(run, snaps)
        keyword = str((ck.get("extra") or {}).get("keyword", "keyword")).replace(" ", "_")
        (out / name).mkdir(parents=True, exist_ok=True)
        torch.save(ck, out / name / "ck.pt")
        written += [Path(p) for p in export_checkpoint(out / name / "ck.pt", out / name / f"{keyword}.onnx")]
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a `speechseq train detector` run directory (last.pt, snapshots/)")
    ap.add_argument("--epochs", default="", help="epochs to export one by one, e.g. 3-10")
    ap.add_argument("--average", nargs="+", default=[], metavar="A-B", help="spans of epochs to export as means")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if names_stdout(args.out):  # a folder "-" of models was made
        print(f"detector_epochs.py: {stdout_refused('--out', 'a folder', 'a folder')}", file=sys.stderr)
        return 2
    try:
        epochs = span(args.epochs) if args.epochs else []
        averages = [span(s) for s in args.average]
        paths = export_epochs(args.run, args.out, epochs, averages)
    except (ValueError, FileNotFoundError) as err:
        print(f"detector_epochs.py: {err}", file=sys.stderr)
        return 2
    print("\n".join(map(str, paths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
