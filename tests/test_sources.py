"""Live sources: the bounded queue never blocks and counts drops; files paced like a microphone;
a real microphone through a private PulseAudio server; a friendly error without PortAudio."""
from __future__ import annotations

import builtins
import threading
import time

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.sources import (AudioDeviceError, BlockQueue, DeviceLost, FileStream, Microphone, Overrun,
                               import_sounddevice)

from .conftest import SAMPLES
from .pulse import pulse_mic, pulse_session, reinit_portaudio  # noqa: F401  (fixture)

WAV = SAMPLES / "activate_kitchen_lights.wav"


@pytest.fixture(scope="module")
def short_wav(tmp_path_factory):
    """1.5 s of the demo recording around "activate" (keeps the real-time tests short)."""
    import soundfile as sf

    p = tmp_path_factory.mktemp("src") / "short.wav"
    sf.write(p, load_audio(WAV)[8000:32000], 16000, subtype="PCM_16")
    return p


def test_block_queue_drops_and_counts_without_blocking():
    q = BlockQueue(3)
    blocks = [np.full(100, i, np.float32) for i in range(5)]
    accepted = []
    offering = threading.Thread(target=lambda: accepted.extend(q.offer(b) for b in blocks))
    offering.start()
    offering.join(5.0)
    assert not offering.is_alive()                   # a full queue refuses; it never waits
    assert accepted == [True, True, True, False, False]
    firsts = []
    for _ in range(3):                               # queued before the loss: no drop reported with them
        firsts.append(float(q.get(0.01)[0]))
        assert q.take_dropped() == 0
    assert firsts == [0.0, 1.0, 2.0]
    assert q.get(0.01) is None
    assert q.offer(np.full(100, 5, np.float32))
    assert float(q.get(0.01)[0]) == 5.0
    assert q.take_dropped() == 200                   # the frames lost before this block
    assert q.take_dropped() == 0                     # reported once


def test_filestream_fast_gives_the_file_then_trailing_silence():
    ref = load_audio(WAV)
    src = FileStream(WAV, realtime=False, block_s=0.05, tail_s=0.5)
    blocks = list(src.blocks())
    assert all(isinstance(b, np.ndarray) for b in blocks)
    assert {len(b) for b in blocks[:-1]} == {800}
    x = np.concatenate(blocks)
    assert len(x) == len(ref) + 8000
    assert np.allclose(x[: len(ref)], ref, atol=1e-6)
    assert not x[len(ref) :].any()
    assert src.time == pytest.approx(len(x) / 16000)


@pytest.mark.parametrize("name, value", [("block_s", 0), ("block_s", 0.0), ("block_s", -0.05),
                                         ("block_s", float("nan")), ("block_s", float("inf")),
                                         ("queue_s", float("nan")), ("queue_s", -1.0),
                                         ("tail_s", -0.5), ("tail_s", float("nan"))])
def test_filestream_refuses_sizes_that_cannot_work(name, value):
    """One ValueError naming the setting when the stream is made: block_s=0 was a ZeroDivisionError, NaN "cannot
    convert float NaN to integer", a negative block_s one-sample blocks, a negative tail_s "negative dimensions are
    not allowed" only once the file had been read."""
    with pytest.raises(ValueError, match=rf"{name} {value!r} \("):
        FileStream(WAV, realtime=False, **{name: value})


@pytest.mark.parametrize("name, value", [("block_s", 0), ("block_s", -0.05), ("block_s", float("nan")),
                                         ("queue_s", float("nan")), ("stall_s", float("nan")), ("stall_s", -1.0)])
def test_microphone_refuses_sizes_that_cannot_work(name, value):
    """As FileStream's, before any device is looked for: block_s=0 was a ZeroDivisionError, and a NaN stall_s never
    raised DeviceLost (waited >= NaN is never true)."""
    with pytest.raises(ValueError, match=rf"{name} {value!r} \("):
        Microphone(**{name: value})


