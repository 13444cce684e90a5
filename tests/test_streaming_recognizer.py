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


@pytest.mark.parametrize("chunk_s,lookahead_s", [(float("inf"), 0.2), (0.4, float("inf")), (float("nan"), 0.2),
                                                  (0.4, float("nan")), (-0.4, 0.2), (0.4, -0.02)])
def test_non_finite_or_negative_chunk_and_lookahead_are_a_clear_error(exported, chunk_s, lookahead_s):
    """inf (say, a look-ahead meant as "the whole utterance") raised OverflowError and nan "cannot convert float
    NaN to integer": the constructor's own one-line ValueError is what a caller can report."""
    _, _, stream = exported[0]
    with pytest.raises(ValueError, match="chunk must be > 0 and look-ahead >= 0 seconds"):
        StreamingRecognizer(stream, chunk_s=chunk_s, lookahead_s=lookahead_s)


@pytest.mark.parametrize("i", range(len(FRONTS)))
def test_very_short_input_streams_as_offline(exported, i):
    """0 frames, fewer than one stride, fewer than the chunk and its look-ahead: finish() still gives every
    output step, equal to the offline model's when the look-ahead reaches the end."""
    m, _, stream = exported[i]
    rng = np.random.default_rng(10 + i)
    for chunk_steps, look_steps in ((1, 0), (2, 1), (4, 100)):
        rec = StreamingRecognizer(stream, chunk_s=0.01 * chunk_steps * m.cfg.stride,
                                  lookahead_s=0.01 * look_steps * m.cfg.stride)
        assert (rec.chunk_steps, rec.lookahead_steps) == (chunk_steps, look_steps)
        assert rec.finish(rec.initial_state()).shape == (0, rec.vocab_size)
        assert rec.partial(rec.initial_state()).text == ""
        for t in (1, m.cfg.stride - 1, m.cfg.stride, m.cfg.stride + 1, 5):
            if t < 1:
                continue
            x = (rng.normal(size=(t, 8)) * m.feat_std.numpy() + m.feat_mean.numpy()).astype(np.float32)
            one = rec.finish(rec.accept(x, rec.initial_state()))
            state = rec.initial_state()
            for k in range(t):                     # a frame at a time, empty blocks between
                state = rec.accept(x[k : k + 1], rec.accept(x[:0], state))
            assert np.array_equal(rec.finish(state), one)
            assert one.shape[0] == -(-t // m.cfg.stride)
            ref = _chunked_torch(m, torch.from_numpy(x)[None], chunk_steps, look_steps)[0].numpy()
            assert float(np.abs(one - ref).max()) < 1e-4
            if look_steps >= one.shape[0]:
                with torch.no_grad():
                    off = m(torch.from_numpy(x)[None])[0][0].numpy()
                assert float(np.abs(one - off).max()) < 1e-4


def test_export_streaming_from_a_checkpoint(exported, tmp_path, monkeypatch, capsys):
    """--checkpoint: the twin computes the checkpoint's model (chunked), with its frontend; without --out it
    lands where --help says (the help said "next to the source", but it is written in the current folder)."""
    from speechseq.train.export_streaming import main

    m = _model(seed=4, front="conv", stride=2, kernel_size=5)
    ck = {"kind": "recognizer", "model_config": m.cfg.to_dict(), "model": m.state_dict(), "epoch": 3,
          "extra": {"frontend": FE.to_dict(), "train_hours": 1.5}}
    torch.save(ck, tmp_path / "best.pt")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "with --checkpoint, recognizer.stream.onnx in the current folder" in help_text
    assert main(["--checkpoint", str(tmp_path / "best.pt")]) == 0
    rec = StreamingRecognizer(tmp_path / "recognizer.stream.onnx", chunk_s=0.06, lookahead_s=0.04)
    assert rec.frontend == FE and rec.meta["train_hours"] == 1.5
    x = (np.random.default_rng(2).normal(size=(53, 8)) * m.feat_std.numpy() + m.feat_mean.numpy()).astype(np.float32)
    ref = _chunked_torch(m, torch.from_numpy(x)[None], 3, 2)[0].numpy()
    assert float(np.abs(rec.finish(rec.accept(x, rec.initial_state())) - ref).max()) < 1e-4


def test_export_streaming_of_a_damaged_checkpoint_is_one_line(tmp_path, capsys):
    """A file that torch.load cannot read as a checkpoint (text, a truncated archive, a pickled list) printed a
    traceback (UnpicklingError, RuntimeError, AttributeError) instead of the tool's one-line error."""
    from speechseq.train.export_streaming import main

    (tmp_path / "text.pt").write_text("not a checkpoint")
    torch.save({"kind": "recognizer", "model": {"w": torch.zeros(1000)}}, tmp_path / "whole.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "whole.pt").read_bytes()[:300])
    torch.save([1, 2, 3], tmp_path / "list.pt")
    for name in ("text.pt", "cut.pt", "list.pt"):
        assert main(["--checkpoint", str(tmp_path / name), "--out", str(tmp_path / "out.onnx")]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"export_streaming: error: {tmp_path / name}: not a speechseq recognizer checkpoint")
        assert len(err.splitlines()) == 1, err
    assert not (tmp_path / "out.onnx").exists()


@pytest.mark.parametrize("c,r", [(0, 2), (-2, 1), (4, -1), (2.5, 1), (4, 0.5)])
def test_chunked_forward_bad_steps_are_a_clear_error(c, r):
    """A zero chunk raised ZeroDivisionError, a negative look-ahead a reshape error deep inside."""
    from speechseq.nn.streaming import chunked_forward

    m = _model()
    with pytest.raises(ValueError, match="chunk_steps must be an integer >= 1 and lookahead_steps an integer >= 0"):
        chunked_forward(m, torch.randn(1, 20, 8), c, r)


def test_export_streaming_refuses_meta_from_another_model(exported, tmp_path, capsys):
    """--meta-from an offline export of another network (here 3 layers of 6 against the checkpoint's 2 of 5) wrote a
    twin stamped with that model's source_digest: `speechseq listen --model` it then took the other network's partials
    for its own, without a word."""
    from speechseq.train.export_streaming import main

    torch.manual_seed(0)
    m = Recognizer(RecognizerConfig(n_mels=8, front_dim=12, hidden=5, layers=2, dropout=0.0)).eval()
    torch.save({"kind": "recognizer", "model_config": m.cfg.to_dict(), "model": m.state_dict(), "epoch": 1,
                "extra": {"frontend": FE.to_dict()}}, tmp_path / "best.pt")
    _, off, _ = exported[0]
    out = tmp_path / "r.stream.onnx"
    assert main(["--checkpoint", str(tmp_path / "best.pt"), "--meta-from", str(off), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("export_streaming: error: ") and len(err.splitlines()) == 1, err
    assert str(off) in err and "layers" in err and "hidden" in err and not out.exists()



def test_export_streaming_leaves_the_callers_model_in_training_mode(tmp_path):
    """export_streaming set the caller's own model to eval mode (its siblings export a copy: tests/test_review_export.py):
    a chunked fine-tune that exported between epochs went on training without dropout."""
    m = _model(front="conv", stride=2, kernel_size=5)
    model = Recognizer(RecognizerConfig(**{**m.cfg.to_dict(), "dropout": 0.3}))
    model.load_state_dict(m.state_dict())
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export_streaming(model, tmp_path / "m.stream.onnx", {"frontend": FE.to_dict()})
    assert model.training and all(x.training for x in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    rec = StreamingRecognizer(tmp_path / "m.stream.onnx", chunk_s=0.06, lookahead_s=0.04)
    x = (np.random.default_rng(5).normal(size=(41, 8)) * m.feat_std.numpy() + m.feat_mean.numpy()).astype(np.float32)
    ref = _chunked_torch(m, torch.from_numpy(x)[None], 3, 2)[0].numpy()  # the eval-mode network, dropout off
    assert float(np.abs(rec.finish(rec.accept(x, rec.initial_state())) - ref).max()) < 1e-4



def test_export_streaming_never_writes_over_its_source_or_its_own_fp32_twin(exported, tmp_path, capsys):
    """--out naming the --from-onnx (or --meta-from) file replaced the offline recogniser with the chunked graph, and
    --out x.stream.int8.onnx with --int8 wrote the fp32 twin there, then the int8 one over it ("wrote" twice, no fp32
    file left): each is now one line, and every file is left as it was."""
    import shutil

    from speechseq.runtime.onnx import read_metadata
    from speechseq.train.export_streaming import main

    m, off, _ = exported[0]
    src = str(shutil.copy(off, tmp_path / "m.onnx"))
    torch.save({"kind": "recognizer", "model_config": m.cfg.to_dict(), "model": m.state_dict(), "epoch": 1,
                "extra": {"frontend": FE.to_dict()}}, tmp_path / "best.pt")
    before = Path(src).read_bytes()
    for argv, says in [(["--from-onnx", src, "--out", src], "is the source"),
                       (["--from-onnx", src, "--out", str(tmp_path / "." / "m.onnx")], "is the source"),
                       (["--checkpoint", str(tmp_path / "best.pt"), "--meta-from", src, "--out", src], "is the source"),
                       (["--from-onnx", src, "--out", str(tmp_path / "m.stream.int8.onnx"), "--int8"],
                        "is the name of an int8 twin")]:
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("export_streaming: error: ") and says in err and len(err.splitlines()) == 1, err
        assert Path(src).read_bytes() == before and read_metadata(src)["kind"] == "recognizer"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "m.onnx"]



def test_stream_card_says_whether_the_shipped_files_are_fine_tuned():
    """The card's "How it was made" called step 2 (the chunk-mode fine-tune) "the shipped files", while its Card line,
    its last paragraph and the files' metadata (no stream_finetune) say they are step 1's, not fine-tuned."""
    from speechseq.runtime.onnx import read_metadata

    root = Path(__file__).resolve().parents[1] / "models"
    card = " ".join((root / "recognizer-en.stream.md").read_text().split())
    for name in ("recognizer-en.stream.onnx", "recognizer-en.stream.int8.onnx"):
        assert "stream_finetune" not in read_metadata(root / name)
    assert "the shipped files are step 1's (no fine-tune)" in card
    assert "Fine-tuned in chunked mode (the shipped files)" not in card


def test_stream_cards_say_listen_reads_them_with_partial_decoder_stream_only():
    """The cards said "`speechseq listen` uses it for the partial text while the user speaks": listen's partial text
    is the final's decoder by default (--partial-decoder final) and loads no chunked twin; a reader of the card took
    the twin for listen's partials and its 70.9% greedy WER for theirs."""
    import argparse
    import re

    from speechseq.commands.listen import build_listener, register

    ap = argparse.ArgumentParser()
    register(ap.add_subparsers())
    root = Path(__file__).resolve().parents[1]
    default = build_listener(ap.parse_args(["listen"]))
    chosen = build_listener(ap.parse_args(["listen", "--partial-decoder", "stream"]))
    assert default.streaming is None and chosen.streaming is not None
    for name in ("recognizer-en.stream.md", "recognizer-en.stream.int8.md"):
        # below the Card line (session 6's words, which the card's JSON twin repeats)
        body = " ".join((root / "models" / name).read_text().split("## Card", 1)[1].strip().split("\n\n", 1)[1].split())
        said = re.findall(r"`speechseq listen[^`]*` (?:uses it|for partial)|used by `speechseq listen[^`]*`", body)
        assert said and all("--partial-decoder stream" in s for s in said), (name, said)


def test_recognizer_docstring_points_to_the_chunked_mode_it_has():
    """speechseq.nn.recognizer's docstring said latency-controlled chunked recognition "can be added later"; it is
    speechseq.nn.streaming (ChunkedRecognizer, chunked_forward), exported by speechseq.train.export_streaming."""
    import speechseq.nn.recognizer as rec

    doc = " ".join(rec.__doc__.split())
    assert "added later" not in doc and "speechseq.nn.streaming" in doc, doc


def test_export_streaming_out_a_folder_is_one_line_before_the_work(exported, tmp_path, capsys):
    """--out naming a folder (or "folder/") read the weights back, traced and exported the graph, then failed with
    "[Errno 21] Is a directory: '.../.x.1234.abcd.tmp' -> '...'", a temporary file the user never named; --meta-from
    with --from-onnx was taken and ignored without a word (its help says it goes with --checkpoint)."""
    from speechseq.train.export_streaming import main

    _, off, _ = exported[0]
    (tmp_path / "models").mkdir()
    for out in (str(tmp_path / "models"), str(tmp_path / "models") + "/"):
        assert main(["--from-onnx", str(off), "--out", out]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"export_streaming: error: --out {tmp_path / 'models'}") and ".tmp" not in err, err
        assert len(err.splitlines()) == 1, err
    assert list((tmp_path / "models").iterdir()) == []
    with pytest.raises(SystemExit) as stop:
        main(["--from-onnx", str(off), "--meta-from", str(off), "--out", str(tmp_path / "m.stream.onnx")])
    assert stop.value.code == 2
    assert "--meta-from goes with --checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "m.stream.onnx").exists()


@pytest.mark.parametrize("chunk_s,lookahead_s", [(0.04, 1e308), (1e308, 0.02), (1e308, 1e308)])
def test_a_chunk_or_lookahead_longer_than_any_take_is_the_whole_utterance(exported, chunk_s, lookahead_s):
    """A finite look-ahead (or chunk) of 1e308 s, meant as "the whole utterance", raised OverflowError ("cannot
    convert float infinity to integer": 1e308 / 0.02 s is no float); it streams as the whole-utterance look-ahead."""
    m, _, stream = exported[0]
    rec = StreamingRecognizer(stream, chunk_s=chunk_s, lookahead_s=lookahead_s)
    x = (np.random.default_rng(8).normal(size=(45, 8)) * m.feat_std.numpy() + m.feat_mean.numpy()).astype(np.float32)
    state = rec.accept(x, rec.initial_state())
    assert state.steps == 0
    with torch.no_grad():
        ref = m(torch.from_numpy(x)[None])[0][0].numpy()
    lp = rec.finish(state)
    assert lp.shape == ref.shape and float(np.abs(lp - ref).max()) < 1e-4
