"""`speechseq eval recognizer`: WER, CER, the worst utterances and the real-time factor.

    speechseq eval recognizer --manifest ../shared/data/kathleen/manifest.jsonl --split dev
    speechseq eval recognizer --manifest ../shared/data/fsdd/manifest.jsonl --split test --decoder beam
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from ..errors import SpeechseqError
from .common import progress, warn
from .transcribe import DEFAULT_MODEL


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recognizer", help="word and character error rates of a recogniser on a manifest",
                       description="Recognise every utterance of a manifest (any format speechseq reads) and report "
                                   "WER, CER, utterance accuracy (the share recognised exactly: word accuracy for "
                                   "single-word sets), a table of the worst utterances, and the real-time factor "
                                   "(recognition time, decoding included, over audio time; one thread).",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--manifest", required=True, help="manifest file or corpus directory")
    p.add_argument("--split", help="only this split (e.g. dev, test)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="recogniser .onnx")
    p.add_argument("--decoder", choices=("greedy", "beam"), default="greedy")
    p.add_argument("--beam-size", type=int, default=8)
    p.add_argument("--worst", type=int, default=10, help="rows of the worst-utterance table")
    p.add_argument("--limit", type=int, help="only the first N utterances")
    p.add_argument("--threads", type=int, default=1, help="onnxruntime threads")
    p.add_argument("--json", metavar="PATH", help="also write the figures and every utterance here")
    p.set_defaults(func=run)


def evaluate(rec, utterances, opts, show_progress: bool | None = None) -> dict:
    """Recognise `utterances` (speechseq.train.data.Utterance); figures in percent."""
    from ..audio import load_audio
    from ..metrics import cer, wer
    from ..text import normalize

    refs, hyps, audio_s, compute_s, failed = [], [], 0.0, 0.0, 0
    for u in progress(utterances, total=len(utterances), desc="recognising", enable=show_progress):
        try:
            x = load_audio(u.audio, rec.frontend.sample_rate)
        except SpeechseqError as err:
            warn(str(err))
            failed += 1
            continue
        if u.offset is not None:
            sr = rec.frontend.sample_rate
            x = x[int(u.offset * sr): None if u.end is None else int(u.end * sr)]
        t0 = time.perf_counter()
        r = rec.transcribe([x], opts) if len(x) > 20 * rec.frontend.sample_rate else rec.recognize(x, opts)
        compute_s += time.perf_counter() - t0
        audio_s += len(x) / rec.frontend.sample_rate
        refs.append(normalize(u.text))
        hyps.append(normalize(r.text))
    if not refs:
        raise SpeechseqError("no utterance could be read")
    w, c = wer(refs, hyps), cer(refs, hyps)
    return {"utterances": len(refs), "failed": failed, "audio_s": round(audio_s, 2),
            "wer": 100 * w.rate, "cer": 100 * c.rate,
            "utterance_accuracy": 100 * sum(r == h for r, h in zip(refs, hyps)) / len(refs),
            "rtf": compute_s / max(audio_s, 1e-9), "wer_detail": w.summary(), "cer_detail": c.summary(),
            "worst": [{"ref": e.ref, "hyp": e.hyp, "errors": e.ops.distance, "words": e.ops.ref_len}
                      for e in w.worst(len(refs))], "refs": refs, "hyps": hyps}


def run(args: argparse.Namespace) -> int:
    from ..runtime.recognizer import DecodeOptions, Recognizer
    from ..train.data import load_manifest

    rec = Recognizer(args.model, threads=args.threads)
    utts = load_manifest(args.manifest, split=args.split)
    if args.limit:
        utts = utts[: args.limit]
    if not utts:
        raise SpeechseqError(f"{args.manifest}: no utterances" + (f" in split {args.split!r}" if args.split else ""))
    res = evaluate(rec, utts, DecodeOptions(decoder=args.decoder, beam_size=args.beam_size))
    dec = args.decoder + (f" {args.beam_size}" if args.decoder == "beam" else "")
    print(f"{args.manifest}{' [' + args.split + ']' if args.split else ''}: {res['utterances']} utterances, "
          f"{res['audio_s'] / 60:.1f} min, model {args.model}, decoder {dec}")
    print(f"  WER {res['wer']:.2f}%   CER {res['cer']:.2f}%   utterance accuracy {res['utterance_accuracy']:.2f}%   "
          f"RTF {res['rtf']:.4f}")
    print(f"  {res['wer_detail']}")
    if args.worst > 0:
        print(f"  worst {min(args.worst, len(res['worst']))} utterances (word errors / words: reference | hypothesis):")
        for row in res["worst"][: args.worst]:
            print(f"    {row['errors']:3d}/{row['words']:<3d} {row['ref']} | {row['hyp']}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"manifest": str(args.manifest), "split": args.split, "model": str(args.model),
                       "decoder": dec, **res}, f, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    return 1 if res["failed"] else 0
