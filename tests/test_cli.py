"""The command line: help, version, and one clear line (no traceback) for user mistakes."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from speechseq import __version__
from speechseq.cli import COMMANDS, GROUPS, ORDER

from .odd_names import plots_of_odd_names


def speechseq(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "speechseq", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def test_help_lists_commands_and_version():
    r = speechseq("--help")
    assert r.returncode == 0
    for name in COMMANDS:
        assert name in r.stdout
    assert sorted(ORDER) == sorted([*COMMANDS, *GROUPS])          # every command listed, once
    listed = re.findall(r"^    (\w+)", r.stdout, flags=re.M)
    assert listed == list(ORDER) and listed[:3] == ["listen", "transcribe", "detect"]   # the main jobs first
    r = speechseq("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"speechseq {__version__}"


def test_bad_option_is_an_error():
    r = speechseq("features", "--no-such-option", "x.wav")
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("argv,usage,says", [
    (["transcribe", "--formt", "json", "x.wav"], "usage: speechseq transcribe ",
     "speechseq transcribe: error: unrecognized arguments: --formt (did you mean --format?)"),
    (["eval", "recognizer", "--manifest", "m.jsonl", "--jsn=r.json"], "usage: speechseq eval recognizer ",
     "speechseq eval recognizer: error: unrecognized arguments: --jsn=r.json (did you mean --json?)"),
    (["detect", "x.wav", "--no-such-option"], "usage: speechseq detect ",
     "speechseq detect: error: unrecognized arguments: --no-such-option\n"),
])
def test_a_mistyped_option_is_named_with_the_commands_usage(argv, usage, says):
    """A mistyped option showed the top-level usage ("speechseq [-h] [--version] COMMAND ...") and no hint, as if the
    command were wrong: now the command's own usage, and the option nearest the typo."""
    r = speechseq(*argv)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith(usage) and says in r.stderr, r.stderr


@pytest.fixture
def bad_inputs(tmp_path):
    good = tmp_path / "good.wav"
    t = np.arange(16000 * 2) / 16000
    sf.write(good, 0.3 * np.sin(2 * np.pi * 300 * t), 16000, subtype="PCM_16")
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "truncated.wav").write_bytes(good.read_bytes()[:40])
    (tmp_path / "notaudio.wav").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    (tmp_path / "folder").mkdir()
    return tmp_path


CASES = [("missing.wav", "no such file"), ("empty.wav", "empty"), ("truncated.wav", "cannot decode"),
         ("notaudio.wav", "cannot decode"), ("folder", "no audio files")]


@pytest.mark.parametrize("name,message", CASES)
def test_user_mistakes_are_one_clear_line(bad_inputs, name, message):
    r = speechseq("features", bad_inputs / name)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_one_bad_file_does_not_lose_the_rest(bad_inputs):
    r = speechseq("features", "--json", bad_inputs / "empty.wav", bad_inputs / "good.wav",
                  bad_inputs / "notaudio.wav")
    assert r.returncode == 1  # non-zero at the end, after the good file was processed
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["file"].endswith("good.wav") for row in rows] == [True]
    assert rows[0]["duration"] == pytest.approx(2.0) and rows[0]["frames"] == 198
    assert r.stderr.count("warning") == 2


def test_features_on_the_shipped_recording(demo_wav, tmp_path):
    png = tmp_path / "spec.png"
    r = speechseq("features", demo_wav, "--plot", png)
    assert r.returncode == 0, r.stderr
    assert "5.17 s" in r.stdout and "40 mels" in r.stdout
    assert png.stat().st_size > 5000


def test_features_plot_draws_the_first_file_with_a_frame(bad_inputs):
    """A file under one 25 ms frame was drawn as an empty picture (with matplotlib's warning) in place of the next."""
    sf.write(bad_inputs / "short.wav", np.zeros(100, np.float32), 16000)
    png = bad_inputs / "spec.png"
    r = speechseq("features", bad_inputs / "short.wav", bad_inputs / "good.wav", "--plot", png)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == f"wrote {png}" and png.stat().st_size > 5000
    png.unlink()
    r = speechseq("features", bad_inputs / "short.wav", "--plot", png)
    assert r.returncode == 1 and "not written, no file read gave a frame" in r.stderr and not png.exists()
    assert "Traceback" not in r.stderr and "UserWarning" not in r.stderr


def _command_parsers(parser, prefix=()):
    """(name, parser) for every command and `group target` of the CLI."""
    import argparse
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*prefix, name), sub
                yield from _command_parsers(sub, (*prefix, name))


