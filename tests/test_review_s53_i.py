"""Session 53, helper i. `speechseq train recognizer` warns at the end of a run that may be undertrained (its best
validation WER over 50 % and still improving), with the command that trains it on (speechseq/commands/undertrained.py);
its torchrun form, `torchrun --nproc-per-node N -m speechseq.train.ddp ...`, did not: it does not end through
train_recognizer.run(). It now says the same warning, once (rank 0), naming the torchrun command that resumes it with
the same number of processes (another is refused) and five times the epochs."""
from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys

import pytest

from .tones import tone_manifest

torch = pytest.importorskip("torch")
sf = pytest.importorskip("soundfile")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(words: list[str], tmp_path) -> subprocess.CompletedProcess:
    """`torchrun WORDS...` as this interpreter's torch.distributed.run, on a free local port (not torchrun's
    default 29500, which a test beside this one may hold)."""
    assert words[0] == "torchrun", words
    # TMPDIR: torchrun makes a torchelastic_* log folder there and leaves it
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path), "TMPDIR": str(tmp_path)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--master-addr", "127.0.0.1",
           "--master-port", str(_free_port()), *words[1:]]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)


def _undertrained_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if "may be undertrained" in line]


def test_a_torchrun_run_at_a_high_wer_says_so_once_with_the_torchrun_command_that_trains_it_on(tmp_path):
    # 16 half-second tones named yes/no/stop/go (2 batches a process): 2 epochs of a tiny model leave the WER at 100 %,
    # the training loss falling
    tone_manifest(tmp_path, 4)
    out = tmp_path / "run"
    options = ["--manifest", str(tmp_path / "m.jsonl"), "--val-manifest", str(tmp_path / "m.jsonl"), "--out", str(out),
               "--epochs", "2", "--hidden", "16", "--layers", "1", "--batch-seconds", "2.0", "--no-augment"]
    p = _torchrun(["torchrun", "--nproc-per-node", "2", "-m", "speechseq.train.ddp", *options], tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    lines = _undertrained_lines(p.stderr)
    assert len(lines) == 1, p.stderr[-3000:]   # rank 0's alone
    line = lines[0]
    hist = json.loads((out / "history.json").read_text())
    assert len(hist) == 2 and hist[-1]["step"] == 2 * hist[0]["step"]
    assert line.startswith(f"speechseq: warning: {out} may be undertrained: its best validation WER is 100.0% "
                           f"(epoch 1 of 2), and its training loss was still falling at the end, after "
                           f"{hist[-1]['step']} updates; to train it on: torchrun "), line
    command = line.split("to train it on: ", 1)[1].split(" (resumes from", 1)[0]
    words = shlex.split(command)
    assert words[:5] == ["torchrun", "--nproc-per-node", "2", "-m", "speechseq.train.ddp"], command
    assert words[words.index("--epochs") + 1] == "10" and f"resumes from {out / 'last.pt'}" in line
    # the options said are the run's, --epochs aside
    from speechseq.commands.train_recognizer import add_arguments
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert vars(parser.parse_args(words[5:])) == {**vars(parser.parse_args(options)), "epochs": 10}

    p2 = _torchrun(words, tmp_path)   # the command said resumes the run, with the processes it began with
    assert p2.returncode == 0, p2.stderr[-3000:]
    assert f"resuming from {out / 'last.pt'}: epoch 2 of 10 done" in p2.stderr, p2.stderr[-3000:]
    hist2 = json.loads((out / "history.json").read_text())
    assert len(hist2) == 10 and hist2[:2] == hist and hist2[-1]["step"] == 10 * hist[0]["step"]


def test_the_torchrun_words_name_the_processes_of_the_run():
    from speechseq.train.ddp import _program

    assert _program(2, 2) == ["torchrun", "--nproc-per-node", "2", "-m", "speechseq.train.ddp"]
    # several nodes: as many nodes, of as many processes each
    assert _program(8, 4) == ["torchrun", "--nnodes", "2", "--nproc-per-node", "4", "-m", "speechseq.train.ddp"]
