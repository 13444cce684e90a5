"""`speechseq detect`: find trigger words in audio files with one or more detector models."""
from __future__ import annotations

import argparse
import functools
import hashlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SpeechseqError
from ..files import one_line
from .common import (IMAGE_SUFFIXES, MODELS, HelpFormatter, add_range_arg, bounded, cpu_threads, expand_inputs,
                     guard_range, model_paths, no_shipped, option_files, output_file, print_json_line, warn)
from .plotting import MaxPool, Pooled, drawable

if TYPE_CHECKING:  # numpy where a file is run: `speechseq --help` builds this parser without it
    import numpy as np

DEFAULT_MODELS = ("activate.onnx", "computer.onnx")


EXAMPLES = """examples:
  speechseq detect data/samples/activate_kitchen_lights.wav --plot posterior.png
  speechseq detect recordings/ --json --threshold 0.6
  speechseq detect --model runs/hey-robot/hey_robot.onnx my-recording.wav"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detect", epilog=EXAMPLES, help="find trigger words in audio files",
                       description="Stream each file through the log-mel frontend and every keyword model (as a "
                                   "live microphone would be, in chunks) and print the detections: keyword, "
                                   "estimated start, end (when the keyword ended) and score. Without --model, "
                                   "the shipped models (" + ", ".join(DEFAULT_MODELS) + ").",
                       formatter_class=HelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV/FLAC/OGG/MP3) or directories")
    p.add_argument("--model", action="append", metavar="PATH", help="detector .onnx (repeat for several keywords)")
    p.add_argument("--threshold", type=bounded(float, gt=0, lt=1),
                   help="detection threshold for every model, in (0, 1) (default: each model's own)")
    # at most speechseq.runtime.detector.MAX_SMOOTHING_STEPS (not imported here: onnxruntime would load with the
    # parser of every command; a test keeps the two equal)
    p.add_argument("--smoothing", type=bounded(int, ge=1, le=100),
                   help="posterior smoothing window in output steps (40 ms each for the shipped models), 1 = none, "
                        "at most 100 (default: the model's)")
    p.add_argument("--refractory", type=bounded(float, ge=0),
                   help="seconds before the same keyword can fire again (default: the model's)")
    p.add_argument("--chunk-ms", type=bounded(float, ge=1), default=100.0, help="audio chunk fed to the detector")
    add_range_arg(p)
    p.add_argument("--json", action="store_true", help="one JSON object per file")
    p.add_argument("--plot", metavar="PNG", help="draw spectrogram, posteriors and detections (of the first file "
                                                 "read; .png, .pdf, .svg, ...; not -: a picture is not written to "
                                                 "standard output)")
    p.add_argument("--threads", type=bounded(int, ge=1), default=1,
                   help="onnxruntime threads (more than the CPUs here are taken as that many)")
    p.set_defaults(func=run)


def load_distinct(paths: list[Path], option: str | None = "--model", **settings):
    """Detector.load(paths, **settings) as `speechseq detect` and speechseq.load_detector() load detectors: a file
    that is byte for byte one before it dropped, and two models of one keyword (both run), said. `option`: the option
    that named the paths, said with each in warnings and load errors (None: paths no option named, the shipped ones
    or load_detector's)."""
    from ..runtime.detector import Detector

    paths = distinct_models(paths, option)
    with option_files(*[(option, p, "detector") for p in (paths if option else ())]):
        det = Detector.load(paths, **settings)
    first: dict[str, Path] = {}
    for path, m in zip(paths, det.models):  # both are run (two versions compared, say), but nothing tells them apart
        if m.keyword in first:
            warn(f"{_named(first[m.keyword], option)} and {_named(path, option)} both detect {m.keyword!r}: their "
                 "events carry the same name")
        first.setdefault(m.keyword, path)
    return det


def distinct_models(paths: list[Path], option: str | None = "--model") -> list[Path]:
    """`paths` less each file that is byte for byte one before it (a copy by another path), said: model_paths keeps
    one of a path named twice, and a copy fired every event twice, told apart by nothing."""
    out: list[Path] = []
    seen: dict[bytes, Path] = {}
    for p in paths:
        try:
            digest = hashlib.sha256(p.read_bytes()).digest()
        except OSError:  # the loader says why it cannot be read
            out.append(p)
            continue
        if digest in seen:
            warn(f"{_named(p, option)}: the same model as {_named(seen[digest], option)}; used once")
            continue
        seen[digest] = p
        out.append(p)
    return out


def _named(path: Path, option: str | None) -> str:
    return f"{option} {path}" if option else str(path)


def default_models() -> list[Path]:
    found = [MODELS / m for m in DEFAULT_MODELS if (MODELS / m).is_file()]
    if not found:
        raise SpeechseqError(f"pass --model PATH: {no_shipped('no shipped detectors')}")
    return found


def detect_file(det, path: Path, chunk_ms: float = 100.0, keep: bool = False):
    """Stream one file through `det`. Returns (events, duration s, posteriors per keyword or None, log-mel features
    or None), the last two for --plot as Pooled, in bounded memory."""
    from ..audio import stream_audio

    rate = det.frontend.cfg.sample_rate  # the models' rate (each file is resampled to it), not always 16 kHz
    return detect_blocks(det, stream_audio(path, block_s=10.0, sr=rate), chunk_ms, keep)


def detect_blocks(det, blocks, chunk_ms: float = 100.0, keep: bool = False):
    """detect_file over blocks of float32 mono samples at the models' rate (speechseq.detect's arrays too)."""
    import numpy as np

    state = det.initial_state()
    rate = det.frontend.cfg.sample_rate
    chunk = max(1, int(round(rate * chunk_ms / 1000)))
    post = [[] for _ in det.models] if keep else None
    pools = [MaxPool(np.zeros(0, np.float32)) for _ in det.models]
    spec, fe_state = MaxPool(np.zeros((0, det.frontend.cfg.n_mels), np.float32)), det.frontend.initial_state()
    events, n = [], 0
    for block in blocks:
        n += len(block)
        for i in range(0, len(block), chunk):
            piece = block[i: i + chunk]
            got, state = det.step(piece, state, post)
            events += got
            if keep:
                feats, fe_state = det.frontend.step(piece, fe_state)
                spec.add(feats)
                for pool, p in zip(pools, post):
                    for values in p:
                        pool.add(values)
                    p.clear()
    # The file's end is followed by a second of quiet noise, as `eval detector` scores clips: the posterior rises
    # only after a keyword ends, and a clip cut 0.1 s after its word was otherwise never detected.
    tail = file_tail(rate)
    beyond = [[] for _ in det.models] if keep else None  # the posteriors shown are the file's own
    for i in range(0, len(tail), chunk):
        got, state = det.step(tail[i: i + chunk], state, beyond)
        events += got
    events += det.flush(state)
    duration = n / rate
    events = [e if e.end <= duration else replace(e, end=duration, start=min(e.start, duration)) for e in events]
    if not keep:
        return events, duration, None, None
    return events, duration, [pool.result() for pool in pools], spec.result()


@functools.lru_cache(maxsize=2)
def file_tail(rate: int) -> np.ndarray:
    """The second of quiet pink noise that follows each file (the same every time: made once per rate; eval
    detector streams it after each negative)."""
    import numpy as np

    from ..noise import pad_recording  # (not speechseq.train's: detect loads no training module)

    tail = pad_recording(np.zeros(0, np.float32), np.random.default_rng(0), lead_s=0.0, sr=rate)
    tail.flags.writeable = False
    return tail


def plot_detections(path: Path, out: str, det, events, duration: float, post: list[Pooled], spec: Pooled):
    """Draw spectrogram, posteriors, thresholds and detections into `out`; returns the Figure. A posterior is drawn
    from where events can start: its stream's first steps (the detector's `settle`) hold its start transient, which
    rises to about 0.35 over a quiet start, and are shaded as such."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..audio import path_text

    fig = Figure(figsize=(10, 5))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    if len(spec.rows):
        ax1.imshow(spec.rows.T, origin="lower", aspect="auto", cmap="magma",
                   extent=(0, spec.n / det.frontend.cfg.frame_rate, 0, spec.rows.shape[1]))
    ax1.set(ylabel="mel band")
    ax1.set_title(f"{drawable(path_text(path.name))}: {len(events)} detection{'' if len(events) == 1 else 's'}",
                  parse_math=False)  # as written: no mathtext, no surrogate of a name not UTF-8, no glyph the fonts lack
    settle_s = 0.0
    for m, p, thr, settle in zip(det.models, post, det.thresholds, det.settle):
        live = np.arange(len(p.rows)) * p.factor >= settle  # rows whose every step is past the settling
        line, = ax2.plot(p.ends()[live] * m.step_s, p.rows[live], label=m.keyword)
        ax2.axhline(thr, color=line.get_color(), ls=":", lw=0.8)
        settle_s = max(settle_s, settle * m.step_s)
    if settle_s > 0:
        ax2.axvspan(0, settle_s, color="0.85", label="settling (no events)")
    notes = []
    for e in sorted(events, key=lambda e: e.end):
        for ax in (ax1, ax2):
            ax.axvspan(e.start, e.end, color="cyan", alpha=0.25)
        notes.append(ax2.annotate(f"{e.keyword} {e.score:.2f}", (e.end, min(0.98, e.score)), fontsize=8))
    ax2.set(xlabel="time (s)", ylabel="posterior", ylim=(0, 1), xlim=(0, max(duration, 0.01)))
    ax2.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    place_labels(fig, ax2, notes)
    Path(out).parent.mkdir(parents=True, exist_ok=True)  # as features --plot, eval detector --det
    fig.savefig(out, dpi=100)
    return fig


def place_labels(fig, ax, notes: list) -> None:
    """Keep the event labels `notes` (in time order) legible: one past the axes' right edge (an event at the file's
    end; it was cut off at the picture's) is drawn to the left of its point, and one that would cover the label
    before it is left out: its shaded stretch and its posterior still show it (two events 3 s apart in 10 minutes
    wrote one label over the other, an hour of them a black smear)."""
    renderer = fig.canvas.get_renderer()
    last = None
    for note in notes:
        box = note.get_window_extent(renderer)
        if box.x1 > ax.bbox.x1:
            note.set_horizontalalignment("right")
            box = note.get_window_extent(renderer)
        if last is not None and box.overlaps(last.padded(3)):  # (a few pixels apart, not touching)
            note.set_visible(False)
        else:
            last = box


def run(args: argparse.Namespace) -> int:
    from ..audio import path_text
    from .transcribe import check_model_arg

    paths = model_paths(args.model) if args.model else default_models()
    for path in paths:  # a missing one named with its option, as transcribe names --model
        check_model_arg(str(path), None, "--model")
    output_file(args.plot, "--plot", IMAGE_SUFFIXES)   # before any work, so that a bad path loses nothing
    det = load_distinct(paths, "--model" if args.model else None, threads=cpu_threads(args.threads),
                        threshold=args.threshold, smoothing_steps=args.smoothing, refractory_s=args.refractory,
                        range_db=guard_range(args.range_db))
    skipped: list[str] = []
    failed, plotted = 0, not args.plot
    for path in expand_inputs(args.files, skipped=skipped):
        keep = not plotted
        try:
            events, duration, post, spec = detect_file(det, path, args.chunk_ms, keep)
        except SpeechseqError as err:  # one bad file is reported; the rest go on
            warn(str(err))
            failed += 1
            continue
        if args.json:
            print_json_line({"file": path_text(path), "duration": round(duration, 3),
                             "detections": [e.to_dict() for e in events]})
        else:
            found = ", ".join(f"{e.keyword} {e.start:.2f}-{e.end:.2f} s ({e.score:.2f})" for e in events) or "nothing"
            print(f"{one_line(path_text(path))}: {duration:.2f} s: {found}", flush=True)
        if keep:  # after its results are out: a plot that cannot be written loses nothing else
            plotted = True
            try:
                plot_detections(path, args.plot, det, events, duration, post, spec)
                print(f"wrote {args.plot}", file=sys.stderr)
            except (OSError, ValueError) as err:
                warn(f"--plot {args.plot}: not written ({err})")
                failed += 1
    if not plotted:
        warn(f"--plot {args.plot}: not written (no file was read)")
    return 1 if failed or skipped else 0
