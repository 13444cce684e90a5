"""Keyword training data: placement, labels, feature-domain mixes, the bank."""
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import pytest

from speechseq.frontend import FrontendConfig, logmel
from speechseq.train.augment import (coloured_noise, label_vector, mix_clip, mic_colour, place_without_overlap,
                                     reverberate, synth_rir)


def test_placement_never_overlaps_and_drops_what_cannot_fit(rng):
    for _ in range(200):
        lengths = rng.integers(20, 300, size=rng.integers(0, 8))
        starts = place_without_overlap(rng, 1000, lengths)
        placed = sorted((s, s + n) for s, n in zip(starts, lengths) if s >= 0)
        assert all(a1 <= b0 for (_, a1), (b0, _) in zip(placed, placed[1:]))
        assert all(0 <= s and e <= 1000 for s, e in placed)
        if lengths.sum() <= 1000:
            assert (starts >= 0).all()
    starts = place_without_overlap(rng, 100, [80, 60])
    assert (starts >= 0).sum() == 1 and starts[0] == -1  # the longest is dropped first


def test_placement_is_uniform_enough(rng):
    starts = np.array([place_without_overlap(rng, 1000, [100])[0] for _ in range(4000)])
    assert starts.min() < 20 and starts.max() > 880
    assert abs(starts.mean() - 450) < 15


def test_labels_follow_the_recipe():
    # stride 4, 10 label steps: a keyword ending before frame 100 is complete at step 24
    y = label_vector(250, [100, 203], stride=4, label_steps=10)
    assert y.sum() == 20
    assert np.flatnonzero(y)[0] == 24 and y[24:34].all() and not y[34]
    assert y[50:60].all() and not y[49] and not y[60]  # ceil(203 / 4) - 1 = 50
    # a stretch running past the end is cut, not wrapped
    assert label_vector(30, [118], 4, 10).sum() == 1


