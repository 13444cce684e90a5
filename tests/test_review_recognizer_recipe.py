"""Review of the shipped recogniser's recipe (scripts/train_recognizer.py) and of torchrun training
(speechseq.train.ddp): evaluation text never silently trained on, feature folders without stale shards, a
resumed `fit` that goes on with its own run (epochs, model, features), `average` that keeps its inputs and says
what it made, and one-line errors. Tiny random banks and models, a few seconds each."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.frontend import FrontendConfig  # noqa: E402
from speechseq.text import normalize  # noqa: E402
from speechseq.train.featbank import FeatureBank, quantize  # noqa: E402
from tests.script_loader import load_script  # noqa: E402
from tests.test_recognizer_ddp import _free_port  # noqa: E402

TEXTS = ("on", "off", "up", "go", "no", "yes")


def _script():
    return load_script("train_recognizer", "train_recognizer_review")


def _bank(n: int, source: str, seed: int) -> FeatureBank:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(40, 90, n)
    frames = quantize(rng.normal(-6, 2, (int(lengths.sum()), 80)).astype(np.float32))
    return FeatureBank(frames, np.concatenate([[0], np.cumsum(lengths)]), [TEXTS[i % 6] for i in range(n)],
                       [source] * n, FrontendConfig(n_mels=80).to_dict())


def _features(folder: Path, n: int = 6, seed: int = 0) -> Path:
    _bank(n, "kathleen", seed).save(folder / "kathleen_train")
    _bank(2, "kathleen", seed + 1).save(folder / "kathleen_val")
    _bank(1, "noise", seed + 2).save(folder / "noise")
    return folder


def _main(tr, monkeypatch, *argv: str) -> None:
    monkeypatch.setattr(sys, "argv", ["train_recognizer.py", *argv])
    tr.main()


TINY = ("--device", "cpu", "--hidden", "8", "--front-dim", "8", "--layers", "1", "--batch-seconds", "1.5",
        "--workers", "0", "--warmup", "2", "--quiet")


# ---------------------------------------------------------------- prepare

def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for r in rows:
        (path.parent / r["audio_filepath"]).parent.mkdir(parents=True, exist_ok=True)
        (path.parent / r["audio_filepath"]).touch()
    return path


def _prepare_inputs(tmp_path: Path, monkeypatch) -> tuple[Path, Path]:
    from speechseq.train import feataug, featbank

    data = tmp_path / "data"
    _jsonl(data / "kathleen" / "manifest.jsonl",
           [{"audio_filepath": f"audio/arctic_a{i:04d}_1.flac", "duration": 2.0, "text": f"prompt {i}",
             "split": "train"} for i in range(6)])
    _jsonl(data / "fsdd" / "manifest.jsonl",
           [{"audio_filepath": f"recordings/{d}_jackson_{t}.wav", "duration": 0.5, "text": str(d), "split": "train"}
            for d in range(3) for t in range(6, 9)])
    synth = tmp_path / "synth"
    row = lambda i, t, h: {"audio_filepath": f"audio/{'h' if h else 't'}{i}.wav", "duration": 1.5,  # noqa: E731
                           "text": t, "voice": "v", "engine": "espeak-ng", "speed": 1.0, "pitch": 1.0, "heldout": h}
    _jsonl(synth / "train.jsonl", [row(i, f"synthetic sentence number {i}", False) for i in range(8)])
    _jsonl(synth / "heldout.jsonl", [row(0, "the old clock struck nine", True)])

    def featurize(utts, cfg, source, *a, **k):  # 3 frames (0.03 s) each: no audio read
        n = len(utts)
        return featbank.FeatureBank(np.zeros((3 * n, 80), np.uint8), np.arange(n + 1, dtype=np.int64) * 3,
                                    [normalize(u.text) for u in utts], [source] * n, cfg.to_dict())

    monkeypatch.setattr(featbank, "featurize", featurize)
    monkeypatch.setattr(feataug, "colored_noise_features", lambda cfg, extra=(): np.zeros((10, 80), np.float32))
    return data, synth


def test_prepare_refuses_held_out_manifests_that_do_not_exist(tmp_path, monkeypatch):
    """A --heldout-text manifest mistyped (or a --synth folder without its heldout.jsonl) excluded nothing, without
    a word: the held-out sentences were trained on."""
    data, synth = _prepare_inputs(tmp_path, monkeypatch)
    tr = _script()
    args = dict(data=str(data), synth=[str(synth)], synth_hours=10.0, out=str(tmp_path / "f"), shard_hours=None)
    with pytest.raises(SystemExit, match=r"--heldout-text .*helduot\.jsonl: no such file"):
        tr.prepare(Namespace(**args, heldout_text=[str(synth / "helduot.jsonl")]))
    (synth / "heldout.jsonl").unlink()
    with pytest.raises(SystemExit, match=r"heldout\.jsonl: no such file"):
        tr.prepare(Namespace(**args, heldout_text=None))
    assert not (tmp_path / "f").exists()


def test_prepare_again_leaves_no_shard_of_the_earlier_run_for_fit_to_read(tmp_path, monkeypatch):
    data, synth = _prepare_inputs(tmp_path, monkeypatch)
    tr = _script()
    out = tmp_path / "f"
    args = dict(data=str(data), synth=[str(synth)], synth_hours=10.0, out=str(out), heldout_text=None)
    tr.prepare(Namespace(**args, shard_hours=0.07 / 3600))  # 2 utterances a shard
    assert (out / "shard1" / "synth_train.json").exists()
    first, _, _ = tr.load_banks([out])
    tr.prepare(Namespace(**args, shard_hours=None))                  # the same data, unsharded
    again, _, _ = tr.load_banks([out])
    assert len(again) == len(first) and not (out / "shard1" / "synth_train.json").exists()
    tr.prepare(Namespace(**{**args, "synth": None}, shard_hours=None))  # no synthetic data this time
    train, val, _ = tr.load_banks([out])
    assert "synth" not in train.sources and "synth" not in val


# ---------------------------------------------------------------- fit: options, --out, resume

def test_fit_refuses_a_budget_of_no_epochs_or_minutes(tmp_path, monkeypatch, capsys):
    tr = _script()
    feats = _features(tmp_path / "f")
    for bad in (["--epochs", "0"], ["--minutes", "0"], ["--synth-fraction", "0"]):
        with pytest.raises(SystemExit) as e:
            _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(tmp_path / "r"), *TINY, *bad)
        assert e.value.code == 2 and bad[0] in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_fit_checks_out_before_any_work(tmp_path, monkeypatch):
    tr = _script()
    feats = _features(tmp_path / "f")
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(tr, "load_banks", lambda *a, **k: pytest.fail("features read before --out was checked"))
    with pytest.raises(SystemExit, match=r"--out .*file: exists and is not a directory"):
        _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(tmp_path / "file"), *TINY, "--epochs", "1")


def test_fit_resumed_with_minutes_goes_on_with_the_epochs_of_its_run(tmp_path, monkeypatch):
    """An interrupted `fit --minutes` run calibrated again on the rerun (minutes of the budget) and fitted another
    number of epochs: another learning-rate schedule, not the run that was stopped."""
    import speechseq.train.recognizer as rec

    tr = _script()
    feats, out = _features(tmp_path / "f"), tmp_path / "r"
    torch.set_num_threads(1)
    # stand-in for a run of 9 epochs stopped after the second: 2 epochs, then last.pt says 9 were scheduled
    _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(out), *TINY, "--epochs", "2")
    ck = torch.load(out / "last.pt", weights_only=False)
    ck["loop_config"]["epochs"] = 9
    torch.save(ck, out / "last.pt")
    monkeypatch.setattr(rec, "calibrate", lambda *a, **k: pytest.fail("a resumed run calibrated again"))
    seen = {}
    monkeypatch.setattr(rec, "train_recognizer", lambda *a, **k: seen.update(k, loop_cfg=a[4]))
    _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(out), *TINY, "--minutes", "10")
    assert seen["loop_cfg"].epochs == 9


def test_fit_refuses_to_resume_another_model_or_other_features(tmp_path, monkeypatch):
    """Another --hidden was a RuntimeError traceback from load_state_dict after calibration; other features were
    silently trained on from the old run's weights."""
    tr = _script()
    feats, out = _features(tmp_path / "f"), tmp_path / "r"
    torch.set_num_threads(1)
    _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(out), *TINY, "--epochs", "1")
    bigger = [*TINY]
    bigger[bigger.index("--hidden") + 1] = "16"
    with pytest.raises(SystemExit, match=r"was made with --hidden 8, not 16 "):
        _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(out), *bigger, "--epochs", "2")
    other = _features(tmp_path / "g", n=9, seed=5)
    with pytest.raises(SystemExit, match=r"holds a run on other features"):
        _main(tr, monkeypatch, "fit", "--features", str(other), "--out", str(out), *TINY, "--epochs", "2")
    _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(out), *TINY, "--epochs", "2")  # the same: on
    assert len(json.loads((out / "history.json").read_text())) == 2


