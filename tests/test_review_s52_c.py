"""Session 52, helper c: the command line's start-up cost. Building the parser (`speechseq --help`, any command's
--help) imported numpy (through commands.common -> runtime.level for --range-db's default, runtime.decoding for
--lm-weight's, the lexicon search for --word-lm-weight's, and detect, features and eval detector at module level).
The defaults live in speechseq.runtime.settings now, which imports no numpy; the commands import numpy where they
run."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("numpy", "scipy", "onnxruntime", "soundfile", "sounddevice", "librosa", "torch")


def _loaded_after(code: str) -> dict:
    """Run `code` in a fresh interpreter: which of HEAVY it imported, and what it put in its dict `extra`."""
    script = "extra = {}\n" + code + textwrap.dedent(f"""
        import json, sys
        print(json.dumps({{"loaded": sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r}),
                          "file": __import__("speechseq").__file__, **extra}}))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.splitlines()[-1])
    assert Path(got["file"]).resolve() == REPO / "speechseq" / "__init__.py"
    return got


def test_building_the_parser_imports_no_numpy_nor_any_other_heavy_module():
    got = _loaded_after("import speechseq.cli\nspeechseq.cli.build_parser()\n")
    assert got["loaded"] == [], got["loaded"]


def test_every_help_exits_0_and_imports_no_heavy_module():
    """`speechseq --help` and the --help of every command and target the parser has (found in it, so a new one is
    covered): exit 0, a usage line, and still none of numpy, scipy, onnxruntime, soundfile, sounddevice, librosa,
    torch imported."""
    got = _loaded_after(textwrap.dedent("""
        import argparse, contextlib, io
        from speechseq.cli import build_parser, main

        def commands(parser, words=()):
            yield list(words)
            for action in parser._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        yield from commands(sub, (*words, name))

        helps = {}
        for words in commands(build_parser()):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                try:
                    main([*words, "--help"])
                    code = None
                except SystemExit as e:
                    code = e.code
            helps[" ".join(words)] = [code, out.getvalue().startswith("usage: speechseq")]
        extra = {"helps": helps}
    """))
    assert got["loaded"] == [], got["loaded"]
    helps = got["helps"]
    assert {"", "listen", "transcribe", "detect", "features", "train detector", "eval detector", "eval recognizer",
            "tune fusion"} <= set(helps), sorted(helps)
    assert all(v == [0, True] for v in helps.values()), {k: v for k, v in helps.items() if v != [0, True]}


def test_the_defaults_are_the_runtimes_own_objects():
    """Moved, not copied: the runtime modules name the settings module's objects, and a command's defaults are
    theirs."""
    from speechseq.cli import build_parser
    from speechseq.runtime import command_set, decoding, level, lexicon_search, settings

    assert level.GUARD_RANGE_DB is settings.GUARD_RANGE_DB == 60.0
    assert (decoding.LM_WEIGHT, decoding.WORD_BONUS) == (settings.LM_WEIGHT, settings.WORD_BONUS) == (0.8, 1.0)
    assert command_set.MAX_DEFICIT == settings.MAX_DEFICIT == 2.0
    assert lexicon_search.LexiconOptions is settings.LexiconOptions
    args = build_parser().parse_args(["transcribe", "x.wav"])
    d = settings.LexiconOptions()
    assert (args.word_lm_weight, args.word_insertion_bonus, args.oov_penalty, args.char_lm_weight, args.char_bonus) == (
        d.word_weight, d.word_bonus, d.oov_penalty, d.char_weight, d.char_bonus) == (0.6, 0.0, 24.0, 0.0, 0.0)
    assert (args.lm_weight, args.word_bonus, args.command_bound) == (0.8, 1.0, 2.0)
    assert build_parser().parse_args(["detect", "x.wav"]).range_db == 60.0


@pytest.mark.parametrize("kwargs, message", [
    ({"beam_size": 0}, "beam_size must be a whole number >= 1"),
    ({"oov_penalty": float("nan")}, "lexicon search weights must be finite numbers, got oov_penalty nan"),
    ({"prune_top_k": 0}, "prune_top_k must be a whole number >= 1"),
    ({"word_weight": -1.0}, "oov_penalty and word_weight must be >= 0"),
])
def test_lexicon_options_still_check_their_values(kwargs, message):
    """LexiconOptions' checks import numpy where an instance is made: still there, with the same messages."""
    import numpy as np

    from speechseq.runtime.lexicon_search import LexiconOptions

    with pytest.raises(ValueError, match=message):
        LexiconOptions(**kwargs)
    assert LexiconOptions(beam_size=np.int64(4), word_weight=np.float32(0.5)).beam_size == 4


def test_eval_detectors_grid_is_made_once_as_before():
    from speechseq.commands.eval_detector import thresholds
    from speechseq.metrics import threshold_grid

    grid = thresholds()
    assert grid is thresholds()
    assert grid.tolist() == threshold_grid(0.02, 0.005).tolist()
    assert grid[0] == 0.02 and grid[-1] == 0.9999 and len(grid) == 213
