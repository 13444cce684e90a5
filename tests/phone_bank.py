"""A recording aligned to phones, as make_splice_data.py's `align` step writes one, for the splice tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf


def phone_recording(folder: Path, phones: str) -> str:
    """folder/u.wav (noise, 0.1 s a phone) and its alignment, folder/align.json, spelling `phones`: the json's path."""
    names = phones.split()
    audio = (0.1 * np.random.default_rng(0).standard_normal(len(names) * 1600)).astype(np.float32)
    sf.write(folder / "u.wav", audio, 16000)
    (folder / "align.json").write_text(json.dumps([{"audio_filepath": str(folder / "u.wav"), "speaker": "x",
                                                    "phones": [[n, 10 * k, 10] for k, n in enumerate(names)]}]))
    return str(folder / "align.json")
