"""Review of `speechseq export` and the exporters' files (second pass): checkpoints of a known kind that lack what
their exporter reads, run folders, --help, and the detector's and the streaming recogniser's files written whole or
not at all. Tiny models, a few seconds in all."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.cli import main  # noqa: E402
from speechseq.runtime.onnx import make_session, read_metadata  # noqa: E402

from .test_cli_errors_train import run  # noqa: E402  (main(argv): exit code, stdout, stderr)

ROOT = Path(__file__).resolve().parents[1]


def _detector_checkpoint():
    from speechseq.nn.detector import Detector, DetectorConfig

    torch.manual_seed(0)
    cfg = DetectorConfig(n_mels=40, conv_channels=8, kernel=5, stride=3, hidden=8, layers=1)
    return {"kind": "detector", "model_config": cfg.to_dict(), "model": Detector(cfg).eval().state_dict(),
            "epoch": 1, "extra": {"keyword": "hi"}}


def _recognizer_checkpoint():
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig

    torch.manual_seed(0)
    from speechseq.frontend import FrontendConfig

    cfg = RecognizerConfig(n_mels=8, front_dim=8, hidden=6, layers=1, dropout=0.0)
    return {"kind": "recognizer", "model_config": cfg.to_dict(), "model": Recognizer(cfg).state_dict(), "epoch": 1,
            "extra": {"frontend": FrontendConfig(n_mels=8).to_dict()}}  # its 8 bands' (export refuses an unknown one)


@pytest.mark.parametrize("damage", ["no model_config", "no weights", "weights of another size", "a setting of text"])
@pytest.mark.parametrize("kind", ["detector", "recognizer"])
def test_a_checkpoint_missing_what_its_exporter_reads_is_one_line(tmp_path, capsys, kind, damage):
    """A checkpoint of a known kind without its model_config or weights, with weights of other sizes than its
    config's or a setting of the wrong type, ended `speechseq export` in a KeyError, RuntimeError or TypeError
    traceback."""
    ck = _detector_checkpoint() if kind == "detector" else _recognizer_checkpoint()
    if damage == "no model_config":
        del ck["model_config"]
    elif damage == "no weights":
        del ck["model"]
    elif damage == "weights of another size":
        ck["model_config"] = {**ck["model_config"], "hidden": 5}
    else:
        ck["model_config"] = {**ck["model_config"], "hidden": "8"}
    torch.save(ck, tmp_path / "x.pt")
    code, out, err = run(capsys, "export", tmp_path / "x.pt", "--out", tmp_path / "x.onnx")
    assert code == 1 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(f"speechseq: error: {tmp_path / 'x.pt'}: a {kind} checkpoint this version cannot export")
    assert {"no model_config": "no 'model_config'", "no weights": "no 'model'",
            "weights of another size": "weights do not fit its model_config",
            "a setting of text": "hidden '8' (a whole number >= 1)"}[damage] in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pt"]


def test_a_run_folder_names_the_checkpoint_it_holds(tmp_path, capsys):
    """`speechseq export RUN` said "give a checkpoint file in it (e.g. RUN/best.pt)" also where there was no best.pt
    (an interrupted run, a copy of its last.pt): a file that is not there."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    code, _, err = run(capsys, "export", run_dir, "--out", tmp_path / "x.onnx")
    assert code == 1 and f"{run_dir}: is a directory; give a checkpoint file in it, as a run's best.pt or last.pt " \
                         "(it holds neither)" in err
    torch.save(_detector_checkpoint(), run_dir / "last.pt")
    code, _, err = run(capsys, "export", run_dir, "--out", tmp_path / "x.onnx")
    assert code == 1 and f"give a checkpoint file in it (e.g. {run_dir / 'last.pt'})" in err and "best.pt" not in err
    shutil.copy(run_dir / "last.pt", run_dir / "best.pt")
    code, _, err = run(capsys, "export", run_dir, "--out", tmp_path / "x.onnx")
    assert code == 1 and f"give a checkpoint file in it (e.g. {run_dir / 'best.pt'})" in err
    assert not (tmp_path / "x.onnx").exists()


def test_export_help_names_every_kind_and_the_joint_checkpoints_files(capsys):
    """--help named detector, recognizer and lm checkpoints and said --int8 was for recogniser checkpoints only; a
    joint checkpoint (and an attention decoder's) exports too, the joint one as two files and with an int8 twin."""
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(detector, recognizer, lm, attention-decoder, joint)" in text
    assert "OUT_STEM.decoder.onnx" in text and "recogniser and joint checkpoints only" in text


# --- files written whole ----------------------------------------------------------------------------------------

