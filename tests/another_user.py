"""Running a piece of a test as another user, whom file modes bind: where the tests run as root (whom no mode stops),
in a forked process that becomes NOBODY; else in a forked process as this user. For what two users of one folder
meet (another user's run lock, a model file one may not rewrite)."""
from __future__ import annotations

import json
import os
import select
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

NOBODY = 65534


@contextmanager
def shared_folder(tmp_path: Path, mode: int = 0o777) -> Iterator[Path]:
    """A folder another user may enter (`mode`): tmp_path, or as root one under /tmp (pytest's folders are root's
    alone), removed at the end."""
    if os.geteuid() != 0:
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="speechseq-shared-"))
    try:
        folder.chmod(mode)
        yield folder
    finally:
        shutil.rmtree(folder)


def as_another_user(work: Callable[[], object], timeout_s: float = 120.0) -> object:
    """What `work()` returns (through JSON: a value it has no form for, a Path, as its text), run in a forked process
    as NOBODY where the tests run as root, else as this user; an exception it raises comes back as "Name: message".
    Skipped where root may not become another user."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: says what it got through the pipe, and ends without pytest's exit handlers
        said: dict = {"value": "nothing said"}
        try:
            os.close(r)
            if os.geteuid() == 0:
                try:
                    os.setgroups([])
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                except PermissionError:
                    said = {"skip": True}
                    raise
            said = {"value": work()}
        except BaseException as e:  # noqa: BLE001 - said, for the test to show
            if not said.get("skip"):
                said = {"value": f"{type(e).__name__}: {e}"}
        finally:
            try:  # a value JSON has no form for (a Path) as its text: json.dumps raising here ran on as a second pytest
                os.write(w, json.dumps(said, default=str).encode())
            finally:
                os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        if not select.select([f], [], [], timeout_s)[0]:
            os.kill(pid, 9)
        said = json.loads(f.read().decode() or json.dumps({"value": f"killed after {timeout_s:g} s"}))
    os.waitpid(pid, 0)
    if said.get("skip"):
        pytest.skip("the tests run as root, who may not become another user here (setuid), and no file mode stops root")
    return said["value"]
