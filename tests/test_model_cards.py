"""Every shipped model has its card beside it (models/NAME.md with data, command and measured
metrics; NAME.json for programs, matching the file's bytes; NAME.card.md), kept by
scripts/model_cards.py."""
from __future__ import annotations

import shutil
from pathlib import Path
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
model_cards = load_script("model_cards")


def test_every_shipped_model_has_a_current_card():
    models = sorted(p.name for p in (ROOT / "models").iterdir() if p.suffix in (".onnx", ".npz"))
    assert "activate.onnx" in models and "recognizer-en.onnx" in models
    assert model_cards.problems() == []


def test_missing_stale_and_incomplete_cards_are_named(tmp_path):
    for name in ("activate.onnx", "activate.md"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    assert [p.split(":")[0] for p in model_cards.problems(tmp_path)] == ["activate.json", "activate.card.md"]
    model_cards.write(tmp_path)
    assert model_cards.problems(tmp_path) == []
    (tmp_path / "activate.onnx").write_bytes(b"changed")          # the model changed, its card did not
    assert model_cards.problems(tmp_path) == ["activate.json: missing or stale (run scripts/model_cards.py)"]
    (tmp_path / "activate.md").write_text("# activate\n\n## Card\n\n**Data:** x. **Command:** y.\n")
    assert "no '## Card' paragraph" in model_cards.problems(tmp_path)[0]
    (tmp_path / "activate.md").unlink()
    assert model_cards.problems(tmp_path) == ["activate.onnx: no card activate.md"]


def test_a_damaged_card_and_a_model_of_any_case_are_named(tmp_path):
    """A NAME.json that is no JSON is stale (it was a JSONDecodeError traceback from --check), and a model named
    x.ONNX, which the runtime loads as it loads x.onnx, needs its card too (it was not looked at)."""
    for name in ("activate.onnx", "activate.md"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    model_cards.write(tmp_path)
    (tmp_path / "activate.json").write_text('{"model": "activate.onnx", "bytes": ')   # cut short
    assert model_cards.problems(tmp_path) == ["activate.json: missing or stale (run scripts/model_cards.py)"]
    model_cards.write(tmp_path)
    shutil.copy(ROOT / "models" / "activate.onnx", tmp_path / "other.ONNX")
    assert model_cards.problems(tmp_path) == ["other.ONNX: no card other.md"]


def test_writing_names_a_model_without_a_card_and_writes_the_others(tmp_path):
    """`model_cards.py` (write mode) with a new model that has no card yet, or a card without its fields: it was a
    FileNotFoundError / ValueError traceback, and the models after it got no card either. Now the others are
    written, and --check names the problem."""
    shutil.copy(ROOT / "models" / "activate.onnx", tmp_path / "activate.onnx")       # no activate.md
    for name in ("computer.onnx", "computer.md"):
        shutil.copy(ROOT / "models" / name, tmp_path / name)
    shutil.copy(ROOT / "models" / "activate.onnx", tmp_path / "other.onnx")
    (tmp_path / "other.md").write_text("# other\n\nno card section\n")
    model_cards.write(tmp_path)
    assert model_cards.problems(tmp_path) == [
        "activate.onnx: no card activate.md",
        "other.md: no '## Card' paragraph with **Data:**, **Command:** and **Metrics:**"]
    assert (tmp_path / "computer.json").is_file() and (tmp_path / "computer.card.md").is_symlink()
    assert not (tmp_path / "activate.json").exists() and not (tmp_path / "other.json").exists()


def test_card_paragraph_ends_at_a_blank_line_of_spaces(tmp_path):
    """Markdown ends a paragraph at a line of spaces too, and lets a heading end in spaces: the Metrics field took
    the next paragraph in (a silently wrong card), and "## Card " was no card."""
    md = tmp_path / "x.md"
    md.write_text("# x\n\n## Card\n\n**Data:** d. **Command:** `c`. **Metrics (measured):** 1 %.\n   \nConv1D, 2 MB.\n")
    assert model_cards.card_fields(md) == {"data": "d.", "command": "`c`.", "metrics": "1 %."}
    md.write_text("# x\n\n## Card  \n\n**Data:** d.\n**Command:** `c`.\n**Metrics:** 1 %.\n\nConv1D, 2 MB.\n")
    assert model_cards.card_fields(md) == {"data": "d.", "command": "`c`.", "metrics": "1 %."}
