"""What the tests of listen --exec's reading (speechseq/commands/exec_words.py) share: `listen --exec CMD` run on the
shipped sample with a keyword model that does not exist, so that it stops there where CMD passes its checks, and the
two outcomes asserted."""
from __future__ import annotations

from .cli_run import run
from .listener_fixtures import SAMPLE

NOT_EXPANDED = "is passed as written, not expanded"
SHELL_CODE = "would run the final text as shell code"


def listen_exec(tmp_path, cmd: str) -> tuple[int, str]:
    """Exit code and stderr of `listen --exec CMD`, which stops at its missing keyword model where CMD passes."""
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--keyword-model", tmp_path / "none.onnx",
                         "--exec", cmd)
    return code, err


def refused(code: int, err: str, why: str) -> None:
    """A one-line error, exit 1, before any model is read (none.onnx is never reached)."""
    assert code == 1 and why in err and "none.onnx" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def passed(code: int, err: str) -> None:
    """Past the --exec checks, with no warning: stopped at the missing keyword model."""
    assert code == 1 and "none.onnx" in err and NOT_EXPANDED not in err and "warning" not in err, err
