"""`speechseq eval recognizer`: WER, CER, the worst utterances and the real-time factor.

    speechseq eval recognizer --manifest ../shared/data/kathleen/manifest.jsonl --split dev
    speechseq eval recognizer --manifest ../shared/data/fsdd/manifest.jsonl --split test --decoder beam
    speechseq eval recognizer --manifest ../shared/data/kathleen/manifest.jsonl --split dev --decoder lexicon
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

from ..errors import SpeechseqError
from .common import (WEIGHT_MAX, HelpFormatter, beam_arg, beam_size, bounded, cpu_threads, lines_out, load_lm,
                     names_stdout, option_file, output_file, progress, warn, write_report)
from .transcribe import (DEFAULT_LEXICON, DEFAULT_MODEL, LM_WEIGHT, MODELS, WORD_BONUS, add_commands_args,
                         add_lexicon_args, add_vad_arg, check_lexicon_arg, check_model_arg, command_set,
                         lexicon_decode_options, make_vad, unread_options)


EXAMPLES = """examples:
  speechseq eval recognizer --manifest ../shared/data/kathleen/manifest.jsonl --split dev
  speechseq eval recognizer --manifest ../shared/data/fsdd/manifest.jsonl --split test --decoder greedy --json fsdd.json
  speechseq eval recognizer --manifest dev.jsonl --json -     # the report alone on stdout, the lines on stderr
  speechseq eval recognizer --manifest commands.jsonl --commands my-commands.txt   # as `listen --commands` hears"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("recognizer", epilog=EXAMPLES, help="word and character error rates of a recogniser on a manifest",
                       description="Recognise every utterance of a manifest (any format speechseq reads) and report "
                                   "WER, CER, utterance accuracy (the share recognised exactly: word accuracy for "
                                   "single-word sets), a table of the worst utterances, and the real-time factor "
                                   "(recognition time, decoding included, over audio time; wall clock, on --threads "
                                   "threads, one by default). With --commands and --vad off (the default), each "
                                   "utterance is matched whole against the list, as listen matches what follows its "
                                   "trigger word; with a VAD (--vad auto, silero or energy), as transcribe (whose VAD is on by "
                                   "default) matches: the stretches of speech a pause splits are tried alone and "
                                   "together, so that a word said before a command is left out. Ctrl+C (or "
                                   "SIGTERM) stops it with the figures of the utterances recognised so far, printed "
                                   "and written to --json (its \"interrupted\": true), and exit code 130.",
                       formatter_class=HelpFormatter)
    p.add_argument("--manifest", required=True, help="manifest file or corpus directory")
    p.add_argument("--split", help="only this split (e.g. dev, test; default, or '': every row)")
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="recogniser .onnx")
    p.add_argument("--decoder", choices=("greedy", "beam", "beam-lm", "lexicon"), default="greedy",
                   help="best path; prefix beam search; + character LM shallow fusion; beam search kept to "
                        "the words of --lexicon with its word LM (see `speechseq transcribe --help`)")
    p.add_argument("--beam-size", type=beam_arg, default="auto",
                   help="beam width; auto: 64 for lexicon, 8 for beam and beam-lm, as in transcribe")
    p.add_argument("--lm", default=str(MODELS / "lm-en.onnx"), help="character LM (beam-lm; lexicon with "
                                                                        "--char-lm-weight)")
    p.add_argument("--lm-weight", type=bounded(float, ge=0, le=WEIGHT_MAX), default=LM_WEIGHT,
                   help="alpha: weight of log P_lm (beam-lm)")
    p.add_argument("--word-bonus", type=bounded(float, ge=-WEIGHT_MAX, le=WEIGHT_MAX), default=WORD_BONUS,
                   help="beta: bonus per character (beam-lm)")
    p.add_argument("--worst", type=bounded(int, ge=0), default=10, help="rows of the worst-utterance table")
    p.add_argument("--limit", type=bounded(int, ge=1), help="only the first N utterances (default: all)")
    p.add_argument("--threads", type=bounded(int, ge=1), default=1,
                   help="onnxruntime threads (more than the CPUs here are taken as that many)")
    add_vad_arg(p, "off")
    p.add_argument("--json", metavar="PATH", help="also write the figures and every utterance here (-: on standard "
                                                  "output, the lines printed otherwise then on standard error)")
    add_lexicon_args(p)
    add_commands_args(p)
    p.set_defaults(func=run)