def test_help_names_defaults_once_and_only_real_ones():
    from speechseq.cli import build_parser

    helps = {" ".join(name): p.format_help() for name, p in _command_parsers(build_parser())}
    assert {"listen", "detect", "transcribe", "train detector", "train recognizer", "eval detector"} <= set(helps)
    for name, text in helps.items():
        flat = " ".join(text.split())
        for noise in ("(default: None)", "(default: False)", "(default: [])"):
            assert noise not in flat, (name, noise)
        assert not re.search(r"\(default[^)]*\) \(default", flat), name  # never named twice
    flat = " ".join(helps["train detector"].split())
    assert "on the same machine) (default: 0)" in flat  # a default of 0 is named (0 == False)
    assert "each validated (default: 10)" in flat and "peak learning rate (default: 0.002)" in flat
    assert "--out OUT run directory --synth" in flat                              # required: no default
    assert "layers (default: 3)" in " ".join(helps["train recognizer"].split())
    # examples keep their lines; prose is wrapped to the terminal
    assert "  speechseq train detector --keyword activate --out runs/act --positives raw_data/activates \\" \
        in helps["train detector"]
    assert max(map(len, helps["detect"].splitlines())) <= 100



def test_help_says_which_decoder_reads_an_option_and_names_units():
    """listen's --lm-weight / --word-bonus read only by --decoder beam (the default lexicon search takes the weights
    tuned in models/words-en.md: the options changed nothing, in silence); --stream-model's default is the int8
    twin first; record --samplerate's floor and detect --smoothing's step length were not named; train detector
    --workers also sets the synthesis processes."""
    from speechseq.cli import build_parser

    helps = {" ".join(name): " ".join(p.format_help().split()) for name, p in _command_parsers(build_parser())}
    listen = helps["listen"]
    assert "shallow fusion weight (alpha) of --decoder beam" in listen
    assert "shallow fusion length bonus (beta) of --decoder beam" in listen
    assert "NAME.stream.int8.onnx, else NAME.stream.onnx" in listen
    assert "open the device at this rate, 8000 Hz or more" in helps["record"]
    assert "40 ms each for the shipped models" in helps["detect"]
    assert "processes for computing features, and for the synthesis that runs first" in helps["train detector"]


def test_the_models_folder_can_be_named_where_the_package_stands_alone(tmp_path):
    """A package without the checkout's models/ beside it (as a wheel installs it) finds the shipped models where
    SPEECHSEQ_MODELS says, and without it says where it looked and how to point it."""
    import os
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    shutil.copytree(root / "speechseq", tmp_path / "pkg" / "speechseq", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "mine").mkdir()
    shutil.copy(root / "models" / "activate.onnx", tmp_path / "mine" / "activate.onnx")
    clip = root / "data" / "samples" / "activate_kitchen_lights.wav"
    env = {k: v for k, v in os.environ.items() if k != "SPEECHSEQ_MODELS"}
    env["PYTHONPATH"] = str(tmp_path / "pkg")

    def run(**extra):
        return subprocess.run([sys.executable, "-m", "speechseq", "detect", str(clip), "--json"], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path, env={**env, **extra})
    r = run()
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert str(tmp_path / "pkg" / "models") in r.stderr and "SPEECHSEQ_MODELS" in r.stderr
    r = run(SPEECHSEQ_MODELS=str(tmp_path / "mine"))
    assert r.returncode == 0, r.stderr
    (result,) = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["keyword"] for d in result["detections"]] == ["activate"]   # the one model in that folder


def test_help_shows_no_empty_string_default():
    """`sample --prefix` (default "") was shown as "(default: )"."""
    from speechseq.cli import build_parser

    for name, p in _command_parsers(build_parser()):
        flat = " ".join(p.format_help().split())
        assert "(default: )" not in flat and "(default: '')" not in flat, name


