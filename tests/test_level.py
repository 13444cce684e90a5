"""speechseq.runtime.level: the peak limiter keeps loud input under its ceiling, leaves quiet input alone,
releases at its rate, and gives the same output in any chunking."""
from __future__ import annotations

import numpy as np
import pytest

from speechseq.runtime.level import Limiter


def _run(lim: Limiter, x: np.ndarray, cuts: list[int]) -> np.ndarray:
    state, out = lim.initial_state(), []
    for a, b in zip([0] + cuts, cuts + [len(x)]):
        y, state = lim.step(x[a:b], state)
        out.append(y)
    return np.concatenate(out)


def test_quiet_input_passes_unchanged():
    lim = Limiter(0.3)
    x = (0.29 * np.sin(np.arange(16000) / 3)).astype(np.float32)
    y, state = lim.step(x, lim.initial_state())
    assert np.array_equal(y, x) and np.shares_memory(y, x) and state == lim.initial_state()


def test_loud_input_stays_under_the_ceiling_and_releases_at_its_rate():
    lim = Limiter(0.3, release_s=2.0)
    t = np.arange(5 * 16000) / 16000
    x = (0.1 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)
    x[:1600] = 1.0 * np.sin(2 * np.pi * 200 * t[:1600])      # 0.1 s at full scale, then 20 dB quieter
    y = _run(lim, x, [])
    assert np.abs(y).max() <= 0.3 + 1e-6
    gain_at = lambda s: float(np.abs(y[int(s * 16000):int(s * 16000) + 80]).max() / np.abs(x[int(s * 16000):int(s * 16000) + 80]).max())
    # the envelope falls by e every 2 s from the burst's peak (1.0 at 0.1 s): gain 0.3 / exp(-(s - 0.1) / 2)
    assert abs(gain_at(1.1) - 0.3 / np.exp(-0.5)) < 0.01
    assert gain_at(4.0) == pytest.approx(1.0)                 # released: 1.0 * exp(-1.95) < 0.3


def test_any_chunking_gives_the_whole_signal_output():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(48000) * np.repeat(rng.random(30) * 0.8, 1600)).astype(np.float32)
    whole = _run(Limiter(0.3), x, [])
    cuts = sorted(rng.choice(np.arange(1, len(x)), 40, replace=False).tolist())
    np.testing.assert_allclose(_run(Limiter(0.3), x, cuts), whole, atol=1e-6)
    assert np.abs(whole - x).max() > 0.1                      # it did limit


def test_bad_settings_raise():
    with pytest.raises(ValueError):
        Limiter(0.0)
    with pytest.raises(ValueError):
        Limiter(0.3, release_s=0)