def test_fit_refuses_an_init_checkpoint_of_another_model_before_calibrating(tmp_path, monkeypatch):
    import speechseq.train.recognizer as rec

    tr = _script()
    feats = _features(tmp_path / "f")
    torch.set_num_threads(1)
    _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(tmp_path / "a"), *TINY, "--epochs", "1")
    monkeypatch.setattr(rec, "calibrate", lambda *a, **k: pytest.fail("calibrated before the --init check"))
    with pytest.raises(SystemExit, match=r"--init .*best\.pt: a model of --layers 1, not 2"):
        _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(tmp_path / "b"), *TINY, "--layers", "2",
              "--init", str(tmp_path / "a" / "best.pt"))


def test_missing_validation_or_noise_features_are_one_line(tmp_path):
    tr = _script()
    feats = _features(tmp_path / "f")
    (feats / "kathleen_val.json").unlink()
    with pytest.raises(SystemExit, match=r"no kathleen_val features in .*prepare"):
        tr.load_banks([feats])


def test_errors_of_the_steps_are_one_line(tmp_path, monkeypatch):
    tr = _script()
    with pytest.raises(SystemExit) as e:
        _main(tr, monkeypatch, "prepare", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "f"))
    assert isinstance(e.value.code, str) and "manifest not found" in e.value.code
    with pytest.raises(SystemExit) as e:
        _main(tr, monkeypatch, "export", "--checkpoint", str(tmp_path / "none.pt"), "--out", str(tmp_path / "x.onnx"))
    assert isinstance(e.value.code, str) and "none.pt" in e.value.code


