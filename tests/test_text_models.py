"""The text side's torch modules and the attention decoder's ONNX step graph."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.nn.text import AttentionDecoder, CharLM, DecoderConfig, LMConfig  # noqa: E402
from speechseq.runtime.attention import OnnxDecoder, RescoreWeights, rescore  # noqa: E402
from speechseq.runtime.decoding import Hypothesis, attention_beam_search, score_sequence  # noqa: E402
from speechseq.text import EOS, SOS, VOCAB, encode  # noqa: E402
from speechseq.train.export_lm import export_decoder  # noqa: E402
from tests.table_decoder import table_step  # noqa: E402

LM_CFG = LMConfig(embed_dim=16, hidden=24, layers=1, dropout=0.0)
DEC_CFG = DecoderConfig(embed_dim=16, enc_dim=12, hidden=20, layers=2, attn_dim=8, dropout=0.0)


def _pair():
    torch.manual_seed(0)
    lm = CharLM(LM_CFG).eval()
    dec = AttentionDecoder(DEC_CFG, lm.embedding).eval()
    return lm, dec


def test_lm_and_decoder_share_one_embedding_object():
    lm, dec = _pair()
    assert dec.embedding is lm.embedding
    tokens = torch.tensor([[SOS, *encode("abc")]])
    memory = torch.randn(1, 9, DEC_CFG.enc_dim)
    with torch.no_grad():
        lm_before, dec_before = lm(tokens)[0], dec(memory, None, tokens)[0]
        lm.embedding.weight[VOCAB.index("b")] += 1.0           # change it through the LM ...
        lm_after, dec_after = lm(tokens)[0], dec(memory, None, tokens)[0]
    assert not torch.allclose(lm_before, lm_after) and not torch.allclose(dec_before, dec_after)  # ... both move
    joint = torch.nn.ModuleDict({"lm": lm, "dec": dec})                 # counted and trained once
    n_emb = lm.embedding.weight.numel()
    assert sum(p.numel() for p in joint.parameters()) == (sum(p.numel() for p in lm.parameters())
                                                           + sum(p.numel() for p in dec.parameters()) - n_emb)
    with pytest.raises(ValueError):
        AttentionDecoder(DecoderConfig(embed_dim=32), lm.embedding)


def test_decoder_attends_only_to_real_frames():
    _, dec = _pair()
    memory = torch.randn(2, 10, DEC_CFG.enc_dim)
    tokens = torch.tensor([[SOS, 3, 4], [SOS, 5, 6]])
    with torch.no_grad():
        logits, weights = dec(memory, torch.tensor([10, 6]), tokens)
        short = dec(memory[1:, :6], None, tokens[1:])[0]
    assert logits.shape == (2, 3, len(VOCAB)) and weights.shape == (2, 3, 10)
    np.testing.assert_allclose(weights.sum(-1).numpy(), 1.0, atol=1e-5)
    assert float(weights[1, :, 6:].max()) < 1e-6
    np.testing.assert_allclose(logits[1].numpy(), short[0].numpy(), atol=1e-5)  # padding changes nothing


@pytest.mark.parametrize("bad", [dict(layers=0), dict(hidden=0), dict(attn_dim=0), dict(enc_dim=0), dict(embed_dim=0),
                                 dict(vocab_size=0)])
def test_decoder_config_rejects_sizes_that_build_no_decoder(bad):
    """As LMConfig does: a 0-layer decoder was accepted and failed at its first step (IndexError), a 0-unit
    one trained and decoded as a constant."""
    with pytest.raises(ValueError):
        DecoderConfig(**{**DEC_CFG.to_dict(), **bad})


def test_models_refuse_an_embedding_of_another_vocabulary():
    """The tied output adds a (V,) bias to logits over the embedding's rows: the sizes must agree when built,
    not at the first forward (a broadcast error there)."""
    from speechseq.nn.text import SharedEmbedding

    emb = SharedEmbedding(len(VOCAB) - 3, LM_CFG.embed_dim)
    with pytest.raises(ValueError, match="vocab"):
        CharLM(LM_CFG, emb)
    with pytest.raises(ValueError, match="vocab"):
        AttentionDecoder(DEC_CFG, emb)


@pytest.fixture(scope="module")
def exported_decoder(tmp_path_factory):
    _, dec = _pair()
    path = tmp_path_factory.mktemp("dec") / "decoder.onnx"
    export_decoder(dec, path)
    return dec, OnnxDecoder(path)


def test_decoder_step_graph_equals_torch_teacher_forcing(exported_decoder):
    dec, onnx_dec = exported_decoder
    rng = np.random.default_rng(0)
    memory = rng.normal(size=(13, DEC_CFG.enc_dim)).astype(np.float32)
    seqs = [encode("hello"), encode("hi there")]
    scores, maps = onnx_dec.teacher_forced(memory, seqs)           # batched, padded, streamed step by step
    for seq, score, attn in zip(seqs, scores, maps):
        ids = torch.tensor([[SOS, *seq]])
        with torch.no_grad():
            logits, weights = dec(torch.from_numpy(memory)[None], None, ids)
        lp = torch.log_softmax(logits, -1)[0]
        expected = float(sum(lp[k, t] for k, t in enumerate([*seq, EOS])))
        assert score == pytest.approx(expected, abs=1e-4)
        np.testing.assert_allclose(attn, weights[0].numpy(), atol=1e-5)
    step = onnx_dec.step_fn(memory)                                   # the beam-search form agrees
    assert score_sequence(step, onnx_dec.initial_state(), seqs[0]) == pytest.approx(scores[0], abs=1e-4)
    hyps = attention_beam_search(step, onnx_dec.initial_state(), beam_size=3, max_len=6)
    assert 1 <= len(hyps) <= 3 and all(len(h.tokens) < 6 for h in hyps if h.finished)


def test_length_normalisation_prefers_the_complete_output():
    a, b = VOCAB.index("a"), VOCAB.index("b")
    # Empty output: 0.4. "ab": 0.6 * 0.6 * 0.9 = 0.324, less in total but 3 factors long.
    table = {(): {EOS: 0.4, a: 0.6}, (a,): {b: 0.6, EOS: 0.1, VOCAB.index("c"): 0.3},
             (a, b): {EOS: 0.9, a: 0.1}, (a, VOCAB.index("c")): {EOS: 0.1, a: 0.9}}
    step = table_step(table)
    init = [()]
    raw = attention_beam_search(step, init, beam_size=4, max_len=6, length_norm_alpha=0.0, reorder=_reorder)
    normed = attention_beam_search(step, init, beam_size=4, max_len=6, length_norm_alpha=1.0, reorder=_reorder)
    assert raw[0].tokens == () and raw[0].score == pytest.approx(np.log(0.4))
    assert normed[0].tokens == (a, b) and normed[0].score == pytest.approx(np.log(0.324) / 3)


def _reorder(states, rows):
    return [states[r] for r in rows]


def test_rescoring_reranks_with_decoder_and_lm(exported_decoder):
    _, onnx_dec = exported_decoder
    memory = np.random.default_rng(1).normal(size=(8, DEC_CFG.enc_dim)).astype(np.float32)
    nbest = [Hypothesis(tuple(encode(t)), t, s, s) for t, s in (("ab", -1.0), ("abc", -1.2))]
    att = onnx_dec.teacher_forced(memory, [h.tokens for h in nbest])[0]
    only_ctc = rescore(nbest, memory, onnx_dec, None, RescoreWeights(ctc=1.0, attention=0.0, lm=0.0, length=0.0))
    assert [r.text for r in only_ctc] == ["ab", "abc"]
    only_att = rescore(nbest, memory, onnx_dec, None, RescoreWeights(ctc=0.0, attention=1.0, lm=0.0, length=0.0))
    assert [r.text for r in only_att] == [["ab", "abc"][i] for i in np.argsort(-att)]
    assert only_att[0].attention_score == pytest.approx(att.max(), abs=1e-6)


def test_text_decoder_kinds_and_attention_plot(exported_decoder, tmp_path):
    from speechseq.errors import SpeechseqError
    from speechseq.runtime.decoding import greedy, prefix_beam_search
    from speechseq.runtime.lm import OnnxLM
    from speechseq.runtime.text_decoder import DecodeOptions, TextDecoder, plot_attention
    from speechseq.train.export_lm import export_lm

    _, onnx_dec = exported_decoder
    lm, _ = _pair()
    export_lm(lm, tmp_path / "lm.onnx")
    rng = np.random.default_rng(2)
    logits = rng.normal(0, 2, size=(20, 29))
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    memory = rng.normal(size=(20, DEC_CFG.enc_dim)).astype(np.float32)
    assert TextDecoder(DecodeOptions("greedy"))(lp).tokens == greedy(lp).tokens
    assert TextDecoder(DecodeOptions("beam", beam_size=4))(lp).tokens == prefix_beam_search(lp, 4)[0].tokens
    olm = OnnxLM(tmp_path / "lm.onnx")
    fused = TextDecoder(DecodeOptions("beam-lm", beam_size=4, lm_weight=0.9, word_bonus=0.2), lm=olm)(lp)
    assert fused.tokens == prefix_beam_search(lp, 4, lm=olm, alpha=0.9, beta=0.2)[0].tokens
    resc = TextDecoder(DecodeOptions("rescore", beam_size=4), lm=olm, attention=onnx_dec)
    nbest = [h.tokens for h in resc.nbest(lp)]
    assert resc(lp, memory).tokens in nbest
    same = TextDecoder(DecodeOptions("rescore", beam_size=4, lm_weight=0.9, word_bonus=0.2, attention_weight=0.0),
                       lm=olm, attention=onnx_dec)
    assert same(lp, memory).tokens == fused.tokens            # weight 0: the beam's own ranking
    with pytest.raises(SpeechseqError):
        TextDecoder(DecodeOptions("beam-lm"))
    with pytest.raises(ValueError):
        DecodeOptions("nonsense")
    attn = onnx_dec.teacher_forced(memory, [encode("hi")])[1][0]
    plot_attention(tmp_path / "att.png", rng.normal(size=(40, 8)), attn, "hi", frame_shift_s=0.02)
    assert (tmp_path / "att.png").stat().st_size > 5000


def test_rescoring_keeps_each_text_once(exported_decoder):
    """An n-best with "ab" and "ab " (the same word) came back from rescore twice; each text is kept once, at the
    spelling rescoring ranks best, so the first is what rescoring the whole list gives."""
    _, onnx_dec = exported_decoder
    memory = np.random.default_rng(1).normal(size=(8, DEC_CFG.enc_dim)).astype(np.float32)
    nbest = [Hypothesis(tuple(encode(t)), t, s, s) for t, s in (("ab ", -1.0), ("ab", -1.1), ("abc", -1.2))]
    w = RescoreWeights(ctc=1.0, attention=1.0, lm=0.0, length=0.0)
    att = onnx_dec.teacher_forced(memory, [h.tokens for h in nbest])[0]
    out = rescore(nbest, memory, onnx_dec, None, w)
    assert sorted(r.text.strip() for r in out) == ["ab", "abc"]
    best = int(np.argmax([h.ctc_score + a for h, a in zip(nbest, att)]))
    assert out[0].text == nbest[best].text and out[0].score == pytest.approx(nbest[best].ctc_score + att[best])


def test_beam_search_never_emits_special_tokens_but_eos():
    """The search expanded <blank> (and <sos>, <unk>) like letters: "h<blank>" (0.5) beat "h" (0.3) and printed as
    "h", with the blank's score and tokens a rescorer or a caller of .tokens then read. Only <eos> ends a
    hypothesis; no other special token is a continuation."""
    from speechseq.text import BLANK, CTC_SIZE, UNK

    h = VOCAB.index("h")
    table = {(): {h: 1.0}, (h,): {BLANK: 0.5, EOS: 0.3, UNK: 0.1, SOS: 0.1}, (h, BLANK): {EOS: 1.0},
             (h, UNK): {EOS: 1.0}, (h, SOS): {EOS: 1.0}}
    hyps = attention_beam_search(table_step(table), [()], beam_size=4, max_len=5, length_norm_alpha=0.0,
                                 reorder=_reorder)
    assert hyps[0].tokens == (h,) and hyps[0].text == "h" and hyps[0].score == pytest.approx(np.log(0.3))
    assert all(0 < t < CTC_SIZE for hyp in hyps for t in hyp.tokens)


@pytest.mark.parametrize("vocab_size", [30, 31, len(VOCAB) + 1])
@pytest.mark.parametrize("which", [LMConfig, DecoderConfig])
def test_text_configs_refuse_a_vocab_size_that_is_not_the_shared_vocabulary(which, vocab_size):
    """The text side reads and writes speechseq.text.VOCAB (<sos> 29, <eos> 30, <unk> 31): below 31 the first training
    batch was an IndexError in the embedding, and an exported LM's metadata named the 32 symbols of VOCAB whatever
    its log_probs held (the runtime bans <unk>, index 31, and reads a symbol per output)."""
    with pytest.raises(ValueError, match=rf"out of range: vocab_size {vocab_size} \({len(VOCAB)}: the symbols of "
                                         r"speechseq\.text\.VOCAB\)$"):
        which(vocab_size=vocab_size)


def test_an_lm_of_the_shared_vocabulary_still_trains_a_step():
    model = CharLM(LMConfig(vocab_size=len(VOCAB), embed_dim=8, hidden=8, dropout=0.0))
    logits, _ = model(torch.tensor([[SOS, *encode("ab")]]))
    assert logits.shape == (1, 3, len(VOCAB))
    torch.nn.functional.cross_entropy(logits[0], torch.tensor([*encode("ab"), EOS])).backward()
