#!/usr/bin/env python
"""speechseq benchmarks: one table, one function per row group (others add their groups).

    .venv/bin/python scripts/bench.py [--seconds 60] [--repeat 3] [--groups detector]

CPU time is process time (single thread: OMP_NUM_THREADS=1, onnxruntime with 1 thread), the best of
--repeat runs after one untimed run (first-call costs: a library loaded, a session's first allocations),
divided by the seconds of audio processed (a peer that takes whole frames leaves the last part frame out).
Row groups:
  detector  frontend alone; the model's onnxruntime calls alone and an empty call as often (where a
            keyword's CPU goes); frontend + 1 detector and + 10 detectors (one merged graph, the default,
            and one session per model, its peer) streamed in 80 and 100 ms chunks; the
            median delay from a keyword's end to its event (held-out synthetic voices, when
            cache/synth/kw-activate exists), and the median / p90 delay to `listen`'s wake (the
            threshold crossing, scripts/detector_levels.py's clips at a peak of 0.3 over -60 dBFS);
            the model file size.
  peers     the wake-word peers that run offline here, each streamed over the same audio in the same
            run as ours (frontend + computer.onnx, 80 ms chunks): Porcupine 1.9 ("computer", its
            512-sample frames; `pip install --no-deps pvporcupine==1.9.5`) and openWakeWord 0.5.1
            ("alexa", 80 ms chunks, its ONNX models; `pip install --no-deps openwakeword==0.5.1`).
            A peer that is not installed, or cannot run here, gets a row that says so.
  nodes     where one model call's time goes, by onnxruntime's own profiler (kernel time per node
            kind, summed over a stream's calls; the rest of a call is onnxruntime's per-call and
            per-node dispatch): the shipped activate.onnx fed the frames of 100 ms chunks. The
            profiler's own overhead inflates every node alike, so the shares, not the microseconds,
            are the figure.
  floor     the least any onnxruntime graph of this model can cost: its normalisation and conv (the taps
            product and the conv's MatMul, as the runtime runs them), GRU layers and output layer each run
            alone in a one-node graph on the tensors they get inside the model (80 ms chunks),
            onnxruntime's per-call cost counted once, plus the frontend.
  commands  `--commands`: the CPU time of choosing among a list of phrases (CommandSet.match) for the
            demo's 1.9 s command, with data/commands/home.txt (28 phrases) and with lists of 1,000 and
            5,000 phrases (the first words of ARCTIC and LJ Speech sentences, some long ones among them),
            against the recogniser and the final's lexicon search on the same audio; the listener's final
            must be ready within 500 ms of the speech's end (issue 6).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# One thread, as the figures say, whatever the caller's environment says: set before numpy loads its BLAS, whose
# second thread's spinning would count in process time (OpenBLAS reads its own variable before OMP's).
os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

Row = tuple[str, str, str, str]  # group, what, measured, target


def _audio(seconds: float) -> np.ndarray:
    """Speech-like test audio: noise bursts with pauses (the cost does not depend on content)."""
    rng = np.random.default_rng(0)
    n = int(16000 * seconds)
    env = np.repeat(rng.random(n // 1600 + 1) > 0.4, 1600)[:n]
    return (0.1 * rng.standard_normal(n) * (0.05 + env)).astype(np.float32)


def cpu_ms_per_s(fn: Callable[[], None], seconds: float, repeat: int) -> float:
    """CPU ms per second of audio: the process time of `fn`, which processes `seconds` of audio, the best of
    `repeat` runs after an untimed one (what a first call does once is not the work)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return 1000 * best / seconds


def stream(det, audio: np.ndarray, chunk: int) -> None:
    state = det.initial_state()
    for i in range(0, len(audio), chunk):
        _, state = det.step(audio[i: i + chunk], state)


