"""One frontend: streamed chunks == whole clip == torch module == ONNX graph, on speech."""
import subprocess
import sys

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.frontend import FrontendConfig, StreamingFrontend, logmel, mel_filterbank, num_frames

from .conftest import real_speech_files

SPEECH = ["demo"] + [str(p) for p in real_speech_files()]


def _audio(name, demo_wav):
    return load_audio(demo_wav if name == "demo" else name)


def _stream(audio, cfg, rng, max_chunk=4000):
    fe = StreamingFrontend(cfg)
    state, out, i = fe.initial_state(), [], 0
    while i < len(audio):
        n = int(rng.choice([1, 2, 159, 160, 161, 399, 400, 1600, int(rng.integers(1, max_chunk))]))
        f, state = fe.step(audio[i : i + n], state)
        out.append(f)
        i += n
    return np.concatenate(out), state


@pytest.mark.parametrize("n_mels", [40, 80])
@pytest.mark.parametrize("name", SPEECH)
def test_streaming_equals_whole_clip(name, n_mels, demo_wav, rng):
    cfg = FrontendConfig(n_mels=n_mels)
    audio = _audio(name, demo_wav)
    whole = logmel(audio, cfg)
    streamed, state = _stream(audio, cfg, rng)
    assert whole.shape == (num_frames(len(audio), cfg), n_mels)
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() <= 1e-4
    assert len(state.pending) < cfg.win_length + cfg.hop_length


def test_one_sample_chunks(demo_wav):
    cfg = FrontendConfig()
    audio = load_audio(demo_wav)[:3000]
    fe = StreamingFrontend(cfg)
    state, out = fe.initial_state(), []
    for s in audio:
        f, state = fe.step(np.array([s]), state)
        out.append(f)
    assert np.abs(np.concatenate(out) - logmel(audio, cfg)).max() <= 1e-4


@pytest.mark.parametrize("n_mels", [40, 80])
def test_filterbank_matches_librosa(n_mels):
    librosa = pytest.importorskip("librosa")
    cfg = FrontendConfig(n_mels=n_mels)
    ref = librosa.filters.mel(sr=16000, n_fft=512, n_mels=n_mels, fmin=cfg.fmin, fmax=cfg.fmax)
    assert np.abs(ref - mel_filterbank(cfg)).max() < 1e-7


def test_features_follow_the_signal():
    cfg = FrontendConfig(n_mels=40)
    t = np.arange(16000) / 16000
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    f = logmel(tone, cfg)
    assert f.shape == (98, 40)
    peak = f.mean(axis=0).argmax()
    centres = np.linspace(0, 1, 42)  # rough check: 1 kHz lies in the lower third of 20 Hz..7.6 kHz (mel)
    assert 8 <= peak <= 16, peak
    silent = logmel(np.zeros(16000, np.float32), cfg)
    assert np.allclose(silent, np.log(cfg.floor), atol=1e-6)
    assert logmel(np.zeros(399, np.float32), cfg).shape == (0, 40)


@pytest.mark.parametrize("n_mels", [40, 80])
@pytest.mark.parametrize("name", SPEECH)
def test_torch_and_onnx_equal_numpy(name, n_mels, demo_wav, tmp_path):
    torch = pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from speechseq.nn.frontend import LogMel, export_frontend

    cfg = FrontendConfig(n_mels=n_mels)
    audio = _audio(name, demo_wav)[: 16000 * 8]
    ref = logmel(audio, cfg)
    with torch.no_grad():
        got = LogMel(cfg)(torch.from_numpy(audio)[None]).numpy()[0]
    assert got.shape == ref.shape and np.abs(got - ref).max() <= 1e-4
    path = tmp_path / "frontend.onnx"
    export_frontend(cfg, str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"audio": audio[None]})[0][0]
    assert out.shape == ref.shape and np.abs(out - ref).max() <= 1e-4
    # another length through the same graph: the time axis is dynamic
    out2 = sess.run(None, {"audio": audio[None, :12345]})[0][0]
    assert np.abs(out2 - logmel(audio[:12345], cfg)).max() <= 1e-4


