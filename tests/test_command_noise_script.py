"""scripts/command_noise.py, the README's count of commands taken from noise: its two sets are the kinds it says, the
same files on every run (a rerun reads the figures of the same noise), and a bad argument is one line."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.script_loader import ROOT, load_script

cn = load_script("command_noise")


def test_the_held_out_set_is_its_kinds_at_two_peaks_steady_and_in_bursts_the_same_each_run():
    a, b = cn.held_out_noise(None), cn.held_out_noise(None)
    kinds = ("hum50", "hum60", "beeps", "clicks", "chords", "fan")
    assert sorted(a) == sorted(f"{how}_{k}_{p}" for k in kinds for p in (0.03, 0.3) for how in ("steady", "bursts"))
    for name, x in a.items():
        assert x.shape == (cn.FILE_S * cn.SR,) and np.array_equal(x, b[name])
        peak = float(name.rsplit("_", 1)[1])
        low = 0.95 if name.startswith("steady") else 0.5   # (bursts are pieces of it: its peak may fall between them)
        assert peak * low <= np.abs(x).max() <= peak + 0.01, name   # the source at its peak over a -60 dBFS floor
    # bursts leave the floor between them: a quarter or more of the file is no louder than the floor
    quiet = np.abs(a["bursts_hum50_0.3"]) < 5 * cn.FLOOR
    assert quiet.mean() > 0.25 and np.abs(a["steady_hum50_0.3"]).min() < 5 * cn.FLOOR < np.abs(a["steady_hum50_0.3"]).max()


def test_the_tuning_set_holds_coloured_noise_and_bursts_of_each_real_recording(tmp_path):
    real = tmp_path / "room.wav"
    sf.write(real, (0.2 * np.sin(np.arange(16000) / 5)).astype(np.float32), 16000)   # 1 s, repeated to 30 s
    noise = cn.tuning_noise([real])
    generated = [n for n in noise if "real" not in n]
    assert len(generated) == 3 * (5 + 5 + 4)
    assert sorted(n for n in noise if "real" in n) == ["bursts_real0_room", "bursts_real0_room_+10dB"]
    std = np.std(noise["steady_white_0.1"])
    assert 0.099 < std < 0.101
    assert np.abs(noise["onset_pink_0.3"][:16000]).max() < 10 * cn.FLOOR < np.abs(noise["onset_pink_0.3"][16000:]).max()


def test_make_set_writes_each_file_an_index_and_the_listen_recording(tmp_path):
    noise = {"a": np.full(cn.FILE_S * cn.SR, 0.01), "b": np.zeros(cn.FILE_S * cn.SR)}
    cn.make_set(tmp_path, noise)
    index = json.loads((tmp_path / "index.json").read_text())
    assert index == {"files": ["a", "b"], "wakes": 4}
    x, sr = sf.read(tmp_path / "listen.wav")
    assert sr == 16000 and len(x) == round(4 * (cn.WAKE_S + cn.NOISE_S + cn.QUIET_S) * sr)
    assert sf.info(tmp_path / "a.wav").duration == cn.FILE_S


@pytest.mark.parametrize("args", [["--real", "no-such.wav"], ["--babble", "no-such.jsonl"], ["--sets", "other"]])
def test_a_bad_argument_is_a_usage_error(args, tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "command_noise.py"), "--out", str(tmp_path), *args],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "usage:" in done.stderr
    assert not any(tmp_path.iterdir())