def test_mix_clip_labels_match_the_positive_ends(rng):
    bg = 0.01 * coloured_noise("pink", 16000 * 10, rng)
    tone = (0.5 * np.sin(np.arange(8000) * 2 * np.pi * 440 / 16000)).astype(np.float32)
    out = mix_clip(rng, bg, [tone, tone], [tone[:3000]], stride=4, label_s=0.4)
    assert out.audio.shape == bg.shape and len(out.positive_ends) == 2
    assert out.labels.shape == ((1 + (len(bg) - 400) // 160) // 4,)
    assert out.labels.sum() == 20
    for end in out.positive_ends:
        first = int(math.ceil(round(end * 100) / 4)) - 1
        assert out.labels[first] == 1 and (first == 0 or out.labels[first - 1] == 0)
    assert np.abs(out.audio).max() <= 0.99 + 1e-6


@pytest.mark.parametrize("bg_dbfs", [None, -60.0, -30.0])
def test_mix_clip_gives_the_drawn_snr_against_all_that_is_heard(bg_dbfs):
    """The SNR is speech against background plus noise floor: a silent or quiet background (under the -45 dBFS
    floor) gave 5 and -6.5 dB for a drawn 10 dB. The speech is the mix less the same mix of a silent clip."""
    tone = (0.5 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000)).astype(np.float32)
    for seed in range(3):
        bg = np.zeros(160000, np.float32) if bg_dbfs is None else \
            coloured_noise("pink", 160000, np.random.default_rng(seed)) * np.float32(10 ** (bg_dbfs / 20))
        mixes = [mix_clip(np.random.default_rng(seed), bg, [clip], [clip[:4000]], snr_db=(5.0, 15.0))
                 for clip in (tone, np.zeros_like(tone))]
        noise = mixes[1].audio.astype(np.float64)
        speech = mixes[0].audio - noise
        end = int(round(mixes[0].positive_ends[0] * 16000))
        snr = 10 * np.log10(np.mean(speech[end - 16000: end] ** 2) / np.mean(noise**2))
        assert snr == pytest.approx(_first_snr(seed, [len(tone), 4000], (5.0, 15.0)), abs=0.01)


def _first_snr(seed, lengths, snr_db):
    """The SNR mix_clip draws for its first clip: after the placement, as mix_clip draws them."""
    rng = np.random.default_rng(seed)
    place_without_overlap(rng, 160000, lengths)
    return rng.uniform(*snr_db)


def test_room_and_microphone_keep_the_level(rng):
    x = (0.3 * rng.standard_normal(16000)).astype(np.float32)
    h = synth_rir(rng)
    assert h[0] == 1.0 and 0.1 * 16000 < len(h) <= 1.2 * 16000
    y = reverberate(x, h)
    assert len(y) >= len(x) and abs(np.abs(y).max() - np.abs(x).max()) < 1e-3
    z = mic_colour(x, rng)
    assert abs(np.sqrt(np.mean(z**2)) - np.sqrt(np.mean(x**2))) < 1e-3


torch = pytest.importorskip("torch")


def _tiny_bank(rng):
    from speechseq.train.kwbank import BankConfig, clip_features, dequantize, quantize

    cfg = BankConfig()
    bank = {"meta": {"config": {"pad_s": cfg.pad_s}, "roles": {}}}
    tone = (0.5 * np.sin(np.arange(6000) * 2 * np.pi * 700 / 16000)).astype(np.float32)
    for role, clips in (("pos", [tone] * 3), ("neg", [tone[:2000]] * 2)):
        feats = [clip_features(c, cfg) for c in clips]
        q = [quantize(f) for f, _, _ in feats]
        bank[f"{role}/q"] = np.concatenate(q)
        bank[f"{role}/offsets"] = np.concatenate([[0], np.cumsum([len(x) for x in q])])
        bank[f"{role}/end"] = np.array([e for _, e, _ in feats])
        bank[f"{role}/power"] = np.array([p for _, _, p in feats])
        bank[f"{role}/weight"] = np.ones(len(q), np.float32)
    bgq = quantize(logmel(0.01 * coloured_noise("brown", 16000 * 12, rng), FrontendConfig()))
    bank.update({"bg/q": bgq, "bg/offsets": np.array([0, len(bgq)]), "bg/end": np.array([-1]),
                 "bg/power": np.array([float(np.exp(dequantize(bgq)).sum(1).mean())]), "bg/weight": np.ones(1)})
    return bank


def test_feature_mix_labels_and_levels(rng):
    from speechseq.train.kwmix import Mixer, MixConfig

    bank = _tiny_bank(rng)
    mixer = Mixer(bank, MixConfig(clip_s=4.0, tempo=(1.0, 1.0), vtlp=(1.0, 1.0), reverb_prob=0.0, snr_db=(15.0, 20.0)), stride=4)
    x, y = mixer.batch(rng, 16, min_pos=1, max_pos=1, max_neg=0, specaug=False)
    assert x.shape == (16, 400, 40) and y.shape == (16, 100)
    assert torch.isfinite(x).all()
    # one positive per example: one stretch of 10 label steps (cut at the end of the example)
    for b in range(16):
        on = torch.nonzero(y[b])[:, 0]
        assert len(on) == min(10, 100 - int(on[0])) and int(on[-1] - on[0]) == len(on) - 1
    # the stretch starts where the tone ends: energy at 700 Hz (band ~10) drops right before it
    band = x[:, :, 8:13].mean(-1)
    for b in range(16):
        j0 = int(torch.nonzero(y[b])[0])
        frame = 4 * (j0 + 1)
        assert band[b, frame - 12: frame - 6].mean() > band[b, frame + 4: frame + 10].mean() + 3
    # no positives: no labels
    _, y0 = mixer.batch(rng, 8, max_pos=0)
    assert y0.sum() == 0


def test_feature_reverb_tail_falls_as_documented(rng):
    """MixConfig.rt60_s: the mixer's late reverberation weighs mel power with the amplitude's decay rule, so its
    tail falls 30 dB in rt60_s (as the shipped models were trained; Mixer._reverb), and holds 10 ** (-DRR / 10) of
    the direct power."""
    from speechseq.train.kwmix import Mixer, MixConfig

    bank = _tiny_bank(rng)
    mixer = Mixer(bank, MixConfig(clip_s=4.0, reverb_prob=1.0, rt60_s=(0.5, 0.5), drr_db=(6.0, 6.0)))
    fg = torch.zeros(2, 400, 40)
    fg[:, 100] = 1.0                                          # one frame of direct sound
    out = mixer._reverb(rng, fg)[0, :, 0].numpy().astype(np.float64)
    assert abs(out[100] - 1.0) < 1e-4 and np.abs(out[:100]).max() < 1e-5  # direct path kept, nothing before it
    tail = out[101:]
    assert abs(tail.sum() - 10 ** -0.6) < 1e-3
    assert abs(10 * np.log10(tail[50] / tail[0]) + 30.0) < 0.5   # rt60_s (0.5 s) later: -30 dB


def test_floor_guard_in_training_gives_the_runtimes_frames(rng):
    """speechseq.train.floor_guard: each row of a batch through the runtime's FloorGuard as a fresh stream
    (within its 1e-4 skip rule); quiet rows are returned as they are."""
    from speechseq.runtime.level import FloorGuard
    from speechseq.train.floor_guard import guard_features

    x = np.log(np.exp(rng.normal(-12.0, 2.0, (3, 600, 40))) + 1e-6).astype(np.float32)
    x[0, 100:150] += 14.0  # loud bursts over a near-silent floor: raised under them and for a while after
    x[1, 300:320] += 16.0
    guard = FloorGuard(1e-6, 60.0)
    want = np.stack([guard.step(row, guard.initial_state())[0] for row in x])
    got = guard_features(torch.from_numpy(x), 1e-6, 60.0).numpy()
    assert np.abs(want - x).max() > 5.0 and np.abs(got - want).max() <= 1e-4
    assert np.array_equal(got[2], x[2])  # nothing loud in this row
    assert (got[0, :100] == x[0, :100]).all() and (got[1, :300] == x[1, :300]).all()  # before its burst
    quiet = torch.from_numpy(x[2:])
    assert guard_features(quiet, 1e-6, 60.0) is quiet


def test_floor_guard_in_training_releases_at_the_frontends_hop(rng):
    """hop_s: training's guard releases per second of audio as the runtime's does at that hop (a 20 ms frontend's
    frames fell at 10 ms's rate per frame, half the runtime's per second); the bank frontend's 10 ms is the default."""
    from speechseq.frontend import FrontendConfig
    from speechseq.runtime.level import FloorGuard
    from speechseq.train.floor_guard import guard_features

    x = np.log(np.exp(rng.normal(-12.0, 2.0, (2, 300, 40))) + 1e-6).astype(np.float32)
    x[:, 50:75] += 14.0  # a loud burst over a near-silent floor: raised for a while after it
    cfg = FrontendConfig(hop_length=320)
    hop_s = cfg.hop_length / cfg.sample_rate
    guard = FloorGuard(1e-6, 60.0, hop_s=hop_s)
    want = np.stack([guard.step(row, guard.initial_state())[0] for row in x])
    got = guard_features(torch.from_numpy(x), 1e-6, 60.0, hop_s=hop_s).numpy()
    at_10ms = guard_features(torch.from_numpy(x), 1e-6, 60.0).numpy()
    assert np.abs(got - want).max() <= 1e-4 and np.abs(at_10ms - want).max() > 0.1
    ten = FloorGuard(1e-6, 60.0)
    assert np.abs(at_10ms - np.stack([ten.step(row, ten.initial_state())[0] for row in x])).max() <= 1e-4


def test_mixer_with_range_db_trains_on_guarded_frames(rng):
    """MixConfig.range_db: the same batch (same seed) as without it, through the floor guard; loud mixes over a
    near-silent floor then span at most range_db under their held peak."""
    from speechseq.train.floor_guard import guard_features
    from speechseq.train.kwmix import Mixer, MixConfig

    bank = _tiny_bank(rng)
    cfg = MixConfig(clip_s=4.0, level_dbfs=(-12.0, -10.0), floor_dbfs=(-75.0, -75.0), quiet_prob=1.0)
    plain, y0 = Mixer(bank, cfg).batch(np.random.default_rng(5), 8, min_pos=1, specaug=False)
    guarded, y1 = Mixer(bank, replace(cfg, range_db=60.0)).batch(np.random.default_rng(5), 8, min_pos=1, specaug=False)
    assert torch.equal(y0, y1)
    assert (guarded - plain).abs().max() > 1.0  # loud tones over a -75 dBFS floor: the guard acts
    assert torch.allclose(guarded, guard_features(plain, 1e-6, 60.0), atol=1e-5)
    loud = plain.amax(-1) > 0.0  # frames whose loudest band is over the guard's level (floor 1e-6, 60 dB)
    assert loud.float().mean() > 0.1
    span = plain.amax(-1) - guarded.amin(-1)  # a frame's range: at most 60 dB under its own loudest band
    assert (span[loud] <= 6 * np.log(10) + 1e-3).all() and (plain.amax(-1) - plain.amin(-1))[loud].max() > 6 * np.log(10) + 1


def test_band_limit_follows_the_filter_response(rng):
    """MixConfig.band_prob: examples heard through a high-pass and a low-pass: per mel band the
    power gain is the Butterworth response averaged over the band; 1 where the limit is off."""
    from speechseq.frontend import mel_filterbank
    from speechseq.train.kwmix import Mixer, MixConfig

    bank = _tiny_bank(rng)
    cfg = MixConfig(clip_s=4.0, band_prob=1.0, highpass_hz=(400.0, 400.0), lowpass_hz=(3000.0, 3000.0), band_order=(4, 4))
    gains = Mixer(bank, cfg)._band_gains(rng, 4).numpy()
    fb = mel_filterbank(FrontendConfig())
    centre_hz = (fb * np.linspace(0, 8000, fb.shape[1])).sum(1) / fb.sum(1)
    db = 10 * np.log10(gains)
    assert np.allclose(gains, gains[:1])                              # fixed cut-offs: one response
    assert (db[:, centre_hz < 150] < -30).all()                      # far below the high-pass
    assert (np.abs(db[:, (centre_hz > 900) & (centre_hz < 2000)]) < 0.5).all()   # the pass band
    high = centre_hz > 4500                                          # above the low-pass: about its response
    assert np.allclose(db[0, high], -10 * np.log10(1 + (centre_hz[high] / 3000) ** 8), atol=1.5)
    assert db[0, -1] < -28
    assert np.all(np.diff(db[0, centre_hz > 3500]) < 0)              # falling above the cut-off
    off = Mixer(bank, MixConfig(band_prob=0.0))._band_gains(rng, 4).numpy()
    assert np.allclose(off, 1.0, atol=1e-5)
    x, _ = Mixer(bank, MixConfig(clip_s=4.0, band_prob=0.5)).batch(rng, 8)
    assert torch.isfinite(x).all()


def test_bank_roundtrip_and_merge(tmp_path, rng):
    from speechseq.train.kwbank import BankItem, build_bank, load_bank, merge_banks, save_bank, select_clips
    import soundfile as sf

    paths = []
    for i in range(4):
        p = tmp_path / f"c{i}.wav"
        sf.write(p, (0.3 * np.sin(np.arange(4000 + 800 * i) * 0.2)).astype(np.float32), 16000)
        paths.append(p)
    items = [BankItem(str(paths[0]), "pos", text="hello", synthetic=True), BankItem(str(paths[1]), "neg", text="yellow"),
             BankItem(str(paths[2]), "bg", source="a"), BankItem(str(paths[3]), "bg", source="a")]
    bank = build_bank(items, workers=1)
    assert bank["bg/offsets"].tolist() == [0, len(bank["bg/q"])]  # one stream per background source
    saved = load_bank(save_bank(bank, tmp_path / "b.npz"))
    assert np.array_equal(saved["pos/q"], bank["pos/q"]) and saved["meta"]["texts"]["neg"] == ["yellow"]
    merged = merge_banks([(saved, {"pos": "pos", "neg": "neg"}), (saved, {"pos": "neg"})])
    assert merged["meta"]["roles"]["neg"]["clips"] == 2 and merged["meta"]["texts"]["neg"] == ["yellow", "hello"]
    assert len(merged["neg/q"]) == len(bank["neg/q"]) + len(bank["pos/q"])
    only = select_clips(merged, "neg", np.array([False, True]))
    assert np.array_equal(only["neg/q"], bank["pos/q"])


def test_speech_span_finds_speech_over_any_noise_floor():
    from speechseq.train.kwbank import speech_span

    db = np.full(200, -60.0)
    db[50:120] = -35.0                                     # speech 25 dB over the floor (under trim_silence's 40)
    assert speech_span(db) == (50, 120)
    db[130:133] = -56.0                                    # a click just over the floor is not speech
    assert speech_span(db) == (50, 120)
    assert speech_span(np.zeros(0)) == (0, 0)


def test_a_persons_recording_is_cut_to_its_speech_so_the_label_follows_the_word(tmp_path, rng):
    """A user's positive (half a second of floor, the word, a second of floor; 30 dB over the floor) gets
    its end frame where the word ends; a synthetic clip, already cut at synthesis, is left whole."""
    import soundfile as sf

    from speechseq.train.kwbank import BankConfig, BankItem, build_bank

    t = np.arange(8000) / 16000
    word = (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    floor = lambda n: (0.003 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731  (-50 dBFS, 30 dB under)
    sf.write(tmp_path / "mine.wav", np.concatenate([floor(8000), word, floor(16000)]), 16000)
    cfg = BankConfig(reverb_prob=0.0, colour_prob=0.0)
    pad = int(round(cfg.pad_s * 100))
    ends = {}
    for synthetic in (False, True):
        bank = build_bank([BankItem(str(tmp_path / "mine.wav"), "pos", 1.0, "user", synthetic)], cfg, workers=1)
        ends[synthetic] = int(bank["pos/end"][0])
    assert abs(ends[False] - (pad + 53)) <= 3              # the word's 50 frames and 3 of margin each side
    assert abs(ends[True] - (pad + 200)) <= 2              # the whole 2 s recording


def test_a_persons_recording_is_cut_to_the_take_a_vad_hears_before_the_energy_rule(tmp_path, rng):
    """The demo's "activate" (speech 0.48-0.99 s), then 0.4 s of white noise as loud as the word at 1.6-2.0 s:
    the energy rule alone ends the speech at the noise's end, the bank (cut first to the take Silero hears,
    as `speechseq record` cuts) at the word's (session 31: 21 of the 117 Precise amelia dev clips ended
    0.3-1.1 s late by the energy rule alone)."""
    import soundfile as sf

    from speechseq.runtime.takes import take_bounds
    from speechseq.runtime.vad import load_vad, silero_model_path
    from speechseq.train.kwbank import BankConfig, BankItem, build_bank, speech_span

    if silero_model_path() is None:
        pytest.skip("the silero-vad wheel is not installed (scripts/setup.sh installs it)")
    demo = sf.read(Path(__file__).resolve().parents[1] / "data" / "samples" / "activate_kitchen_lights.wav",
                   dtype="float32")[0]
    floor = lambda n: (1e-3 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731
    x = np.concatenate([floor(4800), demo[16000:30400], floor(6400), (0.1 * rng.standard_normal(6400)).astype(
        np.float32), floor(4800)])
    sf.write(tmp_path / "mine.wav", x, 16000)
    fr = len(x) // 160
    _, energy_end = speech_span(10 * np.log10((x[: fr * 160].astype(np.float64).reshape(fr, 160) ** 2).mean(1) + 1e-12))
    assert energy_end / 100 > 1.95                                    # the energy rule: the noise's end
    a, b = take_bounds(x, load_vad("silero"))
    assert 0.25 < a / 16000 < 0.5 and 1.15 < b / 16000 < 1.35         # the word, padded by 0.2 s
    cfg = BankConfig(reverb_prob=0.0, colour_prob=0.0)
    bank = build_bank([BankItem(str(tmp_path / "mine.wav"), "pos", 1.0, "user")], cfg, workers=1)
    speech_frames = int(bank["pos/end"][0]) - int(round(cfg.pad_s * 100))
    assert 45 <= speech_frames <= 65                                  # the word's ~51 frames and 3 of margin each side


def test_a_padded_real_clips_speech_end_ignores_the_padding(tmp_path, rng):
    """A real keyword clip in the bank (real_pos) is the recording padded with a quieter noise floor: its
    word's end is found over the recording's own frames, where the whole clip's floor would be the padding's
    and the recording's own noise would pass for speech up to its end."""
    import soundfile as sf

    from speechseq.train.kwbank import (REAL_LEAD_S, BankConfig, BankItem, build_bank, dequantize,
                                        padded_speech_end, speech_span)

    t = np.arange(8000) / 16000
    word = (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    floor = lambda n: (0.01 * rng.standard_normal(n)).astype(np.float32)  # noqa: E731  (-40 dBFS, 17 dB under)
    sf.write(tmp_path / "real.wav", np.concatenate([floor(8000), word, floor(16000)]), 16000)
    cfg = BankConfig()
    bank = build_bank([BankItem(str(tmp_path / "real.wav"), "real_pos", 1.0, "precise-x")], cfg, workers=1)
    db = 10 * np.log10(np.exp(dequantize(bank["real_pos/q"]).astype(np.float64)).sum(1) + 1e-12)
    word_end = int(round((cfg.pad_s + REAL_LEAD_S) * 100)) + 50 + 50  # padding, the recording's lead, the word
    assert abs(padded_speech_end(db, cfg) - word_end) <= 3
    assert speech_span(db)[1] - word_end > 80                            # the whole clip's floor: the recording's end


def test_a_background_longer_than_the_cap_is_cut_and_said_so(tmp_path, rng, capfd):
    """A background file over BankConfig.max_bg_s keeps its first max_bg_s seconds, and a note says so (it was cut
    without a word: "an hour of talk radio" in one file trained on ten minutes of it)."""
    from speechseq.train.kwbank import BankConfig, BankItem, build_bank

    sf.write(tmp_path / "radio.wav", (0.05 * rng.standard_normal(16000 * 5)).astype(np.float32), 16000)
    sf.write(tmp_path / "room.wav", (0.05 * rng.standard_normal(16000 * 2)).astype(np.float32), 16000)
    bank = build_bank([BankItem(str(tmp_path / "radio.wav"), "bg", source="a"),
                       BankItem(str(tmp_path / "room.wav"), "bg", source="a")], BankConfig(max_bg_s=3.0), workers=1)
    assert int(bank["bg/offsets"][-1]) == 298 + 198                   # 3 s and 2 s of 10 ms frames, one stream
    err = capfd.readouterr().err
    assert "radio.wav: only its first 3 s of 5 s are used" in err and "room.wav" not in err


_BANK_INTERRUPTED = """
import sys
from speechseq.cli import _sigterm_as_ctrl_c
from speechseq.train.kwbank import BankItem, build_bank
_sigterm_as_ctrl_c()
items = [BankItem(sys.argv[1], "bg", source=f"s{i}") for i in range(int(sys.argv[2]))]
print("started", flush=True)
try:
    build_bank(items, workers=2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_interrupt_stops_building_the_bank_at_once(tmp_path, rng, how):
    """Ctrl+C (SIGINT to the process group) while `train detector` computed its features printed a traceback from
    each worker and then hung in pool.join() (the jobs the killed workers held never came back) until a second
    Ctrl+C; `kill PID` (SIGTERM, Ctrl+C to the CLI) went on computing every clip's features before it stopped."""
    from .interrupts import interrupted_run

    script, wav = tmp_path / "run.py", tmp_path / "long.wav"
    script.write_text(_BANK_INTERRUPTED)
    sf.write(wav, (0.05 * rng.standard_normal(16000 * 30)).astype(np.float32), 16000)  # 1000 x 30 s: ~25 s
    # a hang check (about 25 s of work left)
    out, err, code = interrupted_run([str(script), str(wav), "1000"], how, after_s=2.0, within_s=15, timeout_s=30)
    assert code == 130 and "interrupted" in out
    assert "Traceback" not in err  # no worker tracebacks


_POOL_STARTING = """
import os, sys, time
from speechseq.train.pools import job_pool, quiet_worker
def slow_start():  # a worker's initializer that takes a while (imports, models) before it can ignore Ctrl+C
    os.write(1, b"started\\n")  # one write: the two workers' prints came out as "startedstarted" at times
    time.sleep(2.0)
    quiet_worker()
def job(i):
    time.sleep(0.1)
    return i
try:
    with job_pool(2, 100, slow_start) as pool:
        pool.map(job, range(100))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_while_the_pool_starts_prints_no_worker_traceback(tmp_path):
    """A worker is forked with the main process's Ctrl+C handler and ignores Ctrl+C only once its initializer has
    run: Ctrl+C to the process group in between killed it with a KeyboardInterrupt traceback. Ctrl+C is now
    blocked from the fork until the initializer is done."""
    from .interrupts import interrupted_run

    script = tmp_path / "run.py"
    script.write_text(_POOL_STARTING)
    out, err, code = interrupted_run([str(script)], "ctrl-c", after_s=0.5, within_s=15, timeout_s=30)
    assert code == 130 and "interrupted" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_followed_placement_keeps_each_follower_at_its_offset_and_apart_from_the_rest(rng):
    from speechseq.train.augment import place_followed

    lengths, lead, offset = [50, 30, 40, 20, 60], [-1, 0, -1, 2, -1], [0, 45, 0, 10, 0]
    for _ in range(200):
        s = place_followed(rng, 400, lengths, lead, offset)
        assert s[1] == s[0] + 45 and s[3] == s[2] + 10               # run-on: 45 frames after its lead's start
        spans = sorted([(s[0], s[1] + 30), (s[2], s[2] + 40), (s[4], s[4] + 60)])
        assert spans[0][0] >= 0 and spans[-1][1] <= 400
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))   # nothing else overlaps
    # a lead that cannot fit is dropped with its follower; without followers, place_without_overlap's draws
    s = place_followed(rng, 100, [60, 50, 30], [-1, 0, -1], [0, 55, 0])  # the pair spans 105 frames
    assert list(s[:2]) == [-1, -1] and 0 <= s[2] <= 70
    assert list(place_followed(np.random.default_rng(3), 100, [20, 30], [-1, -1], [0, 0])) == list(
        place_without_overlap(np.random.default_rng(3), 100, [20, 30]))
    with pytest.raises(ValueError, match="follower"):
        place_followed(rng, 100, [20, 30, 10], [-1, 0, 1], [0, 5, 5])


def test_follow_share_puts_a_negative_right_after_the_keyword_and_keeps_its_label(rng):
    from speechseq.train.kwmix import Mixer, MixConfig

    bank = _tiny_bank(rng)
    base = MixConfig(clip_s=4.0, tempo=(1.0, 1.0), vtlp=(1.0, 1.0), reverb_prob=0.0, snr_db=(15.0, 20.0),
                     follow_gap_s=(0.05, 0.05))
    out = {}
    for share in (0.0, 1.0):
        x, y = Mixer(bank, replace(base, follow_share=share)).batch(
            np.random.default_rng(8), 16, min_pos=1, max_pos=1, max_neg=1, specaug=False)
        band = x[:, :, 8:13].mean(-1)
        on = [int(torch.nonzero(y[b])[0]) for b in range(16)]
        assert all(len(torch.nonzero(y[b])) == min(10, 100 - on[b]) for b in range(16))  # one stretch, as without
        # the keyword ends in frames (4 j0, 4 j0 + 4]: a follower's tone sounds from 5 frames after, for 12.5 frames
        out[share] = [(float(band[b, 4 * j + 10: 4 * j + 16].mean() - band[b, 4 * j + 26: 4 * j + 32].mean()))
                      for b, j in enumerate(on) if 4 * j + 32 <= 400]
    assert len(out[1.0]) >= 8 and min(out[1.0]) > 3          # every keyword followed at once by speech
    assert sorted(out[0.0])[len(out[0.0]) // 2] < 1          # without the option, mostly quiet after it
    with pytest.raises(Exception, match="follow_share"):
        MixConfig(follow_share=1.5)


def test_follow_share_zero_leaves_the_batches_as_shipped():
    """Mixes as the shipped models were trained, draw for draw (a digest of two seeded batches made before the
    option existed)."""
    import hashlib
    from speechseq.train.kwmix import Mixer, MixConfig

    mixer = Mixer(_tiny_bank(np.random.default_rng(1234)), MixConfig(clip_s=4.0))
    h = hashlib.sha256()
    for seed in (0, 1):
        x, y = mixer.batch(np.random.default_rng(seed), 8, min_pos=1)
        h.update(np.round(x.numpy(), 3).tobytes())
        h.update(y.numpy().tobytes())
    assert h.hexdigest() == "20809aa9989fa5bd0bee95c620638724590ceaa12332611fb3a4a912bdade464"


@pytest.mark.parametrize("speech_frames,lowest,highest", [(50, 0.22, 0.68), (100, 0.28, 0.72)])
def test_a_truncated_positive_keeps_the_share_of_its_keyword_the_config_says(speech_frames, lowest, highest):
    """trunc_neg_prob's negatives cut a positive at 35-75 % of the frames up to its speech's end, its 0.1 s of leading
    silence counted: of a 0.5 s keyword they keep its first 22-68 %, of a 1 s one 28-72 % (the comment said 35-75 %)."""
    from speechseq.train.kwmix import Mixer, MixConfig

    pad, n_mels = 10, 40   # the bank's pad_s (0.1 s) of silence before and after the clip's sound
    clip = np.zeros((pad + speech_frames + pad, n_mels), np.uint8)
    clip[pad: pad + speech_frames] = 150     # q 0 is no power at all (Mixer._power), 150 loud
    role = {"q": clip, "offsets": np.array([0, len(clip)]), "end": np.array([pad + speech_frames]),
            "power": np.array([float(np.exp(-16.0 + 15.0)) * n_mels]), "weight": np.ones(1)}
    silence = np.zeros((2000, n_mels), np.uint8)
    bg = {"q": silence, "offsets": np.array([0, len(silence)]), "end": np.array([-1]), "power": np.array([1e-9]),
          "weight": np.ones(1)}
    bank = {"meta": {"config": {"pad_s": 0.1}}, **{f"{r}/{k}": v for r, d in (("pos", role), ("neg", role), ("bg", bg))
                                                  for k, v in d.items()}}
    cfg = MixConfig(clip_s=4.0, trunc_neg_prob=1.0, tempo=(1.0, 1.0), vtlp=(1.0, 1.0), reverb_prob=0.0, bg2_prob=0.0,
                    colour_db=0.0, quiet_prob=0.0, snr_db=(20.0, 20.0), floor_dbfs=(-200.0, -200.0))
    x, _ = Mixer(bank, cfg).batch(np.random.default_rng(0), 400, max_pos=0, max_neg=1, specaug=False)
    kept = (x.mean(-1) > -10.0).sum(-1).numpy()       # frames of the keyword's sound in each example (one clip at most)
    shares = kept[kept > 0] / speech_frames
    assert len(shares) > 150
    assert shares.min() == pytest.approx(lowest) and shares.max() == pytest.approx(highest)
