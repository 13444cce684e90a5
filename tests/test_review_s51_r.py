"""Review (s51, r): four leftovers. scripts/eval_commands.py's --deficits took a negative bound (a table row of 0 %
accepted) and nan (a row of nothing); `record --background 1e300` ran, and would print a 300-digit count of seconds a
file a minute; `train detector --synth DIR` where DIR holds no finished synthesis said only "DIR/positives.jsonl: no
such file or directory"; and --split '' means the default in tune fusion and train recognizer but every row in eval
recognizer and analyze, which their --help did not say."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from .cli_run import run
from .script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"


@pytest.mark.parametrize("bad", ["-1", "nan", "inf"])
def test_eval_commands_deficits_out_of_range_is_a_usage_error(tmp_path, monkeypatch, capsys, bad):
    """--deficits 2 -1 ran the whole evaluation (here: on to the missing model's error, exit 1); now argparse's one
    line, exit 2, before any work, as --min-order."""
    script = load_script("eval_commands", "eval_commands_s51_r")
    monkeypatch.setattr(sys, "argv", ["eval_commands.py", "--decoder", "none", "--model", str(tmp_path / "no.onnx"),
                                      "--set", f"x={tmp_path / 'set.jsonl'}", "--deficits", "2", bad])
    with pytest.raises(SystemExit) as exc:
        script.main()
    err = capsys.readouterr().err
    assert exc.value.code == 2, err
    assert err.strip().splitlines()[-1].endswith(f"--deficits must be finite numbers >= 0, got {bad}"), err


def test_eval_commands_deficit_of_zero_is_taken(tmp_path, monkeypatch, capsys):
    """0 is a bound (only a phrase matched exactly); the run goes on to its work (the missing model: exit 1)."""
    script = load_script("eval_commands", "eval_commands_s51_r0")
    monkeypatch.setattr(sys, "argv", ["eval_commands.py", "--decoder", "none", "--model", str(tmp_path / "no.onnx"),
                                      "--set", f"x={tmp_path / 'set.jsonl'}", "--deficits", "0", "2"])
    assert script.main() == 1
    assert "--deficits" not in capsys.readouterr().err


@pytest.mark.parametrize("minutes, ok", [("1e300", False), ("1440.5", False), ("1440", True)])
def test_record_background_is_at_most_a_day(tmp_path, minutes, ok):
    """--background 1e300 recorded (its progress line a 300-digit number of seconds); now at most 24 h, a usage
    error naming the option beyond it."""
    code, out, err = run("record", "--background", minutes, "--out", tmp_path / "room", "--input", SAMPLE)
    if ok:  # the file is shorter than a day: its seconds kept
        assert code == 0 and "kept" in err, err
    else:
        assert code == 2 and err.strip().splitlines()[-1].endswith(
            f"argument --background: must lie in (0, 1440], got {minutes}"), err
        assert not (tmp_path / "room").exists()


def test_train_detector_synth_folder_without_a_finished_set(tmp_path, monkeypatch):
    """--synth DIR, DIR holding clips but no positives.jsonl (a `synth keyword` cut short): "DIR/positives.jsonl: no
    such file or directory"; now it says the set is not finished and the command that finishes it."""
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "syn" / "audio").mkdir(parents=True)
    code, out, err = run("train", "detector", "--keyword", "hey robot", "--synth", "syn", "--out", "run")
    assert code == 1 and len(err.splitlines()) == 1, err
    assert err == ("speechseq: error: --synth syn: no positives.jsonl there, so no finished `speechseq synth keyword` "
                   "set (one cut short leaves none): finish it by running `speechseq synth keyword --keyword "
                   "'hey robot' --out syn` again, with the options it was made with (a rerun makes only what is "
                   "missing)\n")


def test_train_detector_synth_folder_missing_or_a_file(tmp_path, monkeypatch):
    """--synth gone (or a file: its positives.jsonl) said "gone/positives.jsonl: no such file or directory"."""
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    code, out, err = run("train", "detector", "--keyword", "activate", "--synth", "gone", "--out", "run")
    assert code == 1 and err == ("speechseq: error: --synth gone: no such folder (`speechseq synth keyword --keyword "
                                 "activate --out gone` makes one)\n"), err
    (tmp_path / "positives.jsonl").write_text("")
    code, out, err = run("train", "detector", "--keyword", "activate", "--synth", "positives.jsonl", "--out", "run")
    assert code == 1 and err == ("speechseq: error: --synth positives.jsonl: not a folder: give the folder `speechseq "
                                 "synth keyword --out DIR` made\n"), err


@pytest.mark.parametrize("argv, says", [
    (["tune", "fusion"], "'': the default"),
    (["train", "recognizer"], "'': the same as leaving it out"),
    (["eval", "recognizer"], "default, or '': every row"),
    (["analyze"], "default, or '': every row"),
])
def test_split_help_says_what_an_empty_split_means(argv, says):
    """--split '' is the default in tune fusion and train recognizer (every row but the evaluation splits) and every
    row in eval recognizer and analyze: each --help says which."""
    code, out, err = run(*argv, "--help")
    assert code == 0, err
    flat = " ".join(out.split())
    start = flat.rindex("--split SPLIT ")  # the option, not the usage line
    assert says in flat[start:start + 400], flat[start:start + 400]
