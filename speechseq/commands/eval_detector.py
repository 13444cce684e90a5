"""`speechseq eval detector`: false rejects on keyword recordings, false accepts per hour on audio
without the keyword, a DET curve, and the threshold for a target false-accept rate.

Positives: each recording is scored by the maximum smoothed posterior over it, after padding
(0.5 s before, 1 s after, pink noise at -70 dBFS) so that the moments after the keyword are seen.
It counts as detected at threshold th when that maximum reaches th (an event starts).
Negatives: each file is streamed as a live input would be, followed by the second of quiet noise
`detect` hears after a file (the posterior rises only after a word ends: a keyword-like word at a
clip's end fires there), and the events of the runtime's trigger (smoothing, threshold, peak,
refractory time) are counted at every threshold. The hours are the files' own audio.
Ctrl+C (or SIGTERM) stops it with the summary of the files measured so far ("interrupted": true
in it; no DET curve drawn, no threshold saved), and exit code 130.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SpeechseqError
from .common import (IMAGE_SUFFIXES, HelpFormatter, add_range_arg, bounded, expand_inputs, guard_range, names_stdin,
                     option_file, output_file, print_json_line, progress, warn, writable)

if TYPE_CHECKING:  # numpy where recordings are measured: `speechseq --help` builds this parser without it
    import numpy as np


@functools.lru_cache(maxsize=1)
def thresholds() -> np.ndarray:
    """The grid every threshold is measured at: 0.02 ... 0.99, then finer up to 0.9999 (a fine-tuned model's
    posteriors saturate: speechseq.metrics). Made on first use: it is a numpy array, which `speechseq --help`
    does without."""
    from ..metrics import threshold_grid

    return threshold_grid(0.02, 0.005)


EXAMPLES = """examples:
  speechseq eval detector --model models/activate.onnx --positives my-clips --negatives my-room --det det.png
  speechseq eval detector --model runs/amelia/amelia.onnx --positives ../shared/data/precise/amelia \\
      --negatives ../shared/data/kathleen/manifest.jsonl --where split=dev --target-fa 0.5
  speechseq eval detector --model runs/amelia/amelia.onnx --positives my-clips --negatives my-room \\
      --target-fa 0.5 --save-threshold     # my-room: 15 minutes or more of `speechseq record --background`"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("detector", epilog=EXAMPLES, help="false rejects, false accepts per hour and a DET curve of a detector",
                       description=__doc__, formatter_class=HelpFormatter)
    p.add_argument("--model", required=True, action="append", metavar="MODEL",
                   help="detector .onnx (one a run: the keyword it is measured for)")
    p.add_argument("--positives", nargs="+", action="extend", default=[], metavar="PATH",
                   help="recordings of the keyword: files, directories or JSONL manifests (repeatable)")
    p.add_argument("--negatives", nargs="+", action="extend", default=[], metavar="PATH",
                   help="audio without the keyword (long files or many clips): files, directories or JSONL manifests "
                        "(repeatable)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="keep only manifest rows with this field value (repeatable; e.g. text=amelia, split=dev); "
                        "applies to every manifest given, --positives' and --negatives' alike")
    p.add_argument("--target-fa", type=bounded(float, ge=0), default=0.5,
                   help="false accepts per hour for the suggested threshold")
    p.add_argument("--threshold", type=bounded(float, gt=0, lt=1), help="threshold to report at (default: the model's)")
    p.add_argument("--det", metavar="PNG", help="draw the DET curve into this file (not -: a picture is not written "
                                                "to standard output)")
    add_range_arg(p)
    p.add_argument("--save-threshold", action="store_true",
                   help="write the threshold for --target-fa into the model file (its metadata; the old one is kept "
                        "as threshold_previous), so that detect and listen use it by default: for a model fitted "
                        "to your voice, measured on recordings of yours that it was not trained on (it needs a "
                        f"--model file you may write, --positives and {60 * MIN_SAVE_HOURS:.0f} minutes or more of "
                        "--negatives, checked before the evaluation)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object (on standard output)")
    p.set_defaults(func=run)


