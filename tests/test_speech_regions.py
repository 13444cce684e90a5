"""speech_regions: VAD probabilities -> the padded sample ranges that transcribe recognises;
and transcribe with a VAD gives no words for silence and noise but keeps speech."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main
from speechseq.runtime.speech_regions import RegionConfig, speech_probabilities, speech_regions

F = 0.032  # seconds per VAD frame (512 samples at 16 kHz)
ROOT = Path(__file__).resolve().parents[1]


def probs(*runs: tuple[int, int], n: int = 200) -> np.ndarray:
    p = np.full(n, 0.1, np.float32)
    for a, b in runs:
        p[a:b] = 0.9
    return p


def test_no_speech_gives_no_region():
    assert speech_regions(np.full(100, 0.49), F, 100 * 512) == []
    assert speech_regions(np.zeros(0), F, 0) == []


def test_one_run_is_padded_and_clipped_to_the_audio():
    cfg = RegionConfig(pad_s=0.3)
    assert speech_regions(probs((50, 60)), F, 200 * 512, cfg=cfg) == [(50 * 512 - 4800, 60 * 512 + 4800)]
    # at the edges the padding stops at the first and last sample
    assert speech_regions(probs((0, 10)), F, 200 * 512, cfg=cfg) == [(0, 10 * 512 + 4800)]
    assert speech_regions(probs((190, 200)), F, 200 * 512 - 100, cfg=cfg) == [(190 * 512 - 4800, 200 * 512 - 100)]


def test_short_pauses_merge_long_ones_split():
    cfg = RegionConfig(merge_gap_s=0.8, pad_s=0.0)
    # 20 frames = 0.64 s < 0.8 s: one region; 40 frames = 1.28 s: two
    assert speech_regions(probs((10, 20), (40, 50)), F, 200 * 512, cfg=cfg) == [(10 * 512, 50 * 512)]
    assert speech_regions(probs((10, 20), (60, 70)), F, 200 * 512, cfg=cfg) == [(10 * 512, 20 * 512), (60 * 512, 70 * 512)]
    # two regions whose padding overlaps become one
    wide = RegionConfig(merge_gap_s=0.8, pad_s=0.7)
    assert speech_regions(probs((10, 20), (60, 70)), F, 200 * 512, cfg=wide) == [(0, 70 * 512 + 11200)]


def test_blips_shorter_than_min_speech_are_dropped():
    cfg = RegionConfig(min_speech_s=0.1, pad_s=0.0)
    assert speech_regions(probs((10, 12)), F, 200 * 512, cfg=cfg) == []      # 64 ms
    assert speech_regions(probs((10, 14)), F, 200 * 512, cfg=cfg) == [(10 * 512, 14 * 512)]  # 128 ms


def test_regions_are_ordered_disjoint_and_inside_the_audio():
    """On random probabilities: regions in order, disjoint, inside the audio; every frame of a run of speech long
    enough to count inside one; with no minimum, each region is exactly its speech frames padded and clipped, the
    pauses inside it shorter than merge_gap_s (or padded over) and those between regions not. (The coverage check
    ran only for min_speech_s == 0, which a uniform draw never gives, and allowed a frame's end 512 samples out.)"""
    rng = np.random.default_rng(0)
    exact = 0
    for case in range(200):
        n = int(rng.integers(1, 300))
        p = (rng.random(n) < rng.random()).astype(np.float32)
        samples = n * 512 + int(rng.integers(0, 512))
        cfg = RegionConfig(merge_gap_s=float(rng.uniform(0, 1)),
                           min_speech_s=0.0 if case % 2 else float(rng.uniform(0, 0.2)),
                           pad_s=float(rng.uniform(0, 0.5)))
        r = speech_regions(p, F, samples, cfg=cfg)
        flat = [x for ab in r for x in ab]
        assert flat == sorted(flat) and all(a < b for a, b in r)
        assert all(r[i][1] < r[i + 1][0] for i in range(len(r) - 1))
        assert not r or (r[0][0] >= 0 and r[-1][1] <= samples)
        speech = np.flatnonzero(p >= 0.5)
        runs = np.split(speech, np.flatnonzero(np.diff(speech) > 1) + 1) if len(speech) else []
        # every frame [k F, (k + 1) F) of a run of speech long enough to count lies inside a region
        assert all(any(a <= k * 512 and (k + 1) * 512 <= b for a, b in r)
                   for run in runs if len(run) * F >= cfg.min_speech_s for k in run)
        if cfg.min_speech_s > 0:
            continue
        # with no minimum, each region is its speech frames, padded and clipped to the audio
        pad = round(cfg.pad_s * 16000)
        inside = [speech[(speech * 512 >= a) & ((speech + 1) * 512 <= b)] for a, b in r]
        assert all(len(ks) for ks in inside) and sum(len(ks) for ks in inside) == len(speech)
        assert r == [(max(0, ks[0] * 512 - pad), min(samples, (ks[-1] + 1) * 512 + pad)) for ks in inside]
        # pauses shorter than merge_gap_s (or whose padding overlaps) are inside a region, longer ones between two
        gap = cfg.merge_gap_s / F
        assert all(b[0] - a[-1] - 1 >= gap for a, b in zip(inside, inside[1:]))
        assert all(k2 - k1 - 1 < gap or k2 * 512 - pad <= (k1 + 1) * 512 + pad
                   for ks in inside for k1, k2 in zip(ks, ks[1:]))
        exact += bool(r)
    assert exact >= 50          # the exact checks ran on regions, not on empty outputs


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        RegionConfig(threshold=1.0)
    with pytest.raises(ValueError):
        RegionConfig(pad_s=-0.1)


@pytest.mark.parametrize("vad", ["energy", "auto"])
def test_transcribe_with_vad_is_silent_on_silence_and_noise_and_keeps_the_speech(tmp_path, capsys, vad):
    """Shipped recogniser: 5 s of digital silence and of -60 dBFS hiss give no words with a VAD
    (without one, the shipped model wrote "six" into both); speech padded with 4 s of silence on
    each side still gives its words, timed inside the speech."""
    model = ROOT / "models" / "recognizer-en.int8.onnx"
    speech, sr = sf.read(ROOT / "data/samples/activate_kitchen_lights.wav", dtype="float32")
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "silence.wav", np.zeros(5 * sr, np.float32), sr)
    sf.write(tmp_path / "hiss.wav", (1e-3 * rng.standard_normal(5 * sr)).astype(np.float32), sr)
    pad = np.zeros(4 * sr, np.float32)
    sf.write(tmp_path / "padded.wav", np.concatenate([pad, speech, pad]), sr)
    args = ["transcribe", "--format", "json", "--decoder", "greedy", "--model", str(model), "--vad", vad]
    assert main([*args, str(tmp_path / "silence.wav"), str(tmp_path / "hiss.wav"), str(tmp_path / "padded.wav")]) == 0
    out = {Path(d["file"]).name: d for d in map(json.loads, capsys.readouterr().out.splitlines())}
    assert out["silence.wav"]["text"] == "" and out["silence.wav"]["words"] == []
    assert out["hiss.wav"]["text"] == "" and out["hiss.wav"]["duration"] == 5.0
    words = out["padded.wav"]["words"]
    assert len(words) >= 4, out["padded.wav"]
    # the speech of the demo recording lies in 1.0-4.5 s of it: 5.0-8.5 s here
    assert all(4.5 <= w["start"] < w["end"] <= 9.0 for w in words), words
    assert out["padded.wav"]["duration"] == round((len(speech) + 8 * sr) / sr, 3)


