"""scripts/detector_misses.py: the recording traits it bins real clips by, and its error without data."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from detector_misses import clip_traits  # noqa: E402


def test_clip_traits_measure_floor_level_and_low_band():
    rng = np.random.default_rng(0)
    floor = 1e-4 * rng.standard_normal(16000)                     # -80 dB RMS
    t = np.arange(16000) / 16000
    tone = 0.1 * np.sqrt(2) * np.sin(2 * np.pi * 100 * t)         # -20 dB RMS, all of it under 300 Hz
    lo, level, low = clip_traits(np.concatenate([floor, tone]).astype(np.float32))
    assert abs(lo + 80) < 1.5 and abs(level + 20) < 0.5 and low > 0.99
    _, _, low_hiss = clip_traits((0.1 * rng.standard_normal(32000)).astype(np.float32))
    assert abs(low_hiss - 300 / 8000) < 0.01                      # white noise: its share of the band


def test_missing_data_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "scripts/detector_misses.py", "models/activate.onnx", "--data", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode != 0 and "give --data" in out.stderr and "Traceback" not in out.stderr


def test_every_table_is_printed_for_a_precise_keyword(tmp_path):
    """End to end on made-up Precise clips of "activate" (the shipped model's keyword): the traits, the
    added floors, the gains and the lead-ins each get their table, with a share per row."""
    import re

    import soundfile as sf

    sys.path.insert(0, str(ROOT))
    from tests.fake_precise import write_fake_data

    rows = write_fake_data(tmp_path, ("activate",), 3, 1)
    rng = np.random.default_rng(0)
    for r in rows:
        path = tmp_path / "precise" / r["audio_filepath"]
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.05 * rng.standard_normal(16000)).astype(np.float32), 16000)
    out = subprocess.run([sys.executable, "scripts/detector_misses.py", "models/activate.onnx", "--data", str(tmp_path),
                          "--added-floor", "-60", "--gain", "6", "--lead", "0.5", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "3 real clips" in out.stdout
    for trait in ("noise floor (dB)", "speech level (dB)"):                # the traits: each clip in one bin
        assert f"| {trait} | clips | missed |" in out.stdout, out.stdout
        table = out.stdout.split(f"| {trait} | clips | missed |")[1].split("\n\n")[0].strip().splitlines()[1:]
        assert len(table) >= 2 and sum(int(r.split("|")[2]) for r in table) == 3, table
    lead = re.findall(r"^\| (0\.5|2) \| (\d+\.\d) % \| (\d+\.\d) % \|$", out.stdout, re.M)
    assert [r[0] for r in lead] == ["0.5", "2"] and all(0 <= float(v) <= 100 for r in lead for v in r[1:])
    assert re.search(r"^\| -60 \| \d+\.\d % \| \d+\.\d % \|$", out.stdout, re.M)
    assert re.search(r"^\| \+6 \| \d+\.\d % \|$", out.stdout, re.M)


def test_missing_model_is_a_clear_error(tmp_path):
    """A model path that is not there was a ModelError traceback."""
    sys.path.insert(0, str(ROOT))
    from tests.fake_precise import write_fake_data

    write_fake_data(tmp_path, ("activate",), 1, 0)
    out = subprocess.run([sys.executable, "scripts/detector_misses.py", str(tmp_path / "none.onnx"), "--data", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "none.onnx: no such model file" in out.stderr


def test_data_without_the_kathleen_or_fsdd_manifest_is_a_clear_error(tmp_path):
    """Only the Precise manifest checked: a --data folder without Kathleen's or FSDD's manifest (whose speech the
    clips' sets are told apart from) was a FileNotFoundError traceback."""
    (tmp_path / "precise").mkdir()
    (tmp_path / "precise" / "manifest.jsonl").write_text(
        '{"audio_filepath": "a.wav", "duration": 1, "text": "activate", "kind": "wake-word"}\n')
    out = subprocess.run([sys.executable, "scripts/detector_misses.py", "models/activate.onnx", "--data", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "kathleen/manifest.jsonl" in out.stderr and "give --data" in out.stderr, out.stderr
