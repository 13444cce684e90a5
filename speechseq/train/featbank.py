"""Precomputed log-mel features of a corpus, packed and quantised to one byte per value.

Training a recogniser reads the same utterances for many epochs; computing their features once
saves the time, and packing them small lets a corpus travel (e.g. to a GPU machine) as a few
tens of megabytes. Values are quantised on a fixed grid,

    q = clip(round((x - LOW) / STEP), 0, 255)        x = LOW + STEP * q,

LOW = -14 (just below the frontend's log floor, log 1e-6 = -13.8) and STEP = 0.25 (1.1 dB in
power; quantisation noise 0.07, far below the spread of speech features), covering [-14, 49.75].
Files: NAME.json (texts, sources, offsets, the frontend config) and NAME.u8.xz (the frames,
uint8 (N, F), lzma-compressed). Loading needs numpy and lzma only (no audio libraries).
(Owner: the recogniser, issue 4. The detector's own bank is speechseq/train/kwbank.py.)
"""
from __future__ import annotations

import json
import lzma
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..frontend import FrontendConfig, logmel

__all__ = ["LOW", "STEP", "FeatureBank", "quantize", "dequantize", "trim_silence_frames", "featurize"]

LOW, STEP = -14.0, 0.25


def quantize(x: np.ndarray) -> np.ndarray:
    """Log-mel (any shape) -> uint8 on the fixed grid."""
    return np.clip(np.round((np.asarray(x, np.float32) - LOW) / STEP), 0, 255).astype(np.uint8)


def dequantize(q: np.ndarray) -> np.ndarray:
    """uint8 -> float32 log-mel."""
    return (LOW + STEP * q.astype(np.float32)).astype(np.float32)


def trim_silence_frames(feats: np.ndarray, margin: int = 30, below_peak: float = 9.2) -> slice:
    """Frames to keep: from `margin` frames before the first to `margin` after the last frame
    whose energy is within `below_peak` (natural log of power: 9.2 = 40 dB) of the loudest.

    feats: (T, F) log-mel. Only long silences are cut: speech keeps its `margin` of quiet.
    """
    if len(feats) == 0:
        return slice(0, 0)
    energy = np.logaddexp.reduce(feats.astype(np.float64), axis=1)
    loud = np.flatnonzero(energy >= energy.max() - below_peak)
    return slice(max(0, int(loud[0]) - margin), min(len(feats), int(loud[-1]) + 1 + margin))


@dataclass
class FeatureBank:
    """Utterances' quantised features end to end: frames[offsets[i]:offsets[i+1]] is item i.

    frames: (N, F) uint8; offsets: (n + 1,) int64; texts: normalised transcripts; sources: the
    corpus of each item (for weighting and reporting); frontend: FrontendConfig as a dict.
    """

    frames: np.ndarray
    offsets: np.ndarray
    texts: list[str]
    sources: list[str]
    frontend: dict

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> np.ndarray:
        """Item i as float32 log-mel, (T_i, F)."""
        return dequantize(self.frames[self.offsets[i]:self.offsets[i + 1]])

    @property
    def lengths(self) -> np.ndarray:
        """(n,) frames per item."""
        return np.diff(self.offsets)

    @property
    def hours(self) -> float:
        return float(self.offsets[-1]) / FrontendConfig(**self.frontend).frame_rate / 3600

    def subset(self, index: Sequence[int]) -> "FeatureBank":
        index = [int(i) for i in index]
        parts = [self.frames[self.offsets[i]:self.offsets[i + 1]] for i in index]
        lengths = np.array([len(p) for p in parts], dtype=np.int64)
        frames = np.concatenate(parts) if parts else self.frames[:0]
        return FeatureBank(frames, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                           [self.texts[i] for i in index], [self.sources[i] for i in index], dict(self.frontend))

    @staticmethod
    def concat(banks: Sequence["FeatureBank"]) -> "FeatureBank":
        if not banks:
            raise ValueError("nothing to concatenate")
        if any(b.frontend != banks[0].frontend for b in banks):
            raise ValueError("feature banks made with different frontends cannot be joined")
        lengths = np.concatenate([b.lengths for b in banks])
        return FeatureBank(np.concatenate([b.frames for b in banks]),
                           np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                           [t for b in banks for t in b.texts], [s for b in banks for s in b.sources],
                           dict(banks[0].frontend))

    def save(self, path: str | os.PathLike) -> tuple[Path, Path]:
        """Write PATH.json and PATH.u8.xz (PATH without suffix). Returns both paths."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {"frontend": self.frontend, "low": LOW, "step": STEP, "n_mels": int(self.frames.shape[1]),
                "offsets": self.offsets.tolist(), "texts": self.texts, "sources": self.sources}
        js, xz = _files(path)
        # temp files + rename, the frames first: a NAME.json on disk always has its whole NAME.u8.xz
        for dest, data in ((xz, lzma.compress(np.ascontiguousarray(self.frames).tobytes(), preset=6)),
                           (js, json.dumps(meta).encode())):
            tmp = dest.with_name(dest.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, dest)
        return js, xz

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FeatureBank":
        """The bank saved at PATH (PATH.json and PATH.u8.xz; either file's name works too). SpeechseqError naming the
        bank when a file is missing, unreadable or not a bank's."""
        from ..errors import SpeechseqError

        path = Path(path)
        js, xz = _files(path)
        try:
            meta = json.loads(js.read_text())
            if (meta["low"], meta["step"]) != (LOW, STEP):
                raise SpeechseqError(f"{js}: quantised on another grid ({meta['low']}, {meta['step']}); "
                                     "make the features again")
            raw = lzma.decompress(xz.read_bytes())
            frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, meta["n_mels"])
            bank = cls(frames, np.asarray(meta["offsets"], dtype=np.int64), meta["texts"], meta["sources"],
                       meta["frontend"])
        except SpeechseqError:
            raise
        except FileNotFoundError as err:
            raise SpeechseqError(f"feature bank not found: {err.filename}") from None
        except (OSError, ValueError, KeyError, TypeError, lzma.LZMAError) as err:  # JSONDecodeError is a ValueError
            raise SpeechseqError(f"{js.with_name(js.name[:-5])}: not a readable feature bank "
                                 f"({type(err).__name__}: {err}); make the features again") from None
        if len(bank.offsets) != len(bank.texts) + 1 or bank.offsets[-1] != len(frames):
            end = int(bank.offsets[-1]) if len(bank.offsets) else 0
            raise SpeechseqError(f"{js}: its offsets do not match its frames ({end} against {len(frames)}); "
                                 "make the features again")
        return bank


