"""scripts/eval_detectors.py with several synthesis folders (--synth A B): the held-out voices'
keyword clips and the unseen sentences of every folder are measured, each folder by the same rules."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from speechseq.nn.detector import Detector as DetectorNet, DetectorConfig
from speechseq.runtime.detector import Detector
from speechseq.train.export_detector import export_detector
from speechseq.train.manifests import name_pct
from tests.script_loader import load_script

ROOT = Path(__file__).resolve().parents[1]
TINY = DetectorConfig(n_mels=40, conv_channels=16, kernel=7, stride=3, hidden=12, layers=2, dropout=0.1, norm_frames=0)


def _script():
    sys.path.insert(0, str(ROOT / "scripts"))
    return load_script("eval_detectors")


def _wav(path: Path, seconds: float, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(16000 * seconds)) / 16000
    x = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    sf.write(path, x.astype(np.float32), 16000)


# a sentence with the keyword in it, named so that its hash (80) puts it among the unseen sentences
KW_SENTENCE = "audio/kw-hello.wav"


def _folder(root: Path, engine: str, held: list[bool], sentences: int, seed: int) -> None:
    rows = []
    for i, h in enumerate(held):
        name = f"audio/{engine}-kw{i}.wav"
        _wav(root / "kw-hello" / name, 0.5, seed + i)
        rows.append({"audio_filepath": name, "engine": engine, "voice": f"{engine}{i}", "text": "hello", "heldout": h})
    (root / "kw-hello" / "positives.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows = []
    for i in range(sentences):
        name = f"audio/{engine}-s{i}.wav"
        _wav(root / "sentences" / name, 1.0, seed + 10 + i)
        rows.append({"audio_filepath": name, "engine": engine, "text": f"a sentence number {i}", "heldout": False})
    rows.append({"audio_filepath": KW_SENTENCE, "engine": engine, "text": "say hello there", "heldout": False})
    (root / "sentences" / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_several_synthesis_folders_are_measured_together(tmp_path):
    script = _script()
    torch.manual_seed(0)
    model = export_detector(DetectorNet(TINY).eval(), tmp_path / "hello.onnx", {"keyword": "hello", "threshold": 0.5})
    det = Detector.load([model])
    a, b, data = tmp_path / "synth", tmp_path / "synth-new", tmp_path / "data"
    _folder(a, "flite", [True, False, True], 30, seed=0)
    _folder(b, "rhvoice", [False, True], 20, seed=5)
    _wav(data / "noise" / "kitchen.wav", 3.0, seed=99)
    (data / "precise").mkdir(parents=True)
    (data / "precise" / "manifest.jsonl").write_text("")

    both = script.synthetic_positives(det, [a, b], "hello", data)
    assert both["clips"] == 3 and both["voices"] == 3 and both["engines"] == ["flite", "rhvoice"]
    assert script.synthetic_positives(det, [a], "hello", data)["clips"] == 2
    assert script.synthetic_positives(det, [b, tmp_path / "absent"], "hello", data)["clips"] == 1
    for key in ("clean", "snr_20db", "snr_10db", "snr_5db"):
        assert 0 <= both[key]["misses"] <= 3 and both[key]["frr"] == round(both[key]["misses"] / 3, 4)
        at = both[key]["frr_at"]  # the misses at every swept threshold, from the same streams' peaks
        assert list(at) == [str(x) for x in script.SWEEP] and at["0.5"] == both[key]["frr"]
        assert all(a <= b for a, b in zip(list(at.values()), list(at.values())[1:]))
    # a swept threshold's misses are the misses of the detector run at that threshold
    for x in ("0.3", "0.8"):
        other = script.synthetic_positives(Detector(det.models, threshold=float(x)), [a, b], "hello", data)
        assert [other[k]["frr"] for k in ("clean", "snr_20db")] == [both[k]["frr_at"][x] for k in ("clean", "snr_20db")]

    # sentences: from hash 55 on in each folder, never one with the keyword in it
    sa, sb = script.sentences(a, "hello"), script.sentences(b, "hello")
    assert name_pct(KW_SENTENCE) >= 55                  # unseen by its hash: only its keyword leaves it out
    assert all(p.name != Path(KW_SENTENCE).name for p in sa + sb)
    expect = [sum(name_pct(f"audio/{e}-s{i}.wav") >= 55 for i in range(n)) for e, n in (("flite", 30), ("rhvoice", 20))]
    assert [len(sa), len(sb)] == expect and 0 < len(sa) < 30


def test_real_sets_give_any_precise_keyword_its_own_clips(tmp_path):
    """A Precise wake word's real clips (dev half first) are its positives; they are never in the
    real negative sets, while amelia's clips are unseen negatives for every other keyword."""
    from .fake_precise import write_fake_data

    script = _script()
    data = tmp_path / "data"
    write_fake_data(data, ("amelia", "android"), 30, 6)
    android = script.real_sets(data, "android")
    own = android["keyword_real"]
    assert sorted(p.name for p in own) == sorted(f"android-{i}.wav" for i in range(30))
    halves = [name_pct(str(p.relative_to(data / "precise"))) % 2 for p in own]
    assert halves == sorted(halves) and 0 in halves and 1 in halves  # dev half, then test half
    assert own == android["keyword_dev"] + android["keyword_test"] and len(android["keyword_dev"]) == halves.count(0)
    negatives = android["unseen"] + android["threshold_choice"]
    assert not set(own) & set(negatives)
    assert sum("amelia" in p.name for p in negatives) == 30
    amelia = script.real_sets(data, "amelia")
    assert amelia["keyword_real"] == amelia["amelia_dev"] + amelia["amelia_test"]
    assert not any("amelia" in p.name for p in amelia["unseen"] + amelia["threshold_choice"])
    assert script.real_sets(data, "activate")["keyword_real"] == []


