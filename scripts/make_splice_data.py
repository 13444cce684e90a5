#!/usr/bin/env python
"""Keyword clips spliced from a real speaker's recordings (speechseq.train.splice): real-voice training data.

    # 1. align a speaker's transcribed recordings to phones (pocketsphinx's forced alignment and its
    #    US English dictionary: `pip install pocketsphinx==5.1.1`); by default Kathleen `train`, and only
    #    its background-role clips (file-name hash >= 15, as scripts/train_detectors.py splits them):
    #    never dev, never the threshold-choice clips
    python scripts/make_splice_data.py align --manifest ../shared/data/kathleen/manifest.jsonl \\
        --out cache/splice/align.json           # any JSONL manifest of one speaker (audio_filepath, text)

    # 2. a keyword's positives (its pronunciations spelled from the recorded phones) and negatives
    #    (its sound-alikes and ordinary words, spliced the same way, so that the joins are no cue)
    python scripts/make_splice_data.py keyword --keyword android --align cache/splice/align.json \\
        --out cache/splice/kw-android [--positives 500 --negatives 600]

The keyword folder has the layout of scripts/make_synth_data.py's (positives.jsonl, negatives.jsonl,
audio/), engine "splice", voice the speaker's name, so it joins a detector's bank with
`scripts/train_detectors.py --extra-synth cache/splice`, or a training as a synthesis folder does:
`speechseq train detector --synth cache/synth/kw-android cache/splice/kw-android ...`.
"""
from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechseq.commands.common import lines_out, names_stdout, output_file, stdout_refused, write_report  # noqa: E402
from speechseq.commands.eval_recognizer import plural  # noqa: E402
from speechseq.errors import SpeechseqError  # noqa: E402
from speechseq.train.manifests import EVAL_SPLITS, name_pct  # noqa: E402  (evaluation audio: never spliced)
from speechseq.train.splice import (ENGINE, Phone, SpliceError, UnitIndex, Utterance, phrase_choices,  # noqa: E402
                                    phrase_pronunciations, splice)

RMS = 0.05  # every recording scaled to this RMS before cutting, so that the units' levels agree
LISTED = 16  # a keyword said in more ways than this is summed up by their number (2 ** 20 for 20 words of two)


def _dictionary() -> dict[str, list[tuple[str, ...]]]:
    try:
        from pocketsphinx import get_model_path
    except ImportError:
        raise SystemExit("needs pocketsphinx (its aligner and dictionary): .venv/bin/pip install pocketsphinx==5.1.1") from None

    prons: dict[str, list[tuple[str, ...]]] = {}
    with open(Path(get_model_path()) / "en-us" / "cmudict-en-us.dict") as f:
        for line in f:
            parts = line.split()
            if parts:
                prons.setdefault(re.sub(r"\(\d+\)$", "", parts[0]), []).append(tuple(parts[1:]))
    return prons


def _words(text: str) -> list[str]:
    return [w for w in re.sub(r"[^a-z' ]", " ", text.lower()).split() if w.strip("'")]


_DECODER = None


def _align_one(item: tuple[str, str]) -> tuple[str, list | None, str | None]:
    """(path, [(phone, start frame, frames), ...] or None, error)."""
    global _DECODER
    import soundfile as sf
    from pocketsphinx import Decoder

    path, text = item
    try:
        if _DECODER is None:
            _DECODER = Decoder(lm=None, loglevel="FATAL")
        audio, sr = sf.read(path, dtype="int16")
        if sr != 16000 or audio.ndim != 1:
            return path, None, f"needs 16 kHz mono, got {sr} Hz, shape {audio.shape}"
        d = _DECODER
        d.set_align_text(text)
        for second in (False, True):  # word alignment, then phones
            if second:
                d.set_alignment()
            d.start_utt()
            d.process_raw(audio.tobytes(), full_utt=True)
            d.end_utt()
        phones = [(p.name, p.start, p.duration) for w in d.get_alignment() for p in w]
        return path, phones, None
    except Exception as err:  # one bad file is reported and skipped
        return path, None, str(err)


