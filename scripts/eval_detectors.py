#!/usr/bin/env python
"""Measure shipped detectors and write their cards (models/KEYWORD.md of each --keywords; the numbers also as JSON;
then `scripts/model_cards.py` refreshes models/KEYWORD.json from the card).

    .venv/bin/python scripts/eval_detectors.py --keywords activate --synth cache/synth cache/synth-new \\
        --amelia runs/s22/models-amelia-splice-neg2000/amelia.onnx --amelia-baseline runs/s19/models-natural/amelia.onnx

(models/activate.md's command; models/computer.md names its own.) Each card's data and training lines are its
keyword's recipe (RECIPES: activate's natural-splice of session 23, computer's natural of session 8), and it names
the command that wrote it, with its own --keywords: every keyword given has its card written again.

Measured, all with the runtime (onnxruntime, streamed, the model's own threshold):
- false rejects on the synthetic voices held out from training (SYNTH/kw-KEYWORD, heldout rows):
  clean (quiet noise floor) and mixed into the real noise recordings at 20 / 10 / 5 dB;
- the median delay from the keyword's end to the event (clean held-out clips);
- false accepts per hour on real speech never used for training or for the threshold (Kathleen
  dev, FSDD test, and for activate/computer the precise amelia clips), on the real speech used to
  choose the threshold (Kathleen/FSDD train 15 %, half of precise not-wake-word), and on synthetic
  sentences (scripts/make_synth_data.py sentences: never used by the detectors);
- for the recipe's check on real voices: the amelia model (same recipe, no real amelia recording)
  on the real precise amelia recordings (test half; dev half was watched during development).
"""

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from speechseq.audio import load_audio  # noqa: E402
from speechseq.commands.common import names_stdout, stdout_refused  # noqa: E402
from speechseq.commands.eval_detector import count_events, negative_posteriors, peak_scores, positive_scores  # noqa: E402
from speechseq.runtime.detector import Detector  # noqa: E402
from speechseq.runtime.onnx import read_metadata  # noqa: E402
from speechseq.train.manifests import name_pct  # noqa: E402
from speechseq.train.augment import rms_dbfs  # noqa: E402
from speechseq.train.words import contains_keyword  # noqa: E402


def _rows(m: Path) -> list[dict]:
    with open(m) as f:
        return [json.loads(line) for line in f if line.strip()]


REAL_SETS = ("precise", "kathleen", "fsdd")  # the folders of DATA whose manifests the measurements read


def missing_data(data: Path) -> str | None:
    """Why DATA is not the folder of the real recordings (a manifest it lacks), or None."""
    for name in REAL_SETS:
        if not (data / name / "manifest.jsonl").is_file():
            return f"no {data / name / 'manifest.jsonl'}: give --data, the folder of the real recordings (../shared/data)"
    return None


def real_sets(data: Path, keyword: str) -> dict[str, list[Path]]:
    if why := missing_data(data):
        raise SystemExit(why)
    pre = _rows(data / "precise" / "manifest.jsonl")
    kath, fsdd = _rows(data / "kathleen" / "manifest.jsonl"), _rows(data / "fsdd" / "manifest.jsonl")
    groups = {"Kathleen dev": [data / "kathleen" / r["audio_filepath"] for r in kath if r["split"] == "dev"],
              "FSDD test": [data / "fsdd" / r["audio_filepath"] for r in fsdd if r["split"] == "test"]}
    if keyword != "amelia":
        groups["precise amelia clips"] = [data / "precise" / r["audio_filepath"] for r in pre if r["text"] == "amelia"]
    unseen = [f for g in groups.values() for f in g]
    val = [data / "kathleen" / r["audio_filepath"] for r in kath if r["split"] == "train" and name_pct(r["audio_filepath"]) < 15]
    val += [data / "fsdd" / r["audio_filepath"] for r in fsdd if r["split"] == "train" and name_pct(r["audio_filepath"]) < 15]
    val += [data / "precise" / r["audio_filepath"] for r in pre
            if r["kind"] == "not-wake-word" and name_pct(str(data / "precise" / r["audio_filepath"])) < 50]

    def halves(word: str) -> tuple[list[Path], list[Path]]:
        """A Precise wake word's real clips: (dev half, test half) by a hash of the file."""
        own = [data / "precise" / r["audio_filepath"] for r in pre if r["kind"] == "wake-word" and r["text"] == word]
        return [f for f in own if name_pct(f.name) % 2 == 0], [f for f in own if name_pct(f.name) % 2 == 1]

    amelia_dev, amelia_test = halves("amelia")
    own_dev, own_test = halves(keyword)
    return {"unseen": unseen, "unseen_groups": groups, "threshold_choice": val,
            "keyword_real": own_dev + own_test, "keyword_dev": own_dev, "keyword_test": own_test,
            "amelia_test": amelia_test, "amelia_dev": amelia_dev}


SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def fa_rate(det: Detector, files: list[Path], sweep: tuple[float, ...] = ()) -> dict:
    """False accepts at the model's threshold, and per hour at each threshold of `sweep`."""
    post, hours = negative_posteriors(det, files, show=False, tail=True)  # as detect hears a file: a second after
    n = count_events(det, 0, post, det.thresholds[0])
    out = {"files": len(files), "hours": round(hours, 3), "false_accepts": n, "fa_per_hour": round(n / max(hours, 1e-9), 2)}
    if sweep:
        out["fa_per_hour_at"] = {str(t): round(count_events(det, 0, post, t) / max(hours, 1e-9), 2) for t in sweep}
    return out


def real_noises(data: Path) -> list[np.ndarray]:
    """The real noise recordings: Speech Commands' kitchen noise and the Precise noise clips."""
    noises = [load_audio(p) for p in sorted((data / "noise").glob("*.wav"))]
    noises += [load_audio(data / "precise" / r["audio_filepath"]) for r in _rows(data / "precise" / "manifest.jsonl")
               if r["kind"] == "noise"]
    if not noises:
        raise SystemExit(f"no real noise recordings in {data / 'noise'} nor among the Precise noise clips")
    return noises


