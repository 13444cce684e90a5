"""speechseq.commands.runs: whether a rerun of `speechseq train ...` may resume the run its OUT holds."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from speechseq.cli import main
from speechseq.commands.runs import same_run
from speechseq.errors import SpeechseqError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("was, now", [("activate", "Activate"), ("Hey Robot", "hey  robot"), ("ÉCOUTE", "écoute"),
                                      ("straße", "STRASSE")])
def test_a_keyword_in_another_case_is_the_same_run(tmp_path, was, now):
    """`train detector --keyword Activate` on an OUT made with --keyword activate was refused ("holds a run for
    keyword 'activate', not 'Activate'"), though the keyword is the same (its clips are found without regard to
    case, and --init's keyword is compared so)."""
    same_run(tmp_path, {"keyword": was}, now, {})
    same_run(tmp_path, {"keyword": now}, was, {})


@pytest.mark.parametrize("was, now", [("activate", "activated"), ("привет", "пока"),
                                      ("hey robot", "heyrobot")])
def test_another_keyword_is_another_run(tmp_path, was, now):
    """Only case, spacing and accent encoding are let go (text.normalize would make every Cyrillic keyword '')."""
    with pytest.raises(SpeechseqError, match=f"holds a run for keyword {was!r}, not {now!r}"):
        same_run(tmp_path, {"keyword": was}, now, {})


def test_a_last_pt_that_is_a_folder_is_named_so(tmp_path, capsys):
    """OUT/last.pt a folder was "cannot read the checkpoint, cut short or damaged (Is a directory): delete it",
    as if a checkpoint were damaged."""
    pytest.importorskip("torch")
    (tmp_path / "corpus.txt").write_text("the cat sat on the mat\n" * 20)
    (tmp_path / "run" / "last.pt").mkdir(parents=True)
    code = main(["train", "lm", "--text", str(tmp_path / "corpus.txt"), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    last = tmp_path / "run" / "last.pt"
    assert code == 1 and err.splitlines()[-1] == (f"speechseq: error: {last}: is a directory, not a checkpoint: "
                                                  f"move it out of {tmp_path / 'run'}, or use a new --out"), err
    assert "damaged" not in err and "delete" not in err


def test_a_last_pt_that_cannot_be_read_is_not_called_damaged(tmp_path):
    """A last.pt this user may not read was "cut short or damaged (Permission denied): delete it to start over":
    advice to throw away a good checkpoint. It is named as unreadable, with what to do."""
    torch = pytest.importorskip("torch")
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"kind": "lm"}, run / "last.pt")
    (run / "last.pt").chmod(0o200)
    code = f"from pathlib import Path; from tests.test_runs import _unreadable; _unreadable(Path({str(run)!r}))"
    if os.access(run / "last.pt", os.R_OK):  # root reads anything: without the capabilities that allow it
        if shutil.which("setpriv") is None:
            pytest.skip("this user reads anything (root) and there is no setpriv to drop that")
        cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", sys.executable, "-c", code]
    else:
        cmd = [sys.executable, "-c", code]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stdout[-1500:] + r.stderr[-1500:]


def _unreadable(run: Path) -> None:
    from speechseq.commands.runs import read_last

    with pytest.raises(SpeechseqError) as err:
        read_last(run)
    assert str(err.value) == (f"{run / 'last.pt'}: cannot read it (permission denied): make it readable (chmod u+r), "
                              f"or use a new --out"), str(err.value)