def test_a_file_name_that_is_not_utf8_is_printed_back_as_given(tmp_path):
    """A file name with a byte that is no UTF-8 (os.fsdecode gives a lone surrogate) was a UnicodeEncodeError
    traceback where stdout's errors are strict (any UTF-8 locale but C.UTF-8); it is written back byte for byte."""
    import os

    raw = os.fsencode(str(tmp_path)) + b"/bad\xff.wav"
    t = np.arange(16000) / 16000
    sf.write(tmp_path / "good.wav", 0.3 * np.sin(2 * np.pi * 300 * t), 16000, subtype="PCM_16")
    os.rename(os.fsencode(str(tmp_path / "good.wav")), raw)
    r = subprocess.run([sys.executable, "-m", "speechseq", "features", raw], capture_output=True, timeout=120,
                       env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"})
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    assert r.stdout.startswith(raw + b": 1.00 s")


MAIN_COMMANDS = ["listen", "transcribe", "detect", "record", "eval detector", "eval recognizer", "export",
                 "synth keyword", "synth sentences", "train detector", "train recognizer", "train lm"]


def test_every_help_example_is_a_command_line_the_parser_takes():
    """Each command's --help ends with examples (STYLE: a usage line to copy), and every one of them names only
    options that exist, with values the parser takes (so that an example never goes stale)."""
    import shlex

    from speechseq.cli import build_parser

    parsers = {" ".join(name): p for name, p in _command_parsers(build_parser())}
    have = {name for name, p in parsers.items() if p.epilog and "examples:" in p.epilog}
    assert set(MAIN_COMMANDS) <= have, sorted(set(MAIN_COMMANDS) - have)
    checked = 0
    for name in sorted(have):
        lines = parsers[name].epilog.splitlines()
        joined, buf = [], ""
        for line in lines:
            buf += " " + line.strip()
            if buf.endswith("\\"):
                buf = buf[:-1]
                continue
            if buf.strip().startswith("speechseq "):
                joined.append(buf.strip())
            buf = ""
        for example in joined:
            argv = shlex.split(example, comments=True)[1:]
            try:
                build_parser().parse_args(argv)
            except SystemExit as err:
                raise AssertionError(f"{name}: the example does not parse: {example}") from err
            checked += 1
    assert checked >= 25


def test_features_streams_in_the_chunks_it_says(tmp_path, monkeypatch):
    """--chunk-ms over 5000 said "streamed in 7000 ms chunks" while the file was read, and fed, in 5 s blocks."""
    from speechseq.commands import features
    from speechseq.frontend import StreamingFrontend

    sf.write(tmp_path / "a.wav", 0.1 * np.sin(np.arange(16000 * 12) * 0.05), 16000)
    sizes = []
    step = StreamingFrontend.step

    def spy(self, x, state):
        sizes.append(len(x))
        return step(self, x, state)

    monkeypatch.setattr(StreamingFrontend, "step", spy)
    features._summary(tmp_path / "a.wav", 40, 7000.0)
    assert sizes == [7 * 16000, 5 * 16000]


@pytest.mark.parametrize("argv,says", [
    (["transcibe", "x.wav"], "speechseq: error: argument COMMAND: invalid choice: 'transcibe' (did you mean "
                             "transcribe?)"),
    (["eval", "recogniser", "--manifest", "m.jsonl"],
     "speechseq eval: error: argument TARGET: invalid choice: 'recogniser' (did you mean recognizer?)"),
    (["train", "detector", "--keywrd", "x", "--out", "d"],
     "speechseq train detector: error: the following arguments are required: --keyword (--keywrd: did you mean "
     "--keyword?)"),
    (["eval", "recognizer", "--manifst=m.jsonl", "--split", "dev"],
     "speechseq eval recognizer: error: the following arguments are required: --manifest (--manifst=m.jsonl: did "
     "you mean --manifest?)"),
])
def test_a_mistyped_command_or_required_option_gets_a_hint(argv, says):
    """A misspelled command, or a misspelled option that is required (argparse says only that the option is
    missing), gave no hint where a misspelled optional one did: one line names the nearest, exit 2."""
    r = speechseq(*argv)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1].startswith(says), r.stderr


def test_no_hint_where_nothing_is_near():
    r = speechseq("frobnicate")
    assert r.returncode == 2 and "did you mean" not in r.stderr and "invalid choice: 'frobnicate'" in r.stderr
    r = speechseq("train", "detector", "--out", "d")
    assert r.returncode == 2 and r.stderr.splitlines()[-1].endswith("the following arguments are required: --keyword")


def test_features_loudness_line_draws_the_loudest_second_full(tmp_path, capsys):
    """The loudness line scales each second from the frontend's floor to the loudest second, but the loudest was drawn
    one bar short ('%', never '@'), as loud as a second a ninth quieter."""
    from speechseq.cli import main

    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(16000), 0.3 * rng.standard_normal(16000)]).astype(np.float32)
    sf.write(tmp_path / "a.wav", audio, 16000)
    assert main(["features", str(tmp_path / "a.wav")]) == 0
    line = capsys.readouterr().out.splitlines()[1]
    assert line == "  loudness per second | @|", line


