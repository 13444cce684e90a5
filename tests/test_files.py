"""Files written whole or not at all (speechseq.files.written_atomically) replace a file as rewriting it would: the
file keeps its mode, owner and group, and a file of several names (hard links) is the one rewritten, every name
seeing the new bytes; text files named by an option (speechseq.commands.common.text_file) are refused at their first
bytes that are not text, not read whole first."""
from __future__ import annotations

import os
import stat
import tracemalloc
from pathlib import Path

import pytest

from speechseq.commands.common import text_file
from speechseq.errors import SpeechseqError
from speechseq.files import written_atomically

from .another_user import NOBODY, as_another_user, shared_folder


def _rewrite(path: Path, data: bytes) -> None:
    with written_atomically(path) as tmp:
        tmp.write_bytes(data)


def test_a_replaced_file_keeps_its_mode(tmp_path):
    """A transcript kept 0600 (private) was rewritten by the next run as the umask made it, 0644: readable by all."""
    out = tmp_path / "out.txt"
    for mode in (0o600, 0o640, 0o664):
        out.write_bytes(b"old")
        out.chmod(mode)
        _rewrite(out, b"new text")
        assert (out.read_bytes(), stat.S_IMODE(out.stat().st_mode)) == (b"new text", mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_a_file_root_replaces_keeps_its_owner_and_group(tmp_path):
    """Root rewriting another user's file (`eval detector --save-threshold` on a user's model, run with sudo) left it
    root's: its owner could no longer rewrite it."""
    if os.geteuid() != 0:
        pytest.skip("only root may give a file to another user")
    out = tmp_path / "model.onnx"
    out.write_bytes(b"old")
    os.chown(out, NOBODY, NOBODY)
    _rewrite(out, b"new")
    st = out.stat()
    assert (out.read_bytes(), st.st_uid, st.st_gid) == (b"new", NOBODY, NOBODY)


def test_a_file_of_several_names_is_rewritten_for_all_of_them(tmp_path):
    """A model hard-linked into place (models/x.onnx and runs/x/x.onnx one file): the name written got a new file
    and the other kept the old bytes, so that the two disagreed. Now the file itself is rewritten (as `cp` does), a
    longer and a shorter content alike, and nothing is left beside it."""
    out = tmp_path / "x.onnx"
    other = tmp_path / "run" / "x.onnx"
    other.parent.mkdir()
    out.write_bytes(b"old bytes of the model")
    os.link(out, other)
    for data in (b"new and longer bytes of the model", b"short"):
        _rewrite(out, data)
        assert other.read_bytes() == data and out.read_bytes() == data
        assert os.path.samefile(out, other) and out.stat().st_nlink == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "x.onnx"]


