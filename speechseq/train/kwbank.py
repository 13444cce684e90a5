"""A compact bank of keyword-training log-mel features (detectors): built once from audio, mixed many times.

Every clip goes through the runtime frontend (`speechseq.frontend.logmel`) once; training then
mixes features in the power domain (`speechseq.train.kwmix`), on CPU or GPU, without audio.
Features are stored as uint8 (log value = LO + STEP * q, STEP = 0.1 nepers = 0.43 dB): a
10-s mix of 40 bands is 40 kB, so hours of material fit in a few tens of MB.

Roles: "pos" / "neg" (keyword / other speech clips, synthetic ones given a random room and
microphone first), "bg" (backgrounds: real recordings, generated noise, babble), and the
validation roles "val_pos", "val_neg", "val_bg" (held-out voices and recordings), plus
"real_pos" (real keyword recordings, measured only) and "tune_bg" (speech for choosing the
threshold). Each role stores the frames of all its
clips end to end with offsets, the frame where each clip's speech ends, its mean speech power
and its sampling weight. A background role's clips are streams (a source's files end to end, so that
crops run through recordings); where each file starts in them is kept too ("ROLE/files", frame offsets
like "ROLE/offsets"), so that validation can stream each file alone, as `detect` hears a file.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..checks import finite, fraction, refuse, whole
from ..frontend import FrontendConfig, logmel
from ..noise import REAL_LEAD_S, REAL_TAIL_S, pad_recording  # (detect and eval detector import them from there)
from ..runtime.takes import TakeConfig, peak_dbfs, take_bounds
from .pools import job_pool, quiet_worker

__all__ = ["LO", "STEP", "ROLES", "BankItem", "BankConfig", "quantize", "dequantize", "speech_span", "build_bank",
           "save_bank", "load_bank", "merge_banks", "select_clips", "reweight_sources", "clip_features", "pad_recording",
           "padded_speech_end", "file_offsets"]

LO, STEP = -16.0, 0.1
ROLES = ("pos", "neg", "bg", "val_pos", "val_neg", "val_bg", "real_pos", "tune_bg")


def quantize(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round((x - LO) / STEP), 0, 255).astype(np.uint8)


def dequantize(q: np.ndarray) -> np.ndarray:
    return (LO + STEP * q.astype(np.float32)).astype(np.float32)


@dataclass(frozen=True)
class BankItem:
    """One clip for the bank. synthetic: give it a random room and microphone first. offset, end: the segment
    [offset, end) of the file in seconds (a manifest row's offset and duration, as speechseq.train.manifests reads
    them; None: from its start, to its end). stream: the source given (a --backgrounds PATH) whose background files
    are streamed end to end, apart from those of another source of the same name and weight ("": by `source`)."""

    path: str
    role: str
    weight: float = 1.0
    source: str = ""
    synthetic: bool = False
    text: str = ""
    offset: float | None = None
    end: float | None = None
    stream: str = ""


@dataclass(frozen=True)
class BankConfig:
    n_mels: int = 40
    pad_s: float = 0.1          # silence around each clip (features of the onset and the tail)
    reverb_prob: float = 0.5    # synthetic clips given a random room in the waveform
    colour_prob: float = 0.8    # synthetic clips given a random microphone
    max_bg_s: float = 600.0     # longer background files are cut
    seed: int = 0

    def __post_init__(self) -> None:
        refuse("feature bank settings", [
            ("n_mels", self.n_mels, whole(self.n_mels), "a whole number >= 1"),
            ("pad_s", self.pad_s, finite(self.pad_s) and self.pad_s >= 0, "a finite number of seconds >= 0"),
            ("reverb_prob", self.reverb_prob, fraction(self.reverb_prob), "a probability in [0, 1]"),
            ("colour_prob", self.colour_prob, fraction(self.colour_prob), "a probability in [0, 1]"),
            ("max_bg_s", self.max_bg_s, finite(self.max_bg_s) and self.max_bg_s > 0, "a finite number of seconds > 0")])


def clip_features(audio: np.ndarray, cfg: BankConfig, rng: np.random.Generator | None = None,
                  synthetic: bool = False) -> tuple[np.ndarray, int, float]:
    """Features of one clip: (T, F) float32, the exclusive frame where the speech ends, mean power.

    The clip is padded with `pad_s` of digital silence on both sides; power is the mean over
    frames within 30 dB of the loudest of the summed mel power (what SNRs are measured on).
    """
    from .augment import end_frame, mic_colour, reverberate, synth_rir

    x = np.asarray(audio, dtype=np.float32)
    speech_len = len(x)
    if synthetic and rng is not None:
        if rng.random() < cfg.reverb_prob:
            x = reverberate(x, synth_rir(rng))
        if rng.random() < cfg.colour_prob:
            x = mic_colour(x, rng)
    pad = int(round(cfg.pad_s * 16000))
    x = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(pad, np.float32)])
    # The bank's features keep the frontend's default floor (1e-5), while the exported detectors run at 1e-6 and the
    # mixer takes 1e-6 off the bank's power (kwmix.Mixer._power): digital silence trains at about log 1e-5, 2.3 above
    # the runtime's log 1e-6. Kept as the shipped models were trained: banks at 1e-6 missed the same real voices (session 38:
    # amelia, seeds 0 / 1, 223 real Precise clips missed at thresholds 0.5 / 0.7 / 0.9: 13.9 / 22.0 / 43.5 and
    # 11.2 / 16.6 / 33.6 % against 16.1 / 22.0 / 41.7 and 11.2 / 17.0 / 33.6 % with this floor).
    fe = FrontendConfig(n_mels=cfg.n_mels)
    feats = logmel(x, fe)
    power = np.exp(feats.astype(np.float64)).sum(axis=1)
    active = power >= power.max() * 1e-3
    end = min(len(feats), end_frame(pad + speech_len, fe.hop_length))
    return feats, end, float(power[active].mean())


_VAD = None  # this process's voice activity detector for people's recordings (Silero when installed)


def _person_vad():
    """Loaded on first use in each worker (an onnxruntime session is not carried across a fork)."""
    global _VAD
    if _VAD is None:
        from ..runtime.vad import load_vad

        _VAD = load_vad("auto")
    return _VAD


def _work(args: tuple[int, BankItem, BankConfig]) -> tuple[int, np.ndarray | None, int, float, str | None]:
    index, q, end, power, err = _clip(*args)
    if err is not None and _segment(args[1]):  # which part of the file, in build_bank's line naming it
        err = f"{_segment(args[1])}: {err}"
    return index, q, end, power, err


def _segment(item: BankItem) -> str:
    """The part of its file a clip is ("segment 2-3.5 s", "segment from 60 s"), "" for a whole file."""
    if item.offset is None and item.end is None:
        return ""
    return f"segment {item.offset or 0:g}-{item.end:g} s" if item.end is not None else f"segment from {item.offset:g} s"


def _clip(index: int, item: BankItem, cfg: BankConfig) -> tuple[int, np.ndarray | None, int, float, str | None]:
    from ..audio import load_audio

    try:
        audio = load_audio(item.path)
    except Exception as err:  # a bad file is reported and skipped, not fatal (its path said once, by build_bank)
        return index, None, 0, 0.0, str(err).removeprefix(f"{Path(item.path)}: ")
    if item.offset is not None or item.end is not None:  # a segment of a long file (a manifest row's offset)
        start = int(round((item.offset or 0) * 16000))
        if start >= len(audio):
            return index, None, 0, 0.0, f"the file ends at {round(len(audio) / 16000, 2):g} s"
        audio = audio[start: None if item.end is None else max(start + 1, int(round(item.end * 16000)))]
    if len(audio) == 0:  # a few samples at a higher rate resample to none
        return index, None, 0, 0.0, "no audio samples at 16 kHz"
    rng = np.random.default_rng([cfg.seed, index])
    if item.role.endswith("bg"):
        if len(audio) > int(cfg.max_bg_s * 16000):  # said, not silent: "an hour of talk radio" in one file
            part = f" ({_segment(item)})" if _segment(item) else ""
            print(f"note: {item.path}{part}: only its first {cfg.max_bg_s:g} s of {len(audio) / 16000:.0f} s are "
                  f"used as a background (cut a long recording into files of at most {cfg.max_bg_s:g} s to use all "
                  "of it)",
                  file=sys.stderr, flush=True)
        audio = audio[: int(cfg.max_bg_s * 16000)]
        feats = logmel(audio, FrontendConfig(n_mels=cfg.n_mels))
        if len(feats) == 0:
            return index, None, 0, 0.0, "shorter than one frame"
        return index, quantize(feats), -1, float(np.exp(feats.astype(np.float64)).sum(axis=1).mean()), None
    silent = _no_sound(audio, cfg)
    if silent is not None:  # a muted microphone: a positive would teach the detector to fire on noise, a negative
        # is no sound to tell from the keyword (the mixer scales a clip by its own power to its SNR, so a clip of the
        # frontend's floor alone went into the mixes as a burst of flat noise 0-20 dB over the background)
        why = ", no keyword in it" if item.role.endswith("pos") else ", nothing to mix in"
        return index, None, 0, 0.0, silent + why
    if item.role == "real_pos":  # measured as the evaluation does: padded with a quiet noise floor
        audio = pad_recording(audio, rng)
    elif item.role in ("pos", "val_pos") and not item.synthetic:
        # a person's recording of the keyword: cut to its speech (as the synthetic clips are), so that the
        # label stretch follows the spoken word's end, not the end of the recording: first to the take
        # a voice activity detector hears (as `speechseq record` cuts), then by the energy rule
        bounds = take_bounds(audio, _person_vad())
        if bounds is not None:
            audio = audio[bounds[0]: bounds[1]]
        frames = len(audio) // 160
        if frames > 0:
            # each frame's power about its own mean: a microphone's DC offset (5 of the 327 Precise wake-word clips
            # carry 0.01 or more) counted as sound raised the floor; 0.01 added ended 42 of 56 amelia clips 0.1 s early
            power = audio[: frames * 160].astype(np.float64).reshape(frames, 160).var(1)
            db = 10 * np.log10(power + 1e-12)
            if bounds is None:  # (a take the VAD heard holds speech: no need to look further)
                rise, peak = float(db.max() - np.percentile(db, 10)), peak_dbfs(audio)
                if rise < MIN_RISE_DB and peak < TakeConfig.quiet_dbfs:
                    # a take of nothing: a room's hiss would be trained as the word
                    return index, None, 0, 0.0, (f"no speech in it (none a voice activity detector hears; its "
                                                 f"loudest 10 ms only {rise:.0f} dB over its noise floor, its peak "
                                                 f"{peak:.0f} dBFS)")
            start, end = speech_span(db)
            audio = audio[max(0, start - 3) * 160: (end + 3) * 160]
        seconds = len(audio) / 16000
        if seconds < MIN_TAKE_S:  # a click or a cut-off file: its label would teach the detector to fire on it
            return index, None, 0, 0.0, f"{1000 * seconds:.0f} ms of sound, too short to hold the keyword"
        if seconds > MAX_TAKE_S:  # rarely fits a mix beside other clips: it only takes draws
            return index, None, 0, 0.0, (f"{seconds:.1f} s of sound after cutting to its speech, more than one "
                                         f"take of the keyword (at most {MAX_TAKE_S:g} s): one take a file "
                                         "(speechseq record --input cuts a long recording into takes)")
    feats, end, power = clip_features(audio, cfg, rng, item.synthetic)
    return index, quantize(feats), end, power, None


def _no_sound(audio: np.ndarray, cfg: BankConfig) -> str | None:
    """Why a clip (16 kHz) holds no sound the bank's frontend hears, or None: digital silence, or no mel band of any
    frame FLOOR_MARGIN_DB over the frontend's floor (speech under about -85 dBFS, -100 dBFS dither)."""
    if not np.any(audio):
        return "digital silence"
    fe = FrontendConfig(n_mels=cfg.n_mels)
    x = np.concatenate([np.asarray(audio, np.float32), np.zeros(fe.win_length, np.float32)])  # a click: one frame
    over_db = 10 / np.log(10) * (float(logmel(x, fe).max()) - np.log(fe.floor))
    if over_db < FLOOR_MARGIN_DB:
        return f"no sound above the frontend's floor (its loudest mel band {over_db:.1f} dB over it)"
    return None


