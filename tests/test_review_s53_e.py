"""Session 53, helper e: `listen --partial-every-ms`, the final partial decoder's cadence (it was a fixed 300 ms)."""
from __future__ import annotations

import json
import os
import sys

import pytest

from .cli_run import run
from .listener_fixtures import SAMPLE
from .script_loader import load_script


@pytest.mark.parametrize("value, says", [("20", "must lie in [50, 2000], got 20"),
                                         ("2500", "must lie in [50, 2000], got 2500"),
                                         ("nan", "not a finite number: 'nan'")])
def test_the_cadence_out_of_bounds_is_a_usage_error_naming_it(value, says):
    code, _, err = run("listen", "--partial-every-ms", value)
    assert code == 2
    assert f"argument --partial-every-ms: {says}" in err, err


def _partial_times(*options: str) -> list[float]:
    code, out, err = run("listen", "--input", SAMPLE, "--fast", "--json", *options)
    assert code == 0, err
    return [e["time"] for e in map(json.loads, out.splitlines()) if e["event"] == "partial"]


def _gaps_ms(times: list[float]) -> list[int]:
    return [round(1000 * (b - a)) for a, b in zip(times, times[1:])]


def test_a_smaller_cadence_gives_partials_at_that_cadence_on_the_sample():
    """A partial comes only when its text changes, so the gaps between partials are whole multiples of the cadence:
    200 ms by default (300 until session 53), 300 and 150 ms asked for (fewer, and more of them)."""
    from speechseq.runtime.settings import PARTIAL_EVERY_MS

    assert PARTIAL_EVERY_MS == 200
    slow, default, fast = _partial_times("--partial-every-ms", "300"), _partial_times(), \
        _partial_times("--partial-every-ms", "150")
    assert len(slow) >= 4 and all(g % 300 == 0 for g in _gaps_ms(slow)), slow
    assert all(g % 200 == 0 for g in _gaps_ms(default)[1:]) and 200 in _gaps_ms(default), default  # (the first
    # decode's place: the utterance's start, moved to its speech)
    assert len(slow) <= len(default) < len(fast), (slow, default, fast)
    assert all(g % 150 == 0 for g in _gaps_ms(fast)) and 150 in _gaps_ms(fast), fast


def test_partials_are_decoded_by_a_beam_of_at_most_sixteen_the_final_by_its_own():
    """Every 200 ms at the final's beam 32 the decodes' backlog delayed the final (p90 546-589 ms against <= 500);
    at 16 it did not (settings.PARTIAL_BEAM_SIZE). A narrower beam asked for is kept for both."""
    from dataclasses import replace

    from speechseq.commands.common import MODELS
    from speechseq.runtime.listener import Transcriber
    from speechseq.runtime.recognizer import DecodeOptions

    model = MODELS / "recognizer-en.int8.onnx"
    wide = Transcriber(model, DecodeOptions(decoder="beam", beam_size=32))
    assert (wide.opts.beam_size, wide._partial_opts.beam_size) == (32, 16)
    narrow = Transcriber(model, DecodeOptions(decoder="beam", beam_size=8), partial_beam=16)
    assert (narrow.opts.beam_size, narrow._partial_opts.beam_size) == (8, 8)
    assert replace(wide._partial_opts, beam_size=32) == replace(wide.opts, commands=None)


def test_the_cadence_is_said_where_it_is_not_read():
    code, _, err = run("listen", "--input", SAMPLE, "--fast", "--json", "--no-partials", "--partial-every-ms", "150")
    assert code == 0
    assert "warning: --partial-every-ms: not used with --no-partials" in err, err
    assert "partials every" not in err   # the listening line: no partials


def _bench_listener(monkeypatch):
    """scripts/bench_listener.py as a module; the thread variables it sets at import and its module put back after."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(sys.modules, "bench_listener_s53_e", None)   # its dataclasses look their module up there
    return load_script("bench_listener", "bench_listener_s53_e", register=True)


def test_the_listener_bench_passes_the_cadence_on_and_refuses_a_bad_one(monkeypatch):
    bl = _bench_listener(monkeypatch)
    args = bl.argparse.Namespace(keyword_model=None, model=None, stream_model=None, lm=None, partial_decoder=None,
                                 vad="auto", early_decode_ms=150.0, decoder="auto", wake_wait_ms=None,
                                 partial_every_ms=200.0)
    assert bl.listener_args(args)[-2:] == ["--partial-every-ms", "200.0"]
    assert bl.listen_options(args).partial_every_ms == 200.0
    with pytest.raises(bl.argparse.ArgumentError, match="--partial-every-ms: must lie in"):
        bl.listen_options(bl.argparse.Namespace(**{**vars(args), "partial_every_ms": 10.0}))


def test_the_partial_beam_is_an_option_passed_to_the_transcriber_and_by_the_bench(monkeypatch):
    """listen --partial-beam-size (the README's beam-32 row at 200 ms is `bench_listener.py --partial-every-ms 200
    --partial-beam-size 32`): bounded, said unused where no partial decode reads it, and the bench passes it on."""
    from speechseq.commands.listen import build_listener

    code, _, err = run("listen", "--partial-beam-size", "0")
    assert code == 2 and "argument --partial-beam-size: must lie in [1, 1024], got 0" in err, err
    code, _, err = run("listen", "--input", SAMPLE, "--fast", "--json", "--no-partials", "--partial-beam-size", "4")
    assert code == 0 and "warning: --partial-beam-size: not used with --no-partials" in err, err
    bl = _bench_listener(monkeypatch)
    args = bl.argparse.Namespace(keyword_model=None, model=None, stream_model=None, lm=None, partial_decoder=None,
                                 vad="auto", early_decode_ms=150.0, decoder="auto", wake_wait_ms=None,
                                 partial_every_ms=None, partial_beam_size=32)
    assert bl.listener_args(args)[-2:] == ["--partial-beam-size", "32"]
    listener = build_listener(bl.listen_options(args))
    assert (listener.transcriber.opts.beam_size, listener.transcriber._partial_opts.beam_size) == (32, 32)
    listener = build_listener(bl.listen_options(bl.argparse.Namespace(**{**vars(args), "partial_beam_size": None})))
    assert listener.transcriber._partial_opts.beam_size == 16
