"""Session 50 review (i): list options given with no value were accepted as an empty list and did nothing, exit 0
(`train lm --exclude-manifest` then trained on the evaluation prompts it was told to leave out); now argparse's usage
error naming the option (exit 2). And counts said in the singular where there is one ("1 training utterance"), and
"an lm run"."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

# speechseq.cli.main(argv) -> (exit code, stderr); argparse's exits included, never a traceback
from .test_review_recognizer import _run as run

ROOT = Path(__file__).resolve().parents[1]


# Each bare option is given before another option and, in a second case, last. Whatever else is named does not
# exist (the models, texts, folders): before the fix each command went on to fail on that, exit 1, or to run.
BARE = [
    (["train", "lm", "--text", "gone.txt", "--out", "OUT"], "--exclude-manifest"),
    (["train", "lm", "--text", "gone.txt", "--out", "OUT"], "--exclude-manifest-all"),
    (["sample", "--lm", "gone.onnx", "-n", "1"], "--novel-against"),
    (["synth", "keyword", "--keyword", "yes", "--engines", "flite", "--out", "OUT"], "--text"),
    (["synth", "sentences", "--text", "gone.txt", "--out", "OUT"], "--exclude-manifest"),
    (["eval", "detector", "--model", "gone.onnx", "--negatives", "gone"], "--positives"),
    (["eval", "detector", "--model", "gone.onnx", "--positives", "gone"], "--negatives"),
    (["train", "detector", "--keyword", "yes", "--synth", "gone", "--out", "OUT"], "--positives"),
    (["train", "detector", "--keyword", "yes", "--synth", "gone", "--out", "OUT"], "--negatives"),
    (["train", "detector", "--keyword", "yes", "--synth", "gone", "--out", "OUT"], "--backgrounds"),
    (["train", "detector", "--keyword", "yes", "--synth", "gone", "--out", "OUT"], "--warps"),
    (["train", "detector", "--keyword", "yes", "--positives", "gone", "--out", "OUT"], "--synth"),
]


@pytest.mark.parametrize("last", [False, True], ids=["before-another", "last"])
@pytest.mark.parametrize("argv, option", BARE, ids=[f"{a[0]}-{a[1]}{o}" for a, o in BARE])
def test_a_list_option_given_no_value_is_a_usage_error(argv, option, last, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    argv = [out if a == "OUT" else a for a in argv]
    at = len(argv) if last else next(i for i, a in enumerate(argv) if str(a).startswith("-"))  # the first option
    code, err = run(capsys, *argv[:at], option, *argv[at:])
    assert code == 2 and f"argument {option}: expected at least one argument" in err, err
    assert not out.exists()


def test_the_lm_recipe_says_no_exclusion_by_leaving_the_option_out(tmp_path, monkeypatch):
    """scripts/train_lm.py --exclude-all (no file: exclude none) passed a bare --exclude-manifest-all on to
    `train lm`, which now refuses one: the option is left out instead, which excludes nothing as before."""
    import speechseq.cli

    from .script_loader import load_script

    calls = []
    monkeypatch.setattr(speechseq.cli, "main", lambda argv: calls.append(argv) or 1)
    monkeypatch.setattr(sys, "argv", ["train_lm.py", "--data", str(tmp_path), "--work", str(tmp_path / "w"),
                                      "--out", str(tmp_path / "lm.onnx"), "--exclude-all"])
    assert load_script("train_lm").main() == 1
    assert "--exclude-manifest-all" not in calls[-1] and calls[-1][:2] == ["train", "lm"]
    args = speechseq.cli.build_parser().parse_args(calls[-1])  # one argv `train lm` takes: no usage error
    assert args.exclude_manifest_all == [] and args.exclude_split == "dev"


@pytest.mark.parametrize("argv, option", [
    (["scripts/detector_epochs.py", "RUN", "--out", "OUT", "--average"], "--average"),
    (["scripts/train_recognizer.py", "average", "--checkpoints", "a.pt", "--out", "OUT", "--features"], "--features"),
    (["scripts/train_wordlm.py", "--out", "OUT", "--exclude-also"], "--exclude-also"),
])
def test_a_scripts_list_option_given_no_value_is_a_usage_error(argv, option, tmp_path):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, *[str(out) if a == "OUT" else str(tmp_path / a) if a == "RUN" else a
                                          for a in argv]],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and f"argument {option}: expected at least one argument" in r.stderr, r.stderr
    assert not out.exists()


# ---------------------------------------------------------------- wording


def _tones(folder: Path, name: str, texts: list[str]) -> Path:
    """A JSONL manifest of tone bursts (stand-ins for spoken clips), one per text."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(texts):
        t = np.arange(int(16000 * (0.6 + 0.1 * i))) / 16000
        sf.write(folder / f"{name}-{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 30 * i) * t) * np.sin(np.pi * t / t[-1]),
                 16000)
        rows.append({"audio_filepath": f"{name}-{i}.wav", "text": text})
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / f"{name}.jsonl"


def test_one_training_utterance_is_said_in_the_singular(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    one = _tones(tmp_path / "d", "one", ["turn on the light"])
    val = _tones(tmp_path / "d", "val", ["open the door", "what time is it"])
    code, err = run(capsys, "train", "recognizer", "--manifest", one, "--val-manifest", val, "--out", tmp_path / "r",
                    "--hidden", "8", "--layers", "1", "--no-augment", "--epochs", "1")
    assert code == 0, err
    assert f"--manifest {one} (every row but the evaluation splits'): 1 training utterance\n" in err
    assert "training on 1 utterance (" in err and "validating on 2" in err
    assert "1 training utterances" not in err and "1 utterances" not in err


def test_a_run_of_another_kind_is_refused_as_not_an_lm_run(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    (tmp_path / "t.txt").write_text("\n".join(f"sentence number {i} of the corpus" for i in range(40)))
    out = tmp_path / "run"
    out.mkdir()
    torch.save({"kind": "recognizer"}, out / "last.pt")
    code, err = run(capsys, "train", "lm", "--text", tmp_path / "t.txt", "--out", out, "--hidden", "8",
                    "--embed-dim", "4", "--epochs", "1")
    assert code == 1 and f"{out / 'last.pt'} is not a checkpoint of an lm run (recognizer): use a new --out" in err
    torch.save({"kind": "lm"}, out / "last.pt")
    _tones(tmp_path / "d", "m", ["turn on the light", "open the door", "what time is it"])
    code, err = run(capsys, "train", "recognizer", "--manifest", tmp_path / "d" / "m.jsonl", "--out", out,
                    "--hidden", "8", "--layers", "1", "--no-augment", "--epochs", "1")
    assert code == 1 and f"{out / 'last.pt'} is not a checkpoint of a recognizer run (lm): use a new --out" in err


def test_a_detectors_data_line_counts_one_in_the_singular():
    from speechseq.commands.train_detector import data_line

    assert data_line({"files": {"pos": 1, "val_neg": 1, "bg": 1}, "failed": 1}) == \
        "data: 1 positive (0 held out), 1 negative (1 held out), 1 background file; 1 file skipped"
    assert data_line({"files": {"pos": 3, "val_pos": 1, "neg": 2}}) == \
        "data: 4 positives (1 held out), 2 negatives (0 held out), 0 background files; 0 files skipped"
