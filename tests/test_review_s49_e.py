"""Review of `speechseq eval` / `export`, follow-ups: '-' as an output path (standard output for a text report, a
one-line refusal for a picture or a model), eval detector's warning for a manifest row naming its line, eval
recognizer's --lm / --lexicon of the wrong kind refused before the manifest is read, and export of a recogniser
checkpoint that records no frontend."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
DETECTOR = ROOT / "models" / "activate.onnx"
RECOGNIZER = ROOT / "models" / "recognizer-en.onnx"
LM = ROOT / "models" / "lm-en.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"  # "activate, turn on the kitchen lights"
needs_models = pytest.mark.skipif(not all(p.exists() for p in (DETECTOR, RECOGNIZER, LM, SAMPLE)),
                                  reason="shipped models or sample missing")

def _manifest(path: Path) -> Path:
    """A JSONL manifest: the sample (line 1), then a row whose audio is not there (line 2)."""
    rows = [{"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights"},
            {"audio_filepath": "gone.wav", "text": "x"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- 1. '-': standard output for a text report, refused for a picture or a model --------------------------------
@needs_models
def test_eval_recognizer_json_dash_is_the_report_alone_on_stdout(tmp_path, capsys, monkeypatch):
    """`--json -` wrote a file named "-" in the working folder, and stdout held the lines to read: the JSON report is
    now the whole of stdout (the lines moved to stderr), and no file "-" is made."""
    monkeypatch.chdir(tmp_path)
    m = _manifest(tmp_path / "m.jsonl")
    code, out, err = run("eval", "recognizer", "--manifest", m, "--json", "-")
    assert code == 1  # the missing row: skipped, said, exit code 1 as without --json
    report = json.loads(out)
    assert report["utterances"] == 1 and report["failed"] == 1 and report["audio"] == [str(SAMPLE)]
    assert f"{m}: 1 utterance (1 skipped" in err and "WER" in err and "wrote" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]


@needs_models
def test_eval_decoders_json_dash_is_the_report_alone_on_stdout(tmp_path, capsys, monkeypatch):
    """scripts/eval_decoders.py --json - : the figures' JSON alone on stdout, its table on stderr (it wrote a file
    "-" and the table on stdout)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import eval_decoders

    monkeypatch.chdir(tmp_path)
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights"}) + "\n")
    monkeypatch.setattr(sys, "argv", ["eval_decoders.py", "--model", str(RECOGNIZER), "--lm", str(LM),
                                      "--set", f"one={m}", "--json", "-"])
    assert eval_decoders.main() == 0
    out, err = capsys.readouterr()
    res = json.loads(out)["results"]["one"]
    assert res["utterances"] == 1 and set(res) >= {"greedy", "beam 8", "beam 8 + LM"}
    assert "| set |" in err and "| one (1 utt.) |" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.jsonl"]


@needs_models
def test_transcribe_output_dir_dash_is_stdout(tmp_path, capsys, monkeypatch):
    """`transcribe --output-dir -` made a folder "-" and wrote the transcript into it: '-' is stdout, as without the
    option."""
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("transcribe", "--vad", "off", "--decoder", "greedy", "--output-dir", "-", SAMPLE)
    assert code == 0
    _, plain, _ = run("transcribe", "--vad", "off", "--decoder", "greedy", SAMPLE)
    assert out == plain and len(out.split()) >= 3
    assert list(tmp_path.iterdir()) == []


