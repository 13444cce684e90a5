"""Manifests as the datasets ship them (LibriSpeech's subsets side by side, Common Voice's first releases and blank
lines), and `eval detector` given manifests none of whose rows it keeps."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main
from speechseq.errors import SpeechseqError
from speechseq.train.data import load_manifest

FIX = Path(__file__).resolve().parent / "fixtures" / "manifests"
DETECTOR = Path(__file__).resolve().parents[1] / "models" / "activate.onnx"


def _librispeech(root: Path, subsets: list[str]) -> None:
    """LibriSpeech as its tarballs unpack: every subset under one LibriSpeech/ folder."""
    for k, subset in enumerate(subsets):
        chapter = root / subset / str(10 + k) / "20"
        chapter.mkdir(parents=True)
        sf.write(chapter / f"{10 + k}-20-0000.flac", np.zeros(1600 * (k + 1), np.float32), 16000)
        (chapter / f"{10 + k}-20.trans.txt").write_text(f"{10 + k}-20-0000 WORDS OF {subset.upper()}\n")


def test_librispeech_subsets_name_their_split(tmp_path: Path) -> None:
    """All of LibriSpeech read at once gave every row split None: dev-clean and test-clean went into training
    (train recognizer leaves dev/test rows out only when the manifest names them), and split= was refused."""
    root = tmp_path / "LibriSpeech"
    _librispeech(root, ["dev-clean", "test-other", "train-clean-100"])
    utts = load_manifest(root)
    assert [(u.text, u.split) for u in utts] == [("WORDS OF DEV-CLEAN", "dev"), ("WORDS OF TEST-OTHER", "test"),
                                                 ("WORDS OF TRAIN-CLEAN-100", "train")]
    assert [u.text for u in load_manifest(root, split="train")] == ["WORDS OF TRAIN-CLEAN-100"]
    assert [round(u.duration, 3) for u in load_manifest(root, split=["dev", "test"])] == [0.1, 0.2]
    assert [u.split for u in load_manifest(root / "test-other")] == ["test"]  # one subset's folder
    assert [u.split for u in load_manifest(FIX / "librispeech" / "LibriSpeech")] == ["dev"] * 3  # dev-tiny


def test_common_voice_clips_named_without_their_extension(tmp_path: Path) -> None:
    """The first Common Voice releases (2019) list each clip's `path` without ".mp3": every row was 'audio file
    not found'."""
    shutil.copytree(FIX / "commonvoice", tmp_path / "cv")
    tsv = tmp_path / "cv" / "train.tsv"
    tsv.write_text(tsv.read_text().replace(".mp3\t", "\t"))
    (tmp_path / "cv" / "clip_durations.tsv").unlink()
    utts = load_manifest(tsv)
    assert [(Path(u.audio).name, u.text) for u in utts] == [("common_voice_en_1.mp3", "The first sentence."),
                                                            ("common_voice_en_2.mp3", "And a second one.")]
    assert [u.duration for u in utts] == pytest.approx([0.6, 0.4], abs=0.06)


def test_common_voice_errors_name_the_right_line_after_a_blank_line(tmp_path: Path) -> None:
    shutil.copytree(FIX / "commonvoice", tmp_path / "cv")
    with open(tmp_path / "cv" / "train.tsv", "a", encoding="utf-8") as f:
        f.write("\nbeef02\tgone.mp3\tGone.\t1\t0\t\t\t\ten\t\n")  # line 5, after a blank line 4
    with pytest.raises(SpeechseqError, match=r"train.tsv:5: audio file not found"):
        load_manifest(tmp_path / "cv" / "train.tsv")


@pytest.mark.skipif(not DETECTOR.exists(), reason="shipped detector missing")
def test_eval_detector_says_when_a_manifest_keeps_no_row(tmp_path: Path, capsys) -> None:
    """--where split=dev on a positives manifest without a split column left no positive: the summary had no
    false-reject rate and exit 0, and --det said 'needs both --positives and --negatives', which were given."""
    sf.write(tmp_path / "a.wav", np.zeros(8000, np.float32), 16000)
    pos, neg = tmp_path / "pos.jsonl", tmp_path / "neg.jsonl"
    pos.write_text(json.dumps({"audio_filepath": "a.wav", "text": "activate"}) + "\n")
    neg.write_text(json.dumps({"audio_filepath": "a.wav", "text": "x", "split": "dev"}) + "\n")
    argv = ["eval", "detector", "--model", str(DETECTOR), "--positives", str(pos), "--negatives", str(neg),
            "--where", "split=dev", "--det", str(tmp_path / "det.png")]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "--positives: no manifest row matches --where split=dev" in err and "Traceback" not in err
    assert main(argv[:-4] + ["--json"]) == 0  # without --where both are read
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["positives"] == 1


