"""Review of the analysis and tuning scripts: scripts/keyword_check.py (its keyword score, its errors on bad input)
and scripts/tune_lexicon.py (its cache of recogniser outputs, its errors on missing data)."""
from __future__ import annotations

import itertools
import json
import subprocess
import sys
import types
import zlib
from pathlib import Path

import numpy as np
import pytest
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def _script(name: str):
    return load_script(name, f"{name}_under_review")


# --- scripts/keyword_check.py ----------------------------------------------------------------------------------
def _brute_score(lp: np.ndarray, tokens: list[int]) -> float:
    """The docstring's definition, by enumeration: every span and every label sequence over it that CTC-collapses to
    `tokens`, scored by sum_t (log p_t(label) - max_k log p_t(k))."""
    rel, best = lp - lp.max(1, keepdims=True), -np.inf
    for s, e in itertools.combinations_with_replacement(range(len(lp)), 2):
        for seq in itertools.product(range(lp.shape[1]), repeat=e - s + 1):
            out = [k for i, k in enumerate(seq) if k != 0 and (i == 0 or seq[i - 1] != k)]
            if out == tokens:
                best = max(best, float(sum(rel[s + i, k] for i, k in enumerate(seq))))
    return best


def test_keyword_score_is_its_definition():
    from keyword_check import keyword_score

    rng = np.random.default_rng(0)
    for _ in range(60):
        t, tokens = int(rng.integers(0, 6)), [int(k) for k in rng.integers(1, 4, size=rng.integers(1, 4))]
        lp = np.log(rng.dirichlet(np.full(4, 0.5), size=t)) if t else np.zeros((0, 4))
        want, got = _brute_score(lp, tokens), keyword_score(lp, tokens)
        assert got == pytest.approx(want) if np.isfinite(want) else got == -np.inf
    # a greedy reading that is the keyword scores 0; "aa" needs a blank between its letters: 3 frames at least
    lp = np.log(np.array([[0.1, 0.8, 0.1], [0.8, 0.1, 0.1], [0.1, 0.8, 0.1]]))
    assert keyword_score(lp, [1, 1]) == pytest.approx(0.0) and keyword_score(lp[:2], [1, 1]) == -np.inf


def _amelia_data(tmp_path: Path, not_wake: int) -> Path:
    import soundfile as sf

    from tests.fake_precise import write_fake_data

    rng = np.random.default_rng(0)
    for r in write_fake_data(tmp_path, ("amelia",), 1, not_wake):
        (tmp_path / "precise" / r["audio_filepath"]).parent.mkdir(parents=True, exist_ok=True)
        sf.write(tmp_path / "precise" / r["audio_filepath"], (0.05 * rng.standard_normal(8000)).astype(np.float32), 16000)
    return tmp_path


