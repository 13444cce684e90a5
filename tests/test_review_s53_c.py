"""Session 53, helper c. Session 52's worked example (README "Training your own recogniser") ended the default 30
epochs on FSDD train (0.33 h) at a validation WER of 90 %, and nothing told the user that 150 epochs were needed.
`train recognizer` now (1) says before training how many updates the run will make (epochs x batches an epoch), and
(2) at the end of a run whose best validation WER is still high (> 50 %) while it was still improving (its best epoch,
or, the WER not having moved yet, the CER's or the training loss's, among the last few), one line: the run may be
undertrained, the updates it made, and the command that trains it on (a rerun with a larger --epochs resumes it,
the learning rate rising from where it ended, by the figure said)."""
from __future__ import annotations

import json
import math
import shlex

import pytest

from . import cli_run
from .tones import tone_manifest


def undertrained(history: list[dict]) -> str | None:
    from speechseq.commands.undertrained import undertrained as rule   # (here: each test fails on its own)

    return rule(history)


def _history(wer, loss=None, cer=None) -> list[dict]:
    loss = loss if loss is not None else [10.0 - k for k in range(len(wer))]
    cer = cer if cer is not None else [w / 2 for w in wer]
    return [{"epoch": k + 1, "step": 21 * (k + 1), "train_loss": ls, "val_wer": w, "val_cer": c}
            for k, (w, ls, c) in enumerate(zip(wer, loss, cer))]


@pytest.mark.parametrize("wer, loss, said", [
    ([100, 99, 97, 95, 93, 91, 90.2], None, "validation WER"),       # the FSDD 30-epoch run: still improving
    ([100] * 7, None, "training loss"),                              # no word right yet, the loss still falling
    ([100, 99.5, 99, 98, 97, 96, 95.5, 95.2, 95, 94.8, 94.6, 94.5, 94.4] + [94.3] * 3 + [94.2], None,
     "validation WER"),                                              # best at the last epoch of 17
])
def test_the_rule_fires_on_a_high_wer_still_improving(wer, loss, said):
    assert undertrained(_history(wer, loss)) == said


@pytest.mark.parametrize("wer, loss, cer", [
    ([100, 80, 50, 30, 20, 12, 9.8], None, None),                    # converged low: the 150-epoch run's end
    ([100, 60, 40, 45], None, None),                                 # best 40 %: low enough, though early
    ([100, 90, 70, 60] + [62] * 10, None, [50, 40, 30, 25] + [26] * 10),  # high, but nothing better for 10 epochs
    ([100] * 8, [10, 9, 8, 7, 6, 6.5, 7, 8], [100] * 8),              # flat WER, the loss rising again at the end
    ([100, 100], [10.0, 10.0], [100, 100]),                           # nothing moved at all: no sign of learning
])
def test_the_rule_is_silent_on_a_converged_or_low_run(wer, loss, cer):
    assert undertrained(_history(wer, loss, cer)) is None


