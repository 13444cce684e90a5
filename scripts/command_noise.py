#!/usr/bin/env python
"""Commands taken from noise: how often a command list (`--commands`) turns noise into one of its phrases, in
`speechseq transcribe` and after a wake in `speechseq listen`.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/command_noise.py --out cache/command_noise \\
        --real ../shared/data/noise/doing_the_dishes.wav ../shared/data/precise/not-wake-words/noises_bg_jarbas/*.wav \\
        --babble cache/synth/sentences/heldout.jsonl

Two sets of 30 s files, made once into OUT (OUT/SET/*.wav, OUT/SET/index.json) and read back on later runs:
  tuning    the kinds of noise the order test's bound (speechseq.runtime.command_set.MIN_ORDER) was chosen on in
            session 51: white, pink and brown noise, steady (std 0.003-0.3), after a second of quiet, and in bursts
            0.4-3 s long; bursts of each --real recording (as it is, and the first 10 dB louder);
  held-out  kinds it never saw (session 52): mains hum at 50 and 60 Hz, beeps, keyboard-like clicks, music-like
            chords, a fan, and babble of 4 and 8 voices made of --babble's speech (any manifest speechseq reads;
            left out without it), each steady and in bursts at peaks of 0.03 and 0.3.
Each over a -60 dBFS floor. For each set and --vad: `speechseq transcribe OUT/SET/*.wav --commands LIST --format
json` (a file counts once it holds a command), and `speechseq listen --input OUT/SET/listen.wav --fast --json
--commands LIST`, where listen.wav is, twice per file, "activate" (the first 1.9 s of
data/samples/activate_kitchen_lights.wav), 4 s of that file's noise and 3 s of the floor: every wake is followed by
noise only, so a final with a command is a false one. Prints one row per set and VAD, then every command taken.

Session 52 (the command above; the babble made of the synthetic sentences of voices held out of the recogniser's
training), after 0f10990 set MIN_ORDER on the tuning kinds:
    set        vad     files    min  transcribe: files with a command  listen: finals with a command / wakes
    tuning     auto       53   26.5                                 0                                 0 / 106
    tuning     energy     53   26.5                                 0                                 0 / 106
    held-out   auto       32   16.0                                 0                                  0 / 64
    held-out   energy     32   16.0                                 0                                  2 / 64
the two after speech-like noise: bursts of 4-voice babble at a peak of 0.03 as "turn on the bedroom lights" (word
confidences 0.08-0.62), bursts of 8-voice babble at 0.03 as "what time is it" (0.15-0.30). ("auto" is Silero's VAD
where the silero-vad wheel is installed, as scripts/setup.sh installs it.)
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SR = 16000
FILE_S = 30
FLOOR = 1e-3                 # -60 dBFS
WAKE_S, NOISE_S, QUIET_S = 1.9, 4.0, 3.0
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
SETS = ("tuning", "held-out")


def _floor(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(0, FLOOR, n)


def _coloured(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    """White, pink (1/f power) or brown (1/f^2) noise of standard deviation 1."""
    w = rng.normal(0, 1, n)
    if kind != "white":
        f = np.fft.rfftfreq(n, 1 / SR)
        f[0] = f[1]
        w = np.fft.irfft(np.fft.rfft(w) * f ** (-0.5 if kind == "pink" else -1.0), n)
    return w / w.std()


def _bursts(rng: np.random.Generator, src: np.ndarray, n: int) -> np.ndarray:
    """The floor with pieces of src (>= n samples) 0.4-3 s long, 0.5-2 s apart, each faded in and out over 10 ms."""
    y, t = _floor(rng, n), int(rng.uniform(0.3, 1.0) * SR)
    while t < n:
        piece = src[t: t + int(rng.uniform(0.4, 3.0) * SR)]
        k = np.arange(len(piece))
        y[t: t + len(piece)] += piece * np.minimum(1, np.minimum(k, k[::-1]) / (0.01 * SR))
        t += len(piece) + int(rng.uniform(0.5, 2.0) * SR)
    return y


def _peak1(x: np.ndarray) -> np.ndarray:
    return x / (np.abs(x).max() + 1e-12)


def tuning_noise(real: list[Path]) -> dict[str, np.ndarray]:
    from speechseq.audio import load_audio

    rng, n, out = np.random.default_rng(51), FILE_S * SR, {}
    for kind in ("white", "pink", "brown"):
        for std in (0.003, 0.01, 0.03, 0.1, 0.3):
            out[f"steady_{kind}_{std}"] = _floor(rng, n) + std * _coloured(rng, kind, n)
            out[f"onset_{kind}_{std}"] = np.concatenate([_floor(rng, SR), _floor(rng, n - SR)
                                                         + std * _coloured(rng, kind, n - SR)])
        for std in (0.01, 0.03, 0.1, 0.3):
            out[f"bursts_{kind}_{std}"] = _bursts(rng, std * _coloured(rng, kind, n), n)
    for i, path in enumerate(real):
        x = load_audio(path, SR).astype(np.float64)
        x = np.tile(x, -(-n // len(x)))[:n]  # a short recording repeated to the file's length
        out[f"bursts_real{i}_{path.stem}"] = _bursts(rng, x, n)
        if i == 0:
            out[f"bursts_real{i}_{path.stem}_+10dB"] = _bursts(rng, x * 10 ** 0.5, n)
    return out


def held_out_noise(babble: Path | None) -> dict[str, np.ndarray]:
    rng, n = np.random.default_rng(52), FILE_S * SR
    t = np.arange(n) / SR

    def hum(f0: float) -> np.ndarray:
        return _peak1(sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 12)))

    def beeps() -> np.ndarray:
        x, i = np.zeros(n), 0
        while i < n:
            seg = np.arange(min(int(rng.uniform(0.1, 0.6) * SR), n - i)) / SR
            x[i: i + len(seg)] = np.sin(2 * np.pi * rng.choice([440, 880, 1000, 2000, 3000]) * seg)
            i += len(seg) + int(rng.uniform(0.1, 0.8) * SR)
        return x

    def clicks() -> np.ndarray:  # decaying impulses, 4-12 a second
        x, i = np.zeros(n), 0
        while i < n - 800:
            x[i: i + 800] += rng.normal(0, 1, 800) * np.exp(-np.arange(800) / 80)
            i += int(rng.uniform(0.08, 0.25) * SR)
        return _peak1(x)

    def chords() -> np.ndarray:  # triads of harmonic tones, 0.3-1 s each
        x, i = np.zeros(n), 0
        while i < n:
            seg = np.arange(min(int(rng.uniform(0.3, 1.0) * SR), n - i)) / SR
            for f in 220 * 2 ** (rng.choice(24, 3) / 12):
                x[i: i + len(seg)] += sum(np.sin(2 * np.pi * f * k * seg) / k ** 1.5 for k in range(1, 6))
            i += len(seg)
        return _peak1(x)

    def fan() -> np.ndarray:  # low-passed noise and a wobbling motor tone
        f = np.fft.rfftfreq(n, 1 / SR)
        x = _peak1(np.fft.irfft(np.fft.rfft(rng.normal(0, 1, n)) / (1 + (f / 300) ** 2), n))
        return _peak1(x + 0.3 * np.sin(2 * np.pi * (120 + 3 * np.sin(2 * np.pi * 0.5 * t)) * t))

    sources = {"hum50": hum(50), "hum60": hum(60), "beeps": beeps(), "clicks": clicks(), "chords": chords(),
               "fan": fan()}
    if babble is not None:
        clips = _speech(babble)
        for voices in (4, 8):
            x = np.zeros(n)
            for _ in range(voices):
                pos = 0
                while pos < n:
                    c = clips[rng.integers(len(clips))][: n - pos]
                    x[pos: pos + len(c)] += c / (c.std() + 1e-12)
                    pos += len(c)
            sources[f"babble{voices}"] = _peak1(x)
    out = {}
    for name, src in sources.items():
        for peak in (0.03, 0.3):
            out[f"steady_{name}_{peak}"] = _floor(rng, n) + peak * src
            out[f"bursts_{name}_{peak}"] = _bursts(rng, peak * src, n)
    return out


def _speech(manifest: Path, most: int = 400) -> list[np.ndarray]:
    """Up to `most` clips of a manifest's audio, in its order, at 16 kHz."""
    from speechseq.audio import load_audio
    from speechseq.train.manifests import load_manifest

    rows = load_manifest(manifest)[:most]
    if not rows:
        sys.exit(f"command_noise.py: {manifest}: no rows")
    return [load_audio(r.audio, SR).astype(np.float64) for r in rows]


