"""Issue 6: partial texts are prefixes-in-progress of the final (no flicker beyond the last word), with the
shipped models as `speechseq listen` loads them by default, on commands spoken by held-out synthetic voices
(espeak-ng, which the data recipes need: tests/test_synth.py) after the demo recording's "activate"."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.metrics import wer
from speechseq.runtime.events import FinalEvent, PartialEvent
from speechseq.text import normalize

from .listener_fixtures import SAMPLE, activate_without_end_table

COMMANDS = ("turn on the kitchen lights and set the living room to seventy degrees please and close the blinds",
            "what is the weather going to be like this weekend in the mountains near the lake by the old town")
VOICES = ("en-us+m2", "en-gb+f3")   # held out of training (speechseq.train.synth.heldout)


def _shipped_listener(*args: str):
    from speechseq.commands.listen import build_listener, register

    ap = argparse.ArgumentParser()
    register(ap.add_subparsers())
    return build_listener(ap.parse_args(["listen", *args]))


def _rewritten(before: list[str], after: list[str]) -> int:
    """Word edits that turn `before` into the prefix of `after` that matches it best."""
    row = list(range(len(after) + 1))
    for i, w in enumerate(before, 1):
        prev, row = row, [i] + [0] * len(after)
        for j, v in enumerate(after, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (w != v))
    return min(row)


@pytest.fixture(scope="module")
def scenarios() -> list[tuple[str, np.ndarray]]:
    from speechseq.train.synth import Voice, synthesize

    keyword = load_audio(SAMPLE)[: int(2.6 * 16000)]       # silence, "activate", 0.9 s of silence
    return [(text, np.concatenate([keyword, 0.5 * synthesize(text, Voice("espeak-ng", v)),
                                   np.zeros(24000, np.float32)]).astype(np.float32))
            for text in COMMANDS for v in VOICES]


def test_shipped_partials_grow_into_the_final(scenarios):
    """Each scenario gives one final and at least five partials; each partial keeps the words before the previous
    partial's last one; the last partial's WER is at most 15 points above the final's; and over the four scenarios
    the final rewrites at most 15% of the last partials' settled words (all but their last, at least 40 of them;
    word edits to the prefix of the final that matches them best). The chunked twin's greedy partials (listen's only
    kind before --partial-decoder final), about 70% WER where the final's lexicon search gives about 44%, were
    rewritten far more (here 31 of 67 settled words when it was the default); the final's decoder over the speech so
    far at the defaults of session 53 (partials every 200 ms at a beam of at most 16): 4 of 72."""
    listener = _shipped_listener()
    stable = rewritten = 0
    for text, audio in scenarios:
        state, events = listener.initial_state(), []
        for i in range(0, len(audio), 800):
            ev, state = listener.step(audio[i : i + 800], state)
            events += ev
        events += listener.finish(state)
        partials = [e.text.split() for e in events if isinstance(e, PartialEvent)]
        final = [e for e in events if isinstance(e, FinalEvent)]
        assert len(final) == 1 and len(partials) >= 5, (text, partials)
        for a, b in zip(partials, partials[1:]):
            assert b[: len(a) - 1] == a[:-1], (a, b)
        final = final[0].text.split()
        stable += len(partials[-1]) - 1
        rewritten += _rewritten(partials[-1][:-1], final)
        # the last partial is about as accurate as the final
        assert wer(normalize(text), " ".join(partials[-1])).rate <= wer(normalize(text), " ".join(final)).rate + 0.15
    assert stable >= 40 and rewritten <= 0.15 * stable, (rewritten, stable)


def _flickers(texts: list[str]) -> list[tuple[str, str]]:
    """The changes from one text to the next that rewrite more than the last word."""
    return [(a, b) for a, b in zip(texts, texts[1:]) if b.split()[: len(a.split()) - 1] != a.split()[:-1]]


def test_stream_partials_keep_all_but_their_last_word(tmp_path):
    """`--partial-decoder stream`: the chunked twin re-reads its look-ahead at every chunk, and its greedy text
    rewrote an earlier word (here "jonca ni li" -> "jonca niwil belitf", "by mo" -> "my moter tobme", "like the"
    -> "licke this lecon", each in one step). Its partials now fix a word as the final decoder's do (two decodes
    in a row agree on it): each keeps every word of the one before but its last. The recording starts where
    activate.onnx ended events before its end-offset table (session 46; 80 ms later, these three utterances' greedy
    texts rewrote no word, and the case was not there)."""
    from speechseq.train.synth import Voice, heldout, synthesize

    listener = _shipped_listener("--partial-decoder", "stream", "--keyword-model",
                                 str(activate_without_end_table(tmp_path)))
    keyword = load_audio(SAMPLE)[: int(2.6 * 16000)]
    raw_flickers, streams = 0, []
    for text, voice in (("send a message to john saying i will be late for dinner tonight", "en-us+Andrea"),
                        ("set a timer for twenty minutes and remind me to call my mother tomorrow morning",
                         "en-us+iven3"),
                        (COMMANDS[1], "en-us+Andrea")):
        assert heldout(Voice("espeak-ng", voice))
        audio = np.concatenate([keyword, 0.5 * synthesize(text, Voice("espeak-ng", voice)),
                                np.zeros(24000, np.float32)]).astype(np.float32)
        state, events, raw = listener.initial_state(), [], []
        for i in range(0, len(audio), 800):
            ev, state = listener.step(audio[i : i + 800], state)
            events += ev
            rec = state.recording
            if rec is not None and rec.stream is not None:    # the chunked recogniser's own greedy text
                streams.append(rec.stream)
                now = listener.streaming.partial(rec.stream).text
                if now and (not raw or raw[-1] != now):
                    raw.append(now)
        events += listener.finish(state)
        partials = [e.text for e in events if isinstance(e, PartialEvent)]
        final = [e for e in events if isinstance(e, FinalEvent)]
        assert len(final) == 1 and len(partials) >= 5, (text, partials)
        assert _flickers(partials) == [], (text, partials)
        raw_flickers += len(_flickers(raw))
        # the last partial holds the stream's last words: about as near the text as its greedy text
        assert wer(normalize(text), partials[-1]).rate <= wer(normalize(text), raw[-1]).rate + 0.1, (partials, raw)
    assert raw_flickers >= 3      # the case is there
    # the words the partials are made of: the greedy text's, timed in order on the utterance's clock
    for stream in streams[::10]:
        words = listener.streaming.partial_words(stream)
        assert [w.word for w in words] == listener.streaming.partial(stream).text.split()
        assert all(0 <= w.start < w.end <= v.start + 1e-6 for w, v in zip(words, words[1:]))
        assert not words or words[-1].end <= stream.frames * 0.01 + 1e-6
