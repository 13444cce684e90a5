"""The training-side commands (train detector / lm / recognizer, synth, export, sample) on bad input: one clear
error line (exit 1), or argparse's usage error (exit 2), never a traceback and never a silent wrong run."""
import argparse
import contextlib
import io
import json
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv) -> tuple[int, str, str]:
    """speechseq.cli.main(argv): (exit code, stdout, stderr); argparse's exits included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _tones(folder: Path, word: str, n: int, base: float) -> list[str]:
    """n short tone bursts as WAV files (stand-ins for spoken clips); their names, relative to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(n):
        t = np.arange(int(16000 * (0.3 + 0.05 * i))) / 16000
        sf.write(folder / f"{word}-{i}.wav", 0.4 * np.sin(2 * np.pi * (base + 40 * i) * t), 16000)
        names.append(f"{word}-{i}.wav")
    return names


def _manifest(folder: Path, word: str, base: float) -> Path:
    """Real (not synthetic: no "engine") clips of `word`, the last two held out for validation."""
    names = _tones(folder, word, 6, base)
    path = folder / f"{word}.jsonl"
    path.write_text("".join(json.dumps({"audio_filepath": n, "text": word, "heldout": i >= 4}) + "\n"
                            for i, n in enumerate(names)))
    return path


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory):
    """A one-epoch detector run on real clips only: (run dir, positives, negatives, the run's stdout)."""
    d = tmp_path_factory.mktemp("det")
    pos, neg = _manifest(d / "pos", "yes", 300), _manifest(d / "neg", "no", 700)
    out = d / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["train", "detector", "--keyword", "yes", "--out", str(out), "--positives", str(pos),
                     "--negatives", str(neg), "--epochs", "1", "--steps", "2", "--batch", "4", "--workers", "1"])
    assert code == 0, stderr.getvalue()[-2000:]
    return out, pos, neg, stdout.getvalue()


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    """A tiny character LM run (seconds): its folder."""
    d = tmp_path_factory.mktemp("lm")
    (d / "corpus.txt").write_text("\n".join(["the cat sat on the mat", "a dog ran"] * 10
                                            + [f"line {i} of the text" for i in range(30)]))
    code = main(["train", "lm", "--text", str(d / "corpus.txt"), "--out", str(d / "run"), "--epochs", "1",
                 "--hidden", "8", "--embed-dim", "4", "--batch-tokens", "256"])
    assert code == 0
    return d


@pytest.fixture
def files(tmp_path):
    """A WAV file, a plain file, a directory."""
    wav = tmp_path / "clip.wav"
    sf.write(wav, 0.3 * np.sin(np.arange(16000) / 5), 16000)
    notes = tmp_path / "notes.txt"
    notes.write_text("hi\n")
    adir = tmp_path / "adir"
    adir.mkdir()
    return wav, notes, adir


# 1. a rerun into a run of another keyword or other data


def test_rerun_with_another_keyword_or_data_is_an_error_and_the_same_run_resumes(detector_run, capsys):
    out, pos, neg, _ = detector_run
    base = ["train", "detector", "--out", out, "--steps", "2", "--batch", "4", "--workers", "1"]
    code, _, err = run(capsys, *base, "--keyword", "computer", "--positives", pos, "--negatives", neg)
    assert code == 1 and f"{out} holds a run for keyword 'yes', not 'computer'" in err and "new --out" in err
    assert not (out / "computer.onnx").exists() and "resuming" not in err
    code, _, err = run(capsys, *base, "--keyword", "yes", "--positives", neg, "--negatives", pos)
    assert code == 1 and f"{out} holds a run on other data (--positives was {pos.resolve()})" in err
    code, _, err = run(capsys, *base, "--keyword", "yes", "--positives", f"{pos}:3", "--negatives", neg)
    assert code == 1 and "other data" in err
    assert json.loads((out / "history.json").read_text())[-1]["epoch"] == 1      # nothing trained
    # the same settings resume (relative paths or absolute alike)
    code, _, err = run(capsys, *base, "--keyword", "yes", "--positives", pos, "--negatives", neg, "--epochs", "2")
    assert code == 0 and f"resuming from {out / 'last.pt'}: epoch 1 of 2 done" in err
    assert json.loads((out / "history.json").read_text())[-1]["epoch"] == 2