def over_noise(clip: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator,
               lead: int = 8000, tail: int = 16000) -> np.ndarray:
    """`clip` with `lead` and `tail` samples around it, over a random stretch of `noise` at `snr_db`
    (RMS of the whole clip against the noise's), scaled down if it would clip."""
    n = lead + len(clip) + tail
    start = rng.integers(0, max(1, len(noise) - n))
    bg = np.resize(noise[start: start + n], n).astype(np.float32)
    x = bg.copy()
    x[lead: lead + len(clip)] += 10 ** ((rms_dbfs(bg) + snr_db - rms_dbfs(clip)) / 20) * clip
    return x * (0.3 / max(0.3, float(np.abs(x).max())))


def real_in_noise(det: Detector, files: list[Path], data: Path, seed: int = 0) -> dict:
    """Real keyword recordings over the real noise recordings at 20 / 10 / 5 dB (how the issue's
    unseen real recordings are scored): misses at each threshold of SWEEP and at the model's."""
    clips, noises = [load_audio(f) for f in files], real_noises(data)
    rng = np.random.default_rng(seed)
    out = {}
    for snr in (20, 10, 5):
        s = np.array([peak_scores(det, over_noise(clip, noises[rng.integers(len(noises))], snr, rng))[0]
                      for clip in clips])
        out[f"snr_{snr}db"] = {"clips": len(s), "frr": round(float((s < det.thresholds[0]).mean()), 4),
                               "frr_at": {str(t): round(float((s < t).mean()), 4) for t in SWEEP}}
    return out


def heldout_positives(synths: list[Path], keyword: str) -> list[tuple[dict, np.ndarray]]:
    """(manifest row, audio) of every held-out voice's clip of `keyword`, in every synthesis folder that has it."""
    out = []
    for d in (s / f"kw-{keyword}" for s in synths):
        if (d / "positives.jsonl").exists():
            out += [(r, load_audio(d / r["audio_filepath"])) for r in _rows(d / "positives.jsonl") if r["heldout"]]
    return out


def synthetic_positives(det: Detector, synths: list[Path], keyword: str, data: Path, seed: int = 0) -> dict:
    """False rejects of held-out synthetic voices (of every synthesis folder that has the keyword),
    clean and over real noise; median event delay."""
    held = heldout_positives(synths, keyword)
    if not held:
        raise SystemExit(f"no held-out synthetic clips of {keyword!r} in " + ", ".join(str(s / f"kw-{keyword}") for s in synths)
                         + " (positives.jsonl rows with heldout true): nothing to measure the false rejects on")
    rows, clips = [r for r, _ in held], [c for _, c in held]
    noises = real_noises(data)
    rng = np.random.default_rng(seed)
    out: dict = {"clips": len(clips), "voices": len({r["voice"] for r in rows}),
                 "engines": sorted({r["engine"] for r in rows})}
    for snr in (None, 20, 10, 5):
        misses, delays, peaks = 0, [], []
        for clip in clips:
            lead, tail = 8000, 16000
            if snr is None:
                x = rng.standard_normal(lead + len(clip) + tail).astype(np.float32) * 10 ** (-70 / 20)
                x[lead: lead + len(clip)] += clip
                x *= 0.3 / max(0.3, float(np.abs(x).max()))
            else:
                x = over_noise(clip, noises[rng.integers(len(noises))], snr, rng, lead, tail)
            post: list[list[np.ndarray]] = [[]]
            events, state = det.step(x, det.initial_state(), post)
            events += det.flush(state)
            peaks.append(float(np.concatenate(post[0])[det.settle[0]:].max(initial=0.0)) if post[0] else 0.0)
            if not events:
                misses += 1
            elif snr is None:
                delays.append(events[0].time - (lead + len(clip)) / 16000)
        key = "clean" if snr is None else f"snr_{snr}db"
        s = np.array(peaks)  # an event fires at threshold t exactly when the smoothed posterior reaches t
        out[key] = {"frr": round(misses / len(clips), 4), "misses": misses,
                    "frr_at": {str(t): round(float((s < t).mean()), 4) for t in SWEEP}}
        if snr is None:
            out["median_delay_s"] = round(float(np.median(delays)), 3) if delays else None
    return out


def sentences(synth: Path, keyword: str, first: int = 55) -> list[Path]:
    """Synthetic sentences the detectors never saw: train.jsonl rows from hash `first` on (the lower
    ones were training negatives or chose the threshold, see train_detectors.py) and heldout.jsonl."""
    d = synth / "sentences"
    files = []
    for m in ("train.jsonl", "heldout.jsonl"):
        if (d / m).exists():
            files += [d / r["audio_filepath"] for r in _rows(d / m) if not contains_keyword(r["text"], keyword)
                      and (m == "heldout.jsonl" or name_pct(r["audio_filepath"]) >= first)]
    return files


def measure(model: Path, data: Path, synths: list[Path]) -> dict:
    """Everything the card reports, for one model. synths: the synthesis folders (their held-out
    voices and unseen sentences together)."""
    det = Detector.load([model])
    kw = det.models[0].keyword
    sets = real_sets(data, kw)
    res = {"keyword": kw, "threshold": det.thresholds[0], "model": str(model), "bytes": model.stat().st_size,
           "synthetic_heldout_voices": synthetic_positives(det, synths, kw, data),
           "fa_real_unseen": fa_rate(det, sets["unseen"], SWEEP),
           "fa_real_threshold_choice": fa_rate(det, sets["threshold_choice"], SWEEP),
           "fa_real_unseen_by_set": {g: fa_rate(det, files) for g, files in sets["unseen_groups"].items()}}
    sent = [f for d in synths for f in sentences(d, kw)]
    if sent:
        res["fa_synthetic_sentences"] = fa_rate(det, sent, SWEEP)
    if kw == "amelia":
        for half in ("amelia_test", "amelia_dev"):
            s = positive_scores(det, sets[half], show=False)[:, 0]
            res[f"real_{half}"] = {"clips": len(s), "frr": round(float((s < det.thresholds[0]).mean()), 4),
                                   "frr_at_0.3": round(float((s < 0.3).mean()), 4), "frr_at_0.5": round(float((s < 0.5).mean()), 4),
                                   "frr_at_0.7": round(float((s < 0.7).mean()), 4),
                                   "frr_at": {str(t): round(float((s < t).mean()), 4) for t in SWEEP}}
        res["real_amelia_noise"] = real_in_noise(det, sets["amelia_test"] + sets["amelia_dev"], data)
    return res


