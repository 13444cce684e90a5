"""The shared training loop: it learns, keeps the best checkpoint, and resumes where it stopped."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from speechseq.train.loop import LoopConfig, load_checkpoint, train_loop  # noqa: E402

SCRIPT = r'''
import sys, time, torch
from speechseq.train.loop import LoopConfig, train_loop
torch.manual_seed(0)
x = torch.randn(64, 3); y = x @ torch.tensor([1.0, -2.0, 0.5])
model = torch.nn.Linear(3, 1)
slow = float(sys.argv[2])
def batches(epoch):
    g = torch.Generator().manual_seed(epoch)
    for idx in torch.randperm(64, generator=g).split(16):
        time.sleep(slow)
        yield idx
def loss_fn(m, idx):
    return ((m(x[idx]).squeeze(1) - y[idx]) ** 2).mean(), {}
def validate(m):
    return {"mse": float(((m(x).squeeze(1) - y) ** 2).mean())}
train_loop(model, batches, loss_fn, validate, sys.argv[1], "toy", {"n": 3},
           LoopConfig(epochs=int(sys.argv[3]), lr=0.2, ema_decay=None), select="mse", mode="min", progress=False)
'''


def _run(out: Path, slow: float, epochs: int, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(out), str(slow), str(epochs)], env=env,
                            stderr=subprocess.PIPE, text=True, **kw)


def test_loop_learns_and_keeps_best(tmp_path):
    p = _run(tmp_path, 0.0, 8)
    assert p.wait(timeout=120) == 0, p.stderr.read()
    hist = json.loads((tmp_path / "history.json").read_text())
    assert len(hist) == 8
    assert hist[-1]["mse"] < 0.2 * hist[0]["mse"]
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"]["score"] == pytest.approx(min(h["mse"] for h in hist))
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_killed_run_resumes_from_last_checkpoint(tmp_path):
    p = _run(tmp_path, 0.15, 6)
    deadline = time.time() + 60
    while time.time() < deadline and not (tmp_path / "last.pt").exists():
        time.sleep(0.05)
    time.sleep(0.9)  # somewhere inside a later epoch
    p.send_signal(signal.SIGKILL)
    p.wait()
    kept = load_checkpoint(tmp_path / "last.pt")
    done = kept["epoch"]
    assert 1 <= done < 6 and len(kept["history"]) == done
    # history.json follows last.pt: a kill between the two writes (where the sleep above can end on a busy machine)
    # leaves it an epoch behind, and the resume goes on from last.pt's own history
    before = json.loads((tmp_path / "history.json").read_text())
    assert before == kept["history"][: len(before)] and len(before) >= done - 1
    p2 = _run(tmp_path, 0.0, 6)
    assert p2.wait(timeout=120) == 0
    err = p2.stderr.read()
    assert "resuming from" in err and f"epoch {done} of 6 done" in err
    after = json.loads((tmp_path / "history.json").read_text())
    assert len(after) == 6
    assert after[:done] == kept["history"]  # finished epochs are kept, not redone


def test_a_resumed_run_with_dropout_ends_as_one_never_stopped(tmp_path):
    """The random state (dropout's) is kept with the checkpoint: 1 epoch, then a resume to 3, gives the weights of
    3 epochs in one go, exactly."""
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    y = x @ torch.tensor([1.0, -2.0, 0.5])

    def run(out: Path, epochs: int) -> dict:
        torch.manual_seed(1)
        model = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Dropout(0.5), torch.nn.Linear(16, 1))

        def batches(epoch):
            return torch.randperm(64, generator=torch.Generator().manual_seed(epoch)).split(16)

        def loss_fn(m, idx):
            return ((m(x[idx]).squeeze(1) - y[idx]) ** 2).mean(), {}
        train_loop(model, batches, loss_fn, None, out, "toy", {}, LoopConfig(epochs=epochs, lr=0.05, ema_decay=None),
                   progress=False)
        return model.state_dict()

    straight = run(tmp_path / "a", 3)
    run(tmp_path / "b", 1)
    resumed = run(tmp_path / "b", 3)
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_wrong_kind_refuses_to_resume(tmp_path):
    model = torch.nn.Linear(2, 1)
    args = (lambda e: [0], lambda m, b: (m(torch.ones(1, 2)).sum() ** 2, {}), None, tmp_path)
    train_loop(model, *args, "a", {}, LoopConfig(epochs=1), progress=False)
    with pytest.raises(ValueError, match="not 'b'"):
        train_loop(model, *args, "b", {}, LoopConfig(epochs=1), progress=False)


def test_average_states_is_the_elementwise_mean_and_keeps_counters():
    from speechseq.train.loop import average_states

    a = {"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([3.0, -2.0]), "n": torch.tensor(7)}
    c = {"w": torch.tensor([2.0, 3.0]), "n": torch.tensor(9)}
    avg = average_states([a, b, c])
    assert avg["w"].tolist() == [2.0, 1.0] and avg["w"].dtype == torch.float32
    assert int(avg["n"]) == 3                      # counters are not averaged
    with pytest.raises(ValueError, match="does not match"):
        average_states([a, {"w": torch.zeros(3), "n": torch.tensor(1)}])
    with pytest.raises(ValueError, match="nothing"):
        average_states([])


def test_train_recognizer_average_writes_a_loadable_mean(tmp_path):
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.train.loop import save_checkpoint
    from speechseq.train.recognizer import load_recognizer_checkpoint

    cfg = RecognizerConfig(n_mels=16, front="stack", stride=2, hidden=8, layers=1, dropout=0.0)
    paths, states = [], []
    for seed in (0, 1):
        torch.manual_seed(seed)
        m = Recognizer(cfg)
        states.append(m.state_dict())
        paths.append(tmp_path / f"r{seed}.pt")
        save_checkpoint({"kind": "recognizer", "model_config": cfg.to_dict(), "model": m.state_dict(),
                         "epoch": 3 + seed}, paths[-1])
    out = tmp_path / "mean.pt"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, str(root / "scripts/train_recognizer.py"), "average", "--checkpoints",
                           *map(str, paths), "--out", str(out)], capture_output=True, text=True, cwd=root)
    assert proc.returncode == 0, proc.stderr
    model, ck = load_recognizer_checkpoint(out)
    for k, v in model.state_dict().items():
        assert torch.allclose(v, (states[0][k] + states[1][k]) / 2, atol=1e-7), k
    assert ck["averaged_from"] == [str(p) for p in paths] and ck["epoch"] == 4


def _scored_run(out: Path, scores: list[float], mode: str = "min", epochs: int | None = None,
                ema_decay: float | None = None) -> torch.nn.Module:
    """A toy run whose validation gives `scores`, one per epoch."""
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    model = torch.nn.Linear(3, 1)
    it = iter(scores)
    train_loop(model, lambda e: [x[:16], x[16:]], lambda m, b: ((m(b) ** 2).mean(), {}), lambda m: {"s": next(it)},
               out, "toy", {}, LoopConfig(epochs=epochs or len(scores), ema_decay=ema_decay), select="s", mode=mode,
               progress=False)
    return model


@pytest.mark.parametrize("mode, scores, best_epoch", [("min", [float("nan"), 0.5, 0.3, float("nan")], 3),
                                                      ("max", [float("nan"), 0.5, 0.7, 0.7], 3),
                                                      ("min", [0.4, float("nan"), 0.4, 0.6], 1)])
def test_a_nan_metric_never_holds_the_best_against_a_number(tmp_path, mode, scores, best_epoch):
    """A NaN validation (a diverged or empty epoch) ranks below every number: it neither stays best.pt once an epoch
    scores, nor replaces one that did; ties keep the earlier epoch."""
    _scored_run(tmp_path, scores, mode)
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["best"]["epoch"] == best_epoch == best["epoch"]
    assert best["best"]["score"] == scores[best_epoch - 1]


def test_a_nan_metric_in_every_epoch_still_leaves_a_best_checkpoint(tmp_path):
    _scored_run(tmp_path, [float("nan")] * 2)
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 1


def test_ema_turned_on_at_a_resume_starts_from_the_resumed_weights(tmp_path):
    """A run kept without weight averaging, resumed with it: the average starts from the weights trained so far, not
    from the fresh model the rerun built."""
    torch.manual_seed(0)
    _scored_run(tmp_path, [1.0, 1.0])
    trained = load_checkpoint(tmp_path / "last.pt")["model"]
    torch.manual_seed(1)
    fresh = torch.nn.Linear(3, 1)
    train_loop(fresh, lambda e: [], lambda m, b: None, None, tmp_path, "toy", {}, LoopConfig(epochs=3, ema_decay=0.5),
               progress=False)  # an epoch with no batch: the average is what the resume started it from
    ema = load_checkpoint(tmp_path / "last.pt")["ema"]
    assert all(torch.equal(ema[k], trained[k]) for k in trained)


def test_the_curve_plots_metrics_that_the_first_epoch_lacks(tmp_path, monkeypatch):
    import matplotlib.axes

    from speechseq.train.loop import plot_history

    labels = []
    plot = matplotlib.axes.Axes.plot
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", lambda self, *a, **kw: (labels.append(kw.get("label")),
                                                                              plot(self, *a, **kw))[1])
    history = [{"epoch": 1, "step": 0, "seconds": 0.1, "val_wer": 0.9},   # every batch of epoch 1 skipped
               {"epoch": 2, "step": 4, "seconds": 0.1, "train_loss": 2.0, "val_wer": 0.8, "real_frr": 0.5}]
    plot_history(history, tmp_path / "curve.png", "val_wer")
    assert sorted(labels) == ["real_frr", "train_loss", "val_wer (selects)"]
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_skipped_batches_are_counted_and_said(tmp_path, capsys):
    """A batch with a non-finite gradient is skipped (the weights kept); the epoch's record and line say how many."""
    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    model = torch.nn.Linear(3, 1)

    def loss_fn(m, b):
        loss = (m(b) ** 2).mean()
        return (loss * float("nan") if b is bad else loss), {}

    bad = x[16:]
    history = train_loop(model, lambda e: [x[:16], bad, x[:8]], loss_fn, lambda m: {"s": 1.0}, tmp_path, "toy", {},
                         LoopConfig(epochs=1, ema_decay=None), select="s", progress=False)
    assert history[0]["skipped_batches"] == 1 and history[0]["step"] == 2
    assert "[1 of 3 batches skipped: non-finite gradient]" in capsys.readouterr().err


def test_a_select_metric_nobody_gives_is_said_once(tmp_path):
    """validate_fn without the `select` key: best.pt cannot be chosen, and a warning says so (it was silent)."""
    x = torch.randn(8, 3)
    with pytest.warns(UserWarning, match="no metric 'wer'.*best.pt is not written.*cer") as got:
        train_loop(torch.nn.Linear(3, 1), lambda e: [x], lambda m, b: ((m(b) ** 2).mean(), {}),
                   lambda m: {"cer": 0.5}, tmp_path, "toy", {}, LoopConfig(epochs=2, ema_decay=None), select="wer",
                   progress=False)
    assert sum("no metric" in str(w.message) for w in got) == 1
    assert (tmp_path / "last.pt").is_file() and not (tmp_path / "best.pt").exists()


def test_a_checkpoint_that_cannot_be_written_is_one_line_and_leaves_no_tmp(tmp_path, monkeypatch):
    """A full disk: torch.save raised "[enforce fail at inline_container.cc:672] unexpected pos ..." as a
    traceback and left last.pt.tmp behind; the checkpoint written before stays."""
    from speechseq.errors import SpeechseqError
    from speechseq.train.loop import save_checkpoint

    save_checkpoint({"epoch": 1}, tmp_path / "last.pt")

    def full(obj, f):
        Path(f).write_bytes(b"PK\x03\x04 half")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(SpeechseqError, match=r"last.pt: cannot write the checkpoint .*disk full"):
        save_checkpoint({"epoch": 2}, tmp_path / "last.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1


@contextlib.contextmanager
def _files_up_to(size: int):
    """Writes past `size` bytes refused (EFBIG, as a full disk's ENOSPC: both reach torch as a failed write)."""
    import resource

    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)


def test_a_checkpoint_the_system_refuses_says_why_and_whether_one_is_kept(tmp_path):
    """The first checkpoint a full disk refused said "([enforce fail at inline_container.cc:672] . unexpected pos
    ...); is the disk full? The last one written is kept", though none was ever written: it gives the system's
    reason now, and says that one is kept only where one is."""
    from speechseq.errors import SpeechseqError
    from speechseq.train.loop import save_checkpoint

    big = {"w": torch.zeros(4096)}
    with _files_up_to(4096):
        with pytest.raises(SpeechseqError) as first:
            save_checkpoint(big, tmp_path / "best.pt")
        save_checkpoint({"epoch": 1}, tmp_path / "last.pt")  # a small one fits
        with pytest.raises(SpeechseqError) as later:
            save_checkpoint(big, tmp_path / "last.pt")
    assert str(first.value) == f"{tmp_path / 'best.pt'}: cannot write the checkpoint (File too large); none was " \
                               "written before"
    assert str(later.value) == f"{tmp_path / 'last.pt'}: cannot write the checkpoint (File too large); the last " \
                               "one written is kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"] and load_checkpoint(tmp_path / "last.pt") == {
        "epoch": 1}
    (tmp_path / "closed").mkdir()
    with pytest.raises(SpeechseqError) as gone:  # the folder removed under the run
        save_checkpoint(big, tmp_path / "closed" / "gone" / "last.pt")
    assert str(gone.value).endswith("last.pt: cannot write the checkpoint (No such file or directory); none was "
                                    "written before")


