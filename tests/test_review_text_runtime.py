"""Review of the text side's runtime glue: the encoder probe that pairs an attention decoder with its recogniser,
model files with broken metadata, the error analysis's objective, and the decoders' option checks."""
from __future__ import annotations

import math

import numpy as np
import pytest

from speechseq.runtime.analysis import analyze_attention
from speechseq.runtime.lexicon import Lexicon, LexiconError, WordLM, load_lexicon, save_word_lm
from speechseq.runtime.lexicon_search import LexiconOptions
from speechseq.runtime.onnx import ModelError
from speechseq.runtime.text_decoder import DecodeOptions, probe_matches
from speechseq.text import UNK, VOCAB
from tests.table_decoder import table_step

A, B, C = (VOCAB.index(ch) for ch in "abc")


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A tiny recogniser with encoder_out (width 16), a decoder that reads it, and a character LM."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.nn.text import AttentionDecoder, CharLM, DecoderConfig, LMConfig, SharedEmbedding
    from speechseq.train.export_lm import export_decoder, export_encoder, export_lm

    d = tmp_path_factory.mktemp("pair")
    torch.manual_seed(0)
    export_encoder(Recognizer(RecognizerConfig(n_mels=80, front_dim=16, hidden=8, layers=1)).eval(), d / "rec.onnx")
    export_decoder(AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=16, hidden=8, attn_dim=8),
                                    SharedEmbedding(dim=8)).eval(), d / "dec.onnx")
    export_lm(CharLM(LMConfig(embed_dim=8, hidden=8)).eval(), d / "lm.onnx")
    return d


def _with_probe(pair, tmp_path, probe):
    from speechseq.runtime.onnx import read_metadata, write_metadata

    path = tmp_path / "dec.onnx"
    path.write_bytes((pair / "dec.onnx").read_bytes())
    meta = read_metadata(path)
    meta["encoder_probe"] = probe
    write_metadata(path, meta)
    return path


