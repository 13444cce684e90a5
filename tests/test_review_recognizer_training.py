"""Review of training a recogniser as a user does (session 45): `speechseq train recognizer` on manifests edited,
damaged or written without a header, and `speechseq export --int8`. Tiny models on tone bursts, seconds in all."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.errors import SpeechseqError
from speechseq.train.data import load_manifest

from .test_cli_errors_train import run  # main(argv): exit code, stdout, stderr; never a traceback

PHRASES = ("turn on the light", "open the door", "what time is it", "play some music")
TINY_REC = ("--hidden", "8", "--layers", "1", "--no-augment", "--epochs", "1")


def _clips(folder: Path, n: int) -> list[dict]:
    """n tone bursts of 0.6-1.3 s (stand-ins for spoken clips) as manifest rows, paths relative to `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        t = np.arange(int(16000 * (0.6 + 0.1 * (i % 8)))) / 16000
        sf.write(folder / f"c{i}.wav", 0.3 * np.sin(2 * np.pi * (200 + 30 * i) * t) * np.sin(np.pi * t / t[-1]),
                 16000)
        rows.append({"audio_filepath": f"c{i}.wav", "text": PHRASES[i % 4]})
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_export_int8_to_a_name_that_is_already_the_int8_twins_is_refused_before_writing(tmp_path, capsys):
    """`export best.pt --out x.int8.onnx --int8`: the twin of x.int8.onnx is x.int8.onnx itself. The int8 graph was
    written over the fp32 one, published, and then the command failed on a path inside its staging folder
    ("exp/.x.int8.onnx.k3j2.export/x.int8.onnx: No such file or directory"), leaving no fp32 model."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig

    from speechseq.frontend import FrontendConfig

    torch.manual_seed(0)
    cfg = RecognizerConfig(n_mels=8, front_dim=8, hidden=6, layers=1, dropout=0.0)
    torch.save({"kind": "recognizer", "model_config": cfg.to_dict(), "model": Recognizer(cfg).state_dict(),
                "epoch": 1, "extra": {"frontend": FrontendConfig(n_mels=8).to_dict()}}, tmp_path / "best.pt")
    for name in ("x.int8.onnx", "x.INT8.ONNX"):
        code, out, err = run(capsys, "export", tmp_path / "best.pt", "--out", tmp_path / name, "--int8")
        assert code == 1 and out == "" and err == (
            f"speechseq: error: --out {tmp_path / name} is the name of an int8 twin: with --int8 give the fp32 "
            f"model's name ({tmp_path / name.replace('int8.', '').replace('INT8.', '')}); its twin is {name}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]
    code, out, err = run(capsys, "export", tmp_path / "best.pt", "--out", tmp_path / "x.onnx", "--int8")
    assert code == 0 and out.split() == ["wrote", str(tmp_path / "x.onnx"), "wrote", str(tmp_path / "x.int8.onnx")]


def test_export_over_its_own_checkpoint_is_refused_before_writing(tmp_path, capsys):
    """`export best.onnx --out best.onnx` (a checkpoint saved with an .onnx name, the suggestion of an older error
    line): the model was written over the checkpoint, and the run's weights were gone."""
    torch = pytest.importorskip("torch")
    from speechseq.nn.recognizer import Recognizer, RecognizerConfig

    cfg = RecognizerConfig(n_mels=8, front_dim=8, hidden=6, layers=1, dropout=0.0)
    ck = tmp_path / "best.onnx"
    torch.save({"kind": "recognizer", "model_config": cfg.to_dict(), "model": Recognizer(cfg).state_dict(),
                "epoch": 1, "extra": {}}, ck)
    before = ck.read_bytes()
    code, out, err = run(capsys, "export", ck, "--out", tmp_path / "." / "best.onnx")
    assert code == 1 and out == "" and "is the checkpoint itself" in err, err
    assert ck.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["best.onnx"]


def test_a_manifest_given_more_rows_after_a_failed_run_is_read_again(tmp_path, capsys):
    """The features of a manifest were cached by its path alone: a run refused as too small ("1 utterance in
    --manifest: too few to hold some out ... give --val-manifest or more data"), rerun after rows were added to the
    same file, was refused the same again, on the one cached utterance; so was any manifest corrected in place
    after a run that kept no training."""
    pytest.importorskip("torch")
    rows = _clips(tmp_path / "data", 12)
    manifest = _write(tmp_path / "data" / "m.jsonl", rows[:1])
    out = tmp_path / "r"
    code, _, err = run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC)
    assert code == 1 and "1 utterance in --manifest: too few to hold some out" in err
    _write(manifest, rows)
    code, _, err = run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC)
    assert code == 0 and "training on 11 utterances" in err and "validating on 1" in err


def test_a_manifest_changed_under_a_kept_run_resumes_on_its_features_and_says_so(tmp_path, capsys):
    """A run that kept its training (OUT/last.pt) resumes on the features it was trained on; a manifest edited since
    is not read again, and a warning line says so (it was silent)."""
    pytest.importorskip("torch")
    rows = _clips(tmp_path / "data", 12)
    manifest = _write(tmp_path / "data" / "m.jsonl", rows)
    out = tmp_path / "r"
    assert run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC)[0] == 0
    _write(manifest, rows[:6])
    code, _, err = run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC[:-1], "2")
    assert code == 0 and "training on 11 utterances" in err and f"resuming from {out / 'last.pt'}" in err
    assert f"speechseq: warning: {manifest} has changed since the features of {out} were made from it: the run " \
           f"resumes on those (use a new --out to train on it as it is now)" in err


def test_a_missing_or_damaged_clip_in_the_manifest_is_reported_and_skipped(tmp_path, capsys):
    """One missing or damaged clip in the middle of a training manifest stopped `train recognizer` before any work
    ("m.jsonl:6: audio file not found: ..."): a corpus of thousands of clips could not be trained on for one bad
    file, where transcribe, eval recognizer and train detector report it and go on."""
    pytest.importorskip("torch")
    rows = _clips(tmp_path / "data", 12)
    (tmp_path / "data" / "bad.wav").write_bytes(b"RIFF not audio at all")
    rows[5:5] = [{"audio_filepath": "gone.wav", "text": "gone"}, {"audio_filepath": "bad.wav", "text": "bad"}]
    manifest = _write(tmp_path / "data" / "m.jsonl", rows)
    code, _, err = run(capsys, "train", "recognizer", "--manifest", manifest, "--out", tmp_path / "r", *TINY_REC)
    assert code == 0 and "training on 11 utterances" in err
    said = [line for line in err.splitlines() if line.endswith("(skipped)")]
    assert said == [f"speechseq: warning: {manifest}:6: audio file not found: {tmp_path / 'data' / 'gone.wav'} "
                    "(skipped)", f"speechseq: warning: {manifest}:7: cannot read audio header of "
                    f"{tmp_path / 'data' / 'bad.wav'}: {tmp_path / 'data' / 'bad.wav'}: cannot decode audio: not "
                    "audio in a format speechseq reads (WAV, FLAC, OGG (Vorbis, Opus), MP3, AIFF and AU), or "
                    "damaged; audio in another format can be converted first, e.g. with ffmpeg (skipped)"]
    none = _write(tmp_path / "data" / "none.jsonl", rows[5:7])
    code, _, err = run(capsys, "train", "recognizer", "--manifest", none, "--out", tmp_path / "r2", *TINY_REC)
    assert code == 1 and err.splitlines()[-1] == f"speechseq: error: {none}: no utterances that can be read " \
                                                 "(2 skipped)"
    assert not (tmp_path / "r2" / "features").exists()


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("name,sep,said", [("m.tsv", "\t", "a tab"), ("m.csv", ",", "a comma")])
def test_a_csv_or_tsv_without_a_header_line_says_so(tmp_path, rows, name, sep, said):
    """A TSV of `path<TAB>text` lines without a header (as many tools write one) took its first row for the header:
    "m.tsv:2: needs an audio path (...) and a text (...); found ['c0.wav', 'turn on the light']", the fault put on
    line 2 and the data called column names; with one row, "no utterances"."""
    clips = _clips(tmp_path, rows)
    (tmp_path / name).write_text("".join(f"{r['audio_filepath']}{sep}{r['text']}\n" for r in clips))
    with pytest.raises(SpeechseqError) as caught:
        load_manifest(tmp_path / name)
    assert str(caught.value) == (f"{tmp_path / name}:1: no header line: its first line names a clip (c0.wav) where "
                                 f"the column names go; add a first line naming the columns (path and text, "
                                 f"separated by {said} as the rows are)")
    (tmp_path / name).write_text(f"path{sep}text\n" + (tmp_path / name).read_text())  # the advice works
    assert [u.text for u in load_manifest(tmp_path / name)] == [r["text"] for r in clips]


def test_a_librispeech_speaker_or_chapter_folder_is_read_as_librispeech(tmp_path):
    """`--manifest LibriSpeech/train-clean-100/19` (one speaker) or `.../19/198` (one chapter) was "cannot tell the
    manifest format of this folder ...; pass format=", an option the command line does not have."""
    chapter = tmp_path / "train-clean-5" / "19" / "198"
    clips = _clips(chapter, 2)
    for i, row in enumerate(clips):
        sf.write(chapter / f"19-198-000{i}.flac", sf.read(chapter / row["audio_filepath"])[0], 16000)
        (chapter / row["audio_filepath"]).unlink()  # FLAC only, as LibriSpeech is
    (chapter / "19-198.trans.txt").write_text("".join(f"19-198-000{i} {r['text'].upper()}\n"
                                                      for i, r in enumerate(clips)))
    for folder in (tmp_path, chapter.parent, chapter):
        utts = load_manifest(folder)
        assert [(u.text, u.speaker, u.split) for u in utts] == [("TURN ON THE LIGHT", "19", "train"),
                                                                ("OPEN THE DOOR", "19", "train")]


def test_a_corpus_folder_with_a_file_name_that_is_no_utf8_trains(tmp_path, capsys):
    """The stamp of a corpus folder (train_recognizer._stamp) encoded each file's name as UTF-8: one file whose name
    is other bytes (an archive's Latin-1 "café.txt" beside the clips) ended `train recognizer` on that folder with a
    UnicodeEncodeError traceback before any work."""
    import os

    pytest.importorskip("torch")
    rows = _clips(tmp_path / "data", 12)
    _write(tmp_path / "data" / "manifest.jsonl", rows)   # a folder holding a manifest.jsonl
    try:
        (tmp_path / "data" / os.fsdecode(b"caf\xe9.txt")).write_text("notes\n")
    except (OSError, UnicodeEncodeError):  # a file system that takes UTF-8 names only
        pytest.skip("no file name that is not UTF-8 here")
    code, _, err = run(capsys, "train", "recognizer", "--manifest", tmp_path / "data", "--out", tmp_path / "r",
                       *TINY_REC)
    assert code == 0 and "training on 11 utterances" in err, err


def test_a_manifest_written_again_with_the_same_rows_is_no_change(tmp_path, capsys):
    """`synth sentences` writes its train.jsonl anew at every run (a second run makes only the clips missing): the
    same rows, a new modification time. A run resumed after it was told "m.jsonl has changed since the features of
    r were made from it ... use a new --out" (and one without last.pt made its features again), for a manifest that
    had not changed at all. A manifest file is stamped by what it holds; an edit is still said."""
    import os

    pytest.importorskip("torch")
    rows = _clips(tmp_path / "data", 12)
    manifest = _write(tmp_path / "data" / "m.jsonl", rows)
    out = tmp_path / "r"
    assert run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC)[0] == 0
    _write(manifest, rows)
    os.utime(manifest, ns=(manifest.stat().st_atime_ns, manifest.stat().st_mtime_ns + 5 * 10 ** 9))
    code, _, err = run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC[:-1], "2")
    assert code == 0 and f"resuming from {out / 'last.pt'}" in err and "has changed" not in err, err
    _write(manifest, rows[:11])
    code, _, err = run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC[:-1], "3")
    assert code == 0 and f"{manifest} has changed since the features of {out} were made from it" in err, err


def test_a_stamps_record_left_empty_is_read_as_none(tmp_path, capsys):
    """OUT/features/stamps.json left empty (the disk filled as it was written, the run killed then) made every later
    run a JSONDecodeError traceback until the file was found and deleted. A record that cannot be read is none: the
    features are made again (no training is kept here to resume on them)."""
    pytest.importorskip("torch")
    rows = _clips(tmp_path / "data", 12)
    manifest = _write(tmp_path / "data" / "m.jsonl", rows)
    out = tmp_path / "r"
    assert run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC)[0] == 0
    (out / "features" / "stamps.json").write_text("")
    (out / "last.pt").unlink()
    code, _, err = run(capsys, "train", "recognizer", "--manifest", manifest, "--out", out, *TINY_REC)
    assert code == 0 and "training on 11 utterances" in err, err
    assert set(json.loads((out / "features" / "stamps.json").read_text())) == {"m0"}