def test_speech_probabilities_drop_the_lead_in_and_keep_frame_alignment():
    from speechseq.runtime.vad import EnergyVad

    sr = 16000
    x = np.zeros(3 * sr, np.float32)
    x[sr: 2 * sr] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)  # a tone from 1 s to 2 s
    p = speech_probabilities(EnergyVad(), x)
    assert len(p) == len(x) // 512
    loud = np.flatnonzero(p >= 0.5)
    # frames k with [512 k, 512 (k + 1)) inside the tone: 32 .. 61
    assert loud.min() in (31, 32) and loud.max() in (61, 62), loud


@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_a_vad_state_does_not_share_the_callers_memory(vad):
    """The state is a value: writing into the chunk after a step (a reused device buffer) leaves it be
    (Silero's 64-sample context used to be a view of the chunk's last frame), and the probabilities of a
    stream fed through one reused buffer equal those of fresh chunks."""
    from speechseq.runtime.vad import load_vad, silero_model_path

    if vad == "silero" and silero_model_path() is None:
        pytest.skip("silero-vad not installed")
    v = load_vad(vad)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=16 * 1024) * np.repeat(rng.uniform(0, 0.3, 16), 1024)).astype(np.float32)
    fresh, reused, st_f, st_r, buf = [], [], v.initial_state(), v.initial_state(), np.empty(1024, np.float32)
    for i in range(0, len(x), 1024):
        p, st_f = v.step(x[i : i + 1024].copy(), st_f)
        fresh.append(p)
        buf[:] = x[i : i + 1024]
        p, st_r = v.step(buf, st_r)
        reused.append(p)
        kept = (st_r.pending.copy(), st_r.context.copy(), st_r.rnn.copy())
        buf[:] = 1.0
        assert all(np.array_equal(a, b) for a, b in zip(kept, (st_r.pending, st_r.context, st_r.rnn)))
    assert np.array_equal(np.concatenate(fresh), np.concatenate(reused))


