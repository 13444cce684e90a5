"""`transcribe --commands`: the words said before (or after) a command in the same speech region are spelt freely, as
they are when a pause of the VAD's merge gap (0.8 s) parts them from it, and the segment's "commands" entry is timed on
the phrase's own words. Recognizer.decode gave an accepted phrase's text alone, timed on its frames
(command_set.phrase_frames), and the words around them were dropped, so "activate, turn on the kitchen lights" said with
a short pause lost "activate" (spelt "at that" / "and that"), kept after a long one ("to a"). They are kept where the
caller asks (DecodeOptions.words_around: transcribe does); the listener's final stays the command alone (its text is
what --exec runs)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from speechseq.audio import load_audio

from .listener_fixtures import ROOT, SAMPLE

SHIPPED = [ROOT / "models" / "recognizer-en.int8.onnx", ROOT / "models" / "words-en.npz"]
HOME = ROOT / "data" / "commands" / "home.txt"


def _transcribe(path, capsys, *more: str) -> dict:
    from speechseq.cli import main

    assert main(["transcribe", str(path), "--format", "json", *more]) == 0
    return json.loads(capsys.readouterr().out)


def _cut(a: float, b: float) -> np.ndarray:
    return load_audio(SAMPLE)[int(a * 16000) : int(b * 16000)]


def _z(s: float) -> np.ndarray:
    return np.zeros(int(s * 16000), np.float32)


def _phrase_words(said: dict) -> list[dict]:
    """The words of `said` (transcribe --commands' JSON, one command) that say its command, checked to be timed as its
    "commands" entry, and every word in order and inside the audio."""
    cmd = said["commands"][0]
    words = [w["word"] for w in said["words"]]
    n = len(cmd["command"].split())
    k = next(k for k in range(len(words)) if words[k : k + n] == cmd["command"].split())
    phrase = said["words"][k : k + n]
    assert (cmd["start"], cmd["end"]) == (phrase[0]["start"], phrase[-1]["end"]), said
    ends = [t for w in said["words"] for t in (w["start"], w["end"])]
    assert ends == sorted(ends) and 0 <= ends[0] and ends[-1] <= said["duration"], said
    return phrase


@pytest.mark.skipif(not all(p.is_file() for p in SHIPPED), reason="shipped models missing")
@pytest.mark.parametrize("pause", [0.1, 0.4])
def test_the_words_before_a_command_in_its_region_are_kept(tmp_path, capsys, pause):
    import soundfile as sf

    audio = load_audio(SAMPLE)
    kw, cmd = audio[int(0.95 * 16000) : int(1.85 * 16000)], audio[int(2.55 * 16000) : int(4.25 * 16000)]
    z = lambda s: np.zeros(int(s * 16000), np.float32)  # noqa: E731
    path = tmp_path / "keyword_then_command.wav"
    sf.write(path, np.concatenate([z(0.5), kw, z(pause), cmd, z(0.5)]), 16000)
    free = _transcribe(path, capsys)
    said = _transcribe(path, capsys, "--commands", str(HOME))
    assert said["commands"] and said["commands"][0]["command"] == "turn on the kitchen lights"
    before = [w["word"] for w in free["words"] if w["end"] <= said["commands"][0]["start"]]
    assert before, free                                   # the keyword, spelt freely
    assert [w["word"] for w in said["words"]][: len(before)] == before, (free["text"], said["text"])
    assert _phrase_words(said)[0] == said["words"][len(before)]   # "commands" timed on the phrase, not the keyword


@pytest.mark.skipif(not all(p.is_file() for p in SHIPPED), reason="shipped models missing")
@pytest.mark.parametrize("pause", [0.1, 0.4])
def test_the_words_after_a_command_in_its_region_are_kept(tmp_path, capsys, pause):
    """The command, then the last half of "activate" (spelt "to be"), in one region: the words after it are kept, and
    the "commands" entry ends where the phrase does (1.952 s), not at the region's last word."""
    import soundfile as sf

    path = tmp_path / "command_then_more.wav"
    sf.write(path, np.concatenate([_z(0.5), _cut(2.55, 4.25), _z(pause), _cut(1.3, 1.85), _z(0.5)]), 16000)
    free = _transcribe(path, capsys)
    said = _transcribe(path, capsys, "--commands", str(HOME))
    assert said["commands"] and said["commands"][0]["command"] == "turn on the kitchen lights"
    after = [w["word"] for w in free["words"] if w["start"] >= said["commands"][0]["end"]]
    assert after == ["to", "be"], free
    assert said["text"] == "turn on the kitchen lights to be"
    assert [w["word"] for w in said["words"]][-len(after):] == after
    assert said["commands"][0]["end"] == _phrase_words(said)[-1]["end"] == 1.952


@pytest.mark.skipif(not all(p.is_file() for p in SHIPPED), reason="shipped models missing")
def test_a_phrase_said_alone_is_transcribed_as_before(tmp_path, capsys):
    """A region that says the command alone: its text and words are the phrase's, timed as before."""
    import soundfile as sf

    path = tmp_path / "command.wav"
    sf.write(path, np.concatenate([_z(0.5), _cut(2.55, 4.25), _z(0.5)]), 16000)
    for decoder in ("greedy", "lexicon"):
        said = _transcribe(path, capsys, "--commands", str(HOME), "--decoder", decoder)
        assert said["text"] == "turn on the kitchen lights"
        assert [(w["start"], w["end"]) for w in said["words"]] == [(0.612, 0.812), (0.912, 1.052), (1.092, 1.172),
                                                                   (1.232, 1.552), (1.632, 2.192)]
        assert said["commands"] == [{"command": "turn on the kitchen lights", "start": 0.612, "end": 2.192}]


@pytest.mark.skipif(not all(p.is_file() for p in SHIPPED + [ROOT / "models" / "activate.onnx"]),
                    reason="shipped models missing")
def test_the_listeners_final_stays_the_command_alone(tmp_path, capsys):
    """listen --commands: the final's text is what --exec runs: the command alone, though its recording holds more
    ("activate", then its last half again, 0.1 s before the command: transcribe spells it "to that")."""
    import soundfile as sf

    from speechseq.cli import main

    path = tmp_path / "keyword_more_command.wav"
    audio = np.concatenate([_z(1.0), _cut(0.95, 1.85), _z(0.4), _cut(1.3, 1.85), _z(0.1), _cut(2.55, 4.25), _z(1.0)])
    sf.write(path, audio, 16000)
    assert main(["listen", "--input", str(path), "--fast", "--json", "--no-partials", "--commands", str(HOME)]) == 0
    finals = [e for e in map(json.loads, capsys.readouterr().out.splitlines()) if e["event"] == "final"]
    assert [(e["text"], e["command"]) for e in finals] == [("turn on the kitchen lights",) * 2]
    assert [w["word"] for w in finals[0]["words"]] == finals[0]["text"].split()
    recorded = tmp_path / "recorded.wav"    # what the listener recorded, transcribed: the words before kept
    sf.write(recorded, audio[int(finals[0]["start"] * 16000) :], 16000)
    said = _transcribe(recorded, capsys, "--commands", str(HOME))
    assert said["text"] == "to that turn on the kitchen lights", said


def test_words_around_must_be_true_or_false():
    from speechseq.runtime.recognizer import DecodeOptions

    with pytest.raises(ValueError, match="words_around must be True or False, got 'no'"):
        DecodeOptions(words_around="no")
    assert DecodeOptions().words_around is False and DecodeOptions(words_around=True).words_around
