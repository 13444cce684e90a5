"""speechseq.runtime.takes: a stream cut into takes at its pauses, as `speechseq record` does."""
from __future__ import annotations

import numpy as np
import pytest

from speechseq.runtime.speech_regions import RegionConfig, speech_regions
from speechseq.runtime.takes import TakeConfig, TakeCutter, TakeState, peak_dbfs, take_problem

F = 512  # samples per VAD frame


def _stream(cutter: TakeCutter, audio: np.ndarray, probs: np.ndarray, rng: np.random.Generator):
    """Feed audio in random chunk sizes, each with the probabilities of the frames it completes."""
    state, takes, pos, states = cutter.initial_state(), [], 0, []
    while pos < len(audio):
        n = int(rng.integers(1, 3000))
        chunk = audio[pos : pos + n]
        done_before, done_after = pos // F, (pos + len(chunk)) // F
        got, state = cutter.step(chunk, probs[done_before:done_after], state)
        takes.extend(got)
        states.append(state)
        pos += len(chunk)
    return takes, states


def _probs(rng: np.random.Generator, n_frames: int) -> np.ndarray:
    """Speech runs of random length between pauses of random length, the stream ending in a pause."""
    p = np.zeros(n_frames, np.float32)
    k = 5
    while k < n_frames - 40:
        run = int(rng.integers(1, 60))
        p[k : k + run] = rng.uniform(0.5, 1.0, run)
        # a few dips inside the run, shorter than the pause that ends a take
        for d in rng.integers(k, k + run, size=2):
            p[d : d + int(rng.integers(1, 8))] = rng.uniform(0.0, 0.49)
        k += run + int(rng.integers(1, 40))
    p[-40:] = 0.0
    return p


@pytest.mark.parametrize("seed", range(6))
def test_streamed_takes_are_speech_regions_in_any_chunking(seed):
    """Kept and dropped takes, and each clip's samples, are those of `speech_regions` over the whole
    stream with merge_gap_s = the pause, whatever the chunk sizes."""
    rng = np.random.default_rng(seed)
    cfg = TakeConfig(end_silence_s=0.5, min_speech_s=0.15, max_take_s=100.0, pad_s=0.2, quiet_dbfs=-300.0)
    probs = _probs(rng, 900)
    audio = (np.arange(len(probs) * F) % 997 / 2000.0).astype(np.float32)  # samples name their position
    takes, _ = _stream(TakeCutter(cfg), audio, probs, rng)
    want = speech_regions(probs, F / 16000, len(audio),
                          cfg=RegionConfig(threshold=0.5, merge_gap_s=0.5, min_speech_s=0.15, pad_s=0.2))
    assert len(want) >= 5
    assert len(takes) == len(want)
    for t, (a, b) in zip(takes, want):
        assert t.problem is None
        np.testing.assert_array_equal(t.audio, audio[a:b])
        assert max(0, round(t.start * 16000) - 3200) == a and round(t.end * 16000) + 3200 == b


def test_too_long_reported_at_its_end_with_bounded_memory():
    cfg = TakeConfig(end_silence_s=0.5, max_take_s=2.0, pad_s=0.2)
    probs = np.concatenate([np.zeros(10), np.ones(400), np.zeros(20), np.ones(20), np.zeros(20)]).astype(np.float32)
    audio = np.full(len(probs) * F, 0.3, np.float32)
    takes, states = _stream(TakeCutter(cfg), audio, probs, np.random.default_rng(0))
    assert [t.problem is None for t in takes] == [False, True]
    assert takes[0].problem.startswith("too long (12.8 s)")
    assert len(takes[0].audio) == 0
    assert takes[0].start == pytest.approx(10 * F / 16000) and takes[0].end == pytest.approx(410 * F / 16000)
    assert takes[1].start == pytest.approx(430 * F / 16000) and len(takes[1].audio) == 20 * F + 2 * 3200
    # while the 12.8 s utterance went on, at most its first max_take_s (+ pad + a chunk) was held
    assert max(len(s.audio) for s in states) < (2.0 + 0.2) * 16000 + 3000


def test_blips_are_dropped_and_state_stays_small_in_silence():
    cfg = TakeConfig(min_speech_s=0.15)
    probs = np.zeros(300, np.float32)
    probs[[20, 21, 100, 101, 102, 103]] = 0.9       # 64 ms and 128 ms: shorter than 150 ms
    audio = np.full(len(probs) * F, 0.3, np.float32)
    takes, states = _stream(TakeCutter(cfg), audio, probs, np.random.default_rng(1))
    assert takes == []
    assert isinstance(states[-1], TakeState) and states[-1].start == -1
    assert len(states[-1].audio) <= 3200          # only the last pad is kept between takes


