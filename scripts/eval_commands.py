#!/usr/bin/env python
"""How well a command list (`--commands`, speechseq.runtime.command_set) tells phrases apart, on real recordings.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/eval_commands.py \\
        --set kathleen-val=../shared/data/kathleen/manifest.jsonl:train-val \\
        --set fsdd-test=../shared/data/fsdd/manifest.jsonl:test \\
        --set precise=../shared/data/precise/manifest.jsonl --deficits 1 1.5 2 2.2 2.5 3 4

Each set is a manifest (any format speechseq reads), `@KEY=V1,V2` for the rows whose field KEY is one of the values,
`:SPLIT` for one split (`train-val`: the Kathleen train rows the
recogniser held out for validation, as scripts/tune_lexicon.py takes them; never trained on). Its command list is
its own distinct transcripts (normalised), plus the phrases of --extra (one a line), which are never said. Every
utterance is scored twice, for each bound on the deficit (speechseq.runtime.command_set):
  in the list:   right (its own phrase, accepted), wrong (another phrase accepted), rejected (none accepted);
  not in it:     the same list without its own phrase: a false accept is any phrase accepted.
Accepted as CommandSet.match accepts: the deficit within the bound, and the phrase in order (--min-order).
`--speak FILE` adds a set "spoken": every phrase of FILE said by each of `--voices` (synthetic voices held out of the
recogniser's training; scripts/bench_listener.py's by default), 0.5 s of quiet around it over a -60 dBFS noise floor,
made once into `--cache`. Beside it, the free decode's share of utterances exactly right (`--decoder`: lexicon + LMs, as `listen` decodes,
by default). Outputs of the recogniser are computed once per utterance; prints one table per set, and with
`--list-false-accepts` each false accept at the greatest bound under it: the clip, the phrase said, the phrase taken,
its deficit and order, and the deficit of the phrase said.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _utterances(spec: str):
    from speechseq.commands.eval_recognizer import load_utterances
    from speechseq.text import normalize

    spec, _, where = spec.partition("@")
    path, _, split = spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
    val = split == "train-val"
    utts, skipped = load_utterances(path, "train" if val else (split or None))
    if where:  # KEY=V1,V2: rows whose manifest field KEY is one of the values
        key, _, values = where.partition("=")
        utts = [u for u in utts if str(dict(u.extra).get(key)) in values.split(",")]
    if val:  # scripts/train_recognizer.py's validation slice of Kathleen train (crc32 of the prompt id % 100 < 4)
        utts = [u for u in utts if zlib.crc32(Path(u.audio).name.split("_")[1].encode()) % 100 < 4]
    return [u for u in utts if normalize(u.text)], skipped


def _bench_voices() -> tuple[str, ...]:
    """scripts/bench_listener.py's held-out voices (its VOICES)."""
    sys.path.insert(0, str(Path(__file__).parent))
    from bench_listener import VOICES

    return VOICES


