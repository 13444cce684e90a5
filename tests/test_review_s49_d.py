"""Review of `speechseq eval` and `speechseq export` as a new user runs them (session 49, helper d): what an
interrupted evaluation keeps, a DET curve that cannot be written, which recording each utterance of the --json
report is, a split that is not in the manifest, and an ONNX model given to export as a checkpoint."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main

from .interrupts import interrupted_run

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "activate.onnx"
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"  # "activate, turn on the kitchen lights"
TEXT = "activate turn on the kitchen lights"
pytestmark = pytest.mark.skipif(not (MODEL.exists() and SAMPLE.exists()), reason="shipped model or sample missing")

# The command in a child process whose reading of the file named GATE waits (a marker file written first) until the
# test's Ctrl+C comes: the evaluation is interrupted at a known point, every file before GATE measured, none after.
HELD = """
import sys, time
from pathlib import Path
import speechseq.audio as audio
from speechseq.cli import main

gate, marker = sys.argv[1], Path(sys.argv[2])
for name in ("load_audio", "stream_audio"):
    def held(path, *args, _real=getattr(audio, name), **kw):
        if Path(path).name == gate:
            marker.touch()
            time.sleep(120)
        return _real(path, *args, **kw)
    setattr(audio, name, held)
print("started", flush=True)
sys.exit(main(sys.argv[3:]))
"""


def _held_run(tmp_path: Path, gate: str, argv: list[str]) -> tuple[str, str, int]:
    marker = tmp_path / "at-the-gate"
    return interrupted_run(["-c", HELD, gate, str(marker), *map(str, argv)], "ctrl-c", after_s=0.0, within_s=30,
                           timeout_s=90, ready=marker.is_file)


def _copies(folder: Path, stem: str, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(SAMPLE, folder / f"{stem}{i}.wav")) for i in range(1, n + 1)]


def _noise(path: Path, seconds: float, seed: int) -> Path:
    sf.write(path, (0.01 * np.random.default_rng(seed).standard_normal(int(16000 * seconds))).astype(np.float32),
             16000)
    return path


def _manifest(path: Path, audio: list[Path], text: str = TEXT) -> Path:
    path.write_text("".join(json.dumps({"audio_filepath": str(a), "text": text}) + "\n" for a in audio))
    return path


# --- Ctrl+C part way: the figures so far are reported (and written), then the command stops with 130 ------------
def test_an_interrupted_recognizer_evaluation_reports_and_writes_what_it_measured(tmp_path):
    """Ctrl+C (or SIGTERM) on the 4th of 6 utterances: the figures of the 3 recognised are printed and written to
    --json, marked as interrupted, and the command ends as an interrupted one (130). It printed only "interrupted":
    minutes of recognition lost, and no report."""
    m = _manifest(tmp_path / "m.jsonl", _copies(tmp_path / "audio", "u", 6))
    report = tmp_path / "report.json"
    out, err, code = _held_run(tmp_path, "u4.wav", ["eval", "recognizer", "--manifest", m, "--json", report])
    assert code == 130 and "speechseq: interrupted" in err and "Traceback" not in err
    assert f"{m}: 3 utterances" in out and "interrupted after 3 of 6 utterances" in out and "WER" in out
    res = json.loads(report.read_text())
    assert res["interrupted"] is True and res["utterances"] == 3 and res["utterances_planned"] == 6
    assert len(res["refs"]) == len(res["hyps"]) == len(res["audio"]) == 3
    assert [Path(a).name for a in res["audio"]] == ["u1.wav", "u2.wav", "u3.wav"]


def test_an_uninterrupted_recognizer_report_says_so(tmp_path, capsys):
    m = _manifest(tmp_path / "m.jsonl", _copies(tmp_path / "audio", "u", 2))
    assert main(["eval", "recognizer", "--manifest", str(m), "--json", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["interrupted"] is False and res["utterances"] == res["utterances_planned"] == 2
    assert "interrupted after" not in capsys.readouterr().out


def test_an_interrupted_detector_evaluation_prints_its_summary_so_far(tmp_path):
    """Ctrl+C on the 3rd of 4 negatives: the positives' false rejects and the false accepts over the 2 negatives
    read are printed (marked as interrupted), no threshold is saved and no DET curve drawn; exit code 130."""
    pos = _copies(tmp_path / "pos", "p", 2)
    neg = tmp_path / "neg"
    neg.mkdir()
    for i in range(1, 5):
        _noise(neg / f"n{i}.wav", 3.0, seed=i)
    model = Path(shutil.copy(MODEL, tmp_path / "activate.onnx"))
    before = model.read_bytes()
    out, err, code = _held_run(tmp_path, "n3.wav", ["eval", "detector", "--model", model, "--positives", *pos,
                                                     "--negatives", neg, "--det", tmp_path / "det.png", "--json"])
    assert code == 130 and "speechseq: interrupted" in err and "Traceback" not in err
    summary = json.loads(out)
    assert summary["interrupted"] is True and summary["positives"] == 2 and summary["frr"] == 0.0
    assert summary["negative_hours"] == pytest.approx(6 / 3600, abs=1e-4) and summary["false_accepts"] == 0
    assert not (tmp_path / "det.png").exists() and "no DET curve" in err
    assert model.read_bytes() == before


def test_a_detector_evaluation_interrupted_among_its_positives_keeps_those(tmp_path):
    pos = _copies(tmp_path / "pos", "p", 3)
    out, err, code = _held_run(tmp_path, "p3.wav", ["eval", "detector", "--model", MODEL, "--positives", *pos,
                                                     "--negatives", _noise(tmp_path / "n.wav", 2.0, 0)])
    assert code == 130 and "Traceback" not in err
    assert "interrupted: the figures are those of the files measured before it" in out
    assert "measured on 2 keyword recordings and 0 s of audio without the keyword" in out


# --- a DET curve that cannot be written: the summary is printed all the same ------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_det_curve_the_disk_cannot_take_loses_no_summary(tmp_path, capsys):
    """--det on a full disk (a link to /dev/full): the summary is printed, then one error line naming --det (exit
    1). The OSError ended the command before the summary, in a line that named no file ("No space left on
    device")."""
    png = tmp_path / "det.png"
    png.symlink_to("/dev/full")
    code = main(["eval", "detector", "--model", str(MODEL), "--positives", str(SAMPLE), "--negatives",
                 str(_noise(tmp_path / "n.wav", 2.0, 0)), "--det", str(png)])
    out, err = capsys.readouterr()
    assert code == 1 and "false rejects: 0.00%" in out and "false accepts: 0 " in out and "DET curve" not in out
    assert f"speechseq: error: --det {png}: not written (No space left on device)" in err


# --- the --json report names each utterance's recording -------------------------------------------------------
def test_the_recognizer_report_names_the_recording_of_each_utterance(tmp_path, capsys):
    """refs and hyps in the report came without their files: a worst utterance could not be found and listened to
    (Kathleen dev holds the same sentence twice)."""
    a, b = _copies(tmp_path / "audio", "u", 2)
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(a), "text": TEXT}) + "\n"
                 + json.dumps({"audio_filepath": str(b), "text": "something else entirely"}) + "\n")
    assert main(["eval", "recognizer", "--manifest", str(m), "--json", str(tmp_path / "r.json")]) == 0
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["audio"] == [str(a), str(b)]
    worst = res["worst"][0]
    assert worst["ref"] == "something else entirely" and worst["audio"] == str(b)


