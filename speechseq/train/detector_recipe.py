"""The recipe of a detector's training (speechseq.train.detector): batches, schedule, validation targets, the
optional losses and starting weights; a frozen dataclass, stored with each run (`to_dict`).

    recipe = TrainRecipe(epochs=10, event_loss_weight=0.5)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..checks import finite, fraction, refuse, whole
from ..runtime.detector import MAX_SMOOTHING_STEPS

__all__ = ["TrainRecipe"]


@dataclass(frozen=True)
class TrainRecipe:
    batch: int = 64
    steps_per_epoch: int = 200
    epochs: int = 20
    lr: float = 2e-3
    weight_decay: float = 1e-4
    ema_decay: float = 0.999       # at most: a short run's is lower (run_ema_decay)
    fa_target_per_h: float = 0.5
    smoothing_steps: int = 3
    refractory_s: float = 1.0
    max_wait_s: float = 0.2
    val_positives: int = 600
    val_neg_hours: float = 1.0
    seed: int = 0
    # Max-pooling event loss beside the course's per-step BCE (0: off): each labelled stretch's
    # highest logit is pushed to 1, and each clip's highest logit away from any keyword to 0 --
    # the two numbers that decide a miss and a false accept at the runtime's threshold.
    event_loss_weight: float = 0.0
    event_guard_before: int = 25   # output steps before a stretch (the keyword itself) left out of the negatives
    event_guard_after: int = 5     # and after it
    # A backbone pretrained as a character recogniser (speechseq.train.detector_pretrain, its best.pt):
    # the conv, batch norm and GRU weights start from it ("": from a random initialisation). On real
    # "amelia" no better at equal false accepts (session 17, scripts/train_detectors.py "natural-pre").
    init: str = ""
    # A trained detector (a run's best.pt or final.pt, or an exported .onnx): the whole model, output
    # layer included, starts from its weights ("": off). Fine-tuning to a speaker's own clips (`--init`,
    # recorded as the command named it, "~/" for the home folder), and the sha256 of that file's bytes.
    finetune: str = ""
    finetune_sha256: str = ""
    # Domain-adversarial training (speechseq.train.domain; 0: off): a critic tells synthetic from real
    # speech by the last GRU layer's outputs; its gradient reaches the detector reversed, times this
    # weight (ramped up over training), so that real voices and synthetic ones look alike to the head.
    domain_weight: float = 0.0
    domain_clips: int = 16         # examples of each domain per step, beside the `batch` mixes
    domain_pool: str = "mean"      # what the critic reads: "mean" the last GRU layer's outputs averaged over
                                   # each example, "end" each output step just after a clip ends (where the
                                   # keyword head decides; the mixer's label stretches)

    def __post_init__(self) -> None:
        # each was taken and failed (or trained nothing) only once the run had started
        refuse("detector training recipe", [
            *((name, getattr(self, name), whole(getattr(self, name)), "a whole number >= 1")
              for name in ("batch", "steps_per_epoch", "epochs", "domain_clips")),
            ("lr", self.lr, finite(self.lr) and self.lr > 0, "a finite number > 0"),
            ("ema_decay", self.ema_decay, fraction(self.ema_decay, below_one=True), "in [0, 1)"),
            ("smoothing_steps", self.smoothing_steps,
             whole(self.smoothing_steps) and self.smoothing_steps <= MAX_SMOOTHING_STEPS,
             f"a whole number from 1 to {MAX_SMOOTHING_STEPS}, as the runtime's"),
            *((name, getattr(self, name), finite(getattr(self, name)) and getattr(self, name) >= 0,
               "a finite number >= 0")
              for name in ("weight_decay", "fa_target_per_h", "refractory_s", "max_wait_s", "val_neg_hours",
                           "event_loss_weight", "domain_weight")),
            *((name, getattr(self, name), whole(getattr(self, name), 0), "a whole number >= 0")
              for name in ("val_positives", "event_guard_before", "event_guard_after")),
            ("domain_pool", self.domain_pool, self.domain_pool in ("mean", "end"), "'mean' or 'end'")])

    def to_dict(self) -> dict:
        return asdict(self)
