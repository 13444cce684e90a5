"""`speechseq export frontend`: the exported graph computes `speechseq.frontend.logmel` with the settings asked
for (the log floor included: the detectors run at 1e-6, not the default 1e-5), and says which in its metadata."""
import os
from pathlib import Path

import numpy as np
import pytest

from speechseq.cli import main
from speechseq.frontend import FrontendConfig, logmel

pytest.importorskip("torch")
pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

MODELS = Path(__file__).resolve().parents[1] / "models"


def _export(capsys, out: Path, *options: str) -> dict:
    """Export the frontend; its metadata."""
    from speechseq.runtime.onnx import read_metadata

    code = main(["export", "frontend", "--out", str(out), *options])
    assert code == 0 and capsys.readouterr().out == f"wrote {out}\n"
    return read_metadata(out)


def _run(path: Path, audio: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"audio": audio[None]})[0][0]


@pytest.fixture(scope="module")
def quiet() -> np.ndarray:
    """1 s of noise at about -70 dBFS: its mel power is of the order of the floors, so the floor shows."""
    return (3e-4 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32)


def test_export_takes_the_floor(tmp_path, capsys, quiet):
    cfg = FrontendConfig(floor=1e-6)
    assert np.abs(logmel(quiet, cfg) - logmel(quiet, FrontendConfig())).min() > 0.5   # the floor matters here
    meta = _export(capsys, tmp_path / "fe.onnx", "--floor", "1e-6")
    assert meta["kind"] == "frontend" and meta["frontend"] == cfg.to_dict()
    out = _run(tmp_path / "fe.onnx", quiet)
    assert out.shape == (98, 40) and np.abs(out - logmel(quiet, cfg)).max() <= 1e-4


def test_export_defaults_to_the_frontends_defaults(tmp_path, capsys, quiet):
    meta = _export(capsys, tmp_path / "fe.onnx")
    assert meta["frontend"] == FrontendConfig().to_dict()
    assert np.abs(_run(tmp_path / "fe.onnx", quiet) - logmel(quiet, FrontendConfig())).max() <= 1e-4


@pytest.mark.parametrize("model, n_mels, floor", [("activate.onnx", 40, 1e-6), ("recognizer-en.onnx", 80, 1e-5)])
def test_export_like_a_model_takes_its_frontend(model, n_mels, floor, tmp_path, capsys, quiet):
    from speechseq.runtime.onnx import read_metadata

    want = read_metadata(MODELS / model)["frontend"]
    assert (want["n_mels"], want["floor"]) == (n_mels, floor)
    meta = _export(capsys, tmp_path / "fe.onnx", "--like", str(MODELS / model))
    assert meta["frontend"] == want
    cfg = FrontendConfig(**want)
    assert np.abs(_run(tmp_path / "fe.onnx", quiet) - logmel(quiet, cfg)).max() <= 1e-4
    # an option given beside --like wins over the model's setting
    meta = _export(capsys, tmp_path / "fe2.onnx", "--like", str(MODELS / model), "--floor", "1e-7", "--n-mels", "20")
    assert meta["frontend"] == {**want, "floor": 1e-7, "n_mels": 20}


def test_bad_floor_and_like_are_errors(tmp_path, capsys):
    out = tmp_path / "fe.onnx"
    for argv, code_want, message in [
        (["--floor", "0"], 2, "argument --floor: must be > 0, got 0"),
        (["--floor", "nan"], 2, "argument --floor: not a finite number: 'nan'"),
        (["--like", str(tmp_path / "none.onnx")], 1, f"--like {tmp_path / 'none.onnx'}: no such model file"),
        (["--like", str(MODELS / "words-en.npz")], 1, "--like"),
    ]:
        try:
            code = main(["export", "frontend", "--out", str(out), *argv])
        except SystemExit as exit_:
            code = exit_.code
        err = capsys.readouterr().err
        assert code == code_want and message in err and "Traceback" not in err, (argv, err)
        assert not out.exists()


