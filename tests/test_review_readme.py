"""Defects found by running the README's commands as written."""
from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import pytest

from speechseq.frontend import FrontendConfig


def test_export_frontend_warns_nothing(tmp_path):
    """`speechseq export frontend` (README, The command line) printed torch's TracerWarning that the trace
    'might be incorrect': LogMel's short-clip guard compared the traced length before asking whether it traces.
    The graph was right; the warning said otherwise."""
    pytest.importorskip("torch")
    from torch.jit import TracerWarning

    from speechseq.nn.frontend import export_frontend

    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        export_frontend(FrontendConfig(), str(tmp_path / "frontend.onnx"))
    assert (tmp_path / "frontend.onnx").stat().st_size > 0


# --- the commands, options and sizes README.md and the model cards name (the project's rule: docs promise nothing
# the code does not do) ---

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md"] + sorted(p for p in (ROOT / "models").glob("*.md") if not p.name.endswith(".card.md"))


def _code_spans(path: Path) -> list[str]:
    """The `inline` spans and the lines of the ``` blocks of a Markdown file, continuation lines joined, spaces
    collapsed."""
    text = path.read_text()
    spans = re.findall(r"(?<!`)`([^`]+)`(?!`)", text)
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S):
        spans += block.replace("\\\n", " ").splitlines()
    return [" ".join(s.split()) for s in spans]


def _subparsers(p: argparse.ArgumentParser) -> dict:
    return next((a.choices for a in p._actions if isinstance(a, argparse._SubParsersAction)), {})


def test_every_speechseq_command_and_option_the_docs_name_exists():
    """Each `speechseq COMMAND [TARGET] ...` of README.md and the cards names a command of the CLI, every --option
    after it is one of that command's, and a list of values (`--decoder a|b|c`, `{a,b}`) is among its choices."""
    from speechseq.cli import build_parser

    commands = _subparsers(build_parser())
    checked = 0
    for doc in DOCS:
        for span in _code_spans(doc):
            m = re.search(r"(?:^|[\s/])speechseq ([a-z][^\s]*)(.*)", span)
            if m is None or m.group(1) == "runs":   # "speechseq runs one utterance at a time": prose
                continue
            names, rest = m.group(1).replace("\\", "").split("|"), m.group(2).split()
            parsers = []
            for name in names:
                assert name in commands, f"{doc.name}: no command {name!r} in `{span}`"
                targets = _subparsers(commands[name])
                if not targets:
                    parsers.append(commands[name])
                elif rest and re.fullmatch(r"[a-z]+(\\?\|[a-z]+)*", rest[0]):
                    for target in rest[0].replace("\\", "").split("|"):
                        assert target in targets, f"{doc.name}: no `speechseq {name} {target}` in `{span}`"
                        parsers.append(targets[target])
            for parser in parsers:
                actions = {o: a for a in parser._actions for o in a.option_strings}
                words = rest[1:] if _subparsers(commands[names[0]]) else rest
                for k, word in enumerate(words):
                    option = re.fullmatch(r"\[?(--?[a-zA-Z][\w-]*)\]?", word)
                    if option is None:
                        continue
                    assert option.group(1) in actions, f"{doc.name}: {parser.prog} has no {option.group(1)}: `{span}`"
                    values = words[k + 1].strip("[]{}") if k + 1 < len(words) else ""
                    choices = actions[option.group(1)].choices
                    if choices and re.fullmatch(r"[a-z0-9-]+((\\?\||,)[a-z0-9-]+)+", values):
                        listed = set(re.split(r"\\?\||,", values))
                        assert listed <= set(choices), f"{doc.name}: {option.group(1)} {values}: not among {choices}"
                checked += 1
    assert checked >= 60


def test_every_script_and_its_options_the_docs_name_exist():
    """Each `scripts/NAME.py` README.md and the cards name is there, and every --option after it is one it takes:
    found as the quoted option in its source (the scripts build their parsers in main), else in its --help (a
    script that hands over to a speechseq command)."""
    import subprocess
    import sys

    helps: dict[tuple[str, str], str] = {}

    def help_text(script: Path, words: list[str]) -> str:
        sub = words[0] if words and re.fullmatch(r"[a-z]+", words[0]) else ""
        if (script.name, sub) not in helps:
            argv = [sys.executable, str(script), *([sub] if sub else []), "--help"]
            helps[script.name, sub] = subprocess.run(argv, capture_output=True, text=True, timeout=120).stdout
        return helps[script.name, sub]

    checked = 0
    for doc in DOCS:
        for span in _code_spans(doc):
            for m in re.finditer(r"scripts/(\w+\.py)((?:\s+[^\s;|&#]+)*)", span):
                script = ROOT / "scripts" / m.group(1)
                assert script.is_file(), f"{doc.name}: no scripts/{m.group(1)}"
                source = script.read_text()
                for option in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", m.group(2)):
                    found = f'"{option}"' in source or re.search(
                        re.escape(option) + r"(?![\w-])", help_text(script, m.group(2).split()))
                    assert found, f"{doc.name}: scripts/{m.group(1)} has no {option}: `{span}`"
                checked += 1
    assert checked >= 50


def test_readme_model_sizes_are_the_files():
    """README's table of shipped models gives each file's size in MB (10^6 bytes), as the cards do."""
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([\w.-]+\.(?:onnx|npz))`(?: / `(\.[\w.]+)`)? \(([\d.]+)(?: / ([\d.]+))? MB\)", text, re.M)
    sizes = {}
    for name, twin, mb, twin_mb in rows:
        sizes[name] = mb
        if twin:
            sizes[name.split(".")[0] + twin] = twin_mb
    assert set(sizes) == {"activate.onnx", "computer.onnx", "recognizer-en.onnx", "recognizer-en.int8.onnx",
                          "lm-en.onnx", "words-en.npz", "decoder-en.onnx"}
    for name, mb in sizes.items():
        decimals = len(mb.split(".")[1])
        assert mb == f"{(ROOT / 'models' / name).stat().st_size / 1e6:.{decimals}f}", name


def test_listen_help_gives_the_partials_cpu_the_readme_measures():
    """`listen --help` put the default partials at "about 13% of a core" while the README measures 11.3-11.9% (and
    the stream partials at 1.9-2.1%): the help quotes the README's figures and says where they are measured."""
    from speechseq.cli import build_parser

    listen = _subparsers(build_parser())["listen"]
    text = " ".join(next(a for a in listen._actions if "--partial-decoder" in a.option_strings).help.split())
    text = text.replace("%%", "%")
    readme = " ".join((ROOT / "README.md").read_text().split())
    for figure in ("CPU while recording 11.3% of a core against 1.9%", "CPU while recording 14.1%",
                   "CPU while recording 2.1%", "scripts/bench_listener.py --settings 400:200"):
        assert figure in readme, figure
    assert "27.2-31.6% of a core while recording" in text and "1.9-2.1% of a core" in text   # (session 53's default)
    assert "| 27.2-31.6% |" in readme.replace("  ", " ")
    assert "scripts/bench_listener.py" in text and "README" in text