# A clip (not a background) whose loudest mel band lies less than this over the frontend's floor holds no sound: speech
# at -80 dBFS reaches 3.3 dB over it, at -90 dBFS 0.5 dB; the quietest of the 392 Precise and 300 FSDD recordings 26 dB.
FLOOR_MARGIN_DB = 1.0

# A person's recording of the keyword, cut to its speech, outside these lengths is reported and skipped: a click or a
# clip cut short, or several takes or a whole session in one file (the training mixes are 10 s, the validation ones 4 s
# or, where a held-out take does not fit one, up to 10 s; `speechseq record` keeps takes of at most 2.5 s, padded 0.2 s
# each side).
MIN_TAKE_S, MAX_TAKE_S = 0.1, 5.0
# A quiet recording (its peak under `speechseq record`'s "too quiet", TakeConfig.quiet_dbfs) in which a VAD hears no
# speech, and whose loudest frame lies less than this over its noise floor (10th percentile of its frames' power),
# holds no keyword: a microphone's hiss spans about 2 dB, pink noise 7; every one of the 392 Precise recordings 15.9
# dB or more (the one amelia clip Silero does not hear: 28 dB, peak -30 dBFS).
MIN_RISE_DB = 10.0


def speech_span(frame_db: np.ndarray, share: float = 0.3) -> tuple[int, int]:
    """(first, last + 1) frame of the speech in a recording, from its frames' energies in dB: the frames
    above its noise floor (10th percentile) by `share` of the way to its loudest frame. A fixed margin
    under the peak (synth.trim_silence's 40 dB) fails on people's recordings, whose noise floor often
    lies within 40 dB of their speech (session 21: most Precise android clips)."""
    db = np.asarray(frame_db, dtype=np.float64)
    if len(db) == 0:
        return 0, 0
    floor, peak = np.percentile(db, 10), db.max()
    loud = np.flatnonzero(db >= floor + share * (peak - floor))
    return int(loud[0]), int(loud[-1]) + 1


