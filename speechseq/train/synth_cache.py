"""The synthesis disk cache and its parallel runner: ``synthesize_many(jobs, cache_dir)`` makes each job's audio
once (16-bit 16 kHz WAV named by a hash of the job, `job_path`), in worker processes, and keeps
``cache_dir/manifest.jsonl``. A run stopped at any moment (Ctrl+C, SIGTERM, kill -9) leaves whole files only, and
the next run mends the manifest and goes on where it stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import soundfile as sf

from . import synth
from .pools import job_pool
from .synth import _CACHE_VERSION, SAMPLE_RATE, SynthJob, heldout

__all__ = ["job_path", "synthesize_many"]


def _as_job(job: SynthJob | tuple) -> SynthJob:
    return job if isinstance(job, SynthJob) else SynthJob(*job)


def job_path(job: SynthJob | tuple, cache_dir: str | os.PathLike) -> Path:
    """Where ``synthesize_many`` keeps a job's audio: ``cache_dir/<hash of the job and its engine's version>.wav``."""
    job = _as_job(job)
    # the engine's version too (its programs' and its voice packages'; sox's where sox makes part of the clip): after
    # an upgrade of the engine or of a voice, the clips the old one made are made again
    key = json.dumps([_CACHE_VERSION, job.text, job.voice.engine, job.voice.name, round(job.speed, 3),
                      round(job.pitch, 3), synth.job_identity(job.voice.engine, job.speed, job.pitch)])
    return Path(cache_dir) / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.wav"


def _work(args: tuple[int, SynthJob, Path]) -> tuple[int, float | None, str | None]:
    index, job, path = args
    try:
        audio = synth.synthesize(job.text, job.voice, job.speed, job.pitch)  # looked up: tests replace it
    except Exception as err:  # noqa: BLE001 - one bad job must not stop the others; it is reported
        return index, None, f"{type(err).__name__}: {err}"
    # Written beside the clip under a name no "*.wav" reader takes, then renamed: a clip is whole or absent.
    part = path.with_name(f"{path.name}.part{os.getpid()}")
    try:
        sf.write(part, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return index, len(audio) / SAMPLE_RATE, None


def _worker_init() -> None:
    # Ctrl+C reaches the whole process group: the main process alone stops the pool (terminate), so that no
    # worker dies holding a job. terminate()'s SIGTERM ends a worker quietly, its engine process and temporary
    # files cleaned up on the way out.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tidy(cache: Path, manifest: Path) -> set[str]:
    """The files the manifest lists, after what an interrupted run can leave is mended: part files of writers
    that are gone are removed, and rows cut short, repeated, or whose file is gone are dropped (the manifest
    rewritten without them). Returns the names of the files listed."""
    for part in cache.glob("*.part*"):
        m = re.search(r"\.part(\d+)", part.name)
        if m and not _alive(int(m.group(1))):
            part.unlink(missing_ok=True)
    if not manifest.exists():
        return set()
    keep: dict[str, str] = {}
    lines = manifest.read_text().splitlines()
    for line in lines:
        try:
            name = json.loads(line)["audio_filepath"]
        except (ValueError, KeyError, TypeError):
            continue
        if name not in keep and (cache / name).is_file():
            keep[name] = line
    if len(keep) != len(lines):
        tmp = manifest.with_name(f"{manifest.name}.part{os.getpid()}")
        tmp.write_text("".join(line + "\n" for line in keep.values()))
        os.replace(tmp, manifest)
    return set(keep)


def _manifest_row(job: SynthJob, path: Path, cache_dir: Path, duration: float) -> dict:
    return {"audio_filepath": path.relative_to(cache_dir).as_posix(), "duration": round(duration, 3),
            "text": job.text, "voice": job.voice.name, "engine": job.voice.engine,
            "speed": round(job.speed, 3), "pitch": round(job.pitch, 3), "heldout": heldout(job.voice)}


def synthesize_many(jobs: Sequence[SynthJob | tuple], cache_dir: str | os.PathLike, workers: int = 2,
                    desc: str = "synthesizing", progress: bool | None = None) -> list[Path | None]:
    """Make every job's audio in ``cache_dir`` (16-bit 16 kHz WAV), skipping files already there.

    jobs: SynthJob or (text, voice, speed, pitch) tuples. Returns one entry per job, in order: its
    file, or None when the job failed (the failure is said on stderr and the other jobs go on).
    ``cache_dir/manifest.jsonl`` gets a row for every file made or found that it lacks. progress: a bar on
    stderr (None: where stderr is a terminal; in a log file every redraw stayed).
    """
    from tqdm import tqdm

    from ..commands.common import draws_bars

    if progress is None:
        progress = draws_bars()

    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    jobs = [_as_job(j) for j in jobs]
    paths = [job_path(j, cache) for j in jobs]
    manifest = cache / "manifest.jsonl"
    listed = _tidy(cache, manifest)
    result: list[Path | None] = [None] * len(jobs)
    todo, seen = [], set()
    with open(manifest, "a") as out:
        for i, (job, path) in enumerate(zip(jobs, paths)):
            if path.exists():
                result[i] = path
                if path.name not in listed:
                    out.write(json.dumps(_manifest_row(job, path, cache, sf.info(path).duration)) + "\n")
                    listed.add(path.name)
            elif path not in seen:
                seen.add(path)
                todo.append((i, job, path))
        out.flush()
        found = sum(r is not None for r in result)
        if found:
            tqdm.write(f"{found} of {len(jobs)} clips already in {cache} (made before with the same text, voice, "
                       f"speed, pitch and engine version): kept; making {len(todo)}", file=sys.stderr)
        failures = 0
        with job_pool(max(1, workers), len(todo), _worker_init) as pool:
            done = pool.imap_unordered(_work, todo, chunksize=4) if pool else map(_work, todo)
            for index, duration, error in tqdm(done, total=len(todo), desc=desc, unit="utt", dynamic_ncols=True,
                                               file=sys.stderr, disable=not progress):
                if error is not None:
                    failures += 1
                    tqdm.write(f"skipped job {index} ({jobs[index].voice.id}, {jobs[index].text[:40]!r}): {error}",
                               file=sys.stderr)
                    continue
                result[index] = paths[index]
                out.write(json.dumps(_manifest_row(jobs[index], paths[index], cache, duration)) + "\n")
                out.flush()
    # Duplicate jobs share one file.
    for i, path in enumerate(paths):
        if result[i] is None and path.exists():
            result[i] = path
    if failures:
        tqdm.write(f"{failures} of {len(todo)} jobs failed", file=sys.stderr)
    return result
