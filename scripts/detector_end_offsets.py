#!/usr/bin/env python
"""Measure a trained detector's keyword-end offset at every threshold, without retraining, and write it into the
model's metadata as "end_offset_table" (what speechseq.runtime.detector.end_offset_at reads at the threshold it runs
at); nothing else in the file changes, its graph stays byte for byte the same.

    .venv/bin/python scripts/detector_end_offsets.py models/activate.onnx --clips cache/synth/kw-activate \\
        --voices even --background ../shared/data/kathleen/manifest.jsonl --where split=train \\
        --check-voices odd --check-background ../shared/data/fsdd/manifest.jsonl --check-where split=test --write

Models exported before session 46 carry one `end_offset_s`, validation's median at its own threshold (0.97 for
activate): a posterior crosses a lower threshold sooner, so their events' `end` ran early at the shipped threshold.

How: each held-out keyword clip (CLIPS/positives.jsonl rows with heldout true, the voices of --voices: "even" or
"odd" halves by a hash of engine and voice, or "all") is placed into a random --clip-s stretch of the background
(real recordings the model never trained on, joined end to end) as validation places keywords (speechseq.train.augment
.mix_clip: speech at 0-20 dB over the background, a quarter of the clips at 20-40 dB, a pink floor of -75 to -45
dBFS; the labels start at the output step holding the keyword's last sample). Each mix is streamed through the
runtime as `detect` streams a file (100 ms chunks, then its second of quiet noise), and its smoothed posterior from
the labels' start goes to speechseq.train.detector_validation.end_offset_table, validation's own measure.

With --check-clips / --check-voices / --check-background, the error of events' `end` against where the keyword ended
(median, and median absolute) is measured on other audio, before (the file as it is) and after (with the table), at
--thresholds and the model's own; with --write the table is written into MODEL (--out: into a copy).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechseq.audio import load_audio  # noqa: E402
from speechseq.commands.common import names_stdout, stdout_refused  # noqa: E402
from speechseq.commands.detect import file_tail  # noqa: E402
from speechseq.commands.eval_detector import collect  # noqa: E402
from speechseq.errors import SpeechseqError  # noqa: E402
from speechseq.files import written_atomically  # noqa: E402
from speechseq.runtime.detector import Detector, KeywordModel  # noqa: E402
from speechseq.runtime.onnx import read_metadata, write_metadata  # noqa: E402
from speechseq.train.augment import mix_clip  # noqa: E402
from speechseq.train.detector_validation import end_offset_table  # noqa: E402
from speechseq.train.kwmix import MixConfig  # noqa: E402
from speechseq.train.manifests import name_pct  # noqa: E402

CHUNK_S = 0.1  # `detect`'s default --chunk-ms
VOICES = ("all", "even", "odd")


@dataclass(frozen=True)
class Placed:
    """One keyword placed into background: the mix (N,) float32 at the model's rate, where the keyword ended (s), and
    the output step its labels start at (the step whose frames hold its last sample)."""

    audio: np.ndarray
    end_s: float
    label_step: int


def heldout_clips(folder: Path, voices: str = "all", rate: int = 16000) -> list[np.ndarray]:
    """The keyword clips of FOLDER/positives.jsonl whose voices are held out of training (heldout true), of the half
    `voices` names ("even" / "odd" by a hash of engine and voice; "all"), at `rate` Hz. A clip that cannot be read is
    reported and skipped."""
    manifest = folder / "positives.jsonl"
    if not manifest.is_file():
        raise SpeechseqError(f"{folder}: no positives.jsonl (a `speechseq synth keyword` folder)")
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("heldout") and (voices == "all" or
                                                     name_pct(f"{r['engine']}:{r['voice']}") % 2 == (voices == "odd"))]
    clips = []
    for r in rows:
        try:
            clips.append(load_audio(folder / r["audio_filepath"], sr=rate))
        except SpeechseqError as err:
            print(f"skipped: {err}", file=sys.stderr)
    if not clips:
        raise SpeechseqError(f"{manifest}: no clip of a held-out voice ({voices} voices) to measure on")
    return clips


def background(paths: list[str], where: list[str], rate: int) -> np.ndarray:
    """The audio of `paths` (files, folders, JSONL manifests filtered by --where) joined end to end at `rate`; a file
    that cannot be read is reported and skipped."""
    parts = []
    for path in collect(paths, where):
        try:
            parts.append(load_audio(path, sr=rate))
        except SpeechseqError as err:
            print(f"skipped: {err}", file=sys.stderr)
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if not len(audio):
        raise SpeechseqError(f"no background audio in {', '.join(paths)}" + (f" (--where {' '.join(where)})"
                                                                             if where else ""))
    return audio


def placed_keywords(model: KeywordModel, clips: list[np.ndarray], bg: np.ndarray, seed: int = 0,
                    clip_s: float = 4.0, mix: MixConfig = MixConfig()) -> list[Placed]:
    """Each clip in a random `clip_s` stretch of `bg` (wrapping round), as validation mixes a held-out keyword."""
    fe, rng = model.frontend, np.random.default_rng(seed)
    n = int(round(clip_s * fe.sample_rate))
    out = []
    for clip in clips:
        start = int(rng.integers(0, len(bg)))
        snr = mix.quiet_snr_db if rng.random() < mix.quiet_prob else mix.snr_db
        res = mix_clip(rng, np.take(bg, np.arange(start, start + n), mode="wrap"), [clip], [], stride=model.stride,
                       snr_db=snr, floor_dbfs=float(rng.uniform(*mix.floor_dbfs)), sr=fe.sample_rate,
                       hop=fe.hop_length, win=fe.win_length)
        on = np.flatnonzero(res.labels)
        if len(on) and res.positive_ends:  # a clip longer than the stretch is not placed
            out.append(Placed(res.audio, res.positive_ends[0], int(on[0])))
    return out


def streamed(det: Detector, audio: np.ndarray) -> tuple[list, np.ndarray]:
    """The events and the first keyword's smoothed posterior of `audio` streamed as `detect` streams a file: in
    100 ms chunks from a fresh stream, then the second of quiet noise it hears after a file."""
    rate = det.frontend.cfg.sample_rate
    chunk = int(round(CHUNK_S * rate))
    state, events, post = det.initial_state(), [], [[] for _ in det.models]
    for x in (audio, file_tail(rate)):
        for i in range(0, len(x), chunk):
            got, state = det.step(x[i: i + chunk], state, post)
            events += got
    events += det.flush(state)
    return events, (np.concatenate(post[0]) if post[0] else np.zeros(0, np.float32))


def offset_table(model_path: Path, placed: list[Placed]) -> dict[str, list[float]]:
    """validation's end_offset_table of the runtime's posteriors from each placed keyword's labels start."""
    det = Detector.load(model_path)
    m = det.models[0]
    posts = [streamed(det, p.audio)[1][p.label_step:] for p in placed]
    return end_offset_table(posts, m.smoothing_steps, m.step_s)