def _spoken(phrases_file: str, voices: list[str], cache: Path) -> Path:
    """A manifest of every phrase of `phrases_file` said by each voice (ENGINE:NAME), made into `cache` once."""
    import json

    import numpy as np
    import soundfile as sf

    from speechseq.runtime.command_set import CommandSet
    from speechseq.train.synth import Voice, heldout, synthesize, trim_silence

    phrases = CommandSet.load(phrases_file).phrases
    cache.mkdir(parents=True, exist_ok=True)
    rows, rng = [], np.random.default_rng(0)
    for vid in voices:
        engine, name = vid.split(":", 1)
        voice = Voice(engine, name)
        if not heldout(voice):
            print(f"warning: {vid} is not a held-out voice", file=sys.stderr)
        for i, phrase in enumerate(phrases):
            wav = cache / f"{engine}_{name.replace('+', '_').replace('/', '_')}_{zlib.crc32(phrase.encode()):08x}.wav"
            if not wav.is_file():
                quiet = np.zeros(8000, np.float32)
                audio = np.concatenate([quiet, 0.5 * trim_silence(synthesize(phrase, voice)), quiet])
                sf.write(wav, audio + rng.normal(0, 1e-3, len(audio)).astype(np.float32), 16000)
            rows.append({"audio_filepath": str(wav.resolve()), "duration": sf.info(wav).duration, "text": phrase,
                         "voice": vid})
    manifest = cache / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", action="append", default=[], metavar="NAME=MANIFEST[:SPLIT][@KEY=V1,V2]",
                    help="a set of recordings, named NAME in the output (repeat for several): a manifest, :SPLIT "
                         "its rows of one split, @KEY=V1,V2 those whose field KEY is one of the values (above)")
    ap.add_argument("--speak", metavar="FILE", help="also a set of FILE's phrases said by --voices")
    ap.add_argument("--voices", default=",".join(_bench_voices()),
                    help="ENGINE:NAME,... for --speak (default: scripts/bench_listener.py's held-out voices)")
    ap.add_argument("--cache", default=str(ROOT / "cache" / "eval_commands"),
                    help="where --speak's clips are kept (default: cache/eval_commands)")
    ap.add_argument("--model", default=str(ROOT / "models" / "recognizer-en.int8.onnx"),
                    help="recogniser (default: the shipped models/recognizer-en.int8.onnx, as listen runs)")
    ap.add_argument("--deficits", type=float, nargs="+", default=[1.0, 1.5, 2.0, 2.2, 2.5, 3.0, 4.0],
                    help="bounds on a phrase's deficit (listen --command-bound, nats per character), a table row "
                         "each (default: 1 1.5 2 2.2 2.5 3 4)")
    ap.add_argument("--min-order", type=float, default=None,
                    help="the least a phrase taken scores above itself read backwards, nats per character "
                         "(default: speechseq.runtime.command_set.MIN_ORDER; 0: only a phrase scoring under its "
                         "reversal is refused)")
    ap.add_argument("--extra", help="more phrases for every list (one a line), never said in the set")
    ap.add_argument("--list-false-accepts", action="store_true",
                    help="after each set's table, list its false accepts at the greatest --deficits bound: clip, "
                         "phrase said, phrase taken, its deficit and order, the deficit of the phrase said")
    ap.add_argument("--decoder", choices=("lexicon", "greedy", "none"), default="lexicon",
                    help="the free decode to compare with (none: skip it; default: lexicon)")
    args = ap.parse_args()
    for spec in args.set:
        if not spec.partition("=")[0] or not spec.partition("=")[2]:
            ap.error(f"--set {spec!r}: give NAME=MANIFEST[:SPLIT][@KEY=V1,V2]")
    if not args.set and not args.speak:
        ap.error("give --set NAME=MANIFEST (or --speak FILE)")
    if args.min_order is not None and not 0 <= args.min_order < float("inf"):   # nan too: CommandSet's traceback
        ap.error(f"--min-order must be a finite number >= 0, got {args.min_order:g}")
    bad = [m for m in args.deficits if not 0 <= m < float("inf")]  # < 0, nan: rows where nothing is accepted
    if bad:
        ap.error(f"--deficits must be finite numbers >= 0, got {' '.join(f'{m:g}' for m in bad)}")

    from speechseq.errors import SpeechseqError

    try:
        return _evaluate(args)
    except SpeechseqError as err:  # a missing manifest, model or phrase file, a set without utterances: one line
        print(f"eval_commands.py: {err}", file=sys.stderr)
        return 1


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from speechseq.audio import AudioError, load_audio
    from speechseq.commands.common import tuned_lexicon_options, warn
    from speechseq.commands.eval_recognizer import plural
    from speechseq.errors import SpeechseqError
    from speechseq.frontend import logmel
    from speechseq.runtime.command_set import CommandSet
    from speechseq.runtime.lm import OnnxLM
    from speechseq.runtime.recognizer import DecodeOptions, Recognizer
    from speechseq.text import normalize

    if args.speak:
        args.set.append(f"spoken={_spoken(args.speak, args.voices.split(','), Path(args.cache))}")
    rec = Recognizer(args.model)
    extra = CommandSet.load(args.extra).texts if args.extra else ()
    opts = None
    if args.decoder == "lexicon":
        opts = tuned_lexicon_options(ROOT / "models" / "words-en.npz", OnnxLM(ROOT / "models" / "lm-en.onnx"), 32)
    elif args.decoder == "greedy":
        opts = DecodeOptions()
    for spec in args.set:
        name, _, manifest = spec.partition("=")
        utts, skipped = _utterances(manifest)
        t0, said, feats = time.perf_counter(), [], []
        for u in utts:  # one file that cannot be read is named and skipped, as the rows load_utterances skips
            try:
                audio = load_audio(u.audio, rec.frontend.sample_rate)
            except AudioError as err:
                warn(f"{err} (skipped)")
                skipped += 1
                continue
            if u.offset is not None:  # a segment of the file
                sr = rec.frontend.sample_rate
                audio = audio[int(u.offset * sr) : None if u.end is None else int(u.end * sr)]
            f = logmel(audio, rec.frontend)
            if len(f) == 0:
                warn(f"{u.audio}: no audio frames in the utterance (skipped)")
                skipped += 1
                continue
            said.append(u)
            feats.append(f)
        if not said:
            raise SpeechseqError(f"--set {name}: no utterances (with audio) in {manifest}")
        refs = [normalize(u.text) for u in said]
        phrases = list(dict.fromkeys(refs)) + [p for p in extra if p not in refs]
        table = CommandSet(phrases) if args.min_order is None else CommandSet(phrases, min_order=args.min_order)
        own = np.array([phrases.index(r) for r in refs])
        deficits, orders, free_right = [], [], 0
        for f, i in zip(feats, own):
            lp = rec.log_probs(f)
            scores, deficit = table.scores(lp)
            deficits.append(deficit)
            # the best phrase's order, and the best other than the one said (CommandSet.match's second test)
            other = int(np.argmin(np.where(np.arange(len(deficit)) == i, np.inf, deficit)))
            orders.append([table.order(lp, int(k), float(scores[k])) for k in (np.argmin(deficit), other)])
            if opts is not None:
                free_right += rec.decode(lp, opts).text == phrases[i]
        d = np.array(deficits)                                    # (utterances, phrases)
        orders = np.array(orders)                                 # (utterances, 2): best, best other
        best = d.argmin(axis=1)
        rows = np.arange(len(d))
        others = d.copy()
        others[rows, own] = np.inf
        best_other = others.min(axis=1)
        n = len(d)
        print(f"\n{name}: {plural(n, 'utterance')} ({skipped} unreadable skipped), {plural(len(phrases), 'phrase')} "
              f"({len(set(refs))} said, {len(phrases) - len(set(refs))} extra), recogniser {args.model}, "
              f"{time.perf_counter() - t0:.0f} s")
        if opts is not None:
            print(f"free decode ({args.decoder}) exactly right: {100 * free_right / n:.1f} %")
        print(f"best phrase is the one said (no bound): {100 * np.mean(best == own):.1f} %")
        print("| max deficit | right | wrong | rejected | not in the list: false accepts |")
        print("|---|---|---|---|---|")
        for m in args.deficits:
            ok = _accepted(d[rows, best], orders[:, 0], m, table.min_order)
            right = np.mean(ok & (best == own))
            wrong = np.mean(ok & (best != own))
            taken_wrongly = _accepted(best_other, orders[:, 1], m, table.min_order)   # (the listing's test)
            print(f"| {m:g} | {100 * right:.1f} % | {100 * wrong:.1f} % | {100 * np.mean(~ok):.1f} % | "
                  f"{100 * np.mean(taken_wrongly):.1f} % |")
        if args.list_false_accepts:
            taken = others.argmin(axis=1)      # the phrase match takes from the list without the one said
            print("\n".join(_false_accepts([u.audio for u in said], refs, [phrases[k] for k in taken], best_other,
                                            orders[:, 1], d[rows, own], max(args.deficits), table.min_order)))
    return 0


