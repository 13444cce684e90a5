"""Review (s51, e): a new user's walk through README.md from a fresh clone. Its first commands were written as bare
`speechseq ...`, which a fresh shell does not find (the command is .venv/bin/speechseq); `scripts/eval_commands.py
--help`, whose command the README gives for the Commands table, showed one line and options without a word of what
--set, --model or --deficits take; `record --input FILE` told the user to speak ("say it, pause, say it again")
while it cut a file."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from speechseq.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"


def test_readme_code_blocks_run_speechseq_from_the_venv():
    """The README's ``` blocks are what a user pastes: a line that runs the command names .venv/bin/speechseq (as
    "Training your own keyword" always did), and the text says so once for the commands in its prose."""
    text = (ROOT / "README.md").read_text()
    lines = [line for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S) for line in block.splitlines()]
    bare = [line for line in lines if re.match(r"\s*speechseq\s", line)]
    assert not bare, bare
    assert sum(".venv/bin/speechseq listen --input data/samples/activate_kitchen_lights.wav" in line
               for line in lines) == 2
    assert "`.venv/bin/speechseq` (on the PATH as `speechseq` after `source .venv/bin/activate`)" in text


def test_eval_commands_help_explains_its_options():
    """`scripts/eval_commands.py --help` printed the docstring's first line only: no example, and --set, --model and
    --deficits without help or defaults. It shows the whole docstring (the example command) and says each."""
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "eval_commands.py"), "--help"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    flat = " ".join(out.split())
    assert "--set fsdd-test=../shared/data/fsdd/manifest.jsonl:test" in flat            # the docstring's example
    assert "named NAME in the output (repeat for several)" in flat
    assert "recogniser (default: the shipped models/recognizer-" in flat
    assert "a table row each (default: 1 1.5 2 2.2 2.5 3 4)" in flat
    assert "default: lexicon" in flat and "(default: cache/eval_commands)" in flat


def test_record_from_a_file_says_it_cuts_it(tmp_path, capsys):
    """`record K --out DIR --input FILE` said 'recording from FILE: say "K", pause, say it again': a file is read and
    cut at its pauses, and the line says that; the microphone's prompt is as it was."""
    assert main(["record", "activate", "--out", str(tmp_path / "clips"), "--input", str(SAMPLE),
                 "--vad", "energy", "--count", "1"]) == 0
    err = capsys.readouterr().err
    assert (f'speechseq: reading {SAMPLE}: (VAD: energy) cutting the takes of "activate" out of it at its pauses '
            "(1 take; Ctrl+C stops, keeping every take saved)") in err, err
    assert "say it again" not in err and "recording from" not in err
    assert sorted(p.name for p in (tmp_path / "clips").glob("*.wav")) == ["activate-001.wav"]
