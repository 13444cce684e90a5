"""`speechseq train lm`'s run folder: a lock removed by a run whose input failed is never held by two runs at once,
and each --text file is read once (a pipe, `--text <(zcat corpus.gz)`, can be read only once), the run's record of
its text as before."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from speechseq.cli import main
from speechseq.commands.runs import only_run
from speechseq.commands.train_lm import held_out
from speechseq.errors import SpeechseqError

ROOT = Path(__file__).resolve().parents[1]
TINY_LM = ("--hidden", "8", "--embed-dim", "4", "--batch-tokens", "256", "--threads", "1", "--epochs", "1")
# a run taking OUT (runs.only_run) in a process of its own, stopped once it has opened OUT/.lock, before it locks it
# (the audit event of fcntl.flock), until a line on its stdin; then it says "free" (and holds OUT until the next
# line) or the error's line
OPENER = """
import sys
from pathlib import Path

def pause(event, args):
    if event == "fcntl.flock" and not pause.done:
        pause.done = True
        print("opened", flush=True)
        sys.stdin.readline()

pause.done = False
sys.addaudithook(pause)
from speechseq.commands.runs import only_run
from speechseq.errors import SpeechseqError

try:
    with only_run(Path(sys.argv[1])):
        print("free", flush=True)
        sys.stdin.readline()
except SpeechseqError as e:
    print(f"error: {e}", flush=True)
"""


@contextmanager
def _opener(out: Path) -> Iterator[subprocess.Popen]:
    """A run into `out` (OPENER) that has opened OUT/.lock and waits to lock it."""
    proc = subprocess.Popen([sys.executable, "-c", OPENER, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, cwd=ROOT)
    try:
        assert proc.stdout.readline() == "opened\n"
        yield proc
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=60)


def _go(proc: subprocess.Popen) -> str:
    """The opener let on to lock OUT/.lock: what it says."""
    proc.stdin.write("\n")
    proc.stdin.flush()
    return proc.stdout.readline()


def _failed_input_with_an_opener(out: Path, stack) -> subprocess.Popen:
    """A run whose input fails (held_out removes the lock it made, while it holds it) while another run has opened
    that lock and is about to lock it: the other run, not yet let on."""
    with pytest.raises(SpeechseqError, match="bad input"):
        with held_out(str(out)):
            proc = stack.enter_context(_opener(out))
            raise SpeechseqError("bad input")
    assert not (out / ".lock").exists()  # the failed run's lock removed
    return proc


def test_a_run_that_opened_a_lock_removed_meanwhile_is_refused_while_the_new_one_is_held(tmp_path):
    """A run that opened OUT/.lock just before a failed run removed it locked the removed file: a third run made a
    new OUT/.lock and held it too, and the two trained into OUT together. The second run finds its lock gone once it
    has it, takes the one OUT has now, and is refused while the third holds it."""
    from contextlib import ExitStack

    out = tmp_path / "run"
    out.mkdir()  # a folder that was there: held_out keeps it, with no lock in it
    with ExitStack() as stack:
        second = _failed_input_with_an_opener(out, stack)
        with only_run(out):  # the third run: a new OUT/.lock
            said = _go(second)
            assert said == (f"error: {out} is in use by another training run (pid {os.getpid()}): wait for it to "
                            "end, or use another --out\n")


def test_a_run_that_opened_a_lock_removed_meanwhile_holds_the_lock_out_has(tmp_path):
    """Alone, that second run holds OUT through the lock file OUT has (made anew, its pid in it), so that a third is
    refused; it held a removed file, and a third run was let in."""
    from contextlib import ExitStack

    out = tmp_path / "run"
    out.mkdir()
    with ExitStack() as stack:
        second = _failed_input_with_an_opener(out, stack)
        assert _go(second) == "free\n"
        assert (out / ".lock").read_text() == str(second.pid)
        with pytest.raises(SpeechseqError, match=rf"in use by another training run \(pid {second.pid}\)"):
            with only_run(out):
                pass
        second.stdin.close()
        assert second.wait(timeout=60) == 0
    with only_run(out):  # let go of at its end
        pass


# each --text file read once


def _sentences(n: int) -> str:
    return "".join(f"sentence number {i} of the corpus\n" for i in range(n))


def test_train_lm_reads_a_pipe_given_as_text(tmp_path, capsys):
    """`speechseq train lm --text <(zcat corpus.gz)`: the pipe was read whole to check it was text, then again for
    the corpus, which found it empty ("no sentences left in the training text"). It is read once, and trained on."""
    torch = pytest.importorskip("torch")
    text = _sentences(60)
    r, w = os.pipe()
    try:
        os.write(w, text.encode())  # within the pipe's buffer
        os.close(w)
        out = tmp_path / "lm"
        code = main(["train", "lm", "--text", f"/dev/fd/{r}", "--out", str(out), *TINY_LM])
    finally:
        os.close(r)
    err = capsys.readouterr().err
    assert code == 0, err[-2000:]
    assert "60 sentences (" in err
    sources = torch.load(out / "last.pt", map_location="cpu", weights_only=False)["extra"]["sources"]
    (tmp_path / "same.txt").write_text(text)
    assert sources["the text of --text"] == _old_record([tmp_path / "same.txt"])


def _old_record(paths: list[Path]) -> str:
    """The record of --text's text ("N sentences, crc32 XXXXXXXX") as runs before this change made it: each file
    read by Path.read_text (universal newlines), its non-blank lines normalised, those of two characters or more
    without duplicates."""
    from speechseq.text import normalize

    lines = [normalize(line) for p in paths for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    sentences = list(dict.fromkeys(s for s in lines if len(s) >= 2))
    return f"{len(sentences)} sentences, crc32 {zlib.crc32(chr(10).join(sentences).encode()):08x}"


def test_the_record_of_the_text_is_as_before_and_an_older_run_resumes(tmp_path, capsys):
    """Read once, the text is recorded as it was (same sentences, same crc32) for files with a byte order mark,
    Windows and old Mac line ends, form feeds, Unicode line separators, blank and repeated lines: a run made before
    resumes (a record that differed would refuse it as a run on other text)."""
    torch = pytest.importorskip("torch")
    texts = ["\ufeffFirst line, with a BOM.\r\nSecond line\r\n\r\nthird\rfourth\x0cfifth\u2028sixth  \n  \n"
             + _sentences(30),
             "Café au lait\n\u00a0\ncafe au lait\nFirst line, with a BOM.\nlast line without an end"]
    paths = []
    for i, t in enumerate(texts):
        paths.append(tmp_path / f"t{i}.txt")
        paths[-1].write_bytes(t.encode())
    out = tmp_path / "lm"
    argv = ["train", "lm", "--text", *map(str, paths), "--out", str(out), *TINY_LM]
    assert main(argv) == 0
    capsys.readouterr()
    last = torch.load(out / "last.pt", map_location="cpu", weights_only=False)
    recorded = last["extra"]["sources"]["the text of --text"]
    assert recorded == _old_record(paths)
    assert recorded.startswith("38 sentences, ")
    assert main([*argv[:-2], "--epochs", "2"]) == 0  # resumed: the record read back matches
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1, 2]
