"""Keyword clips spliced from a real person's recorded speech: concatenative synthesis by phones.

No synthesis engine here sounds like a person through a microphone, and a detector trained on them
misses many real voices. A speaker's read sentences, aligned to phones, hold that sound: a keyword's
pronunciation is spelled with the longest runs of phones any sentence has (a run is cut whole from
one recording, so the joins are few and fall between phones), joined by short raised-cosine
crossfades. The clip is choppy, but every sample of it is a real voice.

    units = UnitIndex(utterances)                      # utterances: their audio and phone alignment
    audio, plan = splice(units, ("AE", "N", "D", "R", "OY", "D"), rng)

The alignment itself (pocketsphinx's forced alignment) is made by scripts/make_splice_data.py; this
module is pure numpy.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SpeechseqError

__all__ = ["Phone", "Utterance", "Unit", "UnitIndex", "SpliceError", "plan_units", "render", "splice",
           "word_pronunciations", "phrase_choices", "phrase_pronunciations", "SILENCE", "ENGINE"]

ENGINE = "splice"  # the "engine" of spliced clips in a keyword folder's manifests (and a bank's source name)

SILENCE = frozenset({"SIL", "sil", "<sil>", "+NSN+", "+SPN+", "+BREATH+", "+NOISE+"})


class SpliceError(SpeechseqError):
    """A pronunciation that the recorded phones cannot spell."""


@dataclass(frozen=True)
class Phone:
    name: str
    start: int   # samples
    end: int


@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray           # float32 (N,)
    phones: tuple[Phone, ...]   # in time order; silences and noises break runs
    source: str = ""


@dataclass(frozen=True)
class Unit:
    utterance: int   # index into the UnitIndex's utterances
    first: int       # index of its first phone in that utterance
    length: int      # phones


class UnitIndex:
    """Every run of 1..max_len consecutive spoken phones (no silence inside) of every utterance, by its phones."""

    def __init__(self, utterances: Sequence[Utterance], max_len: int = 8) -> None:
        if max_len < 1:
            raise ValueError(f"max_len must be at least 1, got {max_len}")
        self.utterances = list(utterances)
        self.max_len = max_len
        self.runs: dict[tuple[str, ...], list[tuple[int, int]]] = {}
        for u, utt in enumerate(self.utterances):
            names = [p.name for p in utt.phones]
            for i in range(len(names)):
                for n in range(1, max_len + 1):
                    seq = tuple(names[i: i + n])
                    if len(seq) < n or seq[-1] in SILENCE or (n > 1 and utt.phones[i + n - 2].end != utt.phones[i + n - 1].start):
                        break  # a silence, a gap or the end: no longer run starts here
                    self.runs.setdefault(seq, []).append((u, i))

    def phones(self) -> set[str]:
        return {k[0] for k in self.runs}

    def neighbour(self, u: int, i: int) -> str:
        """The phone at index i of utterance u, or "SIL" outside it."""
        phones = self.utterances[u].phones
        return phones[i].name if 0 <= i < len(phones) else "SIL"


def plan_units(index: UnitIndex, target: Sequence[str], rng: np.random.Generator, p_longest: float = 0.6,
               context_weight: float = 3.0) -> list[Unit]:
    """The runs that spell `target`, left to right: at each point the longest run that exists (or, with
    probability 1 - p_longest, the next shorter one, for variety), among its occurrences one drawn at
    random, those whose neighbours match the target's (or its edges) `context_weight` times as likely each."""
    target = tuple(target)
    if not target:
        raise SpliceError("empty pronunciation")
    units: list[Unit] = []
    i = 0
    while i < len(target):
        lengths = [n for n in range(min(index.max_len, len(target) - i), 0, -1) if target[i: i + n] in index.runs]
        if not lengths:
            raise SpliceError(f"no recording has the phone {target[i]!r}")
        n = lengths[0] if len(lengths) == 1 or rng.random() < p_longest else lengths[1]
        cands = index.runs[target[i: i + n]]
        left = target[i - 1] if i > 0 else "SIL"
        right = target[i + n] if i + n < len(target) else "SIL"
        w = np.array([1.0 + context_weight * (index.neighbour(u, j - 1) == left)
                      + context_weight * (index.neighbour(u, j + n) == right) for u, j in cands])
        u, j = cands[int(rng.choice(len(cands), p=w / w.sum()))]
        units.append(Unit(u, j, n))
        i += n
    return units


def _ramp(n: int) -> np.ndarray:
    """A raised-cosine rise over n samples (0 to 1, both ends excluded)."""
    return (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)


