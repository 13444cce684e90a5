"""Audio in, where a container's own bytes place what libsndfile loses: an Ogg Vorbis stream's last page after a
hole, at its exact time; a CAF cut short inside its audio."""
import struct

import numpy as np
import pytest
import soundfile as sf

from speechseq.audio import AudioError, audio_info, load_audio, stream_audio
from speechseq.errors import SpeechseqWarning

from .test_audio_container_edges import _ogg_page_starts


def _signal(sr: int, frames: int, fade: bool = False) -> np.ndarray:
    t = np.arange(frames) / sr
    noise = 0.05 * np.random.default_rng(frames).standard_normal(frames)
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)
    if fade:  # a quiet end, which libvorbis codes in long blocks to the last
        x[frames // 2 :] *= 0.01
    return x


# lengths whose last packet's padding is a quarter short block or more: the last page came 64 to 768 frames early
@pytest.mark.parametrize("sr, frames, fade", [(16000, 80000, False), (44100, 200000, False), (48000, 250001, False),
                                              (48000, 260123, False), (16000, 32000, True), (44100, 88200, True)])
def test_a_vorbis_whose_last_page_but_one_is_lost_keeps_its_last_page_at_its_exact_time(tmp_path, sr, frames, fade):
    """The page before an Ogg Vorbis stream's last is lost: the last page's audio was placed on a grid of a quarter
    short block from where it would start were none of it padding, and came 64 or 128 frames early where its last
    packet's padding was that long or longer. Its first packet ends half a block of it and half of the lost page's
    last packet after the last packet before the hole (the setup header's modes give each packet's block size), and
    the lost packets' halves are whole multiples of half a short block: its start on that grid is exact. The file's
    last samples are its own, at their own times, whole or streamed."""
    good = tmp_path / "good.ogg"
    sf.write(good, _signal(sr, frames, fade), sr, format="OGG", subtype="VORBIS")
    ref = load_audio(good, sr=sr)
    data = good.read_bytes()
    starts = _ogg_page_starts(data)
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(data[: starts[-2]] + data[starts[-1] :])
    for read in (lambda p: load_audio(p, sr=sr), lambda p: np.concatenate(list(stream_audio(p, block_s=0.4, sr=sr)))):
        with pytest.warns(SpeechseqWarning, match=r"\(Ogg pages lost\)"):
            y = read(bad)
        assert len(y) == len(ref) == frames
        start = np.flatnonzero(y == 0)[-1] + 1                             # after the lost stretch's silence
        assert len(y) - start >= 500                                       # the last page's samples there
        np.testing.assert_allclose(y[start:], ref[start:], atol=1e-6)


@pytest.mark.parametrize("subtype, channels", [("ALAC_16", 1), ("ALAC_24", 2), ("PCM_16", 1), ("FLOAT", 2)])
def test_a_caf_cut_short_inside_its_audio_keeps_what_is_there(tmp_path, subtype, channels):
    """A CAF cut short inside its data chunk (a copy or a download stopped; an ALAC one with its packet table before
    its audio, as libsndfile and Apple's tools write it) was "cannot decode audio (Supported file format but file is
    malformed.)", the audio there lost. As a truncated WAV is, it is read as far as it goes (an ALAC one to its last
    whole packet of 4096 frames) with one warning that says it is truncated, whole or streamed; cut inside its first
    packet, the error says so."""
    x = _signal(16000, 48000)
    good = tmp_path / "good.caf"
    sf.write(good, np.stack([x] * channels, axis=1) if channels > 1 else x, 16000, format="CAF", subtype=subtype)
    ref = load_audio(good)
    data = good.read_bytes()
    k = data.find(b"data")
    said = struct.unpack(">q", data[k + 4 : k + 12])[0]
    assert k + 12 + said <= len(data) and (data.find(b"pakt") < k if subtype.startswith("ALAC") else True)
    held = said // 2 + 1
    cut = tmp_path / "cut.caf"
    cut.write_bytes(data[: k + 12 + held])
    width = {"PCM_16": 2, "FLOAT": 4}.get(subtype)
    frames = (held - 4) // (width * channels) if width else 5 * 4096  # ALAC: the packets wholly there
    for read in (load_audio, lambda p: np.concatenate(list(stream_audio(p, block_s=0.4)))):
        with pytest.warns(SpeechseqWarning) as caught:
            y = read(cut)
        assert [str(w.message) for w in caught] == [
            f"{cut}: truncated (a copy or a recording cut short): its header promises {said:,} bytes of audio, the "
            f"file holds {held:,}; using the {frames / 16000:.2f} s there"]
        assert len(y) == frames
        np.testing.assert_array_equal(y, ref[:frames])
    with pytest.warns(SpeechseqWarning, match="truncated"):
        assert audio_info(cut).frames == frames
    if width is None:
        cut.write_bytes(data[: k + 12 + 100])                            # inside its first packet
        for read in (load_audio, lambda p: list(stream_audio(p)), audio_info):
            with pytest.raises(AudioError) as err:
                read(cut)
            assert str(err.value) == (f"{cut}: truncated (a copy or a recording cut short) inside its first packet of "
                                      f"audio: no audio samples"), str(err.value)
