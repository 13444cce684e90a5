#!/usr/bin/env python
"""Real-voice misses against synthetic false accepts, on a fine threshold grid, for models of a
Precise wake word (amelia; android and hey chatterbox too, since session 20) and the mean of their
posteriors (what `train_detectors.py --stage export --ensemble` ships).

    .venv/bin/python scripts/detector_tradeoff.py runs/cpu-exp/models-cmn/amelia.onnx \\
        runs/cpu-exp/models-natural/amelia.onnx [--cache runs/tradeoff]

Per model: raw posteriors (no smoothing) of the unseen synthetic sentences, of the real speech
(unseen + threshold-choice sets) and of the 223 real Precise amelia clips (padded as
scripts/eval_detectors.py pads them), cached as .npz (keyed by the model's bytes and the audio files' paths, sizes
and times: never read back for other audio); then the runtime's smoothing and trigger
on a 0.01 grid: for each false-accept budget per hour on the synthetic sentences, the lowest
threshold within it and the share of real amelia clips missed there. Every pair and larger set
of models is scored with the mean of their posteriors. --smoothing N... scores other moving-average
windows on the same cached posteriors (0: the model's own, 3 outputs = 120 ms for the shipped recipe).

Session 14 (runs/s13, amelia "natural", 10 epochs; the same continued to 13 epochs without and with
hard-negative mining), missed at <= 0.5 synthetic FA/h for smoothing 3 (own) / 5 / 8 / 12 outputs:
10 epochs 17.9 / 17.5 / 16.1 / 14.8 %, continued 17.9 / 17.9 / 18.4 / 17.0 %, mined 18.8 / 18.8 /
18.8 / 18.8 %. A longer window helped one run by 3 points and the others by 0-1 (the seeds' spread
is 2-4 points): the shipped 3 stays. The real clips' peaks (10-epoch run, own smoothing): 3.1 % under
0.2, 8.1 % under 0.5, 15.2 % under 0.7, while the top unseen synthetic sentences reach 0.55-0.73
(5 of the top 8 in the CMU slt voice, festival's and flite's, two of the upweighted natural engines): the misses at
<= 0.5 FA/h are mostly real clips scored 0.5-0.75, below a threshold the synthetic false accepts set.

--gain-db G scales every signal before the detector. Session 25, G = -10 (would a quieter input
cure the shipped activate's misses of loud, clean speech, scripts/detector_levels.py?), natural-splice
models, missed at <= 2 / 1 / 0.5 / 0 synthetic FA/h with G = -10 (G = 0): amelia 7.2 / 7.2 / 7.2 /
13.9 % (7.2 / 8.1 / 8.1 / 13.5) and 8.1 / 8.5 / 12.1 / 16.6 % (7.6 / 9.9 / 12.6 / 12.6), hey chatterbox
21.4 / 23.2 / 23.2 / 26.8 % (19.6 / 21.4 / 25.0 / 26.8) and 19.6 / 23.2 / 23.2 / 25.0 % (16.1 / 19.6 /
19.6 / 26.8), android 60.9 / 70.3 / 70.3 / 75.0 % (43.8 / 54.7 / 54.7 / 56.2) and 45.3 / 56.2 / 67.2 /
81.2 % (29.7 / 43.8 / 43.8 / 59.4): the quiet android clips (peaks ~0.13) lose 16-23 points at
<= 0.5/h, so a fixed input attenuation is no cure. --limit 0.3 (a peak limiter, quieter input
untouched): see speechseq/runtime/level.py, also no cure.

--real-events N... (e.g. `--max-set 1 --real-events 0 1 2 3 5`) prints, per model (own smoothing), the real clips
missed at the lowest threshold of 0.30-0.9999 with at most N events on the real speech set (~0.7 h: real speech without
the keyword), then at <= 0.5 synthetic FA/h, and a line at the model's exported threshold. Session 47 (amelia, 5
epochs, seeds 0 / 1 / 2; follow: --follow-share 0.1, scripts/detector_runon.py), missed at <= 0 / 1 / 3 real-speech
events: base 26.9 / 22.9 / 18.4 %, 41.3 / 40.8 / 30.5 %, 39.0 / 36.3 / 30.5 %; follow 43.9 / 26.0 / 12.1 %, 29.6 /
27.4 / 18.8 %, 42.2 / 23.3 / 15.7 %. Session 48, 10 epochs, seeds 1 / 2 (runs/s48/amelia/synth), missed at <= 0 / 1 / 3
/ 5 real-speech events: base 29.1 / 18.8 / 15.7 / 14.3 %, 29.6 / 29.1 / 17.9 / 17.9 %; follow 22.0 / 18.4 / 15.2 / 10.8 %,
29.6 / 25.6 / 19.7 / 15.7 %; at the exported thresholds base 28.7 % (1 event), 29.1 % (1), follow 23.8 % (0), 21.5 % (3).

The detector has the runtime's floor guard (--range-db, default 60 dB as in detect, listen and eval detector; it
was off here unless given). The session 14 and 25 figures above predate the guard: --range-db 0 measures as they did.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_detectors import real_sets, sentences  # noqa: E402
from speechseq.audio import load_audio  # noqa: E402
from speechseq.commands.eval_detector import negative_posteriors  # noqa: E402
from speechseq.errors import SpeechseqError  # noqa: E402
from speechseq.metrics import threshold_grid, threshold_text  # noqa: E402
from speechseq.runtime.detector import Detector, settle_steps, smooth, trigger_events  # noqa: E402
from speechseq.runtime.level import GUARD_RANGE_DB, Limiter  # noqa: E402
from speechseq.runtime.onnx import model_kind_error, read_metadata  # noqa: E402
from speechseq.train.kwbank import pad_recording  # noqa: E402

BUDGETS = (2.0, 1.0, 0.5, 0.0)
# --real-events' thresholds: 0.30 ... 0.99, then finer up to 0.9999 (speechseq.metrics.SATURATED_THRESHOLDS)
REAL_GRID = threshold_grid(0.3, 0.01)


class Gained:
    """A detector whose every input is first scaled by `gain` (what a microphone's gain knob does), then,
    with `limit`, passed through a peak limiter of that ceiling (speechseq.runtime.level)."""

    def __init__(self, det: Detector, gain: float, limit: float | None = None) -> None:
        self.det, self.gain = det, np.float32(gain)
        self.limiter = Limiter(limit) if limit else None

    def initial_state(self):
        return (self.limiter.initial_state() if self.limiter else None), self.det.initial_state()

    def step(self, chunk, state, posteriors=None):
        lim, st = state
        x = np.asarray(chunk, np.float32) * self.gain
        if self.limiter:
            x, lim = self.limiter.step(x, lim)
        events, st = self.det.step(x, st, posteriors)
        return events, (lim, st)

    def __getattr__(self, name: str):
        return getattr(self.det, name)


def _detector(model: Path, gain_db: float, limit: float | None = None, range_db: float | None = None):
    det = Detector.load([model], smoothing_steps=1, range_db=range_db)
    return Gained(det, 10 ** (gain_db / 20), limit) if gain_db or limit else det


def _key(model: Path, gain_db: float, extra: bytes = b"", limit: float | None = None,
         range_db: float | None = None) -> str:
    return (hashlib.sha1(model.read_bytes() + extra).hexdigest()[:12] + (f"-gain{gain_db:+g}dB" if gain_db else "")
            + (f"-limit{limit:g}" if limit else "") + (f"-range{range_db:g}dB" if range_db else ""))


def _audio_key(files: list[Path]) -> bytes:
    """The audio a cache entry was computed from: each file's path, size and modification time, in order (a file
    added, removed, replaced or rewritten gives another key, so a stale entry is never read)."""
    h = hashlib.sha1()
    for f in files:
        try:
            st = f.stat()
        except OSError as err:
            raise SystemExit(f"{f}: listed in a manifest, but cannot be read ({err.strerror})") from None
        h.update(f"{f.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.digest()


def raw_posteriors(model: Path, data: Path, synth: Path, cache: Path, gain_db: float = 0.0,
                   limit: float | None = None, range_db: float | None = None) -> dict:
    """{"syn": [...], "real": [...], "pos": [...], "h_syn": hours} for one model, cached by its bytes, the audio
    files (their paths, sizes and times) and the input gain, in dB, the limiter's ceiling and the floor guard's
    range, applied to every signal."""
    keyword = str(read_metadata(model)["keyword"])
    sets = real_sets(data, keyword)
    if not sets["keyword_real"]:
        raise SystemExit(f"{model}: no real recordings of {keyword!r} in {data / 'precise'} "
                         "(the Precise wake words: amelia, android, hey chatterbox)")
    syn_files, real_files = sentences(synth, keyword), sets["unseen"] + sets["threshold_choice"]
    # the three sets' sizes too: a file moved from one set to another is another cache entry
    audio = (_audio_key([*syn_files, *real_files, *sets["keyword_real"]])
             + f"{len(syn_files)},{len(real_files)}".encode())
    path = cache / f"{model.parent.name}-{model.stem}-{_key(model, gain_db, audio, limit, range_db)}.npz"
    if path.exists():
        return _load(path)
    det = _detector(model, gain_db, limit, range_db)
    syn, h_syn = negative_posteriors(det, syn_files, show=False, tail=True)
    real, _ = negative_posteriors(det, real_files, show=False, tail=True)
    pos = []
    for f in sets["keyword_real"]:
        post = [[]]
        det.step(pad_recording(load_audio(f), np.random.default_rng(0)), det.initial_state(), post)
        pos.append(np.concatenate(post[0]))
    m = det.models[0]
    out = {"syn": [p[0] for p in syn], "real": [p[0] for p in real], "pos": pos, "h_syn": h_syn,
           "trigger": (m.smoothing_steps, det.refractory[0], det.max_wait[0], det.settle[0])}  # the runtime's
    return _save(path, out)


def _load(path: Path) -> dict:
    z = np.load(path, allow_pickle=True)
    return {k: z[k].item() if z[k].shape == () else list(z[k]) for k in z.files}


def _save(path: Path, out: dict) -> dict:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **{k: (np.array(v, dtype=object) if isinstance(v, list) else v) for k, v in out.items()})
    return out


def extra_sentences(model: Path, synth: Path, cache: Path, gain_db: float = 0.0, limit: float | None = None,
                    range_db: float | None = None) -> dict:
    """{"syn": [...], "h_syn": hours}: raw posteriors of another synthesis folder's unseen sentences
    (the same rule as SYNTH's), cached per model, folder, its audio files, input gain and limiter."""
    files = sentences(synth, str(read_metadata(model)["keyword"]))
    key = _key(model, gain_db, str(synth.resolve()).encode() + _audio_key(files), limit, range_db)
    path = cache / f"{model.parent.name}-{model.stem}-extra-{key}.npz"
    if path.exists():
        return _load(path)
    det = _detector(model, gain_db, limit, range_db)
    syn, h_syn = negative_posteriors(det, files, show=False, tail=True)
    return _save(path, {"syn": [p[0] for p in syn], "h_syn": h_syn})


def keyword_of(model: Path) -> str:
    """The keyword of detector `model`, or SystemExit saying what else it is (a recogniser's has none), in the
    runtime's words ("PATH: a speech recogniser, not a trigger-word detector")."""
    meta = read_metadata(model)
    if meta.get("kind") != "detector":
        raise SystemExit(model_kind_error(model, meta.get("kind"), "detector"))
    if "keyword" not in meta:
        raise SystemExit(f"{model}: detector metadata without 'keyword'")
    return str(meta["keyword"])


def trigger_settings(post: dict) -> tuple[int, int, int, int]:
    """(smoothing, refractory, max_wait, settle) in output steps: the runtime's trigger of the cached posteriors."""
    trigger = [int(v) for v in post["trigger"]]
    # posteriors cached before the settling steps (three values) are of 40 ms steps, as every detector here
    return tuple(trigger) if len(trigger) == 4 else (*trigger, settle_steps(0.04))


def real_event_misses(post: dict, budgets: list[int], syn_budget: float = 0.5) -> list[str]:
    """One model's posteriors, smoothed and triggered as the runtime does, on REAL_GRID: for each budget N, 'real<=N:
    M% (th T)', the real keyword clips missed at the lowest threshold with at most N events on the real speech (or
    'real<=N: -' where none has), then the same at <= `syn_budget` false accepts per hour on the synthetic
    sentences, with the real-speech events there."""
    own, refractory, max_wait, settle = trigger_settings(post)
    syn = [smooth(x, own) for x in post["syn"]]
    real = [smooth(x, own) for x in post["real"]]
    top = np.array([smooth(x, own)[settle:].max(initial=0.0) for x in post["pos"]])
    miss = np.array([100 * np.mean(top < t) for t in REAL_GRID])
    sev = np.array([sum(len(trigger_events(x, t, refractory, max_wait, settle)) for x in syn) for t in REAL_GRID])
    rev = np.array([sum(len(trigger_events(x, t, refractory, max_wait, settle)) for x in real) for t in REAL_GRID])
    out = []
    for budget in budgets:
        i = np.flatnonzero(rev <= budget)
        out.append(f"real<={budget}: {miss[i[0]]:.1f}% (th {threshold_text(REAL_GRID[i[0]])})" if len(i)
                   else f"real<={budget}: -")
    i = np.flatnonzero(sev / float(post["h_syn"]) <= syn_budget)
    out.append(f"syn<={syn_budget:g}/h: {miss[i[0]]:.1f}% (th {threshold_text(REAL_GRID[i[0]])}, "
               f"real ev {rev[i[0]]})" if len(i) else "syn: -")
    return out


def at_threshold(post: dict, threshold: float, step_s: float) -> str:
    """One model's misses of the real keyword clips, its events on the real speech (of how many hours, the second of
    quiet noise after each file included) and its synthetic false accepts per hour, at `threshold` (its own, say)."""
    own, refractory, max_wait, settle = trigger_settings(post)
    top = np.array([smooth(x, own)[settle:].max(initial=0.0) for x in post["pos"]])
    rev = sum(len(trigger_events(smooth(x, own), threshold, refractory, max_wait, settle)) for x in post["real"])
    sev = sum(len(trigger_events(smooth(x, own), threshold, refractory, max_wait, settle)) for x in post["syn"])
    h_real = sum(len(x) for x in post["real"]) * step_s / 3600
    return (f"exported th {threshold_text(threshold)}: missed {100 * np.mean(top < threshold):.1f}%, real events {rev} "
            f"({h_real:.2f} h incl tails), syn {sev / float(post['h_syn']):.2f}/h")


def tradeoff(posts: list[dict], smoothing: int | None = None) -> list[str]:
    """For each budget: 'FA<=b/h: th T, missed M %, real-speech events E' of the mean posterior,
    smoothed (over `smoothing` outputs, or as the first model's metadata says) and triggered as
    the runtime does."""
    own, refractory, max_wait, settle = trigger_settings(posts[0])
    smoothing = smoothing or own
    def mean(group: str, j: int) -> np.ndarray:
        ps = [p[group][j] for p in posts]
        n = min(len(p) for p in ps)
        return smooth(np.mean([p[:n] for p in ps], 0), smoothing)

    syn = [mean("syn", j) for j in range(len(posts[0]["syn"]))]
    real = [mean("real", j) for j in range(len(posts[0]["real"]))]
    top = np.array([mean("pos", j)[settle:].max(initial=0.0) for j in range(len(posts[0]["pos"]))])
    grid = threshold_grid(0.1, 0.01)
    fa = np.array([sum(len(trigger_events(p, t, refractory, max_wait, settle)) for p in syn)
                   for t in grid]) / posts[0]["h_syn"]
    out = []
    for budget in BUDGETS:
        within = np.flatnonzero(fa <= budget + 1e-9)
        if within.size == 0:  # no grid threshold meets the budget: no figure to give at it
            out.append(f"FA<={budget}/h: not met on the grid (at th {threshold_text(grid[-1])}: {fa[-1]:.2f}/h)")
            continue
        i = int(within[0])
        events = sum(len(trigger_events(p, grid[i], refractory, max_wait, settle)) for p in real)
        out.append(f"FA<={budget}/h: th {threshold_text(grid[i])}, missed {100 * np.mean(top < grid[i]):.1f} %, "
                   f"real-speech events {events}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", type=Path, help="detectors of one Precise wake word (.onnx)")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--synth", type=Path, default=ROOT / "cache" / "synth")
    ap.add_argument("--extra-synth", type=Path, nargs="+", default=[], metavar="DIR",
                    help="more synthesis folders whose unseen sentences join SYNTH's as the false-accept set "
                         "(e.g. the voices of engines added later: train_detectors.py --extra-synth)")
    ap.add_argument("--cache", type=Path, default=ROOT / "runs" / "tradeoff", help="raw posteriors per model")
    ap.add_argument("--max-set", type=int, default=2, help="largest set of models to average")
    ap.add_argument("--smoothing", type=int, nargs="+", default=[0], metavar="N",
                    help="moving-average windows (model outputs) to score; 0: the model's own (metadata)")
    ap.add_argument("--real-half", choices=["all", "dev", "test"], default="all",
                    help="score the keyword's real clips of one half only (test: for a model trained on the dev "
                         "half, train_detectors.py --real-dev-share)")
    ap.add_argument("--gain-db", type=float, default=0.0,
                    help="scale every signal (sentences, real speech, real clips) by this gain before the detector")
    ap.add_argument("--limit", type=float, metavar="CEILING",
                    help="then a peak limiter (speechseq.runtime.level.Limiter) with this ceiling, e.g. 0.3")
    ap.add_argument("--range-db", type=float, default=GUARD_RANGE_DB, metavar="DB",
                    help="the detector's floor guard (speechseq.runtime.level.FloorGuard): at most this dynamic range "
                         "(default: the runtime's, %(default)g dB); 0: off")
    ap.add_argument("--real-events", type=int, nargs="+", default=[], metavar="N",
                    help="per model, also the real clips missed at the lowest threshold (0.30-0.9999) with at most N "
                         "events on the real speech, and at the model's own threshold")
    args = ap.parse_args()
    args.range_db = args.range_db or None
    if any(n < 0 for n in args.real_events):
        ap.error(f"--real-events: a number of events is >= 0, got {min(args.real_events)}")
    for m in args.models:
        if not m.is_file():
            raise SystemExit(f"{m}: no such model file")
    keywords = {keyword_of(m) for m in args.models}
    if len(keywords) != 1:  # a pair's mean posterior is taken clip by clip, of one keyword's clips and sentences
        raise SystemExit(f"the models detect different keywords: {sorted(keywords)} (give models of one keyword)")
    keyword = keywords.pop()
    if not any(sentences(d, keyword) for d in [args.synth, *args.extra_synth]):
        raise SystemExit(f"no unseen synthetic sentences without {keyword!r} under "
                         f"{', '.join(str(d / 'sentences') for d in [args.synth, *args.extra_synth])}: "
                         "give --synth, a make_synth_data.py folder (the false accepts per hour are counted on them)")
    posts = [raw_posteriors(m, args.data, args.synth, args.cache, args.gain_db, args.limit, args.range_db)
             for m in args.models]
    if args.real_half != "all":
        sets = real_sets(args.data, keyword)
        n_dev = len(sets["keyword_dev"])
        for post in posts:
            post["pos"] = post["pos"][:n_dev] if args.real_half == "dev" else post["pos"][n_dev:]
        print(f"the {args.real_half} half's {len(posts[0]['pos'])} real clips", flush=True)
    for m, post in zip(args.models, posts):
        for d in args.extra_synth:
            more = extra_sentences(m, d, args.cache, args.gain_db, args.limit, args.range_db)
            post["syn"] = post["syn"] + more["syn"]
            post["h_syn"] = post["h_syn"] + more["h_syn"]
    if args.extra_synth:
        print(f"false accepts counted on {posts[0]['h_syn']:.2f} h of unseen synthetic sentences", flush=True)
    names = [f"{m.parent.name}/{m.name}" for m in args.models]
    for k in range(1, min(args.max_set, len(posts)) + 1):
        for idx in itertools.combinations(range(len(posts)), k):
            for w in args.smoothing:
                label = " + ".join(names[i] for i in idx) + (f" (smoothing {w})" if w else "")
                print(label, "|", " | ".join(tradeoff([posts[i] for i in idx], w)), flush=True)
    if args.real_events:
        for m, name, post in zip(args.models, names, posts):
            meta = read_metadata(m)
            print(" | ".join([f"{name}:", *real_event_misses(post, args.real_events)]), flush=True)
            print(f"{name}: {at_threshold(post, float(meta['threshold']), float(meta['step_s']))}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except (SpeechseqError, OSError) as err:  # a missing or unreadable manifest, model or audio file: one line
        sys.exit(f"detector_tradeoff.py: {err}")