@pytest.mark.parametrize("dbfs", [-50, -30, -10])
def test_energy_vad_hears_no_speech_in_steady_noise(dbfs):
    """A clip's noise floor is found from its quiet frames: primed by digital silence, the floor started at
    -100 dB and rose 1.5 dB/s, so that any noise above -55 dBFS was speech for the whole of every clip (and
    `transcribe --vad energy` wrote words into all of it). Speech over such noise is still heard."""
    from speechseq.runtime.vad import EnergyVad

    sr = 16000
    speech, _ = sf.read(ROOT / "data/samples/activate_kitchen_lights.wav", dtype="float32")
    noise = (10 ** (dbfs / 20) * np.random.default_rng(0).standard_normal(10 * sr)).astype(np.float32)
    assert speech_regions(speech_probabilities(EnergyVad(), noise[: 5 * sr]), F, 5 * sr) == []
    if dbfs < -30:
        x = noise.copy()
        x[2 * sr: 2 * sr + len(speech)] += 0.3 * speech  # the words lie in 3.0-6.5 s
        r = speech_regions(speech_probabilities(EnergyVad(), x), F, len(x))
        assert r and 2.5 * sr <= r[0][0] <= 3.2 * sr and 6.0 * sr <= r[-1][1] <= 7.5 * sr, r


def test_energy_vad_ignores_a_dc_offset():
    """A DC offset is no sound: it gave a constant 0.5 the level of speech and hid speech under it."""
    from speechseq.runtime.vad import EnergyVad

    sr = 16000
    speech, _ = sf.read(ROOT / "data/samples/activate_kitchen_lights.wav", dtype="float32")
    x = np.concatenate([np.zeros(2 * sr, np.float32), 0.3 * speech, np.zeros(2 * sr, np.float32)])
    plain = speech_regions(speech_probabilities(EnergyVad(), x), F, len(x))
    assert plain and speech_regions(speech_probabilities(EnergyVad(), x + 0.4), F, len(x)) == plain
    assert speech_regions(speech_probabilities(EnergyVad(), np.full(5 * sr, 0.5, np.float32)), F, 5 * sr) == []


@pytest.mark.parametrize("sr", [8000, 44100])
def test_speech_probabilities_at_another_rate_keep_the_time(sr):
    """The VADs run at 16 kHz: audio at another rate (a recogniser's own, passed as sample_rate) is resampled
    first, so that frame k still covers [k F, (k + 1) F) seconds-wise. It was fed as it came: at 8 kHz a tone at
    1-2 s came out at 0.5-1 s, at 44.1 kHz at 2.8-5.5 s."""
    from speechseq.runtime.vad import EnergyVad

    x = np.zeros(3 * sr, np.float32)
    x[sr: 2 * sr] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr)
    p = speech_probabilities(EnergyVad(), x, sr)
    assert len(p) == 3 * 16000 // 512
    r = speech_regions(p, F, len(x), sr, RegionConfig(pad_s=0.0))
    assert len(r) == 1 and abs(r[0][0] / sr - 1.0) <= 0.04 and abs(r[0][1] / sr - 2.0) <= 0.04, r


