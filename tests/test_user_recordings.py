"""A person's own recordings given to `speechseq train detector` (--positives DIR): how the bank cuts them."""
from __future__ import annotations

import numpy as np
import soundfile as sf


def test_a_microphones_dc_offset_does_not_move_where_a_recording_is_cut(tmp_path):
    """A word whose sound fades out (0.2 s steady, then falling 54 dB in half a second) over a -60 dBFS floor: the
    same recording with a microphone's DC offset of 0.01 (-40 dBFS, inaudible) ends its speech at the same frame.
    The energy rule measured each frame's power with the offset in it, so the floor rose to -40 dB and the end
    came 13 frames early (30 of the 327 Precise wake-word clips carry an offset over 0.003, 5 over 0.01; with
    0.01 added, 42 of 56 amelia clips ended 0.1 s early)."""
    from speechseq.train.kwbank import BankConfig, BankItem, build_bank

    rng = np.random.default_rng(0)
    t = np.arange(9600) / 16000
    word = (0.3 * np.minimum(1.0, np.exp(-(t - 0.2) / 0.08)) * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    x = np.concatenate([1e-3 * rng.standard_normal(8000), word, 1e-3 * rng.standard_normal(16000)]).astype(np.float32)
    cfg = BankConfig(reverb_prob=0.0, colour_prob=0.0)
    ends = []
    for dc in (0.0, 0.01, -0.01):
        sf.write(tmp_path / "mine.wav", x + np.float32(dc), 16000, subtype="FLOAT")
        bank = build_bank([BankItem(str(tmp_path / "mine.wav"), "pos", 1.0, "user")], cfg, workers=1)
        ends.append(int(bank["pos/end"][0]))
    assert abs(ends[0] - (10 + 53)) <= 4                     # the bank's 0.1 s pad, the word's audible part, margin
    assert max(ends) - min(ends) <= 1, ends


def test_a_recording_of_a_rooms_silence_is_no_keyword(tmp_path, capfd):
    """A take of nothing, two seconds of a microphone's hiss at -60 dBFS RMS, given among the keyword recordings was
    kept, its label at the recording's end (frame 210 of 218): the detector taught to fire on a quiet room. Only
    digital silence was refused. Quiet, with no speech a voice activity detector hears and no frame much above its
    noise floor, it is reported and skipped; the word over the same hiss is kept."""
    from speechseq.train.kwbank import BankConfig, BankItem, build_bank

    rng = np.random.default_rng(0)
    hiss = lambda n: (1e-3 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731
    t = np.arange(8000) / 16000
    word = (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    sf.write(tmp_path / "nothing.wav", hiss(32000), 16000)
    sf.write(tmp_path / "word.wav", np.concatenate([hiss(8000), word, hiss(16000)]), 16000)
    cfg = BankConfig(reverb_prob=0.0, colour_prob=0.0)
    bank = build_bank([BankItem(str(tmp_path / n), "pos", 1.0, "user") for n in ("nothing.wav", "word.wav")], cfg,
                      workers=1)
    assert bank["meta"]["failed"] == 1 and bank["meta"]["files"] == {"pos": 1}
    assert abs(int(bank["pos/end"][0]) - (10 + 53)) <= 4    # the word's end, as before
    err = capfd.readouterr().err
    assert f"skipped {tmp_path / 'nothing.wav'}: no speech in it (none a voice activity detector hears; its " \
           "loudest 10 ms only 2 dB over its noise floor, its peak -47 dBFS)" in err
    negative = build_bank([BankItem(str(tmp_path / "nothing.wav"), "neg", 1.0, "user")], cfg, workers=1)
    assert negative["meta"]["failed"] == 0                   # a room's silence is a fine negative
