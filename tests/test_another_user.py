"""tests.another_user, the helper that runs a piece of a test as another user: what the piece returns or raises comes
back to the test, and the forked process ends there, whatever that was."""
from __future__ import annotations

from pathlib import Path

from .another_user import as_another_user


def test_a_value_json_cannot_write_comes_back_as_text_and_the_fork_ends():
    """A piece that returned a Path (no JSON value): json.dumps raised in the forked process before its os._exit, so
    that it ran on as a second pytest (as NOBODY where the tests run as root) and the test read "killed after 30 s",
    though nothing was killed."""
    assert as_another_user(lambda: Path("/nowhere"), timeout_s=30) == "/nowhere"
    assert as_another_user(lambda: {"found": Path("/nowhere")}, timeout_s=30) == {"found": "/nowhere"}
