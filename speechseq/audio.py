"""Audio in: any file (WAV/FLAC/OGG/MP3, any rate from 4 to 768 kHz, any channels, int or float) to float32 mono 16 kHz.

`load_audio` decodes a whole file; `stream_audio` yields blocks with bounded memory, so a
two-hour file is never held whole. Decoding is libsndfile (soundfile), which reads WAV, FLAC,
OGG/Vorbis/Opus and MP3; resampling is soxr, streamed so that block edges leave no seams. The samples' own
helpers (channels, sample types, resampling an array) are in speechseq.samples, importable from here too.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shlex
import stat
import struct
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .containers import (L3_SIZES, OGG_END, caf_cut, caf_no_data, caf_no_packet_table, caf_unfinished, l3_count,
                         ogg_crc, ogg_packets, ogg_pages, ogg_stream_packets, opus_samples, vorbis_block, vorbis_blocks)
from .errors import SpeechseqError, SpeechseqWarning
from .files import one_line
# the samples' helpers importers know from here: kept importable from this module (__all__)
from .samples import (LIVE_LEVEL, SAMPLE_LIMIT, SAMPLE_RATE, _check_rate, finite_samples, float_samples, mix_live,
                      mono_samples, resample, to_mono)

__all__ = ["SAMPLE_RATE", "AudioError", "AudioInfo", "audio_info", "load_audio", "stream_audio", "to_mono", "mix_live",
           "LIVE_LEVEL", "resample", "float_samples", "mono_samples", "finite_samples", "SAMPLE_LIMIT", "path_text",
           "MIN_FILE_RATE", "MAX_FILE_RATE"]


class AudioError(SpeechseqError):
    """A file that is missing, empty, unreadable or not audio."""


class AudioInfo:
    """What the header says: native rate, channels, duration in seconds."""

    def __init__(self, path: Path, sample_rate: int, channels: int, frames: int, fmt: str) -> None:
        self.path, self.sample_rate, self.channels, self.frames, self.format = path, sample_rate, channels, frames, fmt

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def _named(p: Path) -> str:
    """`p` as a message names it, on one line (speechseq.files.one_line)."""
    return one_line(str(p))


def _check_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise AudioError(f"{_named(p)}: is a directory, not an audio file")
        if not stat.S_ISREG(st.st_mode):  # its size, 0, said nothing; libsndfile reads some formats from a pipe, not all
            raise AudioError(f"{_named(p)}: not a regular file (a pipe or a device): save the audio to a file "
                             f"and give that")
        if st.st_size == 0:
            raise AudioError(f"{_named(p)}: file is empty")
        with open(p, "rb"):  # a file that cannot be opened: libsndfile says only "System error."
            pass
    except (FileNotFoundError, NotADirectoryError):
        raise AudioError(f"{_named(p)}: no such file") from None
    except OSError as err:  # permission denied (the file's or a folder's), a symlink loop, an I/O error
        raise AudioError(f"{_named(p)}: cannot read ({err.strerror or err})") from None
    return p


class _FrontToBack(sf.SoundFile):
    """A file read front to back, block by block. soundfile seeks to where a read ended after every read of a
    seekable file, and libsndfile's MP3 decoder takes each such seek afresh (mpg123_seek): the frames after a block
    edge were decoded without their bit reservoir, glitches of up to half full scale for a tenth of a second and
    libmpg123 errors on stderr. Some codecs cannot seek at all, or not to their end (GSM 6.10, G.721, NMS ADPCM,
    DWVW): a read of "all frames" failed on them. Declared unseekable, the reads follow one another with no seek in
    between, and each asks for a number of frames."""

    _source: "_Samples | None" = None  # the bytes read: of a WAV whose header was never finished (_unfinished_wav),
                                       # of an MP3 after the length header it lacks (_mp3_whole), of a CAF
                                       # after the size its header lacks (_unfinished_caf)
    _said = False                 # whether a warning has said the file is damaged or cut short
    _capture = None               # an MP3's _capture_file, for its decoder's lines on fd 2 at every read
    _after: "_FrontToBack | None" = None  # past a damaged stretch (_resume): the decoder that reads on, from frame
    _at = 0                               # `_at`; the frames before that are silence
    _stretches = 0                        # damaged stretches read past so far
    _gaps: "list[tuple[int, int]] | None" = None  # an Ogg's lost pages (_ogg_gaps): (frame, frames) of silence each
    _cut: "tuple[int, int, str] | None" = None  # a CAF cut short (_cut_caf), as _truncated says a WAV's

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        super().close()
        if self._source is not None:
            self._source.close()
        if self._capture is not None:
            self._capture.close()
        if self._after is not None:
            self._after.close()


class _Samples:
    """The bytes of a file from `start` to its end, after the bytes `head`, as the file object libsndfile reads from:
    an unfinished WAV's headerless samples; an MP3's frames after the length header they lack (_mp3_whole); an
    unfinished CAF after its header with the size it lacks (_unfinished_caf); a CAF cut short after its header made
    that of the audio there (_cut_caf)."""

    def __init__(self, path: Path, start: int, head: bytes = b"") -> None:
        self._f, self._start, self._head, self._pos = open(path, "rb"), start, head, 0
        self._size = len(head) + max(0, os.fstat(self._f.fileno()).st_size - start)

    def seek(self, pos: int, whence: int = 0) -> int:
        self._pos = max(0, pos + (0, self._pos, self._size)[whence])
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        n = self._size - self._pos if n < 0 else min(n, self._size - self._pos)
        out = self._head[self._pos:self._pos + n]
        if len(out) < n:
            self._f.seek(self._start + self._pos + len(out) - len(self._head))
            out += self._f.read(n - len(out))
        self._pos += len(out)
        return out

    def close(self) -> None:
        self._f.close()


_RAW_SUBTYPES = {"PCM_U8", "PCM_S8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"}


def _unfinished_wav(p: Path, f: sf.SoundFile) -> int | None:
    """Where the samples start in a WAV whose data chunk says 0 bytes and is followed by more bytes that are no
    chunk: a recorder writes 0 there and fills in the size when it closes the file (libsndfile, Python's wave), so
    one killed or still recording leaves all its audio behind a size of 0 (ffmpeg reads it to the end). None for
    any other file, and for a data chunk that is empty indeed."""
    if f.frames or f.format not in ("WAV", "WAVEX") or f.subtype not in _RAW_SUBTYPES:
        return None
    with open(p, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(12)
        if head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            cid, n = struct.unpack("<4sI", fh.read(8))
            if cid == b"data":
                if n or pos + 8 >= size:
                    return None
                nxt = fh.read(8)
                chunk = (len(nxt) == 8 and all(32 <= c < 127 for c in nxt[:4])
                         and struct.unpack("<I", nxt[4:])[0] <= size - pos - 16)
                return None if chunk else pos + 8
            pos += 8 + n + (n & 1)
    return None


def _mp3_whole(p: Path, f: _FrontToBack) -> _FrontToBack:
    """`f`, the MP3 `p` as libsndfile opened it, or where its length is not what libsndfile took it to be, the same
    frames opened again after a Xing header that gives their number. A file whose first frame is no such header
    (as many encoders and stream recorders write it) is given a length from the file's bytes and its first frame's
    bit rate, and is read no further: a variable bit rate file lost most of its audio without a word, and one with
    a big ID3v2 tag in front (cover art) was said to be cut short of a length it never had. Read after a header,
    the decoder leaves out its own delay of 529 samples at the start (LAME's 528 + 1: the synthesis filter bank's
    delay, the same in every MP3), as it does in every file that has one: the right start, the file's audio from
    its first sample, less only the encoder's own delay that no header records here. Every such file is opened so,
    one whose length libsndfile took right (a constant bit rate) too: opened as it was, it kept those 529 samples,
    its audio 529 samples later than the same frames' behind an ID3 tag."""
    try:
        found = l3_count(p)
    except (OSError, ValueError):
        return f
    if found is None:
        return f
    first, frames, h = found
    one = 1152 if (h[1] >> 3) & 3 == 3 else 576  # samples a frame: MPEG-1, else MPEG-2 and 2.5
    if not frames:
        return f
    side = (17 if h[3] >> 6 == 3 else 32) if one == 1152 else (9 if h[3] >> 6 == 3 else 17)  # mono, else two
    b1 = h[1] | 1  # no checksum
    # the smallest bit rate whose frame holds the header
    b2 = next(b for b in range(h[2] & 0x0C | 0x10, 0xF0, 0x10) if L3_SIZES[b1 << 8 | b] >= 4 + side + 12)
    xing = bytes((0xFF, b1, b2, h[3])) + bytes(side) + b"Xing" + struct.pack(">II", 1, frames)  # flags: frames
    source = _Samples(p, first, xing + bytes(L3_SIZES[b1 << 8 | b2] - len(xing)))
    try:
        with _decoder_stderr([], f._capture):
            g = _FrontToBack(source)
    except (sf.LibsndfileError, RuntimeError):
        source.close()
        return f
    if g.format != "MP3" or g.samplerate != f.samplerate or g.channels != f.channels:
        g.close()
        source.close()
        return f
    g._source, g._capture, f._capture = source, f._capture, None
    f.close()
    return g


READ_FORMATS = "WAV, FLAC, OGG (Vorbis, Opus), MP3, AIFF and AU"  # what libsndfile decodes, as users name them

# Audio that libsndfile does not decode, by its first bytes, else by its name: a phone's voice memo (AAC in MP4), a
# video's sound track, a browser's recording. Such a file is named as one of these, not as damaged.
_UNREAD_MAGIC = ((lambda h: h[4:8] == b"ftyp" and h[8:11] == b"3gp", "3GP"), (lambda h: h[4:8] == b"ftyp", "MP4/M4A"),
                 (lambda h: h[:4] == b"\x1aE\xdf\xa3", "Matroska/WebM"), (lambda h: h[:5] == b"#!AMR", "AMR"),
                 (lambda h: h[:4] == b"0&\xb2u", "WMA/ASF"), (lambda h: h[:4] == b"ADIF", "AAC"),
                 (lambda h: len(h) > 1 and h[0] == 0xFF and h[1] & 0xF6 == 0xF0, "AAC"),  # ADTS: a sync, layer 0
                 (lambda h: h[:4] == b"MAC ", "Monkey's Audio"), (lambda h: h[:4] == b"wvpk", "WavPack"),
                 (lambda h: h[:4] == b".RMF", "RealAudio"))
UNREAD_SUFFIXES = {".m4a": "MP4/M4A", ".m4b": "MP4/M4A", ".mp4": "MP4/M4A", ".mov": "QuickTime", ".3gp": "3GP",
                    ".aac": "AAC", ".webm": "Matroska/WebM", ".mka": "Matroska/WebM", ".mkv": "Matroska/WebM",
                    ".amr": "AMR", ".wma": "WMA/ASF", ".asf": "WMA/ASF", ".ape": "Monkey's Audio", ".wv": "WavPack",
                    ".ra": "RealAudio", ".ac3": "AC-3", ".dts": "DTS"}


def _unread_format(p: Path) -> str | None:
    """The name of the audio format of a file libsndfile does not recognise, where its bytes or its name say one
    that speechseq does not read; None for bytes of no known format (damaged, or not audio)."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    return next((name for test, name in _UNREAD_MAGIC if test(head)), UNREAD_SUFFIXES.get(p.suffix.lower()))


# libmpg123 (libsndfile's MP3 decoder) prints on the process's stderr: "Warning: Xing stream size off by more than 1%,
# ..." when the file is opened, "Note: Illegal Audio-MPEG-Header ...", "Note: Trying to resync...", "[src/libmpg123/
# layer3.c:...] error: ..." where it skips data it cannot decode. No option of libsndfile's turns this off.
_DECODER_LINE = re.compile(r"^(?:\[[^\]]*\] (?:error|warning|note)|Warning: |Note: |Error: )")
_STDERR = threading.RLock()  # one capture at a time (one inside another nests): each moves fd 2, then back


def _capture_file():
    """A temporary file for `_decoder_stderr` to keep fd 2's text in; None where none can be made."""
    try:
        return tempfile.TemporaryFile()
    except OSError:
        return None


@contextlib.contextmanager
def _decoder_stderr(notes: list[str], keep=None) -> Iterator[None]:
    """Around a call into libsndfile: the lines its decoders print on fd 2 are kept off the terminal and added to
    `notes`, to be said once in speechseq's words; other text written there meanwhile (another thread's) is passed
    on. `keep`: a `_capture_file` to reuse, emptied again after (an MP3's reads: one file a stream, not one a
    block), else one of its own. Where fd 2 cannot be moved (closed, no temporary file), the call runs as it is."""
    with _STDERR:
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
        except (OSError, ValueError):
            pass
        tmp = keep if keep is not None else _capture_file()
        try:
            saved = os.dup(2) if tmp is not None else None
        except OSError:
            saved = None
        if saved is None:
            if tmp is not None and tmp is not keep:
                tmp.close()
            yield
            return
        with contextlib.nullcontext() if tmp is keep else tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield
            finally:
                try:
                    if sys.stderr is not None:
                        sys.stderr.flush()  # what Python wrote meanwhile, into the capture
                except (OSError, ValueError):
                    pass
                os.dup2(saved, 2)
                os.close(saved)
                tmp.seek(0)
                text = tmp.read()
                tmp.seek(0)
                tmp.truncate()
                others = []
                for line in text.decode("utf-8", "replace").splitlines(keepends=True):
                    if _DECODER_LINE.match(line):
                        notes.append(line.strip())
                    else:
                        others.append(line)
                if others:
                    os.write(2, "".join(others).encode("utf-8", "replace"))


# CAF audio formats whose bytes are the samples, so that the audio of an unfinished recording is all its bytes
_CAF_RAW = (b"lpcm", b"ulaw", b"alaw")


def _unfinished_caf(p: Path) -> _FrontToBack | None:
    """The CAF recording `p` whose data chunk's size was never written (caf_unfinished), opened with that size made
    the bytes to the end of the file, as its recorder would have written it; None for any other file, AudioError
    for one whose audio is no plain samples (ALAC: its packet table, written at the end, says where they are)."""
    try:
        found = caf_unfinished(p)
    except OSError:
        return None
    if found is None:
        return None
    start, fmt = found
    unfinished = (f"{_named(p)}: an unfinished CAF recording (the size of its audio was never written: a recorder "
                  f"stopped before it closed the file)")
    if fmt not in _CAF_RAW:
        raise AudioError(f"{unfinished} whose {fmt.decode('latin-1')!r} audio cannot be read without it")
    with open(p, "rb") as fh:
        head = fh.read(start - 8)
        source = _Samples(p, start, head + struct.pack(">q", os.fstat(fh.fileno()).st_size - start))
    try:
        f = _FrontToBack(source)
    except (sf.LibsndfileError, RuntimeError) as err:
        source.close()
        raise AudioError(f"{unfinished} that cannot be read ({str(err).split(':')[-1].strip()})") from None
    f._source = source
    return f


def _cut_caf(p: Path) -> _FrontToBack | None:
    """The CAF file `p` cut short inside its audio (caf_cut), opened as the file of the audio there: its data chunk's
    size, and the packets its packet table counts, those there; its `_cut` says how much was promised, for the
    warning a truncated WAV gets. None for any other file; AudioError where no whole frame or packet is there."""
    try:
        found = caf_cut(p)
    except OSError:
        return None
    if found is None:
        return None
    head, start, said, held = found
    source = _Samples(p, start, head)
    try:
        f = _FrontToBack(source)
    except (sf.LibsndfileError, RuntimeError):
        source.close()
        return None
    f._source, f._cut = source, (said, held, "bytes of audio")
    if f.frames <= 0:
        f.close()
        raise AudioError(f"{_named(p)}: truncated (a copy or a recording cut short) inside its first packet of audio: "
                         f"no audio samples")
    return f


def _caf_untabled(p: Path) -> AudioError | None:
    """The error of the CAF file `p` in which libsndfile finds no audio (no frames, or an error) where its packets'
    table was never written (caf_no_packet_table): an unfinished recording, not an empty or a damaged file. None for
    any other file."""
    try:
        fmt = caf_no_packet_table(p)
    except OSError:
        return None
    if fmt is None:
        return None
    return AudioError(f"{_named(p)}: an unfinished CAF recording (its packet table was never written: a recorder "
                      f"stopped, or the file was cut short, before it) whose {fmt.decode('latin-1')!r} audio cannot "
                      f"be read without it")


def _caf_empty(p: Path) -> AudioError | None:
    """The error of the CAF file `p` libsndfile cannot open whose data chunk holds no audio (caf_no_data): empty, said
    as every empty file is, not in libsndfile's words ("Unspecified internal error"). None for any other file."""
    try:
        return AudioError(f"{_named(p)}: contains no audio samples") if caf_no_data(p) else None
    except OSError:
        return None


def _libsndfile_name(p: Path) -> bytes | str:
    """`p` as libsndfile is to open it: as bytes on POSIX (soundfile encodes a str strictly, and a name need not be
    UTF-8: path_text); a file named "-" as "./-", since libsndfile reads standard input for the name "-" (a command
    given `./-` analysed whatever was piped in, or waited on the terminal)."""
    name = "./-" if str(p) == "-" else p
    return os.fsencode(name) if os.name == "posix" else str(name)


def _soundfile(p: Path) -> _FrontToBack:
    """The file opened for reading front to back (the samples of an unfinished WAV or CAF as such); AudioError if
    libsndfile cannot open it."""
    capture = _capture_file()  # an MP3 keeps it for its reads (_read)
    try:
        with _decoder_stderr([], capture):  # libmpg123's words on an MP3 cut short: said once a whole read ends short
            f = _FrontToBack(_libsndfile_name(p))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        if capture is not None:
            capture.close()
        msg = str(err).split(":")[-1].strip() or "unknown error"
        if "does not exist or is not a regular file" in msg or "Format not recognised" in msg:  # libsndfile's words
            name = _unread_format(p)                  # for bytes of no format it knows; the file is there and regular
            if name is not None:                      # (_check_path)
                out = p.with_suffix(".wav") if p.suffix.lower() != ".wav" else p.with_name(f"{p.stem}-converted.wav")
                how = (f"ffmpeg -i {shlex.quote(str(p))} {shlex.quote(str(out))}" if _named(p) == str(p)
                       else "with ffmpeg")  # a command of the name's control characters is no one line
                raise AudioError(f"{_named(p)}: {name} audio, a format speechseq does not read (it reads "
                                 f"{READ_FORMATS}): convert it first, e.g. {how}") from None
            raise AudioError(f"{_named(p)}: cannot decode audio: not audio in a format speechseq reads "
                             f"({READ_FORMATS}), or damaged; audio in another format can be converted first, e.g. "
                             f"with ffmpeg") from None
        if "malformed" in msg:  # libsndfile's words for an Ogg cut short in its headers, an unfinished CAF, others
            f = _unfinished_caf(p) or _cut_caf(p)
            if f is not None:
                return f
            cut = _ogg_cut_early(p)
            if cut is not None:
                raise cut from None
        raise _caf_untabled(p) or _caf_empty(p) or AudioError(f"{_named(p)}: cannot decode audio ({msg})") from None
    if f.format == "MP3":
        f._capture = capture
        return _mp3_whole(p, f)
    if capture is not None:
        capture.close()
    start = _unfinished_wav(p, f)
    if start is not None:
        source = _Samples(p, start)
        try:
            raw = _FrontToBack(source, format="RAW", samplerate=f.samplerate, channels=f.channels, subtype=f.subtype,
                               endian="LITTLE")
        except (sf.LibsndfileError, RuntimeError) as err:
            source.close()
            f.close()
            raise AudioError(f"{_named(p)}: cannot decode audio ({err})") from None
        raw._source = source
        f.close()
        f = raw
    return f


# The lowest file rate read. Speech is recorded at 8 kHz (telephone) and up; a rate below this is a damaged header
# or no recording (3 Hz upsampled 100,000 samples to 9.3 hours of "audio"), and holds nothing the models could hear.
MIN_FILE_RATE = 4000
# The highest file rate read: the highest any audio interface records. A rate above it is a damaged header (16,000
# samples said to be at 2,147,483,647 Hz resampled to none).
MAX_FILE_RATE = 768000


def _open(p: Path) -> _FrontToBack:
    f = _soundfile(p)
    if f.frames == 0 or f.samplerate <= 0:
        f.close()
        raise _ogg_cut_early(p) or _caf_untabled(p) or AudioError(f"{_named(p)}: contains no audio samples")
    if f.samplerate < MIN_FILE_RATE:
        f.close()
        raise AudioError(f"{_named(p)}: sample rate {f.samplerate} Hz, below the {MIN_FILE_RATE} Hz speechseq reads "
                         f"(speech is recorded at 8000 Hz or more): a damaged header, or not a recording")
    if f.samplerate > MAX_FILE_RATE:
        f.close()
        raise AudioError(f"{_named(p)}: sample rate {f.samplerate} Hz, above the {MAX_FILE_RATE} Hz speechseq reads "
                         f"(the highest any audio interface records): a damaged header, or not a recording")
    cut = _truncated(f) or f._cut
    if cut is not None:  # decoded as far as it goes, as other tools do, but not in silence
        said, held, what = cut
        warnings.warn(f"{_named(p)}: truncated (a copy or a recording cut short): its header promises {said:,} {what}, "
                      f"the file holds {held:,}; using the {f.frames / f.samplerate:.2f} s there",
                      SpeechseqWarning, stacklevel=3)
    return f


_SAID_STRETCHES = 3      # a file's damaged stretches read past (_resume) that are said, each in a warning
_NO_LENGTH = 2**63 - 1  # libsndfile's frames of a file whose header gives no length (a FLAC encoded to a pipe)
_PART = 1 << 20        # frames a read where there is no length to read at once


def _read(p: Path, f: _FrontToBack, n: int, start: int) -> tuple[np.ndarray, bool]:
    """The next `n` frames of `f` (fewer at its end), float32 (n, channels), which is at frame `start`; and whether
    the decoder failed part way and could not go on. A stretch of a FLAC that does not decode (damaged in the middle)
    is read as silence and the frames after it are read on (_resume), with a warning each; otherwise (a FLAC or MP3
    cut short: libsndfile decodes up to the fault, then reports "lost sync", and soundfile drops that read's frames)
    the frames up to the fault, with a warning, as a truncated WAV is read; AudioError where none decode."""
    parts = []
    if f.format == "OGG" and f._gaps is None:
        f._gaps = _ogg_gaps(p, f)
    while True:
        gap = f._gaps[0] if f._gaps else None  # an Ogg's next stretch of lost pages
        if start < f._at:  # the silence of a damaged stretch (_resume, _ogg_gaps), then the frames after it
            parts.append(np.zeros((min(n, f._at - start), f.channels), np.float32))
        elif gap is not None and gap[0] <= start:
            f._gaps.pop(0)
            f._at = start + gap[1]
            _stretch_said(p, f, "Ogg pages lost", start, gap[1])
            continue
        else:
            want = n if gap is None else min(n, gap[0] - start)
            x, damaged, resumed = _decode(p, f, want, start)
            parts.append(x)
            if not resumed and (len(x) < want or want == n):
                break
        start, n = start + len(parts[-1]), n - len(parts[-1])
        if n <= 0:
            damaged = False
            break
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)), damaged