def collect(paths: list[str], where: list[str]) -> list[Path]:
    """Audio files from files, directories and JSONL manifests (rows filtered by KEY=VALUE). A path that
    does not exist, a manifest line that is not a JSON object or has no audio_filepath is an error; an
    audio file that cannot be read is found (and skipped) later."""
    filters = []
    for w in where:
        if "=" not in w:
            raise SpeechseqError(f"--where takes KEY=VALUE, got {w!r}")
        filters.append(tuple(w.split("=", 1)))
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if not p.exists() and not names_stdin(raw):  # (a '-' is said by expand_inputs: no standard input)
            raise SpeechseqError(f"{p}: no such file or directory")
        if _is_manifest(p):
            out += _manifest_rows(p, filters)
        else:
            out += expand_inputs([raw])
    return out


def _is_manifest(path: Path) -> bool:
    return path.suffix.lower() == ".jsonl" and path.is_file()


class RowAudio(type(Path())):
    """The audio path of a manifest row, `row` naming the row ("MANIFEST:LINE"): a file that cannot be read is
    reported with it, as `eval recognizer` reports a row (a path derived from this one, its parent say, names none)."""

    row = ""


def row_of(path: Path) -> str:
    """"MANIFEST:LINE" of a path read from a manifest row (RowAudio), "" for one named on the command line."""
    return getattr(path, "row", "")


def _manifest_rows(path: Path, filters: list[tuple[str, str]]) -> list[Path]:
    """The audio_filepath (relative to the manifest, or absolute) of each row matching every KEY=VALUE, each a
    RowAudio naming its row."""
    from ..train.manifests import json_objects

    out = []
    with open(path, "rb") as f:  # decoded line by line, so that a line that is not UTF-8 is named
        for lineno, row in json_objects((_utf8(raw, path, n) for n, raw in enumerate(f, 1)), path):
            if "audio_filepath" not in row:
                raise SpeechseqError(f"{path}:{lineno}: no audio_filepath (found {sorted(row)})")
            if all(_matches(row.get(k), v) for k, v in filters):
                audio = RowAudio(path.parent / str(row["audio_filepath"]))
                audio.row = f"{path}:{lineno}"
                out.append(audio)
    return out


def _utf8(raw: bytes, path: Path, lineno: int) -> str:
    try:  # a byte order mark is no part of line 1 (json.loads refused it: "not a JSON object"), as load_jsonl reads it
        return raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
    except UnicodeDecodeError as err:
        raise SpeechseqError(f"{path}:{lineno}: not UTF-8 text ({err.reason})") from None


def _matches(value: object, wanted: str) -> bool:
    """A manifest value against --where's text: a string as it is, any other value as the file spells it
    (heldout=true for `"heldout": true`) or as Python prints it (heldout=True)."""
    return str(value) == wanted or (not isinstance(value, str) and json.dumps(value) == wanted)


class Stopped(KeyboardInterrupt):
    """Ctrl+C (or SIGTERM) during a pass over files: `partial`, what the pass returns, over the files done before it
    (a caller that keeps no partial result stops as on any Ctrl+C)."""

    def __init__(self, partial) -> None:
        super().__init__()
        self.partial = partial


def positive_scores(det, files: list[Path], show: bool | None = None, skipped: list[Path] | None = None) -> np.ndarray:
    """(P, K) maximum smoothed posterior per padded recording and keyword model. With a `skipped` list, a file
    that cannot be read is reported, appended there and left out (P counts the others); without, it is an error.
    Interrupted: Stopped, holding the scores of the recordings done."""
    import numpy as np

    from ..audio import load_audio
    from ..noise import pad_recording

    scores, rate = [], det.frontend.cfg.sample_rate  # the models' rate, each file resampled to it
    try:
        for path in progress(files, len(files), "positives", show):
            try:
                audio = load_audio(path, rate)
            except SpeechseqError as err:
                _skip_or_raise(err, path, skipped)
                continue
            scores.append(peak_scores(det, pad_recording(audio, np.random.default_rng(0), sr=rate)))
    except KeyboardInterrupt:
        raise Stopped(np.array(scores).reshape(len(scores), len(det.models))) from None
    return np.array(scores).reshape(len(scores), len(det.models))


def _skip_or_raise(err: SpeechseqError, path: Path, skipped: list[Path] | None) -> None:
    """A file that cannot be read: reported (with the manifest row it comes from, if any) and noted in `skipped`, or
    raised where the caller keeps no such list."""
    if skipped is None:
        raise err
    warn(f"{row_of(path) + ': ' if row_of(path) else ''}{err}; skipped")
    skipped.append(path)