def test_load_vad_refuses_a_bad_kind_and_a_graph_that_is_not_silero(tmp_path):
    """A misspelt kind with a path loaded Silero from it; an ONNX file that is not Silero's loaded, and failed on
    the first step with onnxruntime's missing-inputs error instead of a ModelError naming the file."""
    from speechseq.runtime.onnx import ModelError
    from speechseq.runtime.vad import load_vad, silero_model_path

    with pytest.raises(ValueError, match="auto, silero or energy"):
        load_vad("silerro", path=silero_model_path() or tmp_path / "x.onnx")
    with pytest.raises(ModelError, match="recognizer-en.int8.onnx"):
        load_vad("silero", path=ROOT / "models" / "recognizer-en.int8.onnx")


@pytest.mark.parametrize("vad", ["silero", "energy"])
def test_a_vad_scales_integer_chunks_and_refuses_stereo(vad):
    """A chunk of int16 samples is at full scale 1.0, as the detector, listener and recogniser take it: it was taken
    unscaled (32768 times too loud), probabilities up to 0.9998 away from the float chunk's. An (N, 1) column is
    mono; an (N, 2) chunk was flattened, its interleaved channels read as a stream twice as long."""
    from speechseq.runtime.vad import load_vad, silero_model_path

    if vad == "silero" and silero_model_path() is None:
        pytest.skip("silero-vad not installed")
    v = load_vad(vad)
    speech, _ = sf.read(ROOT / "data/samples/activate_kitchen_lights.wav", dtype="float32")
    x = np.concatenate([np.zeros(16000, np.float32), speech, np.zeros(16000, np.float32)])
    as_int = (x * 32768).astype(np.int16)
    want, _ = v.step(as_int.astype(np.float32) / 32768, v.initial_state())
    got, state = v.step(as_int, v.initial_state())
    assert len(got) == len(x) // 512 and np.abs(got - want).max() < 1e-5
    assert state.pending.dtype == np.float32
    column, _ = v.step(x[:, None], v.initial_state())
    assert np.array_equal(column, v.step(x, v.initial_state())[0])
    with pytest.raises(ValueError, match=r"1-D \(mono\).*\(2048, 2\)"):
        v.step(np.zeros((2048, 2), np.float32), v.initial_state())


@pytest.mark.parametrize("name, value", [("slope_db", 0.0), ("slope_db", -3.0), ("margin_db", float("nan")),
                                         ("min_db", float("nan")), ("rise_db_per_s", -1.0),
                                         ("rise_db_per_s", float("inf"))])
def test_energy_vad_refuses_settings_that_cannot_work(name, value):
    """One ValueError naming the setting when the VAD is made: a slope of 0 was a ZeroDivisionError on the first
    frame, a NaN margin made every probability NaN (never speech), a negative rise let the floor only fall."""
    from speechseq.runtime.vad import EnergyVad

    with pytest.raises(ValueError, match=rf"energy VAD settings out of range: {name} {value!r} \("):
        EnergyVad(**{name: value})
    assert EnergyVad(min_db=float("-inf")).min_db == float("-inf")   # no lower bound on the floor: allowed


def test_speech_offset_is_the_end_of_the_last_speech_frame_in_the_span():
    """Where the VAD last hears speech in a piece (the last word's bound, as speech_onset is the first's): the end of
    its last speech frame, never after the piece; the piece's end when no frame in it is speech, or when the clip's
    last whole frame is (the samples after it were not judged)."""
    from speechseq.runtime.speech_regions import speech_offset

    p = probs((10, 20), (40, 50))
    assert speech_offset(p, F, (0, 200 * 512)) == 50 * 512
    assert speech_offset(p, F, (0, 30 * 512)) == 20 * 512                       # the piece's own last speech
    assert speech_offset(p, F, (0, 45 * 512 + 100)) == 45 * 512 + 100           # inside a speech frame: its end
    assert speech_offset(p, F, (60 * 512, 200 * 512)) == 200 * 512              # none: no bound
    assert speech_offset(probs((190, 200)), F, (0, 200 * 512 + 300)) == 200 * 512 + 300   # to the clip's end
    assert speech_offset(np.zeros(0), F, (0, 100)) == 100
