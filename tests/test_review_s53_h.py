"""Review (s53, h): the lines of a user's text file.
str.splitlines() ends a line at \\n, \\r and \\r\\n, but also at \\x0b, \\x0c, \\x1c-\\x1e, \\x85, \\u2028 and \\u2029: a
phrase, a transcript or a JSONL row holding one was cut in two (a JSON line written with ensure_ascii=False keeps
\\u2028 and \\x85 as they are). Every reader of a user's text file now ends lines as open() does (files.split_lines: at
\\n, \\r\\n or a lone \\r, a byte order mark dropped): --commands, --synth-text and synth's --text, the exclusion
manifests, train detector's manifests, LibriSpeech's *.trans.txt, train lm's --text and manifests, sample's
--novel-against. eval detector's manifest, read line by line as bytes, drops a byte order mark from its first line
(json.loads refused it: "line 1: not a JSON object"). A file that was read well before reads the same."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.commands import eval_detector, train_detector
from speechseq.errors import SpeechseqError
from speechseq.files import text_lines
from speechseq.runtime.command_set import CommandSet
from speechseq.train import lm
from speechseq.train.manifests import load_librispeech
from speechseq.train.synth_sets import excluded_texts, load_sentences, read_lines

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
LM = ROOT / "models" / "lm-en.onnx"
# every character str.splitlines() ends a line at besides \n and \r
INNER_ENDS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
# files read well before: Windows and old Mac line ends, a byte order mark, no last line end, blank lines
PLAIN = ["one two\nthree\n", "one two\r\nthree\r\n", "\ufeffone two\r\nthree", "one two\rthree\r", "\n\none\n\n",
         "\ufeff", "", "a\r\n\r\nb\n\n"]


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)  # \u2028, \x85 kept as they are


@pytest.mark.parametrize("end", INNER_ENDS)
def test_split_lines_ends_a_line_only_where_open_does(end):
    from speechseq.files import split_lines

    assert split_lines(f"\ufeffturn on the{end}kitchen lights\r\ndim the lights\rstop") == [
        f"turn on the{end}kitchen lights", "dim the lights", "stop"]


@pytest.mark.parametrize("text", PLAIN)
def test_split_lines_reads_a_plain_file_as_splitlines_did(text):
    from speechseq.files import split_lines

    assert split_lines(text) == text.removeprefix("\ufeff").splitlines()


@pytest.mark.parametrize("end", ["\x85", "\u2028", "\x0c"])
def test_text_lines_keeps_a_line_whole(tmp_path, end):
    f = _write(tmp_path / "t.txt", f"\ufeffthe cat sat{end}on the mat\r\nand slept\n")
    assert text_lines(f) == [f"the cat sat{end}on the mat", "and slept"]


@pytest.mark.parametrize("text", PLAIN)
def test_text_lines_of_a_plain_file_as_before(tmp_path, text):
    assert text_lines(_write(tmp_path / "t.txt", text)) == text.removeprefix("\ufeff").splitlines()


def test_synth_text_sentences_are_not_cut(tmp_path):
    f = _write(tmp_path / "t.txt", "please turn\u2028the lights on now\n")
    assert load_sentences([str(f)], 3, 8, [])[0] == ["please turn\u2028the lights on now"]
    # as the commands read it: once, the text kept by path
    read = read_lines({str(f): "\ufeffplease turn\x85the lights on now\r\n"})
    assert load_sentences([str(f)], 3, 8, [], read=read)[0] == ["please turn\x85the lights on now"]


def test_commands_phrase_is_not_cut(tmp_path):
    f = _write(tmp_path / "c.txt", "\ufeffturn on the\u2028kitchen lights  # a comment\r\ndim the lights\n")
    commands = CommandSet.load(f)
    assert commands.texts == ("turn on the kitchen lights", "dim the lights")


def test_commands_of_a_plain_file_as_before(tmp_path):
    want = CommandSet.load(_write(tmp_path / "a.txt", "turn on the lights\ndim the lights\n")).phrases
    for i, text in enumerate(["\ufeffturn on the lights\r\ndim the lights", "turn on the lights\rdim the lights\r"]):
        assert CommandSet.load(_write(tmp_path / f"{i}.txt", text)).phrases == want


def test_exclusion_manifest_row_is_not_cut(tmp_path):
    text = _jsonl([{"audio_filepath": "a.wav", "text": "the red\u2028house", "split": "dev"},
                   {"audio_filepath": "b.wav", "text": "a blue\x85door", "split": "dev"}])
    f = _write(tmp_path / "m.jsonl", "\ufeff" + text)
    want = [["the", "red", "house"], ["a", "blue", "door"]]
    assert excluded_texts([str(f)], ["dev"]) == want
    assert excluded_texts([str(f)], ["dev"], file_texts={str(f): "\ufeff" + text}) == want


def test_train_detector_manifest_row_is_not_cut(tmp_path):
    f = _write(tmp_path / "m.jsonl", "\ufeff" + _jsonl([{"audio_filepath": "a.wav", "text": "hey\u2028robot"},
                                                         {"audio_filepath": "b.wav", "text": "x"}]))
    assert [r["audio_filepath"] for r in train_detector._manifest_rows(f)] == ["a.wav", "b.wav"]


def test_eval_detector_manifest_with_a_byte_order_mark(tmp_path):
    f = _write(tmp_path / "m.jsonl", "\ufeff" + _jsonl([{"audio_filepath": "a.wav"}, {"audio_filepath": "b.wav"}]))
    rows = eval_detector._manifest_rows(f, [])
    assert [p.name for p in rows] == ["a.wav", "b.wav"] and rows[0].row == f"{f}:1"


def _librispeech(tmp_path: Path, trans: str) -> Path:
    chapter = tmp_path / "dev-clean" / "19" / "198"
    chapter.mkdir(parents=True)
    for uid in ("19-198-0001", "19-198-0002"):
        sf.write(chapter / f"{uid}.flac", np.zeros(1600, np.float32), 16000)
    _write(chapter / "19-198.trans.txt", trans)
    return tmp_path / "dev-clean"


def test_librispeech_transcript_is_not_cut(tmp_path):
    root = _librispeech(tmp_path, "\ufeff19-198-0001 TURN ON THE\x85KITCHEN LIGHTS\r\n19-198-0002 DIM\u2028IT\r\n")
    assert [u.text for u in load_librispeech(root)] == ["TURN ON THE\x85KITCHEN LIGHTS", "DIM\u2028IT"]


def test_librispeech_line_number_of_a_missing_clip(tmp_path):
    root = _librispeech(tmp_path, "19-198-0001 A\u2029B\n19-198-0002 C\n19-198-0003 D\n")
    with pytest.raises(SpeechseqError, match=r"19-198\.trans\.txt:3\b"):
        load_librispeech(root)


def test_librispeech_plain_file_as_before(tmp_path):
    root = _librispeech(tmp_path, "19-198-0001 TURN ON\n19-198-0002 DIM IT\n")
    assert [u.text for u in load_librispeech(root)] == ["TURN ON", "DIM IT"]


def test_lm_manifest_lines_are_not_cut():
    """(train lm's --text corpus keeps str.splitlines' cuts: its record of the text must match older runs')"""
    manifest = "\ufeff" + _jsonl([{"text": "the red\u2028house", "split": "dev"}, {"text": "x y", "split": "train"}])
    assert lm.texts_of_manifest(manifest) == ["the red house", "x y"]
    assert lm.texts_of_manifest(manifest, "dev") == ["the red house"]


def test_lm_corpus_of_a_plain_file_as_before():
    for text in (t for t in PLAIN if t != "\ufeff"):
        assert lm.corpus_lines([text]) == [lm.normalize(x) for x in text.splitlines() if x.strip()]


@pytest.mark.skipif(not LM.is_file(), reason="the shipped language model is not here")
def test_sample_novel_against_line_is_not_cut(tmp_path):
    argv = ["sample", "--num", "3", "--seed", "0"]
    code, drawn, err = run(*argv)
    assert code == 0, err
    line = next(x for x in drawn.splitlines() if len(x.split()) >= 2)
    first, rest = line.split(maxsplit=1)
    corpus = _write(tmp_path / "corpus.txt", f"\ufeff{first}\u2028{rest}\r\n")
    code, again, err = run(*argv, "--novel-against", corpus)
    assert code == 0, err
    assert f"{line}  (seen)" in again.splitlines()
