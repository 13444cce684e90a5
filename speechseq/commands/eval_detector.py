"""`speechseq eval detector`: false rejects on keyword recordings, false accepts per hour on audio
without the keyword, a DET curve, and the threshold for a target false-accept rate.

Positives: each recording is scored by the maximum smoothed posterior over it, after padding
(0.5 s before, 1 s after, pink noise at -70 dBFS) so that the moments after the keyword are seen.
It counts as detected at threshold th when that maximum reaches th (an event starts).
Negatives: each file is streamed as a live input would be, and the events of the runtime's
trigger (smoothing, threshold, peak, refractory time) are counted at every threshold.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..errors import SpeechseqError
from .common import (AUDIO_SUFFIXES, HelpFormatter, add_range_arg, expand_inputs, guard_range, print_json_line,
                     progress)

THRESHOLDS = np.round(np.arange(0.02, 0.9951, 0.005), 4)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detector", help="false rejects, false accepts per hour and a DET curve of a detector",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--model", required=True, help="detector .onnx")
    p.add_argument("--positives", nargs="*", default=[], metavar="PATH",
                   help="recordings of the keyword: files, directories or JSONL manifests")
    p.add_argument("--negatives", nargs="*", default=[], metavar="PATH",
                   help="audio without the keyword (long files or many clips): files, directories or JSONL manifests")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="keep only manifest rows with this field value (repeatable; e.g. text=amelia, split=dev)")
    p.add_argument("--target-fa", type=float, default=0.5, help="false accepts per hour for the suggested threshold")
    p.add_argument("--threshold", type=float, help="threshold to report at (default: the model's)")
    p.add_argument("--det", metavar="PNG", help="draw the DET curve")
    add_range_arg(p)
    p.add_argument("--save-threshold", action="store_true",
                   help="write the threshold for --target-fa into the model file (its metadata; the old one is kept "
                        "as threshold_previous), so that detect and listen use it by default: for a model fitted "
                        "to your voice, measured on recordings of yours that it was not trained on")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def collect(paths: list[str], where: list[str]) -> list[Path]:
    """Audio files from files, directories and JSONL manifests (rows filtered by KEY=VALUE)."""
    filters = []
    for w in where:
        if "=" not in w:
            raise SpeechseqError(f"--where takes KEY=VALUE, got {w!r}")
        filters.append(tuple(w.split("=", 1)))
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.suffix == ".jsonl" and p.is_file():
            with open(p) as f:
                rows = [json.loads(line) for line in f if line.strip()]
            for r in rows:
                if all(str(r.get(k)) == v for k, v in filters):
                    out.append(p.parent / r["audio_filepath"])
        else:
            out += [q for q in expand_inputs([raw]) if q.suffix.lower() in AUDIO_SUFFIXES or q.is_file()]
    return out


def positive_scores(det, files: list[Path], show: bool | None = None) -> np.ndarray:
    """(P, K) maximum smoothed posterior per padded recording and keyword model."""
    from ..audio import load_audio
    from ..train.kwbank import pad_recording

    scores = [peak_scores(det, pad_recording(load_audio(path), np.random.default_rng(0)))
              for path in progress(files, len(files), "positives", show)]
    return np.array(scores).reshape(len(files), len(det.models))


def peak_scores(det, audio: np.ndarray) -> list[float]:
    """The highest smoothed posterior of each keyword model over one recording, from a fresh stream."""
    post = [[] for _ in det.models]
    det.step(audio, det.initial_state(), post)
    return [float(np.concatenate(p).max()) if p else 0.0 for p in post]


def negative_posteriors(det, files: list[Path], show: bool | None = None) -> tuple[list[list[np.ndarray]], float]:
    """Smoothed posteriors per file and keyword on streamed negatives, and their total hours."""
    from ..audio import stream_audio

    out, seconds = [], 0.0
    for path in progress(files, len(files), "negatives", show):
        state, post = det.initial_state(), [[] for _ in det.models]
        for block in stream_audio(path, block_s=30.0):
            seconds += len(block) / 16000
            _, state = det.step(block, state, post)
        out.append([np.concatenate(p) if p else np.zeros(0, np.float32) for p in post])
    return out, seconds / 3600


def count_events(det, k: int, posteriors: list[list[np.ndarray]], threshold: float) -> int:
    from ..runtime.detector import trigger_events

    return sum(len(trigger_events(p[k], threshold, det.refractory[k], det.max_wait[k])) for p in posteriors)


def evaluate(det, positives: list[Path], negatives: list[Path], target_fa: float = 0.5,
             threshold: float | None = None, show: bool | None = None) -> tuple[dict, object]:
    """Summary of the first keyword model of `det` and its DET curve (speechseq.metrics.DetCurve)."""
    from ..metrics import det_curve

    m = det.models[0]
    th = float(threshold if threshold is not None else det.thresholds[0])
    summary: dict = {"model": m.path, "keyword": m.keyword, "threshold": th, "positives": len(positives)}
    pos = positive_scores(det, positives, show)[:, 0] if positives else np.zeros(0)
    post, hours = negative_posteriors(det, negatives, show) if negatives else ([], 0.0)
    summary["negative_hours"] = round(hours, 4)
    if len(pos):
        summary["frr"] = round(float((pos < th).mean()), 4)
    if hours > 0:
        n = count_events(det, 0, post, th)
        summary.update(false_accepts=n, fa_per_hour=round(n / hours, 3))
    curve = None
    if len(pos) and hours > 0:
        curve = det_curve(pos, lambda t: count_events(det, 0, post, t), hours, THRESHOLDS, label=m.keyword)
        try:
            t = curve.threshold_for_fa_rate(target_fa)
            i = int(np.flatnonzero(curve.thresholds == t)[0])
            summary.update(target_fa_per_hour=target_fa, threshold_for_target=t, frr_at_target=round(float(curve.frr[i]), 4),
                           fa_per_hour_at_target=round(float(curve.fa_per_hour[i]), 3))
        except ValueError as err:
            summary["target_note"] = str(err)
    return summary, curve


def run(args: argparse.Namespace) -> int:
    from ..metrics import plot_det
    from ..runtime.detector import Detector

    positives = collect(args.positives, args.where)
    negatives = collect(args.negatives, args.where)
    if not positives and not negatives:
        raise SpeechseqError("nothing to evaluate: give --positives and/or --negatives")
    det = Detector.load([args.model], range_db=guard_range(args.range_db))
    summary, curve = evaluate(det, positives, negatives, args.target_fa, args.threshold)
    if args.det:
        if curve is None:
            raise SpeechseqError("a DET curve needs both --positives and --negatives")
        plot_det([curve], args.det, title=f"{summary['keyword']}: DET")
        summary["det"] = args.det
    if args.save_threshold:
        summary["saved_threshold"] = save_threshold(args.model, summary)
    if args.json:
        print_json_line(summary)
    else:
        for k, v in summary.items():
            print(f"{k:>22}: {v}")
    return 0


MIN_SAVE_HOURS = 0.25  # negatives --save-threshold needs


def save_threshold(model: str | Path, summary: dict) -> float:
    """Write `summary`'s threshold for the target false-accept rate into the model's metadata (the old
    one as threshold_previous, what chose it as threshold_choice); returns it."""
    from ..runtime.onnx import read_metadata, write_metadata

    if summary.get("negative_hours", 0.0) < MIN_SAVE_HOURS:
        got = 60 * summary.get("negative_hours", 0.0)
        raise SpeechseqError(f"--save-threshold needs at least {60 * MIN_SAVE_HOURS:.0f} minutes of --negatives (got "
                             f"{got:.1f}): a shorter set bounds no false-accept rate (an hour or more of your own "
                             "speech and rooms is better)")
    t = summary.get("threshold_for_target")
    if t is None:
        raise SpeechseqError("--save-threshold needs --positives and --negatives and a threshold that meets "
                             f"--target-fa ({summary.get('target_note', 'no DET curve')})")
    meta = read_metadata(model)
    meta["threshold_previous"], meta["threshold"] = meta.get("threshold"), float(t)
    meta["threshold_choice"] = {k: summary[k] for k in ("target_fa_per_hour", "positives", "negative_hours",
                                                        "frr_at_target", "fa_per_hour_at_target")}
    write_metadata(model, meta)
    return float(t)