@pytest.mark.parametrize("n", [0, 1, 399, 400, 559, 560])
def test_torch_frontend_gives_no_frame_for_a_clip_shorter_than_a_window(n, rng):
    """LogMel's contract is numpy's: T = num_frames(N), 0 frames when N < win (it raised in conv1d)."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.frontend import LogMel

    cfg = FrontendConfig(n_mels=40)
    audio = (0.1 * rng.standard_normal(n)).astype(np.float32)
    with torch.no_grad():
        got = LogMel(cfg)(torch.from_numpy(np.stack([audio, audio])))
    assert tuple(got.shape) == (2, num_frames(n, cfg), 40)
    assert np.abs(got[0].numpy() - logmel(audio, cfg)).max(initial=0.0) <= 1e-4


def test_long_clip_across_fft_blocks_matches_a_float64_reference(demo_wav):
    """logmel works in blocks of frames on long clips: a 26 s clip (over two blocks, from an
    offset into a larger buffer) equals a direct float64 computation of the documented formula."""
    from speechseq.frontend import hann_window

    cfg = FrontendConfig(n_mels=80)
    speech = load_audio(demo_wav)
    rng = np.random.default_rng(3)
    buf = np.concatenate([speech] * 6 + [0.01 * rng.standard_normal(16000).astype(np.float32)])
    audio = buf[123 : 123 + 26 * 16000]                       # a view with an offset: framing must honour it
    got = logmel(audio, cfg)
    t = num_frames(len(audio), cfg)
    assert got.shape == (t, 80) and t > 2048
    idx = np.arange(t)[:, None] * cfg.hop_length + np.arange(cfg.win_length)[None]
    spec = np.fft.rfft(audio.astype(np.float64)[idx] * hann_window(cfg), n=cfg.n_fft)
    ref = np.log((np.abs(spec) ** 2) @ mel_filterbank(cfg).T + cfg.floor)
    assert np.abs(got - ref).max() < 2e-4
    assert np.abs(got[2040:2060] - ref[2040:2060]).max() < 2e-4   # across the first block boundary


def test_the_fast_fft_is_scipys_rfft_bit_for_bit(rng):
    """The streaming path calls pocketfft directly where scipy has it: the same numbers as scipy.fft.rfft."""
    from scipy.fft import rfft

    from speechseq.frontend import _load_rfft

    fft = _load_rfft()
    for n in (1, 3, 10, 2048):
        frames = rng.standard_normal((n, 512)).astype(np.float32)
        got, want = fft(frames), rfft(frames, axis=-1)
        assert got.dtype == np.complex64 and got.shape == (n, 257)
        assert np.array_equal(got, want)


def test_the_streaming_fft_leaves_scipy_fft_unimported():
    """The frontend loads scipy's pocketfft extension on its own: scipy.fft's package (and scipy.special, which it
    imports) stays out of the process, about 20 MB of the listener's resident memory; the transform is the fast one."""
    code = ("import sys, numpy as np; import speechseq.frontend as f; f.logmel(np.ones(1600, np.float32)); "
            "print(f._rfft.__name__, sorted(m for m in ('scipy.fft', 'scipy.special') if m in sys.modules)); "
            "x = np.random.default_rng(0).standard_normal((5, 512)).astype(np.float32); y = f._rfft(x); "
            "from scipy.fft import rfft; print(np.array_equal(y, rfft(x, axis=-1)))")  # loaded first on its own
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["direct", "[]", "True"]


def test_tables_follow_the_config_not_the_object():
    """The tables are cached by the last config object seen; equal configs share them, others do not."""
    from speechseq.frontend import _Tables

    a40, b40, a80 = FrontendConfig(n_mels=40), FrontendConfig(n_mels=40), FrontendConfig(n_mels=80)
    t40 = _Tables.get(a40)
    assert _Tables.get(b40) is t40
    t80 = _Tables.get(a80)
    assert t80[1].shape[1] == 80 and t40[1].shape[1] == 40
    assert _Tables.get(a40) is t40 and _Tables.get(a80) is t80
    x = np.random.default_rng(1).standard_normal(4000).astype(np.float32)
    assert logmel(x, a40).shape[1] == 40 and logmel(x, a80).shape[1] == 80 and logmel(x, b40).shape[1] == 40