def test_positives_none_of_which_can_be_read_are_one_line_before_training(tmp_path, capsys):
    """Each file that cannot be read is reported and skipped; with no training positive left the command says
    so in one line before any training, and caches no bank without positives (it ended in KeyError 'pos/q')."""
    bad = tmp_path / "activates"
    bad.mkdir()
    (bad / "empty.wav").write_bytes(b"")
    (bad / "notes.wav").write_text("not audio\n")
    neg, out = _manifest(tmp_path / "neg", "no", 700), tmp_path / "run"
    code, _, err = run(capsys, "train", "detector", "--keyword", "yes", "--out", out, "--positives", bad,
                       "--negatives", neg, "--epochs", "1", "--steps", "2", "--batch", "4", "--workers", "1")
    assert code == 1 and "no training positives left" in err and "--positives" in err
    assert len([line for line in err.splitlines() if "skipped" in line and "empty.wav" in line]) == 1
    assert not (out / "bank.npz").exists() and not (out / "last.pt").exists()


@pytest.mark.parametrize("option, was", [(["--lr", "0.01"], "--lr 0.002"), (["--seed", "1"], "--seed 0"),
                                         (["--batch", "8"], "--batch 4"), (["--steps", "3"], "--steps 2"),
                                         (["--target-fa", "2"], "--target-fa 0.5"),
                                         (["--range-db", "0"], "--range-db 60"),
                                         (["--follow-share", "0.3"], "--follow-share 0")])
def test_rerun_with_other_training_options_is_an_error(detector_run, capsys, option, was):
    """A rerun resumes the run as it was made: other options would train its later epochs otherwise (they
    were taken silently, and on a finished run ignored: --target-fa 2 exported the old threshold)."""
    out, pos, neg, _ = detector_run
    epochs = len(json.loads((out / "history.json").read_text()))
    code, _, err = run(capsys, "train", "detector", "--keyword", "yes", "--out", out, "--positives", pos,
                       "--negatives", neg, "--steps", "2", "--batch", "4", "--workers", "1", "--epochs", "3", *option)
    assert code == 1 and f"{out} holds a run made with {was}, not {option[1]}" in err and "new --out" in err
    assert "resuming" not in err and len(json.loads((out / "history.json").read_text())) == epochs


def test_init_from_a_detector_of_another_keyword_or_size_is_one_line(detector_run, tmp_path, capsys):
    """--init fits a detector of the keyword to a voice: the shipped "activate" given for "yes" is said to be only a
    starting point (it trained silently as "yes" before), before the work; and a rerun given a start of another
    model size is one line (it was a traceback of size mismatches)."""
    from speechseq.nn.detector import Detector, DetectorConfig

    out, pos, neg, _ = detector_run
    tiny = ["--steps", "2", "--batch", "4", "--workers", "1"]
    code, _, err = run(capsys, "train", "detector", "--keyword", "yes", "--out", tmp_path / "new", "--positives",
                       tmp_path / "no-such-dir", "--negatives", neg, "--init", ROOT / "models" / "activate.onnx", *tiny)
    assert "is a detector of 'activate', not 'yes': its weights are only a starting point" in err
    assert code == 1 and "no-such-dir" in err.splitlines()[-1]        # the warning came first; the work never began
    assert not (tmp_path / "new" / "bank.npz").exists()
    other = tmp_path / "other"
    other.mkdir()
    cfg = DetectorConfig(hidden=16, conv_channels=16)
    torch.save({"kind": "detector", "model_config": cfg.to_dict(), "model": Detector(cfg).state_dict(),
                "extra": {"keyword": "yes"}}, other / "best.pt")
    code, _, err = run(capsys, "train", "detector", "--keyword", "yes", "--out", out, "--positives", pos,
                       "--negatives", neg, "--init", other, *tiny)
    assert code == 1 and f"{out} holds a run made with --init none, not {other}" in err


# 2. numbers out of range: a usage error before anything is made

NO_DATA = ["--positives", "no-such-dir"]  # without the checks: a quick error, not a synthesis by every voice


