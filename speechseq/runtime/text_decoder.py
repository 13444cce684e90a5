"""Choosing the decoder that turns CTC log-probs into text: greedy, beam, beam + LM, or beam + LM +
attention rescoring; and the attention picture.

    dec = TextDecoder(DecodeOptions("beam-lm", lm_weight=0.8, word_bonus=1.0), lm="models/lm-en.onnx")
    hyp = dec(log_probs)                          # (T', V) -> Hypothesis
    hyp = dec(log_probs, memory)                  # "rescore" needs the encoder outputs (T', E)

`speechseq transcribe --decoder greedy|beam|beam-lm|rescore` maps onto DecodeOptions.kind; its `lexicon` onto
speechseq.runtime.recognizer's DecodeOptions(decoder="lexicon"), and `auto` picks one of them.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..audio import mono_samples
from ..errors import SpeechseqError
from .decoding import LM_WEIGHT, WORD_BONUS, Hypothesis, greedy, prefix_beam_search

__all__ = ["DECODERS", "DEFAULT_DECODER", "DecodeOptions", "TextDecoder", "best_available", "rescoring_recognizer",
           "cli_recognizer", "plot_attention_for_file", "encoder_probe", "probe_matches", "PROBE_TOLERANCE",
           "encoder_run", "attention_picture", "plot_attention"]

DECODERS = ("greedy", "beam", "beam-lm", "rescore")
DEFAULT_DECODER = "beam-lm"   # TextDecoder's own default kind; the commands default to auto, whose first choice is the lexicon search
# rescoring's errors as they name the choice and the way out: with the commands' options (True), or with
# speechseq.load_recognizer's arguments (False), whose attention decoder is the models folder's
RESCORE_SAID = {True: ("--decoder rescore",
                       "pass the --attention-decoder trained on this recogniser, or another --decoder"),
                False: ("decoder='rescore'", "pass the recogniser it was trained on as path=, or another decoder=")}


@dataclass(frozen=True)
class DecodeOptions:
    kind: str = DEFAULT_DECODER
    beam_size: int = 8
    lm_weight: float = LM_WEIGHT    # alpha: shallow fusion (beam-lm, rescore's n-best), tuned on Kathleen dev
    word_bonus: float = WORD_BONUS  # beta, per character (spaces included)
    attention_weight: float = 1.0   # rescore: log P_ctc + alpha log P_lm + beta len + this x log P_att

    def __post_init__(self) -> None:
        if self.kind not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {self.kind!r}")
        if isinstance(self.beam_size, bool) or not isinstance(self.beam_size, (int, np.integer)) or self.beam_size < 1:
            raise ValueError(f"beam_size must be a whole number >= 1, got {self.beam_size!r}")
        bad = [f"{name} {value!r}" for name, value in (("lm_weight", self.lm_weight), ("word_bonus", self.word_bonus),
                                                      ("attention_weight", self.attention_weight))
               if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value)]
        if bad:   # nan or inf poisons every score of the search: it would rank hypotheses by nothing
            raise ValueError(f"decoder weights must be finite numbers, got {', '.join(bad)}")


class TextDecoder:
    """CTC log-probs (T', V) [+ encoder outputs (T', E)] -> the best Hypothesis."""

    def __init__(self, opts: DecodeOptions = DecodeOptions(), lm: str | os.PathLike | object | None = None,
                 attention: str | os.PathLike | object | None = None, threads: int = 1) -> None:
        from .attention import OnnxDecoder
        from .lm import OnnxLM

        self.opts = opts
        needs_lm = opts.kind in ("beam-lm", "rescore")
        if needs_lm and lm is None:
            raise SpeechseqError(f"--decoder {opts.kind} needs a language model (--lm PATH)")
        if opts.kind == "rescore" and attention is None:
            raise SpeechseqError("--decoder rescore needs an attention decoder (--attention-decoder PATH)")
        self.lm = (OnnxLM(lm, threads) if isinstance(lm, (str, os.PathLike)) else lm) if needs_lm else None
        self.attention = None
        if opts.kind == "rescore":
            self.attention = OnnxDecoder(attention, threads) if isinstance(attention, (str, os.PathLike)) else attention

    @property
    def needs_memory(self) -> bool:
        return self.opts.kind == "rescore"

    def nbest(self, log_probs: np.ndarray) -> list[Hypothesis]:
        """The beam's hypotheses, best first (greedy: one)."""
        o = self.opts
        if o.kind == "greedy":
            return [greedy(log_probs)]
        if o.kind == "beam":
            return prefix_beam_search(log_probs, o.beam_size)
        return prefix_beam_search(log_probs, o.beam_size, lm=self.lm, alpha=o.lm_weight, beta=o.word_bonus)

    def __call__(self, log_probs: np.ndarray, memory: np.ndarray | None = None,
                 nbest: list[Hypothesis] | None = None) -> Hypothesis:
        """The best hypothesis; `nbest`: this decoder's n-best of log_probs when already computed."""
        hyps = nbest if nbest is not None else self.nbest(log_probs)
        if self.opts.kind != "rescore" or len(hyps) < 2:
            return hyps[0]
        if memory is None:
            raise SpeechseqError("rescoring needs the recogniser's encoder outputs (a model exported with encoder_out)")
        from .attention import RescoreWeights, rescore

        o = self.opts
        # With attention_weight 0 this is the beam's own ranking: rescoring only adds the decoder.
        w = RescoreWeights(ctc=1.0, attention=o.attention_weight, lm=o.lm_weight,
                           length=o.word_bonus if o.lm_weight else 0.0)   # as prefix_beam_search does
        top = rescore(hyps, memory, self.attention, self.lm, w)[0]
        chosen = next(h for h in hyps if h.tokens == top.tokens)
        return replace(chosen, score=top.score)