def _frontend_cost(audio: np.ndarray, chunk: int, seconds: float, repeat: int, n_mels: int = 40) -> float:
    """CPU ms per s of the streaming frontend alone over `audio` in `chunk`-sample chunks."""
    from speechseq.frontend import FrontendConfig, StreamingFrontend

    fe = StreamingFrontend(FrontendConfig(n_mels=n_mels))
    fe.step(audio[:chunk], fe.initial_state())  # first call imports scipy.fft: not part of the cost

    def frontend_only() -> None:
        s = fe.initial_state()
        for i in range(0, len(audio), chunk):
            _, s = fe.step(audio[i: i + chunk], s)
    return cpu_ms_per_s(frontend_only, seconds, repeat)


def _empty_call_cost(km, features: np.ndarray, calls: int, seconds: float, repeat: int) -> float:
    """CPU ms per s of `calls` empty onnxruntime calls fed a detector's inputs: the per-call cost no graph goes under."""
    from speechseq.runtime.onnx import direct_run, make_session

    empty = make_session(_identity_graph(["features", "context", "hidden"]))
    names = [o.name for o in empty.get_outputs()]
    run = direct_run(empty)  # as the runtime calls a model: without the Python wrapper's checks of the feed
    ctx, h = km.initial_state()
    feed = {"features": features[None], "context": ctx, "hidden": h}

    def empty_calls() -> None:
        for _ in range(calls):
            run(names, feed, None)
    return cpu_ms_per_s(empty_calls, seconds, repeat)


def detector_rows(seconds: float, repeat: int) -> list[Row]:
    from speechseq.runtime.detector import Detector, KeywordModel

    model = ROOT / "models" / "activate.onnx"
    audio = _audio(seconds)
    rows: list[Row] = []
    rows.append(("detector", "frontend alone, 100 ms chunks (CPU ms per s of audio)",
                 f"{_frontend_cost(audio, 1600, seconds, repeat):.3f}", ""))
    rows += _model_call_rows(model, audio, seconds, repeat)
    for n, merge in ((1, True), (10, True), (10, False)):
        det = Detector.load([model] * n, threads=1, merge=merge)
        how = "" if n == 1 else (", one merged graph" if merge else ", one session each")
        for ms in (80, 100):
            cost = cpu_ms_per_s(lambda: stream(det, audio, 16 * ms), seconds, repeat)
            rows.append(("detector", f"frontend + {n} detector{'s' if n > 1 else ''}{how}, {ms} ms chunks (CPU ms per s)",
                         f"{cost:.3f}", "<= 1 for one keyword" if n == 1 else ""))
    plain = Detector([KeywordModel(model, threads=1, rewrite=False)])  # the file's graph as exported
    for ms in (80, 100):
        cost = cpu_ms_per_s(lambda: stream(plain, audio, 16 * ms), seconds, repeat)
        rows.append(("detector", f"the same with the file's graph as exported (its CumSum normalisation and Conv; the "
                     f"runtime's until session 33), {ms} ms chunks (CPU ms per s)", f"{cost:.3f}", ""))
    rows.append(("detector", "model file size (activate.onnx)", f"{model.stat().st_size / 1e6:.2f} MB", "<= 1 MB"))
    delay = _median_delay(model)
    rows.append(("detector", "median delay, keyword end to event (held-out synthetic voices)",
                 f"{delay:.3f} s" if delay is not None else "n/a (no cache/synth/kw-activate)", ""))
    rows.append(_wake_delay_row(model))
    return rows


def _stream_feeds(km, audio: np.ndarray, chunk: int) -> list[np.ndarray]:
    """The features the detector's own stream of `chunk`-sample chunks passes to each model call."""
    from speechseq.runtime.detector import Detector

    feeds: list[np.ndarray] = []
    run = km.run
    km.run = lambda x, ctx, h: (feeds.append(x), run(x, ctx, h))[1]
    try:
        stream(Detector([km]), audio, chunk)
    finally:
        km.run = run
    return feeds


