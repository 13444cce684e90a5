"""scripts/detector_runon.py: the run-on clips it makes, the files it counts as woken (as `speechseq detect` finds
them), its cache of clips and its table."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from detector_runon import SETS, clips_folder, commands, framed, run_on, runon_counts, table, woken  # noqa: E402
from speechseq.errors import SpeechseqError  # noqa: E402
from speechseq.runtime.detector import Detector  # noqa: E402
from tests.cli_run import run  # noqa: E402

MODEL = ROOT / "models" / "activate.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (scripts/install-system.sh)")


def test_commands_are_the_lines_less_comments_and_blanks(tmp_path):
    cmds = commands()
    assert len(cmds) == 28 and cmds[0] == "turn on the kitchen lights" and not any(c.startswith("#") for c in cmds)
    f = tmp_path / "c.txt"
    f.write_text("# a comment\n\n  dim the lights  \nopen the blinds\n", encoding="utf-8")
    assert commands(f) == ["dim the lights", "open the blinds"]


def test_a_run_on_clip_is_the_parts_between_silences_at_0_3_over_noise():
    kw, cmd = np.full(3000, 0.5, np.float32), np.full(5000, -0.5, np.float32)
    parts = run_on(kw, cmd, 50)
    assert [len(p) for p in parts] == [3000, 800, 5000] and not parts[1].any()
    x = framed(parts, np.random.default_rng(0))
    assert x.dtype == np.float32 and len(x) == 8000 + 3000 + 800 + 5000 + 4000
    np.testing.assert_allclose(x[8000:11000], 0.15, atol=3e-3)                    # 0.3 of the keyword, plus noise
    np.testing.assert_allclose(x[11800:16800], -0.15, atol=3e-3)
    floor = 20 * np.log10(np.sqrt(np.mean(np.concatenate([x[:8000], x[16800:]]).astype(np.float64) ** 2)))
    assert abs(floor + 65) < 0.3
    np.testing.assert_array_equal(x, framed(parts, np.random.default_rng(0)))    # the seed decides the noise


def test_table_lines_up_woke_over_total():
    counts = {name: (k, 30) for k, (name, _) in enumerate(SETS)}
    lines = table([("base0/amelia.onnx", "0.8 (own)", counts)])
    assert lines[0].split() == ["model", "threshold", "0", "ms", "50", "ms", "100", "ms", "200", "ms", "one",
                                "sentence", "comma", "alone"]
    assert lines[1].split() == ["base0/amelia.onnx", "0.8", "(own)", "0/30", "1/30", "2/30", "3/30", "4/30", "5/30",
                                "6/30"]
    assert lines[1].index("0/30") == lines[0].index("0 ms")                       # the cells under their headings


def test_woken_counts_files_with_a_detection_and_skips_a_bad_one(tmp_path, capsys):
    shutil.copy(SAMPLE, tmp_path / "a.wav")                                        # "activate": found
    sf.write(tmp_path / "b.wav", np.zeros(16000, np.float32), 16000)               # silence: nothing
    (tmp_path / "c.wav").write_bytes(b"RIFF not a wav")                           # reported, not counted
    assert woken(Detector.load([MODEL]), tmp_path) == (1, 2)
    err = capsys.readouterr().err
    assert err.startswith("skipped: ") and "c.wav" in err and err.count("\n") == 1


def test_a_clip_folder_of_other_clips_is_refused(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(SpeechseqError, match="no index.json"):
        clips_folder(other, "activate")
    made = tmp_path / "made"
    for name, _ in SETS:
        (made / name).mkdir(parents=True)
        shutil.copy(SAMPLE, made / name / "00.wav")
    (made / "index.json").write_text("[]")
    (made / "clips.json").write_text(json.dumps({"keyword": "amelia", "voices": 30, "seed": 46}))
    with pytest.raises(SpeechseqError, match="clips of 'amelia' .30 voices, seed 46., not of 'activate'"):
        clips_folder(made, "activate")
    with pytest.raises(SpeechseqError, match="not of 'amelia' .2 voices"):
        clips_folder(made, "amelia", voices=2)
    assert clips_folder(made, "amelia") == made
    (made / "clips.json").write_text("{half")
    with pytest.raises(SpeechseqError, match="clips.json is not the JSON"):
        clips_folder(made, "amelia")
    (made / "clips.json").write_text(json.dumps({"keyword": "amelia", "voices": 30, "seed": 46}))
    shutil.rmtree(made / "comma")
    with pytest.raises(SpeechseqError, match="no comma/"):
        clips_folder(made, "amelia")


@needs_espeak
def test_made_clips_and_counts_equal_detect_commands(tmp_path):
    """Two voices' clips of "activate": every set, each gap's silence between the same keyword and command, the index,
    made once; the counts are those of `speechseq detect --json` over each set, at the model's and another threshold."""
    clips = tmp_path / "clips"
    assert clips_folder(clips, "activate", voices=2, seed=46) == clips
    rows = json.loads((clips / "index.json").read_text())
    assert [r["k"] for r in rows] == [0, 1] and [r["cmd"] for r in rows] == commands()[:2]
    assert all(r["voice"].startswith("espeak-ng:") for r in rows)
    assert json.loads((clips / "clips.json").read_text()) == {"keyword": "activate", "voices": 2, "seed": 46}
    assert not list(tmp_path.glob(".clips.part-*"))                               # the folder it was made in is gone
    for k in ("00", "01"):
        n = {name: sf.info(clips / name / f"{k}.wav").frames for name, _ in SETS}
        assert n["50"] - n["0"] == 800 and n["100"] - n["0"] == 1600 and n["200"] - n["0"] == 3200
        assert n["alone"] < n["0"] and sf.info(clips / "0" / f"{k}.wav").samplerate == 16000
    stamp = (clips / "0" / "00.wav").stat().st_mtime_ns
    clips_folder(clips, "activate", voices=2, seed=46)                            # read back, not made again
    assert (clips / "0" / "00.wav").stat().st_mtime_ns == stamp
    for threshold in (None, 0.5):
        got = runon_counts(MODEL, clips, threshold)
        for name, _ in SETS:
            code, out, _ = run("detect", "--json", "--model", MODEL, *(["--threshold", threshold] if threshold else []),
                               clips / name)
            results = [json.loads(line) for line in out.splitlines()]
            assert code == 0 and len(results) == 2
            assert got[name] == (sum(bool(r["detections"]) for r in results), 2), (name, threshold)
    out = subprocess.run([sys.executable, "scripts/detector_runon.py", str(MODEL), "--clips", str(clips),
                          "--voices", "2", "--threshold", "0.5"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3 and lines[1].split()[:3] == ["models/activate.onnx", "0.75", "(own)"]
    assert lines[2].split()[:2] == ["models/activate.onnx", "0.5"]
    assert all(c.endswith("/2") for c in lines[2].split()[2:])


def test_bad_input_is_a_clear_error(tmp_path):
    def script(*argv):
        return subprocess.run([sys.executable, "scripts/detector_runon.py", *map(str, argv)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)

    out = script(tmp_path / "none.onnx", "--clips", tmp_path / "c")
    assert out.returncode != 0 and "none.onnx: no such model file" in out.stderr and "Traceback" not in out.stderr
    out = script(MODEL, ROOT / "models" / "computer.onnx", "--clips", tmp_path / "c")
    assert out.returncode != 0 and "different keywords" in out.stderr and "--keyword" in out.stderr
    assert not (tmp_path / "c").exists()
    out = script(ROOT / "models" / "recognizer-en.int8.onnx", "--clips", tmp_path / "c")   # was a KeyError traceback
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "recognizer-en.int8.onnx: a speech recogniser, not a trigger-word detector" in out.stderr
    (tmp_path / "f").write_text("x")
    out = script(MODEL, "--clips", tmp_path / "f")
    assert out.returncode != 0 and "not a folder" in out.stderr and "Traceback" not in out.stderr, out.stderr
