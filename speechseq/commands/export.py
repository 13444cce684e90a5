"""`speechseq export`: turn the frontend or a training checkpoint into an ONNX file."""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ..errors import SpeechseqError
from ..files import written_atomically
from .common import HelpFormatter, bounded, output_file, require_torch, warn

# checkpoint "kind" -> "module:function(checkpoint_path, out_path, int8) -> list[str]" (files written)
# (only the recognisers gain from an int8 twin: see INT8_KINDS)
EXPORTERS: dict[str, str] = {
    "lm": "speechseq.train.export_lm:export_checkpoint",
    "attention-decoder": "speechseq.train.export_lm:export_decoder_checkpoint",
    "joint": "speechseq.train.export_lm:export_decoder_checkpoint",
    "recognizer": "speechseq.train.export_recognizer:export_checkpoint",
    "detector": "speechseq.train.export_detector:export_checkpoint",
}
INT8_KINDS = ("recognizer", "joint")  # the kinds whose exporters write an int8 twin with --int8


EXAMPLES = """examples:
  speechseq export runs/hey-robot/best.pt --out hey_robot.onnx
  speechseq export runs/rec/best.pt --out recognizer.onnx --int8        # and recognizer.int8.onnx
  speechseq export frontend --out frontend.onnx --like models/activate.onnx"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", epilog=EXAMPLES, help="export the frontend or a trained checkpoint to ONNX",
                       description="Export a training checkpoint (detector, recognizer, lm, attention-decoder, joint) "
                                   "to ONNX for onnxruntime, or the log-mel frontend itself (WHAT = frontend). A joint "
                                   "checkpoint gives two files: the recogniser at OUT and its attention decoder at "
                                   "OUT_STEM.decoder.onnx.",
                       formatter_class=HelpFormatter)
    p.add_argument("what", metavar="WHAT", help="'frontend' or a checkpoint file (.pt) written by `speechseq train`")
    p.add_argument("--out", required=True, help="output .onnx path (not -: a model is not written to standard "
                                                "output)")
    p.add_argument("--n-mels", type=bounded(int, ge=1, le=128), default=None,
                   help="mel bands (frontend only; at most 128, as features --n-mels; default: 40, or --like's)")
    p.add_argument("--floor", type=bounded(float, gt=0), default=None,
                   help="the log's floor, log(mel power + FLOOR) (frontend only; default: 1e-05, or --like's: the "
                        "shipped detectors run at 1e-06, the recogniser at 1e-05)")
    p.add_argument("--like", metavar="MODEL", default=None,
                   help="frontend only: export the frontend that MODEL (a speechseq .onnx, e.g. models/activate.onnx) "
                        "runs, with the settings in its metadata; --n-mels and --floor, when given, override them")
    p.add_argument("--int8", action="store_true",
                   help="also write an int8 (dynamic quantised) twin of the recogniser: recogniser and joint "
                        "checkpoints only (a detector's GRU or an LM gains nothing from it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_torch("export")
    import torch

    from ..runtime.onnx import twin_path, untagged

    out = output_file(args.out, "--out", (".onnx",))
    if args.what == "frontend":
        from ..nn.frontend import export_frontend

        if args.int8:   # as for a detector or LM checkpoint: the float graph alone is written
            warn("--int8 applies to recognizer checkpoints only: no int8 twin for the frontend")
        cfg = frontend_config(args.like, n_mels=args.n_mels, floor=args.floor)
        if args.like is not None and out.exists() and out.samefile(args.like):  # the model it copies, lost
            raise SpeechseqError(f"--out {out} is the --like model itself: give the frontend another name (e.g. "
                                 f"{out.with_name(out.stem + '-frontend.onnx')})")
        with _staged(out) as staged:
            export_frontend(cfg, str(staged))
            _publish([staged], out)
        return 0
    if args.like is not None or args.floor is not None or args.n_mels is not None:
        warn("--like, --floor and --n-mels shape an exported frontend only: ignored for a checkpoint")
    ckpt = Path(args.what)
    if ckpt.is_dir():
        held = [ckpt / name for name in ("best.pt", "last.pt") if (ckpt / name).is_file()]
        if not held:
            raise SpeechseqError(f"{ckpt}: is a directory; give a checkpoint file in it, as a run's best.pt or "
                                 "last.pt (it holds neither)")
        raise SpeechseqError(f"{ckpt}: is a directory; give a checkpoint file in it (e.g. {held[0]})")
    if not ckpt.is_file():
        raise SpeechseqError(f"{ckpt}: no such checkpoint (or 'frontend')")
    if out.exists() and out.samefile(ckpt):  # the model was written over the run's weights
        raise SpeechseqError(f"--out {out} is the checkpoint itself: give the model another name (e.g. "
                             f"{out.with_name(out.stem + '-model.onnx')})")
    loaded = _load_checkpoint(torch, ckpt)
    kind = loaded.get("kind")
    if kind is None and "model" not in loaded:  # a torch file of another program (a bare state dict, say)
        raise SpeechseqError(f"{ckpt}: not a speechseq checkpoint (no 'kind': the checkpoints `speechseq train` "
                             f"writes name theirs, one of {', '.join(sorted(EXPORTERS))})")
    if kind is None and "model" in loaded and ckpt.parent.name == "snapshots":
        kind = _snapshot_kind(ckpt)
    if kind not in EXPORTERS:
        raise SpeechseqError(f"{ckpt}: cannot export a checkpoint of kind {kind!r} (known: {sorted(EXPORTERS)})")
    if ckpt.name == "last.pt" and (ckpt.parent / "best.pt").is_file():
        warn(f"{ckpt} holds the training state of its last epoch; the metadata describes the best validated epoch, "
             f"whose weights are {ckpt.parent / 'best.pt'}: export that one for a model its card describes")
    if args.int8 and kind not in INT8_KINDS:
        warn(f"--int8 applies to recognizer checkpoints only: no int8 twin for this {kind} checkpoint")
    elif args.int8 and twin_path(out, "int8") == out:  # the twin would be written over the fp32 model
        raise SpeechseqError(f"--out {out} is the name of an int8 twin: with --int8 give the fp32 model's name "
                             f"({untagged(out)}); its twin is {out.name}")
    if kind in ("recognizer", "joint"):  # a frontend that is not known: said before a file (or folder) is made
        from ..train.export_recognizer import check_checkpoint

        check_checkpoint(loaded, str(ckpt))
    module, func = EXPORTERS[kind].split(":")
    exporter = getattr(importlib.import_module(module), func)
    with _staged(out) as staged:
        try:
            written = exporter(ckpt, staged, args.int8)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            unfit = _unfit(err)
            if unfit is None:
                raise
            raise SpeechseqError(f"{ckpt}: a {kind} checkpoint this version cannot export ({unfit})") from None
        _publish(written, out)
    if kind == "attention-decoder" and "encoder_probe" not in (loaded.get("extra") or {}):
        # a joint export takes the probe from the recogniser it writes; a decoder-only run records the one it read
        warn(f"{ckpt} records no fingerprint of the recogniser whose encoder outputs it was trained on, so {out} has "
             "none: transcribe --decoder rescore cannot warn when it is paired with another recogniser, and "
             "--decoder auto never chooses it (scripts/train_decoder.py fit writes the fingerprint into its own "
             "export)")
    return 0


def _unfit(err: Exception) -> str | None:
    """What a checkpoint lacks or holds wrong, read from the error its exporter raised rebuilding the model (a field
    missing, weights of other sizes than its model_config's, a setting of the wrong type); None for an error of the
    ONNX export itself, which is no fault of the checkpoint."""
    if isinstance(err, KeyError):
        return f"no {err.args[0]!r}" if err.args else "a field missing"
    first = (str(err).splitlines() or [type(err).__name__])[0]
    if isinstance(err, RuntimeError):
        return "its weights do not fit its model_config" if "state_dict" in first else None
    return first[:200]


@contextlib.contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A path named as `out` in a fresh folder beside it, for the exporter to write to (a graph, then its metadata,
    then its twins); removed afterwards. An export that fails or is interrupted leaves the files at `out` as they
    were, never a graph without its metadata in their place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # not named after `out`: a name near the 255 bytes a file name may have made the folder's too long for them
    stage = Path(tempfile.mkdtemp(prefix=".speechseq-", suffix=".export", dir=out.parent))
    try:
        yield stage / out.name
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _publish(written: list, out: Path) -> None:
    """Move each finished file from the staging folder to its place beside `out`, whole or not at all, a file there
    replaced as written_atomically replaces one (its mode and its other names kept: a plain rename made a 0600 model
    0644, and left a hard link's other name the old model)."""
    for path in written:
        final = out.parent / Path(path).name
        with written_atomically(final) as tmp:
            os.replace(path, tmp)
        print(f"wrote {final}")


def _load_checkpoint(torch, ckpt: Path) -> dict:
    """The checkpoint as torch reads it; one line saying what the file is where it cannot be read: an exported model,
    a torch archive cut short or damaged (a copy: `speechseq train` writes its checkpoints whole), or no checkpoint."""
    try:
        loaded = torch.load(ckpt, map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - what torch raises varies with how the file is wrong
        if ckpt.suffix.lower() == ".onnx":  # a model exported already, given where its checkpoint goes
            raise SpeechseqError(f"{ckpt}: an ONNX model, not a checkpoint: export reads the .pt file a `speechseq "
                                 "train` run writes (its best.pt), or 'frontend'") from None
        with open(ckpt, "rb") as f:
            zipped = f.read(4) == b"PK\x03\x04"  # torch.save's archive: this one does not read to its end
        if zipped:
            why = str(err).split(". ")[0]
            raise SpeechseqError(f"{ckpt}: cannot read the checkpoint, cut short or damaged ({why}): copy it again, "
                                 "or export another checkpoint of its run (best.pt, last.pt, snapshots/)") from None
        raise SpeechseqError(f"{ckpt}: not a speechseq checkpoint ({err.__class__.__name__})") from None
    if not isinstance(loaded, dict):  # a whole pickled model, a tensor: another program's file
        raise SpeechseqError(f"{ckpt}: not a speechseq checkpoint (a {type(loaded).__name__}, not the dict "
                             "`speechseq train` writes)")
    return loaded


def frontend_config(like: str | None = None, **changes):
    """The FrontendConfig to export: the defaults, or those of the model `like` (its metadata's "frontend"),
    with `changes` that are not None (n_mels=..., floor=...) applied."""
    from ..frontend import FrontendConfig
    from ..runtime.onnx import ModelError, frontend_of, read_metadata

    cfg = FrontendConfig()
    if like is not None:
        try:
            meta = read_metadata(like)
        except ModelError as err:
            raise SpeechseqError(f"--like {err}") from None
        if not isinstance(meta.get("frontend"), dict):
            raise SpeechseqError(f"--like {like}: its metadata holds no frontend settings")
        try:
            cfg = frontend_of(meta)  # the runtime's reading: each setting checked by type
        except TypeError as err:
            raise SpeechseqError(f"--like {like}: frontend settings this version does not know ({err})") from None
    return replace(cfg, **{k: v for k, v in changes.items() if v is not None})


def _snapshot_kind(snap: Path) -> str:
    """The kind of an epoch snapshot of a `train detector` run written before snapshots carried it (RUN/snapshots/
    epoch_NNN.pt): its run's, whose last.pt gives the export its settings."""
    import torch

    last = snap.parent.parent / "last.pt"
    kind = torch.load(last, map_location="cpu", weights_only=False).get("kind") if last.is_file() else None
    if kind != "detector":
        raise SpeechseqError(f"{snap}: an epoch snapshot without its settings, and no detector run's last.pt at "
                             f"{last} to take them from: export it from inside its run folder")
    return kind
