"""Review of session 52's commits (helper d). scripts/command_noise.py: (1) a command taken in `listen` was said to
follow the noise of another file: listen.wav holds the files in the order they were made, index.json named them
sorted (session 52's two, said to follow "steady clicks at 0.3" and "a steady 50 Hz hum at 0.3", followed bursts
of 4- and 8-voice babble at 0.03); (2) a relative --out run from another folder than the repository's made the set
there, then had `speechseq` look for it in the repository ("no such file")."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

from tests.script_loader import ROOT, load_script

cn = load_script("command_noise")
COMMANDS = ROOT / "data" / "commands" / "home.txt"


def _said_set(folder) -> None:
    """A set of two files, made in an order that is not their names' sorted one: "z_said", the sample's words after
    its keyword ("turn on the kitchen lights"), then "a_floor", the floor alone (4 s each: listen.wav's windows
    are these files whole)."""
    n = int(cn.NOISE_S * cn.SR) + 1
    said = sf.read(cn.SAMPLE, dtype="float64")[0][int(cn.WAKE_S * cn.SR):]
    z = np.zeros(n)
    z[: min(n, len(said))] = said[:n]
    floor = [cn._floor(np.random.default_rng(seed), n) for seed in (1, 2)]
    cn.make_set(folder, {"z_said": z + floor[0], "a_floor": floor[1]})


def test_the_index_names_the_file_each_wake_of_listen_wav_is_followed_by(tmp_path):
    _said_set(tmp_path)
    files = json.loads((tmp_path / "index.json").read_text())["files"]
    x, _ = sf.read(tmp_path / "listen.wav", dtype="float32")
    episode = int(round((cn.WAKE_S + cn.NOISE_S + cn.QUIET_S) * cn.SR))
    for k in range(4):   # two wakes per file: the noise after wake k is from files[k // 2]
        noise = x[k * episode + int(cn.WAKE_S * cn.SR):][: int(cn.NOISE_S * cn.SR)]
        assert np.array_equal(noise, sf.read(tmp_path / f"{files[k // 2]}.wav", dtype="float32")[0][: len(noise)]), k


def test_a_command_taken_in_listen_is_said_after_the_file_it_followed(tmp_path):
    _said_set(tmp_path)
    taken, counts = cn.count(tmp_path, COMMANDS, "energy")
    in_listen = [(where, phrase) for where, phrase, _ in taken if where.startswith("listen")]
    assert counts["wakes"] == 4 and counts["listen"] == 2
    assert in_listen == [("listen after z_said", "turn on the kitchen lights")] * 2


def test_a_relative_out_is_read_back_from_where_it_was_made(tmp_path):
    _said_set(tmp_path / "rel" / "held-out")   # made: the run reads it back, as a rerun does
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "command_noise.py"), "--out", "rel", "--sets",
                           "held-out", "--vad", "energy"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    row = [line.split() for line in done.stdout.splitlines() if line.startswith("held-out")]
    assert len(row) == 1 and row[0][:4] == ["held-out", "energy", "2", "1.0"] and row[0][5:] == ["2", "/", "4"]
    assert "listen after z_said: 'turn on the kitchen lights'" in done.stdout
