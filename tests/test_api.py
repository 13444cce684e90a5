"""The public API (speechseq/__init__.py, speechseq/api.py): `import speechseq` stays cheap, and load_detector,
load_recognizer, detect and transcribe give what `speechseq detect --json` and `speechseq transcribe --format json`
print, for a file and for its samples alike; a user's mistake is one SpeechseqError."""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import speechseq
from speechseq.audio import load_audio, path_text
from speechseq.errors import SpeechseqError

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
HOME = ROOT / "data" / "commands" / "home.txt"


def _cli_json(*argv) -> dict:
    code, out, err = run(*argv)
    assert code == 0, err
    (line,) = out.splitlines()
    return json.loads(line)


@pytest.fixture(scope="module")
def audio() -> np.ndarray:
    return load_audio(SAMPLE)


def test_import_speechseq_loads_neither_numpy_nor_onnxruntime_nor_torch():
    code = textwrap.dedent("""
        import sys
        import speechseq
        assert speechseq.__version__ and "transcribe" in dir(speechseq)
        print(sorted(m.split(".")[0] for m in sys.modules if m.split(".")[0] in ("numpy", "onnxruntime", "torch")))
        assert speechseq.Listener.__module__ == "speechseq.runtime.listener"   # the first read imports it
        print("torch" in sys.modules)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["[]", "False"]


def test_the_public_names_are_the_runtime_classes_and_others_are_attribute_errors():
    from speechseq.runtime.listener import Listener

    assert speechseq.Listener is Listener and speechseq.SpeechseqError is SpeechseqError
    assert set(speechseq.__all__) <= set(dir(speechseq))
    with pytest.raises(AttributeError, match="no attribute 'transcribe_file'"):
        speechseq.transcribe_file


def test_detect_hears_activate_as_the_command_does():
    got = speechseq.detect(SAMPLE)
    assert [d.keyword for d in got] == ["activate"]
    (d,) = got
    assert 1.0 < d.start < 1.25 and 1.65 < d.end < 1.9 and d.score > 0.9   # said from about 1.1 to 1.68 s
    cli = _cli_json("detect", SAMPLE, "--json")
    assert [x.to_dict() for x in got] == cli["detections"]


def test_transcribe_writes_what_the_command_writes():
    t = speechseq.transcribe(str(SAMPLE))
    cli = _cli_json("transcribe", SAMPLE, "--format", "json")
    assert t.to_json(path_text(SAMPLE)) == cli and "on the" in t.text   # text, every word's times and confidence


@pytest.mark.parametrize("argv, kwargs", [
    (("--decoder", "greedy", "--vad", "off"), {"decoder": "greedy", "vad": "off"}),
    (("--commands", HOME), {"commands": HOME}),
])
def test_load_recognizer_runs_as_the_command_with_the_same_options(argv, kwargs):
    rec = speechseq.load_recognizer(**kwargs)
    t = speechseq.transcribe(SAMPLE, recognizer=rec)
    commands = "commands" in kwargs
    assert t.to_json(path_text(SAMPLE), commands) == _cli_json("transcribe", SAMPLE, "--format", "json", *argv)
    if commands:
        assert [s.command for s in t.segments if s.command] == ["turn on the kitchen lights"]


def test_samples_with_their_rate_are_heard_as_the_file(audio):
    want_t, want_d = speechseq.transcribe(SAMPLE), speechseq.detect(SAMPLE)
    int16 = np.round(audio * 32768).astype(np.int16)   # the file's own samples (PCM 16)
    for samples in (audio, int16, np.stack([audio, audio], axis=1), audio[None]):   # (N,), int16, (N, 2), a row
        assert speechseq.transcribe(samples, sr=16000).to_json("x") == want_t.to_json("x")
        assert speechseq.detect(samples, sr=16000) == want_d
    import soxr

    t = speechseq.transcribe(soxr.resample(audio, 16000, 44100), sr=44100)   # resampled to the models' 16 kHz
    assert t.text == want_t.text
    assert max(abs(a.start - b.start) + abs(a.end - b.end) for a, b in zip(t.words, want_t.words)) < 0.03
    (d,) = speechseq.detect(soxr.resample(audio, 16000, 8000), sr=8000)
    assert d.keyword == "activate" and abs(d.end - want_d[0].end) < 0.1


def test_a_detector_and_a_recognizer_of_ones_own_are_used(audio):
    det = speechseq.load_detector(ROOT / "models" / "computer.onnx")
    assert det.keywords == ["computer"] and speechseq.detect(SAMPLE, detector=det) == []
    two = speechseq.load_detector([ROOT / "models" / "activate.onnx", ROOT / "models" / "computer.onnx"],
                                  threshold=0.5)
    assert two.thresholds == [0.5, 0.5]
    assert speechseq.load_detector().keywords == ["activate", "computer"]   # the shipped ones, as detect picks them
    rec = speechseq.load_recognizer(ROOT / "models" / "recognizer-en.int8.onnx", decoder="greedy")
    assert rec.decoder == "greedy" and rec.options.decoder == "greedy" and rec.vad is not None
    assert speechseq.transcribe(audio, sr=16000, recognizer=rec).words
    assert speechseq.load_recognizer(decoder="beam-lm", vad="off").options is None   # the text decoder's own


@pytest.mark.parametrize("call, said", [
    (lambda a: speechseq.transcribe(a), r"pass sr= in Hz"),
    (lambda a: speechseq.detect(a), r"pass sr= in Hz"),
    (lambda a: speechseq.transcribe(SAMPLE, sr=16000), r"sr=16000 is for samples"),
    (lambda a: speechseq.detect(a, sr=100), r"sr=100: a sample rate in Hz from 4000"),
    (lambda a: speechseq.detect(a, sr=float("nan")), r"sr=nan"),
    (lambda a: speechseq.transcribe(np.stack([a, a]), sr=16000), r"shape \(2, 82640\) \(channels first\? pass"),
    (lambda a: speechseq.detect(a[:0], sr=16000), r"no samples"),
    (lambda a: speechseq.detect(None, sr=16000), r"must be samples"),
    (lambda a: speechseq.transcribe("no/such.wav"), r"^no/such.wav: no such file$"),
    (lambda a: speechseq.detect(ROOT / "README.md"), r"README.md: cannot decode audio"),
    (lambda a: speechseq.load_detector("no/such.onnx"), r"^no/such.onnx: no such model file$"),
    (lambda a: speechseq.load_recognizer(ROOT / "models"), r"models: is a directory, not a model file$"),
    (lambda a: speechseq.load_recognizer(decoder="beam-lm", commands=HOME), r"commands= works with the greedy"),
    (lambda a: speechseq.load_recognizer(commands="no/such.txt"), r"no/such.txt: no such command list"),
])
def test_a_users_mistake_is_one_error(audio, call, said):
    with pytest.raises(SpeechseqError, match=said):
        call(audio)


def test_bad_argument_values_are_value_errors():
    with pytest.raises(ValueError, match="decoder must be one of auto, greedy"):
        speechseq.load_recognizer(decoder="fast")
    with pytest.raises(ValueError, match="vad must be one of auto, silero, energy, off"):
        speechseq.load_recognizer(vad="webrtc")
    with pytest.raises(ValueError, match=r"threshold must lie in \(0, 1\)"):
        speechseq.load_detector(threshold=1.5)


def test_without_shipped_models_the_error_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHSEQ_MODELS", str(tmp_path))
    for call, what in ((speechseq.load_detector, "no shipped detectors"),
                       (speechseq.load_recognizer, "no recognizer-en.onnx"),
                       (lambda: speechseq.transcribe(SAMPLE), "no recognizer-en.onnx")):
        with pytest.raises(SpeechseqError, match=f"^{what} in {re.escape(str(tmp_path))} .set SPEECHSEQ_MODELS"):
            call()


def test_the_readme_example_runs_as_written():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Use it from Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out, before = io.StringIO(), os.getcwd()
    os.chdir(ROOT)   # its paths are the checkout's
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, "<README: Use it from Python>", "exec"), {})
    finally:
        os.chdir(before)
    lines = out.getvalue().splitlines()
    t = speechseq.transcribe(SAMPLE)
    assert lines[0] == t.text and len(lines) == 1 + len(t.words) + 1
    keyword, start, end, score = lines[-1].split()
    assert keyword == "activate" and 1.0 < float(start) < float(end) < 1.9


def test_load_listener_hears_what_speechseq_listen_hears():
    """The Listener docstring's example (a greedy Transcriber) wrote "ern on the cictan life" where `speechseq listen`
    writes its lexicon search's text: load_listener gives the command's listener, its final the command's."""
    from speechseq.runtime.events import FinalEvent, WakeEvent
    from speechseq.sources import FileStream

    listener = speechseq.load_listener()
    assert isinstance(listener, speechseq.Listener)
    state, events = listener.initial_state(), []
    with FileStream(SAMPLE, realtime=False) as source:   # as `listen --input FILE --fast` streams it
        for block in source.blocks():
            new, state = listener.step(block, state)
            events += new
    events += listener.finish(state)
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--json")
    assert code == 0, err
    cli = [json.loads(line) for line in out.splitlines()]
    (wake,) = [e for e in events if isinstance(e, WakeEvent)]
    (final,) = [e for e in events if isinstance(e, FinalEvent)]
    (cli_final,) = [e for e in cli if e["event"] == "final"]
    assert wake.keyword == "activate" and final.text == cli_final["text"] != ""
    assert [(w.word, round(w.start, 3), round(w.end, 3)) for w in final.words] == [
        (w["word"], w["start"], w["end"]) for w in cli_final["words"]]
    with_list = speechseq.load_listener(commands=HOME)
    assert with_list.transcriber.opts.commands is not None and listener.transcriber.opts.commands is None
