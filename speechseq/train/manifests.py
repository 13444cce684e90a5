"""Read the speech manifests people already have into one list of `Utterance`s.

Formats: JSONL (NeMo style, the format of ../shared/data/*/manifest.jsonl), CSV/TSV with a
header, a LibriSpeech tree, a Common Voice .tsv, Speech Commands folders and a Kaldi data dir.
`load_manifest(path)` detects which. Every returned path is absolute and has been checked to
exist; durations the format lacks are read from the file header with `soundfile.info`.
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf

from speechseq.errors import SpeechseqError
from speechseq.files import split_lines
from speechseq.splits import EVAL_SPLITS  # the evaluation splits, never trained on (named there for the commands' help)

__all__ = ["Utterance", "EVAL_SPLITS", "FORMATS", "name_pct", "detect_format", "load_manifest", "load_jsonl", "load_csv",
           "load_librispeech", "load_commonvoice", "load_speech_commands", "load_kaldi",
           "SkippedRow"]


@dataclass(frozen=True)
class Utterance:
    """One training or evaluation example.

    audio: absolute path of the audio file.  text: transcript as written (not normalised).
    duration: seconds of speech this utterance covers (the segment's length when `offset` is set).
    offset, end: the segment [offset, end) in seconds within `audio`; None = the whole file.
    source: where it came from (dataset name), for mixing and reporting.
    split: the split named by the manifest (train/dev/test/validation...), when it names one.
    extra: other manifest fields as sorted (key, value) pairs, e.g. (("kind", "wake-word"),).
    """

    audio: str
    text: str
    duration: float
    speaker: str | None = None
    offset: float | None = None
    end: float | None = None
    source: str = ""
    split: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def get(self, key: str, default: Any = None) -> Any:
        """The value of an extra manifest field, or `default`."""
        return dict(self.extra).get(key, default)


PATH_KEYS = ("audio_filepath", "path", "audio", "file", "wav", "filename", "wav_filename",
             "audio_path", "filepath")
TEXT_KEYS = ("text", "transcript", "sentence", "transcription", "normalized_text")
SPEAKER_KEYS = ("speaker", "speaker_id", "client_id", "spk")
DELIMITERS = {"\t": "a tab", ",": "a comma", ";": "a semicolon"}  # as a message says them
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au")  # a path in a header line


class SkippedRow(UserWarning):
    """A manifest row left out (skip_missing); `kept`: how many utterances its loader had read before it (the rows
    that `speechseq eval recognizer --limit N` covers are those before its N-th utterance)."""

    def __init__(self, message: str, kept: int) -> None:
        super().__init__(message)
        self.kept = kept


@dataclass(frozen=True)
class _Reader:
    """Shared checks: resolve a path, report where a bad entry is, skip or fail when missing. `out`: the loader's
    utterances, in order (a SkippedRow counts those before it)."""

    skip_missing: bool
    out: list[Utterance] = field(default_factory=list)

    def audio(self, raw: str, base: Path, where: str) -> str | None:
        """Absolute path of `raw` (relative to `base`), or None when missing and skipping."""
        if not raw.strip():  # an empty cell, or a line cut short
            self.skip(f"{where}: no audio path", stacklevel=4)
            return None
        path = Path(os.path.expanduser(raw))
        path = path if path.is_absolute() else base / path
        if path.is_file():
            return str(path.resolve())
        self.missing(path, where)
        return None

    def missing(self, path: Path, where: str) -> None:
        # a folder named as a row's audio was said to be "not found", though it is there
        why = f"{path} is a directory, not an audio file" if path.is_dir() else f"audio file not found: {path}"
        self.skip(f"{where}: {why}", stacklevel=5)

    def skip(self, why: str, stacklevel: int = 3) -> None:
        """A row with no audio to read (`why` names it, where first): an error, or reported and left out when
        skipping (the warning said at `stacklevel`, the loader's caller's line)."""
        if not self.skip_missing:
            raise SpeechseqError(why)
        warnings.warn(SkippedRow(f"{why} (skipped)", len(self.out)), stacklevel=stacklevel)

    def duration(self, audio: str, where: str) -> float | None:
        """Seconds of `audio` from its header (counted where the header gives no length: a FLAC encoded to a pipe,
        which libsndfile says is 2**63 - 1 frames long); None (reported) when it cannot be read and skipping."""
        from ..audio import audio_info

        try:
            return float(audio_info(audio).duration)
        except (RuntimeError, sf.LibsndfileError, SpeechseqError) as e:  # LibsndfileError: soundfile >= 0.11
            msg = f"{where}: cannot read audio header of {audio}: {e}"
            if not self.skip_missing:
                raise SpeechseqError(msg) from e
            warnings.warn(SkippedRow(f"{msg} (skipped)", len(self.out)), stacklevel=3)
            return None


def name_pct(path: str | Path) -> int:
    """A stable 0-99 bucket from a file's base name (SHA-1), for splitting a manifest by file
    without a random seed: the detector recipes split held-out clips with it."""
    return int(hashlib.sha1(Path(path).name.encode()).hexdigest()[:8], 16) % 100


def _splits(split: str | Iterable[str] | None) -> frozenset[str] | None:
    return None if split is None else frozenset([split] if isinstance(split, str) else split)


def _source(path: Path) -> str:
    """Default source tag: the dataset folder for `manifest.*`, else the file or folder name."""
    return path.parent.name if path.stem == "manifest" else path.stem if path.is_file() else path.name


def _number(value: Any, where: str, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):  # NaN would pass every later check and vanish from the batches
        raise SpeechseqError(f"{where}: {what} is not a number: {value!r}")
    return number


def load_jsonl(path: str | Path, *, split: str | Iterable[str] | None = None,
               skip_missing: bool = False, source: str | None = None) -> list[Utterance]:
    """One JSON object a line: `audio_filepath` (relative to the manifest or absolute), `text`,
    optional `duration`, `offset` (NeMo segments: [offset, offset + duration)), `speaker`,
    `split`; other keys go to `Utterance.extra`. `split` keeps only lines whose split matches."""
    path = Path(path).resolve()
    reader, want, tag = _Reader(skip_missing), _splits(split), source or _source(path)
    out = reader.out
    with open(path, encoding="utf-8-sig") as f:  # -sig: a byte order mark is not part of the first line
        for lineno, rec in json_objects(f, path):
            out.extend(_record(rec, path.parent, f"{path}:{lineno}", reader, want, tag))
    return out


def json_objects(lines: Iterable[str], path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each line of a JSONL file that is not blank; SpeechseqError "PATH:LINE: not a JSON
    object" for a line that is something else. `lines` are the file's, decoded as the caller reads it."""
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            rec = None
        if not isinstance(rec, dict):
            raise SpeechseqError(f"{path}:{lineno}: not a JSON object: {line.strip()[:80]}")
        yield lineno, rec


def _record(rec: dict[str, Any], base: Path, where: str, reader: _Reader,
            want: frozenset[str] | None, tag: str) -> list[Utterance]:
    """The Utterance of one manifest record (JSONL object or CSV row), [] when filtered out."""
    keys = {k.lower().strip(): k for k in rec}
    # no such field: None (a default of "" named a CSV column of no name, pandas' index: read as the offset)
    rec_split = rec[keys["split"]] if "split" in keys else None
    if want is not None and rec_split not in want:
        return []
    path_key = next((keys[k] for k in PATH_KEYS if k in keys), None)
    text_key = next((keys[k] for k in TEXT_KEYS if k in keys), None)
    if path_key is None or text_key is None:
        raise SpeechseqError(f"{where}: needs an audio path ({', '.join(PATH_KEYS[:5])}) "
                             f"and a text ({', '.join(TEXT_KEYS[:3])}); found {sorted(rec)}")
    audio = reader.audio(str(rec[path_key]), base, where)
    if audio is None:
        return []
    dur_key, spk_key = keys.get("duration"), next((keys[k] for k in SPEAKER_KEYS if k in keys), None)
    offset = rec[keys["offset"]] if "offset" in keys else None
    has_dur = dur_key is not None and rec[dur_key] not in (None, "")
    duration = _number(rec[dur_key], where, "duration") if has_dur else reader.duration(audio, where)
    if duration is None:
        return []
    offset_s = None if offset in (None, "") else _number(offset, where, "offset")
    if offset_s is not None:  # a segment: before its file, or of no length, was other audio (negative indexes)
        _segment_ok(offset_s, duration if has_dur else None, rec, keys, where)
        if not has_dur:
            duration -= offset_s
    used = {path_key, text_key, dur_key, spk_key, keys.get("split"), keys.get("offset")}
    speaker = rec.get(spk_key) if spk_key else None
    return [Utterance(
        audio=audio, text=str(rec[text_key] or ""), duration=duration,
        speaker=None if speaker in (None, "") else str(speaker),
        offset=offset_s, end=None if offset_s is None else offset_s + duration, source=tag,
        split=None if rec_split in (None, "") else str(rec_split),
        extra=tuple(sorted((k, v) for k, v in rec.items() if k not in used)))]


def _segment_ok(offset: float, duration: float | None, rec: dict[str, Any], keys: dict[str, str], where: str) -> None:
    """A row's segment [offset, offset + duration) lies in its file: offset >= 0, duration (when given) > 0; else one
    error naming the row, as `train detector` says it (the slice audio[offset:end] read a negative one from the file's
    end: an offset of -3 s was its last 3 s, a duration of -1 s all of it but its last second)."""
    for key, ok, rule in (("offset", offset >= 0, ">= 0"), ("duration", duration is None or duration > 0, "> 0")):
        if not ok:
            raise SpeechseqError(f"{where}: {key} {rec[keys[key]]!r}: not a number of seconds {rule} (a segment of "
                                 f"the file: [offset, offset + duration), to its end without a duration)")


def load_csv(path: str | Path, *, split: str | Iterable[str] | None = None,
             skip_missing: bool = False, source: str | None = None,
             delimiter: str | None = None) -> list[Utterance]:
    """A CSV (or TSV: tab-separated by extension or by sniffing) whose header names the audio
    path (path, audio, audio_filepath, file, wav, ...) and text (text, transcript, sentence),
    optionally duration, speaker, split; header names are case-insensitive. Paths are
    relative to the file."""
    path = Path(path).resolve()
    reader, want, tag = _Reader(skip_missing), _splits(split), source or _source(path)
    with open(path, encoding="utf-8-sig", newline="") as f:  # -sig: Excel's "CSV UTF-8" starts with a BOM
        if delimiter is None:
            head = f.readline()
            delimiter = "\t" if path.suffix.lower() == ".tsv" or "\t" in head else (
                ";" if head.count(";") > head.count(",") else ",")
            f.seek(0)
        out, rows = reader.out, csv.reader(f, delimiter=delimiter)
        header, lineno = next(rows, []), rows.line_num + 1  # lineno: where the next row starts
        _headed(header, path, delimiter)
        for cells in rows:
            first, lineno = lineno, rows.line_num + 1
            if first != rows.line_num:  # transcripts have no line breaks: an unmatched quote read on
                raise SpeechseqError(f"{path}:{first}: a cell runs over lines {first}-{rows.line_num} "
                                     "(an unmatched quote?)")
            if not any(c.strip() for c in cells):
                continue
            if any(c.strip() for c in cells[len(header):]):  # an unquoted comma in a transcript: the rest was lost
                raise SpeechseqError(_overfull(f"{path}:{first}", len(cells), len(header), delimiter))
            row = dict(zip(header, cells + [None] * (len(header) - len(cells))))  # empty cells past the header: dropped
            out.extend(_record(row, path.parent, f"{path}:{first}", reader, want, tag))
    return out


def _overfull(where: str, cells: int, named: int, delimiter: str, quoted: bool = True) -> str:
    """Why a row of more cells than its header is refused: its text cut at a delimiter inside it, the rest dropped."""
    said = DELIMITERS.get(delimiter, repr(delimiter))
    fix = "quote that cell" if quoted else f"take the {said.split()[-1]} out of it"  # Common Voice's .tsv: no quoting
    return f"{where}: {cells} cells where the header names {named} ({said} inside a text? {fix}): its text would be " \
           "cut short"


def _headed(header: list[str], path: Path, delimiter: str) -> None:
    """An error when the first line of a CSV/TSV is a row of data (no column name known, a cell naming an audio file),
    not the header every other check would misread it as."""
    if {c.strip().lower() for c in header} & {*PATH_KEYS, *TEXT_KEYS}:
        return
    clip = next((c.strip() for c in header if Path(c.strip()).suffix.lower() in AUDIO_SUFFIXES), None)
    if clip is not None:
        said = DELIMITERS.get(delimiter, repr(delimiter))
        raise SpeechseqError(f"{path}:1: no header line: its first line names a clip ({clip}) where the column names "
                             f"go; add a first line naming the columns (path and text, separated by {said} as the "
                             "rows are)")


def load_librispeech(root: str | Path, *, split: str | Iterable[str] | None = None, skip_missing: bool = False,
                     source: str | None = None) -> list[Utterance]:
    """Every `<speaker>/<chapter>/<speaker>-<chapter>.trans.txt` under `root` (a subset such as
    train-clean-100, the LibriSpeech folder holding several, or one speaker's or chapter's folder); each line `ID TEXT` names
    `ID.flac` beside it. Speaker = the first part of the ID. The split is the subset's kind, from its
    folder's name: train-clean-100 -> train, dev-other -> dev, test-clean -> test (None for other
    names); `split` keeps those."""
    root, want = Path(root).resolve(), _splits(split)
    reader, tag = _Reader(skip_missing), source or root.name
    out = reader.out
    for trans in sorted(root.rglob("*.trans.txt")):
        kind = trans.parents[min(2, len(trans.parents) - 1)].name.split("-")[0]  # <subset>/<spk>/<chapter>/x.trans.txt
        kind = kind if kind in ("train", "dev", "test") else None
        if want is not None and kind not in want:
            continue
        for lineno, line in enumerate(split_lines(trans.read_text(encoding="utf-8")), 1):  # a BOM dropped
            if not line.strip():
                continue
            uid, text = (line.split(maxsplit=1) + [""])[:2]
            where = f"{trans}:{lineno}"
            audio = reader.audio(f"{uid}.flac", trans.parent, where)
            if audio is None:
                continue
            duration = reader.duration(audio, where)
            if duration is not None:
                out.append(Utterance(audio, text.strip(), duration, speaker=uid.split("-")[0], source=tag,
                                     split=kind))
    return out


def load_commonvoice(path: str | Path, *, split: str | Iterable[str] | None = None, skip_missing: bool = False,
                     source: str | None = None) -> list[Utterance]:
    """A Common Voice split file (`train.tsv`, `dev.tsv`, `validated.tsv`, ...: columns
    client_id, path, sentence) with its clips in the sibling `clips/` folder; or the release
    folder with `split` naming the .tsv (or several .tsv, read in turn). Durations come from
    `clip_durations.tsv` when present (newer releases), else from the clip headers. Speaker = client_id."""
    path = Path(path).resolve()
    if split is not None and not isinstance(split, str):
        names = list(dict.fromkeys(split))
        if path.is_file():
            names = [path.stem] if path.stem in names else names[:1]  # the file's split, or the error below
        return [u for name in names
                for u in load_commonvoice(path, split=name, skip_missing=skip_missing, source=source)]
    if path.is_file() and split is not None and split != path.stem:
        raise SpeechseqError(f"{path}: split={split!r} asked for, but this file is {path.stem!r}")
    if path.is_dir():
        if split is None:
            names = sorted(p.stem for p in path.glob("*.tsv") if p.stem != "clip_durations")
            raise SpeechseqError(f"{path}: a Common Voice folder holds a .tsv for each split ({', '.join(names)}): "
                                 "name one (--split), or its .tsv")
        path = path / f"{split}.tsv"
        if not path.is_file():
            raise SpeechseqError(f"Common Voice split file not found: {path}")
    reader, tag = _Reader(skip_missing), source or f"{path.parent.name}/{path.stem}"
    known: dict[str, float] = {}
    durations = path.parent / "clip_durations.tsv"
    if durations.is_file():
        with open(durations, encoding="utf-8", newline="") as f:
            for row in csv.reader(f, delimiter="\t"):
                if len(row) >= 2 and row[1].strip().isdigit():
                    known[row[0]] = int(row[1]) / 1000.0  # the file gives milliseconds
    out = reader.out
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if not {"path", "sentence"} <= set(rows.fieldnames or ()):
            raise SpeechseqError(f"{path}: not a Common Voice .tsv (needs columns path, sentence)")
        for row in rows:
            where = f"{path}:{rows.line_num}"  # the row's line: blank lines are passed over, not counted
            if None in row:  # a tab inside the sentence: the rest was read as the next columns (empty or not)
                raise SpeechseqError(_overfull(where, len(rows.fieldnames) + len(row[None]), len(rows.fieldnames),
                                               "\t", quoted=False))
            name, clips = row["path"] or "", path.parent / "clips"
            if name and not Path(name).suffix and not (clips / name).is_file():
                name += ".mp3"  # the first releases (2019) name each clip without its extension
            audio = reader.audio(name, clips, where)  # None: a line cut short
            if audio is None:
                continue
            duration = known.get(name) or reader.duration(audio, where)
            if duration is None:
                continue
            out.append(Utterance(audio, row["sentence"] or "", duration,
                                 speaker=row.get("client_id") or None, source=tag,
                                 split=path.stem))
    return out


SPEECH_COMMANDS_SPLITS = ("train", "validation", "test")


def load_speech_commands(root: str | Path, *, split: str | Iterable[str] | None = None,
                         skip_missing: bool = False, source: str | None = None) -> list[Utterance]:
    """Speech Commands: one folder per word of .wav clips (text = the folder name; folders
    starting with `_`, such as `_background_noise_`, are not words). `split` is train /
    validation / test, read from validation_list.txt and testing_list.txt (train = the rest).
    Speaker = the file name before `_nohash_`."""
    root = Path(root).resolve()
    want, tag = _splits(split), source or root.name
    if want is not None and not want <= set(SPEECH_COMMANDS_SPLITS):
        raise SpeechseqError(f"Speech Commands splits are {SPEECH_COMMANDS_SPLITS}, not {split!r}")
    listed: dict[str, str] = {}
    for name, file in (("validation", "validation_list.txt"), ("test", "testing_list.txt")):
        if (root / file).is_file():
            for line in (root / file).read_text(encoding="utf-8").split():
                listed[line.strip()] = name
        elif want is not None and name in want:
            raise SpeechseqError(f"split {name!r} asked for but {root / file} does not exist")
    reader = _Reader(skip_missing)
    out = reader.out
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        for wav in sorted(folder.glob("*.wav")):
            rel = f"{folder.name}/{wav.name}"
            which = listed.get(rel, "train")
            duration = reader.duration(str(wav), str(wav)) if want is None or which in want else None
            if duration is not None:
                out.append(Utterance(str(wav), folder.name, duration, speaker=wav.stem.split("_nohash_")[0],
                                     source=tag, split=which if listed else None))
    return out


def _kaldi_table(path: Path) -> dict[str, tuple[str, int]]:
    """`key rest-of-line` lines -> {key: (rest, line number)}; a key listed twice is an error naming both lines (the
    last one won: an utterance lost, or its audio swapped; Kaldi's utils/validate_data_dir.sh refuses it too)."""
    table: dict[str, tuple[str, int]] = {}
    # -sig: a byte order mark (a Windows editor's "UTF-8 with BOM") is not part of the first key
    # split_lines, not str.splitlines: \x85 or \u2028 inside a line end no line
    for lineno, line in enumerate(split_lines(path.read_text(encoding="utf-8-sig")), 1):
        if line.strip():
            key, rest = (line.split(maxsplit=1) + [""])[:2]
            if key in table:
                raise SpeechseqError(f"{path}:{lineno}: {key} is listed again (first at {path}:{table[key][1]}): "
                                     "each key takes one line")
            table[key] = (rest.strip(), lineno)
    return table


def load_kaldi(data_dir: str | Path, *, skip_missing: bool = False,
               source: str | None = None) -> list[Utterance]:
    """A Kaldi data dir: `wav.scp` (plain paths only; pipes and archive offsets are refused) and
    `text`, optional `segments` (utt rec start end, end -1 = to the end), `utt2spk`, `utt2dur`. Relative paths
    are tried against the working directory, the data dir and the recipe root (its
    grandparent: Kaldi recipes run from the folder holding data/)."""
    d = Path(data_dir).resolve()
    for need in ("wav.scp", "text"):
        if not (d / need).is_file():
            raise SpeechseqError(f"{d}: not a Kaldi data dir ({need} is missing)")
    reader, tag = _Reader(skip_missing), source or d.name
    recordings: dict[str, str | None] = {}
    unfound: dict[str, tuple[Path, str]] = {}  # skipping: reported at the first utterance of each (SkippedRow.kept)
    for rec, (value, lineno) in _kaldi_table(d / "wav.scp").items():
        where = f"{d / 'wav.scp'}:{lineno}"
        ark = value.rpartition(":")  # "wav.ark:OFFSET": a recording inside a Kaldi archive (ark,scp: writers)
        if value.endswith("|") or value.startswith(("ark:", "scp:")) or " " in value or \
                (ark[2].isdigit() and (ark[0].endswith(".ark") or Path(ark[0]).is_file())):
            raise SpeechseqError(f"{where}: only plain file paths are supported, not {value!r}; "
                                 "write each recording to a .wav file first (e.g. wav-copy scp:wav.scp scp:out.scp, "
                                 "out.scp naming the file of each key) and list those")
        raw = Path(value)
        tries = [raw] if raw.is_absolute() else [Path.cwd() / raw, d / raw, d.parent.parent / raw]
        found = next((p for p in tries if p.is_file()), None)
        recordings[rec] = str(found.resolve()) if found else None
        if found is None and not skip_missing:
            reader.missing(tries[-1], where)
        elif found is None:
            unfound[rec] = (tries[-1], where)
    spk = {k: v for k, (v, _) in _kaldi_table(d / "utt2spk").items()} if (d / "utt2spk").is_file() else {}
    segs = _kaldi_table(d / "segments") if (d / "segments").is_file() else None
    u2d = _kaldi_table(d / "utt2dur") if (d / "utt2dur").is_file() else {}
    out, whole = reader.out, {}
    for utt, (text, lineno) in _kaldi_table(d / "text").items():
        where = f"{d / 'text'}:{lineno}"
        offset = end = None
        if segs is not None:
            if utt not in segs:  # skipping: left out, as an utterance whose recording is missing
                reader.skip(f"{where}: utterance {utt} has no line in {d / 'segments'}")
                continue
            fields, seg_where = segs[utt][0].split(), f"{d / 'segments'}:{segs[utt][1]}"
            if len(fields) != 3:
                raise SpeechseqError(f"{seg_where}: expected 'utterance recording start end'")
            rec, offset, end = fields[0], _number(fields[1], seg_where, "start"), \
                _number(fields[2], seg_where, "end")
            if offset < 0:  # read from the recording's end (a negative index), as a JSONL row's (_segment_ok)
                raise SpeechseqError(f"{seg_where}: the segment starts at {offset:g} s, before the recording")
        else:
            rec = utt
        if rec not in recordings:
            reader.skip(f"{where}: recording {rec} is not in {d / 'wav.scp'}")
            continue
        audio = recordings[rec]
        if audio is None:
            if rec in unfound:  # once, after the utterances read before it
                reader.missing(*unfound.pop(rec))
            continue
        if segs is None:
            duration = _number(u2d[utt][0], f"{d / 'utt2dur'}:{u2d[utt][1]}", "duration") \
                if utt in u2d else reader.duration(audio, where)
        else:
            if end < 0:  # Kaldi: -1 = to the end of the recording
                if audio not in whole:
                    whole[audio] = reader.duration(audio, where)
                end = whole[audio]
            duration = None if end is None else end - offset
            if duration is not None and duration <= 0:
                raise SpeechseqError(f"{seg_where}: the segment ends at {end:g} s, not after its start at {offset:g} s"
                                     + (" (-1: the recording's end)" if fields[2].startswith("-") else ""))
        if duration is None:
            continue  # reported by reader.duration
        out.append(Utterance(audio, text, duration, speaker=spk.get(utt), offset=offset,
                             end=end, source=tag))
    for missing in unfound.values():  # recordings no utterance names
        reader.missing(*missing)
    return out


FORMATS: dict[str, Callable[..., list[Utterance]]] = {
    "jsonl": load_jsonl, "csv": load_csv, "librispeech": load_librispeech,
    "commonvoice": load_commonvoice, "speech_commands": load_speech_commands, "kaldi": load_kaldi}


def detect_format(path: str | Path) -> str:
    """The name (a key of FORMATS) of the manifest format at `path`, a file or a folder."""
    p = Path(path)
    if p.is_dir():
        if (p / "wav.scp").is_file():
            return "kaldi"
        if (p / "manifest.jsonl").is_file():
            return "jsonl"
        if (p / "clips").is_dir() and any(p.glob("*.tsv")):
            return "commonvoice"
        if (p / "validation_list.txt").is_file() or (p / "_background_noise_").is_dir():
            return "speech_commands"
        if any(next(p.glob(pattern), None) for pattern in ("*/*/*.trans.txt", "*/*/*/*.trans.txt", "*.trans.txt",
                                                           "*/*.trans.txt")):  # a subset, a speaker, a chapter
            return "librispeech"
        if next(p.glob("*/*.wav"), None) is not None:
            return "speech_commands"
        raise SpeechseqError(f"{p}: cannot tell the manifest format of this folder: a folder is read as a "
                             "LibriSpeech tree (SPEAKER/CHAPTER/*.trans.txt), a Common Voice folder (clips/ beside "
                             "its .tsv files), Speech Commands (a folder of .wav files for each word) or a Kaldi data "
                             "dir (wav.scp and text), or one holding a manifest.jsonl; else name a manifest file (.jsonl, "
                             ".csv, .tsv)")
    if not p.is_file():
        raise SpeechseqError(_not_read(p))
    if p.name == "wav.scp":
        return "kaldi"
    with open(p, encoding="utf-8-sig", errors="replace") as f:
        head = next((line for line in f if line.strip()), "")
    if p.suffix.lower() in (".jsonl", ".json") or head.lstrip().startswith("{"):
        return "jsonl"
    columns = {c.strip().lower() for c in head.split("\t")}
    return "commonvoice" if {"client_id", "path", "sentence"} <= columns else "csv"


def _not_read(p: Path) -> str:
    """Why `p`, neither a file nor a folder, is read as no manifest: '-' and a device or pipe (/dev/null, a shell's
    <(...)) were said to be "not found", though they are there (a manifest is read more than once, and its audio found
    beside it)."""
    if str(p) == "-" and not os.path.lexists(p):
        return "-: a manifest is not read from standard input; save it to a file and name that"
    if p.exists():
        return f"{p}: not a file or a folder (a device or a pipe): save the manifest to a file and name that"
    return f"manifest not found: {p}"


def load_manifest(path: str | Path, format: str = "auto", *,
                  split: str | Iterable[str] | None = None, skip_missing: bool = False,
                  source: str | None = None) -> list[Utterance]:
    """Utterances of the manifest at `path` in `format` (a key of FORMATS, or "auto").

    split: keep one split (or several); only for formats that name splits (jsonl, csv,
    commonvoice, speech_commands, librispeech). skip_missing: warn and skip missing audio files (and files whose
    header cannot be read, and a Kaldi utterance whose recording or segment is not listed) instead of raising
    SpeechseqError."""
    fmt = detect_format(path) if format == "auto" else format
    if fmt not in FORMATS:
        raise SpeechseqError(f"unknown manifest format {fmt!r} (known: {', '.join(FORMATS)})")
    p = Path(path)
    if not (p.is_file() or p.is_dir()):
        raise SpeechseqError(_not_read(p))
    if fmt == "kaldi" and p.name == "wav.scp" or fmt == "jsonl" and p.is_dir():
        p = p.parent if fmt == "kaldi" else p / "manifest.jsonl"
    kwargs: dict[str, Any] = {"skip_missing": skip_missing, "source": source}
    if split is not None:
        if fmt == "kaldi":
            raise SpeechseqError(f"a {fmt} manifest has no splits: point at the split's folder")
        kwargs["split"] = split
    try:
        return FORMATS[fmt](p, **kwargs)
    except UnicodeDecodeError as err:
        raise SpeechseqError(f"{_undecodable_line(p)}: not UTF-8 text ({err.reason})") from None
    except OSError as err:  # a folder where a file was expected, a file not allowed to read, ...
        raise SpeechseqError(f"{err.filename or p}: cannot read the manifest ({err.strerror or err})") from None


def _undecodable_line(p: Path) -> str:
    """"PATH:LINE" of the first line that is not UTF-8 in the manifest file `p`, or in the text files of the
    manifest folder `p` (a Kaldi data dir's tables, Common Voice's .tsv, LibriSpeech's transcripts, Speech Commands'
    lists); `p` itself when every line decodes alone."""
    tables = ("wav.scp", "text", "segments", "utt2spk", "utt2dur", "validation_list.txt", "testing_list.txt")
    files = [p] if p.is_file() else [p / name for name in tables] + sorted(p.glob("*.tsv")) + \
        sorted(p.rglob("*.trans.txt"))
    for file in (f for f in files if f.is_file()):
        with open(file, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return f"{file}:{lineno}"
    return str(p)
