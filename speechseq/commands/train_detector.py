"""`speechseq train detector`: train a trigger-word detector for any keyword, then export it."""
from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from ..errors import SpeechseqError
from ..files import check_keyword_file, split_lines
from ..runtime.settings import GUARD_RANGE_DB
from ..synth_settings import ENGINE_WEIGHTS
from .common import (HelpFormatter, bounded, checked_device, draws_bars, guard_range, read_text_file,
                     require_torch, seed_arg, warn)
from .runs import held_out, last_run, read_last, run_path, same_keyword, same_run
from .synth import keyword_arg, keyword_file_name, say

EXAMPLE = """examples:
  speechseq train detector --keyword "hey robot" --out runs/hey-robot     # synthesizes its data first
synthetic data made once (speechseq synth keyword), plus real backgrounds:
  speechseq synth keyword --keyword activate --out cache/synth/kw-activate
  speechseq train detector --keyword activate --out runs/activate --synth cache/synth/kw-activate \\
      --backgrounds ../shared/data/noise ../shared/data/kathleen/manifest.jsonl:2 --device cuda
the course's layout works as is:
  speechseq train detector --keyword activate --out runs/act --positives raw_data/activates \\
      --negatives raw_data/negatives --backgrounds raw_data/backgrounds
PATH:WEIGHT gives a source a sampling weight in training (default 1; validation draws each held-out
keyword clip alike). Manifest rows marked "heldout": true, and 15 % of other files (by a hash of the
name; a row with an "offset" is that segment of its file, [offset, offset + duration)), are kept for
validation. Rerunning the same
command resumes (the feature bank is cached in OUT/bank.npz, the training in OUT/last.pt); other data or
options are refused, but for --epochs, --average, --warps and --natural-weight. With --epochs
raised on a finished run, the learning rate's cosine decay is stretched over the new total: the rate
jumps from its floor (5 % of --lr) back to about half of --lr for twice the epochs, and decays again;
give the whole --epochs from the start to keep one decay, or go on at a low rate in a new --out with
--init OUT/best.pt --lr 0.0001 (the default --lr's floor). Each epoch's
weights stay in OUT/snapshots, to try on real recordings: speechseq export OUT/snapshots/epoch_007.pt
--out e7.onnx (at the threshold that epoch's validation chose)."""

# speechseq.nn.detector.WARP_RANGE (a test pins the two equal), here so that the parser checks --warps without torch
WARP_RANGE = (0.5, 2.0)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detector", help="train a trigger-word detector (keyword spotting)", epilog=EXAMPLE,
                       description="Mix keyword clips, other speech and backgrounds into 10-s training examples "
                                   "(the course's recipe, in the feature domain), train Conv1D + GRU with a "
                                   "validation pass every epoch (false rejects at the target false-accept rate; "
                                   "the best epoch is kept as OUT/best.pt), and export it as OUT/KEYWORD.onnx at "
                                   "the threshold validation chose (--average: the mean of the last epochs' "
                                   "weights instead; with --warps, heard at several vocal tract warps, OUT/final.pt).",
                       formatter_class=HelpFormatter)
    p.add_argument("--keyword", required=True, type=keyword_arg,
                   help="the word or phrase to detect, as the synthesis voices should say it")
    p.add_argument("--out", required=True, help="run directory")
    p.add_argument("--synth", nargs="+", default=[], metavar="DIR",
                   help="`speechseq synth keyword` output dirs. With neither --synth nor --positives the keyword "
                        "is synthesized first, by every installed voice, into OUT/synth (as `speechseq synth keyword "
                        "--keyword KEYWORD --out OUT/synth` makes it; a rerun makes only what is missing)")
    p.add_argument("--synth-engines", nargs="+", default=None, choices=list(ENGINE_WEIGHTS), metavar="ENGINE",
                   help="the engines of that synthesis, in this order (it sets each voice's speeds and pitches, as "
                        "`speechseq synth keyword --engines` does: the same order makes the same clips; default: all "
                        "installed): " + ", ".join(ENGINE_WEIGHTS))
    p.add_argument("--synth-text", nargs="+", default=[], metavar="FILE",
                   help="text files to cut a quarter of that synthesis's negatives from, as short phrases (its "
                        "--text; without them the negatives are the keyword's sound-alikes and ordinary words)")
    p.add_argument("--positives", nargs="+", default=[], metavar="PATH[:W]", help="keyword recordings")
    p.add_argument("--negatives", nargs="+", default=[], metavar="PATH[:W]", help="other words and phrases")
    p.add_argument("--backgrounds", nargs="+", default=[], metavar="PATH[:W]", help="background audio (noise, speech)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--epochs", type=bounded(int, ge=1), default=10, help="passes of --steps batches, each validated")
    p.add_argument("--average", type=bounded(int, ge=0), default=0, metavar="N",
                   help="export the mean of the last N epochs' weights, its threshold set by validation (as the "
                        "shipped models are; on real voices, with --natural-weight 4, it helped one keyword of three, "
                        "README); 0: the epoch with the fewest validation false rejects (OUT/best.pt)")
    p.add_argument("--warps", type=bounded(float, ge=WARP_RANGE[0], le=WARP_RANGE[1]), nargs="+", default=[],
                   metavar="A",
                   help="also hear the input warped on the mel axis by these vocal tract length factors (the model "
                        "itself is 1.0; e.g. --warps 0.85 1.1) and fire on the highest posterior, at a threshold "
                        "validation sets for that on 3 h of mixes: a voice far from the synthetic voices is heard at "
                        "the warp nearest them. About twice the CPU of one model. On real voices it cut one "
                        "speaker's misses from 76 to 52 %% and left two others as they were, and fired 0.5 times "
                        "an hour on real speech where the model alone did not (README)")
    p.add_argument("--steps", type=bounded(int, ge=1), default=200, help="batches per epoch")
    p.add_argument("--batch", type=bounded(int, ge=1), default=64, help="10-s examples per batch")
    p.add_argument("--lr", type=bounded(float, gt=0), default=2e-3, help="peak learning rate")
    p.add_argument("--target-fa", type=bounded(float, ge=0), default=0.5,
                   help="false accepts per hour used to pick the threshold")
    p.add_argument("--workers", type=bounded(int, ge=1), default=2,
                   help="processes for computing features, and for the synthesis that runs first without "
                        "--synth and --positives")
    p.add_argument("--natural-weight", type=bounded(float, gt=0), default=1.0, metavar="W",
                   help="synthetic positives of the engines nearer a human voice than espeak-ng's formant voices "
                        "(festival, flite, MBROLA, pico, piper, RHVoice) are drawn W times as often as espeak-ng's, "
                        "which make most of `speechseq synth`'s voices (the shipped models use 4; on real voices "
                        "it helped one keyword of three, README)")
    p.add_argument("--init", metavar="RUN", default=None,
                   help="start from a detector trained before instead of random weights (one of another keyword "
                        "is only a starting point: a warning says so): its run directory, its best.pt / final.pt, or an "
                        "exported .onnx such as models/activate.onnx. To fit one to your voice: the same --synth, a few dozen of your recordings of the keyword drawn often, real "
                        "speech without it as backgrounds, and a short training, e.g. --positives my-clips:50 "
                        "--backgrounds ../shared/data/noise ../shared/data/kathleen/manifest.jsonl:2 --epochs 3 "
                        "--lr 0.001 (about 4 minutes on a 2-core CPU). README: at <= 0.5 synthetic false accepts an "
                        "hour, one speaker's misses went from 55-72 to 3 %%, another's from 24-26 to 1 %%, a third's "
                        "from 12 to 8 %%; choose the threshold on your own recordings (eval detector --save-threshold)")
    p.add_argument("--range-db", type=bounded(float, ge=0), default=GUARD_RANGE_DB, metavar="DB",
                   help="train and validate on the frames the runtime's floor guard gives (detect / listen "
                        "--range-db, the same default: each frame's floor at most this far below the loudest sound "
                        "of the last seconds); 0: off, as every model before session 33 was trained (README: on real "
                        "voices as many misses either way in five runs)")
    p.add_argument("--follow-share", type=bounded(float, ge=0, le=1), default=0.0, metavar="X",
                   help="the share of training's keywords followed at once (0-150 ms after their end) by other "
                        "speech, as in \"amelia turn on the lights\" said without a pause; validation keeps its "
                        "keywords on their own. 0: every word placed on its own, as the course's recipe and the shipped "
                        "models. README (Training your own keyword; amelia, 10 epochs, three seeds): 0.1 woke on 63 of "
                        "90 held-out takes followed at once by a command (without: 13), and missed 25.7 against 24.2 "
                        "%% of real clips on average (one seed many more, two fewer): judge it on your recordings")
    p.add_argument("--seed", type=seed_arg, default=0,
                   help="random seed of the weights and the mixes (same data, same seed: the same model on the same "
                        "machine)")
    p.set_defaults(func=run)


