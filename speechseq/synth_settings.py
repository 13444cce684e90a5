"""The settings of the synthetic training sets (speechseq.train.synth_sets): which voices speak, and how many clips
a keyword set or a sentence set has. A module of its own, with no training code in it, so that `speechseq synth` and
`speechseq train detector` build their parsers (defaults shown in --help) without importing speechseq.train."""
from __future__ import annotations

from dataclasses import dataclass

from .checks import finite, refuse, whole
from .splits import EVAL_SPLITS

__all__ = ["ENGINE_WEIGHTS", "MAX_NEG_RATIO", "MAX_VARIATIONS", "MAX_PER_ENGINE", "MAX_CLIPS", "VoiceOptions",
           "KeywordSet", "SentenceSet"]

# Share of random-voice utterances per engine: espeak-ng has ~800 voices but the least natural
# sound, so it is not let dominate (see ENVIRONMENT.md: recognisers fail most on it). Its keys are
# speechseq.train.synth.ENGINES (a test pins the two), named here so that building a parser needs no audio stack.
ENGINE_WEIGHTS = {"espeak-ng": 0.40, "mbrola": 0.10, "flite": 0.15, "festival": 0.10, "pico": 0.10, "piper": 0.15,
                  "rhvoice": 0.10}


@dataclass(frozen=True)
class VoiceOptions:
    """Which voices speak, and how much each utterance is varied."""

    engines: tuple[str, ...] | None = None   # None: every installed engine
    seed: int = 0                            # same seed, same data
    workers: int = 2                         # parallel synthesis processes
    speed_min: float = 0.85                  # a variation's speed and pitch factors lie in [speed_min, speed_max]
    speed_max: float = 1.2

    def __post_init__(self) -> None:
        # a factor outside [0.25, 4] failed in the synthesis worker (speechseq.train.synth.synthesize), per clip
        low, high = self.speed_min, self.speed_max
        refuse("voice options", [
            ("workers", self.workers, whole(self.workers), "a whole number >= 1"),
            ("speed_min", low, finite(low) and 0.25 <= low <= 4.0, "a factor in [0.25, 4]"),
            ("speed_max", high, finite(high) and (not finite(low) or high >= low) and high <= 4.0,
             "a factor in [speed_min, 4]")])


# negatives per positive at most: 1e9 listed billions of negatives and ran out of memory before any was said
MAX_NEG_RATIO = 100
# Clips one set plans at most, as the counts that multiply are bounded: every job is planned before the first clip is
# made (about 1.1 kB each: --variations 100000 planned 660k jobs in 738 MB, and 1e9 ran out of memory). 500k is some
# 400 hours of speech, 80 times the shipped keyword sets (about 6000 clips) and 125 times the sentence set (4000).
MAX_CLIPS = 500_000
MAX_VARIATIONS = 1000       # clips per voice at most (the shipped sets: 3)
MAX_PER_ENGINE = 50_000     # positives per engine at most (the shipped sets: 100), seven engines under MAX_CLIPS


@dataclass(frozen=True)
class KeywordSet:
    variations: int = 3                      # clips per voice (the first at natural speed and pitch)
    # at least this many positives per engine: with espeak-ng's hundreds of voices, the six other engines (one to nine
    # voices each) are otherwise 3 to 27 clips each at 3 variations (100 made the shipped detectors' data)
    min_per_engine: int = 100
    phrasings: tuple[str, ...] = ("{}",)     # how the keyword is said, in turn ({} the keyword; nothing after it)
    neg_ratio: float = 1.0                   # negatives per positive (at most MAX_NEG_RATIO)
    alike_words: int = 150                   # distinct sound-alike words (40 % of the negatives)
    text: tuple[str, ...] = ()               # text files to cut short negative phrases from (25 % of the negatives)

    def __post_init__(self) -> None:
        # a NaN neg_ratio failed after the voices were listed ("cannot convert float NaN to integer"), no phrasing was
        # a ZeroDivisionError, a string ('{}') a phrasing per character, and 0 variations with 0 per engine no positive
        refuse("keyword set settings", [
            ("variations", self.variations, whole(self.variations) and self.variations <= MAX_VARIATIONS,
             f"a whole number from 1 to {MAX_VARIATIONS}"),
            ("min_per_engine", self.min_per_engine,
             whole(self.min_per_engine, 0) and self.min_per_engine <= MAX_PER_ENGINE,
             f"a whole number from 0 to {MAX_PER_ENGINE}"),
            ("phrasings", self.phrasings, isinstance(self.phrasings, (tuple, list)) and len(self.phrasings) > 0,
             "a tuple of one template or more"),
            ("neg_ratio", self.neg_ratio, finite(self.neg_ratio) and 0 <= self.neg_ratio <= MAX_NEG_RATIO,
             f"a number from 0 to {MAX_NEG_RATIO}"),
            ("alike_words", self.alike_words, whole(self.alike_words), "a whole number >= 1")])


@dataclass(frozen=True)
class SentenceSet:
    text: tuple[str, ...]                    # text files, one sentence a line
    n: int = 4000                            # utterances to make
    min_words: int = 3
    max_words: int = 15
    exclude_manifests: tuple[str, ...] = ()  # JSONL manifests whose texts (of exclude_splits) must not be spoken
    exclude_splits: tuple[str, ...] = EVAL_SPLITS  # every evaluation split (dev, test, validation)

    def __post_init__(self) -> None:
        # n 0 made an empty set, and min_words > max_words "no usable sentences" only after every text file was read
        low, high = self.min_words, self.max_words
        refuse("sentence set settings", [
            ("n", self.n, whole(self.n) and self.n <= MAX_CLIPS, f"a whole number from 1 to {MAX_CLIPS}"),
            ("min_words", low, whole(low), "a whole number >= 1"),
            ("max_words", high, whole(high) and (not whole(low) or high >= low),
             f"a whole number >= min_words ({low!r})")])