def end_errors(model_path: Path, placed: list[Placed], thresholds: list[float]) -> dict[str, dict]:
    """Per threshold: how many keywords an event found (the first emitted after the keyword ended, within 1.5 s),
    and the median and median absolute error of those events' `end` (s, event end less the keyword's)."""
    out = {}
    for t in thresholds:
        det = Detector.load(model_path, threshold=t)
        err = []
        for p in placed:
            found = [e for e in streamed(det, p.audio)[0] if p.end_s <= e.time <= p.end_s + 1.5]
            if found:
                err.append(found[0].end - p.end_s)
        e = np.array(err)
        out[f"{t:g}"] = {"found": len(e), "of": len(placed),
                         "median_error_s": round(float(np.median(e)), 4) if len(e) else None,
                         "median_abs_error_s": round(float(np.median(np.abs(e))), 4) if len(e) else None}
    return out


def with_table(model: Path, table: dict, out: Path) -> None:
    """`model` with `table` as its "end_offset_table" metadata written to `out` (`model` itself too), whole or not
    at all (speechseq.files.written_atomically); every other byte of the graph and metadata as it was."""
    if not table["threshold"]:
        raise SpeechseqError(f"{model}: no threshold reached by any placed keyword: no end offset to write")
    meta = read_metadata(model)
    with written_atomically(out) as tmp:
        shutil.copyfile(model, tmp)
        write_metadata(tmp, {**meta, "end_offset_table": table})
        _same_graph(model, tmp)


