"""A fake ../shared/data for the scripts that read the Precise manifest: wake-word and
not-wake-word rows (no audio), and empty Kathleen / FSDD manifests."""
from __future__ import annotations

import json
from pathlib import Path


def write_fake_data(data: Path, words: tuple[str, ...], per_word: int, not_wake: int) -> list[dict]:
    """Writes DATA/precise/manifest.jsonl (WORD/WORD-i.wav per wake word, spaces as dashes, and
    nww/nww-i.wav "wine glass" rows) and empty kathleen and fsdd manifests; returns the rows."""
    rows = [{"audio_filepath": f"{d}/{d}-{i}.wav", "kind": "wake-word", "text": w}
            for w in words for d in [w.replace(" ", "-")] for i in range(per_word)]
    rows += [{"audio_filepath": f"nww/nww-{i}.wav", "kind": "not-wake-word", "text": "wine glass"} for i in range(not_wake)]
    (data / "precise").mkdir(parents=True)
    (data / "precise" / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    for name in ("kathleen", "fsdd"):
        (data / name).mkdir()
        (data / name / "manifest.jsonl").write_text("")
    return rows