def test_features_plot_of_a_file_whose_name_matplotlib_would_parse(tmp_path):
    """The picture's title is the file's name, which matplotlib read as mathtext (between two '$': "x$\\frac$.wav" was
    a ParseSyntaxException traceback, "cost $5 or $6.wav" drawn as "cost 5 or 6.wav" in italics) and could not draw
    where it is no UTF-8 (a lone surrogate: a TypeError traceback from the font code). Both are drawn, exit 0."""
    t = np.arange(16000) / 16000
    good = tmp_path / "good.wav"
    sf.write(good, 0.3 * np.sin(2 * np.pi * 300 * t), 16000, subtype="PCM_16")
    plots_of_odd_names(tmp_path, good, "features", timeout=120)
    png = tmp_path / "spec.png"
    from speechseq.commands import features
    from speechseq.frontend import FrontendConfig

    fig = features._plot(np.zeros((10, 40), np.float32), FrontendConfig(), str(png), "cost $5 or $6.wav")
    title = fig.axes[0].title
    assert title.get_text() == "cost $5 or $6.wav" and not title.get_parse_math()     # drawn as written


def test_features_json_of_a_file_whose_name_is_not_utf8_is_utf8(tmp_path):
    """`features --json` wrote a name that is no UTF-8 back as its raw bytes inside the JSON line, which is then no
    UTF-8 (json.loads of the decoded output, jq: an error); it names the file as detect and transcribe do, each such
    byte as U+FFFD."""
    import os

    t = np.arange(16000) / 16000
    sf.write(tmp_path / "good.wav", 0.3 * np.sin(2 * np.pi * 300 * t), 16000, subtype="PCM_16")
    raw = os.fsencode(str(tmp_path)) + b"/bad\xff.wav"
    os.rename(os.fsencode(str(tmp_path / "good.wav")), raw)
    r = subprocess.run([sys.executable, "-m", "speechseq", "features", "--json", raw], capture_output=True,
                       timeout=120, env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    row = json.loads(r.stdout.decode("utf-8"))
    assert row["file"] == f"{tmp_path}/bad\ufffd.wav" and row["frames"] == 98


def test_help_of_tune_says_what_tune_fusion_tunes_on():
    """`speechseq --help` and `speechseq tune --help` said "tune decoding weights on a dev set", where `tune fusion`
    leaves the rows of dev, test and validation out unless --split names one (tune on one set, report on another:
    README's "on a tuning set")."""
    r = speechseq("--help")
    line = next(s for s in r.stdout.splitlines() if s.strip().startswith("tune "))
    r = speechseq("tune", "--help")
    for text in (line, " ".join(r.stdout.split())):
        assert "dev set" not in text and "on a tuning set" in text, text


def test_analyze_of_an_empty_manifest_names_no_split(tmp_path):
    """A manifest with no rows, no --split given, was "m.jsonl: no utterances (split None)", as if a split None had
    been asked for; the split is named only where --split names one."""
    from pathlib import Path

    model = Path(__file__).resolve().parents[1] / "models" / "recognizer-en.onnx"
    (tmp_path / "m.jsonl").write_text("")
    r = speechseq("analyze", "--model", model, "--manifest", tmp_path / "m.jsonl")
    assert r.returncode == 1 and r.stderr == f"speechseq: error: {tmp_path / 'm.jsonl'}: no utterances\n", r.stderr
    r = speechseq("analyze", "--model", model, "--manifest", tmp_path / "m.jsonl", "--split", "dev")
    assert r.returncode == 1 and r.stderr.endswith(": no utterances of split 'dev'\n"), r.stderr


def test_features_says_the_chunk_it_fed(tmp_path, capsys):
    """--chunk-ms 0.01 fed one sample (0.0625 ms) at a time and said "streamed in 0.01 ms chunks"; 33.33 ms fed 533
    samples and said 33.33."""
    from speechseq.cli import main

    wav = tmp_path / "a.wav"
    sf.write(wav, 0.1 * np.sin(np.arange(8000) / 5), 16000)
    for asked, said in (("0.01", "0.0625 ms"), ("33.33", "33.3125 ms"), ("100", "100 ms")):
        assert main(["features", str(wav), "--chunk-ms", asked]) == 0
        assert f"(streamed in {said} chunks)" in capsys.readouterr().out