def _split_weight(spec: str) -> tuple[Path, float]:
    """PATH[:WEIGHT] -> (PATH, WEIGHT), WEIGHT 1 when not given; a WEIGHT that is not a positive number is an error."""
    head, sep, tail = spec.rpartition(":")
    if not sep or not head or Path(spec).exists():  # a name with a colon in it
        return Path(spec), 1.0
    try:
        weight = float(tail)
    except ValueError:
        weight = None
        if not Path(head).exists():
            return Path(spec), 1.0  # "no such file or directory", of the whole spec
    if weight is None or not 0 < weight < float("inf"):
        raise SpeechseqError(f"{spec}: the weight after ':' must be a positive number, got {tail!r}")
    return Path(head), weight


def _val(name: str, pct: int = 15) -> bool:
    """Whether a file is held out for validation, by a hash of its name (a name not in UTF-8, as an old archive's
    Latin-1 names are, by its bytes as UTF-8 shows them: it was a UnicodeEncodeError)."""
    from ..train.manifests import name_pct

    return name_pct(os.fsencode(name).decode("utf-8", "backslashreplace")) < pct


def items_from(specs: list[str], role: str, keyword: str) -> list:
    """BankItems of one role from files, directories and JSONL manifests."""
    from ..train.kwbank import BankItem
    from ..train.manifests import EVAL_SPLITS
    from ..train.words import contains_keyword
    from .common import expand_inputs

    items = []
    for spec in specs:
        path, weight = _split_weight(spec)
        if not path.exists():
            raise SpeechseqError(f"{path}: no such file or directory")
        if path.suffix.lower() == ".jsonl":
            rows, others, before = _manifest_rows(path), [], len(items)
            for r in rows:
                if r.get("split") in EVAL_SPLITS:
                    continue  # evaluation audio is never trained on
                text = str(r.get("text") or "")
                if role in ("neg", "bg") and contains_keyword(text, keyword):
                    continue  # audio without the keyword, as mixed in (and counted in validation's false accepts)
                offset, end = _row_segment(r)  # a segment of a long file: its own clip, held out by its own name
                held = r["heldout"] if "heldout" in r else _val(r["audio_filepath"] + (
                    "" if offset is None else f"@{offset:g}"))
                if held and role == "neg" and r.get("kind") == "sound-alike":
                    # validation counts false accepts per hour of ordinary words and phrases: mixes of held-out
                    # sound-alikes ("amalia" for "amelia") set thresholds of 0.95-0.98 that missed most clips
                    continue
                item = BankItem(str(path.parent / r["audio_filepath"]), ("val_" + role) if held else role, weight,
                                r.get("engine", path.parent.name), synthetic="engine" in r, text=text,
                                offset=offset, end=end, stream=str(path))
                if role == "pos" and text.strip() and not _says_keyword(text, keyword):
                    others.append(item)  # a manifest of several words (the Precise set's): not the keyword's clips
                else:
                    items.append(item)
            items += _other_words(path, len(rows), others, keyword, kept=len(items) - before)
        else:
            if path.is_dir() and any((path / m).is_file() for m in ("positives.jsonl", "negatives.jsonl")):
                # read as recordings, its audio/ is the keyword's clips and the negatives alike, all of one role
                raise SpeechseqError(f"{path}: a `speechseq synth keyword` folder (positives.jsonl, negatives.jsonl "
                                     f"and their clips in one audio/ folder): give it as --synth {path}, which "
                                     f"trains its keyword clips as positives and the rest as negatives (read as "
                                     f"recordings, every clip in it would be {_ROLE_NAMES[role]})")
            for f in expand_inputs([str(path)]):
                items.append(BankItem(str(f), ("val_" + role) if _val(str(f)) else role, weight, path.name,
                                      stream=str(path)))
    return items


