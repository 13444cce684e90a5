"""Review of the README as a new user meets it (session 50, helper g): `speechseq export` given a checkpoint that a
copy cut short, or a torch file that holds no dict, says what the file is."""
from __future__ import annotations

import pytest

from speechseq.cli import main


def test_export_of_a_checkpoint_cut_short_says_so(tmp_path, capsys):
    """A checkpoint cut short (a copy that stopped) was "not a speechseq checkpoint (RuntimeError)", where a training
    rerun over the same file says "cut short or damaged"."""
    torch = pytest.importorskip("torch")
    whole = tmp_path / "whole.pt"
    torch.save({"kind": "lm", "model": {"w": torch.zeros(64, 64)}}, whole)
    cut = tmp_path / "best.pt"
    cut.write_bytes(whole.read_bytes()[:1000])
    out = tmp_path / "lm.onnx"
    assert main(["export", str(cut), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"speechseq: error: {cut}: cannot read the checkpoint, cut short or damaged (")
    assert "not a speechseq checkpoint" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_export_of_a_torch_file_without_a_dict_says_what_it_holds(tmp_path, capsys):
    """A tensor saved by torch (another program's file) was "not a speechseq checkpoint (AttributeError)"."""
    torch = pytest.importorskip("torch")
    tensor = tmp_path / "t.pt"
    torch.save(torch.zeros(3), tensor)
    assert main(["export", str(tensor), "--out", str(tmp_path / "t.onnx")]) == 1
    err = capsys.readouterr().err
    assert f"speechseq: error: {tensor}: not a speechseq checkpoint (a Tensor, not the dict" in err
    assert "AttributeError" not in err


def test_export_of_a_file_torch_cannot_read_at_all_is_no_checkpoint(tmp_path, capsys):
    """Text, not a torch file: still "not a speechseq checkpoint", not "cut short"."""
    pytest.importorskip("torch")
    text = tmp_path / "notes.pt"
    text.write_text("hello\n")
    assert main(["export", str(text), "--out", str(tmp_path / "n.onnx")]) == 1
    err = capsys.readouterr().err
    assert f"speechseq: error: {text}: not a speechseq checkpoint (" in err and "cut short" not in err
