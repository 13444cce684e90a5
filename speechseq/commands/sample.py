"""`speechseq sample`: sentences drawn from the character language model.

    speechseq sample --lm models/lm-en.onnx -n 5 --temperature 0.8 --prefix "the president"
"""
from __future__ import annotations

import argparse

from ..errors import SpeechseqError
from ..files import split_lines
from .common import MODELS, HelpFormatter, bounded, load_lm, read_text_file


EMPTY = "(empty)"  # a sentence of no characters: no character of the LM's is a parenthesis

EXAMPLES = """examples:
  speechseq sample -n 5 --temperature 0.7 --prefix "the "
  speechseq sample --lm models/lm-en.onnx -n 20 --seed 1 --max-chars 80"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", epilog=EXAMPLES, help="sample sentences from a language model",
                       description="Sample sentences from a character language model (models/lm-en.onnx), "
                                   "one character at a time until <eos>, one sentence a line. Lower temperatures "
                                   "give safer, more repetitive text. A sentence without a character (the LM "
                                   f"drew <eos> first, as a barely trained one often does) is written {EMPTY}.",
                       formatter_class=HelpFormatter)
    p.add_argument("--lm", default=str(MODELS / "lm-en.onnx"), help="language model (.onnx)")
    p.add_argument("-n", "--num", type=bounded(int, ge=1), default=5, help="sentences to draw")
    p.add_argument("--temperature", type=bounded(float, gt=0), default=0.8,
                   help="sharpness of the draws: below 1 safer, above 1 wilder")
    p.add_argument("--prefix", default="", help="text every sentence starts with (normalised)")
    p.add_argument("--max-chars", type=bounded(int, ge=1), default=300, help="longest sentence, in characters")
    p.add_argument("--seed", type=bounded(int, ge=0), default=None, help="random seed (default: a fresh one)")
    p.add_argument("--novel-against", nargs="+", default=[], metavar="TEXT",
                   help="text files (e.g. the training text): mark sentences found there with '(seen)'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..runtime.lm import sample
    from ..text import normalize

    prefix = normalize(args.prefix)
    if args.prefix.strip() and not prefix:  # dropped whole, every sentence would start with a bare space
        raise SpeechseqError(f"--prefix {args.prefix!r}: no character the language model knows (a-z, ' and "
                             f"numbers, after normalisation)")
    prefix += " " if args.prefix.endswith(" ") and prefix else ""
    if len(prefix) > args.max_chars:
        raise SpeechseqError(f"--prefix is {len(prefix)} characters after normalisation, more than --max-chars "
                             f"{args.max_chars}")
    from .transcribe import check_model_arg

    check_model_arg(args.lm, MODELS / "lm-en.onnx", "--lm")
    lm = load_lm(args.lm)
    seen: set[str] = set()
    for f in args.novel_against:
        # read once, checked as it is read: a pipe (--novel-against <(zcat corpus.gz)) can be read only once
        seen.update(normalize(line) for line in split_lines(read_text_file(f, "--novel-against")))
    seen.discard("")  # a blank line is no sentence
    rng = np.random.default_rng(args.seed)
    for _ in range(args.num):
        text = sample(lm, rng, args.temperature, prefix, args.max_chars)
        if not text.strip():  # <eos> first (or spaces only): a line of its own, not a blank one
            print(EMPTY)
            continue
        print(text + ("  (seen)" if text in seen else ""))
    return 0
