"""Shared fixtures. Paths are absolute (never relative to the working directory)."""
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
SHARED = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session", autouse=True)
def _graph_cache(tmp_path_factory):
    """The runtime's graph cache (speechseq.runtime.graph_cache) in a folder of this test run, not the user's: for the
    tests and the commands they start."""
    old = os.environ.get("SPEECHSEQ_CACHE")
    os.environ["SPEECHSEQ_CACHE"] = str(tmp_path_factory.mktemp("speechseq-cache"))
    yield
    if old is None:
        os.environ.pop("SPEECHSEQ_CACHE", None)
    else:
        os.environ["SPEECHSEQ_CACHE"] = old


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