_ROLE_NAMES = {"pos": "a keyword clip", "neg": "a negative", "bg": "a background"}


def _says_keyword(text: str, keyword: str) -> bool:
    """Whether a manifest row's `text` says the keyword, as typed or as `synth keyword` writes its clips' texts
    (normalized: "r two d two" for r2d2, "cafe" for café, "hey mister robot" for "hey mr robot")."""
    from ..text import normalize
    from ..train.words import contains_keyword

    return contains_keyword(text, keyword) or contains_keyword(normalize(text), normalize(keyword))


def _other_words(path: Path, n_rows: int, others: list, keyword: str, kept: int) -> list:
    """The rows of a --positives manifest whose text says other words than the keyword (`others`, BankItems) to
    train on: none, with a warning counting them, where other rows say it (`kept`, a manifest of several words, as
    the Precise set's); all of them, with a warning, where none does (its texts spell the keyword otherwise)."""
    if not others:
        return []
    said = sorted({i.text for i in others}, key=[i.text for i in others].index)
    shown = f"{', '.join(map(repr, said[:2]))}{', ...' if len(said) > 2 else ''}"
    if not kept:
        warn(f"{path}: {'its one row does not say' if n_rows == 1 else f'none of its {n_rows} rows says'} "
             f"{keyword!r} ({shown}): all trained on as its recordings (a "
             f"manifest of another keyword's clips trains a detector of that keyword)")
        return others
    warn(f"{path}: {len(others)} of its {n_rows} rows {'says' if len(others) == 1 else 'say'} other words than "
         f"{keyword!r} ({shown}): left out of the "
         f"positives")
    return []


def _given_both_ways(items: list) -> None:
    """An error when files are given both as keyword clips and as audio without the keyword (the course's raw_data
    given as --positives beside its raw_data/negatives): each would be trained as the keyword and as not it."""
    def clip(i) -> tuple:  # a file, or a segment of one (a manifest row's offset): other segments are other audio
        return os.path.realpath(i.path), i.offset, i.end

    keyword = {clip(i) for i in items if i.role.endswith("pos")}
    both = {clip(i): i for i in items if not i.role.endswith("pos") and clip(i) in keyword}
    if both:
        options = sorted({"--negatives" if i.role.endswith("neg") else "--backgrounds" for i in both.values()})
        first = min(i.path for i in both.values())
        raise SpeechseqError(f"{len(both)} file{'s are' if len(both) > 1 else ' is'} given both as keyword recordings "
                             f"(--positives) and as audio without the keyword ({', '.join(options)}), such as "
                             f"{first}: a clip is one or the other (give --positives the keyword's recordings alone)")


def _manifest_rows(path: Path) -> list[dict]:
    """The rows of a JSONL manifest; a line that is not a JSON object with an "audio_filepath" is one error naming
    it."""
    from ..train.manifests import json_objects

    try:
        lines = split_lines(path.read_text(encoding="utf-8-sig"))  # -sig: a byte order mark is no part of line 1
    except UnicodeDecodeError as err:
        raise SpeechseqError(f"{path}: not a UTF-8 text file (byte {err.start}): a manifest holds one JSON object "
                             f"a line") from None
    rows = []
    for n, r in json_objects(lines, path):
        if not isinstance(r.get("audio_filepath"), str) or not r["audio_filepath"].strip():
            raise SpeechseqError(f"{path}:{n}: no \"audio_filepath\" (the clip's path, relative to the manifest or "
                                 f"absolute)")
        if r.get("offset") not in (None, ""):  # NeMo's segments, as speechseq.train.manifests reads them
            for key, low in (("offset", 0.0), ("duration", None)):
                value = r.get(key)
                if key == "offset" or value not in (None, ""):
                    number = _seconds(value)
                    if number is None or (number < low if low is not None else number <= 0):
                        raise SpeechseqError(f"{path}:{n}: {key} {value!r}: not a number of seconds "
                                             f"{'>= 0' if low is not None else '> 0'} (a segment of the file: "
                                             f"[offset, offset + duration), to its end without a duration)")
        rows.append(r)
    return rows


