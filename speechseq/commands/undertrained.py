"""Whether a `speechseq train recognizer` run may be undertrained, and the rerun that trains it on.

A run whose best validation WER is over HIGH_WER and still falling at its end (its history, as OUT/history.json keeps
it) is said to be so at its end, with the updates it made and the command that resumes it with MORE_EPOCHS times the
epochs (the README's FSDD example: the default 30 epochs of a 0.33 h set ended at 90 % WER, 150 at 10-12 %).
"""
from __future__ import annotations

import argparse
import math
import shlex
from collections.abc import Sequence
from pathlib import Path

from .common import warn

__all__ = ["undertrained", "said_undertrained", "HIGH_WER", "MORE_EPOCHS"]

HIGH_WER = 50.0    # a best validation WER above it (%), still improving at the end: the run may be undertrained
MORE_EPOCHS = 5    # the rerun said then trains this many times the epochs (FSDD train: 30 ended at 90 %, 150 at 10-12 %)
PROGRAM = ("speechseq", "train", "recognizer")   # the words of the rerun said before its options (train.ddp: its own)


def _recorded(history: list[dict], key: str) -> list[tuple[int, float]]:
    """(index, value) of each epoch of the history that records a finite `key`, in order."""
    return [(k, float(h[key])) for k, h in enumerate(history)
            if isinstance(h.get(key), (int, float)) and math.isfinite(h[key])]


def _lowest(history: list[dict], key: str) -> tuple[int, float] | None:
    """(index, value) of the first epoch at the lowest finite `key` of the history (as best.pt keeps the earlier of
    ties); None where no epoch has one."""
    values = _recorded(history, key)
    return min(values, key=lambda kv: (kv[1], kv[0])) if values else None


def _falling(history: list[dict], key: str) -> bool:
    """Whether `key` was still falling at the end of the run: its lowest value came in the last few epochs (3, or a
    tenth of the run) and lies below the first value recorded."""
    lowest = _lowest(history, key)
    if lowest is None:
        return False
    return lowest[0] >= len(history) - max(3, len(history) // 10) and lowest[1] < _recorded(history, key)[0][1]


def undertrained(history: list[dict]) -> str | None:
    """What was still falling at the end of a run (its history, as OUT/history.json keeps it) whose best validation
    WER is over HIGH_WER: "validation WER"; or, the WER not bettered since its first epoch (no word right yet: CTC
    emits blanks alone for a while), "validation CER" or "training loss". None where the WER is low, where the run
    stopped improving (converged, or overfitting), or where it has no validation WER."""
    wer = _lowest(history, "val_wer")
    if wer is None or wer[1] <= HIGH_WER:
        return None
    if _falling(history, "val_wer"):
        return "validation WER"
    if wer[0] == _recorded(history, "val_wer")[0][0]:
        for key, name in (("val_cer", "validation CER"), ("train_loss", "training loss")):
            if _falling(history, key):
                return name
    return None


def _rates(history: list[dict], lr: float, more: int) -> tuple[float, float]:
    """The learning rate (% of --lr) of the run's last update, and of the first update of its rerun with --epochs
    `more`: the loop's cosine schedule, over the epochs of the run and then of the rerun (last.pt keeps the updates of
    the first epoch as the steps of every one)."""
    from ..train.loop import LoopConfig, _lr_at
    from .train_recognizer import warmup_steps

    steps, done, epochs = history[0]["step"], history[-1]["step"], len(history)
    ended = _lr_at(done - 1, steps * epochs, LoopConfig(epochs=epochs, lr=lr, warmup_steps=warmup_steps(epochs, steps)))
    back = _lr_at(done, steps * more, LoopConfig(epochs=more, lr=lr, warmup_steps=warmup_steps(more, steps)))
    return 100 * ended / lr, 100 * back / lr


def _rerun(args: argparse.Namespace, epochs: int, program: Sequence[str] = PROGRAM) -> str:
    """The command line of this run with --epochs `epochs`: the `program` words (the torchrun form's, for one started
    by torchrun), then every option given that differs from its default."""
    from .train_recognizer import add_arguments

    p = argparse.ArgumentParser(add_help=False)
    add_arguments(p)
    defaults = vars(p.parse_args(["--manifest", "M", "--out", "O"]))
    words = list(program)
    for dest, default in defaults.items():
        value, option = getattr(args, dest), "--" + dest.replace("_", "-")
        if dest == "epochs":
            words += [option, str(epochs)]
        elif isinstance(value, list):   # given once each (--manifest, --repeat)
            words += [w for v in value for w in _given(option, v)]
        elif isinstance(value, bool):
            words += [option] if value else []
        elif value != default or dest == "out":
            words += _given(option, value)
    return shlex.join(words)


def _given(option: str, value) -> list[str]:
    """`option VALUE` as words; `option=VALUE` where VALUE starts with "-" (--out=-run: argparse reads `--out -run` as
    an option given no value)."""
    text = _word(value)
    return [f"{option}={text}"] if text.startswith("-") else [option, text]


def _word(value) -> str:
    """An option's value as the command line gives it (a float as short as it reads back the same)."""
    text = repr(value) if isinstance(value, float) else str(value)
    return text.removesuffix(".0") if isinstance(value, float) else text


def said_undertrained(args: argparse.Namespace, history: list[dict], program: Sequence[str] = PROGRAM) -> None:
    """A warning where the run may be undertrained (`undertrained`): the updates it made, and the rerun that trains it
    on (`program` and the run's options; it resumes from OUT/last.pt, the learning rate's cosine decay stretched over
    the new total)."""
    falling = undertrained(history)
    if falling is None:
        return
    index, wer = _lowest(history, "val_wer")
    epochs, out = len(history), Path(args.out)
    more = MORE_EPOCHS * epochs
    ended, back = _rates(history, args.lr, more)
    what = "it" if falling == "validation WER" else f"its {falling}"
    warn(f"{out} may be undertrained: its best validation WER is {wer:.1f}% (epoch {index + 1} of {epochs}), and "
         f"{what} was still falling at the end, after {history[-1]['step']} updates; to train it on: "
         f"{_rerun(args, more, program)} (resumes from {out / 'last.pt'}: the learning rate goes from {ended:.0f}% of "
         f"--lr, where this run ended, back up to {back:.0f}%, and decays again over the {more - epochs} epochs added; "
         f"--epochs {more} from the start, in a new --out, keeps one decay)")
