"""The listener's state machine on the demo recording, with tiny overfitted models (no shipped models
needed): wake -> partials -> final -> back to listening; endpointing; overruns; the command's JSON."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from speechseq.audio import load_audio
from speechseq.metrics import wer as _wer
from speechseq.runtime.detector import Detection, Detector
from speechseq.runtime.events import FinalEvent, OverrunEvent, PartialEvent, WakeEvent
from speechseq.runtime.listener import Listener, ListenerConfig, Mode, Transcriber
from speechseq.runtime.streaming_recognizer import StreamingRecognizer
from speechseq.runtime.vad import EnergyVad, load_vad
from speechseq.sources import FileStream, Overrun

from .listener_fixtures import COMMAND, KEYWORD_END_S, ROOT, SAMPLE, activate_without_end_table
from .listener_fixtures import tiny_models  # noqa: F401  (fixture)

BLOCK = 800  # 50 ms


def wer(ref: str, hyp: str) -> float:
    return _wer(ref, hyp).rate


def _listener(m, vad=None, **cfg) -> Listener:
    return Listener(Detector.load([m.detector]), Transcriber(m.recognizer),
                    StreamingRecognizer(m.stream, chunk_s=0.2, lookahead_s=0.1), vad or load_vad(), ListenerConfig(**cfg))


def _run(listener: Listener, audio: np.ndarray, overrun_at: dict[int, float] | None = None):
    state = listener.initial_state()
    events = []
    for i in range(0, len(audio), BLOCK):
        if overrun_at and i in overrun_at:
            ev, state = listener.overrun(overrun_at[i], state)
            events += ev
        ev, state = listener.step(audio[i : i + BLOCK], state)
        events += ev
    return events + listener.finish(state), state


@pytest.fixture(scope="module")
def demo_audio() -> np.ndarray:
    return np.concatenate([load_audio(SAMPLE), np.zeros(16000, np.float32)])


def test_wake_then_partials_then_final(tiny_models, demo_audio):
    events, state = _run(_listener(tiny_models), demo_audio)
    kinds = [type(e).__name__ for e in events]
    wakes = [e for e in events if isinstance(e, WakeEvent)]
    finals = [e for e in events if isinstance(e, FinalEvent)]
    partials = [e for e in events if isinstance(e, PartialEvent)]
    assert len(wakes) == 1 and len(finals) == 1, kinds
    wake, final = wakes[0], finals[0]
    assert kinds.index("WakeEvent") < kinds.index("PartialEvent") < kinds.index("FinalEvent")
    assert wake.keyword == "activate"
    assert KEYWORD_END_S < wake.time < KEYWORD_END_S + 0.4            # the wake delay
    assert abs(wake.keyword_end - KEYWORD_END_S) < 0.15
    # recorded from the keyword's end, then cut to 0.3 s before the VAD's speech onset (about 2.68 s)
    assert KEYWORD_END_S <= final.start <= 2.68 - ListenerConfig().pre_speech_s + 0.05
    assert wer(COMMAND, final.text) <= 0.2, final.text
    assert 4.0 < final.speech_end < 4.3                              # "lights" ends near 4.1 s
    silence = ListenerConfig().silence_s
    assert silence <= final.time - final.speech_end < silence + 0.1  # trailing silence, then at once
    assert [w.word for w in final.words] == final.text.split()
    starts = [w.start for w in final.words]
    assert starts == sorted(starts) and final.start <= starts[0] and final.words[-1].end <= final.end + 1e-6
    assert all(final.start < p.time <= final.time for p in partials)
    assert state.mode is Mode.LISTENING


def test_the_finals_first_word_starts_where_the_speech_does(tiny_models, demo_audio, capsys):
    """The recording keeps pre_speech_s (0.3 s) before the VAD's speech onset (about 2.68 s), and the recogniser
    writes an utterance's first letters in its first frames: the first word started at the cut, 0.3 s early, as
    transcribe's did before its onset bound (speechseq.runtime.recognizer.ONSET_MARGIN_S)."""
    from speechseq.runtime.recognizer import ONSET_MARGIN_S

    events, _ = _run(_listener(tiny_models), demo_audio)              # the tiny models' first word is late anyway
    final = next(e for e in events if isinstance(e, FinalEvent))
    assert final.start < 2.5 and final.words[0].start >= 2.68 - ONSET_MARGIN_S - 0.05, final.words
    code, lines, err = _cli(["listen", "--input", str(SAMPLE), "--fast", "--json"], capsys)   # the shipped models
    assert code == 0, err
    (final,) = [e for e in map(json.loads, lines) if e["event"] == "final"]
    words = final["words"]
    assert words[0]["start"] >= 2.68 - ONSET_MARGIN_S - 0.05, words      # it was 2.46 s
    assert all(w["start"] < w["end"] <= v["start"] + 1e-6 for w, v in zip(words, words[1:]))


def test_the_start_line_says_which_partials_come(capsys, tmp_path):
    """With the final's decoder making the partials (the default since session 42), the line said "no partials"
    above the partial lines it then printed."""
    def start_line(*more: str) -> str:
        code, _, err = _cli(["listen", "--input", str(SAMPLE), "--fast", *more], capsys)
        assert code == 0, err
        return next(line for line in err.splitlines() if line.startswith("speechseq: listening on"))

    assert "partials every 200 ms by the final's decoder" in start_line()
    assert "partials every 400 ms + 200 ms look-ahead" in start_line("--partial-decoder", "stream")
    assert "no partials" in start_line("--no-partials")
    # and counts a --commands list of one phrase as one ("1 commands of" before session 48)
    one = tmp_path / "one.txt"
    one.write_text("turn on the kitchen lights\n")
    assert f"; 1 command of {one}" in start_line("--no-partials", "--commands", str(one))


def _no_flicker(texts: list[str]) -> None:
    for a, b in zip(texts, texts[1:]):
        stable = a.split()[:-1]
        assert b.split()[: len(stable)] == stable, (a, b)


