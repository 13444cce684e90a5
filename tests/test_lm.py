"""The character LM: corpus hygiene, training signal, the ONNX step graph against torch, and
shallow fusion through the onnxruntime LM."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.nn.text import CharLM, LMConfig  # noqa: E402
from speechseq.runtime.decoding import prefix_beam_search  # noqa: E402
from speechseq.runtime.lm import OnnxLM, sample  # noqa: E402
from speechseq.text import EOS, SOS, VOCAB, encode  # noqa: E402
from speechseq.train.export_lm import export_lm  # noqa: E402
from speechseq.train.lm import (lm_loss_fn, load_corpus, make_lm_batches, overlaps, perplexity,  # noqa: E402
                                split_heldout)


@pytest.fixture(scope="module", params=["lstm", "gru"])
def exported(request, tmp_path_factory):
    torch.manual_seed(0)
    model = CharLM(LMConfig(embed_dim=16, hidden=24, layers=2, rnn=request.param)).eval()
    path = tmp_path_factory.mktemp("lm") / f"lm-{request.param}.onnx"
    export_lm(model, path, {"note": "test"})
    return model, OnnxLM(path)


def test_step_graph_streamed_equals_torch_on_whole_sequence(exported):
    model, lm = exported
    texts = ["the cat sat", "a dog"]
    seqs = [[SOS, *encode(t)] for t in texts]
    n = max(map(len, seqs))
    x = torch.zeros(2, n, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.tensor(s)
    with torch.no_grad():
        whole = torch.log_softmax(model(x)[0], -1).numpy()          # (2, n, V) in one call
    states = lm.initial_state(2)
    for s in range(n):                                              # token by token, state carried
        log_probs, states = lm.step(x[:, s].numpy(), states)
        assert log_probs.shape == (2, len(VOCAB))
        for i, seq in enumerate(seqs):
            if s < len(seq):
                np.testing.assert_allclose(log_probs[i], whole[i, s], atol=1e-5)
    assert lm.meta["note"] == "test" and lm.meta["vocabulary"] == list(VOCAB)


def test_score_is_the_sum_of_step_log_probs(exported):
    model, lm = exported
    text = "hello world"
    ids = [SOS, *encode(text), EOS]
    with torch.no_grad():
        lp = torch.log_softmax(model(torch.tensor([ids[:-1]]))[0], -1)[0]
    expected = float(sum(lp[k, ids[k + 1]] for k in range(len(ids) - 1)))
    assert lm.score(text) == pytest.approx(expected, abs=1e-4)
    both = lm.score_tokens([encode(text), encode("hi")])        # padded together: same numbers
    assert both[0] == pytest.approx(expected, abs=1e-4) and both[1] == pytest.approx(lm.score("hi"), abs=1e-4)


def test_sampling_stops_at_eos_and_keeps_the_prefix(exported):
    _, lm = exported
    rng = np.random.default_rng(0)
    outs = [sample(lm, rng, temperature=1.0, prefix="the ", max_chars=40) for _ in range(5)]
    assert all(o.startswith("the ") and len(o) <= 40 for o in outs)
    assert len(set(outs)) > 1                                     # a random model still varies
    with pytest.raises(ValueError):
        sample(lm, rng, temperature=0.0)


def _ctc_posteriors(rng, n_frames=30, n_sym=29):
    logits = rng.normal(0, 2.0, size=(n_frames, n_sym))
    logits[:, 0] += 1.0
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


def test_fusion_with_alpha_zero_is_plain_beam_search(exported, rng):
    _, lm = exported
    for _ in range(3):
        lp = _ctc_posteriors(rng)
        plain = prefix_beam_search(lp, 8)
        fused = prefix_beam_search(lp, 8, lm=lm, alpha=0.0, beta=2.0)
        assert [h.tokens for h in fused] == [h.tokens for h in plain]
        assert [h.score for h in fused] == pytest.approx([h.score for h in plain])


def test_fusion_scores_add_up(exported, rng):
    """score = log P_ctc + alpha log P_lm(text <eos>) + beta len, with the runtime LM's own score."""
    _, lm = exported
    lp = _ctc_posteriors(rng)
    hyps = prefix_beam_search(lp, 6, lm=lm, alpha=0.7, beta=0.5)
    for h in hyps[:3]:
        assert h.lm_score == pytest.approx(lm.score_tokens([h.tokens])[0], abs=1e-3)
        assert h.score == pytest.approx(h.ctc_score + 0.7 * h.lm_score + 0.5 * len(h.tokens), abs=1e-3)


def test_a_trained_lm_moves_the_beam(tmp_path):
    """Acoustically 'bat' and 'cat' tie; an LM trained on cats breaks the tie."""
    torch.manual_seed(0)
    model = CharLM(LMConfig(embed_dim=16, hidden=32, layers=1, dropout=0.0))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    batch = make_lm_batches([np.array([SOS, *encode("cat"), EOS])] * 8, 64, seed=None)[0]
    for _ in range(60):
        loss, _ = lm_loss_fn(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert perplexity(model, ["cat"])["ppl"] < 1.3
    export_lm(model.eval(), tmp_path / "cat.onnx")
    lm = OnnxLM(tmp_path / "cat.onnx")
    lp = np.full((3, 29), -20.0)
    b, c, a, t = (VOCAB.index(ch) for ch in "bcat")
    lp[0, b] = lp[0, c] = math.log(0.5)
    lp[1, a] = lp[2, t] = 0.0
    lp[np.arange(3), 0] = np.maximum(lp[np.arange(3), 0], -20.0)
    plain = prefix_beam_search(lp, 4)
    assert {plain[0].text, plain[1].text} == {"bat", "cat"} and plain[0].score == pytest.approx(plain[1].score)
    assert prefix_beam_search(lp, 4, lm=lm, alpha=0.5, beta=0.0)[0].text == "cat"


def test_corpus_excludes_evaluation_prompts(tmp_path):
    text = tmp_path / "corpus.txt"
    text.write_text("He shoved back his chair and rose to his feet.\nA wholly different sentence, 42 words.\n"
                    "a wholly different sentence forty two words\nThe dog barked at the moon.\n")
    dev = ["Gregson shoved back his chair and rose to his feet."]
    kept = load_corpus([text], exclude=dev)
    assert kept == ["a wholly different sentence forty two words", "the dog barked at the moon"]
    assert overlaps(["the dog barked loudly when the cat came home at night", "the dog barked at the moon all night"],
                    ["the dog barked at the moon all night long"]) == [False, True]
    train, held = split_heldout([f"sentence number {i}" for i in range(2000)], percent=5)
    assert 60 <= len(held) <= 140 and len(train) + len(held) == 2000
    assert split_heldout(list(reversed(train + held)), 5)[1] == list(reversed(held))  # order-free choice