def test_a_probe_with_nan_channels_is_no_match(pair, tmp_path, monkeypatch):
    """A recogniser whose encoder gives NaN (a broken graph) passed the probe: max() over the channel differences
    skips NaN comparisons, and `> 0.05` is False for NaN, so rescoring went on with a decoder it does not fit."""
    import warnings

    import speechseq.runtime.text_decoder as td
    from speechseq.errors import SpeechseqWarning
    from speechseq.runtime.recognizer import Recognizer

    want = td.encoder_probe(Recognizer(pair / "rec.onnx").session, 80)
    dec = _with_probe(pair, tmp_path, want)
    assert td.best_available(pair / "rec.onnx", pair / "lm.onnx", dec) == "rescore"
    monkeypatch.setattr(td, "encoder_probe", lambda session, n: [want[0]] + [math.nan] * (len(want) - 1))
    assert td.best_available(pair / "rec.onnx", pair / "lm.onnx", dec) == "beam-lm"
    monkeypatch.setattr(td, "encoder_probe", lambda session, n: [math.nan] * len(want))
    text = td.TextDecoder(DecodeOptions("rescore", beam_size=2), lm=pair / "lm.onnx", attention=dec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        td.rescoring_recognizer(pair / "rec.onnx", text)
    assert any(issubclass(w.category, SpeechseqWarning) and "not the recogniser" in str(w.message) for w in caught)
    assert probe_matches([0.1, 0.2], [0.14, 0.16]) and not probe_matches([0.1, 0.2], [0.1, 0.26])
    assert not probe_matches([0.1, 0.2], [0.1]) and not probe_matches([0.1, math.nan], [0.1, 0.2])


@pytest.mark.parametrize("probe", [["x"] * 16, [None] * 16, "abc", 3])
def test_a_decoder_with_a_damaged_probe_is_one_model_error(pair, tmp_path, probe):
    """An encoder_probe of strings or nulls was a TypeError traceback from inside the probe comparison."""
    import speechseq.runtime.text_decoder as td

    dec = _with_probe(pair, tmp_path, probe)
    with pytest.raises(ModelError, match=f"^{dec}: attention decoder metadata not readable .*encoder_probe"):
        td.best_available(pair / "rec.onnx", pair / "lm.onnx", dec)


def test_auto_choice_with_a_recogniser_without_frontend_metadata_is_one_model_error(pair, tmp_path):
    """best_available read session_metadata(...)["frontend"]["n_mels"] bare: a KeyError traceback (transcribe
    --decoder auto runs it before the recogniser's own checks)."""
    import speechseq.runtime.text_decoder as td
    from speechseq.runtime.onnx import read_metadata, write_metadata

    rec = tmp_path / "rec.onnx"
    rec.write_bytes((pair / "rec.onnx").read_bytes())
    meta = read_metadata(rec)
    del meta["frontend"]
    write_metadata(rec, meta)
    dec = _with_probe(pair, tmp_path, [0.0] * 16)
    with pytest.raises(ModelError, match=f"^{rec}: recogniser metadata without 'frontend'"):
        td.best_available(rec, pair / "lm.onnx", dec)


def test_attention_analysis_scores_with_the_searchs_own_end_symbol():
    """analyze_attention passed sos/eos to the search but scored reference and output with the default <eos>: with
    another end symbol the reference scored log(1e-13) for its ending and a search error was blamed on the model."""
    step = table_step({(): {A: 0.55, B: 0.45}, (A,): {UNK: 0.5, C: 0.5}, (A, C): {UNK: 1.0}, (B,): {UNK: 1.0}})
    kw = {"reorder": lambda states, rows: [states[r] for r in rows], "length_norm_alpha": 0.0, "max_len": 5,
          "eos": UNK}
    case = analyze_attention("s", step, [()], "b", beam_size=1, **kw)
    assert case is not None and case.output in ("a", "ac")
    assert case.reference_score == pytest.approx(np.log(0.45)) and case.blame == "search"


@pytest.mark.parametrize("field, value", [("lm_weight", math.nan), ("word_bonus", math.inf),
                                          ("attention_weight", -math.inf), ("beam_size", 2.5), ("beam_size", True)])
def test_decode_options_refuse_non_finite_weights_and_fractional_beams(field, value):
    """NaN or infinite weights were taken (every fused score NaN: the n-best in arbitrary order); a beam of 2.5
    failed inside numpy's argpartition."""
    with pytest.raises(ValueError, match=field):
        DecodeOptions("beam-lm", **{field: value})


@pytest.mark.parametrize("field, value", [("word_weight", math.nan), ("oov_penalty", math.inf),
                                          ("word_bonus", -math.inf), ("char_weight", math.nan),
                                          ("char_bonus", math.inf), ("beam_size", 1.5), ("prune_top_k", 0),
                                          ("prune_logp", math.nan), ("blank_skip", 0.0), ("blank_skip", math.nan)])
def test_lexicon_options_refuse_non_finite_weights_and_bad_pruning(field, value):
    """NaN word_weight slipped past `< 0`; an infinite oov_penalty times no OOV word is NaN in every score;
    prune_top_k 0 was silently 1; blank_skip 0 made every frame extend nothing (an empty output)."""
    with pytest.raises(ValueError, match=field):
        LexiconOptions(**{field: value})
    LexiconOptions(prune_logp=-math.inf, blank_skip=1.0, prune_top_k=29)   # the exact search stays allowed


def test_a_lexicon_file_with_an_object_array_says_so(tmp_path):
    """numpy's refusal of an object array mentions pickles, and was reported as "not a NumPy .npz archive" for a
    file that is one."""
    from speechseq.train.wordlm import kneser_ney

    lm = WordLM(*kneser_ney(["the cat sat", "a dog ran"]))
    good = save_word_lm(tmp_path / "g.npz", lm.arrays, lm.meta)
    with np.load(good, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["words"] = np.array(list(arrays["words"]), dtype=object)
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(LexiconError, match=f"^{bad}: not a word LM file \\(an array of Python objects"):
        load_lexicon(bad)
    assert isinstance(load_lexicon(good), Lexicon)