def _decode(p: Path, f: _FrontToBack, n: int, start: int) -> tuple[np.ndarray, bool, bool]:
    """`_read`'s frames from `start` (at or after `f._at`) up to `n`, whether the decoder failed part way and whether
    it goes on (_resume) after the frames returned, with a damaged stretch to be read as silence first."""
    src = f._after or f
    notes: list[str] = []
    try:
        if f.format != "MP3":
            x = src.read(n, dtype="float32", always_2d=True)
            if len(x) < n and f.format == "OGG":
                _ogg_said(p, f, start + len(x))
            return x, False, False
        with _decoder_stderr(notes, f._capture):
            x = f.read(n, dtype="float32", always_2d=True)
        _mp3_said(p, f, notes, start, n, len(x))
        return x, False, False
    except (sf.LibsndfileError, RuntimeError) as err:
        error = AudioError(f"{_named(p)}: cannot decode audio ({err})")
        msg = str(err).split(":")[-1].strip() or "unknown error"
    try:  # where the decoder stopped, most decoders say (not libsndfile's MP3 decoder reading floats)
        hint = src.tell()  # a frame of the file: a decoder past a damaged stretch was sought there
    except (sf.LibsndfileError, RuntimeError):
        hint = start
    end = hint if start < hint <= start + n else start + n  # read to there, or to the first read that fails
    sure = max(start, end - (1 << 14) if end == hint else start)  # frames that decode for certain
    parts, pos = [], 0
    try:
        with _soundfile(p) as g, _decoder_stderr([], g._capture):  # the decoder's lines of the fault: said below
            if start and f.format == "FLAC":  # seeks to any frame that decodes: not through an earlier damaged stretch
                pos = g.seek(start)
            while pos < end:
                y = g.read(min(sure - pos, 1 << 16) if pos < sure else min(512, end - pos), dtype="float32",
                           always_2d=True)
                if not len(y):
                    break
                if pos + len(y) > start:
                    parts.append(y[max(0, start - pos):])
                pos += len(y)
    except (sf.LibsndfileError, RuntimeError, AudioError):
        pass
    x = np.concatenate(parts) if parts else np.zeros((0, f.channels), np.float32)
    sr, at = f.samplerate, (start + len(x)) / f.samplerate
    resumed = _resume(p, f, start + len(x))
    if resumed is None and start + len(x) == 0:
        raise error from None
    if resumed is not None:  # a damaged stretch, not the end: read on after it, its frames as silence
        g, f._at = resumed
        if f._after is not None:
            f._after.close()
        f._after = g
        _stretch_said(p, f, msg, start + len(x), f._at - start - len(x))
        return x, False, True
    if f._said:  # once a file
        return x, True, False
    f._said = True
    of = f" of {f.frames / sr:.2f} s" if f.frames != _NO_LENGTH else ""
    warnings.warn(f"{_named(p)}: damaged or cut short at {at:.2f} s{of} ({msg}); using the {at:.2f} s before",
                  SpeechseqWarning, stacklevel=4)
    return x, True, False


