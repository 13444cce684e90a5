"""speechseq.runtime.level: the peak limiter keeps loud input under its ceiling, leaves quiet input alone,
releases at its rate, and gives the same output in any chunking; the floor guard raises log-mel floors to
its range under the held peak, releases at its rate, leaves input within its range alone, and is chunking-free."""
from __future__ import annotations

import numpy as np
import pytest

from speechseq.runtime.level import FloorGuard, Limiter


def _run(stage: Limiter | FloorGuard, x: np.ndarray, cuts: list[int]) -> np.ndarray:
    """A Limiter over samples or a FloorGuard over frames, fed x in the pieces `cuts` makes."""
    state, out = stage.initial_state(), []
    for a, b in zip([0] + cuts, cuts + [len(x)]):
        y, state = stage.step(x[a:b], state)
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


# --- FloorGuard: the dynamic range the detectors see

FLOOR = 1e-6


def _frames(powers: list[float], bands: int = 40) -> np.ndarray:
    """Log-mel frames whose every band has the given power (plus the frontend's floor)."""
    return np.log(np.repeat(np.asarray(powers, np.float64)[:, None], bands, 1) + FLOOR).astype(np.float32)


def test_guard_leaves_input_within_its_range_alone():
    g = FloorGuard(FLOOR, range_db=58.0)
    feats = _frames([0.5] * 5 + [1e-6] * 20)       # peak 0.5: 0.5e-5.8 = 8e-7 is under the frontend's floor
    y, state = g.step(feats, g.initial_state())
    assert y is feats and state == g.initial_state()


def test_guard_raises_the_floor_to_its_range_under_the_peak_and_releases_at_its_rate():
    g = FloorGuard(FLOOR, range_db=58.0, release_db_s=6.0)
    feats = _frames([100.0] * 3 + [0.0] * 300)      # a loud burst, then digital silence (the floor alone)
    y = _run(g, feats, [])
    np.testing.assert_allclose(y[:3], feats[:3], atol=1e-5)  # the burst itself is far above any floor
    for t in (3, 103, 203):                          # 0, 1 and 2 s after the burst's last frame
        expect = 100.0 * 10 ** (-58 / 10) * 10 ** (-6 * (t - 2) * 0.01 / 10)
        assert y[t, 0] == pytest.approx(np.log(expect), abs=1e-5)
    # the range seen right after the burst: 58 dB
    assert (y[2, 0] - y[3, 0]) * 10 / np.log(10) == pytest.approx(58.0 + 6 * 0.01, abs=1e-3)


def test_guard_gives_the_whole_stream_output_in_any_chunking():
    rng = np.random.default_rng(1)
    powers = np.repeat(10 ** rng.uniform(-9, 2, 60), 10) * rng.uniform(0.5, 1.5, 600)
    feats = (_frames(powers.tolist()) + rng.normal(0, 0.3, (600, 40))).astype(np.float32)
    whole = _run(FloorGuard(FLOOR), feats, [])
    cuts = sorted(rng.choice(np.arange(1, len(feats)), 50, replace=False).tolist())
    np.testing.assert_allclose(_run(FloorGuard(FLOOR), feats, cuts), whole, atol=1e-5)
    assert np.abs(whole - feats).max() > 1.0         # it did raise floors


def test_guard_bad_settings_raise():
    for kwargs in ({"floor": 0.0}, {"floor": FLOOR, "range_db": 0.0}, {"floor": FLOOR, "release_db_s": -1.0}):
        with pytest.raises(ValueError):
            FloorGuard(**kwargs)


def test_limiter_non_finite_samples_are_taken_as_finite_samples_gives_them():
    """A NaN sample made every later output NaN (the envelope, the state, NaN for good), an infinite one every later
    output 0 (an infinite envelope never releases): they count as speechseq.audio.finite_samples gives them (NaN as
    0, +-inf as +-1), as the runtime detector takes such samples, and the stream goes on as it would have."""
    rng = np.random.default_rng(2)
    x = (0.6 * rng.standard_normal(16000)).astype(np.float32)
    bad, fixed = x.copy(), x.copy()
    for i, v, f in ((100, np.nan, 0.0), (5000, np.inf, 1.0), (9000, -np.inf, -1.0)):
        bad[i], fixed[i] = v, f
    lim = Limiter(0.3)
    for cuts in ([], [50, 100, 101, 4000, 9000, 9001]):
        y, state = lim.step(bad, lim.initial_state()) if not cuts else (_run(lim, bad, cuts), None)
        want = _run(lim, fixed, [])
        assert np.isfinite(y).all() and np.array_equal(y, want)
        if state is not None:
            assert np.isfinite(state.envelope)
    y, state = lim.step(np.array([np.nan], np.float32), lim.initial_state())   # one sample
    assert y.tolist() == [0.0] and state == lim.initial_state()


