"""What a loss of audio (sources.Overrun) is called: `listen` (runtime.events.OverrunEvent's line) and `record`
(a take's rejection, --background's warning) say the same words for the same loss, from one function."""
from __future__ import annotations

from argparse import Namespace

import numpy as np
import pytest
import soundfile as sf

from speechseq.runtime.events import OverrunEvent
from speechseq.sources import Overrun

from .listener_fixtures import SAMPLE

SR = 16000
DROPPED = "of audio was dropped (the machine fell behind)"
DRIVER = "the input driver discarded audio (how much it does not say)"
EARLY = "; times after it are early by what the driver discarded"

# (the loss, its words): dropped only, the driver's overflow only, both, a second or more, and nothing at all
CASES = [
    (Overrun(0.5, 3.0), f"500 ms {DROPPED}"),
    (Overrun(0.0, 3.0, input_overflows=2), DRIVER),
    (Overrun(0.25, 3.0, input_overflows=1), f"250 ms {DROPPED}; {DRIVER}"),
    (Overrun(1.5, 3.0), f"1.50 s {DROPPED}"),
    (Overrun(0.0002, 3.0), f"1 ms {DROPPED}"),          # a loss, however short, is not "0 ms"
    (Overrun(0.9996, 3.0), f"1.00 s {DROPPED}"),        # nor "1000 ms"
    (Overrun(0.0, 3.0), "no audio was lost"),
]


@pytest.mark.parametrize("item, words", CASES)
def test_listen_and_record_put_the_same_loss_in_the_same_words(tmp_path, capsys, item, words):
    """listen said "500 ms of audio dropped (processing fell behind)" where record said "0.50 s of audio was dropped
    (the machine fell behind)", and for an Overrun that lost nothing record said nothing at all (an empty warning)."""
    from speechseq.commands.record import _Background, _Takes

    event = OverrunEvent(item.dropped_s, item.time, item.input_overflows)
    assert str(event) == f"[   3.00s] overrun: {words}" + (EARLY if item.input_overflows else "")
    _Background(Namespace(background=1.0, json=True), tmp_path / "room", "background").overrun(item)
    assert capsys.readouterr().err == f"speechseq: warning: {words}\n"
    # a take being spoken when the audio was lost: rejected, the loss said in the same words
    a = sf.read(SAMPLE, dtype="float32")[0]
    args = Namespace(pause_ms=500.0, max_seconds=2.5, vad="energy", keyword="android", count=50, json=True)
    (tmp_path / "clips").mkdir()
    takes = _Takes(args, tmp_path / "clips", "android")
    x = np.concatenate([np.zeros(SR, np.float32), a[int(1.0 * SR): int(1.45 * SR)]])   # stopped inside the word
    for i in range(0, len(x), 800):
        takes.feed(x[i: i + 800])
        takes.heard += len(x[i: i + 800])
    takes.overrun(item)
    out = capsys.readouterr().out
    if item.dropped_s or item.input_overflows:
        assert f'"reason": "audio was lost during it ({words}): say it again"' in out, out
    else:   # nothing was lost: the take goes on, nothing rejected
        assert out == "" and takes.tstate.start >= 0
