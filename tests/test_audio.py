"""Audio in: every format, rate, channel count and sample type decodes to float32 mono 16 kHz."""
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.audio import AudioError, audio_info, load_audio, stream_audio
from speechseq.errors import SpeechseqWarning

RATES = [8000, 16000, 22050, 44100, 48000]


def _tone(sr, seconds=1.0, channels=1, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([x] * channels, axis=1) if channels > 1 else x


def _check_tone(y, seconds=1.0, freq=440.0):
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 16000 * seconds) <= 2
    spectrum = np.abs(np.fft.rfft(y[1000:-1000]))
    peak_hz = spectrum.argmax() * 16000 / (len(y) - 2000)
    assert abs(peak_hz - freq) < 3
    assert 0.45 < np.abs(y[1000:-1000]).max() < 0.55


@pytest.mark.parametrize("sr", RATES)
@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_32", "FLOAT"])
def test_wav_any_rate_channels_and_sample_type(tmp_path, sr, channels, subtype):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(sr, channels=channels), sr, subtype=subtype)
    _check_tone(load_audio(path))


@pytest.mark.parametrize("fmt,ext,subtype", [("FLAC", "flac", "PCM_16"), ("OGG", "ogg", "VORBIS"),
                                             ("MP3", "mp3", "MPEG_LAYER_III")])
@pytest.mark.parametrize("sr", [22050, 44100, 48000])
def test_compressed_formats(tmp_path, fmt, ext, subtype, sr):
    path = tmp_path / f"x.{ext}"
    sf.write(path, _tone(sr, channels=2), sr, format=fmt, subtype=subtype)
    y = load_audio(path)
    # lossy codecs add delay/padding: check rate and content, allowing a few ms of length slack
    assert y.dtype == np.float32 and abs(len(y) - 16000) < 0.08 * 16000
    spectrum = np.abs(np.fft.rfft(y[2000:14000]))
    assert abs(spectrum.argmax() * 16000 / 12000 - 440) < 3


def test_stereo_is_averaged_but_a_dead_channel_does_not_halve_the_voice(tmp_path):
    """Two live channels are mixed as their mean. A file whose right channel is digital silence throughout (a USB
    microphone that fills only its left channel) was read at half the voice's amplitude (6 dB low), as its mean
    with the silence; its voice is read at its level now, whole or streamed, at any rate."""
    left = _tone(16000)
    right = 0.2 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)
    path = tmp_path / "lr.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    assert np.allclose(load_audio(path), (left + right) / 2, atol=1e-6)
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 16000, subtype="FLOAT")
    assert np.allclose(load_audio(path), left, atol=1e-6)
    assert np.allclose(np.concatenate(list(stream_audio(path, block_s=0.3))), left, atol=1e-6)
    loud = tmp_path / "r44.wav"                                       # 16-bit, right only, resampled
    sf.write(loud, np.stack([np.zeros(44100), _tone(44100)], axis=1), 44100, subtype="PCM_16")
    _check_tone(load_audio(loud))
    _check_tone(np.concatenate(list(stream_audio(loud, block_s=0.3))))


def test_mix_live_leaves_out_channels_that_carried_nothing_so_far():
    """mix_live: the mean of the channels live so far in a stream (a channel is live from its first sample above
    -90 dBFS, and stays so), every channel's mean where none is; the result does not depend on how a stream is cut."""
    from speechseq.audio import mix_live, to_mono

    rng = np.random.default_rng(7)
    x = (0.1 * rng.standard_normal((3000, 2))).astype(np.float32)
    y, live = mix_live(x)
    assert np.array_equal(y, to_mono(x)) and live == (True, True)                      # a normal stereo: the mean
    dead = x.copy()
    dead[:, 1] = 0.0
    y, live = mix_live(dead)
    assert np.array_equal(y, x[:, 0]) and live == (True, False)                        # not x[:, 0] / 2
    ints = (dead * 32768).astype(np.int16)
    ints[::2, 1] = 1                                                                 # 1 LSB of 16-bit: no sound
    y, live = mix_live(ints)
    assert np.array_equal(y, ints[:, 0] / np.float32(32768)) and not live[1]
    late = x.copy()
    late[:1000, 1] = 0.0                                                             # the right channel comes in
    y, live = mix_live(late)                                                         # at sample 1000
    assert np.array_equal(y[:1000], x[:1000, 0]) and np.array_equal(y[1000:], to_mono(late[1000:]))
    a, state = mix_live(late[:700])                                                  # cut anywhere: the same
    b, state = mix_live(late[700:1500], state)
    c, state = mix_live(late[1500:], state)
    assert np.array_equal(np.concatenate([a, b, c]), y) and state == (True, True)
    gated = x.copy()
    gated[1000:2000, 1] = 0.0                                                        # live once, in the mix for good
    state, parts = None, []
    for i in range(0, 3000, 500):
        part, state = mix_live(gated[i : i + 500], state)
        parts.append(part)
    assert np.array_equal(np.concatenate(parts), to_mono(gated))
    quiet = np.full((10, 2), 1e-6, np.float32)                                       # nothing live: the mean
    assert np.array_equal(mix_live(quiet)[0], to_mono(quiet))
    assert np.array_equal(mix_live(x[:, 0])[0], x[:, 0])                             # mono as it is
    assert mix_live(np.zeros((0, 2), np.float32), (True, False))[1] == (True, False)  # an empty block keeps state
    with pytest.raises(ValueError, match="shape"):
        mix_live(np.zeros((2, 2, 2), np.float32))


@pytest.mark.parametrize("sr", [16000, 44100])
def test_blocks_equal_whole_file(tmp_path, sr):
    path = tmp_path / "long.flac"
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(sr * 7)).astype(np.float32)
    sf.write(path, x, sr, subtype="PCM_16")
    whole = load_audio(path)
    blocks = list(stream_audio(path, block_s=0.73))
    assert max(len(b) for b in blocks) <= int(0.73 * 16000) + 400
    joined = np.concatenate(blocks)
    assert abs(len(joined) - len(whole)) <= 2
    n = min(len(joined), len(whole))
    assert np.abs(joined[:n] - whole[:n]).max() < 2e-3  # streamed vs one-shot soxr: same filter


@pytest.mark.parametrize("sr", [16000, 44100, 48000])
def test_a_one_sample_file_is_read_as_load_audio_reads_it(tmp_path, sr):
    """One sample at 44.1 kHz resamples to none at 16 kHz: stream_audio called the file empty ("contains no
    audio samples", a failed file in `transcribe` and `detect`) where load_audio returned it; a one-sample
    16 kHz file was read by both."""
    path = tmp_path / "one.wav"
    sf.write(path, np.array([0.1], np.float32), sr)
    whole = load_audio(path)
    joined = np.concatenate([np.zeros(0, np.float32), *stream_audio(path)])
    assert len(whole) <= 1 and len(joined) == len(whole)


def test_info_reads_header_only(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(22050, seconds=2.0, channels=2), 22050)
    info = audio_info(path)
    assert (info.sample_rate, info.channels) == (22050, 2) and info.duration == pytest.approx(2.0)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="empty"):
        load_audio(tmp_path / "empty.wav")
    (tmp_path / "text.wav").write_text("this is not audio at all\n" * 20)
    with pytest.raises(AudioError, match="cannot decode"):
        load_audio(tmp_path / "text.wav")
    with pytest.raises(AudioError, match="directory"):
        load_audio(tmp_path)
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000), 16000)
    (tmp_path / "cut.wav").write_bytes(good.read_bytes()[:30])
    with pytest.raises(AudioError):
        load_audio(tmp_path / "cut.wav")
    header_only = tmp_path / "header.wav"
    sf.write(header_only, np.zeros(0), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(header_only)


def test_truncated_wav_keeps_what_is_there(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000, seconds=2.0), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[: 44 + 2 * 16000])  # header says 2 s, 1 s of data remains
    with pytest.warns(SpeechseqWarning, match=r"truncated.*promises 64,000 bytes.*holds 32,000; using the 1.00 s"):
        y = load_audio(cut)
    assert abs(len(y) - 16000) <= 2