# ---------------------------------------------------------------- average

def test_average_keeps_its_inputs_and_says_what_it_made(tmp_path, monkeypatch):
    tr = _script()
    feats = _features(tmp_path / "f")
    torch.set_num_threads(1)
    for run in ("a", "b"):
        _main(tr, monkeypatch, "fit", "--features", str(feats), "--out", str(tmp_path / run), *TINY, "--epochs", "1",
              "--lr", "1e-2" if run == "a" else "1e-3")
    a, b = tmp_path / "a" / "best.pt", tmp_path / "b" / "best.pt"
    before = a.read_bytes()
    with pytest.raises(SystemExit, match=r"--out .*best\.pt is one of the --checkpoints"):
        _main(tr, monkeypatch, "average", "--checkpoints", str(a), str(b), "--out", str(a))
    assert a.read_bytes() == before
    _main(tr, monkeypatch, "average", "--checkpoints", str(a), str(b), "--out", str(tmp_path / "mean.pt"))
    training = torch.load(tmp_path / "mean.pt", weights_only=False)["extra"]["training"]
    assert training["averaged_from"] == [str(a), str(b)]
    assert training["command"].startswith("train_recognizer.py average")
    assert [r["command"].split("--out ")[1].split()[0] for r in training["runs"]] == [str(a.parent), str(b.parent)]


# ---------------------------------------------------------------- torchrun

