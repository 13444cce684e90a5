"""Review (s52, g): the false accepts of scripts/eval_commands.py (a phrase taken from a list without the one said)
were only a share in its table; `--list-false-accepts` names each: the clip, the phrase said, the phrase taken, its
deficit and order, and the deficit of the phrase said (how session 52 read the Precise ones: near-homophones as the
recogniser hears them, no defect of speechseq.runtime.command_set)."""
from __future__ import annotations

import sys

import numpy as np

from speechseq.audio import load_audio
from speechseq.frontend import logmel
from speechseq.runtime.command_set import CommandSet
from speechseq.runtime.recognizer import Recognizer

from .script_loader import ROOT, load_script

MODEL = ROOT / "models" / "recognizer-en.int8.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
SAID, TWIN = "turn on the kitchen lights", "turn off the kitchen lights"


def test_false_accepts_are_those_within_the_bound_and_in_order():
    """A false accept is a phrase within the bound (inclusive) and in order by min_order (inclusive), as
    CommandSet.match accepts; one past either bound is not listed."""
    script = load_script("eval_commands", "eval_commands_s52_g")
    lines = script._false_accepts(["a.wav", "b.wav", "c.wav", "d.wav"], ["one", "two", "three", "four"],
                                  ["five", "six", "seven", "eight"], np.array([1.0, 2.0, 2.01, 1.5]),
                                  np.array([2.0, 1.25, 3.0, 1.24]), np.array([0.5, 0.25, 1.0, 3.0]), 2.0, 1.25)
    assert lines == ["false accepts at max deficit 2: 2 of 4",
                     "| clip | said | taken | deficit | order | deficit of the phrase said |",
                     "|---|---|---|---|---|---|",
                     "| a.wav | one | five | 1.00 | 2.00 | 0.50 |",
                     "| b.wav | two | six | 2.00 | 1.25 | 0.25 |"]
    assert script._false_accepts(["a.wav"], ["one"], ["five"], [2.5], [3.0], [0.5], 2.0, 1.25) == [
        "false accepts at max deficit 2: 0 of 1"]


def test_list_false_accepts_names_the_phrase_taken_with_its_scores(tmp_path, monkeypatch, capsys):
    """The demo recording ("activate, turn on the kitchen lights") with "turn off the kitchen lights" and "dim the
    lights" as the other phrases: at a bound of 3 its twin is taken when its own phrase is left out (deficit 2.88,
    order 3.97, its own 2.12), listed with the numbers CommandSet gives; at 2, the greatest bound, nothing is.
    Before, --list-false-accepts was an unknown option (exit 2)."""
    manifest, extra = tmp_path / "set.jsonl", tmp_path / "extra.txt"
    manifest.write_text(f'{{"audio_filepath": "{SAMPLE}", "text": "{SAID}"}}\n')
    extra.write_text(f"{TWIN}\ndim the lights\n")
    rec = Recognizer(MODEL)
    lp = rec.log_probs(logmel(load_audio(SAMPLE, rec.frontend.sample_rate), rec.frontend))
    table = CommandSet([SAID, TWIN, "dim the lights"])
    scores, deficits = table.scores(lp)
    assert int(np.argmin(deficits[1:])) == 0 and 2.0 < deficits[1] <= 3.0    # the case this test is about
    want = (f"| {SAMPLE} | {SAID} | {TWIN} | {deficits[1]:.2f} | {table.order(lp, 1, float(scores[1])):.2f} | "
            f"{deficits[0]:.2f} |")

    script = load_script("eval_commands", "eval_commands_s52_g2")
    base = ["eval_commands.py", "--decoder", "none", "--set", f"x={manifest}", "--extra", str(extra),
            "--list-false-accepts"]
    monkeypatch.setattr(sys, "argv", base + ["--deficits", "2", "3"])
    assert script.main() == 0
    out = capsys.readouterr().out.splitlines()
    assert "| 3 | 100.0 % | 0.0 % | 0.0 % | 100.0 % |" in out       # the table's column: one false accept
    at = out.index("false accepts at max deficit 3: 1 of 1")
    assert out[at + 3] == want, out

    monkeypatch.setattr(sys, "argv", base + ["--deficits", "2"])
    assert script.main() == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "false accepts at max deficit 2: 0 of 1", out
