"""The manifest splits of evaluation audio, in a module of their own: the command-line parser names them in its help,
and building it imports no training code (speechseq.train.manifests reads audio headers with soundfile)."""
from __future__ import annotations

__all__ = ["EVAL_SPLITS"]

# the splits of evaluation audio, never trained on: Kathleen dev, FSDD and LibriSpeech test, Speech Commands
# validation and test
EVAL_SPLITS = ("dev", "test", "validation")
