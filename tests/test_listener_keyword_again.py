"""A keyword said again early in a take ("activate ... activate, turn on the kitchen lights": nothing seemed to happen,
so the speaker says it again) starts the take again where it ends, with a second wake event; and the final event's JSON
says where its recording started ("start", stream time, as its words' times are)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.metrics import wer as _wer
from speechseq.runtime.detector import Detection, Detector
from speechseq.runtime.events import FinalEvent, WakeEvent
from speechseq.runtime.listener import Listener, ListenerConfig, Transcriber
from speechseq.runtime.vad import load_vad

from .listener_fixtures import COMMAND, KEYWORD_END_S, ROOT, SAMPLE
from .listener_fixtures import tiny_models  # noqa: F401  (fixture)

KW = (0.95, 1.85)        # "activate" in the demo recording, its speech about 1.22-1.79 s (Silero)
CMD = (2.55, 4.25)       # "turn on the kitchen lights", its speech about 2.69-4.16 s
KW_SPEECH_END = 1.79 - KW[0]   # where the keyword's speech ends in its cut


def _cut(span: tuple[float, float]) -> np.ndarray:
    return load_audio(SAMPLE)[int(span[0] * 16000) : int(span[1] * 16000)]


def _z(s: float) -> np.ndarray:
    return np.zeros(int(round(s * 16000)), np.float32)


def twice(first_gap: float, then: float) -> tuple[np.ndarray, float]:
    """1 s of silence, "activate", `first_gap` s, "activate", `then` s, the command, 1 s: the audio and where the
    second keyword's speech ends."""
    kw, cmd = _cut(KW), _cut(CMD)
    audio = np.concatenate([_z(1.0), kw, _z(first_gap), kw, _z(then), cmd, _z(1.0)])
    return audio, 1.0 + len(kw) / 16000 + first_gap + KW_SPEECH_END


def _run(listener: Listener, audio: np.ndarray, block: int = 800) -> list:
    state, events = listener.initial_state(), []
    for i in range(0, len(audio), block):
        ev, state = listener.step(audio[i : i + block], state)
        events += ev
    return events + listener.finish(state)


def _listener(m, **cfg) -> Listener:
    return Listener(Detector.load([m.detector]), Transcriber(m.recognizer), None, load_vad(), ListenerConfig(**cfg))


@pytest.mark.parametrize("first_gap", [0.3, 0.5, 1.5])
@pytest.mark.parametrize("then", [0.15, 0.6])
def test_a_keyword_said_again_starts_the_take_again_after_it(tiny_models, first_gap, then):
    """The detectors did not run while recording: the take held the second "activate" and the command ("then" 0.15 s:
    one utterance, the keyword's text before the command's), or, after a pause longer than silence_s (0.6 s), ended on
    the keyword alone, and the command was lost (heard as nothing: no keyword woke the listener for it)."""
    audio, kw2_end = twice(first_gap, then)
    events = _run(_listener(tiny_models), audio)
    wakes = [e for e in events if isinstance(e, WakeEvent)]
    finals = [e for e in events if isinstance(e, FinalEvent)]
    assert len(wakes) == 2 and len(finals) == 1, events
    assert abs(wakes[0].keyword_end - (1.0 + KW_SPEECH_END)) < 0.15
    assert abs(wakes[1].keyword_end - kw2_end) < 0.15 and wakes[0].time < wakes[1].time < finals[0].time
    final = finals[0]
    assert wakes[1].keyword_end <= final.start < kw2_end + then + 0.15     # recorded after the second keyword
    assert _wer(COMMAND, final.text).rate <= 0.2, final.text
    assert final.words[0].start > kw2_end


@pytest.mark.parametrize("block", [160, 1360, 8000])
def test_the_second_wake_does_not_depend_on_the_block_size(tiny_models, block):
    audio, _ = twice(0.5, 0.6)
    ref = [e for e in _run(_listener(tiny_models), audio, 800) if not isinstance(e, FinalEvent) or e.text]
    got = [e for e in _run(_listener(tiny_models), audio, block) if not isinstance(e, FinalEvent) or e.text]
    kinds = [type(e).__name__ for e in got if not hasattr(e, "text") or isinstance(e, FinalEvent)]
    assert kinds == ["WakeEvent", "WakeEvent", "FinalEvent"]
    (a,), (b,) = ([e for e in x if isinstance(e, FinalEvent)] for x in (ref, got))
    assert (a.text, a.start, a.speech_end) == (b.text, b.start, b.speech_end)
    assert [w.keyword_end for w in ref if isinstance(w, WakeEvent)] == [
        w.keyword_end for w in got if isinstance(w, WakeEvent)]


def test_a_keyword_said_after_the_command_does_not_restart_it(tiny_models):
    """The keyword said again after other speech in the take is part of what is said: the take goes on (one wake)."""
    kw, cmd = _cut(KW), _cut(CMD)
    audio = np.concatenate([_z(1.0), kw, _z(0.3), cmd, _cut((1.15, KW[1])), _z(1.0)])   # 0.16 s before the keyword
    events = _run(_listener(tiny_models), audio)
    assert [type(e) for e in events if not hasattr(e, "text") or isinstance(e, FinalEvent)] == [WakeEvent, FinalEvent]
    final = events[-1]
    assert final.start < 1.0 + len(kw) / 16000 + 0.3 + 0.14 and final.text.startswith("turn on the"), final


def test_the_usual_take_is_as_it_was(tiny_models):
    """The keyword once, then the command (the demo): one wake, and the final as before the detectors ran in takes."""
    audio = np.concatenate([load_audio(SAMPLE), _z(1.0)])
    events = _run(_listener(tiny_models), audio)
    assert [type(e) for e in events if not hasattr(e, "text") or isinstance(e, FinalEvent)] == [WakeEvent, FinalEvent]
    assert events[-1].text == COMMAND and abs(events[0].keyword_end - KEYWORD_END_S) < 0.15