def test_no_held_out_clips_or_no_noise_is_a_clear_error(tmp_path):
    """A keyword without held-out synthetic clips in any --synth folder, or data without any real noise
    recording, stops with a message naming what is missing (was a ZeroDivisionError / numpy ValueError)."""
    import pytest

    script = _script()
    torch.manual_seed(0)
    det = Detector.load([export_detector(DetectorNet(TINY).eval(), tmp_path / "hello.onnx", {"keyword": "hello"})])
    data = tmp_path / "data"
    _wav(data / "noise" / "kitchen.wav", 3.0, seed=99)
    (data / "precise").mkdir(parents=True)
    (data / "precise" / "manifest.jsonl").write_text("")
    with pytest.raises(SystemExit, match="no held-out synthetic clips of 'hello'"):
        script.synthetic_positives(det, [tmp_path / "absent"], "hello", data)
    _folder(tmp_path / "synth", "flite", [False, False], 2, seed=0)  # clips, none held out
    with pytest.raises(SystemExit, match="no held-out synthetic clips"):
        script.synthetic_positives(det, [tmp_path / "synth"], "hello", data)
    (data / "noise" / "kitchen.wav").unlink()
    with pytest.raises(SystemExit, match="no real noise recordings"):
        script.real_noises(data)


def _measurement(keyword: str, model: str, threshold: float = 0.5, amelia: bool = False) -> dict:
    """A measurement as measure() writes it, every rate 0.1 and every count 1."""
    script = _script()
    at = {str(t): 0.1 for t in script.SWEEP}
    fa = {"files": 10, "hours": 0.5, "false_accepts": 1, "fa_per_hour": 2.0, "fa_per_hour_at": dict(at)}
    syn = {"clips": 10, "voices": 2, "engines": ["flite"], "median_delay_s": 0.3}
    for key in ("clean", "snr_20db", "snr_10db", "snr_5db"):
        syn[key] = {"frr": 0.1, "misses": 1, "frr_at": dict(at)}
    res = {"keyword": keyword, "threshold": threshold, "model": model, "bytes": 1000, "synthetic_heldout_voices": syn,
           "fa_real_unseen": fa, "fa_real_threshold_choice": fa, "fa_synthetic_sentences": fa,
           "fa_real_unseen_by_set": {"Kathleen dev": {k: fa[k] for k in ("files", "hours", "false_accepts")}}}
    if amelia:
        for half in ("real_amelia_test", "real_amelia_dev"):
            res[half] = {"clips": 10, "frr": 0.1, "frr_at_0.3": 0.1, "frr_at_0.5": 0.1, "frr_at_0.7": 0.1, "frr_at": dict(at)}
        res["real_amelia_noise"] = {f"snr_{s}db": {"clips": 20, "frr": 0.1, "frr_at": dict(at)} for s in (20, 10, 5)}
    return res