def test_take_problems():
    rng = np.random.default_rng(0)
    speech = (0.3 * np.sin(np.arange(8000) / 5.0)).astype(np.float32)
    assert take_problem(speech) is None
    assert take_problem(np.clip(speech * 10, -1, 1)).startswith("clipped")
    two = speech.copy()
    two[[5, 500]] = 1.0                             # two loud samples are not clipping (3 are)
    assert take_problem(two) is None
    three = two.copy()
    three[5000] = -0.995                            # clip_level 0.99 of full scale, either sign
    assert take_problem(three).startswith("clipped")
    quiet = speech * 0.01                            # peak -50.5 dBFS
    assert peak_dbfs(quiet) == pytest.approx(20 * np.log10(0.003), abs=0.01)
    assert take_problem(quiet).startswith("too quiet (peak -50 dBFS)")
    assert take_problem(rng.normal(0, 1e-3, 100).astype(np.float32)).startswith("too quiet")


def test_config_errors():
    with pytest.raises(ValueError, match="pad_s"):
        TakeConfig(end_silence_s=0.1, pad_s=0.2)
    with pytest.raises(ValueError, match="threshold"):
        TakeConfig(threshold=1.0)
    with pytest.raises(ValueError, match="max_take_s"):
        TakeConfig(max_take_s=0.1, min_speech_s=0.15)


def test_integer_chunks_are_at_full_scale_and_stereo_is_refused():
    """int16 chunks (a driver's, a WAV's) are scaled to full scale 1.0, as the VAD and the models take them: taken
    as they came, a take peaking at 0.66 of full scale (21613 in int16) was reported as clipped."""
    cfg = TakeConfig(end_silence_s=0.5, pad_s=0.2)
    probs = np.concatenate([np.zeros(10), np.ones(20), np.zeros(30)]).astype(np.float32)
    t = np.arange(len(probs) * F)
    audio = (0.66 * np.sin(t / 5.0) * (probs.repeat(F) > 0.5)).astype(np.float32)
    as_int = (audio * 32768).astype(np.int16)
    cutter = TakeCutter(cfg)
    takes, state = cutter.step(as_int, probs, cutter.initial_state())
    want, _ = cutter.step(as_int.astype(np.float32) / 32768, probs, cutter.initial_state())
    assert len(takes) == len(want) == 1 and takes[0].problem is None
    assert takes[0].audio.dtype == np.float32 and np.array_equal(takes[0].audio, want[0].audio)
    assert peak_dbfs(takes[0].audio) == pytest.approx(20 * np.log10(0.66), abs=0.01)
    assert state.audio.dtype == np.float32
    column, _ = cutter.step(audio[:, None], probs, cutter.initial_state())
    assert np.array_equal(column[0].audio, cutter.step(audio, probs, cutter.initial_state())[0][0].audio)
    with pytest.raises(ValueError, match=r"1-D \(mono\).*\(1024, 2\)"):
        cutter.step(np.zeros((1024, 2), np.float32), np.zeros(2, np.float32), cutter.initial_state())


@pytest.mark.parametrize("kw", [{"frame": 0}, {"frame": -512}, {"frame": 51.2}, {"sample_rate": 0},
                                {"sample_rate": float("nan")}, {"sample_rate": -16000}])
def test_cutter_refuses_frames_and_rates_that_cannot_work(kw):
    """frame=0 or sample_rate=0 was a ZeroDivisionError, NaN "cannot convert float NaN to integer"; a negative frame
    or rate cut a take of -0.32 to -0.96 s reported as "too long (-0.6 s)", a fractional frame no take at all."""
    (name, value), = kw.items()
    with pytest.raises(ValueError, match=rf"take cutter settings out of range: {name} {value!r} \("):
        TakeCutter(TakeConfig(), **kw)


def test_speech_from_the_first_frame_and_at_the_threshold_is_a_take():
    """A stream that starts in speech (frame 0), its probabilities exactly at the threshold (speech is >= it, as
    speech_regions has it): the take starts at 0 s and holds the stream's first samples."""
    cfg = TakeConfig(end_silence_s=0.5, pad_s=0.2)
    probs = np.concatenate([np.full(20, 0.5), np.zeros(30)]).astype(np.float32)
    audio = (np.arange(len(probs) * F) % 997 / 2000.0).astype(np.float32)
    takes, _ = _stream(TakeCutter(cfg), audio, probs, np.random.default_rng(2))
    assert [(t.start, t.end, t.problem) for t in takes] == [(0.0, 20 * F / 16000, None)]
    np.testing.assert_array_equal(takes[0].audio, audio[: 20 * F + 3200])
    cutter = TakeCutter(cfg)                            # the stream broken 5 frames into the pause: the same take
    _, state = cutter.step(audio[: 25 * F], probs[:25], cutter.initial_state())
    ended, _ = cutter.end(state)
    assert [(t.start, t.end, t.problem) for t in ended] == [(0.0, 20 * F / 16000, None)]
    np.testing.assert_array_equal(ended[0].audio, audio[: 25 * F])


