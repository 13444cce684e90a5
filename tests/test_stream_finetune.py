"""speechseq.train.stream_finetune's command line: sources, devices and run folders it cannot use are one line, and a
rerun resumes only a run of the same options. Tiny models and banks, a few seconds."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from .test_review_export import _bank, _recognizer  # noqa: E402


@pytest.fixture()
def setup(tmp_path):
    from speechseq.train.export_recognizer import export_recognizer
    from speechseq.train.recognizer import FRONTEND

    _bank(0).save(tmp_path / "feat" / "toy_train")
    _bank(1).save(tmp_path / "feat" / "toy_val")
    src = export_recognizer(_recognizer(layers=1).eval(), tmp_path / "rec.onnx", frontend=FRONTEND.to_dict())
    return tmp_path, src, ["--features", str(tmp_path / "feat"), "--batch-seconds", "1.5", "--fraction", "1"]


def _one_line(capsys, *says: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("stream_finetune: error: ") and "Traceback" not in err, err
    assert all(s in lines[0] for s in says), err
    return lines[0]


def test_a_damaged_or_foreign_checkpoint_is_one_line(setup, capsys):
    """--checkpoint of a text file, a pickled list or a detector's checkpoint printed a traceback (UnpicklingError,
    AttributeError, ValueError), where export_streaming says one line of the same files."""
    from speechseq.train.stream_finetune import main

    d, _, common = setup
    (d / "text.pt").write_text("not a checkpoint")
    torch.save([1, 2, 3], d / "list.pt")
    torch.save({"kind": "detector", "model_config": {}, "model": {}}, d / "det.pt")
    for name, says in (("text.pt", "not a speechseq recognizer checkpoint"),
                       ("list.pt", "not a speechseq recognizer checkpoint"), ("det.pt", "not a recognizer")):
        assert main(["--checkpoint", str(d / name), *common, "--epochs", "1", "--out", str(d / "run")]) == 1
        _one_line(capsys, str(d / name), says)
    assert not (d / "run").exists()


@pytest.mark.parametrize("device", ["gpu", "cuda:7"])
def test_a_device_torch_cannot_use_is_one_line(setup, capsys, device):
    """--device gpu (no such torch device) or a CUDA GPU that is not there failed with a traceback from torch."""
    from speechseq.train.stream_finetune import main

    if device.startswith("cuda") and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a GPU 7")
    d, src, common = setup
    assert main(["--from-onnx", str(src), *common, "--epochs", "1", "--out", str(d / "run"), "--device", device]) == 1
    _one_line(capsys, f"--device {device}")
    assert not (d / "run").exists()


def test_a_damaged_last_checkpoint_is_one_line(setup, capsys):
    """A last.pt cut short (a copy that stopped, a full disk) printed torch's traceback."""
    from speechseq.train.stream_finetune import main

    d, src, common = setup
    assert main(["--from-onnx", str(src), *common, "--epochs", "1", "--out", str(d / "run")]) == 0
    last = d / "run" / "last.pt"
    last.write_bytes(last.read_bytes()[:500])
    capsys.readouterr()
    assert main(["--from-onnx", str(src), *common, "--epochs", "2", "--out", str(d / "run")]) == 1
    _one_line(capsys, str(last), "cut short or damaged")


@pytest.mark.parametrize("option,value", [("--lr", "1e-3"), ("--offline-weight", "0"), ("--fraction", "0.5"),
                                          ("--batch-seconds", "2"), ("--val-limit", "2"), ("--ema", "0")])
def test_a_rerun_with_other_training_options_does_not_resume(setup, capsys, option, value):
    """A rerun with another --lr, --offline-weight, ... went on training the old run's later epochs by the new
    options (its best.pt then chosen among epochs of unlike training or validation), and the exported twin's
    metadata gave the last rerun's options as the fine-tune's."""
    from speechseq.train.stream_finetune import main

    d, src, common = setup
    run = ["--from-onnx", str(src), *common, "--out", str(d / "run")]
    assert main([*run, "--epochs", "1"]) == 0
    last = (d / "run" / "last.pt").read_bytes()
    capsys.readouterr()
    assert main([*run, "--epochs", "2", option, value]) == 1
    _one_line(capsys, option, "--epochs and --device may change")
    assert (d / "run" / "last.pt").read_bytes() == last
    assert main([*run, "--epochs", "2"]) == 0                  # the same options: resumed
    assert torch.load(d / "run" / "last.pt", weights_only=False)["epoch"] == 2