def test_partials_grow_without_flicker_beyond_the_last_word(tiny_models, demo_audio):
    # Among themselves, by construction (a word is fixed once two chunk decodes in a row agree on it: partials.settle):
    events, _ = _run(_listener(tiny_models), demo_audio)
    partials = [e.text for e in events if isinstance(e, PartialEvent)]
    assert len(partials) >= 3
    _no_flicker(partials)
    # ... and into the final when the chunked model is accurate at the setting. The tiny chunked twin
    # (fine-tuned in chunked mode for 500 steps) is, at 0.2 + 0.1 s and 0.8 + 0.4 s; at 0.4 + 0.2 s its
    # partials start "cturn ..." before the final's "turn ...", a flicker in the first word.
    for chunk_s, lookahead_s in ((0.2, 0.1), (0.8, 0.4)):
        listener = Listener(Detector.load([tiny_models.detector]), Transcriber(tiny_models.recognizer),
                            StreamingRecognizer(tiny_models.stream, chunk_s=chunk_s, lookahead_s=lookahead_s), load_vad())
        events, _ = _run(listener, demo_audio)
        texts = [e.text for e in events if isinstance(e, (PartialEvent, FinalEvent))]
        assert len(texts) >= 3 and wer(COMMAND, texts[-1]) == 0.0
        _no_flicker(texts)


def test_broken_samples_are_mended_not_transcribed(tiny_models, demo_audio):
    """NaN and infinite samples (a broken float file or driver) in the leading silence and inside the
    command: the same wake and final as the clean recording (unmended, NaN would reach the recogniser)."""
    audio = demo_audio.copy()
    audio[4000:4100] = np.nan
    audio[int(3.0 * 16000): int(3.0 * 16000) + 20] = np.nan    # inside the command's speech
    audio[int(3.5 * 16000)] = np.inf
    events, _ = _run(_listener(tiny_models), audio)
    wake = next(e for e in events if isinstance(e, WakeEvent))
    assert abs(wake.keyword_end - KEYWORD_END_S) < 0.15
    finals = [e for e in events if isinstance(e, FinalEvent)]
    assert len(finals) == 1 and wer(COMMAND, finals[0].text) <= 0.2, finals[0].text
    assert all(np.isfinite(w.confidence) for w in finals[0].words)


def test_overrun_is_reported_and_clocks_stay_in_step(tiny_models, demo_audio):
    # 0.5 s of audio lost during the leading silence: the wake comes 0.5 s later on the stream clock.
    cut = demo_audio[:8000], demo_audio[16000:]
    audio = np.concatenate(cut)
    events, _ = _run(_listener(tiny_models), audio, overrun_at={8000: 0.5})
    over = [e for e in events if isinstance(e, OverrunEvent)]
    assert len(over) == 1 and over[0].dropped_s == 0.5 and over[0].time == pytest.approx(0.5)
    assert over[0].to_dict() == {"event": "overrun", "dropped_s": 0.5, "time": 0.5}
    wake = next(e for e in events if isinstance(e, WakeEvent))
    assert abs(wake.keyword_end - KEYWORD_END_S) < 0.15              # the same place in stream time
    final = next(e for e in events if isinstance(e, FinalEvent))
    assert wer(COMMAND, final.text) <= 0.2


def test_audio_the_input_driver_discarded_is_said_so_without_a_length(tiny_models):
    """PortAudio's input-overflow flag (sources.Overrun.input_overflows) says the driver discarded input, not how
    much: the listener reported it as "overrun: 0 ms of audio dropped (processing fell behind)", wrong on both."""
    listener = _listener(tiny_models)
    state = listener.initial_state()
    (event,), state = listener.overrun(0.0, state, input_overflows=2)
    assert event.to_dict() == {"event": "overrun", "dropped_s": 0.0, "time": 0.0, "input_overflows": 2}
    assert "input driver discarded audio" in str(event) and "0 ms" not in str(event)
    assert state.time == 0.0                                          # nothing known to add to the clock
    (both,), _ = listener.overrun(0.25, state, input_overflows=1)
    assert "250 ms" in str(both) and "input driver discarded" in str(both)
    (plain,), _ = listener.overrun(0.5, state)
    assert plain.to_dict() == {"event": "overrun", "dropped_s": 0.5, "time": 0.0}   # as before


def test_overruns_while_recording_move_the_later_word_times(tiny_models, demo_audio):
    """Losses reported while the utterance is recorded (no audio taken out, so the text and its own
    clock stay as they were): 0.5 s in the silence before the command, 0.3 s inside "the" (about 3.44-3.62 s).
    Every time after a loss, in stream time, is later by what was lost before it; the word that spans the
    second one starts 0.5 s and ends 0.8 s later. They were left where continuous audio puts them."""
    plain, _ = _run(_listener(tiny_models), demo_audio)
    gapped, _ = _run(_listener(tiny_models), demo_audio, overrun_at={int(2.2 * 16000): 0.5, int(3.5 * 16000): 0.3})
    before = next(e for e in plain if isinstance(e, FinalEvent))
    after = next(e for e in gapped if isinstance(e, FinalEvent))
    assert [type(e) for e in gapped if not isinstance(e, OverrunEvent)] == [type(e) for e in plain]
    assert after.text == before.text and [w.word for w in before.words][2] == "the"
    assert before.words[2].start < 3.5 < before.words[2].end                      # the second loss is inside "the"

    def later(t: float, end: bool) -> float:
        return t + 0.5 + (0.3 if (t > 3.5 if end else t >= 3.5) else 0.0)

    assert [(w.word, w.confidence) for w in after.words] == [(w.word, w.confidence) for w in before.words]
    assert [x for w in after.words for x in (w.start, w.end)] == pytest.approx(
        [x for w in before.words for x in (later(w.start, False), later(w.end, True))], abs=1e-9)
    assert after.start == pytest.approx(before.start + 0.5) and before.start > 2.2    # cut after the first loss
    assert after.end == pytest.approx(before.end + 0.8) and after.speech_end == pytest.approx(before.speech_end + 0.8)
    assert after.time == pytest.approx(before.time + 0.8)