def test_a_stereo_chunk_is_refused_not_interleaved():
    """StreamingFrontend.step flattened any array: a (N, 2) stereo chunk became 2N interleaved samples (features of
    another signal, at the wrong length) where logmel refuses it; a (N, 1) column, as audio drivers give, is mono."""
    cfg = FrontendConfig()
    fe = StreamingFrontend(cfg)
    x = (0.1 * np.random.default_rng(2).standard_normal(4000)).astype(np.float32)
    with pytest.raises(ValueError, match=r"audio must be 1-D \(mono\), got shape \(4000, 2\)"):
        fe.step(np.stack([x, x], axis=1), fe.initial_state())
    col, _ = fe.step(x[:, None], fe.initial_state())
    assert np.array_equal(col, logmel(x, cfg))


@pytest.mark.parametrize("n_mels", [13, 40, 64, 128])
def test_streamed_features_equal_the_whole_clip_to_float32_rounding(n_mels):
    """The frames of a stream are exactly the whole clip's; the features agree to the rounding of the mel product
    (summed by BLAS in another order for another number of frames), far inside the 1e-4 the models are pinned to."""
    cfg = FrontendConfig(n_mels=n_mels)
    rng = np.random.default_rng(n_mels)
    t = np.arange(16000 * 2) / 16000
    x = (0.05 * rng.standard_normal(len(t)) + 0.9 * np.sign(np.sin(2 * np.pi * 300 * t)) + 0.3).astype(np.float32)
    whole = logmel(x, cfg)
    for size in (1, 7, 160, 401, 4096):
        got = _streamed(cfg, x, size)
        assert got.shape == whole.shape and np.abs(got - whole).max() <= 5e-6, size


def _streamed(cfg: FrontendConfig, x: np.ndarray, size: int) -> np.ndarray:
    """The features of `x` streamed in chunks of `size` samples."""
    fe = StreamingFrontend(cfg)
    state, out = fe.initial_state(), []
    for i in range(0, len(x), size):
        f, state = fe.step(x[i : i + size], state)
        out.append(f)
    return np.concatenate(out)


@pytest.fixture(scope="module")
def shipped_frontends() -> list[FrontendConfig]:
    """The frontend settings the shipped models run at, from their metadata (40 bands at floor 1e-6, 80 at 1e-5)."""
    from pathlib import Path

    from speechseq.runtime.onnx import read_metadata

    found = {}
    for path in sorted((Path(__file__).resolve().parents[1] / "models").glob("*.onnx")):
        fe = read_metadata(path).get("frontend")
        if fe is not None:
            found[tuple(sorted(fe.items()))] = FrontendConfig(**fe)
    assert {(c.n_mels, c.floor) for c in found.values()} == {(40, 1e-6), (80, 1e-5)}
    return list(found.values())


@pytest.mark.parametrize("n", [0, 1, 2, 159, 160, 399, 400, 401, 559, 560, 561, 12345])
def test_onnx_frontend_gives_num_frames_at_any_length(n, shipped_frontends, tmp_path, rng):
    """The exported graph's contract is numpy's: T = num_frames(N), no frame when N < win (onnxruntime's Conv raised
    'Invalid input shape' under 400 samples), and its metadata's frame formula says so for every N."""
    pytest.importorskip("torch")
    ort = pytest.importorskip("onnxruntime")
    from speechseq.nn.frontend import export_frontend
    from speechseq.runtime.onnx import read_metadata

    audio = (0.1 * rng.standard_normal(n)).astype(np.float32)
    for cfg in shipped_frontends:
        path = tmp_path / f"fe{cfg.n_mels}.onnx"
        export_frontend(cfg, str(path))
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        out = sess.run(None, {"audio": np.stack([audio, 0.5 * audio])})[0]
        assert out.shape == (2, num_frames(n, cfg), cfg.n_mels)
        assert np.abs(out[0] - logmel(audio, cfg)).max(initial=0.0) <= 1e-5
        assert np.abs(out[1] - logmel(0.5 * audio, cfg)).max(initial=0.0) <= 1e-5
        formula = read_metadata(path)["outputs"]["logmel"]
        frames = formula[formula.index("(batch, ") + len("(batch, "): formula.rindex(f", {cfg.n_mels})")]
        assert eval(frames, {}, {"samples": n}) == num_frames(n, cfg), formula


