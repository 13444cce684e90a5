"""scripts/train_detectors.py's stages: --suffix naming of the runs export reads and writes, clear errors for a
missing input, and no two parallel trainings of one run."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tests.script_loader import load_script



def _script():
    return load_script("train_detectors")


def _run(script, monkeypatch, *argv: str) -> None:
    monkeypatch.setattr(sys, "argv", ["train_detectors.py", *argv])
    script.main()


def test_an_ensemble_export_reads_and_writes_the_runs_of_its_suffix(tmp_path, monkeypatch):
    """--ensemble --suffix=-x: the members are RUNS/KEYWORD-VARIANT-x (as --stage train named them), and the
    ensemble's final.pt goes to a folder of that suffix too, not to the one of the runs without it."""
    import speechseq.train.detector as detector
    import speechseq.train.export_detector as export_detector
    import speechseq.train.loop as loop

    script = _script()
    read, saved = [], []
    monkeypatch.setattr(script, "final_checkpoint", lambda run: read.append(Path(run).name) or
                        {"model": {}, "extra": {}, "averaged": ["epoch_010.pt"]})
    monkeypatch.setattr(script, "keyword_bank", lambda *a, **k: {})
    monkeypatch.setattr(detector, "choose_threshold", lambda model, bank: (0.5, {}))
    monkeypatch.setattr(export_detector, "detector_from_checkpoint", lambda ck: None)
    monkeypatch.setattr(export_detector, "export_checkpoint", lambda src, dst: [dst])
    monkeypatch.setattr(loop, "save_checkpoint", lambda ck, path: saved.append(Path(path)))
    _run(script, monkeypatch, "--stage", "export", "--keywords", "hello", "--variants", "natural", "natural-seed1",
         "--ensemble", "--suffix=-x", "--runs", str(tmp_path / "runs"), "--models", str(tmp_path / "m"))
    assert read == ["hello-natural-x", "hello-natural-seed1-x"]
    assert saved == [tmp_path / "runs" / "hello-ensemble-natural-natural-seed1-x" / "final.pt"]


def test_a_missing_bank_run_or_synthesis_folder_is_a_one_line_error(tmp_path, monkeypatch):
    """Each stage names what it lacks and how to make it (they were tracebacks: FileNotFoundError from numpy,
    from the snapshot averaging, from a manifest read)."""
    script = _script()
    runs, banks = str(tmp_path / "runs"), str(tmp_path / "banks")
    with pytest.raises(SystemExit, match=r"kw-hello\.npz.*--stage bank"):
        _run(script, monkeypatch, "--stage", "train", "--keywords", "hello", "--banks", banks, "--runs", runs)
    with pytest.raises(SystemExit, match=r"runs/hello: no trained run.*--stage train"):
        _run(script, monkeypatch, "--stage", "export", "--keywords", "hello", "--banks", banks, "--runs", runs)
    with pytest.raises(SystemExit, match=r"no synthetic data in .*kw-hello"):
        script.generated_backgrounds(tmp_path / "synth", ["hello"])


def test_a_run_named_twice_is_refused_before_parallel_trainings_share_it(tmp_path, monkeypatch):
    """--parallel starts one process per keyword and variant: a keyword or variant given twice ("base" is the
    unnamed one) would have two processes write the same run and log."""
    script = _script()
    started = []
    monkeypatch.setattr(script.subprocess, "Popen", lambda *a, **k: started.append(a) or None)
    for argv in (["--keywords", "hello", "hello"], ["--keywords", "hello", "--variants", "base", "natural", "base"]):
        with pytest.raises(SystemExit, match="twice"):
            _run(script, monkeypatch, "--stage", "train", "--parallel", *argv, "--runs", str(tmp_path / "runs"))
    assert not started


def test_a_background_bank_that_holds_the_keywords_real_clips_is_refused(tmp_path, monkeypatch):
    """bg.npz keeps out the real recordings of the keywords it was built for (and amelia's); training another
    Precise keyword on it would train on the clips it is measured on. The bank now says what it kept out."""
    script = _script()
    banks = tmp_path / "banks"
    banks.mkdir()
    for name in ("kw-android", "bg"):
        (banks / f"{name}.npz").write_bytes(b"")
    monkeypatch.setattr(script, "load_bank", lambda path: {"meta": {"what": "backgrounds",
                                                                    "held": ["activate", "amelia", "computer"]}})
    with pytest.raises(SystemExit, match=r"holds 'android''s real recordings .* activate, amelia, computer only"):
        script.keyword_bank(banks, "android", [], {})


_PRETRAIN_INTERRUPTED = """
import argparse, sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
from tests.script_loader import load_script
script = load_script("train_detectors", register=True)
def slow(item):
    if item[0] == "a0.wav":  # the first job: the pool is at work
        print("started", flush=True)
    try:
        time.sleep(5.0)
    except KeyboardInterrupt:  # Ctrl+C in a worker (its traceback printed unless the pool was stopped first)
        open(sys.argv[1] + "/worker-interrupted", "a").close()
        raise
    return np.zeros((10, 40), np.float16)
script._pretrain_features = slow
script.pretrain_items = lambda data, synth, keywords: [(f"a{i}.wav", "hello", "kathleen") for i in range(400)]
try:
    script.stage_pretrain(argparse.Namespace(banks=sys.argv[1], keywords=["hello"], negative_keywords=[], rebuild=True,
                                             data=sys.argv[1], synth=sys.argv[1], workers=2))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_stops_the_pretraining_features_without_a_traceback_from_each_worker(tmp_path):
    """Ctrl+C (SIGINT to the process group) while --stage pretrain computed its features printed a KeyboardInterrupt
    traceback from every worker of its pool busy on a clip, besides the main process's own stop."""
    from .interrupts import interrupted_run

    script = tmp_path / "run.py"
    script.write_text(_PRETRAIN_INTERRUPTED)
    root = Path(__file__).resolve().parents[1]
    # each worker in the middle of its first clips (5 s each); minutes of work left: a hang check
    out, err, code = interrupted_run([str(script), str(tmp_path), str(root)], "ctrl-c", after_s=0.5, within_s=15,
                                     timeout_s=30)
    assert code == 130 and "interrupted" in out, err[-2000:]
    assert not (tmp_path / "worker-interrupted").exists()  # the main process alone stops the pool
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert not (tmp_path / "pretrain.npz").exists()