def test_a_keyword_that_ended_before_an_overrun_keeps_its_end(tiny_models, demo_audio):
    """Audio lost between the keyword's end (about 1.68 s) and its wake (the detector fires later): the wake's
    keyword_end was late by the loss (1.98 s after 0.3 s lost at 1.75 s), as if the keyword had ended after it."""
    at = int(1.75 * 16000)
    audio = np.concatenate([demo_audio[:at], demo_audio[at + int(0.3 * 16000):]])
    events, _ = _run(_listener(tiny_models), audio, overrun_at={at: 0.3})
    assert [type(e) for e in events][:2] == [OverrunEvent, WakeEvent]
    wake = events[1]
    assert wake.time > 1.75 + 0.3 and abs(wake.keyword_end - KEYWORD_END_S) < 0.15, wake
    plain = next(e for e in _run(_listener(tiny_models), demo_audio)[0] if isinstance(e, WakeEvent))
    assert wake.keyword_end == pytest.approx(plain.keyword_end)      # where it ended, as without the loss
    final = next(e for e in events if isinstance(e, FinalEvent))
    assert final.start >= 1.75 + 0.3 and wer(COMMAND, final.text) <= 0.2     # the recording starts after the loss


def test_listener_survives_a_slow_consumer(tiny_models):
    """Real-time source, a listener that stalls once: an overrun event, then business as usual."""
    import time

    listener = _listener(tiny_models)
    state = listener.initial_state()
    events = []
    src = FileStream(SAMPLE, realtime=True, block_s=0.05, queue_s=0.3, tail_s=0.6)
    for i, item in enumerate(src.blocks()):
        if isinstance(item, Overrun):
            ev, state = listener.overrun(item.dropped_s, state)
        else:
            ev, state = listener.step(item, state)
            if i == 2:
                time.sleep(0.8)            # during the leading silence
        events += ev
    events += listener.finish(state)
    assert any(isinstance(e, OverrunEvent) for e in events)
    assert any(isinstance(e, WakeEvent) for e in events)
    final = [e for e in events if isinstance(e, FinalEvent)]
    assert len(final) == 1 and wer(COMMAND, final[0].text) <= 0.2


@dataclass(frozen=True)
class _Kw:
    keyword: str = "hey"


class ScriptedDetector:
    """Fires `at` seconds into its first stream only (the listener's detector interface, nothing else)."""

    models = [_Kw()]

    def __init__(self, at: float) -> None:
        self.at = at
        self.streams = 0      # a test double may count; the listener resets the state after each utterance

    def initial_state(self) -> int:
        self.streams += 1
        return 0

    def step(self, chunk, n: int):
        m = n + len(chunk)
        t = self.at
        fired = self.streams == 1 and n / 16000 < t + 0.1 <= m / 16000
        return ([Detection("hey", t - 0.5, t, 0.9, m / 16000)] if fired else []), m

    def flush(self, n: int):
        return []


def test_nothing_said_after_the_wake_word_gives_an_empty_final(tiny_models):
    listener = Listener(ScriptedDetector(1.0), Transcriber(tiny_models.recognizer), None, EnergyVad(),
                        ListenerConfig(no_speech_s=1.5))
    events, state = _run(listener, np.zeros(16000 * 4, np.float32))
    final = [e for e in events if isinstance(e, FinalEvent)]
    assert len(final) == 1 and final[0].text == "" and final[0].words == ()
    assert final[0].time == pytest.approx(1.0 + 1.5, abs=0.06)
    assert state.mode is Mode.LISTENING


def test_keyword_tail_from_an_early_end_estimate_is_dropped(tiny_models, demo_audio):
    """The detector says the keyword ended 0.2 s before it did: the tail and the pause after it
    must neither end the utterance early nor start its text."""
    listener = Listener(ScriptedDetector(KEYWORD_END_S - 0.2), Transcriber(tiny_models.recognizer), None, load_vad())
    events, _ = _run(listener, demo_audio)
    final = [e for e in events if isinstance(e, FinalEvent)]
    assert len(final) == 1
    assert KEYWORD_END_S < final[0].start < 2.68 - 0.2                      # restarted after the tail
    assert 4.0 < final[0].speech_end < 4.3
    assert wer(COMMAND, final[0].text) <= 0.2


def test_max_utterance_length_cuts_endless_speech(tiny_models):
    speech = load_audio(SAMPLE)[int(2.7 * 16000) : int(4.0 * 16000)]
    audio = np.concatenate([np.zeros(16000, np.float32), *[speech] * 4])
    listener = Listener(ScriptedDetector(0.9), Transcriber(tiny_models.recognizer), None, load_vad(),
                        ListenerConfig(max_utterance_s=2.0))
    events, _ = _run(listener, audio)
    final = [e for e in events if isinstance(e, FinalEvent)]
    assert final[0].time == pytest.approx(0.9 + 2.0, abs=0.06)
    assert final[0].end - final[0].start == pytest.approx(2.0, abs=0.06)


