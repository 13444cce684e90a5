"""Manifest loaders (one tiny fixture per format), split filters, missing files, batching."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.errors import SpeechseqError
from speechseq.train.data import (DistributedBatches, Utterance, detect_format, length_buckets,
                                  load_manifest, mix)

FIX = Path(__file__).resolve().parent / "fixtures" / "manifests"


def summary(utts: list[Utterance]) -> list[tuple[str, str, float]]:
    """(path relative to the fixtures, text, duration rounded to ms) of each utterance."""
    return [(str(Path(u.audio).relative_to(FIX)), u.text, round(u.duration, 3)) for u in utts]


def test_fixture_clips_are_small() -> None:
    clips = [p for p in FIX.rglob("*") if p.suffix in (".wav", ".flac", ".mp3")]
    assert len(clips) >= 15
    assert max(p.stat().st_size for p in clips) < 20_000


def test_jsonl() -> None:
    utts = load_manifest(FIX / "jsonl" / "manifest.jsonl")
    assert summary(utts) == [("jsonl/audio/a.flac", "Hello there.", 0.25),
                             ("jsonl/audio/b.flac", "General Kenobi!", 0.4),
                             ("jsonl/audio/c.flac", "no duration here", 0.55)]  # from the header
    assert all(Path(u.audio).is_absolute() for u in utts)
    assert [u.speaker for u in utts] == ["ann", "ben", None]
    assert [u.split for u in utts] == ["train", "dev", "train"]
    assert utts[1].get("kind") == "wake-word" and utts[0].get("kind") is None
    assert {u.source for u in utts} == {"jsonl"}


def test_jsonl_split_filter() -> None:
    train = load_manifest(FIX / "jsonl", split="train")
    assert [u.text for u in train] == ["Hello there.", "no duration here"]
    assert [u.text for u in load_manifest(FIX / "jsonl", split="dev")] == ["General Kenobi!"]
    assert len(load_manifest(FIX / "jsonl", split=("train", "dev"))) == 3
    assert load_manifest(FIX / "jsonl", split="test") == []


def test_jsonl_absolute_paths_and_segments(tmp_path: Path) -> None:
    a = FIX / "jsonl" / "audio" / "c.flac"
    (tmp_path / "m.jsonl").write_text(
        f'{{"audio_filepath": "{a}", "text": "x", "offset": 0.1, "duration": 0.2}}\n'
        f'{{"audio_filepath": "{a}", "text": "y", "offset": 0.15}}\n')
    u1, u2 = load_manifest(tmp_path / "m.jsonl")
    assert u1.audio == str(a) and (u1.offset, u1.end, u1.duration) == (0.1, pytest.approx(0.3), 0.2)
    assert u2.offset == 0.15 and u2.end == pytest.approx(0.55) and u2.duration == pytest.approx(0.4)
    assert u1.source == "m"


def test_csv_and_tsv() -> None:
    csv_utts = load_manifest(FIX / "csv" / "metadata.csv")
    assert summary(csv_utts) == [("csv/clips/one.wav", "one, with a comma", 0.3),
                                 ("csv/clips/two.wav", "two", 0.45)]
    tsv_utts = load_manifest(FIX / "csv" / "metadata.tsv")  # no duration column: headers read
    assert summary(tsv_utts) == [("csv/clips/two.wav", "second clip", 0.45),
                                 ("csv/clips/one.wav", "first clip", 0.3)]


def test_csv_header_names_and_split(tmp_path: Path) -> None:
    shutil.copytree(FIX / "csv" / "clips", tmp_path / "clips")
    (tmp_path / "list.csv").write_text("File;Sentence;Split;Speaker_ID\n"
                                       "clips/one.wav;uno;train;s1\nclips/two.wav;dos;test;s2\n")
    utts = load_manifest(tmp_path / "list.csv", split="test")
    assert [(u.text, u.split, u.speaker, round(u.duration, 3)) for u in utts] == [
        ("dos", "test", "s2", 0.45)]
    (tmp_path / "bad.csv").write_text("name,words\nclips/one.wav,uno\n")
    with pytest.raises(SpeechseqError, match=r"bad.csv:2: needs an audio path"):
        load_manifest(tmp_path / "bad.csv")


def test_librispeech() -> None:
    expect = [("librispeech/LibriSpeech/dev-tiny/19/198/19-198-0000.flac", "NORTHANGER ABBEY", 0.35),
              ("librispeech/LibriSpeech/dev-tiny/19/198/19-198-0001.flac",
               "THIS LITTLE WORK WAS FINISHED", 0.5),
              ("librispeech/LibriSpeech/dev-tiny/26/495/26-495-0000.flac", "CHAPTER ONE", 0.2)]
    for root in (FIX / "librispeech" / "LibriSpeech", FIX / "librispeech" / "LibriSpeech" / "dev-tiny"):
        utts = load_manifest(root)
        assert summary(utts) == expect
        assert [u.speaker for u in utts] == ["19", "19", "26"]
    assert load_manifest(FIX / "librispeech" / "LibriSpeech" / "dev-tiny")[0].source == "dev-tiny"


def test_commonvoice(tmp_path: Path) -> None:
    train = load_manifest(FIX / "commonvoice" / "train.tsv")
    assert summary(train) == [("commonvoice/clips/common_voice_en_1.mp3", "The first sentence.", 0.6),
                              ("commonvoice/clips/common_voice_en_2.mp3", "And a second one.", 0.4)]
    assert [u.speaker for u in train] == ["c0ffee", "beef01"]
    assert {u.split for u in train} == {"train"}
    dev = load_manifest(FIX / "commonvoice", split="dev")
    assert [u.text for u in dev] == ["Held out."]
    with pytest.raises(SpeechseqError, match=r"holds a .tsv for each split \(dev, train\): name one"):
        load_manifest(FIX / "commonvoice")
    # Without clip_durations.tsv the durations come from the mp3 headers.
    shutil.copytree(FIX / "commonvoice", tmp_path / "cv")
    (tmp_path / "cv" / "clip_durations.tsv").unlink()
    durations = [u.duration for u in load_manifest(tmp_path / "cv" / "train.tsv")]
    assert durations == pytest.approx([0.6, 0.4], abs=0.06)


def test_speech_commands() -> None:
    utts = load_manifest(FIX / "speech_commands")
    assert summary(utts) == [("speech_commands/no/aa11_nohash_1.wav", "no", 0.4),
                             ("speech_commands/no/cc33_nohash_0.wav", "no", 0.45),
                             ("speech_commands/yes/aa11_nohash_0.wav", "yes", 0.3),
                             ("speech_commands/yes/bb22_nohash_0.wav", "yes", 0.35)]
    assert "_background_noise_" not in {u.text for u in utts}
    assert [u.speaker for u in utts] == ["aa11", "cc33", "aa11", "bb22"]
    split = {s: [Path(u.audio).name for u in load_manifest(FIX / "speech_commands", split=s)]
             for s in ("train", "validation", "test")}
    assert split == {"train": ["aa11_nohash_1.wav", "aa11_nohash_0.wav"],
                     "validation": ["cc33_nohash_0.wav"], "test": ["bb22_nohash_0.wav"]}
    with pytest.raises(SpeechseqError, match="splits are"):
        load_manifest(FIX / "speech_commands", split="dev")


def test_kaldi_segments_and_whole_files() -> None:
    utts = load_manifest(FIX / "kaldi" / "data" / "train")
    assert summary(utts) == [("kaldi/wavs/rec1.wav", "first half", 0.25),
                             ("kaldi/wavs/rec1.wav", "second half", 0.35),  # end -1 = file end
                             ("kaldi/wavs/rec2.wav", "another one", 0.25)]
    assert [(u.offset, u.end) for u in utts] == [(0.0, 0.25), (0.25, 0.6), (0.05, 0.3)]
    assert [u.speaker for u in utts] == ["spk1", "spk1", "spk2"]
    whole = load_manifest(FIX / "kaldi" / "data" / "test" / "wav.scp")
    assert summary(whole) == [("kaldi/wavs/rec1.wav", "whole recording one", 0.6),
                              ("kaldi/wavs/rec2.wav", "whole recording two", 0.3)]
    assert whole[0].offset is None and whole[0].speaker is None


def test_kaldi_pipe_is_refused(tmp_path: Path) -> None:
    (tmp_path / "wav.scp").write_text("u1 sox in.flac -t wav - |\n")
    (tmp_path / "text").write_text("u1 hello\n")
    with pytest.raises(SpeechseqError, match=r"wav.scp:1: only plain file paths"):
        load_manifest(tmp_path)


@pytest.mark.parametrize("path, fmt", [
    ("jsonl/manifest.jsonl", "jsonl"), ("jsonl", "jsonl"), ("csv/metadata.csv", "csv"),
    ("csv/metadata.tsv", "csv"), ("librispeech/LibriSpeech", "librispeech"),
    ("commonvoice/train.tsv", "commonvoice"), ("commonvoice", "commonvoice"),
    ("speech_commands", "speech_commands"), ("kaldi/data/train", "kaldi"),
    ("kaldi/data/test/wav.scp", "kaldi")])
def test_detect_format(path: str, fmt: str) -> None:
    assert detect_format(FIX / path) == fmt


def test_detect_format_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(SpeechseqError, match="cannot tell the manifest format"):
        detect_format(tmp_path)
    with pytest.raises(SpeechseqError, match="manifest not found"):
        load_manifest(tmp_path / "nope.jsonl")


def test_missing_audio_raises_or_skips(tmp_path: Path) -> None:
    sf.write(tmp_path / "ok.wav", np.zeros(1600, np.float32), 16000)
    (tmp_path / "m.jsonl").write_text('{"audio_filepath": "ok.wav", "text": "a"}\n'
                                      '{"audio_filepath": "gone.wav", "text": "b"}\n')
    with pytest.raises(SpeechseqError, match=r"m.jsonl:2: audio file not found: .*gone.wav"):
        load_manifest(tmp_path / "m.jsonl")
    with pytest.warns(UserWarning, match="gone.wav"):
        utts = load_manifest(tmp_path / "m.jsonl", skip_missing=True)
    assert [(u.text, u.duration) for u in utts] == [("a", 0.1)]


def test_missing_audio_in_kaldi_and_librispeech(tmp_path: Path) -> None:
    (tmp_path / "wav.scp").write_text("u1 /nowhere/u1.wav\n")
    (tmp_path / "text").write_text("u1 hi\n")
    with pytest.raises(SpeechseqError, match=r"wav.scp:1: audio file not found: /nowhere/u1.wav"):
        load_manifest(tmp_path)
    with pytest.warns(UserWarning):
        assert load_manifest(tmp_path, skip_missing=True) == []
    chapter = tmp_path / "ls" / "1" / "2"
    chapter.mkdir(parents=True)
    (chapter / "1-2.trans.txt").write_text("1-2-0000 GONE\n")
    with pytest.raises(SpeechseqError, match=r"1-2.trans.txt:1: audio file not found"):
        load_manifest(tmp_path / "ls")


@pytest.mark.parametrize("name, text, line", [("m.jsonl", b'{"audio_filepath": "a.wav", "text": "hi"}\n'
                                                          b'{"audio_filepath": "b.wav", "text": "caf\xe9"}\n', 2),
                                              ("m.csv", b"audio_filepath,text\na.wav,hi\nb.wav,caf\xe9\n", 3)])
def test_a_line_that_is_not_utf8_is_named(tmp_path: Path, name: str, text: bytes, line: int) -> None:
    """A Latin-1 line is an error naming the file and line (it was a UnicodeDecodeError traceback in the training
    and evaluation commands), for every reader behind load_manifest."""
    (tmp_path / name).write_bytes(text)
    with pytest.raises(SpeechseqError, match=rf"{name}:{line}: not UTF-8 text"):
        load_manifest(tmp_path / name, skip_missing=True)


def test_split_refused_where_format_has_none() -> None:
    with pytest.raises(SpeechseqError, match="no splits"):
        load_manifest(FIX / "kaldi" / "data" / "train", split="train")


def fake(durations: list[float], tag: str = "") -> list[Utterance]:
    return [Utterance(f"/{tag}{i}.wav", f"{tag}{i}", d, source=tag) for i, d in enumerate(durations)]


def test_length_buckets_cover_once_and_respect_budget() -> None:
    rng = np.random.default_rng(1)
    utts = fake(rng.uniform(0.5, 12.0, 1000).tolist())
    for pool, cap in ((None, None), (100, None), (None, 16)):
        batches = length_buckets(utts, 60.0, seed=3, pool_size=pool, max_batch_size=cap)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(1000))  # every utterance exactly once
        for b in batches:
            d = [utts[i].duration for i in b]
            assert d == sorted(d) and len(b) * max(d) <= 60.0 and (cap is None or len(b) <= cap)
        padded = sum(len(b) * max(utts[i].duration for i in b) for b in batches)
        if pool is None:  # one global sort wastes little: measured about 0.99 fill
            assert sum(u.duration for u in utts) / padded > 0.95
    a, b = length_buckets(utts, 60.0, seed=3), length_buckets(utts, 60.0, seed=4)
    assert a == length_buckets(utts, 60.0, seed=3) and a != b  # same seed, same order
    assert sorted(map(sorted, a)) == sorted(map(sorted, b))  # one global pool: same batches


def test_length_buckets_long_utterances() -> None:
    durations = [1.0, 2.0, 30.0, 3.0]
    with pytest.raises(ValueError, match="longer than batch_seconds"):
        length_buckets(durations, 10.0)
    with pytest.warns(UserWarning):
        batches = length_buckets(durations, 10.0, drop_long=True, shuffle=False)
    assert batches == [[0, 1, 3]]  # 3 x 3.0 s = 9 s fits


def test_mix_respects_weights() -> None:
    small, big = fake([1.0] * 10, "s"), fake([1.0] * 1000, "b")
    out = mix([(small, 1.0), (big, 3.0), (fake([1.0], "z"), 0.0)], 4000, seed=0)
    counts = Counter(u.source for u in out)
    assert abs(counts["s"] / 4000 - 0.25) < 0.02 and "z" not in counts
    per_clip = Counter(u.text for u in out if u.source == "s")
    assert max(per_clip.values()) - min(per_clip.values()) <= 1  # small source cycled evenly
    per_big = Counter(u.text for u in out if u.source == "b")
    assert len(per_big) == 1000 and max(per_big.values()) - min(per_big.values()) <= 1
    assert mix([(small, 1.0), (big, 3.0)], 50, seed=7) == mix([(small, 1.0), (big, 3.0)], 50, seed=7)
    with pytest.raises(ValueError):
        mix([(small, -1.0)], 5, seed=0)
    with pytest.raises(ValueError):
        mix([([], 1.0)], 5, seed=0)


@pytest.mark.parametrize("drop_last", [True, False])
def test_distributed_batches(drop_last: bool) -> None:
    batches = length_buckets(fake(np.linspace(1, 5, 103).tolist()), 20.0, seed=0)
    world = 4
    shares = [list(DistributedBatches(batches, r, world, drop_last=drop_last)) for r in range(world)]
    assert len({len(s) for s in shares}) == 1  # every rank runs the same number of steps
    assert len(shares[0]) == len(DistributedBatches(batches, 0, world, drop_last=drop_last))
    seen = [tuple(b) for s in shares for b in s]
    if drop_last:
        assert len(seen) == len(set(seen)) == len(batches) - len(batches) % world
    else:
        assert set(seen) == {tuple(b) for b in batches}
        assert len(seen) == -(-len(batches) // world) * world
    with pytest.raises(ValueError):
        DistributedBatches(batches, 4, 4)


def test_a_missing_kaldi_recording_is_reported_at_its_first_utterance(tmp_path: Path) -> None:
    """A wav.scp entry whose file is missing was reported while wav.scp was read, before any utterance (SkippedRow
    kept 0), so `eval recognizer --limit N` counted it even when its utterances lie past the N-th: now it is
    reported where `text` first reaches it, with the utterances read before it; one no utterance names, at the end."""
    import warnings

    from speechseq.train.manifests import SkippedRow

    sf.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    (tmp_path / "wav.scp").write_text(f"gone {tmp_path / 'gone.wav'}\na a.wav\nlost {tmp_path / 'lost.wav'}\n")
    (tmp_path / "text").write_text("u1 one\nu2 two\nu3 three\nu4 four\n")
    (tmp_path / "segments").write_text("u1 a 0 0.05\nu2 a 0.05 -1\nu3 gone 0 1\nu4 gone 1 2\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        utts = load_manifest(tmp_path, skip_missing=True)
    assert [u.text for u in utts] == ["one", "two"]
    skips = [(str(w.message).split(": ")[0].rsplit("/", 1)[1], w.message.kept) for w in caught
             if isinstance(w.message, SkippedRow)]
    assert skips == [("wav.scp:1", 2), ("wav.scp:3", 2)]  # gone: once, after u1, u2; lost (no utterance): at the end
    with pytest.raises(SpeechseqError, match=r"wav.scp:1: audio file not found: .*gone.wav"):
        load_manifest(tmp_path)


def test_a_folder_of_no_known_layout_says_what_each_layout_holds(tmp_path):
    """'cannot tell the manifest format of this folder (known: jsonl, ...); pass format=' named an argument of the
    Python API that `train recognizer` and `eval recognizer --manifest DIR` do not have: it now says what each
    folder layout holds, and what to name instead."""
    (tmp_path / "notes.txt").write_text("nothing here\n")
    with pytest.raises(SpeechseqError) as err:
        load_manifest(tmp_path)
    msg = str(err.value)
    assert "format=" not in msg, msg
    for holds in ("*.trans.txt", "clips/", "wav.scp", ".jsonl"):
        assert holds in msg, msg
