#!/usr/bin/env python
"""Real-time factor, peak memory and size of the recognisers, on one thread.

    python scripts/bench_recognizer.py --manifest ../shared/data/kathleen/manifest.jsonl --split dev --limit 60

For each model (fp32, int8) and decoder (greedy, beam 8) a fresh process loads the model and
recognises every file once after one warm-up file: the real-time factor is the time of frontend +
network + decoding over the audio's duration, with onnxruntime and numpy on one thread
(OMP_NUM_THREADS=1, intra-op threads 1). Peak memory is the process's maximum resident set
(ru_maxrss), Python and onnxruntime included. Audio is decoded before the clock starts.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def worker(model: str, decoder: str, beam: int, files: list[str]) -> dict:
    import numpy as np

    from speechseq.audio import load_audio
    from speechseq.frontend import logmel
    from speechseq.runtime.recognizer import DecodeOptions, Recognizer

    rec = Recognizer(model, threads=1)
    opts = DecodeOptions(decoder=decoder, beam_size=beam)
    audio = [load_audio(f) for f in files]
    rec.recognize(audio[0], opts)  # warm-up
    t_front = t_net = t_dec = 0.0
    for x in audio:
        t0 = time.perf_counter()
        feats = logmel(x, rec.frontend)
        t1 = time.perf_counter()
        lp = rec.log_probs(feats)
        t2 = time.perf_counter()
        rec.decode(lp, opts)
        t3 = time.perf_counter()
        t_front, t_net, t_dec = t_front + t1 - t0, t_net + t2 - t1, t_dec + t3 - t2
    seconds = sum(len(x) for x in audio) / 16000
    return {"model": model, "decoder": decoder + (f" {beam}" if decoder == "beam" else ""),
            "audio_s": round(seconds, 1), "rtf": (t_front + t_net + t_dec) / seconds,
            "rtf_frontend": t_front / seconds, "rtf_network": t_net / seconds, "rtf_decoder": t_dec / seconds,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "size_mb": os.path.getsize(model) / 1e6}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=[str(ROOT / "models/recognizer-en.onnx"),
                                                   str(ROOT / "models/recognizer-en.int8.onnx")])
    p.add_argument("--manifest", help="audio to recognise (default: data/samples/*.wav)")
    p.add_argument("--split")
    p.add_argument("--limit", type=int, default=60)
    p.add_argument("--beam-size", type=int, default=8)
    p.add_argument("--json", help="write the rows here too")
    p.add_argument("--worker", nargs=3, metavar=("MODEL", "DECODER", "FILES_JSON"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        model, decoder, files = args.worker
        print(json.dumps(worker(model, decoder, args.beam_size, json.loads(files))))
        return
    if args.manifest:
        from speechseq.train.data import load_manifest

        files = [u.audio for u in load_manifest(args.manifest, split=args.split)[: args.limit]]
    else:
        files = [str(f) for f in sorted((ROOT / "data/samples").glob("*.wav"))]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rows = []
    for model in args.models:
        for decoder in ("greedy", "beam"):
            out = subprocess.run([sys.executable, __file__, "--beam-size", str(args.beam_size), "--worker", model,
                                  decoder, json.dumps(files)], env=env, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{len(files)} files, {rows[0]['audio_s']} s of audio, one thread ({os.cpu_count()} cores present)")
    print(f"| model | size MB | decoder | RTF | frontend | network | decoder | peak RSS MB |")
    print(f"|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {Path(r['model']).name} | {r['size_mb']:.1f} | {r['decoder']} | {r['rtf']:.4f} | "
              f"{r['rtf_frontend']:.4f} | {r['rtf_network']:.4f} | {r['rtf_decoder']:.4f} | {r['peak_rss_mb']:.0f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