class CountingTranscriber(Transcriber):
    """The real transcriber, noting the stream time of every decode (set by the test loop)."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.now, self.calls = 0.0, []

    def transcribe(self, feats):
        self.calls.append((self.now, len(feats)))
        return super().transcribe(feats)


def _run_counting(listener: Listener, audio: np.ndarray):
    state, events = listener.initial_state(), []
    for i in range(0, len(audio), BLOCK):
        listener.transcriber.now = (i + BLOCK) / 16000
        ev, state = listener.step(audio[i : i + BLOCK], state)
        events += ev
    return events + listener.finish(state)


def test_early_decode_gives_the_same_final_before_the_endpoint(tiny_models, demo_audio):
    """Decoding ahead after 150 ms of silence: the same text, words and endpoint as decoding at the
    end, but the one decode ran at least silence_s - early_decode_s - one block before the final."""
    finals = {}
    for early in (None, 0.15):
        tr = CountingTranscriber(tiny_models.recognizer)
        listener = Listener(Detector.load([tiny_models.detector]), tr, None, load_vad(),
                            ListenerConfig(early_decode_s=early))
        events = _run_counting(listener, demo_audio)
        final = [e for e in events if isinstance(e, FinalEvent)]
        assert len(final) == 1 and len(tr.calls) == 1
        finals[early] = (final[0], tr.calls[0][0])
    (late, t_late), (early, t_early) = finals[None], finals[0.15]
    assert early.text == late.text and wer(COMMAND, early.text) <= 0.2
    assert [w.word for w in early.words] == [w.word for w in late.words]
    # the network saw 200 ms less trailing silence: word times move by a frame or two at most
    assert max(abs(a.start - b.start) + abs(a.end - b.end) for a, b in zip(early.words, late.words)) <= 0.04
    assert early.time == late.time and early.speech_end == late.speech_end
    assert t_late == pytest.approx(late.time)
    assert late.time - t_early >= 0.35 - 0.15 - BLOCK / 16000 - 1e-6


def test_speech_after_a_short_pause_discards_the_early_decode(tiny_models):
    """A pause longer than early_decode_s but shorter than silence_s: the early result covered only
    the first part, so the final is decoded again and ends after the second part."""
    speech = load_audio(SAMPLE)[int(2.6 * 16000) : int(4.16 * 16000)]   # "turn on the kitchen lights"
    z = lambda s: np.zeros(int(s * 16000), np.float32)  # noqa: E731
    audio = np.concatenate([z(1.0), speech, z(0.12), speech, z(1.0)])    # a pause of about 0.25 s with the edges
    tr = CountingTranscriber(tiny_models.recognizer)
    listener = Listener(ScriptedDetector(0.9), tr, None, load_vad(), ListenerConfig(early_decode_s=0.1))
    events = _run_counting(listener, audio)
    final = [e for e in events if isinstance(e, FinalEvent)]
    assert len(final) == 1
    second_start = 1.0 + len(speech) / 16000 + 0.12 + 0.08             # "turn" starts 80 ms into the cut
    assert len(tr.calls) == 2 and tr.calls[0][0] < second_start < tr.calls[1][0]
    assert tr.calls[1][1] > tr.calls[0][1] + 100            # the second decode saw the second part
    assert final[0].speech_end > second_start + 1.0
    assert final[0].words and final[0].words[-1].end > second_start


def test_energy_vad_endpoints_like_silero(tiny_models, demo_audio):
    events, _ = _run(_listener(tiny_models, vad=EnergyVad()), demo_audio)
    final = next(e for e in events if isinstance(e, FinalEvent))
    assert 4.0 < final.speech_end < 4.3
    assert wer(COMMAND, final.text) <= 0.2


@pytest.mark.parametrize("noise_db", [-40, -35])
def test_energy_vad_endpoints_in_steady_noise(tiny_models, demo_audio, noise_db):
    """White noise under the demo: the energy VAD's floor starts at the room's level, heard before the keyword,
    not at -60 dB for every utterance, from where it rose 1.5 dB/s: at -40 dBFS the final came 3 s late (7.45 s),
    at -35 dBFS only with the end of the stream. The utterance ends about where Silero ends it (the energy VAD, 12 dB
    over -35 dBFS, loses the quiet end of "lights": 3.91 s)."""
    noisy = demo_audio + np.random.default_rng(0).normal(0, 10 ** (noise_db / 20), len(demo_audio)).astype(np.float32)
    for vad in (EnergyVad(), load_vad("silero")):
        events, _ = _run(_listener(tiny_models, vad=vad, partials=False), noisy)
        final = next(e for e in events if isinstance(e, FinalEvent))
        assert 3.85 < final.speech_end < 4.3 and final.time < 4.7, vad.name


def _cli(args: list[str], capsys) -> tuple[int, list[str], str]:
    from speechseq.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_cli_json_events(tiny_models, capsys):
    m = tiny_models
    code, lines, err = _cli(["listen", "--input", str(SAMPLE), "--fast", "--json", "--keyword-model", str(m.detector),
                             "--model", str(m.recognizer), "--stream-model", str(m.stream),
                             "--chunk-ms", "200", "--lookahead-ms", "100"], capsys)
    assert code == 0, err
    events = [json.loads(x) for x in lines]
    keys = {"wake": {"event", "keyword", "time", "score"}, "partial": {"event", "text", "time"},
            "final": {"event", "text", "words", "time", "start"}}
    for e in events:
        assert set(e) == keys[e["event"]], e
    assert [e["event"] for e in events if e["event"] != "partial"] == ["wake", "final"]
    final = events[-1]
    assert wer(COMMAND, final["text"]) <= 0.2
    assert all(set(w) == {"word", "start", "end", "confidence"} for w in final["words"])
    assert "listening on" in err


@pytest.mark.parametrize("name", ["r.int8.ONNX", "r.Int8.ONNX"])
def test_cli_finds_the_chunked_twin_of_a_model_named_in_upper_case(name, tiny_models, capsys, tmp_path):
    """`export --out r.ONNX --int8` writes r.int8.ONNX: listen --model r.int8.ONNX finds its chunked twin
    r.stream.ONNX (the names twin_path gives) and shows partial text, as with lower-case names."""
    import shutil

    from speechseq.runtime.onnx import twin_path, untagged

    m = tiny_models
    model = tmp_path / name
    shutil.copy(m.recognizer, model)
    shutil.copy(m.stream, twin_path(untagged(model, "int8"), "stream"))
    code, lines, err = _cli(["listen", "--input", str(SAMPLE), "--fast", "--json", "--keyword-model", str(m.detector),
                             "--model", str(model), "--lm", "none", "--decoder", "greedy", "--partial-decoder", "stream",
                             "--chunk-ms", "200", "--lookahead-ms", "100"], capsys)
    assert code == 0, err
    events = [json.loads(x) for x in lines]
    assert "partial" in [e["event"] for e in events]
    assert events[-1]["event"] == "final" and wer(COMMAND, events[-1]["text"]) <= 0.2


def test_cli_final_decoders(tiny_models, capsys, tmp_path):
    """--decoder greedy / lexicon (the shipped words-en lexicon, no LM) give a final on the tiny
    model; the lexicon's words are all lexicon words; a missing lexicon is a one-line error."""
    from speechseq.runtime.lexicon import load_lexicon

    m = tiny_models
    base = ["listen", "--input", str(SAMPLE), "--fast", "--json", "--keyword-model", str(m.detector),
            "--model", str(m.recognizer), "--no-partials", "--lm", "none"]
    finals = {}
    for dec in ("greedy", "lexicon"):
        code, lines, err = _cli(base + ["--decoder", dec], capsys)
        assert code == 0, err
        finals[dec] = [json.loads(x) for x in lines][-1]
        assert finals[dec]["event"] == "final"
    assert wer(COMMAND, finals["greedy"]["text"]) <= 0.2
    words = set(load_lexicon(ROOT / "models" / "words-en.npz").vocabulary)
    assert finals["lexicon"]["text"] and all(w in words for w in finals["lexicon"]["text"].split())
    code, _, err = _cli(base + ["--decoder", "lexicon", "--lexicon", str(tmp_path / "none.npz")], capsys)
    assert code == 1 and err.count("\n") == 1 and "none.npz" in err


