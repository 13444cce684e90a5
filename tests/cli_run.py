"""speechseq's command line run in the test's process, its output captured as a log file takes it (no terminal)."""
from __future__ import annotations

import contextlib
import io

from speechseq.cli import main


def run(*argv) -> tuple[int, str, str]:
    """speechseq.cli.main(argv) with stdout and stderr captured (no terminal): (exit code, stdout, stderr), argparse's
    exits included; a traceback on stderr fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exit_:
            code = exit_.code
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()