def _model_call_rows(model: Path, audio: np.ndarray, seconds: float, repeat: int) -> list[Row]:
    """Where one keyword's cost goes: the onnxruntime calls alone, fed the frames a stream of 80 / 100 ms
    chunks gives them (whole strides: 8 frames a call, or 8 and 12 in turn), beside an empty call of
    the same inputs (onnxruntime's own cost per call, which no model can go under)."""
    from speechseq.runtime.detector import KeywordModel

    km = KeywordModel(model, threads=1)
    rows: list[Row] = []
    for ms in (80, 100):
        feeds = _stream_feeds(km, audio, 16 * ms)

        def calls() -> None:
            ctx, h = km.initial_state()
            for x in feeds:
                _, ctx, h = km.run(x, ctx, h)
        rows.append(("detector", f"the model's onnxruntime calls alone, {ms} ms chunks ({len(feeds) / seconds:.1f} calls "
                     "per s; CPU ms per s)", f"{cpu_ms_per_s(calls, seconds, repeat):.3f}", ""))
    rows.append(("detector", f"an empty onnxruntime call of the same inputs, as often ({len(feeds) / seconds:.1f} per s; "
                 "CPU ms per s)",
                 f"{_empty_call_cost(km, feeds[0], len(feeds), seconds, repeat):.3f}", ""))
    return rows


def node_rows(seconds: float, repeat: int) -> list[Row]:
    """Kernel time by node kind (onnxruntime's profiler), per model call of a 100 ms-chunk stream, of the graph the
    runtime makes of activate.onnx (its normalisation and convolution as taps products, speechseq.runtime.conv_taps)."""
    import json
    from collections import Counter

    import tempfile

    from speechseq.runtime.detector import KeywordModel, load_graph
    from speechseq.runtime.onnx import make_session

    model = ROOT / "models" / "activate.onnx"
    km = KeywordModel(model, threads=1)
    feeds = _stream_feeds(km, _audio(seconds), 1600)
    sess = make_session(load_graph(model)[0].SerializeToString(),  # the graph the runtime runs
                        profile_prefix=str(Path(tempfile.gettempdir()) / "speechseq-bench-nodes"))
    names = [o.name for o in sess.get_outputs()]
    ctx, h = km.initial_state()
    for _ in range(repeat):
        for x in feeds:
            _, ctx, h = sess.run(names, km.feed(x, ctx, h))
    trace = Path(sess.end_profiling())
    events = json.loads(trace.read_text())
    trace.unlink()
    kinds: Counter = Counter()
    nodes: set[str] = set()
    run_us = 0.0
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            kinds[e["args"]["op_name"]] += e["dur"]
            nodes.add(e["name"])
        elif e.get("cat") == "Session" and e["name"] == "model_run":
            run_us += e["dur"]
    calls = repeat * len(feeds)
    kernel = sum(kinds.values())
    rows: list[Row] = [("nodes", f"activate.onnx: nodes run per call ({calls} calls profiled)", str(len(nodes)), ""),
                       ("nodes", "kernel time, share of the profiled call time", f"{100 * kernel / run_us:.1f} %", "")]
    for op, us in kinds.most_common():
        rows.append(("nodes", f"{op} kernels, share of kernel time", f"{100 * us / kernel:.1f} %", ""))
    return rows


