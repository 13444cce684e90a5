"""Session 53, helper k: a fresh-eyes review of the session's commits. Three defects a user could meet:

1. A CSV manifest with a column of no name (pandas' `df.to_csv("m.csv")`, whose index column is headed by nothing:
   ",path,text") had that column read as the rows' `offset` (and `split`): the looked-up key of a column not in the
   header was "", the unnamed column's own name, so row k became a segment from k s, its duration the file's less k
   (0 s, then negative).
2. files.split_lines copied the whole text twice where it held a "\\r" (a Windows corpus read by read_utf8, which
   keeps line ends as they are): `train lm --text` on a CRLF corpus peaked at twice the memory of str.splitlines.
3. The rerun `train recognizer` says for an undertrained run wrote a value starting with "-" (a manifest or --out
   given as --out=-x) as `--out -x`, which argparse refuses ("expected one argument"): the command said did not
   parse.
"""
from __future__ import annotations

import argparse
import shlex
import tracemalloc
from pathlib import Path

import numpy as np
import soundfile as sf


def _clip(path: Path, seconds: float = 1.0) -> None:
    sf.write(path, np.zeros(int(16000 * seconds), np.float32), 16000)


def test_a_csv_column_of_no_name_is_no_offset(tmp_path: Path):
    from speechseq.train.manifests import load_manifest

    for name in ("a", "b", "c"):
        _clip(tmp_path / f"{name}.wav")
    # pandas' to_csv(): the index first, under an empty column name
    (tmp_path / "m.csv").write_text(",path,text\n0,a.wav,one\n1,b.wav,two\n2,c.wav,three\n")
    got = load_manifest(tmp_path / "m.csv")
    assert [(u.text, u.duration, u.offset, u.end) for u in got] == [
        ("one", 1.0, None, None), ("two", 1.0, None, None), ("three", 1.0, None, None)]
    assert got[1].get("") == "1"   # the unnamed column is kept as an extra field, as any other


def test_a_csv_column_of_no_name_is_no_split(tmp_path: Path):
    from speechseq.train.manifests import load_manifest

    _clip(tmp_path / "a.wav")
    # an empty last column name (a trailing comma on the header line) holding a value: no split named
    (tmp_path / "m.csv").write_text("path,text,\na.wav,one,train\n")
    assert [u.split for u in load_manifest(tmp_path / "m.csv")] == [None]


def _peak(function, text: str) -> tuple[list[str], int]:
    tracemalloc.start()
    try:
        out = function(text)
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_split_lines_does_not_copy_a_windows_text():
    from speechseq.files import split_lines

    # long lines: the lines' own objects are about the text's size, so a copy of it shows as a second text's worth
    text = ("the quick brown fox jumps over the lazy dog " * 20 + "\r\n") * 4000   # 3.5 MB
    lines, peak = _peak(split_lines, text)
    assert lines == text.splitlines()
    assert peak < 1.5 * len(text), f"peak {peak / len(text):.2f}x the text"   # 2.06x when it copied twice


def test_split_lines_cuts_as_open_does():
    import io

    from speechseq.files import split_lines

    for text in ("a\r\r\nb\rc\n", "a\r\n\r\nb", "\r", "a\x85b\r\nc\u2028d\re\n", "\ufeffx\r\ny", "", "\n\n",
                 "a\x0bb\x0c\x1cc\x1d\x1e\r\n"):
        opened = io.TextIOWrapper(io.BytesIO(text.removeprefix("\ufeff").encode()), encoding="utf-8", newline=None)
        assert split_lines(text) == [line.removesuffix("\n") for line in opened], repr(text)


def _parser() -> argparse.ArgumentParser:
    from speechseq.commands.train_recognizer import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    return p


def test_the_rerun_said_parses_with_values_that_start_with_a_dash():
    from speechseq.commands.undertrained import _rerun

    args = _parser().parse_args(["--manifest=-m.jsonl@train", "--manifest", "b c.jsonl", "--out=-run", "--split=-x",
                                 "--lr", "3e-4", "--device", "cuda:1"])
    words = shlex.split(_rerun(args, 35))
    assert words[:3] == ["speechseq", "train", "recognizer"]
    assert vars(_parser().parse_args(words[3:])) == {**vars(args), "epochs": 35}
    assert "--lr" in words and words[words.index("--lr") + 1] == "0.0003"   # as given, the form unchanged
