"""The evaluation scripts the README and the model cards name (scripts/eval_commands.py, eval_decoders.py,
bench_recognizer.py), run as a reader reproducing a table runs them: one bad file of a set is named and skipped, a
bad argument or a missing file is one line, never a traceback, from any working folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"   # "activate, turn on the kitchen lights"
MODEL = ROOT / "models" / "recognizer-en.int8.onnx"
pytestmark = pytest.mark.skipif(not (SAMPLE.exists() and MODEL.exists()), reason="shipped model or sample missing")


def _set(folder: Path) -> Path:
    """A manifest of the demo's command (readable), an undecodable file, an empty file and a missing one."""
    import soundfile as sf

    from speechseq.audio import load_audio

    sf.write(folder / "cmd.wav", load_audio(SAMPLE)[int(2.5 * 16000): int(4.4 * 16000)], 16000)
    (folder / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (folder / "empty.wav").write_bytes(b"")
    rows = [("cmd.wav", "turn on the kitchen lights"), ("bad.wav", "turn off the lights"),
            ("empty.wav", "set a timer"), ("gone.wav", "what time is it")]
    manifest = folder / "m.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": a, "duration": 1.9, "text": t, "split": "dev"}) + "\n"
                                for a, t in rows))
    return manifest


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=300)


def test_eval_commands_skips_an_unreadable_file_and_runs_from_another_folder(tmp_path):
    """One undecodable file in a set ended the run with an AudioError traceback (its header counts the unreadable
    ones skipped); run from another folder, the default --model and the lexicon decoder's word list and LM were
    looked for there (a ModelError traceback)."""
    manifest = _set(tmp_path)
    out = _run([str(ROOT / "scripts" / "eval_commands.py"), "--set", f"demo={manifest}", "--deficits", "2"], tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    for name in ("bad.wav", "empty.wav", "gone.wav"):
        assert name in out.stderr
    assert "demo: 1 utterance (3 unreadable skipped), 1 phrase (1 said, 0 extra)" in out.stdout, out.stdout
    assert "free decode (lexicon) exactly right: 0.0 %" in out.stdout   # it hears "one on the citing life"
    assert "| 2 | 100.0 % | 0.0 % | 0.0 % |" in out.stdout


@pytest.mark.parametrize("spec, says", [
    ("{m}", "--set"),                                       # no NAME=: was read as a folder "." (a traceback)
    ("x={m}:test", "x: no utterances"),                    # a split the manifest lacks: CommandSet's traceback
    ("x={d}/nosuch.jsonl", "nosuch.jsonl"),                 # a manifest that is not there
])
def test_eval_commands_bad_set_is_one_line(tmp_path, spec, says):
    manifest = _set(tmp_path)
    out = _run([str(ROOT / "scripts" / "eval_commands.py"), "--decoder", "none",
                "--set", spec.format(m=manifest, d=tmp_path)], tmp_path)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and says in out.stderr, out.stderr
    assert says in out.stderr.strip().splitlines()[-1], out.stderr    # the one line (after argparse's usage)


def test_eval_commands_missing_model_is_one_line(tmp_path):
    manifest = _set(tmp_path)
    out = _run([str(ROOT / "scripts" / "eval_commands.py"), "--decoder", "none", "--model", "nosuch.onnx",
                "--set", f"x={manifest}"], tmp_path)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "nosuch.onnx: no such model file" in out.stderr


def test_eval_decoders_skips_an_unreadable_file_of_a_set(tmp_path):
    """One undecodable (or missing) file ended the whole evaluation, every set's figures lost; it is named and
    skipped, and the set's row counts the utterances measured."""
    manifest = _set(tmp_path)
    out = _run([str(ROOT / "scripts" / "eval_decoders.py"), "--model", str(MODEL),
                "--lm", str(ROOT / "models" / "lm-en.onnx"), "--set", f"demo={manifest}",
                "--json", str(tmp_path / "r.json")], tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    for name in ("bad.wav", "empty.wav", "gone.wav"):
        assert name in out.stderr
    res = json.loads((tmp_path / "r.json").read_text())["results"]["demo"]
    assert res["utterances"] == 1 and res["skipped"] == 3 and res["audio_s"] == 1.9
    assert res["greedy"]["wer"] == pytest.approx(60.0)   # "arn on the citon lifs": 3 of its 5 words wrong
    assert "| demo (1 utt., 3 skipped) |" in out.stdout


def test_recognizer_bench_skips_a_missing_file_of_a_manifest(tmp_path):
    """The docstring promises that a file that cannot be read is named and skipped: a manifest row whose file is
    not there stopped the run ("audio file not found") before any measurement."""
    manifest = _set(tmp_path)
    out = _run([str(ROOT / "scripts" / "bench_recognizer.py"), "--no-peer", "--models", str(MODEL),
                "--manifest", str(manifest), "--json", str(tmp_path / "r.json")], tmp_path)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    for name in ("bad.wav", "empty.wav", "gone.wav"):
        assert name in out.stderr
    assert out.stdout.startswith("1 files, 1.9 s of audio")
    rows = json.loads((tmp_path / "r.json").read_text())
    assert [len(r["hyps"]) for r in rows] == [1, 1] and [r["audio_s"] for r in rows] == [1.9, 1.9]
    assert [r["wer"] for r in rows] == pytest.approx([60.0, 60.0])    # "arn on the citon lif(s)"


@pytest.mark.parametrize("script, card", [("train_lm", "lm-en.md"), ("train_decoder", "decoder-en.md")])
def test_recipe_docstring_reproduces_its_cards_epochs(script, card):
    """scripts/train_lm.py's and train_decoder.py's docstrings open "Reproduce models/...": their command ran the
    script's default epochs (5, 15), not the shipped file's (8, 25: the cards' Reproduce lines)."""
    import re

    from tests.script_loader import load_script

    def epochs(text: str) -> list[str]:
        return re.findall(r"--epochs (\d+)", text)

    doc = load_script(script).__doc__
    shipped = epochs((ROOT / "models" / card).read_text(encoding="utf-8").split("Reproduce", 1)[1].split("```")[1])
    assert shipped and epochs(doc) == shipped, (epochs(doc), shipped)