def _same_graph(a: Path, b: Path) -> None:
    """AssertionError unless ONNX files `a` and `b` differ in their speechseq metadata alone."""
    import onnx

    ma, mb = onnx.load(str(a)), onnx.load(str(b))
    for m in (ma, mb):
        del m.metadata_props[:]
    if ma.SerializeToString() != mb.SerializeToString():
        raise AssertionError(f"{b}: the graph changed with the metadata")


def arguments() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="the detector .onnx")
    ap.add_argument("--clips", type=Path, required=True, help="a `speechseq synth keyword` folder (positives.jsonl)")
    ap.add_argument("--voices", choices=VOICES, default="all", help="which held-out voices measure the table")
    ap.add_argument("--background", nargs="+", required=True, metavar="PATH",
                    help="real recordings the model never trained on: files, folders, JSONL manifests")
    ap.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="manifest rows of --background")
    ap.add_argument("--check-clips", type=Path, help="keyword clips for the before/after check (default: --clips)")
    ap.add_argument("--check-voices", choices=VOICES, help="held-out voices of the check (no check without one of "
                                                           "--check-voices / --check-background)")
    ap.add_argument("--check-background", nargs="+", metavar="PATH", help="the check's background (default: "
                                                                          "--background)")
    ap.add_argument("--check-where", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.9],
                    help="thresholds of the check, with the model's own")
    ap.add_argument("--clip-s", type=float, default=4.0, help="seconds of background around each keyword")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true", help="write the table into MODEL")
    ap.add_argument("--out", type=Path, help="write MODEL with the table here instead")
    return ap


def main(argv: list[str] | None = None) -> dict:
    args = arguments().parse_args(argv)
    if names_stdout(args.out):  # before the measuring: a copy of MODEL named "-" was written
        raise SpeechseqError(stdout_refused("--out", "a model", "a file (.onnx)"))
    if not all(0.0 < t < 1.0 for t in args.thresholds):
        raise SpeechseqError(f"--thresholds must lie in (0, 1), got {args.thresholds}")
    if args.clip_s <= 0:
        raise SpeechseqError(f"--clip-s must be a positive number of seconds, got {args.clip_s}")
    began = time.monotonic()
    model = KeywordModel(args.model)
    rate = model.frontend.sample_rate
    placed = placed_keywords(model, heldout_clips(args.clips, args.voices, rate),
                             background(args.background, args.where, rate), args.seed, args.clip_s)
    table = offset_table(args.model, placed)
    report: dict = {"model": str(args.model), "keywords_placed": len(placed), "end_offset_table": table}
    print(f"{args.model}: end offset at {len(table['threshold'])} thresholds from {len(placed)} placed keywords: "
          + ", ".join(f"{t:g}: {o:.3f} s" for t, o in zip(table["threshold"], table["end_offset_s"])
                      if round(t * 100) % 10 == 0 or t == model.threshold), flush=True)
    if args.check_voices or args.check_background:
        held = heldout_clips(args.check_clips or args.clips, args.check_voices or args.voices, rate)
        check = placed_keywords(model, held,
                                background(args.check_background or args.background, args.check_where, rate),
                                args.seed + 1, args.clip_s)
        thresholds = sorted({*args.thresholds, model.threshold})
        with tempfile.TemporaryDirectory() as tmp:
            after = Path(tmp) / "with-table.onnx"
            with_table(args.model, table, after)
            report["check"] = {"keywords_placed": len(check), "before": end_errors(args.model, check, thresholds),
                               "after": end_errors(after, check, thresholds)}
        for t in thresholds:
            b, a = (report["check"][k][f"{t:g}"] for k in ("before", "after"))
            print(f"threshold {t:g}: {a['found']} of {a['of']} found; event end minus keyword end, median "
                  f"{b['median_error_s']} -> {a['median_error_s']} s, median absolute {b['median_abs_error_s']} -> "
                  f"{a['median_abs_error_s']} s", flush=True)
    if args.write or args.out:
        with_table(args.model, table, args.out or args.model)
        report["written"] = str(args.out or args.model)
        print(f"wrote end_offset_table into {report['written']}")
    report["seconds"] = round(time.monotonic() - began, 1)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    try:
        main()
    except SpeechseqError as err:  # a missing or damaged model, clips or background: one line
        sys.exit(f"detector_end_offsets.py: {err}")
