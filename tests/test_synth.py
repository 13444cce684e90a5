"""Speech synthesis (speechseq.train.synth), word lists (speechseq.train.words) and the synthetic sets
(speechseq.train.synth_sets: `speechseq synth`, scripts/make_synth_data.py). espeak-ng and flite are required; other engines
are tested where installed."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from speechseq.cli import main as speechseq_main
from speechseq.errors import SpeechseqError
from speechseq.train import synth, synth_sets
from speechseq.train.synth import (SAMPLE_RATE, SynthError, SynthJob, Voice, heldout, job_path, list_voices,
                                   synthesize, synthesize_many, trim_silence)
from speechseq.train.words import DICT_PATH, contains_keyword, ordinary_phrases, ordinary_words, sound_alikes
from tests.script_loader import load_script

ESPEAK = Voice("espeak-ng", "en-us")


def _installed(engine: str) -> bool:
    return bool(list_voices([engine]))


@pytest.mark.parametrize("voice", [ESPEAK, Voice("espeak-ng", "en-gb-x-rp+f3"), Voice("flite", "kal16"),
                                   Voice("flite", "slt")], ids=lambda v: v.id)
def test_required_engines_say_yes(voice):
    # espeak-ng and flite are the engines every data recipe relies on: no skipping.
    audio = synthesize("yes", voice)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert 0.15 <= len(audio) / SAMPLE_RATE <= 1.2
    assert np.max(np.abs(audio)) == pytest.approx(0.95, abs=1e-3)
    # Trimmed: speech (frames within 40 dB of the loudest) starts and ends within ~30 ms of the edges.
    rms = np.sqrt(np.mean(audio[: len(audio) // 160 * 160].reshape(-1, 160) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() / 100)
    assert loud[0] <= 4 and loud[-1] >= len(rms) - 5


@pytest.mark.parametrize("engine", ["mbrola", "festival", "pico", "piper", "rhvoice"])
def test_optional_engine_says_yes(engine):
    voices = list_voices([engine])
    if not voices:
        pytest.skip(f"{engine} is not installed here")
    audio = synthesize("yes", voices[0])
    assert audio.dtype == np.float32
    assert 0.15 <= len(audio) / SAMPLE_RATE <= 1.5
    assert np.max(np.abs(audio)) == pytest.approx(0.95, abs=1e-3)


@pytest.mark.parametrize("voice", [ESPEAK, Voice("flite", "kal16")], ids=lambda v: v.id)
def test_speed_shortens_and_pitch_keeps_length(voice):
    # espeak-ng sets speed natively, flite goes through sox tempo/pitch: both must work.
    base = len(synthesize("computer activation", voice))
    fast = len(synthesize("computer activation", voice, speed=1.3))
    high = len(synthesize("computer activation", voice, pitch=1.2))
    assert fast < 0.9 * base
    assert abs(high - base) < 0.12 * base


def _median_f0(audio: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """The median fundamental frequency (autocorrelation, 70-400 Hz) of a clip's loud 40 ms frames."""
    n, found = sr // 25, []
    frames = audio[: len(audio) // n * n].reshape(-1, n)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    for x in frames[rms > 0.3 * rms.max()]:
        ac = np.correlate(x - x.mean(), x - x.mean(), "full")[n - 1:]
        found.append(sr / (sr // 400 + np.argmax(ac[sr // 400: sr // 70])))
    return float(np.median(found))


@pytest.mark.parametrize("voice", [ESPEAK, Voice("espeak-ng", "en-gb+f3"), Voice("mbrola", "mb-us1")],
                         ids=lambda v: v.id)
def test_espeak_and_mbrola_go_slower_than_80_words_a_minute(voice):
    """espeak-ng takes no rate under 80 words a minute (speed 0.457) and says a slower one at 80: speed 0.4, 0.3 and
    0.25 made the clip of 0.457, 1.3-1.8x shorter than asked (flite and piper went on slowing down). The rest of
    the way is sox's tempo, which keeps the pitch as espeak-ng's own rate does."""
    if voice not in list_voices([voice.engine]):
        pytest.skip(f"{voice.id} is not installed here")
    text = "computer activation"
    floor = synthesize(text, voice, speed=80 / 175)
    for speed in (0.4, 0.3, 0.25):
        slow = synthesize(text, voice, speed=speed)
        assert len(slow) / len(floor) == pytest.approx(80 / 175 / speed, rel=0.08), speed
        assert _median_f0(slow) == pytest.approx(_median_f0(floor), rel=0.08), speed
    # at and above the floor espeak-ng's own rate, as before: 0.5 is longer than 1.0 and shorter than the floor
    base, half = len(synthesize(text, voice)), len(synthesize(text, voice, speed=0.5))
    assert 1.6 * base < half < len(floor)


def test_list_voices_counts():
    espeak = list_voices(["espeak-ng"])
    assert len(espeak) >= 8 * 50  # 8 accents x (plain + ~100 variants)
    assert {v.name.split("+")[0] for v in espeak} == set(synth.ESPEAK_ACCENTS)
    assert {v.name for v in list_voices(["flite"])} == {"kal", "kal16", "awb", "rms", "slt"}
    with pytest.raises(ValueError):
        list_voices(["nosuch"])


def test_engine_failures_raise():
    with pytest.raises(SynthError, match="unknown engine"):
        synthesize("yes", Voice("nosuch", "x"))
    with pytest.raises(SynthError, match="empty"):
        synthesize("  ", ESPEAK)


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")
@pytest.mark.parametrize("text", ["...", "привет"])
def test_an_engines_pause_for_text_it_cannot_say_is_no_clip(text):
    """flite's rms voice gives 0.23 s of -50 dBFS noise for text it cannot say: silence, not a clip at peak 0.95."""
    with pytest.raises(SynthError, match="produced silence"):
        synthesize(text, Voice("flite", "rms"))
    assert np.abs(synthesize("yes", Voice("flite", "rms"))).max() == pytest.approx(0.95, abs=1e-3)


def test_trim_silence_keeps_30ms():
    tone = 0.5 * np.sin(np.arange(8000) * 0.1).astype(np.float32)
    padded = np.concatenate([np.zeros(16000, np.float32), tone, np.zeros(8000, np.float32)])
    out = trim_silence(padded)
    assert len(tone) + 2 * 480 - 160 <= len(out) <= len(tone) + 2 * 480 + 160


def _speech_edges_ms(audio: np.ndarray, above_hz: float = 200.0) -> tuple[int, int]:
    """How long a clip runs before its first and after its last 10 ms frame within 40 dB of its loudest, measured
    above `above_hz` (speech has its formants there; RHVoice's hum and rumble lie below)."""
    from scipy.signal import butter, sosfilt, sosfilt_zi

    sos = butter(4, above_hz, "highpass", fs=SAMPLE_RATE, output="sos")
    x = sosfilt(sos, audio, zi=sosfilt_zi(sos) * audio[0])[0]   # no ring from a start off zero
    rms = np.sqrt(np.mean(x[: len(x) // 160 * 160].reshape(-1, 160) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() / 100)
    return int(loud[0]) * 10, (len(rms) - 1 - int(loud[-1])) * 10


def test_trim_silence_can_look_past_a_low_rumble():
    """A hum of -30 dB under 100 Hz around a tone was all kept (every frame within 40 dB of the loudest); measured
    above 200 Hz, the silence is cut to ~30 ms, the rumble left in what is kept. Without highpass_hz, as before."""
    t = np.arange(int(1.3 * SAMPLE_RATE)) / SAMPLE_RATE
    hum = (0.5 * 10 ** (-30 / 20) * np.sin(2 * np.pi * 60 * t)).astype(np.float32)
    tone = np.where((t >= 0.4) & (t < 0.9), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)
    x = hum + tone
    assert len(trim_silence(x)) == len(x)
    out = trim_silence(x, highpass_hz=200)
    assert len(out) == pytest.approx(int(0.5 * SAMPLE_RATE) + 2 * 480, abs=2 * 160)
    rms = lambda y: float(np.sqrt(np.mean(y**2)))  # noqa: E731
    assert rms(out[:320]) < 0.02 and rms(out[-320:]) < 0.02           # ~30 ms of hum kept at each end
    assert rms(out[640:-640]) > 0.3                                    # and all of the tone
    silent = np.zeros(1000, np.float32)
    assert len(trim_silence(silent, highpass_hz=200)) == 1000


@pytest.mark.parametrize("name", synth.RHVOICE_VOICES)
def test_rhvoice_clips_are_trimmed_past_their_hum(name):
    """RHVoice's alan (and slt) voices carry a hum and rumble under 200 Hz at 25-40 dB below their peak: trimming
    kept it all, 90 ms before "computer" and 200 ms after it (the other voices' clips, ~30 ms). Each voice's clip
    now starts and ends within ~30 ms of its speech, and keeps all of it."""
    voice = Voice("rhvoice", name)
    if voice not in list_voices(["rhvoice"]):
        pytest.skip(f"{voice.id} is not installed here")
    for text in ("computer", "activate", "seven"):
        audio = synthesize(text, voice)
        lead, tail = _speech_edges_ms(audio)
        assert 20 <= lead <= 50 and 20 <= tail <= 50, (text, lead, tail)
        assert np.max(np.abs(audio)) == pytest.approx(0.95, abs=1e-3)


def test_heldout_split_is_fixed():
    voices = list_voices()
    split = [heldout(v) for v in voices]
    assert split == [heldout(Voice(v.engine, v.name)) for v in voices]
    espeak = [h for v, h in zip(voices, split) if v.engine == "espeak-ng"]
    assert 0.05 <= sum(espeak) / len(espeak) <= 0.15
    # Every fixed catalogue of >= 3 voices loses at least one voice, installed or not.
    for engine, names in synth._CATALOGUE.items():
        held = [n for n in names if heldout(Voice(engine, n))]
        if len(names) >= 3:
            assert 1 <= len(held) < len(names), engine
    # A stable hash (sha1), not Python's salted hash(): these hold on every machine and run.
    assert heldout(Voice("flite", "kal")) and not heldout(Voice("flite", "slt"))
    # Festival's catalogue grew from 3 to 9 voices (session 19) without changing the old voices' split.
    festival = {n for n in synth.FESTIVAL_VOICES if heldout(Voice("festival", n))}
    assert festival == {"cmu_us_slt_arctic_hts", "us2_mbrola"}
    assert [n for n in synth.RHVOICE_VOICES if heldout(Voice("rhvoice", n))] == ["clb"]


def test_cache_hit_does_not_resynthesize(tmp_path, monkeypatch):
    jobs = [("yes", ESPEAK, 1.0, 1.0), SynthJob("no", ESPEAK, 1.1, 0.9)]
    first = synthesize_many(jobs, tmp_path, workers=1)
    assert first == [job_path(j, tmp_path) for j in jobs] and all(p.exists() for p in first)
    assert sf.info(first[0]).samplerate == SAMPLE_RATE and sf.info(first[0]).subtype == "PCM_16"
    calls = []
    monkeypatch.setattr(synth, "synthesize", lambda *a, **k: calls.append(a) or np.zeros(10, np.float32))
    second = synthesize_many(jobs, tmp_path, workers=1)
    assert second == first and calls == []
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 2  # no duplicate rows on a second run
    assert {r["text"] for r in rows} == {"yes", "no"}
    assert all(r["engine"] == "espeak-ng" and 0.1 < r["duration"] < 1.5 for r in rows)
    assert rows[0]["audio_filepath"] == first[0].name


def test_bad_job_is_skipped(tmp_path, capsys):
    jobs = [("one", ESPEAK, 1.0, 1.0), ("two", Voice("nosuch", "x"), 1.0, 1.0), ("three", ESPEAK, 1.0, 1.0)]
    paths = synthesize_many(jobs, tmp_path, workers=2)
    assert paths[0] is not None and paths[2] is not None and paths[1] is None
    rows = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert len(rows) == 2


def test_bad_job_is_reported(tmp_path, capsys):
    synthesize_many([("two", Voice("nosuch", "x"), 1.0, 1.0)], tmp_path, workers=1)
    captured = capsys.readouterr()
    assert "unknown engine" in captured.out + captured.err


WORDS = ["activate", "activates", "activated", "reactivate", "active", "action", "act", "captivate",
         "motivate", "cultivate", "ate", "activity", "banana", "table", "zebra", "gravitate", "native"]


def _similar(word: str, key: str) -> bool:
    from speechseq.train.words import _common_prefix, _common_suffix, _edit_distance
    return (_common_prefix(word, key) >= 3 or _common_suffix(word, key) >= 3 or word in key
            or _edit_distance(word, key, 3) <= 3)


def test_sound_alikes_small_list():
    out = sound_alikes("activate", 10, seed=0, words=WORDS)
    assert not any("activate" in w for w in out)  # nor plural, nor words that say the keyword
    assert {"banana", "table", "zebra"}.isdisjoint(out)
    assert {"active", "act", "captivate", "motivate"} <= set(out)
    assert all(_similar(w, "activate") for w in out)
    assert out == sound_alikes("activate", 10, seed=0, words=WORDS)


@pytest.mark.skipif(not DICT_PATH.exists(), reason="no /usr/share/dict/words (Debian wamerican)")
def test_sound_alikes_dictionary():
    out = sound_alikes("activate", 60, seed=1)
    assert len(out) == 60 == len(set(out))
    assert not any(contains_keyword(w, "activate") for w in out)
    assert all(_similar(w, "activate") for w in out)
    assert out == sound_alikes("activate", 60, seed=1)
    words = ordinary_words(50, seed=3, exclude=["activate"])
    assert len(set(words)) == 50 and words == ordinary_words(50, seed=3, exclude=["activate"])


def test_sound_alikes_of_a_keyword_with_accents_or_another_alphabet():
    """An accented keyword is looked up as the word list spells it (its own spelling "cafe" is no negative); a
    keyword in another alphabet has no sound-alike in an English list ([], not a ValueError)."""
    words = ["cafe", "cafes", "cage", "safe", "caffeine", "table"]
    out = sound_alikes("café", 10, words=words)
    assert "cafe" not in out and "cafes" not in out and {"cage", "safe", "caffeine"} <= set(out)
    assert ordinary_words(10, exclude=["café"], min_len=4, words=words) == \
        ordinary_words(10, exclude=["cafe"], min_len=4, words=words)
    assert sound_alikes("привет", 10, words=words) == []
    with pytest.raises(ValueError, match="no letters"):
        sound_alikes("123", 10, words=words)


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")
def test_a_keyword_in_another_alphabet_is_no_traceback(tmp_path, capsys):
    """`--keyword привет` passes the option's check (it has letters): the negatives are ordinary words, as many as
    asked for (flite says no Cyrillic, so no positive is made: one clear line, exit 1)."""
    from speechseq.cli import main

    rc = main(["synth", "keyword", "--keyword", "привет", "--out", str(tmp_path / "kw"), "--engines", "flite",
               "--variations", "1", "--min-per-engine", "0", "--workers", "1"])
    err = capsys.readouterr().err
    assert "Traceback" not in err and rc == 1 and "no clip of 'привет' could be made" in err
    neg = [json.loads(line) for line in (tmp_path / "kw" / "negatives.jsonl").read_text().splitlines()]
    assert len(neg) == 5 and {r["kind"] for r in neg} == {"word"}


def test_ordinary_phrases(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("The computer was activated today.\nWe walked along the quiet river bank at noon.\n")
    out = ordinary_phrases([text], 8, seed=0, exclude=["activate"])
    assert 1 <= len(out) <= 8 and all(2 <= len(p.split()) <= 4 for p in out)
    assert not any("activat" in p.lower() for p in out)
    assert out == ordinary_phrases([text], 8, seed=0, exclude=["activate"])


def _script():
    return load_script("make_synth_data")


def test_sentence_filter_drops_dev_prompts(tmp_path):
    text = tmp_path / "prompts.txt"
    text.write_text("If I ever needed a fighter in my life I need one now.\n"
                    "Gregson shoved back his chair and rose to his feet.\n"
                    "Too short.\n"
                    "Mr. Smith paid 5 dollars.\n")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"text": "If I ever needed a fighter in my life I needed one now.",
                                    "split": "dev"}) + "\n" +
                        json.dumps({"text": "Gregson shoved back his chair and rose to his feet.",
                                    "split": "train"}) + "\n")
    excluded = synth_sets.excluded_texts([str(manifest)], ["dev"])
    kept, dropped = synth_sets.load_sentences([str(text)], 3, 15, excluded)
    assert kept == ["Gregson shoved back his chair and rose to his feet."]
    assert dropped == 1


def _loaded(tmp_path, text: str) -> tuple[list[str], int]:
    """load_sentences (3 to 15 words, nothing excluded) on a file holding `text`: (kept, dropped)."""
    path = tmp_path / "t.txt"
    path.write_text(text)
    return synth_sets.load_sentences([str(path)], 3, 15, [])


def test_sentences_with_titles_normalize_spells_are_kept(tmp_path):
    # "Mr.", "Mrs.", "Dr.", "etc." are said by espeak-ng, flite and festival as normalize writes them (mister, missus,
    # doctor, et cetera), yet every such line was dropped: 247 of LJSpeech's sentences of 3-15 words
    kept, dropped = _loaded(tmp_path,
                            "Mr. Smith and Mrs. Jones met Dr. Brown today.\n"
                            "They sold apples, pears, etc. at the market.\n"
                            "Did England let nature take her course? No.\n"  # the word no, not "No." before a number
                            "Mr. Smith paid 5 dollars.\n"                    # still out: engines read digits their way
                            "The FBI came to the house.\n"
                            "The court heard Smith, Jr. on the matter.\n"    # espeak-ng and flite say "J R"
                            "The firm of Rogers and Co. was broken into.\n")  # normalize leaves "co" as written
    assert kept == ["Mr. Smith and Mrs. Jones met Dr. Brown today.", "They sold apples, pears, etc. at the market.",
                    "Did England let nature take her course? No."]
    assert dropped == 0


def test_sentences_with_dr_not_before_a_name_are_dropped(tmp_path):
    # "Dr" before no capitalised name is "doctor" to espeak-ng but "drive" to flite ("Ask the Dr.", "The Dr's office")
    # and festival ("Elm Dr is closed"), and normalize writes "drive" after a street name ("Elm Dr."), so that the
    # transcript was not what one engine or another said
    kept, _ = _loaded(tmp_path, "We moved to a house on Elm Dr.\n"
                                "They went to ask the Dr. about it.\n"
                                "The Dr's office was closed all day.\n"
                                "Turn left at Elm Dr and keep going.\n"
                                "While Dr. Perry waited, Dr Jones spoke.\n")    # before a name every engine says doctor
    assert kept == ["While Dr. Perry waited, Dr Jones spoke."]


def test_abbreviations_engines_read_otherwise_are_dropped_without_their_dot(tmp_path):
    # Only the dotted forms were dropped: "St Paul's" went to training as "st paul's" (every engine says saint),
    # "vs" as "versus" (espeak-ng says "V S"), "Jr" as "jr"; "Prof." is "professor" but engines say "prof"
    kept, _ = _loaded(tmp_path, "We walked down to St Paul's church today.\n"
                                "The Lakers vs Celtics game ran late tonight.\n"
                                "The court heard John Smith Jr on the matter.\n"
                                "Prof. Green spoke to the whole class.\n"
                                "Prof Green spoke to the whole class again.\n")    # "prof" as engines say it
    assert kept == ["Prof Green spoke to the whole class again."]


def test_abbreviations_engines_spell_by_letter_are_dropped(tmp_path):
    # normalize writes "i.e." that is, "e.g." for example, leaves "Sgt." and "Esq." as "sgt", "esq"; flite says
    # "I E", "E G", "S G T", "E S Q" and espeak-ng "I E", "S G T", so that the transcript was not what was said (16 of
    # LJSpeech's lines hold one of them)
    kept, _ = _loaded(tmp_path, "It breathes by lungs and by gills, i.e., both air and water.\n"
                                "A bean plant with a higher animal, e.g. a frog.\n"
                                "E.g. the cheap paper should not sacrifice toughness.\n"
                                "Sgt. Harkness of the Dallas police came in.\n"
                                "The letter went to Thomas Briggs, Esq., on Lombard Street.\n"
                                "The ice on the pond broke in the spring.\n")   # "ice", "egg" words are no abbreviation
    assert kept == ["The ice on the pond broke in the spring."]


def test_load_sentences_refuses_text_that_is_not_utf8(tmp_path):
    # errors="ignore" dropped the bytes it could not read: a Latin-1 "café" went to training as "caf", silently
    text = tmp_path / "latin1.txt"
    text.write_bytes("We met at the little café by the river.\n".encode("latin-1"))
    with pytest.raises(SpeechseqError, match=r"latin1\.txt: not a UTF-8 text file \(byte 24: 0xe9\)"):
        synth_sets.load_sentences([str(text)], 3, 15, [])


def test_load_sentences_drops_a_byte_order_mark(tmp_path):
    # a file saved "UTF-8 with BOM" kept U+FEFF at the start of its first sentence (str.strip keeps it), and the
    # sentence went to the engines and the manifest with it
    text = tmp_path / "bom.txt"
    text.write_bytes("\ufeffWe met at the little cafe by the river.\n".encode("utf-8"))
    kept, _ = synth_sets.load_sentences([str(text)], 3, 15, [])
    assert kept == ["We met at the little cafe by the river."]


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")
def test_keyword_command_small(tmp_path):
    script = _script()
    out = tmp_path / "kw"
    assert script.main(["keyword", "--keyword", "activate", "--out", str(out), "--engines", "flite",
                        "--variations", "2", "--min-per-engine", "0", "--alike-words", "5", "--workers", "1"]) == 0
    pos = [json.loads(line) for line in (out / "positives.jsonl").read_text().splitlines()]
    neg = [json.loads(line) for line in (out / "negatives.jsonl").read_text().splitlines()]
    assert len(pos) == 10 and len(neg) == 10
    assert all(r["text"] == "activate" and (out / r["audio_filepath"]).exists() for r in pos)
    assert not any("activate" in r["text"] for r in neg)
    # the old script's name is the same command: a bad option is one line, not a traceback
    assert script.main(["keyword", "--keyword", "x", "--out", str(out), "--text", str(tmp_path / "gone.txt")]) == 1


def test_spoken_forms_end_with_the_keyword():
    assert synth_sets.spoken_forms("amelia", ["{}", "{}?", "hey, {}"]) == ["amelia", "amelia?", "hey, amelia"]
    with pytest.raises(SpeechseqError, match="after the keyword"):
        synth_sets.spoken_forms("amelia", ["{}, please"])
    with pytest.raises(SpeechseqError, match="exactly once"):
        synth_sets.spoken_forms("amelia", ["{} {}"])


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_keyword_command_phrasings(tmp_path, monkeypatch):
    # four of the installed espeak-ng voices (all 816 took ~45 s): the turns of the phrasings show in four
    voices = list_voices(["espeak-ng"])[:4]
    monkeypatch.setattr(synth, "list_voices", lambda engines=None: voices)
    out = tmp_path / "kw"  # `speechseq synth keyword`, the command scripts/make_synth_data.py is
    assert speechseq_main(["synth", "keyword", "--keyword", "amelia", "--out", str(out), "--engines", "espeak-ng",
                        "--variations", "2", "--min-per-engine", "0", "--neg-ratio", "0", "--workers", "1",
                        "--phrasings", "{}", "{}?", "hey, {}"]) == 0
    pos = [json.loads(line) for line in (out / "positives.jsonl").read_text().splitlines()]
    texts = {r["text"] for r in pos}
    assert texts == {"amelia", "hey amelia"}  # the manifest holds the normalised words
    assert len(pos) == 2 * len(voices) and {r["voice"] for r in pos} == {v.name for v in voices}
    # each voice says two of the three forms, one further on per voice: all three are used
    assert len({r["audio_filepath"] for r in pos}) == len(pos)
    by_voice = {}
    for r in pos:
        by_voice.setdefault(r["voice"], []).append(r["text"])
    assert any(t == ["hey amelia", "amelia"] for t in by_voice.values())
    assert any(t == ["amelia", "amelia"] for t in by_voice.values())  # "{}" then "{}?"


def test_voice_picker_covers_every_engine():
    # Every engine has a share of the random-voice utterances (a new engine without one would be a
    # KeyError), and the picker draws engines by those shares, then a voice of that engine.
    import random

    assert list(synth_sets.ENGINE_WEIGHTS) == list(synth.ENGINES)  # the --engines choices of `speechseq synth`
    voices = [Voice("espeak-ng", "en-us"), Voice("espeak-ng", "en-gb"), Voice("rhvoice", "slt")]
    pick = synth_sets.VoicePicker(voices, random.Random(0))
    drawn = [pick() for _ in range(5000)]
    share = sum(v.engine == "rhvoice" for v in drawn) / len(drawn)
    w = synth_sets.ENGINE_WEIGHTS
    assert share == pytest.approx(w["rhvoice"] / (w["rhvoice"] + w["espeak-ng"]), abs=0.02)
    assert {v.name for v in drawn if v.engine == "espeak-ng"} == {"en-us", "en-gb"}


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")
def test_sentences_command_small(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("The quiet river ran past the old mill.\nShe opened the window to let the morning in.\n"
                    "Too short.\n")
    out = tmp_path / "s"
    assert speechseq_main(["synth", "sentences", "--text", str(text), "--n", "20", "--engines", "flite",
                           "--workers", "1", "--out", str(out)]) == 0
    train, held = ([json.loads(line) for line in (out / name).read_text().splitlines()]
                   for name in ("train.jsonl", "heldout.jsonl"))
    assert len(train) + len(held) == 20 and all(r["engine"] == "flite" for r in train + held)
    assert train and held                                           # this seed draws held-out voices too
    assert all(heldout(Voice("flite", r["voice"])) == (r in held) for r in train + held)
    assert {r["text"] for r in train + held} <= {"the quiet river ran past the old mill",
                                                 "she opened the window to let the morning in"}
    assert all((out / r["audio_filepath"]).is_file() for r in train + held)
    assert "train: " in capsys.readouterr().err
    # a missing text file, or none with a usable sentence: one clear error, nothing made
    assert speechseq_main(["synth", "sentences", "--text", str(tmp_path / "gone.txt"), "--out", str(tmp_path / "x")]) == 1
    (tmp_path / "short.txt").write_text("Too short.\n")
    assert speechseq_main(["synth", "sentences", "--text", str(tmp_path / "short.txt"), "--out", str(tmp_path / "y")]) == 1
    err = capsys.readouterr().err
    assert f"--text {tmp_path / 'gone.txt'}: no such file" in err and "no usable sentences" in err
    assert not (tmp_path / "y/audio").exists()


@pytest.mark.parametrize("voice", [ESPEAK, Voice("mbrola", "mb-us1"), Voice("pico", "en-US")], ids=lambda v: v.id)
def test_text_starting_with_a_dash_is_said_not_read_as_options(voice, tmp_path, monkeypatch):
    # A sentence line "- I said ..." (dialogue) or "-wfile" was parsed by espeak-ng / pico2wave as options: the clip
    # failed, and "-wNAME" wrote a file NAME in the working directory.
    if not list_voices([voice.engine]):
        pytest.skip(f"{voice.engine} is not installed here")
    monkeypatch.chdir(tmp_path)
    assert len(synthesize("- I said I would go home now.", voice)) / SAMPLE_RATE > 0.8
    assert len(synthesize("-wout.wav said the man", voice)) / SAMPLE_RATE > 0.5
    assert list(tmp_path.iterdir()) == []


def _fake_synthesize(text, voice, speed=1.0, pitch=1.0):
    return np.full(1600, 0.5, np.float32)


def test_second_run_says_what_it_reused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(synth, "synthesize", _fake_synthesize)
    jobs = [(f"word {i}", ESPEAK, 1.0, 1.0) for i in range(5)]
    synthesize_many(jobs[:3], tmp_path, workers=1)
    capsys.readouterr()
    synthesize_many(jobs, tmp_path, workers=1)
    out = capsys.readouterr()
    assert "3 of 5 clips already in" in out.out + out.err


def test_synthesis_says_its_lines_on_stderr_and_draws_no_bar_into_a_log_file(tmp_path, monkeypatch, capsys):
    """Its lines (clips reused, a job skipped, how many failed) went to stdout, among a command's results, and its
    bar was drawn into a log file (stderr not a terminal), every redraw kept, where the other bars no longer are."""
    real = synth.synthesize  # the voice of no engine fails as it does
    monkeypatch.setattr(synth, "synthesize", lambda text, voice, *a: (real if voice.engine == "nosuch"
                                                                      else _fake_synthesize)(text, voice, *a))
    jobs = [(f"word {i}", ESPEAK, 1.0, 1.0) for i in range(3)]
    synthesize_many(jobs[:2], tmp_path, workers=1)
    capsys.readouterr()
    synthesize_many(jobs + [("two", Voice("nosuch", "x"), 1.0, 1.0)], tmp_path, workers=1)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and "\r" not in err and len(lines) == 3, err
    assert lines[0].startswith("2 of 4 clips already in ") and lines[0].endswith(": kept; making 2")
    assert lines[1].startswith("skipped job 3 (nosuch:x, 'two'): ") and "unknown engine" in lines[1]
    assert lines[2] == "1 of 2 jobs failed"


def test_cache_recovers_from_a_killed_run(tmp_path, monkeypatch, capsys):
    # What `kill -9` can leave: a manifest row cut short, a row whose file is gone, a part file of a dead writer.
    monkeypatch.setattr(synth, "synthesize", _fake_synthesize)
    jobs = [(f"word {i}", ESPEAK, 1.0, 1.0) for i in range(4)]
    paths = synthesize_many(jobs, tmp_path, workers=1)
    manifest = tmp_path / "manifest.jsonl"
    lines = manifest.read_text().splitlines(keepends=True)
    manifest.write_text("".join(lines[:-1]) + lines[-1][:30])   # the last row cut mid-write
    paths[0].unlink()                                            # a row without its file
    dead = 2 ** 22 + 1                                           # above pid_max's default: no such process
    (tmp_path / f"{paths[1].name}.part{dead}").write_bytes(b"RIFF")
    (tmp_path / f"{paths[1].stem}.part{dead}.wav").write_bytes(b"RIFF")  # the old naming
    again = synthesize_many(jobs, tmp_path, workers=1)
    assert again == paths and all(p.exists() for p in paths)
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(r["audio_filepath"] for r in rows) == sorted(p.name for p in paths)  # one row a file
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted([p.name for p in paths] + ["manifest.jsonl"])


_INTERRUPTED = """
import sys, time
import numpy as np
from speechseq.cli import _sigterm_as_ctrl_c
from speechseq.train import synth
def slow(text, voice, speed=1.0, pitch=1.0):
    time.sleep(0.2)
    return np.full(1600, 0.5, np.float32)
synth.synthesize = slow
_sigterm_as_ctrl_c()
jobs = [(f"word {i}", synth.Voice("espeak-ng", "en-us"), 1.0, 1.0) for i in range(int(sys.argv[2]))]
print("started", flush=True)
try:
    synth.synthesize_many(jobs, sys.argv[1], workers=2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_interrupt_stops_synthesis_and_a_rerun_resumes(tmp_path, how):
    # Ctrl+C (SIGINT to the process group) hung for ever in pool.join() (the workers it killed had taken jobs
    # that never came back); `kill PID` (SIGTERM, Ctrl+C to the CLI) went on making every clip before it stopped.
    import subprocess
    import sys

    from .interrupts import interrupted_run

    script = tmp_path / "run.py"
    script.write_text(_INTERRUPTED)
    cache = tmp_path / "cache"

    def four_made() -> bool:   # interrupted once 4 clips are in, however slowly a busy machine makes them
        return cache.is_dir() and sum(f.suffix == ".wav" and ".part" not in f.name for f in cache.iterdir()) >= 4

    # a hang check (it hung for ever), generous for a busy machine; going on with every clip: `made` below
    out, err, code = interrupted_run([str(script), str(cache), "40"], how, after_s=0.0, within_s=30, timeout_s=60,
                                     ready=four_made)
    assert code == 130 and "interrupted" in out
    assert "Traceback" not in err  # no worker tracebacks
    made = sorted(f.name for f in cache.iterdir() if f.name != "manifest.jsonl")
    assert 4 <= len(made) < 30 and all(f.endswith(".wav") for f in made)  # no part files left
    for f in made:
        assert sf.info(cache / f).frames == 1600
    # a rerun makes the rest only, and ends with one manifest row per job
    proc = subprocess.run([sys.executable, str(script), str(cache), "40"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    assert f"{len(made)} of 40 clips already in" in proc.stdout + proc.stderr
    rows = [json.loads(line) for line in (cache / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 40 == len({r["audio_filepath"] for r in rows})


@pytest.mark.parametrize("opts", [["--speed-max", "5"], ["--speed-min", "0.2"]])
def test_speed_factors_synthesis_cannot_take_are_refused_before_any_job(tmp_path, capsys, opts):
    """synthesize takes factors in [0.25, 4]: out of it, every varied job failed one by one (exit 0 with some
    positives) instead of one line before the work."""
    from speechseq.cli import main

    rc = main(["synth", "keyword", "--keyword", "hello", "--out", str(tmp_path / "kw"), "--engines", "flite",
               "--variations", "2", "--min-per-engine", "0", "--neg-ratio", "0", "--workers", "1", *opts])
    err = capsys.readouterr().err
    assert rc == 1 and "0.25 <= --speed-min <= --speed-max <= 4" in err and "skipped job" not in err
    assert not (tmp_path / "kw" / "positives.jsonl").exists()


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")
def test_an_engine_asked_for_but_not_installed_is_named(tmp_path, capsys, monkeypatch):
    """`--engines flite pico` where pico is missing (a PATH with flite alone): one line names it (it was only a
    count of 0 among the others), and flite's clips are made."""
    from speechseq.cli import main

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "flite").symlink_to(shutil.which("flite"))
    monkeypatch.setenv("PATH", str(bin_dir))
    rc = main(["synth", "keyword", "--keyword", "hello", "--out", str(tmp_path / "kw"), "--engines", "flite",
               "pico", "--variations", "1", "--min-per-engine", "0", "--neg-ratio", "0", "--workers", "1"])
    out = capsys.readouterr().err   # the lines of progress: stdout holds results alone
    assert rc == 0 and "not installed, left out: pico (" in out
    assert len((tmp_path / "kw" / "positives.jsonl").read_text().splitlines()) == 5


def test_a_run_that_makes_no_positive_fails(tmp_path, monkeypatch, capsys):
    """Every positive job failing is an error (exit 1 from the command line), not a success with nothing made."""
    from speechseq.cli import main

    def broken(text, voice, speed=1.0, pitch=1.0):
        raise synth.SynthError(f"{voice.engine} fails on everything")
    monkeypatch.setattr(synth, "synthesize", broken)
    rc = main(["synth", "keyword", "--keyword", "hello", "--out", str(tmp_path / "kw"), "--engines", "flite",
               "--variations", "1", "--min-per-engine", "2", "--workers", "1"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "no clip of 'hello' could be made" in err and "Traceback" not in err


def test_a_heldout_sentence_is_never_a_training_sentence(tmp_path, monkeypatch):
    """--n over the text pool draws sentences again: a sentence that a held-out voice says must not be said by a
    training voice too (it was: with 2 sentences and 20 utterances both were in train.jsonl and heldout.jsonl).
    The split holds for every utterance, the count stays --n while a sentence of the right side is left, and the
    same seed gives the same manifests."""
    monkeypatch.setattr(synth, "synthesize", _fake_synthesize)
    text = tmp_path / "t.txt"
    text.write_text("".join(f"sentence number {w} is spoken here\n" for w in
                            ("one", "two", "three", "four", "five", "six", "seven", "eight")))
    voices = [Voice("flite", n) for n in synth.FLITE_VOICES]
    assert any(heldout(v) for v in voices) and not all(heldout(v) for v in voices)
    monkeypatch.setattr(synth, "list_voices", lambda engines=None: voices)
    cfg = synth_sets.SentenceSet(text=(str(text),), n=60)
    opts = synth_sets.VoiceOptions(engines=("flite",), workers=1)
    train, held = synth_sets.sentence_set(tmp_path / "a", cfg, opts, say=lambda line: None)
    assert held and train and len(train) + len(held) == 60
    assert all(not r["heldout"] for r in train) and all(r["heldout"] for r in held)
    assert not {r["text"] for r in train} & {r["text"] for r in held}
    again = synth_sets.sentence_set(tmp_path / "b", cfg, opts, say=lambda line: None)
    assert again == (train, held)
    # one sentence only: the training voices keep it, the held-out voices' utterances are left out, and it says so
    text.write_text("sentence number one is spoken here\n")
    said = []
    train, held = synth_sets.sentence_set(tmp_path / "c", synth_sets.SentenceSet(text=(str(text),), n=30), opts,
                                          say=said.append)
    assert train and not held and len(train) < 30
    assert any(f"({30 - len(train)} utterances of held-out voices left out)" in line for line in said)


# ---------------------------------------------------------------- the engine's version in the cache key

def _stand_in(folder, program: str, says: str) -> None:
    """An executable `program` in `folder` that prints `says` and logs each run to folder/runs."""
    path = folder / program
    path.write_text(f"#!/bin/sh\necho {program} >> '{folder / 'runs'}'\necho '{says}'\n")
    path.chmod(0o755)


@pytest.fixture
def fresh_identities():
    synth.engine_identity.cache_clear()
    synth._installed_voice_packages.cache_clear()
    yield
    synth.engine_identity.cache_clear()
    synth._installed_voice_packages.cache_clear()


def test_cache_key_follows_the_engine_version(tmp_path, monkeypatch, fresh_identities):
    """After an upgrade of the engine, clips made by the old one were served as current: the key named the engine,
    voice and settings but not the engine's version."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    job = SynthJob("yes", ESPEAK, 1.0, 1.0)
    _stand_in(bin_dir, "espeak-ng", "eSpeak NG text-to-speech: 1.51")
    old = job_path(job, tmp_path)
    assert job_path(job, tmp_path) == old                       # the same engine: the same clip
    synth.engine_identity.cache_clear()                          # a new process ...
    _stand_in(bin_dir, "espeak-ng", "eSpeak NG text-to-speech: 1.52")   # ... after an upgrade
    assert job_path(job, tmp_path) != old
    # an engine without a version flag (pico2wave): its program's size and time
    pico = SynthJob("yes", Voice("pico", "en-US"), 1.0, 1.0)
    _stand_in(bin_dir, "pico2wave", "")
    synth.engine_identity.cache_clear()
    before = job_path(pico, tmp_path)
    synth.engine_identity.cache_clear()
    assert job_path(pico, tmp_path) == before
    stat = (bin_dir / "pico2wave").stat()
    __import__("os").utime(bin_dir / "pico2wave", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    synth.engine_identity.cache_clear()
    assert job_path(pico, tmp_path) != before
    # an engine that is not installed, or not known, still has a key (its jobs fail with their own message)
    assert job_path(SynthJob("yes", Voice("nosuch", "x")), tmp_path).suffix == ".wav"


def test_the_engine_version_is_read_once_per_process(tmp_path, monkeypatch, fresh_identities):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    _stand_in(bin_dir, "espeak-ng", "eSpeak NG text-to-speech: 1.51")
    _stand_in(bin_dir, "flite", "version: flite-2.2-current")
    jobs = [SynthJob(f"word {i}", v, 1.0, 1.0) for i in range(20) for v in (ESPEAK, Voice("flite", "slt"))]
    paths = {job_path(j, tmp_path) for j in jobs}
    assert len(paths) == 40
    assert sorted((bin_dir / "runs").read_text().split()) == ["espeak-ng", "flite"]


def test_a_cache_of_another_engine_version_is_remade(tmp_path, monkeypatch, fresh_identities):
    """Clips of the old engine left in the cache are not reused and break nothing: they just miss."""
    monkeypatch.setattr(synth, "synthesize", _fake_synthesize)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    _stand_in(bin_dir, "espeak-ng", "eSpeak NG text-to-speech: 1.51")
    jobs = [(f"word {i}", ESPEAK, 1.0, 1.0) for i in range(3)]
    old = synthesize_many(jobs, tmp_path / "cache", workers=1)
    synth.engine_identity.cache_clear()
    _stand_in(bin_dir, "espeak-ng", "eSpeak NG text-to-speech: 1.52")
    new = synthesize_many(jobs, tmp_path / "cache", workers=1)
    assert all(p is not None and p.exists() for p in old + new) and not set(old) & set(new)
    rows = [json.loads(line) for line in (tmp_path / "cache" / "manifest.jsonl").read_text().splitlines()]
    assert len(rows) == 6


def test_clips_made_before_the_slow_espeak_and_rhvoice_trim_fixes_are_not_reused(fresh_identities):
    """espeak-ng's and MBROLA's clips under speed 0.457 are now slowed by sox, and RHVoice's are trimmed otherwise:
    the cache key named neither, so a rerun served the old clips (too fast; RHVoice's with its hum kept). The other
    engines' keys are as they were."""
    espeak, mbrola, rhvoice = (synth.engine_identity(e) for e in ("espeak-ng", "mbrola", "rhvoice"))
    assert "sox: " in espeak and "sox: " in mbrola
    assert rhvoice.startswith("recipe 2; RHVoice-test: ")
    assert not any(synth.engine_identity(e).startswith("recipe ") for e in ("flite", "festival", "pico", "piper"))


# ---------------------------------------------------------------- the voice packages' versions in the cache key

def test_cache_key_follows_the_voice_packages_versions():
    """After an upgrade of a voice package (festvox-kallpc16k, mbrola-us1, ...) the programs' versions were the same,
    so the key was too: clips of the old voice were served as current."""
    old = (("festvox-kallpc16k", "2.4-1"), ("mbrola-us1", "0.3+repack2-5"), ("espeak-ng-data", "1.51"))
    festival_upgraded = (("festvox-kallpc16k", "2.4-2"), ("mbrola-us1", "0.3+repack2-5"), ("espeak-ng-data", "1.51"))
    mbrola_upgraded = (("festvox-kallpc16k", "2.4-1"), ("mbrola-us1", "0.4"), ("espeak-ng-data", "1.51"))
    ident = synth.engine_identity
    assert ident("festival", old) != ident("festival", festival_upgraded)
    assert ident("festival", old) != ident("festival", mbrola_upgraded)   # festival drives the MBROLA voices too
    assert ident("mbrola", old) != ident("mbrola", mbrola_upgraded)
    assert ident("mbrola", old) == ident("mbrola", festival_upgraded)     # not festival's voices
    assert ident("espeak-ng", old) == ident("espeak-ng", mbrola_upgraded)  # no voice package of these engines
    assert ident("flite", old) == ident("flite", festival_upgraded)
    assert ident("mbrola", old).endswith("voice packages: mbrola-us1 0.3+repack2-5")
    assert ident("mbrola", ()).endswith("voice packages: none installed")
    assert ident("mbrola", "dpkg-query not installed").endswith("voice packages: unknown (dpkg-query not installed)")


def test_cache_key_follows_festivals_lexicon_packages():
    """festival's English voices say each word as its lexicons (festlex-cmu, festlex-poslex) spell it: an upgrade of
    one changes the clips as a voice's does, and the key stayed the same."""
    old = (("festlex-cmu", "2.4-2"), ("festvox-kallpc16k", "2.4-1"))
    new = (("festlex-cmu", "2.4-3"), ("festvox-kallpc16k", "2.4-1"))
    assert synth.engine_identity("festival", old) != synth.engine_identity("festival", new)
    assert synth.engine_identity("festival", old).endswith("voice packages: festlex-cmu 2.4-2, festvox-kallpc16k 2.4-1")
    assert synth.engine_identity("mbrola", old) == synth.engine_identity("mbrola", new)


def test_the_voice_packages_of_this_machine_are_in_the_key(fresh_identities):
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian system: no dpkg-query")
    import subprocess
    listing = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Version}\n", "festlex-*",
                              "festvox-*", "mbrola-*"], capture_output=True, text=True).stdout.split("\n")
    installed = sorted(tuple(line.split()[1:]) for line in listing if line.startswith("installed "))
    if not installed:
        pytest.skip("no festival or MBROLA voice package installed")
    festival = synth.engine_identity("festival")
    assert festival.endswith("voice packages: " + ", ".join(f"{p} {v}" for p, v in installed))
    assert festival == synth.engine_identity("festival", tuple(installed))
    assert "not-installed" not in festival and "mbrola-voice " not in festival   # virtual names dpkg knows of
    synth.engine_identity("mbrola")
    assert synth._installed_voice_packages.cache_info().misses == 1           # dpkg-query asked once per process


def test_without_dpkg_query_the_key_says_the_voices_are_unknown(tmp_path, monkeypatch, fresh_identities):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert synth.engine_identity("mbrola").endswith("voice packages: unknown (dpkg-query not installed)")
    assert job_path(SynthJob("yes", Voice("festival", "kal_diphone")), tmp_path).suffix == ".wav"


@pytest.mark.parametrize("argv, option", [
    (["synth", "keyword", "--keyword", "amelia", "--text", "{gone}"], "--text"),
    (["synth", "sentences", "--text", "{gone}"], "--text"),
    (["synth", "sentences", "--text", "{text}", "--exclude-manifest", "{gone}"], "--exclude-manifest"),
])
def test_a_missing_input_file_names_its_option(argv, option, tmp_path, capsys):
    """synth said "cannot read text file X" / "cannot read exclusion manifest X", where every other command names
    the option ("--text X: no such file"), before any work (no --out folder made)."""
    gone, text = tmp_path / "gone.txt", tmp_path / "t.txt"
    text.write_text("The quiet river ran past the old mill.\n")
    argv = [a.format(gone=gone, text=text) for a in argv] + ["--out", str(tmp_path / "out")]
    assert speechseq_main(argv) == 1
    assert f"speechseq: error: {option} {gone}: no such file" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(shutil.which("flite") is None, reason="needs flite")
def test_a_missing_sox_is_named_not_the_engine(tmp_path, monkeypatch):
    """flite, festival, pico, RHVoice and piper get their speed and pitch from sox: where sox was missing, every
    varied clip failed with "flite is not installed (no 'sox' on PATH)" while flite made the natural-speed ones."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "flite").symlink_to(shutil.which("flite"))
    monkeypatch.setenv("PATH", str(bin_dir))
    voice = Voice("flite", "slt")
    assert np.abs(synthesize("hello", voice)).max() == pytest.approx(0.95, abs=1e-3)  # flite itself runs
    with pytest.raises(SynthError) as err:
        synthesize("hello", voice, speed=1.2)
    assert "flite is not installed" not in str(err.value)
    assert "sox is not installed" in str(err.value) and "speed and pitch" in str(err.value)


_SCRIPT_INTERRUPTED = """
import runpy, sys, time
import numpy as np
from speechseq.train import synth
def slow(text, voice, speed=1.0, pitch=1.0):
    time.sleep(0.2)
    return np.full(1600, 0.5, np.float32)
synth.synthesize = slow
sys.argv = ["make_synth_data.py", "keyword", "--keyword", "hello", "--out", sys.argv[1], "--engines", "espeak-ng",
            "--variations", "1", "--min-per-engine", "0", "--neg-ratio", "0", "--workers", "2"]
print("started", flush=True)
runpy.run_path({script!r}, run_name="__main__")
"""


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_the_scripts_name_stops_on_ctrl_c_as_the_command_does(tmp_path, how):
    """scripts/make_synth_data.py (the model cards' name of `speechseq synth`) ended Ctrl+C with a traceback and exit
    1, and `kill` without a word; the command says "interrupted" (exit 130), and a rerun resumes alike."""
    from .interrupts import interrupted_run
    from .script_loader import ROOT

    script = tmp_path / "run.py"
    script.write_text(_SCRIPT_INTERRUPTED.format(script=str(ROOT / "scripts" / "make_synth_data.py")))
    audio = tmp_path / "kw" / "audio"

    def four_made() -> bool:
        return audio.is_dir() and sum(f.suffix == ".wav" for f in audio.iterdir()) >= 4

    out, err, code = interrupted_run([str(script), str(tmp_path / "kw")], how, after_s=0.0, within_s=30,
                                     timeout_s=60, ready=four_made)
    assert code == 130 and "interrupted" in err and "Traceback" not in err
    assert not [f for f in audio.iterdir() if ".part" in f.name]


def test_the_min_per_engine_help_says_what_the_catalogues_hold(capsys):
    """--min-per-engine's help spoke of "the five more natural engines" at "a few dozen clips each": six engines
    besides espeak-ng, of one to nine voices, 3 to 27 clips each at the default 3 variations."""
    with pytest.raises(SystemExit):
        speechseq_main(["synth", "keyword", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    sizes = [len(synth._CATALOGUE[e]) for e in synth.NATURAL_ENGINES]
    assert (min(sizes), max(sizes), len(sizes)) == (1, 9, 6)  # what the help says in words
    assert "the six other engines (one to nine voices each)" in help_text and "five" not in help_text
    assert "3 to 27 clips each" in help_text


def test_a_negative_ratio_past_its_bound_is_refused_before_any_work(capsys):
    """--neg-ratio 1e9 had no upper bound: the command listed billions of negatives and ran out of memory, making no
    progress; a ratio above 100 negatives per positive is now a usage error, and a KeywordSet refuses it too."""
    from speechseq.cli import main
    from speechseq.train.synth_sets import KeywordSet

    with pytest.raises(SystemExit) as exc:
        main(["synth", "keyword", "--keyword", "amelia", "--out", "/nonexistent/x", "--neg-ratio", "1e9"])
    assert exc.value.code == 2 and "--neg-ratio" in capsys.readouterr().err
    with pytest.raises(ValueError, match="neg_ratio"):
        KeywordSet(neg_ratio=1e9)
    assert KeywordSet(neg_ratio=100).neg_ratio == 100


def test_an_engine_killed_by_a_signal_says_so():
    """festival's text2wave crashes on some text (exit -11) and writes nothing: the line said 'text2wave failed
    (exit -11): ' and stopped there. It now names the signal, and a silent failure says it printed nothing."""
    from speechseq.train.synth import SynthError, Voice, _run

    voice = Voice("festival", "kal")
    with pytest.raises(SynthError) as err:
        _run(["sh", "-c", "kill -SEGV $$"], voice)
    assert str(err.value) == f"{voice.id}: sh was killed by SIGSEGV (it printed nothing)", str(err.value)
    with pytest.raises(SynthError) as err:
        _run(["sh", "-c", "exit 3"], voice)
    assert str(err.value) == f"{voice.id}: sh failed (exit 3; it printed nothing)", str(err.value)
    with pytest.raises(SynthError) as err:
        _run(["sh", "-c", "echo bad text >&2; exit 1"], voice)
    assert str(err.value) == f"{voice.id}: sh failed (exit 1): bad text", str(err.value)


def test_an_exclusion_manifest_without_a_row_of_the_splits_is_an_error(tmp_path, monkeypatch, capsys):
    """--exclude-manifest with no row of --exclude-split (a dev set saved without a split column) excluded nothing
    without a word, and its prompts were spoken into the training sentences (`train lm` refuses it); '' takes every
    row, as there."""
    monkeypatch.setattr(synth, "synthesize", _fake_synthesize)
    monkeypatch.setattr(synth, "list_voices", lambda engines=None: [Voice("flite", n) for n in synth.FLITE_VOICES])
    text = tmp_path / "t.txt"
    text.write_text("the quick brown fox jumps over it\nshe sells sea shells by the shore\n")
    manifest = tmp_path / "dev.jsonl"
    manifest.write_text(json.dumps({"audio_filepath": "a.wav", "text": "The quick brown fox jumps over it."}) + "\n")
    argv = ["synth", "sentences", "--text", str(text), "--n", "2", "--workers", "1", "--exclude-manifest",
            str(manifest)]
    assert speechseq_main([*argv, "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert f"exclusion manifest {manifest}: no row of split 'dev', 'test' or 'validation', so nothing of it would be " \
           "excluded" in err and "Traceback" not in err and not (tmp_path / "a" / "train.jsonl").exists()
    assert speechseq_main([*argv, "--exclude-split", "", "--out", str(tmp_path / "b")]) == 0
    said = [json.loads(line)["text"] for name in ("train.jsonl", "heldout.jsonl")
            for line in (tmp_path / "b" / name).read_text().splitlines()]
    assert said and set(said) == {"she sells sea shells by the shore"}
    assert "1 dropped as near-copies of 1 excluded prompt\n" in capsys.readouterr().err


@pytest.mark.skipif(not DICT_PATH.exists(), reason="needs wamerican")
def test_a_short_text_file_leaves_the_negatives_as_many_as_asked(tmp_path, monkeypatch):
    """A --text too short for its 25 % of the negatives gave fewer phrases, and nothing made them up: 40 positives at
    --neg-ratio 1 had 36 negatives. Ordinary words make up the rest; a text long enough changes nothing."""
    monkeypatch.setattr(synth, "synthesize", _fake_synthesize)
    monkeypatch.setattr(synth, "list_voices", lambda engines=None: [Voice("flite", n) for n in synth.FLITE_VOICES])
    text = tmp_path / "t.txt"
    text.write_text("the quiet river ran\n")   # 6 phrases of 2-4 words
    cfg = synth_sets.KeywordSet(variations=8, min_per_engine=0, alike_words=10, text=(str(text),))
    opts = synth_sets.VoiceOptions(engines=("flite",), workers=1)
    pos, neg = synth_sets.keyword_set("activate", tmp_path / "kw", cfg, opts, say=lambda line: None)
    kinds = [r["kind"] for r in neg]
    assert len(pos) == 8 * len(synth.FLITE_VOICES) and len(neg) == len(pos)
    assert kinds.count("phrase") == 6 and kinds.count("sound-alike") == int(len(pos) * 0.4)


@pytest.mark.skipif(not DICT_PATH.exists(), reason="needs wamerican")
def test_the_sets_say_their_lines_on_stderr_by_default(tmp_path, monkeypatch, capsys):
    """keyword_set and sentence_set called without `say` (the Python API) printed their lines (voices, jobs, the
    summaries, an engine left out) to stdout, where a command's results go; they go to stderr, as synthesis's do."""
    monkeypatch.setattr(synth, "synthesize", _fake_synthesize)
    monkeypatch.setattr(synth, "list_voices", lambda engines=None: [Voice("flite", n) for n in synth.FLITE_VOICES])
    opts = synth_sets.VoiceOptions(engines=("flite", "pico"), workers=1)
    pos, neg = synth_sets.keyword_set("activate", tmp_path / "kw", synth_sets.KeywordSet(
        variations=1, min_per_engine=0, alike_words=4), opts)
    out, err = capsys.readouterr()
    assert out == "" and len(pos) == len(neg) == len(synth.FLITE_VOICES), out
    assert "not installed, left out: pico (" in err and f"{len(pos)} positive and {len(neg)} negative jobs" in err
    text = tmp_path / "t.txt"
    text.write_text("the quiet river ran past the old mill\nshe opened the window to let the morning in\n")
    train, held = synth_sets.sentence_set(tmp_path / "s", synth_sets.SentenceSet(text=(str(text),), n=2), opts)
    out, err = capsys.readouterr()
    assert out == "" and len(train) + len(held) == 2, out
    assert "2 usable sentences; 0 dropped" in err and "train: " in err and "heldout: " in err
