"""Review of '-' as an output path, follow-ups: the scripts' models and folders and the commands' folders are not
written to standard output (a file or folder named "-" was made, often after the work), refused in one line before
it; make_splice_data.py align's JSON file goes to standard output."""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from speechseq.errors import SpeechseqError

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"  # "activate, turn on the kitchen lights"


def _script(monkeypatch, capsys, name: str, argv: list[str]) -> tuple[object, str, str]:
    """scripts/NAME.py's main() run here with `argv`: (its exit code or message, stdout, stderr), however
    the script says an error (SystemExit with the message, a SpeechseqError its __main__ prints, or a code)."""
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    module = importlib.import_module(name)
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *argv])
    try:
        code = module.main()
    except SystemExit as exit_:
        code = exit_.code
    except SpeechseqError as err:
        code = str(err)
    out, err = capsys.readouterr()
    return code, out, err


# --- 1. a script's model or folder: '-' refused in one line, before any work ------------------------------------
@pytest.mark.parametrize("name, argv, said", [
    ("train_lm", ["--out", "-"], "--out -: a model is not written to standard output"),
    ("train_lm", ["--work", "-"], "--work -: a folder is not written to standard output"),
    ("train_wordlm", ["--out", "-"], "--out -: a word LM is not written to standard output"),
    ("train_decoder", ["encoder", "--checkpoint", "gone.pt", "--out", "-"], "--out -: a model is not written"),
    ("train_decoder", ["fit", "--recognizer", "gone.onnx", "--lm-checkpoint", "gone.pt", "--out", "-"],
     "--out -: a model is not written"),
    ("train_recognizer", ["export", "--checkpoint", "gone.pt", "--out", "-"], "--out -: a model is not written"),
    ("train_recognizer", ["average", "--checkpoints", "gone.pt", "--out", "-"], "--out -: a checkpoint is not written"),
    ("train_recognizer", ["slim", "--checkpoint", "gone.pt", "--out", "-"], "--out -: a folder is not written"),
    ("detector_end_offsets", ["gone.onnx", "--clips", "gone", "--background", "gone", "--out", "-"],
     "--out -: a model is not written"),
    ("detector_epochs", ["gone-run", "--epochs", "3", "--out", "-"], "--out -: a folder is not written"),
    ("precise_halves", ["--keyword", "android", "--data", "gone", "--out", "-"], "--out -: a folder is not written"),
    ("make_splice_data", ["keyword", "--keyword", "android", "--align", "gone.json", "--out", "-"],
     "--out -: a folder is not written"),
    ("eval_detectors", ["--keywords", "activate", "--data", "gone", "--json-dir", "-"],
     "--json-dir -: a folder is not written"),
])
def test_a_scripts_model_or_folder_is_not_written_to_stdout(tmp_path, monkeypatch, capsys, name, argv, said):
    """'-' was taken as a name: a model, checkpoint or word LM file "-", or a folder "-", written after minutes or
    hours of work (or an error about an input first). Now one line saying why, before any input is looked at."""
    monkeypatch.chdir(tmp_path)
    code, out, err = _script(monkeypatch, capsys, name, argv)
    message = code if isinstance(code, str) else err.strip()
    assert code not in (0, None) and said in message, (code, err)
    assert message.endswith("(only text reports are); name a " + message.rsplit("name a ", 1)[1])
    assert out == "" and len(message.splitlines()) == 1 and list(tmp_path.iterdir()) == []


# --- 2. make_splice_data.py align --out - : the JSON on standard output -----------------------------------------
def test_splice_align_to_stdout_is_the_json_alone(tmp_path, monkeypatch, capsys):
    """`align --out -` wrote a file "-" and its line on stdout: the alignment's JSON is now the whole of stdout (its
    line on stderr), and no file "-" is made."""
    pytest.importorskip("pocketsphinx")
    monkeypatch.chdir(tmp_path)
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights",
                             "split": "train"}) + "\n")
    code, out, err = _script(monkeypatch, capsys, "make_splice_data", ["align", "--manifest", str(m), "--skip-pct", "0",
                                                                  "--workers", "1", "--out", "-"])
    assert code is None, (code, err)
    rows = json.loads(out)
    assert [r["audio_filepath"] for r in rows] == [str(SAMPLE)] and len(rows[0]["phones"]) > 20
    assert "wrote standard output: 1 utterance aligned" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]


# --- 3. a command's folder: '-' refused in one line --------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["train", "lm", "--text", "TEXT", "--epochs", "1", "--out", "-"],
    ["train", "detector", "--keyword", "activate", "--synth", "gone", "--out", "-"],
    ["train", "recognizer", "--manifest", "gone.jsonl", "--out", "-"],
    ["synth", "keyword", "--keyword", "activate", "--out", "-"],
    ["synth", "sentences", "--text", "TEXT", "--n", "1", "--out", "-"],
    ["record", "activate", "--input", "gone.wav", "--out", "-"],
])
def test_a_commands_folder_is_not_standard_output(tmp_path, monkeypatch, capsys, argv):
    """`--out -` made a folder "-" and trained or synthesised into it (record: after the input was opened); now one
    line, and no folder."""
    if argv[0] == "train":
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    text = tmp_path.parent / f"{tmp_path.name}-text.txt"  # outside the working folder, which must stay empty
    text.write_text("the quick brown fox\njumps over the lazy dog\n" * 20)
    code, out, err = run(*[text if a == "TEXT" else a for a in argv])
    assert code == 1 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith("speechseq: error: --out -: a folder is not written to standard output (only text "
                          "reports are); name a folder"), err
    assert list(tmp_path.iterdir()) == []
