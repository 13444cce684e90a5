"""Reruns, interrupts and exports of `speechseq train detector` runs: a rerun resumes only the run it was,
snapshots are numbered by the epochs last.pt holds and export on their own, Ctrl+C and SIGTERM leave a run
that resumes, and exported files are named and suffixed safely."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from .cli_run import run

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from speechseq.runtime.onnx import read_metadata  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--steps", "2", "--batch", "4", "--workers", "1"]




def _manifest(folder: Path, word: str, base: float) -> Path:
    """Six tone bursts standing in for clips of `word` (not synthetic), the last two held out."""
    folder.mkdir(parents=True)
    rows = []
    for i in range(6):
        t = np.arange(int(16000 * (0.3 + 0.05 * i))) / 16000
        sf.write(folder / f"{word}-{i}.wav", 0.4 * np.sin(2 * np.pi * (base + 40 * i) * t), 16000)
        rows.append({"audio_filepath": f"{word}-{i}.wav", "text": word, "heldout": i >= 4})
    path = folder / f"{word}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(positives, negatives, a finished two-epoch run of keyword "yes" on them)."""
    d = tmp_path_factory.mktemp("resume")
    pos, neg = _manifest(d / "pos", "yes", 300), _manifest(d / "neg", "no", 700)
    code, _, err = run("train", "detector", "--keyword", "yes", "--out", d / "run", "--positives", pos,
                       "--negatives", neg, "--epochs", "2", *TINY)
    assert code == 0, err[-2000:]
    return pos, neg, d / "run"


@pytest.fixture
def copy(data, tmp_path) -> Path:
    """A copy of the finished run, to change."""
    shutil.copytree(data[2], tmp_path / "run")
    return tmp_path / "run"


def _train(out: Path, pos: Path, neg: Path, *options: str, keyword: str = "yes") -> tuple[int, str, str]:
    return run("train", "detector", "--keyword", keyword, "--out", out, "--positives", pos, "--negatives", neg,
               *TINY, *options)


def _epochs(run_dir: Path) -> list[int]:
    return [h["epoch"] for h in json.loads((run_dir / "history.json").read_text())]


# 1. the run's keyword and sources are checked from last.pt too, with OUT/bank.npz gone


def test_rerun_on_other_data_is_refused_when_the_bank_is_gone(data, copy, tmp_path):
    pos, neg, _ = data
    (copy / "bank.npz").unlink()
    other = _manifest(tmp_path / "other", "maybe", 500)
    code, _, err = _train(copy, pos, other, "--epochs", "3")     # other negatives
    assert code == 1 and f"{copy} holds a run on other data (--negatives was {neg.resolve()})" in err
    code, _, err = _train(copy, pos, neg, "--epochs", "3", keyword="no")
    assert code == 1 and f"{copy} holds a run for keyword 'yes', not 'no'" in err
    assert _epochs(copy) == [1, 2] and not (copy / "bank.npz").exists()   # nothing built, nothing trained
    code, _, err = _train(copy, pos, neg, "--epochs", "3")       # the same data: the bank is rebuilt, resumed
    assert code == 0 and "epoch 2 of 3 done" in err and _epochs(copy) == [1, 2, 3]


def test_last_pt_of_another_kind_is_one_line(data, tmp_path):
    pos, neg, _ = data
    (tmp_path / "run").mkdir()
    torch.save({"kind": "lm", "model": {}}, tmp_path / "run" / "last.pt")
    code, _, err = _train(tmp_path / "run", pos, neg, "--epochs", "1")
    assert code == 1 and "last.pt is a 'lm' checkpoint, not a detector's: use a new --out" in err


# 2. snapshots are numbered by the epochs last.pt holds