def peak_scores(det, audio: np.ndarray) -> list[float]:
    """The highest smoothed posterior of each keyword model over one recording, from a fresh stream, after the steps
    where no event starts (the detector's `settle`): an event fires at threshold t exactly when this reaches t."""
    import numpy as np

    post = [[] for _ in det.models]
    det.step(audio, det.initial_state(), post)
    top = [np.concatenate(p)[s:] if p else np.zeros(0) for p, s in zip(post, det.settle)]
    return [float(t.max()) if len(t) else 0.0 for t in top]


def negative_posteriors(det, files: list[Path], show: bool | None = None, skipped: list[Path] | None = None,
                        tail: bool = False) -> tuple[list[list[np.ndarray]], float]:
    """Smoothed posteriors per file and keyword on streamed negatives, and their total hours. With a `skipped`
    list, a file that cannot be read (even part way) is reported, appended there and left out whole. tail: each
    file is followed by `detect`'s second of quiet noise (its posteriors included, not its time in the hours), so
    that the events counted are those `detect` finds in the file; without, a word at a clip's end never fires.
    Interrupted: Stopped, holding the posteriors and hours of the files done (the file under way left out)."""
    from .detect import file_tail

    done, rate = [], det.frontend.cfg.sample_rate
    quiet = file_tail(rate) if tail else None
    try:
        for path in progress(files, len(files), "negatives", show):
            try:
                done.append(_streamed(det, path, rate, quiet))  # one append: its posteriors with their seconds
            except SpeechseqError as err:
                _skip_or_raise(err, path, skipped)
    except KeyboardInterrupt:
        raise Stopped(_posteriors_and_hours(done, rate)) from None
    return _posteriors_and_hours(done, rate)


def _streamed(det, path: Path, rate: int, quiet: np.ndarray | None) -> tuple[list[np.ndarray], int]:
    """One negative file streamed as a live input (then `quiet`, when given): its smoothed posteriors per keyword
    and its length in samples."""
    import numpy as np

    from ..audio import stream_audio

    state, post, n = det.initial_state(), [[] for _ in det.models], 0
    for block in stream_audio(path, block_s=30.0, sr=rate):
        n += len(block)
        _, state = det.step(block, state, post)
    if quiet is not None:
        det.step(quiet, state, post)
    return [np.concatenate(p) if p else np.zeros(0, np.float32) for p in post], n


def _posteriors_and_hours(done: list[tuple[list[np.ndarray], int]], rate: int) -> tuple[list[list[np.ndarray]], float]:
    return [post for post, _ in done], sum(n for _, n in done) / rate / 3600


def count_events(det, k: int, posteriors: list[list[np.ndarray]], threshold: float) -> int:
    from ..runtime.detector import trigger_events

    return sum(len(trigger_events(p[k], threshold, det.refractory[k], det.max_wait[k], det.settle[k]))
               for p in posteriors)


def evaluate(det, positives: list[Path], negatives: list[Path], target_fa: float = 0.5,
             threshold: float | None = None, show: bool | None = None) -> tuple[dict, object]:
    """Summary of the first keyword model of `det` and its DET curve (speechseq.metrics.DetCurve). A file that
    cannot be read is reported and left out; `skipped` in the summary counts them."""
    import numpy as np

    from ..metrics import DetCurve, det_curve

    grid, m = thresholds(), det.models[0]
    th = float(threshold if threshold is not None else det.thresholds[0])
    skipped: list[Path] = []
    pos, post, hours, interrupted = np.zeros(0), [], 0.0, False
    try:  # Ctrl+C (or SIGTERM): the summary of the files done before it, "interrupted" in it
        if positives:
            pos = positive_scores(det, positives, show, skipped)[:, 0]
        if negatives:
            post, hours = negative_posteriors(det, negatives, show, skipped, tail=True)
    except Stopped as stop:
        if isinstance(stop.partial, np.ndarray):
            pos = stop.partial[:, 0]
        else:
            post, hours = stop.partial
        interrupted = True
    summary: dict = {"model": m.path, "keyword": m.keyword, "threshold": th, "positives": len(pos),
                     "skipped": len(skipped), "negative_hours": round(hours, 4),
                     **({"interrupted": True} if interrupted else {})}
    if len(pos):
        summary["frr"] = round(float((pos < th).mean()), 4)
    curve = None
    if hours > 0:
        n = count_events(det, 0, post, th)
        summary.update(false_accepts=n, fa_per_hour=round(n / hours, 3))
        if len(pos):
            curve = rates = det_curve(pos, lambda t: count_events(det, 0, post, t), hours, grid, label=m.keyword)
        else:  # the threshold for the target is the negatives' alone (its false rejects need positives)
            fa = np.array([count_events(det, 0, post, t) for t in grid]) / hours
            rates = DetCurve(grid, np.full(len(grid), np.nan), fa, hours, 0)
        try:
            t = rates.threshold_for_fa_rate(target_fa)
            i = int(np.flatnonzero(rates.thresholds == t)[0])
            summary.update(target_fa_per_hour=target_fa, threshold_for_target=t,
                           **({"frr_at_target": round(float(rates.frr[i]), 4)} if len(pos) else {}),
                           fa_per_hour_at_target=round(float(rates.fa_per_hour[i]), 3))
        except ValueError as err:
            summary["target_note"] = str(err)
    return summary, curve