def test_end_closes_the_take_in_progress_and_the_clock_goes_on():
    """TakeCutter.end (the stream broke: audio lost): the utterance in progress is a take from its first to its last
    speech frame, padded after with what was heard of it; the state keeps no more than a pad of audio and no
    utterance, and the frames that follow keep the stream's clock (their take's times and samples are theirs)."""
    cfg = TakeConfig(end_silence_s=0.5, pad_s=0.2)
    cutter = TakeCutter(cfg)
    first = np.concatenate([np.zeros(10), np.ones(20), np.zeros(5)]).astype(np.float32)     # 5 frames into the pause
    second = np.concatenate([np.zeros(20), np.ones(20), np.zeros(30)]).astype(np.float32)
    audio = (np.arange((len(first) + len(second)) * F) % 997 / 2000.0).astype(np.float32)
    n1 = len(first) * F
    takes, state = _stream(cutter, audio[:n1], first, np.random.default_rng(3))
    state = state[-1]
    assert takes == [] and state.start == 10 and state.frames == len(first)
    ended, state = cutter.end(state)
    assert [(t.start, t.end, t.problem) for t in ended] == [(10 * F / 16000, 30 * F / 16000, None)]
    np.testing.assert_array_equal(ended[0].audio, audio[10 * F - 3200: n1])   # 5 frames heard after it: < the pad
    assert (state.start, state.last, state.frames) == (-1, -1, len(first))
    assert state.offset == n1 - 3200 and np.array_equal(state.audio, audio[n1 - 3200: n1])
    takes, _ = cutter.step(audio[n1:], second, state)
    a = n1 + 20 * F
    assert [(t.start, t.end) for t in takes] == [(a / 16000, (a + 20 * F) / 16000)]
    np.testing.assert_array_equal(takes[0].audio, audio[a - 3200: a + 20 * F + 3200])
    none, after = cutter.end(cutter.initial_state())                              # nothing in progress: no take
    assert none == [] and after.frames == 0 and len(after.audio) == 0


def test_an_utterance_under_way_where_a_live_stream_begins_or_breaks_is_not_kept():
    """A microphone opened while someone talks (the word said before the prompt), or audio lost just before a word:
    the tail of the utterance, from the first frame heard, was kept as a take (start 0.0 s). An utterance whose speech
    comes within the pad of where a live stream began or broke was not heard from its start: reported, not kept; one
    that starts later is a take, whole and padded."""
    cfg = TakeConfig(end_silence_s=0.5, pad_s=0.2)
    cutter = TakeCutter(cfg)
    audio = (np.arange(80 * F) % 997 / 2000.0).astype(np.float32)
    for first, problem in ((0, True), (2, True), (6, True), (7, False)):   # speech from frame `first` (pad: 6.25)
        probs = np.zeros(80, np.float32)
        probs[first: first + 20] = 1.0
        takes, _ = cutter.step(audio, probs, cutter.initial_state(live=True))
        assert [t.start for t in takes] == [first * F / 16000], first
        assert (takes[0].problem is not None) == problem, (first, takes[0].problem)
        if problem:
            assert takes[0].problem.startswith("its start was not heard")
    takes, _ = cutter.step(audio, np.r_[np.ones(20), np.zeros(60)].astype(np.float32), cutter.initial_state())
    assert [t.problem for t in takes] == [None]                            # a file's start is its start
    # the stream broke (TakeCutter.end) in a pause and the next word came 2 frames after the break
    probs = np.r_[np.zeros(5), np.ones(20), np.zeros(20)].astype(np.float32)
    _, state = cutter.step(audio[: 45 * F], probs, cutter.initial_state())
    ended, state = cutter.end(state)
    assert ended == [] or ended[0].problem is None
    takes, _ = cutter.step(audio[45 * F:], np.r_[np.zeros(2), np.ones(15), np.zeros(18)].astype(np.float32), state)
    assert len(takes) == 1 and takes[0].problem.startswith("its start was not heard")
    # and where the utterance in progress is dropped with the break (`whole=False`: audio lost during it)
    _, state = cutter.step(audio[: 20 * F], np.r_[np.zeros(5), np.ones(15)].astype(np.float32), cutter.initial_state())
    none, state = cutter.end(state, whole=False)
    assert none == [] and (state.start, state.last, state.too_long) == (-1, -1, False)
    takes, _ = cutter.step(audio[20 * F:], np.r_[np.ones(10), np.zeros(50)].astype(np.float32), state)
    assert [(t.start, t.problem is not None) for t in takes] == [(20 * F / 16000, True)]
