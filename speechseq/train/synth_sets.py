"""Synthetic training sets: a keyword said by every installed voice with as many negatives, or sentences by
random voices (`speechseq synth keyword|sentences`, `speechseq train detector` without --synth and --positives).

    rows = keyword_set("hey robot", Path("cache/synth/kw-hey-robot"))            # (positives, negatives)
    rows = sentence_set(Path("cache/synth/sentences"), SentenceSet(text=("ljspeech.txt",), n=4000))

Audio goes to OUT/audio/ (16-bit 16 kHz WAV named by a hash of text, voice, speed and pitch, so a second run
only makes what is missing). Manifests (JSONL: audio_filepath relative to the manifest, duration, text, voice,
engine, speed, pitch, heldout) go to OUT/: keyword -> positives.jsonl, negatives.jsonl; sentences ->
train.jsonl, heldout.jsonl. Voices of the held-out split (speechseq.train.synth.heldout) are marked
heldout=true in the keyword manifests and are written only to heldout.jsonl for sentences: never train on them
(nor on their sentences, which train.jsonl does not hold).
"""
from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
import random
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SpeechseqError
from ..files import split_lines, text_lines, written_atomically
# the settings live apart, so that a command's parser is built without this module (nor soundfile, nor the engines)
from ..synth_settings import ENGINE_WEIGHTS, MAX_CLIPS, MAX_NEG_RATIO, KeywordSet, SentenceSet, VoiceOptions
from ..text import normalize
from .manifests import TEXT_KEYS, json_objects

if TYPE_CHECKING:
    from .synth import SynthJob, Voice

__all__ = ["ENGINE_WEIGHTS", "MAX_NEG_RATIO", "VoiceOptions", "KeywordSet", "SentenceSet", "VoicePicker", "keyword_set",
           "sentence_set", "spoken_forms", "excluded_texts", "is_evaluation_text", "load_sentences", "summary"]

# What engines read otherwise than normalize() writes it, so the transcript would not be what was said: digits
# (espeak-ng's en-gb voices say "one hundred and one"), acronyms, abbreviations normalize leaves as written ("St"
# saint, "Co." company, "No." number before an amount) and those espeak-ng or flite spell letter by letter ("Jr" J R,
# "vs" V S, "Sgt" S G T, "Esq" E S Q, "i.e." I E, "e.g." E G where normalize writes "that is", "for example") or say
# short ("Prof." prof); with or without their dot where they are no word. "Mr.", "Mrs.", "Dr." and "etc." are said
# as normalize spells them (mister, missus, doctor, et cetera) and are let through; "Dr" only before a capitalised
# name: elsewhere flite and festival say "drive" ("Ask the Dr.", "Elm Dr is closed"), espeak-ng "doctor", and
# normalize "drive" after a street name ("Elm Dr.").
_UNSAYABLE = re.compile(r"\d|\b(?:St|Messrs|Ltd|Capt|Lt|Jr|Sr|vs|Sgt|Esq)\b|\b(?:Co|Gen|Col|Rev|Hon|Prof)\."
                        r"|\bNo\.(?=\s*[a-z])|\b(?i:e\.g|i\.e)\b|\b[A-Z]{2,}\b|\bDr\b(?!\.?[ \t]+[A-Z])")


class VoicePicker:
    """Random voices, first an engine by ENGINE_WEIGHTS (among those installed), then a voice."""

    def __init__(self, voices: list[Voice], rng: random.Random):
        from .synth import ENGINES

        self.by_engine = {e: [v for v in voices if v.engine == e] for e in ENGINES}
        self.engines = [e for e in ENGINES if self.by_engine[e]]
        self.weights = [ENGINE_WEIGHTS[e] for e in self.engines]
        self.rng = rng

    def __call__(self) -> Voice:
        engine = self.rng.choices(self.engines, self.weights)[0]
        return self.rng.choice(self.by_engine[engine])


def _say_on_stderr(line: str) -> None:
    """The sets' default `say`: a line of progress on stderr (a command's stdout holds its results only; printed to
    stdout, the lines mixed with them)."""
    print(line, file=sys.stderr, flush=True)