def cmd_align(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    from speechseq.train.pools import job_pool, quiet_worker

    manifest = Path(args.manifest)
    if not manifest.is_file():
        raise SystemExit(f"{manifest}: no such manifest (JSONL rows with audio_filepath and text)")
    output_file(args.out, "--out", stdout=True)  # '-': the JSON on standard output, these lines on stderr
    lines = lines_out(args.out)
    prons = _dictionary()
    items, speakers, skipped, other_split = [], {}, 0, 0
    with open(manifest) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                r["audio_filepath"]
            except (ValueError, TypeError, KeyError):
                raise SystemExit(f"{manifest}, line {n}: not a JSON row with audio_filepath and text") from None
            if args.split and r.get("split") not in EVAL_SPLITS and r.get("split") != args.split:
                other_split += 1
                continue
            if r.get("split") in EVAL_SPLITS or name_pct(r["audio_filepath"]) < args.skip_pct:
                continue  # Kathleen: dev is evaluation audio (never, even with --split ''), hash < 15 held out
            words = _words(r.get("text", ""))
            if not words or any(w not in prons for w in words):
                skipped += 1
                continue
            path = str((manifest.parent / r["audio_filepath"]).absolute())  # the keyword step may run elsewhere
            items.append((path, " ".join(words)))
            speakers[path] = r.get("speaker", manifest.parent.name)
    if other_split and not items:  # else an empty align.json, and the keyword step "never says" the keyword's phones
        raise SystemExit(f"{manifest}: no row of split {args.split!r} to align ({plural(other_split, 'row')} of "
                         f"another split or of none); --split '' takes every row but evaluation audio")
    out = []
    with job_pool(args.workers, len(items), quiet_worker) as pool:  # Ctrl+C: the main process alone stops it
        done = pool.imap(_align_one, items, chunksize=4) if pool else map(_align_one, items)
        for path, phones, err in tqdm(done, total=len(items), desc="align", unit="utt"):
            if err is not None:
                tqdm.write(f"skipped {path}: {err}", file=lines)
                continue
            out.append({"audio_filepath": path, "speaker": speakers[path], "phones": phones})
    write_report(args.out, json.dumps(out))  # whole or not at all: Ctrl+C or a full disk keep the last run's file
    where = "standard output" if names_stdout(args.out) else args.out
    print(f"wrote {where}: {plural(len(out), 'utterance')} aligned ({skipped} with words outside the dictionary "
          "skipped)", file=lines)


def load_index(path: Path) -> tuple[UnitIndex, str]:
    """The unit index of an align file, and its speakers' names joined by "+"."""
    from speechseq.audio import AudioError, load_audio

    not_one = SystemExit(f"--align {path}: not an align file (a JSON list of audio_filepath and phones, as the "
                         "`align` step writes it)")
    try:  # empty or cut off, or the manifest given instead: one message, not a JSONDecodeError or KeyError traceback
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        aligned = [(r["audio_filepath"], tuple(Phone(str(n), 160 * int(s), 160 * (int(s) + int(d)))
                                               for n, s, d in r["phones"])) for r in rows]
    except (ValueError, TypeError, KeyError):
        raise not_one from None
    utts = []
    for audio_path, phones in aligned:
        try:
            audio = load_audio(audio_path)
        except AudioError as err:  # audio moved or deleted since the alignment
            raise SystemExit(f"--align {path}: {err} (align the recordings again)") from None
        audio = audio * np.float32(RMS / max(1e-6, float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))))
        utts.append(Utterance(audio.astype(np.float32), phones, audio_path))
    return UnitIndex(utts), "+".join(sorted({r.get("speaker", "") for r in rows})) or "unknown"


def positive_pronunciations(choices: list[list[tuple[str, ...]]], n: int,
                            rng: np.random.Generator) -> list[tuple[str, ...]]:
    """`n` pronunciations of a keyword from its phone sequences to choose from, one list for each word in turn. Where
    their combinations are `n` or fewer, each combination in turn (itertools.product's order: every one said, as often
    as the others); else each word's drawn at random, so that every word is said its ways (the first `n` combinations
    vary the last words only), the combinations never built (2 ** 20 for 20 words of two)."""
    ways = math.prod(map(len, choices))
    if ways > n:
        return [tuple(itertools.chain.from_iterable(options[int(rng.integers(len(options)))] for options in choices))
                for _ in range(n)]
    out = []
    for i in range(n):
        rest, picks = i % ways, []
        for options in reversed(choices):  # the last word's choice varies fastest, as in itertools.product
            rest, k = divmod(rest, len(options))
            picks.append(options[k])
        out.append(tuple(itertools.chain.from_iterable(reversed(picks))))
    return out