def evaluate(rec, utterances, opts, show_progress: bool | None = None, vad=None) -> dict:
    """Recognise `utterances` (speechseq.train.data.Utterance); figures in percent. With a `vad`,
    as `transcribe` does: only the speech regions it finds are recognised. Ctrl+C (or SIGTERM) stops the pass: the
    figures are those of the utterances recognised before it, "interrupted" True (none recognised: it is raised)."""
    from ..metrics import cer, wer
    from ..text import normalize

    _need_words([normalize(u.text) for u in utterances])  # before the work, where it is the manifest's fault
    done, failed, interrupted = [], 0, False
    try:
        for u in progress(utterances, total=len(utterances), desc="recognising", enable=show_progress):
            row = _recognise(rec, u, opts, vad)
            if row is None:
                failed += 1
            else:
                done.append(row)  # one append: an interrupt never leaves a reference without its hypothesis
    except KeyboardInterrupt:
        if not done:
            raise
        interrupted = True
    if not done:
        raise SpeechseqError("no utterance could be read")
    kept = [u for u, *_ in done]
    refs, hyps = [normalize(u.text) for u in kept], [h for _, h, _, _ in done]
    audio_s, compute_s = sum(a for *_, a, _ in done), sum(c for *_, c in done)
    _need_words(refs)
    w, c = wer(refs, hyps), cer(refs, hyps)
    return {"utterances": len(refs), "failed": failed, "interrupted": interrupted,
            "utterances_planned": len(utterances), "audio_s": round(audio_s, 2),
            "wer": 100 * w.rate, "cer": 100 * c.rate,
            "utterance_accuracy": 100 * sum(r == h for r, h in zip(refs, hyps)) / len(refs),
            "rtf": compute_s / max(audio_s, 1e-9), "wer_detail": w.summary(), "cer_detail": c.summary(),
            "worst": [{"ref": e.ref, "hyp": e.hyp, "errors": e.ops.distance, "words": e.ops.ref_len,
                       **_where(kept[e.index])} for e in w.worst(len(refs))],
            "refs": refs, "hyps": hyps, "audio": [u.audio for u in kept]}


def _recognise(rec, u, opts, vad) -> tuple | None:
    """(utterance, hypothesis normalised, audio seconds, recognition seconds) of one utterance; None (said) when its
    audio cannot be read or its segment holds none."""
    from ..audio import load_audio
    from ..text import normalize

    try:
        x = load_audio(u.audio, rec.frontend.sample_rate)  # (a file cut short is said, by common.warn, beside bars)
    except SpeechseqError as err:
        warn(str(err))
        return None
    if u.offset is not None:
        sr, whole = rec.frontend.sample_rate, len(x)
        x = x[int(u.offset * sr): None if u.end is None else int(u.end * sr)]
        if len(x) == 0:  # a segment past the file's end holds no audio, as an empty file (skipped) holds none
            warn(f"{u.audio}: the segment from {u.offset:g} s holds no audio samples (the file has "
                 f"{whole / sr:g} s); skipped")
            return None
    t0 = time.perf_counter()
    if vad is not None or len(x) > 20 * rec.frontend.sample_rate:
        r = rec.transcribe([x], opts, vad=vad)
    else:
        r = rec.recognize(x, opts, onset=False)  # the text only: the words' onset bound would be timed
    return u, normalize(r.text), len(x) / rec.frontend.sample_rate, time.perf_counter() - t0


def _where(u) -> dict:
    """Which recording an utterance of the report is: its file, and its segment's bounds when it is one."""
    segment = {"offset": u.offset, "end": u.end} if u.offset is not None else {}
    return {"audio": u.audio, **segment}