def _voices(opts: VoiceOptions, say: Callable[[str], None] = _say_on_stderr) -> list[Voice]:
    from .synth import list_voices

    # the engines in the order given, each once: each voice's clips draw their speeds and pitches in the voices'
    # order, so "pico flite" is another set than "flite pico"; the recipes' sets (scripts/train_detectors.py's
    # `--engines rhvoice festival`, session 19's cache/synth-new, which the shipped models learnt) are remade only so
    asked = list(dict.fromkeys(opts.engines or ()))
    voices = list_voices(asked or None)
    missing = [e for e in asked if not any(v.engine == e for v in voices)]
    # piper is a Python package of the train extra; the others are system packages
    how = "; ".join((["piper: pip install -e '.[train]'"] if "piper" in missing else [])
                    + ([("the others" if "piper" in missing else "Debian") + ": scripts/install-system.sh"]
                       if set(missing) - {"piper"} else []))
    if not voices and asked:
        raise SpeechseqError(f"none of the engines {', '.join(asked)} is installed ({how})")
    if missing:  # asked for by name: say so, not just a count of 0 among the others
        say(f"not installed, left out: {', '.join(missing)} ({how})")
    if not voices:
        raise SpeechseqError("no speech engines installed (need espeak-ng, flite, festival, pico2wave or piper; "
                             "Debian: scripts/install-system.sh)")
    return voices


def _vary(rng: random.Random, opts: VoiceOptions) -> tuple[float, float]:
    return round(rng.uniform(opts.speed_min, opts.speed_max), 3), round(rng.uniform(opts.speed_min, opts.speed_max), 3)


def _write_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def _write_manifests(out: Path, manifests: dict[str, list[dict]]) -> None:
    """A set's manifests (name -> rows), each written whole to a temporary first, then put in place together: the
    first named (positives.jsonl, train.jsonl: what a reader takes the set by) removed, the others renamed over theirs,
    then it. Written one after the other, an interrupt or a failed write between them left the new positives beside
    the last run's negatives, which `train detector --synth OUT` read as one set (nothing ties the two files). Now a
    failure while they are written leaves every file as it was; one while they are put in place leaves no first
    manifest (a set not made, as a reader says it), never a new one beside an old other."""
    names = list(manifests)
    with contextlib.ExitStack() as stack:  # left in reverse order: the first named renamed last
        temporaries = [stack.enter_context(written_atomically(out / name)) for name in names]
        for tmp, name in zip(temporaries, names):
            _write_rows(tmp, manifests[name])
        (out / names[0]).unlink(missing_ok=True)


def _rows(jobs: list[SynthJob], paths: list, out: Path, extra: list[dict]) -> list[dict]:
    from .synth import heldout

    durations = {}
    with open(out / "audio" / "manifest.jsonl") as f:
        for line in f:
            row = json.loads(line)
            durations[row["audio_filepath"]] = row["duration"]
    rows = []
    for job, path, more in zip(jobs, paths, extra):
        if path is None:
            continue
        rows.append({"audio_filepath": f"audio/{path.name}", "duration": durations[path.name],
                     "text": normalize(job.text), "voice": job.voice.name, "engine": job.voice.engine,
                     "speed": job.speed, "pitch": job.pitch, "heldout": heldout(job.voice), **more})
    return rows


def summary(name: str, rows: list[dict]) -> str:
    """One line: clips, hours, held-out clips and clips per engine of a manifest's rows."""
    hours = sum(r["duration"] for r in rows) / 3600
    engines: dict[str, int] = {}
    for r in rows:
        engines[r["engine"]] = engines.get(r["engine"], 0) + 1
    held = sum(r["heldout"] for r in rows)
    return (f"{name}: {len(rows)} clip{'s' * (len(rows) != 1)}, {hours:.2f} h, {held} from held-out voices, by "
            f"engine {engines}")


def spoken_forms(keyword: str, templates: tuple[str, ...] | list[str]) -> list[str]:
    """The texts a positive is made from: each template with "{}" replaced by the keyword.

    A template must end with the keyword (punctuation after it allowed): labels start where the
    clip ends, so a word after the keyword would put them in the wrong place.
    """
    forms = []
    for t in templates:
        if t.count("{}") != 1:
            raise SpeechseqError(f"phrasing {t!r} must contain the keyword's place {{}} exactly once")
        if re.search(r"[A-Za-z0-9]", t.split("{}")[1]):
            raise SpeechseqError(f"phrasing {t!r} has words after the keyword: labels start where the clip ends")
        forms.append(t.replace("{}", keyword))
    return forms