def test_cli_exec_runs_a_command_with_the_final_text(tiny_models, capsys, tmp_path):
    m = tiny_models
    out = tmp_path / "said.txt"
    cmd = f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\" {out}"
    code, lines, err = _cli(["listen", "--input", str(SAMPLE), "--fast", "--keyword-model", str(m.detector),
                             "--model", str(m.recognizer), "--no-partials", "--exec", cmd], capsys)
    assert code == 0, err
    assert any("heard:" in x for x in lines) and any("wake: activate" in x for x in lines)
    import time

    for _ in range(100):
        if out.exists() and out.read_text():
            break
        time.sleep(0.05)
    assert wer(COMMAND, out.read_text()) <= 0.2


def test_cli_max_minutes_stops_the_stream(tiny_models, capsys):
    m = tiny_models
    code, lines, err = _cli(["listen", "--input", str(SAMPLE), "--fast", "--json", "--keyword-model", str(m.detector),
                             "--model", str(m.recognizer), "--no-partials", "--max-minutes", "0.05"], capsys)
    assert code == 0 and "--max-minutes" in err
    events = [json.loads(x) for x in lines]
    assert [e["event"] for e in events] == ["wake", "final"]      # the utterance cut at 3 s is still reported
    assert events[-1]["time"] == pytest.approx(3.0, abs=0.06)


@pytest.mark.parametrize("block_ms", ["50", "333"])
def test_cli_max_minutes_hears_no_audio_past_the_limit(tiny_models, capsys, block_ms):
    """--max-minutes 0.05 is 3.0 s of audio whatever the block size (blocks of 50 ms added up to 2.9999999999999973
    s and one more block was heard, to 3.05 s; blocks of 333 ms ran to 3.33 s), and a keyword said after the limit
    does not wake the listener (--max-minutes 0.025, 1.5 s: "activate" ends at 1.68 s; 333 ms blocks woke at 2.0 s)."""
    m = tiny_models
    args = ["listen", "--input", str(SAMPLE), "--fast", "--json", "--keyword-model", str(m.detector),
            "--model", str(m.recognizer), "--no-partials", "--block-ms", block_ms]
    code, lines, err = _cli([*args, "--max-minutes", "0.05"], capsys)
    assert code == 0 and "--max-minutes" in err
    events = [json.loads(x) for x in lines]
    assert [e["event"] for e in events] == ["wake", "final"]
    assert events[-1]["time"] == pytest.approx(3.0, abs=1e-3)
    code, lines, err = _cli([*args, "--max-minutes", "0.025"], capsys)
    assert code == 0 and "--max-minutes" in err and lines == []


def test_cli_errors_are_one_line(capsys, tmp_path):
    code, _, err = _cli(["listen", "--input", str(tmp_path / "missing.wav"), "--fast",
                         "--keyword-model", str(tmp_path / "nope.onnx")], capsys)
    assert code == 1 and err.count("\n") == 1 and "nope.onnx" in err
    code, _, err = _cli(["listen", "--fast"], capsys)
    assert code == 1 and "--input" in err


def test_the_listener_path_needs_no_torch(tiny_models):
    from .test_no_torch import _run as run_without_torch

    m = tiny_models
    r = run_without_torch(f"""
        from speechseq.cli import main
        code = main(["listen", "--input", {str(SAMPLE)!r}, "--fast", "--json", "--keyword-model", {str(m.detector)!r},
                     "--model", {str(m.recognizer)!r}, "--stream-model", {str(m.stream)!r}])
        import speechseq.sources
        assert code == 0 and "torch" not in sys.modules
    """)
    assert r.returncode == 0, r.stderr
    assert '"event": "final"' in r.stdout


def test_a_stale_chunked_model_is_reported(tiny_models, capsys, tmp_path):
    import shutil

    from speechseq.runtime.onnx import read_metadata, write_metadata
    from speechseq.runtime.streaming_recognizer import source_digest

    m = tiny_models
    stale = tmp_path / "stale.stream.onnx"
    shutil.copy(m.stream, stale)
    write_metadata(stale, {**read_metadata(stale), "source_digest": "0123456789abcdef"})
    args = ["listen", "--input", str(SAMPLE), "--fast", "--json", "--keyword-model", str(m.detector),
            "--model", str(m.recognizer)]
    code, _, err = _cli([*args, "--stream-model", str(stale)], capsys)
    assert code == 0 and "was made from another version" in err
    fresh = tmp_path / "fresh.stream.onnx"
    shutil.copy(m.stream, fresh)
    write_metadata(fresh, {**read_metadata(fresh), "source_digest": source_digest(read_metadata(m.recognizer))})
    code, _, err = _cli([*args, "--stream-model", str(fresh)], capsys)
    assert code == 0 and "another version" not in err


def _run_sizes(listener: Listener, audio: np.ndarray, sizes: list[int]):
    """The stream cut into blocks of `sizes` (repeated in turn)."""
    state, events, i, k = listener.initial_state(), [], 0, 0
    while i < len(audio):
        n = sizes[k % len(sizes)]
        ev, state = listener.step(audio[i : i + n], state)
        events += ev
        i, k = i + n, k + 1
    return events + listener.finish(state)


def _z(s: float) -> np.ndarray:
    return np.zeros(int(round(s * 16000)), np.float32)