def test_the_rule_needs_a_validation_wer():
    hist = [{"epoch": k + 1, "step": k + 1, "train_loss": 10.0 - k} for k in range(5)]   # no validation: by loss
    assert undertrained(hist) is None and undertrained([]) is None
    nan = _history([100.0, math.nan, 95.0])                          # a NaN epoch counts for nothing
    assert undertrained(nan) == "validation WER"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 3-epoch run of a tiny model on 8 half-second tones named yes/no/stop/go: its WER stays at 100 %."""
    pytest.importorskip("torch")
    tmp = tmp_path_factory.mktemp("s53c")
    tone_manifest(tmp, 2)
    argv = ["train", "recognizer", "--manifest", tmp / "m.jsonl", "--val-manifest", tmp / "m.jsonl",
            "--out", tmp / "run", "--hidden", "16", "--layers", "1", "--no-augment", "--epochs", "3"]
    code, _, err = cli_run.run(*argv)
    assert code == 0, err
    return tmp, argv, err


def test_the_data_summary_says_the_updates_the_run_will_make(tiny_run):
    tmp, _, err = tiny_run
    hist = json.loads((tmp / "run" / "history.json").read_text())
    assert hist[-1]["step"] == 3   # one batch an epoch
    assert "training on 8 utterances (0.00 h), validating on 8: 3 epochs of 1 batch = about 3 updates" in err, err


def _undertrained_line(err: str) -> str:
    lines = [line for line in err.splitlines() if "may be undertrained" in line]
    assert len(lines) == 1, err
    return lines[0]


def test_a_short_run_at_a_high_wer_says_so_and_how_to_train_it_on(tiny_run):
    tmp, _, err = tiny_run
    line = _undertrained_line(err)
    out = tmp / "run"
    assert line.startswith(f"speechseq: warning: {out} may be undertrained: its best validation WER is 100.0% "
                           "(epoch 1 of 3), and its training loss was still falling at the end, after 3 updates"), line
    # said before the last line, which still says how to run the checkpoint
    assert err.splitlines()[-1].startswith(f"best checkpoint: {out / 'best.pt'}")
    assert "to train it on: speechseq train recognizer " in line and f"resumes from {out / 'last.pt'}" in line


def _last(out) -> dict:
    import torch

    return torch.load(out / "last.pt", map_location="cpu", weights_only=False)


def test_the_command_it_names_resumes_the_run_with_the_learning_rate_it_says(tiny_run):
    tmp, _, err = tiny_run
    line = _undertrained_line(err)
    command = line.split("to train it on: ", 1)[1].split(" (resumes from", 1)[0]
    words = shlex.split(command)
    assert words[:3] == ["speechseq", "train", "recognizer"] and words[words.index("--epochs") + 1] == "15"
    said = line.split("the learning rate goes from ", 1)[1]
    ended, back = float(said.split("% of --lr")[0]), float(said.split("back up to ")[1].split("%")[0])
    before = _last(tmp / "run")
    code, _, err2 = cli_run.run(*words[1:])
    assert code == 0, err2
    assert f"resuming from {tmp / 'run' / 'last.pt'}: epoch 3 of 15 done" in err2, err2
    hist = json.loads((tmp / "run" / "history.json").read_text())
    assert len(hist) == 15 and hist[-1]["step"] == 15
    # the figures said are the loop's learning rates, by the schedule each run kept in last.pt: at the last step the
    # run trained (step 2 of 3), and at the first step the rerun trained (step 3 of 15)
    from speechseq.train.loop import LoopConfig, _lr_at

    after = _last(tmp / "run")
    for ck, step, figure in ((before, 2, ended), (after, 3, back)):
        cfg = LoopConfig(**ck["loop_config"])
        assert figure == pytest.approx(100 * _lr_at(step, ck["steps_per_epoch"] * cfg.epochs, cfg) / cfg.lr, abs=0.51)
    assert after["loop_config"]["epochs"] == 15 and back > ended + 20


def test_the_command_said_gives_every_option_of_the_run():
    import argparse

    from speechseq.commands.train_recognizer import add_arguments
    from speechseq.commands.undertrained import _rerun

    p = argparse.ArgumentParser()
    add_arguments(p)
    given = ["--manifest", "a b/m.jsonl@train", "--manifest", "s.jsonl", "--repeat", "1", "--repeat", "0.5",
             "--val-manifest", "v.jsonl", "--val-split", "dev", "--out", "runs/x", "--epochs", "7", "--lr", "0.00123",
             "--batch-seconds", "20", "--hidden", "64", "--front", "stack", "--no-augment", "--seed", "3",
             "--workers", "2"]
    args = p.parse_args(given)
    words = shlex.split(_rerun(args, 35))
    assert words[:3] == ["speechseq", "train", "recognizer"]
    again = p.parse_args(words[3:])
    assert vars(again) == {**vars(args), "epochs": 35}
    # options left at their defaults are not named (the command stays as short as the user's)
    assert "--layers" not in words and "--device" not in words and "--split" not in words