def keyword_set(keyword: str, out: Path, cfg: KeywordSet = KeywordSet(), voices: VoiceOptions = VoiceOptions(),
                say: Callable[[str], None] = _say_on_stderr,
                file_texts: Mapping[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """The keyword by every installed voice (cfg.variations clips each, more for engines with few voices), and
    as many negatives by random voices: sound-alikes of the keyword, ordinary words and, with cfg.text, short
    phrases cut from it. Writes OUT/positives.jsonl and OUT/negatives.jsonl; returns their rows. file_texts: the text
    of files of cfg.text already read, by path (read_lines)."""
    from .synth import ENGINES, SynthJob, synthesize_many
    from .words import load_pronunciations, ordinary_phrases, ordinary_words, sound_alikes

    for f in cfg.text:  # read only when phrases are drawn: a wrong name is an error all the same
        if f not in (file_texts or {}) and not Path(f).is_file():
            raise SpeechseqError(f"cannot read text file {f}: no such file")
    rng = random.Random(voices.seed)
    found = _voices(voices, say)
    count = {e: sum(v.engine == e for v in found) for e in ENGINES}
    phrasings = spoken_forms(keyword, cfg.phrasings)
    per_voice = [max(cfg.variations, math.ceil(cfg.min_per_engine / count[voice.engine])) for voice in found]
    _check_size(sum(per_voice), cfg, len(found))
    jobs, extra = [], []
    for v, (voice, k) in enumerate(zip(found, per_voice)):
        for i in range(k):
            speed, pitch = (1.0, 1.0) if i == 0 else _vary(rng, voices)
            # the phrasings in turn, each voice starting one further on: every voice says several
            jobs.append(SynthJob(phrasings[(v + i) % len(phrasings)], voice, speed, pitch))
            extra.append({"label": 1, "kind": "keyword"})
    n_pos = len(jobs)
    n_neg = int(round(n_pos * cfg.neg_ratio))
    prons = load_pronunciations()  # no homophone of the keyword among its negatives ("night" for "knight")
    alikes = sound_alikes(keyword, cfg.alike_words, seed=voices.seed, prons=prons)
    n_alike = int(n_neg * 0.4) if alikes else 0  # none in the word list ("привет"): ordinary words instead
    n_phrase = int(n_neg * 0.25) if cfg.text else 0
    # a text too short for its share gives fewer phrases: ordinary words make up the rest
    phrases = ordinary_phrases(list(cfg.text), n_phrase, seed=voices.seed, exclude=[keyword], prons=prons,
                               read=read_lines(file_texts)) if n_phrase else []
    n_word = n_neg - n_alike - len(phrases)
    texts = [(w, "sound-alike") for w in (alikes * (n_alike // max(1, len(alikes)) + 1))[:n_alike]]
    texts += [(w, "word") for w in ordinary_words(n_word, seed=voices.seed, exclude=[keyword], prons=prons)]
    texts += [(p, "phrase") for p in phrases]
    pick = VoicePicker(found, rng)
    for text, kind in texts:
        speed, pitch = _vary(rng, voices)
        jobs.append(SynthJob(text, pick(), speed, pitch))
        extra.append({"label": 0, "kind": kind})
    say(f"{len(found)} voice{'s' * (len(found) != 1)} {count}; {n_pos} positive and {len(jobs) - n_pos} negative jobs "
        f"({len(alikes)} distinct sound-alikes: {', '.join(alikes[:12])}, ...)")
    paths = synthesize_many(jobs, out / "audio", workers=voices.workers, desc=f"{keyword}")
    rows = _rows(jobs, paths, out, extra)
    pos = [r for r in rows if r["label"] == 1]
    neg = [r for r in rows if r["label"] == 0]
    _write_manifests(out, {"positives.jsonl": pos, "negatives.jsonl": neg})
    say(summary("positives", pos))
    say(summary("negatives", neg))
    return pos, neg


def _check_size(n_pos: int, cfg: KeywordSet, n_voices: int) -> None:
    """No keyword set over MAX_CLIPS clips: each option is bounded, but their product with the voices installed can
    still plan more jobs than memory holds (all are planned before the first clip is made)."""
    n_neg = int(round(n_pos * cfg.neg_ratio))
    if n_pos + n_neg > MAX_CLIPS:
        raise SpeechseqError(
            f"{n_pos} positives ({n_voices} voice{'s' * (n_voices != 1)} at --variations {cfg.variations}, "
            f"--min-per-engine {cfg.min_per_engine}) and {n_neg} negatives (--neg-ratio {cfg.neg_ratio:g}) are over "
            f"the {MAX_CLIPS} clips a set makes at most: lower them, or choose fewer --engines")


def read_lines(file_texts: Mapping[str, str] | None) -> Callable[[str | os.PathLike], list[str]]:
    """The lines of a text file as files.text_lines reads them, from `file_texts` (files' text already read, by path,
    a byte order mark kept) where it holds the file's: the commands read each file once, as they check it, for a pipe
    (--text <(zcat corpus.gz)) can be read only once."""
    def read(path: str | os.PathLike) -> list[str]:
        if file_texts is not None and str(path) in file_texts:
            return split_lines(file_texts[str(path)])
        return text_lines(path)
    return read


def excluded_texts(manifests: tuple[str, ...] | list[str], splits: tuple[str, ...] | list[str],
                   file_texts: Mapping[str, str] | None = None) -> list[list[str]]:
    """The normalised words of every text of `splits` ("" among them: every row) in the JSONL `manifests`, their keys
    read as every manifest's are (speechseq.train.manifests: "text", "sentence", "transcript", ..., in any case).
    file_texts: as keyword_set's."""
    every = "" in splits
    texts = []
    for path in manifests:
        try:
            lines = (read_lines(file_texts)(path) if file_texts is not None and str(path) in file_texts
                     else split_lines(Path(path).read_text(encoding="utf-8-sig")))
        except OSError as err:
            raise SpeechseqError(f"cannot read exclusion manifest {path}: {err.strerror}") from None
        except UnicodeDecodeError:
            raise SpeechseqError(f"cannot read exclusion manifest {path}: not UTF-8 text") from None
        for n, row in json_objects(lines, path):
            keys = {str(k).lower().strip(): k for k in row}
            text = next((row[keys[k]] for k in TEXT_KEYS if k in keys), None)
            if (not every and row.get(keys.get("split", "")) not in splits) or text in (None, ""):
                continue
            if not isinstance(text, str):
                raise SpeechseqError(f"{path}:{n}: the text is not a string: {text!r}")
            texts.append(normalize(text).split())
    return texts


def _is_excluded(words: list[str], excluded: list[tuple[list[str], set[str]]], threshold: float,
                 contained: float = 0.8) -> bool:
    # Dev prompts as recorded differ from the prompt list by a word or two, so match fuzzily; a line that holds
    # an excluded text of three words or more (`contained` of its words, in order) is a copy of it too.
    ws = set(words)
    for ex, exset in excluded:
        common = len(ws & exset)
        inside = len(ex) >= 3 and common >= contained * len(exset)
        if common / max(1, len(ws | exset)) < 0.4 and not inside:
            continue
        m = difflib.SequenceMatcher(None, words, ex, autojunk=False)
        if m.ratio() >= threshold:
            return True
        if inside and sum(b.size for b in m.get_matching_blocks()) >= contained * len(ex):
            return True
    return False


def is_evaluation_text(text: str, heldout: set[str] | frozenset[str], excluded: list[list[str]],
                       threshold: float = 0.75) -> bool:
    """Whether a training utterance's text is evaluation text: a held-out sentence (`heldout`: normalised
    texts, e.g. of heldout.jsonl) or a (near-)copy of one of `excluded` (normalised words, e.g.
    `excluded_texts([kathleen manifest], ["dev"])`), matched as `load_sentences` matches them."""
    norm = normalize(text)
    return norm in heldout or _is_excluded(norm.split(), [(e, set(e)) for e in excluded], threshold)


def load_sentences(files: tuple[str, ...] | list[str], min_words: int, max_words: int, excluded: list[list[str]],
                   threshold: float = 0.75,
                   read: Callable[[str | os.PathLike], list[str]] = text_lines) -> tuple[list[str], int]:
    """Distinct sayable lines of ``files`` (each read by `read`) with min..max words, minus near-copies of
    ``excluded``. Returns (sentences, how many were dropped as excluded)."""
    ex = [(e, set(e)) for e in excluded]
    seen, keep, dropped = set(), [], 0
    for path in files:
        for line in read(path):
            line = line.strip()
            norm = normalize(line)
            words = norm.split()
            if not (min_words <= len(words) <= max_words) or norm in seen or _UNSAYABLE.search(line):
                continue
            seen.add(norm)
            if _is_excluded(words, ex, threshold):
                dropped += 1
                continue
            keep.append(line)
    return keep, dropped


def _one_side_per_sentence(jobs: list[SynthJob], sentences: list[str], rng: random.Random
                           ) -> tuple[list[SynthJob], int, int]:
    """For --n over the pool (sentences drawn again): the jobs with their sentences drawn anew, those of held-out
    voices from a share of the pool as large as their share of the jobs (at least one sentence, one left for
    training), the others from the rest, so that no training voice says a held-out voice's sentence. Voices, speeds
    and pitches stay. Returns (jobs, sentences for the held-out voices, jobs left out: held-out ones when the pool
    is one sentence)."""
    from .synth import SynthJob, heldout

    held = [heldout(j.voice) for j in jobs]
    n_held = sum(held)
    k = 0 if not n_held else len(sentences) if n_held == len(jobs) else \
        min(len(sentences) - 1, max(1, round(len(sentences) * n_held / len(jobs))))
    pools = {True: rng.sample(sentences, k)}
    taken = set(pools[True])
    pools[False] = [s for s in sentences if s not in taken]
    out = [SynthJob(rng.choice(pools[h]), j.voice, j.speed, j.pitch) for j, h in zip(jobs, held) if pools[h]]
    return out, k, len(jobs) - len(out)


def sentence_set(out: Path, cfg: SentenceSet, voices: VoiceOptions = VoiceOptions(),
                 say: Callable[[str], None] = _say_on_stderr,
                 file_texts: Mapping[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """cfg.n sentences of cfg.text (near-copies of the excluded texts left out) by random voices. Writes
    OUT/train.jsonl and, for the held-out voices, OUT/heldout.jsonl; returns their rows. A sentence of
    heldout.jsonl is in no row of train.jsonl (with cfg.n over the pool, the held-out voices get a share of it).
    file_texts: the text of files of cfg.text and cfg.exclude_manifests already read, by path (read_lines)."""
    from .synth import SynthJob, synthesize_many

    rng = random.Random(voices.seed)
    found = _voices(voices, say)
    excluded = []
    for m in cfg.exclude_manifests:  # one that gives nothing was named in vain: its prompts would all be spoken
        texts = excluded_texts([m], cfg.exclude_splits, file_texts)
        if not texts:
            names = [repr(s) for s in dict.fromkeys(cfg.exclude_splits)]
            which = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
            raise SpeechseqError(f"exclusion manifest {m}: no row of split {which}, so nothing of it would be "
                                 "excluded: name its splits (--exclude-split; '' for every row)")
        excluded += texts
    sentences, dropped = load_sentences(cfg.text, cfg.min_words, cfg.max_words, excluded, read=read_lines(file_texts))
    if not sentences:
        raise SpeechseqError(f"no usable sentences of {cfg.min_words}-{cfg.max_words} words in "
                             f"{', '.join(cfg.text)}")
    say(f"{len(sentences)} usable sentence{'s' * (len(sentences) != 1)}; {dropped} dropped as near-copies of "
        f"{len(excluded)} excluded prompt{'s' * (len(excluded) != 1)}")
    chosen = rng.sample(sentences, cfg.n) if cfg.n <= len(sentences) else \
        [rng.choice(sentences) for _ in range(cfg.n)]
    pick = VoicePicker(found, rng)
    jobs = []
    for text in chosen:
        speed, pitch = _vary(rng, voices)
        jobs.append(SynthJob(text, pick(), speed, pitch))
    if cfg.n > len(sentences):  # sentences said again: none by a training voice and a held-out voice both
        jobs, k, left_out = _one_side_per_sentence(jobs, sentences, rng)
        say(f"--n {cfg.n} over {len(sentences)} sentence{'s' * (len(sentences) != 1)}: {k} of them for the held-out "
            f"voices only, the rest for the training voices"
            + (f" ({left_out} utterance{'s' * (left_out != 1)} of held-out voices left out)" if left_out else ""))
    paths = synthesize_many(jobs, out / "audio", workers=voices.workers, desc="sentences")
    rows = _rows(jobs, paths, out, [{}] * len(jobs))
    train = [r for r in rows if not r["heldout"]]
    held = [r for r in rows if r["heldout"]]
    _write_manifests(out, {"train.jsonl": train, "heldout.jsonl": held})
    say(summary("train", train))
    say(summary("heldout", held))
    return train, held
