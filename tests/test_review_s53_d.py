"""Session 53, helper d. `train detector --synth-engines pico flite` synthesized its data with the engines sorted
(flite, pico) and recorded them so, while `synth keyword --engines pico flite` keeps the order given (session 52:
each voice's speeds and pitches are drawn in the voices' order): the two commands made other clips of the same
keyword. Now train detector keeps the order given, each engine once, and records it; a run made before (its engines
recorded sorted) resumes as it did when rerun with them in that order, and a rerun in another order is told in one
line that the run resumes on the set its first command made, as for any changed --synth-engines."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from . import cli_run

pytest.importorskip("torch")

TRAIN = ["--epochs", "1", "--steps", "2", "--batch", "8", "--workers", "1"]


def _need_flite_and_pico() -> None:
    if shutil.which("flite") is None or shutil.which("pico2wave") is None:
        pytest.skip("flite and pico2wave are not installed (scripts/install-system.sh)")


def _train(out: Path, *engines: str) -> tuple[int, str, str]:
    """`train detector` of "yes" synthesizing its own data with `engines`, at the least that trains."""
    return cli_run.run("train", "detector", "--keyword", "yes", "--out", out, "--synth-engines", *engines, *TRAIN)


def _rows(folder: Path) -> dict[str, list[tuple]]:
    """A keyword set's manifests, each row as what makes its clip: text, engine, voice, speed, pitch and file."""
    keys = ("text", "engine", "voice", "speed", "pitch", "audio_filepath")
    return {name: [tuple(json.loads(line)[k] for k in keys) for line in (folder / name).read_text().splitlines()]
            for name in ("positives.jsonl", "negatives.jsonl")}


def _recorded(out: Path) -> dict:
    """The synthesis options OUT/bank.npz records (its meta["synthesis"])."""
    from speechseq.train.kwbank import load_bank

    return load_bank(out / "bank.npz")["meta"]["synthesis"]


def test_train_detector_synthesizes_the_engines_in_the_order_given_as_synth_keyword(tmp_path):
    """The same keyword, engines (same order) and default seed and sizes: the same clips from both commands. An engine
    given twice is synthesized once, in its first place, and recorded so (the order the set is made again in:
    tests/test_review_s51_q.py)."""
    _need_flite_and_pico()
    out = tmp_path / "run"
    code, _, err = _train(out, "pico", "flite", "pico")
    assert code == 0, err[-2000:]
    assert _recorded(out)["engines"] == ["pico", "flite"]
    code, _, err = cli_run.run("synth", "keyword", "--keyword", "yes", "--out", tmp_path / "kw", "--engines", "pico",
                               "flite", "--workers", "1")
    assert code == 0, err[-2000:]
    made, wanted = _rows(out / "synth"), _rows(tmp_path / "kw")
    assert len(made["positives.jsonl"]) == 200 and made == wanted  # sorted: 192 of the 200 positives were other clips


def test_a_run_resumes_in_its_recorded_order_and_another_order_is_said_ignored(tmp_path):
    """A run made before recorded its engines sorted: rerun with them in that order it resumes without a word and
    without synthesizing; rerun in another order (another set now) it resumes on its data, saying in one line that
    --synth-engines is ignored and which engines made the data."""
    _need_flite_and_pico()
    out = tmp_path / "run"
    code, _, err = _train(out, "flite", "pico")   # as a run made before: the engines recorded sorted
    assert code == 0, err[-2000:]
    assert _recorded(out)["engines"] == ["flite", "pico"]
    first = _rows(out / "synth")
    code, _, err = _train(out, "flite", "pico")
    assert code == 0, err[-2000:]
    assert "synthesizing" not in err and "ignored" not in err, err[-2000:]
    code, _, err = _train(out, "pico", "flite")
    assert code == 0, err[-2000:]
    assert "synthesizing" not in err and "other files" not in err
    said = [line for line in err.splitlines() if "ignored" in line]
    assert len(said) == 1 and "--synth-engines" in said[0] and "--synth-engines flite pico" in said[0], err[-2000:]
    assert _rows(out / "synth") == first and _recorded(out)["engines"] == ["flite", "pico"]
