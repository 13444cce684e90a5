"""Session 51, a review of `train detector`'s synthesized_again (977a246: a rerun whose OUT/synth lost positives.jsonl
makes the set again with the options its bank records, and resumes). Three ways it did not hold: (1) the first command
synthesized with its --synth-engines in the order given, the bank records them sorted, and the set made again in
that other order was another set (every engine's voices in another order: other speeds and pitches, other clips), so
that the rerun synthesized a new set and then stopped on "a run whose data was built from other files"; (2) a run
trained on other data (--synth DIR, --positives), rerun without them, was told that its OUT/synth/positives.jsonl was
missing and to finish a synthesis it never made, where it was told it holds a run on other data; (3) a rerun with
another keyword, where the run has no last.pt yet, synthesized that keyword into the run's OUT/synth before it was
told that the run is of another keyword, leaving a set of the wrong keyword that the right rerun then refused."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import cli_run

TRAIN = ["--epochs", "1", "--steps", "2", "--batch", "8", "--workers", "1"]


@pytest.fixture(scope="module")
def pico_flite_run(tmp_path_factory) -> Path:
    """A run synthesized with --synth-engines pico flite (not in sorted order), one short epoch."""
    pytest.importorskip("torch")
    if shutil.which("flite") is None or shutil.which("pico2wave") is None:
        pytest.skip("flite and pico2wave are not installed (scripts/install-system.sh)")
    out = tmp_path_factory.mktemp("q") / "run"
    argv = ["train", "detector", "--keyword", "yes", "--out", str(out), "--synth-engines", "pico", "flite", *TRAIN]
    first = subprocess.run([sys.executable, "-m", "speechseq", *argv], capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-2000:]
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out


def test_a_synthesis_made_again_is_the_one_made_first_whatever_the_engines_order(pico_flite_run, tmp_path):
    """--synth-engines pico flite: made again as "flite pico" (the bank's sorted record), the set was another one."""
    out = _copy(pico_flite_run, tmp_path)
    positives = out / "synth" / "positives.jsonl"
    rows = positives.read_text()
    clips = sorted(p.name for p in (out / "synth" / "audio").iterdir())
    positives.unlink()
    code, _, stderr = cli_run.run("train", "detector", "--keyword", "yes", "--out", out, "--synth-engines", "pico",
                                  "flite", *TRAIN, "--epochs", "2")   # resumed for one more epoch
    assert code == 0, stderr[-2000:]
    assert positives.read_text() == rows                 # the same set, no clip made again
    assert sorted(p.name for p in (out / "synth" / "audio").iterdir()) == clips
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1, 2]


def test_a_run_on_other_data_is_said_so_not_sent_to_finish_a_synthesis(pico_flite_run, tmp_path):
    """A run trained with --synth DIR, rerun without it: its bank records no synthesis into OUT/synth."""
    out = tmp_path / "other"
    code, _, stderr = cli_run.run("train", "detector", "--keyword", "yes", "--out", out, "--synth",
                                  pico_flite_run / "synth", *TRAIN)
    assert code == 0, stderr[-2000:]
    code, _, stderr = cli_run.run("train", "detector", "--keyword", "yes", "--out", out, *TRAIN)
    assert code != 0
    assert "other data" in stderr and "--positives was" in stderr, stderr[-2000:]
    assert "is missing" not in stderr                    # before: "OUT/synth/positives.jsonl is missing ... finish it"
    assert not (out / "synth").exists()


def test_a_rerun_with_another_keyword_synthesizes_nothing_into_the_run(pico_flite_run, tmp_path):
    """No last.pt (a run stopped in its first epoch), OUT/synth without positives.jsonl, --keyword no: the keyword
    was synthesized into OUT/synth, then refused; the run's OUT/synth now held a set of "no"."""
    out = _copy(pico_flite_run, tmp_path)
    (out / "synth" / "positives.jsonl").unlink()
    (out / "last.pt").unlink()
    clips = sorted(p.name for p in (out / "synth" / "audio").iterdir())
    code, _, stderr = cli_run.run("train", "detector", "--keyword", "no", "--out", out, "--synth-engines", "pico",
                                  "flite", *TRAIN)
    assert code != 0
    assert "holds a run for keyword 'yes', not 'no'" in stderr, stderr[-2000:]
    assert not (out / "synth" / "positives.jsonl").exists()
    assert sorted(p.name for p in (out / "synth" / "audio").iterdir()) == clips
