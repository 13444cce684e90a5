"""Latency-controlled BiLSTM: chunked == offline when the look-ahead covers the utterance, in torch
and through the exported ONNX graph; the state carried across chunks; partials append-only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.frontend import FrontendConfig  # noqa: E402
from speechseq.nn.recognizer import Recognizer, RecognizerConfig  # noqa: E402
from speechseq.nn.streaming import ChunkedRecognizer  # noqa: E402
from speechseq.runtime.streaming_recognizer import StreamingRecognizer  # noqa: E402
from speechseq.train.export_recognizer import export_recognizer  # noqa: E402
from speechseq.train.export_streaming import export_streaming, recognizer_from_onnx  # noqa: E402

FE = FrontendConfig(n_mels=8)
FRONTS = [dict(front="conv", stride=2, kernel_size=5), dict(front="stack", stride=3), dict(front="conv", stride=3, kernel_size=3)]


def _model(seed: int = 0, **kw) -> Recognizer:
    torch.manual_seed(seed)
    m = Recognizer(RecognizerConfig(n_mels=8, front_dim=12, hidden=6, layers=3, dropout=0.0, **kw)).eval()
    m.set_normalization(torch.randn(8), torch.rand(8) + 0.5)
    return m


def _chunked_torch(m: Recognizer, x: torch.Tensor, c: int, r: int) -> torch.Tensor:
    """Drive ChunkedRecognizer by hand: steps of c with look-ahead r (clipped at the end), mean padding."""
    net = ChunkedRecognizer(m)
    g = net.geometry
    t = x.shape[1]
    total = -(-t // g.stride)
    pad = m.feat_mean[None, None, :]
    # input frames [-left, ...) with the edges filled with the mean
    need_right = g.stride * (total - 1) + g.kernel - g.left - t
    xs = torch.cat([pad.expand(1, g.left, -1), x, pad.expand(1, max(0, need_right), -1)], dim=1)
    h, cs = net.initial_state()
    outs, j = [], 0
    while j < total:
        cc = min(c, total - j)
        rr = min(r, total - j - cc)
        a = g.stride * j
        chunk = xs[:, a : a + g.stride * cc]
        look = xs[:, a + g.stride * cc : a + g.stride * cc + g.lookahead_frames(rr)]
        with torch.no_grad():
            lp, h, cs = net(chunk, look, h, cs)
        outs.append(lp[:, :cc])
        j += cc
    return torch.cat(outs, dim=1)


@pytest.mark.parametrize("front", FRONTS, ids=lambda f: f"{f['front']}-s{f['stride']}")
def test_chunked_with_whole_lookahead_equals_offline_torch(front):
    m = _model(**front)
    x = torch.randn(1, 97, 8) * m.feat_std + m.feat_mean
    with torch.no_grad():
        ref = m(x)[0]
    for c in (1, 4, 7):
        got = _chunked_torch(m, x, c, r=10_000)
        assert got.shape == ref.shape
        assert float((got - ref).abs().max()) < 1e-5


def test_short_lookahead_differs_but_stays_close():
    """A real trade-off: with 1 step of look-ahead the outputs differ from offline (else the test means nothing)."""
    m = _model()
    x = torch.randn(1, 97, 8) * m.feat_std + m.feat_mean
    with torch.no_grad():
        ref = m(x)[0]
    got = _chunked_torch(m, x, 4, r=1)
    diff = float((got - ref).abs().max())
    assert 1e-3 < diff


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("stream")
    out = {}
    for i, front in enumerate(FRONTS):
        m = _model(seed=i, **front)
        off = export_recognizer(m, d / f"m{i}.onnx", frontend=FE.to_dict())
        back, meta = recognizer_from_onnx(off)        # the shipped path: weights read back from the fp32 file
        out[i] = (m, off, export_streaming(back, d / f"m{i}.stream.onnx", meta))
    return out


def test_weights_read_back_from_onnx_equal_the_model(exported):
    for m, off, _ in exported.values():
        back, _ = recognizer_from_onnx(off)
        for k, v in m.state_dict().items():
            assert torch.allclose(back.state_dict()[k], v, atol=1e-7), k


@pytest.mark.parametrize("i", range(len(FRONTS)))
def test_onnx_stream_with_whole_lookahead_equals_offline(exported, i):
    m, off, stream = exported[i]
    rng = np.random.default_rng(i)
    x = (rng.normal(size=(131, 8)) * m.feat_std.numpy() + m.feat_mean.numpy()).astype(np.float32)
    with torch.no_grad():
        ref = m(torch.from_numpy(x)[None])[0][0].numpy()
    rec = StreamingRecognizer(stream, chunk_s=0.08, lookahead_s=100.0)
    state, pos = rec.initial_state(), 0
    while pos < len(x):          # random feeding sizes, zero included
        n = int(rng.integers(0, 11))
        state = rec.accept(x[pos : pos + n], state)
        pos += n
    assert state.steps == 0      # nothing is final before the look-ahead is complete
    lp = rec.finish(state)
    assert lp.shape == ref.shape
    assert float(np.abs(lp - ref).max()) < 1e-4


@pytest.mark.parametrize("chunk_s,lookahead_s", [(0.06, 0.02), (0.2, 0.1), (0.04, 0.0)])
def test_onnx_stream_equals_torch_chunked(exported, chunk_s, lookahead_s):
    """The runtime's chunking (state carried across calls, edges padded) matches the torch reference."""
    m, _, stream = exported[0]
    rec = StreamingRecognizer(stream, chunk_s=chunk_s, lookahead_s=lookahead_s)
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(120, 8)) * m.feat_std.numpy() + m.feat_mean.numpy()).astype(np.float32)
    state = rec.initial_state()
    committed = []
    for i in range(0, len(x), 7):
        state = rec.accept(x[i : i + 7], state)
        committed.append(state.committed.copy())
    ref = _chunked_torch(m, torch.from_numpy(x)[None], rec.chunk_steps, rec.lookahead_steps)[0].numpy()
    lp = rec.finish(state)
    assert lp.shape == ref.shape
    assert float(np.abs(lp - ref).max()) < 1e-4
    # final steps never change once emitted: every earlier committed block is a prefix of the next
    for a, b in zip(committed, committed[1:]):
        assert np.array_equal(a, b[: len(a)])
    assert committed[-1].shape[0] > 0