def test_ddp_errors_are_one_line_and_out_is_checked(tmp_path):
    """Rank 0's error (an --out that is a file: not checked at all before) was a traceback on rank 0 and a gloo
    'Connection reset by peer' traceback on rank 1; an error of every rank is said once."""
    sf = pytest.importorskip("soundfile")
    rows = []
    for k in range(6):
        sf.write(tmp_path / f"{k}.wav", 0.3 * np.sin(np.arange(8000) * (0.05 + 0.01 * k)), 16000)
        rows.append({"audio_filepath": f"{k}.wav", "duration": 0.5, "text": TEXTS[k]})
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "file").write_text("x")
    # TMPDIR: torchrun makes a torchelastic_* log folder there and leaves it
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp_path)}

    def run(*argv: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
               "--master-port", str(_free_port()), "-m", "speechseq.train.ddp", "--manifest", str(tmp_path / "m.jsonl"),
               "--val-manifest", str(tmp_path / "m.jsonl"), "--epochs", "1", "--hidden", "8", "--layers", "1",
               "--device", "cpu", "--no-augment", *argv]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)

    p = run("--out", str(tmp_path / "file"))
    assert p.returncode != 0
    assert p.stderr.count(f"speechseq: error: --out {tmp_path / 'file'}: exists and is not a directory") == 1
    assert "[rank0]: Traceback" not in p.stderr and "[rank1]: Traceback" not in p.stderr, p.stderr[-3000:]
    # 3 s of audio: one batch of 160 s an epoch, for two processes. Each rank's share was none: every epoch trained
    # nothing, was validated and checkpointed, and the run ended with exit status 0. Now an error of every rank.
    p = run("--out", str(tmp_path / "r"))
    assert p.returncode != 0 and not (tmp_path / "r" / "last.pt").exists()
    assert p.stderr.count("speechseq: error: an epoch makes 1 batch of --batch-seconds 160, fewer than the 2 "
                          "processes") == 1, p.stderr[-3000:]
    assert "[rank0]: Traceback" not in p.stderr and "[rank1]: Traceback" not in p.stderr, p.stderr[-3000:]


def test_fit_a_feature_folder_that_is_not_there_is_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    """A mistyped --features folder beside a real one was passed over without a word: the run trained on less data.
    It is one line naming the folder, before --out is made or any feature is read. NAME.shardK, as the recogniser
    card's stage 3-6 commands pass it (no step makes such a folder), is accepted where NAME/shardK is there: fit
    reads that with NAME, so the same bank is trained on as from NAME alone."""
    tr = _script()
    feats = _features(tmp_path / "f")
    for k in (1, 2):
        _bank(3, "synth", 10 + k).save(feats / f"shard{k}" / "synth_train")
    _bank(2, "synth", 20).save(feats / "synth_val")
    empty = tmp_path / "empty"
    empty.mkdir()
    real_load = tr.load_banks
    monkeypatch.setattr(tr, "load_banks", lambda *a, **k: pytest.fail("features read before they were checked"))
    for bad, why in ((tmp_path / "fetaures", "no such folder"), (Path(f"{feats}.shard3"), "no such folder"),
                     (feats / "kathleen_train.json", "not a folder"), (empty, "no feature bank")):
        with pytest.raises(SystemExit) as e:
            _main(tr, monkeypatch, "fit", "--features", str(feats), str(bad), "--out", str(tmp_path / "r"), *TINY,
                  "--epochs", "1")
        assert isinstance(e.value.code, str) and "\n" not in e.value.code, e.value.code
        assert e.value.code.startswith(f"--features {bad}: {why}"), e.value.code
        assert not (tmp_path / "r").exists()
    with pytest.raises(SystemExit, match=r"--features .*fetaures: no such folder"):  # average's --features too
        real_load([feats, tmp_path / "fetaures"])
    # the card's form: the same utterances as from the folder alone
    alone, _, _ = real_load([feats])
    capsys.readouterr()
    carded, val, _ = real_load([feats, Path(f"{feats}.shard1"), Path(f"{feats}.shard2")])
    assert len(alone) == len(carded) == 6 + 2 * 3 and carded.sources.count("synth") == 6
    assert f"--features {feats}.shard2: not there; {feats / 'shard2'} is read with {feats}" in capsys.readouterr().err
    assert sorted(val) == ["kathleen", "synth"]