def _seconds(value) -> float | None:
    """A manifest's number of seconds (a JSON number or a string of one), None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _row_segment(row: dict) -> tuple[float | None, float | None]:
    """(offset, end) in seconds of the segment a manifest row names (NeMo's offset and duration; checked by
    `_manifest_rows`), (None, None) for a row of the whole file: a duration alone describes the file, as
    speechseq.train.manifests reads it."""
    if row.get("offset") in (None, ""):
        return None, None
    offset = _seconds(row["offset"])
    duration = None if row.get("duration") in (None, "") else _seconds(row["duration"])
    return offset, None if duration is None else offset + duration


def generated_backgrounds(items: list, seconds: int = 60) -> dict[str, tuple]:
    """Generated backgrounds for the bank (name -> (audio, role)): white, pink and brown noise, and babble
    of the training negatives given as whole files (up to 6 clips a second at once,
    `speechseq.train.augment.babble`), as training backgrounds. When the data hold no held-out background
    recording ("val_bg"), a second draw of the noises serves as validation backgrounds, so that every run is
    validated: its held-out clips are mixed over them and the false rejects at the --target-fa threshold pick
    the best epoch. The training draws are the same either way (same seed, drawn first).

    Session 26, "amelia" from `make_synth_data.py keyword` clips alone (no --backgrounds, default recipe,
    CPU), the 223 real Precise amelia clips missed at <= 2 / 0.5 / 0 false accepts per hour of unseen
    synthetic sentences (scripts/detector_tradeoff.py): without babble 18.8 / 22.9 / 44.4 % and 17.9 / 23.3 /
    54.7 % (seeds 0, 1); with it 15.2 / 16.1 / 22.4, 15.2 / 23.8 / 36.3, 19.7 / 23.3 / 25.6 and 22.4 / 25.6
    / 30.5 % (seeds 0, 1 on one thread, 0, 1 on two): a gain at the strict end only. Babble of the held-out
    negatives as validation background was tried and dropped: those negatives are the keyword's sound-alikes
    ("amalia", "emilia"), whose babble made validation pick thresholds of 0.93-0.98 where the sentences'
    0.5/h needs 0.61."""
    import numpy as np

    from ..train.augment import babble, coloured_noise

    roles = {it.role for it in items}
    rng = np.random.default_rng(3)
    n = 16000 * seconds
    out = {k: (coloured_noise(k, n, rng) * 0.05, "bg") for k in ("white", "pink", "brown")}
    # files given whole: a segment's file (a manifest row's offset) may hold the keyword elsewhere in it
    negatives = [it.path for it in items if it.role == "neg" and it.offset is None and it.end is None]
    if negatives:
        out["babble"] = (babble(negatives, seconds, rng), "bg")
    if "val_bg" not in roles:
        out.update({f"val-{k}": (coloured_noise(k, n, rng) * 0.05, "val_bg") for k in ("white", "pink", "brown")})
    return out


def synthesized(keyword: str, where: Path, engines: tuple[str, ...] | None, text: tuple[str, ...],
                workers: int) -> Path:
    """`where` (OUT/synth): the keyword by every installed voice (of `engines`), with as many negatives (phrases of
    the `text` files among them), as `speechseq synth keyword` makes them with its defaults; clips already there are
    not made again. The `engines` in the order given, each once (keyword_set), as `synth keyword --engines` takes
    them and the bank records them (synthesized_again): their order is the voices', which draw the clips' speeds and
    pitches ("pico flite" made as "flite pico" is another set; a run made before session 53 synthesized and recorded
    them sorted, the order it is made again in)."""
    from ..train.synth_sets import KeywordSet, VoiceOptions, keyword_set

    texts = {}
    for f in dict.fromkeys(text):  # each read once, checked as it is read: a pipe (<(zcat c.gz)) can be read once
        if not Path(f).exists():
            raise SpeechseqError(f"--synth-text: {f}: no such file")
        texts[f] = read_text_file(f, "--synth-text")
    say(f"no --synth or --positives: synthesizing \"{keyword}\" and negatives into {where} "
        f"(speechseq synth keyword; a rerun makes only what is missing)")
    keyword_set(keyword, where, KeywordSet(text=text), VoiceOptions(engines=engines, workers=max(1, workers)), say=say,
                file_texts=texts)
    return where


def synthesized_again(keyword: str, where: Path, meta: dict, out: Path, workers: int) -> Path:
    """`where` (OUT/synth) on a rerun that finds no positives.jsonl there: a synthesis into it cut short while its
    manifests were put in place leaves none (train/synth_sets.py _write_manifests), and the rerun took the run for
    one on other data ("... or delete OUT to start over"). Made again with the options this run's first command
    synthesized it with (its bank's meta["synthesis"]), the clips already there kept: the same set, which the bank's
    check of the files then finds, and the run resumes. One line saying what to do where the bank does not record
    them (a bank made before it did)."""
    missing = where / "positives.jsonl"
    asked = meta.get("synthesis")
    if asked is None:
        raise SpeechseqError(f"{missing} is missing (a synthesis into {where} cut short leaves none): finish it (the "
                             f"`speechseq synth keyword --keyword {keyword!r} --out {where}` it was made with, "
                             f"again) to resume this run, or use a new --out")
    text = tuple(str(out / f[len("OUT/"):]) if f.startswith("OUT/") else f for f in asked.get("text", []))
    say(f"{missing} is missing (a synthesis cut short): making the set again as this run's first command did "
        f"(the clips already there are kept)")
    return synthesized(keyword, where, tuple(asked["engines"]) if asked.get("engines") else None, text, workers)


def _resumed_on(meta: dict) -> str:
    """The end of the line saying that a rerun's synthesis options go unused: the data the run resumes on, with the
    engines its bank records (in their order, which is another set than the same engines in another order)."""
    engines = (meta.get("synthesis") or {}).get("engines")
    made = f" with --synth-engines {' '.join(engines)}" if engines else ""
    return f" (the run resumes on the data its first command synthesized{made}; a new --out synthesizes with them)"


def _synthesized_here(meta: dict) -> bool:
    """Whether the run whose bank has `meta` trained on OUT/synth (synthesized there, no --synth or --positives): one
    on other data rerun without them was sent to finish a synthesis it never made. A bank built before the sources
    were recorded is taken to have."""
    sources = meta.get("sources")
    return sources is None or "OUT/synth/positives.jsonl" in sources.get("--positives", [])


def run(args: argparse.Namespace) -> int:
    require_torch("training")

    from ..nn.detector import DetectorConfig
    from ..train.detector import trained_weights

    checked_device(args.device)
    range_db = guard_range(args.range_db) or 0.0
    warps = sorted({a for a in args.warps if a != 1.0})  # each in WARP_RANGE: the parser checked them
    model_cfg = DetectorConfig()
    if args.init == "":  # a variable left unset in a script: not a run from random weights without a word
        raise SpeechseqError("--init '': an empty path names no detector (leave --init out to start from random "
                             "weights)")
    if args.init:
        try:
            model_cfg, _ = trained_weights(args.init)
        except (OSError, ValueError) as err:
            raise SpeechseqError(f"--init: {err}") from None
        was = _init_keyword(args.init)
        if was is not None and same_keyword(was) != same_keyword(args.keyword):
            warn(f"--init {args.init} is a detector of {was!r}, not {args.keyword!r}: its weights are only a starting "
                 f"point, trained here to {args.keyword!r} (to fit a detector to a voice, --init one of the same keyword)")
    for spec in [*args.positives, *args.negatives, *args.backgrounds]:
        _split_weight(spec)  # a bad weight is an error before anything is made
    check_keyword_file(args.keyword, Path(args.out), f"{keyword_file_name(args.keyword)}.onnx", "its model")
    # held before the run OUT holds is read (a second command into it is refused) and written to before the synthesis
    # and the bank (not at the first checkpoint); an error of the input leaves no OUT, nor a lock, behind
    with held_out(args.out) as out:
        return _train(args, out, model_cfg, range_db, warps)


def _train(args: argparse.Namespace, out: Path, model_cfg, range_db: float, warps: list[float]) -> int:
    """`run` once this process holds OUT: the data checked against the run it holds, the bank built, the detector
    trained and exported."""
    from ..train.detector import TrainRecipe, train_detector
    from ..train.export_detector import export_checkpoint
    from ..train.kwbank import BankConfig, build_bank, reweight_sources, save_bank
    from ..train.kwmix import MixConfig
    from ..train.synth import NATURAL_ENGINES

    before = last_run(out)
    recipe = TrainRecipe(batch=args.batch, steps_per_epoch=args.steps, epochs=args.epochs, lr=args.lr,
                         fa_target_per_h=args.target_fa, seed=args.seed, finetune=_init_file(args.init),
                         finetune_sha256=_init_sha256(args.init))
    if before:
        same_run(out, before, args.keyword, {})  # the keyword, before anything is synthesized for it
        same_settings(out, read_last(out), recipe, range_db, model_cfg, args.follow_share)
        args.keyword = _first_spelling(out, before, args.keyword)
    pos, neg = list(args.positives), list(args.negatives)
    synth, made, bank_path = list(args.synth), out / "synth", out / "bank.npz"
    synthesizes, auto = False, not synth and not args.positives
    # the synthesis options as the bank records them: a rerun of the same command resumes without a word
    asked = {"engines": list(dict.fromkeys(args.synth_engines)) if args.synth_engines else None,
             "text": [run_path(f, out) for f in args.synth_text]}
    bank = cached_bank(bank_path) if bank_path.exists() else None
    if auto:
        if bank is None:
            synth, synthesizes = [synthesized(args.keyword, made, tuple(args.synth_engines or ()) or None,
                                              tuple(args.synth_text), args.workers)], True
        elif (made / "positives.jsonl").exists():
            synth = [made]  # a rerun: the bank holds their features
        else:   # made again only for this keyword's run that synthesized it (else same_run says what it holds)
            same_run(out, bank["meta"], args.keyword, {})
            if _synthesized_here(bank["meta"]):
                synth = [synthesized_again(args.keyword, made, bank["meta"], out, args.workers)]
    for d in args.synth:   # a folder of another keyword's clips would train a detector of that keyword
        _check_synth_keyword(Path(d), args.keyword)
    for d in synth:
        pos.append(str(Path(d) / "positives.jsonl"))
        neg.append(str(Path(d) / "negatives.jsonl"))
    items = []
    for specs, role, option in ((pos, "pos", "--positives"), (neg, "neg", "--negatives"),
                                (args.backgrounds, "bg", "--backgrounds")):
        for spec in specs:
            got = items_from([spec], role, args.keyword)
            if got and all(i.role.startswith("val_") for i in got):  # one file, or a few whose names all hash low
                warn(f"{option} {spec}: its {len(got)} file{'s are' if len(got) > 1 else ' is'} held out for "
                     f"validation (15 % of files by a hash of the name, or manifest rows marked heldout) and never "
                     f"trained on: give more files" + (", or cut a long recording into several" if role == "bg"
                                                        else ""))
            items += got
    _given_both_ways(items)
    sources = {"--positives": _resolved(pos, out), "--negatives": _resolved(neg, out),
               "--backgrounds": _resolved(args.backgrounds, out)}
    if not synthesizes and (args.synth_engines or args.synth_text) and not (
            auto and bank is not None and bank["meta"].get("synthesis") == asked):
        warn("--synth-engines and --synth-text shape the synthesis that runs without --synth and --positives, "
             "before OUT/bank.npz exists: ignored here" + (_resumed_on(bank["meta"]) if auto and bank is not None
                                                           else ""))
    for meta in ([bank["meta"]] if bank is not None else []) + ([before] if before else []):
        same_run(out, meta, args.keyword, sources)
    if bank is not None:
        args.keyword = _first_spelling(out, bank["meta"], args.keyword)
    listed, digest = listed_files(items), content_digest(items)
    if bank is not None and bank["meta"].get("listed", listed) != listed:  # files added to (or taken from) a folder
        was = bank["meta"]["listed"]
        raise SpeechseqError(f"{out} holds a run whose data was built from " + ", ".join(
            f"{was.get(r, 0)} {r} file{'s' * (was.get(r, 0) != 1)}" for r in sorted(listed))
            + "; the same folders now hold " + ", ".join(
            f"{listed[r]} {r}" for r in sorted(listed)) + ": use a new --out to train on the files as they are, "
            "or rerun with the files as they were to resume")
    if bank is not None and bank["meta"].get("digest", digest) != digest:  # as many files, other ones
        raise SpeechseqError(f"{out} holds a run whose data was built from other files than the folders now hold "
                             f"(as many, but some replaced or changed): use a new --out to train on the files as "
                             f"they are, or rerun with the files as they were to resume")
    roles = {i.role for i in items}
    for need in ("pos", "neg"):
        noun = "positives" if need == "pos" else "negatives"
        if need not in roles and f"val_{need}" in roles:
            raise SpeechseqError(f"no training {noun}: the {sum(i.role == 'val_' + need for i in items)} file(s) "
                                 f"given are all held out for validation (15 % of files, by a hash of the name): "
                                 f"give more")
        if need not in roles:
            raise SpeechseqError(f"no training {noun}: give --synth or --{noun}")
    if args.init and args.positives and not args.backgrounds:
        warn("--init with your own --positives but no --backgrounds: the recordings' room and microphone become a cue "
             "that only keywords carry. Give real speech without the keyword as --backgrounds (README: without them, "
             "fine-tunes here fired twice as often on real speech, or missed twice as many real clips).")
    elif not args.backgrounds:
        warn("no --backgrounds: the clips are mixed into generated noise and babble only. Recordings of the rooms "
             "and speech the detector will hear (even an hour of talk radio) make one that fires less on real speech.")
    if bank is None:
        bank = build_bank(items, BankConfig(), args.workers, extra_arrays=generated_backgrounds(items),
                          meta={"keyword": args.keyword, "sources": sources, "listed": listed,
                                "digest": digest, **({"synthesis": asked} if synthesizes else {})},
                          progress=draws_bars())
        for need, option in (("pos", "--positives"), ("neg", "--negatives")):
            if f"{need}/q" not in bank:  # not cached: a rerun with the files replaced builds the bank again
                noun = "positives" if need == "pos" else "negatives"
                raise SpeechseqError(f"no training {noun} left: none of the {sum(i.role == need for i in items)} "
                                     f"file(s) for training among {option}{' and --synth' if synth else ''} could "
                                     "be used (each is reported above, 'skipped'): replace them")
        save_bank(bank, bank_path)
    if "files" in bank["meta"]:
        print(data_line(bank["meta"]), file=sys.stderr)
    long = long_negatives(bank, MixConfig().clip_s)
    if long:
        warn(f"{long} negative clip(s) last longer than a {MixConfig().clip_s:g} s training mix: seldom or never mixed "
             "in. Give long recordings (a room, talk, radio) as --backgrounds, short words and phrases as --negatives")
    if args.natural_weight != 1.0:  # applied to the cached bank, so that a rerun may change it
        bank = reweight_sources(bank, "pos", {e: args.natural_weight for e in NATURAL_ENGINES})
    missing = [r for r in ("val_pos", "val_neg", "val_bg") if f"{r}/q" not in bank]
    if missing:
        warn(f"no held-out {', '.join(m[4:] for m in missing)} clips to validate on (15 % of files by name, or "
             "manifest rows marked heldout): the lowest training loss picks the checkpoint and the threshold stays 0.5"
             + ("; --average and --warps are not applied either (best.pt is exported)" if args.average > 0 or warps
                else ""))
    elif few_held_out(bank):
        warn(few_held_out(bank) + f": the threshold it chooses, and the epoch it keeps, rest on too few to trust. Give "
             f"more (15 % of files are held out), and choose the threshold on recordings of your own: speechseq eval "
             f"detector --model {out / keyword_file_name(args.keyword)}.onnx --positives DIR --negatives DIR "
             f"--save-threshold")
    train_detector(bank, out, args.keyword, recipe, model_cfg, MixConfig(range_db=range_db, follow_share=args.follow_share), args.device,
                   progress=draws_bars(), average=args.average, warps=warps)
    best = out / ("final.pt" if (args.average > 0 or warps) and not missing else "best.pt")
    if best.exists():
        for path in export_checkpoint(best, out / f"{keyword_file_name(args.keyword)}.onnx"):
            print(f"wrote {path}")
            print(summary(path, synthetic=any(i.synthetic for i in items if i.role == "val_pos")))
    return 0


def cached_bank(path: Path) -> dict:
    """OUT/bank.npz as a rerun reads it; one line naming it when it is cut short or damaged."""
    from ..train.kwbank import load_bank

    try:
        return load_bank(path)
    except PermissionError:
        raise  # not damage: the command's one line for a file it may not read
    except Exception as err:  # noqa: BLE001 - cut short, not a zip, not a bank: the same advice
        why = err.strerror if isinstance(err, OSError) and err.strerror else str(err).split(". ")[0]
        resumes = " (the training resumes from last.pt)" if (path.parent / "last.pt").exists() else ""
        raise SpeechseqError(f"{path}: cannot read the feature bank, cut short or damaged ({why}): delete it to "
                             f"build it again from the same files{resumes}") from None


def long_negatives(bank: dict, clip_s: float) -> int:
    """How many negative clips (training and validation) are longer than a mix of `clip_s` seconds."""
    import numpy as np

    return sum(int((np.diff(bank[f"{role}/offsets"]) > clip_s * 100).sum())
               for role in ("neg", "val_neg") if f"{role}/offsets" in bank)


def listed_files(items) -> dict[str, int]:
    """Files the sources hold, by role (positive, negative, background; their validation share included): what a
    rerun compares with the bank's, so that files added to a folder since are not silently left out."""
    names = {"pos": "positive", "neg": "negative", "bg": "background"}
    out: dict[str, int] = {}
    for item in items:
        role = names[item.role.removeprefix("val_")]
        out[role] = out.get(role, 0) + 1
    return out


def content_digest(items) -> str:
    """One digest of the clips' roles, file names and bytes: what a rerun compares with its bank's, so that files
    replaced by others (as many, under other or the same names) are not silently trained on as the old ones.
    Folders are named by nothing but their files, so a run moved with its data still matches."""
    import hashlib

    lines = []
    for item in items:
        try:
            data = Path(item.path).read_bytes()
        except OSError:
            data = b""  # a file that cannot be read: the bank reports it; its name still counts
        segment = "" if item.offset is None else f"\t{item.offset:g}-{'' if item.end is None else f'{item.end:g}'}"
        lines.append(f"{item.role}\t{Path(item.path).name}\t{hashlib.sha1(data).hexdigest()}{segment}")
    return hashlib.sha256(os.fsencode("\n".join(sorted(lines)))).hexdigest()


def data_line(meta: dict) -> str:
    """What a bank was built from, in files (`build_bank`'s meta): the counts a user checks against the folders."""
    n = meta.get("files", {})
    pos, neg, bg = (n.get(r, 0) + n.get(f"val_{r}", 0) for r in ("pos", "neg", "bg"))
    return (f"data: {pos} positive{'s' * (pos != 1)} ({n.get('val_pos', 0)} held out), "
            f"{neg} negative{'s' * (neg != 1)} ({n.get('val_neg', 0)} held out), "
            f"{bg} background file{'s' * (bg != 1)}"
            + (f" ({n['val_bg']} held out)" if n.get("val_bg") else "")
            + f"; {meta.get('failed', 0)} file{'s' * (meta.get('failed', 0) != 1)} skipped")


# fewer held-out keyword (or negative) clips than this make a threshold validation chooses from them untrustworthy
MIN_VAL_CLIPS = 20
MIN_VAL_RECORDED_H = 0.25  # held-out background recordings that count false accepts on their own (eval's 15 minutes)


def few_held_out(bank: dict) -> str | None:
    """What is too little in a bank's validation share, or None: fewer than MIN_VAL_CLIPS held-out keyword clips,
    or as few held-out negatives without MIN_VAL_RECORDED_H of held-out background recordings (generated noise
    aside) to count false accepts on."""
    import numpy as np

    roles = bank["meta"].get("roles", {})
    n_pos, n_neg = (roles.get(r, {}).get("clips", 0) for r in ("val_pos", "val_neg"))
    recorded = 0.0
    if "val_bg/offsets" in bank:
        names = roles.get("val_bg", {}).get("sources", [])
        real = np.array([not str(names[i]).startswith("val-") for i in bank["val_bg/source"]], dtype=bool)
        recorded = float(np.diff(bank["val_bg/offsets"])[real].sum()) / 100 / 3600
    if n_pos >= MIN_VAL_CLIPS and (n_neg >= MIN_VAL_CLIPS or recorded >= MIN_VAL_RECORDED_H):
        return None
    text = (f"validation holds {n_pos} held-out keyword clip{'s' * (n_pos != 1)} and {n_neg} held-out negative "
            f"clip{'s' * (n_neg != 1)}")
    return text + (f" with {recorded:.2f} h of held-out background recordings" if recorded else "")


# the options a run's later epochs must share with its first (--epochs, --average, --warps and --natural-weight
# may change on a rerun: they extend the run, or act on what it made)
RERUN_OPTIONS = {"batch": "--batch", "steps_per_epoch": "--steps", "lr": "--lr", "fa_target_per_h": "--target-fa",
                 "seed": "--seed", "finetune": "--init"}


def same_settings(out: Path, ck: dict | None, recipe, range_db: float, model_cfg,
                  follow_share: float = 0.0) -> None:
    """An error unless the run in `out` (its last.pt, `ck`) was made with these options and this model: a rerun
    would train its later epochs otherwise (and on a finished run ignore them), or fail on weights of another size."""
    if not ck:
        return
    fix = (f"rerun with its options to resume it (--epochs, --average, --warps and --natural-weight may change), "
           f"use a new --out, or delete {out} to start over")
    extra = ck.get("extra") or {}
    was, now = dict(extra.get("recipe") or {}), recipe.to_dict()
    if "range_db" in (extra.get("mix") or {}):
        was["range_db"], now["range_db"] = extra["mix"]["range_db"], range_db
    if extra.get("mix") is not None:   # a run's mixes before follow_share existed followed no keyword at once
        was["follow_share"], now["follow_share"] = extra["mix"].get("follow_share", 0.0), follow_share
    for key, option in {**RERUN_OPTIONS, "range_db": "--range-db", "follow_share": "--follow-share"}.items():
        if key not in was:
            continue
        a, b, shown = was[key], now[key], (_shown(was[key]), _shown(now[key]))
        if key == "finetune" and "finetune_sha256" in was:  # the same file however it is named: its bytes
            a, b = was["finetune_sha256"], now["finetune_sha256"]
            shown = tuple(f"{name} (sha256 {sha[:12]})" if sha else name for name, sha in zip(shown, (a, b)))
        elif key == "finetune":  # a run before them: its file's path, resolved
            a, b = _resolved_init(a), _resolved_init(b)
        if a != b:
            raise SpeechseqError(f"{out} holds a run made with {option} {shown[0]}, not {shown[1]}: {fix}")
    before = ck.get("model_config") or {}
    for key, value in model_cfg.to_dict().items():
        if key in before and before[key] != value:
            raise SpeechseqError(f"{out} holds a detector of another model size ({key} {before[key]}, not {value}): "
                                 f"{fix}")


def _shown(value) -> str:
    """An option's value as a user types it: 0.002, 60, none."""
    return "none" if value in ("", None) else f"{value:g}" if isinstance(value, float) else str(value)


def _check_synth_keyword(folder: Path, keyword: str) -> None:
    """One line when the positives of a --synth folder (`synth keyword`'s positives.jsonl) say another keyword: no
    row's text holds this one ("hey robot" clips given for --keyword activate trained an activate.onnx of them)."""
    import json

    _check_synth_finished(folder, keyword)
    try:
        lines = (folder / "positives.jsonl").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return  # unreadable: said where the clips are read
    texts = []
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("text"), str):
            texts.append(row["text"])
    if texts and not any(_says_keyword(t, keyword) for t in texts):
        said = sorted(set(texts), key=texts.index)[:2]
        raise SpeechseqError(f"--synth {folder}: its keyword clips say {' / '.join(map(repr, said))}, not "
                             f"{keyword!r} (made by `speechseq synth keyword --keyword ...` for another keyword): give "
                             "the folder made for this one")


