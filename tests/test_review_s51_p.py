"""Session 51, two loose ends. (1) `listen --commands` counted a final as a command (its --json "command", "(command)"
on the terminal, $SPEECHSEQ_COMMAND of --exec) whenever its free decode spelt a phrase of the list, even where
CommandSet.match had refused that phrase (its deficit bound, or the order test MIN_ORDER), while `transcribe
--commands` decides through the match alone: the same audio and list were a command to one and none to the other.
(2) `train detector` on an OUT whose synth was interrupted (bank.npz there, synth/positives.jsonl not)."""
from __future__ import annotations

import json
from pathlib import Path

from speechseq.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
# the shipped lexicon search's free text of the demo's command ("turn on the kitchen lights" said after "activate")
FREE_TEXT = "are on the carton life"


def _listen_final(capsys, commands: Path, *extra: str) -> dict:
    code = main(["listen", "--input", str(SAMPLE), "--fast", "--json", "--no-partials", "--commands", str(commands),
                 *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    finals = [e for e in map(json.loads, out.splitlines()) if e["event"] == "final"]
    assert len(finals) == 1, out
    return finals[0]


def _transcribe_commands(capsys, commands: Path, *extra: str) -> list[str]:
    code = main(["transcribe", str(SAMPLE), "--format", "json", "--commands", str(commands), *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return [c["command"] for c in json.loads(out)["commands"]]


def test_listen_counts_a_command_only_where_the_match_took_it(tmp_path, capsys):
    """A list holding the demo's free text as a phrase, and --command-bound 0: the phrase's deficit (its CTC score
    below the best path: the free text is the lexicon search's, not the greedy path) is above 0, so that the match
    refuses it and transcribe --commands gives no command; listen's final, spelt freely as that very phrase, had
    "command": "Are on the carton life". Now null, as in transcribe; with the default bound both take it."""
    commands = tmp_path / "list.txt"
    commands.write_text("Are on the carton life\nturn off the radio\n")
    refused = _listen_final(capsys, commands, "--command-bound", "0")
    assert refused["text"] == FREE_TEXT           # the free decode spells the phrase...
    assert _transcribe_commands(capsys, commands, "--command-bound", "0") == []
    assert refused["command"] is None             # ...but it was not taken (before: "Are on the carton life")
    taken = _listen_final(capsys, commands)
    assert taken["text"] == FREE_TEXT and taken["command"] == "Are on the carton life"
    assert _transcribe_commands(capsys, commands) == ["Are on the carton life"]


def test_train_detector_resumes_where_its_synthesis_was_cut_short(tmp_path):
    """`train detector --keyword K --out OUT` (no --synth, no --positives) trains on what it synthesized into OUT/synth
    and caches the features in OUT/bank.npz. A synthesis into OUT/synth cut short while its manifests were put in place
    leaves no positives.jsonl (train/synth_sets.py _write_manifests), and the rerun took the run for one on other data
    ("holds a run on other data (--positives was OUT/synth/positives.jsonl): ... or delete OUT to start over": the
    training thrown away). It now makes the set again as the first command did (the options its bank records, the
    clips already there kept), and resumes on the same data: the bank's check of the files passes."""
    import shutil
    import subprocess
    import sys

    import pytest

    pytest.importorskip("torch")
    if shutil.which("flite") is None:
        pytest.skip("flite is not installed (scripts/install-system.sh)")
    from . import cli_run
    from .test_train_detector_cli import synth_run_argv

    out = tmp_path / "run"
    argv = synth_run_argv(out)
    first = subprocess.run([sys.executable, "-m", "speechseq", *argv], capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    positives = out / "synth" / "positives.jsonl"
    rows = positives.read_text()
    clips = sorted(p.name for p in (out / "synth" / "audio").iterdir())
    positives.unlink()                                   # as an interrupted _write_manifests leaves the set
    code, stdout, stderr = cli_run.run(*argv, "--epochs", "2")   # resumed for one more epoch
    assert code == 0, stderr[-2000:]
    assert "other data" not in stderr
    assert f"{positives} is missing" in stderr
    assert positives.read_text() == rows                 # the same set, its clips kept, none made again
    assert sorted(p.name for p in (out / "synth" / "audio").iterdir()) == clips
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]       # resumed from last.pt, not started over