def test_truncated_wav_is_one_warning_line_and_the_batch_goes_on(tmp_path, capsys):
    from speechseq.cli import main

    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000, seconds=2.0), 16000, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[: 44 + 2 * 16000])
    assert main(["detect", "--json", str(cut), str(good)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(x)["duration"] for x in out.splitlines()] == [1.0, 2.0]
    assert err.count("speechseq: warning:") == 1 and "cut.wav: truncated" in err and "Warning" not in err


def test_a_stream_header_of_unknown_length_is_not_truncation(tmp_path, recwarn):
    import struct

    pcm = (_tone(16000) * 3000).astype("<i2").tobytes()   # a recorder writing to a pipe: sizes 0xFFFFFFFF
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    path = tmp_path / "pipe.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", 0xFFFFFFFF) + pcm)
    assert len(load_audio(path)) == 16000
    sox = path.read_bytes().replace(struct.pack("<I", 0xFFFFFFFF), struct.pack("<I", 0x7FFFF000))  # sox's marker
    path.write_bytes(sox)
    assert len(load_audio(path)) == 16000
    assert not [w for w in recwarn if issubclass(w.category, SpeechseqWarning)]


def test_finite_samples_passes_finite_audio_through_and_mends_the_rest():
    from speechseq.audio import finite_samples

    x = np.array([0.1, -0.2, 0.3], np.float32)
    assert finite_samples(x) is x                                   # no copy on the usual path
    bad = np.array([np.nan, np.inf, -np.inf, 0.25], np.float32)
    assert finite_samples(bad).tolist() == [0.0, 1.0, -1.0, 0.25]
    assert np.isnan(bad[0])                                         # the caller's array is left as it was
    with np.errstate(over="raise"):                                 # no overflow warning of its own
        huge = finite_samples(np.array([1e17, -3e38, 5e3, 0.1], np.float32))  # would overflow the frontend's power
    assert huge.tolist() == pytest.approx([1e15, -1e15, 5e3, 0.1], rel=1e-6)
    loud = np.full(16000, 1e13, np.float32)                         # sum of squares over 1e30, samples harmless:
    mended = finite_samples(loud)                                   # a copy, the same samples (chunks don't matter)
    assert mended is not loud and np.array_equal(mended, loud)


