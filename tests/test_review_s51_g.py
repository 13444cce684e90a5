"""Small rough edges of a README walk (session 51, helper g): `eval detector`'s summary said its figures by their
dictionary keys (frr, fa_per_hour_at_target), `transcribe --output-dir` wrote its files without a word, `detect`
loaded training code for one helper, and options of scripts/bench_listener.py had no help."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main

ROOT = Path(__file__).resolve().parents[1]
DETECTOR = ROOT / "models" / "activate.onnx"
RECOGNIZER = ROOT / "models" / "recognizer-en.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"  # "activate, turn on the kitchen lights"
needs_detector = pytest.mark.skipif(not (DETECTOR.exists() and SAMPLE.exists()),
                                    reason="shipped model or sample missing")


def _noise(path: Path, seconds: float) -> Path:
    sf.write(path, (0.01 * np.random.default_rng(0).standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
    return path


# --- eval detector: each figure said in words and units; --json as it was ---------------------------------------

@needs_detector
def test_the_detector_summary_says_what_each_figure_is(tmp_path, capsys):
    """The text summary was the summary's keys, right-aligned ("frr: 0.0", "fa_per_hour_at_target: 0.0"): what a
    rate counts, and in what unit, was left to guess."""
    neg = _noise(tmp_path / "room.wav", 3.0)
    assert main(["eval", "detector", "--model", str(DETECTOR), "--positives", str(SAMPLE), "--negatives", str(neg),
                 "--det", str(tmp_path / "det.png")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f'{DETECTOR}: keyword "activate" at threshold 0.75 (the model\'s)',
        "  measured on 1 keyword recording and 3 s of audio without the keyword",
        "  false rejects: 0.00% of the keyword recordings missed",
        "  false accepts: 0 on the audio without the keyword, 0 per hour",
        "  for at most 0.5 false accepts per hour (--target-fa): threshold 0.02, 0.00% missed, 0 false accepts "
        "per hour",
        f"  DET curve (false rejects against false accepts per hour): {tmp_path / 'det.png'}"], out
    for key in ("frr", "fa_per_hour", "negative_hours", "threshold_for_target", "target_fa_per_hour"):
        assert key not in out


@needs_detector
def test_a_threshold_given_and_false_accepts_are_said_per_hour(tmp_path, capsys):
    """The demo recording as the audio without the keyword, at --threshold 0.3: its "activate" is a false accept,
    1 in 5.17 s, said as a count and as a rate per hour; the threshold said as --threshold's."""
    assert main(["eval", "detector", "--model", str(DETECTOR), "--positives", str(SAMPLE), "--negatives", str(SAMPLE),
                 "--threshold", "0.3", "--target-fa", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f'{DETECTOR}: keyword "activate" at threshold 0.3 (--threshold)'
    assert lines[1] == "  measured on 1 keyword recording and 5 s of audio without the keyword"
    assert lines[3].startswith("  false accepts: 1 on the audio without the keyword, ")
    assert lines[3].endswith(" per hour")
    per_hour = float(lines[3].split(", ")[1].split()[0])
    assert per_hour == pytest.approx(3600 / 5.17, rel=0.02)
    assert lines[4].startswith("  for at most 0 false accepts per hour (--target-fa): threshold ")
    assert lines[4].endswith("missed, 0 false accepts per hour")


@needs_detector
def test_the_json_summary_keeps_its_keys(tmp_path, capsys):
    """--json is the machine's contract: the same keys, in the same order, as before the text was reworded."""
    neg = _noise(tmp_path / "room.wav", 3.0)
    assert main(["eval", "detector", "--model", str(DETECTOR), "--positives", str(SAMPLE), "--negatives", str(neg),
                 "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert list(s) == ["model", "keyword", "threshold", "positives", "skipped", "negative_hours", "frr",
                       "false_accepts", "fa_per_hour", "target_fa_per_hour", "threshold_for_target", "frr_at_target",
                       "fa_per_hour_at_target"]
    assert s["frr"] == 0.0 and s["false_accepts"] == 0 and s["threshold"] == 0.75


def test_the_summary_lines_of_an_interrupted_run_a_missed_target_and_a_saved_threshold():
    """The lines that a short test run does not reach: an interrupted evaluation, files skipped, a target no
    threshold meets, a threshold saved into the model, and a key the wording does not know (said as KEY: VALUE)."""
    from speechseq.commands.eval_detector import summary_lines

    s = {"model": "m.onnx", "keyword": "amelia", "threshold": 0.8, "positives": 200, "skipped": 2,
         "negative_hours": 1.5, "interrupted": True, "frr": 0.125, "false_accepts": 3, "fa_per_hour": 2.0,
         "target_note": "no threshold reaches 0.5 false accepts per hour (lowest on the grid: 0.667)",
         "saved_threshold": 0.9, "new_figure": 7}
    assert summary_lines(s, 0.5, False) == [
        'm.onnx: keyword "amelia" at threshold 0.8 (the model\'s)',
        "  interrupted: the figures are those of the files measured before it",
        "  measured on 200 keyword recordings and 1.50 h of audio without the keyword (2 files could not be read "
        "and skipped)",
        "  false rejects: 12.50% of the keyword recordings missed",
        "  false accepts: 3 on the audio without the keyword, 2 per hour",
        "  for at most 0.5 false accepts per hour (--target-fa): no threshold reaches 0.5 false accepts per hour "
        "(lowest on the grid: 0.667)",
        "  threshold 0.9 saved into m.onnx, which detect and listen now use (the one before it kept as "
        "threshold_previous)",
        "  new_figure: 7"]
    assert summary_lines({**s, "negative_hours": 0.25}, 0.5, False)[2].startswith(
        "  measured on 200 keyword recordings and 15.0 min of audio")


# --- transcribe --output-dir: each file written is named, on stderr ---------------------------------------------

@pytest.mark.skipif(not (RECOGNIZER.exists() and SAMPLE.exists()), reason="shipped recogniser or sample missing")
def test_transcribe_says_where_each_file_went(tmp_path, capsys):
    """--output-dir wrote DIR/STEM.FORMAT for each input in silence: the user had to guess the names (a stem two
    inputs share is written as STEM-2). Each is named on stderr as it is written; stdout stays empty."""
    other = tmp_path / "in" / "activate_kitchen_lights.wav"  # the same stem as SAMPLE's
    other.parent.mkdir()
    _noise(other, 1.0)
    out_dir = tmp_path / "subs"
    assert main(["transcribe", str(SAMPLE), str(other), "--decoder", "greedy", "--vad", "off", "--format", "srt",
                 "--output-dir", str(out_dir)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert [line for line in err.splitlines() if line.startswith("wrote ")] == [
        f"wrote {out_dir / 'activate_kitchen_lights.srt'}", f"wrote {out_dir / 'activate_kitchen_lights-2.srt'}"], err
    assert (out_dir / "activate_kitchen_lights.srt").read_text().strip()


@pytest.mark.skipif(not (RECOGNIZER.exists() and SAMPLE.exists()), reason="shipped recogniser or sample missing")
def test_transcribe_to_standard_output_names_no_file(capsys):
    """--output-dir - is stdout, as without it: the transcript there, and no "wrote" line."""
    assert main(["transcribe", str(SAMPLE), "--decoder", "greedy", "--vad", "off", "--output-dir", "-"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() and "wrote" not in err


# --- detect loads no training module ------------------------------------------------------------------------------

@needs_detector
def test_detect_loads_no_training_module():
    """detect imported speechseq.train.kwbank (and with it speechseq.train.augment, .pools) for pad_recording's
    quiet second after each file: training code in the runtime's path. The command run whole, as the CLI runs it
    (its parser alone: the other commands' registrations are not detect's)."""
    code = f"""
import argparse, sys
from speechseq.commands import detect
ap = argparse.ArgumentParser()
detect.register(ap.add_subparsers())
args = ap.parse_args(["detect", {str(SAMPLE)!r}, "--model", {str(DETECTOR)!r}])
assert args.func(args) == 0
print(sorted(m for m in sys.modules if m.startswith("speechseq.train")), file=sys.stderr)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{SAMPLE}: 5.17 s: activate ")
    assert r.stderr.strip().splitlines()[-1] == "[]", r.stderr


def test_the_padding_is_one_function_for_detect_and_training():
    """Moved, not copied: training's names are speechseq.noise's own functions, and the quiet second detect streams
    after a file is still pink noise at -70 dBFS."""
    import speechseq.noise as noise
    from speechseq.commands.detect import file_tail
    from speechseq.train import augment, kwbank

    assert kwbank.pad_recording is noise.pad_recording and augment.coloured_noise is noise.coloured_noise
    assert (kwbank.REAL_LEAD_S, kwbank.REAL_TAIL_S) == (noise.REAL_LEAD_S, noise.REAL_TAIL_S) == (0.5, 1.0)
    tail = file_tail(16000)
    assert tail.dtype == np.float32 and len(tail) == 16000
    assert np.sqrt(np.mean(tail.astype(np.float64) ** 2)) == pytest.approx(10 ** (-70 / 20), rel=1e-4)
    assert np.array_equal(tail, noise.pad_recording(np.zeros(0, np.float32), np.random.default_rng(0), lead_s=0.0))


# --- scripts/bench_listener.py --help: every option said, with its default ----------------------------------------

def test_every_bench_listener_option_has_help_naming_its_default():
    """--keyword-model, --model, --stream-model, --vad and --cache had no help at all, and --early-decode-ms,
    --decoder, --idle-s, --block-ms and --json did not say their default."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench_listener.py"), "--help"], capture_output=True,
                       text=True, cwd=ROOT, timeout=60, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    options = r.stdout.split("\noptions:\n", 1)[1]
    blocks: list[list[str]] = []
    for line in options.splitlines():
        if line.startswith("  -"):
            blocks.append(line.split())
        elif blocks:
            blocks[-1] += line.split()
    said = {}
    for words in blocks:
        rest = words[1:]
        if rest and (rest[0].isupper() or rest[0].startswith("{") or rest[0] == "N"):
            rest = rest[1:]  # the metavar
        said[words[0].rstrip(",")] = " ".join(rest)
    assert {"--keyword-model", "--model", "--stream-model", "--vad", "--cache", "--json", "--live"} <= set(said)
    for option, text in said.items():
        assert text, f"{option}: no help"
        if option not in ("-h", "--live"):  # a flag has no default to name
            assert "default" in text, f"{option}: {text}"
