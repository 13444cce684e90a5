"""`speechseq features`: stream files through the log-mel frontend and show what it sees."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..files import one_line
from .common import IMAGE_SUFFIXES, HelpFormatter, bounded, expand_inputs, output_file, print_json_line, warn

if TYPE_CHECKING:  # numpy where files are read: `speechseq --help` builds this parser without it
    import numpy as np

_BARS = " .:-=+*#%@"


EXAMPLES = """examples:
  speechseq features data/samples/activate_kitchen_lights.wav --plot spectrogram.png"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", epilog=EXAMPLES, help="stream audio files through the log-mel frontend and summarise them",
                       description="Decode each file to 16 kHz mono, stream it through the log-mel frontend in "
                                   "chunks (as the listener does) and print a per-second loudness line, or JSON.",
                       formatter_class=HelpFormatter)
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV/FLAC/OGG/MP3) or directories")
    p.add_argument("--n-mels", type=bounded(int, ge=1, le=128), default=40,
                   help="mel bands (at most 128: more would leave filters with no FFT bin of the 512-point frames)")
    p.add_argument("--chunk-ms", type=bounded(float, gt=0), default=100.0,
                   help="chunk size fed to the streaming frontend")
    p.add_argument("--json", action="store_true", help="one JSON object per file instead of text")
    p.add_argument("--plot", metavar="PNG",
                   help="draw the log-mel spectrogram of the first file (the first one 25 ms or longer: a frame; "
                        "not -: a picture is not written to standard output)")
    p.set_defaults(func=run)


def _chunk(sample_rate: int, chunk_ms: float) -> int:
    """The samples a chunk of `chunk_ms` holds: whole ones, one at least."""
    return max(1, int(sample_rate * chunk_ms / 1000))


def _summary(path, n_mels: int, chunk_ms: float):
    import numpy as np

    from ..audio import stream_audio
    from ..frontend import FrontendConfig, StreamingFrontend

    cfg = FrontendConfig(n_mels=n_mels)
    fe = StreamingFrontend(cfg)
    state = fe.initial_state()
    chunk = _chunk(cfg.sample_rate, chunk_ms)
    feats, n_samples = [], 0
    for block in stream_audio(path, block_s=max(5.0, chunk / cfg.sample_rate)):  # chunks as asked, over 5 s too
        n_samples += len(block)
        for i in range(0, len(block), chunk):
            f, state = fe.step(block[i : i + chunk], state)
            feats.append(f)
    return cfg, n_samples, np.concatenate(feats) if feats else np.zeros((0, n_mels), np.float32)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..audio import path_text  # JSON is UTF-8: a name that is no UTF-8 as detect writes it

    output_file(args.plot, "--plot", IMAGE_SUFFIXES)
    failed, skipped, plotted = 0, [], not args.plot
    for path in expand_inputs(args.files, skipped=skipped):
        try:
            cfg, n, feats = _summary(path, args.n_mels, args.chunk_ms)
        except Exception as err:  # one bad file is reported; the rest go on
            warn(f"{err}")
            failed += 1
            continue
        fps = int(cfg.frame_rate)
        energy = feats.mean(axis=1) if len(feats) else np.zeros(0)
        per_s = [float(energy[j : j + fps].mean()) for j in range(0, len(energy), fps)]
        if args.json:
            print_json_line({"file": path_text(path), "duration": round(n / cfg.sample_rate, 3), "frames": len(feats),
                             "n_mels": cfg.n_mels, "mean_logmel_per_second": [round(v, 3) for v in per_s]})
        else:
            lo, hi = np.log(cfg.floor), max(per_s + [np.log(cfg.floor) + 1])  # hi - lo >= 1; no mean is under lo
            line = "".join(_BARS[int(round((len(_BARS) - 1) * (v - lo) / (hi - lo)))] for v in per_s)
            print(f"{one_line(str(path))}: {n / cfg.sample_rate:.2f} s, {len(feats)} frames x {cfg.n_mels} mels "
                  f"(streamed in {1000 * _chunk(cfg.sample_rate, args.chunk_ms) / cfg.sample_rate:g} ms chunks)")
            print(f"  loudness per second |{line}|")
        if not plotted and len(feats):  # the first file read that is long enough for a frame
            plotted = True
            _plot(feats, cfg, args.plot, str(path))
    if not plotted:
        warn(f"--plot {args.plot}: not written, no file read gave a frame (25 ms of audio)")
    return 1 if failed or skipped or not plotted else 0


def _plot(feats: np.ndarray, cfg, out: str, title: str):
    """Draw the log-mel spectrogram `feats` (T, n_mels) into `out`, titled by the file name `title`; returns the
    Figure."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..audio import path_text
    from .plotting import MaxPool, drawable

    # Pooled as detect --plot pools its frames: a file of under 4096 frames (41 s) frame for frame, a longer one in
    # 2048-4096 columns, each the maximum of the frames it stands for. Every frame of an hour (360,000 columns for
    # 1,000 pixels) took 889 MB at the peak, 164 MB without --plot.
    pool = MaxPool(np.zeros((0, feats.shape[1]), np.float32))
    pool.add(feats)
    spec = pool.result()
    fig = Figure(figsize=(10, 3))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    # each column `factor` frames wide; the last, of fewer, cut at the file's end by the limits
    ax.imshow(spec.rows.T, origin="lower", aspect="auto",
              extent=(0, len(spec.rows) * spec.factor / cfg.frame_rate, 0, cfg.n_mels))
    ax.set(xlabel="time (s)", ylabel="mel band", xlim=(0, spec.n / cfg.frame_rate))
    # a name as it is: no mathtext between two "$" (a traceback, or "$5 or $6" drawn as math), no lone surrogate of
    # a name that is no UTF-8 (which the font code refuses with a traceback), escaped where no font here draws it
    ax.set_title(drawable(path_text(title)), parse_math=False)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    print(f"wrote {out}", file=sys.stderr)
    return fig