def test_filestream_realtime_is_paced(short_wav):
    src = FileStream(short_wav, realtime=True, block_s=0.1, tail_s=0.0)
    t0 = time.monotonic()
    n = 0
    for item in src.blocks():
        assert not isinstance(item, Overrun)
        n += len(item)
    elapsed = time.monotonic() - t0
    duration = n / 16000
    assert duration == pytest.approx(1.5, abs=0.01)
    assert elapsed > duration - 0.05                 # paced, not as fast as it can read
    assert elapsed < duration + 20.0                 # and not stalled (a hang check: generous for a busy machine)


def _pass(src: FileStream, timeout_s: float = 10.0) -> tuple[list, float]:
    """One run of `src.blocks()` on a thread (joined with a timeout: a hang is a failure, not a stalled suite): the
    items and the source's clock after them."""
    items: list = []
    t = threading.Thread(target=lambda: items.extend(src.blocks()), daemon=True)
    t.start()
    t.join(timeout_s)
    assert not t.is_alive(), f"blocks() still running after {timeout_s:g} s"
    return items, src.time


@pytest.mark.parametrize("realtime", [True, False])
def test_a_second_pass_over_a_filestream_gives_the_file_again_on_a_fresh_clock(tmp_path, realtime):
    """A second `blocks()` hung for good in real time (the first pass's end had stopped the new producer before it
    said it was done, and the consumer waited on an empty queue), and as fast as read its clock went on from the first
    pass (0.4 s for a 0.2 s file): each pass is the file from its start, timed from 0."""
    import soundfile as sf

    path = tmp_path / "short.wav"
    x = (np.sin(np.arange(3200) / 8) * 0.3).astype(np.float32)
    sf.write(path, x, 16000, subtype="FLOAT")
    src = FileStream(path, realtime=realtime, block_s=0.05, tail_s=0.05)
    first, t1 = _pass(src)
    second, t2 = _pass(src)
    assert t1 == pytest.approx(0.25) and t2 == pytest.approx(0.25)
    assert not any(isinstance(b, Overrun) for b in first + second)
    np.testing.assert_array_equal(np.concatenate(second), np.concatenate(first))
    assert len(np.concatenate(second)) == 4000


def test_closing_a_realtime_filestream_ends_the_pass_in_progress(short_wav):
    """close() from another thread (a controller stopping the stream) stopped the producer before its end marker:
    the consumer then waited on an empty queue for good."""
    src = FileStream(short_wav, realtime=True, block_s=0.05, tail_s=0.0)
    threading.Timer(0.3, src.close).start()
    items, t = _pass(src)
    assert 0.1 < t < 1.5                                # stopped early, after what it had given
    assert sum(len(b) for b in items) / 16000 == pytest.approx(t)


@pytest.mark.parametrize("stall_s", [1.0, 1.25])   # 1.25: as a 1 s sleep woken 0.25 s late on a busy machine
def test_slow_consumer_gets_an_overrun_not_an_error(short_wav, stall_s):
    """What is dropped is what the stall lasted, as measured, less at most the queue: it was 0.6-0.9 s for a 1 s
    sleep, which a consumer woken 0.1 s late on a busy machine failed."""
    block_s, queue_s = 0.05, 0.2
    src = FileStream(short_wav, realtime=True, block_s=block_s, queue_s=queue_s, tail_s=0.0)
    got, overruns = 0, []
    for i, item in enumerate(src.blocks()):
        if isinstance(item, Overrun):
            overruns.append(item)
            continue
        got += len(item)
        if i == 2:
            left = 1.5 - src.time    # what the file has still to give
            t = time.monotonic()
            time.sleep(stall_s)      # fall behind by a second or more with a 0.2 s queue
            stalled = min(time.monotonic() - t, left)
    dropped = sum(o.dropped_s for o in overruns)
    assert overruns, "a stall longer than the queue must be reported"
    # the stall less what the queue held (and a block either way: where in a block period it began and ended)
    assert stalled - queue_s - 2 * block_s <= dropped <= stalled + block_s, (dropped, stalled)
    assert got / 16000 + dropped == pytest.approx(1.5, abs=0.06)   # the stream went on to the end
    assert src.time == pytest.approx(1.5, abs=0.06)


