#!/usr/bin/env python
"""WER and real-time factor of each decoder (greedy, beam, beam + LM, beam + LM + attention
rescoring) on the recogniser's evaluation sets: the figures of models/lm-en.md.

    OMP_NUM_THREADS=1 nice -n 10 python scripts/eval_decoders.py --model models/recognizer-en.onnx \\
        --lm models/lm-en.onnx --attention-decoder models/decoder-en.onnx \\
        --set kathleen-dev=../shared/data/kathleen/manifest.jsonl:dev \\
        --set fsdd-test=../shared/data/fsdd/manifest.jsonl:test \\
        --set synth-heldout=cache/synth/sentences/heldout.jsonl --json cache/eval_decoders.json

The recogniser runs once per utterance (its time is measured once and charged to every
decoder); RTF = (frontend + recogniser + decoding seconds) / audio seconds, one thread.
Rescoring needs a recogniser with an `encoder_out` output (speechseq.train.export_lm.export_encoder).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# One thread, as the RTF says, whatever the caller's environment says (OpenBLAS reads its own variable before OMP's):
# set before numpy loads its BLAS.
os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--lm", required=True)
    ap.add_argument("--attention-decoder", default=None)
    ap.add_argument("--set", action="append", required=True, metavar="NAME=MANIFEST[:SPLIT]")
    ap.add_argument("--beam", type=int, default=8)
    ap.add_argument("--lm-weight", type=float, default=0.8)
    ap.add_argument("--word-bonus", type=float, default=1.0)
    ap.add_argument("--attention-weight", type=float, default=1.0, help="rescoring: weight of log P_att")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", default=None, help="also write the figures here (-: on stdout, the lines printed "
                                                 "otherwise then on stderr)")
    args = ap.parse_args()
    sets = []
    for spec in args.set:
        name, _, rest = spec.partition("=")
        manifest, _, split = rest.partition(":")
        if not name or not manifest:
            ap.error(f"--set {spec!r}: give NAME=MANIFEST[:SPLIT]")
        sets.append((name, manifest, split or None))

    from speechseq.commands.common import lines_out, output_file
    from speechseq.errors import SpeechseqError

    try:
        output_file(args.json, "--json", stdout=True)  # before the work
        stdout = sys.stdout
        with contextlib.redirect_stdout(lines_out(args.json)):
            return _evaluate(args, sets, stdout)
    except SpeechseqError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _evaluate(args: argparse.Namespace, sets: list[tuple[str, str, str | None]], stdout) -> int:
    """The figures of each decoder on each set, printed; with --json written there too (`stdout`: where '-' is)."""
    from speechseq.commands.common import write_report
    from speechseq.errors import SpeechseqError
    from speechseq.metrics import wer
    from speechseq.runtime.posteriors import RecognizerRunner, manifest_outputs
    from speechseq.runtime.text_decoder import DecodeOptions, TextDecoder
    from speechseq.text import normalize

    runner = RecognizerRunner(args.model)
    common = {"beam_size": args.beam, "lm_weight": args.lm_weight, "word_bonus": args.word_bonus}
    decoders = {"greedy": TextDecoder(DecodeOptions("greedy", **common)),
                f"beam {args.beam}": TextDecoder(DecodeOptions("beam", **common)),
                f"beam {args.beam} + LM": TextDecoder(DecodeOptions("beam-lm", **common), lm=args.lm)}
    if args.attention_decoder and runner.has_memory:
        opts = DecodeOptions("rescore", **common, attention_weight=args.attention_weight)
        decoders[f"beam {args.beam} + LM + rescoring"] = TextDecoder(opts, lm=args.lm, attention=args.attention_decoder)
    elif args.attention_decoder:
        print("the recogniser has no encoder_out output: rescoring skipped", file=sys.stderr)
    results = {}
    for name, manifest, split in sets:
        skipped: list[str] = []  # one file that cannot be read is named and skipped: the other utterances go on

        def skip(msg: str) -> None:
            skipped.append(msg)
            print(f"warning: {msg.removesuffix(' (skipped)')} (skipped)", file=sys.stderr, flush=True)
        utts = manifest_outputs(runner, manifest, split, args.limit, on_error=skip)
        audio = sum(u.duration for u in utts)
        if not utts or audio <= 0:
            raise SpeechseqError(f"--set {name}: no utterances (with audio) in {manifest}"
                                 + (f", split {split!r}" if split else ""))
        enc = sum(u.seconds for u in utts)
        refs = [normalize(u.text) for u in utts]
        results[name] = {"utterances": len(utts), "skipped": len(skipped), "audio_s": round(audio, 1),
                         "recognizer_rtf": enc / audio}
        for label, dec in decoders.items():
            t0 = time.perf_counter()
            hyps = [normalize(dec(u.log_probs, u.memory).text) for u in utts]  # as the references are
            spent = time.perf_counter() - t0
            results[name][label] = {"wer": 100 * wer(refs, hyps).rate, "rtf": (enc + spent) / audio,
                                    "decode_rtf": spent / audio}
            print(f"{name:15s} {label:28s} WER {results[name][label]['wer']:6.2f}%  RTF {(enc + spent) / audio:.4f}",
                  flush=True)
    print("\n| set | " + " | ".join(decoders) + " |\n|---|" + "---|" * len(decoders))
    for name, res in results.items():
        skips = f", {res['skipped']} skipped" if res["skipped"] else ""
        print(f"| {name} ({res['utterances']} utt.{skips}) | "
              + " | ".join(f"{res[k]['wer']:.2f}% (RTF {res[k]['rtf']:.3f})" for k in decoders) + " |")
    if args.json:
        write_report(args.json, json.dumps({"args": vars(args), "results": results}, indent=1), stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
