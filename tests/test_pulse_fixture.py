"""The private PulseAudio server of the tests (tests/pulse.py) keeps its state in its own folder."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.skipif(shutil.which("pulseaudio") is None, reason="PulseAudio not installed (scripts/install-system.sh)")
def test_pulse_tests_leave_nothing_in_home_or_tmp(tmp_path):
    """A run of the PulseAudio tests wrote ~/.config/pulse/cookie and a ~/.config/pulse/<machine-id>-runtime link
    to a /tmp/pulse-XXXX folder (the daemon, pactl, and the test process's own PortAudio as sounddevice was
    imported), all left after the run. A run in a fresh HOME and TMPDIR leaves nothing in either."""
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_") and k != "XDG_RUNTIME_DIR"}
    env.update(HOME=str(home), TMPDIR=str(tmp), OMP_NUM_THREADS="1")
    tests = ["tests/test_sources.py::test_microphone_records_what_is_played",
             "tests/test_sources.py::test_vanished_device_raises_device_lost"]   # a server killed under its client
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    if "2 passed" not in r.stdout:
        pytest.skip(f"the PulseAudio tests did not run here: {r.stdout.strip().splitlines()[-1]}")
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
    assert sorted(p.name for p in tmp.iterdir() if not p.name.startswith("pytest-of-")) == []


@pytest.mark.parametrize("how", [["--collect-only"], ["-k", "no_test_has_this_name"]])
def test_a_run_that_runs_no_test_leaves_no_folders(tmp_path, how):
    """The run's folders (graph cache, PulseAudio paths) were removed by a session fixture, which a run that
    collects only, or deselects every test, never sets up: both folders were left in TMPDIR."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *how, "tests/test_level.py"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 5), r.stdout[-3000:] + r.stderr[-3000:]      # 5: no test ran
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("pytest-of-")) == []