def test_partials_only_change_in_the_tentative_tail(exported):
    m, _, stream = exported[0]
    rec = StreamingRecognizer(stream, chunk_s=0.08, lookahead_s=0.04)
    rng = np.random.default_rng(5)
    x = (rng.normal(size=(150, 8)) * m.feat_std.numpy() + m.feat_mean.numpy()).astype(np.float32)
    state = rec.initial_state()
    prev_final_tokens: tuple = ()
    from speechseq.runtime.decoding import greedy

    for i in range(0, len(x), 5):
        state = rec.accept(x[i : i + 5], state)
        final_tokens = greedy(state.committed).tokens if len(state.committed) else ()
        assert final_tokens[: len(prev_final_tokens)] == prev_final_tokens
        prev_final_tokens = final_tokens
        part = rec.partial(state)
        assert part.tokens[: max(0, len(final_tokens) - 1)] == final_tokens[: max(0, len(final_tokens) - 1)]


def test_bad_options_and_wrong_model(exported, tmp_path):
    _, off, stream = exported[0]
    with pytest.raises(ValueError):
        StreamingRecognizer(stream, chunk_s=0.0)
    from speechseq.runtime.onnx import ModelError

    with pytest.raises(ModelError):
        StreamingRecognizer(off)          # an offline model is not a chunked one
    rec = StreamingRecognizer(stream)
    with pytest.raises(ValueError):
        rec.accept(np.zeros((3, 5), np.float32), rec.initial_state())


