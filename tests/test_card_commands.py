"""The commands the model cards (models/*.md) and the scripts' docstrings (scripts/*.py) tell a reader to run, parsed
by today's parsers: the script or module exists, every option is spelled as its parser has it (no abbreviation),
takes that kind of value (type, choices, how many), required options and subcommands are given, and the paths
inside the repository it names exist. A later rename of an option, a subcommand or a file breaks a test here.

Nothing runs: each parser is taken from its script's own main() at the moment main() asks it to parse (argparse's
parse_args raises instead of parsing there), then given the documented words. Where a document quotes only part of
a command (`...`, or an inline mention such as `speechseq transcribe --decoder lexicon`), options and values are
checked and missing required ones are not. Paths under cache/, runs/ and .carry/ are what earlier steps make.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import importlib.util
import io
import os
import re
import shlex
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CARDS = sorted(p for p in (ROOT / "models").glob("*.md") if not p.name.endswith(".card.md"))
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))
REPO_DIRS = ("models/", "data/", "scripts/", "speechseq/", "tests/")   # paths that must exist as named


@dataclass(frozen=True)
class Command:
    where: str            # "activate.md" or "scripts/train_lm.py"
    text: str             # the command as the document has it, spaces collapsed
    words: tuple          # shell words from the program on: ("scripts/x.py", ...), ("-m", "mod", ...), ("speechseq",)
    whole: bool           # a whole command to run (its required options are checked too)


# --- finding the commands -------------------------------------------------------------------------------------------

_PROGRAM = re.compile(r"(?:(?<=\s)|^)(?:(?P<py>\S*python3?)\s+)?(?P<prog>-m\s+[\w.]+|\S*scripts/\w+\.py|speechseq"
                      r"(?=\s+[a-z]))")


def _candidates(text: str) -> list[tuple[str, bool]]:
    """(text, from a code block) of every `inline span`, fenced-block line and indented line of Markdown-like text,
    backslash-continued lines joined."""
    text = re.sub(r"\\\n\s*", " ", text)
    out = []
    for block in re.findall(r"```[^\n]*\n(.*?)```", text, re.S):
        out += [(line, True) for line in block.splitlines()]
    rest = re.sub(r"```[^\n]*\n.*?```", "", text, flags=re.S)
    out += [(line, True) for line in rest.splitlines() if line.startswith("    ")]
    out += [(" ".join(span.split()), False) for span in re.findall(r"(?<!`)`([^`]+?)`(?!`)", rest)
            if "\n\n" not in span]
    return out


def _words(command: str) -> list[str] | None:
    command = re.sub(r"\s#.*$", "", command)        # a shell comment
    try:
        return shlex.split(command)
    except ValueError:                               # prose with an apostrophe, not a command
        return None


def _commands_of(where: str, text: str, docstring: bool) -> list[Command]:
    variables = dict(re.findall(r"`(\w+)` = `([^`]+)`", " ".join(text.split())))    # words-en.md: `E` = `... eval`
    found = []
    for candidate, in_code in _candidates(text):
        candidate = candidate.strip()
        if candidate.startswith("#") or candidate in variables.values():
            continue
        var = re.match(r"\$(\w+)\b", candidate)
        if var and var.group(1) in variables:
            candidate = variables[var.group(1)] + candidate[var.end():]
        m = _PROGRAM.search(candidate)
        if m is None:
            continue
        # a bare scripts/x.py or speechseq in prose is a name, not a command; in a docstring's indented lines only a
        # python command or one that starts the line is one
        if m.group("py") is None and m.group("prog").endswith(".py") and len(candidate[m.end():].split()) == 0:
            continue
        if in_code and docstring and m.group("py") is None and m.start() > 0:
            continue
        words = _words(candidate[m.start("prog"):])
        if words:
            found.append(Command(where, " ".join(candidate[m.start():].split()), tuple(words),
                                 in_code or m.group("py") is not None))
    return found


def _docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""


@lru_cache(maxsize=None)
def documented_commands() -> tuple[Command, ...]:
    commands = []
    for card in CARDS:
        commands += _commands_of(card.name, card.read_text(), docstring=False)
    for script in SCRIPTS:
        commands += _commands_of(f"scripts/{script.name}", _docstring(script), docstring=True)
    return tuple(commands)


# --- the real parsers -----------------------------------------------------------------------------------------------

class _Parser(BaseException):
    """Raised by parse_args while a main() is asked for its parser: carries the parser (BaseException, so that no
    `except Exception` in a main takes it for an error)."""

    def __init__(self, parser: argparse.ArgumentParser):
        super().__init__()
        self.parser = parser


def _parser_of_main(main, *args) -> argparse.ArgumentParser:
    real = argparse.ArgumentParser.parse_args

    def give(self, args=None, namespace=None):
        raise _Parser(self)

    argparse.ArgumentParser.parse_args = give
    try:
        main(*args)
    except _Parser as got:
        return got.parser
    finally:
        argparse.ArgumentParser.parse_args = real
    raise AssertionError(f"{main} returned without parsing its arguments")


def _exact(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """No abbreviated options: a document must spell each option as the parser does (and its subparsers)."""
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _exact(sub)
    return parser


@lru_cache(maxsize=None)
def _script(program: str):
    """scripts/x.py loaded as a module (the scripts set thread variables when loaded: the environment is kept)."""
    environ, path = dict(os.environ), list(sys.path)
    sys.path.insert(0, str(ROOT / "scripts"))            # as `python scripts/x.py` has it: a script imports another
    try:
        return load_script(Path(program).stem, f"_card_commands_{Path(program).stem}", register=True)
    finally:
        os.environ.clear()
        os.environ.update(environ)
        sys.path[:] = path


@lru_cache(maxsize=None)
def parser_for(program: str) -> argparse.ArgumentParser:
    """The parser of "scripts/x.py", "-m package.module" (a module's main(argv)) or "speechseq"."""
    if program == "speechseq":
        from speechseq.cli import build_parser
        return _exact(build_parser())
    if program.startswith("-m "):
        return _exact(_parser_of_main(importlib.import_module(program[3:]).main, []))
    main = _script(program).main
    return _exact(_parser_of_main(main, *([[]] if main.__module__ == "speechseq.commands.synth" else [])))


# --- checking one command -------------------------------------------------------------------------------------------

def _variants(words: list[str]) -> list[list[str]]:
    """A word of alternatives (`greedy|beam-lm|lexicon`, `{greedy,beam}`, `prepare|fit|export`): one argv each."""
    for i, word in enumerate(words):
        m = re.fullmatch(r"\{([\w.-]+(?:,[\w.-]+)+)\}|([\w.-]+(?:\|[\w.-]+)+)", word)
        if m:
            options = (m.group(1) or "").split(",") if m.group(1) else m.group(2).split("|")
            return [v for o in options for v in _variants(words[:i] + [o] + words[i + 1:])]
    return [words]


def _subparser(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The parser that reads the options of argv: its subcommand's, and so on down."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for k, word in enumerate(argv):
                if word in action.choices:
                    return _subparser(action.choices[word], argv[k + 1:])
    return parser


def _placeholders(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """A value written as a name (`--seed S`, `--split S`) or left out (`--shard-hours ...`): a value of the option's
    kind in its place; any other `...` dropped."""
    actions = {o: a for a in _subparser(parser, argv)._actions for o in a.option_strings}
    out = list(argv)
    for k in range(len(out)):
        action = actions.get(out[k - 1]) if k else None
        if out[k] == "..." and (action is None or action.nargs == 0):
            out[k] = None
            continue
        if action is None or not re.fullmatch(r"[A-Z][A-Z0-9_]*|\.\.\.", out[k]):
            continue
        if action.choices:
            out[k] = str(next(iter(action.choices)))
        elif action.type is not None:
            try:
                action.type(out[k])
            except (argparse.ArgumentTypeError, TypeError, ValueError):
                out[k] = "1"
    return [word for word in out if word is not None]


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[argparse.Namespace | None, str]:
    """(namespace, "") or (None, argparse's error message)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            return parser.parse_args(argv), ""
        except SystemExit:
            return None, err.getvalue().strip().splitlines()[-1]


# the messages a part of a command may give: it leaves out what it does not quote
_PARTIAL = re.compile(r".*error: (the following arguments are required|argument [^:]+: expected (one|at least one) "
                      r"argument)")


def _checks(program: str, args: argparse.Namespace) -> list[str]:
    """What a script reads from its options after parsing, where a name must be one it knows."""
    if program == "scripts/train_detectors.py":
        table = _script(program).VARIANTS
        return [f"no variant {v!r} in VARIANTS" for v in args.variants if v != "base" and v not in table]
    return []


def _invocation(command: Command) -> tuple[str, list[str], bool]:
    """(program, its words, whole) of a command: "scripts/x.py", "-m module" or "speechseq"; `[optional]` brackets
    taken off; with a `...` it is a part of a command."""
    words = list(command.words)
    if words[0] == "-m":
        program, argv = ("speechseq" if words[1] == "speechseq" else f"-m {words[1]}"), words[2:]
    elif words[0] == "speechseq":
        program, argv = "speechseq", words[1:]
    else:
        program, argv = "scripts/" + words[0].split("scripts/")[1], words[1:]
    whole, cleaned = command.whole, []
    for word in argv:
        if word in ("...", "[...]", "\u2026"):
            whole = False
            cleaned.append("...")
            continue
        word = word[1:] if word.startswith("[") else word
        cleaned.append(word[:-1] if word.endswith("]") else word)
    return program, cleaned, whole


def _missing_paths(argv: list[str]) -> list[str]:
    out = []
    for word in argv:
        path = word.split("=", 1)[-1]   # NAME=PATH
        if ":" in path and not path.endswith(":"):      # MANIFEST:SPLIT, DIR:SHARE
            path = path.rsplit(":", 1)[0]
        if path.startswith(REPO_DIRS) and not any(ROOT.glob(path)):
            out.append(f"{path}: no such file in the repository")
        if path.startswith("../shared/data/") and SHARED_DATA.is_dir() and not any(ROOT.glob(path)):
            out.append(f"{path}: no such file in ../shared/data")
    return out


def problems(command: Command) -> list[str]:
    """What today's code refuses in a documented command ([] when it would be accepted as written)."""
    program, argv, whole = _invocation(command)
    if program.startswith("-m ") and importlib.util.find_spec(program[3:]) is None:
        return [f"no module {program[3:]}"]
    if program.startswith("scripts/") and not (ROOT / program).is_file():
        return [f"no {program}"]
    out = _missing_paths(argv)
    parser = parser_for(program)
    for variant in _variants(argv):
        args, error = _parse(parser, _placeholders(parser, variant))
        if args is not None:
            out += _checks(program, args)
        elif whole or not _PARTIAL.match(error):
            out.append(f"{' '.join(variant)}: {error}")
    return out


def parsed(command: Command) -> list[tuple[str, argparse.Namespace]]:
    """(program, options) of each reading of a command that its parser accepts."""
    program, argv, _ = _invocation(command)
    parser = parser_for(program)
    out = []
    for variant in _variants(argv):
        args, _ = _parse(parser, _placeholders(parser, variant))
        if args is not None:
            out.append((program, args))
    return out


COMMANDS = documented_commands()


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.where}:{c.text[:60]}" for c in COMMANDS])
def test_documented_command_is_accepted_by_todays_parser(command):
    assert problems(command) == [], f"{command.where}: `{command.text}`"


def test_every_card_and_recipe_docstring_has_its_commands_found():
    """The extraction finds the commands (a change of format would otherwise leave nothing to check)."""
    where = {c.where for c in COMMANDS}
    assert {c.name for c in CARDS} <= where
    recipes = {"train_detectors", "train_recognizer", "train_lm", "train_wordlm", "train_decoder", "make_synth_data",
               "make_splice_data", "eval_detectors", "eval_decoders", "tune_lexicon", "model_cards", "bench_listener"}
    assert {f"scripts/{r}.py" for r in recipes} <= where
    assert sum(c.whole for c in COMMANDS) >= 90 and len(COMMANDS) >= 140
    # each card's **Command:** names a command found here
    for card in CARDS:
        assert any(c.where == card.name and c.whole for c in COMMANDS), card.name


def test_a_renamed_option_a_wrong_value_or_a_missing_required_one_is_named():
    """The checker itself: what it would say of commands gone stale."""
    def check(text: str, whole: bool = True) -> list[str]:
        found = _commands_of("x.md", f"```\n{text}\n```" if whole else f"`{text}`", docstring=False)
        assert len(found) == 1, found
        return problems(found[0])

    assert check("python scripts/train_lm.py --data ../shared/data --epochs 8") == []
    assert "unrecognized arguments: --epoch 8" in check("python scripts/train_lm.py --epoch 8")[0]   # no abbreviation
    assert "invalid int value: '8.5'" in check("python scripts/train_lm.py --epochs 8.5")[0]
    assert "invalid choice: 'fast'" in check("python scripts/train_detectors.py --stage fast")[0]
    assert check("python scripts/train_detectors.py --variants natural-splce") == [
        "no variant 'natural-splce' in VARIANTS"]
    assert "required: --out" in check("python scripts/detector_epochs.py runs/amelia --epochs 3-10")[0]
    assert check("python scripts/detector_epochs.py runs/amelia ...") == []                  # a part of it
    assert "invalid choice: 'shrink'" in check("python scripts/train_recognizer.py shrink --out x")[0]
    assert check("python scripts/gone.py --x 1") == ["no scripts/gone.py"]
    assert check("python -m speechseq.train.export_streaming --from-onnx models/gone.onnx") == [
        "models/gone.onnx: no such file in the repository"]
    assert check("speechseq transcribe --decoder lexicon", whole=False) == []               # a mention
    assert "invalid choice: 'rescor'" in check("speechseq transcribe --decoder rescor", whole=False)[0]
    assert "--lm-weigt" in check("$E --lm-weigt 1 x.wav".replace("$E", "python -m speechseq transcribe"))[0]


def _shipped_detector_files(program: str, args: argparse.Namespace) -> set[str]:
    """The files of models/ a detector recipe command writes: train_detectors.py exports KEYWORD.onnx of every
    --keywords into --models (stages all and export), eval_detectors.py writes KEYWORD.md there."""
    if program not in ("scripts/train_detectors.py", "scripts/eval_detectors.py") or \
            (ROOT / args.models).resolve() != ROOT / "models":
        return set()
    if program == "scripts/train_detectors.py" and args.stage in ("all", "export"):
        return {f"{k}.onnx" for k in args.keywords}
    if program == "scripts/eval_detectors.py":
        return {f"{k}.md" for k in args.keywords}
    return set()


def test_detector_recipe_commands_write_only_their_own_model_and_card():
    """computer.md's commands ran `train_detectors.py --keywords activate computer` into models/ (as in session 8,
    when both files were of that recipe): followed today, they replace the shipped activate.onnx (natural-splice,
    session 23) with a natural-recipe model, and `eval_detectors.py` (--keywords activate computer by default)
    rewrites activate.md with computer's amelia model. train_detectors.py's docstring opened with a command that
    "reproduces the shipped detectors" by the base recipe into models/: neither shipped file's. A command that writes
    a shipped detector or its card is the one that card names, and writes nothing else there."""
    wrong = []
    cards = {c.name: [a for c2 in COMMANDS if c2.where == c.name and c2.whole for a in parsed(c2)] for c in CARDS}
    for command in COMMANDS:
        if not _invocation(command)[2]:         # a part of a command (`...`) or a mention
            continue
        for program, args in parsed(command):
            writes = _shipped_detector_files(program, args)
            if command.where.endswith(".md"):
                stem = command.where[:-3]
                if not writes <= {f"{stem}.onnx", f"{stem}.md"}:
                    wrong.append(f"{command.where}: `{command.text}` writes models/{', '.join(sorted(writes))}")
                continue
            for name in writes:        # a docstring's command: the very one the model's card names
                if (program, args) not in cards.get(f"{Path(name).stem}.md", []):
                    wrong.append(f"{command.where}: `{command.text}` writes models/{name}, not by its card's command")
    assert wrong == []


def test_recognizer_feature_folders_are_made_by_a_named_prepare():
    """recognizer-en.md's stage 3-6 commands read `--features .carry/asr-big .carry/asr-big.shard1 ... shard3`, while
    the prepare it names (`--shard-hours ... --out .carry/asr-big`) writes its shards into .carry/asr-big/shardK/; fit
    reads those through .carry/asr-big and passes over a named folder that is not there without a word. A feature
    folder no named prepare writes is one the card says so of."""
    def steps(step: str) -> list[argparse.Namespace]:
        return [args for c in COMMANDS if c.where in ("recognizer-en.md", "scripts/train_recognizer.py")
                for program, args in parsed(c) if program == "scripts/train_recognizer.py" and args.step == step]

    made = {Path(args.out) for args in steps("prepare")}
    assert Path(".carry/asr-big") in made and Path(".carry/asr") in made
    unmade = sorted({f for args in steps("fit") for f in args.features if Path(f) not in made})
    assert unmade == [".carry/asr-big.shard1", ".carry/asr-big.shard2", ".carry/asr-big.shard3"]
    said = next((p for p in " ".join((ROOT / "models" / "recognizer-en.md").read_text().split()).split(". ")
                 if "no step of the script makes" in p), "")
    assert all(f"`{f}`" in said for f in unmade), said
