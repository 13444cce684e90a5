#!/usr/bin/env python
"""Reproduce models/words-en.npz: the lexicon and word trigram LM of `--decoder lexicon`.

    # the general English word list: wordfreq 3.1.1's large_en list (CC BY-SA 4.0), 1.5 MB of its 57 MB wheel:
    .venv/bin/pip download wordfreq==3.1.1 --no-deps -d cache/wordfreq
    unzip -o -j cache/wordfreq/wordfreq-3.1.1-py3-none-any.whl wordfreq/data/large_en.msgpack.gz -d cache/wordfreq
    .venv/bin/python scripts/train_wordlm.py --data ../shared/data --out models/words-en.npz \\
        --exclude-all cache/synth/sentences/heldout.jsonl \\
        --background cache/wordfreq/large_en.msgpack.gz --background-words 50000

Text and exclusions are those of the character LM (scripts/train_lm.py): ../shared/data/text/
ljspeech.txt and arctic_prompts.txt, normalised, duplicates removed, every sentence that overlaps
a Kathleen `dev` prompt or a held-out synthetic sentence dropped. So a dev word that occurs only in
the dev prompts is out of the vocabulary, as it would be for unseen speech. Seconds on one CPU.
--background adds the 50,000 most frequent spellable words of a general English list (wordfreq's)
to the vocabulary, weighted by frequency in the LM's lowest order (speechseq.train.wordlm): words
like "music" that the LJ Speech / ARCTIC text lacks become recognisable.

--exclude-also adds manifests whose every text is dropped too (e.g. the Kathleen train prompts
used to tune the decoder's weights, so that tuning sees unseen sentences as dev does).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from train_lm import heldout_manifests  # noqa: E402  (the same default: the held-out synthetic sentences)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data", help="the shared data folder")
    ap.add_argument("--out", default="models/words-en.npz")
    ap.add_argument("--exclude-all", nargs="*", default=None, metavar="JSONL",
                    help="evaluation manifests whose every text is excluded (default: the held-out synthetic "
                         "sentences, cache/synth/sentences/heldout.jsonl, which must exist; --exclude-all with no "
                         "file: none)")
    ap.add_argument("--exclude-also", nargs="+", default=[], metavar="JSONL[:SPLIT]",
                    help="more manifests (or one split of them) whose texts are excluded")
    ap.add_argument("--min-count", type=int, default=1, help="least count of a vocabulary word")
    ap.add_argument("--background", metavar="MSGPACK_GZ",
                    help="a general English word list (wordfreq's large_en.msgpack.gz): its most frequent words "
                         "join the vocabulary, weighted by frequency in the LM's lowest order")
    ap.add_argument("--background-words", type=int, default=50000, help="how many words of --background")
    args = ap.parse_args()
    from speechseq.commands.common import names_stdout, stdout_refused
    from speechseq.commands.eval_recognizer import plural

    if names_stdout(args.out):  # before the counting: a file "-" was written
        sys.exit(stdout_refused("--out", "a word LM", "a file (.npz)"))
    args.exclude_all = heldout_manifests(args.exclude_all)

    from speechseq.runtime.lexicon import load_lexicon, save_word_lm
    from speechseq.train.lm import manifest_texts
    from speechseq.train.wordlm import corpus_sentences, kneser_ney, read_wordfreq

    t0 = time.perf_counter()
    data = Path(args.data)
    texts = [data / "text/ljspeech.txt", data / "text/arctic_prompts.txt"]
    kathleen = data / "kathleen/manifest.jsonl"
    exclude = [(kathleen, "dev"), *((m, None) for m in args.exclude_all)]
    for spec in args.exclude_also:
        path, _, split = spec.partition(":")
        exclude.append((path, split or None))
    if args.background and not Path(args.background).is_file():
        sys.exit(f"{args.background}: no such file (how to fetch it: the docstring of {Path(__file__).name})")
    for f in [*texts, *(p for p, _ in exclude)]:
        if not Path(f).is_file():
            sys.exit(f"{f}: no such file")
    for path, split in exclude:
        try:
            rows = manifest_texts(path, split)
        except (ValueError, KeyError, AttributeError, TypeError):
            sys.exit(f"{path}: not a JSONL manifest (a JSON object with a \"text\" a line)")
        if split is not None and not rows:  # its texts, named to be left out, would all stay in the LM's text
            n = sum(1 for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())
            sys.exit(f"{path}: no row of split {split!r} among its {plural(n, 'row')}, so nothing of it would be "
                     "excluded: name one of its splits (or none, for every row)")
    background = None
    if args.background:
        try:
            background = read_wordfreq(args.background, args.background_words)
        except (OSError, ValueError) as err:  # not gzip, not msgpack, not a wordfreq list
            sys.exit(f"--background {args.background}: not a wordfreq list such as large_en.msgpack.gz ({err})")
    sentences, n_excl = corpus_sentences(texts, exclude)
    arrays, meta = kneser_ney(sentences, args.min_count, background=background)
    meta["data"] = {"text": [p.name for p in texts],
                    "background": (f"{Path(args.background).name}: {args.background_words} most frequent words"
                                   if args.background else None),
                    "excluded": [f"{Path(p).parent.name}/{Path(p).name}" + (f" [{s}]" if s else " (all rows)")
                                 for p, s in exclude], "excluded_texts": n_excl}
    save_word_lm(args.out, arrays, meta)
    lex = load_lexicon(args.out)
    dev = manifest_texts(kathleen, "dev")
    took = time.perf_counter() - t0
    print(f"{args.out}: {meta['sentences']} sentences, {meta['tokens']} words, vocabulary {meta['vocabulary']}, "
          f"n-grams {meta['ngrams']}, discounts {meta['discounts']}, {Path(args.out).stat().st_size / 1e6:.2f} MB, "
          f"{took:.1f} s")
    print(f"Kathleen dev OOV rate {100 * lex.oov_rate(dev):.2f}% of running words; trie {lex.trie.size} nodes")
    for m in args.exclude_all:
        print(f"{m}: OOV rate {100 * lex.oov_rate(manifest_texts(m)):.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
