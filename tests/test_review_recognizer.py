"""Review of `speechseq train recognizer` / `eval recognizer` option handling: options that would be ignored or
train on nothing are one-line errors before any work, and the DDP entry (speechseq.train.ddp, whose rank 0 makes
the feature cache before `setup`) refuses another run's folder before touching its cache."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main

torch = pytest.importorskip("torch")


def _manifest(folder: Path, name: str = "m.jsonl", n: int = 8, base: float = 300.0) -> Path:
    """n short tone clips with one-word texts."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(n):
        t = np.arange(int(16000 * (0.4 + 0.05 * k))) / 16000
        sf.write(folder / f"{name}-{k}.wav", 0.3 * np.sin(2 * np.pi * (base + 50 * k) * t), 16000)
        rows.append({"audio_filepath": f"{name}-{k}.wav", "text": ("yes", "no", "up", "down")[k % 4]})
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / name


def _run(capsys, *argv) -> tuple[int, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _train(tmp_path, *extra):
    m = _manifest(tmp_path / "data")
    out = tmp_path / "run"
    return out, ["train", "recognizer", "--manifest", m, "--out", out, "--hidden", "8", "--layers", "1",
                 "--epochs", "1", *extra]


def test_eval_recognizer_threads_must_be_positive(capsys):
    """`--threads 0` or `-2` was taken (onnxruntime then ran one thread, as if 1 was given); transcribe refuses it."""
    for bad in ("0", "-2"):
        code, err = _run(capsys, "eval", "recognizer", "--manifest", "x.jsonl", "--threads", bad)
        assert code == 2 and f"argument --threads: must be >= 1, got {bad}" in err


def test_val_split_without_val_manifest_is_an_error(tmp_path, capsys):
    """--val-split was silently ignored without --val-manifest: validation held 3 % of the training rows out."""
    out, argv = _train(tmp_path, "--val-split", "dev")
    code, err = _run(capsys, *argv)
    assert code == 1 and "--val-split dev needs --val-manifest" in err
    assert not (out / "features").exists() and not (out / "last.pt").exists()


@pytest.mark.parametrize("repeat", ["0", "0.01"])
def test_repeats_that_use_no_utterance_are_an_error(tmp_path, capsys, repeat):
    """--repeat 0 (or a share rounding to no utterance) trained every epoch on no batch and still wrote an
    untrained best.pt, saying "training on 8 utterances"."""
    out, argv = _train(tmp_path, "--repeat", repeat)
    code, err = _run(capsys, *argv)
    said = "every --repeat is 0: no training utterance" if repeat == "0" else "--repeat 0.01: no training utterance"
    assert code == 1 and said in err, err
    assert not (out / "last.pt").exists() and not (out / "best.pt").exists()


@pytest.mark.parametrize("device", ["gpu", "cuda"])
def test_a_device_torch_cannot_use_is_one_line_before_the_features(tmp_path, capsys, device):
    """--device gpu (or cuda without a GPU) was a RuntimeError / AssertionError traceback, after the features."""
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here")
    out, argv = _train(tmp_path, "--device", device)
    code, err = _run(capsys, *argv)
    assert code == 1 and f"--device {device}:" in err and len(err.strip().splitlines()) == 1, err
    assert not (out / "features").exists()


def _args(*argv) -> argparse.Namespace:
    from speechseq.commands.train_recognizer import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args([str(a) for a in argv])


def test_ddp_rank0_cache_refuses_another_runs_folder_before_touching_it(tmp_path):
    """speechseq.train.ddp has rank 0 call _banks before setup's resume checks: a rerun on other data replaced
    the run's cached features."""
    from speechseq.commands.train_recognizer import _banks, _sources
    from speechseq.errors import SpeechseqError
    from speechseq.nn.recognizer import RecognizerConfig

    a, b = _manifest(tmp_path / "a", base=300.0), _manifest(tmp_path / "b", base=900.0)
    out = tmp_path / "run"
    args_a = _args("--manifest", a, "--out", out, "--hidden", "8", "--layers", "1")
    _banks(args_a)
    torch.save({"kind": "recognizer", "model_config": RecognizerConfig(hidden=8, front_dim=8, layers=1).to_dict(),
                "extra": {"sources": _sources(args_a)}}, out / "last.pt")
    cache = {p.name: p.read_bytes() for p in (out / "features").iterdir()}
    with pytest.raises(SpeechseqError, match="other data"):
        _banks(_args("--manifest", b, "--out", out, "--hidden", "8", "--layers", "1"))
    assert {p.name: p.read_bytes() for p in (out / "features").iterdir()} == cache
    _banks(args_a)  # the same run: its cache


def _fake_recognizer(words_at: tuple[float, float] | None = None):
    """A runtime Recognizer whose `recognize` records the audio it gets (and gives one word at `words_at`)."""
    from speechseq.frontend import FrontendConfig
    from speechseq.runtime.decoding import Word
    from speechseq.runtime.recognizer import Recognizer, Result

    rec = Recognizer.__new__(Recognizer)
    rec.frontend, rec.seen = FrontendConfig(n_mels=80), []

    def recognize(audio, opts=None):
        rec.seen.append(np.array(audio))
        words = (Word("x", *words_at, 1.0),) if words_at else ()
        return Result("x" if words else "", words, ())

    rec.recognize = recognize
    return rec


def _bursts(spans, sr: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = 1e-4 * rng.standard_normal(int((max(b for _, b in spans) + 1.0) * sr)).astype(np.float32)
    t = np.arange(len(x)) / sr
    for a, b in spans:
        on = (t >= a) & (t < b)
        x[on] += 0.3 * np.sin(2 * np.pi * 440 * t[on]).astype(np.float32)
    return x


@pytest.mark.parametrize("max_segment", [4.0, 20.0])
def test_transcribe_cuts_short_segments_at_pauses_and_offsets_word_times(max_segment):
    """transcribe(--max-segment 4) looked for a pause between 5 s and 4 s: none, so every cut fell at exactly 4 s,
    in the middle of speech. Now every cut is in a pause, no sample is lost or doubled, and word times are
    offset by their segment's start (the fake recogniser's word lies in each segment's first burst: a word is never
    put before the speech of its segment begins, test_transcribe.py::test_a_first_word_starts_where_the_speech_does)."""
    spans = [(0.2, 2.5), (3.0, 5.8), (6.3, 9.0), (9.5, 12.0), (12.5, 15.5), (16.0, 19.0), (19.5, 23.0),
             (23.5, 26.0), (26.5, 30.0)]
    x = _bursts(spans)
    rec = _fake_recognizer(words_at=(0.6, 0.8))
    t = rec.transcribe([x[i: i + 7000] for i in range(0, len(x), 7000)], max_segment_s=max_segment)
    assert np.array_equal(np.concatenate(rec.seen), x) and t.duration == pytest.approx(len(x) / 16000)
    assert len(t.segments) >= (2 if max_segment == 20 else 8)
    for seg in t.segments:
        assert seg.end - seg.start <= max_segment + 1e-9
    for seg in t.segments[1:]:
        assert not any(a + 0.05 < seg.start < b - 0.05 for a, b in spans), seg.start
    assert [(w.start, w.end) for w in t.words] == [(pytest.approx(s.start + 0.6), pytest.approx(s.start + 0.8))
                                                   for s in t.segments]
