#!/usr/bin/env python
"""Frontend cost: CPU time per second of audio, single thread, streamed (100 ms chunks) and whole-file.

    .venv/bin/python scripts/bench_frontend.py [--seconds 60] [--repeat 5]

Rows: numpy (the runtime frontend) and the ONNX graph on onnxruntime (1 thread), 40 and 80 mels; the ONNX graph
is exported here, which needs torch (`pip install -e '.[train]'`): without it its rows say so. Each figure is the
best of --repeat runs after an untimed one (scripts/bench.py's cpu_ms_per_s).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

# One thread whatever the caller's environment says, before numpy loads its BLAS (bench.py sets the same).
os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speechseq.audio import load_audio  # noqa: E402
from speechseq.commands.common import bounded  # noqa: E402
from speechseq.frontend import FrontendConfig, StreamingFrontend, logmel  # noqa: E402
from bench import cpu_ms_per_s  # noqa: E402  (scripts/bench.py: one CPU-time measure for every table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=bounded(float, ge=0.1), default=60.0, help="audio length (at least 0.1: one 100 ms chunk)")
    ap.add_argument("--repeat", type=bounded(int, ge=1), default=5, help="timed runs per figure, the best is given")
    args = ap.parse_args()
    demo = load_audio(Path(__file__).resolve().parents[1] / "data/samples/activate_kitchen_lights.wav")
    audio = np.resize(demo, int(16000 * args.seconds)).astype(np.float32)
    chunk = 1600
    rows = []
    for n_mels in (40, 80):
        cfg = FrontendConfig(n_mels=n_mels)
        fe = StreamingFrontend(cfg)

        def streamed():
            state = fe.initial_state()
            for i in range(0, len(audio), chunk):
                _, state = fe.step(audio[i : i + chunk], state)

        rows.append((f"numpy, {n_mels} mels", cpu_ms_per_s(streamed, args.seconds, args.repeat),
                     cpu_ms_per_s(lambda: logmel(audio, cfg), args.seconds, args.repeat)))
        try:
            import onnxruntime as ort

            from speechseq.nn.frontend import export_frontend
        except ImportError as err:
            rows.append((f"onnxruntime, {n_mels} mels", f"n/a (cannot export the graph: {err})", None))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "fe.onnx")
            export_frontend(cfg, path)
            so = ort.SessionOptions()
            so.intra_op_num_threads = so.inter_op_num_threads = 1
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            win, hop = cfg.win_length, cfg.hop_length

            def onnx_streamed():
                pending = np.zeros(0, np.float32)
                for i in range(0, len(audio), chunk):
                    buf = np.concatenate([pending, audio[i : i + chunk]])
                    t = 0 if len(buf) < win else 1 + (len(buf) - win) // hop
                    if t:
                        sess.run(None, {"audio": buf[None, : (t - 1) * hop + win]})
                    pending = buf[t * hop :]

            rows.append((f"onnxruntime, {n_mels} mels", cpu_ms_per_s(onnx_streamed, args.seconds, args.repeat),
                         cpu_ms_per_s(lambda: sess.run(None, {"audio": audio[None]}), args.seconds, args.repeat)))
    print(f"frontend CPU time per second of audio (single thread, {args.seconds:g} s of audio, best of {args.repeat})")
    print(f"{'implementation':<24} {'streamed 100 ms (ms/s)':>24} {'whole file (ms/s)':>20}")
    for name, s, w in rows:
        print(f"{name:<24} {s:>24.3f} {w:>20.3f}" if w is not None else f"{name:<24} {s}")


if __name__ == "__main__":
    main()
