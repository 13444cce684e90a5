"""`speechseq analyze` and `tune fusion` as `eval recognizer` counts: --limit covers the rows up to the N-th utterance
(a missing file after it is neither read nor reported), and an output is compared with its reference normalised."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from speechseq.cli import main
from speechseq.runtime.analysis import analyze_attention, analyze_ctc
from speechseq.text import EOS, VOCAB

from .ctc_spelling import spelling
from tests.table_decoder import table_step

ROOT = Path(__file__).resolve().parents[1]
RECOGNIZER, LM = ROOT / "models" / "recognizer-en.onnx", ROOT / "models" / "lm-en.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
needs_models = pytest.mark.skipif(not (RECOGNIZER.exists() and LM.exists() and SAMPLE.exists()),
                                  reason="shipped models or sample missing")


@pytest.fixture
def gaps(tmp_path) -> Path:
    """Four rows: the sample, a missing file, the sample, a missing file."""
    rows = [{"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights"},
            {"audio_filepath": str(tmp_path / "gone1.wav"), "text": "one"},
            {"audio_filepath": str(SAMPLE), "text": "activate turn on the kitchen lights"},
            {"audio_filepath": str(tmp_path / "gone2.wav"), "text": "two"}]
    m = tmp_path / "m.jsonl"
    m.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return m


@needs_models
def test_manifest_outputs_reports_no_row_after_the_limit(gaps):
    """limit=1: the two missing rows lie after the first utterance, and were both passed to on_error."""
    from speechseq.runtime.posteriors import manifest_outputs

    said: list[str] = []
    assert len(manifest_outputs(RECOGNIZER, gaps, limit=1, on_error=said.append)) == 1
    assert said == []
    assert len(manifest_outputs(RECOGNIZER, gaps, limit=2, on_error=said.append)) == 2
    assert said == [f"{gaps}:2: audio file not found: {gaps.parent / 'gone1.wav'} (skipped)"]


@needs_models
@pytest.mark.parametrize("command", [["analyze", "--model", str(RECOGNIZER), "--beam", "2"],
                                     ["tune", "fusion", "--model", str(RECOGNIZER), "--lm", str(LM), "--alphas", "0",
                                      "--betas", "0", "--beam", "2", "--json"]])
def test_limit_means_what_it_means_in_eval_recognizer(command, gaps, capsys):
    """`--limit 1` warned of both missing rows after the first utterance, "2 of 3 utterance(s) could not be read",
    and exited 1; `eval recognizer --limit 1` reads and reports neither. With --limit 2, the one before the second."""
    assert main([*command, "--manifest", str(gaps), "--limit", "1"]) == 0
    assert capsys.readouterr().err == ""
    assert main([*command, "--manifest", str(gaps), "--limit", "2"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"speechseq: warning: {gaps}:2: audio file not found: {gaps.parent / 'gone1.wav'} (skipped)",
        "speechseq: warning: 1 of 3 utterance(s) could not be read and were skipped"]
    assert main(["eval", "recognizer", "--model", str(RECOGNIZER), "--manifest", str(gaps), "--limit", "1"]) == 0
    assert "skipped" not in capsys.readouterr().err


def test_ctc_output_is_normalised_as_the_reference_is():
    """"the dogs' bones" against "The dogs' bones." (normalised: "the dogs bones") is right, as eval recognizer counts
    it: analyze blamed the model for it."""
    assert analyze_ctc("k", spelling("the dogs' bones"), "The dogs' bones.", beam_size=4) is None
    case = analyze_ctc("k", spelling("the dogs' bone"), "The dogs' bones.", beam_size=4)
    assert case is not None and (case.reference, case.output) == ("the dogs bones", "the dogs' bone")


def test_attention_output_is_normalised_as_the_reference_is():
    apos = VOCAB.index("'")
    a, s = VOCAB.index("a"), VOCAB.index("s")
    step = table_step({(): {a: 1.0}, (a,): {s: 1.0}, (a, s): {apos: 1.0}, (a, s, apos): {EOS: 1.0}})
    kw = {"reorder": lambda states, rows: [states[r] for r in rows], "max_len": 6}
    assert analyze_attention("k", step, [()], "As.", beam_size=2, **kw) is None


@needs_models
def test_analyze_counts_word_errors_of_the_normalised_output(capsys, monkeypatch):
    """Output "the dogs' bone", reference "The dogs' bones.": one word wrong (bone), not two (dogs', bone)."""
    import speechseq.runtime.posteriors as posteriors

    utt = posteriors.Utterance("a.wav", "The dogs' bones.", 2.0, spelling("the dogs' bone"), None, 0.01)
    monkeypatch.setattr(posteriors, "RecognizerRunner", lambda path: None)
    monkeypatch.setattr(posteriors, "manifest_outputs", lambda runner, manifest, split, limit, on_error=None: [utt])
    assert main(["analyze", "--model", str(RECOGNIZER), "--manifest", "m.jsonl", "--beam", "4", "--json"]) == 0
    case = json.loads(capsys.readouterr().out.splitlines()[0])
    assert (case["reference"], case["output"], case["word_errors"]) == ("the dogs bones", "the dogs' bone", 1)
