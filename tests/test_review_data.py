"""Review of the recogniser's data loading: manifests as people have them, bad input named in one line."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.errors import SpeechseqError
from speechseq.train.data import detect_format, length_buckets, load_manifest

FIX = Path(__file__).resolve().parent / "fixtures" / "manifests"


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    return tmp_path / "a.wav"


@pytest.mark.parametrize("name, body", [("m.csv", 'path,text\na.wav,"hi, there"\n'),
                                        ("m.jsonl", '{"audio_filepath": "a.wav", "text": "hi, there"}\n')])
def test_a_byte_order_mark_is_not_part_of_the_first_column(clip: Path, name: str, body: str) -> None:
    """Excel's "CSV UTF-8" and pandas' encoding="utf-8-sig" start the file with a BOM."""
    (clip.parent / name).write_bytes(("\ufeff" + body).encode())
    assert [(u.text, u.duration) for u in load_manifest(clip.parent / name)] == [("hi, there", 0.1)]


def test_a_common_voice_tsv_with_a_byte_order_mark_is_still_common_voice(tmp_path: Path) -> None:
    shutil.copytree(FIX / "commonvoice", tmp_path / "cv")
    tsv = tmp_path / "cv" / "train.tsv"
    tsv.write_bytes(b"\xef\xbb\xbf" + tsv.read_bytes())
    assert detect_format(tsv) == "commonvoice"
    assert [u.speaker for u in load_manifest(tsv)] == ["c0ffee", "beef01"]


@pytest.mark.parametrize("fmt, what", [("jsonl", "nope.jsonl"), ("csv", "nope.csv"), ("commonvoice", "nope.tsv"),
                                       ("librispeech", "nope"), ("speech_commands", "nope"), ("kaldi", "nope")])
def test_a_missing_manifest_with_a_named_format_is_a_clear_error(tmp_path: Path, fmt: str, what: str) -> None:
    with pytest.raises(SpeechseqError, match=f"manifest not found: .*{what}"):
        load_manifest(tmp_path / what, format=fmt)


def test_a_folder_given_as_a_csv_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpeechseqError, match="cannot read the manifest"):
        load_manifest(tmp_path, format="csv")


def test_csv_errors_name_the_right_line_after_blank_lines(clip: Path) -> None:
    (clip.parent / "m.csv").write_text("path,text\n\na.wav,hi\n\ngone.wav,x\n")
    with pytest.raises(SpeechseqError, match=r"m.csv:5: audio file not found"):
        load_manifest(clip.parent / "m.csv")


def test_an_unmatched_quote_does_not_swallow_the_rows_after_it(clip: Path) -> None:
    """A TSV transcript opening with a quote made csv read on to the next quote: rows lost, text wrong."""
    (clip.parent / "m.tsv").write_text('path\ttext\na.wav\t"Hello, she said\na.wav\tsecond\na.wav\tthird\n')
    with pytest.raises(SpeechseqError, match=r"m.tsv:2: .*unmatched quote"):
        load_manifest(clip.parent / "m.tsv")


def test_a_row_without_an_audio_path_is_named(clip: Path) -> None:
    (clip.parent / "m.csv").write_text("path,text\n,hi\n")
    with pytest.raises(SpeechseqError, match=r"m.csv:2: no audio path"):
        load_manifest(clip.parent / "m.csv")
    with pytest.warns(UserWarning, match="no audio path"):
        assert load_manifest(clip.parent / "m.csv", skip_missing=True) == []


def test_a_truncated_common_voice_line_is_named(tmp_path: Path) -> None:
    shutil.copytree(FIX / "commonvoice", tmp_path / "cv")
    with open(tmp_path / "cv" / "train.tsv", "a", encoding="utf-8") as f:
        f.write("deadbeef\n")  # a download cut after the client_id
    with pytest.raises(SpeechseqError, match=r"train.tsv:4: no audio path"):
        load_manifest(tmp_path / "cv" / "train.tsv")


def test_common_voice_takes_several_splits_as_load_manifest_says() -> None:
    both = load_manifest(FIX / "commonvoice", split=("train", "dev"))
    assert [(u.text, u.split) for u in both] == [("The first sentence.", "train"), ("And a second one.", "train"),
                                                 ("Held out.", "dev")]
    assert len(load_manifest(FIX / "commonvoice" / "train.tsv", split=["train", "dev"])) == 2
    with pytest.raises(SpeechseqError, match="this file is 'train'"):
        load_manifest(FIX / "commonvoice" / "train.tsv", split=["dev"])


def test_kaldi_pipe_refusal_suggests_a_command_that_writes_files(tmp_path: Path) -> None:
    """`wav-copy scp:wav.scp ark,t:-` (the old hint) fails in Kaldi: wave data is only written in binary,
    and a text archive on stdout is no files anyway."""
    (tmp_path / "wav.scp").write_text("u1 flac -c -d -s u1.flac |\n")
    (tmp_path / "text").write_text("u1 hello\n")
    with pytest.raises(SpeechseqError, match=r"only plain file paths") as err:
        load_manifest(tmp_path)
    assert "ark,t:-" not in str(err.value) and "scp:wav.scp scp:" in str(err.value)


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_a_duration_that_is_not_finite_is_named(clip: Path, value: str) -> None:
    (clip.parent / "m.jsonl").write_text(f'{{"audio_filepath": "a.wav", "text": "x", "duration": {value}}}\n')
    with pytest.raises(SpeechseqError, match=r"m.jsonl:1: duration is not a number"):
        load_manifest(clip.parent / "m.jsonl")


def test_length_buckets_lose_nothing_silently() -> None:
    """A NaN duration was neither 'too long' nor kept, and a negative pool_size gave no batch at all."""
    with pytest.raises(ValueError, match="durations must be finite"):
        length_buckets([1.0, float("nan"), 2.0], 10.0)
    with pytest.raises(ValueError, match="pool_size"):
        length_buckets([1.0, 2.0], 10.0, pool_size=-1)


# ---- feature banks (speechseq.train.featbank) ----

def _bank():
    from speechseq.frontend import FrontendConfig
    from speechseq.train.featbank import FeatureBank, quantize

    feats = np.full((7, 80), -3.0, np.float32)
    return FeatureBank(quantize(feats), np.array([0, 3, 7]), ["a", "b"], ["x", "x"], FrontendConfig().to_dict())


def test_a_bank_named_with_a_dot_keeps_its_name(tmp_path):
    from speechseq.train.featbank import FeatureBank

    bank = _bank()
    bank.save(tmp_path / "kathleen.v2")
    other = _bank()
    other.texts[0] = "other"
    other.save(tmp_path / "kathleen.v3")  # with_suffix made both kathleen.json: the second overwrote the first
    assert FeatureBank.load(tmp_path / "kathleen.v2").texts == ["a", "b"]
    assert FeatureBank.load(tmp_path / "kathleen.v3").texts == ["other", "b"]
    assert FeatureBank.load(tmp_path / "kathleen.v2.json").texts == ["a", "b"]  # either file's name works


def test_a_missing_or_corrupt_bank_is_one_error_naming_it(tmp_path):
    from speechseq.errors import SpeechseqError
    from speechseq.train.featbank import FeatureBank

    with pytest.raises(SpeechseqError, match="feature bank not found: .*nothing.json"):
        FeatureBank.load(tmp_path / "nothing")
    _bank().save(tmp_path / "b")
    (tmp_path / "b.u8.xz").write_bytes(b"not xz at all")
    with pytest.raises(SpeechseqError, match=r"b: not a readable feature bank \(LZMAError"):
        FeatureBank.load(tmp_path / "b")
    _bank().save(tmp_path / "c")
    (tmp_path / "c.json").write_text("{\"low\": ")
    with pytest.raises(SpeechseqError, match="c: not a readable feature bank"):
        FeatureBank.load(tmp_path / "c")


def test_a_bank_whose_offsets_do_not_match_its_frames_is_refused(tmp_path):
    import json

    from speechseq.errors import SpeechseqError
    from speechseq.train.featbank import FeatureBank

    _bank().save(tmp_path / "b")
    meta = json.loads((tmp_path / "b.json").read_text())
    meta["offsets"] = [0, 3, 9]  # frames of another bank
    (tmp_path / "b.json").write_text(json.dumps(meta))
    with pytest.raises(SpeechseqError, match="offsets do not match its frames \\(9 against 7\\)"):
        FeatureBank.load(tmp_path / "b")


def test_featurize_counts_unreadable_files_in_its_warning(tmp_path):
    from speechseq.errors import SpeechseqWarning
    from speechseq.frontend import FrontendConfig
    from speechseq.train.featbank import featurize
    from speechseq.train.manifests import Utterance

    good = np.zeros(16000, np.float32) + 0.01 * np.sin(np.arange(16000) / 5).astype(np.float32)

    def load(u):
        if u.audio == "bad.wav":
            raise ValueError("cannot read")
        return good

    utts = [Utterance(audio=a, duration=1.0, text="yes") for a in ("a.wav", "bad.wav", "c.wav")]
    with pytest.warns(SpeechseqWarning, match=r"1 of 3 utterances left out \(1 unreadable\)"):
        bank = featurize(utts, FrontendConfig(), "x", trim=False, load=load, progress=False)
    assert len(bank) == 2


def test_a_clip_skipped_under_the_progress_bar_is_said_on_a_line_of_its_own(monkeypatch):
    """`train recognizer` makes its features under a progress bar on a terminal: 'speechseq: warning: skipped CLIP'
    was printed after the bar's text, on its line. It is a warning now, and the command line shows every
    speechseq warning with the bar cleared first (commands.common.warn)."""
    import io
    import sys
    import warnings

    from speechseq.cli import _show_warning
    from speechseq.frontend import FrontendConfig
    from speechseq.train.featbank import featurize
    from speechseq.train.manifests import Utterance

    good = 0.01 * np.sin(np.arange(16000) / 5).astype(np.float32)

    def load(u):
        if u.audio == "bad.wav":
            raise ValueError("cannot read")
        return good

    screen = io.StringIO()
    monkeypatch.setattr(sys, "stderr", screen)
    monkeypatch.setattr(warnings, "showwarning", _show_warning)
    utts = [Utterance(audio=a, duration=1.0, text="yes") for a in ("a.wav", "bad.wav", "c.wav")]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _show_warning
        featurize(utts, FrontendConfig(), "x", trim=False, load=load, progress=True)
    text = screen.getvalue()
    at = text.index("speechseq: warning: skipped bad.wav")
    assert text[at - 1] in "\r\n", repr(text[max(0, at - 60): at + 40])