def test_the_card_states_the_models_own_threshold_choice_hours_and_recipe(tmp_path):
    """The card's threshold rule names the hours of threshold-choice sentences the model's threshold was
    chosen on, and the epochs and batches it was trained for, from its metadata (not fixed numbers)."""
    script = _script()
    meta = {"parameters": 1234, "step_s": 0.04, "smoothing_steps": 3, "refractory_s": 1.0,
            "recipe": {"epochs": 7, "steps_per_epoch": 150, "batch": 64},
            "threshold_table": {"threshold": [0.5], "tune_bg": {"hours": 0.858, "fa_per_h": [0.0]}}}
    text = script.card(_measurement("hello", "hello.onnx"), None, meta)
    assert "at most 1 per hour on 0.858 h of threshold-choice synthetic sentences" in text
    assert "7 epochs x 150 batches of 64 ten-second mixes" in text and "0.6 h" not in text


def test_cards_only_measures_nothing_and_keeps_the_amelia_section(tmp_path, monkeypatch):
    """--cards-only writes the card from JSON_DIR's measurements: --amelia's from JSON_DIR/amelia.json
    (never measured again), and without --amelia the one KEYWORD.json holds, so the amelia section stays."""
    import pytest

    script = _script()
    torch.manual_seed(0)
    models, jd = tmp_path / "models", tmp_path / "json"
    jd.mkdir()
    export_detector(DetectorNet(TINY).eval(), models / "hello.onnx", {"keyword": "hello", "threshold": 0.5})
    amelia = _measurement("amelia", "runs/x/amelia.onnx", 0.7, amelia=True)
    res = {**_measurement("hello", str(models / "hello.onnx")), "amelia": amelia}
    (jd / "hello.json").write_text(json.dumps(res))
    (jd / "amelia.json").write_text(json.dumps(amelia))

    def no_measuring(*a, **k):
        raise AssertionError("--cards-only measured a model")

    monkeypatch.setattr(script, "measure", no_measuring)
    base = ["eval_detectors.py", "--keywords", "hello", "--models", str(models), "--json-dir", str(jd), "--cards-only"]
    for extra in ([], ["--amelia", "runs/x/amelia.onnx"]):
        (models / "hello.md").unlink(missing_ok=True)
        monkeypatch.setattr(sys, "argv", base + extra)
        script.main()
        text = (models / "hello.md").read_text()
        assert "## The recipe on real voices: \"amelia\"" in text and "--amelia runs/x/amelia.onnx" in text
    monkeypatch.setattr(sys, "argv", base + ["--keywords", "absent"])
    with pytest.raises(SystemExit, match="no model"):
        script.main()


def _unmeasured(tmp_path, monkeypatch):
    """The script, with a tiny "hello" model in tmp_path/models, whose measurements fail the test if reached."""
    script = _script()
    torch.manual_seed(0)
    models = tmp_path / "models"
    export_detector(DetectorNet(TINY).eval(), models / "hello.onnx", {"keyword": "hello", "threshold": 0.5})

    def no_measuring(*a, **k):
        raise AssertionError("measured before the inputs were checked")

    monkeypatch.setattr(script, "measure", no_measuring)
    return script, models