# activate.onnx's recipe (natural-splice, session 23), in its card's words
TRAIN_COMMAND = ("python scripts/train_detectors.py --keywords activate computer --variants natural-splice "
                 "--suffix=-neg2000 --runs runs/s23 --extra-synth cache/synth-new cache/splice2 --banks "
                 "cache/kwbanks-splice2-ac --models runs/s23/models-splice --device cpu --parallel --threads 1")
EXPORT_NOTE = "; runs/s23/models-splice/activate.onnx copied to models/, computer.onnx not shipped"
AMELIA_COMMAND = ("python scripts/train_detectors.py --keywords amelia --variants natural-splice --suffix=-neg2000 "
                  "--runs runs/s22 --extra-synth cache/synth-new cache/splice2 --banks cache/kwbanks-splice2-amelia "
                  "--models runs/s22/models-amelia-splice-neg2000 --device cpu --threads 1")
HARDWARE = ("on this project's 2-core CPU in session 23: about 37 minutes of epochs per model on one thread (~220 s an "
            "epoch), two trainings side by side")
RECIPE = ("the positives of the six more natural engines (festival, flite, MBROLA, pico, piper, RHVoice) drawn 4x as "
          "often as espeak-ng's; 500 clips of the keyword spliced from one real speaker's recorded phones and 2,000 of "
          "its sound-alikes and ordinary words spliced alike, each drawn 3x (`--variants natural-splice`, session 23)")
KEYWORD_DATA = ("no real recording of the keyword: synthetic voices, and the keyword spliced from one real speaker's "
                "recorded phones (Kathleen `train`'s background-role sentences, aligned by pocketsphinx; "
                "`scripts/make_splice_data.py`)")
DATA_STEPS = ("the synthetic data first (the `make_synth_data.py` commands in `scripts/train_detectors.py`'s docstring, "
              "cache/synth and cache/synth-new), the spliced data (`python scripts/make_splice_data.py align`, then "
              "`python scripts/make_splice_data.py keyword --keyword K --negatives 2000 --out cache/splice2/kw-K` for K = "
              "activate, computer; pocketsphinx 5.1.1), cache/kwbanks-splice2-ac holding links to cache/kwbanks-s19's "
              "bg.npz, sentences*.npz and kw-amelia.npz (the session-19 banks)")
# Measured apart (scripts/detector_tradeoff.py, not by this script): the recipe on a second real speaker.
SECOND_SPEAKER = (
    "A second real speaker, whose clips show what amelia's overstate: \"android\" (64 real Precise clips of another "
    "contributor), trained by this recipe and by the synthetic-only one, two seeds each (session 22, "
    "`python scripts/detector_tradeoff.py runs/s22/models-android-splice-neg2000/android.onnx "
    "runs/s22/models-android-splice-seed1-neg2000/android.onnx runs/s20/models-android/android.onnx "
    "runs/s20/models-android-seed1/android.onnx`; 2.06 h of unseen synthetic sentences). Missed at <= 2 / 1 / 0.5 "
    "synthetic false accepts per hour: this recipe 43.8 / 54.7 / 54.7 % and 29.7 / 43.8 / 43.8 %, the synthetic-only "
    "recipe 50.0 / 67.2 / 70.3 % and 48.4 / 54.7 / 60.9 %; at <= 0.5/h this recipe's two fire 2 and 4 times on 0.53 h "
    "of real non-keyword speech (all on real amelia clips), the synthetic-only ones 4 and 0. On amelia by the same "
    "script, at <= 0.5/h: this recipe 8.1 and 12.6 %, the synthetic-only one 9.4 and 9.0 %. Why this file ships: on "
    "the speaker the synthetic voices serve worst it misses 6-27 points fewer, on the other 1 point more on average; "
    "it does worse on held-out synthetic voices (table above). The issue's target, <= 5 % missed at <= 0.5 false "
    "accepts per hour, is not met.")
THIRD_SPEAKER = (
    "A third real speaker and a two-word keyword (session 24): \"hey chatterbox\" (56 real Precise clips of a third "
    "contributor; \"chatterbox\" spliced as \"chatter\" + \"box\"), trained by this recipe and by the synthetic-only one, "
    "two seeds each (`python scripts/detector_tradeoff.py \"runs/s24/models-chat-natural-splice/hey chatterbox.onnx\" "
    "\"runs/s24/models-chat-natural-splice-seed1/hey chatterbox.onnx\" \"runs/s24/models-chat-natural/hey chatterbox.onnx\" "
    "\"runs/s24/models-chat-natural-seed1/hey chatterbox.onnx\" --max-set 1`; the same 2.06 h). Missed at <= 2 / 1 / 0.5 / 0 "
    "synthetic false accepts per hour: this recipe 19.6 / 21.4 / 25.0 / 26.8 % and 16.1 / 19.6 / 19.6 / 26.8 %, the "
    "synthetic-only recipe 26.8 / 28.6 / 28.6 / 30.4 % and 28.6 / 30.4 / 30.4 / 32.1 %: fewer missed at every budget in "
    "both seeds (at <= 0.5/h, 22.3 against 29.5 % on average), with no event on 0.53 h of real non-keyword speech at "
    "<= 1/h (one at 2/h, seed 1).")
LOUD_INPUT = (
    "Loud, clean input (session 25, `python scripts/detector_levels.py models/activate.onnx --synth cache/synth "
    "cache/synth-new`): the \"clean\" row above scales each clip to a peak of at most 0.3 over a -70 dBFS floor. The same "
    "401 held-out clips at a peak of 0.95 are missed 12.0 % of the time over a -70 dBFS white floor and 5.5 % over -60 dBFS, "
    "nearly all of them in festival's held-out voice (74 and 36 % of its 58 clips; the other engines 0-2 %); at peaks "
    "of 0.1-0.3 over those floors 0-0.5 %, and over -50 dBFS 0-2.7 % at every peak. Training on louder, cleaner mixes "
    "(variants natural-splice-clean and -clean2 in scripts/train_detectors.py, one seed each) only cut the 12.0 % to "
    "10.0 and 8.0 %, and missed more real amelia at <= 0.5 synthetic false accepts per hour (13.9 and 16.6 % against "
    "8.1 and 12.6 %): not adopted. Nor was a peak limiter (ceiling 0.3) before the detector: it cut the 12.0 % to 3.5 % "
    "but missed 3.2 points more real voices on average at <= 0.5 synthetic false accepts per hour (amelia, android, hey "
    "chatterbox, two seeds each; `speechseq/runtime/level.py`). Wake-word audio this loud over near-digital silence comes from synthesis or "
    "edited files more than from microphones, but a close, loud talker into a quiet microphone is this case too.")
