#!/usr/bin/env python
"""Does a detector wake when the command follows its keyword at once? Held-out espeak-ng voices say the keyword,
then a command of data/commands/home.txt 0, 50, 100 or 200 ms later; the same voice says "KEYWORD <command>" as
one sentence, "KEYWORD, <command>", and the keyword alone. Each file is streamed through the runtime as
`speechseq detect` streams it (its threshold, smoothing, floor guard and second of quiet noise after the file),
and a file with any detection woke the model.

    .venv/bin/python scripts/detector_runon.py runs/base/amelia.onnx runs/follow/amelia.onnx \\
        --clips runs/runon-amelia [--keyword amelia] [--voices 30] [--seed 46] [--threshold 0.8]

prints one row per model (and per --threshold), "woke/total" in each column:

    model               threshold   0 ms  50 ms  100 ms  200 ms  one sentence  comma  alone

The clips (16 kHz WAVs, CLIPS/<0|50|100|200|natural|comma|alone>/NN.wav, CLIPS/index.json: each voice and command)
are made once and read back on later runs; CLIPS/clips.json says for which keyword, voices and seed. The --voices
voices are drawn from espeak-ng's held-out ones (speechseq.train.synth.heldout) with --seed, voice k saying command
k of the list (wrapping round). The keyword and the command are each trimmed at -40 dB with no margin and joined by
the gap's silence; every file is 0.5 s of silence, the speech, 0.25 s of silence, scaled by 0.3, plus -65 dBFS
noise. With 30 voices and seed 46 they are session 46's amelia clips byte for byte (checked in session 47).

Session 47, amelia (`speechseq train detector --keyword amelia --synth runs/s44/amelia/synth --epochs 5 --seed S`,
S = 0 / 1 / 2, "follow" with `--follow-share 0.1`; README, "--follow-share"), 30 voices, seed 46, woke at each model's
own threshold (0 / 50 / 100 / 200 ms, one sentence, comma, alone; of 30):
    base     2 / 6 / 29 / 30, 0, 30, 30;   0 / 5 / 29 / 30, 0, 30, 30;    5 / 23 / 30 / 30, 2, 30, 30
    follow  18 / 30 / 30 / 30, 14, 30, 30; 10 / 29 / 30 / 30, 9, 30, 30;  20 / 30 / 30 / 30, 15, 30, 30
A base model wakes on "amelia" said alone or before a pause, but seldom when the command runs on at once.
Session 48, the same at the default 10 epochs, seeds 1 / 2 (runs/s48/amelia/synth, `--threshold 0.8` as well):
    base     3 / 19 / 30 / 30, 0, 30, 30;  4 / 13 / 30 / 30, 0, 30, 30
    follow  23 / 30 / 30 / 30, 20, 30, 30; 22 / 30 / 30 / 30, 23, 30, 30
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from detector_tradeoff import keyword_of  # noqa: E402  (one check that a model is a detector, for both scripts)
from speechseq.commands.common import bounded  # noqa: E402
from speechseq.commands.detect import detect_file  # noqa: E402
from speechseq.errors import SpeechseqError  # noqa: E402
from speechseq.runtime.detector import Detector  # noqa: E402
from speechseq.runtime.level import GUARD_RANGE_DB  # noqa: E402
from speechseq.runtime.onnx import read_metadata  # noqa: E402

COMMANDS = ROOT / "data" / "commands" / "home.txt"
GAPS_MS = (0, 50, 100, 200)
# the table's columns: each set's folder and heading
SETS = (("0", "0 ms"), ("50", "50 ms"), ("100", "100 ms"), ("200", "200 ms"), ("natural", "one sentence"),
        ("comma", "comma"), ("alone", "alone"))
RATE = 16000
LEAD_S, TAIL_S, GAIN, NOISE_DBFS = 0.5, 0.25, 0.3, -65.0


def commands(path: Path = COMMANDS) -> list[str]:
    """The command phrases of a list: one a line, blank lines and "#" comments left out."""
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


def run_on(keyword_audio: np.ndarray, command_audio: np.ndarray, gap_ms: int) -> list[np.ndarray]:
    """The parts of a run-on clip: the keyword, `gap_ms` of silence, the command (at 16 kHz)."""
    return [keyword_audio, np.zeros(RATE * gap_ms // 1000, np.float32), command_audio]


def framed(parts: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """The parts joined between LEAD_S and TAIL_S of silence, scaled by GAIN, plus NOISE_DBFS of white noise drawn
    from `rng` (N,) float32."""
    x = np.concatenate([np.zeros(int(LEAD_S * RATE), np.float32), *parts, np.zeros(int(TAIL_S * RATE), np.float32)])
    return GAIN * x + rng.normal(0, 10 ** (NOISE_DBFS / 20), len(x)).astype(np.float32)


def make_clips(keyword: str, out: Path, voices: int = 30, seed: int = 46) -> None:
    """The run-on clips of `keyword` in `out` (absent or an empty folder), whole or not at all: made in a folder
    beside it, renamed to `out` at the end (an interrupted run leaves no half set to be read back later)."""
    import soundfile as sf

    from speechseq.train.synth import heldout, list_voices, synthesize, trim_silence

    cmds = commands()
    pool = [v for v in list_voices(["espeak-ng"]) if heldout(v)]
    if len(pool) < voices:
        raise SpeechseqError(f"--voices {voices}: espeak-ng has {len(pool)} held-out voices here"
                             + ("" if pool else " (is espeak-ng installed?)"))
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(pool), voices, replace=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(prefix=f".{out.name}.part-", dir=out.parent))
    try:
        rows = []
        for k, vi in enumerate(pick):
            v, cmd_text = pool[vi], cmds[k % len(cmds)]
            kw = trim_silence(synthesize(keyword, v), keep_s=0.0)
            cmd = trim_silence(synthesize(cmd_text, v), keep_s=0.0)
            sets = {str(g): run_on(kw, cmd, g) for g in GAPS_MS}
            sets["alone"] = [kw]
            sets["natural"] = [synthesize(f"{keyword} {cmd_text}", v)]
            sets["comma"] = [synthesize(f"{keyword}, {cmd_text}", v)]
            for name, parts in sets.items():  # in this order: the noise is drawn from one generator
                d = part / name
                d.mkdir(exist_ok=True)
                sf.write(d / f"{k:02d}.wav", framed(parts, rng), RATE)
            rows.append({"k": int(k), "voice": v.id, "cmd": cmd_text})
            print(f"\rmade the clips of {k + 1}/{voices} voices", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        (part / "index.json").write_text(json.dumps(rows, indent=1))
        (part / "clips.json").write_text(json.dumps({"keyword": keyword, "voices": voices, "seed": seed}))
        if out.is_dir():
            out.rmdir()  # empty (clips_folder checked it)
        os.rename(part, out)
    finally:
        shutil.rmtree(part, ignore_errors=True)


def clips_folder(out: Path, keyword: str, voices: int = 30, seed: int = 46) -> Path:
    """`out` holding the run-on clips of `keyword`: made there if it is absent or empty, else checked to be clips
    of that keyword, voice count and seed (a folder made by session 46's script, which recorded none of them, is
    taken as it is, said on stderr)."""
    if out.exists() and not out.is_dir():
        raise SpeechseqError(f"--clips {out}: not a folder")
    if not out.exists() or not any(out.iterdir()):
        make_clips(keyword, out, voices, seed)
        return out
    if not (out / "index.json").is_file():
        raise SpeechseqError(f"--clips {out}: holds no run-on clips (no index.json); give an empty or new folder")
    made = out / "clips.json"
    if made.is_file():
        want = {"keyword": keyword, "voices": voices, "seed": seed}
        try:
            have = json.loads(made.read_text())
        except ValueError:
            have = None
        if not isinstance(have, dict):
            raise SpeechseqError(f"--clips {out}: clips.json is not the JSON this script writes; give another folder")
        if have != want:
            raise SpeechseqError(f"--clips {out}: clips of {have.get('keyword')!r} ({have.get('voices')} voices, "
                                 f"seed {have.get('seed')}), not of {keyword!r} ({voices} voices, seed {seed}); "
                                 "give another folder")
    else:
        print(f"--clips {out}: no clips.json (session 46's clips): taken as clips of {keyword!r}", file=sys.stderr)
    for name, _ in SETS:
        if not list((out / name).glob("*.wav")):
            raise SpeechseqError(f"--clips {out}: no {name}/*.wav (an incomplete folder: remove it to make it again)")
    return out


def woken(det: Detector, folder: Path) -> tuple[int, int]:
    """(files with a detection, files read) of the WAVs in `folder`, each streamed as `detect` streams a file; a
    file that cannot be read is reported and left out of both."""
    woke = total = 0
    for path in sorted(folder.glob("*.wav")):
        try:
            events = detect_file(det, path)[0]
        except SpeechseqError as err:
            print(f"skipped: {err}", file=sys.stderr)
            continue
        woke, total = woke + bool(events), total + 1
    return woke, total


def runon_counts(model: Path, clips: Path, threshold: float | None = None,
                 range_db: float | None = GUARD_RANGE_DB) -> dict[str, tuple[int, int]]:
    """{set: (woke, total)} of one model over the clip sets, at `threshold` (None: the model's own)."""
    det = Detector.load([model], threshold=threshold, range_db=range_db)
    return {name: woken(det, clips / name) for name, _ in SETS}


def table(rows: list[tuple[str, str, dict[str, tuple[int, int]]]]) -> list[str]:
    """The lines of the table: a heading, then one line per (model, threshold, counts)."""
    heads = ["model", "threshold", *(head for _, head in SETS)]
    cells = [[model, th, *(f"{c[name][0]}/{c[name][1]}" for name, _ in SETS)] for model, th, c in rows]
    widths = [max(len(r[i]) for r in [heads, *cells]) for i in range(len(heads))]
    return ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in [heads, *cells]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path, help="detector .onnx files")
    ap.add_argument("--keyword", help="the word the clips say (default: the models', which must then be one)")
    ap.add_argument("--clips", type=Path, required=True,
                    help="the clips' folder: made there once (absent or empty), read back after")
    ap.add_argument("--voices", type=bounded(int, ge=1), default=30,
                    help="held-out espeak-ng voices, one file each (default %(default)s)")
    ap.add_argument("--seed", type=int, default=46, help="draws the voices and the noise (default %(default)s)")
    ap.add_argument("--threshold", type=bounded(float, gt=0, lt=1), nargs="+", default=[], metavar="X",
                    help="rows at these thresholds too (the model's own is always measured)")
    ap.add_argument("--range-db", type=bounded(float, ge=0), default=GUARD_RANGE_DB, metavar="DB",
                    help="the detector's floor guard, as detect's (default %(default)g dB); 0: off")
    args = ap.parse_args()
    for m in args.models:
        if not m.is_file():
            raise SystemExit(f"{m}: no such model file")
    keywords = {keyword_of(m) for m in args.models}
    if args.keyword is None and len(keywords) != 1:
        raise SystemExit(f"the models detect different keywords: {sorted(keywords)} (give --keyword)")
    keyword = args.keyword or keywords.pop()
    if not keyword.strip():
        raise SystemExit("--keyword: empty")
    clips = clips_folder(args.clips, keyword, args.voices, args.seed)
    rows = []
    for m in args.models:
        name = f"{m.parent.name}/{m.name}"
        for th in [None, *args.threshold]:
            counts = runon_counts(m, clips, th, args.range_db or None)
            label = f"{float(read_metadata(m)['threshold']):g} (own)" if th is None else f"{th:g}"
            rows.append((name, label, counts))
    print("\n".join(table(rows)), flush=True)


if __name__ == "__main__":
    try:
        main()
    except (SpeechseqError, OSError) as err:  # a bad model, clip folder or synthesis: one line
        sys.exit(f"detector_runon.py: {err}")