def _check_synth_finished(folder: Path, keyword: str) -> None:
    """One line when a --synth folder holds no finished `synth keyword` set, and what makes or finishes it: it was
    "DIR/positives.jsonl: no such file or directory", for a folder of clips whose synthesis was cut short too (its
    manifests are written last, train/synth_sets.py _write_manifests)."""
    import shlex

    made = f"speechseq synth keyword --keyword {shlex.quote(keyword)} --out {shlex.quote(str(folder))}"
    if not folder.exists():
        raise SpeechseqError(f"--synth {folder}: no such folder (`{made}` makes one)")
    if not folder.is_dir():
        raise SpeechseqError(f"--synth {folder}: not a folder: give the folder `speechseq synth keyword --out DIR` "
                             "made")
    if not (folder / "positives.jsonl").is_file():
        raise SpeechseqError(f"--synth {folder}: no positives.jsonl there, so no finished `speechseq synth keyword` "
                             f"set (one cut short leaves none): finish it by running `{made}` again, with the options "
                             "it was made with (a rerun makes only what is missing)")


def _first_spelling(out: Path, meta: dict, keyword: str) -> str:
    """The keyword a resumed run goes on with: as the run in `out` (its bank's or last.pt's `meta`) recorded it,
    where `same_run` found this command's spelling the same keyword ("YES" for "yes"), so that its model keeps one
    file name and its metadata one keyword; said in a line where the spellings differ."""
    kept = meta.get("keyword") or keyword
    if kept != keyword:
        warn(f"--keyword {keyword!r}: {out} holds the run of {kept!r}, the same keyword: resumed under its spelling "
             f"(the model stays {keyword_file_name(kept)}.onnx)")
    return kept


