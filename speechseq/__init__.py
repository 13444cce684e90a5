"""speechseq: offline trigger-word detection and speech recognition with recurrent sequence models.

Inference runs on onnxruntime alone (no torch); training needs the `train` extra.

    import speechseq
    t = speechseq.transcribe("talk.flac")        # text, words with start, end, confidence (transcribe --format json)
    hits = speechseq.detect(samples, sr=16000)   # keyword, start, end, score (detect --json)

The public API (speechseq/api.py): load_detector, load_recognizer, detect, transcribe, and the live Listener
(speechseq.runtime.listener) with load_listener, which makes the one `speechseq listen` runs. Each is imported on
first use: `import speechseq` (which the command line does) loads neither numpy nor onnxruntime.
"""
from __future__ import annotations

import importlib

from .errors import SpeechseqError

__version__ = "0.1.0"
__all__ = ["load_detector", "load_recognizer", "load_listener", "detect", "transcribe", "Listener",
           "SpeechRecognizer", "SpeechseqError", "__version__"]

# each public name and the module it lives in, imported when the name is first read (PEP 562)
_LAZY = {**{name: "speechseq.api" for name in ("load_detector", "load_recognizer", "load_listener", "detect",
                                               "transcribe", "SpeechRecognizer")},
         "Listener": "speechseq.runtime.listener"}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'speechseq' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value   # read once: later reads find it here
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