def rescoring_recognizer(path: str | os.PathLike, text_decoder: TextDecoder, threads: int = 1,
                         options: bool = True):
    """A speechseq.runtime.recognizer.Recognizer whose utterances are decoded by `text_decoder`
    (any kind, "rescore" included: it reads the graph's `encoder_out` too); word times come from
    the CTC alignment of the chosen text, as in the plain recogniser. options: an error names the commands' options
    (--decoder rescore); False: speechseq.load_recognizer's arguments (decoder='rescore'), which its caller wrote."""
    from .decoding import word_timestamps
    from .recognizer import Recognizer, Result

    class _Rescoring(Recognizer):
        def _recognize(self, audio, opts=None):  # mono samples (Recognizer.recognize bounds the words); opts unused
            from ..frontend import logmel

            feats = logmel(audio, self.frontend)
            if len(feats) == 0:
                return Result("", (), ())
            lp, mem = encoder_run(self.session, feats)
            best = text_decoder(lp, mem)
            words = word_timestamps(lp, best, self.frame_shift_s) if best.tokens else []
            return Result(" ".join(best.text.split()), tuple(words), (best,))

    rec = _Rescoring(path, threads)
    if text_decoder.needs_memory:
        if "encoder_out" not in [o.name for o in rec.session.get_outputs()]:
            raise SpeechseqError(f"{path}: this recogniser has no encoder_out output, which "
                                 f"{RESCORE_SAID[options][0]} needs")
        check_widths(path, rec.session, rec.frontend.n_mels, text_decoder.attention, options)
        want = text_decoder.attention.meta.get("encoder_probe")
        if want is not None:
            got = encoder_probe(rec.session, rec.frontend.n_mels)
            if not probe_matches(got, want):
                import warnings

                from ..errors import SpeechseqWarning

                warnings.warn(f"{path} is not the recogniser the attention decoder was trained on "
                              f"({text_decoder.attention.meta.get('encoder', '?')}): rescoring may hurt",
                              SpeechseqWarning, stacklevel=2)
    return rec