def _need_words(refs: list[str]) -> None:
    """WER and CER divide by the words and characters of the references: some must have them."""
    if refs and not any(refs):
        raise SpeechseqError(f"the {plural(len(refs), 'reference')} {'is' if len(refs) == 1 else 'are all'} empty once "
                             "normalised (no words): WER and CER are undefined")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def load_utterances(manifest: str, split: str | None, limit: int | None = None) -> tuple[list, int]:
    """The manifest's utterances (the first `limit`), and how many rows among theirs were skipped (each reported on
    one line): a row whose audio is missing or cannot be read is left out, as transcribe leaves out a bad file. With a
    limit, a skipped row after the last utterance kept is neither reported nor counted."""
    from ..train.data import load_manifest

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        utts = load_manifest(manifest, split=split, skip_missing=True)  # a line that is not UTF-8: its error names it
    if limit is not None:  # the rows up to the limit-th utterance: a skipped one read before it (SkippedRow.kept)
        utts = utts[:limit]
        caught = [w for w in caught if getattr(w.message, "kept", 0) < limit]
    skips = [w for w in caught if str(w.message).endswith("(skipped)")]
    for w in caught:
        if w in skips:
            warn(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return utts, len(skips)


def run(args: argparse.Namespace) -> int:
    from ..runtime.recognizer import Recognizer

    args.threads = cpu_threads(args.threads)
    args.split = args.split or None  # '' names no split (an unset variable): every row, where it matched none
    report = output_file(args.json, "--json", stdout=True)
    if (report is not None and not names_stdout(report) and report.is_file() and Path(args.manifest).is_file()
            and report.samefile(args.manifest)):
        raise SpeechseqError(f"--json {args.json}: is the --manifest itself, which the report would replace; name "
                             "another file")
    check_lexicon_arg(args.lexicon, DEFAULT_LEXICON, args.decoder)
    check_model_arg(args.model, DEFAULT_MODEL, "--model")
    if args.decoder == "beam-lm":
        check_model_arg(args.lm, MODELS / "lm-en.onnx", "--lm")
    commands = command_set(args)
    with option_file("--model", args.model, "recognizer"):
        rec = Recognizer(args.model, threads=args.threads)
    unread_options(args, args.decoder, False)   # as transcribe says them: the figures are not those they describe
    args.beam_size = beam_size(args.beam_size, args.decoder)
    opts, dec = _decoding(args, commands)  # the LM and lexicon read before the manifest: a wrong file said first
    vad = make_vad(args.vad, args.threads)
    if vad is not None:
        dec += f", speech regions by the {vad.name} VAD"
    elif commands is not None:  # transcribe --commands, its VAD on, finds a command inside an utterance: not here
        dec += ", each utterance matched whole (--vad off)"
    utts, skipped = load_utterances(args.manifest, args.split, args.limit)
    if not utts:
        raise SpeechseqError(f"{args.manifest}: no utterances" + (f" in split {args.split!r}" if args.split else "")
                             + (f" that can be read ({skipped} skipped)" if skipped else ""))
    res = evaluate(rec, utts, opts, vad=vad)
    res["failed"] += skipped
    _print_figures(args, res, dec, skipped, lines_out(args.json))
    if args.json:  # whole or not at all: written in place, a full disk left an earlier run's report cut short
        text = json.dumps({"manifest": str(args.manifest), "split": args.split, "model": str(args.model),
                           "decoder": dec, **res}, indent=1)
        try:
            write_report(args.json, text)
        except SpeechseqError as err:
            raise SpeechseqError(f"--json {err}") from None
        if not names_stdout(args.json):
            print(f"wrote {args.json}", file=sys.stderr)
    if res["interrupted"]:  # reported above: the command ends as an interrupted one (exit code 130)
        raise KeyboardInterrupt
    if res["failed"]:
        warn(f"{res['failed']} of {res['utterances'] + res['failed']} utterance(s) could not be read and were skipped")
        return 1
    return 0


def _decoding(args: argparse.Namespace, commands) -> tuple:
    """The DecodeOptions of --decoder (its LM and lexicon loaded: a file of the wrong kind is refused here), and the
    decoder as the report names it."""
    from ..runtime.recognizer import DecodeOptions

    if args.decoder == "lexicon":
        opts = lexicon_decode_options(args)
        o = opts.lexicon_options
        dec = (f"lexicon {args.beam_size} (word LM weight {o.word_weight:g}, word bonus {o.word_bonus:g}, "
               f"OOV penalty {o.oov_penalty:g}" + (f", char LM {o.char_weight:g}/{o.char_bonus:g}" if opts.lm else "")
               + ")")
    elif args.decoder == "beam-lm":
        opts = DecodeOptions(decoder="beam", beam_size=args.beam_size, lm=load_lm(args.lm, args.threads),
                             alpha=args.lm_weight, beta=args.word_bonus)
        dec = f"beam-lm {args.beam_size} (alpha {args.lm_weight:g}, beta {args.word_bonus:g})"
    else:
        opts = DecodeOptions(decoder=args.decoder, beam_size=args.beam_size)
        dec = args.decoder + (f" {args.beam_size}" if args.decoder == "beam" else "")
    if commands is not None:
        opts = replace(opts, commands=commands)
        dec += f", commands of {args.commands} ({len(commands)}, bound {commands.max_deficit:g})"
    return opts, dec


def _print_figures(args: argparse.Namespace, res: dict, dec: str, skipped: int, out) -> None:
    """The figures as lines to read, on `out` (stderr where --json - takes stdout)."""
    skip_note = f" ({res['failed']} skipped: unreadable or missing audio)" if res["failed"] else ""
    print(f"{args.manifest}{' [' + args.split + ']' if args.split else ''}: {plural(res['utterances'], 'utterance')}"
          f"{skip_note}, {res['audio_s'] / 60:.1f} min, model {args.model}, decoder {dec}", file=out)
    if res["interrupted"]:
        done = res["utterances"] + res["failed"] - skipped
        print(f"  interrupted after {done} of {plural(res['utterances_planned'], 'utterance')}: the figures are "
              "those of the utterances recognised before it", file=out)
    print(f"  WER {res['wer']:.2f}%   CER {res['cer']:.2f}%   utterance accuracy {res['utterance_accuracy']:.2f}%   "
          f"RTF {res['rtf']:.4f}", file=out)
    print(f"  {res['wer_detail']}", file=out)
    wrong = [row for row in res["worst"] if row["errors"]][: args.worst]  # one without an error is no worst case
    if wrong:
        print(f"  worst {plural(len(wrong), 'utterance')} (word errors / words: reference | hypothesis):", file=out)
        for row in wrong:
            print(f"    {row['errors']:3d}/{row['words']:<3d} {row['ref']} | {row['hyp']}", file=out)
    elif args.worst > 0:
        print("  no utterance has a word error", file=out)
