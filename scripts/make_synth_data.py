#!/usr/bin/env python
"""Make synthetic speech for training: keyword clips with negatives, or spoken sentences.

Usage:
    # The keyword by every installed voice (plus speed/pitch variations), and as many negatives
    # (sound-alikes, ordinary words, short phrases):
    python scripts/make_synth_data.py keyword --keyword activate --out cache/synth/kw-activate \\
        --text ../shared/data/text/ljspeech.txt

    # The keyword said in several ways in turn (the engines' intonation follows the punctuation;
    # no word may follow the keyword, since labels start where the clip ends):
    python scripts/make_synth_data.py keyword --keyword amelia --out cache/synth-p/kw-amelia \
        --phrasings '{}' '{}?' '{}!' 'hey, {}' 'well, {}' '{}...'

    # Sentences by random voices for the recogniser, Kathleen's dev prompts left out:
    python scripts/make_synth_data.py sentences --n 4000 --out cache/synth/sentences \\
        --text ../shared/data/text/arctic_prompts.txt ../shared/data/text/ljspeech.txt \\
        --exclude-manifest ../shared/data/kathleen/manifest.jsonl

Audio goes to OUT/audio/ (16-bit 16 kHz WAV named by a hash of text, voice, speed and pitch, so
a second run only makes what is missing). Manifests (JSONL: audio_filepath relative to the
manifest, duration, text, voice, engine, speed, pitch, heldout) go to OUT/:
keyword -> positives.jsonl, negatives.jsonl; sentences -> train.jsonl, heldout.jsonl.
Voices of the held-out split (speechseq.train.synth.heldout) are marked heldout=true in the
keyword manifests and are written only to heldout.jsonl for sentences: never train on them.
"""
from __future__ import annotations

import argparse
import difflib
import json
import math
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechseq.commands.common import HelpFormatter  # noqa: E402
from speechseq.errors import SpeechseqError  # noqa: E402
from speechseq.text import normalize  # noqa: E402
from speechseq.train.synth import ENGINES, SynthJob, Voice, heldout, list_voices, synthesize_many  # noqa: E402
from speechseq.train.words import ordinary_phrases, ordinary_words, sound_alikes  # noqa: E402

# Share of random-voice utterances per engine: espeak-ng has ~800 voices but the least natural
# sound, so it is not let dominate (see ENVIRONMENT.md: recognisers fail most on it).
ENGINE_WEIGHTS = {"espeak-ng": 0.40, "mbrola": 0.10, "flite": 0.15, "festival": 0.10, "pico": 0.10, "piper": 0.15,
                  "rhvoice": 0.10}
# Abbreviations and acronyms are read differently by engines than normalize() writes them.
_UNSAYABLE = re.compile(r"\d|\b(Mr|Mrs|Dr|St|Messrs|Co|No|Jr|Sr|Ltd|Gen|Col|Capt|Lt|Rev|Hon|vs|etc)\.|\b[A-Z]{2,}\b")


class VoicePicker:
    """Random voices, first an engine by ENGINE_WEIGHTS (among those installed), then a voice."""

    def __init__(self, voices: list[Voice], rng: random.Random):
        self.by_engine = {e: [v for v in voices if v.engine == e] for e in ENGINES}
        self.engines = [e for e in ENGINES if self.by_engine[e]]
        self.weights = [ENGINE_WEIGHTS[e] for e in self.engines]
        self.rng = rng

    def __call__(self) -> Voice:
        engine = self.rng.choices(self.engines, self.weights)[0]
        return self.rng.choice(self.by_engine[engine])


def _vary(rng: random.Random, lo: float, hi: float) -> tuple[float, float]:
    return round(rng.uniform(lo, hi), 3), round(rng.uniform(lo, hi), 3)


def _write_manifest(path: Path, rows: list[dict]) -> None:
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def _rows(jobs: list[SynthJob], paths: list, out: Path, extra: list[dict]) -> list[dict]:
    durations = {}
    with open(out / "audio" / "manifest.jsonl") as f:
        for line in f:
            row = json.loads(line)
            durations[row["audio_filepath"]] = row["duration"]
    rows = []
    for job, path, more in zip(jobs, paths, extra):
        if path is None:
            continue
        rows.append({"audio_filepath": f"audio/{path.name}", "duration": durations[path.name],
                     "text": normalize(job.text), "voice": job.voice.name, "engine": job.voice.engine,
                     "speed": job.speed, "pitch": job.pitch, "heldout": heldout(job.voice), **more})
    return rows


def _summary(name: str, rows: list[dict]) -> str:
    hours = sum(r["duration"] for r in rows) / 3600
    engines: dict[str, int] = {}
    for r in rows:
        engines[r["engine"]] = engines.get(r["engine"], 0) + 1
    held = sum(r["heldout"] for r in rows)
    return f"{name}: {len(rows)} clips, {hours:.2f} h, {held} from held-out voices, by engine {engines}"