def test_guard_non_finite_frames_leave_its_state_a_number():
    """A NaN band turned the held peak NaN: the guard was off for the rest of the stream; an infinite one made every
    later frame infinite. Such a frame is left as it is and counts as unheard: the frames after it are guarded as
    where it was silent."""
    g = FloorGuard(FLOOR, range_db=58.0)
    feats = _frames([100.0] * 3 + [0.0] * 50)
    silent = feats.copy()
    bad = feats.copy()
    bad[10, 5], bad[20, 7], bad[30] = np.nan, np.inf, np.nan
    for cuts in ([], [10, 11, 20, 21, 30]):
        y = _run(g, bad, cuts)
        want = _run(g, silent, [])
        ok = np.ones(len(feats), bool)
        ok[[10, 20, 30]] = False
        np.testing.assert_allclose(y[ok], want[ok], atol=1e-6)
        assert np.abs(want[40] - feats[40]).max() > 1.0             # frames after them are still guarded
    _, state = g.step(bad, g.initial_state())
    assert np.isfinite(state)


@pytest.mark.parametrize("kwargs", [{"release_s": float("nan")}, {"release_s": -np.inf}, {"sample_rate": 0},
                                    {"sample_rate": float("nan")}, {"ceiling": float("nan")}])
def test_limiter_settings_that_are_no_numbers_raise(kwargs):
    """release_s NaN made every limited output NaN, sample_rate 0 a ZeroDivisionError: one ValueError instead."""
    with pytest.raises(ValueError):
        Limiter(**{"ceiling": 0.3, **kwargs})


@pytest.mark.parametrize("kwargs", [{"release_db_s": float("nan")}, {"hop_s": float("nan")},
                                    {"release_db_s": np.inf}, {"range_db": float("nan")}, {"floor": float("nan")}])
def test_guard_settings_that_are_no_numbers_raise(kwargs):
    """release_db_s or hop_s NaN (or an infinite release) made the held peak NaN: the guard silently off."""
    with pytest.raises(ValueError):
        FloorGuard(**{"floor": FLOOR, **kwargs})


def test_limiter_scales_integer_samples_and_refuses_stereo():
    """A quiet int16 signal (peak 0.13 of full scale) came out limited to the ceiling; (N, 2) read as 2N samples."""
    from speechseq.runtime.level import Limiter

    lim = Limiter(0.3)
    x = (0.13 * np.sin(np.linspace(0, 200, 8000))).astype(np.float32)
    out, _ = lim.step(np.round(x * 32767).astype(np.int16), lim.initial_state())
    np.testing.assert_allclose(out, np.round(x * 32767) / 32768, atol=1e-6)
    with pytest.raises(ValueError, match="1-D"):
        lim.step(np.zeros((100, 2), np.float32), lim.initial_state())


def test_limiter_limits_a_chunk_with_a_nan_as_one_without():
    """A chunk holding a NaN or an infinity was taken to peak at 1.0 whatever its other samples: under a ceiling of
    1.0 its samples over 1 passed unlimited, where the same chunk without the NaN was limited."""
    lim = Limiter(1.0)
    x = np.array([0.5, 4.0, -3.0, 0.2], np.float32)
    want, _ = lim.step(x, lim.initial_state())
    for bad in (np.nan, np.inf):
        y, state = lim.step(np.concatenate([x, [bad]]).astype(np.float32), lim.initial_state())
        assert np.abs(y).max() <= 1.0 + 1e-6 and state.envelope > 1.0
        np.testing.assert_allclose(y[:4], want, atol=1e-6)
