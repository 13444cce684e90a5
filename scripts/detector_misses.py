#!/usr/bin/env python
"""Which real clips a detector of a Precise wake word (amelia, android, hey chatterbox) misses: its miss rate by the recordings' noise floor,
speech level and low-band share, and with a noise floor added to every clip.

    .venv/bin/python scripts/detector_misses.py runs/s13/models-base/amelia.onnx \\
        [--threshold 0.73] [--added-floor -70 -60 -50 -40]

A clip is missed when its highest smoothed posterior (the runtime's smoothing, the clip padded as
scripts/eval_detectors.py pads it) stays under --threshold (default: the model's own; pass the one
that detector_tradeoff.py finds for a false-accept budget). Per clip: the noise floor (5th
percentile of 10 ms frame energies, dB re full scale), the speech level (95th percentile), the share
of energy under 300 Hz. Then the clips again with white and pink noise added at each --added-floor
(dBFS RMS): if the misses were caused by too clean a recording, a floor would recover them; and
with each --gain: if they were caused by a quiet recording, gain would.

Session 14, runs/s13/models-base/amelia.onnx ("natural", 10 epochs) at 0.73 (its threshold for
<= 0.5 synthetic FA/h), 223 clips, 40 missed: floor -90..-70 dB 28 of 86 missed (33 %), -70..-55
10 of 73 (14 %), above -55 2 of 64 (3 %); speech level above -10 dBFS 0 of 73 missed; missed clips'
median share under 300 Hz 0.16 against 0.33 for the detected ones. Added floors do not recover them
(missed at -70 / -60 / -50 / -40 dBFS: white 17.5 / 16.1 / 16.6 / 26.5 %, pink 17.9 / 17.5 / 18.8 /
28.7 %, none 17.9 %), nor does gain (-20 / -10 / +6 / +12 dB: 16.1 / 15.7 / 17.5 / 21.1 %): the
quiet, clean, thin-sounding recordings are most likely a few contributors' voices and microphones
(the set has no speaker labels), not a floor or a level the model lacks.

Session 21, --lead: a longer lead-in before each clip (the running mean and the GRU then start from
noise, not from the stream's initial silence) does not recover misses either. At the thresholds of
<= 2 / 0.5 synthetic FA/h (detector_tradeoff.py), missed with 0.5 s at -70 dBFS (the evaluation's) /
3 s at -70 / 3 s at -50: runs/s20/models-android/android.onnx at 0.69: 50.0 / 48.4 / 54.7 %, at 0.81:
70.3 / 75.0 / 70.3 %; runs/s20/models-android-seed1 at 0.81: 60.9 / 62.5 / 64.1 %;
runs/s19/models-natural/amelia.onnx at 0.71: 9.4 / 11.7 / 9.9 %.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_detectors import real_sets  # noqa: E402
from speechseq.audio import load_audio  # noqa: E402
from speechseq.commands.eval_detector import peak_scores  # noqa: E402
from speechseq.metrics import threshold_text  # noqa: E402
from speechseq.runtime.detector import Detector  # noqa: E402
from speechseq.train.augment import coloured_noise  # noqa: E402
from speechseq.train.kwbank import pad_recording  # noqa: E402


def clip_traits(audio: np.ndarray) -> tuple[float, float, float]:
    """(noise floor dB, speech level dB, share of energy under 300 Hz) of a 16 kHz clip."""
    n = len(audio) // 160 * 160
    e = 10 * np.log10((audio[:n].reshape(-1, 160) ** 2).mean(1) + 1e-14)
    spec = np.abs(np.fft.rfft(audio)) ** 2
    low = spec[np.fft.rfftfreq(len(audio), 1 / 16000) < 300].sum() / max(spec.sum(), 1e-20)
    return float(np.percentile(e, 5)), float(np.percentile(e, 95)), float(low)


def peaks(det: Detector, clips: list[np.ndarray]) -> np.ndarray:
    return np.array([peak_scores(det, x)[0] for x in clips])


def by_bins(name: str, values: np.ndarray, missed: np.ndarray, edges: list[float]) -> None:
    print(f"\n| {name} | clips | missed |\n|---|---|---|")
    for lo, hi in zip(edges[:-1], edges[1:]):
        s = (values >= lo) & (values < hi)
        print(f"| {lo:g} .. {hi:g} | {int(s.sum())} | {int((s & missed).sum())} ({100 * (s & missed).sum() / max(1, s.sum()):.0f} %) |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path, help="an amelia detector (.onnx)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--threshold", type=float, default=None, help="default: the model's own")
    ap.add_argument("--added-floor", type=float, nargs="*", default=[-70, -60, -50, -40], metavar="DBFS",
                    help="score the clips again with white and with pink noise added at each level (none given: "
                         "this table is skipped, as for --gain and --lead)")
    ap.add_argument("--gain", type=float, nargs="*", default=[-20, -10, 6, 12], metavar="DB",
                    help="score the clips again with each gain (before padding; clipped at full scale)")
    ap.add_argument("--lead", type=float, nargs="*", default=[3.0], metavar="S",
                    help="score the clips again after S seconds of pink noise at -70 and at -50 dBFS (the evaluation "
                         "pads 0.5 s at -70): is it the stream's start (the running mean still holding the "
                         "initial silence) that costs the misses?")
    args = ap.parse_args()
    if not (args.data / "precise" / "manifest.jsonl").is_file():
        raise SystemExit(f"no {args.data / 'precise' / 'manifest.jsonl'}: give --data, the folder of the real recordings")
    det = Detector.load([args.model])
    thr = args.threshold if args.threshold is not None else det.thresholds[0]
    sets = real_sets(args.data, det.models[0].keyword)
    files = sets["keyword_real"]
    if not files:
        raise SystemExit(f"no real {det.models[0].keyword!r} clips under {args.data / 'precise'} "
                         "(the Precise wake words: amelia, android, hey chatterbox)")
    audio = [load_audio(f) for f in files]
    clips = [pad_recording(a, np.random.default_rng(0)) for a in audio]
    p = peaks(det, clips)
    missed = p < thr
    traits = np.array([clip_traits(a) for a in audio])
    print(f"{args.model}: threshold {threshold_text(thr)}, {len(files)} real clips, {int(missed.sum())} missed ({100 * missed.mean():.1f} %)")
    by_bins("noise floor (dB)", traits[:, 0], missed, [-200, -90, -70, -55, 0])
    by_bins("speech level (dB)", traits[:, 1], missed, [-200, -30, -20, -10, 10])
    def median(sel: np.ndarray) -> str:
        return f"{np.median(traits[sel, 2]):.2f}" if sel.any() else "none"

    print(f"\nshare of energy under 300 Hz, median: missed {median(missed)}, detected {median(~missed)}")
    rng = np.random.default_rng(1)
    print("\n| added floor (dBFS) | white: missed | pink: missed |\n|---|---|---|")
    for fl in args.added_floor:
        cells = []
        for colour in ("white", "pink"):
            noisy = [x + coloured_noise(colour, len(x), rng).astype(np.float32) * 10 ** (fl / 20) for x in clips]
            cells.append(f"{100 * (peaks(det, noisy) < thr).mean():.1f} %")
        print(f"| {fl:g} | {cells[0]} | {cells[1]} |", flush=True)
    print("\n| gain (dB) | missed |\n|---|---|")
    for g in args.gain:
        loud = [np.clip(pad_recording(a * 10 ** (g / 20), np.random.default_rng(0)), -1, 1) for a in audio]
        print(f"| {g:+g} | {100 * (peaks(det, loud) < thr).mean():.1f} % |", flush=True)
    print("\n| lead-in (s) | at -70 dBFS: missed | at -50 dBFS: missed |\n|---|---|---|")
    for lead in args.lead:
        cells = []
        for fl in (-70.0, -50.0):
            led = [pad_recording(a, np.random.default_rng(0), lead_s=lead, floor_dbfs=fl) for a in audio]
            cells.append(f"{100 * (peaks(det, led) < thr).mean():.1f} %")
        print(f"| {lead:g} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    from speechseq.errors import SpeechseqError

    try:
        main()
    except SpeechseqError as err:  # a missing or damaged model, an unreadable audio file: one line
        sys.exit(f"detector_misses.py: {err}")