def _stretch_said(p: Path, f: _FrontToBack, why: str, at: int, frames: int) -> None:
    """A warning for the damaged stretch of `frames` at frame `at` that is read as silence: a file's first few."""
    f._stretches += 1
    if f._stretches <= _SAID_STRETCHES:  # a file damaged all over: a few lines, not one a stretch
        more = "; any more such stretches of it are read so too, unsaid" if f._stretches == _SAID_STRETCHES else ""
        sr = f.samplerate
        warnings.warn(f"{_named(p)}: damaged at {at / sr:.2f} s of {f.frames / sr:.2f} s ({why}): "
                      f"{frames / sr:.2f} s that do not decode are read as silence, then the rest{more}",
                      SpeechseqWarning, stacklevel=5)


def _resume(p: Path, f: _FrontToBack, fault: int) -> tuple[_FrontToBack, int] | None:
    """(a decoder of `p`, the frame it stands at): the first frame after `fault` that decodes again, where `f` is a
    FLAC whose decoder failed at `fault` on a damaged stretch (libFLAC cannot go on after "lost sync", but a fresh
    one seeks to a frame past the damage); None where none after it decodes (a file cut short) or `f` is no FLAC
    of known length. The frames between are found by probes: steps doubling from `fault` to the first frame that
    a decoder seeks to, then halving back to the earliest (a few dozen opens of the file, a millisecond each)."""
    if f.format != "FLAC" or f.frames == _NO_LENGTH or fault >= f.frames:
        return None

    def seek(at: int) -> _FrontToBack | None:
        try:
            g = _soundfile(p)
        except AudioError:
            return None
        try:
            g.seek(at)
            return g
        except (sf.LibsndfileError, RuntimeError):
            g.close()
            return None

    lo, step, hi = fault, 1024, None  # lo: a frame that does not decode (or the fault); hi: one that does
    while hi is None:
        at = min(fault + step, f.frames - 1)
        g = seek(at)
        if g is not None:
            g.close()
            hi = at
        elif at == f.frames - 1:
            return None
        else:
            lo, step = at, 2 * step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        g = seek(mid)
        if g is not None:
            g.close()
            hi = mid
        else:
            lo = mid
    g = seek(hi)
    return None if g is None else (g, hi)


