"""Shared fixtures. Paths are absolute (never relative to the working directory)."""
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
SHARED = ROOT.parent / "shared" / "data"


# The runtime's graph cache (speechseq.runtime.graph_cache) in a folder of this test run, not the user's: set on
# import, before any test module copies the environment for the commands it starts.
_CACHE = tempfile.mkdtemp(prefix="speechseq-test-cache-")
os.environ["SPEECHSEQ_CACHE"] = _CACHE


@pytest.fixture(scope="session", autouse=True)
def _graph_cache():
    yield
    shutil.rmtree(_CACHE, ignore_errors=True)


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
