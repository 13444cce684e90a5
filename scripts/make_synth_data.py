#!/usr/bin/env python
"""Make synthetic speech for training: keyword clips with negatives, or spoken sentences.

Usage:
    # The keyword by every installed voice (plus speed/pitch variations), and as many negatives
    # (sound-alikes, ordinary words, short phrases):
    python scripts/make_synth_data.py keyword --keyword activate --out cache/synth/kw-activate \\
        --text ../shared/data/text/ljspeech.txt

    # The keyword said in several ways in turn (the engines' intonation follows the punctuation;
    # no word may follow the keyword, since labels start where the clip ends):
    python scripts/make_synth_data.py keyword --keyword amelia --out cache/synth-p/kw-amelia \
        --phrasings '{}' '{}?' '{}!' 'hey, {}' 'well, {}' '{}...'

    # Sentences by random voices for the recogniser, Kathleen's dev prompts left out:
    python scripts/make_synth_data.py sentences --n 4000 --out cache/synth/sentences \\
        --text ../shared/data/text/arctic_prompts.txt ../shared/data/text/ljspeech.txt \\
        --exclude-manifest ../shared/data/kathleen/manifest.jsonl

Audio goes to OUT/audio/ (16-bit 16 kHz WAV named by a hash of text, voice, speed and pitch, so
a second run only makes what is missing). Manifests (JSONL: audio_filepath relative to the
manifest, duration, text, voice, engine, speed, pitch, heldout) go to OUT/:
keyword -> positives.jsonl, negatives.jsonl; sentences -> train.jsonl, heldout.jsonl.
Voices of the held-out split (speechseq.train.synth.heldout) are marked heldout=true in the
keyword manifests and are written only to heldout.jsonl for sentences: never train on them (a sentence that a
held-out voice says is said by no voice of train.jsonl, also when --n exceeds the sentences available).

The same as `speechseq synth keyword|sentences` (speechseq/commands/synth.py, speechseq/train/synth_sets.py),
kept under this name because the model cards name it.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from speechseq.commands.synth import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