def _ogg_frames(blob: bytes, serial: int, seq: int) -> int:
    """The frames libsndfile decodes from the bytes of an Ogg stream (a few of a file's pages, the last numbered
    `seq`). An empty page after them, of a granule position far beyond, keeps libsndfile from holding its reads
    to the length their last page gives (less the Opus pre-skip), which it counts from their first page."""
    end = bytearray(struct.pack("<4sBBqIIIB", b"OggS", 0, 0, 1 << 62, serial, seq + 1, 0, 0))
    end[22:26] = struct.pack("<I", ogg_crc(bytes(end)))
    n = 0
    with _FrontToBack(io.BytesIO(blob + bytes(end))) as g:
        while len(x := g.read(1 << 16, dtype="float32", always_2d=True)):
            n += len(x)
    return n


_CUT = "truncated (a copy, a download or a recording cut short)"


def _ogg_walk(p: Path) -> list[tuple[int, int, int, int, int, int]]:
    """The pages of the Ogg file `p` (ogg_pages); [] where it cannot be read."""
    try:
        return ogg_pages(p)
    except (OSError, ValueError):
        return []


def _ogg_cut(pages: list[tuple[int, int, int, int, int, int]]) -> bool:
    """Whether an Ogg file of `pages` is cut short (a download stopped, a recorder killed): its last page that holds
    does not end its stream, as every writer flags a stream's last page. libsndfile reads the pages there, its length
    taken from the last of them, and says nothing."""
    return bool(pages) and not pages[-1][5] & OGG_END


