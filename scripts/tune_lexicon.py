#!/usr/bin/env python
"""Tune the weights of `--decoder lexicon` on audio the recogniser never trained on, never on dev.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python scripts/tune_lexicon.py --data ../shared/data \\
        --word-weights 0.4 0.8 1.2 --word-bonuses 0 1 2 3 --oov-penalties 4 8 12

Tuning sets: the Kathleen train utterances that scripts/train_recognizer.py held out for validation
(crc32 of the prompt id % 100 < 4; the rest of Kathleen train was trained on, so the recogniser is
far too good there to tune against) and the synthetic training sentences (--synth, train.jsonl of
the non-held-out voices) that it held out for validation alike (crc32 of the text % 100 < 3), less
any whose text is a held-out sentence (heldout.jsonl beside it) or a Kathleen dev prompt. Nothing
is tuned on Kathleen dev, FSDD test or the held-out synthetic voices and sentences: those are what
the decoder is measured on. The tuning prompts are ARCTIC / LJ Speech sentences, so they are
decoded with a word LM rebuilt without them (and without dev and the held-out synthetic
sentences): like dev, their sentences are unseen and some of their words are out of the
vocabulary. Recogniser outputs are cached under --cache (computed again for another model or
set). Prints one WER per grid point (pooled, and per set).

(The shipped weights, models/words-en.md, were tuned in session 6 on the first half of the held-out
synthetic sentences instead of "synth-val": the figures on that half are tuned-on.)
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import zipfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def synth_tuning_rows(synth_file: Path, heldout: Path, kathleen: Path) -> list[dict]:
    """The rows of the synthetic training manifest `synth_file` that scripts/train_recognizer.py holds out for
    validation (crc32 of the text % 100 < 3), audio paths made absolute; never a row of a held-out voice, nor
    one whose text is a sentence of `heldout` or a Kathleen dev prompt (of the `kathleen` manifest)."""
    from speechseq.text import normalize
    from speechseq.train.synth_sets import excluded_texts, is_evaluation_text

    if synth_file.name == "heldout.jsonl":
        sys.exit(f"--synth {synth_file}: the held-out synthetic sentences are evaluation data, never tuned on "
                 "(give the train.jsonl beside it)")
    if not synth_file.is_file():
        sys.exit(f"--synth {synth_file}: no such file (give make_synth_data.py sentences' train.jsonl, or --sets "
                 "kathleen-val)")
    rows = [json.loads(x) for x in synth_file.read_text().splitlines() if x.strip()]
    held = frozenset(normalize(json.loads(x)["text"]) for x in heldout.read_text().splitlines() if x.strip()) \
        if heldout.is_file() else frozenset()
    dev = excluded_texts([str(kathleen)], ["dev"])
    out = []
    for r in rows:
        if r.get("heldout") or zlib.crc32(r["text"].encode()) % 100 >= 3 or is_evaluation_text(r["text"], held, dev):
            continue
        out.append({**r, "audio_filepath": str(synth_file.parent / r["audio_filepath"])})
    return out


def _cache_key(model: Path, rows: list[dict]) -> str:
    """What the cached recogniser outputs of `rows` were computed from: the model file (path, size, modification
    time) and each utterance (its row, and its audio file's size and time where it is there)."""
    import hashlib

    def stat(p: Path) -> str:
        try:
            st = p.stat()
        except OSError:
            return f"{p.resolve()} missing"
        return f"{p.resolve()} {st.st_size} {st.st_mtime_ns}"

    h = hashlib.sha1(stat(model).encode())
    for r in rows:
        h.update(("\n" + json.dumps(r, sort_keys=True) + "\0" + stat(Path(r["audio_filepath"]))).encode())
    return h.hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--model", default="models/recognizer-en.onnx")
    ap.add_argument("--synth", default="cache/synth/sentences/train.jsonl",
                    help="synthetic training sentences (make_synth_data.py sentences' train.jsonl; its heldout.jsonl "
                         "beside it is never tuned on)")
    ap.add_argument("--sets", nargs="+", choices=("kathleen-val", "synth-val"), default=["kathleen-val", "synth-val"],
                    help="kathleen-val: the Kathleen train utterances the recogniser held out for validation; "
                         "synth-val: the synthetic training sentences it held out for validation")
    ap.add_argument("--cache", default="cache/lexicon-tune")
    ap.add_argument("--beam", type=int, default=8)
    ap.add_argument("--word-weights", type=float, nargs="+", default=[0.4, 0.8, 1.2])
    ap.add_argument("--word-bonuses", type=float, nargs="+", default=[0.0, 1.0, 2.0, 3.0])
    ap.add_argument("--oov-penalties", type=float, nargs="+", default=[4.0, 8.0, 12.0])
    ap.add_argument("--char-weights", type=float, nargs="+", default=[0.0])
    ap.add_argument("--char-bonuses", type=float, nargs="+", default=[0.0])
    ap.add_argument("--lm", default="models/lm-en.onnx", help="character LM (when a char weight is not 0)")
    ap.add_argument("--background", metavar="MSGPACK_GZ", help="general word list for the LM (see train_wordlm.py)")
    ap.add_argument("--background-words", type=int, nargs="+", default=[50000],
                    help="vocabulary sizes taken from --background (one LM per value)")
    args = ap.parse_args()

    import numpy as np

    from speechseq.metrics import wer
    from speechseq.runtime.decoding import greedy
    from speechseq.runtime.lexicon import Lexicon, WordLM
    from speechseq.runtime.lexicon_search import LexiconOptions, lexicon_beam_search
    from speechseq.runtime.posteriors import manifest_outputs
    from speechseq.text import normalize
    from speechseq.train.wordlm import corpus_sentences, kneser_ney, read_wordfreq

    backgrounds: dict[int, dict | None] = {0: None}
    if args.background:  # read before the recogniser runs over the tuning sets
        try:
            backgrounds = {n: read_wordfreq(args.background, n) if n else None for n in args.background_words}
        except (OSError, ValueError) as err:  # missing, not gzip, not a wordfreq list
            sys.exit(f"--background {args.background}: no wordfreq list such as large_en.msgpack.gz ({err})")
    data, cache = Path(args.data).resolve(), Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    kathleen = data / "kathleen/manifest.jsonl"
    if not kathleen.is_file():
        sys.exit(f"no {kathleen}: give --data, the folder of the real recordings")
    rows = [json.loads(x) for x in kathleen.read_text().splitlines() if x.strip()]
    for r in rows:
        r["audio_filepath"] = str(kathleen.parent / r["audio_filepath"])
    # The recogniser's own validation slices of Kathleen train and of the synthetic training sentences
    # (scripts/train_recognizer.py): never trained on, and no evaluation set.
    val = [r for r in rows if r.get("split") == "train"
           and zlib.crc32(Path(r["audio_filepath"]).name.split("_")[1].encode()) % 100 < 4]
    synth_file = Path(args.synth).resolve()
    heldout = synth_file.parent / "heldout.jsonl"
    synth_val = []
    if "synth-val" in args.sets:
        synth_val = synth_tuning_rows(synth_file, heldout, kathleen)
    chosen = {"kathleen-val": val, "synth-val": synth_val}
    for name in args.sets:
        if not chosen[name]:
            sys.exit(f"{name}: no utterances to tune on")
    sets = {}
    for name in args.sets:
        subset = cache / f"{name}.jsonl"
        subset.write_text("".join(json.dumps(r) + "\n" for r in chosen[name]))
        lp_file = cache / f"{name}.npz"
        key = _cache_key(Path(args.model), chosen[name])
        log_probs = None
        if lp_file.is_file():
            try:
                with np.load(lp_file) as z:
                    if "key" in z.files and str(z["key"]) == key:
                        log_probs = [z[f"u{i}"] for i in range(len(chosen[name]))]
                    else:  # another model or another set: never read back
                        print(f"{lp_file}: computed for another model or set; computed again", file=sys.stderr)
            except (OSError, ValueError, zipfile.BadZipFile, KeyError) as err:  # cut short or damaged
                print(f"{lp_file}: cannot be read ({err}); computed again", file=sys.stderr)
        if log_probs is None:
            t0 = time.perf_counter()
            log_probs = [u.log_probs for u in manifest_outputs(args.model, subset)]
            tmp = lp_file.with_name(lp_file.name + ".tmp")  # then renamed: a stopped run leaves no half file
            with open(tmp, "wb") as f:
                np.savez(f, key=np.array(key), **{f"u{i}": x for i, x in enumerate(log_probs)})
            os.replace(tmp, lp_file)
            print(f"{name}: recogniser outputs of {len(log_probs)} utterances in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
        sets[name] = (log_probs, [normalize(r["text"]) for r in chosen[name]], subset)
    texts = [data / "text/ljspeech.txt", data / "text/arctic_prompts.txt"]
    excl = [(kathleen, "dev"), *([(heldout, None)] if heldout.is_file() else []),
            *((sub, None) for _, _, sub in sets.values())]
    sents, _ = corpus_sentences(texts, excl)
    lexicons = {}
    for n, bg in backgrounds.items():
        lex = lexicons[n] = Lexicon(WordLM(*kneser_ney(sents, background=bg)))
        print(f"tuning LM: {len(sents)} sentences, vocabulary {len(lex.vocabulary)}"
              + (f" ({n} background words)" if n else ""), file=sys.stderr)
        for name, (lps, refs, _) in sets.items():
            greedy_wer = 100 * wer(refs, [greedy(x).text.strip() for x in lps]).rate
            print(f"{name}: {len(refs)} utterances, OOV rate {100 * lex.oov_rate(refs):.2f}%, greedy WER "
                  f"{greedy_wer:.2f}%", file=sys.stderr)
    char_lm = None
    if any(c != 0 for c in args.char_weights):
        from speechseq.runtime.lm import OnnxLM

        char_lm = OnnxLM(args.lm)
    results = []
    grid = itertools.product(lexicons, args.word_weights, args.word_bonuses, args.oov_penalties, args.char_weights,
                             args.char_bonuses)
    for bgn, ww, wb, op, cw, cb in grid:
        lex = lexicons[bgn]
        opts = LexiconOptions(beam_size=args.beam, word_weight=ww, word_bonus=wb, oov_penalty=op, char_weight=cw,
                              char_bonus=cb)
        t0 = time.perf_counter()
        per, all_refs, all_hyps = [], [], []
        for name, (lps, refs, _) in sets.items():
            hyps = [lexicon_beam_search(x, lex, opts, lm=char_lm)[0].text.strip() for x in lps]
            per.append(f"{name} {100 * wer(refs, hyps).rate:6.2f}%")
            all_refs += refs
            all_hyps += hyps
        w = 100 * wer(all_refs, all_hyps).rate
        results.append((w, ww, wb, op, cw, cb, bgn))
        print(f"background {bgn:<6d} word_weight {ww:<4g} word_bonus {wb:<4g} oov_penalty {op:<4g} char_weight {cw:<4g} "
              f"char_bonus {cb:<4g} WER {w:6.2f}%  ({', '.join(per)}; {time.perf_counter() - t0:.0f} s)", flush=True)
    best = min(results)
    print(f"best: WER {best[0]:.2f}% word_weight {best[1]:g} word_bonus {best[2]:g} oov_penalty {best[3]:g} "
          f"char_weight {best[4]:g} char_bonus {best[5]:g} background words {best[6]}")
    return 0


if __name__ == "__main__":
    from speechseq.errors import SpeechseqError

    try:
        sys.exit(main())
    except SpeechseqError as err:  # a missing model, an unreadable audio file: one line
        sys.exit(f"tune_lexicon.py: {err}")