@pytest.mark.parametrize("argv, message", [
    (["train", "detector", "--keyword", "yes", *NO_DATA, "--batch", "0"], "argument --batch: must be >= 1, got 0"),
    (["train", "detector", "--keyword", "yes", *NO_DATA, "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["train", "detector", "--keyword", "yes", *NO_DATA, "--steps", "-2"], "argument --steps: must be >= 1, got -2"),
    (["train", "detector", "--keyword", "yes", *NO_DATA, "--lr", "0"], "argument --lr: must be > 0, got 0"),
    # --warps and --seed were checked only when the training started (exit 1), or not at all (a negative seed
    # failed in numpy after the feature bank was built)
    (["train", "detector", "--keyword", "yes", *NO_DATA, "--warps", "5"],
     "argument --warps: must lie in [0.5, 2], got 5"),
    (["train", "detector", "--keyword", "yes", *NO_DATA, "--warps", "0.85", "0.3"],
     "argument --warps: must lie in [0.5, 2], got 0.3"),
    (["train", "detector", "--keyword", "yes", *NO_DATA, "--warps", "nan"],
     "argument --warps: not a finite number: 'nan'"),
    (["train", "detector", "--keyword", "yes", *NO_DATA, "--seed", "-1"], "argument --seed: must be >= 0, got -1"),
    (["train", "detector", "--keyword", "", *NO_DATA], "argument --keyword: must be a word or phrase with "
                                                              "letters in it, got ''"),
    (["train", "detector", "--keyword", "42", *NO_DATA], "argument --keyword: must be a word or phrase with letters"),
    (["train", "lm", "--text", "t.txt", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["train", "lm", "--text", "t.txt", "--heldout-percent", "150"],
     "argument --heldout-percent: must lie in [0, 100), got 150"),
    (["train", "lm", "--text", "t.txt", "--hidden", "0"], "argument --hidden: must be >= 1, got 0"),
    (["train", "lm", "--text", "t.txt", "--dropout", "1"], "argument --dropout: must lie in [0, 1), got 1"),
    (["train", "recognizer", "--manifest", "m.jsonl", "--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
    (["synth", "keyword", "--keyword", ""], "argument --keyword: must be a word or phrase with letters"),
    (["synth", "keyword", "--keyword", "yes", "--neg-ratio", "-1"], "argument --neg-ratio: must lie in [0, 100], got -1"),
    (["synth", "sentences", "--text", "t.txt", "--n", "-3"], "argument --n: must lie in [1, 500000], got -3"),
    (["export", "frontend", "--n-mels", "-4"], "argument --n-mels: must lie in [1, 128], got -4"),
    (["export", "frontend", "--n-mels", "0"], "argument --n-mels: must lie in [1, 128], got 0"),
    # more bands than the 512-point frames' bins fill: a graph with empty filters (features --n-mels refuses it too)
    (["export", "frontend", "--n-mels", "500"], "argument --n-mels: must lie in [1, 128], got 500"),
])
def test_numbers_out_of_range_are_usage_errors(argv, message, tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = run(capsys, *argv, "--out", out)
    assert code == 2 and message in err
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["sample", "-n", "1"],
    ["synth", "keyword", "--keyword", "yes", "--out", "OUT"],
    ["train", "lm", "--text", "t.txt", "--out", "OUT"],
    ["train", "recognizer", "--manifest", "m.jsonl", "--out", "OUT"],
])
def test_negative_seeds_are_usage_errors(argv, tmp_path, capsys):
    """numpy's generators take no negative seed: a traceback (sample), or a failure after the data were read."""
    out = tmp_path / "out"
    code, _, err = run(capsys, *[out if a == "OUT" else a for a in argv], "--seed", "-1")
    assert code == 2 and "argument --seed: must be >= 0, got -1" in err
    assert not out.exists()


def test_the_parsers_warp_range_is_the_models():
    from speechseq.commands.train_detector import WARP_RANGE
    from speechseq.nn.detector import WARP_RANGE as MODEL_RANGE

    assert WARP_RANGE == MODEL_RANGE


# 3. files where folders belong and the like: one line, not a traceback


def test_train_lm_bad_text_and_out(files, tmp_path, capsys):
    wav, notes, adir = files
    code, _, err = run(capsys, "train", "lm", "--text", wav, "--out", tmp_path / "r1")
    assert code == 1 and f"--text {wav}: not a UTF-8 text file" in err and not (tmp_path / "r1").exists()
    code, _, err = run(capsys, "train", "lm", "--text", adir, "--out", tmp_path / "r1")
    assert code == 1 and f"--text {adir}: is a directory, not a text file" in err
    code, _, err = run(capsys, "train", "lm", "--text", notes, "--out", notes)
    assert code == 1 and f"--out {notes}: exists and is not a directory" in err and notes.read_text() == "hi\n"
    few = tmp_path / "few.txt"
    few.write_text("one sentence here\nand another one\n")
    code, _, err = run(capsys, "train", "lm", "--text", few, "--out", tmp_path / "r2", "--heldout-percent", "99.99")
    assert code == 1 and "no training sentences: all 2 fell in the held-out 99.99 %" in err
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize("command", ["lm", "recognizer", "detector"])
def test_an_out_that_cannot_be_written_is_one_line_before_any_work(command, files, tmp_path, capsys):
    """OUT on a full disk (here writes past 8 kB refused, EFBIG, as ENOSPC would be): the first write of any size was
    the first checkpoint, so `train lm` trained a whole epoch (the recogniser made its features, the detector its
    bank) before "cannot write the checkpoint (...); is the disk full? The last one written is kept", none written.
    Every train command writes and removes a probe file in OUT first, and says so in one line; so it does for a
    folder where no file can be made (/proc, which passes os.access as root)."""
    import resource

    wav, notes, _ = files
    data = {"lm": ["--text", notes, "--hidden", "8", "--embed-dim", "4"], "recognizer": ["--manifest", notes],
            "detector": ["--keyword", "yes", "--positives", wav, "--negatives", wav, "--workers", "1"]}[command]
    out = tmp_path / "run"
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (8000, limits[1]))
    try:
        code, _, err = run(capsys, "train", command, *data, "--out", out, "--epochs", "1")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert code == 1 and err.splitlines()[-1] == f"speechseq: error: {out}: cannot write in it (file too large): " \
                                                 "use another --out", err
    assert "epoch" not in err and [p.name for p in out.iterdir() if p.name != ".lock"] == []
    if Path("/proc").is_dir() and command == "lm":
        code, _, err = run(capsys, "train", command, *data, "--out", "/proc", "--epochs", "1")
        assert code == 1 and "/proc: cannot write in it (" in err and len(err.splitlines()) == 1, err


def test_train_detector_out_is_a_file(files, capsys):
    wav, notes, _ = files
    code, _, err = run(capsys, "train", "detector", "--keyword", "yes", "--positives", wav, "--negatives", wav,
                       "--out", notes, "--epochs", "1")
    assert code == 1 and f"--out {notes}: exists and is not a directory" in err


def test_synth_keyword_out_is_a_file(files, capsys):
    _, notes, _ = files
    code, out, err = run(capsys, "synth", "keyword", "--keyword", "yes", "--out", notes, "--engines", "espeak-ng")
    assert code == 1 and f"--out {notes}: exists and is not a directory" in err and "voices" not in out


def test_export_to_a_directory_or_from_one(files, capsys):
    _, _, adir = files
    code, _, err = run(capsys, "export", "frontend", "--out", adir)
    assert code == 1 and f"--out {adir}: is a directory, not a file" in err
    code, _, err = run(capsys, "export", adir, "--out", adir.parent / "x.onnx")
    assert code == 1 and f"{adir}: is a directory; give a checkpoint file in it" in err
    assert not (adir.parent / "x.onnx").exists()


# 4. a binary file as text


def test_synth_sentences_rejects_a_binary_text_file(files, tmp_path, capsys):
    wav, _, _ = files
    out = tmp_path / "s"
    code, stdout, err = run(capsys, "synth", "sentences", "--text", wav, "--out", out, "--n", "3",
                            "--engines", "espeak-ng")
    assert code == 1 and f"{wav}: not a UTF-8 text file (byte " in err
    assert not out.exists() and "usable sentences" not in stdout


# 5. messages that say what is wrong


@pytest.mark.parametrize("weight", ["abc", "-1", "0", "nan"])
def test_train_detector_bad_source_weight(weight, files, tmp_path, capsys):
    _, _, adir = files
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", "detector", "--keyword", "yes", "--positives", f"{adir}:{weight}",
                       "--negatives", adir, "--out", out, "--epochs", "1")
    assert code == 1 and f"{adir}:{weight}: the weight after ':' must be a positive number, got '{weight}'" in err
    assert not out.exists()


def test_sample_works_outside_the_repository(tmp_path, monkeypatch, capsys):
    if not (ROOT / "models" / "lm-en.onnx").is_file():
        pytest.skip("models/lm-en.onnx is not shipped in this checkout")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "sample", "-n", "2", "--seed", "0", "--max-chars", "40")
    assert code == 0 and len(out.splitlines()) == 2


# 6. cosmetics: --int8 of an LM, the synthetic-voices advice, help texts


def test_export_lm_int8_says_it_is_ignored_and_is_quiet(lm_run, capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run(capsys, "export", lm_run / "run" / "best.pt", "--out", lm_run / "lm.onnx", "--int8")
    assert code == 0 and f"wrote {lm_run / 'lm.onnx'}" in out
    assert "--int8 applies to recognizer checkpoints only: no int8 twin for this lm checkpoint" in err
    assert not list(lm_run.glob("*.int8.onnx"))
    assert not [w for w in caught if "batch_size other than 1" in str(w.message)]


def test_synthetic_voice_advice_only_when_validated_on_synthetic_voices(detector_run):
    from speechseq.commands.train_detector import summary

    out, _, _, stdout = detector_run
    assert "threshold" in stdout and "on held-out clips it missed" in stdout  # validated, on real clips
    assert "synthetic voices flatter" not in stdout
    assert "synthetic voices flatter" in summary(out / "yes.onnx", synthetic=True)


def _parser(*names: str) -> argparse.ArgumentParser:
    from speechseq.cli import build_parser

    p = build_parser()
    for name in names:
        p = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return p


@pytest.mark.parametrize("command", ["lm", "recognizer", "detector"])
def test_help_says_what_a_raised_epochs_does_to_the_learning_rate(command):
    """--epochs may change on a rerun, and raised on a finished run it stretches the cosine decay over the new total:
    the rate jumped from its floor back to about half the peak (tests/test_loop.py pins the numbers), which no help
    said. The recogniser's also names every rerun check: the process count (torchrun) was left out."""
    text = " ".join(_parser("train", command).format_help().split())
    assert "raised on a finished run, the learning rate's cosine decay is stretched over the new total: the rate " \
           "jumps from its floor (5 % of --lr) back to about half of --lr for twice the epochs, and decays again" \
           in text, text
    assert "give the whole --epochs from the start" in text
    if command == "recognizer":
        assert "another --lr, --seed, --batch-seconds, --repeat, augmentation or number of processes (torchrun " \
               "--nproc-per-node): an error" in text, text
    if command == "detector":
        assert "--init OUT/best.pt --lr 0.0001" in text
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "`--epochs` raised on a finished run stretches the learning rate's cosine decay over the new total" in readme


def test_help_explains_every_option_of_train_lm_and_shows_no_empty_default():
    options = {a.option_strings[-1]: a.help for a in _parser("train", "lm")._actions if a.option_strings}
    assert {"--epochs", "--lr", "--rnn", "--hidden", "--layers", "--embed-dim", "--dropout", "--device",
            "--seed"} <= set(options)
    assert not [o for o, text in options.items() if not text]
    assert "(default: )" not in _parser("train", "detector").format_help()


@pytest.mark.parametrize("command", ["lm", "recognizer"])
def test_a_device_torch_cannot_use_is_one_line_before_any_work(command, files, tmp_path, capsys):
    """`train lm --device foo` (or cuda on a machine without one) ended in torch's traceback once the sentences
    were read and OUT made; `train recognizer --device` made OUT before saying so. Now one line, nothing made."""
    wav, notes, _ = files
    data = ["--text", notes] if command == "lm" else ["--manifest", notes]
    devices = [("foo", "--device foo: not a device torch knows (cpu or cuda)")]
    if not torch.cuda.is_available():
        devices.append(("cuda", "--device cuda: torch sees no CUDA GPU here (use --device cpu)"))
    for device, says in devices:
        out = tmp_path / f"run-{device}"
        code, _, err = run(capsys, "train", command, *data, "--out", out, "--device", device)
        assert code == 1 and says in err, err
        assert not out.exists()


def test_follow_share_reaches_the_training_mixes_and_the_model(detector_run, tmp_path, capsys):
    """--follow-share X: the share of training's keywords followed at once by other speech, kept in the model's
    metadata (its "mix") as every mix setting is; out of [0, 1] it is one usage line."""
    from speechseq.runtime.onnx import read_metadata

    _, pos, neg, _ = detector_run
    out = tmp_path / "followed"
    code, _, err = run(capsys, "train", "detector", "--keyword", "yes", "--out", out, "--positives", pos,
                       "--negatives", neg, "--epochs", "1", "--steps", "2", "--batch", "4", "--workers", "1",
                       "--follow-share", "0.25")
    assert code == 0, err
    assert read_metadata(out / "yes.onnx")["mix"]["follow_share"] == 0.25
    code, _, err = run(capsys, "train", "detector", "--keyword", "yes", "--out", out, "--follow-share", "1.5")
    assert code == 2 and "--follow-share" in err.splitlines()[-1]