def _accepted(deficits, orders, bound: float, min_order: float):
    """(N,) bool: which of the phrases (one an utterance, at `deficits` and `orders`) CommandSet.match accepts: the
    deficit within `bound` and the order at least `min_order`, both inclusive. The table's columns and the listing of
    false accepts both ask this, so that the two cannot disagree."""
    import numpy as np

    return (np.asarray(deficits, float) <= bound) & (np.asarray(orders, float) >= min_order)


def _false_accepts(clips: list[str], refs: list[str], taken: list[str], deficits, orders, own_deficits,
                   bound: float, min_order: float) -> list[str]:
    """Lines listing the false accepts of a set (a markdown table): each utterance whose best phrase other than its
    own (`taken`, at `deficits` and `orders`, per utterance) is within `bound` and in order by `min_order`
    (_accepted, as the table's false-accept column)."""
    import numpy as np

    hits = [int(i) for i in np.flatnonzero(_accepted(deficits, orders, bound, min_order))]
    lines = [f"false accepts at max deficit {bound:g}: {len(hits)} of {len(clips)}"]
    if hits:
        lines += ["| clip | said | taken | deficit | order | deficit of the phrase said |", "|---|---|---|---|---|---|"]
        lines += [f"| {clips[i]} | {refs[i]} | {taken[i]} | {deficits[i]:.2f} | {orders[i]:.2f} | "
                  f"{own_deficits[i]:.2f} |" for i in hits]
    return lines


if __name__ == "__main__":
    sys.exit(main())