def run(args: argparse.Namespace) -> int:
    from ..metrics import plot_det
    from ..runtime.detector import Detector
    from .transcribe import check_model_arg

    if len(args.model) > 1:  # argparse kept the last and dropped the others without a word
        raise SpeechseqError(f"eval detector measures one --model a run (given {len(args.model)}: "
                             f"{', '.join(args.model)}): run it once for each")
    model = args.model[0]
    check_model_arg(model, None, "--model")  # named with its option
    positives = collect(args.positives, args.where)
    negatives = collect(args.negatives, args.where)
    if args.where and not any(_is_manifest(Path(p)) for p in args.positives + args.negatives):
        raise SpeechseqError(f"--where {' '.join(args.where)} keeps manifest rows, but no JSONL manifest is given "
                             "(the files of a folder are all read): name the set's manifest.jsonl instead")
    for option, given, found in (("--positives", args.positives, positives),
                                 ("--negatives", args.negatives, negatives)):
        if given and not found:  # only manifests can give nothing (an empty folder is an error): none kept a row
            raise SpeechseqError(f"{option}: no manifest row matches --where {' '.join(args.where)}" if args.where
                                 else f"{option}: the manifests hold no rows")
    if not positives and not negatives:
        raise SpeechseqError("nothing to evaluate: give --positives and/or --negatives")
    if args.det and not (positives and negatives):
        raise SpeechseqError("a DET curve needs both --positives and --negatives")
    output_file(args.det, "--det", IMAGE_SUFFIXES)
    if args.save_threshold:
        save_needs(model, positives, negatives)
    with option_file("--model", model, "detector"):
        det = Detector.load([model], range_db=guard_range(args.range_db))
    summary, curve = evaluate(det, positives, negatives, args.target_fa, args.threshold)
    if summary.get("interrupted"):  # the files done, printed; no curve nor threshold from a part of the sets
        _print_summary(summary, args)
        kept = " and ".join(what for what, given in (("no DET curve was drawn", args.det),
                                                 ("no threshold was saved", args.save_threshold)) if given)
        warn("interrupted: the summary is that of the files measured before it" + (f"; {kept}" if kept else ""))
        raise KeyboardInterrupt
    failure = None  # the summary is printed in any case: the evaluation is not lost
    if args.det:
        if curve is None:
            failure = SpeechseqError("a DET curve needs both --positives and --negatives that can be read")
        else:
            try:
                plot_det([curve], args.det, title=f"{summary['keyword']}: DET")
                summary["det"] = args.det
            except OSError as err:  # a full disk, a folder gone meanwhile: found after the whole evaluation
                failure = SpeechseqError(f"--det {args.det}: not written ({err.strerror or err})")
    if args.save_threshold and failure is None:
        try:
            summary["saved_threshold"] = save_threshold(model, summary)
        except SpeechseqError as err:
            failure = err
        except OSError as err:  # a full disk, say (what save_needs could check was): the summary still printed
            failure = SpeechseqError(f"--save-threshold: cannot write {model} ({err.strerror or err}): the "
                                     "threshold was not saved; the model is as it was")
    _print_summary(summary, args)
    if failure is not None:
        raise failure
    if summary["skipped"]:
        warn(f"{summary['skipped']} of {len(positives) + len(negatives)} file(s) could not be read and were skipped")
        return 1
    return 0


