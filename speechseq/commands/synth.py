"""`speechseq synth keyword|sentences`: synthetic training speech (speechseq.train.synth_sets).

    speechseq synth keyword --keyword "hey robot" --out cache/synth/kw-hey-robot
    speechseq synth keyword --keyword amelia --out cache/synth-p/kw-amelia \\
        --phrasings '{}' '{}?' '{}!' 'hey, {}' 'well, {}' '{}...'
    speechseq synth sentences --n 4000 --out cache/synth/sentences \\
        --text ../shared/data/text/arctic_prompts.txt ../shared/data/text/ljspeech.txt \\
        --exclude-manifest ../shared/data/kathleen/manifest.jsonl

scripts/make_synth_data.py is the same command (`main`), as the model cards name it.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import SpeechseqError
from ..synth_settings import (ENGINE_WEIGHTS, MAX_CLIPS, MAX_NEG_RATIO, MAX_PER_ENGINE, MAX_VARIATIONS, KeywordSet,
                               SentenceSet, VoiceOptions)
from .common import HelpFormatter, bounded, folder_named, output_dir, read_text_file

DESCRIPTION = ("Make synthetic speech for training: a keyword said by every installed voice (plus speed and pitch "
               "variations) with as many negatives (sound-alikes, ordinary words, short phrases), or sentences by "
               "random voices. Audio goes to OUT/audio/ (WAV files named by a hash of text, voice, speed and pitch: "
               "a second run makes only what is missing); the manifests (JSONL) to OUT/. Voices of the fixed held-out "
               "split are marked heldout (keyword) or written to heldout.jsonl only (sentences): never train on them.")


KEYWORD_EXAMPLES = """examples:
  speechseq synth keyword --keyword "hey robot" --out cache/synth/kw-hey-robot
  speechseq synth keyword --keyword activate --out cache/synth/kw-activate --engines flite festival pico"""
SENTENCE_EXAMPLES = """examples:
  speechseq synth sentences --text ../shared/data/text/ljspeech.txt --n 500 --out cache/synth/sentences \\
      --exclude-manifest ../shared/data/kathleen/manifest.jsonl"""


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    """The `keyword` and `sentences` parsers, under `speechseq synth` and scripts/make_synth_data.py alike."""
    voices, kw_cfg, se_cfg = VoiceOptions(), KeywordSet(), SentenceSet(text=())
    common = argparse.ArgumentParser(add_help=False, formatter_class=HelpFormatter)
    common.add_argument("--out", required=True, help="output folder (audio/ and manifests)")
    common.add_argument("--seed", type=bounded(int, ge=0), default=voices.seed,
                        help="random seed (same seed, same data)")
    common.add_argument("--workers", type=bounded(int, ge=1), default=voices.workers,
                        help="parallel synthesis processes")
    common.add_argument("--engines", nargs="+", choices=list(ENGINE_WEIGHTS), default=None,
                        help="engines to use, in this order (it sets each voice's speeds and pitches: give the same order to "
                             "make the same set again; default: all installed)")
    common.add_argument("--speed-min", type=bounded(float, gt=0), default=voices.speed_min,
                        help="lowest speed/pitch factor of a variation")
    common.add_argument("--speed-max", type=bounded(float, gt=0), default=voices.speed_max,
                        help="highest speed/pitch factor of a variation")

    kw = sub.add_parser("keyword", epilog=KEYWORD_EXAMPLES, parents=[common], formatter_class=HelpFormatter,
                        help="keyword clips by every voice, plus negatives",
                        description="The keyword by every installed voice, and as many negatives: OUT/positives.jsonl, "
                                    "OUT/negatives.jsonl (what `speechseq train detector --synth OUT` reads).")
    kw.add_argument("--keyword", required=True, type=keyword_arg, help="the word to say, e.g. activate")
    kw.add_argument("--variations", type=bounded(int, ge=1, le=MAX_VARIATIONS), default=kw_cfg.variations,
                    help="clips per voice (the first at natural speed and pitch)")
    kw.add_argument("--min-per-engine", type=bounded(int, ge=0, le=MAX_PER_ENGINE), default=kw_cfg.min_per_engine,
                    help="at least this many positives per engine (engines with few voices get more variations; "
                         "100 made the shipped detectors' data: with espeak-ng's hundreds of voices, the six other "
                         "engines (one to nine voices each) are otherwise 3 to 27 clips each at 3 variations)")
    kw.add_argument("--phrasings", nargs="+", default=list(kw_cfg.phrasings), metavar="TEMPLATE",
                    help="how the keyword is said, taken in turn: {} is the keyword, e.g. '{}' '{}?' '{}!' 'hey, {}' "
                         "(punctuation changes the engines' intonation; no words may follow the keyword)")
    kw.add_argument("--neg-ratio", type=bounded(float, ge=0, le=MAX_NEG_RATIO), default=kw_cfg.neg_ratio,
                    help="negatives per positive")
    kw.add_argument("--alike-words", type=bounded(int, ge=1), default=kw_cfg.alike_words,
                    help="distinct sound-alike words (40%% of negatives)")
    kw.add_argument("--text", nargs="+", default=[], help="text files to cut short negative phrases from (25%% of "
                                                          "negatives)")
    kw.set_defaults(func=run_keyword)

    se = sub.add_parser("sentences", epilog=SENTENCE_EXAMPLES, parents=[common], formatter_class=HelpFormatter,
                        help="sentences by random voices (held-out voices to heldout.jsonl)",
                        description="Sentences of text files by random voices: OUT/train.jsonl and, for the held-out "
                                    "voices, OUT/heldout.jsonl (the recogniser's synthetic corpus).")
    se.add_argument("--text", nargs="+", required=True, help="text files, one sentence a line")
    se.add_argument("--n", type=bounded(int, ge=1, le=MAX_CLIPS), default=se_cfg.n, help="utterances to make")
    se.add_argument("--min-words", type=bounded(int, ge=1), default=se_cfg.min_words,
                    help="shortest sentence (words after normalisation)")
    se.add_argument("--max-words", type=bounded(int, ge=1), default=se_cfg.max_words, help="longest sentence")
    se.add_argument("--exclude-manifest", nargs="+", default=[],
                    help="JSONL manifests whose texts (of --exclude-split) must not be spoken, e.g. Kathleen's")
    se.add_argument("--exclude-split", nargs="+", default=list(se_cfg.exclude_splits),
                    help="splits of --exclude-manifest to exclude ('' for every row; the default is every "
                         "evaluation split); a manifest with no row of them is an error")
    se.set_defaults(func=run_sentences)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("synth", help="make synthetic training speech (keyword clips, sentences)",
                       description=DESCRIPTION, formatter_class=HelpFormatter)
    add_subcommands(p.add_subparsers(dest="target", metavar="TARGET", required=True))


def keyword_arg(text: str) -> str:
    """argparse type of a --keyword: a word or phrase with letters in it (the voices say it; it names files)."""
    if not any(c.isalpha() for c in text):
        raise argparse.ArgumentTypeError(f"must be a word or phrase with letters in it, got {text!r}")
    return text.strip()


def keyword_file_name(keyword: str) -> str:
    """A keyword as the stem of a file name: spaces, path separators and the characters Windows forbids as "_",
    no leading dot ("hey robot" -> hey_robot, "on/off" -> on_off)."""
    return re.sub(r'[\s/\\:*?"<>|\x00-\x1f]', "_", keyword).lstrip(".") or "keyword"


def voices_of(args: argparse.Namespace) -> VoiceOptions:
    if not 0.25 <= args.speed_min <= args.speed_max <= 4.0:  # the factors speechseq.train.synth.synthesize takes
        raise SpeechseqError(f"need 0.25 <= --speed-min <= --speed-max <= 4, got {args.speed_min}, {args.speed_max}")
    if args.workers < 1:
        raise SpeechseqError(f"--workers must be >= 1, got {args.workers}")
    return VoiceOptions(tuple(args.engines) if args.engines else None, args.seed, args.workers, args.speed_min,
                        args.speed_max)


def say(line: str) -> None:
    """A line of progress, printed at once (between the synthesis's progress bars), on stderr: stdout holds a
    command's results alone."""
    print(line, file=sys.stderr, flush=True)


@contextmanager
def made_out(path: str) -> Iterator[Path]:
    """--out made for the block (output_dir); where the block fails and leaves it empty, the folders made for it
    removed again: a set its checks refuse (over MAX_CLIPS clips, no usable sentence, no engine installed), checked
    once the voices are listed, left the folder made for it behind, empty (as train lm's held_out does for its OUT)."""
    wanted = folder_named(path, "--out")
    made = [p for p in (wanted, *wanted.parents) if not p.exists()]  # deepest first
    out = output_dir(path, "--out")
    try:
        yield out
    except BaseException:
        for p in made:
            try:
                p.rmdir()
            except OSError:  # clips made before the failure, another's files: kept, and the folders above it
                break
        raise


def run_keyword(args: argparse.Namespace) -> int:
    from ..train.synth_sets import keyword_set  # the training code and its audio stack, when the command runs

    voices = voices_of(args)
    texts = {f: read_text_file(f, "--text") for f in dict.fromkeys(args.text)}  # each read once: a pipe, only once
    cfg = KeywordSet(args.variations, args.min_per_engine, tuple(args.phrasings), args.neg_ratio, args.alike_words,
                     tuple(args.text))
    with made_out(args.out) as out:
        pos, _ = keyword_set(args.keyword, out, cfg, voices, say=say, file_texts=texts)
    if not pos:  # nothing to train on: the run failed, whatever it made of the negatives
        raise SpeechseqError(f"no clip of {args.keyword!r} could be made: every positive synthesis job failed (the "
                             "lines above say why)")
    return 0


def run_sentences(args: argparse.Namespace) -> int:
    from ..train.synth_sets import sentence_set

    voices = voices_of(args)
    # each file read once, checked as it is read (a pipe can be read only once), before any work
    texts = {f: read_text_file(f, "--text") for f in dict.fromkeys(args.text)}
    texts.update((f, read_text_file(f, "--exclude-manifest", "a JSONL manifest, one JSON object a line"))
                 for f in dict.fromkeys(args.exclude_manifest))
    if args.min_words > args.max_words:
        raise SpeechseqError(f"need --min-words <= --max-words, got {args.min_words}, {args.max_words}")
    cfg = SentenceSet(tuple(args.text), args.n, args.min_words, args.max_words, tuple(args.exclude_manifest),
                      tuple(args.exclude_split))
    with made_out(args.out) as out:
        train, held = sentence_set(out, cfg, voices, say=say, file_texts=texts)
    if not train and not held:
        raise SpeechseqError("no sentence could be made: every synthesis job failed (the lines above say why)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """scripts/make_synth_data.py: the same subcommands, with the wall time at the end."""
    parser = argparse.ArgumentParser(prog="make_synth_data.py", description=DESCRIPTION, formatter_class=HelpFormatter)
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    # ended as the command is: Ctrl+C or `kill` "interrupted" (exit 130; here they were a traceback and a silent
    # death), an error one line
    from ..cli import _run, _sigterm_as_ctrl_c
    start = time.time()
    restore = _sigterm_as_ctrl_c()
    try:
        code = _run(args)
    finally:
        restore()
    if code == 0:
        print(f"wall time {time.time() - start:.0f} s")
    return code