def floor_rows(seconds: float, repeat: int) -> list[Row]:
    """The least any onnxruntime graph of the shipped model can cost: its essential ops (in the graph the runtime
    runs, the taps product that normalises and windows the frames and the conv's MatMul, each GRU layer, the
    output layer) each run alone in a one-node graph, fed exactly the tensors they get
    inside the model on an 80 ms-chunk stream (captured from the model itself), as often as the stream
    calls the model. Every other node of the graph (slicing, normalisation, transposes) is left out and
    onnxruntime's per-call cost is counted once, so frontend + this floor is what one keyword would cost
    if the graph held nothing but these ops."""
    import onnx
    from onnx import helper

    from speechseq.runtime.detector import KeywordModel, load_graph
    from speechseq.runtime.onnx import direct_run, make_session

    model_path = ROOT / "models" / "activate.onnx"
    audio = _audio(seconds)
    km = KeywordModel(model_path, threads=1)
    feeds = _stream_feeds(km, audio, 1280)
    model = load_graph(model_path)[0]  # the graph the runtime runs (speechseq.runtime.conv_taps)
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    nodes = [n for n in g.node if n.op_type in ("Conv", "GRU", "MatMul", "Gemm")]
    needed = sorted({i for n in nodes for i in n.input if i and i not in inits})
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    have = {o.name for o in probe.graph.output} | {i.name for i in probe.graph.input}
    probe.graph.output.extend(helper.make_tensor_value_info(i, onnx.TensorProto.FLOAT, None) for i in needed if i not in have)
    sess = make_session(probe.SerializeToString())
    names = [o.name for o in sess.get_outputs()]
    captured: list[dict] = []
    ctx, h = km.initial_state()
    for x in feeds:
        feed = km.feed(x, ctx, h)
        outs = {**feed, **dict(zip(names, sess.run(names, feed)))}
        ctx, h = outs["context_out"], outs["hidden_out"]
        captured.append({i: outs[i] for i in needed})

    def alone(node) -> float:
        ins = [i for i in node.input if i and i not in inits]
        one = helper.make_graph([node], node.op_type, [helper.make_tensor_value_info(i, onnx.TensorProto.FLOAT, None) for i in ins],
                                [helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in node.output if o],
                                [inits[i] for i in node.input if i in inits])
        s1 = make_session(helper.make_model(one, opset_imports=model.opset_import).SerializeToString())
        outs1 = [o.name for o in s1.get_outputs()]
        run1 = direct_run(s1)  # called as the runtime calls the model, and as the empty call is
        fed = [{i: c[i] for i in ins} for c in captured]

        def calls() -> None:
            for f in fed:
                run1(outs1, f, None)
        return cpu_ms_per_s(calls, seconds, repeat)

    per_call = _empty_call_cost(km, feeds[0], len(feeds), seconds, repeat)
    front = _frontend_cost(audio, 1280, seconds, repeat, km.n_mels)
    rate = len(feeds) / seconds
    rows: list[Row] = [("floor", f"an empty onnxruntime call ({rate:.1f} calls per s, 80 ms chunks; CPU ms per s)",
                        f"{per_call:.3f}", "")]
    total = per_call
    seen: dict[str, int] = {}
    for node in nodes:
        seen[node.op_type] = seen.get(node.op_type, 0) + 1
        cost = alone(node)
        total += max(0.0, cost - per_call)
        rows.append(("floor", f"{node.op_type} {seen[node.op_type]} of activate.onnx (as run) alone, as often (CPU ms per s)",
                     f"{cost:.3f}", ""))
    rows.append(("floor", "the model's essential ops, one call's cost counted once (CPU ms per s)", f"{total:.3f}", ""))
    rows.append(("floor", "frontend alone, 80 ms chunks (CPU ms per s)", f"{front:.3f}", ""))
    rows.append(("floor", "frontend + the essential ops: the least one keyword costs on onnxruntime (CPU ms per s)",
                 f"{front + total:.3f}", "<= 1 for one keyword"))
    return rows


def _identity_graph(names: list[str]) -> bytes:
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", [n], [n + "_out"]) for n in names], "empty",
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names],
                              [helper.make_tensor_value_info(n + "_out", TensorProto.FLOAT, None) for n in names])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def _wake_delay_row(model: Path) -> Row:
    """`speechseq listen`'s wake delay on every held-out synthetic clip (scripts/detector_levels.py): the
    threshold crossing, clips trimmed and set to a peak of 0.3 over a -60 dBFS floor, 50 ms chunks."""
    from detector_levels import heldout_clips, measure

    from speechseq.runtime.detector import Detector

    what = "median / p90 delay, keyword end to `listen`'s wake (the crossing; held-out synthetic voices at peak 0.3, -60 dBFS floor)"
    clips = heldout_clips([ROOT / "cache" / "synth", ROOT / "cache" / "synth-new"], "activate")
    if not clips:
        return ("detector", what, "n/a (no cache/synth/kw-activate)", "<= 300 ms (issue 6)")
    r = measure(Detector.load([model], max_wait_s=0.0), clips, 0.3, -60.0)
    if r["delay_p50_ms"] is None:
        return ("detector", what, f"n/a ({r['clips']} clips, {100 * r['missed']:.1f} % missed)", "<= 300 ms (issue 6)")
    return ("detector", what, f"{r['delay_p50_ms']:.0f} / {r['delay_p90_ms']:.0f} ms ({r['clips']} clips, "
            f"{100 * r['missed']:.1f} % missed)", "<= 300 ms (issue 6)")


