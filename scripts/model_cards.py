#!/usr/bin/env python
"""Keep every shipped model's card beside it: models/NAME.md (the card people read) is the source;
this writes models/NAME.json, the same card for programs (data, command, measured metrics, and the
model file's size and sha256, so a card that no longer describes its file is caught), and the link
models/NAME.card.md -> NAME.md.

    .venv/bin/python scripts/model_cards.py           # write / refresh them after a model changes
    .venv/bin/python scripts/model_cards.py --check   # exit 1, naming each problem (tests run this)

A card's "## Card" section must open with one paragraph holding **Data:** ..., **Command:** ...
and **Metrics ...:** ... (in that order), as every models/*.md does.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "models"
SUFFIXES = (".onnx", ".npz")
# the heading (trailing spaces allowed), blank lines, then the paragraph up to a blank line (spaces only count as blank)
_CARD = re.compile(r"^##[ \t]+Card[ \t]*\n(?:[ \t]*\n)*(?P<para>.+?)(?:\n[ \t]*\n|\Z)", re.S | re.M)
_FIELDS = re.compile(r"\*\*Data:\*\*(?P<data>.+?)\*\*Command:\*\*(?P<command>.+?)\*\*Metrics[^*]*:\*\*(?P<metrics>.+)", re.S)


def stem(model: Path) -> str:
    return model.name[: -len(model.suffix)]


def card_fields(md: Path) -> dict[str, str]:
    """data / command / metrics of a Markdown card (ValueError when its Card section lacks one)."""
    m = _CARD.search(md.read_text())
    f = _FIELDS.search(m.group("para")) if m else None
    if f is None:
        raise ValueError(f"{md.name}: no '## Card' paragraph with **Data:**, **Command:** and **Metrics:**")
    return {k: " ".join(f.group(k).split()) for k in ("data", "command", "metrics")}


def expected(model: Path) -> dict:
    return {"model": model.name, "bytes": model.stat().st_size,
            "sha256": hashlib.sha256(model.read_bytes()).hexdigest(), "card": f"{stem(model)}.md",
            **card_fields(model.with_name(f"{stem(model)}.md"))}


def model_files(models_dir: Path = MODELS) -> list[Path]:
    """The model files in `models_dir`: .onnx and .npz of any case (the runtime loads x.ONNX as it loads x.onnx)."""
    return sorted(p for p in models_dir.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())


def _card_json(js: Path) -> dict | None:
    """A written card (NAME.json), None when it is missing or not JSON (stale either way)."""
    try:
        return json.loads(js.read_text())
    except (OSError, ValueError):
        return None


def problems(models_dir: Path = MODELS) -> list[str]:
    """What is missing or stale beside each model file ([] when all is in order)."""
    out = []
    for model in model_files(models_dir):
        md, js, link = (models_dir / f"{stem(model)}{ext}" for ext in (".md", ".json", ".card.md"))
        if not md.is_file():
            out.append(f"{model.name}: no card {md.name}")
            continue
        try:
            want = expected(model)
        except ValueError as err:
            out.append(str(err))
            continue
        if _card_json(js) != want:
            out.append(f"{js.name}: missing or stale (run scripts/model_cards.py)")
        if not (link.is_symlink() and os.readlink(link) == md.name):
            out.append(f"{link.name}: not a link to {md.name} (run scripts/model_cards.py)")
    return out


def write(models_dir: Path = MODELS) -> None:
    """Writes NAME.json and NAME.card.md of every model whose card NAME.md is there and complete; the others are
    left as they are (problems() names them)."""
    for model in model_files(models_dir):
        js, link = models_dir / f"{stem(model)}.json", models_dir / f"{stem(model)}.card.md"
        md = models_dir / f"{stem(model)}.md"
        try:
            card = expected(model) if md.is_file() else None
        except ValueError:
            card = None
        if card is None:
            continue
        js.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(f"{stem(model)}.md")
        print(f"{js.name}, {link.name}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check; exit 1 on a problem")
    args = ap.parse_args()
    if not args.check:
        write()
    bad = problems()
    for line in bad:
        print(line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
