"""Every shipped model has its card beside it (models/NAME.md with data, command and measured
metrics; NAME.json for programs, matching the file's bytes; NAME.card.md), kept by
scripts/model_cards.py."""
from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("model_cards", ROOT / "scripts" / "model_cards.py")
model_cards = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model_cards)


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