def _median_delay(model: Path) -> float | None:
    import json

    from speechseq.audio import load_audio
    from speechseq.runtime.detector import Detector

    manifest = ROOT / "cache" / "synth" / "kw-activate" / "positives.jsonl"
    if not manifest.exists():
        return None
    det = Detector.load([model])
    rng = np.random.default_rng(1)
    delays = []
    with open(manifest) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    for r in [r for r in rows if r["heldout"]]:
        clip = load_audio(manifest.parent / r["audio_filepath"])
        x = (rng.standard_normal(8000 + len(clip) + 16000) * 10 ** (-70 / 20)).astype(np.float32)
        x[8000: 8000 + len(clip)] += clip
        state, events = det.initial_state(), []
        for i in range(0, len(x), 1600):  # as a microphone delivers it: the event comes with a chunk
            got, state = det.step(x[i: i + 1600], state)
            events += [(e, min(len(x), i + 1600) / 16000) for e in got]
        if events:
            delays.append(events[0][1] - (8000 + len(clip)) / 16000)
    return float(np.median(delays)) if delays else None


def peer_rows(seconds: float, repeat: int) -> list[Row]:
    from importlib.metadata import PackageNotFoundError, version

    from speechseq.runtime.detector import Detector

    audio = _audio(seconds)
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
    ours = Detector.load([ROOT / "models" / "computer.onnx"], threads=1)
    our_cost = cpu_ms_per_s(lambda: stream(ours, audio, 1280), len(audio) / 16000, repeat)
    rows: list[Row] = [("peers", "speechseq: frontend + computer.onnx, 80 ms chunks (CPU ms per s)", f"{our_cost:.3f}", "")]

    def peer(name: str, package: str, install: str, make: Callable[[], tuple[Callable[[], None], float]]) -> None:
        """`make` gives the peer's run over the audio and the seconds of audio that run processes."""
        try:
            ver = version(package)
        except PackageNotFoundError:
            rows.append(("peers", name.replace(" VER", ""), f"n/a (not installed: {install})", ""))
            return
        try:
            run, processed = make()
            cost = cpu_ms_per_s(run, processed, repeat)
        except Exception as e:  # installed, but it cannot run here (a module it needs, its model files): say so
            why = (str(e).splitlines() or [""])[0][:160]
            rows.append(("peers", name.replace("VER", ver), f"n/a ({type(e).__name__}: {why}; {install})", ""))
            return
        rows.append(("peers", name.replace("VER", ver), f"{cost:.3f} (ours: {cost / our_cost:.1f}x less CPU)", ""))

    def porcupine() -> tuple[Callable[[], None], float]:
        import pvporcupine

        handle = pvporcupine.create(keywords=["computer"])
        n = handle.frame_length
        frames = [pcm[i: i + n].tolist() for i in range(0, len(pcm) - n + 1, n)]  # as its examples pass them
        return (lambda: [handle.process(f) for f in frames] and None), len(frames) * n / 16000

    def openwakeword() -> tuple[Callable[[], None], float]:
        from openwakeword.model import Model

        model = Model(wakeword_models=["alexa"], inference_framework="onnx")
        chunks = [pcm[i: i + 1280] for i in range(0, len(pcm) - 1279, 1280)]

        def run() -> None:
            model.reset()
            for c in chunks:
                model.predict(c)
        return run, len(chunks) * 1280 / 16000

    peer("Porcupine VER: 'computer', 512-sample frames (CPU ms per s)", "pvporcupine",
         "pip install --no-deps pvporcupine==1.9.5", porcupine)
    peer("openWakeWord VER: 'alexa', 80 ms chunks (CPU ms per s)", "openwakeword",
         "pip install --no-deps openwakeword==0.5.1", openwakeword)
    return rows


