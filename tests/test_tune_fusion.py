"""`speechseq tune fusion`'s figures: the WER of each (alpha, beta) is the one `eval recognizer` reports for it, the
hypotheses normalised as the references are."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from speechseq.cli import main
from speechseq.commands.tune_fusion import grid_wer

from .ctc_spelling import spelling


def test_grid_wer_normalises_hypotheses_as_eval_recognizer_does():
    """A spelling with apostrophes that normalising drops ("the dogs' bones" -> "the dogs bones") is the reference's
    words: WER 0, as eval recognizer counts it (tune fusion counted 1 error in 3 words: 33.3 %)."""
    utts = [SimpleNamespace(text="The dogs' bones.", log_probs=spelling("the dogs' bones")),
            SimpleNamespace(text="'Tis so", log_probs=spelling("'tis so"))]
    grid = grid_wer(utts, None, [0.0], [0.0, 1.0], beam=4)
    assert grid == {(0.0, 0.0): 0.0, (0.0, 1.0): 0.0}


ROOT = Path(__file__).resolve().parents[1]
RECOGNIZER, LM = ROOT / "models" / "recognizer-en.onnx", ROOT / "models" / "lm-en.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"


@pytest.mark.skipif(not (RECOGNIZER.exists() and LM.exists() and SAMPLE.exists()), reason="shipped models missing")
def test_tune_fusion_says_one_utterance(tmp_path, capsys):
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights"}) + "\n")
    assert main(["tune", "fusion", "--model", str(RECOGNIZER), "--lm", str(LM), "--manifest", str(m),
                 "--alphas", "0", "0.5", "--betas", "1"]) == 0
    err = capsys.readouterr().err
    assert "% on 1 utterance)" in err and "1 utterances" not in err