def spoken_forms(keyword: str, templates: list[str]) -> list[str]:
    """The texts a positive is made from: each template with "{}" replaced by the keyword.

    A template must end with the keyword (punctuation after it allowed): labels start where the
    clip ends, so a word after the keyword would put them in the wrong place.
    """
    forms = []
    for t in templates:
        if t.count("{}") != 1:
            raise SpeechseqError(f"phrasing {t!r} must contain the keyword's place {{}} exactly once")
        if re.search(r"[A-Za-z0-9]", t.split("{}")[1]):
            raise SpeechseqError(f"phrasing {t!r} has words after the keyword: labels start where the clip ends")
        forms.append(t.replace("{}", keyword))
    return forms


def cmd_keyword(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    voices = list_voices(args.engines)
    if not voices:
        raise SpeechseqError("no speech engines installed (need espeak-ng, flite, festival, pico2wave or piper)")
    count = {e: sum(v.engine == e for v in voices) for e in ENGINES}
    phrasings = spoken_forms(args.keyword, args.phrasings)
    jobs, extra = [], []
    for v, voice in enumerate(voices):
        k = max(args.variations, math.ceil(args.min_per_engine / count[voice.engine]))
        for i in range(k):
            speed, pitch = (1.0, 1.0) if i == 0 else _vary(rng, args.speed_min, args.speed_max)
            # the phrasings in turn, each voice starting one further on: every voice says several
            jobs.append(SynthJob(phrasings[(v + i) % len(phrasings)], voice, speed, pitch))
            extra.append({"label": 1, "kind": "keyword"})
    n_pos = len(jobs)
    n_neg = int(round(n_pos * args.neg_ratio))
    n_alike = int(n_neg * 0.4)
    n_phrase = int(n_neg * 0.25) if args.text else 0
    n_word = n_neg - n_alike - n_phrase
    alikes = sound_alikes(args.keyword, args.alike_words, seed=args.seed)
    texts = [(w, "sound-alike") for w in (alikes * (n_alike // max(1, len(alikes)) + 1))[:n_alike]]
    texts += [(w, "word") for w in ordinary_words(n_word, seed=args.seed, exclude=[args.keyword])]
    if n_phrase:
        texts += [(p, "phrase") for p in ordinary_phrases(args.text, n_phrase, seed=args.seed, exclude=[args.keyword])]
    pick = VoicePicker(voices, rng)
    for text, kind in texts:
        speed, pitch = _vary(rng, args.speed_min, args.speed_max)
        jobs.append(SynthJob(text, pick(), speed, pitch))
        extra.append({"label": 0, "kind": kind})
    print(f"{len(voices)} voices {count}; {n_pos} positive and {len(jobs) - n_pos} negative jobs "
          f"({len(alikes)} distinct sound-alikes: {', '.join(alikes[:12])}, ...)", flush=True)
    out = Path(args.out)
    paths = synthesize_many(jobs, out / "audio", workers=args.workers, desc=f"{args.keyword}")
    rows = _rows(jobs, paths, out, extra)
    pos = [r for r in rows if r["label"] == 1]
    neg = [r for r in rows if r["label"] == 0]
    _write_manifest(out / "positives.jsonl", pos)
    _write_manifest(out / "negatives.jsonl", neg)
    print(_summary("positives", pos))
    print(_summary("negatives", neg))


def _excluded_texts(manifests: list[str], splits: list[str]) -> list[list[str]]:
    texts = []
    for path in manifests:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as err:
            raise SpeechseqError(f"cannot read exclusion manifest {path}: {err.strerror}") from None
        for line in lines:
            row = json.loads(line) if line.strip() else {}
            if row.get("split") in splits and row.get("text"):
                texts.append(normalize(row["text"]).split())
    return texts


def _is_excluded(words: list[str], excluded: list[tuple[list[str], set[str]]], threshold: float) -> bool:
    # Dev prompts as recorded differ from the prompt list by a word or two, so match fuzzily.
    ws = set(words)
    for ex, exset in excluded:
        if len(ws & exset) / max(1, len(ws | exset)) < 0.4:
            continue
        if difflib.SequenceMatcher(None, words, ex, autojunk=False).ratio() >= threshold:
            return True
    return False


def load_sentences(files: list[str], min_words: int, max_words: int, excluded: list[list[str]],
                   threshold: float = 0.75) -> tuple[list[str], int]:
    """Distinct sayable lines of ``files`` with min..max words, minus near-copies of ``excluded``.
    Returns (sentences, how many were dropped as excluded)."""
    ex = [(e, set(e)) for e in excluded]
    seen, keep, dropped = set(), [], 0
    for path in files:
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="ignore").splitlines()
        except OSError as err:
            raise SpeechseqError(f"cannot read text file {path}: {err.strerror}") from None
        for line in lines:
            line = line.strip()
            norm = normalize(line)
            words = norm.split()
            if not (min_words <= len(words) <= max_words) or norm in seen or _UNSAYABLE.search(line):
                continue
            seen.add(norm)
            if _is_excluded(words, ex, threshold):
                dropped += 1
                continue
            keep.append(line)
    return keep, dropped


def cmd_sentences(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    voices = list_voices(args.engines)
    if not voices:
        raise SpeechseqError("no speech engines installed (need espeak-ng, flite, festival, pico2wave or piper)")
    excluded = _excluded_texts(args.exclude_manifest, args.exclude_split)
    sentences, dropped = load_sentences(args.text, args.min_words, args.max_words, excluded)
    print(f"{len(sentences)} usable sentences; {dropped} dropped as near-copies of {len(excluded)} "
          f"excluded prompts", flush=True)
    chosen = rng.sample(sentences, args.n) if args.n <= len(sentences) else \
        [rng.choice(sentences) for _ in range(args.n)]
    pick = VoicePicker(voices, rng)
    jobs = []
    for text in chosen:
        speed, pitch = _vary(rng, args.speed_min, args.speed_max)
        jobs.append(SynthJob(text, pick(), speed, pitch))
    out = Path(args.out)
    paths = synthesize_many(jobs, out / "audio", workers=args.workers, desc="sentences")
    rows = _rows(jobs, paths, out, [{}] * len(jobs))
    train = [r for r in rows if not r["heldout"]]
    held = [r for r in rows if r["heldout"]]
    _write_manifest(out / "train.jsonl", train)
    _write_manifest(out / "heldout.jsonl", held)
    print(_summary("train", train))
    print(_summary("heldout", held))


def get_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=HelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument("--out", required=True, help="output folder (audio/ and manifests)")
    common.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    common.add_argument("--workers", type=int, default=2, help="parallel synthesis processes")
    common.add_argument("--engines", nargs="+", choices=ENGINES, default=None, help="engines to use (default: all installed)")
    common.add_argument("--speed-min", type=float, default=0.85, help="lowest speed/pitch factor of a variation")
    common.add_argument("--speed-max", type=float, default=1.2, help="highest speed/pitch factor of a variation")

    kw = sub.add_parser("keyword", parents=[common], formatter_class=HelpFormatter,
                        help="keyword clips by every voice, plus negatives")
    kw.add_argument("--keyword", required=True, help="the word to say, e.g. activate")
    kw.add_argument("--variations", type=int, default=3, help="clips per voice (the first at natural speed and pitch)")
    kw.add_argument("--min-per-engine", type=int, default=100,
                    help="at least this many positives per engine (engines with few voices get more variations; "
                         "100 made the shipped detectors' data: with espeak-ng's hundreds of voices, the five more "
                         "natural engines are otherwise a few dozen clips each)")
    kw.add_argument("--phrasings", nargs="+", default=["{}"], metavar="TEMPLATE",
                    help="how the keyword is said, taken in turn: {} is the keyword, e.g. '{}' '{}?' '{}!' 'hey, {}' "
                         "(punctuation changes the engines' intonation; no words may follow the keyword)")
    kw.add_argument("--neg-ratio", type=float, default=1.0, help="negatives per positive")
    kw.add_argument("--alike-words", type=int, default=150, help="distinct sound-alike words (40%% of negatives)")
    kw.add_argument("--text", nargs="*", default=[], help="text files to cut short negative phrases from (25%% of negatives)")
    kw.set_defaults(func=cmd_keyword)

    se = sub.add_parser("sentences", parents=[common], formatter_class=HelpFormatter,
                        help="sentences by random voices (held-out voices to heldout.jsonl)")
    se.add_argument("--text", nargs="+", required=True, help="text files, one sentence a line")
    se.add_argument("--n", type=int, default=4000, help="utterances to make")
    se.add_argument("--min-words", type=int, default=3, help="shortest sentence (words after normalisation)")
    se.add_argument("--max-words", type=int, default=15, help="longest sentence")
    se.add_argument("--exclude-manifest", nargs="*", default=[],
                    help="JSONL manifests whose texts (of --exclude-split) must not be spoken, e.g. Kathleen's")
    se.add_argument("--exclude-split", nargs="+", default=["dev"], help="splits of --exclude-manifest to exclude")
    se.set_defaults(func=cmd_sentences)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = get_args(argv)
    start = time.time()
    try:
        args.func(args)
    except SpeechseqError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wall time {time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
