"""--char-bonus is read by the lexicon search only with the character LM fused (--char-lm-weight not 0): without it,
the bonus changed nothing, in silence; transcribe and eval recognizer now say so, naming the option it needs."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from speechseq.cli import main

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "recognizer-en.onnx"
LEXICON = ROOT / "models" / "words-en.npz"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"  # "activate, turn on the kitchen lights"
pytestmark = pytest.mark.skipif(not (MODEL.exists() and LEXICON.exists() and SAMPLE.exists()),
                                reason="shipped recogniser, lexicon or sample missing")
NEEDS = "--char-bonus: not used with --char-lm-weight 0 (give --char-lm-weight W to fuse the character LM --lm)"


def _transcribe(capsys, *options: str) -> tuple[str, str]:
    assert main(["transcribe", str(SAMPLE), "--decoder", "lexicon", "--beam-size", "4", "--vad", "off",
                 "--format", "json", *options]) == 0
    return capsys.readouterr()


def test_char_bonus_without_the_char_lm_is_named(capsys):
    plain_out, plain_err = _transcribe(capsys)
    out, err = _transcribe(capsys, "--char-bonus", "5")
    assert out == plain_out                 # the bonus truly changes nothing without the character LM
    assert json.loads(out)["text"]
    assert plain_err == ""
    assert err.strip().splitlines() == [f"speechseq: warning: {NEEDS}"], err
    # with the character LM fused, the bonus is read: no warning, and it changes the search's scores
    fused_out, fused_err = _transcribe(capsys, "--char-lm-weight", "0.3", "--char-bonus", "1")
    assert fused_err == "", fused_err
    assert fused_out != plain_out
    # --char-bonus at its default (0) with --char-lm-weight 0 changes nothing either way: no warning
    assert _transcribe(capsys, "--char-bonus", "0")[1] == ""


def test_char_bonus_and_another_unread_option_are_each_named(capsys):
    """Under --decoder greedy, --char-bonus is named among the options greedy does not read (one line), not twice."""
    assert main(["transcribe", str(SAMPLE), "--decoder", "greedy", "--vad", "off", "--char-bonus", "5"]) == 0
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["speechseq: warning: --char-bonus: not used by --decoder greedy"], err


def test_eval_recognizer_names_char_bonus_without_the_char_lm(tmp_path, capsys):
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights"}) + "\n")
    argv = ["eval", "recognizer", "--manifest", str(m), "--decoder", "lexicon", "--beam-size", "4"]
    assert main([*argv, "--char-bonus", "5"]) == 0
    out, err = capsys.readouterr()
    assert "WER" in out and f"speechseq: warning: {NEEDS}" in err, err
    assert main([*argv, "--char-lm-weight", "0.3", "--char-bonus", "5"]) == 0
    out, err = capsys.readouterr()
    assert "char LM 0.3/5" in out and "--char-bonus" not in err, err
