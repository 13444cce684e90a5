"""Session 48, a new user's walk through README.md and the --help examples: what ran as written, and what did not."""
from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from speechseq.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def _parser_of(*path: str) -> argparse.ArgumentParser:
    p = build_parser()
    for name in path:
        p = next(a.choices for a in p._actions if isinstance(a, argparse._SubParsersAction))[name]
    return p


def _help_commands(text: str, command: str) -> list[list[str]]:
    """The command lines of a --help text that start with `command` (a trailing backslash continues a line),
    comments left out."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [shlex.split(line.strip(), comments=True) for line in joined.splitlines()
            if line.strip().startswith(command + " ")]


def _manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_train_recognizer_help_example_of_two_corpora_runs(tmp_path):
    """`speechseq train recognizer --help` showed `--manifest kathleen/manifest.jsonl --split train --manifest
    cache/synth/sentences/train.jsonl`, but --split names a split of every --manifest, and the rows `synth sentences`
    writes carry none: the example stopped at once ("cache/synth/sentences/train.jsonl: no utterances in split
    'train'"). Run as the help shows it, on a Kathleen-like manifest (train and dev rows) and a synthetic corpus
    without splits, it reads both and leaves the dev row out."""
    pytest.importorskip("torch")
    import soundfile as sf
    from speechseq.commands.train_recognizer import _banks
    from speechseq.train.synth import Voice, synthesize

    texts = ("turn on the light", "open the door", "what time is it", "stop the music")
    kathleen, synth = tmp_path / "kathleen", tmp_path / "sentences"
    kathleen.mkdir()
    synth.mkdir()
    rows_k, rows_s = [], []
    for k, text in enumerate(texts):
        for folder, rows, voice, split in ((kathleen, rows_k, "en-us", ("train", "train", "train", "dev")[k]),
                                           (synth, rows_s, "en-gb", None)):
            audio = synthesize(text, Voice("espeak-ng", voice))
            sf.write(folder / f"{k}.wav", audio, 16000)
            row = {"audio_filepath": f"{k}.wav", "duration": len(audio) / 16000, "text": text}
            if split:
                row["split"] = split
            else:
                row |= {"voice": voice, "engine": "espeak-ng", "heldout": False}
            rows.append(row)
    paths = {"../shared/data/kathleen/manifest.jsonl": str(_manifest(kathleen / "manifest.jsonl", rows_k)),
             "cache/synth/sentences/train.jsonl": str(_manifest(synth / "train.jsonl", rows_s)),
             "runs/my-recognizer": str(tmp_path / "run")}
    examples = [a for a in _help_commands(_parser_of("train", "recognizer").format_help(),
                                          "speechseq train recognizer")
                if "cache/synth/sentences/train.jsonl" in a]
    assert len(examples) == 1, examples
    def here(arg: str) -> str:  # the example's paths, a manifest's @SPLIT kept
        path, at, split = arg.partition("@")
        return paths.get(path, path) + at + split
    args = build_parser().parse_args([here(a) for a in examples[0][1:]])
    # the data the command would train on, as it reads it before training (the training itself is other tests')
    train_parts, val = _banks(args)
    # 3 Kathleen train rows + 4 synthetic ones, a few of them held out for validation; the dev row left out
    assert sum(len(p) for p in train_parts) + len(val) == 7
    assert sorted(t for p in [*train_parts, val] for t in p.texts) == sorted([*texts[:3], *texts])