def _small_recognizer():
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig

    torch.manual_seed(0)
    m = Recognizer(RecognizerConfig(n_mels=8, front_dim=8, hidden=6, layers=1, dropout=0.0)).eval()
    m.set_normalization(torch.randn(8), torch.rand(8) + 0.5)
    return m


def _writers(tmp_path: Path):
    """name -> (a function writing the file at a path, the module whose write_metadata it calls)."""
    from speechseq.nn.detector import Detector, DetectorConfig
    from speechseq.train.export_detector import export_detector
    from speechseq.train.export_streaming import export_streaming, quantize_streaming

    torch.manual_seed(0)
    det = Detector(DetectorConfig(n_mels=40, conv_channels=8, kernel=5, stride=3, hidden=8, layers=1)).eval()
    stream = export_streaming(_small_recognizer(), tmp_path / "source" / "r.stream.onnx")
    return {"detector": (lambda out: export_detector(det, out, {"keyword": "hi"}), "export_detector"),
            "stream": (lambda out: export_streaming(_small_recognizer(), out), "export_streaming"),
            "stream int8": (lambda out: quantize_streaming(stream, out), "export_streaming")}


@pytest.mark.parametrize("which", ["detector", "stream", "stream int8"])
@pytest.mark.parametrize("stop", [KeyboardInterrupt, RuntimeError])
def test_an_export_stopped_before_its_metadata_leaves_the_file_that_was_there(tmp_path, monkeypatch, which, stop):
    """export_detector (`train detector`'s OUT/KEYWORD.onnx, scripts/train_detectors.py's models/K.onnx),
    export_streaming and quantize_streaming wrote the graph over `out`, then its metadata: Ctrl+C or a failure
    between the two left a graph without metadata where a working model was, which every command then refused."""
    write, module = _writers(tmp_path)[which]
    folder = tmp_path / "models"
    out = write(folder / "m.onnx")
    good = out.read_bytes()
    assert read_metadata(out)["kind"] in ("detector", "recognizer-stream")

    def stopped(path, meta):
        raise stop("stopped")

    monkeypatch.setattr(f"speechseq.train.{module}.write_metadata", stopped)
    with pytest.raises(stop):
        write(out)
    assert out.read_bytes() == good and sorted(p.name for p in folder.iterdir()) == ["m.onnx"]
    with pytest.raises(stop):
        write(folder / "new.onnx")                                 # nothing at all where there was nothing
    assert sorted(p.name for p in folder.iterdir()) == ["m.onnx"]


def test_stream_export_still_agrees_with_the_offline_model(tmp_path):
    """The streaming graph written through a temporary file is the same graph: whole look-ahead == offline."""
    from speechseq.train.export_streaming import export_streaming

    m = _small_recognizer()
    sess = make_session(export_streaming(m, tmp_path / "r.stream.onnx"))
    x = np.random.default_rng(0).normal(-6, 2, (1, 7, 8)).astype(np.float32)  # 7 frames: not a multiple of 2
    left, k, s = 2, 5, 2
    steps = -(-7 // s)
    pad = np.broadcast_to(m.feat_mean.numpy(), (1, 16, 8)).astype(np.float32)
    xs = np.concatenate([pad[:, :left], x, pad], axis=1)
    zeros = np.zeros((1, 1, 6), np.float32)
    got = sess.run(["log_probs"], {"chunk": xs[:, :s], "lookahead": xs[:, s: s * steps + k - s], "h": zeros,
                                   "c": zeros})[0]
    with torch.no_grad():
        want = m(torch.from_numpy(x))[0].numpy()
    assert got.shape == want.shape == (1, steps, 29)
    assert np.abs(got - want).max() <= 1e-4


def test_export_streaming_prints_what_it_wrote_and_no_known_noise(tmp_path):
    """`python -m speechseq.train.export_streaming --int8` (the command the recogniser's card gives) printed torch's
    batch-size advice for LSTMs, its note on the legacy exporter and onnxruntime's "Please consider to run
    pre-processing before quantization" around its two lines, as the recogniser's export no longer does."""
    from speechseq.train.export_recognizer import export_recognizer

    src = export_recognizer(_small_recognizer(), tmp_path / "r.onnx")
    r = subprocess.run([sys.executable, "-m", "speechseq.train.export_streaming", "--from-onnx", str(src), "--int8"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stderr.splitlines()
    assert [line.split(" (")[0] for line in lines] == [f"wrote {tmp_path / 'r.stream.onnx'}",
                                                       f"wrote {tmp_path / 'r.stream.int8.onnx'}"], r.stderr
    assert read_metadata(tmp_path / "r.stream.int8.onnx")["quantization"].startswith("int8")