def _print_summary(summary: dict, args: argparse.Namespace) -> None:
    """The summary as one JSON object (--json: its keys are a contract), or as lines that say each figure in words."""
    if args.json:
        print_json_line(summary)
    else:
        print("\n".join(summary_lines(summary, args.target_fa, args.threshold is not None)))


# the keys summary_lines says in words; any other is printed as KEY: VALUE
_SAID = {"model", "keyword", "threshold", "positives", "skipped", "negative_hours", "interrupted", "frr",
         "false_accepts", "fa_per_hour", "target_fa_per_hour", "threshold_for_target", "frr_at_target",
         "fa_per_hour_at_target", "target_note", "det", "saved_threshold"}


def summary_lines(s: dict, target_fa: float, threshold_given: bool) -> list[str]:
    """evaluate's summary as lines to read: what each figure counts, with its unit (% of the keyword recordings,
    false accepts per hour of audio without the keyword)."""
    from .eval_recognizer import plural

    source = "--threshold" if threshold_given else "the model's"
    lines = [f"{s['model']}: keyword \"{s['keyword']}\" at threshold {s['threshold']:g} ({source})"]
    if s.get("interrupted"):
        lines.append("  interrupted: the figures are those of the files measured before it")
    lines.append(f"  measured on {plural(s['positives'], 'keyword recording')} and "
                 f"{_duration(s['negative_hours'])} of audio without the keyword"
                 + (f" ({plural(s['skipped'], 'file')} could not be read and skipped)" if s["skipped"] else ""))
    if "frr" in s:
        lines.append(f"  false rejects: {_percent(s['frr'])} of the keyword recordings missed")
    if "false_accepts" in s:
        lines.append(f"  false accepts: {s['false_accepts']} on the audio without the keyword, "
                     f"{s['fa_per_hour']:g} per hour")
    lines += _target_lines(s, target_fa)
    if "det" in s:
        lines.append(f"  DET curve (false rejects against false accepts per hour): {s['det']}")
    if "saved_threshold" in s:
        lines.append(f"  threshold {s['saved_threshold']:g} saved into {s['model']}, which detect and listen now use "
                     "(the one before it kept as threshold_previous)")
    lines += [f"  {k}: {v}" for k, v in s.items() if k not in _SAID]
    return lines


def _target_lines(s: dict, target_fa: float) -> list[str]:
    """The threshold for --target-fa and its figures, or why there is none; [] where there are no negatives."""
    head = f"  for at most {target_fa:g} false accepts per hour (--target-fa):"
    if "threshold_for_target" in s:
        missed = f"{_percent(s['frr_at_target'])} missed, " if "frr_at_target" in s else ""
        return [f"{head} threshold {s['threshold_for_target']:g}, {missed}"
                f"{s['fa_per_hour_at_target']:g} false accepts per hour"]
    if "target_note" in s:
        return [f"{head} {s['target_note']}"]
    return []


def _percent(rate: float) -> str:
    return f"{100 * rate:.2f}%"


def _duration(hours: float) -> str:
    """Hours of audio in the unit that reads best: seconds under a minute, minutes under an hour."""
    if hours < 1 / 60:
        return f"{3600 * hours:.0f} s"
    return f"{60 * hours:.1f} min" if hours < 1 else f"{hours:.2f} h"


MIN_SAVE_HOURS = 0.25  # negatives --save-threshold needs
# Below this --save-threshold warns (it still saves: the old value stays as threshold_previous). The grid starts
# at 0.02, and negatives that never make the detector fire (white noise, silence) meet any --target-fa there; a
# threshold that low fires on nearly anything the detector hears (the shipped models use 0.75 and up).
MIN_SAVE_THRESHOLD = 0.1