def test_a_checkpoint_without_its_frontend_exports_the_banks_one(setup):
    """--checkpoint of a run that kept no frontend: the twin's metadata gave the default frontend, not the one of the
    feature banks it was fine-tuned on (here another floor), and the listener refused it beside its offline model."""
    from dataclasses import replace

    from speechseq.runtime.onnx import read_metadata
    from speechseq.train.recognizer import FRONTEND
    from speechseq.train.stream_finetune import main

    d, _, common = setup
    other = replace(FRONTEND, floor=1e-6).to_dict()
    _bank(0, other).save(d / "feat2" / "toy_train")
    _bank(1, other).save(d / "feat2" / "toy_val")
    m = _recognizer(layers=1)
    torch.save({"kind": "recognizer", "model_config": m.cfg.to_dict(), "model": m.state_dict(), "epoch": 1,
                "extra": {}}, d / "best.pt")
    out = d / "r.stream.onnx"
    assert main(["--checkpoint", str(d / "best.pt"), "--features", str(d / "feat2"), *common[2:], "--epochs", "1",
                 "--out", str(d / "run"), "--export", str(out)]) == 0
    assert read_metadata(out)["frontend"] == other


def test_a_second_fine_tune_into_a_held_folder_is_refused(setup, capsys):
    """Like the training commands (tests/test_run_lock.py): a fine-tune into an OUT another one holds is one line,
    and leaves it alone."""
    import fcntl
    import os

    from speechseq.train.stream_finetune import main

    d, src, common = setup
    out = d / "run"
    out.mkdir()
    fd = os.open(out / ".lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, str(os.getpid()).encode())  # the holder's pid, as a run writes it
        assert main(["--from-onnx", str(src), *common, "--epochs", "1", "--out", str(out)]) == 1
    finally:
        os.close(fd)
    _one_line(capsys, f"in use by another training run (pid {os.getpid()})")
    assert sorted(p.name for p in out.iterdir()) == [".lock"]


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_ctrl_c_or_sigterm_stops_a_fine_tune_in_one_line_and_it_resumes(setup, how):
    """Ctrl+C or SIGTERM: the loop kept the last epoch and said so, then the command ended with KeyboardInterrupt's
    traceback (the training commands say 'interrupted', 130); the same command resumes from that epoch."""
    from .interrupts import interrupted_run

    d, src, common = setup
    out = d / "run"
    argv = ["--from-onnx", str(src), *common, "--epochs", "400", "--out", str(out)]
    script = ("import sys, torch; torch.set_num_threads(1); print('started', flush=True); "
              "from speechseq.train.stream_finetune import main; sys.exit(main(sys.argv[1:]))")
    _, err, code = interrupted_run(["-c", script, *argv], how, 0.0, 60, 120, ready=(out / "history.json").is_file)
    assert code == 130 and "Traceback" not in err, err
    kept = torch.load(out / "last.pt", weights_only=False)["epoch"]
    assert f"interrupted: epoch {kept} of 400 is kept in {out / 'last.pt'}" in err
    assert err.rstrip().endswith("stream_finetune: interrupted")
    from speechseq.train.stream_finetune import main

    assert main([*argv[:-4], "--epochs", str(kept + 1), "--out", str(out)]) == 0
    assert torch.load(out / "last.pt", weights_only=False)["epoch"] == kept + 1


@pytest.mark.parametrize("export,int8,says", [("rec.onnx", False, "is the source"),
                                              ("r.stream.int8.onnx", True, "is the name of an int8 twin"),
                                              (".", False, "is a directory")])
def test_an_export_path_it_cannot_write_is_one_line_before_any_training(setup, capsys, export, int8, says):
    """--export naming the --from-onnx source replaced the offline recogniser with the chunked graph (after the whole
    fine-tune, 'wrote rec.onnx', exit 0); --export x.stream.int8.onnx --int8 wrote the fp32 twin there, then the int8
    one over it; --export a folder failed after the training with an OSError naming a temporary file. Each is
    export_streaming's one line about --out, said of --export before the run folder is made."""
    from speechseq.runtime.onnx import read_metadata
    from speechseq.train.stream_finetune import main

    d, src, common = setup
    before = src.read_bytes()
    argv = ["--from-onnx", str(src), *common, "--epochs", "1", "--out", str(d / "run"), "--export", str(d / export)]
    assert main(argv + (["--int8"] if int8 else [])) == 1
    _one_line(capsys, "--export" if says != "is the source" else str(src), says)
    assert src.read_bytes() == before and read_metadata(src)["kind"] == "recognizer"
    assert sorted(p.name for p in d.iterdir()) == ["feat", "rec.onnx"]
