"""--threads beyond the CPUs this process may use is taken as that many, said once, in every command that has it
(detect found it: 100000 onnxruntime threads stalled a 2-core machine beyond SIGTERM's reach)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
CPUS = len(os.sched_getaffinity(0))
SAID = f"--threads {CPUS + 1}: more than the {CPUS} CPUs here; using {CPUS}"


def _speechseq(*argv) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "speechseq", *map(str, argv)], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


@pytest.mark.skipif(not (ROOT / "models" / "recognizer-en.int8.onnx").is_file(), reason="shipped models missing")
def test_transcribe_and_eval_recognizer_take_at_most_the_cpus(tmp_path):
    model = ROOT / "models" / "recognizer-en.int8.onnx"
    r = _speechseq("transcribe", SAMPLE, "--model", model, "--decoder", "greedy", "--format", "json",
                   "--threads", CPUS + 1)
    assert r.returncode == 0 and r.stderr.count(SAID) == 1, r.stderr
    assert json.loads(r.stdout)["text"]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": str(SAMPLE), "duration": 5.0, "text": "activate"}) + "\n")
    r = _speechseq("eval", "recognizer", "--manifest", manifest, "--model", model, "--decoder", "greedy",
                   "--threads", CPUS + 1)
    assert r.returncode == 0 and r.stderr.count(SAID) == 1, r.stderr


def test_train_lm_takes_at_most_the_cpus(tmp_path):
    pytest.importorskip("torch")
    text = tmp_path / "t.txt"
    text.write_text("\n".join(["the cat sat on the mat", "a dog ran"] * 10 + [f"line {i} of it" for i in range(30)]))
    r = _speechseq("train", "lm", "--text", text, "--out", tmp_path / "lm", "--epochs", "1", "--hidden", "8",
                   "--embed-dim", "4", "--batch-tokens", "256", "--threads", CPUS + 1)
    assert r.returncode == 0 and r.stderr.count(SAID) == 1, r.stderr
