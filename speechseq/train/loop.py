"""One training loop for every model: progress, clipping, EMA, validation, checkpoints, resume.

    history = train_loop(model, batches_for_epoch, loss_fn, validate_fn, out_dir, kind="detector",
                         model_config=asdict(cfg), loop_cfg=LoopConfig(epochs=20, lr=1e-3),
                         select="frr_at_fa", mode="min")

Checkpoints are written atomically (temp file + rename), so a run killed at any moment leaves a
readable `last.pt`; rerunning the same command resumes from it with no lost epoch (the epoch in
flight is redone from its start), with the random state it was saved with (torch's, and the caller's
`generators`; in a run of several processes, each rank's own), so that it ends with the weights of a
run never stopped. `best.pt` holds the EMA weights of the best validated epoch.
Ctrl+C and SIGTERM (a scheduler, `kill`) stop the loop as KeyboardInterrupt, held back while an
epoch's checkpoints are being written, after a line saying which epoch `last.pt` keeps.
"""
from __future__ import annotations

import contextlib
import copy
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ..checks import finite, fraction, refuse, whole
from ..errors import SpeechseqError

__all__ = ["LoopConfig", "train_loop", "load_checkpoint", "save_checkpoint", "plot_history", "average_states"]


@dataclass(frozen=True)
class LoopConfig:
    epochs: int = 10
    lr: float = 1e-3
    grad_clip: float = 5.0
    weight_decay: float = 0.0
    ema_decay: float | None = 0.999
    log_every: int = 20
    seed: int = 0
    device: str = "cpu"
    warmup_steps: int = 0
    lr_min_ratio: float = 0.05       # cosine decay over the run down to lr * lr_min_ratio
    steps_per_epoch: int | None = None  # for the schedule; None = measured in the first epoch
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        # each was taken and failed only once training ran: a log_every of 0 a ZeroDivisionError at the first step,
        # an ema_decay of 1.5 an average growing without bound, a NaN lr NaN weights, a grad_clip of 0 no step at all
        ema, steps = self.ema_decay, self.steps_per_epoch
        refuse("training loop settings", [
            ("epochs", self.epochs, whole(self.epochs), "a whole number >= 1"),
            ("lr", self.lr, finite(self.lr) and self.lr > 0, "a finite number > 0"),
            ("grad_clip", self.grad_clip, finite(self.grad_clip) and self.grad_clip > 0 or self.grad_clip == math.inf,
             "a number > 0 (inf: no clipping)"),
            ("weight_decay", self.weight_decay, finite(self.weight_decay) and self.weight_decay >= 0,
             "a finite number >= 0"),
            ("ema_decay", ema, ema is None or fraction(ema, below_one=True), "None (no average) or in [0, 1)"),
            ("log_every", self.log_every, whole(self.log_every), "a whole number >= 1"),
            # torch.manual_seed took -1 as 2**64 - 1 and 1.5 as 1, without a word
            ("seed", self.seed, whole(self.seed, 0), "a whole number >= 0"),
            ("warmup_steps", self.warmup_steps, whole(self.warmup_steps, 0), "a whole number >= 0"),
            ("lr_min_ratio", self.lr_min_ratio, fraction(self.lr_min_ratio), "in [0, 1]"),
            ("steps_per_epoch", steps, steps is None or whole(steps, 0), "None (measured) or a whole number >= 0")])


