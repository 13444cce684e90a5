"""`speechseq tune fusion`: choose the LM weight (alpha) and word bonus (beta) of shallow fusion
on a dev manifest, by word error rate.

    speechseq tune fusion --model models/recognizer-en.onnx --lm models/lm-en.onnx \\
        --manifest val.jsonl --alphas 0 0.3 0.5 0.8 --betas 0 0.5 1 2

Tune on a dev set, report on another: the chosen pair is fitted to the set it was tuned on. Rows of the
evaluation splits (dev, test, validation: Kathleen dev, FSDD test, Speech Commands validation) are tuned on only
when --split names them.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings

from ..errors import SpeechseqError
from ..splits import EVAL_SPLITS
from .analyze import read_outputs, recognizer_runner, said_failed
from .common import WEIGHT_MAX, HelpFormatter, bounded, decoder_fits, load_lm, option_file, warn
from .eval_recognizer import plural

ATTENTION_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)  # --attention-weights' default


EXAMPLES = """examples:
  speechseq tune fusion --model models/recognizer-en.onnx --lm models/lm-en.onnx --manifest val.jsonl \\
      --alphas 0.4 0.8 1.2 --betas 0.5 1.0 1.5"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fusion", epilog=EXAMPLES, help="grid-search the LM weight and length bonus of beam + LM",
                       description="Decode a tuning manifest with CTC prefix beam search + shallow LM fusion "
                                   "for every (alpha, beta) of a grid and print the WER of each; the best "
                                   "pair is the one to pass as --lm-weight / --word-bonus (transcribe "
                                   "--decoder beam-lm or rescore). Rows of the evaluation splits (dev, test, validation) "
                                   "are tuned on only when --split names one: tune on one set, report on "
                                   "another.",
                       formatter_class=HelpFormatter)
    p.add_argument("--model", required=True, help="recogniser (.onnx)")
    p.add_argument("--lm", required=True, help="language model (.onnx)")
    p.add_argument("--manifest", required=True, help="tuning manifest (JSONL, CSV, ...)")
    p.add_argument("--split", default=None,
                   help="only the rows of this split (default: every row but those of the evaluation splits, "
                        f"{', '.join(EVAL_SPLITS)}, which are tuned on only when named; '': the default)")
    p.add_argument("--limit", type=bounded(int, ge=1), default=None, help="first N utterances only (default: all)")
    p.add_argument("--beam", type=bounded(int, ge=1), default=8, help="beam width of the prefix beam search")
    p.add_argument("--alphas", type=bounded(float, ge=0, le=WEIGHT_MAX), nargs="+",
                   default=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0], help="LM weights to try")
    p.add_argument("--betas", type=bounded(float, ge=-WEIGHT_MAX, le=WEIGHT_MAX), nargs="+",
                   default=[0.0, 0.5, 1.0, 1.5, 2.0], help="per-character bonuses to try")
    p.add_argument("--attention-decoder", default=None,
                   help="also measure n-best rescoring by this attention decoder at each --attention-weights, at "
                        "the best alpha and beta (the recogniser needs an encoder_out output; `transcribe "
                        "--decoder rescore` weighs the decoder 1)")
    p.add_argument("--attention-weights", type=bounded(float, ge=0), nargs="+", default=None,
                   help="attention rescoring weights to try, with --attention-decoder (default: "
                        + " ".join(f"{w:g}" for w in ATTENTION_WEIGHTS) + ")")
    p.add_argument("--json", action="store_true", help="print the grid as one JSON object")
    p.set_defaults(func=run)


def grid_wer(utts, lm, alphas, betas, beam: int) -> dict[tuple[float, float], float]:
    """{(alpha, beta): WER in percent} of prefix beam search + fusion over recogniser outputs."""
    from ..metrics import wer
    from ..runtime.decoding import prefix_beam_search
    from ..text import normalize

    refs = [normalize(u.text) for u in utts]
    out = {}
    for a in alphas:
        for b in betas:
            if a == 0.0 and b != betas[0]:   # without the LM, beta is not applied either
                out[(a, b)] = out[(a, betas[0])]
                continue
            # normalised as the references are (and as eval recognizer does): "dogs'" spells the word "dogs"
            hyps = [normalize(prefix_beam_search(u.log_probs, beam, lm=lm, alpha=a, beta=b)[0].text) for u in utts]
            out[(a, b)] = 100 * wer(refs, hyps).rate
    return out


def attention_wer(utts, lm, decoder, weights, alpha: float, beta: float, beam: int) -> dict[float, float]:
    """{attention weight: WER in percent} of beam + LM n-best rescoring with the attention decoder."""
    from ..metrics import wer
    from ..runtime.text_decoder import DecodeOptions, TextDecoder
    from ..text import normalize

    refs = [normalize(u.text) for u in utts]
    nbest = [TextDecoder(DecodeOptions("beam-lm", beam, alpha, beta), lm=lm).nbest(u.log_probs) for u in utts]
    out = {}
    for w in weights:
        dec = TextDecoder(DecodeOptions("rescore", beam, alpha, beta, attention_weight=w), lm=lm, attention=decoder)
        # one n-best, reranked; normalised as the references are
        hyps = [normalize(dec(u.log_probs, u.memory, nbest=hs).text) for u, hs in zip(utts, nbest)]
        out[w] = 100 * wer(refs, hyps).rate
    return out