FLOOR_GUARD = (
    "Since session 32 the runtime keeps the dynamic range the models see within 60 dB (a floor raised under loud "
    "input; `speechseq.runtime.level.FloorGuard`, `--range-db` on detect, listen and eval detector, 0: off), and "
    "the figures above, measured without it, hold with it but for this case: on the 367 held-out clips of "
    "cache/synth (`python scripts/detector_levels.py models/activate.onnx --range-db 0 60 --peaks 0.03 0.1 0.3 "
    "0.95`, session 32; cache/synth-new was not on the machine), at a peak of 0.95 over a -70 / -60 dBFS floor "
    "4.4 / 1.6 % missed without it (festival's voice 46 / 21 %) and 0.8 / 0.0 % with it, every other level and "
    "floor the same or one clip fewer, delays unchanged. With it, at the shipped threshold, none of the 0.53 h of "
    "unseen and threshold-choice real speech fires (as without), and 3 of 2.02 h of unseen synthetic sentences "
    "(2 without); `scripts/bench_listener.py`'s wake delay p90 went from 340 to 292 ms. On real voices (amelia, "
    "android, hey chatterbox, five synthetic-only models, `scripts/detector_tradeoff.py --range-db 60`) it missed "
    "0-3 clips fewer to 1 more at fixed thresholds.")
ENGINES_USED = "espeak-ng, festival, flite, mbrola, pico, piper, RHVoice, and one real speaker's spliced phones"
# Measured apart (scripts/detector_end_offsets.py, session 46): the end-offset table written into the shipped files,
# which were exported before validation measured one. card() writes it where the model carries an "end_offset_table";
# a file retrained and exported with validation's own table is not the one it describes: drop its entry then.
_END_OFFSETS_DATA = ("the held-out voices' clips of cache/synth/kw-{k} (the `even` half by a hash of engine and voice, "
                     "{n} voices of six engines) placed into Kathleen `train` as validation places keywords (speech the "
                     "model heard as background in training, never these voices), streamed "
                     "through the runtime as `detect` streams a file; checked on the other half (`odd`, {m} espeak-ng "
                     "voices) placed into FSDD `test`, neither used in training")
END_OFFSETS = {
    "activate": (
        "Event ends (session 46): this file was exported with one end offset, 0.12 s, measured at its validation "
        "threshold (0.97); the posterior crosses a lower threshold sooner, so events' `end` ran early at the "
        "thresholds it runs at. Its \"end_offset_table\" (the offset at every threshold, which the runtime reads at "
        "its own; metadata only, the graph byte for byte the same) was measured without retraining by `.venv/bin/python "
        "scripts/detector_end_offsets.py models/activate.onnx --clips cache/synth/kw-activate --voices even "
        "--background ../shared/data/kathleen/manifest.jsonl --where split=train --check-voices odd --check-background "
        "../shared/data/fsdd/manifest.jsonl --check-where split=test --write` (15 s on this project's 2-core CPU): "
        + _END_OFFSETS_DATA.format(k="activate", n=42, m=41) + ". Event end less keyword end on those 121 checked "
        "keywords, median (median absolute), at 0.5 / 0.75 (shipped) / 0.9: before -0.112 (0.112) / -0.078 (0.079) / "
        "-0.060 (0.061) s, after +0.009 (0.014) / +0.002 (0.013) / -0.020 (0.027) s. The events are the same (the offset "
        "moves `start` and `end` alone): `detect` on data/samples/activate_kitchen_lights.wav now says 1.13-1.78 s "
        "where it said 1.05-1.70 (its \"activate\" ends near 1.68 s: this one clip lies in the 5 % latest)."),
    "computer": (
        "Event ends (session 46): this file was exported with one end offset, 0.2 s, measured at its validation "
        "threshold (0.99); the posterior crosses a lower threshold sooner, so events' `end` ran early at the "
        "thresholds it runs at. Its \"end_offset_table\" (the offset at every threshold, which the runtime reads at "
        "its own; metadata only, the graph byte for byte the same) was measured without retraining by `.venv/bin/python "
        "scripts/detector_end_offsets.py models/computer.onnx --clips cache/synth/kw-computer --voices even "
        "--background ../shared/data/kathleen/manifest.jsonl --where split=train --check-voices odd --check-background "
        "../shared/data/fsdd/manifest.jsonl --check-where split=test --write` (13 s on this project's 2-core CPU; the "
        "clips by `python scripts/make_synth_data.py keyword --keyword computer --out cache/synth/kw-computer "
        "--neg-ratio 0`, 3 minutes): " + _END_OFFSETS_DATA.format(k="computer", n=42, m=41) + ". Event end less "
        "keyword end on those 121 checked keywords, median (median absolute), at 0.5 / 0.9 (shipped): before -0.198 "
        "(0.198) / -0.137 (0.137) s, after +0.002 (0.013) / +0.023 (0.025) s. The events are the same (the offset "
        "moves `start` and `end` "
        "alone)."),
}


@dataclass(frozen=True)
class Recipe:
    """How a shipped detector was trained, in its card's words (the figures are this script's measurements)."""
    data: str                # the keyword's speech: the card's **Data:**
    trained_on: str          # the same, opening the reproduce paragraph ("Trained on ...")
    sources: str             # what said the keyword
    details: str             # how it was drawn (the --variants)
    command: str             # the training command
    export_note: str         # after "bank, train, export" in the **Command:**
    steps: str               # the data steps before the training command (with their ";" or ",")
    after_command: str       # after the training command in the reproduce paragraph (a copy into models/)
    train_note: str          # before the epochs in its parenthesis
    hardware: str
    amelia_command: str      # the same recipe's amelia model
    amelia_data: str         # how that model was trained ("... trained by the same recipe AMELIA_DATA")
    licence: str             # the keyword speech's sources, for the licence line
    notes: tuple[str, ...] = ()  # paragraphs measured apart, after the amelia section