def _ogg_cut_said(p: Path, f: _FrontToBack, pages: list[tuple[int, int, int, int, int, int]]) -> None:
    """A warning where the Ogg file `p` (`f`, of `pages`) is cut short: the audio after its last page there is lost."""
    if _ogg_cut(pages):
        held = f"the {f.frames / f.samplerate:.2f} s there" if f.frames != _NO_LENGTH else "what is there"
        warnings.warn(f"{_named(p)}: {_CUT}: the end of its Ogg stream is missing; using {held}", SpeechseqWarning,
                      stacklevel=5)


def _ogg_cut_early(p: Path) -> AudioError | None:
    """The error of the file `p`, in which libsndfile finds no audio (no frames, or "malformed"), where it is an Ogg
    cut short before its first page of audio: truncated, not empty or damaged. None for any other file."""
    with contextlib.suppress(OSError), open(p, "rb") as fh:
        if fh.read(4) == b"OggS" and _ogg_cut(_ogg_walk(p)):
            return AudioError(f"{_named(p)}: {_CUT} before its first page of audio: no audio samples")
    return None


def _ogg_gaps(p: Path, f: _FrontToBack) -> list[tuple[int, int]]:
    """(frame, frames) of each stretch of the Ogg Vorbis or Opus file `f` whose pages are lost (damaged: their
    checksum fails; or missing), in the file's frames: where its decoder, which goes on after them without a word,
    is to read that much silence so that the frames after keep their times. The granule positions of the pages on
    either side give where and how long the stretch is, less the frames the decoder makes of the page after it:
    counted by decoding that page after the two before it (restarted after a hole, the decoder makes of a page
    what it does in the file). Pages lost before the first that decodes cannot be read as silence (libsndfile takes
    the stream to start there, as a live stream cut in may): a warning says how much is lost. [] where no page is
    lost, or the pages give no times (no length, more than one stream). A file cut short is said to be
    (_ogg_cut_said)."""
    pages = _ogg_walk(p)
    # a page numbered 0 after audio began opens another stream: files joined (a chained Ogg), of which libsndfile
    # reads the first alone, and the rest of the file was left out unsaid
    links = 1 + sum(pg[3] == 0 and any(q[2] > 0 for q in pages[:k]) for k, pg in enumerate(pages) if k)
    if links > 1:
        f._said = True
        warnings.warn(f"{_named(p)}: {links} Ogg streams one after another (files joined, or a radio stream saved): "
                      f"only the first, its {f.frames / f.samplerate:.2f} s, is read; the rest is left out",
                      SpeechseqWarning, stacklevel=4)
        return []
    _ogg_cut_said(p, f, pages)
    # the codec's headers: the pages that open the file up to the last of granule 0 (one a header packet only runs
    # on, as a comment of cover art does over several, is of granule -1: no packet ends on it)
    n = 0
    while n < len(pages) and pages[n][2] in (0, -1) and pages[n][3] == n:
        n += 1
    while n and pages[n - 1][2] != 0:
        n -= 1
    heads = pages[:n]
    if not heads or len(heads) == len(pages) or any(pg[4] != pages[0][4] for pg in pages) or f.frames == _NO_LENGTH:
        return []
    scale = f.samplerate / 48000 if f.subtype == "OPUS" else 1  # Opus counts granules at 48 kHz
    with open(p, "rb") as fh:
        def blob(*which) -> bytes:
            out = []
            for start, end, *_ in which:
                fh.seek(start)
                out.append(fh.read(end - start))
            return b"".join(out)

        head, first = blob(*heads), blob(heads[0])
        skip = struct.unpack("<H", first[first.find(b"OpusHead") + 10:][:2])[0] if b"OpusHead" in first else 0
        last = pages[-1][2]
        lead = round((last - skip) * scale) - f.frames  # the frames before the first that decodes
        if pages[len(heads)][3] != len(heads) and lead > 0:
            f._said = True
            sr = f.samplerate
            warnings.warn(f"{_named(p)}: damaged: its first {lead / sr:.2f} s did not decode and are left out (the "
                          f"times after are early by as much)", SpeechseqWarning, stacklevel=4)
        gaps = []
        for k in range(len(heads) + 1, len(pages)):
            a, b = pages[k - 1], pages[k]
            if b[3] == a[3] + 1 or a[2] < 0 or b[2] < 0:
                continue
            before = [pg for pg in pages[max(len(heads), k - 2):k] if pg[3] >= a[3] - 1]  # the pages up to it
            try:
                made = (_ogg_frames(head + blob(*before, b), b[4], b[3])
                        - _ogg_frames(head + blob(*before), a[4], a[3]))
            except (sf.LibsndfileError, RuntimeError):
                continue
            at = round(f.frames - (last - a[2]) * scale)
            frames = round((b[2] - a[2]) * scale) - made
            if b[5] & OGG_END:  # the frames made of the last page start at a packet's end on the stream's grid
                frames = _ogg_last_gap(head, blob(*before), blob(b), made, frames, scale)
            if 0 <= at < f.frames and frames > 0:
                gaps.append((at, frames))
    return gaps