def tuning_split(manifest: str, split: str | None) -> str | list[str | None] | None:
    """The split(s) of `manifest` to tune on: `split` when named; else every row but those of the evaluation
    splits (Kathleen dev, FSDD test: never tuned on unless named, as `train recognizer` leaves them out), with a
    warning when some are left out, and an error when nothing else is left. An empty `split` names none (an unset
    variable), as a row's "" does: the default, where it matched no row."""
    if split:
        return split
    from ..train.manifests import load_manifest

    with warnings.catch_warnings():  # a row whose audio is missing: said where the rows are read (read_outputs)
        warnings.simplefilter("ignore")
        rows = load_manifest(manifest, skip_missing=True)
    evaluation = sum(u.split in EVAL_SPLITS for u in rows)
    if not evaluation:
        return None
    if evaluation == len(rows):
        raise SpeechseqError(f"{manifest}: every row is of an evaluation split ({'/'.join(EVAL_SPLITS)}), never "
                             f"tuned on unless named: give the split (--split)")
    warn(f"{manifest}: {evaluation} row{'s' * (evaluation != 1)} of the evaluation splits ({'/'.join(EVAL_SPLITS)}) "
         f"left out; --split "
         f"names the one split to tune on")
    kept = {u.split for u in rows if u.split not in EVAL_SPLITS}
    return sorted(s for s in kept if s is not None) + ([None, ""] if None in kept else [])  # "": no split either


def run(args: argparse.Namespace) -> int:
    from ..runtime.text_decoder import DecodeOptions
    from ..text import normalize

    from .transcribe import check_model_arg

    if args.beam < 1:
        raise SpeechseqError("--beam must be >= 1")
    # each value once, in the order given: one given twice was decoded twice, its row or column printed twice
    args.alphas, args.betas = list(dict.fromkeys(args.alphas)), list(dict.fromkeys(args.betas))
    if args.attention_weights is not None:
        args.attention_weights = list(dict.fromkeys(args.attention_weights))
    if args.attention_weights is not None and not args.attention_decoder:   # was ignored without a word
        raise SpeechseqError("--attention-weights are tried with an --attention-decoder: pass one, or leave them out")
    for path, option in ((args.model, "--model"), (args.lm, "--lm"), (args.attention_decoder, "--attention-decoder")):
        if path or option != "--attention-decoder":  # each file named with its option, not a bare "no such model file"
            check_model_arg(path, None, option)
    lm = load_lm(args.lm)
    runner = recognizer_runner(args.model)
    decoder = None
    if args.attention_decoder:  # checked before the grid's minutes of decoding, not after them
        from ..runtime.attention import OnnxDecoder

        with option_file("--attention-decoder", args.attention_decoder, "attention-decoder"):
            decoder = OnnxDecoder(args.attention_decoder)
        decoder_fits(args.model, runner, decoder, "--attention-decoder")
    utts, failed = read_outputs(runner, args.manifest, tuning_split(args.manifest, args.split), args.limit)
    if not any(normalize(u.text).split() for u in utts):  # the WER of every pair would be 0 / 0
        raise SpeechseqError(f"{args.manifest}: no transcript has a word (after normalisation), so there is no "
                             f"word error rate to tune on")
    grid = grid_wer(utts, lm, args.alphas, args.betas, args.beam)
    (a, b), best = min(grid.items(), key=lambda kv: (kv[1], kv[0]))
    att = {}
    if decoder is not None:
        att = attention_wer(utts, lm, decoder, args.attention_weights or ATTENTION_WEIGHTS, a, b, args.beam)
    if args.json:
        print(json.dumps({"grid": [{"alpha": k[0], "beta": k[1], "wer": v} for k, v in grid.items()],
                          "best": {"alpha": a, "beta": b, "wer": best}, "utterances": len(utts),
                          "attention": [{"weight": w, "wer": v} for w, v in att.items()]}))
        return said_failed(failed, len(utts))
    print("WER %   " + " ".join(f"b={x:<6g}" for x in args.betas))
    for al in args.alphas:
        print(f"a={al:<5g} " + " ".join(f"{grid[(al, be)]:<8.2f}" for be in args.betas))
    print(f"best: --lm-weight {a:g} --word-bonus {b:g} (WER {best:.2f}% on {plural(len(utts), 'utterance')})",
          file=sys.stderr)
    for w, v in att.items():
        print(f"rescoring, attention weight {w:<5g} WER {v:.2f}%")
    if att:
        w, v = min(att.items(), key=lambda kv: (kv[1], kv[0]))
        print(f"best attention weight {w:g} (WER {v:.2f}%); `transcribe --decoder rescore` weighs the decoder "
              f"{DecodeOptions().attention_weight:g}, which no option changes", file=sys.stderr)
    return said_failed(failed, len(utts))
