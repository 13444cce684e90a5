"""Session 52, helper b. (1) A training command whose input fails once it holds OUT left OUT behind holding only its
run lock OUT/.lock (a folder the user never had, or a stray lock in one they had): `train lm` removed them
(held_out), `train detector` and `train recognizer` (and its torchrun form, speechseq.train.ddp) did not; all now
take OUT through runs.held_out. (2) `synth keyword --engines pico flite` made another set than `--engines flite
pico` (each voice's speeds and pitches are drawn in the voices' order), and than `train detector --synth-engines pico
flite`, which synthesizes the engines in sorted order: the order given no longer changes what is made."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from . import cli_run

TRAIN = ["--epochs", "1", "--steps", "2", "--batch", "8", "--workers", "1"]


def _no_lock_left(out: Path, existed: bool) -> None:
    """OUT as it was before the failed run: gone where the run made it, kept (without a lock) where it was there."""
    if existed:
        assert sorted(p.name for p in out.iterdir()) == []
    else:
        assert not out.exists()


@pytest.mark.parametrize("existed", [False, True], ids=["new", "there"])
def test_train_recognizer_with_a_missing_manifest_leaves_no_lock(tmp_path, existed):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    if existed:
        out.mkdir()
    code, _, err = cli_run.run("train", "recognizer", "--manifest", tmp_path / "gone.jsonl", "--out", out,
                               "--epochs", "1")
    assert code == 1 and "gone.jsonl" in err, err
    _no_lock_left(out, existed)


@pytest.mark.parametrize("existed", [False, True], ids=["new", "there"])
def test_train_detector_with_a_missing_manifest_leaves_no_lock(tmp_path, existed):
    pytest.importorskip("torch")
    out = tmp_path / "a" / "run"   # its parent made for it too, and removed again
    if existed:
        out.mkdir(parents=True)
    code, _, err = cli_run.run("train", "detector", "--keyword", "yes", "--positives", tmp_path / "gone.jsonl",
                               "--negatives", tmp_path / "gone2.jsonl", "--out", out, *TRAIN)
    assert code == 1 and "gone.jsonl" in err, err
    _no_lock_left(out, existed)
    if not existed:
        assert not (tmp_path / "a").exists()


def test_train_detector_with_a_missing_synth_folder_leaves_no_lock(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    code, _, err = cli_run.run("train", "detector", "--keyword", "yes", "--synth", tmp_path / "nosynth", "--out", out,
                               *TRAIN)
    assert code == 1 and "--synth" in err and "no such folder" in err, err
    _no_lock_left(out, False)


def test_train_detector_with_a_synth_folder_of_another_keyword_leaves_no_lock(tmp_path):
    pytest.importorskip("torch")
    synth = tmp_path / "hello"
    synth.mkdir()
    row = {"audio_filepath": "audio/a.wav", "duration": 0.5, "text": "hello", "engine": "flite", "label": 1}
    (synth / "positives.jsonl").write_text(json.dumps(row) + "\n")
    (synth / "negatives.jsonl").write_text(json.dumps({**row, "text": "table", "label": 0}) + "\n")
    out = tmp_path / "run"
    code, _, err = cli_run.run("train", "detector", "--keyword", "yes", "--synth", synth, "--out", out, *TRAIN)
    assert code == 1 and "not 'yes'" in err, err
    _no_lock_left(out, False)


def test_a_failed_run_keeps_what_out_held_and_a_lock_that_was_there(tmp_path):
    """Only a folder holding nothing but the lock this run made is cleaned: the user's files, and a lock that was
    there before (another run's folder), are kept."""
    pytest.importorskip("torch")
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, _ = cli_run.run("train", "recognizer", "--manifest", tmp_path / "gone.jsonl", "--out", out)
    assert code == 1 and sorted(p.name for p in out.iterdir()) == [".lock", "notes.txt"]
    (out / "notes.txt").unlink()   # now a folder with a lock it had before this run
    code, _, _ = cli_run.run("train", "recognizer", "--manifest", tmp_path / "gone.jsonl", "--out", out)
    assert code == 1 and sorted(p.name for p in out.iterdir()) == [".lock"]


def test_held_out_is_one_helper_shared_by_the_train_commands():
    from speechseq.commands import runs, train_detector, train_lm, train_recognizer

    assert train_lm.held_out is runs.held_out
    assert train_detector.held_out is runs.held_out and train_recognizer.held_out is runs.held_out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_train_recognizer_under_torchrun_with_a_missing_manifest_leaves_no_lock(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "run"
    # TMPDIR: torchrun makes a torchelastic_* log folder there and leaves it
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "1", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), "-m", "speechseq.train.ddp", "--manifest", str(tmp_path / "gone.jsonl"),
           "--out", str(out), "--device", "cpu"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode != 0 and "speechseq: error: manifest not found" in p.stderr, p.stderr[-3000:]
    assert not out.exists()


# (2) the engines' order
def test_synth_keyword_keeps_the_engines_order_given_each_once():
    """The voices come in the order the engines are given (each voice's speeds and pitches are drawn in that order):
    the recipes' `--engines rhvoice festival` (scripts/train_detectors.py, session 19's cache/synth-new, which the
    shipped models learnt) remakes its set only so. Sorting them (session 52, for one set whatever the order) made
    festival first: another set, from the same command. An engine given twice lists its voices once."""
    from speechseq.synth_settings import VoiceOptions
    from speechseq.train.synth_sets import _voices

    if shutil.which("flite") is None or shutil.which("pico2wave") is None:
        pytest.skip("flite and pico2wave are not installed (scripts/install-system.sh)")
    for engines in (("pico", "flite"), ("flite", "pico"), ("pico", "flite", "pico")):
        voices = _voices(VoiceOptions(engines=engines), say=lambda line: None)
        order = list(dict.fromkeys(v.engine for v in voices))
        assert order == list(dict.fromkeys(engines))
        assert len(voices) == len({(v.engine, v.name) for v in voices})