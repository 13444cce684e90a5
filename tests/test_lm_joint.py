"""Joint CTC-attention training pieces: the encoder outputs, the joint loss, decoder-only training
on frozen encoder outputs, and the exported recogniser + decoder pair."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.nn.recognizer import Recognizer, RecognizerConfig  # noqa: E402
from speechseq.nn.text import AttentionDecoder, CharLM, DecoderConfig, LMConfig  # noqa: E402
from speechseq.text import BLANK, EOS, SOS, encode  # noqa: E402
from speechseq.train.joint import (JointConfig, JointModel, decoder_targets, encoder_outputs,  # noqa: E402
                                   joint_loss_fn, memories, memory_batches, train_decoder, train_joint)
from speechseq.train.loop import LoopConfig  # noqa: E402

REC = RecognizerConfig(n_mels=8, front_dim=12, hidden=6, layers=2, dropout=0.0)
DEC = DecoderConfig(embed_dim=8, enc_dim=12, hidden=16, attn_dim=8, dropout=0.0)


def test_encoder_outputs_mirror_the_recogniser_forward():
    torch.manual_seed(0)
    rec = Recognizer(REC).eval()
    x, n = torch.randn(3, 40, 8), torch.tensor([40, 31, 17])
    with torch.no_grad():
        lp, ln = rec(x, n)
        lp2, ln2, mem = encoder_outputs(rec, x, n)
    assert torch.equal(ln, ln2) and mem.shape == (3, 20, 12)
    torch.testing.assert_close(lp2, lp)
    assert float(mem[2, 9:].abs().max()) == 0.0                          # packed: nothing past the end


def test_decoder_targets_from_texts_and_from_ctc_targets():
    inp, out = decoder_targets(["ab", "c"])
    a, b, c = encode("abc")
    assert inp.tolist() == [[SOS, a, b], [SOS, c, BLANK]] and out.tolist() == [[a, b, EOS], [c, EOS, BLANK]]
    inp2, out2 = decoder_targets(targets=torch.tensor([a, b, c]), target_lengths=torch.tensor([2, 1]))
    assert torch.equal(inp, inp2) and torch.equal(out, out2)


def test_joint_loss_trains_encoder_decoder_and_the_shared_embedding():
    from speechseq.train.recognizer import Batch

    torch.manual_seed(0)
    lm = CharLM(LMConfig(embed_dim=8, hidden=8))
    model = JointModel(Recognizer(REC), AttentionDecoder(DEC, lm.embedding))
    assert model.decoder.embedding is lm.embedding
    ids = [encode("hi"), encode("yo")]
    batch = Batch(torch.randn(2, 30, 8), torch.tensor([30, 24]), torch.tensor(ids[0] + ids[1]), torch.tensor([2, 2]))
    losses = {}
    for lam in (0.0, 0.3, 1.0):
        model.zero_grad()
        loss, logs = joint_loss_fn(JointConfig(ctc_weight=lam, memory_dropout=0.0))(model, batch)
        loss.backward()
        losses[lam] = (float(loss), logs)
        enc_grad = float(model.recognizer.lstm.weight_ih_l0.grad.abs().sum())
        emb_grad = model.decoder.embedding.weight.grad
        assert enc_grad > 0                                          # both losses reach the encoder
        assert (emb_grad is not None and float(emb_grad.abs().sum()) > 0) == (lam < 1.0)
    ctc, att = losses[1.0][1]["ctc"], losses[0.0][1]["att"]
    assert losses[0.3][0] == pytest.approx(0.3 * ctc + 0.7 * att, rel=1e-5)
    with pytest.raises(ValueError):
        JointConfig(ctc_weight=1.5)


def test_decoder_learns_on_frozen_encoder_outputs(tmp_path):
    torch.manual_seed(0)
    rec = Recognizer(REC)
    rng = np.random.default_rng(0)
    words = ["one", "two", "three", "four"]
    # Each word has its own feature pattern, so the memory tells which word it is.
    protos = {w: rng.normal(size=(1, 8)) * 5 for w in words}
    texts = [words[i % 4] for i in range(96)]
    feats = [(protos[t] + rng.normal(size=(int(rng.integers(18, 30)), 8))).astype(np.float32) for t in texts]
    mems = memories(rec, feats)
    assert [m.shape for m in mems[:2]] == [((len(feats[0]) + 1) // 2, 12), ((len(feats[1]) + 1) // 2, 12)]
    assert sum(len(b[0]) for b in memory_batches(mems, texts, 200, seed=1)) == 96
    hist = train_decoder((mems, texts), (mems[:8], texts[:8]), tmp_path, DEC,
                         LoopConfig(epochs=3, lr=3e-2, ema_decay=None), JointConfig(memory_dropout=0.0),
                         batch_frames=30, progress=False)
    assert hist[-1]["val_att_nll"] < 0.6 * hist[0]["val_att_nll"], hist
    # A character LM alone gets 14 of these 19 symbols (74%): above that, the decoder reads the memory.
    assert hist[-1]["val_att_acc"] > 0.85


def test_joint_checkpoint_exports_recogniser_with_memory_and_decoder(tmp_path):
    from speechseq.runtime.attention import OnnxDecoder
    from speechseq.runtime.posteriors import RecognizerRunner
    from speechseq.train.export_lm import export_decoder_checkpoint
    from speechseq.train.joint import KIND_JOINT, load_decoder_checkpoint

    torch.manual_seed(0)
    model = JointModel(Recognizer(REC), AttentionDecoder(DEC, CharLM(LMConfig(embed_dim=8, hidden=8)).embedding)).eval()
    frontend = {"sample_rate": 16000, "win_length": 400, "hop_length": 160, "n_fft": 512, "n_mels": 8,
                "fmin": 20.0, "fmax": 7600.0, "floor": 1e-5}
    ck = {"kind": KIND_JOINT, "model_config": {"recognizer": REC.to_dict(), "decoder": DEC.to_dict()},
          "model": model.state_dict(), "epoch": 3, "extra": {"frontend": frontend}}
    torch.save(ck, tmp_path / "joint.pt")
    assert load_decoder_checkpoint(tmp_path / "joint.pt")[0].cfg == DEC
    paths = export_decoder_checkpoint(tmp_path / "joint.pt", tmp_path / "rec.onnx")
    assert paths == [str(tmp_path / "rec.onnx"), str(tmp_path / "rec.decoder.onnx")]
    runner, dec = RecognizerRunner(paths[0]), OnnxDecoder(paths[1])
    assert runner.has_memory and runner.meta["kind"] == "recognizer"
    audio = np.random.default_rng(0).normal(0, 0.1, 16000).astype(np.float32)
    lp, mem = runner(audio)
    from speechseq.frontend import FrontendConfig, logmel

    feats = torch.from_numpy(logmel(audio, FrontendConfig(**frontend)))[None]
    with torch.no_grad():
        lp_t, _, mem_t = encoder_outputs(model.recognizer, feats)
        logits, _ = model.decoder(mem_t, None, torch.tensor([[SOS, *encode("hi")]]))
    np.testing.assert_allclose(lp, lp_t[0].numpy(), atol=1e-4)
    np.testing.assert_allclose(mem, mem_t[0].numpy(), atol=1e-4)
    lp_dec = torch.log_softmax(logits, -1)[0]
    expected = float(sum(lp_dec[k, t] for k, t in enumerate([*encode("hi"), EOS])))
    assert dec.teacher_forced(mem, [encode("hi")])[0][0] == pytest.approx(expected, abs=1e-3)


def test_train_joint_runs_on_feature_banks(tmp_path):
    from speechseq.train.featbank import FeatureBank, quantize
    from speechseq.train.feataug import AugmentConfig
    from speechseq.train.joint import KIND_JOINT
    from speechseq.train.loop import load_checkpoint
    from speechseq.train.recognizer import TrainOptions

    rng = np.random.default_rng(0)
    texts = ["one", "two", "three", "four"] * 4
    feats = [rng.normal(-5, 2, size=(int(rng.integers(30, 50)), 8)).astype(np.float32) for _ in texts]
    frontend = {"sample_rate": 16000, "win_length": 400, "hop_length": 160, "n_fft": 512, "n_mels": 8,
                "fmin": 20.0, "fmax": 7600.0, "floor": 1e-5}
    offsets = np.concatenate([[0], np.cumsum([len(f) for f in feats])]).astype(np.int64)
    bank = FeatureBank(quantize(np.concatenate(feats)), offsets, texts, ["x"] * len(texts), frontend)
    torch.manual_seed(0)
    hist = train_joint(bank, {"x": bank.subset(range(4))}, tmp_path, Recognizer(REC), DEC,
                       LoopConfig(epochs=1, lr=1e-3, ema_decay=None), JointConfig(ctc_weight=0.5),
                       TrainOptions(batch_seconds=2.0, augment=AugmentConfig.off()), progress=False)
    assert "val_wer" in hist[0] and np.isfinite(hist[0]["train_ctc"]) and np.isfinite(hist[0]["train_att"])
    ck = load_checkpoint(tmp_path / "best.pt")
    assert ck["kind"] == KIND_JOINT and set(ck["model_config"]) == {"recognizer", "decoder"}


def test_joint_export_pairs_its_decoder_with_its_recogniser(tmp_path):
    """`speechseq export` of a joint checkpoint wrote the decoder without the encoder_probe of the recogniser it
    wrote beside it: `transcribe --decoder auto` never chose rescoring for the pair (beam + LM instead), and
    `--decoder rescore` could not warn when the decoder was paired with another recogniser."""
    from speechseq.runtime.attention import OnnxDecoder
    from speechseq.runtime.onnx import make_session
    from speechseq.runtime.text_decoder import best_available, encoder_probe, probe_matches
    from speechseq.train.export_lm import export_decoder_checkpoint, export_lm
    from speechseq.train.joint import KIND_JOINT

    torch.manual_seed(0)
    lm = CharLM(LMConfig(embed_dim=8, hidden=8))
    model = JointModel(Recognizer(REC), AttentionDecoder(DEC, lm.embedding)).eval()
    frontend = {"sample_rate": 16000, "win_length": 400, "hop_length": 160, "n_fft": 512, "n_mels": 8,
                "fmin": 20.0, "fmax": 7600.0, "floor": 1e-5}
    torch.save({"kind": KIND_JOINT, "model_config": {"recognizer": REC.to_dict(), "decoder": DEC.to_dict()},
                "model": model.state_dict(), "epoch": 3, "extra": {"frontend": frontend}}, tmp_path / "joint.pt")
    rec, dec = export_decoder_checkpoint(tmp_path / "joint.pt", tmp_path / "rec.onnx")
    export_lm(lm.eval(), tmp_path / "lm.onnx")
    probe = OnnxDecoder(dec).meta.get("encoder_probe")
    assert probe is not None and len(probe) == 12   # the first 16 channels of 12 (2 x 6 units)
    assert probe_matches(encoder_probe(make_session(rec), REC.n_mels), probe)
    assert best_available(rec, tmp_path / "lm.onnx", dec) == "rescore"


def test_plain_decoder_export_pairs_its_decoder_with_its_recogniser(tmp_path, recwarn):
    """A decoder trained on a recogniser's frozen encoder outputs (an "attention-decoder" checkpoint) was exported
    by `speechseq export` without the fingerprint of that recogniser, which the joint export writes: rescoring with
    another recogniser of the same encoder width went on without a word. The training run records the probe it is
    given, and the export writes it."""
    import warnings

    from speechseq.errors import SpeechseqWarning
    from speechseq.runtime.attention import OnnxDecoder
    from speechseq.runtime.onnx import make_session
    from speechseq.runtime.text_decoder import DecodeOptions, TextDecoder, encoder_probe, rescoring_recognizer
    from speechseq.train.export_lm import export_decoder_checkpoint, export_encoder, export_lm

    frontend = {"sample_rate": 16000, "win_length": 400, "hop_length": 160, "n_fft": 512, "n_mels": 8,
                "fmin": 20.0, "fmax": 7600.0, "floor": 1e-5}
    recs = []
    for seed in (0, 1):   # the decoder's recogniser and another of the same size
        torch.manual_seed(seed)
        recs.append(export_encoder(Recognizer(REC).eval(), tmp_path / f"rec{seed}.onnx", {}, frontend))
    probe = encoder_probe(make_session(recs[0]), REC.n_mels)
    rng = np.random.default_rng(0)
    mems = [rng.normal(size=(int(rng.integers(8, 12)), DEC.enc_dim)).astype(np.float32) for _ in range(6)]
    lm = CharLM(LMConfig(embed_dim=8, hidden=8))
    train_decoder((mems, ["one", "two"] * 3), ([], []), tmp_path / "run", DEC, LoopConfig(epochs=1, ema_decay=None),
                  embedding=lm.embedding, batch_frames=40, progress=False, encoder_probe=probe)
    (dec,) = export_decoder_checkpoint(tmp_path / "run" / "best.pt", tmp_path / "dec.onnx")
    assert OnnxDecoder(dec).meta.get("encoder_probe") == probe
    export_lm(lm.eval(), tmp_path / "lm.onnx")
    text_decoder = TextDecoder(DecodeOptions("rescore"), lm=tmp_path / "lm.onnx", attention=dec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpeechseqWarning)
        rescoring_recognizer(recs[0], text_decoder)                      # its own recogniser: no word
    with pytest.warns(SpeechseqWarning, match="not the recogniser the attention decoder was trained on"):
        rescoring_recognizer(recs[1], text_decoder)


def test_export_of_a_decoder_without_its_recognisers_probe_says_so(tmp_path, capsys):
    """A decoder-only checkpoint that records no encoder_probe (trained without one, or before runs kept it) was
    exported without a word: its file cannot be checked against the recogniser it is paired with."""
    from speechseq.cli import main

    rng = np.random.default_rng(0)
    mems = [rng.normal(size=(10, DEC.enc_dim)).astype(np.float32) for _ in range(4)]
    for name, probe in (("with", [0.25] * 12), ("without", None)):
        train_decoder((mems, ["one", "two"] * 2), ([], []), tmp_path / name, DEC, LoopConfig(epochs=1, ema_decay=None),
                      batch_frames=40, progress=False, encoder_probe=probe)
        capsys.readouterr()
        assert main(["export", str(tmp_path / name / "best.pt"), "--out", str(tmp_path / f"{name}.onnx")]) == 0
        err = capsys.readouterr().err
        assert (err == "") == (probe is not None), err
    assert "records no fingerprint of the recogniser" in err and str(tmp_path / "without.onnx") in err
