"""Data-parallel training through torchrun: two CPU processes (gloo) share each epoch's batches."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")

from speechseq.train.synth import Voice, synthesize  # noqa: E402

TEXTS = ("yes", "no", "stop", "go", "left", "right", "up", "down")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_and_checkpoint(tmp_path):
    rows = []
    for k, text in enumerate(TEXTS * 2):
        audio = synthesize(text, Voice("espeak-ng", "en-us" if k < len(TEXTS) else "en-gb"))
        sf.write(tmp_path / f"{k}.wav", audio, 16000)
        rows.append({"audio_filepath": f"{k}.wav", "duration": len(audio) / 16000, "text": text})
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    # TMPDIR: torchrun makes a torchelastic_* log folder there and leaves it
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), "-m", "speechseq.train.ddp", "--manifest", str(tmp_path / "m.jsonl"),
           "--val-manifest", str(tmp_path / "m.jsonl"), "--out", str(out), "--epochs", "2", "--hidden", "16",
           "--layers", "1", "--batch-seconds", "2.0", "--no-augment", "--device", "cpu"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]
    hist = json.loads((out / "history.json").read_text())
    assert len(hist) == 2 and all("val_wer" in h for h in hist)
    # Each rank ran half of the epoch's batches: the optimizer stepped n_batches // 2 times per epoch.
    from speechseq.train.featbank import FeatureBank
    from speechseq.train.recognizer import TrainOptions, _plan

    bank = FeatureBank.load(out / "features" / "m0")
    _, batches = _plan(bank, 0, TrainOptions(batch_seconds=2.0), 0, 1, False)
    assert len(batches) >= 4
    assert hist[0]["step"] == len(batches) // 2
    ck = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    assert ck["epoch"] == 2 and any(k.startswith("module.") for k in ck["model"])
    from speechseq.train.recognizer import load_recognizer_checkpoint

    model, _ = load_recognizer_checkpoint(out / "best.pt")
    lp, _ = model(torch.zeros(1, 50, 80))
    assert np.isfinite(lp.detach().numpy()).all()