@pytest.mark.parametrize("what", ["frontend", "lm"])
def test_an_export_over_a_model_replaces_it_whole_or_not_at_all(what, tmp_path, capsys, monkeypatch):
    """The exporters wrote the graph at --out, then its metadata: an export stopped between the two (Ctrl+C, a full
    disk) left a graph without metadata where the model was, which every command then refused. Now the files are
    made beside it and renamed into place once complete."""
    import torch

    import speechseq.runtime.onnx as onnx_io
    from speechseq.nn.text import CharLM, LMConfig
    from speechseq.runtime.onnx import read_metadata

    source = what
    if what == "lm":
        lm = CharLM(LMConfig(embed_dim=4, hidden=8))
        source = str(tmp_path / "lm.pt")
        torch.save({"kind": "lm", "model_config": lm.cfg.to_dict(), "model": lm.state_dict(), "epoch": 1}, source)
    folder = tmp_path / "models"
    out = folder / "model.onnx"
    assert main(["export", source, "--out", str(out)]) == 0          # into a folder not there yet
    assert capsys.readouterr().out == f"wrote {out}\n" and read_metadata(out)["kind"] == what
    assert main(["export", source, "--out", str(out), "--floor", "1e-6"] if what == "frontend" else
                ["export", source, "--out", str(out)]) == 0         # over it: replaced
    assert what == "lm" or read_metadata(out)["frontend"]["floor"] == 1e-6
    assert read_metadata(out)["kind"] == what and sorted(p.name for p in folder.iterdir()) == ["model.onnx"]
    before = out.read_bytes()

    def interrupted(path, meta):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx_io, "write_metadata", interrupted)
    if what == "lm":                                                  # it holds its own reference
        monkeypatch.setattr("speechseq.train.export_lm.write_metadata", interrupted)
    assert main(["export", source, "--out", str(out)]) == 130
    assert out.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == ["model.onnx"]


def test_exporting_last_pt_beside_best_pt_says_which_weights_the_card_describes(tmp_path, capsys):
    """A run's last.pt holds its last epoch's training state; the metadata an export writes describes the best
    validated epoch, whose weights are best.pt: exporting last.pt says so (it was silent)."""
    import torch

    from speechseq.cli import main
    from speechseq.nn.text import CharLM, LMConfig

    lm = CharLM(LMConfig(embed_dim=4, hidden=8))
    for name in ("last.pt", "best.pt"):
        torch.save({"kind": "lm", "model_config": lm.cfg.to_dict(), "model": lm.state_dict(), "epoch": 1},
                   tmp_path / name)
    assert main(["export", str(tmp_path / "last.pt"), "--out", str(tmp_path / "lm.onnx")]) == 0
    err = capsys.readouterr().err
    assert "holds the training state of its last epoch" in err and str(tmp_path / "best.pt") in err
    assert main(["export", str(tmp_path / "best.pt"), "--out", str(tmp_path / "lm.onnx")]) == 0
    assert "last epoch" not in capsys.readouterr().err


def test_an_export_over_a_model_keeps_its_mode_and_its_other_names(tmp_path, capsys):
    """`speechseq export` renamed its staged file over --out: a model kept private (0600) came back world-readable
    (0644, the umask's), and a model of two names (a hard link) was replaced under one name only, the other still the
    old model; the library's exporters (speechseq.files.written_atomically) keep both, as rewriting the file would."""
    import os

    out, other = tmp_path / "model.onnx", tmp_path / "other-name.onnx"
    assert _export(capsys, out)["frontend"]["floor"] == 1e-5
    os.chmod(out, 0o600)
    os.link(out, other)
    assert _export(capsys, out, "--floor", "1e-6")["frontend"]["floor"] == 1e-6
    assert oct(out.stat().st_mode & 0o777) == oct(0o600) and os.path.samefile(out, other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "other-name.onnx"]


def test_an_export_to_a_name_near_the_longest_a_file_may_have(tmp_path, capsys):
    """A --out name of 249 bytes (Linux takes 255) failed with 'File name too long', naming a staging folder
    (".NAME.xxxxxxxx.export") the user never asked for, and wrote nothing."""
    out = tmp_path / ("é" * 122 + ".onnx")   # 249 bytes of UTF-8
    assert len(os.fsencode(out.name)) == 249
    assert _export(capsys, out, "--floor", "1e-6")["frontend"]["floor"] == 1e-6
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_export_like_a_model_over_that_model_is_refused(tmp_path, capsys):
    """`export frontend --like M --out M` wrote the frontend graph over the model it took its settings from (a
    detector lost, as a checkpoint export over the checkpoint is refused); any other --out is written."""
    import shutil

    model = tmp_path / "activate.onnx"
    shutil.copy(MODELS / "activate.onnx", model)
    before = model.read_bytes()
    os.link(model, tmp_path / "same-file.onnx")
    for out in (model, tmp_path / "same-file.onnx"):
        assert main(["export", "frontend", "--like", str(model), "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"speechseq: error: --out {out} is the --like model itself") and "\n" == err[-1], err
        assert err.count("\n") == 1 and model.read_bytes() == before
    assert _export(capsys, tmp_path / "fe.onnx", "--like", str(model))["frontend"]["floor"] == 1e-6
    assert model.read_bytes() == before
