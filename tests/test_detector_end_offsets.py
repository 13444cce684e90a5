"""scripts/detector_end_offsets.py: a trained detector's end-offset table measured on keyword clips placed into
background, streamed through the runtime, written into its metadata alone. On the shipped activate.onnx with
"activate" and background sentences synthesized here by espeak-ng (a required engine, tests/test_synth.py)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.runtime.onnx import read_metadata, write_metadata
from speechseq.train.synth import Voice, synthesize
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "activate.onnx"
VOICES = ["en-us", "en-gb", "en-us+m2", "en-gb+f3", "en-us+klatt3", "en-gb-x-rp+m6", "en-us-nyc", "en-029+f1",
          "en-us+f2", "en-gb-scotland+m5", "en-us+m4", "en-gb+adam"]
SENTENCES = ["the weather stayed mild all week and the river ran slowly past the old mill",
             "she bought two loaves of bread and a basket of apples at the market",
             "nobody knew why the train was late again on a quiet sunday morning"]


@pytest.fixture(scope="module")
def synth_data(tmp_path_factory) -> tuple[Path, Path]:
    """A `speechseq synth keyword` folder of held-out "activate" clips (one a voice) and a folder of background
    sentences without the keyword."""
    root = tmp_path_factory.mktemp("synth")
    kw, bg = root / "kw-activate", root / "bg"
    (kw / "audio").mkdir(parents=True)
    bg.mkdir()
    rows = []
    for i, name in enumerate(VOICES):
        audio = synthesize("activate", Voice("espeak-ng", name))
        sf.write(kw / "audio" / f"{i}.wav", audio, 16000)
        rows.append({"audio_filepath": f"audio/{i}.wav", "duration": len(audio) / 16000, "text": "activate",
                     "voice": name, "engine": "espeak-ng", "heldout": True, "label": 1, "kind": "keyword"})
    (kw / "positives.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for i, (text, name) in enumerate(zip(SENTENCES, ("en-us+m2", "en-gb+f3", "en-us"))):
        sf.write(bg / f"{i}.wav", synthesize(text, Voice("espeak-ng", name)), 16000)
    return kw, bg


def _graph_bytes(path: Path) -> bytes:
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    return model.SerializeToString()


def test_the_table_is_written_alone_and_puts_ends_where_the_keyword_ended(synth_data, tmp_path):
    """The shipped activate.onnx without its table (one end_offset_s, 0.12 s, measured at its validation threshold
    0.97, as it was exported): its events' ends ran 50-110 ms early at its 0.75 and at 0.5. The table measured here
    moves them to within 30 ms, median; the copy written differs from the file in that one metadata field (its graph
    byte for byte the same), and the file itself is left as it was."""
    kw, bg = synth_data
    script = load_script("detector_end_offsets", register=True)
    model = tmp_path / "activate.onnx"
    shutil.copy(SHIPPED, model)
    meta = read_metadata(model)
    meta.pop("end_offset_table", None)  # the file as exported before session 46 (the shipped one carries this table)
    write_metadata(model, meta)
    original = model.read_bytes()
    out = tmp_path / "out" / "tabled.onnx"
    report = script.main([str(model), "--clips", str(kw), "--background", str(bg), "--check-voices", "all",
                          "--out", str(out)])
    table = report["end_offset_table"]
    assert report["keywords_placed"] == len(VOICES) and report["written"] == str(out)
    assert model.read_bytes() == original
    assert read_metadata(out) == {**meta, "end_offset_table": table}
    assert _graph_bytes(out) == _graph_bytes(SHIPPED)
    th, off = np.array(table["threshold"]), np.array(table["end_offset_s"])
    assert len(th) >= 50 and (np.diff(th) > 0).all() and th[0] == pytest.approx(0.05)
    assert np.all(np.abs(off) <= 0.3) and off[-1] >= off[0]  # a higher threshold is crossed later
    before, after = report["check"]["before"], report["check"]["after"]
    assert set(before) == set(after) == {"0.5", "0.75", "0.9"}
    for t in ("0.5", "0.75"):
        assert before[t]["found"] == after[t]["found"] >= len(VOICES) - 2  # the table moves ends, not events
        assert before[t]["median_error_s"] < -0.04, before
        assert abs(after[t]["median_error_s"]) <= 0.03
        assert after[t]["median_abs_error_s"] < before[t]["median_abs_error_s"]


def test_write_replaces_the_model_in_place_keeping_its_mode(synth_data, tmp_path):
    kw, bg = synth_data
    model = tmp_path / "activate.onnx"
    shutil.copy(SHIPPED, model)
    os.chmod(model, 0o640)
    script = load_script("detector_end_offsets", register=True)
    report = script.main([str(model), "--clips", str(kw), "--background", str(bg), "--write"])
    assert read_metadata(model)["end_offset_table"] == report["end_offset_table"]
    assert _graph_bytes(model) == _graph_bytes(SHIPPED)
    assert (model.stat().st_mode & 0o777) == 0o640 and sorted(p.name for p in tmp_path.iterdir()) == ["activate.onnx"]


@pytest.mark.parametrize("case", ["no manifest", "no held-out voice", "empty background", "not a detector"])
def test_bad_inputs_are_one_line_and_leave_the_model(synth_data, tmp_path, case):
    kw, bg = synth_data
    model = tmp_path / "activate.onnx"
    shutil.copy(SHIPPED, model)
    clips, background = kw, bg
    if case == "no manifest":
        clips = tmp_path
    elif case == "no held-out voice":
        clips = tmp_path / "kw"
        shutil.copytree(kw, clips)
        rows = [json.loads(line) for line in (clips / "positives.jsonl").read_text().splitlines()]
        (clips / "positives.jsonl").write_text("".join(json.dumps({**r, "heldout": False}) + "\n" for r in rows))
    elif case == "empty background":
        background = tmp_path / "quiet"
        background.mkdir()
        sf.write(background / "empty.wav", np.zeros(0, np.float32), 16000)
    else:
        shutil.copy(ROOT / "models" / "lm-en.onnx", model)
    before = model.read_bytes()
    out = subprocess.run([sys.executable, "scripts/detector_end_offsets.py", str(model), "--clips", str(clips),
                          "--background", str(background), "--write"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("detector_end_offsets.py: "), out.stderr
    assert {"no manifest": "no positives.jsonl", "no held-out voice": "no clip of a held-out voice",
            "empty background": "no background audio",
            "not a detector": "a language model, not a trigger-word detector"}[case] in last
    assert model.read_bytes() == before