def test_an_overrun_comes_where_the_audio_was_lost(tmp_path):
    """The blocks still queued when audio was dropped came before the loss: the Overrun item follows them
    (it used to come first, so that they and the clock after them were dropped_s late), and every block
    ends at the source time that `time` says."""
    import soundfile as sf

    ramp = np.arange(24000, dtype=np.float32) / 32768        # sample k says where it is
    path = tmp_path / "ramp.wav"
    sf.write(path, ramp, 16000, subtype="FLOAT")
    src = FileStream(path, realtime=True, block_s=0.05, queue_s=0.2, tail_s=0.0)
    overruns = 0
    for i, item in enumerate(src.blocks()):
        if isinstance(item, Overrun):
            overruns += 1
            continue
        first = int(round(float(item[0]) * 32768))
        assert src.time == pytest.approx((first + len(item)) / 16000, abs=1e-6), (i, first)
        if i == 2:
            time.sleep(0.6)          # fall behind by 0.6 s with a 0.2 s queue
    assert overruns >= 1


def test_missing_portaudio_gives_a_friendly_error(monkeypatch):
    import sys

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(AudioDeviceError, match="libportaudio2"):
        import_sounddevice()
    with pytest.raises(AudioDeviceError, match="PortAudio"):
        Microphone().open()


def _has_portaudio() -> bool:
    try:
        import_sounddevice()
        return True
    except AudioDeviceError:
        return False


needs_portaudio = pytest.mark.skipif(not _has_portaudio(), reason="PortAudio (libportaudio2) not installed")


@needs_portaudio
def test_microphone_records_what_is_played(pulse_mic, short_wav):  # noqa: F811
    reinit_portaudio()
    ref = load_audio(short_wav)
    got, player = [], None
    with Microphone(block_s=0.05) as mic:
        assert mic.rate > 0 and mic.channels >= 1
        for item in mic.blocks():
            if isinstance(item, Overrun):
                continue
            got.append(item)
            if player is None:           # the first callback has come: the stream is live
                player = threading.Thread(target=pulse_mic.play, args=(short_wav,))
                player.start()
            if sum(map(len, got)) >= 16000 * 2.5:
                break
    player.join()
    x = np.concatenate(got)
    probe = ref[11500:19000]            # "activate" (0.7-1.2 s into the clip)
    c = np.correlate(x, probe, mode="valid")
    lag = int(np.argmax(np.abs(c))) - 11500
    seg = x[lag + 8000 : lag + len(ref)]  # paplay may drop up to ~0.1 s at the start of an idle sink
    assert len(seg) == len(ref) - 8000
    assert np.corrcoef(seg, ref[8000:])[0, 1] > 0.99     # resampled twice (device rate and back), still the same audio


@needs_portaudio
def test_vanished_device_raises_device_lost():
    with pulse_session() as server:       # its own server: this test kills it
        reinit_portaudio()
        t_stop = None
        with pytest.raises(DeviceLost, match="stopped delivering"):
            with Microphone(block_s=0.05, stall_s=2.0) as mic:
                for _ in mic.blocks():
                    if t_stop is None:
                        server.stop()     # the sound server goes away under the open stream
                        t_stop = time.monotonic()
                    assert time.monotonic() - t_stop < 30.0
        assert time.monotonic() - t_stop < 30.0   # a hang check (stall_s is 2 s), generous for a busy machine


