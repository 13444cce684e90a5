"""`speechseq train detector` as the README runs it: synthetic clips only, no background recordings."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")
pytest.importorskip("onnx")

from speechseq.commands.train_detector import generated_backgrounds  # noqa: E402


def _clips(tmp_path, word: str, n: int) -> list[str]:
    """n short tone bursts written as WAV files (stand-ins for spoken clips)."""
    paths = []
    for i in range(n):
        t = np.arange(int(16000 * (0.3 + 0.1 * i))) / 16000
        p = tmp_path / f"{word}-{i}.wav"
        sf.write(p, 0.4 * np.sin(2 * np.pi * (200 + 50 * i) * t), 16000)
        paths.append(str(p))
    return paths


def test_generated_backgrounds_validate_a_run_without_background_recordings(tmp_path):
    from speechseq.train.kwbank import BankItem

    items = [BankItem(p, "neg") for p in _clips(tmp_path, "neg", 6)] + \
        [BankItem(p, "val_neg") for p in _clips(tmp_path, "held", 2)] + [BankItem(str(tmp_path / "gone.wav"), "neg")]
    alone = generated_backgrounds(items, seconds=2)
    given = generated_backgrounds(items + [BankItem("room.wav", "val_bg")], seconds=2)
    assert sorted(r for _, r in alone.values()) == ["bg"] * 4 + ["val_bg"] * 3
    assert sorted(given) == ["babble", "brown", "pink", "white"]
    for name, (audio, _) in given.items():           # the training draws are the same either way
        np.testing.assert_array_equal(alone[name][0], audio)
    for k in ("white", "pink", "brown"):             # validation noise is a draw of its own
        assert alone[f"val-{k}"][0].shape == alone[k][0].shape == (32000,)
        assert abs(np.corrcoef(alone[f"val-{k}"][0], alone[k][0])[0, 1]) < 0.5
    assert "val-babble" not in alone                 # sound-alikes' babble is too keyword-like to validate on
    b = alone["babble"][0]                           # the 6 readable negatives (the missing one left out), peak 0.5
    assert np.max(np.abs(b)) == pytest.approx(0.5) and 0.1 < np.mean(np.abs(b) > 1e-4) < 1.0


def test_train_detector_with_synthetic_clips_only_is_validated(tmp_path):
    """The README's custom-keyword path (--synth only): each epoch reports false rejects at the target
    false-accept rate, and the exported model carries the threshold that validation chose."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/install-system.sh)")
    from speechseq.runtime.onnx import read_metadata
    from speechseq.train.synth import Voice, synthesize

    synth = tmp_path / "kw-yes"
    (synth / "audio").mkdir(parents=True)
    voices = ["en-us", "en-gb", "en-us+f3", "en-gb-scotland", "en-029", "en-us+m3"]
    for word, manifest in (("yes", "positives.jsonl"), ("no", "negatives.jsonl")):
        rows = []
        for i, v in enumerate(voices):
            name = f"audio/{word}-{i}.wav"
            sf.write(synth / name, 0.5 * synthesize(word, Voice("espeak-ng", v)), 16000)
            rows.append({"audio_filepath": name, "text": word, "engine": "espeak-ng", "voice": v,
                         "heldout": i >= 4})
        (synth / manifest).write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "speechseq", "train", "detector", "--keyword", "yes", "--synth",
                        str(synth), "--out", str(out), "--epochs", "1", "--steps", "3", "--batch", "8",
                        "--workers", "1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "no --backgrounds" in r.stderr and "no held-out" not in r.stderr
    assert "Converting a tensor" not in r.stderr and "batch_size other than 1" not in r.stderr  # export is quiet
    history = json.loads((out / "history.json").read_text())
    assert {"val_frr_at_fa", "val_threshold", "val_fa_per_h"} <= set(history[-1])
    meta = read_metadata(out / "yes.onnx")
    assert meta["threshold"] == pytest.approx(history[-1]["val_threshold"])
    assert meta["metrics"]["val_frr_at_fa"] == history[-1]["val_frr_at_fa"]
    frr, th = 100 * history[-1]["val_frr_at_fa"], history[-1]["val_threshold"]
    assert f"threshold {th:.2f}: on held-out clips it missed {frr:.1f} %" in r.stdout  # the run's summary


def test_held_out_sound_alikes_do_not_set_the_threshold(tmp_path):
    """Validation counts false accepts per hour of ordinary words and phrases: held-out sound-alikes
    ("amalia" for "amelia") are left out of it; the training ones stay negatives, as do held-out words."""
    from speechseq.commands.train_detector import items_from

    rows = [("amalia", "sound-alike", False), ("emilia", "sound-alike", True), ("window", "word", True),
            ("the old house", "phrase", False)]
    (tmp_path / "negatives.jsonl").write_text("".join(
        json.dumps({"audio_filepath": f"audio/{i}.wav", "text": t, "kind": k, "heldout": h, "engine": "pico"}) + "\n"
        for i, (t, k, h) in enumerate(rows)))
    got = [(it.text, it.role) for it in items_from([str(tmp_path / "negatives.jsonl")], "neg", "amelia")]
    assert got == [("amalia", "neg"), ("window", "val_neg"), ("the old house", "neg")]
