"""`speechseq analyze`: beam-search error analysis over a labelled manifest.

    speechseq analyze --model models/recognizer-en.onnx --lm models/lm-en.onnx \\
        --manifest ../shared/data/kathleen/manifest.jsonl --split dev --beam 8

For each utterance decoded wrongly, the model's score of the reference is compared with its
score of the output (on the objective the search maximises): reference higher -> the search is
at fault (try a wider beam), else the model is (try a better model, LM, or more data). Prints
the two shares and the worst cases.
"""
from __future__ import annotations

import argparse
import json
import math

from ..errors import SpeechseqError
from ..runtime.settings import LM_WEIGHT, WORD_BONUS
from .common import WEIGHT_MAX, HelpFormatter, bounded, decoder_fits, load_lm, option_file, warn


EXAMPLES = """examples:
  speechseq analyze --model models/recognizer-en.onnx --manifest ../shared/data/kathleen/manifest.jsonl \\
      --split dev --lm models/lm-en.onnx"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", epilog=EXAMPLES, help="blame recognition errors on the beam search or on the model",
                       description="Beam-search error analysis: for every wrong output, is the reference "
                                   "scored higher than the output (a search error) or not (a model error)?",
                       formatter_class=HelpFormatter)
    p.add_argument("--model", required=True, help="recogniser (.onnx)")
    p.add_argument("--manifest", required=True, help="labelled manifest (JSONL, CSV, ...)")
    p.add_argument("--split", default=None, help="only the rows of this split (default, or '': every row)")
    p.add_argument("--limit", type=bounded(int, ge=1), default=None, help="first N utterances only (default: all)")
    p.add_argument("--system", choices=["ctc", "attention"], default="ctc",
                   help="ctc: prefix beam search (+ LM with --lm); attention: the decoder's own beam search (at most "
                        "one symbol an encoder frame)")
    p.add_argument("--beam", type=bounded(int, ge=1), default=8, help="beam width of both searches")
    p.add_argument("--lm", default=None, help="language model (.onnx) for shallow fusion (ctc)")
    p.add_argument("--lm-weight", type=bounded(float, ge=0, le=WEIGHT_MAX), default=LM_WEIGHT, help="alpha")
    p.add_argument("--word-bonus", type=bounded(float, ge=-WEIGHT_MAX, le=WEIGHT_MAX), default=WORD_BONUS,
                   help="beta, per character")
    p.add_argument("--decoder", default=None, help="attention decoder (.onnx), for --system attention")
    p.add_argument("--length-norm", type=bounded(float, ge=0), default=0.7, help="attention: score / length ** this")
    p.add_argument("--worst", type=bounded(int, ge=0), default=10, help="how many of the worst cases to print")
    p.add_argument("--json", action="store_true", help="one JSON object a case, then the summary (a score of a "
                   "reference too long for the audio's frames, log 0: null)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..metrics import edit_distance
    from ..runtime.analysis import analyze_attention, analyze_ctc, summarize
    from ..text import normalize
    from .transcribe import check_model_arg

    if args.beam < 1:
        raise SpeechseqError("--beam must be >= 1")
    args.split = args.split or None  # '' names no split (an unset variable): every row, where it matched none
    check_model_arg(args.model, None, "--model")  # each file named with its option (three may be given)
    lm = dec = None
    if args.system == "attention":
        if not args.decoder:
            raise SpeechseqError("--system attention needs --decoder")
        check_model_arg(args.decoder, None, "--decoder")
        from ..runtime.attention import OnnxDecoder

        with option_file("--decoder", args.decoder, "attention-decoder"):
            dec = OnnxDecoder(args.decoder)
        runner = recognizer_runner(args.model)
        decoder_fits(args.model, runner, dec, "--decoder")  # before every utterance is run, not in the first
        if args.lm:
            warn("--lm is not used with --system attention (the decoder's own beam search has no LM fusion)")
    else:
        if args.decoder:
            warn("--decoder is not used with --system ctc (give --system attention to analyse the decoder's search)")
        if args.lm is not None:  # '' too: said as such, not an analysis without the LM asked for
            check_model_arg(args.lm, None, "--lm")
            lm = load_lm(args.lm)
        runner = recognizer_runner(args.model)
    utts, failed = read_outputs(runner, args.manifest, args.split, args.limit)
    cases = []
    for u in utts:
        if dec is not None:
            # as many symbols as the audio has encoder frames, <eos> included, not a cap from the reference, whose length
            # the system does not know (2 x its length + 20 cut the search short and changed its output); analyze_attention
            # raises it to the reference's length where that is longer, so that the reference stays reachable
            cases.append(analyze_attention(u.key, dec.step_fn(u.memory), dec.initial_state(), u.text, args.beam,
                                           max_len=len(u.memory) + 1, length_norm_alpha=args.length_norm))
        else:
            cases.append(analyze_ctc(u.key, u.log_probs, u.text, args.beam, lm, args.lm_weight if lm else 0.0,
                                     args.word_bonus if lm else 0.0))
    summary = summarize(cases)
    wrong = [c for c in cases if c is not None]
    # by position, not key: segments of one file (manifest offsets) share their audio path as key; the output normalised
    # as the reference is (and as eval recognizer counts it), printed as decoded
    errs = [edit_distance(c.reference.split(), normalize(c.output).split()).distance for c in wrong]
    worst = sorted(range(len(wrong)), key=lambda i: (-errs[i], -abs(wrong[i].margin)))[: args.worst]
    if args.json:
        for c, e in zip(wrong, errs):
            print(json.dumps({"key": c.key, "reference": c.reference, "output": c.output, "blame": c.blame,
                              "reference_score": _finite(c.reference_score), "output_score": _finite(c.output_score),
                              "word_errors": e}))
        print(json.dumps({"summary": summary}))
        return said_failed(failed, len(utts))
    print(f"{summary['wrong']} of {summary['utterances']} utterances wrong: "
          f"search errors {summary['search']} ({100 * summary['search_share']:.0f}%), "
          f"model errors {summary['model']} ({100 * summary['model_share']:.0f}%)")
    for i in worst:
        c = wrong[i]
        print(f"\n[{c.blame}] {c.key}  ({errs[i]} word errors, score ref {c.reference_score:.2f} "
              f"vs out {c.output_score:.2f})\n  ref: {c.reference}\n  out: {c.output}")
    return said_failed(failed, len(utts))


def recognizer_runner(model: str):
    """The runtime.posteriors.RecognizerRunner of the recogniser --model names (an error said with the option)."""
    from ..runtime.posteriors import RecognizerRunner

    with option_file("--model", model, "recognizer"):
        return RecognizerRunner(model)


def read_outputs(runner, manifest: str, split, limit: int | None) -> tuple[list, int]:
    """The recogniser's outputs of the manifest's utterances (runtime.posteriors.manifest_outputs), and how many could
    not be read: each of those is one warning line and left out, as transcribe leaves out a bad file. An error
    when none is left."""
    from ..runtime.posteriors import manifest_outputs

    failed: list[str] = []
    utts = manifest_outputs(runner, manifest, split, limit, on_error=lambda msg: (warn(msg), failed.append(msg)))
    if not utts:
        of = f" of split {split!r}" if isinstance(split, str) else ""  # none named: "(split None)" named one
        raise SpeechseqError(f"{manifest}: no utterance could be read" if failed else f"{manifest}: no utterances{of}")
    return utts, len(failed)


def said_failed(failed: int, read: int) -> int:
    """The exit code of a batch of which `failed` utterances could not be read (said in a last line) and `read`
    were."""
    if not failed:
        return 0
    warn(f"{failed} of {failed + read} utterance(s) could not be read and were skipped")
    return 1


def _finite(score: float) -> float | None:
    """A score as JSON allows it: -inf (no CTC alignment fits the frames) is not a JSON number."""
    return score if math.isfinite(score) else None
