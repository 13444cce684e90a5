"""`speechseq train recognizer` mixing manifests of other splits (commands/train_recognizer.py): --split applied to
every --manifest, so that Kathleen's train split could not be mixed with a manifest whose rows name no split (`synth
sentences`' train.jsonl); --manifest PATH@SPLIT names one manifest's split. Fixtures: tests/fixtures/manifests/
mixed_splits (kathleen.jsonl: 4 train rows, 1 dev, 1 test, 2 that name no split; synth.jsonl: 4 rows, no split)."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from speechseq.errors import SpeechseqError
from tests.cli_run import run

HERE = Path(__file__).resolve().parent / "fixtures" / "manifests" / "mixed_splits"
KATHLEEN, SYNTH = str(HERE / "kathleen.jsonl"), str(HERE / "synth.jsonl")
TRAIN = {"turn on the light", "open the door", "close the window", "play some music"}
SYNTH_TEXTS = {"the quiet river ran", "she opened the window", "a cat sat on the mat", "the old mill stood"}


def _args(tmp_path: Path, *manifests: str, split: str | None = None) -> argparse.Namespace:
    from speechseq.commands.train_recognizer import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    argv = [a for m in manifests for a in ("--manifest", m)] + ["--out", str(tmp_path / "out")]
    return p.parse_args(argv + (["--split", split] if split else []))


def _texts(args: argparse.Namespace) -> set[str]:
    from speechseq.commands.train_recognizer import _banks

    train, val = _banks(args)
    return {t for part in train for t in part.texts} | set(val.texts)


def test_a_manifests_own_split_leaves_the_others_whole(tmp_path, capsys):
    """kathleen.jsonl@train beside synth.jsonl: Kathleen's train rows and every synth row (none of them named dev or
    test). With --split train alone the synth manifest gave nothing, and without it Kathleen's rows of no split came
    too; PATH@SPLIT was read as a file name ("manifest not found")."""
    pytest.importorskip("torch")
    assert _texts(_args(tmp_path, f"{KATHLEEN}@train", SYNTH)) == TRAIN | SYNTH_TEXTS
    err = capsys.readouterr().err
    assert f"{KATHLEEN}: 4 rows of split 'train' taken; left out: 'dev' 1, 'test' 1, no split 2" in err, err
    assert f"{KATHLEEN}: 2 rows that name no split left out by split 'train'" in err, err
    assert "synth.jsonl: " not in err, err     # nothing of it left out, nothing to say


def test_split_of_every_manifest_names_the_splits_a_manifest_holds(tmp_path):
    """--split train applies to every --manifest without its own @SPLIT: synth.jsonl has no train row, an error that
    says what its rows are and how to name one manifest's split (it said "no utterances in split 'train'")."""
    pytest.importorskip("torch")
    with pytest.raises(SpeechseqError) as exc:
        _texts(_args(tmp_path, KATHLEEN, SYNTH, split="train"))
    said = str(exc.value)
    assert said.startswith(f"{SYNTH}: no utterances in split 'train' (its rows: no split 4); --manifest PATH@SPLIT "
                           "names one manifest's split, --split that of every --manifest without one"), said
    # its own @SPLIT wins over --split: Kathleen's dev row alone (too few to hold one out: read, then refused)
    with pytest.raises(SpeechseqError, match="^1 utterance in --manifest"):
        _texts(_args(tmp_path, f"{KATHLEEN}@dev", split="train"))


def test_the_run_records_one_split_for_all_as_split_did(tmp_path):
    """A run made with --split train on one manifest resumes when its split is given as PATH@train (the data are the
    same); two manifests of other splits are recorded one split each."""
    from speechseq.commands.train_recognizer import _sources

    before = _sources(_args(tmp_path, KATHLEEN, split="train"))
    assert _sources(_args(tmp_path, f"{KATHLEEN}@train")) == before == {
        "--manifest": [KATHLEEN], "--split": "train", "--val-manifest": None, "--val-split": None}
    assert _sources(_args(tmp_path, f"{KATHLEEN}@train", SYNTH))["--split"] == ["train", "(none)"]


def test_setup_says_how_many_utterances_each_manifest_gave(tmp_path, capsys):
    pytest.importorskip("torch")
    from speechseq.commands.train_recognizer import setup

    kwargs = setup(_args(tmp_path, f"{KATHLEEN}@train", SYNTH), "cpu")
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("--manifest ")]
    counts = [int(x.rsplit(": ", 1)[1].split()[0]) for x in lines]
    assert [x.rsplit(": ", 1)[0] for x in lines] == [f"--manifest {KATHLEEN} (split 'train')",
                                                    f"--manifest {SYNTH} (every row but the evaluation splits')"]
    assert sum(counts) == len(kwargs["train"]) and all(n >= 3 for n in counts), lines   # one of 4 held out at most


def test_a_manifest_with_an_empty_split_is_a_usage_error(tmp_path):
    code, out, err = run("train", "recognizer", "--manifest", f"{KATHLEEN}@", "--out", tmp_path / "out")
    assert code == 2 and "give it as PATH@SPLIT (e.g. manifest.jsonl@train)" in err, err
    # a file whose own name holds an '@' is that file
    odd = tmp_path / "a@b.jsonl"
    odd.write_text(Path(SYNTH).read_text().replace("../jsonl", str(HERE.parent / "jsonl")))
    from speechseq.commands.train_recognizer import manifest_split

    assert manifest_split(str(odd)) == (str(odd), None)
    assert manifest_split(f"{odd}@train") == (str(odd), "train")
