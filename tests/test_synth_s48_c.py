"""Session 48 (C): sox's version in the synthesis cache key only for the jobs sox makes part of; espeak-ng's and
MBROLA's pitch past espeak's highest setting; piper's speed as asked (speechseq.train.synth, synth_cache)."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from speechseq.train import synth
from speechseq.train.synth import SAMPLE_RATE, SynthJob, Voice, job_path, list_voices, synthesize

from .test_synth import fresh_identities  # noqa: F401  (fixture)

ESPEAK = Voice("espeak-ng", "en-us")
MBROLA = Voice("mbrola", "mb-us1")
PIPER = Voice("piper", "en_US-joe-medium")


def _stand_in_sox(folder, says: str) -> None:
    path = folder / "sox"
    path.write_text(f"#!/bin/sh\necho '{says}'\n")
    path.chmod(0o755)


def _key_before_session_48(job: SynthJob, cache_dir) -> str:
    """The file name the cache gave a job up to session 48: every engine's identity with sox in it, for every job."""
    key = json.dumps([1, job.text, job.voice.engine, job.voice.name, round(job.speed, 3), round(job.pitch, 3),
                      synth.engine_identity(job.voice.engine)])
    return str(cache_dir / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.wav")


def test_sox_is_in_the_key_of_the_jobs_it_makes_only(tmp_path, monkeypatch, fresh_identities):
    """espeak-ng's and MBROLA's keys named sox's version at every speed, though only their speeds under 0.457 use it:
    an upgrade of sox made their ordinary clips (nearly all of them) again. Now sox is in a job's key where sox
    makes part of the clip: espeak-ng and MBROLA under 80 words a minute, the other engines off natural speed or
    pitch (piper: off natural pitch)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    ordinary = [SynthJob("yes", ESPEAK), SynthJob("yes", ESPEAK, 0.9, 1.2), SynthJob("yes", ESPEAK, 0.46, 0.8),
                SynthJob("yes", MBROLA, 1.1, 1.1), SynthJob("yes", Voice("flite", "slt")),
                SynthJob("yes", Voice("pico", "en-US")), SynthJob("yes", PIPER)]
    by_sox = [SynthJob("yes", ESPEAK, 0.3), SynthJob("yes", ESPEAK, 0.45, 1.2), SynthJob("yes", MBROLA, 0.4),
              SynthJob("yes", Voice("flite", "slt"), 1.2), SynthJob("yes", Voice("festival", "kal_diphone"), 1.0, 0.9),
              SynthJob("yes", PIPER, 1.0, 1.2)]
    _stand_in_sox(bin_dir, "sox:      SoX v14.4.2")
    before = [job_path(j, tmp_path) for j in ordinary + by_sox]
    synth.engine_identity.cache_clear()                         # a new process after an upgrade of sox
    _stand_in_sox(bin_dir, "sox:      SoX v14.4.3")
    after = [job_path(j, tmp_path) for j in ordinary + by_sox]
    assert before[: len(ordinary)] == after[: len(ordinary)]
    assert all(b != a for b, a in zip(before[len(ordinary):], after[len(ordinary):]))


def test_the_keys_of_clips_sox_made_are_as_before(tmp_path, fresh_identities):
    """The keys that named sox rightly (slow espeak-ng and MBROLA clips, varied clips of the other engines, piper's
    pitched ones) are the same as before: those clips in a user's cache are kept."""
    kept = [SynthJob("yes", ESPEAK, 0.3), SynthJob("hello there", MBROLA, 0.25, 1.3),
            SynthJob("yes", Voice("flite", "slt"), 1.2, 0.9), SynthJob("yes", Voice("rhvoice", "alan"), 0.9),
            SynthJob("yes", PIPER, 1.0, 1.2)]
    assert [str(job_path(j, tmp_path)) for j in kept] == [_key_before_session_48(j, tmp_path) for j in kept]
    # made otherwise now: espeak-ng's pitch past its highest setting, piper's speed
    remade = [SynthJob("yes", ESPEAK, 1.0, 2.5), SynthJob("yes", ESPEAK, 0.3, 2.5), SynthJob("yes", PIPER, 1.2)]
    assert not {str(job_path(j, tmp_path)) for j in remade} & {_key_before_session_48(j, tmp_path) for j in remade}


def _median_f0(audio: np.ndarray) -> float:
    import librosa

    f0, voiced, _ = librosa.pyin(audio, fmin=60, fmax=1000, sr=SAMPLE_RATE)
    return float(np.nanmedian(f0[voiced]))


@pytest.mark.parametrize("voice", [ESPEAK, MBROLA], ids=lambda v: v.id)
def test_pitch_factors_past_espeaks_highest_setting_sound_apart(voice):
    """espeak-ng takes pitch settings 0-99 and says a higher one at 99 (measured: 100, 120 and 150 made the F0 of
    99); factor 1.98 is 99, so 2.5 and 3.2 sounded as 1.98 did while claiming higher pitches. The rest of the
    factor is sox's, as the rest of a speed under espeak's slowest is."""
    if voice not in list_voices([voice.engine]):
        pytest.skip(f"{voice.id} is not installed here")
    text = "computer activation"
    top, higher, highest = (_median_f0(synthesize(text, voice, pitch=p)) for p in (1.98, 2.5, 3.2))
    assert higher / top == pytest.approx(2.5 / 1.98, rel=0.06)
    assert highest / top == pytest.approx(3.2 / 1.98, rel=0.06)
    # under the cap as before: espeak-ng's own setting moves the frequency about half as far as the factor
    assert _median_f0(synthesize(text, voice, pitch=1.5)) / top == pytest.approx(np.exp(0.5 * (1.5 - 1.98)), rel=0.06)


@pytest.mark.skipif(not list_voices(["piper"]), reason="piper is not installed here")
def test_piper_speeds_make_the_lengths_asked():
    """piper's model rounds each phone's length up to whole frames after scaling it by the length scale: 1/speed
    made clips x2.81 as long at speed 0.3 (not x3.33) and 1.07-1.11x shorter at 1.2 (not 1.2x). The length scale
    is now chosen by piper's measured lengths; past its fastest, sox's tempo does the rest."""
    texts = ("computer activation", "please turn off the kitchen lights", "the quiet river ran past the old mill")
    base = [len(synthesize(t, PIPER)) for t in texts]
    for speed in (0.3, 1.2, 2.0):
        ratio = np.mean([len(synthesize(t, PIPER, speed=speed)) / n for t, n in zip(texts, base)])
        assert ratio == pytest.approx(1 / speed, rel=0.08), speed