@pytest.mark.parametrize("sizes", [[4000], [8000], [7919, 16, 3001]], ids=["250ms", "500ms", "uneven"])
def test_the_endpoint_and_the_keyword_tail_do_not_depend_on_the_block_size(tiny_models, sizes):
    """A pause longer than silence_s ends the utterance, and a keyword tail followed by a short gap is
    dropped, however the stream is cut: with blocks longer than the pause the decision used to be made
    once a block, after speech had resumed within it (two commands heard as one; the tail kept as "ce")."""
    src = load_audio(SAMPLE)
    cmd = src[int(2.6 * 16000) : int(4.16 * 16000)]                    # "turn on the kitchen lights"
    kw = src[int(0.9 * 16000) : int(1.75 * 16000)]                      # "activate", ending near 0.78 s in
    cases = [(np.concatenate([_z(1.1), cmd, _z(0.4), cmd, _z(1.0)]), 1.0),
             (np.concatenate([_z(1.0), kw, _z(0.25), cmd, _z(1.0)]), 1.0 + 0.78 - 0.2)]
    for audio, wake_at in cases:
        got = {}
        for cut in ([160], sizes):
            listener = Listener(ScriptedDetector(wake_at), Transcriber(tiny_models.recognizer), None, load_vad())
            got[len(got)] = [e for e in _run_sizes(listener, audio, cut) if isinstance(e, FinalEvent)]
        (ref, new) = got[0], got[1]
        assert [f.text for f in new] == [f.text for f in ref] and wer(COMMAND, ref[0].text) == 0.0
        for a, b in zip(ref, new):
            assert a.start == b.start and a.speech_end == b.speech_end
            assert abs(a.end - b.end) < 1e-9 and [(w.word, w.start, w.end) for w in a.words] == [
                (w.word, w.start, w.end) for w in b.words]
            assert b.end - 1e-9 <= b.time < b.end + max(cut) / 16000   # made at the end of the block that ends it


@pytest.mark.parametrize("sizes", [[800], [7000], [8000], [1, 4999]])
def test_max_utterance_and_no_speech_end_exactly_at_their_length(tiny_models, sizes):
    speech = load_audio(SAMPLE)[int(2.7 * 16000) : int(4.0 * 16000)]
    endless = np.concatenate([_z(1.0), *[speech] * 4])
    listener = Listener(ScriptedDetector(0.9), Transcriber(tiny_models.recognizer), None, load_vad(),
                        ListenerConfig(max_utterance_s=2.0))
    final = next(e for e in _run_sizes(listener, endless, sizes) if isinstance(e, FinalEvent))
    assert final.end - final.start == pytest.approx(2.0, abs=1 / 16000)
    assert final.end - 1e-9 <= final.time < final.end + max(sizes) / 16000
    listener = Listener(ScriptedDetector(1.0), Transcriber(tiny_models.recognizer), None, EnergyVad(),
                        ListenerConfig(no_speech_s=1.5))
    final = next(e for e in _run_sizes(listener, _z(4.0), sizes) if isinstance(e, FinalEvent))
    assert final.start == pytest.approx(1.0) and final.end == pytest.approx(2.5, abs=1 / 16000)
    assert final.text == ""


def _arrays(value) -> list[np.ndarray]:
    """Every numpy array inside a state value (dataclasses, tuples, named tuples)."""
    import dataclasses

    if isinstance(value, np.ndarray):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [a for f in dataclasses.fields(value) for a in _arrays(getattr(value, f.name))]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _arrays(v)]
    return []


def test_the_state_is_a_value_even_when_the_caller_reuses_its_buffer(tiny_models, demo_audio):
    """A source that fills one buffer again and again (as a device callback may) must not change a
    state already returned: the history and the VAD's context used to be views of the caller's block."""
    listener = _listener(tiny_models)
    state, buf, modes = listener.initial_state(), np.empty(BLOCK, np.float32), set()
    for i in range(0, len(demo_audio) - BLOCK + 1, BLOCK):
        buf[:] = demo_audio[i : i + BLOCK]
        _, state = listener.step(buf, state)
        modes.add(state.mode)
        before = [a.copy() for a in _arrays(state)]
        buf[:] = 0.5
        assert all(np.array_equal(a, b) for a, b in zip(_arrays(state), before)), (i, state.mode)
    assert modes == {Mode.LISTENING, Mode.RECORDING}


class _PendingDetector(ScriptedDetector):
    """Never fires while stepping: its keywords are still waiting for their peak when the stream ends (flush)."""

    def step(self, chunk, n: int):
        return [], n + len(chunk)

    def flush(self, n: int):
        return [Detection("hey", self.at - 0.5, self.at, 0.7, n / 16000),
                Detection("hey", self.at - 0.5, self.at, 0.9, n / 16000)]


def test_a_keyword_still_waiting_for_its_peak_at_the_end_gets_one_wake_and_a_final(tiny_models, demo_audio):
    """The stream ends (a file, Ctrl+C, --max-minutes) while a keyword waits for its peak (--wake-wait-ms): one wake,
    as while streaming, and a final for it from what the history kept after the keyword (it was a wake alone, and
    two wakes for two pending detections)."""
    det = Detector.load([tiny_models.detector], max_wait_s=0.5)
    listener = Listener(det, Transcriber(tiny_models.recognizer), None, load_vad())
    events, state = _run(listener, demo_audio[: int(1.9 * 16000)])
    assert [type(e) for e in events] == [WakeEvent, FinalEvent], events
    wake, final = events
    assert abs(wake.keyword_end - KEYWORD_END_S) < 0.15 and final.start == pytest.approx(wake.keyword_end)
    assert final.time == pytest.approx(1.9) and final.text == ""
    # what followed the keyword is transcribed: the stream ends 4.3 s in, the keyword "ended" at 3.0 s
    listener = Listener(_PendingDetector(3.0), Transcriber(tiny_models.recognizer), None, load_vad())
    events, state = _run(listener, demo_audio[: int(4.3 * 16000)])
    assert [type(e) for e in events] == [WakeEvent, FinalEvent], events
    assert events[0].score == 0.9 and events[1].start == pytest.approx(3.0)
    assert "kitchen lights" in events[1].text and 4.0 < events[1].speech_end < 4.3
    events, after = listener.flush(state)
    assert [type(e) for e in events] == [WakeEvent, FinalEvent]
    assert after.mode is Mode.LISTENING and after.time == state.time and after.history == ()


