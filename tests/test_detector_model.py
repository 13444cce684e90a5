"""The detector model: streaming in random chunks == whole clip, in torch and in ONNX."""
import math
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from speechseq.frontend import FrontendConfig, StreamingFrontend, logmel  # noqa: E402
from speechseq.nn.detector import Detector, DetectorConfig  # noqa: E402
from speechseq.runtime.detector import Detector as RuntimeDetector, KeywordModel  # noqa: E402
from speechseq.runtime.onnx import read_metadata  # noqa: E402
from speechseq.train.export_detector import export_detector  # noqa: E402

TINY = DetectorConfig(n_mels=40, conv_channels=16, kernel=7, stride=3, hidden=12, layers=2, dropout=0.1, norm_frames=0)
TINY_CMN = DetectorConfig(n_mels=40, conv_channels=16, kernel=7, stride=3, hidden=12, layers=2, dropout=0.1,
                          norm_frames=20)  # with the running mean normalisation: a longer context
# with cepstral smoothing (DetectorConfig.lifter), on the plain and the mean-normalised input
TINY_LIFT, TINY_CMN_LIFT = replace(TINY, lifter=10), replace(TINY_CMN, lifter=13)


def _trained_like(cfg: DetectorConfig) -> Detector:
    """A model with non-trivial batch-norm statistics, in eval mode."""
    torch.manual_seed(0)
    model = Detector(cfg)
    with torch.no_grad():
        model.norm.running_mean.normal_(0, 0.5)
        model.norm.running_var.uniform_(0.5, 2.0)
        model.out.bias.fill_(-0.5)
    return model.eval()


def _features(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.standard_normal(int(16000 * seconds)) * np.sin(np.linspace(0, 20, int(16000 * seconds))))
    return logmel(audio.astype(np.float32), FrontendConfig(n_mels=40))


def _random_chunks(total: int, stride: int, rng: np.random.Generator) -> list[int]:
    sizes = []
    while sum(sizes) < total:
        sizes.append(stride * int(rng.integers(1, 12)))
    sizes[-1] -= sum(sizes) - total
    return [s for s in sizes if s > 0]


def _stream_onnx(kw: KeywordModel, feats: np.ndarray, seed: int) -> np.ndarray:
    """An exported model's probabilities for `feats` fed in random chunk sizes, state carried."""
    ctx, h = kw.initial_state()
    parts, pos = [], 0
    for size in _random_chunks(len(feats), kw.stride, np.random.default_rng(seed)):
        p, ctx, h = kw.run(feats[pos: pos + size], ctx, h)
        parts.append(p)
        pos += size
    return np.concatenate(parts)


