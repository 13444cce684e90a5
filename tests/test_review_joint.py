"""Review of joint CTC-attention training and the decoder recipe: the joint config's ranges, the joint loss's
logs, and scripts/train_decoder.py's encoder-output cache (kept whole, and never reused for another recogniser
or other utterances). No audio model is trained."""
from __future__ import annotations

import types
import warnings
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.nn.recognizer import Recognizer, RecognizerConfig  # noqa: E402
from speechseq.nn.text import AttentionDecoder, DecoderConfig  # noqa: E402
from speechseq.text import encode  # noqa: E402
from speechseq.train.joint import JointConfig, JointModel, joint_loss_fn  # noqa: E402
from tests.script_loader import load_script  # noqa: E402



@pytest.mark.parametrize("bad", [dict(label_smoothing=-0.1), dict(label_smoothing=1.0),
                                 dict(memory_dropout=-0.2), dict(memory_dropout=1.0)])
def test_joint_config_rejects_smoothing_and_memory_dropout_out_of_range(bad):
    """torch trains on with a negative label smoothing, and a memory dropout of 1 zeroes all the audio the
    decoder reads: both were accepted (ctc_weight alone was checked)."""
    with pytest.raises(ValueError, match=next(iter(bad))):
        JointConfig(**bad)


def test_joint_loss_logs_without_a_grad_to_scalar_warning():
    """float() of the CTC and attention losses, which still need their graph, made torch warn on every run."""
    from speechseq.train.recognizer import Batch
    from speechseq.nn.text import SharedEmbedding

    torch.manual_seed(0)
    rec = Recognizer(RecognizerConfig(n_mels=8, front_dim=12, hidden=6, layers=1, dropout=0.0))
    dec = AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=12, hidden=8, attn_dim=8, dropout=0.0),
                           SharedEmbedding(dim=8))
    batch = Batch(torch.randn(1, 20, 8), torch.tensor([20]), torch.tensor(encode("hi")), torch.tensor([2]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss, logs = joint_loss_fn(JointConfig(ctc_weight=0.5, memory_dropout=0.0))(JointModel(rec, dec), batch)
    assert loss.requires_grad and loss.item() == pytest.approx(0.5 * logs["ctc"] + 0.5 * logs["att"], rel=1e-5)


# ------------------------------------------------------------------ scripts/train_decoder.py fit: the memories cache

def _script():
    return load_script("train_decoder", "train_decoder_under_review")


class _Stop(Exception):
    pass


def _fit_env(monkeypatch, tmp_path, level: float, seen: list):
    """fit() with a fake recogniser whose encoder outputs are all `level` (its probe says so too), three
    utterances, a tiny LM, and train_decoder replaced by a recorder that stops the run."""
    import speechseq.audio
    import speechseq.runtime.posteriors
    import speechseq.runtime.text_decoder
    import speechseq.train.joint
    import speechseq.train.lm
    from speechseq.nn.text import CharLM, LMConfig

    td = _script()

    class Runner:
        has_memory = True
        frontend = types.SimpleNamespace(sample_rate=16000, n_mels=8)
        session = types.SimpleNamespace(level=level)

        def __init__(self, path):
            pass

        def __call__(self, audio):
            return np.zeros((5, 29), np.float32), np.full((5, 4), level, np.float32)

    utts = [types.SimpleNamespace(audio=f"u{i}.wav", text=t) for i, t in enumerate(["one", "two", "three"])]
    monkeypatch.setattr(speechseq.runtime.posteriors, "RecognizerRunner", Runner)
    monkeypatch.setattr(speechseq.runtime.text_decoder, "encoder_probe", lambda session, n: [session.level] * 16)
    monkeypatch.setattr(speechseq.audio, "load_audio", lambda path, sr: np.zeros(1600, np.float32))
    monkeypatch.setattr(td, "_utterances", lambda args: utts)
    monkeypatch.setattr(speechseq.train.lm, "load_lm_checkpoint",
                        lambda p: (CharLM(LMConfig(embed_dim=8, hidden=8)), {}))

    def train_decoder(train, held, *a, **k):
        seen.append([float(m.astype(np.float32).mean()) for m in [*train[0], *held[0]]])
        raise _Stop

    monkeypatch.setattr(speechseq.train.joint, "train_decoder", train_decoder)
    return td, Namespace(recognizer="rec.onnx", lm_checkpoint="lm.pt", data=str(tmp_path / "data"), synth=None,
                         synth_limit=3000, work=str(tmp_path / "work"), out=str(tmp_path / "d.onnx"), every=1,
                         epochs=1, hidden=8, batch_frames=100)


def test_decoder_recipe_never_trains_on_another_recognisers_cached_memories(tmp_path, monkeypatch):
    """A memories.npz left in --work by another recogniser (or another --every) was loaded as it was: the decoder
    trained on the old encoder's outputs and was stamped with the new one's encoder_probe, so the runtime check
    meant to catch a mismatched pair passed."""
    seen: list = []
    td, args = _fit_env(monkeypatch, tmp_path, 1.0, seen)
    with pytest.raises(_Stop):
        td.fit(args)
    assert seen[-1] == [1.0, 1.0, 1.0]
    with pytest.raises(_Stop):
        td.fit(args)                                              # the same recogniser: the cache is used
    assert seen[-1] == [1.0, 1.0, 1.0]
    td, _ = _fit_env(monkeypatch, tmp_path, 2.0, seen)            # another recogniser, same --work
    with pytest.raises(SystemExit, match="another recogniser"):
        td.fit(args)
    td, _ = _fit_env(monkeypatch, tmp_path, 1.0, seen)
    with pytest.raises(SystemExit, match="every"):
        td.fit(Namespace(**{**vars(args), "every": 2}))
    assert len(seen) == 2


def test_decoder_recipe_leaves_no_half_written_cache(tmp_path, monkeypatch):
    """np.savez wrote memories.npz in place: a run stopped while it wrote left a broken file that every later
    run failed to load."""
    seen: list = []
    td, args = _fit_env(monkeypatch, tmp_path, 1.0, seen)
    real = np.savez

    def interrupted(file, *a, **k):
        with open(file, "wb") if isinstance(file, (str, Path)) else open(file.name, "wb") as f:
            f.write(b"PK\x03\x04 half")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        td.fit(args)
    monkeypatch.setattr(np, "savez", real)
    assert not (tmp_path / "work" / "memories.npz").exists()
    with pytest.raises(_Stop):
        td.fit(args)                                              # computed again, not a crash on the broken file
    assert seen[-1] == [1.0, 1.0, 1.0]


def test_decoder_cache_keeps_equal_length_memories_as_float16_arrays(tmp_path):
    """np.array(mems, dtype=object) of memories all of one length is one 3-D array of Python objects."""
    td = _script()
    mems = [np.full((6, 4), i, np.float16) for i in range(3)]
    source = {"encoder_probe": [0.5] * 16, "data": "d", "synth": None, "synth_limit": None, "every": 1}
    td._save_cache(tmp_path / "memories.npz", mems, ["a", "b", "c"], ["A", "B", "C"], source)
    got, texts, keys = td._load_cache(tmp_path / "memories.npz", source)
    assert [m.dtype for m in got] == [np.float16] * 3 and [m.shape for m in got] == [(6, 4)] * 3
    assert [float(m[0, 0]) for m in got] == [0.0, 1.0, 2.0] and texts == ["a", "b", "c"] and keys == ["A", "B", "C"]


def test_decoder_targets_for_empty_and_out_of_vocabulary_transcripts():
    """An empty transcript is <sos> -> <eos>; characters outside the vocabulary are normalised away (texts) and
    a batch with an empty CTC target trains (batch of 1 included)."""
    from speechseq.text import BLANK, EOS, SOS
    from speechseq.train.joint import decoder_targets

    inp, out = decoder_targets(["", "Café 2!"])
    ids = encode("cafe two")
    assert inp[0].tolist() == [SOS] + [BLANK] * len(ids) and out[0].tolist() == [EOS] + [BLANK] * len(ids)
    assert inp[1].tolist() == [SOS, *ids] and out[1].tolist() == [*ids, EOS]
    inp2, out2 = decoder_targets(targets=torch.tensor(ids), target_lengths=torch.tensor([0, len(ids)]))
    assert torch.equal(inp, inp2) and torch.equal(out, out2)


def test_decoder_recipe_skips_an_unreadable_file_and_refuses_none(tmp_path, monkeypatch, capsys):
    """One unreadable clip stopped the whole encoder-output pass with a traceback; it is reported and skipped.
    With none readable the run stops with one line (it was an IndexError)."""
    import speechseq.audio
    from speechseq.audio import AudioError

    seen: list = []
    td, args = _fit_env(monkeypatch, tmp_path, 1.0, seen)

    def load(path, sr):
        if path == "u1.wav":
            raise AudioError("u1.wav: not an audio file")
        return np.zeros(1600, np.float32)

    monkeypatch.setattr(speechseq.audio, "load_audio", load)
    with pytest.raises(_Stop):
        td.fit(args)
    assert len(seen[-1]) == 2 and "skipped: u1.wav: not an audio file" in capsys.readouterr().err

    def none(path, sr):
        raise AudioError(f"{path}: not an audio file")

    monkeypatch.setattr(speechseq.audio, "load_audio", none)
    with pytest.raises(SystemExit, match="no utterance to train the decoder on"):
        td.fit(Namespace(**{**vars(args), "work": str(tmp_path / "work2")}))


def test_train_decoder_refuses_no_training_utterance(tmp_path):
    """With every utterance held out (a few utterances, all of prompts among the 4 % held out), train_decoder ran its
    epochs on nothing and kept the random weights as best.pt, which the recipe exported as the decoder (train_lm
    refuses the same)."""
    from speechseq.train.joint import train_decoder
    from speechseq.train.loop import LoopConfig

    cfg = DecoderConfig(embed_dim=4, enc_dim=6, hidden=8, attn_dim=4)
    mems = [np.full((10, 6), 0.1 * i, np.float16) for i in range(3)]
    with pytest.raises(ValueError, match="no training utterance"):
        train_decoder(([], []), (mems, ["ab", "cd", "ef"]), tmp_path / "run", cfg, LoopConfig(epochs=1, lr=1e-3),
                      progress=False)
    assert not (tmp_path / "run" / "best.pt").exists()