def _files(path: Path) -> tuple[Path, Path]:
    """PATH.json and PATH.u8.xz: the suffixes appended (a name with dots keeps them), either one's name also taken."""
    name = path.name
    for known in (".u8.xz", ".json"):
        if name.endswith(known):
            name = name[: -len(known)]
            break
    return path.with_name(name + ".json"), path.with_name(name + ".u8.xz")


def featurize(utterances: Sequence, cfg: FrontendConfig, source: str, trim: bool = True,
              load: Callable[[object], np.ndarray] | None = None, progress: bool = True) -> FeatureBank:
    """Features of `utterances` (speechseq.train.data.Utterance), texts normalised.

    load(utt) -> float32 16 kHz audio; default: the file (its [offset, end) segment if set).
    Utterances whose normalised text is empty or whose audio holds no frame are left out, with one
    SpeechseqWarning that counts them; one whose audio cannot be read, with a warning of its own.
    """
    import warnings

    from ..errors import SpeechseqWarning
    from ..text import normalize

    if load is None:
        from ..audio import load_audio

        def load(u):
            x = load_audio(u.audio, cfg.sample_rate)
            if u.offset is not None:
                a = int(u.offset * cfg.sample_rate)
                b = len(x) if u.end is None else int(u.end * cfg.sample_rate)
                x = x[a:b]
            return x

    it = utterances
    if progress:
        from tqdm import tqdm

        it = tqdm(utterances, desc=f"features {source}", unit="utt", file=sys.stderr)
    parts, texts = [], []
    no_text = no_audio = unreadable = 0
    for u in it:
        text = normalize(u.text)
        if not text:
            no_text += 1
            continue
        try:
            f = logmel(load(u), cfg)
        except Exception as err:  # noqa: BLE001 - one unreadable file must not stop a corpus
            why = str(err).removeprefix(f"{Path(u.audio)}: ")  # the reader's message names the file too
            warnings.warn(f"skipped {u.audio}: {why}", SpeechseqWarning, stacklevel=2)
            unreadable += 1
            continue
        if trim:
            f = f[trim_silence_frames(f)]
        if len(f) == 0:
            no_audio += 1
            continue
        parts.append(quantize(f))
        texts.append(text)
    if no_text or no_audio or unreadable:
        why = [f"{no_text} with no text in a-z ' after normalisation"] * bool(no_text) + \
            [f"{no_audio} with audio shorter than one frame"] * bool(no_audio) + \
            [f"{unreadable} unreadable"] * bool(unreadable)
        left = no_text + no_audio + unreadable
        warnings.warn(f"{source}: {left} of {len(utterances)} utterances left out ({', '.join(why)})",
                      SpeechseqWarning, stacklevel=2)
    lengths = np.array([len(p) for p in parts], dtype=np.int64)
    frames = np.concatenate(parts) if parts else np.zeros((0, cfg.n_mels), np.uint8)
    return FeatureBank(frames, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64), texts,
                       [source] * len(texts), cfg.to_dict())