def test_more_epochs_on_a_finished_run_stretch_the_rate_decay(tmp_path):
    """What the train commands' --help and README say of a rerun with a raised --epochs: the cosine decay runs over
    the new total, so the rate jumps from its floor back to about half the peak (twice the epochs) and decays again."""
    import math

    from torch.optim.optimizer import register_optimizer_step_pre_hook

    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    rates = []
    hook = register_optimizer_step_pre_hook(
        lambda opt, args, kwargs: rates.append(opt.param_groups[0]["lr"]))
    try:
        for epochs in (2, 4):  # 10 steps an epoch: a finished run of 2, rerun with --epochs 4
            train_loop(torch.nn.Linear(3, 1), lambda e: x.split(4), lambda m, b: ((m(b) ** 2).mean(), {}), None,
                       tmp_path, "toy", {}, LoopConfig(epochs=epochs, lr=1.0, ema_decay=None), progress=False)
    finally:
        hook.remove()
    assert len(rates) == 40
    floor = LoopConfig().lr_min_ratio
    assert rates[19] == pytest.approx(floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * 19 / 20)))  # 0.056
    assert rates[20] == pytest.approx(floor + (1 - floor) * 0.5) == 0.525  # half way down the longer decay
    assert rates[39] == pytest.approx(floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * 39 / 40)))