def test_an_amelia_model_of_another_keyword_is_refused_before_any_measurement(tmp_path, monkeypatch):
    """--amelia must name an amelia model (its measurement feeds the card's real-voice rows): another keyword's
    model, or a missing one, stops before anything is measured (it crashed in the card, after the measurements)."""
    import pytest

    script, models = _unmeasured(tmp_path, monkeypatch)
    data = tmp_path / "data"  # the real recordings' manifests, as a clone without ../shared/data lacks them
    for name in ("precise", "kathleen", "fsdd"):
        (data / name).mkdir(parents=True)
        (data / name / "manifest.jsonl").write_text("")
    base = ["eval_detectors.py", "--keywords", "hello", "--models", str(models), "--json-dir", str(tmp_path / "j"),
            "--data", str(data)]
    for amelia, msg in ((models / "hello.onnx", "not an amelia model"), (tmp_path / "none.onnx", "no model")):
        monkeypatch.setattr(sys, "argv", base + ["--amelia", str(amelia)])
        with pytest.raises(SystemExit, match=msg):
            script.main()


def test_missing_real_data_is_named_before_any_measurement(tmp_path, monkeypatch):
    """--data without the real recordings' manifests (a wrong path) was a FileNotFoundError traceback from the first
    measurement; it is one line naming the manifest and --data, before anything is measured."""
    import pytest

    script, models = _unmeasured(tmp_path, monkeypatch)
    monkeypatch.setattr(sys, "argv", ["eval_detectors.py", "--keywords", "hello", "--models", str(models),
                                      "--json-dir", str(tmp_path / "j"), "--data", str(tmp_path / "nodata")])
    with pytest.raises(SystemExit, match=r"nodata/precise/manifest\.jsonl.*--data"):
        script.main()
    data = tmp_path / "data"
    (data / "precise").mkdir(parents=True)
    (data / "precise" / "manifest.jsonl").write_text("")
    with pytest.raises(SystemExit, match=r"data/kathleen/manifest\.jsonl.*--data"):
        script.real_sets(data, "hello")