class _FakeStream:
    """A sounddevice.RawInputStream that opens (the device is held) but fails to start."""

    opened: list = []

    def __init__(self, **kwargs) -> None:
        self.closed = False
        _FakeStream.opened.append(self)

    def start(self) -> None:
        raise RuntimeError("Error starting stream: Device unavailable [PaErrorCode -9985]")

    def abort(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _fake_sounddevice(query_devices):
    import types

    return types.SimpleNamespace(query_devices=query_devices, RawInputStream=_FakeStream)


def test_an_ambiguous_device_name_is_said_so_on_one_line(monkeypatch):
    """sounddevice lists the devices a name substring matches on lines of their own; the error said "no input
    device 'USB'" for two of them, over three lines."""
    import speechseq.sources as sources

    def query_devices(device=None, kind=None):  # sounddevice's own words for it
        raise ValueError("Multiple input devices found for 'USB':\n[2] USB Mic, ALSA\n[3] USB Audio CODEC, ALSA")

    monkeypatch.setattr(sources, "import_sounddevice", lambda: _fake_sounddevice(query_devices))
    with pytest.raises(AudioDeviceError) as err:
        Microphone("USB").open()
    msg = str(err.value)
    assert "\n" not in msg and "no input device" not in msg, msg
    assert "more than one input device matches 'USB'" in msg and "[3] USB Audio CODEC" in msg, msg


def test_a_stream_that_fails_to_start_is_closed(monkeypatch):
    """An input opened but not started was left open (a held device: the reconnect loop's next open may find it
    busy); the error is still the one-line AudioDeviceError."""
    import speechseq.sources as sources

    info = {"name": "USB Mic", "default_samplerate": 48000.0, "max_input_channels": 1}
    monkeypatch.setattr(sources, "import_sounddevice", lambda: _fake_sounddevice(lambda device=None, kind=None: info))
    _FakeStream.opened.clear()
    mic = Microphone("USB")
    with pytest.raises(AudioDeviceError, match="cannot open input device 'USB Mic' at 48000 Hz x 1"):
        mic.open()
    assert len(_FakeStream.opened) == 1 and _FakeStream.opened[0].closed
    assert mic._stream is None


def test_a_drivers_nan_is_not_spread_by_the_resampler(monkeypatch):
    """A NaN or infinite sample from a float driver is made 0 or +-1 before the resampler, as a file's is
    (speechseq.audio.finite_samples): it went in as it came and came out as 30 ms of NaN at 48 kHz, which
    `speechseq record` fed on to the VAD, where a NaN stays in Silero's state for good."""
    import types

    import speechseq.sources as sources
    from speechseq.audio import finite_samples, resample

    class Started(_FakeStream):
        def start(self) -> None:
            pass

    info = {"name": "float mic", "default_samplerate": 48000.0, "max_input_channels": 1}
    monkeypatch.setattr(sources, "import_sounddevice", lambda: types.SimpleNamespace(
        query_devices=lambda device=None, kind=None: info, RawInputStream=Started))
    x = (0.1 * np.random.default_rng(0).standard_normal(48000)).astype(np.float32)
    x[20000], x[30000] = np.nan, np.inf
    ok = types.SimpleNamespace(input_overflow=False)
    got = []
    with Microphone(block_s=0.05) as mic:
        for i in range(0, len(x), 2400):
            mic._callback(x[i : i + 2400].tobytes(), 2400, None, ok)
        for item in mic.blocks():
            got.append(item)
            if sum(map(len, got)) >= 15000:
                break
    y = np.concatenate(got)
    assert np.isfinite(y).all()
    ref = resample(finite_samples(x), 48000)
    assert np.abs(y - ref[: len(y)]).max() < 1e-3


def _mic_hears(monkeypatch, x: np.ndarray, rate: int = 48000, block: int = 2400) -> np.ndarray:
    """What a Microphone gives for the (N, C) float32 samples `x` its driver delivers in blocks of `block` frames."""
    import types

    import speechseq.sources as sources

    class Started(_FakeStream):
        def start(self) -> None:
            pass

    info = {"name": "USB mic", "default_samplerate": float(rate), "max_input_channels": x.shape[1]}
    monkeypatch.setattr(sources, "import_sounddevice", lambda: types.SimpleNamespace(
        query_devices=lambda device=None, kind=None: info, RawInputStream=Started))
    ok = types.SimpleNamespace(input_overflow=False)
    want = len(x) * 16000 // rate - 1000         # all but the resampler's delay
    got = []
    with Microphone(block_s=block / rate, queue_s=len(x) / rate + 1.0, stall_s=1.0) as mic:
        assert mic.channels == x.shape[1]
        for i in range(0, len(x), block):
            mic._callback(np.ascontiguousarray(x[i : i + block]).tobytes(), len(x[i : i + block]), None, ok)
        for item in mic.blocks():
            got.append(item)
            if sum(map(len, got)) >= want:
                break
    return np.concatenate(got)[:want]


def test_a_stereo_mic_with_a_dead_channel_is_heard_at_the_voices_level(monkeypatch):
    """A USB microphone that fills only its left channel (the right one digital silence) was mixed as the mean of
    both: the listener heard the voice at half its amplitude (6 dB low), under the detectors' and the VAD's levels.
    A channel that has carried nothing so far in the stream does not dilute the live one now."""
    from speechseq.audio import resample

    voice = (0.1 * np.random.default_rng(3).standard_normal(48000)).astype(np.float32)
    x = np.stack([voice, np.zeros_like(voice)], axis=1)
    y = _mic_hears(monkeypatch, x)
    ref = resample(voice, 48000)[: len(y)]
    assert np.sqrt(np.mean(y ** 2)) == pytest.approx(np.sqrt(np.mean(ref ** 2)), rel=0.01)   # not half
    assert np.abs(y - ref).max() < 1e-3
    y = _mic_hears(monkeypatch, x[:, ::-1])                                       # a right-only microphone
    assert np.abs(y - ref).max() < 1e-3


def test_a_stereo_mic_mix_is_the_mean_and_stays_so_through_digital_silence(monkeypatch):
    """Two live channels are still their mean; one that falls digitally silent for a while (a noise gate, a muted
    side) stays in the mix, so the level does not jump block to block."""
    from speechseq.audio import resample, to_mono

    rng = np.random.default_rng(4)
    x = (rng.standard_normal((48000, 2)) * [0.1, 0.03]).astype(np.float32)
    y = _mic_hears(monkeypatch, x)
    assert np.abs(y - resample(to_mono(x), 48000)[: len(y)]).max() < 1e-3
    x[9600:28800, 1] = 0.0                                                         # 0.4 s of a gated right channel
    y = _mic_hears(monkeypatch, x)
    assert np.abs(y - resample(to_mono(x), 48000)[: len(y)]).max() < 1e-3


def test_a_drivers_input_overflow_is_reported_where_it_happened(monkeypatch):
    """PortAudio's own input overflow (the driver discarded input before this callback, and does not say how much)
    was only counted in `Microphone.overflows`: the consumer was never told, and its clock went on as if nothing
    was lost. It is an Overrun item now, right before the block after the loss, that says it does not know how
    much was lost (input_overflows, dropped_s 0: no invented length on the clock); with frames the queue dropped
    too, those are counted as before."""
    import types

    import speechseq.sources as sources

    class Started(_FakeStream):
        def start(self) -> None:
            pass

    info = {"name": "USB mic", "default_samplerate": 16000.0, "max_input_channels": 1}
    monkeypatch.setattr(sources, "import_sounddevice", lambda: types.SimpleNamespace(
        query_devices=lambda device=None, kind=None: info, RawInputStream=Started))
    blocks = [np.full(800, i / 100, np.float32) for i in range(6)]
    flags = [False, False, True, False, False, False]
    got = []
    with Microphone(block_s=0.05, queue_s=1.0, stall_s=1.0) as mic:
        for b, flag in zip(blocks, flags):
            mic._callback(b.tobytes(), 800, None, types.SimpleNamespace(input_overflow=flag))
        for item in mic.blocks():
            got.append(item if isinstance(item, Overrun) else round(float(item[0]) * 100))
            if len(got) == 7:
                break
    assert got == [0, 1, Overrun(0.0, 0.1, input_overflows=1), 2, 3, 4, 5]
    assert mic.overflows == 1 and mic.time == pytest.approx(0.3)

    q = BlockQueue(1)                                # an overflowed block that the full queue drops as well
    assert q.offer(np.zeros(100, np.float32))
    assert not q.offer(np.zeros(100, np.float32), overflow=True)
    q.get(0.01)
    assert (q.take_dropped(), q.take_overflows()) == (0, 0)
    assert q.offer(np.ones(100, np.float32))
    assert float(q.get(0.01)[0]) == 1.0
    assert (q.take_dropped(), q.take_overflows()) == (100, 1)
    assert (q.take_dropped(), q.take_overflows()) == (0, 0)   # reported once