def test_cli_an_utterance_cut_off_by_a_lost_device_is_final_at_once(tiny_models, monkeypatch):
    """The microphone stops delivering mid-command and comes back later: the command heard so far gets its final
    when the device is lost, not merged with what the reopened device hears (it waited for the device, and then
    for trailing silence on it); the listener listens again, from fresh detectors, after the reconnect."""
    import argparse
    import threading

    import speechseq.sources as sources
    from speechseq.commands import listen

    demo = load_audio(SAMPLE)
    pre, post = demo[: int(3.9 * 16000)], np.concatenate([demo[int(2.6 * 16000) : int(4.2 * 16000)], _z(1.0)])
    fed = []

    class Mic:
        opened = 0

        def __init__(self, device=None, samplerate=None, block_s=0.05) -> None:
            Mic.opened += 1
            self.n, self.name = Mic.opened, "fake mic"

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            pass

        def blocks(self):
            audio = pre if self.n == 1 else post
            for i in range(0, len(audio), BLOCK):
                fed.append(self.n)
                yield audio[i : i + BLOCK]
            if self.n == 1:
                raise sources.DeviceLost("input device 'fake mic' stopped delivering audio")

    class NoWait(threading.Event):
        def wait(self, timeout=None) -> bool:
            return False

    class Sd:
        def _terminate(self) -> None:
            pass

        def _initialize(self) -> None:
            pass

    monkeypatch.setattr(sources, "Microphone", Mic)
    monkeypatch.setattr(sources, "import_sounddevice", lambda: Sd())
    events = []

    def out(evs) -> None:
        events.extend((e, len(fed)) for e in evs)

    args = argparse.Namespace(max_minutes=None, block_ms=50.0, input=None, device=None, samplerate=None,
                              reconnect_s=30.0)
    listener = Listener(Detector.load([tiny_models.detector]), Transcriber(tiny_models.recognizer), None, load_vad())
    assert listen._loop(args, listener, out, NoWait()) == 0
    finals = [(e, n) for e, n in events if isinstance(e, FinalEvent)]
    assert [type(e) for e, _ in events] == [WakeEvent, FinalEvent], events
    final, blocks_fed = finals[0]
    assert blocks_fed == fed.index(2)                   # before the reopened device gave a block
    assert final.end == pytest.approx(3.9) and final.time == pytest.approx(3.9)
    assert final.text and "lights" not in final.text   # what was said before the loss only


def test_terminal_output_ends_an_open_partial_before_a_line_of_its_own(capsys):
    """On a terminal a partial stays open to be overwritten; a stop (--max-minutes, Ctrl+C) printed its line on top
    of it. end_line ends it first, and only when one is open."""
    import argparse

    from speechseq.commands.listen import _Output
    from speechseq.runtime.events import PartialEvent

    out = _Output(argparse.Namespace(json=False, exec_cmd=None, chime=False))
    out._tty = True
    out([PartialEvent("turn on the", 3.0)])
    out.end_line()
    out.end_line()
    assert capsys.readouterr().out == "\r\033[K" + str(PartialEvent("turn on the", 3.0)) + "\n"


def test_cli_waits_for_its_exec_commands_at_exit(tiny_models, capsys, tmp_path, monkeypatch):
    """listen --input FILE --fast returned while its --exec command still ran: a script that runs listen and then
    reads what the command wrote found nothing. At exit it waits for them (saying so), for at most EXEC_WAIT_S, and
    then ends those still running, saying how many (tests/test_listen_s48_a.py: their processes ended)."""
    import speechseq.commands.listen as listen

    m = tiny_models
    out = tmp_path / "said.txt"
    slow = f"{sys.executable} -c \"import sys, time; time.sleep(1.0); open(sys.argv[1], 'w').write(sys.argv[2])\" {out}"
    base = ["listen", "--input", str(SAMPLE), "--fast", "--keyword-model", str(m.detector),
            "--model", str(m.recognizer), "--no-partials", "--lm", "none", "--decoder", "greedy"]
    code, lines, err = _cli(base + ["--exec", slow], capsys)
    assert code == 0 and out.is_file() and out.read_text(), err        # written before listen returned
    assert "speechseq: waiting for 1 --exec command to finish" in err and "running" not in err
    monkeypatch.setattr(listen, "EXEC_WAIT_S", 0.3)
    # A command busy for 120 s: listen did not wait for it to end (not a wall-clock bound on listen, which a loaded
    # machine could exceed), and ended it (in a session of its own, away from the terminal, it would run on unseen)
    done = tmp_path / "busy.done"
    busy = f"{sys.executable} -c \"import sys, time; time.sleep(120); open(sys.argv[1], 'w').close()\" {done}"
    code, lines, err = _cli(base + ["--exec", busy], capsys)
    assert code == 0 and not done.exists(), err
    assert err.splitlines()[-1] == "speechseq: warning: ending 1 --exec command (still busy after 0.3 s)"


@pytest.mark.parametrize("decoder, said", [("auto", "here the lexicon search"), ("greedy", "here greedy decoding"),
                                           ("beam", None)])
def test_cli_says_when_its_fusion_weights_are_not_read(tiny_models, capsys, decoder, said):
    """--lm-weight and --word-bonus are read by --decoder beam only: with the lexicon search (auto's first choice) or
    greedy decoding they changed nothing, in silence, where transcribe warns."""
    m = tiny_models
    code, lines, err = _cli(["listen", "--input", str(SAMPLE), "--fast", "--no-partials", "--keyword-model",
                             str(m.detector), "--model", str(m.recognizer), "--decoder", decoder,
                             "--lm-weight", "0.9", "--word-bonus", "2"], capsys)
    assert code == 0, err
    warned = [line for line in err.splitlines() if "--lm-weight, --word-bonus: not used" in line]
    if said is None:
        assert warned == []
    else:
        assert len(warned) == 1 and said in warned[0] and "--decoder beam reads them" in warned[0], err


class WordsTranscriber(Transcriber):
    """The real transcriber, its words replaced by given ones (times from the utterance's first frame): where the
    recogniser puts them is what the listener's bounds are about."""

    def __init__(self, path, words) -> None:
        super().__init__(path)
        self.words = words

    def transcribe(self, feats, partial: bool = False):
        from speechseq.runtime.recognizer import Result

        return Result(" ".join(w.word for w in self.words), tuple(self.words), ())