def _init_file(init: str | None) -> str:
    """The file --init reads (a run directory's best.pt) as the command named it, a path under the home folder as
    ~/...: what a run records, in its model's metadata too, so that a model given to others holds no path of this
    machine's (beside the file's sha256, `_init_sha256`, which a rerun compares) ("" without --init)."""
    if not init:
        return ""
    p = Path(init)
    p = p / "best.pt" if p.is_dir() else p
    home = Path(os.path.expanduser("~"))
    if p.is_absolute() and home.is_absolute() and p.is_relative_to(home):
        return f"~/{p.relative_to(home).as_posix()}"
    return str(p)


def _init_sha256(init: str | None) -> str:
    """The sha256 of the file --init reads ("" without --init): the start a run records, wherever the file lies."""
    import hashlib

    return hashlib.sha256(Path(_init_file(init)).expanduser().read_bytes()).hexdigest() if init else ""


def _resolved_init(recorded: str | None) -> str:
    """The file a run recorded before it recorded its bytes (resolved then, or as typed in older runs) resolved:
    what its rerun compares ("" without --init)."""
    if not recorded:
        return ""
    p = Path(recorded).expanduser()
    return str((p / "best.pt" if p.is_dir() else p).resolve())


def _init_keyword(init: str) -> str | None:
    """The keyword of --init's detector as its file records it (None where it does not)."""
    import torch

    from ..runtime.onnx import read_metadata

    p = Path(init)
    if p.suffix == ".onnx":
        return read_metadata(p).get("keyword")
    ck = torch.load(p / "best.pt" if p.is_dir() else p, map_location="cpu", weights_only=False)
    return (ck.get("extra") or {}).get("keyword")


