"""Defects found by a new user walking through README.md: its commands as written, and the --help they quote."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from speechseq.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"


def _help_of(*path: str) -> str:
    p = build_parser()
    for name in path:
        p = next(a.choices for a in p._actions if isinstance(a, argparse._SubParsersAction))[name]
    return " ".join(p.format_help().split())


def test_transcribe_help_says_when_auto_picks_rescoring():
    """`transcribe --help` said --decoder auto takes, without a lexicon, "rescore, else beam-lm": with the shipped
    files (`--lexicon none`) it takes beam-lm, since it rescores only with an attention decoder trained on this
    recogniser (text_decoder.best_available; the shipped decoder-en.onnx was not: README, Shipped models)."""
    from speechseq.runtime.text_decoder import best_available

    assert best_available(MODELS / "recognizer-en.onnx", MODELS / "lm-en.onnx", MODELS / "decoder-en.onnx") \
        == "beam-lm"
    text = _help_of("transcribe")
    assert "else rescore, else beam-lm" not in text
    assert "else rescore when the --attention-decoder was trained on this recogniser, else beam-lm when --lm " \
           "exists, else greedy" in text, text


def _one_row_manifest(tmp_path: Path) -> Path:
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(SAMPLE), "duration": 5.165,
                             "text": "activate turn on the kitchen lights"}) + "\n")
    return m


def test_eval_recognizer_names_the_options_its_decoder_does_not_read(tmp_path, capsys):
    """`eval recognizer` decodes greedily by default, and --lm-weight, --word-lm-weight or --beam-size given with it
    changed nothing, in silence: the figures printed were greedy's, not the decoder the options describe. transcribe
    and listen name such options in a warning; so does eval recognizer now."""
    base = ["eval", "recognizer", "--manifest", str(_one_row_manifest(tmp_path)),
            "--model", str(MODELS / "recognizer-en.int8.onnx"), "--worst", "0"]
    assert main([*base, "--beam-size", "4", "--lm-weight", "0.3", "--word-lm-weight", "2"]) == 0
    out, err = capsys.readouterr()
    assert "decoder greedy" in out
    assert err.splitlines() == ["speechseq: warning: --beam-size, --lm-weight, --word-lm-weight: not used by "
                                "--decoder greedy"], err
    assert main([*base, "--decoder", "beam", "--beam-size", "4"]) == 0     # an option its decoder reads: no warning
    out, err = capsys.readouterr()
    assert "decoder beam 4" in out and err == "", err


def test_export_frontend_says_int8_is_not_made(tmp_path, capsys):
    """`export frontend --int8` wrote the float graph alone and said nothing of --int8, where a detector or LM
    checkpoint's export says that --int8 is not applied (and a checkpoint's says --like, --floor and --n-mels are
    not): the frontend's says so too."""
    pytest.importorskip("torch")
    assert main(["export", "frontend", "--out", str(tmp_path / "frontend.onnx"), "--int8"]) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == ["speechseq: warning: --int8 applies to recognizer checkpoints only: no int8 twin "
                                "for the frontend"], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frontend.onnx"]