RECIPES = {
    "activate": Recipe(
        KEYWORD_DATA, KEYWORD_DATA, ENGINES_USED, RECIPE, TRAIN_COMMAND, EXPORT_NOTE, DATA_STEPS + ";", "", "",
        HARDWARE, AMELIA_COMMAND, "(no real recording of amelia)", f"Keyword speech: {ENGINES_USED}",
        (SECOND_SPEAKER, THIRD_SPEAKER, LOUD_INPUT, FLOOR_GUARD)),
    # session 8's recipe (--variants natural)
    "computer": Recipe(
        "synthetic speech only for the keyword",
        "synthetic speech only for the keyword (no real recordings of it exist here)",
        "espeak-ng, festival, flite, mbrola, pico, piper voices",
        "the positives of the five more natural engines (festival, flite, MBROLA, pico, piper) drawn 4x as often as "
        "espeak-ng's (`--variants natural`: 40 % of the positives instead of 14 %)",
        "python scripts/train_detectors.py --keywords activate computer --variants natural --runs runs/cpu-exp "
        "--models runs/cpu-exp/models-natural --device cpu --parallel",
        "; runs/cpu-exp/models-natural/computer.onnx copied to models/: session 8 exported into models/ itself, when "
        "activate.onnx was of this recipe too",
        "the synthetic data first (the `make_synth_data.py` commands in `scripts/train_detectors.py`'s docstring),",
        " and runs/cpu-exp/models-natural/computer.onnx copied to models/",
        "without `--models`, as session 8 ran it, it writes activate.onnx into models/ too, replacing the shipped one "
        "of another recipe; ",
        "on this project's 2-core CPU in session 8: 72-76 minutes of epochs per model on one thread, three trainings "
        "side by side; about a minute per model on one H100",
        "python scripts/train_detectors.py --keywords amelia --variants natural --runs runs/cpu-exp --models "
        "runs/cpu-exp/models-natural --device cpu",
        "from synthetic speech only", "Synthetic speech: espeak-ng, MBROLA, flite, festival, pico, piper voices"),
}


def _missed(m: dict, x: str) -> str:
    """Misses on both halves of the real amelia clips together at threshold x."""
    t, d = m["real_amelia_test"], m["real_amelia_dev"]
    return f"{100 * (t['frr_at'][x] * t['clips'] + d['frr_at'][x] * d['clips']) / (t['clips'] + d['clips']):.1f} %"