def test_a_file_of_several_names_is_left_as_it_was_when_its_writer_fails(tmp_path):
    out = tmp_path / "x.onnx"
    out.write_bytes(b"old")
    os.link(out, tmp_path / "y.onnx")
    with pytest.raises(RuntimeError), written_atomically(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("stopped")
    assert (tmp_path / "y.onnx").read_bytes() == b"old" == out.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.onnx", "y.onnx"]


def test_a_large_binary_file_is_refused_at_its_first_bytes(tmp_path):
    """A recording (or a disk image) named as --text by mistake was read whole into memory before its first byte
    was found not to be text: 2 GB of memory, and minutes, for one line. Now it is read a piece at a time and refused
    at the first piece."""
    big = tmp_path / "take.wav"
    with open(big, "wb") as f:
        f.write(b"RIFF\x24\x00\x00\x00WAVEfmt ")
        f.truncate(64 << 20)  # 64 MiB, sparse: no disk used
    tracemalloc.start()
    try:
        with pytest.raises(SpeechseqError) as err:
            text_file(str(big), "--text")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(err.value) == (f"--text {big}: not a UTF-8 text file (byte 5: 0x00); give plain text, one sentence a "
                              "line")
    assert peak < 8 << 20


def test_text_read_in_pieces_finds_the_first_bad_byte_anywhere_and_accepts_characters_across_pieces(tmp_path):
    path = tmp_path / "t.txt"
    line = "café ünïcödé 日本語 текст\n".encode()
    text = b"\xef\xbb\xbf" + line * 200_000  # several MiB: characters of 2 and 3 bytes cross every piece's end
    path.write_bytes(text)
    assert text_file(str(path), "--text") == path
    # a Latin-1 byte near the end, a NUL inside a character in the middle, a character cut at the file's end
    for broken in (text[:-3] + b"\xe9" + text[-2:], text[:3_000_004] + b"\0" + text[3_000_005:], text + b"\xc3"):
        path.write_bytes(broken)
        with pytest.raises(SpeechseqError) as err:
            text_file(str(path), "--text")
        first = _named_byte(broken)
        assert first > (1 << 20)  # not in the first piece
        assert str(err.value) == (f"--text {path}: not a UTF-8 text file (byte {first}: 0x{broken[first]:02x}); "
                                  "give plain text, one sentence a line")


def _named_byte(data: bytes) -> int:
    """Where utf8_text, reading the whole file, says the text breaks."""
    from speechseq.files import utf8_text

    try:
        utf8_text(data)
    except ValueError as err:
        return int(str(err).split("byte ")[1].split(":")[0])
    raise AssertionError("no bad byte")


def test_utf8_text_names_the_first_byte_that_is_not_text():
    """A NUL before a byte that is not UTF-8 was passed over: the later byte was named as the first."""
    from speechseq.files import utf8_text

    with pytest.raises(ValueError, match=r"^not a UTF-8 text file \(byte 2: 0x00\)$"):
        utf8_text(b"ab\0cd\xe9f")
    with pytest.raises(ValueError, match=r"^not a UTF-8 text file \(byte 5: 0xe9\)$"):
        utf8_text(b"\xef\xbb\xbfab\xe9\0")
    assert utf8_text("\ufeffcafé\n".encode()) == "café\n"


def test_a_file_whose_name_is_near_the_longest_is_written(tmp_path):
    """A transcript named in Japanese (80 characters, 244 bytes: a name the file system takes) was "not written (File
    name too long)": the temporary name beside it added 25 bytes to the 255 a name may have."""
    for name in ("文字起こし" * 16 + ".txt", "a" * 251 + ".txt", "b" * 255):
        out = tmp_path / name
        _rewrite(out, b"text")
        _rewrite(out, b"new text")
        assert out.read_bytes() == b"new text"
    with written_atomically(tmp_path / "c.wav", exclusive=True) as tmp:
        tmp.write_bytes(b"take")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["文字起こし" * 16 + ".txt", "a" * 251 + ".txt",
                                                               "b" * 255, "c.wav"])


def test_a_file_whose_group_cannot_be_kept_still_keeps_its_mode(tmp_path):
    """A user rewriting their own file whose group is one they are not in (a file root gave them, group root): the
    group cannot be kept (chown fails), and the mode, set in the same step, was dropped with it: a private 0640 file
    came back as the umask made it."""
    if os.geteuid() != 0:
        pytest.skip("only root may give a file a group its owner is not in")
    with shared_folder(tmp_path) as folder:
        out = folder / "model.onnx"
        out.write_bytes(b"old")
        os.chown(out, NOBODY, 0)
        out.chmod(0o640)

        def rewrite():
            os.umask(0o022)
            _rewrite(out, b"new")
            return [out.read_bytes().decode(), stat.S_IMODE(out.stat().st_mode)]

        assert as_another_user(rewrite) == ["new", 0o640]


def test_one_check_refuses_a_keyword_file_name_too_long_for_record_and_train_detector(tmp_path):
    """`record`'s take names and `train detector`'s model name were checked by two copies of one function
    (speechseq.commands.record, .synth): one now, in speechseq.files, the name said as each command writes it."""
    from speechseq.commands import record, train_detector
    from speechseq.files import check_keyword_file

    assert train_detector.check_keyword_file is check_keyword_file and record.check_keyword_file is check_keyword_file
    limit = os.pathconf(tmp_path, "PC_NAME_MAX")
    out = tmp_path / "not" / "made"   # its nearest folder there is the one checked, nothing made
    stem = "k" * (limit - len("-001.wav"))
    check_keyword_file("kw", out, f"{stem}-999.wav", "its take files", f"{stem}-NNN.wav")   # 255 bytes fit
    with pytest.raises(SpeechseqError) as err:
        check_keyword_file("kw", out, f"{stem}-1000.wav", "its take files", f"{stem}-NNN.wav")
    assert str(err.value) == (f"keyword 'kw': its take files would be named {stem}-NNN.wav, {limit + 1} bytes, more "
                              f"than the {limit} a file name may have in {tmp_path}: give a shorter keyword")
    name = "語" * (limit // 3 + 1) + ".onnx"
    with pytest.raises(SpeechseqError, match=rf"its model would be named {name}, {len(name.encode())} bytes"):
        check_keyword_file("語", out, name, "its model")
    assert not (tmp_path / "not").exists()
