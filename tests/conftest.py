"""Shared fixtures. Paths are absolute (never relative to the working directory)."""
import os
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest

from .pulse import FOREIGN_PULSE_VARS, private_pulse_paths

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
SHARED = ROOT.parent / "shared" / "data"


# The runtime's graph cache (speechseq.runtime.graph_cache) in a folder of this test run, not the user's: set on
# import, before any test module copies the environment for the commands it starts.
_CACHE = tempfile.mkdtemp(prefix="speechseq-test-cache-")
os.environ["SPEECHSEQ_CACHE"] = _CACHE

# PulseAudio's config, state and runtime paths in a folder of this test run too, and no server or cookie of the
# user's: libpulse in this process (PortAudio's ALSA "pulse" device, listed as sounddevice is imported) and in the
# commands the tests start wrote ~/.config/pulse/cookie and a ~/.config/pulse/<machine-id>-runtime link to a
# /tmp/pulse-XXXX folder, left after the run. The tests' own server: tests/pulse.py.
_PULSE = tempfile.mkdtemp(prefix="speechseq-test-pulse-")
for _k in FOREIGN_PULSE_VARS:
    os.environ.pop(_k, None)
os.environ.update(private_pulse_paths(Path(_PULSE)))

# Ctrl+C as Python has it in a process started from a terminal: a shell without job control (a CI script's `pytest &`,
# nohup) starts its background commands with SIGINT ignored, Python then leaves it so, and the tests that raise
# SIGINT (a training loop's Ctrl+C) failed in such a run only; the commands the tests start inherited it too.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_unconfigure(config):
    """The run's folders go with it, however it ends (a session fixture missed a run that collects only or runs
    no test)."""
    shutil.rmtree(_CACHE, ignore_errors=True)
    shutil.rmtree(_PULSE, ignore_errors=True)


@pytest.fixture(autouse=True)
def _sigint_put_back():
    """SIGINT's handler as it was before each test: one that a test set (SIG_IGN, as a pool worker's initializer
    sets it) and left stayed for every later test of the run, and a Ctrl+C a later test raised did nothing."""
    before = signal.getsignal(signal.SIGINT)
    yield
    if before is not None and signal.getsignal(signal.SIGINT) is not before:  # None: not set from Python
        signal.signal(signal.SIGINT, before)


@pytest.fixture(scope="session")
def demo_wav() -> Path:
    return SAMPLES / "activate_kitchen_lights.wav"


def real_speech_files(n: int = 3) -> list[Path]:
    """A few real recordings from ../shared/data when it is there (a fresh clone has none)."""
    found = []
    for pattern in ("kathleen/audio/*.flac", "precise/amelia/en/*.wav", "fsdd/recordings/*.wav"):
        found += sorted(SHARED.glob(pattern))[:n]
    return found


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)