def _against_previous(res: dict, prev: dict) -> list[str]:
    """Rows comparing this file's measurements with the previous shipped file's (same script)."""
    def frr(r: dict, key: str) -> str:
        return f"{100 * r['synthetic_heldout_voices'][key]['frr']:.1f} %"

    def fa(r: dict, key: str) -> str:
        return f"{r[key]['fa_per_hour']} ({r[key]['false_accepts']} in {r[key]['hours']} h)" if key in r else "n/a"

    rows = [("threshold", str(res["threshold"]), str(prev["threshold"]))]
    rows += [(f"held-out synthetic voices missed, {what}", frr(res, key), frr(prev, key))
             for key, what in (("clean", "clean"), ("snr_20db", "20 dB"), ("snr_10db", "10 dB"), ("snr_5db", "5 dB"))]
    rows += [("median delay, keyword end to event", f"{res['synthetic_heldout_voices']['median_delay_s']} s",
              f"{prev['synthetic_heldout_voices']['median_delay_s']} s"),
             ("false accepts per hour, unseen real speech", fa(res, "fa_real_unseen"), fa(prev, "fa_real_unseen")),
             ("false accepts per hour, unseen synthetic sentences", fa(res, "fa_synthetic_sentences"),
              fa(prev, "fa_synthetic_sentences"))]
    what = f"`{prev.get('model', '?')}`" + (f", {prev['about']}" if prev.get("about") else "")  # "about": a note in its JSON
    return ["", f"Against the previous file ({what}; measured by this script on the same data):", "",
            "| what | this file | previous file |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]


def _tradeoff(res: dict, prev: dict | None) -> list[str]:
    """Card rows: held-out synthetic misses and false accepts per hour at each threshold of SWEEP (this
    file, and the previous file where its measurement has them)."""
    def rows(r: dict, label: str) -> list[str]:
        syn, out = r["synthetic_heldout_voices"], []
        if "frr_at" not in syn.get("clean", {}):
            return out
        for key, what in (("clean", "held-out synthetic voices missed, clean"), ("snr_20db", "the same at 20 dB"),
                          ("snr_10db", "the same at 10 dB")):
            out.append(f"| {label}{what} | " + " | ".join(f"{100 * syn[key]['frr_at'][x]:.1f} %" for x in ths) + " |")
        for key, what in (("fa_real_unseen", "false accepts per hour, unseen real speech"),
                          ("fa_real_threshold_choice", "false accepts per hour, threshold-choice real speech"),
                          ("fa_synthetic_sentences", "false accepts per hour, unseen synthetic sentences")):
            at = r.get(key, {}).get("fa_per_hour_at")
            if at:
                out.append(f"| {label}{what} | " + " | ".join(str(at[x]) for x in ths) + " |")
        return out

    ths = [str(x) for x in SWEEP]
    body = rows(res, "") + (rows(prev, "previous file: ") if prev else [])
    if not body:
        return []
    return ["", "At other thresholds (the same measurements, the same data):", "",
            "| threshold | " + " | ".join(ths) + " |", "|---|" + "---|" * len(ths)] + body


def _amelia_in_noise(amelia: dict, others: list[tuple[str, dict]]) -> list[str]:
    """Card rows: the real amelia clips (both halves) over real noise at 20 / 10 / 5 dB."""
    noisy = amelia.get("real_amelia_noise")
    if not noisy:
        return []
    snrs = list(noisy)
    lines = ["", "Both halves over the real noise recordings (kitchen, Precise noise) at 20 / 10 / 5 dB (clip RMS "
             "against noise RMS), as the issue's unseen real recordings are scored; misses:", "",
             "| model | threshold | " + " | ".join(k.removeprefix("snr_").replace("db", " dB") for k in snrs) + " |",
             "|---|---|" + "---|" * len(snrs)]
    rows = [("this recipe", amelia)] + [(name, m) for name, m in others if "real_amelia_noise" in m]
    for name, m in rows:
        noise, th = m["real_amelia_noise"], str(m["threshold"])
        for t in dict.fromkeys([th, "0.5"]):
            cells = [f"{100 * (noise[k]['frr'] if t == th else noise[k]['frr_at'][t]):.1f} %" for k in snrs]
            lines.append(f"| {name} | {t}{' (its own)' if t == th else ''} | " + " | ".join(cells) + " |")
    return lines


def card(res: dict, amelia: dict | None, meta: dict, amelia_model: str = "AMELIA.onnx",
         baseline: dict | None = None, previous: dict | None = None, also: list[tuple[str, dict]] = (),
         command: str | None = None) -> str:
    """The Markdown card of a shipped detector from its measurement `res`, with its keyword's RECIPES text;
    `amelia`: the same recipe's amelia model measured on real recordings; `baseline`: the previous recipe's amelia;
    `also`: more amelia models (label, measurement) for the trade-off tables, e.g. another seed; `command`: the
    eval_detectors.py command that writes this card (eval_command; default: --keywords KEYWORD and the amelia
    models)."""
    kw, th = res["keyword"], res["threshold"]
    syn = res["synthetic_heldout_voices"]
    fa = res.get("fa_real_unseen", {})
    norm = int(meta.get("model_config", {}).get("norm_frames", 0))
    rec = meta.get("recipe") or {}
    size = (f"{rec['epochs']} epochs x {rec['steps_per_epoch']} batches of {rec['batch']}"
            if all(k in rec for k in ("epochs", "steps_per_epoch", "batch")) else "the default epochs and batches")
    tune_h = (meta.get("threshold_table") or {}).get("tune_bg", {}).get("hours")
    tune = f"{tune_h} h of" if tune_h is not None else "the"
    if command is None:
        command = (f"python scripts/eval_detectors.py --keywords {shlex.quote(kw)}"
                   + (f" --amelia {shlex.quote(amelia_model)}" if amelia else "")
                   + (f" --amelia-baseline {shlex.quote(baseline['model'])}" if baseline else ""))
    run = f"`.venv/bin/{command}` for this card"
    metrics = (f"**Metrics (measured, below):** {100 * syn['clean']['frr']:.1f} % missed on {syn['clips']} held-out "
               f"synthetic clips at threshold {th}; {fa.get('fa_per_hour', float('nan'))} false accepts per hour on "
               f"{fa.get('hours', 0)} h of unseen real speech (all unseen speech: table below).")
    weights = ("Weights: the mean of the EMA weights of the last 3 epochs; threshold: the lowest with no false accept "
               f"on the real validation speech and at most 1 per hour on {tune} threshold-choice synthetic sentences "
               "(both rules chosen on amelia's real recordings).")
    if (meta.get("threshold_table") or {}).get("met") is False:  # choose_threshold's grid top: no threshold met it
        weights += f" **No threshold met that rule**: {th} is the top of its grid."
    recipe = RECIPES.get(kw)
    if recipe:
        made = (f"**Data:** {recipe.data} ({recipe.sources}; held-out voices excluded; {recipe.details}), real "
                "non-keyword speech and noise from `../shared/data` as backgrounds (Kathleen `train`, FSDD `train`, "
                "Precise non-keyword clips and noise); never Kathleen `dev` or FSDD `test`. **Command:** "
                f"`{recipe.command}` (bank, train, export{recipe.export_note}), card by `{command}`. {metrics}")
        reproduce = (f"Trained on {recipe.trained_on}, with real non-keyword speech and noise as backgrounds. "
                     f"Reproduce: {recipe.steps} then `.venv/bin/{recipe.command}`{recipe.after_command} (stages "
                     f"bank, train, export; {recipe.train_note}{size} ten-second mixes, {recipe.hardware}), then {run} "
                     f"(the amelia model: `{recipe.amelia_command}`). {weights}")
    else:  # a detector of another keyword: its recipe is not this script's to state
        made = (f"**Data:** not recorded here (scripts/eval_detectors.py's RECIPES holds {', '.join(RECIPES)}; the "
                f"model's own summary: Training data, below). **Command:** not recorded here, card by `{command}`. "
                f"{metrics}")
        reproduce = (f"Trained by a recipe this script does not record ({size} ten-second mixes); then {run}. "
                     f"{weights}")
    lines = [f"# {kw}.onnx: trigger word \"{kw}\"", "", "## Card", "", made, "",
             f"Conv1D + 2 x GRU detector ({meta['parameters']:,} parameters, {res['bytes'] / 1e6:.2f} MB), streamed on "
             f"onnxruntime over 40 log-mel bands"
             + (f", each frame minus the mean of the last {norm} frames per band (a streaming cepstral mean "
                "normalisation, part of the graph; the fixed input scaling is folded into the conv's weights at export)"
                if norm else "")
             + f"; one posterior every {meta['step_s'] * 1000:.0f} ms, smoothed over "
             f"{meta['smoothing_steps']} steps; threshold **{th}**, refractory {meta['refractory_s']} s.", "",
             reproduce, "",
             "## Measured (runtime, at the shipped threshold)", "",
             "| what | data | result |", "|---|---|---|",
             f"| false rejects, clean | {syn['clips']} clips, {syn['voices']} synthetic voices held out of training "
             f"({', '.join(syn['engines'])}) | {100 * syn['clean']['frr']:.1f} % |"]
    for snr in (20, 10, 5):
        lines.append(f"| false rejects, over real noise at {snr} dB | same clips, kitchen / precise noise recordings "
                     f"| {100 * syn[f'snr_{snr}db']['frr']:.1f} % |")
    lines.append(f"| median delay, keyword end to event | clean held-out clips | {syn['median_delay_s']} s |")
    for key, what in (("fa_real_unseen", "real speech never used for training or tuning (Kathleen dev, FSDD test"
                       + (", precise amelia clips" if kw != "amelia" else "") + ")"),
                      ("fa_real_threshold_choice", "real speech used to choose the threshold (Kathleen/FSDD train 15 %, "
                       "precise not-wake-word half)"),
                      ("fa_synthetic_sentences", "synthetic sentences never trained on nor used for the threshold "
                       "(train.jsonl hash >= 55 and the held-out voices' heldout.jsonl)")):
        if key in res:
            r = res[key]
            lines.append(f"| false accepts per hour | {what}: {r['hours']} h | {r['fa_per_hour']} ({r['false_accepts']} events) |")
    for g, r in res.get("fa_real_unseen_by_set", {}).items():
        lines.append(f"| false accepts, of which | {g}: {r['files']} files, {r['hours']} h | {r['false_accepts']} events |")
    total = sum(res[k]["hours"] for k in ("fa_real_unseen", "fa_synthetic_sentences") if k in res)
    n = sum(res[k]["false_accepts"] for k in ("fa_real_unseen", "fa_synthetic_sentences") if k in res)
    lines.append(f"| false accepts per hour, together | unseen real + synthetic sentences: {total:.2f} h | {n / max(total, 1e-9):.2f} |")
    if kw in END_OFFSETS and meta.get("end_offset_table"):
        lines += ["", END_OFFSETS[kw]]
    if previous:
        lines += _against_previous(res, previous)
    lines += _tradeoff(res, previous)
    if amelia:
        others = ([("previous recipe", baseline)] if baseline else []) + list(also)
        lines += ["", "## The recipe on real voices: \"amelia\"", "",
                  "No real recordings of this keyword exist here, so the recipe was checked on a custom keyword "
                  "that has them: \"amelia\" trained by the same recipe"
                  + (f" {recipe.amelia_data}" if recipe else "") + ", measured on the "
                  "real Mycroft Precise community recordings of \"amelia\" (split in two halves by a hash of the file name).", "",
                  "| threshold | real amelia, test half | real amelia, dev half (watched while choosing the recipe) |",
                  "|---|---|---|"]
        t, d = amelia["real_amelia_test"], amelia["real_amelia_dev"]
        lines.append(f"| {amelia['threshold']} (by the same rule) | {100 * t['frr']:.1f} % missed of {t['clips']} | "
                     f"{100 * d['frr']:.1f} % of {d['clips']} |")
        for x in ("0.3", "0.5", "0.7"):
            lines.append(f"| {x} | {100 * t[f'frr_at_{x}']:.1f} % | {100 * d[f'frr_at_{x}']:.1f} % |")
        fa_at = amelia.get("fa_synthetic_sentences", {}).get("fa_per_hour_at")
        if fa_at and "frr_at" in t:
            lines += ["", "The trade-off (misses on both halves together against false accepts per hour on the "
                      f"{amelia['fa_synthetic_sentences']['hours']} h of unseen synthetic sentences):", "",
                      "| threshold | " + " | ".join(fa_at) + " |", "|---|" + "---|" * len(fa_at),
                      "| real amelia missed | " + " | ".join(_missed(amelia, x) for x in fa_at) + " |",
                      "| synthetic false accepts per hour | " + " | ".join(str(v) for v in fa_at.values()) + " |"]
            for name, m in others:
                m_fa = m.get("fa_synthetic_sentences", {}).get("fa_per_hour_at")
                if m_fa and all(x in m_fa for x in fa_at):
                    lines += [f"| {name} ({m['model']}): real amelia missed | "
                              + " | ".join(_missed(m, x) for x in fa_at) + " |",
                              f"| {name}: synthetic false accepts per hour | " + " | ".join(str(m_fa[x]) for x in fa_at) + " |"]
        lines += _amelia_in_noise(amelia, others)
        u = amelia["fa_real_unseen"]
        lines.append("")
        lines.append(f"amelia's false accepts at its threshold: {u['fa_per_hour']}/h on {u['hours']} h of unseen real speech, "
                     f"{amelia.get('fa_synthetic_sentences', {}).get('fa_per_hour')}/h on synthetic sentences.")
        for note in recipe.notes if recipe else ():
            lines += ["", note]
    lines += ["", "## Training data", "", "```", json.dumps(meta.get("data", {}), indent=1)[:3000], "```", "",
              "Licences: Kathleen (CC0), FSDD (CC BY-SA 4.0), Mycroft Precise recordings (public domain), "
              "Speech Commands background noise (CC BY 4.0)." + (f" {recipe.licence}." if recipe else ""), "",
              "Limits: the real-speech false-accept sets are short (see hours); the numbers on synthetic voices "
              "do not predict real voices (see the amelia check)."]
    return "\n".join(lines) + "\n"


def _save(json_dir: str | None, name: str, res: dict) -> None:
    """Write one measurement as JSON_DIR/NAME.json (nothing when no --json-dir)."""
    if json_dir:
        Path(json_dir).mkdir(parents=True, exist_ok=True)
        (Path(json_dir) / f"{name}.json").write_text(json.dumps(res, indent=1) + "\n")


def arguments() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--synth", nargs="+", default=[str(ROOT / "cache" / "synth")],
                    help="synthesis folders (make_synth_data.py output): held-out voices' keyword clips and unseen "
                         "sentences of all of them are measured (session 19: cache/synth cache/synth-new)")
    ap.add_argument("--models", default=str(ROOT / "models"))
    ap.add_argument("--keywords", nargs="+", required=True,
                    help="the detectors to measure (MODELS/KEYWORD.onnx); each one's card MODELS/KEYWORD.md is written "
                         "again, naming this command with --keywords KEYWORD")
    ap.add_argument("--amelia", help="the amelia model trained by the same recipe (for the real-voice check)")
    ap.add_argument("--amelia-json", help="its measurement from an earlier run (JSON-DIR/amelia.json) instead of measuring again")
    ap.add_argument("--amelia-baseline", help="an amelia model of an earlier recipe: its trade-off joins the card's, for comparison")
    ap.add_argument("--amelia-baseline-json", help="its measurement from an earlier run instead of measuring again")
    ap.add_argument("--amelia-also", action="append", default=[], metavar="LABEL=JSON",
                    help="another amelia measurement (e.g. the recipe with another seed) whose trade-off joins the "
                         "card's under LABEL (repeatable)")
    ap.add_argument("--cards-only", action="store_true",
                    help="measure nothing: write the cards from the measurements already in --json-dir (KEYWORD.json; "
                         "with --amelia / --amelia-baseline, their amelia.json / amelia-baseline.json there; without, "
                         "the amelia measurement KEYWORD.json holds); the card names the command without it, which "
                         "measures and writes the same card")
    ap.add_argument("--previous-json-dir", help="the previous shipped files' measurements (KEYWORD.json, as --json-dir "
                                                "wrote them): a comparison table joins each card")
    ap.add_argument("--json-dir", default=str(ROOT / "runs" / "detectors"), help="where the measurements go as JSON")
    return ap


