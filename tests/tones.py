"""A manifest of half-second tones named yes/no/stop/go, for training runs of a tiny recogniser that learn nothing
in a few epochs (the WER stays at 100 %, the training loss falls): what the undertrained warning is tested on."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def tone_manifest(folder: Path, copies: int) -> Path:
    """folder/m.jsonl over `copies` x 4 tones written beside it (seeded: the same every run)."""
    import soundfile as sf

    rng = np.random.default_rng(0)
    rows = []
    for k, text in enumerate(["yes", "no", "stop", "go"] * copies):
        t = np.arange(8000) / 16000
        audio = 0.3 * np.sin(2 * np.pi * (300 + 150 * (k % 4)) * t) + 0.01 * rng.standard_normal(len(t))
        sf.write(folder / f"{k}.wav", audio.astype(np.float32), 16000)
        rows.append({"audio_filepath": f"{k}.wav", "duration": 0.5, "text": text})
    (folder / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder / "m.jsonl"
