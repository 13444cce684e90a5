#!/usr/bin/env python
"""Reproduce models/lm-en.onnx: the character LSTM language model, trained on CPU.

    nice -n 10 python scripts/train_lm.py --data ../shared/data --work runs/lm-en --out models/lm-en.onnx \\
        --epochs 8 --exclude-all cache/synth/sentences/heldout.jsonl      # the default (it must exist)

Training text: ../shared/data/text/ljspeech.txt and arctic_prompts.txt, normalised, with every
sentence that overlaps a Kathleen `dev` prompt or a held-out synthetic sentence removed (the LM
never saw the evaluation sentences), 5% of sentences held out for perplexity. One CPU thread, 8 epochs of about
2 minutes each (the shipped file's, models/lm-en.md; without --epochs, 5).
Rerunning resumes the run in --work; the export is redone each time.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")


HELDOUT = "cache/synth/sentences/heldout.jsonl"   # the held-out synthetic sentences (make_synth_data.py sentences)


def heldout_manifests(given: list[str] | None) -> list[str]:
    """The manifests whose every text leaves the LM's text: those given, or by default the held-out synthetic
    sentences (evaluation text), which must then exist (an LM made before them would hold them)."""
    if given is not None:
        return given
    if not Path(HELDOUT).is_file():
        sys.exit(f"{HELDOUT}: no such file. The held-out synthetic sentences are evaluation text, left out of the "
                 f"language models' text by default: make them first (scripts/make_synth_data.py sentences --out "
                 f"{Path(HELDOUT).parent} ...), name them with --exclude-all JSONL, or give --exclude-all with no "
                 f"file to train on text that may hold them")
    return [HELDOUT]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="the shared data folder")
    ap.add_argument("--work", default="runs/lm-en", help="run directory (checkpoints)")
    ap.add_argument("--out", default="models/lm-en.onnx")
    ap.add_argument("--exclude-all", nargs="*", default=None, metavar="JSONL",
                    help="evaluation manifests whose every text is excluded too (default: the held-out synthetic "
                         f"sentences, {HELDOUT}, which must exist; --exclude-all with no file: none)")
    ap.add_argument("--epochs", type=int, default=5)
    args = ap.parse_args()
    from speechseq.commands.common import names_stdout, stdout_refused

    if names_stdout(args.out):  # before the training: its export wrote a file "-"
        sys.exit(stdout_refused("--out", "a model", "a file (.onnx)"))
    if names_stdout(args.work):  # `train lm` would refuse it as its --out
        sys.exit(stdout_refused("--work", "a folder", "a folder"))
    args.exclude_all = heldout_manifests(args.exclude_all)

    from speechseq.cli import main as cli

    data = Path(args.data)
    code = cli(["train", "lm", "--text", str(data / "text/ljspeech.txt"), str(data / "text/arctic_prompts.txt"),
                "--exclude-manifest", str(data / "kathleen/manifest.jsonl"), "--exclude-split", "dev",
                "--heldout-percent", "5", "--epochs", str(args.epochs), "--lr", "2e-3", "--batch-tokens", "4096",
                "--rnn", "lstm", "--hidden", "512", "--layers", "1", "--embed-dim", "64", "--dropout", "0.1",
                "--threads", "1", "--out", args.work,
                *(["--exclude-manifest-all", *args.exclude_all] if args.exclude_all else [])])
    if code:
        return code
    code = cli(["export", str(Path(args.work) / "best.pt"), "--out", args.out])
    if code:
        return code
    from speechseq.runtime.lm import OnnxLM

    meta = OnnxLM(args.out).meta
    print(f"{args.out}: held-out perplexity {meta.get('heldout_perplexity')} per character, "
          f"{meta['parameters']} parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