@pytest.mark.parametrize("rate", [16000, 22050])
def test_broken_float_file_reads_as_finite_samples(tmp_path, rate):
    """NaN and infinities in a float WAV come out as 0 and +-1, whole or streamed, before any resampler (which would
    spread a NaN over its filter's length); `speechseq detect` on it gives its events with no numpy warning."""
    import subprocess
    import sys

    x = 0.3 * _tone(rate, seconds=3.0)
    x[[100, rate, rate + 1, 2 * rate]] = [np.nan, np.inf, -np.inf, np.nan]
    path = tmp_path / "broken.wav"
    sf.write(path, x.astype(np.float32), rate, subtype="FLOAT")
    whole = load_audio(path)
    streamed = np.concatenate(list(stream_audio(path, block_s=0.7)))
    assert np.isfinite(whole).all() and np.isfinite(streamed).all()
    assert abs(len(whole) - 48000) <= 2 and np.abs(whole).max() <= 1.5
    if rate == 16000:                                                # no resampler: exactly the stand-ins
        assert whole[[100, 16000, 16001, 32000]].tolist() == [0.0, 1.0, -1.0, 0.0]
        np.testing.assert_array_equal(streamed, whole)
    r = subprocess.run([sys.executable, "-W", "default", "-m", "speechseq", "detect", "--json", str(path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Warning" not in r.stderr, r.stderr
    assert json.loads(r.stdout)["duration"] == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_to_mono_is_the_channel_mean(channels):
    from speechseq.audio import to_mono

    rng = np.random.default_rng(channels)
    x = rng.standard_normal((4001, channels)).astype(np.float32) * np.geomspace(1e-3, 1e3, channels, dtype=np.float32)
    y = to_mono(x)
    assert y.dtype == np.float32 and y.shape == (4001,)
    assert np.array_equal(y, x.mean(axis=1, dtype=np.float32))
    assert np.array_equal(to_mono(x.astype(np.float64)), y)   # converted first, then mixed
    assert np.array_equal(to_mono(x[:, 0]), x[:, 0])


@pytest.mark.parametrize("sr", [16000, 44100])
def test_mp3_blocks_equal_whole_file(tmp_path, capfd, sr):
    """soundfile seeks back to where a read ended after every read, and libsndfile's MP3 decoder takes each such seek
    afresh: the frames after a block edge were decoded without their bit reservoir (glitches of half full scale for
    a tenth of a second and libmpg123 errors on stderr). Read front to back, the blocks are the file's samples."""
    path = tmp_path / "tone.mp3"
    sf.write(path, _tone(sr, seconds=4.0), sr, format="MP3", subtype="MPEG_LAYER_III")
    whole = load_audio(path)
    capfd.readouterr()
    joined = np.concatenate(list(stream_audio(path, block_s=1.0)))
    assert len(joined) == len(whole)
    assert np.abs(joined - whole).max() < 1e-5
    assert "mpg123" not in capfd.readouterr().err


@pytest.mark.parametrize("name", ["noise.mp3", "noise.wav", "photo.flac"])
def test_binary_junk_is_not_called_missing(tmp_path, name):
    """libsndfile answers bytes that are no audio format it knows with "File does not exist or is not a regular file":
    the file is there (checked first), so the message says what is wrong with it instead."""
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
        with pytest.raises(AudioError, match="cannot decode audio") as err:
            read(path)
        assert "does not exist" not in str(err.value) and "not audio in a format" in str(err.value)


@pytest.mark.parametrize("fmt,subtype", [("WAV", "GSM610"), ("WAV", "NMS_ADPCM_16"), ("AU", "G721_32"),
                                         ("AIFF", "DWVW_16")])
def test_codecs_libsndfile_decodes_only_front_to_back_load_whole(tmp_path, fmt, subtype):
    """GSM 6.10 (telephony), G.721, NMS ADPCM and DWVW files are not seekable or cannot seek to their end in
    libsndfile: load_audio's read of "all frames" raised ValueError ("frames must be specified for non-seekable
    files", a traceback) or "cannot decode audio (Internal psf_fseek() failed.)" where stream_audio read them."""
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(path, _tone(8000, seconds=1.0), 8000, format=fmt, subtype=subtype)
    whole = load_audio(path)
    joined = np.concatenate(list(stream_audio(path, block_s=0.3)))
    assert len(whole) == len(joined) and np.abs(whole - joined).max() < 1e-5
    _check_tone(whole[:16000])


def test_a_symlink_loop_is_not_called_missing(tmp_path):
    (tmp_path / "a.wav").symlink_to(tmp_path / "b.wav")
    (tmp_path / "b.wav").symlink_to(tmp_path / "a.wav")
    for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
        with pytest.raises(AudioError, match=r"a\.wav: cannot read \(Too many levels of symbolic links\)"):
            read(tmp_path / "a.wav")


def test_a_file_or_folder_without_permission_is_an_audio_error(tmp_path):
    """A file without read permission said "cannot decode audio (System error.)" (the file may be fine audio); one in
    a folder without search permission raised PermissionError, no AudioError: `detect` stopped its batch there.
    Root reads any file: there the check runs in a child without the capabilities that let it (setpriv)."""
    import shutil
    import subprocess
    import sys

    sf.write(tmp_path / "locked.wav", _tone(16000), 16000)
    (tmp_path / "locked.wav").chmod(0)
    (tmp_path / "shut").mkdir()
    sf.write(tmp_path / "shut" / "x.wav", _tone(16000), 16000)
    (tmp_path / "shut").chmod(0o600)
    try:
        try:
            (tmp_path / "locked.wav").open("rb").close()
        except PermissionError:
            _permission_errors(tmp_path)
            return
        if shutil.which("setpriv") is None:
            pytest.skip("this user reads any file (root) and there is no setpriv to drop that")
        code = f"from pathlib import Path; from tests.test_audio import _permission_errors; _permission_errors(Path({str(tmp_path)!r}))"
        r = subprocess.run(["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable, "-c", code],
                           capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
        assert r.returncode == 0, r.stderr[-1500:]
    finally:
        (tmp_path / "shut").chmod(0o755)


def _permission_errors(tmp_path: Path) -> None:
    for path in (tmp_path / "locked.wav", tmp_path / "shut" / "x.wav"):
        for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
            with pytest.raises(AudioError, match=r"\.wav: cannot read \(Permission denied\)"):
                read(path)


@pytest.mark.parametrize("fmt", ["FLAC", "MP3"])
def test_a_compressed_file_cut_short_keeps_what_decodes(tmp_path, fmt):
    """A FLAC file cut short (a copy or a download interrupted): libsndfile decodes up to the cut, then reports
    "flac decoder lost sync", and soundfile drops the frames of that read: load_audio refused the whole file and
    stream_audio its last block. Now both give the samples up to the cut, with a warning, like a truncated WAV."""
    rng = np.random.default_rng(5)
    x = (0.2 * rng.standard_normal(16000 * 3)).astype(np.float32)
    good = tmp_path / f"good.{fmt.lower()}"
    sf.write(good, x, 16000, format=fmt, subtype="PCM_16" if fmt == "FLAC" else "MPEG_LAYER_III")
    ref = load_audio(good)
    cut = tmp_path / f"cut.{fmt.lower()}"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) // 2] if fmt == "FLAC" else
                    data[: len(data) // 3] + bytes(range(256)) * 8 + data[len(data) // 2 :])  # a cut, a damaged span
    with pytest.warns(SpeechseqWarning, match=r"cut\.\w+: damaged or cut short at \d\.\d\d s of 3\.\d\d s"):
        whole = load_audio(cut)
    with pytest.warns(SpeechseqWarning, match="damaged or cut short"):
        joined = np.concatenate(list(stream_audio(cut, block_s=0.4)))
    assert 0.8 * 16000 < len(whole) < 1.6 * 16000
    np.testing.assert_array_equal(joined, whole)
    np.testing.assert_allclose(whole[:8000], ref[:8000], atol=1e-6)   # the samples the file holds, unchanged


def _riff(data_size: int, pcm: bytes, after: bytes = b"") -> bytes:
    import struct

    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    body = b"WAVEfmt " + fmt + b"data" + struct.pack("<I", data_size) + pcm + after
    return b"RIFF" + struct.pack("<I", 36 if data_size == 0 else len(body)) + body


def test_a_recording_whose_header_was_never_finished_is_read_to_its_end(tmp_path, recwarn):
    """A recorder writes a WAV header with a data size of 0 and fills it in when it closes the file (libsndfile,
    Python's wave): one killed, or still recording, leaves a size of 0 before all its audio. That read as "contains
    no audio samples"; like ffmpeg, the samples after the header are read to the end of the file now, whole or
    streamed. A data chunk that really is empty (another chunk follows it) still holds no audio."""
    pcm = (_tone(16000, seconds=1.5) * 3000).astype("<i2")
    path = tmp_path / "rec.wav"
    path.write_bytes(_riff(0, pcm.tobytes()))
    whole = load_audio(path)
    assert np.array_equal(whole, pcm / np.float32(32768))
    assert np.array_equal(np.concatenate(list(stream_audio(path, block_s=0.4))), whole)
    assert audio_info(path).frames == 24000
    path.write_bytes(_riff(0, pcm.tobytes() + b"\x01"))                 # a recorder stopped in a sample's middle
    assert np.array_equal(load_audio(path), whole)
    assert not [w for w in recwarn if issubclass(w.category, SpeechseqWarning)]
    empty = tmp_path / "empty.wav"
    empty.write_bytes(_riff(0, b"", b"LIST\x04\x00\x00\x00INFO"))
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(empty)


@pytest.mark.parametrize("fmt", ["W64", "RF64"])
def test_a_truncated_w64_or_rf64_is_said_to_be(tmp_path, fmt):
    """The formats for files over 4 GB were cut short in silence (only a WAV's or AIFF's short data chunk warned)."""
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000, seconds=2.0), 16000, format=fmt, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    data = good.read_bytes()
    cut.write_bytes(data[: len(data) - 32000])
    with pytest.warns(SpeechseqWarning, match=r"cut\.wav: truncated .*promises .* bytes.*; using the 1\.\d\d s"):
        y = load_audio(cut)
    assert abs(len(y) - 16000) <= 30


@pytest.mark.parametrize("name, head, said", [
    ("voice.m4a", b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A mp42isom\x00\x00\x00\x00", "MP4/M4A"),
    ("voice.aac", b"\xff\xf1\x50\x80\x02\x1f\xfc", "AAC"),
    ("clip.webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "Matroska/WebM"),
    ("memo.dat", b"#!AMR\n", "AMR")])
def test_an_unsupported_container_is_named_with_the_formats_read_and_a_conversion(tmp_path, name, head, said):
    """A phone's voice memo (m4a: AAC in MP4) said "cannot decode audio (Format not recognised.)", as a damaged file
    does: the format is named as one speechseq does not read, with the ones it does and a way to convert it."""
    path = tmp_path / name
    path.write_bytes(head + np.random.default_rng(2).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
        with pytest.raises(AudioError) as err:
            read(path)
        msg = str(err.value)
        assert msg.startswith(f"{path}: {said} audio, a format speechseq does not read"), msg
        assert "WAV, FLAC, OGG" in msg and "MP3" in msg and f"ffmpeg -i {path} {path.with_suffix('.wav')}" in msg
        assert "\n" not in msg and "Format not recognised" not in msg


def _cut_mp3(tmp_path: Path) -> tuple[Path, Path]:
    good = tmp_path / "good.mp3"
    sf.write(good, _tone(16000, seconds=5.0), 16000, format="MP3", subtype="MPEG_LAYER_III")
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    return good, cut


def test_an_mp3_cut_short_is_one_warning_line_without_the_decoders_own(tmp_path, capfd):
    """An MP3 cut off (a download stopped) printed libmpg123's "Warning: Xing stream size off by more than 1%, fuzzy
    seeking may be even more fuzzy than by design!" on stderr at each open, outside speechseq's format, and nothing
    said the file was cut off: the header promises 5 s, 2.27 s are there. Now one warning says so."""
    good, cut = _cut_mp3(tmp_path)
    for read in (load_audio, lambda p: np.concatenate(list(stream_audio(p, block_s=1.0)))):
        with pytest.warns(SpeechseqWarning, match=r"cut\.mp3: truncated \(a copy or a recording cut short\): its "
                                                  r"header promises 5\.00 s, the file holds 2\.\d\d s") as caught:
            y = read(cut)
        assert len(caught) == 1 and 2.0 * 16000 < len(y) < 2.6 * 16000
        assert audio_info(cut).duration == pytest.approx(5.0)
    err = capfd.readouterr().err
    assert "Xing" not in err and "Warning:" not in err and "Note:" not in err, err
    for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):   # a whole MP3: no word of it
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            read(good)


def test_an_mp3_cut_short_is_one_line_in_a_batch(tmp_path):
    """The same through a command: libmpg123 writes to the process's stderr (fd 2), below Python."""
    import subprocess
    import sys

    good, cut = _cut_mp3(tmp_path)
    r = subprocess.run([sys.executable, "-m", "speechseq", "features", "--json", str(cut), str(good)],
                       capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[1])
    assert r.returncode == 0, r.stderr
    assert [round(json.loads(x)["duration"]) for x in r.stdout.splitlines()] == [2, 5]
    assert r.stderr.splitlines() == [line for line in r.stderr.splitlines() if line.startswith("speechseq: warning:")]
    assert r.stderr.count("\n") == 1 and "cut.mp3: truncated" in r.stderr, r.stderr


def test_a_damaged_mp3_is_said_to_be_without_the_decoders_lines(tmp_path, capfd):
    """A span of junk inside an MP3: libmpg123 skips it, printing "Note: Illegal Audio-MPEG-Header ...", "Note: Trying
    to resync..." and "[src/libmpg123/layer3.c:...] error: ..." on stderr. One warning line says so instead."""
    good = tmp_path / "good.mp3"
    sf.write(good, _tone(16000, seconds=5.0), 16000, format="MP3", subtype="MPEG_LAYER_III")
    data = bytearray(good.read_bytes())
    data[3000:3400] = bytes(range(256)) + bytes(144)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(bytes(data))
    capfd.readouterr()
    with pytest.warns(SpeechseqWarning, match=r"bad\.mp3: damaged: the MP3 decoder skipped data it could not "
                                              r"decode") as caught:
        y = load_audio(bad)
    assert len(caught) == 1 and 4.0 * 16000 < len(y) <= 5.0 * 16000
    err = capfd.readouterr().err
    assert "mpg123" not in err and "Note:" not in err and "resync" not in err, err


def test_float_samples_scales_integer_audio_to_full_scale_one():
    from speechseq.audio import float_samples

    assert float_samples(np.array([-32768, 0, 16384], np.int16)).tolist() == [-1.0, 0.0, 0.5]
    assert float_samples(np.array([0, 128, 192], np.uint8)).tolist() == [-1.0, 0.0, 0.5]
    assert float_samples(np.array([-(2 ** 31), 2 ** 30], np.int32)).tolist() == [-1.0, 0.5]
    x = np.array([0.25, -0.5], np.float64)
    assert float_samples(x).dtype == np.float32 and float_samples(x).tolist() == [0.25, -0.5]
    y = np.zeros(4, np.float32)
    assert float_samples(y) is y  # the hot path copies nothing
    with pytest.raises(ValueError, match="booleans"):
        float_samples(np.array([True, False]))
    # a list says no sample type (numpy would make its ints int64, then near-silence): its numbers as they are
    assert float_samples([0, 1, -1]).tolist() == [0.0, 1.0, -1.0]
    assert float_samples((0.5, 2)).dtype == np.float32


def test_models_given_int16_arrays_hear_them_as_the_same_audio_in_floats():
    """Recognizer.recognize, Detector.step and Listener.step took int16 arrays (a driver's, a WAV read as int16)
    unscaled: 2 ln 32768 (about 20.8) high in every log-mel band, where the recogniser has no normalisation."""
    from speechseq.runtime.detector import Detector
    from speechseq.runtime.recognizer import Recognizer

    root = Path(__file__).resolve().parents[1]
    audio, sr = sf.read(root / "data" / "samples" / "activate_kitchen_lights.wav", dtype="int16")
    assert sr == 16000
    floats = audio.astype(np.float32) / 32768
    rec = Recognizer(root / "models" / "recognizer-en.int8.onnx")
    assert rec.recognize(audio).text == rec.recognize(floats).text != ""
    det = Detector.load([root / "models" / "activate.onnx"])
    post_i, post_f = [[]], [[]]
    det.step(audio[:32000], det.initial_state(), post_i)
    det.step(floats[:32000], det.initial_state(), post_f)
    np.testing.assert_allclose(np.concatenate(post_i[0]), np.concatenate(post_f[0]), atol=1e-6)


def test_an_mp3_stream_opens_one_temporary_file_not_one_a_block(tmp_path, monkeypatch, capfd):
    """libmpg123's lines on fd 2 are captured in a temporary file around each read of an MP3: stream_audio made a
    new one for every block (a file created and deleted every block of a two-hour file). One serves a stream now."""
    import tempfile

    path = tmp_path / "tone.mp3"
    sf.write(path, _tone(16000, seconds=4.0), 16000, format="MP3", subtype="MPEG_LAYER_III")
    whole = load_audio(path)
    real, made = tempfile.TemporaryFile, []
    monkeypatch.setattr(tempfile, "TemporaryFile", lambda *a, **k: made.append(1) or real(*a, **k))
    blocks = list(stream_audio(path, block_s=0.25))
    assert len(blocks) >= 16 and len(made) == 1
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 400] = bytes(range(256)) + bytes(144)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(bytes(data))
    made.clear()
    with pytest.warns(SpeechseqWarning, match=r"bad\.mp3: damaged: the MP3 decoder skipped data") as caught:
        assert len(np.concatenate(list(stream_audio(bad, block_s=0.25)))) > 3.5 * 16000
    assert len(caught) == 1 and len(made) == 1
    # the decoder's lines are those of the block with the damage, not of the blocks the capture served before
    start, end = map(float, re.search(r"between (\S+) s and (\S+) s", str(caught[0].message)).groups())
    assert end - start == pytest.approx(0.25) and 1.0 < start < 3.0
    err = capfd.readouterr().err
    assert "mpg123" not in err and "Note:" not in err and "resync" not in err, err


def test_a_flac_of_unknown_length_is_read_to_its_end(tmp_path):
    """A FLAC encoded to a pipe (`flac -`, `ffmpeg ... -f flac pipe:`, a recorder's stream) cannot go back to write
    its length: its header says 0 samples, "unknown", which libsndfile gives as 2**63 - 1 frames. load_audio asked
    for them all in one read and raised numpy's "array is too big" ValueError (a traceback: a batch or a training
    run stopped there); audio_info said 5.8e14 s. Both read it to its end now, as stream_audio did."""
    x = 0.3 * _tone(16000, seconds=2.0)
    sf.write(tmp_path / "known.flac", x, 16000, subtype="PCM_16")
    data = bytearray((tmp_path / "known.flac").read_bytes())
    assert data[:4] == b"fLaC" and int.from_bytes(data[21:26], "big") & 0xFFFFFFFFF == 32000   # STREAMINFO's length
    data[21] &= 0xF0
    data[22:26] = bytes(4)
    path = tmp_path / "piped.flac"
    path.write_bytes(bytes(data))
    with sf.SoundFile(path) as f:
        assert f.frames == 2**63 - 1
    whole = load_audio(path)
    np.testing.assert_array_equal(whole, load_audio(tmp_path / "known.flac"))
    np.testing.assert_array_equal(np.concatenate(list(stream_audio(path, block_s=0.3))), whole)
    info = audio_info(path)
    assert info.frames == 32000 and info.duration == 2.0
    path.write_bytes(bytes(data[: len(data) // 2]))                  # and cut short: no length to name in the warning
    for read in (load_audio, lambda p: np.concatenate(list(stream_audio(p, block_s=0.3)))):
        with pytest.warns(SpeechseqWarning, match=r"piped\.flac: damaged or cut short at \d\.\d\d s \(") as caught:
            assert 0.5 * 16000 < len(read(path)) < 1.5 * 16000
        assert len(caught) == 1


def test_a_block_of_no_channels_is_refused_with_its_shape():
    """An (N, 0) array (a selection of no channels) raised IndexError from inside to_mono, not the ValueError naming
    the shape that its docstring promises for a shape it does not take."""
    from speechseq.audio import mix_live, to_mono

    for mix in (to_mono, lambda x: mix_live(x)[0]):
        with pytest.raises(ValueError, match=r"got shape \(5, 0\)"):
            mix(np.zeros((5, 0), np.float32))


def test_a_pipe_or_a_device_is_not_called_an_empty_file(tmp_path):
    """A named pipe or process substitution (`speechseq detect <(ffmpeg -i memo.m4a -f wav -)`), or a device, was
    said to be "file is empty" (its size is 0), when it may hold audio that speechseq does not read from there
    (libsndfile reads some formats from a pipe, not FLAC or MP3, whose decoders seek). The message says what it is."""
    import os

    fifo = tmp_path / "audio.wav"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/null")):
        for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
            with pytest.raises(AudioError, match=r": not a regular file \(a pipe or a device\)") as err:
                read(path)
            assert "empty" not in str(err.value)


@pytest.mark.parametrize("rate", [1, 3, 1000, 3999])
def test_a_rate_too_low_for_speech_is_refused_naming_the_file_and_its_rate(tmp_path, rate):
    """A WAV whose header says 3 Hz (a damaged header, or not a recording) was upsampled and streamed as a file
    5,333 times as long: 100,000 samples at 3 Hz read as 9.3 hours, without a word. Rates below 4000 Hz (none that
    speech is recorded at: telephone speech is 8 kHz) are refused with one line naming the file and its rate."""
    path = tmp_path / "odd.wav"
    sf.write(path, np.zeros(max(4, rate // 10), np.float32), rate, subtype="PCM_16")
    for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
        with pytest.raises(AudioError) as err:
            read(path)
        msg = str(err.value)
        assert msg.startswith(f"{path}: sample rate {rate} Hz") and "4000 Hz" in msg and "\n" not in msg, msg
    sf.write(path, _tone(4000, seconds=1.0), 4000, subtype="PCM_16")   # the lowest rate read
    assert len(load_audio(path)) == 16000 and audio_info(path).sample_rate == 4000


def test_a_rate_too_low_in_a_batch_is_reported_and_skipped(tmp_path, capsys):
    from speechseq.cli import main

    slow = tmp_path / "slow.wav"
    sf.write(slow, np.zeros(100000, np.float32), 3, subtype="PCM_16")
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000, seconds=2.0), 16000, subtype="PCM_16")
    code = main(["detect", "--json", str(slow), str(good)])
    out, err = capsys.readouterr()
    assert [json.loads(x)["duration"] for x in out.splitlines()] == [2.0]
    assert code != 0 and "slow.wav: sample rate 3 Hz" in err and err.count("\n") == 1, err


def _damage(data: bytes, at: float) -> bytes:
    """`data` with 400 bytes at the fraction `at` of it overwritten with junk."""
    out = bytearray(data)
    i = int(len(out) * at)
    out[i : i + 400] = bytes(range(256)) + bytes(144)
    return bytes(out)


def _stretches_said(said: list[str], path, total: str, why: str) -> list[tuple[float, float]]:
    """(where, how long) in s of each damaged stretch the warnings `said` of `path` name as read as silence: each line
    as audio._stretch_said writes it, for a file of `total` ("6.00") s damaged for the reason `why`."""
    lost = []
    for line in said:
        m = re.fullmatch(rf"{re.escape(str(path))}: damaged at (\d+\.\d\d) s of {re.escape(total)} s "
                         rf"\({re.escape(why)}\): (\d+\.\d\d) s that do not decode are read as silence, then the rest",
                         line)
        assert m, line
        lost.append((float(m.group(1)), float(m.group(2))))
    return lost


def test_a_damaged_stretch_inside_a_flac_loses_only_that_stretch(tmp_path):
    """Junk in the middle of a FLAC (a bad sector, a damaged download): libsndfile's decoder reports "lost sync" there
    and cannot go on, and the file was read up to the damage only ("using the 2.82 s before"), its second half lost.
    A fresh decoder seeks past the damaged frames: the rest of the file is read, and the stretch that does not decode
    is read as silence, so that times after it stay the file's own; the warning says where and how long it is."""
    rng = np.random.default_rng(5)
    x = (0.3 * _tone(16000, seconds=6.0) + 0.05 * rng.standard_normal(96000)).astype(np.float32)
    good = tmp_path / "good.flac"
    sf.write(good, x, 16000, subtype="PCM_16")
    ref = load_audio(good)
    bad = tmp_path / "bad.flac"
    bad.write_bytes(_damage(_damage(good.read_bytes(), 0.3), 0.7))        # two damaged stretches
    with pytest.warns(SpeechseqWarning) as caught:
        whole = load_audio(bad)
    said = [str(w.message) for w in caught if issubclass(w.category, SpeechseqWarning)]
    assert len(said) == 2, said
    lost = _stretches_said(said, bad, "6.00", "flac decoder lost sync.")
    assert 1.0 < lost[0][0] < 2.5 and 3.5 < lost[1][0] < 5.0 and all(0 < n < 0.6 for _, n in lost)
    assert len(whole) == len(ref) == 96000
    heard = np.abs(whole - ref) < 1e-6                                    # the file's own samples
    assert heard.sum() > 96000 - 16000 * sum(n + 0.04 for _, n in lost)
    np.testing.assert_array_equal(whole[~heard], 0.0)                     # the rest: silence
    np.testing.assert_array_equal(whole[-16000:], ref[-16000:])           # the end is there, at its own time
    with pytest.warns(SpeechseqWarning, match="read as silence, then the rest"):
        joined = np.concatenate(list(stream_audio(bad, block_s=0.4)))
    np.testing.assert_array_equal(joined, whole)
    assert audio_info(bad).duration == 6.0


def test_a_flac_damaged_all_over_is_read_whole_with_a_few_lines(tmp_path):
    """Every damaged stretch read past was one warning: a file damaged in 600 places, 600 lines. The first three are
    said, the third saying that more are read the same way; the file is read whole, at its length."""
    x = (0.05 * np.random.default_rng(3).standard_normal(16000 * 20)).astype(np.float32)
    good = tmp_path / "good.flac"
    sf.write(good, x, 16000, subtype="PCM_16")
    data = good.read_bytes()
    for at in np.linspace(0.1, 0.9, 6):
        data = _damage(data, at)
    bad = tmp_path / "bad.flac"
    bad.write_bytes(data)
    for read in (load_audio, lambda p: np.concatenate(list(stream_audio(p, block_s=0.5)))):
        with pytest.warns(SpeechseqWarning, match="read as silence") as caught:
            assert len(read(bad)) == 16000 * 20
        said = [str(w.message) for w in caught]
        assert len(said) == 3 and said[2].endswith("; any more such stretches of it are read so too, unsaid"), said


@pytest.mark.parametrize("subtype, sr", [("VORBIS", 16000), ("OPUS", 48000), ("OPUS", 16000)])
def test_a_damaged_ogg_reads_its_lost_pages_as_silence_of_their_length(tmp_path, subtype, sr):
    """Junk inside an Ogg Vorbis or Opus file: the decoder skips the pages it cannot read and goes on without a word,
    and the file was read a second or two short, every word after the damage early by that much (a warning said so
    once the file was read, but left the times wrong). The pages' granule positions say where the lost pages were
    and how long: that stretch is read as silence of its length, so the audio after it stays at its own time, as a
    damaged FLAC's does; the warning says where and how long, whole or streamed."""
    rng = np.random.default_rng(5)
    x = (0.3 * _tone(sr, seconds=8.0) + 0.05 * rng.standard_normal(8 * sr)).astype(np.float32)
    good = tmp_path / "good.ogg"
    sf.write(good, x, sr, format="OGG", subtype=subtype)
    ref = load_audio(good, sr=sr)
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(_damage(_damage(good.read_bytes(), 0.3), 0.6))        # two damaged stretches
    for read in (lambda p: load_audio(p, sr=sr), lambda p: np.concatenate(list(stream_audio(p, block_s=0.4, sr=sr)))):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            np.testing.assert_array_equal(read(good), ref)
        with pytest.warns(SpeechseqWarning) as caught:
            y = read(bad)
        said = [str(w.message) for w in caught]
        assert len(said) == 2, said
        lost = _stretches_said(said, bad, "8.00", "Ogg pages lost")
        assert 1.0 < lost[0][0] < 3.0 and 3.5 < lost[1][0] < 6.0 and all(0.2 < n < 2.5 for _, n in lost), lost
        assert len(y) == len(ref) == 8 * sr
        # the file's own samples, at their times: Vorbis's as they are, Opus's once its decoder has settled again
        heard = np.abs(y - ref) < (1e-6 if subtype == "VORBIS" else 0.02)
        assert heard.sum() > 8 * sr - sr * sum(n + 0.1 for _, n in lost)
        for at, n in lost:                                                 # the lost stretches: silence
            np.testing.assert_array_equal(y[int((at + 0.01) * sr) : int((at + n - 0.01) * sr)], 0.0)
        np.testing.assert_array_equal(y[-sr:], ref[-sr:])                 # the end is there, at its own time


def test_a_damaged_ogg_with_a_comment_header_over_a_page_reads_its_lost_pages_as_silence(tmp_path):
    """A comment header longer than a page (cover art, long tags) leaves the pages it does not end on at granule
    position -1: the codec's headers were taken to be the first page alone, which no decoder opens, so no lost
    stretch was found and the file was read 5 s short, every time after the damage early by that much (with the
    old warning). Its headers are the pages up to the last of granule 0: the lost pages read as silence again."""
    sr = 16000
    rng = np.random.default_rng(5)
    x = (0.3 * _tone(sr, seconds=30.0) + 0.05 * rng.standard_normal(30 * sr)).astype(np.float32)
    good = tmp_path / "tagged.ogg"
    with sf.SoundFile(good, "w", sr, 1, format="OGG", subtype="VORBIS") as f:
        f.comment = "x" * 70000                                           # as big as a picture's tag
        f.write(x)
    data = good.read_bytes()
    second = data.find(b"OggS", 4)
    assert int.from_bytes(data[second + 6 : second + 14], "little", signed=True) == -1  # the header spans pages
    ref = load_audio(good)
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(_damage(data, 0.7))
    for read in (load_audio, lambda p: np.concatenate(list(stream_audio(p, block_s=0.4)))):
        with pytest.warns(SpeechseqWarning) as caught:
            y = read(bad)
        said = [str(w.message) for w in caught]
        assert len(said) == 1, said
        ((at, n),) = _stretches_said(said, bad, "30.00", "Ogg pages lost")
        assert 10.0 < at < 25.0 and 0.5 < n < 8.0, said
        assert len(y) == len(ref) == 30 * sr
        np.testing.assert_array_equal(y[int((at + 0.01) * sr) : int((at + n - 0.01) * sr)], 0.0)
        np.testing.assert_array_equal(y[-sr:], ref[-sr:])                 # the end is there, at its own time


@pytest.mark.parametrize("subtype, sr", [("VORBIS", 16000), ("OPUS", 16000)])
def test_an_ogg_whose_first_audio_page_is_damaged_says_how_much_is_lost(tmp_path, subtype, sr):
    """Junk in an Ogg's first page of audio: libsndfile takes the stream to start at the next page that decodes (as
    a live stream cut in may), and the file was read a second short without a word, every time in it early. Its
    last page says how long it is: a warning says how much of its start is lost."""
    x = (0.3 * _tone(sr, seconds=6.0) + 0.05 * np.random.default_rng(5).standard_normal(6 * sr)).astype(np.float32)
    good = tmp_path / "good.ogg"
    sf.write(good, x, sr, format="OGG", subtype=subtype)
    data = bytearray(good.read_bytes())
    first = data.find(b"OggS", data.find(b"OggS", data.find(b"OggS") + 1) + 1)  # the page after the two of headers
    data[first + 40 : first + 440] = bytes(range(256)) + bytes(144)
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(bytes(data))
    for read in (lambda p: load_audio(p, sr=sr), lambda p: np.concatenate(list(stream_audio(p, block_s=0.4, sr=sr)))):
        with pytest.warns(SpeechseqWarning) as caught:
            y = read(bad)
        said = [str(w.message) for w in caught]
        assert len(said) == 1, said
        m = re.fullmatch(rf"{re.escape(str(bad))}: damaged: its first (\d\.\d\d) s did not decode and are left out "
                         r"\(the times after are early by as much\)", said[0])
        assert m, said
        assert float(m.group(1)) == pytest.approx(6.0 - len(y) / sr, abs=0.01) and float(m.group(1)) >= 0.5


def test_a_nan_sample_does_not_leave_its_channel_out_of_the_mix(tmp_path):
    """A channel that holds a NaN (a broken float file) and sound is live from its first loud sample: the NaN made
    its peak NaN, so the whole channel was taken for digital silence in the block that held it. A stereo file whose
    right channel is silent read at half its level whole (the mean of both) and at its level streamed, but for
    the block holding the NaN."""
    from speechseq.audio import mix_live

    left = (0.5 * np.sin(np.arange(16000) * 0.05)).astype(np.float32)
    x = np.stack([left, np.zeros_like(left)], axis=1)
    x[8000, 0] = np.nan
    mixed, live = mix_live(x)
    assert live == (True, False)
    assert np.array_equal(mixed[:8000], left[:8000]) and np.isnan(mixed[8000])
    path = tmp_path / "nan.wav"
    sf.write(path, x, 16000, subtype="FLOAT")
    whole = load_audio(path)
    streamed = np.concatenate(list(stream_audio(path, block_s=0.3)))
    expected = left.copy()
    expected[8000] = 0.0                                             # the NaN itself, as finite_samples reads it
    np.testing.assert_array_equal(whole, expected)
    np.testing.assert_array_equal(streamed, expected)


@pytest.mark.parametrize("subtype", ["VORBIS", "OPUS"])
def test_a_chained_ogg_says_that_only_its_first_stream_is_read(tmp_path, subtype):
    """Ogg files joined one after another (`cat a.ogg b.ogg`, a radio stream saved: a chained Ogg): libsndfile reads
    the first stream and stops, and the rest of the file was left out without a word (a 3 s file read as its first
    1 s). A warning says how many streams the file holds and that only the first is read, whole or streamed."""
    parts = []
    for k, seconds in enumerate((1.0, 2.0)):
        one = tmp_path / f"part{k}.ogg"
        sf.write(one, (0.3 * _tone(16000, seconds=seconds)).astype(np.float32), 16000, format="OGG", subtype=subtype)
        parts.append(one.read_bytes())
    chained = tmp_path / "chained.ogg"
    chained.write_bytes(parts[0] + parts[1])
    for read in (load_audio, lambda p: np.concatenate(list(stream_audio(p, block_s=0.4)))):
        with pytest.warns(SpeechseqWarning) as caught:
            y = read(chained)
        said = [str(w.message) for w in caught]
        assert said == [f"{chained}: 2 Ogg streams one after another (files joined, or a radio stream saved): only "
                        f"the first, its 1.00 s, is read; the rest is left out"], said
        assert len(y) == 16000
    again = tmp_path / "twice.ogg"                                        # the same stream twice: its serial too
    again.write_bytes(parts[0] + parts[0])
    with pytest.warns(SpeechseqWarning, match="2 Ogg streams one after another"):
        assert len(load_audio(again)) == 16000
    import warnings

    with warnings.catch_warnings():                                       # one stream: nothing said
        warnings.simplefilter("error")
        assert len(load_audio(tmp_path / "part1.ogg")) == 32000


def test_a_file_name_with_a_newline_is_named_on_one_line(tmp_path):
    """Linux allows a newline in a file name: every error and warning about such a file was two lines, the second
    naming a file that does not exist ("b.wav: cannot decode audio ..." for "a<newline>b.wav"). The name's control
    characters are written as escapes, so each message is one line and names the file."""
    junk = tmp_path / "a\nb.wav"
    junk.write_bytes(b"not audio at all")
    with pytest.raises(AudioError) as err:
        load_audio(junk)
    assert str(err.value).startswith(str(tmp_path / "a\\nb.wav") + ": cannot decode audio") and "\n" not in str(err.value)
    with pytest.raises(AudioError, match=r"a\\tb\.wav: no such file$"):
        stream_audio(tmp_path / "a\tb.wav").__next__()
    voice = tmp_path / "voice\r\n.m4a"                                   # a format not read: named, no command
    voice.write_bytes(b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00")
    with pytest.raises(AudioError) as err:
        audio_info(voice)
    assert "voice\\r\\n.m4a: MP4/M4A audio" in str(err.value) and "\n" not in str(err.value)
    cut = tmp_path / "cut\n.wav"
    sf.write(cut, _tone(16000), 16000, subtype="PCM_16")
    cut.write_bytes(cut.read_bytes()[:-1000])
    with pytest.warns(SpeechseqWarning) as caught:
        assert len(load_audio(cut)) == 15500
    said = [str(w.message) for w in caught]
    assert len(said) == 1 and said[0].startswith(str(tmp_path / "cut\\n.wav: truncated")) and "\n" not in said[0]


def _l3_frames(data: bytes, pos: int = 0) -> list[tuple[int, int]]:
    """(start, bytes) of each MPEG-1 or MPEG-2 Layer III frame of `data` from `pos` (the test's own header parse)."""
    kbps = {3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
            2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000)}
    out = []
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        version = (data[pos + 1] >> 3) & 3
        n = ((144 if version == 3 else 72) * 1000 * kbps[version][data[pos + 2] >> 4]
             // rates[version][(data[pos + 2] >> 2) & 3] + ((data[pos + 2] >> 1) & 1))
        out.append((pos, n))
        pos += n
    return out


def _id3(size: int) -> bytes:
    """An ID3v2.3 tag of `size` bytes after its 10-byte header (cover art, as a music app writes it)."""
    return b"ID3\x03\x00\x00" + bytes((size >> s) & 0x7F for s in (21, 14, 7, 0)) + bytes(size)


def _headerless_mp3(tmp_path: Path, sr: int, mode: str) -> tuple[Path, Path]:
    """(an MP3 as libsndfile writes it, whose first frame is a Xing/Info header of its length; the same frames
    without that header, as many encoders and stream recorders write them)."""
    t = np.arange(5 * sr) / sr
    x = np.where(t < 1.0, np.random.default_rng(0).standard_normal(len(t)) * 0.3, 0.3 * np.sin(2 * np.pi * 440 * t))
    good = tmp_path / f"{mode.lower()}.mp3"
    sf.write(good, x, sr, format="MP3", subtype="MPEG_LAYER_III", bitrate_mode=mode)
    data = good.read_bytes()
    frames = _l3_frames(data)
    assert {data.find(b"Xing", 4, 40), data.find(b"Info", 4, 40)} != {-1}
    assert sum(n for _, n in frames) == len(data)
    bare = tmp_path / f"{mode.lower()}-bare.mp3"
    bare.write_bytes(data[frames[0][1]:])
    return good, bare


@pytest.mark.parametrize("sr", [16000, 44100])
def test_a_variable_bitrate_mp3_without_a_length_header_is_read_whole(tmp_path, capfd, sr):
    """A VBR MP3 whose first frame is no Xing/Info/VBRI header: libsndfile took its length from the file's size and
    the first frame's bit rate, and read no further: a 5.04 s file (noise first, a quiet tone after) read as 1.13 s
    at 16 kHz, 0.93 s at 44.1 kHz, by load_audio, stream_audio and audio_info alike, without a word. All its
    frames are read now: the audio of the file with the header, after the encoder's delay of 576 samples that the
    header's gapless record took off."""
    import warnings

    good, bare = _headerless_mp3(tmp_path, sr, "VARIABLE")
    whole = load_audio(good, sr=sr)
    assert len(whole) == 5 * sr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = load_audio(bare, sr=sr)
        streamed = np.concatenate(list(stream_audio(bare, block_s=0.5, sr=sr)))
        info = audio_info(bare)
    assert len(y) >= 576 + len(whole) and len(y) < 576 + len(whole) + 2 * 1152
    np.testing.assert_allclose(y[576:576 + len(whole)], whole, atol=1e-6)
    np.testing.assert_array_equal(streamed, y)
    assert info.frames == len(y) and info.format == "MP3"
    err = capfd.readouterr().err
    assert "Xing" not in err and "Warning:" not in err and "Note:" not in err, err


@pytest.mark.parametrize("mode", ["VARIABLE", "CONSTANT"])
def test_a_big_id3_tag_in_front_of_an_mp3_without_a_length_header_is_not_truncation(tmp_path, mode):
    """A 100 kB ID3v2 tag (cover art) in front of an MP3 whose first frame is no length header: libsndfile counted
    the tag's bytes as audio, audio_info said 13.63 s of a 5 s file, and every read warned "truncated: its header
    promises 13.63 s". The frames are counted now: no warning, the length as the file without the tag has it."""
    import warnings

    good, bare = _headerless_mp3(tmp_path, 16000, mode)
    tagged = tmp_path / "tagged.mp3"
    tagged.write_bytes(_id3(100_000) + bare.read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = load_audio(tagged)
        streamed = np.concatenate(list(stream_audio(tagged, block_s=0.5)))
        info = audio_info(tagged)
        np.testing.assert_array_equal(y, load_audio(bare))
        np.testing.assert_array_equal(streamed, y)
        assert info.frames == len(y) and 5.0 <= info.duration < 5.2
        # a file with its header, tag or no tag, reads as libsndfile reads it: no frames counted, none read again
        tagged.write_bytes(_id3(100_000) + good.read_bytes())
        np.testing.assert_array_equal(load_audio(tagged), load_audio(good))
        assert audio_info(tagged).frames == audio_info(good).frames == 80000


def test_an_mp3_whose_length_header_is_vbri_is_read_whole(tmp_path):
    """A VBRI header (Fraunhofer's encoders) in front of VBR frames: libmpg123 reads no VBRI header, and libsndfile
    took the file's length from the header frame's bit rate (160 kbit/s): 0.49 s of a 5 s file were read, unsaid.
    The frames after it are read as those of a file without it."""
    _, bare = _headerless_mp3(tmp_path, 16000, "VARIABLE")
    data = bare.read_bytes()
    head = bytes((0xFF, data[1] | 1, data[2] & 0x0C | 0xE0, data[3]))  # MPEG-2, 160 kbit/s: 720 bytes, no checksum
    vbri = head + bytes(32) + b"VBRI" + bytes((0, 1, 4, 0x51, 0, 75)) + len(data).to_bytes(4, "big")
    vbri += len(_l3_frames(data)).to_bytes(4, "big")
    path = tmp_path / "vbri.mp3"
    path.write_bytes(vbri + bytes(720 - len(vbri)) + data)
    y = load_audio(path)
    assert len(y) > 5.0 * 16000
    np.testing.assert_array_equal(y, load_audio(bare))
    assert audio_info(path).frames == audio_info(bare).frames


def test_a_file_named_dash_is_read_not_standard_input(tmp_path, monkeypatch):
    """A file named "-" in the working folder (`detect ./-`: Path drops the "./"): soundfile handed b"-" to libsndfile,
    which reads standard input for that name, so the audio on stdin was analysed instead of the file's, without a word
    (or a terminal waited on). The file itself is read."""
    import os

    tone = (0.3 * _tone(16000, seconds=1.0)).astype(np.float32)
    sf.write(tmp_path / "tone.wav", tone, 16000, subtype="PCM_16")
    (tmp_path / "-").write_bytes((tmp_path / "tone.wav").read_bytes())
    sf.write(tmp_path / "other.wav", np.zeros(8000, np.float32), 16000, subtype="PCM_16")
    monkeypatch.chdir(tmp_path)
    ref = load_audio(tmp_path / "tone.wav")
    saved = os.dup(0)
    try:
        for read in (load_audio, lambda p: np.concatenate(list(stream_audio(p, block_s=0.4))),
                     lambda p: np.zeros(audio_info(p).frames)):
            for name in ("-", Path("./-")):
                with open(tmp_path / "other.wav", "rb") as other:  # what a pipe into the command would give
                    os.dup2(other.fileno(), 0)
                assert len(read(name)) == 16000, name
        np.testing.assert_array_equal(load_audio("-"), ref)
    finally:
        os.dup2(saved, 0)
        os.close(saved)


def _rate_said(path: Path, rate: int) -> None:
    """`path` (a 16-bit mono WAV) with its header's sample rate (and byte rate) made `rate`."""
    data = bytearray(path.read_bytes())
    data[24:32] = np.array([rate, 2 * rate], "<u4").tobytes()
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rate", [768001, 3_000_000, 2_147_483_647])
def test_a_rate_too_high_for_any_recording_is_refused_naming_the_file_and_its_rate(tmp_path, rate, capsys):
    """A WAV of 16,000 samples whose header says 2,147,483,647 Hz (a damaged header) read as 0 samples, or at 3 MHz as
    85, without a word. Rates above 768 kHz (the highest any audio interface records) are refused with one line
    naming the file and its rate, as rates below 4 kHz are; 768 kHz itself is read; a batch reports it and goes on."""
    from speechseq.cli import main

    path = tmp_path / "odd.wav"
    sf.write(path, _tone(16000, seconds=1.0), 16000, subtype="PCM_16")
    _rate_said(path, rate)
    for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
        with pytest.raises(AudioError) as err:
            read(path)
        msg = str(err.value)
        assert msg.startswith(f"{path}: sample rate {rate} Hz") and "768000 Hz" in msg and "\n" not in msg, msg
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000, seconds=2.0), 16000, subtype="PCM_16")
    code = main(["detect", "--json", str(path), str(good)])
    out, err = capsys.readouterr()
    assert [json.loads(x)["duration"] for x in out.splitlines()] == [2.0]
    assert code != 0 and f"odd.wav: sample rate {rate} Hz" in err and err.count("\n") == 1, err
    _rate_said(good, 768000)                                            # the highest rate read
    assert len(load_audio(good)) == 667 and audio_info(good).sample_rate == 768000


def _ogg_page_starts(data: bytes) -> list[int]:
    """The byte where each page of the Ogg file `data` starts (a whole file, no damage)."""
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        segments = data[pos + 26]
        pos += 27 + segments + sum(data[pos + 27 : pos + 27 + segments])
    return starts


@pytest.mark.parametrize("subtype, sr", [("VORBIS", 16000), ("OPUS", 48000)])
def test_an_ogg_cut_short_says_so_and_keeps_what_decodes(tmp_path, subtype, sr):
    """An Ogg Vorbis or Opus file cut short (a download stopped, a recorder killed before it wrote its last page):
    libsndfile reads the pages there, takes its length from the last of them, and the file was read 0.4 s to 5 s short
    without a word; cut inside its first page of audio it "contains no audio samples". A stream's last page carries
    the end-of-stream flag: where the last page there does not, a warning says the file is truncated and what is
    there is read; where no page of audio is whole, the error says it is truncated."""
    import warnings

    x = (0.3 * _tone(sr, seconds=8.0) + 0.05 * np.random.default_rng(5).standard_normal(8 * sr)).astype(np.float32)
    good = tmp_path / "good.ogg"
    sf.write(good, x, sr, format="OGG", subtype=subtype)
    ref = load_audio(good, sr=sr)
    data = good.read_bytes()
    starts = _ogg_page_starts(data)
    cut = tmp_path / "cut.ogg"
    for size in (len(data) // 2, starts[-1], (starts[-1] + len(data)) // 2):  # mid-file, no last page, mid last page
        cut.write_bytes(data[:size])
        for read in (lambda p: load_audio(p, sr=sr),
                     lambda p: np.concatenate(list(stream_audio(p, block_s=0.4, sr=sr)))):
            with pytest.warns(SpeechseqWarning) as caught:
                y = read(cut)
            said = [str(w.message) for w in caught]
            assert said == [f"{cut}: truncated (a copy, a download or a recording cut short): the end of its Ogg "
                            f"stream is missing; using the {len(y) / sr:.2f} s there"], said
            assert 0.3 * len(ref) < len(y) < len(ref) - 0.1 * sr
            heard = np.abs(y - ref[: len(y)]) < (1e-6 if subtype == "VORBIS" else 0.02)
            assert heard[: -sr // 10].all()                                 # the samples there, at their times
    cut.write_bytes(data[: starts[2] + 100])                             # cut inside its first page of audio
    for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
        with pytest.raises(AudioError) as err:
            read(cut)
        assert str(err.value) == (f"{cut}: truncated (a copy, a download or a recording cut short) before its first "
                                  f"page of audio: no audio samples"), str(err.value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(load_audio(good, sr=sr), ref)


@pytest.mark.parametrize("subtype, channels", [("PCM_16", 1), ("FLOAT", 2), ("ULAW", 1)])
def test_a_caf_still_recording_is_read_to_its_end(tmp_path, subtype, channels, recwarn):
    """A CAF whose data chunk's size is -1: a recorder writes that while it records (the chunk runs to the file's end)
    and fills the size in when it stops, so an interrupted recording keeps -1. libsndfile refused it as malformed and
    the audio was lost; like an unfinished WAV, it is read to the end of the file now, whole or streamed. One whose
    audio cannot be read without its size (ALAC, whose packet table comes after the audio) says it is unfinished."""
    import struct

    x = (0.3 * _tone(16000, seconds=1.5, channels=channels)).astype(np.float32)
    good = tmp_path / "good.caf"
    sf.write(good, x, 16000, format="CAF", subtype=subtype)
    ref = load_audio(good)
    data = bytearray(good.read_bytes())
    i = data.find(b"data")
    assert struct.unpack(">q", data[i + 4 : i + 12])[0] == len(data) - i - 12  # the last chunk
    data[i + 4 : i + 12] = struct.pack(">q", -1)
    rec = tmp_path / "recording.caf"
    rec.write_bytes(bytes(data))
    np.testing.assert_array_equal(load_audio(rec), ref)
    np.testing.assert_array_equal(np.concatenate(list(stream_audio(rec, block_s=0.4))), ref)
    assert audio_info(rec).frames == 24000 and audio_info(rec).format == "CAF"
    assert not [w for w in recwarn if issubclass(w.category, SpeechseqWarning)]
    sf.write(good, x, 16000, format="CAF", subtype="ALAC_16")
    data = bytearray(good.read_bytes())
    i = data.find(b"data")
    rec.write_bytes(bytes(data[: i + 4]) + struct.pack(">q", -1) + bytes(data[i + 12 : i + 2000]))
    with pytest.raises(AudioError) as err:
        load_audio(rec)
    assert str(err.value).startswith(f"{rec}: an unfinished CAF recording (the size of its audio was never written"), \
        str(err.value)