def save_checkpoint(obj: dict, path: Path) -> None:
    """torch.save to a temp file, then rename: never a half-written checkpoint."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        try:
            torch.save(obj, tmp)
        except RuntimeError as err:  # a full disk: torch's own file says only "[enforce fail ...] unexpected pos"
            _save_again(obj, tmp, err)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise SpeechseqError(_not_written(path, err)) from None
    except BaseException:  # Ctrl+C inside torch.save: no .tmp left beside the checkpoints
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise


def _save_again(obj: dict, tmp: Path, err: RuntimeError) -> None:
    """torch.save once more, through a file of ours, whose failed write raises the system's OSError (torch's
    RuntimeError then carries it as its context): `err`, with that OSError as its cause, where it fails again (the
    normal path keeps torch's own file writer)."""
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
    except Exception as again:  # noqa: BLE001 - only its OSError is wanted
        cause = again
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__context__
        raise err from cause


def _not_written(path: Path, err: BaseException) -> str:
    """save_checkpoint's one line: the system's reason (an OSError, or the one a RuntimeError of torch's has as its
    cause), and whether an earlier checkpoint is kept at `path` (it said so when none had ever been written)."""
    cause = err if isinstance(err, OSError) else err.__cause__
    known = isinstance(cause, OSError) and bool(cause.strerror)
    why = cause.strerror if known else (str(err).splitlines() or [type(err).__name__])[0][:160]
    try:
        kept = path.is_file()
    except OSError:
        kept = False
    said = "the last one written is kept" if kept else "none was written before"
    # torch's words alone: a full disk is the likely cause
    return f"{path}: cannot write the checkpoint ({why}); " + (said if known else f"is the disk full? {said.capitalize()}")


def _write_text(path: Path, text: str) -> None:
    """Path.write_text through a temp file and a rename, as save_checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class _Interrupts:
    """Ctrl+C and SIGTERM as KeyboardInterrupt while training (SIGTERM would otherwise end the process
    without a word), except inside `held()`, which raises it only once the block is done, so that an
    epoch's checkpoints and history are written together; `on_interrupt()` says what is kept. Handlers
    are only set in the main thread, and a signal the process ignores (nohup) stays ignored.
    The interrupt is also kept (`pending`) and raised again by `check()`, which the loop calls at each step: Python
    runs a handler at its next chance, which may be inside a finalizer the garbage collector calls (a
    WeakKeyDictionary's, in matplotlib), where a raise is printed as "Exception ignored" and dropped, and the run went
    on as if no Ctrl+C had come. That dropped raise is not printed either (`_unraisable`): a traceback the user read
    as a crash, on a run that stops as asked."""

    def __init__(self, on_interrupt: Callable[[], None]) -> None:
        self.on_interrupt = on_interrupt
        self.holding, self.pending, self.previous = False, False, {}
        self.hook = None   # sys.unraisablehook before __enter__

    def _unraisable(self, info) -> None:
        """sys.unraisablehook while training: the KeyboardInterrupt of our handler, raised inside a finalizer and
        kept (`pending`), is left unsaid; anything else is printed as before."""
        if not (self.pending and info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt)):
            (self.hook or sys.__unraisablehook__)(info)

    def _handler(self, signum, frame) -> None:
        self.pending = True
        if not self.holding:
            raise KeyboardInterrupt

    def check(self) -> None:
        """KeyboardInterrupt where a signal came outside `held()` and its raise was dropped (the class's docstring)."""
        if self.pending and not self.holding:
            self.pending = False
            raise KeyboardInterrupt

    def __enter__(self) -> "_Interrupts":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self.previous[sig] = signal.signal(sig, self._handler)
            if self.previous:
                self.hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def __exit__(self, kind, err, tb) -> None:
        if self.hook is not None:
            sys.unraisablehook, self.hook = self.hook, None
        for sig, handler in self.previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: not set from Python
        if kind is not None and issubclass(kind, KeyboardInterrupt):
            self.on_interrupt()

    @contextlib.contextmanager
    def held(self):
        self.holding = True
        try:
            yield
        finally:
            self.holding = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt


def average_states(states: list[dict]) -> dict:
    """The element-wise mean of several state dicts of one model ("checkpoint averaging", or a
    "model soup" of runs fine-tuned from one start); integer entries (counters) come from the first."""
    if not states:
        raise ValueError("nothing to average")
    keys = list(states[0])
    for i, s in enumerate(states[1:], 1):
        if list(s) != keys or any(s[k].shape != states[0][k].shape for k in keys):
            raise ValueError(f"state {i} does not match state 0 (different model)")
    return {k: (sum(s[k].double() for s in states) / len(states)).to(states[0][k].dtype)
            if states[0][k].dtype.is_floating_point else states[0][k].clone() for k in keys}


def load_checkpoint(path: str | os.PathLike) -> dict:
    return torch.load(Path(path), map_location="cpu", weights_only=False)


def _load_weights(model: torch.nn.Module, state: dict) -> None:
    """model.load_state_dict(state), into the model that a DistributedDataParallel `model` wraps: a run begun under
    torchrun keeps its weights as 'module.<name>', one begun in one process without, and either resumes as the
    other (it stopped on the missing and unexpected keys, a traceback)."""
    core = model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
    want = core.state_dict().keys()
    if state.keys() != want:
        plain = {k.removeprefix("module."): v for k, v in state.items()}
        state = plain if plain.keys() == want else state
    core.load_state_dict(state)


class _Ema:
    """Exponential moving average of the weights (buffers copied as they are)."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for e, p in zip(self.model.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1.0 - self.decay)
        for e, b in zip(self.model.buffers(), model.buffers()):
            e.copy_(b)


def _generator_state(g) -> object:
    """The state of a torch.Generator or a numpy Generator, as saved in a checkpoint."""
    return g.get_state() if isinstance(g, torch.Generator) else g.bit_generator.state


def _set_generator_state(g, state) -> None:
    if isinstance(g, torch.Generator):
        g.set_state(state)
    else:
        g.bit_generator.state = state


def _random_state(generators: dict[str, object] | None, dev: torch.device) -> dict:
    """This process's random state, as last.pt keeps it: torch's (dropout and the like) and the caller's generators."""
    return {"rng": torch.get_rng_state(), "cuda_rng": torch.cuda.get_rng_state_all() if dev.type == "cuda" else None,
            "generators": {name: _generator_state(g) for name, g in (generators or {}).items()}}


def _every_rank(state: dict, world: int) -> list[dict] | None:
    """Every rank's `state`, rank by rank (a collective every rank joins); None in a run of one process (or one rank
    trained alone, outside a process group)."""
    import torch.distributed as dist

    if world <= 1 or not (dist.is_available() and dist.is_initialized()):
        return None
    states: list = [None] * world
    dist.all_gather_object(states, state)
    return states


def _lr_at(step: int, total: int, cfg: LoopConfig) -> float:
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if total <= 0:
        return cfg.lr
    frac = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    return cfg.lr * (cfg.lr_min_ratio + (1 - cfg.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def _better(score: float, best: float | None, mode: str) -> bool:
    """Whether `score` beats `best` (None: no epoch kept yet); NaN ranks below every number, ties keep the earlier."""
    if best is None:
        return True
    if math.isnan(score):
        return False
    if math.isnan(best):
        return True
    return score < best if mode == "min" else score > best


def train_loop(model: torch.nn.Module, batches_for_epoch: Callable[[int], Iterable],
               loss_fn: Callable[[torch.nn.Module, object], tuple[torch.Tensor, dict]],
               validate_fn: Callable[[torch.nn.Module], dict[str, float]] | None,
               out_dir: str | os.PathLike, kind: str, model_config: dict, loop_cfg: LoopConfig,
               select: str = "loss", mode: str = "min", extra: dict | None = None,
               progress: bool = True, is_main: bool = True,
               generators: dict[str, object] | None = None, rank: int = 0, world: int = 1) -> list[dict]:
    """Train `model` for loop_cfg.epochs, resuming from out_dir/last.pt if present.

    batches_for_epoch(epoch) yields batches (the caller seeds its shuffling with the epoch, so a
    resumed run sees the same batches); loss_fn(model, batch) -> (loss, logs) runs the forward;
    validate_fn(model) -> metrics dict (must contain `select`) is called with the EMA weights.
    generators: the caller's own random generators (torch.Generator or numpy Generator by name, e.g. the
    batch augmentation's, seeded afresh in each process), kept in last.pt and restored on resume; one a
    checkpoint holds no state of (written before it was kept) goes on from its seed, with a warning.
    rank, world: this process's place in a run of `world` processes (torchrun), each with its own random state (data
    order aside: dropout, augmentation): every epoch, rank 0 keeps every rank's in last.pt ("ranks"), and each rank
    resumes with its own; a checkpoint without them (written before they were kept) resumes the ranks > 0 from their
    seeds, with a warning.
    Returns the history: one dict per finished epoch.
    """
    if mode not in ("min", "max"):
        raise ValueError("mode must be 'min' or 'max'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(loop_cfg.device)
    torch.manual_seed(loop_cfg.seed)
    model.to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=loop_cfg.lr, weight_decay=loop_cfg.weight_decay)
    ema = _Ema(model, loop_cfg.ema_decay) if loop_cfg.ema_decay else None
    history: list[dict] = []
    start_epoch, step, best = 0, 0, None
    steps_per_epoch = loop_cfg.steps_per_epoch
    last = out / "last.pt"
    if last.exists():
        ck = load_checkpoint(last)
        if ck.get("kind") != kind:
            raise ValueError(f"{last} is a {ck.get('kind')!r} checkpoint, not {kind!r}: use another --out")
        _load_weights(model, ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if ema is not None:  # a run kept without an average starts one from the weights trained so far
            _load_weights(ema.model, ck["ema"] if ck.get("ema") is not None else ck["model"])
        history, start_epoch, step = ck["history"], ck["epoch"], ck["step"]
        kept_ranks = ck.get("ranks") or []
        # rank 0's state is the checkpoint's own; another's, its entry in "ranks" (none: it goes on from its seed)
        own = ck if rank == 0 else kept_ranks[rank] if rank < len(kept_ranks) else {}
        if is_main and world > 1 and len(kept_ranks) != world:
            from ..errors import SpeechseqWarning

            warnings.warn(f"{last} holds the random state of rank 0 alone (written before every rank's was kept): the "
                          f"others start again from their seeds, so this run's random draws differ from those of a run "
                          f"never stopped", SpeechseqWarning, stacklevel=2)
        if own.get("rng") is not None:  # dropout and the like go on as in a run never stopped
            torch.set_rng_state(own["rng"])
        if own.get("cuda_rng") is not None and dev.type == "cuda":
            torch.cuda.set_rng_state_all(own["cuda_rng"])
        kept_states = own.get("generators") or {}
        for name, g in (generators or {}).items():
            if name in kept_states:
                _set_generator_state(g, kept_states[name])
            elif is_main:
                from ..errors import SpeechseqWarning

                warnings.warn(f"{last} holds no state of the {name!r} random generator (written before it was kept): "
                              f"it starts again from its seed, so this run's random draws differ from those of a run "
                              f"never stopped", SpeechseqWarning, stacklevel=2)
        best, steps_per_epoch = ck.get("best"), ck.get("steps_per_epoch") or steps_per_epoch
        if is_main and start_epoch > loop_cfg.epochs:
            from ..errors import SpeechseqWarning

            warnings.warn(f"{out} already has {start_epoch} epochs, more than the {loop_cfg.epochs} asked for: "
                          f"nothing to train, its checkpoints are used as they are (a new output folder trains "
                          f"{loop_cfg.epochs})", SpeechseqWarning, stacklevel=2)
        elif is_main:
            print(f"resuming from {last}: epoch {start_epoch} of {loop_cfg.epochs} done", file=sys.stderr)
        hist_file = out / "history.json"
        if is_main and (not hist_file.is_file() or hist_file.read_bytes() != json.dumps(history, indent=1).encode()
                        or not (out / "curve.png").is_file()):
            # a kill between last.pt and these: made whole now, not only after an epoch more (none, once all are done)
            _write_text(hist_file, json.dumps(history, indent=1))
            plot_history(history, out / "curve.png", select)

    ranks: list[dict] | None = None  # every rank's random state at the end of the epoch (world > 1)

    def checkpoint(epoch: int) -> dict:
        return {"kind": kind, "model_config": model_config, "loop_config": asdict(loop_cfg),
                "model": model.state_dict(), "optimizer": opt.state_dict(),
                "ema": ema.model.state_dict() if ema is not None else None, "epoch": epoch, "step": step,
                "steps_per_epoch": steps_per_epoch, "history": history, "best": best, "extra": extra or {},
                **_random_state(generators, dev), **({"ranks": ranks} if ranks is not None else {})}

    kept = start_epoch  # the epochs that last.pt holds

    def interrupted() -> None:
        if is_main and kept:
            print(f"interrupted: epoch {kept} of {loop_cfg.epochs} is kept in {last}; rerun the same command to "
                  f"resume from it", file=sys.stderr)
        elif is_main:
            print("interrupted before the first epoch ended: no checkpoint kept", file=sys.stderr)

    warned_select = False
    with _Interrupts(interrupted) as interrupts:
        for epoch in range(start_epoch, loop_cfg.epochs):
            model.train()
            t0, n, sums, skipped = time.time(), 0, {}, 0
            total = (steps_per_epoch or 0) * loop_cfg.epochs
            it = batches_for_epoch(epoch)
            if progress and is_main:
                from tqdm import tqdm

                it = tqdm(it, total=steps_per_epoch, desc=f"epoch {epoch + 1}/{loop_cfg.epochs}", file=sys.stderr,
                          leave=False, dynamic_ncols=True)
            for batch in it:
                interrupts.check()
                for g in opt.param_groups:
                    g["lr"] = _lr_at(step, total, loop_cfg)
                loss, logs = loss_fn(model, batch)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), loop_cfg.grad_clip)
                if not torch.isfinite(gnorm):
                    skipped += 1  # counted in the epoch's record and line
                    continue  # a bad batch (e.g. CTC inf) must not poison the weights
                opt.step()
                if ema is not None:
                    ema.update(model)
                step, n = step + 1, n + 1
                for k, v in {"loss": loss, **logs}.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach() if isinstance(v, torch.Tensor) else v)
                if progress and is_main and n % loop_cfg.log_every == 0 and hasattr(it, "set_postfix"):
                    it.set_postfix(loss=f"{sums['loss'] / n:.4f}")
            steps_per_epoch = steps_per_epoch or n
            record = {"epoch": epoch + 1, "step": step, "seconds": round(time.time() - t0, 1),
                      **{f"train_{k}": v / max(1, n) for k, v in sums.items()}}
            if skipped:
                record["skipped_batches"] = skipped
            eval_model = ema.model if ema is not None else model
            if validate_fn is not None and is_main:
                eval_model.eval()
                with torch.no_grad():
                    record.update(validate_fn(eval_model))
            history.append(record)
            score = record.get(select, record.get(f"train_{select}"))
            if score is None and not warned_select and is_main:
                warned_select = True
                warnings.warn(f"no metric {select!r} (nor train_{select}) to choose the best checkpoint by: best.pt is "
                              f"not written (the epoch's metrics: {', '.join(sorted(record))})", stacklevel=2)
            improved = score is not None and _better(score, None if best is None else best["score"], mode)
            ranks = _every_rank(_random_state(generators, dev), world)
            if is_main:
                with interrupts.held():
                    if improved:
                        best = {"epoch": epoch + 1, "score": score, "select": select}
                        ck = checkpoint(epoch + 1)
                        ck["model"] = eval_model.state_dict()
                        save_checkpoint(ck, out / "best.pt")
                    save_checkpoint(checkpoint(epoch + 1), last)
                    _write_text(out / "history.json", json.dumps(history, indent=1))
                    kept = epoch + 1  # inside: an interrupt held back here must report this epoch
                plot_history(history, out / "curve.png", select)
                shown = ", ".join(f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float) and k != "seconds")
                print(f"epoch {epoch + 1}/{loop_cfg.epochs} ({record['seconds']} s): {shown}"
                      + ("  [best]" if improved else "")
                      + (f"  [{skipped} of {skipped + n} batches skipped: non-finite gradient]" if skipped else ""),
                      file=sys.stderr)
            interrupts.check()
    return history


def _not_finite_note(epochs: list, values: list[float]) -> str:
    """" (not finite at epoch 2)", " (not finite at epochs 1-3)" or "": a NaN or an infinity draws no point."""
    bad = [e for e, v in zip(epochs, values) if not math.isfinite(v)]
    if not bad:
        return ""
    runs: list[list] = []
    for e in bad:
        if runs and isinstance(e, int) and e == runs[-1][-1] + 1:
            runs[-1].append(e)
        else:
            runs.append([e])
    text = ", ".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else f"{r[0]}" for r in runs)
    return f" (not finite at epoch{'s' if len(bad) > 1 else ''} {text})"


def plot_history(history: list[dict], path: Path, select: str | None = None):
    """Training curve: train loss and every validation metric against the epoch; returns the (closed) Figure.
    Counts per hour (false accepts) get a panel of their own: on the rates' axis (0-1) their 0-12 flattened the
    rates, the selecting one among them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    keys = list(dict.fromkeys(k for h in history for k, v in h.items()  # a metric the first epoch lacks too
                              if k not in ("epoch", "step", "seconds", "skipped_batches")
                              and isinstance(v, (int, float))))
    per_hour = [k for k in keys if "per_h" in k]
    fig, axes = plt.subplots(1, 3 if per_hour else 2, figsize=(15 if per_hour else 10, 3.5))
    epochs = [h["epoch"] for h in history]
    for k in keys:
        ax = axes[0] if k.startswith("train_") else axes[2] if k in per_hour else axes[1]
        values = [float(h.get(k, float("nan"))) for h in history]
        note = _not_finite_note([e for e, h in zip(epochs, history) if k in h],
                                [float(h[k]) for h in history if k in h])
        ax.plot(epochs, values, marker="o", label=k + (" (selects)" if k == select else "") + note)
    skipped = [h["epoch"] for h in history if h.get("skipped_batches")]
    axes[0].set(title="training" + (f" (batches skipped at epoch{'s' if len(skipped) > 1 else ''} "
                                    f"{', '.join(map(str, skipped))})" if skipped else ""), xlabel="epoch")
    axes[1].set(title="validation", xlabel="epoch")
    if per_hour:
        axes[2].set(title="validation: false accepts", xlabel="epoch", ylabel="per hour")
    lo, hi = min(epochs, default=1), max(epochs, default=1)
    for ax, what in zip(axes, ("no training loss recorded", "no validation metrics recorded", "")):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # whole epochs: one gave 0.96 ... 1.04
        ax.set_xlim(lo - max(0.5, 0.04 * (hi - lo)), hi + max(0.5, 0.04 * (hi - lo)))  # (a line all NaN sets none)
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.set_yticks([])
            ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color="0.4")
    fig.tight_layout()
    from ..files import written_atomically

    path = Path(path)
    try:  # through a rename, as the checkpoints: a kill leaves no half picture
        with written_atomically(path) as tmp:
            fig.savefig(tmp, dpi=90, format=path.suffix[1:] or "png")
    finally:
        plt.close(fig)
    return fig