def command_rows(seconds: float, repeat: int) -> list[Row]:
    """CPU ms of CommandSet.match for one command, by list size, beside the recogniser and the lexicon search."""
    from speechseq.audio import load_audio
    from speechseq.commands.common import tuned_lexicon_options
    from speechseq.frontend import logmel
    from speechseq.runtime.command_set import CommandSet
    from speechseq.runtime.lm import OnnxLM
    from speechseq.runtime.recognizer import Recognizer

    rec = Recognizer(ROOT / "models" / "recognizer-en.int8.onnx")
    audio = load_audio(ROOT / "data" / "samples" / "activate_kitchen_lights.wav")[int(2.5 * 16000) : int(4.4 * 16000)]
    feats = logmel(audio, rec.frontend)
    lp = rec.log_probs(feats)
    sentences = []
    for name in ("arctic_prompts.txt", "ljspeech.txt"):
        path = ROOT.parent / "shared" / "data" / "text" / name
        if path.is_file():
            sentences += [x for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    rng = np.random.default_rng(0)   # mostly 3-6 words, one in 50 a whole sentence
    phrases = [s if rng.random() < 0.02 else " ".join(s.split()[: rng.integers(3, 7)]) for s in sentences]

    def ms(fn) -> float:   # CPU ms of one call: the best of `repeat` after an untimed one
        return cpu_ms_per_s(fn, 1.0, repeat)

    what = f"the demo's command ({len(audio) / 16000:.1f} s)"
    lexicon = tuned_lexicon_options(ROOT / "models" / "words-en.npz", OnnxLM(ROOT / "models" / "lm-en.onnx"), 32)
    rows = [("commands", f"recogniser (int8) on {what}: CPU ms", f"{ms(lambda: rec.log_probs(feats)):.1f} ms", ""),
            ("commands", f"lexicon search + LMs, beam 32 (listen's final) on {what}: CPU ms",
             f"{ms(lambda: rec.decode(lp, lexicon)):.1f} ms", "")]
    lists = [("data/commands/home.txt", CommandSet.load(ROOT / "data" / "commands" / "home.txt"))]
    for n in (1000, 5000):
        if len(phrases) >= n:
            lists.append((f"{n:,} phrases", CommandSet(phrases[:n])))
        else:
            rows.append(("commands", f"{n:,} phrases", "n/a (no ../shared/data/text)", ""))
    for name, commands in lists:
        rows.append(("commands", f"CommandSet.match, {name} ({len(commands)} distinct), on {what}: CPU ms",
                     f"{ms(lambda c=commands: c.match(lp)):.1f} ms", "final <= 500 ms after speech (issue 6)"))
    return rows


GROUPS: dict[str, Callable[[float, int], list[Row]]] = {"detector": detector_rows, "peers": peer_rows,
                                                        "nodes": node_rows, "floor": floor_rows,
                                                        "commands": command_rows}


MIN_SECONDS = 1.0  # the shortest audio every row measures: a model call at each chunk size, a peer's whole frames


def print_table(rows: list[Row]) -> None:
    head = ("group", "what", "measured", "target")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


def main() -> None:
    from speechseq.commands.common import bounded

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=bounded(float, ge=MIN_SECONDS), default=60.0,
                    help=f"audio streamed per measurement (at least {MIN_SECONDS:g})")
    ap.add_argument("--repeat", type=bounded(int, ge=1), default=3, help="timed runs per figure, the best is given")
    ap.add_argument("--groups", nargs="+", default=list(GROUPS), choices=list(GROUPS))
    args = ap.parse_args()
    rows: list[Row] = []
    for g in args.groups:
        rows += GROUPS[g](args.seconds, args.repeat)
    print_table(rows)


if __name__ == "__main__":
    main()
