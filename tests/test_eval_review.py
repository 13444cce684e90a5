"""The evaluation code against its definitions, on hand-made cases whose figures are worked out by hand:
the decoder table's WER (scripts/eval_decoders.py), the detector trade-off (scripts/detector_tradeoff.py), and
bad input to `eval recognizer` / `eval detector` (a segment with no audio, references with no words, a
manifest line that is not UTF-8)."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main
from speechseq.errors import SpeechseqError
from speechseq.train.manifests import Utterance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
DETECTOR = ROOT / "models" / "activate.onnx"
RECOGNIZER = ROOT / "models" / "recognizer-en.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
needs_models = pytest.mark.skipif(not (DETECTOR.exists() and RECOGNIZER.exists() and SAMPLE.exists()),
                                  reason="shipped models or sample missing")


class _FakeRecognizer:
    """Recognises every clip as `text`; records the lengths it was given."""

    def __init__(self, text: str) -> None:
        self.frontend, self.text, self.lengths = SimpleNamespace(sample_rate=16000), text, []

    def recognize(self, x: np.ndarray, opts, onset: bool = True) -> SimpleNamespace:
        self.lengths.append(len(x))
        return SimpleNamespace(text=self.text)


def _wav(path: Path, seconds: float) -> Path:
    sf.write(path, (0.1 * np.random.default_rng(0).standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
    return path


# --- scripts/eval_decoders.py: the hypotheses normalised as the references are -------------------------------
def test_eval_decoders_normalises_hypotheses_like_references(tmp_path, monkeypatch):
    """Reference "The dogs' bowls." normalises to "the dogs bowls"; a decoder that writes "the dogs' bowls" (its
    vocabulary has the apostrophe) is exactly right: WER 0, not 1/3 (33.33 %) for an unnormalised hypothesis."""
    import eval_decoders
    import speechseq.runtime.posteriors as posteriors
    import speechseq.runtime.text_decoder as text_decoder

    utt = posteriors.Utterance("a.wav", "The dogs' bowls.", 2.0, np.zeros((5, 29), np.float32), None, 0.01)
    monkeypatch.setattr(posteriors, "RecognizerRunner", lambda path: SimpleNamespace(has_memory=False))
    monkeypatch.setattr(posteriors, "manifest_outputs", lambda runner, manifest, split, limit, on_error=None: [utt])
    monkeypatch.setattr(text_decoder, "TextDecoder",
                        lambda opts, **kw: (lambda lp, mem: SimpleNamespace(text="the dogs' bowls")))
    out = tmp_path / "r.json"
    monkeypatch.setattr(sys, "argv", ["eval_decoders.py", "--model", "r.onnx", "--lm", "lm.onnx",
                                      "--set", "toy=m.jsonl", "--json", str(out)])
    assert eval_decoders.main() == 0
    res = json.loads(out.read_text())["results"]["toy"]
    assert {k: v["wer"] for k, v in res.items() if isinstance(v, dict)} == {
        "greedy": 0.0, "beam 8": 0.0, "beam 8 + LM": 0.0}


# --- scripts/detector_tradeoff.py: the threshold for each false-accept budget -----------------------------------
def _posts(syn: list[list[float]], tops: list[float], hours: float) -> list[dict]:
    """One model's cached posteriors: syn (false accepts), positive clips whose maximum is each of `tops`; raw =
    smoothed (1 step), no refractory time, no wait for the peak, no settling steps."""
    pos = [np.array([0.0, t, 0.0], np.float32) for t in tops]
    return [{"syn": [np.array(p, np.float32) for p in syn], "real": [], "pos": pos, "h_syn": hours,
             "trigger": (1, 0, 0, 0)}]  # no settling steps: these posteriors are three steps long


def test_tradeoff_lowest_threshold_within_each_budget():
    """Two sentences on 2 h peaking at 0.375 and 0.625: FA/h 1.0 at th <= 0.37, 0.5 at 0.38-0.62, 0 from 0.63.
    Positives peaking at 0.25, 0.5, 0.75, 0.875: <= 1/h at th 0.10 (none missed), <= 0.5/h at 0.38 (1 of 4
    missed), 0/h at 0.63 (2 of 4)."""
    from detector_tradeoff import tradeoff

    lines = tradeoff(_posts([[0.0, 0.375, 0.0], [0.1, 0.625, 0.0]], [0.25, 0.5, 0.75, 0.875], 2.0))
    assert lines == ["FA<=2.0/h: th 0.10, missed 0.0 %, real-speech events 0",
                     "FA<=1.0/h: th 0.10, missed 0.0 %, real-speech events 0",
                     "FA<=0.5/h: th 0.38, missed 25.0 %, real-speech events 0",
                     "FA<=0.0/h: th 0.63, missed 50.0 %, real-speech events 0"]


def test_tradeoff_says_when_no_grid_threshold_meets_a_budget():
    """A sentence peaking at 0.99995 on 1 h fires at every grid threshold (0.10-0.9999): 1 FA/h. Budgets 0.5 and 0
    are not met; the old line claimed "FA<=0.5/h: th 0.99, missed 100.0 %", a figure at 1 FA/h."""
    from detector_tradeoff import tradeoff

    lines = tradeoff(_posts([[0.0, 0.99995, 0.0]], [0.5, 0.9], 1.0))
    assert lines[:2] == ["FA<=2.0/h: th 0.10, missed 0.0 %, real-speech events 0",
                         "FA<=1.0/h: th 0.10, missed 0.0 %, real-speech events 0"]
    for budget, line in zip(("0.5", "0.0"), lines[2:]):
        assert line == f"FA<={budget}/h: not met on the grid (at th 0.9999: 1.00/h)"


# --- eval recognizer: bad input ---------------------------------------------------------------------------------
def test_eval_recognizer_skips_a_segment_with_no_audio(tmp_path, capsys):
    """A segment past the file's end (offset 100 s in a 1 s file) holds no samples: reported and skipped, as an
    empty file is; it used to count as a recognised utterance of 0 s (the shipped recogniser hears nothing in it:
    one deletion per reference word, and an RTF of the recogniser's time over 1e-9 s)."""
    from speechseq.commands.eval_recognizer import evaluate

    wav = _wav(tmp_path / "a.wav", 1.0)
    utts = [Utterance(str(wav), "hello", 1.0), Utterance(str(wav), "hello", 1.0, offset=100.0, end=101.0)]
    rec = _FakeRecognizer("hello")
    res = evaluate(rec, utts, opts=None, show_progress=False)
    assert (res["utterances"], res["failed"], res["wer"], res["audio_s"]) == (1, 1, 0.0, 1.0)
    assert rec.lengths == [16000]
    err = capsys.readouterr().err
    assert f"{wav}: the segment from 100 s holds no audio samples (the file has 1 s); skipped" in err


def test_eval_recognizer_references_without_words_are_an_error(tmp_path):
    """References that normalise to nothing ("...", "") leave WER undefined: a SpeechseqError before the work,
    not a ValueError from the metric after it."""
    from speechseq.commands.eval_recognizer import evaluate

    wav = _wav(tmp_path / "a.wav", 0.5)
    rec = _FakeRecognizer("hello")
    with pytest.raises(SpeechseqError, match="the 2 references are all empty once normalised"):
        evaluate(rec, [Utterance(str(wav), "...", 0.5), Utterance(str(wav), "", 0.5)], opts=None, show_progress=False)
    assert rec.lengths == []                                  # nothing recognised first
    # one empty reference among others is fine: its words are insertions (2 + 0) over 1 reference word
    res = evaluate(rec, [Utterance(str(wav), "hello", 0.5), Utterance(str(wav), "?", 0.5)], opts=None,
                   show_progress=False)
    assert res["wer"] == pytest.approx(100.0) and res["utterance_accuracy"] == 50.0


@needs_models
def test_eval_recognizer_cli_empty_references_one_line(tmp_path, capsys):
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": "..."}) + "\n")
    assert main(["eval", "recognizer", "--manifest", str(m)]) == 1
    err = capsys.readouterr().err
    assert "speechseq: error: the 1 reference is empty once normalised" in err and "Traceback" not in err


def _latin1_manifest(path: Path) -> Path:
    """Line 1 fine, line 2 written in Latin-1 ("café")."""
    path.write_bytes((json.dumps({"audio_filepath": str(SAMPLE), "text": "activate"}) + "\n").encode()
                     + b'{"audio_filepath": "x.wav", "text": "caf\xe9"}\n')
    return path


@needs_models
@pytest.mark.parametrize("command", ["detector", "recognizer"])
def test_eval_manifest_line_not_utf8_names_the_line(tmp_path, capsys, command):
    m = _latin1_manifest(tmp_path / "m.jsonl")
    argv = (["eval", "detector", "--model", str(DETECTOR), "--positives", str(m)] if command == "detector"
            else ["eval", "recognizer", "--manifest", str(m)])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert f"speechseq: error: {m}:2: not UTF-8 text" in err and "Traceback" not in err


# --- eval detector: --where on manifest values that are not strings --------------------------------------------
def test_eval_detector_where_matches_json_values_as_the_file_spells_them(tmp_path):
    """Rows `"heldout": true` / `false`: --where heldout=true kept none of them (it compared "True"), so the
    held-out positives were silently left out; as the file spells it, and as Python prints it, both match."""
    from speechseq.commands.eval_detector import collect

    m = tmp_path / "positives.jsonl"
    rows = [{"audio_filepath": f"a{i}.wav", "heldout": i % 2 == 0, "take": i} for i in range(4)]
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    names = lambda where: [p.name for p in collect([str(m)], where)]  # noqa: E731
    assert names(["heldout=true"]) == names(["heldout=True"]) == ["a0.wav", "a2.wav"]
    assert names(["heldout=false"]) == ["a1.wav", "a3.wav"] and names(["take=3"]) == ["a3.wav"]
    assert names(["heldout=yes"]) == []


# --- eval detector: a negative file is followed by the quiet second `detect` hears after it ----------------------
@needs_models
def test_eval_detector_counts_the_false_accept_detect_finds_at_a_files_end(tmp_path, capsys):
    """The sample cut 0.1 s after its "activate": `detect` fires on it (the file is followed by a second of quiet
    noise, as positives are padded: the posterior rises only after a keyword ends), but as a negative it counted
    no false accept, as FSDD digits and synthetic sound-alike clips that end with their word counted none. The
    hours are the file's own 1.8 s."""
    a, sr = sf.read(SAMPLE, dtype="float32")
    cut = tmp_path / "cut.wav"
    sf.write(cut, a[: int(1.8 * sr)], sr)
    assert main(["detect", "--model", str(DETECTOR), "--json", str(cut)]) == 0
    assert [d["keyword"] for d in json.loads(capsys.readouterr().out)["detections"]] == ["activate"]
    assert main(["eval", "detector", "--model", str(DETECTOR), "--negatives", str(cut), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["false_accepts"] == 1 and got["negative_hours"] == round(1.8 / 3600, 4)
    assert got["fa_per_hour"] == pytest.approx(3600 / 1.8, abs=1e-3)


def test_eval_detector_negative_hours_leave_out_the_quiet_tail(tmp_path):
    from speechseq.commands.eval_detector import negative_posteriors
    from speechseq.runtime.detector import Detector
    from tests.test_detector_runtime import LoudnessModel

    det = Detector([LoudnessModel()], range_db=None)
    path = _wav(tmp_path / "two.wav", 2.0)
    plain, hours = negative_posteriors(det, [path], show=False)
    tailed, tail_hours = negative_posteriors(det, [path], show=False, tail=True)
    assert hours * 3600 == tail_hours * 3600 == pytest.approx(2.0)
    assert len(tailed[0][0]) - len(plain[0][0]) == pytest.approx(1.0 / det.models[0].step_s, abs=1)
    np.testing.assert_array_equal(tailed[0][0][: len(plain[0][0])], plain[0][0])


# --- runtime.posteriors (analyze, tune fusion, scripts/eval_decoders.py): a segment with no audio -----------------
@needs_models
def test_manifest_outputs_skips_a_segment_with_no_audio(tmp_path):
    """A segment past its file's end (offset 100 s in a 1 s file) holds no samples: reported through on_error and left
    out, as an unreadable file is (and as eval recognizer skips it), an AudioError without on_error. It was run as
    one floor frame, a 0-s utterance that `speechseq analyze` counted as a wrong output blamed on the model."""
    from speechseq.audio import AudioError
    from speechseq.runtime.posteriors import manifest_outputs

    wav = _wav(tmp_path / "a.wav", 1.0)
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": "a.wav", "text": "hello", "offset": 0.0, "duration": 1.0}) + "\n"
                 + json.dumps({"audio_filepath": "a.wav", "text": "world", "offset": 100.0, "duration": 1.0}) + "\n")
    said: list[str] = []
    outs = manifest_outputs(RECOGNIZER, m, on_error=said.append)
    assert [(u.text, u.duration) for u in outs] == [("hello", 1.0)]
    assert said == [f"{wav}: the segment from 100 s holds no audio samples (the file has 1 s)"]
    with pytest.raises(AudioError, match="the segment from 100 s holds no audio samples"):
        manifest_outputs(RECOGNIZER, m)
