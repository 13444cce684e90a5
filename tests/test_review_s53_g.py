"""Review of the Kaldi data dir loader (session 53 g): a key repeated in `text`, `wav.scp`, `segments`, `utt2spk` or
`utt2dur` kept its last line without a word (an utterance lost, or its audio swapped), where Kaldi's
utils/validate_data_dir.sh refuses the dir ("not sorted or has duplicates"); a table saved with a byte order mark (a
Windows editor) carried it in its first key, which then matched nothing; and which folders a relative wav.scp path
is tried against, in order, was pinned by no test."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.errors import SpeechseqError
from speechseq.train.data import load_manifest


def _wav(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(round(seconds * 16000), np.float32), 16000)
    return path


def _dir(root: Path, tables: dict[str, str]) -> Path:
    """A Kaldi data dir root/data/train holding `tables` (name -> contents)."""
    d = root / "data" / "train"
    d.mkdir(parents=True)
    for name, body in tables.items():
        (d / name).write_text(body, encoding="utf-8")
    return d


@pytest.fixture()
def tables(tmp_path: Path) -> dict[str, str]:
    """Two recordings cut into three utterances of two speakers, with their durations."""
    a, b = _wav(tmp_path / "a.wav", 0.3), _wav(tmp_path / "b.wav", 0.2)
    return {"wav.scp": f"ra {a}\nrb {b}\n",
            "segments": "u1 ra 0.0 0.1\nu2 ra 0.1 0.3\nu3 rb 0.0 -1\n",
            "text": "u1 one\nu2 two\nu3 three\n",
            "utt2spk": "u1 s1\nu2 s1\nu3 s2\n",
            "utt2dur": "u1 0.1\nu2 0.2\nu3 0.2\n"}


def _summary(d: Path) -> list[tuple[str, str, str | None, float | None, float | None]]:
    return [(Path(u.audio).name, u.text, u.speaker, u.offset, u.end) for u in load_manifest(d)]


EXPECTED = [("a.wav", "one", "s1", 0.0, 0.1), ("a.wav", "two", "s1", 0.1, 0.3), ("b.wav", "three", "s2", 0.0, 0.2)]


@pytest.mark.parametrize("table, line", [
    ("text", "u1 one again\n"),          # u1 would have read "one again"
    ("wav.scp", "ra {b}\n"),             # ra's segments would have cut b.wav
    ("segments", "u2 rb 0.0 0.1\n"),     # u2 would have been b.wav's start
    ("utt2spk", "u3 s1\n"),              # u3 would have been s1's
    ("utt2dur", "u3 0.5\n")])            # read by the same table reader
def test_a_key_repeated_in_a_kaldi_table_is_an_error_naming_both_lines(tmp_path, tables, table, line):
    body = tables[table] + line.format(b=tmp_path / "b.wav")
    d = _dir(tmp_path, {**tables, table: body})
    key, first = line.split()[0], [row.split()[0] for row in tables[table].splitlines()].index(line.split()[0]) + 1
    last = len(body.splitlines())
    where = d / table
    with pytest.raises(SpeechseqError, match=rf"^{where}:{last}: {key} is listed again \(first at {where}:{first}\)"):
        load_manifest(d)
    with pytest.raises(SpeechseqError, match=rf"^{where}:{last}: {key} is listed again"):  # no missing audio to skip
        load_manifest(d, skip_missing=True)


def test_a_kaldi_dir_without_repeated_keys_loads_as_before(tmp_path, tables):
    assert _summary(_dir(tmp_path, tables)) == EXPECTED


@pytest.mark.parametrize("bommed", ["text", "wav.scp", "segments", "utt2spk"])
def test_a_kaldi_table_starting_with_a_byte_order_mark_loads_as_without_it(tmp_path, tables, bommed):
    """Notepad's "UTF-8 with BOM": the first key was '\\ufeffu1' (or '\\ufeffra'), matching no other table's."""
    d = _dir(tmp_path, {**tables, bommed: "\ufeff" + tables[bommed]})
    assert (d / bommed).read_bytes().startswith(b"\xef\xbb\xbf")
    assert _summary(d) == EXPECTED


def test_a_relative_wav_scp_path_is_tried_in_the_working_directory_the_data_dir_then_the_recipe_root(
        tmp_path, monkeypatch):
    """Kaldi resolves a wav.scp path against the folder a recipe runs in (the one holding data/), which the loader
    cannot know: it takes the first of these that holds the file."""
    work = tmp_path / "work"
    d = _dir(tmp_path / "recipe", {"wav.scp": "r clip.wav\n", "text": "r hello\n"})
    monkeypatch.chdir(_wav(work / "clip.wav", 0.1).parent)
    _wav(d / "clip.wav", 0.2)
    _wav(tmp_path / "recipe" / "clip.wav", 0.3)
    found = []
    for place in (work, d, tmp_path / "recipe"):
        (utt,) = load_manifest(d)
        found.append((utt.audio, utt.duration))
        (place / "clip.wav").unlink()
    assert found == [(str(work / "clip.wav"), 0.1), (str(d / "clip.wav"), 0.2),
                     (str(tmp_path / "recipe" / "clip.wav"), 0.3)]
    with pytest.raises(SpeechseqError, match=r"wav.scp:1: audio file not found: "):
        load_manifest(d)


def test_a_kaldi_text_line_holding_a_unicode_line_separator_is_one_line(tmp_path, tables):
    """str.splitlines also ends a line at \\x85 and \\u2028: 'u1 caf\\x85u1 x' was read as two lines (u1 listed
    again, at a line the file does not have); Kaldi's tables end lines at \\n only."""
    d = _dir(tmp_path, {**tables, "text": "u1 caf\x85e\nu2 two\u2028too\nu3 three\n"})
    assert [u.text for u in load_manifest(d)][1] == "two\u2028too"
    assert len(load_manifest(d)) == 3