def save_needs(model: str | Path, positives: list[Path], negatives: list[Path]) -> None:
    """What --save-threshold needs, checked before the evaluation (from the files' headers; a file that cannot be read
    counts nothing, and is reported by the evaluation): a model file this user may rewrite (the failure to write it
    came after the whole evaluation), --positives, and MIN_SAVE_HOURS of --negatives."""
    from ..audio import audio_info

    real = Path(os.path.realpath(model))  # write_metadata rewrites a symlink's file, in its folder
    copy = "copy the model into a folder of yours and evaluate the copy"
    if not writable(real.parent):
        raise SpeechseqError(f"--save-threshold writes the threshold into --model {model}, but this user cannot "
                             f"write in {real.parent}: {copy}")
    if not os.access(real, os.W_OK):  # a read-only model (another user's, or kept 0444) was replaced regardless
        raise SpeechseqError(f"--save-threshold writes the threshold into --model {model}, but this user may not "
                             f"write that file: {copy}")
    if _sticky_bars(real):  # the rename over it failed after the whole evaluation
        raise SpeechseqError(f"--save-threshold writes the threshold into --model {model}, but this user may not "
                             f"replace that file, another user's in {real.parent} (a folder with the sticky bit, as "
                             f"/tmp): {copy}")
    if not (positives and negatives):
        raise SpeechseqError("--save-threshold needs --positives and --negatives (a threshold for --target-fa is "
                             "chosen on both)")
    hours = 0.0
    for path in negatives:
        try:
            hours += audio_info(path).duration / 3600
        except SpeechseqError:
            continue
        if hours >= MIN_SAVE_HOURS:
            return
    _too_few_hours(hours)


def _sticky_bars(path: Path) -> bool:
    """Whether a folder's sticky bit (/tmp's) keeps this user from renaming a new file over `path`, as write_metadata
    does (files.written_atomically; a file of several names is written in place, which the bit does not stop): only
    the file's owner, the folder's, or root may."""
    if not hasattr(os, "geteuid"):
        return False
    me, st, folder = os.geteuid(), path.stat(), path.parent.stat()
    return bool(folder.st_mode & stat.S_ISVTX) and st.st_nlink == 1 and me not in (0, st.st_uid, folder.st_uid)


def _too_few_hours(hours: float) -> None:
    raise SpeechseqError(f"--save-threshold needs at least {60 * MIN_SAVE_HOURS:.0f} minutes of --negatives (got "
                         f"{60 * hours:.1f} minutes): a shorter set bounds no false-accept rate (an hour or more of "
                         "your own speech and rooms is better)")


def save_threshold(model: str | Path, summary: dict) -> float:
    """Write `summary`'s threshold for the target false-accept rate into the model's metadata (the old
    one as threshold_previous, what chose it as threshold_choice); returns it."""
    from ..runtime.onnx import read_metadata, write_metadata

    if summary.get("negative_hours", 0.0) < MIN_SAVE_HOURS:  # files that failed part way: fewer than their headers said
        _too_few_hours(summary.get("negative_hours", 0.0))
    if not summary.get("positives"):  # all unreadable: the target's threshold is the negatives' alone, its FRR unknown
        raise SpeechseqError("--save-threshold: no --positives file could be read, and the threshold for --target-fa "
                             "is chosen on both (its false rejects among them): the threshold was not saved")
    t = summary.get("threshold_for_target")
    if t is None:
        raise SpeechseqError("--save-threshold needs --positives and --negatives and a threshold that meets "
                             f"--target-fa ({summary.get('target_note', 'no DET curve')})")
    meta = read_metadata(model)
    hours, target = summary["negative_hours"], summary["target_fa_per_hour"]
    if t < MIN_SAVE_THRESHOLD:
        warn(f"--save-threshold: {t:g} is below {MIN_SAVE_THRESHOLD:g}: the detector hardly fires on these "
             "negatives (noise or silence?), so they bound no false-accept rate of real use, and detect and listen "
             "will now fire on almost anything; measure again on real speech and rooms without the keyword "
             f"(speechseq record --background). The previous threshold ({meta.get('threshold')}) is kept in the "
             "file as threshold_previous")
    elif target > 0 and 1 / hours > target:
        warn(f"--save-threshold: in {60 * hours:.0f} minutes of --negatives one false accept is already "
             f"{1 / hours:.2g} per hour, over --target-fa {target:g}: the threshold saved is the lowest with none "
             f"there, a loose bound on {target:g} per hour ({1 / target:g} h or more measure it)")
    meta["threshold_previous"], meta["threshold"] = meta.get("threshold"), float(t)
    meta["threshold_choice"] = {k: summary[k] for k in ("target_fa_per_hour", "positives", "negative_hours",
                                                        "frr_at_target", "fa_per_hour_at_target")}
    write_metadata(model, meta)
    return float(t)