def test_snapshots_beyond_last_pt_are_redone_not_counted(data, copy):
    """A snapshot written before an interrupt ended its epoch (here: copies of epoch 1 as 3 and 5) neither
    shifts the numbering nor enters the average."""
    pos, neg, _ = data
    snaps = copy / "snapshots"
    for n in (3, 5):
        shutil.copy(snaps / "epoch_001.pt", snaps / f"epoch_{n:03d}.pt")
    code, out, err = _train(copy, pos, neg, "--epochs", "3", "--average", "2")
    assert code == 0, err[-2000:]
    assert "epoch 2 of 3 done" in err and "(mean of the EMA weights of epochs 2-3)" in out
    assert sorted(p.name for p in snaps.glob("*.pt")) == ["epoch_001.pt", "epoch_002.pt", "epoch_003.pt"]
    third = torch.load(snaps / "epoch_003.pt", weights_only=False)
    first = torch.load(snaps / "epoch_001.pt", weights_only=False)
    assert third["epoch"] == 3 and not torch.equal(third["model"]["conv.weight"], first["model"]["conv.weight"])
    assert read_metadata(copy / "yes.onnx")["checkpoint"] == "mean of the EMA weights of epochs 2-3"


# 3. a snapshot exports on its own, at its epoch's threshold


def test_export_a_snapshot_at_its_epochs_threshold(data, tmp_path):
    run_dir = data[2]
    history = json.loads((run_dir / "history.json").read_text())
    code, out, err = run("export", run_dir / "snapshots" / "epoch_001.pt", "--out", tmp_path / "e1.onnx")
    assert code == 0, err
    meta = read_metadata(tmp_path / "e1.onnx")
    assert meta["keyword"] == "yes" and meta["checkpoint"] == "the EMA weights of epoch 1"
    assert meta["checkpoint_epoch"] == 1 and meta["threshold"] == history[0]["val_threshold"]
    assert meta["metrics"]["val_frr_at_fa"] == round(history[0]["val_frr_at_fa"], 4)


def test_export_a_snapshot_of_a_run_made_before_snapshots_carried_their_settings(copy, tmp_path):
    history = json.loads((copy / "history.json").read_text())
    snap = copy / "snapshots" / "epoch_001.pt"
    weights = torch.load(snap, weights_only=False)["model"]
    torch.save({"model": weights, "epoch": 1}, snap)                 # as such runs wrote them
    code, _, err = run("export", snap, "--out", tmp_path / "e1.onnx")
    assert code == 0, err
    meta = read_metadata(tmp_path / "e1.onnx")
    assert meta["checkpoint"] == "the EMA weights of epoch 1" and meta["checkpoint_epoch"] == 1
    assert meta["threshold"] == history[0]["val_threshold"] and meta["keyword"] == "yes"
    alone = tmp_path / "snapshots"                                   # without its run: what to do instead
    alone.mkdir()
    shutil.copy(snap, alone / snap.name)
    code, _, err = run("export", alone / snap.name, "--out", tmp_path / "x.onnx")
    assert code == 1 and "an epoch snapshot without its settings" in err and "from inside its run folder" in err


# 4. fewer epochs than the run has: said, and nothing trained


def test_fewer_epochs_than_the_run_has_is_said(data, copy):
    pos, neg, _ = data
    best = read_metadata(copy / "yes.onnx")
    code, out, err = _train(copy, pos, neg, "--epochs", "1")
    assert code == 0, err[-2000:]
    assert f"speechseq: warning: {copy} already has 2 epochs, more than the 1 asked for: nothing to train" in err
    assert "of 1 done" not in err and _epochs(copy) == [1, 2]
    assert read_metadata(copy / "yes.onnx")["checkpoint_epoch"] == best["checkpoint_epoch"]
    assert f"wrote {copy / 'yes.onnx'}" in out


# 5. Ctrl+C and SIGTERM: the finished epochs are kept and said to be; the checkpoints are whole

