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
    fe = StreamingFrontend(cfg)
    for size in (1, 7, 160, 401, 4096):
        state, out = fe.initial_state(), []
        for i in range(0, len(x), size):
            f, state = fe.step(x[i : i + size], state)
            out.append(f)
        got = np.concatenate(out)
        assert got.shape == whole.shape and np.abs(got - whole).max() <= 5e-6, size
