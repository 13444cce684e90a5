"""A file given as a model that is no ONNX model: a training checkpoint (.pt) names the export that makes one."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main
from speechseq.runtime.onnx import ModelError, make_session

ROOT = Path(__file__).resolve().parents[1]
ACTIVATE = ROOT / "models" / "activate.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"


@pytest.fixture(params=["zip", "legacy"])
def checkpoint(request, tmp_path) -> Path:
    """A checkpoint as `speechseq train` writes it (torch.save of a dict: a zip archive), or in torch's legacy
    format (a pickle)."""
    torch = pytest.importorskip("torch")
    path = tmp_path / "run" / "best.pt"
    path.parent.mkdir()
    torch.save({"model": {"w": torch.zeros(3)}, "epoch": 1}, path,
               _use_new_zipfile_serialization=request.param == "zip")
    return path


def _says_export(msg: str, path: Path) -> None:
    assert msg.startswith(f"{path}: a training checkpoint, not an ONNX model"), msg
    assert f"speechseq export {path} --out {path.with_suffix('.onnx')}" in msg, msg
    assert "Wire format" not in msg and "INVALID_PROTOBUF" not in msg and "\n" not in msg.strip()


def _error(err: str, option: str | None = "--model") -> str:
    """The one error line's message, after the option that named the file (test_review_s50_e; None: none named)."""
    msg = err.removeprefix("speechseq: error: ")
    assert option is None or msg.startswith(f"{option} "), msg
    return msg if option is None else msg[len(option) + 1:]


def test_a_training_checkpoint_is_named_as_one(checkpoint):
    """OUT/best.pt of `speechseq train` given as a model said "cannot load ONNX model ([ONNXRuntimeError] : 7 :
    INVALID_PROTOBUF ...)": the user is told what the file is and which command makes a model of it."""
    with pytest.raises(ModelError) as err:
        make_session(checkpoint)
    _says_export(str(err.value), checkpoint)
    other = checkpoint.with_name("junk.onnx")   # bytes of no kind: as before
    other.write_bytes(b"PK\x03\x04 not a zip at all")
    with pytest.raises(ModelError, match="junk.onnx: cannot load ONNX model"):
        make_session(other)


def test_transcribe_and_listen_say_a_checkpoint_needs_exporting(checkpoint, tmp_path, capsys):
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    assert main(["transcribe", str(tmp_path / "a.wav"), "--model", str(checkpoint)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    _says_export(_error(err), checkpoint)
    runs = [["--keyword-model", str(checkpoint)]]
    if ACTIVATE.is_file():
        runs.append(["--keyword-model", str(ACTIVATE), "--model", str(checkpoint)])
    for extra in runs:
        assert main(["listen", "--input", str(SAMPLE), "--fast", "--no-partials", *extra]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        _says_export(_error(err, "--model" if "--model" in extra else None), checkpoint)


def test_detect_says_a_checkpoint_needs_exporting(checkpoint, tmp_path, capsys):
    """detect --model best.pt said "cannot load ONNX model (... Wire format was corrupt)"."""
    sf.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    assert main(["detect", str(tmp_path / "a.wav"), "--model", str(checkpoint)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    _says_export(_error(err), checkpoint)