def _cli(args: list[str], capsys) -> tuple[int, list[dict], str]:
    from speechseq.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


SHIPPED = [ROOT / "models" / n for n in ("activate.onnx", "recognizer-en.int8.onnx")]


@pytest.mark.skipif(not all(p.is_file() for p in SHIPPED), reason="shipped models missing")
def test_cli_a_repeated_keyword_still_gets_the_command(capsys, tmp_path):
    """The shipped models, --commands: "activate ... activate, turn on the kitchen lights" said with a pause after the
    second keyword gave "heard: to be" (the second keyword alone), and nothing for the command."""
    import soundfile as sf

    audio, kw2_end = twice(0.5, 0.6)
    path = tmp_path / "twice.wav"
    sf.write(path, audio, 16000)
    code, events, err = _cli(["listen", "--input", str(path), "--fast", "--json", "--no-partials",
                              "--commands", str(ROOT / "data" / "commands" / "home.txt")], capsys)
    assert code == 0, err
    assert [e["event"] for e in events] == ["wake", "wake", "final"], events
    final = events[-1]
    assert final["command"] == "turn on the kitchen lights"
    assert kw2_end - 0.15 <= final["start"] <= final["words"][0]["start"]


def test_cli_the_final_says_where_its_recording_started(tiny_models, capsys):
    """--json's final event had "time" (when it was made) but not where its recording began: "start", stream seconds
    (its words' times are stream times too), after the keyword's end and before the first word."""
    m = tiny_models
    code, events, err = _cli(["listen", "--input", str(SAMPLE), "--fast", "--json", "--no-partials", "--keyword-model",
                              str(m.detector), "--model", str(m.recognizer), "--decoder", "greedy", "--lm", "none"],
                             capsys)
    assert code == 0, err
    assert [e["event"] for e in events] == ["wake", "final"]
    final = events[-1]
    assert list(final) == ["event", "text", "words", "time", "start"]
    assert KEYWORD_END_S - 0.15 <= final["start"] <= 2.68 - ListenerConfig().pre_speech_s + 0.05
    assert final["start"] <= final["words"][0]["start"] and final["words"][-1]["end"] <= final["time"]
    with pytest.raises(SystemExit):
        _cli(["listen", "--help"], capsys)
    said = " ".join(capsys.readouterr().out.split())
    assert "as is its \"start\": where its recording began" in said and "second wake" in said
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert '"time", "start"}' in readme and "is a second wake, the recording started again after it" in readme


class _AgainDetector:
    """Fires on a keyword said over `at[k]` (start, end; s) of its k-th stream (the listener's detector interface,
    nothing else): the keyword, then in the recording's stream (fresh from where it starts) a false accept on what is
    said after it."""

    class _Kw:
        keyword = "activate"

    models = [_Kw()]

    def __init__(self, *at: float) -> None:
        self.at, self.streams = at, 0

    def initial_state(self) -> tuple[int, int]:
        self.streams += 1
        return self.streams - 1, 0

    def step(self, chunk, state):
        k, n = state
        m = n + len(chunk)
        start, t = self.at[k] if k < len(self.at) else (-1.0, -1.0)
        fired = n / 16000 < t + 0.1 <= m / 16000
        return ([Detection("activate", start, t, 0.9, m / 16000)] if fired else []), (k, m)

    def flush(self, state):
        return []


def test_a_command_the_detector_takes_for_the_keyword_is_not_lost(tiny_models):
    """The shipped "activate" fires on "what time is it" (3 of 6 held-out espeak-ng voices): said after the keyword, it
    woke the listener again and started the recording after itself, which then heard nothing: the command was lost.
    With a command list, a recording that is a phrase of it so far is no keyword said again (one wake, the final as
    without the detectors in recordings); without one, a recording started again that hears no speech gives the final
    of the one it replaced (what was said, later by no_speech_s)."""
    from speechseq.runtime.command_set import CommandSet
    from speechseq.runtime.recognizer import DecodeOptions

    kw, cmd = _cut(KW), _cut(CMD)
    audio = np.concatenate([_z(1.0), kw, _z(0.2), cmd, _z(4.0)])
    kw_end = 1.0 + KW_SPEECH_END
    cmd_start = 1.0 + len(kw) / 16000 + 0.2 + 2.69 - CMD[0]        # where the command's speech starts and ends
    cmd_end = cmd_start + 4.16 - 2.69
    said = (kw_end - 0.6, kw_end), (cmd_start - kw_end, cmd_end - kw_end)   # (the second on the recording's clock)

    def run(det, opts=DecodeOptions()):
        return _run(Listener(det, Transcriber(tiny_models.recognizer, opts), None, load_vad(), ListenerConfig()), audio)

    plain = run(_AgainDetector(said[0]))                                   # no false accept: as before
    assert [type(e) for e in plain] == [WakeEvent, FinalEvent] and plain[-1].text == COMMAND
    events = run(_AgainDetector(*said))
    assert [type(e) for e in events] == [WakeEvent, WakeEvent, FinalEvent], events
    final = events[-1]
    assert (final.text, final.start, final.speech_end) == (plain[-1].text, plain[-1].start, plain[-1].speech_end)
    assert final.time == pytest.approx(events[1].keyword_end + ListenerConfig().no_speech_s, abs=0.06)
    commands = DecodeOptions(commands=CommandSet([COMMAND, "turn off the kitchen lights", "activate the fan"]))
    events = run(_AgainDetector(*said), commands)
    assert [type(e) for e in events] == [WakeEvent, FinalEvent], events
    assert (events[-1].text, events[-1].time) == (plain[-1].text, plain[-1].time)