# the options a card's command repeats when given (in this order), after its --keywords
CARD_OPTIONS = ("data", "synth", "models", "json_dir", "amelia", "amelia_json", "amelia_baseline",
                "amelia_baseline_json", "amelia_also", "previous_json_dir")


def eval_command(args: argparse.Namespace, keyword: str, amelia_model: str | None = None) -> str:
    """The command that measures KEYWORD and writes its card as `args` wrote it: --keywords KEYWORD alone (another
    keyword's card is not its to write) and every other option given, defaults left out. --cards-only is not one
    (it writes the same card from the measurements that command saved); `amelia_model`: the amelia model whose
    measurement the card holds, named by --amelia where `args` had none (--cards-only took it from KEYWORD.json)."""
    default = arguments().parse_args(["--keywords", keyword])
    words = ["python", "scripts/eval_detectors.py", "--keywords", keyword]
    for name in CARD_OPTIONS:
        value, flag = getattr(args, name), "--" + name.replace("_", "-")
        if name == "amelia" and value is None and amelia_model and not args.amelia_json:
            value = amelia_model
        if value == getattr(default, name):
            continue
        if name == "amelia_also":  # repeatable
            words += [w for item in value for w in (flag, item)]
        else:
            words += [flag, *(value if isinstance(value, list) else [value])]
    return " ".join(shlex.quote(str(w)) for w in words)