def _resolved(specs: list[str], out: Path) -> list[str]:
    """PATH[:W] specs as absolute paths with their weights (what a run's bank was built from, to compare on a rerun)."""
    return [run_path(path, out) + (f":{weight:g}" if weight != 1 else "") for path, weight in map(_split_weight, specs)]


def summary(model: str | Path, synthetic: bool = True) -> str:
    """What validation measured of an exported model, and where its real test lies (with `synthetic` voices in
    the data, a warning that they flatter it)."""
    from ..metrics import threshold_text
    from ..runtime.onnx import read_metadata

    meta = read_metadata(model)
    m, th = meta.get("metrics", {}), meta.get("threshold")
    if "val_frr_at_fa" not in m:
        return f"threshold {th} (not validated)"
    text = (f"threshold {threshold_text(th)}: on held-out clips it missed {100 * m['val_frr_at_fa']:.1f} % at "
            f"{m['val_fa_per_h']:.2f} false accepts per hour of validation mixes "
            f"({meta.get('checkpoint') or 'epoch ' + str(meta.get('checkpoint_epoch'))}).")
    if synthetic:
        text += (f" Held-out synthetic voices flatter a detector: measure it on real recordings of the keyword, "
                 f"`speechseq eval detector --model {model} --positives DIR --negatives DIR`.")
    return text
