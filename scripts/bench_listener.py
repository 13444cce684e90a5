#!/usr/bin/env python
"""Benchmark the live listener: latencies, CPU, memory, and streamed versus offline accuracy.

    python scripts/bench_listener.py                      # shipped models, held-out synthetic voices
    python scripts/bench_listener.py --partial-decoder stream --settings 200:100,400:200,800:400,400:0 \
        --json cache/bench_listener.json

Scenarios: "activate", 0.6 s, a ~5 s command, 1.5 s, spoken by synthesis voices held out from
training (speechseq.train.synth.heldout), over a -60 dBFS noise floor; the keyword's end and
the command's end are known from the assembly. The listener runs as fast as it can over blocks of
--block-ms (50 ms, the listener's default), after one untimed run of the first scenario (a first call's costs
are not the work), and each delay is the time a real-time run would emit the event: its block's end in stream
time plus the CPU time of that block and of any backlog before it:
  wake delay      keyword end -> wake event
                  (and each voice's median: with six voices the p90 is the slowest voice's)
  final delay     end of speech -> final event (includes the trailing silence the VAD waits for)
  partial lag     end of a final's word -> the partial from which on the word is shown right for good (each
                  partial's words aligned by edit distance to the final's, so a word inserted or dropped before
                  it does not move it; a word shown, changed and shown again counts from when it came back), over
                  the words shown so; beside it the share of the final's words right only once the final comes
                  (not in the last partial), and the lag over all words, those counted at the final event's time
  word count lag  end of a final's k-th word -> the first partial holding k words, right or not
  rewritten       the last partial's settled words (all but its last) that the final changes: the word edits
                  from them to the stretch of the final's words they align to (the prefix with fewest edits, as
                  for the partial lag), so a word inserted or dropped early costs 1 edit, not one for each later word
  CPU             per second of audio while listening (idle) and while recording (transcribing)
  WER             offline final vs the streamed result (chunked recogniser alone, --partial-decoder stream)
                  vs the last partial
--settings (chunk and look-ahead of the chunked recogniser) matter only to --partial-decoder stream.
                  (speechseq.metrics.wer on text normalised as for `speechseq eval recognizer`)
With --live (PulseAudio installed) the command itself, with the listener's options given here, also runs on a
private virtual microphone (44.1 kHz stereo through the ALSA pulse plugin, resampled to 16 kHz) for --idle-s
seconds: its CPU use while idle-listening and its resident memory (RSS, in MB of 10^6 bytes) come from the process
itself.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# One thread for numpy's BLAS whatever the caller's environment says (OpenBLAS reads its own variable first):
# set before numpy loads it, and passed on to the --live command.
os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")

import numpy as np  # noqa: E402

SR = 16000
BLOCK = 800  # samples: the listener's default --block-ms 50
COMMANDS = (  # about 5 s each when spoken
    "turn on the kitchen lights and set the living room to seventy degrees please and close the blinds",
    "remind me to call my sister tomorrow morning at nine about the birthday party on saturday",
    "play some quiet music in the bedroom and dim the lights to twenty percent for the next hour",
    "what is the weather going to be like this weekend in the mountains near the lake by the old town",
)
VOICES = ("flite:kal", "festival:cmu_us_slt_arctic_hts", "pico:en-US", "mbrola:mb-us3",
          "espeak-ng:en-us+m2", "espeak-ng:en-gb+f3")


@dataclass(frozen=True)
class Scenario:
    voice: str
    text: str
    audio: np.ndarray
    kw_end: float
    cmd_start: float
    cmd_end: float


def _voice_list(text: str) -> list[str]:
    """--voices: ENGINE:NAME,... (argparse's usage error for an entry without its engine)."""
    import argparse

    voices = [v.strip() for v in text.split(",") if v.strip()]
    bad = [v for v in voices if ":" not in v or not all(v.split(":", 1))]
    if not voices or bad:
        raise argparse.ArgumentTypeError(f"give voices as ENGINE:NAME,... (e.g. {VOICES[0]}), got {text!r}")
    return voices


def _settings(text: str) -> list[tuple[str, float, float]]:
    """--settings: CHUNK_MS:LOOKAHEAD_MS,... as (the setting as given, chunk ms, look-ahead ms) (argparse's usage
    error for anything else, before the scenarios are made)."""
    import argparse

    out = []
    for item in (x.strip() for x in text.split(",") if x.strip()):
        c, sep, la = item.partition(":")
        try:
            out.append((item, float(c), float(la)))
        except ValueError:
            sep = ""
        if not sep:
            raise argparse.ArgumentTypeError(f"give settings as CHUNK_MS:LOOKAHEAD_MS,... (e.g. 400:200), got {text!r}")
    if not out:
        raise argparse.ArgumentTypeError(f"give settings as CHUNK_MS:LOOKAHEAD_MS,... (e.g. 400:200), got {text!r}")
    return out


def _utterances(text: str) -> int:
    """--utterances N: how many of COMMANDS each voice says (argparse's usage error outside 1..len(COMMANDS))."""
    from speechseq.commands.common import bounded

    return bounded(int, ge=1, le=len(COMMANDS))(text)


def _renamed(text: str) -> int:
    """--commands N, renamed --utterances N (`listen --commands FILE` is a list of phrases): taken as that, with a
    line saying so (the model cards' commands spell it so); anything but a whole number is argparse's usage error
    saying what it is."""
    import argparse

    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError("is --utterances N now (spoken commands per voice); the listener's "
                                         "--commands FILE is not taken here")
    n = _utterances(text)
    print(f"bench_listener.py: warning: --commands {text} is --utterances {text} now", file=sys.stderr)
    return n


def make_scenarios(voices: list[str], n_commands: int, cache: Path) -> list[Scenario]:
    from speechseq.train.synth import SynthError, Voice, heldout, synthesize, trim_silence

    cache.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    out = []
    for vid in voices:
        engine, name = vid.split(":", 1)
        voice = Voice(engine, name)
        if not heldout(voice):
            print(f"warning: {vid} is not a held-out voice", file=sys.stderr)
        try:
            kw = trim_silence(_cached(cache, "activate", voice, synthesize))
            cmds = [trim_silence(_cached(cache, t, voice, synthesize)) for t in COMMANDS[:n_commands]]
        except SynthError as err:
            print(f"skipping {vid}: {err}", file=sys.stderr)
            continue
        for text, cmd in zip(COMMANDS, cmds):
            parts = [np.zeros(SR, np.float32), 0.5 * kw, np.zeros(int(0.6 * SR), np.float32), 0.5 * cmd,
                     np.zeros(int(1.5 * SR), np.float32)]
            audio = np.concatenate(parts)
            audio = audio + rng.normal(0, 1e-3, len(audio)).astype(np.float32)   # -60 dBFS floor
            kw_end = (SR + len(kw)) / SR
            cmd_start = kw_end + 0.6
            out.append(Scenario(vid, text, audio, kw_end, cmd_start, cmd_start + len(cmd) / SR))
    return out


def _cached(cache: Path, text: str, voice, synthesize) -> np.ndarray:
    import soundfile as sf

    p = cache / f"{voice.engine}_{voice.name.replace('/', '_')}_{zlib.crc32(text.encode()):08x}.wav"
    key = cache / (p.name + ".txt")
    if p.is_file() and key.is_file() and key.read_text() == text:
        return sf.read(p, dtype="float32")[0]
    a = synthesize(text, voice)
    sf.write(p, a, SR, subtype="PCM_16")
    key.write_text(text)
    return a


def run_listener(listener, audio: np.ndarray, block: int = BLOCK):
    """Events with the times a real-time run would see them, CPU split by mode.

    A block can be processed once it has arrived (its end in stream time) and once the blocks
    before it are done: clock = max(clock, block end) + CPU time of the block. An event's time is
    the clock after its block, so a slow block also delays the events of the blocks behind it.
    """
    from speechseq.runtime.listener import Mode

    state = listener.initial_state()
    timed, cpu = [], {Mode.LISTENING: 0.0, Mode.RECORDING: 0.0}
    secs = {Mode.LISTENING: 0.0, Mode.RECORDING: 0.0}
    clock = 0.0
    for i in range(0, len(audio), block):
        mode = state.mode
        chunk = audio[i : i + block]
        t0 = time.process_time()
        events, state = listener.step(chunk, state)
        dt = time.process_time() - t0
        cpu[mode] += dt
        secs[mode] += len(chunk) / SR  # the last block of a scenario is short
        clock = max(clock, min(i + block, len(audio)) / SR) + dt
        timed += [(e, clock) for e in events]
    timed += [(e, e.time) for e in listener.finish(state)]
    return timed, cpu, secs


def _alignment_costs(shown: list[str], final: list[str]) -> list[list[tuple[int, int]]]:
    """cost[i][j]: (word edits, -words equal) of the fewest-edit alignment of shown[:i] to final[:j]."""
    n, m = len(shown), len(final)
    cost = [[(i + j, 0) if i == 0 or j == 0 else None for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d, e = cost[i - 1][j - 1], shown[i - 1] == final[j - 1]
            cost[i][j] = min((d[0] + (not e), d[1] - e), (cost[i - 1][j][0] + 1, cost[i - 1][j][1]),
                             (cost[i][j - 1][0] + 1, cost[i][j - 1][1]))
    return cost


def aligned_words(shown: list[str], final: list[str]) -> set[int]:
    """The places of `final`'s words that the partial `shown` has right, by an edit-distance alignment of `shown`
    to the prefix of `final` that it best matches (a partial is the speech so far): fewest word edits, and among
    those the most words equal. A word the partial inserts or drops before a place does not move that place.
    Ties (the same edits and matches) take the shorter prefix, and in the backtrace a match or substitution."""
    n, m = len(shown), len(final)
    cost = _alignment_costs(shown, final)
    i, j = n, min(range(m + 1), key=lambda c: cost[n][c])
    out = set()
    while i > 0 and j > 0:
        d, e = cost[i - 1][j - 1], shown[i - 1] == final[j - 1]
        if cost[i][j] == (d[0] + (not e), d[1] - e):
            if e:
                out.add(j - 1)
            i, j = i - 1, j - 1
        elif cost[i][j] == (cost[i - 1][j][0] + 1, cost[i - 1][j][1]):
            i -= 1
        else:
            j -= 1
    return out


def settled_edits(settled: list[str], final: list[str]) -> int:
    """The word edits that turn the last partial's settled words into the stretch of `final` they align to (the
    prefix of `final` with fewest edits, as in aligned_words): a word the partial inserts early costs 1, not one
    for each word after it."""
    return min(c[0] for c in _alignment_costs(settled, final)[len(settled)])


def shown_for_good(partials: list[tuple[str, float]], final: list[str]) -> list[float | None]:
    """For each of the final's words, the time of the partial from which on it is on screen for good: the first of
    the partials, in time order, that all have it right (aligned_words) up to the last one before the final. None:
    the last partial does not have it right (or there is none), so the word is right only once the final comes; a
    word shown, changed and shown again counts from when it came back."""
    since: list[float | None] = [None] * len(final)
    for text, t in partials:
        right = aligned_words(text.split(), final)
        since = [(s if s is not None else t) if k in right else None for k, s in enumerate(since)]
    return since


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def measure(listener, scenarios: list[Scenario], block: int = BLOCK) -> dict:
    from speechseq.metrics import wer as _wer
    from speechseq.runtime.events import FinalEvent, PartialEvent, WakeEvent
    from speechseq.text import normalize

    def wer(refs: list[str], hyps: list[str]):
        return _wer([normalize(t) for t in refs], [normalize(t) for t in hyps])

    wake_d, final_d, lags, lags_with_final, count_lags, words_total = [], [], [], [], [], 0
    rewritten = settled_total = 0
    by_voice: dict[str, list[float]] = {}
    refs, finals, lasts, streamed, offline_greedy, misses = [], [], [], [], [], 0
    cpu_idle = cpu_rec = secs_idle = secs_rec = 0.0
    if scenarios:  # one untimed run: a first call's one-off costs (sessions' first allocations) are not the work
        run_listener(listener, scenarios[0].audio, block)
    for sc in scenarios:
        timed, cpu, secs = run_listener(listener, sc.audio, block)
        modes = list(cpu)
        cpu_idle, cpu_rec = cpu_idle + cpu[modes[0]], cpu_rec + cpu[modes[1]]
        secs_idle, secs_rec = secs_idle + secs[modes[0]], secs_rec + secs[modes[1]]
        wakes = [(e, t) for e, t in timed if isinstance(e, WakeEvent)]
        fin = [(e, t) for e, t in timed if isinstance(e, FinalEvent)]
        if not wakes or not fin:
            misses += 1
            continue
        wake_d.append(wakes[0][1] - sc.kw_end)
        by_voice.setdefault(sc.voice, []).append(wake_d[-1])
        final, t_final = fin[0]
        final_d.append(t_final - sc.cmd_end)
        partials = [(e, t) for e, t in timed if isinstance(e, PartialEvent) and t <= t_final]
        fw = final.text.split()
        shown = shown_for_good([(e.text, t) for e, t in partials], fw)
        for k, (w, seen) in enumerate(zip(final.words, shown)):
            words_total += 1
            if seen is not None:
                lags.append(seen - w.end)
            lags_with_final.append((t_final if seen is None else seen) - w.end)
            # accuracy aside: when did the partial first hold k + 1 words?
            count = next((t for e, t in partials if len(e.text.split()) > k), t_final)
            count_lags.append(count - w.end)
        refs.append(sc.text)
        finals.append(final.text)
        lasts.append(partials[-1][0].text if partials else "")
        settled = lasts[-1].split()[:-1]
        rewritten += settled_edits(settled, fw)
        settled_total += len(settled)
        if listener.streaming is not None:
            s_text, o_text = _streamed_text(listener, sc)
            streamed.append(s_text)
            offline_greedy.append(o_text)
    res = {
        "scenarios": len(scenarios), "missed_wakes_or_finals": misses,
        "wake_delay_ms": {"median": 1000 * _pct(wake_d, 50), "p90": 1000 * _pct(wake_d, 90),
                          "by_voice_median": {v: round(1000 * _pct(d, 50), 1) for v, d in by_voice.items()}},
        "final_delay_ms": {"median": 1000 * _pct(final_d, 50), "p90": 1000 * _pct(final_d, 90)},
        "partial_lag_ms": {"median": 1000 * _pct(lags, 50), "p90": 1000 * _pct(lags, 90),
                           "words": f"{len(lags)}/{words_total}"},
        "words_right_only_in_the_final": f"{words_total - len(lags)}/{words_total}",
        "partial_lag_with_final_ms": {"median": 1000 * _pct(lags_with_final, 50),
                                      "p90": 1000 * _pct(lags_with_final, 90)},
        "settled_words_rewritten": f"{rewritten}/{settled_total}",
        "partial_word_count_lag_ms": {"median": 1000 * _pct(count_lags, 50), "p90": 1000 * _pct(count_lags, 90)},
        "cpu_idle_pct_of_core": 100 * cpu_idle / max(secs_idle, 1e-9),
        "cpu_recording_pct_of_core": 100 * cpu_rec / max(secs_rec, 1e-9),
    }
    if refs:
        res["wer_offline_final"] = wer(refs, finals).rate
        res["wer_last_partial"] = wer(refs, lasts).rate
        if streamed:
            res["wer_streamed"] = wer(refs, streamed).rate
            res["wer_offline_greedy"] = wer(refs, offline_greedy).rate
    return res


def _streamed_text(listener, sc: Scenario) -> tuple[str, str]:
    """Greedy text of the chunked recogniser alone over the command (from the keyword's end to the end
    of the audio), and of the offline recogniser over the same features."""
    from speechseq.frontend import logmel
    from speechseq.runtime.decoding import greedy

    rec = listener.streaming
    feats = logmel(sc.audio[int(sc.kw_end * SR) :], rec.frontend)
    state = rec.initial_state()
    for i in range(0, len(feats), 5):
        state = rec.accept(feats[i : i + 5], state)
    offline = listener.transcriber.recognizer.log_probs(feats)
    return greedy(rec.finish(state)).text.strip(), greedy(offline).text.strip()


# A PortAudio input stream with an empty callback, at the listener's block size: the share of the idle
# CPU that is the audio stack's, not the listener's.
_EMPTY_STREAM = """
import sys, time, sounddevice as sd
info = sd.query_devices(None, "input")
rate, block_s = int(info["default_samplerate"]), float(sys.argv[1])
with sd.InputStream(samplerate=rate, channels=min(2, int(info["max_input_channels"])), dtype="float32",
                    blocksize=int(rate * block_s), callback=lambda *a: None):
    print("open", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _process_cpu_pct(ps, seconds: float) -> float:
    c0, t0 = sum(ps.cpu_times()[:2]), time.monotonic()
    time.sleep(seconds)
    return 100 * (sum(ps.cpu_times()[:2]) - c0) / (time.monotonic() - t0)


def live_run(args, idle_s: float, wav: Path) -> dict:
    """`speechseq listen` on a private PulseAudio virtual mic: idle CPU and RSS of the process, beside the
    idle CPU of an empty PortAudio stream on the same mic."""
    import shutil
    import subprocess

    import psutil

    from tests.pulse import start_pulse

    mic = start_pulse()
    try:
        empty = subprocess.Popen([sys.executable, "-c", _EMPTY_STREAM, str(args.block_ms / 1000), str(idle_s + 10)],
                                 env=mic.env, stdout=subprocess.PIPE, text=True)
        empty.stdout.readline()
        time.sleep(2.0)
        stream_only = _process_cpu_pct(psutil.Process(empty.pid), idle_s)
        empty.kill()
        empty.wait()
        cmd = [sys.executable, "-m", "speechseq", "listen", "--json", "--block-ms", f"{args.block_ms:g}",
               *listener_args(args)]
        # A shell's background job ignores SIGINT, and a child would inherit that: restore it.
        proc = subprocess.Popen(cmd, cwd=ROOT, env={**mic.env, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        ps = psutil.Process(proc.pid)
        said = []
        while "listening on" not in (line := proc.stderr.readline()):
            if not line:  # it stopped before it listened (an option refused, no microphone): nothing to measure
                proc.wait()
                raise SystemExit(f"--live: `speechseq listen` stopped before it listened (exit code {proc.returncode}): "
                                 + " ".join(x.strip() for x in said[-3:]))
            said.append(line)
        time.sleep(2.0)
        idle = _process_cpu_pct(ps, idle_s)
        rss_idle = ps.memory_info().rss
        c0, t0 = sum(ps.cpu_times()[:2]), time.monotonic()
        mic.play(wav)
        time.sleep(2.0)
        busy = 100 * (sum(ps.cpu_times()[:2]) - c0) / (time.monotonic() - t0)
        rss = max(rss_idle, ps.memory_info().rss)
        t_stop = time.monotonic()
        proc.send_signal(2)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            print(f"warning: the listener did not stop within 30 s of Ctrl+C; its stderr ends:\n{err[-800:]}",
                  file=sys.stderr)
        stop_s = time.monotonic() - t_stop
        events = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
        return {"idle_cpu_pct_of_core": idle, "empty_stream_cpu_pct_of_core": stream_only,
                "cpu_pct_while_playing_demo": busy, "rss_mb": rss / 1e6,
                "stop_s": stop_s, "exit_code": proc.returncode,
                "events": [e["event"] for e in events], "final": next((e["text"] for e in events if e["event"] == "final"), None)}
    finally:
        mic.stop()
        shutil.rmtree(mic.runtime_dir, ignore_errors=True)   # its cookie, config and state: one folder a run


def listener_args(args) -> list[str]:
    """The `speechseq listen` options this script passes on, to the listeners it measures and to the --live command
    alike (the live command was given the models alone: `--decoder greedy --live` measured the lexicon search's)."""
    out = []
    for k in args.keyword_model or []:
        out += ["--keyword-model", k]
    if args.model:
        out += ["--model", args.model]
    if args.stream_model:
        out += ["--stream-model", args.stream_model]
    if getattr(args, "partial_decoder", None):
        out += ["--partial-decoder", args.partial_decoder]
    if args.lm:
        out += ["--lm", args.lm]
    for flag, name in (("--vad", "vad"), ("--early-decode-ms", "early_decode_ms"), ("--decoder", "decoder"),
                       ("--wake-wait-ms", "wake_wait_ms"), ("--partial-every-ms", "partial_every_ms"),
                       ("--partial-beam-size", "partial_beam_size")):
        if getattr(args, name, None) is not None:
            out += [flag, str(getattr(args, name))]
    return out


class _ListenOptions(argparse.ArgumentParser):
    """`speechseq listen`'s parser, whose usage error is raised (this script says it, with its own usage)."""

    def error(self, message: str):
        raise argparse.ArgumentError(None, message)


def listen_options(args, chunk_ms: float | None = None, lookahead_ms: float | None = None) -> argparse.Namespace:
    """`speechseq listen`'s options for one --settings entry (None: the listener's default); argparse.ArgumentError
    for one it refuses."""
    from speechseq.commands.listen import register

    ap = _ListenOptions()
    register(ap.add_subparsers())
    setting = [*(["--chunk-ms", str(chunk_ms)] if chunk_ms is not None else []),
               *(["--lookahead-ms", str(lookahead_ms)] if lookahead_ms is not None else [])]
    return ap.parse_args(["listen", *listener_args(args), *setting])


def main() -> int:
    from speechseq.commands.common import HelpFormatter, bounded
    from speechseq.runtime.settings import PARTIAL_BEAM_SIZE, PARTIAL_EVERY_MS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    ap.add_argument("--keyword-model", action="append", metavar="ONNX",
                    help="a keyword detector, as the listener's option (repeat for several; default: the listener's, "
                         "the shipped activate.onnx and computer.onnx; the scenarios say \"activate\")")
    ap.add_argument("--model", help="recogniser for the final text, as the listener's option (default: the "
                                    "listener's, the shipped recognizer-en.int8.onnx)")
    ap.add_argument("--stream-model", help="chunked recogniser for --partial-decoder stream, as the listener's option "
                                           "(default: the listener's, the --model's NAME.stream.int8.onnx twin, else "
                                           "NAME.stream.onnx, when present)")
    ap.add_argument("--lm", help="auto (default: the shipped LM when present), none, or a path")
    ap.add_argument("--vad", default="auto", help="the listener's voice activity detector: auto (Silero when "
                                                  "installed), silero or energy")
    ap.add_argument("--early-decode-ms", type=float, default=150.0,
                    help="the listener's option: decode ahead once this much trailing silence (ms) is heard (0: off)")
    ap.add_argument("--decoder", default="auto", help="the listener's final decoder (auto, greedy, beam, lexicon)")
    ap.add_argument("--wake-wait-ms", type=float, help="the listener's option: wait up to this long (ms) after the "
                                                       "threshold is crossed for the posterior's peak (default: the "
                                                       "listener's, 0: wake at the crossing)")
    ap.add_argument("--voices", type=_voice_list, default=",".join(VOICES),
                    help="ENGINE:NAME,... (default: the held-out voices listed in this script)")
    ap.add_argument("--utterances", type=_utterances, default=len(COMMANDS), metavar="N",
                    help="how many of this script's spoken commands each voice says (1-%(default)s; default: "
                         "%(default)s)")
    ap.add_argument("--commands", type=_renamed, dest="utterances", help=argparse.SUPPRESS)  # its name before
    ap.add_argument("--partial-decoder", choices=("final", "stream"),
                    help="the listener's option (default: the listener's default, final unless --stream-model)")
    ap.add_argument("--partial-every-ms", type=float, help="the listener's option: --partial-decoder final decodes the "
                    f"speech so far once per this many ms of it (default: the listener's, {PARTIAL_EVERY_MS:g})")
    ap.add_argument("--partial-beam-size", type=int, help="the listener's option: the beam of those decodes, at most "
                    f"the final's (default: the listener's, {PARTIAL_BEAM_SIZE})")
    ap.add_argument("--settings", type=_settings, help="chunk_ms:lookahead_ms,... of the chunked recogniser "
                    "(default: 400:200,200:100,800:400,400:0 with --partial-decoder stream, else 400:200, the "
                    "listener's, which the final partial decoder does not read)")
    ap.add_argument("--cache", default=str(ROOT / "cache" / "bench_listener"), metavar="DIR",
                    help="folder of the synthesized clips, made once per voice and text and read on later runs")
    ap.add_argument("--live", action="store_true", help="also run the command on a PulseAudio virtual mic")
    ap.add_argument("--idle-s", type=bounded(float, gt=0), default=20.0, help="--live: seconds of silence measured")
    ap.add_argument("--block-ms", type=bounded(float, ge=5, le=1000), default=50.0,
                    help="audio block size, as the listener's option (each block wakes the listener: fewer, larger "
                         "blocks cost less CPU while idle, and delay events by up to a block)")
    ap.add_argument("--json", metavar="FILE", help="write the results here (-: on stdout, the table then on stderr; "
                                                   "default: the table alone, on stdout)")
    args = ap.parse_args()
    if args.settings is None:
        stream = args.partial_decoder == "stream" or (args.partial_decoder is None and args.stream_model)
        args.settings = _settings("400:200,200:100,800:400,400:0" if stream else "400:200")
    from speechseq.commands.common import lines_out, output_file, write_report
    from speechseq.errors import SpeechseqError

    try:  # the listener's options, each setting's and --json refused before any work (they were refused after it)
        listen_options(args)
        output_file(args.json, "--json", stdout=True)
    except (argparse.ArgumentError, SpeechseqError) as err:
        ap.error(str(err))
    options = []
    for setting, c, r in args.settings:
        try:
            options.append(listen_options(args, c, r))
        except argparse.ArgumentError as err:
            ap.error(f"--settings {setting}: {err}")
    from speechseq.commands.listen import build_listener

    try:  # a model that is missing or of another kind: one line, before the voices are synthesized
        first = build_listener(options[0])
    except SpeechseqError as err:
        raise SystemExit(f"error: {err}") from None
    scenarios = make_scenarios(args.voices, args.utterances, Path(args.cache))
    if not scenarios:
        raise SystemExit(f"no scenarios: none of the voices {','.join(args.voices)} could be synthesized (the lines above say "
                         f"why; scripts/install-system.sh installs the engines), and {args.cache} holds none of them")
    durations = [s.cmd_end - s.cmd_start for s in scenarios]
    print(f"{len(scenarios)} scenarios, commands {min(durations):.1f}-{max(durations):.1f} s "
          f"(median {np.median(durations):.1f} s)", file=sys.stderr)
    results = {"scenarios": len(scenarios), "command_s_median": float(np.median(durations)), "settings": {}}
    for k, (setting, c, r) in enumerate(args.settings):
        listener = first if k == 0 else build_listener(options[k])
        res = measure(listener, scenarios, int(round(args.block_ms * SR / 1000)))
        res["vad"] = listener.vad.name
        res["early_decode_ms"] = args.early_decode_ms
        res["wake_wait_ms"] = 1000 * listener.detector.max_wait[0] * listener.detector.models[0].step_s
        res["partial_every_ms"] = 1000 * listener.cfg.partial_interval_s
        res["partial_beam_size"] = listener.transcriber._partial_opts.beam_size
        o = listener.transcriber.opts
        res["final_decoder"] = o.decoder + ("+LM" if o.lm is not None else "")
        results["settings"][setting] = res
        print(f"chunk {c:.0f} ms + look-ahead {r:.0f} ms: " + json.dumps(res), file=sys.stderr)
    if args.live:
        wav = ROOT / "data" / "samples" / "activate_kitchen_lights.wav"
        results["live"] = live_run(args, args.idle_s, wav)
        print("live: " + json.dumps(results["live"]), file=sys.stderr)
    if args.json:
        write_report(args.json, json.dumps(results, indent=2))
    with contextlib.redirect_stdout(lines_out(args.json)):
        _table(results)
    return 0


def _rate(x: float | None) -> str:
    """A WER as a percentage, or a dash where it was not measured (no chunked recogniser: --partial-decoder final)."""
    return "-" if x is None else f"{100 * x:.1f}%"


def _table(results: dict) -> None:
    print("| chunk + look-ahead | wake delay med / p90 | final delay med / p90 | partial lag of words shown right, "
          "med / p90 | words right only in the final | partial lag, those at the final, med / p90 | word count lag "
          "med / p90 | CPU idle / recording | WER final / offline greedy / streamed greedy / last partial |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k, r in results["settings"].items():
        c, la = k.split(":")
        only, total = map(int, r["words_right_only_in_the_final"].split("/"))
        print(f"| {c} + {la} ms | {r['wake_delay_ms']['median']:.0f} / {r['wake_delay_ms']['p90']:.0f} ms | "
              f"{r['final_delay_ms']['median']:.0f} / {r['final_delay_ms']['p90']:.0f} ms | "
              f"{r['partial_lag_ms']['median']:.0f} / {r['partial_lag_ms']['p90']:.0f} ms | "
              f"{only}/{total} ({100 * only / max(total, 1):.0f}%) | "
              f"{r['partial_lag_with_final_ms']['median']:.0f} / {r['partial_lag_with_final_ms']['p90']:.0f} ms | "
              f"{r['partial_word_count_lag_ms']['median']:.0f} / {r['partial_word_count_lag_ms']['p90']:.0f} ms | "
              f"{r['cpu_idle_pct_of_core']:.2f}% / {r['cpu_recording_pct_of_core']:.1f}% | "
              + " / ".join(_rate(r.get(name)) for name in ("wer_offline_final", "wer_offline_greedy", "wer_streamed",
                                                             "wer_last_partial")) + " |")
    if results["settings"]:  # the first setting's (the p90 of a few voices is set by the slowest voice)
        k, r = next(iter(results["settings"].items()))
        by = r["wake_delay_ms"]["by_voice_median"]
        print(f"\nwake delay by voice, median ({k.replace(':', ' + ')} ms): "
              + ", ".join(f"{v} {d:.0f} ms" for v, d in sorted(by.items(), key=lambda x: -x[1])))
    for k, r in results["settings"].items():
        print(f"\nthe final rewrites {r['settled_words_rewritten']} of the last partials' settled words ({k.replace(':', ' + ')} ms)")
    if "live" in results:
        lv = results["live"]
        print(f"\nlive (virtual mic): idle CPU {lv['idle_cpu_pct_of_core']:.1f}% of a core (an empty PortAudio stream "
              f"of the same blocks: {lv['empty_stream_cpu_pct_of_core']:.2f}%), "
              f"RSS {lv['rss_mb']:.0f} MB, events {lv['events']}, final {lv['final']!r}")


if __name__ == "__main__":
    sys.exit(main())