def _ddp_run(out: Path, epochs: int, wrap: bool) -> dict:
    """A toy run of `epochs`, the model in DistributedDataParallel (one gloo process, as `torchrun
    --nproc-per-node 1` runs it) or not; last.pt as it is left."""
    import tempfile

    import torch.distributed as dist

    x = torch.randn(32, 3, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    if wrap:
        store = tempfile.NamedTemporaryFile(delete=False)
        dist.init_process_group("gloo", init_method=f"file://{store.name}", rank=0, world_size=1)
        model = torch.nn.parallel.DistributedDataParallel(model)
    try:
        train_loop(model, lambda e: [x[:16], x[16:]], lambda m, b: ((m(b) ** 2).mean(), {}), lambda m: {"s": 1.0},
                   out, "toy", {}, LoopConfig(epochs=epochs, ema_decay=0.5), select="s", progress=False)
    finally:
        if wrap:
            dist.destroy_process_group()
            os.unlink(store.name)
    return load_checkpoint(out / "last.pt")


@pytest.mark.parametrize("first, then", [(True, False), (False, True)])
def test_a_run_begun_under_torchrun_resumes_in_one_process_and_the_reverse(tmp_path, first, then):
    """DistributedDataParallel keeps its weights as 'module.<name>': a run begun under torchrun and rerun as the
    plain command (or the reverse) stopped on load_state_dict's missing and unexpected keys, a traceback."""
    kept = _ddp_run(tmp_path, 1, first)
    resumed = _ddp_run(tmp_path, 2, then)
    assert resumed["epoch"] == 2 and resumed["step"] == 4 and len(resumed["history"]) == 2
    straight = _ddp_run(tmp_path / "straight", 2, False)
    plain = {k.removeprefix("module."): v for k, v in resumed["model"].items()}
    assert plain.keys() == straight["model"].keys() and kept["epoch"] == 1
    assert all(torch.allclose(plain[k], straight["model"][k]) for k in plain)


def test_history_and_curve_left_behind_by_a_kill_are_made_whole_by_the_rerun(tmp_path):
    """A kill between last.pt and history.json of the last epoch left history.json (and curve.png) an epoch short;
    the rerun, with nothing left to train, kept them so: the history and curve lacked the last epoch for good."""
    _scored_run(tmp_path, [0.5, 0.4])
    history = json.loads((tmp_path / "history.json").read_text())
    (tmp_path / "history.json").write_text(json.dumps(history[:1], indent=1))  # as the kill left it
    (tmp_path / "curve.png").unlink()
    _scored_run(tmp_path, [], epochs=2)
    assert json.loads((tmp_path / "history.json").read_text()) == history
    assert (tmp_path / "curve.png").stat().st_size > 1000


def test_a_ctrl_c_whose_raise_a_finalizer_swallowed_still_stops_the_run(tmp_path, capsys):
    """Python runs a signal's handler at its next chance, which may be inside a finalizer the garbage collector calls
    (a WeakKeyDictionary's, in matplotlib's curve drawing): the KeyboardInterrupt raised there is printed as
    "Exception ignored" and dropped, and a Ctrl+C to a recogniser run was lost, the run going on (1 of 5 tries under
    load, tests/test_train_resume_lm_rec.py). The handler keeps the interrupt, and the loop stops at its next step."""
    import weakref

    x = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    steps = []

    class Garbage:
        pass

    def loss_fn(m, b):
        steps.append(len(steps))
        if len(steps) == 3:   # the signal's handler run inside a finalizer, as the collector runs them
            g = Garbage()
            weakref.finalize(g, signal.raise_signal, signal.SIGINT)
            del g
        return (m(b) ** 2).mean(), {}

    # Ctrl+C as a terminal's: its handler is Python's own here, whatever an earlier test left (a process that ignores
    # SIGINT, as under nohup, keeps ignoring it in training, and then nothing is raised)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            train_loop(torch.nn.Linear(3, 1), lambda e: x.split(4), loss_fn, None, tmp_path, "toy", {},
                       LoopConfig(epochs=3, lr=0.1, ema_decay=None), progress=False)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert len(steps) <= 4, len(steps)    # stopped at the next step, not after the 30 of three epochs
    assert "interrupted before the first epoch ended" in capsys.readouterr().err
