"""`speechseq train lm`: train the character language model on text files (resumable).

    speechseq train lm --text ../shared/data/text/ljspeech.txt ../shared/data/text/arctic_prompts.txt \\
        --exclude-manifest ../shared/data/kathleen/manifest.jsonl --out runs/lm-en
    speechseq export runs/lm-en/best.pt --out models/lm-en.onnx
"""
from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

from ..errors import SpeechseqError
from ..splits import EVAL_SPLITS
from .common import (HelpFormatter, bounded, checked_device, cpu_threads, draws_bars, folder_named,
                     present_file, read_text_file, require_torch, seed_arg, warn)
from .eval_recognizer import plural
from .runs import held_out

# LMConfig fields -> the options that set them (to name them when a rerun differs)
OPTIONS = {"embed_dim": "--embed-dim", "hidden": "--hidden", "layers": "--layers", "rnn": "--rnn",
           "dropout": "--dropout"}
MANIFEST = "a JSONL manifest, one JSON object a line"   # what --exclude-manifest(-all) holds, as an error says it


EXAMPLES = """examples:
  speechseq train lm --text ../shared/data/text/ljspeech.txt --out runs/lm \\
      --exclude-manifest ../shared/data/kathleen/manifest.jsonl"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lm", epilog=EXAMPLES, help="train the character language model",
                       description="Train a character RNN language model on text files (one sentence per "
                                   "line). Held-out perplexity is measured each epoch; rerunning the same "
                                   "command resumes from OUT/last.pt (other text, another model size or "
                                   "another --lr, --seed or --batch-tokens: an error; --epochs may change, but "
                                   "raised on a finished run, the learning rate's cosine decay is stretched over "
                                   "the new total: the rate jumps from its floor (5 % of --lr) back to about half "
                                   "of --lr for twice the epochs, and decays again; give the whole --epochs from "
                                   "the start to keep one decay). Export OUT/best.pt with `speechseq export`.",
                       formatter_class=HelpFormatter)
    p.add_argument("--text", nargs="+", required=True, metavar="FILE", help="training text files")
    p.add_argument("--out", required=True, help="run directory (checkpoints, history, curve)")
    p.add_argument("--exclude-manifest", nargs="+", default=[], metavar="JSONL",
                   help="manifests whose transcripts the LM must never see (evaluation prompts)")
    p.add_argument("--exclude-split", default=None, metavar="NAME",
                   help="only exclude the rows of this split of the manifests ('' = every row; default: the rows "
                        f"of every evaluation split, {', '.join(EVAL_SPLITS)})")
    p.add_argument("--exclude-manifest-all", nargs="+", default=[], metavar="JSONL",
                   help="manifests whose every transcript is excluded (e.g. a held-out synthetic test set)")
    p.add_argument("--heldout-percent", type=bounded(float, ge=0, lt=100), default=5.0,
                   help="sentences held out for perplexity (0: none, and no validation)")
    p.add_argument("--epochs", type=bounded(int, ge=1), default=5, help="passes over the training sentences")
    p.add_argument("--lr", type=bounded(float, gt=0), default=2e-3, help="peak learning rate")
    p.add_argument("--batch-tokens", type=bounded(int, ge=1), default=4096,
                   help="padded characters per batch (a longer line is read in pieces cut at spaces)")
    p.add_argument("--rnn", choices=["lstm", "gru"], default="lstm", help="recurrent layer type")
    p.add_argument("--hidden", type=bounded(int, ge=1), default=512, help="units per recurrent layer")
    p.add_argument("--layers", type=bounded(int, ge=1), default=1, help="stacked recurrent layers")
    p.add_argument("--embed-dim", type=bounded(int, ge=1), default=64, help="size of a character's embedding")
    p.add_argument("--dropout", type=bounded(float, ge=0, lt=1), default=0.1, help="dropout rate")
    p.add_argument("--threads", type=bounded(int, ge=1), default=1,
                   help="torch CPU threads (more than the CPUs here are taken as that many)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed (initial weights, batch order)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_torch("training")
    import torch

    from ..nn.text import LMConfig
    from ..train.lm import KIND, split_heldout, train_lm
    from ..train.loop import LoopConfig
    from .runs import resumable, run_path

    folder_named(args.out, "--out")  # '', '-', a file: said before any input is checked (held_out makes it)
    # each file's text read once, in held_out (a pipe can be read only once): here only whether it is there
    for option, files in (("--text", args.text), ("--exclude-manifest", args.exclude_manifest),
                          ("--exclude-manifest-all", args.exclude_manifest_all)):
        for f in files:
            present_file(f, option)
    checked_device(args.device)
    torch.set_num_threads(cpu_threads(args.threads))
    with held_out(args.out) as out:  # another run's OUT, or one that cannot be written, said before the text is read
        usable, sentences, exclude, splits = _corpus(args)
        train, heldout = split_heldout(sentences, args.heldout_percent)
        if not train:
            raise SpeechseqError(f"no training sentences: all {len(sentences)} fell in the held-out "
                                 f"{args.heldout_percent:g} % (--heldout-percent)")
        duplicates = len(usable) - len(set(usable))
        overlapping = len(set(usable)) - len(sentences)
        print(plural(len(sentences), "sentence")
              + (f" ({plural(duplicates, 'duplicate line')} dropped)" if duplicates else "")
              + f" ({len(train)} train, {len(heldout)} held out); {plural(len(set(exclude)), 'excluded prompt')}"
              + (f" ({plural(overlapping, 'sentence')} overlapping them dropped)" if overlapping else ""),
              file=sys.stderr)
        cfg = LMConfig(embed_dim=args.embed_dim, hidden=args.hidden, layers=args.layers, rnn=args.rnn,
                       dropout=args.dropout)
        digest = zlib.crc32("\n".join(sentences).encode())
        sources = {"--text": [run_path(t, out) for t in args.text],
                   "--exclude-manifest": [run_path(m, out) for m in args.exclude_manifest],
                   "--exclude-split": splits if args.exclude_manifest else None,
                   "--exclude-manifest-all": [run_path(m, out) for m in args.exclude_manifest_all],
                   "--heldout-percent": args.heldout_percent,
                   # the same files edited since (sentences added, a line fixed) are other text too
                   "the text of --text": f"{len(sentences)} sentences, crc32 {digest:08x}"}
        # a rerun resumes OUT/last.pt: refused on other data (best.pt would be chosen among unlike scores: a
        # run without held-out sentences picks it by training loss) or another model size (its weights do not fit)
        last = resumable(out, KIND, cfg.to_dict(), OPTIONS, sources, select="val_ppl" if heldout else "loss")
        same_settings(out, last, args)
        # warm-up and weight average as the shipped run had them; speechseq.train.lm.train_lm caps both for short runs
        loop = LoopConfig(epochs=args.epochs, lr=args.lr, ema_decay=0.995, seed=args.seed, device=args.device,
                          warmup_steps=100)
        data = {"text": [Path(t).name for t in args.text],
                "excluded": [Path(m).name for m in args.exclude_manifest]
                + [f"{Path(m).parent.name}/{Path(m).name} (all rows)" for m in args.exclude_manifest_all],
                "exclude_split": splits, "heldout_percent": args.heldout_percent}
        history = train_lm(train, heldout, out, cfg, loop, args.batch_tokens, extra={"data": data, "sources": sources},
                           progress=draws_bars())
        if history and not heldout:
            print(f"no held-out sentences: {out / 'best.pt'} is the epoch of the lowest training loss", file=sys.stderr)
        elif history:
            best = min(history, key=lambda h: h.get("val_ppl", float("inf")))
            print(f"best epoch {best['epoch']}: held-out perplexity {best.get('val_ppl', float('nan')):.4f} per "
                  f"character ({best.get('val_bpc', float('nan')):.4f} bits)", file=sys.stderr)
    return 0


def _corpus(args: argparse.Namespace) -> tuple[list[str], list[str], list[str], list[str] | str]:
    """The text to train on, read: (usable lines, sentences: usable less duplicates and the excluded prompts'
    overlaps, the excluded prompts, the evaluation splits excluded), with a warning for what is left out."""
    from ..train.lm import corpus_lines, piece_chars, select_sentences, texts_of_manifest

    def texts(manifest: str, text: str, split: str | None = None) -> list[str]:
        try:
            return texts_of_manifest(text, split)
        except (ValueError, KeyError, AttributeError, TypeError):
            raise SpeechseqError(f"{manifest}: not a JSONL manifest (a JSON object with a \"text\" a line)") from None

    def read(manifest: str, option: str) -> str:  # once: a pipe (<(zcat m.jsonl.gz)) can be read only once
        return read_text_file(manifest, option, MANIFEST)

    splits = list(EVAL_SPLITS) if args.exclude_split is None else args.exclude_split
    exclude = []
    for m in args.exclude_manifest:
        text = read(m, "--exclude-manifest")
        rows = texts(m, text, splits or None)
        if not rows:  # the prompts the user named would all stay in the training text
            which = f"split {splits!r}" if isinstance(splits, str) else f"an evaluation split ({', '.join(splits)})"
            raise SpeechseqError(f"--exclude-manifest {m}: no row of {which} among its "
                                 f"{plural(len(texts(m, text)), 'row')}, so nothing of it would be excluded: name "
                                 f"its split with --exclude-split ('' for every row)")
        exclude += rows
    exclude += [t for m in args.exclude_manifest_all for t in texts(m, read(m, "--exclude-manifest-all"))]
    lines = corpus_lines(read_text_file(f, "--text") for f in args.text)  # each read once, checked as it is read
    usable = [s for s in lines if len(s) >= 2]
    sentences = select_sentences(usable, exclude=exclude)
    if len(usable) < len(lines):
        warn(f"{len(lines) - len(usable)} of {len(lines)} lines of --text left out: no two characters of "
             "a-z ' after normalisation")
    if not sentences:
        raise SpeechseqError("no sentences left in the training text")
    limit = piece_chars(args.batch_tokens)
    long = sum(len(s) > limit for s in sentences)
    if long:  # a text without line breaks: whole, one line was one batch of its length (GBs for a book)
        warn(f"{long} line{'s' * (long > 1)} of --text longer than --batch-tokens {args.batch_tokens} allows ({limit} "
             f"characters after normalisation) {'are' if long > 1 else 'is'} read in pieces cut at spaces: the text "
             "is read as one sentence a line")
    return usable, sentences, exclude, splits


def same_settings(out, ck: dict | None, args: argparse.Namespace) -> None:
    """An error unless the run in `out` (its last.pt, `ck`), if any, was made with these training options: a rerun
    would train its later epochs by others (batches of another size under the first run's schedule, another batch
    order, another rate); --epochs, --threads and --device may change."""
    if not ck:
        return
    loop, extra = ck.get("loop_config") or {}, ck.get("extra") or {}
    for option, was, now in (("--lr", loop.get("lr"), args.lr), ("--seed", loop.get("seed"), args.seed),
                             ("--batch-tokens", extra.get("batch_tokens"), args.batch_tokens)):
        if was is not None and was != now:
            raise SpeechseqError(f"{out} holds a run made with {option} {was:g}, not {now:g}: rerun with its options "
                                 f"to resume it (--epochs, --threads and --device may change), use a new --out, or "
                                 f"delete {out} to start over")