@needs_models
@pytest.mark.parametrize("argv, noun", [
    (["eval", "detector", "--model", DETECTOR, "--positives", SAMPLE, "--negatives", SAMPLE, "--det", "-"], "a picture"),
    (["detect", "--model", DETECTOR, "--plot", "-", SAMPLE], "a picture"),
    (["features", "--plot", "-", SAMPLE], "a picture"),
    (["transcribe", "--plot-attention", "-", SAMPLE], "a picture"),
    (["export", "frontend", "--out", "-"], "a model"),
])
def test_dash_for_a_picture_or_a_model_is_one_line_refusing_it(tmp_path, capsys, monkeypatch, argv, noun):
    """A picture or a model is no text for standard output: '-' was "unsupported file type '(none)'" (--det, --plot,
    --plot-attention) or "use one of .onnx" (export), now one line saying why, before any work; no file "-"."""
    if argv[0] == "export":
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(*argv)
    option = next(a for a in argv if str(a).startswith("--") and argv[argv.index(a) + 1] == "-")
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"speechseq: error: {option} -: {noun} is not written to standard output"), err
    assert list(tmp_path.iterdir()) == []


# --- 2. eval detector names the manifest line of a row whose audio is missing ------------------------------------
@needs_models
def test_eval_detector_names_the_manifest_line_of_a_missing_file(tmp_path, capsys):
    """It said "gone.wav: no such file; skipped", not which manifest or line; eval recognizer names both."""
    m = _manifest(tmp_path / "m.jsonl")
    code, out, err = run("eval", "detector", "--model", DETECTOR, "--positives", m, "--json")
    assert code == 1 and json.loads(out)["skipped"] == 1
    warnings = [line for line in err.splitlines() if line.startswith("speechseq: warning:")]
    assert warnings[0] == f"speechseq: warning: {m}:2: {tmp_path / 'gone.wav'}: no such file; skipped"
    # a file that cannot be read: its row named too; named on the command line, it has none
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio\n")
    m.write_text(json.dumps({"audio_filepath": "bad.wav"}) + "\n")
    code, _, err = run("eval", "detector", "--model", DETECTOR, "--positives", SAMPLE, m, bad)
    warnings = [line for line in err.splitlines() if line.startswith("speechseq: warning:")]
    assert code == 1 and len(warnings) == 3, err
    assert warnings[0].startswith(f"speechseq: warning: {m}:1: {bad}: ") and warnings[0].endswith("; skipped")
    assert warnings[1].startswith(f"speechseq: warning: {bad}: ")


# --- 3. eval recognizer: --lm / --lexicon of the wrong kind before the manifest ----------------------------------
@needs_models
@pytest.mark.parametrize("options, said", [
    (["--decoder", "beam-lm", "--lm", DETECTOR], "a trigger-word detector, not a language model"),
    (["--decoder", "beam-lm", "--lm", RECOGNIZER], "a speech recogniser, not a language model"),
    (["--decoder", "lexicon", "--lexicon", "TEXT"], "not a word LM file"),
    (["--decoder", "lexicon", "--char-lm-weight", "0.5", "--lm", "TEXT"], "cannot load ONNX model"),
])
def test_eval_recognizer_wrong_kind_of_lm_or_lexicon_is_said_before_the_manifest(tmp_path, capsys, options, said):
    """A detector or recogniser given as --lm, a text file as --lexicon or --lm: refused after the manifest was read,
    its bad rows' warnings first; now the one error line alone."""
    text = tmp_path / "words.txt"
    text.write_text("hello\nworld\n")
    m = _manifest(tmp_path / "m.jsonl")
    code, out, err = run("eval", "recognizer", "--manifest", m, *[text if o == "TEXT" else o for o in options])
    assert code == 1 and out == ""
    assert err.splitlines() == [line for line in err.splitlines() if line.startswith("speechseq: error:")], err
    assert len(err.splitlines()) == 1 and said in err