def test_the_finals_words_stay_inside_the_recording(tiny_models):
    """Words wholly after the VAD's speech end plus its margin are moved back to end there, each keeping its length;
    where they are longer than the speech before that end they were pushed before the recording's start, and the
    onset bound (the onset less ONSET_MARGIN_S, 0.06 s before the recording here) kept them there: the first word
    started 0.06 s before the final's start."""
    from speechseq.runtime.decoding import Word

    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(16000, np.float32), (0.3 * rng.standard_normal(6400)).astype(np.float32),
                            np.zeros(40000, np.float32)])                  # the keyword ends at 1.0 s, 0.4 s of sound
    words = [Word("a", 0.65, 1.0, 0.9), Word("b", 1.0, 1.35, 0.9)]      # heard after it, 0.7 s long
    listener = Listener(ScriptedDetector(1.0), WordsTranscriber(tiny_models.recognizer, words), None, EnergyVad(),
                        ListenerConfig(silence_s=1.0, partials=False))
    events, _ = _run(listener, audio)
    (final,) = [e for e in events if isinstance(e, FinalEvent)]
    assert final.start == pytest.approx(1.0, abs=0.01) and final.speech_end == pytest.approx(1.4, abs=0.04)
    assert [w.word for w in final.words] == ["a", "b"]
    a, b = final.words             # "b" ends at the bound, "a" where "b" starts, from the recording's start on
    assert b.end == pytest.approx(final.speech_end + 0.2) and b.end - b.start == pytest.approx(0.35)
    assert a.start == final.start and a.end == b.start


@pytest.mark.parametrize("stop_s", [None, 3.07], ids=["endpoint", "max-minutes"])
def test_a_word_a_bound_moved_keeps_a_sensible_length_inside_the_recording(tmp_path, capsys, stop_s):
    """The demo with the start of its command ("tu" of "turn", 2.5-2.8 s) at -50 dB, through `listen --vad silero`
    (the shipped models): Silero hears the speech begin at 2.95 s, and the onset bound (less ONSET_MARGIN_S) pushed
    "and" (aligned 2.69-2.87 s) to 2.888-3.068 s; "on" kept what was left of it, 3.068-3.09 s: 22 ms. Stopped by
    --max-minutes at 3.07 s, mid-command, the pushed "not" ran to 3.208 s, past the audio heard. transcribe keeps each
    word a bound moved at least MIN_CHAR_S a character (or its aligned length), in order, apart and inside its piece
    (recognizer._bounded); the listener's final now does the same. The keyword's end as activate.onnx put it before it
    carried an end-offset table (session 46): the recording starts there, where "and" is heard."""
    import soundfile as sf

    from speechseq.runtime.recognizer import MIN_CHAR_S
    from speechseq.runtime.vad import silero_model_path

    if silero_model_path() is None:
        pytest.skip("the silero-vad wheel is not installed (scripts/setup.sh installs it)")
    audio = load_audio(SAMPLE)
    audio[int(2.5 * 16000) : int(2.8 * 16000)] *= 0.003
    sf.write(tmp_path / "soft.wav", audio, 16000)
    stop = [] if stop_s is None else ["--max-minutes", repr(stop_s / 60)]
    model = activate_without_end_table(tmp_path)
    code, lines, err = _cli(["listen", "--input", str(tmp_path / "soft.wav"), "--fast", "--json", "--vad", "silero",
                             "--keyword-model", str(model), *stop], capsys)
    assert code == 0, err
    (final,) = [e for e in map(json.loads, lines) if e["event"] == "final"]
    words, heard = final["words"], final["time"]                       # the audio heard: to the end, or to 3.07 s
    assert all(w["start"] < w["end"] <= v["start"] for w, v in zip(words, words[1:])), words
    assert words[-1]["end"] <= heard, (words, heard)                                    # "not" ended at 3.208 s
    if stop_s is None:    # "on" 3.068-3.09 s; "and" still from the onset bound
        assert [w["word"] for w in words] == "and on the carton life".split(), final
        assert [x for w in words[:2] for x in (w["start"], w["end"])] == pytest.approx(
            [2.888, 3.068, 3.068, 3.068 + 2 * MIN_CHAR_S], abs=1e-3), words
    else:                 # no room between the onset bound and the end: the recording's end, 3 * MIN_CHAR_S each
        assert [w["word"] for w in words] == ["and", "not"], final
        assert [x for w in words for x in (w["start"], w["end"])] == pytest.approx(
            [3.07 - 6 * MIN_CHAR_S, 3.07 - 3 * MIN_CHAR_S, 3.07 - 3 * MIN_CHAR_S, 3.07], abs=1e-3), words


def test_a_last_word_the_end_bound_cut_keeps_a_sensible_length(tiny_models):
    """A last word that starts just before the VAD's speech end plus its margin was cut to what was left of it, about
    0.1 s of "lights" here (as transcribe's were, 20-44 ms where the energy VAD heard a quiet end early); now it keeps
    MIN_CHAR_S a character, ending at the bound, and the word before it keeps its own place and its aligned 0.1 s."""
    from speechseq.runtime.decoding import Word
    from speechseq.runtime.recognizer import MIN_CHAR_S, offset_margin

    rng = np.random.default_rng(0)
    audio = np.concatenate([np.zeros(16000, np.float32), (0.3 * rng.standard_normal(6400)).astype(np.float32),
                            np.zeros(40000, np.float32)])                  # the keyword ends at 1.0 s, 0.4 s of sound
    words = [Word("the", 0.2, 0.3, 0.9), Word("lights", 0.48, 1.0, 0.9)]   # the bound: 0.4 s + the margin
    listener = Listener(ScriptedDetector(1.0), WordsTranscriber(tiny_models.recognizer, words), None, EnergyVad(),
                        ListenerConfig(silence_s=1.0, partials=False))
    events, _ = _run(listener, audio)
    (final,) = [e for e in events if isinstance(e, FinalEvent)]
    assert final.start == pytest.approx(1.0, abs=0.01) and final.speech_end == pytest.approx(1.4, abs=0.04)
    bound = final.speech_end + offset_margin(EnergyVad())
    the, lights = final.words
    assert lights.end == pytest.approx(bound) and lights.end - lights.start == pytest.approx(6 * MIN_CHAR_S)
    assert (the.start, the.end) == pytest.approx((final.start + 0.2, final.start + 0.3))