def test_export_streaming_of_a_wrong_source_is_one_line(exported, tmp_path, capsys):
    """`python -m speechseq.train.export_streaming` (the command the runtime's errors and the cards name) printed a
    traceback for a source of another kind, a quantised one, or a checkpoint that is not there."""
    from speechseq.train.export_recognizer import quantize_recognizer
    from speechseq.train.export_streaming import main

    _, off, stream = exported[0]
    int8 = quantize_recognizer(off, tmp_path / "m.int8.onnx")
    for argv, says in [(["--from-onnx", str(stream)], f"{stream}: not a speechseq recognizer export"),
                       (["--from-onnx", str(int8)], f"{int8}: a quantised model"),
                       (["--checkpoint", str(tmp_path / "none.pt")], "No such file or directory")]:
        assert main([*argv, "--out", str(tmp_path / "out.onnx")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("export_streaming: error: ") and says in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize("front", FRONTS[:2], ids=lambda f: f"{f['front']}-s{f['stride']}")
def test_batched_chunked_forward_matches_the_chunked_runtime(front):
    """The differentiable training twin gives the chunked outputs (away from the padded end)."""
    from speechseq.nn.streaming import chunked_forward

    m = _model(seed=7, **front)
    x = torch.randn(3, 96, 8) * m.feat_std + m.feat_mean
    lengths = torch.tensor([96, 61, 7])           # a padded batch: each row ends where its length says
    for i, n in enumerate(lengths.tolist()):
        x[i, n:] = m.feat_mean                    # (the front's window reaches the padding, as offline)
    for c, r in ((4, 3), (5, 0), (3, 20)):
        with torch.no_grad():
            got = chunked_forward(m, x, c, r, lengths)
            for i, n in enumerate(lengths.tolist()):
                ref = _chunked_torch(m, x[i : i + 1, :n], c, r)[0]
                assert float((got[i, : len(ref)] - ref).abs().max()) < 1e-5
    c, r = 4, 3
    # and the loss reaches the LSTM weights of both directions
    m.train()
    chunked_forward(m, x, c, r).sum().backward()
    assert m.lstm.weight_hh_l1.grad.abs().sum() > 0 and m.lstm.weight_hh_l1_reverse.grad.abs().sum() > 0


@pytest.mark.parametrize("front", FRONTS, ids=lambda f: f"{f['front']}-s{f['stride']}")
def test_batched_chunked_forward_ignores_what_the_padding_holds(front):
    """Training batches are padded with the log floor (speechseq.train.recognizer.collate), not the mean:
    with `lengths` the front must read padding as the stream's edge (the mean), as the offline model does."""
    import math

    from speechseq.nn.streaming import chunked_forward
    from speechseq.train.recognizer import collate

    m = _model(seed=7, **front)
    lengths = [96, 61, 7]
    feats = [(torch.randn(n, 8) * m.feat_std + m.feat_mean).numpy() for n in lengths]
    b = collate(feats, ["a"] * len(feats))
    assert float(b.features[2, 7:].max()) == pytest.approx(math.log(1e-6))
    for c, r in ((4, 3), (5, 0), (3, 20)):
        with torch.no_grad():
            got = chunked_forward(m, b.features, c, r, b.lengths)
            for i, n in enumerate(lengths):
                ref = _chunked_torch(m, torch.from_numpy(feats[i])[None], c, r)[0]
                assert float((got[i, : len(ref)] - ref).abs().max()) < 1e-5, (c, r, i)


def test_int8_twin_quantises_every_lstm_and_stays_close(exported, tmp_path):
    import onnx

    from speechseq.train.export_streaming import quantize_streaming

    m, _, stream = exported[0]
    q = quantize_streaming(stream, tmp_path / "q.stream.int8.onnx")
    ops = [n.op_type for n in onnx.load(str(q)).graph.node]
    assert ops.count("DynamicQuantizeLSTM") == 3 * m.cfg.layers and "LSTM" not in ops
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(90, 8)) * m.feat_std.numpy() + m.feat_mean.numpy()).astype(np.float32)
    outs = []
    for path in (stream, q):
        rec = StreamingRecognizer(path, chunk_s=0.1, lookahead_s=0.04)
        outs.append(rec.finish(rec.accept(x, rec.initial_state())))
    assert outs[0].shape == outs[1].shape
    assert float(np.abs(np.exp(outs[0]) - np.exp(outs[1])).max()) < 0.05


def test_stream_path_takes_the_onnx_suffix_in_any_case():
    from speechseq.train.export_streaming import stream_path

    assert stream_path("models/r.onnx") == Path("models/r.stream.onnx")
    assert stream_path("models/R.ONNX") == Path("models/R.stream.ONNX")     # as int8_path keeps it
    assert stream_path("models/r.int8.onnx") == Path("models/r.stream.int8.onnx")
    assert stream_path("models/R.Int8.ONNX") == Path("models/R.stream.Int8.ONNX")
    assert stream_path("r") == Path("r.stream.onnx")
