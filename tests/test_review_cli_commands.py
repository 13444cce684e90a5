"""Review of the smaller commands and the shared CLI helpers (common, runs, features, analyze, tune fusion):
hidden files in a folder, an empty path, tune fusion's evaluation splits, attention decoders checked before the
work, and a last.pt that is no checkpoint."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main
from speechseq.commands.common import expand_inputs
from speechseq.errors import SpeechseqError


def _wav(path, seconds: float = 0.5, seed: int = 0):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(seed).normal(0, 0.1, int(16000 * seconds)).astype(np.float32), 16000)
    return path


def test_hidden_files_inside_a_folder_are_left_out_with_a_warning(tmp_path, capsys):
    """A folder copied from a Mac holds "._a.wav" beside a.wav (metadata, no audio): each failed to decode and
    the batch exited 1. Hidden files and folders inside a named folder are left out, and said so."""
    d = tmp_path / "clips"
    _wav(d / "a.wav")
    (d / "._a.wav").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        ")
    _wav(d / ".hidden" / "c.wav")
    assert expand_inputs([str(d)]) == [d / "a.wav"]
    assert "2 hidden audio files left out" in capsys.readouterr().err
    assert expand_inputs([str(d / ".hidden" / "c.wav")]) == [d / ".hidden" / "c.wav"]   # named: read
    assert main(["features", "--json", str(d)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(x)["file"] for x in out.splitlines()] == [str(d / "a.wav")]
    assert "cannot decode" not in err


def test_an_empty_path_is_not_the_working_directory(tmp_path, monkeypatch, capsys):
    """"" (an unset shell variable in quotes) was Path("") == ".": every audio file under the working directory."""
    _wav(tmp_path / "sub" / "a.wav")
    monkeypatch.chdir(tmp_path)
    skipped: list[str] = []
    assert expand_inputs([""], skipped=skipped) == [] and skipped == [""]
    assert "an empty path" in capsys.readouterr().err
    with pytest.raises(SpeechseqError, match="an empty path"):
        expand_inputs([""])
    assert main(["features", "--json", ""]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "an empty path" in err



@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.nn.text import AttentionDecoder, CharLM, DecoderConfig, LMConfig, SharedEmbedding
    from speechseq.train.export_lm import export_decoder, export_encoder, export_lm

    d = tmp_path_factory.mktemp("tiny")
    torch.manual_seed(0)
    export_lm(CharLM(LMConfig(embed_dim=8, hidden=16)).eval(), d / "lm.onnx")
    export_encoder(Recognizer(RecognizerConfig(n_mels=80, front_dim=16, hidden=8, layers=1)).eval(), d / "rec.onnx")
    export_decoder(AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=32, hidden=8, attn_dim=8),
                                    SharedEmbedding(dim=8)).eval(), d / "dec32.onnx")
    rows = []
    for i, (text, split) in enumerate([("one two", "train"), ("three", "dev"), ("four five", "test"), ("six", None)]):
        _wav(d / f"u{i}.wav", 0.5 + 0.25 * i, seed=i)
        rows.append({"audio_filepath": f"u{i}.wav", "text": text, **({"split": split} if split else {})})
    (d / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (d / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows if r.get("split") == "dev"))
    return d


def _tune(d, *more):
    return main(["tune", "fusion", "--model", str(d / "rec.onnx"), "--lm", str(d / "lm.onnx"), "--alphas", "0", "0.5",
                 "--betas", "0", "--beam", "2", "--json", *map(str, more)])


def test_tune_fusion_leaves_the_evaluation_splits_out_unless_named(tiny, capsys):
    """Without --split, tune fusion tuned on every row of the manifest: Kathleen dev (the set its weights are
    reported on) with them. Like train recognizer, it leaves dev and test out unless --split names one."""
    assert _tune(tiny, "--manifest", tiny / "m.jsonl") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["utterances"] == 2                     # the train row and the row of no split
    assert "2 rows of the evaluation splits (dev/test/validation) left out" in err
    assert _tune(tiny, "--manifest", tiny / "m.jsonl", "--split", "dev") == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["utterances"] == 1 and "left out" not in err
    assert _tune(tiny, "--manifest", tiny / "dev.jsonl") == 1
    out, err = capsys.readouterr()
    assert out == "" and "every row is of an evaluation split" in err and "--split" in err


def test_tune_fusion_checks_the_attention_decoder_before_the_grid(tiny, capsys, monkeypatch):
    """A decoder of another encoder width was a ValueError traceback, and only after the whole grid was decoded."""
    import speechseq.commands.tune_fusion as tf

    def no_grid(*a, **k):
        raise AssertionError("the grid ran before the decoder was checked")

    monkeypatch.setattr(tf, "grid_wer", no_grid)
    assert _tune(tiny, "--manifest", tiny / "m.jsonl", "--attention-decoder", tiny / "dec32.onnx") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--attention-decoder" in err and "32 channels" in err and "has 16" in err
    assert _tune(tiny, "--manifest", tiny / "m.jsonl", "--attention-decoder", tiny / "nope.onnx") == 1
    assert "no such model file" in capsys.readouterr().err


def test_analyze_checks_the_attention_decoder_before_the_utterances(tiny, capsys, monkeypatch):
    import speechseq.runtime.posteriors as posteriors

    def no_run(*a, **k):
        raise AssertionError("the utterances ran before the decoder was checked")

    monkeypatch.setattr(posteriors, "manifest_outputs", no_run)
    code = main(["analyze", "--model", str(tiny / "rec.onnx"), "--manifest", str(tiny / "m.jsonl"), "--system",
                 "attention", "--decoder", str(tiny / "dec32.onnx"), "--beam", "2"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "--decoder" in err and "32 channels" in err


def test_decoder_fits_names_a_recogniser_without_encoder_out():
    from speechseq.commands.common import decoder_fits

    class Session:   # a recogniser graph with log_probs only
        def get_outputs(self):
            return [SimpleNamespace(name="log_probs")]

        def run(self, names, feeds):
            return [np.zeros((1, 4, 30), np.float32)]

    runner = SimpleNamespace(session=Session(), frontend=SimpleNamespace(n_mels=80))
    with pytest.raises(SpeechseqError, match="rec.onnx: the recogniser has no encoder_out output, which --decoder"):
        decoder_fits("rec.onnx", runner, SimpleNamespace(enc_dim=16, path="d.onnx"), "--decoder")


def test_a_last_pt_that_is_no_checkpoint_is_named_so(tmp_path):
    """It said "last.pt is a None checkpoint"."""
    torch = pytest.importorskip("torch")
    from speechseq.commands.runs import last_run

    torch.save([1, 2, 3], tmp_path / "last.pt")
    with pytest.raises(SpeechseqError) as err:
        last_run(tmp_path)
    assert "None" not in str(err.value) and "no kind" in str(err.value) and "--out" in str(err.value)


def test_tune_fusion_says_what_its_weights_are_for(tiny, tmp_path, capsys):
    """Its help called --manifest a "dev manifest" though dev rows are left out unless --split names them, and
    it printed the rescoring WER at each attention weight with no best one, though `transcribe --decoder rescore`
    takes no such weight (it weighs the decoder 1): now the help says which rows, and the output which weight
    scored best and what transcribe uses."""
    import torch

    from speechseq.cli import build_parser
    from speechseq.nn.text import AttentionDecoder, DecoderConfig, SharedEmbedding
    from speechseq.train.export_lm import export_decoder

    parser = build_parser()
    fusion = parser._subparsers._group_actions[0].choices["tune"]._subparsers._group_actions[0].choices["fusion"]
    text = fusion.format_help()
    assert "dev manifest" not in text and "tuning manifest" in text
    torch.manual_seed(0)
    export_decoder(AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=16, hidden=8, attn_dim=8),
                                    SharedEmbedding(dim=8)).eval(), tmp_path / "dec16.onnx")
    code = main(["tune", "fusion", "--model", str(tiny / "rec.onnx"), "--lm", str(tiny / "lm.onnx"), "--alphas", "0",
                 "--betas", "0", "--beam", "2", "--manifest", str(tiny / "m.jsonl"), "--attention-decoder",
                 str(tmp_path / "dec16.onnx"), "--attention-weights", "0", "0.5"])
    out, err = capsys.readouterr()
    assert code == 0 and out.count("rescoring, attention weight") == 2
    best = [line for line in err.splitlines() if line.startswith("best attention weight ")]
    assert len(best) == 1 and "`transcribe --decoder rescore` weighs the decoder 1" in best[0], err


def test_analyze_and_tune_fusion_skip_a_bad_file_and_go_on(tiny, tmp_path, capsys):
    """One empty wav in the manifest stopped the whole batch ("error: ...empty.wav: contains no audio samples", no
    figures for the other utterances): it is reported and skipped, the rest are analysed, and the exit code is 1."""
    (tmp_path / "empty.wav").write_bytes(b"")
    rows = [{"audio_filepath": str(tiny / "u0.wav"), "text": "one two"},
            {"audio_filepath": str(tmp_path / "empty.wav"), "text": "seven", "duration": 1.0},
            {"audio_filepath": str(tmp_path / "gone.wav"), "text": "eight"},
            {"audio_filepath": str(tiny / "u3.wav"), "text": "six"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    said = [f"speechseq: warning: {manifest}:3: audio file not found: {tmp_path / 'gone.wav'} (skipped)",
            f"speechseq: warning: {tmp_path / 'empty.wav'}: file is empty",
            "speechseq: warning: 2 of 4 utterance(s) could not be read and were skipped"]
    assert _tune(tiny, "--manifest", manifest) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["utterances"] == 2
    assert err.splitlines() == said
    for extra in ([], ["--json"]):
        assert main(["analyze", "--model", str(tiny / "rec.onnx"), "--manifest", str(manifest), "--beam", "2",
                     *extra]) == 1
        out, err = capsys.readouterr()
        if extra:
            assert json.loads(out.splitlines()[-1])["summary"]["utterances"] == 2
        else:
            assert re.match(r"\d of 2 utterances wrong: ", out), out
        assert err.splitlines() == said
    (tmp_path / "m1.jsonl").write_text(json.dumps(rows[1]) + "\n")   # nothing readable: its line, then an error
    assert _tune(tiny, "--manifest", tmp_path / "m1.jsonl") == 1
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [said[1], f"speechseq: error: {tmp_path / 'm1.jsonl'}: no utterance "
                                                       "could be read"]


def test_audio_in_formats_speechseq_does_not_read_inside_a_folder_is_named(tmp_path, capsys):
    """A folder of phone memos (.m4a) was "directory holds no audio files", and one .m4a beside WAVs was left out
    unsaid: such files are counted by format and said to need converting."""
    d = tmp_path / "memos"
    d.mkdir()
    (d / "a.m4a").write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00")
    (d / "b.M4A").write_bytes(b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00")
    (d / "c.aac").write_bytes(b"ADIF\x00\x00")
    (d / "notes.txt").write_text("not audio")
    with pytest.raises(SpeechseqError, match=r"no audio files .*3 in formats speechseq does not read \(AAC: 1, "
                                             r"MP4/M4A: 2\).*ffmpeg"):
        expand_inputs([str(d)])
    _wav(d / "x.wav")
    assert expand_inputs([str(d)]) == [d / "x.wav"]
    err = capsys.readouterr().err
    assert "3 files in formats speechseq does not read (AAC: 1, MP4/M4A: 2) left out" in err and "ffmpeg" in err
    assert "notes.txt" not in err