SCRIPT = r'''
import sys, time, torch
from speechseq.train.loop import LoopConfig, train_loop
torch.manual_seed(0)
x = torch.randn(64, 3); y = x @ torch.tensor([1.0, -2.0, 0.5])
model = torch.nn.Linear(3, 1)
def batches(epoch):
    for idx in torch.randperm(64).split(16):
        time.sleep(0.1)
        yield idx
def loss_fn(m, idx):
    return ((m(x[idx]).squeeze(1) - y[idx]) ** 2).mean(), {}
try:
    train_loop(model, batches, loss_fn, None, sys.argv[1], "toy", {}, LoopConfig(epochs=50, ema_decay=None),
               progress=False)
except KeyboardInterrupt:
    sys.exit(130)
'''


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_keeps_the_last_epoch_and_says_so(tmp_path, sig):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # SIGINT as a terminal gives it: a shell's background job (CI run with &) starts with SIGINT ignored, which
    # Python would keep
    p = subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path)], env=env, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "last.pt").exists():
        time.sleep(0.05)
    time.sleep(0.5)
    p.send_signal(sig)
    err = p.communicate(timeout=60)[1]
    assert p.returncode == 130, err                  # SIGTERM too ends as Ctrl+C does, not silently
    kept = torch.load(tmp_path / "last.pt", weights_only=False)["epoch"]
    assert 1 <= kept < 50 and len(json.loads((tmp_path / "history.json").read_text())) == kept
    assert f"interrupted: epoch {kept} of 50 is kept in {tmp_path / 'last.pt'}; rerun the same command to resume" in err


def test_an_interrupt_while_checkpoints_are_written_waits_for_them():
    """Ctrl+C or SIGTERM inside `held()` (last.pt, best.pt and history.json being written) is raised after it,
    so that they describe the same epoch."""
    from speechseq.train.loop import _Interrupts

    said = []
    with pytest.raises(KeyboardInterrupt):
        with _Interrupts(lambda: said.append(True)) as interrupts:
            with interrupts.held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)
                said.append("written")
    assert said == ["written", True]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL      # the handlers are put back


def test_an_interrupt_held_back_while_writing_reports_the_epoch_written(tmp_path, monkeypatch):
    """SIGTERM as last.pt is written: the run stops after history.json, and says that this epoch is kept."""
    from speechseq.train import loop

    save = loop.save_checkpoint

    def save_then_signal(obj, path):
        save(obj, path)
        if path.name == "last.pt" and obj["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(loop, "save_checkpoint", save_then_signal)
    x = torch.randn(32, 3)
    model = torch.nn.Linear(3, 1)
    said = []
    monkeypatch.setattr(loop.sys, "stderr", type("E", (), {"write": lambda self, t: said.append(t), "flush": lambda self: None})())
    with pytest.raises(KeyboardInterrupt):
        loop.train_loop(model, lambda epoch: [x[:16], x[16:]], lambda m, b: ((m(b) ** 2).mean(), {}), None, tmp_path,
                        "toy", {}, loop.LoopConfig(epochs=5, ema_decay=None), progress=False)
    assert torch.load(tmp_path / "last.pt", weights_only=False)["epoch"] == 2
    assert len(json.loads((tmp_path / "history.json").read_text())) == 2
    assert "interrupted: epoch 2 of 5 is kept" in "".join(said)


def test_a_checkpoint_write_cut_short_leaves_the_previous_one(tmp_path, monkeypatch):
    from speechseq.train.loop import load_checkpoint, save_checkpoint

    save_checkpoint({"epoch": 1}, tmp_path / "last.pt")

    def cut(obj, f):
        Path(f).write_bytes(b"PK\x03\x04 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", cut)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"epoch": 2}, tmp_path / "last.pt")
    assert load_checkpoint(tmp_path / "last.pt") == {"epoch": 1}


# 6. a keyword's characters do not make folders


def test_keyword_with_a_slash_names_one_file(data, tmp_path):
    from speechseq.commands.synth import keyword_file_name

    assert [keyword_file_name(k) for k in ("hey robot", "on/off", "a\\b:c", ".hidden")] == \
        ["hey_robot", "on_off", "a_b_c", "hidden"]
    pos, neg, _ = data
    code, out, err = _train(tmp_path / "run", pos, neg, "--epochs", "1", keyword="on/off")
    assert code == 0, err[-2000:]
    assert (tmp_path / "run" / "on_off.onnx").is_file() and not (tmp_path / "run" / "on").exists()
    assert read_metadata(tmp_path / "run" / "on_off.onnx")["keyword"] == "on/off"


# 7. export: .onnx of any case, required; the recogniser's export and int8 twin without known noise


def test_export_out_suffix(data, tmp_path):
    best = data[2] / "best.pt"
    code, out, _ = run("export", best, "--out", tmp_path / "model.ONNX")
    assert code == 0 and (tmp_path / "model.ONNX").is_file()
    code, _, err = run("export", best, "--out", tmp_path / "noext")
    assert code == 1 and f"--out {tmp_path / 'noext'}: unsupported file type" in err and ".onnx" in err
    assert not (tmp_path / "noext").exists()