def test_an_empty_driver_column_is_mono(rng):
    """A driver's (0, 1) block (no frames this time) is an empty mono chunk, as (N, 1) is mono: it raised 'audio must
    be 1-D (mono), got shape (0, 1)'; (0, 2) is still stereo."""
    cfg = FrontendConfig()
    fe = StreamingFrontend(cfg)
    x = (0.1 * rng.standard_normal(1000)).astype(np.float32)
    f1, state = fe.step(x[:500, None], fe.initial_state())
    f2, state = fe.step(np.zeros((0, 1), np.float32), state)
    f3, state = fe.step(x[500:, None], state)
    assert f2.shape == (0, 40) and np.abs(np.concatenate([f1, f2, f3]) - logmel(x, cfg)).max() <= 1e-5
    with pytest.raises(ValueError, match=r"audio must be 1-D \(mono\), got shape \(0, 2\)"):
        fe.step(np.zeros((0, 2), np.float32), state)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_sample_makes_exactly_its_frames_nan(bad, shipped_frontends, rng):
    """The frontend's own behaviour (the runtime guards it with speechseq.audio.finite_samples): a NaN or infinite
    sample makes every band of the frames whose windows hold it NaN, and no other frame changes; streamed, whole and
    torch alike."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.frontend import LogMel

    x = (0.1 * rng.standard_normal(3000)).astype(np.float32)
    y = x.copy()
    y[1000] = bad                       # in the windows of frames 4, 5 and 6 (t * 160 <= 1000 < t * 160 + 400)
    for cfg in shipped_frontends:
        clean = logmel(x, cfg)
        with np.errstate(invalid="ignore", over="ignore"):
            whole = logmel(y, cfg)
            streamed, _ = _stream(y, cfg, rng, max_chunk=700)
        with torch.no_grad():
            traced = LogMel(cfg)(torch.from_numpy(y)[None]).numpy()[0]
        for got in (whole, streamed, traced):
            assert np.isnan(got[4:7]).all()
            assert np.abs(np.delete(got, [4, 5, 6], axis=0) - np.delete(clean, [4, 5, 6], axis=0)).max() <= 1e-4


def test_samples_are_not_rescaled(shipped_frontends, demo_wav):
    """Float samples are taken at full scale 1.0, as load_audio gives them: int16-valued floats are not rescaled and
    read 2 ln 32768 = 20.79 higher wherever the mel power is well above the floor (an int16 array is PCM, scaled as
    the stream and the file readers scale it: it was pinned here to read as its floats, 20.79 high, until session
    47); silence reads log(floor); a clipped square wave stays finite."""
    speech = load_audio(demo_wav)[:32000]
    for cfg in shipped_frontends:
        f = logmel(speech, cfg)
        as_int16 = (speech * 32768).astype(np.int16)
        g = logmel(as_int16.astype(np.float32), cfg)
        assert np.array_equal(logmel(as_int16, cfg), logmel(as_int16.astype(np.float32) / 32768, cfg))
        loud = f > np.log(cfg.floor) + 6                 # power over 400 floors: the floor moves it by < 2.5e-3
        assert loud.sum() > 500 and np.abs((g - f)[loud] - 2 * np.log(32768)).max() < 3e-3
        assert np.abs(logmel(np.zeros(800, np.float32), cfg) - np.log(cfg.floor)).max() <= 1e-6
        square = np.sign(np.sin(np.arange(16000) * 0.05)).astype(np.float32)
        assert np.isfinite(logmel(square, cfg)).all()


@pytest.mark.parametrize("signal", ["speech", "int16-scaled", "silence", "clipped"])
def test_shipped_frontends_stream_as_the_whole_clip(signal, shipped_frontends, demo_wav):
    """At every frontend setting a shipped model runs at, chunks of 1 sample to 3 s give the whole clip's features
    to 1e-5."""
    speech = load_audio(demo_wav)[: 16000 * 6]
    x = {"speech": speech, "int16-scaled": np.round(speech * 32767), "silence": np.zeros_like(speech),
         "clipped": np.clip(speech * 30, -1, 1)}[signal].astype(np.float32)
    rng = np.random.default_rng(7)
    for cfg in shipped_frontends:
        fe = StreamingFrontend(cfg)
        state, out, i = fe.initial_state(), [], 0
        while i < len(x):
            n = int(np.exp(rng.uniform(0, np.log(48000))))   # 1 sample to 3 s, log-uniform
            f, state = fe.step(x[i : i + n], state)
            out.append(f)
            i += n
        whole = logmel(x, cfg)
        assert np.concatenate(out).shape == whole.shape == (num_frames(len(x), cfg), cfg.n_mels)
        assert np.abs(np.concatenate(out) - whole).max() <= 1e-5


def test_streaming_frontend_scales_integer_chunks():
    """int16 chunks fed straight to the streaming frontend were read unscaled: every log-mel value 2 ln 32768 high."""
    from speechseq.frontend import FrontendConfig, StreamingFrontend

    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    pcm = np.round(audio * 32767).astype(np.int16)
    fe = StreamingFrontend(FrontendConfig())
    a, _ = fe.step(pcm.astype(np.float32) / 32768, fe.initial_state())
    b, _ = fe.step(pcm, fe.initial_state())
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(ValueError, match="1-D"):
        fe.step(np.zeros((100, 2), np.float32), fe.initial_state())


def test_logmel_reads_integer_pcm_as_the_file_readers_and_the_stream_do(demo_wav):
    """logmel took an int16 array as it came while the streaming frontend, the runtime (transcribe, detect) and every
    file reader scale integers to full scale 1.0: the same PCM read 2 ln 32768 = 20.8 higher in every band through
    logmel than through the stream or the file. Integers of every width scale as speechseq.audio.float_samples does,
    to the bit; a driver's (N, 1) column is mono, as in the stream; floats are taken as they are, to the bit."""
    import soundfile as sf

    from speechseq.audio import float_samples

    pcm, sr = sf.read(demo_wav, dtype="int16")
    assert sr == 16000 and pcm.dtype == np.int16 and len(pcm) == 82640
    cfg = FrontendConfig()
    from_file = logmel(load_audio(demo_wav), cfg)
    fe = StreamingFrontend(cfg)
    streamed, _ = fe.step(pcm, fe.initial_state())
    got = logmel(pcm, cfg)
    assert got.shape == from_file.shape == (515, 40)
    assert np.array_equal(got, from_file) and np.array_equal(got, streamed)
    assert np.array_equal(logmel(pcm[:, None], cfg), got)
    for x in (pcm.astype(np.int32) << 16, (pcm >> 8).astype(np.int8), ((pcm >> 8) + 128).astype(np.uint8)):
        assert np.array_equal(logmel(x, cfg), logmel(float_samples(x), cfg)), x.dtype
        assert np.abs(logmel(x, cfg) - from_file)[from_file > np.log(cfg.floor) + 6].mean() < 0.05, x.dtype
    with pytest.raises(ValueError, match="booleans"):
        logmel(np.ones(800, bool), cfg)


