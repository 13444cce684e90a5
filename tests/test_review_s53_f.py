"""Review of the manifest loaders with files as real copies of the data sets have them (session 53 f): a CSV row's
unquoted comma, or a tab inside a TSV or Common Voice sentence, cut the transcript short without a word (the cells past
the header were dropped: "hello, world" trained as "hello"); a Kaldi `text` line whose recording wav.scp (or whose
segment `segments`) lacks stopped eval recognizer and train recognizer whole, where a missing clip is one skipped
line and the rest go on."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.errors import SpeechseqError
from speechseq.train.data import load_manifest
from speechseq.train.manifests import SkippedRow

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "recognizer-en.onnx"


@pytest.fixture()
def clips(tmp_path: Path) -> Path:
    """a.wav (0.1 s) and b.flac (0.2 s) in tmp_path."""
    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    sf.write(tmp_path / "b.flac", np.zeros(3200, np.float32), 16000)
    return tmp_path


@pytest.mark.parametrize("name, body, line", [
    ("m.csv", 'path,text\nb.flac,"fine, quoted"\na.wav,hello, world\n', 3),   # a comma left unquoted
    ("m.tsv", "path\ttext\na.wav\thello\tworld\n", 2),                          # a tab inside the text
    ("m.csv", "text,path\nhello,a.wav,stray\n", 2)])                           # another column order, a cell past it
def test_a_row_with_more_cells_than_the_header_is_an_error_naming_its_line(clips, name, body, line):
    (clips / name).write_text(body)
    with pytest.raises(SpeechseqError, match=rf"^{clips / name}:{line}: \d cells where the header names 2 "):
        load_manifest(clips / name)
    with pytest.raises(SpeechseqError, match=rf"{name}:{line}: "):  # not a missing clip to skip: the text is cut
        load_manifest(clips / name, skip_missing=True)


def test_empty_cells_past_the_header_are_no_text_lost(clips):
    """A trailing delimiter (a spreadsheet's empty last column) leaves nothing out."""
    (clips / "m.csv").write_text('path,text\r\na.wav,"hi, there",\r\nb.flac,second,,\r\n')
    assert [(u.text, u.duration) for u in load_manifest(clips / "m.csv")] == [("hi, there", 0.1), ("second", 0.2)]


def _common_voice(root: Path, sentence: str) -> Path:
    """A Common Voice release's validated.tsv (the 2023+ columns, empty ones as they come) with one mp3 clip."""
    (root / "clips").mkdir()
    sf.write(root / "clips" / "common_voice_en_1.mp3", np.zeros(8000, np.float32), 16000, format="MP3")
    header = "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\t" \
             "variant\tlocale\tsegment\n"
    row = f"c0ffee\tcommon_voice_en_1.mp3\tab12\t{sentence}\t\t2\t0\t\t\t\t\ten\t\n"
    (root / "validated.tsv").write_text(header + row)
    return root / "validated.tsv"


def test_common_voice_quotes_are_the_sentences_own(tmp_path):
    """Common Voice writes its .tsv unquoted: a quote is part of the sentence, the empty columns are empty."""
    tsv = _common_voice(tmp_path, '"Four," she said.')
    assert [(u.text, u.speaker, u.split) for u in load_manifest(tsv)] == [('"Four," she said.', "c0ffee", "validated")]


def test_a_common_voice_sentence_holding_a_tab_is_an_error_naming_its_line(tmp_path):
    tsv = _common_voice(tmp_path, "Four\tfive")  # the sentence was "Four" and "five" the sentence_domain
    with pytest.raises(SpeechseqError, match=rf"^{tsv}:2: 14 cells where the header names 13 "):
        load_manifest(tsv, skip_missing=True)


def _kaldi(root: Path, wav_scp: str, text: str, segments: str | None = None) -> Path:
    d = root / "data" / "train"
    d.mkdir(parents=True)
    (d / "wav.scp").write_text(wav_scp)
    (d / "text").write_text(text)
    (d / "utt2spk").write_text("".join(f"{line.split()[0]} spk\n" for line in text.splitlines()))
    (d / "spk2utt").write_text("spk " + " ".join(line.split()[0] for line in text.splitlines()) + "\n")
    if segments is not None:
        (d / "segments").write_text(segments)
    return d


def test_a_kaldi_text_line_without_a_recording_is_skipped_when_skipping(clips):
    d = _kaldi(clips, f"a {clips / 'a.wav'}\nb {clips / 'b.flac'}\n", "a hello\nc gone\nb world\n")
    with pytest.raises(SpeechseqError, match=rf"^{d / 'text'}:2: recording c is not in {d / 'wav.scp'}$"):
        load_manifest(d)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        utts = load_manifest(d, skip_missing=True)
    assert [(u.text, u.duration, u.speaker) for u in utts] == [("hello", 0.1, "spk"), ("world", 0.2, "spk")]
    assert [(str(w.message), w.message.kept) for w in caught if w.category is SkippedRow] == [
        (f"{d / 'text'}:2: recording c is not in {d / 'wav.scp'} (skipped)", 1)]


def test_a_kaldi_utterance_without_a_segment_is_skipped_when_skipping(clips):
    d = _kaldi(clips, f"rec {clips / 'b.flac'}\n", "u1 hello\nu2 gone\nu3 world\n",
               "u1 rec 0.00 0.05\nu3 rec 0.05 -1\n")
    with pytest.raises(SpeechseqError, match=rf"^{d / 'text'}:2: utterance u2 has no line in {d / 'segments'}$"):
        load_manifest(d)
    with pytest.warns(SkippedRow, match=rf"^{d / 'text'}:2: utterance u2 has no line in .*segments \(skipped\)$"):
        utts = load_manifest(d, skip_missing=True)
    assert [(u.text, u.offset, u.end) for u in utts] == [("hello", 0.0, 0.05), ("world", 0.05, 0.2)]


@pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped recogniser is not here")
def test_eval_recognizer_goes_on_past_a_kaldi_utterance_without_a_recording(tmp_path):
    """As a missing clip: one line, the others measured, exit code 1."""
    x, sr = sf.read(ROOT / "data" / "samples" / sorted(p.name for p in (ROOT / "data" / "samples").glob("*.wav"))[0])
    sf.write(tmp_path / "one.flac", x, sr)
    d = _kaldi(tmp_path, "r1 ../../one.flac\n", "r1 anything\nr2 never recorded\n")  # relative: the recipe root
    code, out, err = run("eval", "recognizer", "--manifest", d, "--decoder", "greedy")
    assert code == 1
    assert f"speechseq: warning: {d / 'text'}:2: recording r2 is not in {d / 'wav.scp'} (skipped)" in err.splitlines()
    assert f"{d}: 1 utterance (1 skipped: unreadable or missing audio)" in out


@pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped recogniser is not here")
def test_a_common_voice_folder_without_a_split_says_how_to_name_one(tmp_path):
    """It said 'needs split=', the API's keyword, to a command line that has --split (and PATH@SPLIT in train)."""
    _common_voice(tmp_path, "Zero")
    (tmp_path / "train.tsv").write_text((tmp_path / "validated.tsv").read_text())
    code, out, err = run("eval", "recognizer", "--manifest", tmp_path, "--decoder", "greedy")
    assert (code, out) == (1, "")
    assert err == f"speechseq: error: {tmp_path}: a Common Voice folder holds a .tsv for each split (train, " \
                  "validated): name one (--split), or its .tsv\n"
    code, _, err = run("eval", "recognizer", "--manifest", tmp_path, "--decoder", "greedy", "--split", "train")
    assert code == 0 and "Traceback" not in err
