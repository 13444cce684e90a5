#!/usr/bin/env python
"""Real-time factor, peak memory and size of the recognisers, on one thread.

    python scripts/bench_recognizer.py --manifest ../shared/data/kathleen/manifest.jsonl --split dev --limit 60

For each model (fp32, int8) and decoder (greedy, beam 8; with --lexicon also `transcribe`'s default,
the lexicon search with both LMs at beam 64) a fresh process loads the model and
recognises every file (a manifest's segment, where it gives offsets) once after one warm-up file; a file that
cannot be read is named and skipped. The real-time factor is the time of frontend +
network + decoding over the audio's duration, with onnxruntime and numpy on one thread
(OMP_NUM_THREADS=1, intra-op threads 1). Peak memory is the worker process's own resident-set high-water
mark (the kernel's VmHWM, in MB of 10^6 bytes as the sizes), Python, onnxruntime and the decoded audio included.
Audio is decoded before the clock starts.

The peer, measured in the same run on the same files when its wheel is installed
(`pip install pocketsphinx==5.1.1`): pocketsphinx with its bundled US English acoustic model,
language model and dictionary, one utterance per file. With a manifest that has transcripts, every
row also gives the WER (text normalised as for `speechseq eval recognizer`). A peer that is not installed,
or that fails, gets a row that says so.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """This process's resident-set high-water mark in MB (10^6 bytes). The kernel's VmHWM starts afresh at exec;
    ru_maxrss does not (a process started by another carries its parent's high-water mark over the exec), and it
    counts KiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024 / 1e6  # the kernel's "kB" are KiB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def load_clip(entry) -> "np.ndarray":
    """The audio of one entry of FILES_JSON at 16 kHz: a file's path, or [path, offset, end] for a manifest's
    segment [offset, end) in seconds (offset None: the whole file; end None: to its end), as `eval recognizer`
    reads it."""
    from speechseq.audio import load_audio

    if isinstance(entry, str):
        return load_audio(entry)
    path, offset, end = entry
    x = load_audio(path)
    return x if offset is None else x[int(offset * 16000): None if end is None else int(end * 16000)]


def worker(model: str, decoder: str, beam: int, files: list) -> dict:
    from speechseq.frontend import logmel
    from speechseq.runtime.recognizer import DecodeOptions, Recognizer

    rec = Recognizer(model, threads=1)
    if decoder == "lexicon":  # transcribe's default: lexicon search + word and character LMs, beam 64
        from speechseq.commands.common import LEXICON_BEAM, tuned_lexicon_options
        from speechseq.runtime.lm import OnnxLM

        beam = LEXICON_BEAM
        opts = tuned_lexicon_options(ROOT / "models/words-en.npz", OnnxLM(str(ROOT / "models/lm-en.onnx"), 1), beam)
    else:
        opts = DecodeOptions(decoder=decoder, beam_size=beam)
    audio = [load_clip(f) for f in files]
    rec.recognize(audio[0], opts)  # warm-up
    t_front = t_net = t_dec = 0.0
    hyps = []
    for x in audio:
        t0 = time.perf_counter()
        feats = logmel(x, rec.frontend)
        t1 = time.perf_counter()
        lp = rec.log_probs(feats) if len(feats) else None  # shorter than a frame: nothing heard, as recognize()
        t2 = time.perf_counter()
        hyps.append(rec.decode(lp, opts).text if lp is not None else "")
        t3 = time.perf_counter()
        t_front, t_net, t_dec = t_front + t1 - t0, t_net + t2 - t1, t_dec + t3 - t2
    seconds = sum(len(x) for x in audio) / 16000
    return {"model": model, "decoder": decoder + (f" {beam}" if decoder == "beam" else " 64 + LMs" if decoder == "lexicon" else ""),
            "audio_s": round(seconds, 1), "rtf": (t_front + t_net + t_dec) / seconds,
            "rtf_frontend": t_front / seconds, "rtf_network": t_net / seconds, "rtf_decoder": t_dec / seconds,
            "peak_rss_mb": peak_rss_mb(), "size_mb": os.path.getsize(model) / 1e6, "hyps": hyps}


def peer_worker(files: list) -> dict:
    import numpy as np
    from pocketsphinx import Decoder

    dec = Decoder(samprate=16000, loglevel="FATAL")
    audio = [(np.clip(load_clip(f), -1, 1) * 32767).astype(np.int16).tobytes() for f in files]

    def run(pcm: bytes) -> str:
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        return dec.hyp().hypstr if dec.hyp() else ""

    run(audio[0])  # warm-up
    t0 = time.perf_counter()
    hyps = [run(pcm) for pcm in audio]
    seconds = sum(len(pcm) // 2 for pcm in audio) / 16000
    from importlib.metadata import version

    return {"model": f"pocketsphinx {version('pocketsphinx')} (peer)",
            "decoder": "its own (LM + dictionary)", "audio_s": round(seconds, 1),
            "rtf": (time.perf_counter() - t0) / seconds, "rtf_frontend": None, "rtf_network": None,
            "rtf_decoder": None, "peak_rss_mb": peak_rss_mb(), "size_mb": None, "hyps": hyps}


def readable(files: list, texts: list[str] | None) -> tuple[list, list[str] | None]:
    """The entries whose audio can be read and holds samples (with their transcripts); each other one is named on
    stderr and skipped, before any worker starts (one bad file in a manifest stopped every worker with a traceback)."""
    from speechseq.errors import SpeechseqError

    keep = []
    for i, f in enumerate(files):
        try:
            n = len(load_clip(f))
        except SpeechseqError as err:
            print(f"{err}; skipped", file=sys.stderr)
            continue
        if n == 0:
            print(f"{f[0]}: no audio in the segment {f[1]}-{f[2]} s; skipped", file=sys.stderr)
            continue
        keep.append(i)
    return [files[i] for i in keep], (None if texts is None else [texts[i] for i in keep])


def _cell(v: float | None, fmt: str) -> str:
    return "" if v is None else format(v, fmt)


def main() -> None:
    from speechseq.commands.common import bounded, lines_out, output_file, write_report
    from speechseq.errors import SpeechseqError

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=[str(ROOT / "models/recognizer-en.onnx"),
                                                   str(ROOT / "models/recognizer-en.int8.onnx")])
    p.add_argument("--manifest", help="audio to recognise (default: data/samples/*.wav)")
    p.add_argument("--split")
    p.add_argument("--limit", type=bounded(int, ge=0), default=60, help="the manifest's first N files")
    p.add_argument("--beam-size", type=bounded(int, ge=1), default=8)
    p.add_argument("--json", help="write the rows here too (-: on stdout, the table then on stderr)")
    p.add_argument("--worker", nargs=3, metavar=("MODEL", "DECODER", "FILES_JSON"), help=argparse.SUPPRESS)
    p.add_argument("--no-peer", action="store_true", help="leave pocketsphinx out")
    p.add_argument("--lexicon", action="store_true",
                   help="also the default decoder of transcribe (lexicon search + word and character LMs, beam 64)")
    args = p.parse_args()
    if args.worker:
        model, decoder, files = args.worker
        fn = peer_worker(json.loads(files)) if model == "pocketsphinx" else worker(model, decoder, args.beam_size,
                                                                                  json.loads(files))
        print(json.dumps(fn))
        return
    try:  # a --json that cannot be written fails here, not after every worker has run
        report = output_file(args.json, "--json", stdout=True)
    except SpeechseqError as err:
        p.error(str(err))
    texts = None
    if args.manifest:
        from speechseq.commands.eval_recognizer import load_utterances

        try:  # a row whose file is not there is named and skipped, as `eval recognizer` skips it
            utts = load_utterances(args.manifest, args.split, args.limit)[0]
        except SpeechseqError as err:
            raise SystemExit(f"error: {err}") from None
        files, texts = [[u.audio, u.offset, u.end] for u in utts], [u.text for u in utts]
    else:
        files = [str(f) for f in sorted((ROOT / "data/samples").glob("*.wav"))]
    files, texts = readable(files, texts)
    if not files:  # every worker warms up on the first file
        raise SystemExit(f"no audio to recognise in {args.manifest or ROOT / 'data/samples'}"
                         + (f" (split {args.split!r}, --limit {args.limit})" if args.manifest else ""))
    for model in args.models:
        if not Path(model).is_file():
            raise SystemExit(f"{model}: no such model file")
        try:  # a file that is no recogniser is named here, not in every worker's traceback
            from speechseq.runtime.recognizer import Recognizer

            Recognizer(model, threads=1)
        except SpeechseqError as err:
            raise SystemExit(f"error: {err}") from None
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    jobs = [(model, decoder) for model in args.models for decoder in ("greedy", "beam")]
    if args.lexicon:
        jobs += [(model, "lexicon") for model in args.models]
    peer_missing = None  # why the peer has no figures, for its row
    if not args.no_peer:
        try:
            import importlib

            importlib.import_module("pocketsphinx")
            jobs.append(("pocketsphinx", "-"))
        except ImportError:
            peer_missing = "n/a (not installed: pip install pocketsphinx==5.1.1)"
            print("peer left out: pocketsphinx is not installed (pip install pocketsphinx==5.1.1)", file=sys.stderr)
    rows = []
    for model, decoder in jobs:
        out = subprocess.run([sys.executable, __file__, "--beam-size", str(args.beam_size), "--worker", model,
                              decoder, json.dumps(files)], env=env, capture_output=True, text=True)
        if out.returncode != 0 and model == "pocketsphinx":
            last = (out.stderr.strip().splitlines() or ["no message"])[-1][:200]
            peer_missing = f"n/a (the peer failed: {last})"
            print(f"peer left out: pocketsphinx failed:\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        if out.returncode != 0:
            raise SystemExit(f"{model} {decoder}: the worker failed:\n{out.stderr[-2000:]}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if texts is not None:
        from speechseq.metrics import wer
        from speechseq.text import normalize

        for r in rows:
            r["wer"] = 100 * wer([normalize(t) for t in texts], [normalize(h) for h in r["hyps"]]).rate
    with contextlib.redirect_stdout(lines_out(args.json)):
        _table(rows, files, peer_missing)
    if report is not None:
        write_report(report, json.dumps(rows, indent=1))


def _table(rows: list[dict], files: list, peer_missing: str | None) -> None:
    """The rows as a Markdown table, and each model's speed against the peer's."""
    print(f"{len(files)} files, {rows[0]['audio_s']} s of audio, one thread ({os.cpu_count()} cores present)")
    print("| model | size MB | decoder | RTF | frontend | network | decoder | peak RSS MB | WER % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {Path(r['model']).name} | {_cell(r['size_mb'], '.1f')} | {r['decoder']} | {r['rtf']:.4f} | "
              f"{_cell(r['rtf_frontend'], '.4f')} | {_cell(r['rtf_network'], '.4f')} | "
              f"{_cell(r['rtf_decoder'], '.4f')} | {r['peak_rss_mb']:.0f} | {_cell(r.get('wer'), '.1f')} |")
    if peer_missing:
        print(f"| pocketsphinx (peer) | | its own (LM + dictionary) | {peer_missing} | | | | | |")
    peer = next((r for r in rows if r["model"].startswith("pocketsphinx")), None)
    if peer:
        for r in rows:
            if r is not peer:
                ratio = peer["rtf"] / r["rtf"]
                said = f"{ratio:.1f}x faster than" if ratio >= 1 else f"{1 / ratio:.1f}x slower than"
                print(f"{Path(r['model']).name} {r['decoder']}: {said} pocketsphinx (same files, same run)")


if __name__ == "__main__":
    main()
