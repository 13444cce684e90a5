"""Audio in, where a container's own bytes say what libsndfile does not: an Ogg's lost last page but one, an MP3
without a length header read the same way however it is opened, a CAF recording whose packet table was never
written."""
import struct
import warnings

import numpy as np
import pytest
import soundfile as sf

from speechseq.audio import AudioError, audio_info, load_audio, stream_audio
from speechseq.containers import L3_SIZES
from speechseq.errors import SpeechseqWarning


def _signal(sr: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = 0.05 * np.random.default_rng(5).standard_normal(len(t))
    return (0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)


def _ogg_page_starts(data: bytes) -> list[int]:
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        pos += 27 + data[pos + 26] + sum(data[pos + 27 : pos + 27 + data[pos + 26]])
    return starts


@pytest.mark.parametrize("subtype, sr, seconds", [("OPUS", 48000, 8.0), ("OPUS", 16000, 8.0), ("VORBIS", 44100, 5.0)])
def test_an_ogg_whose_last_page_but_one_is_lost_keeps_its_last_page_at_its_time(tmp_path, subtype, sr, seconds):
    """The page before an Ogg's last is lost (a damaged download): its stretch is read as silence, but the last
    page's audio came 168 granules (Opus: 168 frames at 48 kHz, 56 at 16 kHz) or 44 frames (Vorbis at 44.1 kHz)
    early. The last page's granule position is where its audio ends once its last packet's padding is trimmed off;
    the decoder, restarted after the hole, cannot trim it, so its frames start at the stream's packet end at or after
    where they would start unpadded. The file's last samples are its own, at their own times, whole or streamed."""
    good = tmp_path / "good.ogg"
    sf.write(good, _signal(sr, seconds), sr, format="OGG", subtype=subtype)
    ref = load_audio(good, sr=sr)
    data = good.read_bytes()
    starts = _ogg_page_starts(data)
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(data[: starts[-2]] + data[starts[-1] :])
    tail = sr // 20
    for read in (lambda p: load_audio(p, sr=sr), lambda p: np.concatenate(list(stream_audio(p, block_s=0.4, sr=sr)))):
        with pytest.warns(SpeechseqWarning, match=r"\(Ogg pages lost\)"):
            y = read(bad)
        assert len(y) == len(ref) == int(seconds * sr)
        # the last page's samples: Vorbis's as they are, Opus's once its decoder has settled after the hole
        np.testing.assert_allclose(y[-tail:], ref[-tail:], atol=1e-6 if subtype == "VORBIS" else 0.02)


def _cbr(frames: bytes) -> bytes:
    """MPEG-1 mono Layer III `frames` (as libsndfile writes them: variable bit rate) framed anew at 320 kbit/s with no
    bit reservoir (each frame's main data in itself): a constant bit rate stream whose frames are all one size, as
    a recorder writes it."""
    out, stream, pos = [], b"", 0
    while pos + 4 <= len(frames):
        n = L3_SIZES[frames[pos + 1] << 8 | frames[pos + 2]]
        frame, pos = frames[pos : pos + n], pos + n
        side = int.from_bytes(frame[4:21], "big")  # 136 bits: main_data_begin (9), ..., part2_3_length at 18, 77
        start = len(stream) - (side >> 127)
        stream += frame[21:]
        main = stream[start : start + (sum((side >> (136 - at - 12)) & 0xFFF for at in (18, 77)) + 7) // 8]
        body = (side & ((1 << 127) - 1)).to_bytes(17, "big") + main  # main_data_begin 0
        assert len(body) <= 956
        out.append(bytes((0xFF, frame[1] | 1, 0xE0 | frame[2] & 0x0F, frame[3])) + body + bytes(956 - len(body)))
    return b"".join(out)


def test_a_constant_bitrate_mp3_without_a_length_header_starts_as_it_does_behind_a_tag(tmp_path):
    """A constant bit rate MP3 whose first frame is no Xing/Info header: libsndfile took its length right, so it was
    read as opened, the decoder's delay of 529 samples (LAME's 528 + 1) kept at its start; the same frames behind an
    ID3 tag (or at a variable bit rate) were opened again after a length header, which leaves that delay out: one
    recording started 529 samples apart. Both start where the file's audio does now, the decoder's delay left out
    (its encoder's delay of 576 samples in front, which no header records)."""
    sr = 48000
    t = np.arange(5 * sr) / sr
    x = np.where(t < 1.0, np.random.default_rng(0).standard_normal(len(t)) * 0.3, 0.3 * np.sin(2 * np.pi * 440 * t))
    good = tmp_path / "good.mp3"
    sf.write(good, x, sr, format="MP3", subtype="MPEG_LAYER_III", bitrate_mode="VARIABLE")
    data = good.read_bytes()
    bare = tmp_path / "cbr.mp3"
    bare.write_bytes(_cbr(data[L3_SIZES[data[1] << 8 | data[2]] :]))  # its frames but the Info header
    frames = len(bare.read_bytes()) // 960
    with sf.SoundFile(bare) as f:
        assert f.frames == frames * 1152                                  # libsndfile's own length is right
    tagged = tmp_path / "tagged.mp3"
    tagged.write_bytes(b"ID3\x03\x00\x00\x00\x00\x01\x00" + bytes(128) + bare.read_bytes())
    whole = load_audio(good, sr=sr)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = load_audio(bare, sr=sr)
        np.testing.assert_array_equal(y, load_audio(tagged, sr=sr))
        np.testing.assert_array_equal(np.concatenate(list(stream_audio(bare, block_s=0.5, sr=sr))), y)
        assert audio_info(bare).frames == len(y) == frames * 1152 - 529
    np.testing.assert_allclose(y[576 : 576 + len(whole)], whole, atol=1e-6)


@pytest.mark.parametrize("table", ["empty", "missing"])
def test_an_alac_caf_whose_packet_table_was_never_written_says_it_is_unfinished(tmp_path, table):
    """An ALAC CAF from an interrupted recording: its data chunk holds the packets, but the packet table a recorder
    writes when it stops is empty (0 packets) or missing. It said "contains no audio samples" (or "cannot decode
    audio (Unspecified internal error.)"), as if empty or damaged; it says it is an unfinished recording whose ALAC
    audio cannot be read without its packet table, by every reader."""
    good = tmp_path / "good.caf"
    sf.write(good, _signal(16000, 3.0), 16000, format="CAF", subtype="ALAC_16")
    data = good.read_bytes()
    i, k = data.find(b"pakt"), data.find(b"data")
    assert 0 < i < k and struct.unpack(">q", data[k + 4 : k + 12])[0] == len(data) - k - 12
    pakt = b"pakt" + struct.pack(">q", 24) + bytes(24) if table == "empty" else b""
    rec = tmp_path / "recording.caf"
    rec.write_bytes(data[:i] + pakt + data[k:])
    for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
        with pytest.raises(AudioError) as err:
            read(rec)
        assert str(err.value) == (f"{rec}: an unfinished CAF recording (its packet table was never written: a "
                                  f"recorder stopped, or the file was cut short, before it) whose 'alac' audio "
                                  f"cannot be read without it"), str(err.value)
    assert len(load_audio(good)) == 48000                                 # the finished file: read as it was


@pytest.mark.parametrize("subtype, after", [("ALAC_16", b""), ("PCM_16", b"free" + struct.pack(">q", 4) + bytes(4)),
                                            ("ALAC_16", b"free" + struct.pack(">q", 0))])
def test_a_caf_whose_data_chunk_is_empty_says_it_holds_no_audio(tmp_path, subtype, after):
    """A CAF whose data chunk's size is 0 (not even its 4-byte edit count: a recorder that wrote the chunk's header,
    then nothing) was "cannot decode audio (Unspecified internal error.)" (ALAC) or "(SF_INFO struct incomplete.)"
    (PCM, a chunk after it), libsndfile's words; it holds no audio, said as every other empty file is, by every
    reader. A data chunk of its edit count alone (as libsndfile writes an empty CAF) was said so already."""
    good = tmp_path / "good.caf"
    sf.write(good, _signal(16000, 0.5), 16000, format="CAF", subtype=subtype)
    data = good.read_bytes()
    k = data.find(b"data")
    empty = tmp_path / "empty.caf"
    for size, body in ((0, b""), (4, bytes(4))):
        empty.write_bytes(data[:k] + b"data" + struct.pack(">q", size) + body + after)
        for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
            with pytest.raises(AudioError) as err:
                read(empty)
            assert str(err.value) == f"{empty}: contains no audio samples", (size, str(err.value))
    assert len(load_audio(good)) == 8000