def best_available(model: str | os.PathLike, lm: str | os.PathLike | None,
                   attention: str | os.PathLike | None) -> str:
    """The most accurate decoder these files allow, all of which run far within the real-time
    target (models/lm-en.md): "rescore" when the attention decoder exists and was trained on this
    recogniser (which has an encoder_out output), else "beam-lm" when the LM exists, else "greedy"."""
    from pathlib import Path

    from .attention import OnnxDecoder
    from .onnx import frontend_of, make_session, reading_metadata, session_metadata

    if lm is None or not Path(lm).is_file():
        return "greedy"
    if attention is None or not Path(attention).is_file():
        return "beam-lm"
    session = make_session(model)
    if "encoder_out" not in [o.name for o in session.get_outputs()]:
        return "beam-lm"
    want = OnnxDecoder(attention).meta.get("encoder_probe")
    with reading_metadata(model, "recogniser"):   # no frontend in its metadata: one ModelError, not a KeyError
        n_mels = frontend_of(session_metadata(session, model)).n_mels
    ok = want is not None and probe_matches(encoder_probe(session, n_mels), want)
    return "rescore" if ok else "beam-lm"


PROBE_TOLERANCE = 0.05   # per channel; a recogniser and its int8 twin differ by about 0.01 (the shipped pair: 0.011)


def probe_matches(got: Sequence[float], want: Sequence[float]) -> bool:
    """Do two encoder_probe fingerprints belong to one recogniser: the same length, every channel within
    PROBE_TOLERANCE (a NaN anywhere, from a broken graph, is no match)."""
    a, b = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return a.shape == b.shape and bool((np.abs(a - b) <= PROBE_TOLERANCE).all())


def cli_recognizer(args, options: bool = True):
    """The recogniser `speechseq transcribe` runs for --decoder beam-lm|rescore (args: its namespace,
    with model, decoder, beam_size, lm, lm_weight, word_bonus, attention_decoder, threads); options: as
    rescoring_recognizer's (False: speechseq.load_recognizer's, which builds it from transcribe's namespace)."""
    from pathlib import Path

    needed = [("--lm", args.lm)]
    if args.decoder == "rescore":
        needed.append(("--attention-decoder", args.attention_decoder))
    for flag, path in needed:
        if path is not None and not Path(path).is_file():
            raise SpeechseqError(f"{path}: no such model file (pass {flag} PATH)")
    opts = DecodeOptions(args.decoder, beam_size=args.beam_size, lm_weight=args.lm_weight, word_bonus=args.word_bonus)
    dec = TextDecoder(opts, lm=args.lm, attention=args.attention_decoder, threads=args.threads)
    return rescoring_recognizer(args.model, dec, args.threads, options)


def plot_attention_for_file(args, path, text: str) -> None:
    """--plot-attention: the attention of args.attention_decoder over the first utterance-sized
    stretch of `path` (at most --max-segment seconds), forced through `text`'s words there."""
    from ..audio import load_audio
    from .attention import OnnxDecoder
    from .recognizer import Recognizer

    rec = Recognizer(args.model, args.threads)
    audio = load_audio(path, rec.frontend.sample_rate)[: int(args.max_segment * rec.frontend.sample_rate)]
    attention_picture(args.plot_attention, rec, OnnxDecoder(args.attention_decoder, args.threads), audio, text,
                      name=str(path))


def check_widths(path, session, n_mels: int, decoder, options: bool = True) -> None:
    """A one-line error unless the recogniser graph's encoder_out has the width the attention decoder reads (a
    decoder trained on another recogniser's encoder cannot read this one's at all); options: as
    rescoring_recognizer's."""
    _, mem = encoder_run(session, np.zeros((8, n_mels), np.float32))
    width = None if mem is None else mem.shape[-1]
    if width != decoder.enc_dim:
        raise SpeechseqError(f"{decoder.path} reads an encoder of {decoder.enc_dim} channels, {path}'s has {width}: "
                             f"{RESCORE_SAID[options][1]}")