# --- 4. export of a recogniser checkpoint without extra.frontend -------------------------------------------------
def _checkpoint(path: Path, n_mels: int, frontend: dict | None = None) -> Path:
    """A tiny recogniser checkpoint as `train recognizer` writes one (kind, model_config, model, epoch, extra)."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig

    torch.manual_seed(0)
    cfg = RecognizerConfig(n_mels=n_mels, front_dim=8, hidden=6, layers=1, dropout=0.0)
    extra = {} if frontend is None else {"frontend": frontend}
    torch.save({"kind": "recognizer", "model_config": cfg.to_dict(), "model": Recognizer(cfg).state_dict(),
                "epoch": 1, "extra": extra}, path)
    return path


def _loads(path: Path) -> int:
    """The mel bands of an exported recogniser that the runtime loads (it refuses a graph its metadata contradicts)."""
    from speechseq.runtime.recognizer import Recognizer

    rec = Recognizer(path)
    x = rec.recognize(np.zeros(16000, np.float32))  # runs: the features the metadata names fit the graph
    assert isinstance(x.text, str)
    return rec.frontend.n_mels


@pytest.mark.parametrize("frontend_bands", [None, 80])
def test_export_refuses_a_checkpoint_whose_frontend_is_unknown_before_writing(tmp_path, capsys, frontend_bands):
    """An 8-band model whose checkpoint records no frontend (or one of 80 bands) was written with metadata of 80
    bands, and the model failed to load: now one line, and nothing written (not the --out folder either)."""
    from speechseq.frontend import FrontendConfig

    fe = None if frontend_bands is None else FrontendConfig(n_mels=frontend_bands).to_dict()
    ck = _checkpoint(tmp_path / "x.pt", 8, fe)
    code, out, err = run("export", ck, "--out", tmp_path / "new" / "x.onnx")
    assert code == 1 and out == "" and len(err.splitlines()) == 1
    said = "records no frontend (extra['frontend'])" if fe is None else "its frontend (extra['frontend']) makes 80"
    assert err.startswith(f"speechseq: error: {ck}: {said}") and "its model reads 8" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]


@pytest.mark.parametrize("n_mels, recorded", [(80, False), (8, True)])
def test_export_takes_a_frontend_that_fits_the_model(tmp_path, capsys, n_mels, recorded):
    """Without extra.frontend a model of the 80 bands `train recognizer` makes is exported with that frontend; one
    that records its own (8 bands here) with it: both load."""
    from speechseq.frontend import FrontendConfig

    fe = FrontendConfig(n_mels=n_mels).to_dict() if recorded else None
    ck = _checkpoint(tmp_path / "x.pt", n_mels, fe)
    code, out, _ = run("export", ck, "--out", tmp_path / "x.onnx")
    assert code == 0 and out == f"wrote {tmp_path / 'x.onnx'}\n"
    assert _loads(tmp_path / "x.onnx") == n_mels


def test_export_recognizer_without_a_frontend_names_the_models_bands(tmp_path):
    """export_recognizer and export_streaming of a model of 8 bands, given no frontend, wrote metadata of 80 bands (a
    file that did not load); a frontend of other bands than the model's is refused before a file is made."""
    pytest.importorskip("torch")
    import torch

    from speechseq.frontend import FrontendConfig
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig
    from speechseq.runtime.onnx import read_metadata
    from speechseq.train.export_recognizer import export_recognizer
    from speechseq.train.export_streaming import export_streaming

    torch.manual_seed(0)
    model = Recognizer(RecognizerConfig(n_mels=8, front_dim=8, hidden=6, layers=1, dropout=0.0)).eval()
    assert _loads(export_recognizer(model, tmp_path / "r.onnx")) == 8
    assert read_metadata(export_streaming(model, tmp_path / "r.stream.onnx"))["frontend"]["n_mels"] == 8
    with pytest.raises(ValueError, match="the frontend makes 80 mel bands, the model reads 8"):
        export_recognizer(model, tmp_path / "bad.onnx", frontend=FrontendConfig(n_mels=80).to_dict())
    with pytest.raises(ValueError, match="the frontend makes 80 mel bands, the model reads 8"):
        export_streaming(model, tmp_path / "bad.stream.onnx", {"frontend": FrontendConfig(n_mels=80).to_dict()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.onnx", "r.stream.onnx"]
