"""Session 53, helper m: a review of the partial text's new defaults (every 200 ms, decoded by a beam of at most 16):
where the narrower beam applies (partials only), the cadence against the block size, and Transcriber's partial_beam
as the Python API takes it."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.runtime.detector import Detector
from speechseq.runtime.events import FinalEvent, PartialEvent
from speechseq.runtime.listener import Listener, ListenerConfig, Transcriber
from speechseq.runtime.recognizer import DecodeOptions
from speechseq.runtime.vad import load_vad

from .listener_fixtures import ROOT, SAMPLE, tiny_models  # noqa: F401  (fixture)

HOME = ROOT / "data" / "commands" / "home.txt"


def _shipped_listener(*args: str) -> Listener:
    from speechseq.commands.listen import build_listener, register

    ap = argparse.ArgumentParser()
    register(ap.add_subparsers())
    return build_listener(ap.parse_args(["listen", *args]))


@pytest.mark.parametrize("width", [0, None, 2.5, True, "16"])
def test_a_partial_beam_that_is_no_width_is_refused_naming_it(tiny_models, width):
    """Transcriber(partial_beam=...) took the value into min() with the final's beam: 0 and 2.5 were refused as the
    DecodeOptions' "beam_size", which the caller did not pass, None and "16" failed inside min() (TypeError: '<' not
    supported), and True was taken as a beam of one where the final's was 1."""
    opts = DecodeOptions(decoder="beam", beam_size=32)
    with pytest.raises(ValueError, match=rf"partial_beam {width!r} \(a whole number >= 1\)"):
        Transcriber(tiny_models.recognizer, opts, partial_beam=width)
    with pytest.raises(ValueError, match=r"partial_beam True"):
        Transcriber(tiny_models.recognizer, DecodeOptions(decoder="beam", beam_size=1), partial_beam=True)
    assert Transcriber(tiny_models.recognizer, opts, partial_beam=np.int64(4))._partial_opts.beam_size == 4


class _Decodes(Transcriber):
    """The real transcriber, noting each partial decode's feature count and the listener step it came in."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.step, self.partials = 0, []

    def transcribe(self, feats, partial: bool = False):
        if partial:
            self.partials.append((self.step, len(feats)))
        return super().transcribe(feats, partial)


def _partial_decodes(models, block_ms: float, every_s: float) -> list[tuple[int, int]]:
    tr = _Decodes(models.recognizer)
    listener = Listener(Detector.load([models.detector]), tr, None, load_vad(),
                        ListenerConfig(partial_decoder="final", partial_interval_s=every_s))
    audio, block = load_audio(SAMPLE), int(block_ms * 16)
    state, events = listener.initial_state(), []
    for i in range(0, len(audio), block):
        tr.step = i // block
        ev, state = listener.step(audio[i : i + block], state)
        events += ev
    events += listener.finish(state)
    assert [type(e) for e in events][-1] is FinalEvent and any(isinstance(e, PartialEvent) for e in events)
    return tr.partials


def test_a_block_longer_than_the_cadence_is_decoded_once(tiny_models):
    """listen --partial-every-ms's help: "at most once a --block-ms block". A 500 ms block with a 200 ms cadence
    decodes the speech so far once per block (at the last whole 200 ms of it: 20 frames), not two or three times;
    50 ms blocks decode every fourth block, 20 frames more each time. (It held: a check of the help.)"""
    long = _partial_decodes(tiny_models, 500, 0.2)
    steps = [s for s, _ in long]
    assert len(long) >= 2 and len(steps) == len(set(steps)), long
    assert all(n % 20 == 0 for _, n in long) and all(b - a in (40, 60) for (_, a), (_, b) in zip(long, long[1:])), long
    short = _partial_decodes(tiny_models, 50, 0.2)
    assert len(short) > len(long) and all(n % 20 == 0 for _, n in short), short
    # (the first decode comes where speech is first heard, the next at the next whole 200 ms)
    assert all((t - s, b - a) == (4, 20) for (s, a), (t, b) in zip(short[1:], short[2:])), short


def test_listens_partials_take_the_narrow_beam_and_its_early_and_final_decodes_their_own():
    """speechseq listen's (and load_listener's) listener on the demo: every partial decode at beam 16 without the
    command list, the early decode and the final at the lexicon search's 32 with it; --decoder greedy's partials as
    its final (no beam to narrow), but spelt freely."""
    import speechseq

    listener = speechseq.load_listener(commands=HOME)
    tr = listener.transcriber
    assert listener.cfg.partial_interval_s == 0.2 and tr.opts.beam_size == 32 and tr.opts.commands is not None
    used, decode = [], tr.recognizer.decode

    def noted(log_probs, opts):
        used.append((opts.beam_size, opts.commands is not None))
        return decode(log_probs, opts)

    tr.recognizer.decode = noted
    audio, state, events = load_audio(SAMPLE), listener.initial_state(), []
    for i in range(0, len(audio), 800):
        ev, state = listener.step(audio[i : i + 800], state)
        events += ev
    events += listener.finish(state)
    partials = sum(isinstance(e, PartialEvent) for e in events)
    assert partials >= 3 and sum(isinstance(e, FinalEvent) for e in events) == 1, events
    assert (16, False) in used and set(used) == {(16, False), (32, True)}, used
    assert used.count((32, True)) == 1, used      # the early decode, taken as the final
    greedy = _shipped_listener("--decoder", "greedy", "--lm", "none", "--commands", str(HOME))
    g = greedy.transcriber
    assert g.opts.decoder == g._partial_opts.decoder == "greedy" and g._partial_opts.commands is None