def test_an_unreadable_recording_is_one_line(tmp_path):
    """A recording that cannot be decoded (here a Precise noise clip) stopped the script with the AudioError's
    traceback; it is one line that names the file."""
    import subprocess

    torch.manual_seed(0)
    models = tmp_path / "models"
    export_detector(DetectorNet(TINY).eval(), models / "hello.onnx", {"keyword": "hello", "threshold": 0.5})
    _folder(tmp_path / "synth", "flite", [True], 1, seed=0)
    data = tmp_path / "data"
    _wav(data / "noise" / "kitchen.wav", 3.0, seed=99)
    (data / "precise" / "noise").mkdir(parents=True)
    (data / "precise" / "noise" / "bad.wav").write_text("not audio")
    (data / "precise" / "manifest.jsonl").write_text(json.dumps({"audio_filepath": "noise/bad.wav", "kind": "noise",
                                                                 "text": ""}) + "\n")
    for name in ("kathleen", "fsdd"):
        (data / name).mkdir()
        (data / name / "manifest.jsonl").write_text("")
    out = subprocess.run([sys.executable, "scripts/eval_detectors.py", "--keywords", "hello", "--models", str(models),
                          "--data", str(data), "--synth", str(tmp_path / "synth"), "--json-dir", str(tmp_path / "j")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert "bad.wav" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def _shipped_card_part(name: str, start: str, end: str) -> str:
    """The text of models/NAME from `start` up to (not with) `end`, spaces collapsed."""
    text = " ".join((ROOT / "models" / name).read_text().split())
    i = text.index(start)
    return text[i: text.index(end, i + len(start))]


def test_a_card_names_the_command_that_writes_it_and_its_own_recipe(tmp_path, monkeypatch):
    """The card template said "card by `python scripts/eval_detectors.py`" (whose default --keywords rewrote both
    cards) and stated activate's recipe for every keyword: `--keywords computer` wrote activate's training command,
    data and notes into computer.md. Each card names its own command (its --keywords alone and the options it ran
    with) and its keyword's recipe, as models/computer.md and models/activate.md state them; the default
    --keywords is gone."""
    import pytest

    script = _script()
    torch.manual_seed(0)
    models, jd = tmp_path / "models", tmp_path / "json"
    jd.mkdir()
    for kw in ("activate", "computer"):
        export_detector(DetectorNet(TINY).eval(), models / f"{kw}.onnx", {"keyword": kw, "threshold": 0.9})
        (jd / f"{kw}.json").write_text(json.dumps(_measurement(kw, str(models / f"{kw}.onnx"), 0.9)))
    amelia = "runs/cpu-exp/models-natural/amelia.onnx"
    (jd / "amelia.json").write_text(json.dumps(_measurement("amelia", amelia, 0.8, amelia=True)))
    base = ["eval_detectors.py", "--models", str(models), "--json-dir", str(jd), "--cards-only"]
    monkeypatch.setattr(sys, "argv", base + ["--keywords", "computer", "--amelia", amelia])
    script.main()
    assert not (models / "activate.md").exists()
    text = " ".join((models / "computer.md").read_text().split())
    # (--cards-only writes the card that this command, which measures too, writes)
    command = f"python scripts/eval_detectors.py --keywords computer --models {models} --json-dir {jd} --amelia {amelia}"
    assert f"card by `{command}`" in text and f"then `.venv/bin/{command}` for this card" in text
    # computer's own recipe (session 8, --variants natural), as its card has it; nothing of activate's
    for start, end in (("**Data:**", "**Command:**"), ("**Command:** `", "`"),
                       ("Trained on", ". Reproduce"), ("Reproduce:", "(stages bank"), ("(the amelia model:", "). Weights"),
                       ("Licences:", "Limits")):
        assert _shipped_card_part("computer.md", start, end) in text, start
    assert "natural-splice" not in text and "spliced" not in text and "android" not in text
    assert "trained by the same recipe from synthetic speech only" in text

    # activate's card command, as its card documents it, is the command the template names
    argv = ("--keywords activate --synth cache/synth cache/synth-new --amelia runs/s22/models-amelia-splice-neg2000/"
            "amelia.onnx --amelia-baseline runs/s19/models-natural/amelia.onnx").split()
    command = script.eval_command(script.arguments().parse_args(argv), "activate")
    assert f"`.venv/bin/{command}` for this card" in " ".join((ROOT / "models" / "activate.md").read_text().split())
    meta = json.loads(json.dumps(script.read_metadata(ROOT / "models" / "activate.onnx")))
    text = " ".join(script.card(_measurement("activate", "models/activate.onnx", 0.75),
                                _measurement("amelia", "a.onnx", 0.9, amelia=True), meta, command=command).split())
    assert f"card by `{command}`" in text
    for start, end in (("**Data:**", "**Command:**"), ("**Command:** `", "`"), ("Trained on", ". Reproduce"),
                       ("Reproduce:", ". Weights"), ("Licences:", "Limits"), ("A second real speaker", "Loud,")):
        assert _shipped_card_part("activate.md", start, end) in text, start

    # no --keywords: a usage error, no card written
    monkeypatch.setattr(sys, "argv", base)
    with pytest.raises(SystemExit) as e:
        script.main()
    assert e.value.code == 2 and not (models / "activate.md").exists()


def test_a_card_keeps_the_end_offset_paragraph_of_its_file():
    """models/activate.md and computer.md state how their "end_offset_table" was measured (session 46,
    scripts/detector_end_offsets.py, written into files exported without one); the card the script writes from a
    measurement kept no such paragraph, so writing the cards again dropped it. It writes each one, word for word as
    the card has it, where the model carries the table, and none for a model without."""
    script = _script()
    for kw, th in (("activate", 0.75), ("computer", 0.9)):
        meta = json.loads(json.dumps(script.read_metadata(ROOT / "models" / f"{kw}.onnx")))
        assert meta["end_offset_table"]["threshold"][0] == 0.05
        text = " ".join(script.card(_measurement(kw, f"models/{kw}.onnx", th), None, meta).split())
        shipped = _shipped_card_part(f"{kw}.md", "Event ends (session 46):", "The events are the same")
        assert shipped in text and f"scripts/detector_end_offsets.py models/{kw}.onnx" in shipped
        untabled = {k: v for k, v in meta.items() if k != "end_offset_table"}
        assert "Event ends (session 46)" not in script.card(_measurement(kw, f"models/{kw}.onnx", th), None, untabled)
