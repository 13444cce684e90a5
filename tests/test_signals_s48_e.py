"""The test process's Ctrl+C (SIGINT) handler: Python's own in every test, whatever a test before it set and however
the run was started."""
from __future__ import annotations

import signal
import subprocess
import sys

from .conftest import ROOT

_IGNORES = '''
import signal


def test_a_ignores_ctrl_c():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
'''
_TAKES = '''
import signal


def test_b_takes_ctrl_c():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
'''


def _pytest(tmp_path, source: str, sigint) -> subprocess.CompletedProcess:
    """pytest run with the project's tests/conftest.py on a test file of `source`, started with SIGINT at
    `sigint`."""
    (tmp_path / "test_it.py").write_text(source)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           "--rootdir", str(tmp_path), str(tmp_path / "test_it.py")], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))


def test_a_test_that_ignores_ctrl_c_leaves_the_next_test_python_s_handler(tmp_path):
    """A test that set SIGINT to SIG_IGN (as a pool worker's initializer does) and did not put it back left every
    later test of the run without Ctrl+C. tests/conftest.py puts SIGINT's handler back after every test."""
    r = _pytest(tmp_path, _IGNORES + _TAKES, signal.SIG_DFL)
    assert r.returncode == 0 and "2 passed" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]


def test_a_run_started_with_ctrl_c_ignored_gives_its_tests_python_s_handler(tmp_path):
    """A shell without job control (a CI script's `pytest &`, nohup) starts its background commands with SIGINT
    ignored, and Python keeps it so: the whole run had Ctrl+C ignored before any test ran (what failed a test that
    raises SIGINT in this session's second CI: no test of the suite changes SIGINT's handler). The tests now get
    the handler Python sets in a process started from a terminal."""
    r = _pytest(tmp_path, _TAKES, signal.SIG_IGN)
    assert r.returncode == 0 and "1 passed" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]
