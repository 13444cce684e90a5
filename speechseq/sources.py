"""Live audio sources: a microphone (sounddevice) or a file paced like one; float32 mono 16 kHz out.

    with Microphone(device=None) as mic:          # or FileStream("x.wav", realtime=True)
        for item in mic.blocks():
            if isinstance(item, Overrun): ...     # audio was lost (the consumer fell behind, or the driver did)
            else: ...                             # (N,) float32 block at 16 kHz

The microphone is opened at the device's own rate and (up to two of its) channels; blocks are
mixed to mono (a channel that has carried nothing, as on a microphone that fills only one, is
left out rather than halving the voice) and resampled with streaming soxr in the consumer's
thread. The audio callback only copies the block into a bounded queue and never blocks: when the
queue is full the block is dropped and counted, and the consumer is told with an `Overrun` item. So
is input that the driver itself discarded (PortAudio's input overflow), for a length it does not say.
A device that stops delivering (unplugged, server gone) raises `DeviceLost`. `FileStream` runs a
file through the same queue, paced in real time by a producer thread (or as fast as it is read,
with nothing dropped, when realtime=False). sounddevice is imported lazily: without PortAudio,
files still work.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .audio import SAMPLE_RATE, finite_samples, mix_live, stream_audio
from .checks import finite, refuse
from .errors import SpeechseqError

__all__ = ["Overrun", "DeviceInfo", "AudioDeviceError", "DeviceLost", "BlockQueue", "Microphone", "FileStream",
           "import_sounddevice", "list_devices", "probe_input", "check_input"]


class AudioDeviceError(SpeechseqError):
    """No usable input device, or PortAudio missing."""


class DeviceLost(AudioDeviceError):
    """An open input stopped delivering audio."""


@dataclass(frozen=True)
class Overrun:
    """Audio lost before the consumer saw it: `dropped_s` seconds (source time), noticed after `time` s of audio.

    `input_overflows`: how often the driver discarded input there as well (PortAudio's input overflow flag), for
    a length PortAudio does not report: it is in neither `dropped_s` nor the source's clock, so times after it
    are early by that unknown amount (a consumer says so, rather than a length).
    """

    dropped_s: float
    time: float
    input_overflows: int = 0


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    hostapi: str
    max_input_channels: int
    default_samplerate: float
    is_default: bool


def import_sounddevice():
    """The sounddevice module, or an AudioDeviceError that says what to install."""
    try:
        import sounddevice
    except OSError:
        raise AudioDeviceError(
            "the PortAudio library is missing, so no microphone can be opened: install it "
            "(Debian/Ubuntu: sudo apt install libportaudio2; Fedora: portaudio; macOS: brew install portaudio), "
            "or run on a file with --input FILE") from None
    except ImportError:
        raise AudioDeviceError("the sounddevice package is missing: pip install sounddevice, "
                               "or run on a file with --input FILE") from None
    return sounddevice


def list_devices() -> list[DeviceInfo]:
    """Input devices as PortAudio sees them (the default one flagged)."""
    sd = import_sounddevice()
    try:
        devices, apis = sd.query_devices(), sd.query_hostapis()
        default_in = sd.default.device[0]
    except Exception as err:  # PortAudio errors have their own types
        raise AudioDeviceError(f"cannot list audio devices ({err})") from None
    out = []
    for d in devices:
        if d["max_input_channels"] > 0:
            out.append(DeviceInfo(int(d["index"]), str(d["name"]), str(apis[d["hostapi"]]["name"]),
                                  int(d["max_input_channels"]), float(d["default_samplerate"]),
                                  int(d["index"]) == default_in))
    return out


class BlockQueue:
    """A bounded queue between an audio thread (never blocks) and the consumer.

    `offer` puts a block or drops it and counts its frames; only the producer writes the drop
    counters and only the consumer writes what it has reported, so no lock is needed. Each block
    is queued with the counts of frames dropped and of driver overflows before it, so that a loss
    is reported where it happened: after the blocks that were already waiting in the queue.
    """

    def __init__(self, max_blocks: int) -> None:
        self._q: queue.Queue = queue.Queue(maxsize=max(1, max_blocks))
        self.dropped_frames = 0      # written by the producer only
        self.overflows = 0           # input the driver discarded before a block (producer only)
        self._before = (0, 0)        # the counters when the block last got was queued (consumer only)
        self._reported = (0, 0)      # written by the consumer only

    def offer(self, block, frames: int | None = None, overflow: bool = False) -> bool:
        """Queue `block` (`frames` frames; default its length), or drop it and count them. `overflow`: the
        driver discarded input just before this block (a loss of unknown length, reported before it)."""
        self.overflows += bool(overflow)
        try:
            self._q.put_nowait(((self.dropped_frames, self.overflows), block))
            return True
        except queue.Full:
            self.dropped_frames += len(block) if frames is None else frames
            return False

    def put(self, block, timeout: float | None = None) -> None:
        """Blocking put, for producers that may wait (a file read as fast as possible)."""
        self._q.put(((self.dropped_frames, self.overflows), block), timeout=timeout)

    def get(self, timeout: float) -> np.ndarray | None:
        try:
            self._before, block = self._q.get(timeout=timeout)
            return block
        except queue.Empty:
            return None

    def take_dropped(self) -> int:
        """Frames dropped since the last call and before the block last got (so, reported before it)."""
        new = self._before[0] - self._reported[0]
        self._reported = (self._before[0], self._reported[1])
        return new

    def take_overflows(self) -> int:
        """Driver overflows since the last call and before the block last got (so, reported before it)."""
        new = self._before[1] - self._reported[1]
        self._reported = (self._reported[0], self._before[1])
        return new


class _End:
    """Sentinel: the producer has finished."""


def _check_seconds(what: str, block_s: float, queue_s: float, **more: float) -> None:
    """ValueError naming the setting unless block_s and queue_s are finite and > 0 and `more` finite and >= 0: a
    block_s of 0 was a ZeroDivisionError, a NaN "cannot convert float NaN to integer", a negative one one-sample
    blocks."""
    refuse(what, [*((name, v, finite(v) and v > 0, "a finite number of seconds > 0")
                    for name, v in (("block_s", block_s), ("queue_s", queue_s))),
                  *((name, v, finite(v) and v >= 0, "a finite number of seconds >= 0") for name, v in more.items())])


class _Resampler:
    """A stream's channels mixed to mono (mix_live: a dead channel of a microphone that fills only one does not
    halve the voice) and resampled to 16 kHz (streaming soxr, identity at 16 kHz)."""

    def __init__(self, rate: int) -> None:
        import soxr

        self.rate = rate
        self._rs = None if rate == SAMPLE_RATE else soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        self._live: tuple[bool, ...] | None = None  # the channels heard so far in the stream (mix_live)

    def __call__(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        x, self._live = mix_live(x, self._live)
        x = finite_samples(x)  # before the resampler spreads a driver's NaN (as stream_audio does a file's)
        return x if self._rs is None else self._rs.resample_chunk(x, last=last).astype(np.float32, copy=False)


class Microphone:
    """An input device through sounddevice/PortAudio (`device`: index, name substring, or None = default)."""

    def __init__(self, device: int | str | None = None, samplerate: int | None = None, channels: int | None = None,
                 block_s: float = 0.05, queue_s: float = 2.0, stall_s: float = 3.0) -> None:
        _check_seconds("Microphone settings", block_s, queue_s, stall_s=stall_s)  # a NaN stall_s never said DeviceLost
        self.device, self.block_s, self.stall_s = device, block_s, stall_s
        self._want_rate, self._want_channels = samplerate, channels
        self.queue = BlockQueue(int(np.ceil(queue_s / block_s)))
        self.overflows = 0           # PortAudio's own input overflows (input discarded before a callback)
        self._stream = None
        self._finished = threading.Event()
        self.time = 0.0              # seconds of source audio delivered or dropped (but for what overflows lost)
        self.name = ""

    def open(self) -> "Microphone":
        sd = import_sounddevice()
        try:
            info = sd.query_devices(self.device, "input")
        except Exception as err:
            # sounddevice lists the devices an ambiguous name matches on lines of their own: one line here
            first, *rest = str(err).splitlines() or [""]
            detail = " ".join([first, "; ".join(rest)]) if rest else first
            if self.device is None:
                which = "no default input device"
            elif rest and first.startswith("Multiple"):
                which = f"more than one input device matches {self.device!r}"
            else:
                which = f"no input device {self.device!r}"
            raise AudioDeviceError(f"{which} ({detail}); the command's --list-devices shows them, or run on a file "
                                   "with --input FILE") from None
        self.name = str(info["name"])
        self.rate = int(self._want_rate or info["default_samplerate"])
        self.channels = int(self._want_channels or min(2, int(info["max_input_channels"])))
        if self.channels < 1:
            raise AudioDeviceError(f"device {self.name!r} has no input channels")
        self._resample = _Resampler(self.rate)
        self._finished.clear()
        stream = None
        try:
            # A raw stream: its callback gets the samples as a buffer, with no numpy array made on the audio thread.
            stream = sd.RawInputStream(device=self.device, samplerate=self.rate, channels=self.channels,
                                       dtype="float32", blocksize=max(1, int(round(self.rate * self.block_s))),
                                       callback=self._callback, finished_callback=self._finished.set)
            stream.start()
        except Exception as err:
            if stream is not None:  # opened but not started: it still holds the device
                try:
                    stream.close()
                except Exception:
                    pass
            raise AudioDeviceError(f"cannot open input device {self.name!r} at {self.rate} Hz x {self.channels} ({err})") from None
        self._stream = stream
        return self

    def close(self) -> None:
        """Stop and close the stream; gives up waiting after 2 s (a wedged driver must not hang Ctrl+C)."""
        stream, self._stream = self._stream, None
        if stream is None:
            return

        def shut() -> None:
            try:
                stream.abort()
                stream.close()
            except Exception:  # a device that vanished may refuse to close; nothing left to do
                pass

        t = threading.Thread(target=shut, name="speechseq-close", daemon=True)
        t.start()
        t.join(timeout=2.0)

    def __enter__(self) -> "Microphone":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _callback(self, indata, frames, time_info, status) -> None:
        # Runs on PortAudio's thread: copy the raw float32 samples (interleaved) and hand them over, never wait.
        overflow = bool(status.input_overflow)
        self.overflows += overflow
        self.queue.offer(bytes(indata), frames, overflow)

    def blocks(self) -> Iterator[np.ndarray | Overrun]:
        """Resampled mono blocks, with an Overrun item wherever audio was dropped; raises DeviceLost."""
        if self._stream is None:
            self.open()
        waited = 0.0
        first = True
        while True:
            block = self.queue.get(timeout=0.1)
            dropped, overflows = self.queue.take_dropped(), self.queue.take_overflows()
            if dropped or overflows:
                yield Overrun(dropped / self.rate, self.time, overflows)
                self.time += dropped / self.rate
            if block is None:
                waited += 0.1
                # PortAudio's first callback may take 2 s to come; later ones every block_s.
                if self._finished.is_set() or waited >= self.stall_s + (2.0 if first else 0.0):
                    raise DeviceLost(f"input device {self.name!r} stopped delivering audio (unplugged, or its "
                                     "server went away)")
                continue
            waited, first = 0.0, False
            block = np.frombuffer(block, np.float32).reshape(-1, self.channels)
            self.time += len(block) / self.rate
            out = self._resample(block)
            if len(out):
                yield out


def _delivering(device: int | str | None, samplerate: int | None, timeout_s: float) -> Microphone:
    """The input device (closed again) once it has opened (at `samplerate`, default its own) and delivered audio
    within `timeout_s`; AudioDeviceError saying why not."""
    with Microphone(device, samplerate=samplerate, stall_s=timeout_s) as mic:
        for item in mic.blocks():
            if not isinstance(item, Overrun):
                return mic
    raise AudioDeviceError("the input delivered no audio")


def check_input(device: int | str | None = None, samplerate: int | None = None, timeout_s: float = 3.0) -> str:
    """"NAME (RATE Hz, C ch)" of the input device once it delivers audio; AudioDeviceError saying why not."""
    mic = _delivering(device, samplerate, timeout_s)
    return f"{mic.name} ({mic.rate} Hz, {mic.channels} ch)"


def probe_input(device: int | str | None = None, timeout_s: float = 3.0) -> str | None:
    """Name of the input device if it opens and delivers audio within `timeout_s`, else None."""
    try:
        return _delivering(device, None, timeout_s).name
    except AudioDeviceError:
        return None


class FileStream:
    """A file streamed like a microphone: paced in real time through a bounded queue, or as fast as read.

    realtime=True: a producer thread releases a block every block_s seconds and never waits for the
    consumer (a slow consumer causes overruns, as with a microphone). realtime=False: blocks as fast
    as the consumer takes them, nothing dropped. `tail_s` seconds of silence are appended, so an
    utterance that ends with the file still sees trailing silence.
    """

    def __init__(self, path: str | os.PathLike, realtime: bool = True, block_s: float = 0.05, queue_s: float = 2.0,
                 tail_s: float = 1.0) -> None:
        _check_seconds("FileStream settings", block_s, queue_s, tail_s=tail_s)
        self.path, self.realtime, self.block_s, self.tail_s = str(path), realtime, block_s, tail_s
        self._max_blocks = int(np.ceil(queue_s / block_s))
        self.queue = BlockQueue(self._max_blocks)
        self.time = 0.0
        self.name = self.path
        self._stop = threading.Event()
        self._error: BaseException | None = None

    def __enter__(self) -> "FileStream":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop the pass in progress (its `blocks()` ends after what was queued)."""
        self._stop.set()

    def _chunks(self) -> Iterator[np.ndarray]:
        n = max(1, int(round(SAMPLE_RATE * self.block_s)))
        carry = np.zeros(0, np.float32)
        for block in stream_audio(self.path, block_s=max(1.0, self.block_s)):
            buf = np.concatenate([carry, block]) if len(carry) else block
            k = len(buf) // n
            for i in range(k):
                yield buf[i * n : (i + 1) * n]
            carry = buf[k * n :]
        tail = np.zeros(int(round(self.tail_s * SAMPLE_RATE)), np.float32)
        buf = np.concatenate([carry, tail])
        for i in range(0, len(buf), n):
            yield buf[i : i + n]

    def _produce(self, blocks: BlockQueue, stop: threading.Event) -> None:
        t0 = time.monotonic()
        released = 0
        try:
            for chunk in self._chunks():
                if stop.is_set():
                    break
                released += len(chunk)
                delay = t0 + released / SAMPLE_RATE - time.monotonic()
                if delay > 0:
                    time.sleep(delay)     # the block is "recorded" once its last sample is
                blocks.offer(chunk)
        except BaseException as err:  # handed to the consumer, which raises it
            self._error = err
        while not stop.is_set():
            try:
                blocks.put(_End, timeout=0.1)
                break
            except queue.Full:
                continue

    def blocks(self) -> Iterator[np.ndarray | Overrun]:
        """The file's blocks (and Overrun items in real time). Each call is a pass over the whole file from its
        start, `time` from 0: a second call hung in real time, and went on with the first pass's clock."""
        self.time = 0.0
        if not self.realtime:
            for chunk in self._chunks():
                self.time += len(chunk) / SAMPLE_RATE
                yield chunk
            return
        # this pass's own queue and stop: a producer of an earlier pass still winding down touches neither
        self.queue, self._stop, self._error = BlockQueue(self._max_blocks), threading.Event(), None
        blocks, stop = self.queue, self._stop
        thread = threading.Thread(target=self._produce, args=(blocks, stop), name="speechseq-filestream", daemon=True)
        thread.start()
        try:
            producing = True
            while True:
                item = blocks.get(timeout=0.5 if producing else 0.0)
                dropped = blocks.take_dropped()
                if dropped:
                    yield Overrun(dropped / SAMPLE_RATE, self.time)
                    self.time += dropped / SAMPLE_RATE
                if item is _End:
                    break
                if item is None:
                    if not producing:   # stopped (close()) before its end marker, and nothing is left
                        break
                    producing = thread.is_alive()
                    continue
                self.time += len(item) / SAMPLE_RATE
                yield item
            if self._error is not None:
                raise self._error
        finally:
            stop.set()
            thread.join(timeout=1.0)