def test_recognizer_export_int8_twin_and_quiet(tmp_path):
    from speechseq.nn.recognizer import RecognizerConfig, build_recognizer

    cfg = RecognizerConfig(front_dim=8, hidden=8, layers=1)
    model = build_recognizer(cfg.to_dict())
    torch.save({"kind": "recognizer", "model_config": cfg.to_dict(), "model": model.state_dict(), "epoch": 1,
                "extra": {}}, tmp_path / "rec.pt")
    r = subprocess.run([sys.executable, "-m", "speechseq", "export", str(tmp_path / "rec.pt"), "--out",
                        str(tmp_path / "model.ONNX"), "--int8"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.glob("model*")) == ["model.ONNX", "model.int8.ONNX"]
    assert r.stdout.split() == ["wrote", str(tmp_path / "model.ONNX"), "wrote", str(tmp_path / "model.int8.ONNX")]
    assert "batch_size other than 1" not in r.stderr and "pre-processing" not in r.stderr, r.stderr
    assert read_metadata(tmp_path / "model.int8.ONNX")["quantization"].startswith("int8")


# 8. the mean of the last epochs: the last by number


def test_averaged_checkpoint_takes_the_last_epochs_past_999(tmp_path):
    """Snapshots were taken in name order: epoch_1000.pt sorted before epoch_998.pt, so a run of 1001 epochs
    averaged 998-999 instead of 1000-1001."""
    from speechseq.nn.detector import Detector, DetectorConfig
    from speechseq.train.detector import averaged_checkpoint, snapshot_path

    cfg = DetectorConfig(conv_channels=8, hidden=8, layers=1)
    (tmp_path / "snapshots").mkdir()
    states = {}
    for epoch in (998, 999, 1000, 1001):
        torch.manual_seed(epoch)
        states[epoch] = Detector(cfg).eval().state_dict()
        torch.save({"model": states[epoch], "epoch": epoch}, snapshot_path(tmp_path, epoch))
    torch.save({"kind": "detector", "model": states[1001], "model_config": cfg.to_dict(), "epoch": 1001,
                "extra": {}}, tmp_path / "last.pt")
    ck = averaged_checkpoint(tmp_path, 2)
    assert ck["averaged"] == ["epoch_1000.pt", "epoch_1001.pt"]
    w = "conv.weight"
    torch.testing.assert_close(ck["model"][w], (states[1000][w] + states[1001][w]) / 2)


def test_an_interrupt_that_lands_in_a_finalizer_is_kept_without_a_printed_traceback():
    """Python runs a signal's handler at its next chance, which may be inside a finalizer the garbage collector
    calls (a WeakKeyDictionary's, in matplotlib): its raise is not propagated but printed, "Exception ignored in ...
    Traceback ... KeyboardInterrupt", on a run that then stopped as asked (check() raises it again): a traceback
    the user read as a crash, and the Ctrl+C test of `train recognizer --workers` failed on it (session 48). In a
    process of its own: pytest catches what a finalizer raises itself."""
    import subprocess
    import sys

    code = """
import signal
from speechseq.train.loop import _Interrupts

class Finalized:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)     # the handler runs here, inside the finalizer

class Broken:
    def __del__(self):
        raise ValueError("a finalizer's own error")

try:
    with _Interrupts(lambda: print("on_interrupt")) as interrupts:
        obj = Finalized()
        del obj
        print("pending", interrupts.pending)   # kept,
        obj = Broken()
        del obj                                 # (printed as Python prints it)
        interrupts.check()                      # and raised at the loop's next step
except KeyboardInterrupt:
    print("stopped")
print("handler put back", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=Path(__file__).resolve().parents[1])
    assert r.stdout.split("\n")[:4] == ["pending True", "on_interrupt", "stopped", "handler put back True"], r
    assert "KeyboardInterrupt" not in r.stderr, r.stderr
    assert "a finalizer's own error" in r.stderr and r.stderr.count("Exception ignored") == 1, r.stderr
