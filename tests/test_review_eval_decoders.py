"""scripts/eval_decoders.py on bad input: one line that says what is wrong, not a traceback."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

from speechseq.errors import SpeechseqError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def _run(monkeypatch, capsys, sets: list[str], outputs) -> tuple[int | str, str]:
    import eval_decoders
    import speechseq.runtime.posteriors as posteriors
    import speechseq.runtime.text_decoder as text_decoder

    monkeypatch.setattr(posteriors, "RecognizerRunner", lambda path: SimpleNamespace(has_memory=False))
    monkeypatch.setattr(posteriors, "manifest_outputs", outputs)
    monkeypatch.setattr(text_decoder, "TextDecoder", lambda opts, **kw: (lambda lp, mem: SimpleNamespace(text="")))
    argv = ["eval_decoders.py", "--model", "r.onnx", "--lm", "lm.onnx"]
    for s in sets:
        argv += ["--set", s]
    monkeypatch.setattr(sys, "argv", argv)
    try:
        rc = eval_decoders.main()
    except SystemExit as stop:
        rc = stop.code
    return rc, capsys.readouterr().err


def test_a_set_without_utterances_is_named(monkeypatch, capsys):
    """A split the manifest lacks gave no utterances: a ZeroDivisionError traceback (RTF over 0 s of audio)."""
    rc, err = _run(monkeypatch, capsys, ["kdev=m.jsonl:test"], lambda runner, manifest, split, limit, on_error=None: [])
    assert rc not in (0, None)
    assert "kdev" in str(rc) + err and "no utterances" in str(rc) + err


def test_a_set_without_a_name_is_a_usage_error(monkeypatch, capsys):
    """--set MANIFEST without NAME= read the manifest path "" (the working directory): a SpeechseqError traceback."""
    called = []
    rc, err = _run(monkeypatch, capsys, ["m.jsonl"], lambda *a: called.append(a) or [])
    assert rc == 2 and "NAME=MANIFEST" in err and not called


def test_an_unreadable_manifest_is_one_line(monkeypatch, capsys):
    def missing(runner, manifest, split, limit, on_error=None):
        raise SpeechseqError(f"manifest not found: {manifest}")
    rc, err = _run(monkeypatch, capsys, ["k=gone.jsonl"], missing)
    assert rc == 1 and err.strip() == "error: manifest not found: gone.jsonl"