def test_kaldi_archive_offsets_are_refused_as_pipes_are(tmp_path: Path) -> None:
    """utils/data/extract_wav_segments_data_dir.sh (and any `ark,scp:` writer) lists `wav.ark:OFFSET`: it was
    'audio file not found' for a file that is there, and skip_missing left every row out silently."""
    (tmp_path / "wav.ark").write_bytes(b"u1 RIFF")
    (tmp_path / "wav.scp").write_text(f"u1 {tmp_path / 'wav.ark'}:3\n")
    (tmp_path / "text").write_text("u1 hello\n")
    for skip in (False, True):
        with pytest.raises(SpeechseqError, match=r"wav.scp:1: only plain file paths are supported, not .*wav.ark:3"):
            load_manifest(tmp_path, skip_missing=skip)


@pytest.mark.parametrize("line, said", [("u2 r1 2.0 1.0", "ends at 1 s, not after its start at 2 s"),
                                        ("u2 r1 0.5 0.5", "ends at 0.5 s, not after its start at 0.5 s"),
                                        ("u2 r1 4.0 -1", "ends at 3 s, not after its start at 4 s")])
def test_a_kaldi_segment_that_ends_before_it_starts_is_named(tmp_path: Path, line: str, said: str) -> None:
    """It was an utterance of negative length: `eval recognizer` then said 'the segment from 2 s holds no audio
    samples (the file has 3 s)'."""
    sf.write(tmp_path / "r1.wav", np.zeros(48000, np.float32), 16000)
    (tmp_path / "wav.scp").write_text(f"r1 {tmp_path / 'r1.wav'}\n")
    (tmp_path / "segments").write_text(f"u1 r1 0 1.5\n{line}\n")
    (tmp_path / "text").write_text("u1 hello\nu2 oops\n")
    with pytest.raises(SpeechseqError, match=rf"segments:2: the segment {said}"):
        load_manifest(tmp_path)


@pytest.mark.parametrize("fmt", ["kaldi", "librispeech"])
def test_a_folder_manifest_line_that_is_not_utf8_is_named(tmp_path: Path, fmt: str) -> None:
    """A Latin-1 Kaldi `text` or LibriSpeech .trans.txt was '<folder>: not UTF-8 text': no file, no line."""
    sf.write(tmp_path / "r1.wav", np.zeros(1600, np.float32), 16000)
    if fmt == "kaldi":
        (tmp_path / "wav.scp").write_text(f"r1 {tmp_path / 'r1.wav'}\n")
        bad = tmp_path / "text"
        bad.write_bytes(b"r1 a first line\nr2 caf\xe9 au lait\n")
    else:
        bad = tmp_path / "dev-clean" / "1" / "2" / "1-2.trans.txt"
        bad.parent.mkdir(parents=True)
        bad.write_bytes(b"1-2-0000 CAF\xc9\n")
    with pytest.raises(SpeechseqError, match=rf"{bad.name}:{2 if fmt == 'kaldi' else 1}: not UTF-8 text"):
        load_manifest(tmp_path, format=fmt)


def test_a_manifest_reads_the_duration_of_a_flac_of_unknown_length(tmp_path: Path) -> None:
    """A FLAC encoded to a pipe has no length in its header (libsndfile: 2**63 - 1 frames): a manifest row without
    a duration got 5.8e14 s from the header, which batching and duration filters then used."""
    sf.write(tmp_path / "a.flac", 0.3 * np.sin(np.arange(24000) / 5.0), 16000, subtype="PCM_16")
    data = bytearray((tmp_path / "a.flac").read_bytes())
    data[21] &= 0xF0                                               # STREAMINFO's total samples: 0, "unknown"
    data[22:26] = bytes(4)
    (tmp_path / "a.flac").write_bytes(bytes(data))
    (tmp_path / "m.jsonl").write_text(json.dumps({"audio_filepath": "a.flac", "text": "a tone"}) + "\n")
    (u,) = load_manifest(tmp_path / "m.jsonl")
    assert u.duration == pytest.approx(1.5)
