"""Writing a model's metadata in place (speechseq.runtime.onnx.write_metadata, `eval detector --save-threshold`): a
model file this user may not rewrite is said in one line naming it before the evaluation; a rewritten file keeps its
mode, and a symlinked model has its file rewritten, the link kept."""
from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.runtime.onnx import read_metadata, write_metadata

from .another_user import as_another_user, shared_folder

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "activate.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
pytestmark = pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists()), reason="shipped model or sample missing")


@pytest.fixture
def shared(tmp_path) -> Iterator[Path]:
    """A folder another user may enter."""
    with shared_folder(tmp_path, 0o755) as folder:
        yield folder


def _speechseq_as_another_user(*args) -> tuple[int, str, str]:
    """The CLI's exit code, stdout and stderr, run by a user whom file modes bind (tests.another_user)."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from speechseq.cli import main

    if os.geteuid() == 0:  # NOBODY may not read the interpreter's library here (under root's home): the modules the
        import encodings.raw_unicode_escape  # noqa: F401 - command imports are imported before the fork
        import onnx  # noqa: F401 - (--save-threshold's; an evaluation's, by one on the sample)

        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            main(["eval", "detector", "--model", str(MODEL), "--positives", str(SAMPLE), "--negatives", str(SAMPLE)])

    def run() -> dict:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main([str(a) for a in args])
        return {"code": code, "out": out.getvalue(), "err": err.getvalue()}

    said = as_another_user(run)
    if isinstance(said, str):   # raised: said as "Name: message"
        return None, "", said
    return said["code"], said["out"], said["err"]


def _noise(path: Path, seconds: float) -> Path:
    rng = np.random.default_rng(3)
    with sf.SoundFile(path, "w", 16000, 1, "PCM_16") as f:
        for _ in range(int(seconds // 60)):
            f.write((0.01 * rng.standard_normal(60 * 16000)).astype(np.float32))
    path.chmod(0o644)
    return path


def test_save_threshold_into_a_model_this_user_may_not_write_is_refused_before_the_evaluation(shared):
    """The model's folder not writable: the evaluation ran to its end, then failed naming MODEL.onnx.tmp
    ('Permission denied'), its summary not printed. A read-only model file in a writable folder was replaced, another user's
    file by this one's. Now one line naming --model and the file, before any work, and the file as it was."""
    neg = _noise(shared / "noise.wav", 16 * 60)       # enough for --save-threshold
    closed = shared / "closed"
    closed.mkdir()
    model = closed / "mine.onnx"
    shutil.copy(MODEL, model)
    model.chmod(0o644)
    if os.geteuid() == 0:
        closed.chmod(0o755)                           # root's: NOBODY may read it, not write in it
    else:
        closed.chmod(0o555)
    _refused_before_the_evaluation(model, neg, closed, 0o755, f"cannot write in {closed}")
    # a writable folder, a model file this user may not write (root's 0644 to NOBODY; 0444 to its owner)
    model = shared / "mine.onnx"
    shutil.copy(MODEL, model)
    model.chmod(0o644 if os.geteuid() == 0 else 0o444)
    shared.chmod(0o777)
    _refused_before_the_evaluation(model, neg, shared, 0o755, "may not write that file")
    assert model.stat().st_uid == os.geteuid()  # not replaced by a file of the other user's


def test_save_threshold_into_another_users_model_in_a_sticky_folder_is_refused_before_the_evaluation(shared):
    """A model of another user's that this user may write, in a folder with the sticky bit (/tmp): the early check
    passed it, the evaluation ran to its end, and then the file could not be replaced (in a sticky folder only a
    file's owner may rename over it). Now one line before any work, and the file as it was."""
    if os.geteuid() != 0:
        pytest.skip("a file of another user's is made by root")
    neg = _noise(shared / "noise.wav", 16 * 60)
    model = shared / "theirs.onnx"
    shutil.copy(MODEL, model)
    model.chmod(0o666)               # root's, which NOBODY may write
    shared.chmod(0o1777)
    _refused_before_the_evaluation(model, neg, shared, 0o755, f"may not replace that file, another user's in "
                                   f"{shared} (a folder with the sticky bit, as /tmp)")
    assert model.stat().st_uid == 0


