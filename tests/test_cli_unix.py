"""Every command as a Unix command: what goes to stdout and stderr (a log file gets no progress bars), what a
name starting with '-' or a '-' for standard input is told, and result lines that stay one line a file."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"




def _clips(folder: Path, words: list[str]) -> Path:
    """A manifest of one short tone a word (stand-ins for spoken clips), the last third held out."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, word in enumerate(words):
        t = np.arange(int(16000 * (0.3 + 0.05 * i))) / 16000
        sf.write(folder / f"{i}.wav", 0.4 * np.sin(2 * np.pi * (300 + 40 * i) * t), 16000)
        rows.append({"audio_filepath": f"{i}.wav", "text": word, "heldout": i >= 2 * len(words) // 3})
    path = folder / "clips.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# 1. progress bars only on a terminal: in a log file (`2> train.log`, nohup, a scheduler) tqdm's bar is redrawn
# with "\r" up to ten times a second, each redraw kept: a training's log grew by megabytes of them

def test_train_lm_draws_no_bars_into_a_log_file(tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "corpus.txt").write_text("\n".join(["the cat sat on the mat", "a dog ran"] * 10
                                                   + [f"line {i} of the text" for i in range(30)]))
    code, _, err = run("train", "lm", "--text", tmp_path / "corpus.txt", "--out", tmp_path / "run", "--epochs", "2",
                       "--hidden", "8", "--embed-dim", "4", "--batch-tokens", "256")
    assert code == 0 and "\r" not in err
    assert "epoch 1/2 (" in err and "epoch 2/2 (" in err  # the epochs' own lines still say how it goes


def test_train_recognizer_draws_no_bars_into_a_log_file(tmp_path):
    pytest.importorskip("torch")
    manifest = _clips(tmp_path / "clips", ["yes", "no", "yes", "no", "yes", "no"])
    code, _, err = run("train", "recognizer", "--manifest", manifest, "--val-manifest", manifest, "--out",
                       tmp_path / "run", "--epochs", "1", "--hidden", "8", "--layers", "1", "--no-augment")
    assert code == 0 and "\r" not in err  # neither the features' bar nor the epoch's
    assert "epoch 1/1 (" in err


def test_train_detector_draws_no_bars_into_a_log_file(tmp_path):
    pytest.importorskip("torch")
    pos = _clips(tmp_path / "pos", ["yes"] * 6)
    neg = _clips(tmp_path / "neg", ["no"] * 6)
    code, _, err = run("train", "detector", "--keyword", "yes", "--out", tmp_path / "run", "--positives", pos,
                       "--negatives", neg, "--epochs", "1", "--steps", "2", "--batch", "4", "--workers", "1")
    assert code == 0 and "\r" not in err  # neither the clips' "features" bar (speechseq.train.kwbank) nor the epoch's
    assert "epoch 1/1 (" in err


# 2. '-' names no standard input where audio is read: said as transcribe, detect and features say it (common.
# expand_inputs), where `listen --input -` and `eval detector --positives -` said "-: no such file", as if a file
# named '-' were missing

MICROPHONE = "(or, for a microphone, use `speechseq listen`)"


@pytest.mark.parametrize("argv, then", [
    (["listen", "--input", "-", "--fast"], "(or leave --input out to listen to the microphone)"),
    (["eval", "detector", "--model", ROOT / "models" / "activate.onnx", "--positives", "-"], MICROPHONE),
    (["eval", "detector", "--model", ROOT / "models" / "activate.onnx", "--negatives", SAMPLE, "-"], MICROPHONE),
])
def test_a_dash_for_standard_input_is_said_to_be_unsupported_by_every_command(argv, then, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*argv)
    assert code == 1 and out == ""
    assert err.strip().splitlines() == ["speechseq: error: -: audio is not read from standard input; save it to a "
                                        f"file and name that {then}"]



# 3. a file whose name starts with '-' is taken for an option: argparse's error said only that FILE was missing, or
# that the name was an unrecognised argument; now it says how to name the file

HINT = "-take.wav: a file name starting with '-' is read as an option: write ./-take.wav, or put -- before it"


@pytest.mark.parametrize("argv, says", [
    (["detect", "-take.wav"], "the following arguments are required: FILE"),
    (["features", "a.wav", "-take.wav"], "unrecognized arguments: -take.wav"),
    (["listen", "--input", "-take.wav", "--fast"], "argument --input: expected one argument"),
])
def test_a_file_name_starting_with_a_dash_is_said_how_to_give(argv, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sf.write(tmp_path / "-take.wav", np.zeros(1600, np.float32), 16000)
    code, out, err = run(*argv)
    last = err.strip().splitlines()[-1]
    assert code == 2 and out == "" and says in last and last.endswith(f"({HINT})"), err
    code, out, err = run("features", "--", "-take.wav")   # as it says
    assert code == 0 and out.startswith("-take.wav: 0.10 s"), err


def test_no_dash_hint_for_an_option_or_a_name_that_is_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run("detect", "-nothere.wav")
    assert code == 2 and "is read as an option" not in err
    code, _, err = run("detect", "--json")
    assert code == 2 and "is read as an option" not in err


# 4. a result line is one line a file: a control character in a name (Linux allows a newline there) is written as
# Python writes it in a string, as every message names it (speechseq.audio); the JSON "file" is the name itself

def test_a_newline_in_a_file_name_does_not_split_its_result_line(tmp_path):
    odd = tmp_path / "take\n2\t.wav"
    odd.write_bytes(SAMPLE.read_bytes())
    code, out, err = run("detect", odd)
    assert code == 0 and out == f"{tmp_path}/take\\n2\\t.wav: 5.17 s: activate 1.13-1.78 s (0.97)\n", err
    code, out, err = run("features", odd)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2 and lines[0] == (f"{tmp_path}/take\\n2\\t.wav: 5.17 s, 515 frames x 40 mels "
                                                          "(streamed in 100 ms chunks)"), err
    for command in ("detect", "features"):
        code, out, err = run(command, odd, "--json")
        assert code == 0 and json.loads(out)["file"] == str(odd), err


def test_transcribe_writes_a_control_character_in_a_name_as_detect_does(tmp_path):
    """transcribe's text lines ("NAME: text", several files) and its warning for two inputs of one stem wrote a
    newline in a name raw: the line split in two, the second naming no file."""
    odd = tmp_path / "take\n2.wav"
    odd.write_bytes(SAMPLE.read_bytes())
    (tmp_path / "b").mkdir()
    twin = tmp_path / "b" / "take\n2.wav"
    twin.write_bytes(SAMPLE.read_bytes())
    code, out, err = run("transcribe", odd, SAMPLE, "--decoder", "greedy", "--vad", "off")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2, (out, err)
    assert lines[0].startswith(f"{tmp_path}/take\\n2.wav: ") and lines[1].startswith(f"{SAMPLE}: ")
    code, out, err = run("transcribe", odd, twin, "--decoder", "greedy", "--vad", "off", "--output-dir",
                         tmp_path / "out")
    assert code == 0 and err.splitlines() == [f"speechseq: warning: {tmp_path}/b/take\\n2.wav: its stem is another "
                                              "input's too: written as take\\n2-2.txt",
                                              f"wrote {tmp_path}/out/take\\n2.txt",
                                              f"wrote {tmp_path}/out/take\\n2-2.txt"], err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["take\n2-2.txt", "take\n2.txt"]



# 5. a reader that stops early (`| head -1`, `| grep -q`): what it read is what it wanted. Python's own flush of
# stdout at exit found the pipe gone: "Exception ignored in: <_io.TextIOWrapper name='<stdout>' ...>
# BrokenPipeError" on stderr and exit status 120, from every command, --help and --version included (unseen where
# PYTHONUNBUFFERED is set)

def _reader_gone(argv: list, lines: int) -> tuple[int, list[str], str]:
    """Run `python -m speechseq argv` as a shell runs it (PYTHONUNBUFFERED unset) with a reader of its stdout that
    takes `lines` lines and goes: (exit code, the lines read, stderr)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    p = subprocess.Popen([sys.executable, "-m", "speechseq", *map(str, argv)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    read = [p.stdout.readline() for _ in range(lines)]
    p.stdout.close()
    err = p.stderr.read()
    return p.wait(timeout=120), read, err


@pytest.mark.parametrize("argv, lines", [
    (["--version"], 0),
    (["detect", "--help"], 0),
    (["detect", SAMPLE], 0),
    (["features", SAMPLE], 0),
    (["detect", "--json", SAMPLE, SAMPLE, SAMPLE], 1),
    (["features", "--json", SAMPLE, SAMPLE, SAMPLE], 1),
    (["detect", SAMPLE, SAMPLE, SAMPLE], 1),
])
def test_a_reader_that_stops_early_ends_no_command_in_an_error(argv, lines):
    code, read, err = _reader_gone(argv, lines)
    assert code == 0 and err == "", err
    assert all(line.startswith(("{", str(SAMPLE))) for line in read)


# 6. standard output closed (`speechseq detect x.wav >&-`, a service started without one): Python makes sys.stdout
# None, and print() drops every line in silence (exit 0); --json's write was an AttributeError traceback

def _stdout_closed(argv: list) -> tuple[int, str]:
    """Run `python -m speechseq argv` with its standard output closed, as `>&-` leaves it: (exit code, stderr)."""
    import subprocess
    import sys

    r = subprocess.run(["sh", "-c", 'exec "$0" -m speechseq "$@" >&-', sys.executable, *map(str, argv)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
    return r.returncode, r.stderr


@pytest.mark.parametrize("argv", [["detect", SAMPLE], ["detect", SAMPLE, "--json"], ["features", SAMPLE],
                                  ["transcribe", SAMPLE, "--decoder", "greedy", "--vad", "off"]])
def test_a_closed_standard_output_is_one_error(argv):
    code, err = _stdout_closed(argv)
    assert code == 1 and err.splitlines() == ["speechseq: error: standard output is closed: the results have nowhere "
                                              "to go (send them to a file, or to /dev/null)"], err


def test_a_command_that_writes_nothing_on_standard_output_runs_without_one(tmp_path):
    code, err = _stdout_closed(["transcribe", SAMPLE, "--decoder", "greedy", "--vad", "off", "--output-dir", tmp_path])
    written = tmp_path / "activate_kitchen_lights.txt"
    assert code == 0 and err == f"wrote {written}\n" and written.read_text().strip()


# 7. a manifest is a file or a folder: '-' (standard input) and a device or a pipe were said to be "not found"

@pytest.mark.parametrize("given, says", [
    ("-", "-: a manifest is not read from standard input; save it to a file and name that"),
    ("/dev/null", "/dev/null: not a file or a folder (a device or a pipe): save the manifest to a file and name that"),
])
def test_eval_recognizer_says_why_a_manifest_that_is_no_file_is_not_read(given, says, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run("eval", "recognizer", "--manifest", given, "--decoder", "greedy")
    assert code == 1 and out == "" and err.splitlines() == [f"speechseq: error: {says}"], err
    code, out, err = run("eval", "recognizer", "--manifest", "gone.jsonl", "--decoder", "greedy")
    assert code == 1 and err.splitlines() == ["speechseq: error: manifest not found: gone.jsonl"], err


# 8. a report file is written whole or not at all (speechseq.files.written_atomically, as transcribe writes)

def test_eval_recognizer_json_is_written_whole_or_not_at_all(tmp_path):
    """--json was written in place: a write that failed (a full disk) left the report of an earlier run cut short."""
    import resource
    import signal

    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights"})
                        + "\n")
    report = tmp_path / "r.json"
    argv = ["eval", "recognizer", "--manifest", manifest, "--decoder", "greedy", "--vad", "off", "--json", report]
    code, _, err = run(*argv)
    whole = report.read_text()
    assert code == 0 and json.loads(whole)["utterances"] == 1, err
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(whole) // 2, limits[1]))
    try:
        code, out, err = run(*argv)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert code == 1 and err.splitlines()[-1] == f"speechseq: error: --json {report}: not written (File too large)"
    assert report.read_text() == whole and sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl", "r.json"]
