"""Noise is no command (session 51): the recogniser is unsure on every frame of noise, so that a phrase of a command
list costs little more than the noise's own best spelling (3 s of white noise at std 0.3: "what time is it" at a
deficit of 0.08 against data/commands/home.txt), and noise the energy VAD let through came out as a command (`transcribe
--commands --vad energy`: 124 commands in 30 minutes of kitchen, fan and generated noise; `listen --vad energy`: 101
of 208 wakes followed by noise). A phrase is now also taken only when it scores MIN_ORDER nats a character above its
own letters read backwards (command_set.CommandSet.order): speech has an order, noise has none."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.frontend import logmel
from speechseq.runtime.command_set import MAX_DEFICIT, MIN_ORDER, CommandSet, scrambled
from speechseq.runtime.detector import Detector
from speechseq.runtime.events import FinalEvent
from speechseq.runtime.listener import Listener, ListenerConfig, Transcriber
from speechseq.runtime.recognizer import DecodeOptions, Recognizer
from speechseq.runtime.vad import EnergyVad
from speechseq.text import encode

ROOT = Path(__file__).resolve().parents[1]
HOME = CommandSet.load(ROOT / "data" / "commands" / "home.txt")
SAMPLE = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
SR = 16000


def _noise(kind: str, std: float, seconds: float, seed: int) -> np.ndarray:
    """White, pink (1/f power) or brown (1/f^2) noise of standard deviation `std`."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x = rng.normal(0, 1, n)
    if kind != "white":
        f = np.fft.rfftfreq(n, 1 / SR)
        f[0] = f[1]
        x = np.fft.irfft(np.fft.rfft(x) * f ** (-0.5 if kind == "pink" else -1.0), n)
    return (std * x / x.std()).astype(np.float32)


def _bursts(kind: str, std: float, seed: int) -> np.ndarray:
    """20 s of a quiet room (-60 dBFS) with bursts of noise 1-2.5 s long, 1.5 s apart: what the energy VAD hears as
    speech (a tap, a fan turned on and off)."""
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 1e-3, 20 * SR).astype(np.float32)
    t = SR
    while t < len(audio) - 3 * SR:
        burst = _noise(kind, std, rng.uniform(1.0, 2.5), seed + t)
        audio[t : t + len(burst)] += burst
        t += len(burst) + int(1.5 * SR)
    return audio


@pytest.fixture(scope="module")
def int8() -> Recognizer:
    return Recognizer(ROOT / "models" / "recognizer-en.int8.onnx")     # listen's


@pytest.fixture(scope="module")
def fp32() -> Recognizer:
    return Recognizer(ROOT / "models" / "recognizer-en.onnx")          # transcribe's


@pytest.mark.parametrize("std", [0.03, 0.1, 0.3])
def test_white_noise_is_close_to_a_phrase_but_not_taken(int8, std):
    """3 s of white noise: a phrase within MAX_DEFICIT of the noise's own spelling (before: "what time is it" at a
    deficit of 0.51, "set a timer for ten minutes" at 0.62 and 0.36, taken), but no better than its letters read
    backwards."""
    m = HOME.match(int8.log_probs(logmel(_noise("white", std, 3.0, 0), int8.frontend)))
    assert m.deficit <= MAX_DEFICIT
    assert not m.accepted
    assert m.order < MIN_ORDER


@pytest.mark.parametrize("kind,std,seed", [("white", 0.1, 1), ("pink", 0.1, 2), ("brown", 0.3, 3)])
def test_noise_the_energy_vad_lets_through_gives_no_command(fp32, kind, std, seed):
    """transcribe --commands home.txt --vad energy on bursts of noise: the VAD passes them (segments), no phrase is
    taken (before: 4-5 commands in each 20 s, "what time is it" most often)."""
    t = fp32.transcribe(_bursts(kind, std, seed), DecodeOptions(commands=HOME), vad=EnergyVad())
    assert len(t.segments) >= 4
    assert [s.command for s in t.segments if s.command] == []


def test_noise_after_the_wake_word_gives_no_command(int8):
    """listen --vad energy: "activate" (the demo's first 1.9 s), then 3 s of pink noise: the final is no phrase of
    the list (before: "what is the weather like")."""
    audio = np.concatenate([load_audio(SAMPLE)[: int(1.9 * SR)], _noise("pink", 0.1, 3.0, 4),
                            np.random.default_rng(5).normal(0, 1e-3, int(2.5 * SR)).astype(np.float32)])
    listener = Listener(Detector.load([ROOT / "models" / "activate.onnx"]),
                        Transcriber(ROOT / "models" / "recognizer-en.int8.onnx", DecodeOptions(commands=HOME)),
                        None, EnergyVad(), ListenerConfig())
    state, events = listener.initial_state(), []
    for i in range(0, len(audio), 1600):
        ev, state = listener.step(audio[i : i + 1600], state)
        events += ev
    finals = [e for e in events + listener.finish(state) if isinstance(e, FinalEvent)]
    assert len(finals) == 1
    assert finals[0].text not in HOME.texts


def test_the_demo_command_is_still_taken(int8, fp32):
    """The demo's command, said: far more than MIN_ORDER above its reversal (its order 4.9), and taken by transcribe
    through the energy VAD."""
    audio = load_audio(SAMPLE)
    m = HOME.match(int8.log_probs(logmel(audio[int(2.2 * SR) :], int8.frontend)))      # the command, after "activate"
    assert m.accepted and m.text == "turn on the kitchen lights" and m.order > 3 * MIN_ORDER
    t = fp32.transcribe(audio, DecodeOptions(commands=HOME), vad=EnergyVad())
    assert [s.command for s in t.segments if s.command] == ["turn on the kitchen lights"]


def test_the_order_is_measured_against_the_phrase_reversed_or_rotated():
    assert scrambled(encode("turn on")) == tuple(encode("no nrut"))
    assert scrambled(encode("wow")) == tuple(encode("oww"))          # a palindrome: rotated
    assert scrambled(encode("aaa")) is None and scrambled(encode("a")) is None
    # no other order: the deficit decides alone
    lp = np.log(np.full((20, 29), 1 / 29))
    assert CommandSet(["a"]).order(lp, 0) == np.inf


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), True, "1"])
def test_min_order_must_be_a_finite_number_at_least_0(bad):
    with pytest.raises(ValueError, match="min_order"):
        CommandSet(["yes"], min_order=bad)
