"""Review (s51, d): the less-used commands given bad input. A manifest row whose segment starts before its file
(a negative offset) or ends before it starts (a duration of 0 or less) is one error naming its line, where analyze,
tune fusion and eval recognizer decoded other audio in silence (Python's negative indexing: the file's last
seconds, or all of it but its last); `record --input -` says that audio is not read from standard input, as listen,
detect and features do, not "no such file"; `record --pause-ms` beyond a minute is a usage error, where 1e300 was
a ValueError traceback and 1e8 a tail of silence of 6 GB."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from speechseq.errors import SpeechseqError
from speechseq.train.manifests import load_manifest

from .cli_run import run

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"


def _manifest(tmp_path: Path, rows: list[dict], name: str = "m.jsonl") -> Path:
    m = tmp_path / name
    m.write_text("".join(json.dumps({"audio_filepath": str(SAMPLE), "text": "activate", **r}) + "\n" for r in rows))
    return m


@pytest.mark.parametrize("row, said", [
    ({"offset": -3, "duration": 1.0}, "offset -3: not a number of seconds >= 0"),
    ({"offset": 0, "duration": -1.0}, "duration -1.0: not a number of seconds > 0"),
    ({"offset": 1.5, "duration": 0}, "duration 0: not a number of seconds > 0"),
])
def test_a_manifest_segment_before_its_file_or_of_no_length_is_an_error_naming_its_line(tmp_path, row, said):
    m = _manifest(tmp_path, [{"offset": 0, "duration": 1.0}, row])
    with pytest.raises(SpeechseqError, match=f"^{m}:2: {said}"):
        load_manifest(m)
    csv = tmp_path / "m.csv"   # the CSV reader makes its rows the same way
    csv.write_text(f"audio_filepath,text,offset,duration\n{SAMPLE},activate,{row['offset']},{row['duration']}\n")
    with pytest.raises(SpeechseqError, match=f"^{csv}:2: {said.split(':')[0].split()[0]}"):
        load_manifest(csv)


@pytest.mark.parametrize("end", ["-1", "3"])
def test_a_kaldi_segment_that_starts_before_its_recording_is_an_error(tmp_path, end):
    """Before: 'u1 rec -2 -1' was the recording's last 2 s, and 'u1 rec -2 3' no audio (audio[-32000:48000])."""
    (tmp_path / "wav.scp").write_text(f"rec {SAMPLE}\n")
    (tmp_path / "text").write_text("u0 activate\nu1 activate\n")
    (tmp_path / "segments").write_text(f"u0 rec 0 1\nu1 rec -2 {end}\n")
    with pytest.raises(SpeechseqError, match=rf"^{tmp_path / 'segments'}:2: the segment starts at -2 s, before"):
        load_manifest(tmp_path)


def test_a_segment_from_zero_or_to_the_file_end_is_still_read(tmp_path):
    rows = load_manifest(_manifest(tmp_path, [{"offset": 0, "duration": 1.0}, {"offset": 2.5}]))
    assert [(u.offset, u.end) for u in rows] == [(0.0, 1.0), (2.5, pytest.approx(5.165, abs=1e-3))]


def test_analyze_refuses_a_negative_offset_instead_of_decoding_the_files_end(tmp_path):
    """Before: the row [-3, -2) s was decoded as the file's last 3-2 s (audio[-48000:-32000]), exit 0."""
    m = _manifest(tmp_path, [{"offset": -3, "duration": 1.0}])
    code, out, err = run("analyze", "--model", MODELS / "recognizer-en.int8.onnx", "--manifest", m)
    assert code == 1 and out == ""
    assert f"speechseq: error: {m}:1: offset -3: not a number of seconds >= 0" in err


def test_record_input_dash_says_standard_input_is_not_read(tmp_path):
    code, out, err = run("record", "activate", "--out", tmp_path / "takes", "--input", "-")
    assert code == 1
    assert err.startswith("speechseq: error: -: audio is not read from standard input"), err
    assert "no such file" not in err and not (tmp_path / "takes").exists()


@pytest.mark.parametrize("pause", ["1e300", "60001"])   # (1e8, before: 6 GB of silence streamed for minutes)
def test_record_pause_beyond_a_minute_is_a_usage_error(tmp_path, pause):
    code, out, err = run("record", "activate", "--out", tmp_path / "takes", "--input", SAMPLE, "--pause-ms", pause)
    assert code == 2 and f"argument --pause-ms: must lie in (0, 60000], got {pause}" in err
    assert not (tmp_path / "takes").exists()


def test_record_pause_of_a_minute_still_cuts_the_file(tmp_path):
    code, out, err = run("record", "activate", "--out", tmp_path / "takes", "--input", SAMPLE, "--pause-ms", "60000",
                         "--max-seconds", "10", "--json")
    assert code == 0
    takes = [json.loads(line) for line in out.splitlines()]
    assert [t["event"] for t in takes] == ["take"]   # the whole file one utterance: its pauses are all shorter
