#!/usr/bin/env python
"""A Precise wake word's real clips in two halves, and real speech without it, as folders of links: what
`speechseq train detector --positives DIR` and `speechseq eval detector --positives / --negatives` take.

    .venv/bin/python scripts/precise_halves.py --keyword android --out cache/halves [--data ../shared/data]

OUT/KEYWORD/dev and OUT/KEYWORD/test are the halves of scripts/detector_tradeoff.py --real-half (by a hash
of the file name); OUT/KEYWORD/unseen, threshold-choice and real-speech (the two together) are
scripts/eval_detectors.py's real speech without the keyword (Kathleen dev, FSDD test and, for other
keywords, the amelia clips; 15 % of Kathleen / FSDD train and half the Precise not-wake-word clips).

The README's fine-tune table (session 30), for android seed 0 (the others alike):

    python scripts/precise_halves.py --keyword android --out cache/halves
    speechseq train detector --keyword android --synth cache/synth/kw-android --init runs/s27/android-new-seed0 \\
        --positives cache/halves/android/dev:50 \\
        --backgrounds ../shared/data/noise ../shared/data/kathleen/manifest.jsonl:2 \\
        --epochs 3 --lr 0.001 --out runs/s30/ft4-android-s0
    python scripts/detector_tradeoff.py runs/s30/ft4-android-s0/android.onnx --max-set 1 --real-half test
    speechseq eval detector --model runs/s30/ft4-android-s0/android.onnx \\
        --positives cache/halves/android/test --negatives cache/halves/android/real-speech
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_detectors import real_sets  # noqa: E402
from speechseq.commands.common import names_stdout, stdout_refused  # noqa: E402


def link_all(files: list[Path], folder: Path, prefix_parent: bool = False) -> int:
    """Links to `files` in `folder` (emptied of links first); with prefix_parent, each name carries its
    folder's name (real speech comes from several sets whose file names may repeat)."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_symlink():
            old.unlink()
    for f in files:
        (folder / (f"{f.parent.name}__{f.name}" if prefix_parent else f.name)).symlink_to(f.resolve())
    return len(files)


def write_halves(data: Path, keyword: str, out: Path) -> dict[str, int]:
    """The folders of links in OUT/KEYWORD (spaces dropped) and their sizes; none written where the keyword has no
    Precise clips (a mistyped one would leave a folder of real speech alone)."""
    sets = real_sets(data, keyword)
    if not sets["keyword_dev"] + sets["keyword_test"]:
        return {"dev": 0, "test": 0}
    base = out / keyword.replace(" ", "")
    return {"dev": link_all(sets["keyword_dev"], base / "dev"),
            "test": link_all(sets["keyword_test"], base / "test"),
            "unseen": link_all(sets["unseen"], base / "unseen", True),
            "threshold-choice": link_all(sets["threshold_choice"], base / "threshold-choice", True),
            "real-speech": link_all(sets["unseen"] + sets["threshold_choice"], base / "real-speech", True)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keyword", required=True, help="a Precise wake word: amelia, android, hey chatterbox")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    if names_stdout(args.out):  # a folder "-" of links was made
        print(stdout_refused("--out", "a folder", "a folder"), file=sys.stderr)
        return 2
    if not (args.data / "precise" / "manifest.jsonl").is_file():
        print(f"{args.data}: no precise/manifest.jsonl (give --data)", file=sys.stderr)
        return 2
    counts = write_halves(args.data, args.keyword, args.out)
    if counts["dev"] + counts["test"] == 0:
        print(f"no Precise clips of {args.keyword!r}", file=sys.stderr)
        return 2
    print(", ".join(f"{k} {n}" for k, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