def encoder_probe(session, n_mels: int) -> list[float]:
    """A fingerprint of a recogniser graph's encoder: the time-mean of the first 16 encoder_out
    channels on a fixed 60-frame input. A decoder stores its encoder's probe, so a rescoring
    pair that does not belong together is noticed."""
    t = np.arange(60)[:, None]
    feats = (-6.0 + 3.0 * np.sin(0.3 * t + 0.2 * np.arange(n_mels)[None, :])).astype(np.float32)
    _, mem = encoder_run(session, feats)
    if mem is None:
        raise SpeechseqError("the recogniser has no encoder_out output")
    return [round(float(v), 5) for v in mem.mean(axis=0)[:16]]


def encoder_run(session, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """features (T, F) -> (log_probs (T', V), encoder outputs (T', E) or None when the graph has none)."""
    names = [o.name for o in session.get_outputs()]
    want = ["log_probs"] + (["encoder_out"] if "encoder_out" in names else [])
    res = session.run(want, {"features": np.asarray(feats, np.float32)[None]})
    return res[0][0], (res[1][0] if len(res) > 1 else None)


def attention_picture(path: str | os.PathLike, recognizer, decoder, audio: np.ndarray, text: str,
                      name: str = "the audio") -> None:
    """Run `recognizer` (runtime Recognizer with encoder_out) on `audio`, force the attention
    `decoder` (OnnxDecoder) through `text` and draw plot_attention to `path`. `name`: the audio's, for the
    one-line error of a clip shorter than one feature frame."""
    from ..frontend import logmel
    from ..text import encode, normalize

    samples = mono_samples(audio)
    feats = logmel(samples, recognizer.frontend)
    if len(feats) == 0:   # the recogniser graph cannot run on no frame (an onnxruntime traceback)
        raise SpeechseqError(f"{name}: {len(samples)} samples, shorter than one feature frame "
                             f"({recognizer.frontend.win_length}): no attention to draw")
    _, mem = encoder_run(recognizer.session, feats)
    if mem is None:
        raise SpeechseqError("--plot-attention needs a recogniser with an encoder_out output")
    check_widths(recognizer.path, recognizer.session, recognizer.frontend.n_mels, decoder)
    text = normalize(text)
    attn = decoder.teacher_forced(mem, [encode(text)])[1][0]
    plot_attention(path, feats, attn, text, recognizer.frame_shift_s, 1.0 / recognizer.frontend.frame_rate)


def plot_attention(path: str | os.PathLike, features: np.ndarray, attention: np.ndarray, text: str,
                   frame_shift_s: float, feature_shift_s: float = 0.01):
    """Draw the log-mel spectrogram (T, F) above the decoder's attention weights (len(text) + 1, T')
    (one row per output character, <eos> last) on a shared time axis; returns the Figure. The picture grows with
    the utterance: 0.012 inch a frame wide, 0.14 inch a character tall (250 characters of 20 s were drawn in 330
    pixels, their labels one smear), the title wrapped to its width (one line ran past both edges)."""
    import textwrap

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [("␣" if ch == " " else ch) for ch in text] + ["</s>"]
    if attention.shape[0] != len(labels):
        raise ValueError(f"attention has {attention.shape[0]} rows for {len(labels)} symbols")
    width, rows_h = max(6.0, 0.6 + features.shape[0] * 0.012), max(4.5, 0.14 * len(labels))
    title = "\n".join(textwrap.wrap(f"attention: “{text}”", max(20, int(width * 72 / (0.65 * 12)) - 4)))
    title_h = 0.2 * (title.count("\n") + 1)
    fig = Figure(figsize=(width, 2.5 + rows_h + title_h - 0.2))
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.3, rows_h]})
    ax1.imshow(features.T, origin="lower", aspect="auto", cmap="magma",
               extent=(0, features.shape[0] * feature_shift_s, 0, features.shape[1]))
    ax1.set(ylabel="mel band")
    ax1.set_title(title, parse_math=False)
    ax2.imshow(attention, origin="upper", aspect="auto", cmap="viridis", interpolation="nearest",
               extent=(0, attention.shape[1] * frame_shift_s, len(labels) - 0.5, -0.5))
    ax2.set_yticks(range(len(labels)))
    ax2.set_yticklabels(labels, fontsize=7)
    ax2.set(xlabel="time (s)", ylabel="output character")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig
