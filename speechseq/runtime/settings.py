"""The runtime's tuned defaults that the commands show in --help: the detectors' floor guard, shallow fusion's weights,
the command list's bound, the lexicon search's weights, the partial text's cadence and beam. A module of its own,
with no numpy in it, so that `speechseq --help` builds its parsers without importing the runtime (as
speechseq.synth_settings does for the synthetic sets). The modules that use them import them from here:
speechseq.runtime.level, .decoding, .command_set and .lexicon_search name them as before (and .listener its cadence
and beam)."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GUARD_RANGE_DB", "LM_WEIGHT", "WORD_BONUS", "MAX_DEFICIT", "PARTIAL_EVERY_MS", "PARTIAL_EVERY_MS_RANGE",
           "PARTIAL_BEAM_SIZE", "LexiconOptions"]

GUARD_RANGE_DB = 60.0  # the floor guard's default range: the runtime detector's and the commands' (--range-db)
# Shallow fusion's LM weight (alpha) and bonus per character (beta), tuned with the shipped recogniser and LM on
# Kathleen dev (models/lm-en.md: 53.20 % WER at beam 8; 55.09 % at alpha 0.5): every decoder's default, the
# runtime's and the commands' (--lm-weight, --word-bonus)
LM_WEIGHT, WORD_BONUS = 0.8, 1.0
# The default acceptance bound, nats per character of the phrase: chosen on the tuning sets of README's "Commands"
# (held-out Kathleen train rows, the Precise not-wake-word phrases), never on its evaluation sets.
MAX_DEFICIT = 2.0
# The listener's final partial decoder decodes the utterance so far every this many ms of it (the listener's
# partial_interval_s, listen --partial-every-ms), and the bounds the command takes: below a 50 ms block it would
# still decode once a block; above 2 s a 5 s command would get two partials.
PARTIAL_EVERY_MS = 200.0
PARTIAL_EVERY_MS_RANGE = (50.0, 2000.0)
# ... and decodes them with a beam of at most this many (listen --partial-beam-size; the final: its own, 32 for the
# lexicon decoder). Session 53, scripts/bench_listener.py on this 2-core machine, nothing else running, three runs each:
# every 300 ms at beam 32 (the default until then), the partial lag of the words shown right was 596-616 / 1111-1130
# ms median / p90 (issue 6: <= 1 s); every 200 ms at beam 32, 466-475 / 798-822 ms, but the final's delay p90 530-589
# ms (<= 500: the decodes' backlog) at 42-46 % of a core while recording; every 200 ms at beam 16, 457-459 / 878-879
# ms, the final's delay p90 431-468 ms, 27-32 % of a core (as 300 ms at beam 32: 26-31 %), the last partial's WER
# 45.8 % against 43.5 % (README, Benchmarks).
PARTIAL_BEAM_SIZE = 16


@dataclass(frozen=True)
class LexiconOptions:
    """Weights of the lexicon search (defaults: tuned on the 46 Kathleen train utterances the recogniser held out and on
    the first half of the held-out synthetic sentences, never on Kathleen dev: models/words-en.md)."""

    beam_size: int = 8
    word_weight: float = 0.6        # on the word LM's ln-probabilities
    word_bonus: float = 0.0         # per finished word
    oov_penalty: float = 24.0       # per out-of-vocabulary word
    char_weight: float = 0.0        # character LM shallow fusion (0: off, no LM needed)
    char_bonus: float = 0.0         # per character, with the character LM only
    prune_top_k: int = 12
    prune_logp: float = -10.0
    blank_skip: float = 0.999

    def __post_init__(self) -> None:
        # numpy here, not at the top: the commands read the defaults above (class attributes) to build --help
        import numpy as np

        from .ctc_prefix import _is_number, check_pruning

        if isinstance(self.beam_size, bool) or not isinstance(self.beam_size, (int, np.integer)) or self.beam_size < 1:
            raise ValueError(f"beam_size must be a whole number >= 1, got {self.beam_size!r}")
        check_pruning(self.prune_top_k, self.prune_logp, self.blank_skip)
        weights = ("word_weight", "word_bonus", "oov_penalty", "char_weight", "char_bonus")
        bad = [f"{n} {getattr(self, n)!r}" for n in weights if not _is_number(getattr(self, n))
               or not np.isfinite(getattr(self, n))]
        if bad:   # nan or inf poisons every score (an infinite penalty times no OOV word is nan)
            raise ValueError(f"lexicon search weights must be finite numbers, got {', '.join(bad)}")
        if self.oov_penalty < 0 or self.word_weight < 0:
            raise ValueError("oov_penalty and word_weight must be >= 0")