def padded_speech_end(frame_db: np.ndarray, cfg: BankConfig = BankConfig()) -> int:
    """The frame just after the speech of a real_pos clip (a recording padded by pad_recording, then by
    clip_features' silence), from its frames' energies in dB: speech_span over the recording's own frames
    only. Over the whole clip the padding's quieter floor would pass the recording's own noise for speech
    and put the end where the recording ends (session 22: 15 % of the Precise amelia clips 0.2-0.4 s late)."""
    rate = FrontendConfig().frame_rate
    lead = int(round((cfg.pad_s + REAL_LEAD_S) * rate))
    tail = int(round((cfg.pad_s + REAL_TAIL_S) * rate))
    db = np.asarray(frame_db, dtype=np.float64)
    inner = db[lead: max(lead + 1, len(db) - tail)]
    return min(len(db), lead + speech_span(inner)[1])


def build_bank(items: Sequence[BankItem], cfg: BankConfig = BankConfig(), workers: int = 2,
               extra_arrays: dict[str, tuple[np.ndarray, str]] | None = None, meta: dict | None = None,
               progress: bool = True) -> dict:
    """Compute features of every item (in parallel, with a progress bar on stderr where `progress`) into a bank dict.

    extra_arrays: name -> (float (N,) audio, role): generated audio (noise, babble) added as
    one clip of that role each. Returns {"meta": dict, "<role>/<field>": ndarray, ...}.
    """
    from tqdm import tqdm

    for it in items:
        if it.role not in ROLES:
            raise ValueError(f"unknown role {it.role!r}; known: {ROLES}")
    results: list[tuple | None] = [None] * len(items)
    jobs = [(i, it, cfg) for i, it in enumerate(items)]
    failed = 0
    with job_pool(workers, len(jobs), quiet_worker) as pool:
        done = pool.imap_unordered(_work, jobs, chunksize=8) if pool else map(_work, jobs)
        for index, q, end, power, err in tqdm(done, total=len(jobs), desc="features", unit="clip", dynamic_ncols=True,
                                              file=sys.stderr, disable=not progress):
            if err is not None:
                failed += 1
                tqdm.write(f"skipped {items[index].path}: {err}", file=sys.stderr)  # where warnings go
                continue
            results[index] = (q, end, power)
    per_role: dict[str, list] = {r: [] for r in ROLES}
    texts: dict[str, list[str]] = {r: [] for r in ROLES}
    streams: dict[tuple[str, str, float, str], list] = {}
    for it, res in zip(items, results):
        if res is None:
            continue
        if it.role.endswith("bg"):  # backgrounds: one stream per source given (and weight), so crops run through
            # recordings; two folders of one name (a/noise b/noise) two sources, each drawn as one
            streams.setdefault((it.role, it.source, it.weight, it.stream), []).append((res[0], it.weight))
        else:
            per_role[it.role].append((res[0], res[1], res[2], it.weight, it.source))
            texts[it.role].append(it.text)
    files: dict[str, list[int]] = {}  # each background role's file lengths (frames), in the order of its frames
    for (role, source, _, _), parts in streams.items():
        q = np.concatenate([p[0] for p in parts])
        power = float(np.exp(dequantize(q).astype(np.float64)).sum(axis=1).mean())
        per_role[role].append((q, -1, power, parts[0][1], source))
        texts[role].append("")
        files.setdefault(role, []).extend(len(p[0]) for p in parts)
    for name, (audio, role) in (extra_arrays or {}).items():
        feats = logmel(np.asarray(audio, np.float32), FrontendConfig(n_mels=cfg.n_mels))
        per_role[role].append((quantize(feats), -1, float(np.exp(feats.astype(np.float64)).sum(axis=1).mean()), 1.0, name))
        texts[role].append("")
        files.setdefault(role, []).append(len(feats))
    bank: dict = {}
    summary = {}
    for role, rows in per_role.items():
        if not rows:
            continue
        lengths = np.array([len(r[0]) for r in rows], dtype=np.int64)
        bank[f"{role}/q"] = np.concatenate([r[0] for r in rows])
        bank[f"{role}/offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        bank[f"{role}/end"] = np.array([r[1] for r in rows], dtype=np.int32)
        bank[f"{role}/power"] = np.array([r[2] for r in rows], dtype=np.float32)
        bank[f"{role}/weight"] = np.array([r[3] for r in rows], dtype=np.float32)
        sources = sorted({r[4] for r in rows})
        bank[f"{role}/source"] = np.array([sources.index(r[4]) for r in rows], dtype=np.int16)
        if role in files:
            bank[f"{role}/files"] = np.concatenate([[0], np.cumsum(files[role])]).astype(np.int64)
        summary[role] = {"clips": len(rows), "hours": round(float(lengths.sum()) / 100 / 3600, 3), "sources": sources,
                         "per_source": {s: sum(1 for r in rows if r[4] == s) for s in sources}}
    used = {r: sum(1 for it, res in zip(items, results) if res is not None and it.role == r) for r in ROLES}
    bank["meta"] = {**(meta or {}), "config": asdict(cfg), "roles": summary, "failed": failed,
                    "files": {r: n for r, n in used.items() if n},  # files read per role (generated noise aside)
                    "quant": {"lo": LO, "step": STEP}, "texts": {r: t for r, t in texts.items() if t}}
    return bank


def merge_banks(parts: Sequence[tuple[dict, dict[str, str]]]) -> dict:
    """One bank from several: parts are (bank, {role in that bank: role in the result}).

    Clips keep their weights; `meta` keeps the first bank's config and lists every role's sources.
    """
    fields = ("q", "offsets", "end", "power", "weight", "source")
    acc: dict[str, dict[str, list]] = {}
    for bank, mapping in parts:
        for src_role, dst_role in mapping.items():
            if f"{src_role}/q" not in bank:
                continue
            a = acc.setdefault(dst_role, {f: [] for f in fields} | {"names": [], "texts": [], "files": []})
            names = bank["meta"]["roles"][src_role]["sources"]
            a["files"].append(bank.get(f"{src_role}/files"))
            a["q"].append(bank[f"{src_role}/q"])
            a["offsets"].append(bank[f"{src_role}/offsets"])
            for f in ("end", "power", "weight"):
                a[f].append(bank[f"{src_role}/{f}"])
            a["names"].append([names[i] for i in bank[f"{src_role}/source"]])
            a["texts"] += bank["meta"].get("texts", {}).get(src_role, [""] * len(bank[f"{src_role}/end"]))
    out: dict = {}
    summary = {}
    for role, a in acc.items():
        lengths = np.concatenate([np.diff(o) for o in a["offsets"]])
        out[f"{role}/q"] = np.concatenate(a["q"])
        out[f"{role}/offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        for f in ("end", "power", "weight"):
            out[f"{role}/{f}"] = np.concatenate(a[f])
        names = [n for part in a["names"] for n in part]
        sources = sorted(set(names))
        out[f"{role}/source"] = np.array([sources.index(n) for n in names], dtype=np.int16)
        if any(f is not None for f in a["files"]):  # each part's files (a part without: each clip one file)
            starts = np.concatenate([[0], np.cumsum([len(q) for q in a["q"]])])
            out[f"{role}/files"] = np.concatenate(
                [(o if f is None else f)[:-1] + s for f, o, s in zip(a["files"], a["offsets"], starts)]
                + [starts[-1:]]).astype(np.int64)
        summary[role] = {"clips": len(names), "hours": round(float(lengths.sum()) / 100 / 3600, 3), "sources": sources,
                         "per_source": {s: names.count(s) for s in sources}}
    first = parts[0][0]["meta"]
    out["meta"] = {**first, "roles": summary, "texts": {r: a["texts"] for r, a in acc.items()}}
    return out


def select_clips(bank: dict, role: str, keep: np.ndarray) -> dict:
    """A copy of `bank` whose `role` holds only the clips where keep (bool, per clip) is true."""
    keep = np.asarray(keep, dtype=bool)
    off = bank[f"{role}/offsets"]
    out = dict(bank)
    rows = np.concatenate([np.arange(a, b) for a, b, k in zip(off[:-1], off[1:], keep) if k] or [np.zeros(0, np.int64)])
    out[f"{role}/q"] = bank[f"{role}/q"][rows]
    lengths = np.diff(off)[keep]
    out[f"{role}/offsets"] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    for f in ("end", "power", "weight", "source"):
        out[f"{role}/{f}"] = bank[f"{role}/{f}"][keep]
    if f"{role}/files" in bank:  # the kept clips' files, where they now start
        files, starts = bank[f"{role}/files"], out[f"{role}/offsets"]
        out[f"{role}/files"] = np.concatenate(
            [files[(files >= a) & (files < b)] - a + s
             for (a, b), s in zip(zip(off[:-1][keep], off[1:][keep]), starts[:-1])] + [starts[-1:]]).astype(np.int64)
    meta = dict(bank["meta"])
    texts = dict(meta.get("texts", {}))
    if role in texts:
        texts[role] = [t for t, k in zip(texts[role], keep) if k]
    roles = dict(meta["roles"])
    roles[role] = {**roles[role], "clips": int(keep.sum()), "hours": round(float(lengths.sum()) / 100 / 3600, 3)}
    out["meta"] = {**meta, "texts": texts, "roles": roles}
    return out


def file_offsets(bank: dict, role: str) -> np.ndarray:
    """Where each file of `role` starts in its frames, and where the last ends: "ROLE/files", or for a role (or a
    bank built before they were kept) without, "ROLE/offsets" (each clip one file)."""
    return np.asarray(bank.get(f"{role}/files", bank[f"{role}/offsets"]), dtype=np.int64)


def reweight_sources(bank: dict, role: str, factors: dict[str, float]) -> dict:
    """A copy of `bank` whose `role` clips from each source named in `factors` (a synthesis engine for
    synthetic clips, else the folder or manifest's folder name) have their sampling weight multiplied by it."""
    out = dict(bank)
    if factors and f"{role}/source" in bank:
        sources = bank["meta"]["roles"][role]["sources"]
        factor = np.array([factors.get(s, 1.0) for s in sources], dtype=np.float32)
        out[f"{role}/weight"] = bank[f"{role}/weight"] * factor[bank[f"{role}/source"]]
    return out


def save_bank(bank: dict, path: str | os.PathLike) -> Path:
    """One compressed .npz (meta as a JSON string); written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k.replace("/", "__"): v for k, v in bank.items() if k != "meta"}
    arrays["meta"] = np.array(json.dumps(bank["meta"]))
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_bank(path: str | os.PathLike) -> dict:
    with np.load(Path(path)) as z:
        bank = {k.replace("__", "/"): z[k] for k in z.files if k != "meta"}
        bank["meta"] = json.loads(str(z["meta"]))
    return bank
