"""Session 50's fresh-eyes review (helper k): the Python API against the commands it mirrors."""
from __future__ import annotations

import json

import numpy as np
import pytest

import speechseq
from speechseq.audio import path_text
from speechseq.errors import SpeechseqError

from .test_api import SAMPLE, _cli_json


def test_load_recognizer_lexicon_decodes_as_transcribe_decoder_lexicon():
    # decoder="lexicon" named: the command's --decoder lexicon (its option defaults, no character LM); it ran the
    # weights --decoder auto tunes ("... on the carton life" where the command wrote "... on the cia life")
    rec = speechseq.load_recognizer(decoder="lexicon")
    t = speechseq.transcribe(SAMPLE, recognizer=rec)
    cli = _cli_json("transcribe", SAMPLE, "--format", "json", "--decoder", "lexicon")
    assert rec.decoder == "lexicon" and rec.options.lm is None
    assert json.dumps(t.to_json(path_text(SAMPLE))) == json.dumps(cli)


@pytest.mark.parametrize("call", [speechseq.detect, speechseq.transcribe])
def test_a_scalar_is_no_audio_said_as_a_user_error(call):
    # a 0-d array passed the shape check and failed as a ValueError in the channel mixing
    with pytest.raises(SpeechseqError, match=r"audio must be \(N,\) or \(N, channels\) samples, got shape \(\)"):
        call(np.float32(0.1), sr=16000)



def test_listen_keyword_model_of_another_kind_is_said_with_its_option():
    # as detect --model and eval detector --model say it; listen said "PATH: not a speechseq detector (metadata kind
    # 'lm')", the one model option of listen not named
    from .cli_run import run
    from .test_api import ROOT

    lm = ROOT / "models" / "lm-en.onnx"
    code, _, err = run("listen", "--input", SAMPLE, "--keyword-model", lm, "--fast")
    assert code == 1
    assert err == f"speechseq: error: --keyword-model {lm}: a language model, not a trigger-word detector\n"
