"""`speechseq transcribe --plot`: what the recogniser heard in a file. Above, the log-mel spectrogram (the frontend the
recogniser reads, streamed over the whole file as detect --plot streams it) with each word of the transcript over
its span, shaded by its confidence, and each command taken (--commands); below, the CTC posteriors of the stretches
recognised (the VAD's speech, or the cuts at pauses): the blank's probability and the best other symbol's, at the
file's own times (silence the VAD left out has none). The posteriors are the log-probs transcribe decoded, kept while it
read the file (KeptLogProbs): the recogniser runs once per stretch with --plot as without."""
from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .plotting import MaxPool, Pooled, drawable

if TYPE_CHECKING:  # numpy where a file is drawn: transcribe imports this module only for --plot
    import numpy as np

__all__ = ["Span", "Heard", "KeptLogProbs", "word_spans", "command_spans", "heard", "pooled_lines", "plot_transcript"]

WORD_CMAP = "RdYlGn"  # word confidence 0 (red) .. 1 (green), the same scale for every picture
# the most words whose edges are drawn down through the bands: the 840 of 10 minutes hid the spectrogram behind them
EDGES_UP_TO = 100
LINE_POINTS = 2000  # the most points a posterior line is drawn with (pooled_lines): about two a pixel
LABEL_BOX = {"boxstyle": "square,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.75}  # legible over any colour


@dataclass(frozen=True)
class Span:
    """A labelled stretch of the file (seconds from its start): a word, with its confidence in [0, 1], or a command
    taken (confidence None)."""

    start: float
    end: float
    label: str
    confidence: float | None = None


@dataclass(frozen=True)
class Heard:
    """What `transcribe --plot` draws of one file. spec: its log-mel frames (F: mel bands), pooled; frame_s: seconds a
    spectrogram frame; times, blank, best: (K,) the CTC frames of the stretches recognised (each frame's middle, in
    seconds of the file; NaN between stretches, so that a line breaks there), the blank's probability and the best
    non-blank symbol's; stretches: (start, end) s of each; words, commands: the spans drawn."""

    spec: Pooled
    frame_s: float
    times: np.ndarray
    blank: np.ndarray
    best: np.ndarray
    stretches: tuple[tuple[float, float], ...]
    words: tuple[Span, ...]
    commands: tuple[Span, ...]
    duration: float


def word_spans(transcript) -> tuple[Span, ...]:
    """The transcript's words as drawn: each over its start..end, labelled, with its confidence."""
    return tuple(Span(w.start, w.end, w.word, w.confidence) for w in transcript.words)


def command_spans(transcript) -> tuple[Span, ...]:
    """The commands taken, as `transcribe --format json --commands` writes them (the phrase, from its first word's
    start to its last word's end; none without --commands)."""
    return tuple(Span(c["start"], c["end"], c["command"]) for c in transcript.to_json("", commands=True)["commands"])


class KeptLogProbs:
    """The CTC log-probs a recogniser computes while it transcribes a file, kept by the features they were computed
    from, for --plot to draw without running the recogniser again over the file (+5.7 s on a 20-minute one, session
    52). It stands in for `rec.session` from its making until `stop` (Recognizer.log_probs and the text decoders'
    encoder_run both run the graph through it); the other calls go to the session as they are."""

    def __init__(self, rec) -> None:
        self.rec, self.session, self.kept = rec, rec.session, {}
        rec.session = self

    def __getattr__(self, name: str):
        return getattr(self.session, name)

    def run(self, output_names, feeds: dict, *rest, **options) -> list:
        """The session's run, its log_probs output kept by the features it read."""
        out = self.session.run(output_names, feeds, *rest, **options)
        names = [o.name for o in self.session.get_outputs()] if output_names is None else list(output_names)
        if "log_probs" in names and "features" in feeds:
            self.kept[_features_key(feeds["features"][0])] = out[names.index("log_probs")][0]
        return out

    def stop(self) -> None:
        """`rec` runs its own session again (what was kept stays)."""
        self.rec.session = self.session

    def log_probs(self, feats: np.ndarray) -> np.ndarray:
        """(T, F) -> (T', V): those kept for these features, else `rec`'s (features no run read: none, or a stretch
        transcribe did not recognise as one)."""
        lp = self.kept.get(_features_key(feats))
        return lp if lp is not None else self.rec.log_probs(feats)


def _features_key(feats: np.ndarray) -> tuple:
    """(shape, digest of the float32 bytes): the same samples give the same features to the bit (logmel), whether
    transcribe's cut or the plot's re-read holds them."""
    import numpy as np

    feats = np.ascontiguousarray(feats, np.float32)
    return feats.shape, hashlib.blake2b(feats.tobytes(), digest_size=16).digest()


def heard(rec, path: Path, transcript, log_probs: Callable[[np.ndarray], np.ndarray] | None = None) -> Heard:
    """Read `path` again (in blocks, as transcribe reads it) for the spectrogram of the whole file and the CTC
    posteriors of `rec` (a runtime Recognizer) over each of `transcript`'s segments (the stretches it recognised).
    log_probs: features (T, F) -> log-probs (T', V), KeptLogProbs.log_probs of the transcription (default: `rec`'s,
    the recogniser run again)."""
    import numpy as np

    from ..audio import finite_samples, mono_samples, stream_audio
    from ..errors import SpeechseqWarning
    from ..frontend import StreamingFrontend

    sr = rec.frontend.sample_rate
    fe = StreamingFrontend(rec.frontend)
    state, spec = fe.initial_state(), MaxPool(np.zeros((0, rec.frontend.n_mels), np.float32))
    cuts = _Cutter([(round(s.start * sr), round(s.end * sr)) for s in transcript.segments])
    lines, log_probs = [], rec.log_probs if log_probs is None else log_probs
    with warnings.catch_warnings():   # what the file's reading says (damaged, cut short) was said as it was transcribed
        warnings.simplefilter("ignore", SpeechseqWarning)
        for block in stream_audio(path, block_s=10.0, sr=sr):
            block = finite_samples(mono_samples(block))  # as split_at_pauses hands the recogniser its samples
            feats, state = fe.step(block, state)
            spec.add(feats)
            lines += [_posteriors(rec, log_probs, audio, a / sr) for a, audio in cuts.add(block)]
    lines += [_posteriors(rec, log_probs, audio, a / sr) for a, audio in cuts.rest()]
    times, blank, best = (np.concatenate(parts) for parts in zip(*lines)) if lines else (np.zeros(0),) * 3
    return Heard(spec.result(), 1.0 / rec.frontend.frame_rate, times, blank, best,
                 tuple((s.start, s.end) for s in transcript.segments), word_spans(transcript),
                 command_spans(transcript), transcript.duration)


class _Cutter:
    """The samples [a, b) of each span of a stream fed in blocks, given back as each is complete (the spans in order,
    each at most a segment long: memory holds one span and one block)."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.spans, self.n, self.parts = list(spans), 0, []

    def add(self, block: np.ndarray) -> list[tuple[int, np.ndarray]]:
        import numpy as np

        done, lo = [], self.n
        self.n += len(block)
        while self.spans:
            a, b = self.spans[0]
            if a < self.n:
                self.parts.append(block[max(a - lo, 0): max(min(b - lo, len(block)), 0)])
            if b > self.n:
                break
            done.append((a, np.concatenate(self.parts) if self.parts else np.zeros(0, np.float32)))
            self.spans.pop(0)
            self.parts = []
        return done

    def rest(self) -> list[tuple[int, np.ndarray]]:
        """The spans the stream ended inside (or before), with what it had of them."""
        import numpy as np

        done = [(a, np.concatenate(self.parts) if self.parts and k == 0 else np.zeros(0, np.float32))
                for k, (a, _) in enumerate(self.spans)]
        self.spans, self.parts = [], []
        return done


def _posteriors(rec, log_probs: Callable[[np.ndarray], np.ndarray], audio: np.ndarray,
                t0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, blank, best) of one stretch starting at t0 s, a NaN after it: the recogniser's CTC frames of
    `audio` as transcribe has it read them (logmel of the stretch alone, through `log_probs`)."""
    import numpy as np

    from ..frontend import logmel
    from ..text import BLANK

    probs = np.exp(log_probs(logmel(audio, rec.frontend)))
    times = t0 + (np.arange(len(probs)) + 0.5) * rec.frame_shift_s
    best = np.delete(probs, BLANK, axis=1).max(axis=1) if len(probs) else np.zeros(0)
    gap = np.array([np.nan])
    return np.concatenate([times, gap]), np.concatenate([probs[:, BLANK], gap]), np.concatenate([best, gap])


def plot_transcript(rec, path: Path, transcript, out: str,
                    log_probs: Callable[[np.ndarray], np.ndarray] | None = None):
    """Draw what `rec` heard in `path` (transcribed as `transcript`) into `out`; returns the Figure. log_probs: as
    heard's (KeptLogProbs.log_probs: the recogniser not run again)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..audio import path_text
    from .detect import place_labels

    h = heard(rec, path, transcript, log_probs)
    fig = Figure(figsize=(10, 5.5))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    _draw_spectrogram(ax1, h)
    n = len(h.words)
    ax1.set_title(f"{drawable(path_text(path.name))}: {n} word{'' if n == 1 else 's'}", parse_math=False)
    notes = _draw_words(fig, ax1, h.words)
    phrases = _draw_posteriors(ax2, h)
    ax2.set(xlabel="time (s)", xlim=(0, max(h.duration, 0.01)))
    for note in notes + phrases:  # one past the right edge (moved back by place_labels) shrank the axes for it
        note.set_in_layout(False)
    fig.tight_layout()
    place_labels(fig, ax1, notes)
    place_labels(fig, ax2, phrases)
    Path(out).parent.mkdir(parents=True, exist_ok=True)  # as detect --plot, features --plot
    fig.savefig(out, dpi=100)
    return fig


def _draw_spectrogram(ax, h: Heard) -> None:
    spec = h.spec
    if len(spec.rows):  # each column `factor` frames wide; the last, of fewer, cut at the file's end by the limits
        ax.imshow(spec.rows.T, origin="lower", aspect="auto", cmap="magma",
                  extent=(0, len(spec.rows) * spec.factor * h.frame_s, 0, spec.rows.shape[1]))
    # the bands whether or not a frame was drawn: a file shorter than one window had matplotlib's -0.05..0.05
    ax.set(ylabel="mel band", ylim=(0, spec.rows.shape[1]))


def _draw_words(fig, ax, words: tuple[Span, ...]) -> list:
    """Each word as a box at the top of the spectrogram over its span, coloured by its confidence (a colour bar says
    so), its edges drawn down through the bands (up to EDGES_UP_TO words), and its label (returned, for
    place_labels)."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cmap, norm = colormaps[WORD_CMAP], Normalize(0.0, 1.0)
    colours = [cmap(norm(w.confidence)) for w in words]
    # one collection each, x in seconds and y in the axes' fraction: a patch a word (axvspan) took 2 s of the
    # picture's 15 for the 840 words of 10 minutes
    ax.broken_barh([(w.start, w.end - w.start) for w in words], (0.84, 0.16), facecolors=colours, alpha=0.9, lw=0,
                   transform=ax.get_xaxis_transform())
    if len(words) <= EDGES_UP_TO:
        ax.vlines([t for w in words for t in (w.start, w.end)], 0.0, 0.84, colors=[c for c in colours for _ in "se"],
                  lw=0.8, transform=ax.get_xaxis_transform())
    notes = [ax.annotate(drawable(w.label), (w.start, 0.87), xycoords=("data", "axes fraction"), fontsize=8,
                         annotation_clip=False, bbox=LABEL_BOX, parse_math=False) for w in words]
    # in an inset beside the spectrogram: one that took its room from the axes made them narrower than the
    # posteriors' below, and the two time axes no longer lined up
    bar = fig.colorbar(ScalarMappable(norm, cmap), cax=ax.inset_axes((1.01, 0.0, 0.015, 1.0)))
    bar.set_label("word confidence", fontsize=8)
    return notes


def pooled_lines(times: np.ndarray, blank: np.ndarray, best: np.ndarray,
                 most: int = LINE_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The posterior lines as drawn: as they are up to `most` points, else in `most` runs of consecutive frames, each at
    its mean time with the least blank and the most of the best symbol in it (a peak stays a peak). A run of gap
    frames (NaN) stays a gap; one that straddles a gap takes the stretch's values. 20 minutes' 60,000 frames a line
    filled the panel as one blue block."""
    import numpy as np

    if len(times) <= most:
        return times, blank, best
    edges = np.linspace(0, len(times), most + 1).astype(int)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # an all-NaN run (a gap): NaN, said by numpy as a warning
        return tuple(np.array([f(x[a:b]) for a, b in zip(edges[:-1], edges[1:])])
                     for f, x in ((np.nanmean, times), (np.nanmin, blank), (np.nanmax, best)))


def _draw_posteriors(ax, h: Heard) -> list:
    """The CTC posteriors over the stretches recognised (shaded), and each command taken marked with its phrase (the
    labels returned, for place_labels: a list's phrase as written, no mathtext between two '$')."""
    ax.broken_barh([(a, b - a) for a, b in h.stretches], (0.0, 1.0), facecolors="0.93", lw=0,
                   transform=ax.get_xaxis_transform(), label="stretch recognised")
    times, blank, best = pooled_lines(h.times, h.blank, h.best)
    ax.plot(times, blank, color="0.45", lw=1.0, label="blank")
    ax.plot(times, best, color="tab:blue", lw=1.0, label="best non-blank symbol")
    ax.broken_barh([(c.start, c.end - c.start) for c in h.commands], (0.0, 0.06), facecolors="tab:purple",
                   transform=ax.get_xaxis_transform(), label="command taken" if h.commands else None)
    notes = [ax.annotate(drawable(c.label), (c.start, 0.08), fontsize=8, color="tab:purple", bbox=LABEL_BOX,
                         parse_math=False) for c in h.commands]
    ax.set(ylabel="CTC posterior", ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=7)
    return notes
