"""Audio in: any file (WAV/FLAC/OGG/MP3, any rate, any channels, int or float) to float32 mono 16 kHz.

`load_audio` decodes a whole file; `stream_audio` yields blocks with bounded memory, so a
two-hour file is never held whole. Decoding is libsndfile (soundfile), which reads WAV, FLAC,
OGG/Vorbis/Opus and MP3; resampling is soxr, streamed so that block edges leave no seams.
"""
from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import SpeechseqError, SpeechseqWarning

__all__ = ["SAMPLE_RATE", "AudioError", "AudioInfo", "audio_info", "load_audio", "stream_audio", "to_mono", "resample",
           "finite_samples", "SAMPLE_LIMIT", "path_text"]

SAMPLE_RATE = 16000


class AudioError(SpeechseqError):
    """A file that is missing, empty, unreadable or not audio."""


class AudioInfo:
    """What the header says: native rate, channels, duration in seconds."""

    def __init__(self, path: Path, sample_rate: int, channels: int, frames: int, fmt: str) -> None:
        self.path, self.sample_rate, self.channels, self.frames, self.format = path, sample_rate, channels, frames, fmt

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a directory, not an audio file")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: file is empty")
    return p


class _FrontToBack(sf.SoundFile):
    """A file read front to back, block by block (`stream_audio`). soundfile seeks to where a read ended after every
    read of a seekable file, and libsndfile's MP3 decoder takes each such seek afresh (mpg123_seek): the frames after
    a block edge were decoded without their bit reservoir, glitches of up to half full scale for a tenth of a second
    and libmpg123 errors on stderr. Declared unseekable, the reads follow one another with no seek in between."""

    def seekable(self) -> bool:
        return False


def _open(p: Path, cls: type[sf.SoundFile] = sf.SoundFile) -> sf.SoundFile:
    try:  # as bytes: soundfile encodes a str strictly, and a name need not be UTF-8 (path_text)
        f = cls(os.fsencode(p) if os.name == "posix" else str(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        msg = str(err).split(":")[-1].strip() or "unknown error"
        if "does not exist or is not a regular file" in msg:  # libsndfile's word for bytes of no format it knows; the
            msg = "not audio in a format libsndfile reads, or damaged"  # file is there and regular (_check_path)
        raise AudioError(f"{p}: cannot decode audio ({msg})") from None
    if f.frames == 0 or f.samplerate <= 0:
        f.close()
        raise AudioError(f"{p}: contains no audio samples")
    cut = _truncated(f)
    if cut is not None:  # decoded as far as it goes, as other tools do, but not in silence
        said, held = cut
        warnings.warn(f"{p}: truncated (a copy or a recording cut short): its header promises {said:,} bytes of "
                      f"audio, the file holds {held:,}; using the {f.frames / f.samplerate:.2f} s there",
                      SpeechseqWarning, stacklevel=3)
    return f


# libsndfile's log of a WAV or AIFF whose audio chunk is shorter than its header says, e.g. "data : 165280 (should
# be 39956)". A header's size from 0x7FFFF000 up is a stream's "length unknown" (a recorder writing to a pipe: sox
# writes 0x7FFFF000, others 0x7FFFFFFF or 0xFFFFFFFF).
_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _truncated(f: sf.SoundFile) -> tuple[int, int] | None:
    """(bytes the header promises, bytes there) when the file was cut short, else None."""
    m = _SHORT_CHUNK.search(f.extra_info)
    if m is None:
        return None
    said, held = int(m.group(1)), int(m.group(2))
    return (said, held) if held < said < 0x7FFFF000 else None


def path_text(path: str | os.PathLike) -> str:
    """A path as text that any output takes: bytes of a file name that are not UTF-8 (a POSIX name may hold
    any) as U+FFFD. str() keeps them as lone surrogates, which neither print nor a UTF-8 file can write."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read the header only."""
    p = _check_path(path)
    with _open(p) as f:
        return AudioInfo(p, f.samplerate, f.channels, f.frames, f.format)


def to_mono(x: np.ndarray) -> np.ndarray:
    """(N,) or (N, C) -> (N,) float32, channels averaged."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 1:
        return x
    # Channel by channel: the floats of x.mean(axis=1, dtype=float32) up to 7 channels (numpy sums more in
    # another order) at a tenth of its cost, since numpy reduces a short contiguous axis slowly; the listener
    # mixes every block.
    out = x[:, 0].copy()
    for c in range(1, x.shape[1]):
        out += x[:, c]
    if x.shape[1] > 1:
        out /= x.shape[1]
    return out


SAMPLE_LIMIT = 1e15  # finite_samples' bound: the frontend's float32 power of such samples stays finite


def finite_samples(x: np.ndarray) -> np.ndarray:
    """`x` itself when every sample is finite and within +-SAMPLE_LIMIT, else a copy with NaN as 0, +-inf as +-1
    and the rest clipped to +-SAMPLE_LIMIT: a broken float file or driver must not poison a stream's model state
    (samples from about 1e17 overflow the frontend's float32 power). One dot product checks a chunk (any NaN,
    infinity or sample over 1e15 sends its sum of squares to 1e30 or more; a chunk of smaller samples that gets
    there too is copied unchanged), so the result does not depend on how a stream is cut: under a microsecond for
    100 ms of audio."""
    with np.errstate(over="ignore"):  # a sum of squares past float32's range is what the check looks for
        if x.dot(x) < 1e30:  # False for NaN too
            return x
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), -SAMPLE_LIMIT, SAMPLE_LIMIT)


def resample(x: np.ndarray, sr_in: int, sr_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono float32 signal (soxr, high quality)."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), sr_in, sr_out, quality="HQ").astype(np.float32)


def load_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a whole file to float32 mono at `sr` Hz, samples in [-1, 1]. Shape (N,). A broken float file's NaN
    and infinite samples come out as 0 and +-1 (finite_samples), before the resampler could spread them."""
    p = _check_path(path)
    with _open(p) as f:
        native = f.samplerate
        try:
            x = f.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"{p}: cannot decode audio ({err})") from None
    if len(x) == 0:
        raise AudioError(f"{p}: contains no audio samples")
    return resample(finite_samples(to_mono(x)), native, sr)


def stream_audio(path: str | os.PathLike, block_s: float = 10.0, sr: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Yield float32 mono blocks of about `block_s` seconds at `sr` Hz; memory is one block.

    Concatenating the blocks gives the same samples as `load_audio` up to the resampler's
    numerical noise (streamed soxr, no seams at block edges); NaN and infinite samples as there.
    """
    p = _check_path(path)
    with _open(p, _FrontToBack) as f:
        native = f.samplerate
        block = max(1, int(round(block_s * native)))
        rs = None if native == sr else soxr.ResampleStream(native, sr, 1, dtype="float32", quality="HQ")
        read = 0  # frames decoded: a file with some has audio, even where they resample to none (one at 44.1 kHz)
        left = f.frames  # the frames load_audio's one read is held to (soundfile's bound on a seekable file)
        while True:
            want = min(block, left)
            try:
                x = f.read(want, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as err:
                raise AudioError(f"{p}: cannot decode audio ({err})") from None
            left -= len(x)
            read += len(x)
            last = len(x) < want or left <= 0
            mono = finite_samples(to_mono(x))
            out = mono if rs is None else rs.resample_chunk(mono, last=last)
            if len(out):
                yield out.astype(np.float32, copy=False)
            if last:
                break
        if not read:
            raise AudioError(f"{p}: contains no audio samples")