def test_keyword_check_without_speech_to_compare_is_a_clear_error(tmp_path):
    """No real speech without the keyword (an empty Kathleen / FSDD, no not-wake-word clip): after every clip was
    scored, an IndexError from the percentiles of no windows."""
    data = _amelia_data(tmp_path, 0)
    out = subprocess.run([sys.executable, "scripts/keyword_check.py", "--data", str(data)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "no real speech without 'amelia'" in out.stderr


def test_keyword_check_missing_recogniser_is_a_clear_error(tmp_path):
    data = _amelia_data(tmp_path, 0)
    out = subprocess.run([sys.executable, "scripts/keyword_check.py", "--data", str(data), "--recognizer",
                          str(tmp_path / "none.onnx")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "none.onnx: no such model file" in out.stderr


# --- scripts/tune_lexicon.py -----------------------------------------------------------------------------------
def _tuning_data(root: Path) -> tuple[Path, list[int]]:
    """Kathleen train rows of the recogniser's validation slice (no audio: the recogniser is faked), a dev row, the
    two text files."""
    data = root / "data"
    ids = [i for i in range(2000) if zlib.crc32(f"a{i:04d}".encode()) % 100 < 4][:3]
    rows = [{"audio_filepath": f"audio/arctic_a{i:04d}_1.flac", "duration": 2.0, "text": f"prompt number {i}",
             "split": "train"} for i in ids]
    rows.append({"audio_filepath": "audio/arctic_b0465_1.flac", "duration": 2.0, "text": "he read aloud",
                 "split": "dev"})
    (data / "kathleen").mkdir(parents=True)
    (data / "kathleen" / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (data / "text").mkdir()
    (data / "text" / "arctic_prompts.txt").write_text("the cat sat on the mat\n")
    (data / "text" / "ljspeech.txt").write_text("a dog ran in the park\n")
    return data, ids


def _fake_recogniser(monkeypatch, frames: int) -> list[str]:
    import speechseq.runtime.posteriors as posteriors

    calls: list[str] = []

    def outputs(model, manifest, *a, **k):
        rows = [json.loads(x) for x in Path(manifest).read_text().splitlines() if x.strip()]
        calls.append(str(model))
        return [types.SimpleNamespace(log_probs=np.log(np.full((frames, 29), 1 / 29, np.float32))) for _ in rows]

    monkeypatch.setattr(posteriors, "manifest_outputs", outputs)
    return calls


def _tune(monkeypatch, tmp_path: Path, data: Path, *extra: str) -> None:
    monkeypatch.setattr(sys, "argv", ["tune_lexicon.py", "--data", str(data), "--cache", str(tmp_path / "tc"),
                                      "--sets", "kathleen-val", "--word-weights", "0.4", "--word-bonuses", "0",
                                      "--oov-penalties", "4", *extra])
    assert _script("tune_lexicon").main() == 0


def test_lexicon_tuning_cache_is_not_used_for_another_model_or_set(tmp_path, monkeypatch):
    """The recogniser's outputs were cached as CACHE/SET.npz and read back whatever --model or the set now was:
    another model's outputs were tuned on, and a set grown by a row was a KeyError."""
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    data, ids = _tuning_data(tmp_path)
    calls = _fake_recogniser(monkeypatch, 6)
    for name in ("a.onnx", "b.onnx"):
        (tmp_path / name).write_bytes(name.encode())
    _tune(monkeypatch, tmp_path, data, "--model", "a.onnx")
    _tune(monkeypatch, tmp_path, data, "--model", "a.onnx")                 # the same: the cache is used
    assert calls == ["a.onnx"]
    _tune(monkeypatch, tmp_path, data, "--model", "b.onnx")                 # another model: run again
    assert calls == ["a.onnx", "b.onnx"]
    more = [i for i in range(2000, 4000) if zlib.crc32(f"a{i:04d}".encode()) % 100 < 4][0]
    with open(data / "kathleen" / "manifest.jsonl", "a") as f:              # one more utterance in the set
        f.write(json.dumps({"audio_filepath": f"audio/arctic_a{more:04d}_1.flac", "duration": 2.0,
                            "text": "one more prompt", "split": "train"}) + "\n")
    _tune(monkeypatch, tmp_path, data, "--model", "b.onnx")
    assert calls == ["a.onnx", "b.onnx", "b.onnx"]


def test_lexicon_tuning_without_data_is_a_clear_error(tmp_path):
    out = subprocess.run([sys.executable, "scripts/tune_lexicon.py", "--data", str(tmp_path / "none"),
                          "--cache", str(tmp_path / "tc")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "kathleen/manifest.jsonl" in out.stderr and "--data" in out.stderr
    data, _ = _tuning_data(tmp_path)
    out = subprocess.run([sys.executable, "scripts/tune_lexicon.py", "--data", str(data), "--cache", str(tmp_path / "tc"),
                          "--synth", str(tmp_path / "none" / "train.jsonl")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "none/train.jsonl" in out.stderr and "--synth" in out.stderr


def test_lexicon_tuning_missing_model_is_a_clear_error(tmp_path):
    data, _ = _tuning_data(tmp_path)
    out = subprocess.run([sys.executable, "scripts/tune_lexicon.py", "--data", str(data), "--cache", str(tmp_path / "tc"),
                          "--sets", "kathleen-val", "--model", str(tmp_path / "none.onnx")],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "none.onnx: no such model file" in out.stderr