def test_shapes_and_size():
    model = Detector(DetectorConfig())
    x = torch.randn(2, 250, 40)
    assert model(x).shape == (2, 250 // 4)
    # the shipped size: under 1 MB of float32 weights
    assert model.num_parameters() * 4 < 1_000_000
    with pytest.raises(ValueError):
        DetectorConfig(kernel=4, stride=4)


@pytest.mark.parametrize("cfg", [TINY, TINY_CMN], ids=["plain", "cmn"])
def test_torch_streaming_equals_whole_clip(cfg):
    model = _trained_like(cfg)
    feats = _features(3.0)
    t = TINY.stride * (len(feats) // TINY.stride)
    x = torch.tensor(feats[None, :t])
    with torch.no_grad():
        whole = torch.sigmoid(model(x))[0].numpy()
        rng = np.random.default_rng(1)
        state, parts, pos = None, [], 0
        for size in _random_chunks(t, TINY.stride, rng):
            p, state = model.step(x[:, pos: pos + size], state)
            parts.append(p[0].numpy())
            pos += size
    streamed = np.concatenate(parts)
    assert streamed.shape == whole.shape == (t // TINY.stride,)
    assert np.abs(streamed - whole).max() <= 1e-5
    assert whole.std() > 1e-3  # the check means something only if the outputs vary
    with pytest.raises(ValueError):
        model.step(x[:, :TINY.stride + 1])


@pytest.mark.parametrize("cfg", [TINY, TINY_CMN_LIFT], ids=["plain", "cmn-lift"])
def test_outputs_are_causal_and_the_conv_sees_its_documented_frames(cfg):
    """Changing frame f changes output step f // S first (step j is ready at frame S j + S - 1) and no
    earlier step; the conv's step j reads frames [S j - (K - S) - (N - 1), S j + S) (N - 1: the running mean)."""
    model = _trained_like(cfg)
    s, left = cfg.stride, cfg.kernel - cfg.stride + max(cfg.norm_frames - 1, 0)
    x = torch.tensor(_features(1.0)[None, :60])
    with torch.no_grad():
        base = model(x)
        ctx = model.initial_state()[0]
        conv = model.conv(model.conv_input(torch.cat([ctx, x], 1)))[0]          # (C, T // S)
        for f in range(0, 60, 5):
            y = x.clone()
            y[0, f] += 3.0
            moved = ((model(y) - base).abs()[0] > 1e-6).nonzero().flatten()
            assert moved.numel() and int(moved[0]) == f // s, (f, moved[:3])
            seen = ((model.conv(model.conv_input(torch.cat([ctx, y], 1)))[0] - conv).abs().amax(0) > 1e-5)
            assert seen.nonzero().flatten().tolist() == [j for j in range(60 // s) if s * j - left <= f < s * j + s], f


def test_running_mean_normalisation_removes_a_channel_offset():
    """With norm_frames, a fixed offset per mel bin (a microphone's colouring, a gain: both add a
    constant to log-mel) on the context and the features leaves the outputs unchanged; without it,
    it changes them."""
    offset = torch.tensor(np.random.default_rng(5).normal(0, 3.0, 40), dtype=torch.float32)
    x = torch.tensor(_features(2.0, seed=4)[None, :150])
    for cfg, same in ((TINY_CMN, True), (TINY, False)):
        model = _trained_like(cfg)
        ctx, h = model.initial_state()
        with torch.no_grad():
            a, _ = model.step(x, (ctx, h))
            b, _ = model.step(x + offset, (ctx + offset, h))
        diff = (a - b).abs().max().item()
        assert (diff <= 1e-5) if same else (diff > 1e-3), (cfg.norm_frames, diff)
    with pytest.raises(ValueError):
        DetectorConfig(norm_frames=1)
    assert TINY_CMN.context == TINY.context + 20
    # the default; checkpoints written before the option existed load without it
    assert DetectorConfig().norm_frames == 100
    old = {k: v for k, v in DetectorConfig().to_dict().items() if k != "norm_frames"}
    assert DetectorConfig.from_dict(old).norm_frames == 0


def test_lifter_keeps_the_envelope_and_drops_the_ripple():
    """lifter_matrix(F, k) projects each frame on its first k DCT-II coefficients: all of them is the
    identity, a smooth envelope passes, a bin-to-bin ripple (pitch harmonics' fine structure) does not."""
    from speechseq.nn.detector import lifter_matrix

    f = torch.arange(40, dtype=torch.float32)
    assert torch.allclose(lifter_matrix(40, 40), torch.eye(40), atol=1e-5)
    m = lifter_matrix(40, 13)
    assert torch.allclose(m @ m, m, atol=1e-5) and torch.allclose(m, m.T, atol=1e-6)  # a projection
    envelope = 2.0 * torch.cos(math.pi * 3 * (f + 0.5) / 40) + 0.5   # 4th DCT basis vector and the mean
    ripple = 0.7 * torch.cos(math.pi * 30 * (f + 0.5) / 40)         # the 31st
    y = (envelope + ripple) @ m
    assert torch.allclose(y, envelope, atol=1e-4)
    with pytest.raises(ValueError, match="lifter"):
        DetectorConfig(lifter=41)


@pytest.mark.parametrize("cfg", [TINY, TINY_CMN, TINY_LIFT, TINY_CMN_LIFT], ids=["plain", "cmn", "lift", "cmn-lift"])
def test_folded_scaling_gives_the_same_outputs_with_fewer_graph_ops(tmp_path, cfg):
    """Detector.folded moves (x - shift) / scale into the conv: the same probabilities (plain: the
    shift goes into the bias; mean-normalised: it cancels), and the exported graph has no op
    between the concatenated frames and the conv's input beyond the normalisation's own."""
    import onnx

    model = _trained_like(cfg)
    with torch.no_grad():
        model.conv.weight.add_(0.05)  # weights that do not sum to ~0: a dropped shift would show
    folded = model.folded()
    assert (folded.cfg.feat_shift, folded.cfg.feat_scale, folded.cfg.lifter) == (0.0, 1.0, 0)
    assert (model.cfg.feat_shift, model.cfg.feat_scale) == (-6.0, 4.0)  # the original is untouched
    x = torch.tensor(_features(2.0, seed=6)[None, :150])
    with torch.no_grad():
        a, b = torch.sigmoid(model(x)), torch.sigmoid(folded(x))
        wrong = model.folded()
        wrong.conv.bias.copy_(model.conv.bias)  # without the bias correction
        c = torch.sigmoid(wrong(x))
    assert (a - b).abs().max().item() <= 1e-5
    assert a.std().item() > 1e-3
    if not cfg.norm_frames:
        assert (a - c).abs().max().item() > 1e-3
    path = export_detector(model, tmp_path / "kw.onnx", {"keyword": "hi"})
    ops = [n.op_type for n in onnx.load(path).graph.node if n.op_type != "Constant"]
    assert "Div" not in ops
    assert ops.count("Sub") == (2 if cfg.norm_frames else 0), ops  # the mean's two, or none
    assert read_metadata(path)["model_config"]["feat_scale"] == 4.0  # the model's own config is recorded


@pytest.mark.parametrize("cfg", [TINY, TINY_CMN, TINY_CMN_LIFT], ids=["plain", "cmn", "cmn-lift"])
def test_onnx_streaming_equals_torch(tmp_path, cfg):
    model = _trained_like(cfg)
    path = export_detector(model, tmp_path / "kw.onnx", {"keyword": "hello", "threshold": 0.7,
                                                         "keyword_duration_s": 0.5})
    meta = read_metadata(path)
    assert meta["keyword"] == "hello" and meta["threshold"] == 0.7 and meta["stride"] == 3
    assert meta["frontend"]["n_mels"] == 40 and meta["frontend"]["hop_length"] == 160
    kw = KeywordModel(path)
    feats = _features(2.5, seed=3)
    t = TINY.stride * (len(feats) // TINY.stride)
    with torch.no_grad():
        whole = torch.sigmoid(model(torch.tensor(feats[None, :t])))[0].numpy()
    assert np.abs(_stream_onnx(kw, feats[:t], seed=2) - whole).max() <= 1e-4


def test_runtime_audio_chunks_equal_whole_clip(tmp_path):
    """Audio in random chunk sizes through frontend + model == training features through torch."""
    model = _trained_like(TINY)
    path = export_detector(model, tmp_path / "kw.onnx", {"keyword": "hello", "threshold": 0.5})
    det = RuntimeDetector.load([path], smoothing_steps=1)
    rng = np.random.default_rng(5)
    audio = (0.2 * rng.standard_normal(16000 * 3)).astype(np.float32)
    post: list[list[np.ndarray]] = [[]]
    state = det.initial_state()
    pos = 0
    while pos < len(audio):
        n = int(rng.integers(1, 3000))
        _, state = det.step(audio[pos: pos + n], state, post)
        pos += n
    streamed = np.concatenate(post[0])
    feats = logmel(audio, FrontendConfig(n_mels=40))
    with torch.no_grad():
        whole = torch.sigmoid(model(torch.tensor(feats[None])))[0].numpy()
    assert streamed.shape == whole.shape
    assert np.abs(streamed - whole).max() <= 1e-4
    # the numpy streaming frontend is the frontend the model trains on
    fe = StreamingFrontend(FrontendConfig(n_mels=40))
    s, got = fe.initial_state(), []
    for piece in np.array_split(audio, 7):
        f, s = fe.step(piece, s)
        got.append(f)
    assert np.abs(np.concatenate(got) - feats).max() <= 1e-4


def test_ensemble_is_the_mean_of_its_members_and_streams_in_onnx(tmp_path):
    """DetectorEnsemble: the posterior is the mean of the members' posteriors; streamed in random
    chunks through the exported graph it equals the whole clip in torch; its state is the members'
    GRU states stacked, which the runtime sizes from the metadata alone."""
    from speechseq.nn.detector import DetectorEnsemble
    from speechseq.train.export_detector import detector_from_checkpoint

    a = _trained_like(TINY_CMN)
    torch.manual_seed(1)
    b = Detector(TINY_CMN).eval()
    ens = DetectorEnsemble([a, b]).eval()
    feats = _features(2.5, seed=6)
    t = TINY.stride * (len(feats) // TINY.stride)
    x = torch.tensor(feats[None, :t])
    with torch.no_grad():
        pa, pb, pe = (torch.sigmoid(m(x))[0].numpy() for m in (a, b, ens))
    assert np.abs(pe - (pa + pb) / 2).max() <= 1e-5
    assert np.abs(pa - pb).max() > 1e-2  # the members differ, so the check means something
    # a checkpoint of the members' weights rebuilds the same ensemble
    ck = {"model_config": TINY_CMN.to_dict(), "members": [a.state_dict(), b.state_dict()]}
    with torch.no_grad():
        again = torch.sigmoid(detector_from_checkpoint(ck)(x))[0].numpy()
    assert np.abs(again - pe).max() <= 1e-6
    with pytest.raises(ValueError):
        DetectorEnsemble([a, Detector(TINY)])
    path = export_detector(ens, tmp_path / "ens.onnx", {"keyword": "hello", "threshold": 0.5})
    meta = read_metadata(path)
    assert meta["layers"] == 2 * TINY_CMN.layers and meta["members"] == 2
    assert meta["parameters"] == a.num_parameters() + b.num_parameters()
    kw = KeywordModel(path)
    assert kw.initial_state()[1].shape == (2 * TINY_CMN.layers, 1, TINY_CMN.hidden)
    assert np.abs(_stream_onnx(kw, feats[:t], seed=7) - pe).max() <= 1e-4


@pytest.mark.parametrize("cfg", [TINY, TINY_CMN, TINY_CMN_LIFT], ids=["plain", "cmn", "cmn-lifter"])
def test_warped_copy_hears_the_warped_frames(cfg):
    """Detector.warped(a) folds the mel-axis warp that training applies to clips (speechseq.frontend.mel_warp)
    into the conv: it equals the model fed the warped features, with or without the running-mean
    normalisation and the lifter; a = 1 is the model itself."""
    from speechseq.frontend import mel_warp

    model = _trained_like(cfg)
    feats = _features(1.5, seed=3)
    t = cfg.stride * (len(feats) // cfg.stride)
    with torch.no_grad():
        plain = torch.sigmoid(model(torch.tensor(feats[None, :t])))[0].numpy()
        assert np.abs(torch.sigmoid(model.warped(1.0)(torch.tensor(feats[None, :t])))[0].numpy() - plain).max() <= 1e-5
        for a in (0.85, 1.1):
            i0, i1, w = (v[0] for v in mel_warp(cfg.n_mels, [a]))
            warped_feats = (1 - w) * feats[:t, i0] + w * feats[:t, i1]      # what kwmix's VTLP does to a clip
            want = torch.sigmoid(model(torch.tensor(warped_feats[None], dtype=torch.float32)))[0].numpy()
            got = torch.sigmoid(model.warped(a)(torch.tensor(feats[None, :t])))[0].numpy()
            assert np.abs(got - want).max() <= 1e-4
            assert np.abs(got - plain).max() > 1e-3                      # the warp changes what it hears


def test_warp_ensemble_fires_on_the_highest_member_and_streams_in_onnx(tmp_path):
    """warp_ensemble: the posterior is the maximum of the warped copies'; streamed in random chunks
    through the exported graph it equals the whole clip in torch; a checkpoint's "warps" rebuild it."""
    from speechseq.nn.detector import warp_ensemble
    from speechseq.train.export_detector import detector_from_checkpoint

    model = _trained_like(TINY_CMN)
    ens = warp_ensemble(model, [0.85, 1.0, 1.1]).eval()
    feats = _features(2.5, seed=8)
    t = TINY_CMN.stride * (len(feats) // TINY_CMN.stride)
    x = torch.tensor(feats[None, :t])
    with torch.no_grad():
        each = np.stack([torch.sigmoid(model.warped(a)(x))[0].numpy() for a in (0.85, 1.0, 1.1)])
        pe = torch.sigmoid(ens(x))[0].numpy()
        again = torch.sigmoid(detector_from_checkpoint({"model_config": TINY_CMN.to_dict(), "warps": [0.85, 1.0, 1.1],
                                                        "model": model.state_dict()})(x))[0].numpy()
    assert np.abs(pe - each.max(0)).max() <= 1e-5 and np.abs(again - pe).max() <= 1e-6
    assert (each.argmax(0) != 1).any()            # another warp than the model itself wins somewhere
    for bad in ([], [3.0]):
        with pytest.raises(ValueError):
            warp_ensemble(model, bad)
    path = export_detector(ens, tmp_path / "warped.onnx", {"keyword": "hello", "threshold": 0.5})
    meta = read_metadata(path)
    assert meta["members"] == 3 and meta["combine"] == "max" and meta["layers"] == 3 * TINY_CMN.layers
    assert np.abs(_stream_onnx(KeywordModel(path), feats[:t], seed=9) - pe).max() <= 1e-4


@pytest.mark.parametrize("cfgs,shared", [((TINY_CMN, TINY_CMN_LIFT), True), ((TINY, TINY_CMN), False)],
                         ids=["same-context", "other-context"])
def test_merged_graph_shares_the_context_of_equal_models(tmp_path, cfgs, shared):
    """Merged models that carry the same number of context frames read one "context" input; other
    models keep their own. Either way the posteriors are those of one session per model."""
    paths = []
    for i, cfg in enumerate(cfgs):
        model = _trained_like(cfg)
        with torch.no_grad():
            model.conv.weight.mul_(1.0 + 0.5 * i)  # two different models
        paths.append(export_detector(model, tmp_path / f"kw{i}.onnx", {"keyword": f"k{i}", "threshold": 0.5}))
    rng = np.random.default_rng(7)
    audio = (0.2 * rng.standard_normal(16000 * 3) * np.sin(np.linspace(0, 9, 16000 * 3))).astype(np.float32)
    post = {}
    for merge in (True, False):
        det = RuntimeDetector.load(paths, smoothing_steps=1, merge=merge)
        if merge:
            inputs = [i.name for i in det._merged.get_inputs()]
            assert inputs.count("context") == (1 if shared else 0)
            assert sum(n.endswith(".context") for n in inputs) == (0 if shared else 2)
        state, post[merge], pos = det.initial_state(), [[], []], 0
        while pos < len(audio):
            n = int(rng.integers(1, 3000))
            _, state = det.step(audio[pos: pos + n], state, post[merge])
            pos += n
    for a, b in zip(post[True], post[False]):
        a, b = np.concatenate(a), np.concatenate(b)
        assert a.shape == b.shape and a.std() > 1e-3
        assert np.abs(a - b).max() <= 1e-6
    assert np.abs(np.concatenate(post[True][0]) - np.concatenate(post[True][1])).max() > 1e-3


def test_export_docstring_gives_the_context_input_the_graph_has(tmp_path):
    """speechseq.train.export_detector's docstring, the exported graph's contract, gave `context` K - S frames: the
    graph of a model with the running-mean normalisation carries K - S + N (DetectorConfig.context)."""
    import onnx

    import speechseq.train.export_detector as exporter

    path = export_detector(_trained_like(TINY_CMN), tmp_path / "kw.onnx", {"keyword": "hello"})
    ctx = next(v for v in onnx.load(str(path)).graph.input if v.name == "context")
    assert ctx.type.tensor_type.shape.dim[1].dim_value == TINY_CMN.kernel - TINY_CMN.stride + TINY_CMN.norm_frames
    doc = " ".join(exporter.__doc__.split())
    assert "`context` (B, K - S + N, F)" in doc and "N: norm_frames" in doc, doc


def test_export_leaves_the_callers_model_as_it_was(tmp_path):
    """export_detector exported the caller's own model: it moved it to the CPU (a run on a GPU that exported between
    epochs went on with its weights on the CPU, its optimizer's on the GPU) and set every layer back to training mode
    after, a batch norm the caller kept frozen (`norm.eval()` while the rest trains, a common fine-tune) included: its
    statistics then drifted with the fine-tune's batches. It exports a copy now (as export_streaming does)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = _trained_like(TINY).to(device).train()
    model.norm.eval()  # frozen statistics
    modes = {name: m.training for name, m in model.named_modules()}
    before = {k: v.clone() for k, v in model.state_dict().items()}
    path = export_detector(model, tmp_path / "kw.onnx", {"keyword": "hello"})
    assert {name: m.training for name, m in model.named_modules()} == modes
    assert not modes["norm"] and modes["gru"]
    assert {p.device.type for p in model.parameters()} == {device}
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    feats = _features(2.0)[: 60]
    with torch.no_grad():  # the graph is the eval-mode network's
        ref = torch.sigmoid(_trained_like(TINY)(torch.from_numpy(feats)[None]))[0].numpy()
    assert np.abs(_stream_onnx(KeywordModel(path), feats, seed=4) - ref).max() <= 1e-4