def render(index: UnitIndex, units: Sequence[Unit], fade: int = 80) -> np.ndarray:
    """The units' audio in turn, each cut from its first phone's start to its last phone's end and
    overlapped with the next by `fade` samples (raised-cosine crossfade; the cut is widened by fade / 2 on
    each side where the recording allows, so the joins fall on the phone boundaries). The clip's own two
    ends fade in and out over that widening (the neighbouring phones cut there would otherwise be clicks)."""
    half = fade // 2
    pieces = []
    lead = tail = 0
    for k, unit in enumerate(units):
        utt = index.utterances[unit.utterance]
        a, b = utt.phones[unit.first].start, utt.phones[unit.first + unit.length - 1].end
        lo, hi = max(0, a - half), min(len(utt.audio), b + half)
        if k == 0:
            lead = max(0, a - lo)
        if k == len(units) - 1:
            tail = max(0, hi - b)
        pieces.append(np.array(utt.audio[lo: hi], dtype=np.float32))
    if lead:
        pieces[0][:lead] *= _ramp(lead)
    if tail:
        pieces[-1][len(pieces[-1]) - tail:] *= _ramp(tail)[::-1]
    out = pieces[0]
    for p in pieces[1:]:
        f = min(fade, len(out), len(p))
        if f == 0:
            out = np.concatenate([out, p])
            continue
        ramp = _ramp(f)
        joined = out[len(out) - f:] * ramp[::-1] + p[:f] * ramp
        out = np.concatenate([out[: len(out) - f], joined, p[f:]])
    return out.astype(np.float32)


def splice(index: UnitIndex, target: Sequence[str], rng: np.random.Generator, fade: int = 80,
           p_longest: float = 0.6) -> tuple[np.ndarray, list[Unit]]:
    """One clip of `target` (a phone sequence) and the units it was made of."""
    units = plan_units(index, target, rng, p_longest)
    return render(index, units, fade), units


def word_pronunciations(word: str, prons: dict[str, list[tuple[str, ...]]], min_part: int = 2) -> list[tuple[str, ...]]:
    """A word's pronunciations from a dictionary; a word it lacks, spelled as a compound of words it has
    ("chatterbox" -> "chatter" + "box"): the split with the fewest parts, then the longest first part.
    Returns [] when no split into parts of at least `min_part` letters is in the dictionary."""
    if word in prons:
        return list(prons[word])
    words = _parts(word, prons, min_part)
    return phrase_pronunciations(words, prons) if words else []


def _parts(word: str, prons: dict[str, list[tuple[str, ...]]], min_part: int = 2) -> list[str] | None:
    """The dictionary words `word` is a compound of (word_pronunciations' split), None where there is no split. Each
    rest of the word is split once, from the shortest (trying every split of every rest again took seconds for a
    word of 45 letters, 1.6 times as long for each two more)."""
    if len(word) < 2 * min_part:
        return None
    best: dict[int, list[str] | None] = {len(word): None}  # the split of word[j:]
    for j in range(len(word) - 1, -1, -1):
        rest, found = word[j:], None
        if rest in prons:
            best[j] = [rest]
            continue
        for i in range(len(rest) - min_part, min_part - 1, -1):  # longest first part first
            tail = best[j + i]
            if tail is not None and rest[:i] in prons and (found is None or 1 + len(tail) < len(found)):
                found = [rest[:i]] + tail
        best[j] = found
    return best[0]


def phrase_choices(words: Sequence[str], prons: dict[str, list[tuple[str, ...]]]) -> list[list[tuple[str, ...]]]:
    """The pronunciations to choose from for each dictionary word of a word sequence in turn, a compound's parts
    (`word_pronunciations`) each a word; [] when there are no words or one of them cannot be spelled. As many as the
    words and parts, where their combinations (`phrase_pronunciations`) double with each word said two ways."""
    choices = []
    for w in words:
        parts = [w] if w in prons else _parts(w, prons)
        if not parts:
            return []
        choices += [list(prons[p]) for p in parts]
    return choices if all(choices) else []


def phrase_pronunciations(words: Sequence[str], prons: dict[str, list[tuple[str, ...]]]) -> list[tuple[str, ...]]:
    """Every pronunciation of a word sequence (each word's by `word_pronunciations`, in order); [] when
    there are no words or one of them cannot be spelled."""
    choices = phrase_choices(words, prons)
    return [tuple(itertools.chain.from_iterable(c)) for c in itertools.product(*choices)] if choices else []