def make_set(folder: Path, noise: dict[str, np.ndarray]) -> None:
    """OUT/SET: the noise files, index.json, and listen.wav (a wake and noise, twice per file)."""
    import soundfile as sf

    from speechseq.audio import load_audio

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    wake = load_audio(SAMPLE, SR)[: int(WAKE_S * SR)]
    parts = []
    for name, x in noise.items():
        x = np.clip(x, -1, 1).astype(np.float32)
        sf.write(folder / f"{name}.wav", x, SR)
        for _ in range(2):
            a = int(rng.integers(0, len(x) - int(NOISE_S * SR)))
            parts += [wake, x[a: a + int(NOISE_S * SR)], _floor(rng, int(QUIET_S * SR)).astype(np.float32)]
    sf.write(folder / "listen.wav", np.concatenate(parts), SR)
    # the files in listen.wav's order: count() names the file a wake was followed by from it (sorted, it named others)
    (folder / "index.json").write_text(json.dumps({"files": list(noise), "wakes": 2 * len(noise)}, indent=1))


def _speechseq(*args: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "speechseq", *args], capture_output=True, text=True, cwd=ROOT)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode not in (0, 1) or not rows:
        sys.exit(f"command_noise.py: speechseq {args[0]} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return rows


def count(folder: Path, commands: Path, vad: str) -> tuple[list, dict]:
    """(commands taken: (where, phrase, word confidences)), the row's counts) for one set and VAD."""
    index = json.loads((folder / "index.json").read_text())
    files = [str(folder / f"{name}.wav") for name in index["files"]]
    taken = []
    rows = _speechseq("transcribe", *files, "--commands", str(commands), "--format", "json", "--vad", vad,
                      "--no-progress")
    for r in rows:
        if r.get("command"):
            taken.append((f"transcribe {Path(r['file']).name}", r["command"], [w["confidence"] for w in r["words"]]))
    events = _speechseq("listen", "--input", str(folder / "listen.wav"), "--fast", "--json", "--commands",
                        str(commands), "--vad", vad)
    wakes = sum(e["event"] == "wake" for e in events)
    finals = [e for e in events if e["event"] == "final"]
    for e in finals:
        if e.get("command"):
            episode = int(e["time"] // (WAKE_S + NOISE_S + QUIET_S)) // 2
            taken.append((f"listen after {index['files'][min(episode, len(files) - 1)]}", e["command"],
                          [w["confidence"] for w in e["words"]]))
    return taken, {"files": len(files), "minutes": len(files) * FILE_S / 60,
                   "transcribe": sum(1 for r in rows if r.get("command")), "wakes": wakes, "finals": len(finals),
                   "listen": sum(1 for e in finals if e.get("command"))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("--out", type=Path, default=ROOT / "cache" / "command_noise",
                    help="where the noise files are made once and read back (default: cache/command_noise)")
    ap.add_argument("--real", type=Path, nargs="*", default=[],
                    help="real background recordings for the tuning set's bursts (any format speechseq reads)")
    ap.add_argument("--babble", type=Path, help="a manifest of speech for the held-out set's babble")
    ap.add_argument("--commands", type=Path, default=ROOT / "data" / "commands" / "home.txt",
                    help="the command list (default: data/commands/home.txt)")
    ap.add_argument("--vad", nargs="+", default=["auto", "energy"], choices=["auto", "energy", "silero"],
                    help="the voice activity detectors to run with (default: auto energy)")
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS, help="which sets (default: both)")
    args = ap.parse_args()
    for p in [*args.real, *([args.babble] if args.babble else []), args.commands]:
        if not p.is_file():
            ap.error(f"{p}: no such file")
    # absolute: `speechseq` runs in the repository (a relative --out was made here, then looked for there)
    args.out, args.commands = args.out.resolve(), args.commands.resolve()
    makers = {"tuning": lambda: tuning_noise(args.real), "held-out": lambda: held_out_noise(args.babble)}
    print(f"{'set':10} {'vad':7} {'files':>5} {'min':>6} {'transcribe: files with a command':>33} "
          f"{'listen: finals with a command / wakes':>39}")
    taken_all = []
    for name in args.sets:
        folder = args.out / name
        if not (folder / "index.json").is_file():
            print(f"making {folder} ...", file=sys.stderr)
            make_set(folder, makers[name]())
        for vad in args.vad:
            taken, c = count(folder, args.commands, vad)
            taken_all += [(name, vad, *t) for t in taken]
            print(f"{name:10} {vad:7} {c['files']:5d} {c['minutes']:6.1f} {c['transcribe']:33d} "
                  f"{str(c['listen']) + ' / ' + str(c['wakes']):>39}", flush=True)
    for name, vad, where, phrase, conf in taken_all:
        print(f"  {name}, --vad {vad}, {where}: {phrase!r} (word confidences {', '.join(f'{c:.2f}' for c in conf)})")


if __name__ == "__main__":
    main()
