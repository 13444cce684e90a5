"""Recogniser outputs over a manifest, for tuning and analysing decoders: each utterance's CTC
log-probs (T', V) and, when the recogniser graph has an `encoder_out` output, its BiLSTM outputs
(T', E) for the attention decoder, with the seconds the frontend and the graph took.

    outs = manifest_outputs("models/recognizer-en.onnx", "../shared/data/kathleen/manifest.jsonl", split="dev")
"""
from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..audio import mono_samples
from ..frontend import logmel
from .onnx import ModelError, frontend_of, make_session, reading_metadata, session_metadata

__all__ = ["Utterance", "RecognizerRunner", "manifest_outputs"]


@dataclass(frozen=True)
class Utterance:
    """key: audio path; text: the transcript as the manifest writes it; duration: seconds of audio;
    log_probs: (T', V); memory: (T', E) or None; seconds: frontend + recogniser CPU wall time."""

    key: str
    text: str
    duration: float
    log_probs: np.ndarray
    memory: np.ndarray | None
    seconds: float


class RecognizerRunner:
    """An exported recogniser graph (input `features`, outputs `log_probs` [+ `encoder_out`])."""

    def __init__(self, path: str | os.PathLike, threads: int = 1) -> None:
        self.session = make_session(path, threads)
        self.meta = session_metadata(self.session, path)
        if self.meta.get("kind") != "recognizer":
            raise ModelError(f"{path}: not a speechseq recogniser (kind {self.meta.get('kind')!r})")
        with reading_metadata(path, "recogniser"):
            self.frontend = frontend_of(self.meta)
        outputs = [o.name for o in self.session.get_outputs()]
        self.outputs = ["log_probs"] + (["encoder_out"] if "encoder_out" in outputs else [])
        self.has_memory = len(self.outputs) == 2

    def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """audio (N,) float32 at the frontend's rate -> (log_probs (T', V), memory (T', E) or None)."""
        feats = logmel(mono_samples(audio), self.frontend)
        if len(feats) == 0:
            feats = np.zeros((1, self.frontend.n_mels), np.float32) + np.log(self.frontend.floor)
        res = self.session.run(self.outputs, {"features": feats[None].astype(np.float32)})
        return res[0][0], (res[1][0] if self.has_memory else None)


def manifest_outputs(model: str | os.PathLike | RecognizerRunner, manifest: str | os.PathLike,
                     split: str | Sequence[str] | None = None, limit: int | None = None,
                     threads: int = 1, on_error: Callable[[str], None] | None = None) -> list[Utterance]:
    """Run the recogniser on every utterance of a manifest (the first `limit` ones). An utterance whose audio cannot
    be read (missing, empty, not audio; a segment past its file's end) raises its error; given `on_error`, it is
    called with that one-line message instead, the utterance is left out and the rest go on (a batch command). With a
    limit, a row skipped after the limit-th utterance is not reported, as in `speechseq eval recognizer`."""
    from ..audio import AudioError, load_audio
    from ..train.manifests import load_manifest

    runner = model if isinstance(model, RecognizerRunner) else RecognizerRunner(model, threads)
    if on_error is None:
        utts = load_manifest(manifest, split=split)[:limit]
    else:
        with warnings.catch_warnings(record=True) as caught:  # a row load_manifest skips: "... (skipped)"
            warnings.simplefilter("always")
            utts = load_manifest(manifest, split=split, skip_missing=True)[:limit]
        if limit is not None:  # the rows up to the limit-th utterance: a skipped one read before it (SkippedRow.kept)
            caught = [w for w in caught if getattr(w.message, "kept", 0) < limit]
        for w in caught:
            if str(w.message).endswith("(skipped)"):
                on_error(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    out = []
    for u in utts:
        try:
            audio = load_audio(u.audio, sr=runner.frontend.sample_rate)
        except AudioError as err:
            if on_error is None:
                raise
            on_error(str(err))
            continue
        if u.offset is not None:
            sr, whole = runner.frontend.sample_rate, len(audio)
            audio = audio[int(u.offset * sr): None if u.end is None else int(u.end * sr)]
            if len(audio) == 0:  # past the file's end: no audio, as an empty file (one floor frame was run instead)
                err = AudioError(f"{u.audio}: the segment from {u.offset:g} s holds no audio samples (the file has "
                                 f"{whole / sr:g} s)")
                if on_error is None:
                    raise err
                on_error(str(err))
                continue
        t0 = time.perf_counter()
        lp, mem = runner(audio)
        out.append(Utterance(u.audio, u.text, len(audio) / runner.frontend.sample_rate, lp, mem,
                             time.perf_counter() - t0))
    return out