def _ogg_last_gap(head: bytes, before: bytes, end: bytes, made: int, frames: int, scale: float) -> int:
    """The frames lost before the last page (`end`, after the pages `before`) of an Ogg Vorbis or Opus stream of
    header pages `head`, where the page follows a hole and the lost stretch is at least `frames` long (in the file's
    frames, `scale` of the stream's granules). The page's granule position is where its audio ends once the padding
    of its last packet is trimmed off; the decoder, restarted after the hole, cannot tell the padding (libsndfile:
    "we cannot know where we are without looking at the blocks of the previous page") and makes all the page's
    frames (`made`), padding too, so the stretch is `frames` and the padding long: to where the page's first packet
    ends, the first such end at or after where it would be were none of the frames padding.

    An Opus stream's packets last as long as those around the hole (20 ms as encoders write them), and its padding
    is less than a packet: that end is exact. A Vorbis packet of block size n after one of size m ends (m + n) / 4
    samples after it, so the page's first packet ends a quarter of its block and of the block of the last packet
    before the hole after that packet, and half the block of each lost packet more: a whole number of half short
    blocks, as a long block is a whole number of short ones (the setup header's modes give each packet's block
    size). The padding is less than the page's last packet's samples: where its last two blocks are short, half a
    short block, and that end is exact. Where they are long, more than one end fits; where the blocks either side of
    the hole are long and their packets say that their neighbours in it are long too (a stretch of long blocks,
    short ones being for sudden sounds), the end that lost long blocks alone make, else the first. Where the block
    sizes are not known (no setup header's modes read, or the page's blocks do not add up to `made`), packets end
    on multiples of a quarter of the short block, early still by whole quarters where the padding is longer."""
    at = head.find(b"\x01vorbis")
    if at < 0:  # Opus
        sizes = [opus_samples(x) for page in _page_split(before) for x in ogg_packets(page)]
        sizes += [opus_samples(x) for x in ogg_packets(end)[:-1]]  # its last packet may be shorter
        grid = max(1, round((math.gcd(*sizes) or 1) * scale))
        return -(-frames // grid) * grid
    # the identification header's byte 28 holds the blocks' sizes, log2 of the short one low
    short = 1 << (head[at + 28] & 0x0F) if at + 28 < len(head) else 4
    blocks = vorbis_blocks(head)
    last = [k for k in (vorbis_block(x, blocks) for x in ogg_stream_packets(before)) if k[0]][-1:] if blocks else []
    page = [k for k in (vorbis_block(x, blocks) for x in ogg_packets(end)) if k[0]] if blocks else []
    if not last or len(page) < 2 or sum(m[0] + n[0] for m, n in zip(page, page[1:])) // 4 != made:
        return -(-frames // (short // 4)) * (short // 4)
    long = blocks[1]
    base, step = (last[0][0] + page[0][0]) // 4, short // 2
    first = -(-max(0, frames - base) // step)  # in half short blocks
    if last[0][2] == page[0][1] == long:
        run = long // short  # half short blocks a lost long block makes
        first_long = -(-first // run) * run
        if (first_long - first) * step < (page[-2][0] + page[-1][0]) // 4 - (base + first * step - frames):
            first = first_long
    return base + first * step


def _page_split(blob: bytes) -> list[bytes]:
    """The Ogg pages of `blob` (whole pages, one after another)."""
    pages, pos = [], 0
    while pos + 27 <= len(blob):
        end = pos + 27 + blob[pos + 26] + sum(blob[pos + 27:pos + 27 + blob[pos + 26]])
        pages.append(blob[pos:end])
        pos = end
    return pages


def _ogg_said(p: Path, f: _FrontToBack, end: int) -> None:
    """One warning a file where an Ogg Vorbis or Opus file's decoding ended at frame `end`, before the length its
    last page gives (which a whole file decodes to exactly): its decoder skipped pages it could not read (damage
    inside the file) and went on without a word, the frames after them early by as many as were lost. A file cut
    short says no other length: its last page is the one there."""
    if f._said or end >= f.frames:
        return
    f._said = True
    sr = f.samplerate
    warnings.warn(f"{_named(p)}: damaged: {(f.frames - end) / sr:.2f} s of its {f.frames / sr:.2f} s did not decode "
                  f"and are left out (the times after the damage are early by as much)", SpeechseqWarning,
                  stacklevel=5)


def _mp3_said(p: Path, f: _FrontToBack, notes: list[str], start: int, n: int, got: int) -> None:
    """One warning a file, after a read of an MP3 (the `n` frames from `start`, of which `got` came): where the decoder
    skipped data (its `notes` of the read), or where the file ends well before the length its header promises (a file
    cut short: a whole one decodes to that length, one without a length header to within a few frames)."""
    if f._said:
        return
    sr, end = f.samplerate, start + got
    if notes:
        f._said = True
        warnings.warn(f"{_named(p)}: damaged: the MP3 decoder skipped data it could not decode (between "
                      f"{start / sr:.2f} s and {end / sr:.2f} s); using the audio around it", SpeechseqWarning,
                      stacklevel=5)
    elif got < n and f.frames - end > max(f.frames // 100, 2 * 1152):
        f._said = True
        warnings.warn(f"{_named(p)}: truncated (a copy or a recording cut short): its header promises "
                      f"{f.frames / sr:.2f} s, the file holds {end / sr:.2f} s; using the {end / sr:.2f} s there",
                      SpeechseqWarning, stacklevel=5)


# libsndfile's log of a WAV or AIFF whose audio chunk is shorter than its header says, e.g. "data : 165280 (should
# be 39956)". A header's size from 0x7FFFF000 up is a stream's "length unknown" (a recorder writing to a pipe: sox
# writes 0x7FFFF000, others 0x7FFFFFFF or 0xFFFFFFFF). Of a W64 or RF64 (files over 4 GB), whose data chunk's size
# libsndfile does not check against the file, the whole file's: "riff : 288104 (should be 144052)", "Riff size :
# ..." (64-bit sizes: from 2**62 up, none a file has).
_SHORT_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
_SHORT_FILE = re.compile(r"^\s*(?:riff|Riff size)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _truncated(f: sf.SoundFile) -> tuple[int, int, str] | None:
    """(bytes the header promises, bytes there, of what) when the file was cut short, else None."""
    m = _SHORT_CHUNK.search(f.extra_info)
    if m is not None:
        said, held = int(m.group(1)), int(m.group(2))
        return (said, held, "bytes of audio") if held < said < 0x7FFFF000 else None
    m = _SHORT_FILE.search(f.extra_info) if f.format in ("W64", "RF64") else None
    if m is not None:
        said, held = int(m.group(1)), int(m.group(2))
        return (said, held, "bytes") if held < said < 2**62 else None
    return None


def path_text(path: str | os.PathLike) -> str:
    """A path as text that any output takes: bytes of a file name that are not UTF-8 (a POSIX name may hold
    any) as U+FFFD. str() keeps them as lone surrogates, which neither print nor a UTF-8 file can write."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_all(p: Path, f: _FrontToBack, keep: bool = True) -> tuple[np.ndarray, int]:
    """All of `f`'s frames (none kept where not `keep`) and their number: one read of the frames its header gives,
    or reads to its end where it gives none."""
    if f.frames != _NO_LENGTH:
        x, _ = _read(p, f, f.frames, 0)
        return x, len(x)
    parts, pos = [], 0
    while True:
        x, damaged = _read(p, f, _PART, pos)
        pos += len(x)
        if keep:
            parts.append(x)
        if damaged or len(x) < _PART:
            return (np.concatenate(parts) if parts else x[:0]), pos


def audio_info(path: str | os.PathLike) -> AudioInfo:
    """Read the header only (and the samples, to count them, of a file whose header gives no length)."""
    p = _check_path(path)
    with _open(p) as f:
        frames = f.frames if f.frames != _NO_LENGTH else _read_all(p, f, keep=False)[1]
        return AudioInfo(p, f.samplerate, f.channels, frames, "WAV" if f.format == "RAW" else f.format)


def load_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode a whole file to float32 mono at `sr` Hz, at full scale 1.0: an integer file's samples within [-1, 1]
    but for the resampler's overshoot near full scale (a square wave at 0.999 read 1.19), a float file's as written,
    beyond 1 too. Shape (N,). Channels are mixed by `mix_live` (their mean, less any that is digital silence up to a
    sample). A broken float file's NaN and infinite samples come out as 0 and +-1 (finite_samples), before the
    resampler could spread them."""
    _check_rate(sr, "sr")
    p = _check_path(path)
    with _open(p) as f:
        native = f.samplerate
        x, _ = _read_all(p, f)
    if len(x) == 0:
        raise AudioError(f"{_named(p)}: contains no audio samples")
    return resample(finite_samples(mix_live(x)[0]), native, sr)


def stream_audio(path: str | os.PathLike, block_s: float = 10.0, sr: int = SAMPLE_RATE) -> Iterator[np.ndarray]:
    """Yield float32 mono blocks of about `block_s` seconds at `sr` Hz; memory is one block.

    Concatenating the blocks gives the same samples as `load_audio` up to the resampler's
    numerical noise (streamed soxr, no seams at block edges); NaN and infinite samples as there.
    """
    _check_rate(sr, "sr")
    if isinstance(block_s, bool) or not isinstance(block_s, (int, float, np.number)) or not 0 < block_s < float("inf"):
        # 0 or less read one frame at a time: a Python loop over every sample
        raise ValueError(f"block_s must be a positive number of seconds, got {block_s!r}")
    p = _check_path(path)
    with _open(p) as f:
        native = f.samplerate
        block = max(1, int(round(block_s * native)))
        rs = None if native == sr else soxr.ResampleStream(native, sr, 1, dtype="float32", quality="HQ")
        read = 0  # frames decoded: a file with some has audio, even where they resample to none (one at 44.1 kHz)
        left = f.frames  # the frames load_audio's one read is held to
        live = None  # the channels heard so far (mix_live): the blocks mix as load_audio's one read does
        while True:
            want = min(block, left)
            x, damaged = _read(p, f, want, read)
            left -= len(x)
            read += len(x)
            last = damaged or len(x) < want or left <= 0
            mono, live = mix_live(x, live)
            mono = finite_samples(mono)
            out = mono if rs is None else rs.resample_chunk(mono, last=last)
            if len(out):
                yield out.astype(np.float32, copy=False)
            if last:
                break
        if not read:
            raise AudioError(f"{_named(p)}: contains no audio samples")