@pytest.mark.parametrize("hop", [401, 500, 1000])
def test_a_hop_longer_than_the_window_streams_as_the_whole_clip(hop, rng):
    """Frames that leave samples out between them (hop_length > win_length): a stream kept buf[t * hop:] of what it
    had, which ran past its end, so the next chunk's first hop - win samples (or more) were framed again: a frame
    too many and every later frame misplaced (a broadcast error against the whole clip's, or other features)."""
    cfg = FrontendConfig(hop_length=hop)
    x = (0.1 * rng.standard_normal(20000)).astype(np.float32)
    whole = logmel(x, cfg)
    assert whole.shape == (num_frames(len(x), cfg), 40) == (1 + (20000 - 400) // hop, 40)
    for size in (1, 7, 399, 450, 1234):
        got = _streamed(cfg, x, size)
        assert got.shape == whole.shape and np.abs(got - whole).max() <= 5e-6, size


@pytest.mark.parametrize("n_fft", [399, 401, 511])
def test_filters_of_an_odd_fft_sit_on_its_bins(n_fft):
    """Bin k of an n_fft-point DFT is at k * sr / n_fft Hz; the filterbank put the n_fft // 2 + 1 bins evenly from
    0 to sr / 2, which is right only for an even n_fft: at 401 points the filters sat up to 20 Hz off their bins
    (4% of a filter's peak; a 7 kHz tone's bands read up to 0.36 off). Bin k of n_fft is bin 2k of 2 n_fft."""
    cfg = FrontendConfig(n_fft=n_fft, win_length=399)
    fb, fb2 = mel_filterbank(cfg), mel_filterbank(FrontendConfig(n_fft=2 * n_fft, win_length=399))
    assert fb.shape == (40, n_fft // 2 + 1)
    assert np.abs(fb - fb2[:, ::2]).max() <= 1e-9 * fb.max()
    librosa = pytest.importorskip("librosa")
    ref = librosa.filters.mel(sr=16000, n_fft=n_fft, n_mels=40, fmin=cfg.fmin, fmax=cfg.fmax)
    assert np.abs(ref - fb).max() < 1e-7


def test_even_ffts_keep_their_filters_bit_for_bit():
    """The shipped models' filters (512 points, 40 and 80 bands) and another even FFT's are the ones they were
    trained on, to the last bit (sha256 of the float64 array, taken before the odd FFTs' fix)."""
    import hashlib

    for cfg, digest in ((FrontendConfig(), "4ebb09f1162e099d"), (FrontendConfig(n_mels=80), "53deafe91d428d45"),
                        (FrontendConfig(n_fft=400), "09a07937db11f089")):
        assert hashlib.sha256(mel_filterbank(cfg).tobytes()).hexdigest()[:16] == digest, cfg


def test_filters_that_weigh_no_bin_read_the_floor(rng):
    """A band too narrow for the FFT's bins (0-31.25 Hz holds none of 512 points' bins but on its edges): every
    filter is zero. The torch module and the graph read log(floor); numpy raised IndexError building its tables."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.frontend import LogMel

    cfg = FrontendConfig(n_mels=4, fmin=0.0, fmax=31.25)
    assert not mel_filterbank(cfg).any()
    x = (0.1 * rng.standard_normal(4000)).astype(np.float32)
    whole = logmel(x, cfg)
    assert whole.shape == (num_frames(4000, cfg), 4) and np.array_equal(whole, np.full_like(whole, np.log(cfg.floor)))
    streamed, _ = _stream(x, cfg, rng, max_chunk=700)
    assert np.array_equal(streamed, whole)
    with torch.no_grad():
        assert np.abs(LogMel(cfg)(torch.from_numpy(x)[None]).numpy()[0] - whole).max() <= 1e-6


def test_export_frontend_is_atomic(tmp_path, monkeypatch):
    """export_frontend wrote the graph to `path`, then its metadata: a failure between (a full disk) left a graph
    without metadata where the model had been. Now the file at `path` is as it was, and no temporary file is left."""
    pytest.importorskip("torch")
    import speechseq.runtime.onnx as runtime_onnx
    from speechseq.nn.frontend import export_frontend

    path = tmp_path / "fe.onnx"
    path.write_bytes(b"the model before")

    def full_disk(where, meta):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runtime_onnx, "write_metadata", full_disk)
    with pytest.raises(OSError, match="No space left"):
        export_frontend(FrontendConfig(), str(path))
    assert path.read_bytes() == b"the model before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fe.onnx"]
    monkeypatch.undo()
    export_frontend(FrontendConfig(), str(path))   # and written whole when nothing fails, its metadata with it
    from speechseq.runtime.onnx import read_metadata

    assert read_metadata(path)["frontend"] == FrontendConfig().to_dict()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fe.onnx"]