# --- wrong kinds of file: one line saying what the file is ------------------------------------------------------
def test_a_manifest_row_naming_a_folder_says_it_is_a_folder(tmp_path, capsys):
    """A row whose audio is a folder was "audio file not found", naming a folder that is there."""
    folder = tmp_path / "clips"
    folder.mkdir()
    m = tmp_path / "m.jsonl"
    m.write_text(json.dumps({"audio_filepath": str(SAMPLE), "text": TEXT}) + "\n"
                 + json.dumps({"audio_filepath": "clips", "text": "x"}) + "\n")
    assert main(["eval", "recognizer", "--manifest", str(m)]) == 1
    err = capsys.readouterr().err
    assert f"speechseq: warning: {m}:2: {folder} is a directory, not an audio file (skipped)" in err
    assert "not found" not in err


def test_export_given_a_model_or_a_foreign_torch_file_says_what_it_is(tmp_path, capsys):
    """An exported .onnx given as the checkpoint was "not a speechseq checkpoint (UnpicklingError)"; a bare state dict
    (another program's .pt) "cannot export a checkpoint of kind None"."""
    torch = pytest.importorskip("torch")
    out = tmp_path / "m.onnx"
    assert main(["export", str(MODEL), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"speechseq: error: {MODEL}: an ONNX model, not a checkpoint: export reads the .pt file" in err
    foreign = tmp_path / "weights.pt"
    torch.save({"linear.weight": torch.zeros(2, 2)}, foreign)
    assert main(["export", str(foreign), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"speechseq: error: {foreign}: not a speechseq checkpoint (no 'kind'" in err and "None" not in err
    assert not out.exists()