def _refused_before_the_evaluation(model: Path, neg: Path, folder: Path, mode: int, why: str) -> None:
    """`eval detector --save-threshold` into `model`, run as another user, said `why` in one line, printed no summary
    (nothing was evaluated) and left the file as it was; `folder` is given `mode` afterwards."""
    try:
        code, out, err = _speechseq_as_another_user("eval", "detector", "--model", model, "--positives", SAMPLE,
                                                    "--negatives", neg, "--save-threshold")
    finally:
        folder.chmod(mode)
    assert code == 1 and out == "", (out, err)   # no summary: nothing was evaluated
    assert err.strip().splitlines()[-1] == (f"speechseq: error: --save-threshold writes the threshold into "
                                            f"--model {model}, but this user {why}: copy the model into a folder of "
                                            "yours and evaluate the copy")
    assert read_metadata(model)["threshold"] == read_metadata(MODEL)["threshold"]


def test_write_metadata_keeps_the_files_mode(tmp_path):
    """The file was rewritten with the default mode (umask's): a model kept 0600 became 0644, a group's 0664 0644."""
    model = tmp_path / "m.onnx"
    shutil.copy(MODEL, model)
    for mode in (0o600, 0o664):
        model.chmod(mode)
        write_metadata(model, {**read_metadata(model), "threshold": 0.5})
        assert stat.S_IMODE(model.stat().st_mode) == mode and read_metadata(model)["threshold"] == 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]      # nothing left beside it


def test_write_metadata_through_a_symlink_rewrites_its_file(tmp_path):
    """A model linked into place (models/x.onnx -> a run's export): the link was replaced by a new file holding the
    new metadata, and the linked file kept the old one, so that the run's model and the link disagreed."""
    real = tmp_path / "run" / "x.onnx"
    real.parent.mkdir()
    shutil.copy(MODEL, real)
    link = tmp_path / "x.onnx"
    link.symlink_to(real)
    write_metadata(link, {**read_metadata(link), "threshold": 0.5})
    assert link.is_symlink() and link.resolve() == real
    assert read_metadata(real)["threshold"] == 0.5
    assert sorted(p.name for p in real.parent.iterdir()) == ["x.onnx"]


def test_write_metadata_rewrites_a_hard_linked_model_for_each_of_its_names(tmp_path):
    """A model hard-linked into place (models/x.onnx and a run's export one file): the name given got a new file with
    the new threshold and the other name kept the old one, so that detect on the run's export still used it."""
    real = tmp_path / "run" / "x.onnx"
    real.parent.mkdir()
    shutil.copy(MODEL, real)
    link = tmp_path / "x.onnx"
    os.link(real, link)
    write_metadata(link, {**read_metadata(link), "threshold": 0.5})
    assert os.path.samefile(link, real) and read_metadata(real)["threshold"] == 0.5
    assert sorted(p.name for p in real.parent.iterdir()) == ["x.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "x.onnx"]


def test_save_threshold_that_fails_to_write_keeps_the_summary(tmp_path, capsys):
    """A write that fails part way (a full disk; here a file size limit): the OSError went past the summary, so that
    the whole evaluation was lost, and the line named a temporary file. Now the summary, then one line naming the
    model, which is as it was, with nothing left beside it."""
    import json
    import resource
    import signal

    from speechseq.cli import main

    neg = _noise(tmp_path / "noise.wav", 16 * 60)
    folder = tmp_path / "models"
    folder.mkdir()
    model = folder / "mine.onnx"
    shutil.copy(MODEL, model)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (model.stat().st_size // 2, limits[1]))
    try:
        code = main(["eval", "detector", "--model", str(model), "--positives", str(SAMPLE), "--negatives", str(neg),
                     "--save-threshold", "--json"])
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    out, err = capsys.readouterr()
    assert code == 1 and json.loads(out)["negative_hours"] == pytest.approx(16 / 60, abs=1e-3)
    assert err.strip().splitlines()[-1] == (f"speechseq: error: --save-threshold: cannot write {model} (File too "
                                            "large): the threshold was not saved; the model is as it was")
    assert read_metadata(model) == read_metadata(MODEL) and sorted(p.name for p in folder.iterdir()) == ["mine.onnx"]