def cmd_keyword(args: argparse.Namespace) -> None:
    import soundfile as sf
    from tqdm import tqdm

    from speechseq.text import normalize
    from speechseq.train.words import contains_keyword, holds_keyword, ordinary_words, sound_alikes

    t0 = time.time()
    if names_stdout(args.out):  # a folder of clips and manifests: "-" made one of that name
        raise SystemExit(stdout_refused("--out", "a folder", "a folder"))
    if not Path(args.align).is_file():  # before pocketsphinx's dictionary is read
        raise SystemExit(f"--align {args.align}: no such file (the `align` step writes it)")
    prons = _dictionary()
    index, speaker = load_index(Path(args.align))

    def pronunciations(text: str) -> list[tuple[str, ...]]:
        return phrase_pronunciations(_words(text), prons)  # a compound word: from its parts

    # the keyword's words as read out ("naïve" naive, "he’ll" he'll, "R2D2" r two d two, as the recogniser's text
    # is; a-z alone read "na ve", "he ll", "r d")
    said = normalize(args.keyword)
    # one list of pronunciations per word (a compound: per part), never their combinations: 2 ** 20 for 20 words
    choices = phrase_choices(_words(said), prons)
    if not choices:
        raise SystemExit(f"{args.keyword!r}: not in pocketsphinx's dictionary (no pronunciation to splice)")
    spellable = [[p for p in options if set(p) <= index.phones()] for options in choices]
    if not all(spellable):  # else every positive is skipped and an empty positives.jsonl joins the training
        missing = sorted({ph for options in choices for p in options for ph in p} - index.phones())
        raise SystemExit(f"{args.keyword!r}: the recordings in {args.align} never say the phone(s) "
                         f"{' '.join(missing)} of its pronunciation: no positive can be spliced")
    key = tuple(tuple(tuple(p) for p in options) for options in choices)
    rng = np.random.default_rng(args.seed)
    out = Path(args.out)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    alike = sound_alikes(said, args.negatives, seed=args.seed, prons=prons)
    ordinary = ordinary_words(args.negatives, seed=args.seed, exclude=[said], prons=prons)
    # a negative whose phones hold the keyword's would be the keyword spliced ("night" for "knight")
    neg_texts = [w for w in alike + ordinary if pronunciations(w) and not contains_keyword(w, said)
                 and not any(holds_keyword(p, key) for p in pronunciations(w))]
    if args.negatives and not neg_texts:
        raise SystemExit(f"no negative of {args.keyword!r} has a pronunciation in pocketsphinx's dictionary")
    # of the pronunciations the recordings can spell (a phone none says failed every clip of the others)
    jobs = [(args.keyword, 1, "keyword", p) for p in positive_pronunciations(spellable, args.positives, rng)]
    kinds = {w: "sound-alike" for w in alike}
    for i in range(args.negatives):
        w = neg_texts[i % len(neg_texts)]
        p = pronunciations(w)
        jobs.append((w, 0, kinds.get(w, "word"), p[int(rng.integers(len(p)))]))
    rows: dict[str, list[dict]] = {"positives": [], "negatives": []}
    failed = 0
    for text, label, kind, pron in tqdm(jobs, desc=f"splice {args.keyword}", unit="clip"):
        try:
            audio, units = splice(index, pron, rng, fade=args.fade)
        except SpliceError as err:
            failed += 1
            tqdm.write(f"skipped {text!r}: {err}")
            continue
        name = hashlib.sha1(f"{text}|{[(u.utterance, u.first, u.length) for u in units]}".encode()).hexdigest()[:20]
        path = out / "audio" / f"{name}.wav"
        sf.write(path, np.clip(audio, -1, 1), 16000, subtype="PCM_16")
        rows["positives" if label else "negatives"].append(
            {"audio_filepath": f"audio/{name}.wav", "duration": round(len(audio) / 16000, 3), "text": text,
             "voice": speaker, "engine": ENGINE, "speed": 1.0, "pitch": 1.0, "heldout": False, "label": label,
             "kind": kind, "units": len(units)})
    for kind, rs in rows.items():
        with open(out / f"{kind}.jsonl", "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rs)
    n_units = [r["units"] for r in rows["positives"]]
    ways = math.prod(map(len, spellable))
    listed = (" / ".join(" ".join(itertools.chain.from_iterable(c)) for c in itertools.product(*spellable))
              if ways <= LISTED else f"{ways} pronunciations, each word's drawn in turn")
    print(f"wrote {out}: {len(rows['positives'])} positives ({listed}; "
          f"{np.mean(n_units):.1f} units a clip), {len(rows['negatives'])} negatives, {failed} skipped, "
          f"{time.time() - t0:.0f} s")


def _count(least: int):
    """A number of clips to make, a whole number >= `least` (0 positives printed "nan units a clip")."""
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if n < least:
            raise argparse.ArgumentTypeError(f"must be at least {least}, got {n}")
        return n
    return parse


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("align", help="phone-align a speaker's transcribed recordings with pocketsphinx")
    a.add_argument("--manifest", default="../shared/data/kathleen/manifest.jsonl",
                   help="JSONL rows with audio_filepath (relative to the manifest) and text; 16 kHz mono files")
    a.add_argument("--split", default="train",
                   help="only rows of this split (empty: every row but evaluation audio, split dev, test or validation)")
    a.add_argument("--skip-pct", type=int, default=15,
                   help="leave out the files whose name hash (0-99) is below this (Kathleen: the threshold-choice clips)")
    a.add_argument("--out", default="cache/splice/align.json")
    a.add_argument("--workers", type=int, default=2)
    k = sub.add_parser("keyword", help="spliced positives and negatives of a keyword")
    k.add_argument("--keyword", required=True)
    k.add_argument("--align", default="cache/splice/align.json")
    k.add_argument("--out", required=True)
    k.add_argument("--positives", type=_count(1), default=500)
    k.add_argument("--negatives", type=_count(0), default=600)
    k.add_argument("--fade", type=int, default=80, help="crossfade at each join, samples (default 80: 5 ms)")
    k.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        {"align": cmd_align, "keyword": cmd_keyword}[args.cmd](args)
    except SpeechseqError as err:  # an --out that cannot be written: one line
        raise SystemExit(f"make_splice_data.py: {err}") from None


if __name__ == "__main__":
    main()