def main() -> None:
    args = arguments().parse_args()
    if names_stdout(args.json_dir):  # a folder "-" of measurements was made, after them
        raise SystemExit(stdout_refused("--json-dir", "a folder", "a folder"))
    data, synths = Path(args.data), [Path(d) for d in args.synth]
    # every input checked before the first measurement (each takes minutes)
    if not args.cards_only and (why := missing_data(data)):
        raise SystemExit(why)
    for k in args.keywords:
        if not (Path(args.models) / f"{k}.onnx").is_file():
            raise SystemExit(f"no model {Path(args.models) / f'{k}.onnx'}")
        if args.cards_only and not (Path(args.json_dir) / f"{k}.json").is_file():
            raise SystemExit(f"--cards-only: no measurement {Path(args.json_dir) / f'{k}.json'} (run without --cards-only first)")
    for flag, path in (("--amelia", args.amelia), ("--amelia-baseline", args.amelia_baseline)):
        if path and not args.cards_only:
            if not Path(path).is_file():
                raise SystemExit(f"{flag}: no model {path}")
            if read_metadata(Path(path)).get("keyword") != "amelia":
                raise SystemExit(f"{flag}: {path} is not an amelia model (its keyword: "
                                 f"{read_metadata(Path(path)).get('keyword')!r})")

    def amelia_measurement(path: str | None, json_path: str | None, name: str) -> dict | None:
        """An amelia model's measurement: from JSON, measured (saved as JSON_DIR/NAME.json), or with
        --cards-only read back from there."""
        if json_path or (path and args.cards_only):
            src = Path(json_path) if json_path else Path(args.json_dir) / f"{name}.json"
            if not src.is_file():
                raise SystemExit(f"no measurement {src}")
            m = json.loads(src.read_text())
            if "real_amelia_test" not in m:
                raise SystemExit(f"{src}: not the measurement of an amelia model (no real_amelia_test)")
            return m
        if not path:
            return None
        m = measure(Path(path), data, synths)
        print(json.dumps(m), flush=True)
        _save(args.json_dir, name, m)
        return m

    also = []
    for item in args.amelia_also:
        label, _, path = item.partition("=")
        if not path:
            raise SystemExit(f"--amelia-also wants LABEL=JSON, got {item!r}")
        if not Path(path).is_file():
            raise SystemExit(f"--amelia-also: no measurement {path}")
        also.append((label, json.loads(Path(path).read_text())))
    amelia = amelia_measurement(args.amelia, args.amelia_json, "amelia")
    baseline = amelia_measurement(args.amelia_baseline, args.amelia_baseline_json, "amelia-baseline")
    for k in args.keywords:
        model = Path(args.models) / f"{k}.onnx"
        prev_path = Path(args.previous_json_dir) / f"{k}.json" if args.previous_json_dir else None
        previous = json.loads(prev_path.read_text()) if prev_path and prev_path.exists() else None
        card_amelia = amelia
        if args.cards_only:
            res = json.loads((Path(args.json_dir) / f"{k}.json").read_text())
            card_amelia = amelia or res.get("amelia")  # the amelia measurement the card was first written with
        else:
            res = measure(model, data, synths)
            res["amelia"] = amelia
            print(json.dumps(res), flush=True)
            _save(args.json_dir, k, res)
        amelia_model = (card_amelia or {}).get("model", "AMELIA.onnx")  # a measurement names its model
        command = eval_command(args, k, amelia_model if card_amelia else None)
        (Path(args.models) / f"{k}.md").write_text(card(res, card_amelia, read_metadata(model), amelia_model, baseline,
                                                        previous, also, command))


if __name__ == "__main__":
    from speechseq.errors import SpeechseqError

    try:
        main()
    except SpeechseqError as err:  # a missing or damaged model, an unreadable audio file: one line
        sys.exit(f"eval_detectors.py: {err}")
