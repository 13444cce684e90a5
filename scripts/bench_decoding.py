"""Time the CTC decoders on synthetic, CTC-like (peaky) log-probs of 10 s of audio.

Usage:
    python scripts/bench_decoding.py            # table, one thread (the script sets OMP_NUM_THREADS=1 itself)
    python scripts/bench_decoding.py --reps 50 --seed 1

Rows: greedy; prefix beam 8; beam 8 + a random fixed-table bigram LM (the decoder's own cost);
beam 8 + a numpy GRU LM with random weights (H=256: about what a real character LM costs).
Columns: milliseconds per 10 s of audio at 40 ms frames (T=250) and at 20 ms frames (T=500): five clips of
10 s each, the fastest of --reps runs over all five, per clip.
"""
from __future__ import annotations

import argparse
import os
import time

# One thread, as the table says, whatever the caller's environment says: set before numpy loads its BLAS, whose
# second thread's spinning counts in process time (the GRU LM rows read 1.7-4.7x their one-thread figures here).
os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
import numpy as np  # noqa: E402

from speechseq.commands.common import bounded  # noqa: E402
from speechseq.runtime.decoding import greedy, prefix_beam_search  # noqa: E402
from speechseq.text import BLANK, CTC_SIZE, SOS, SPACE, VOCAB  # noqa: E402

LETTERS = np.arange(2, 28)


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def fake_ctc_output(rng: np.random.Generator, n_frames: int, frame_s: float) -> np.ndarray:
    """(T, CTC_SIZE) log-probs: ~14 characters per second (3 words/s), each a 1-2 frame spike
    with a random height, blanks between; one spike in eight has a close runner-up."""
    logits = rng.normal(0.0, 1.0, (n_frames, CTC_SIZE))
    blank_boost = rng.uniform(7.0, 14.0, n_frames)     # blank frames: P(blank) ~ 0.97-0.99999
    t = 0
    while t < n_frames:
        t += int(rng.poisson(max(1.0 / (14 * frame_s) - 1.5, 0.0)))
        sym = SPACE if rng.random() < 0.18 else int(rng.choice(LETTERS))
        for _ in range(int(rng.integers(1, 3))):
            if t >= n_frames:
                break
            blank_boost[t] = rng.uniform(0.0, 3.0)
            logits[t, sym] += rng.uniform(4.0, 10.0)
            if rng.random() < 0.125:
                logits[t, int(rng.choice(LETTERS))] += rng.uniform(3.0, 8.0)
            t += 1
    logits[:, BLANK] += blank_boost
    return log_softmax(logits).astype(np.float32)


class BigramLM:
    """Random fixed-table LM; state (B, 1) = the previous token (kept only to exercise states)."""

    def __init__(self, rng: np.random.Generator):
        self.table = log_softmax(rng.normal(0, 2, (len(VOCAB), len(VOCAB))))

    def initial_state(self) -> np.ndarray:
        return np.full((1, 1), SOS, dtype=np.int64)

    def step(self, tokens: np.ndarray, states: np.ndarray):
        return self.table[tokens], tokens[:, None]


class GruLM:
    """One-layer GRU character LM in numpy, random weights; state (B, H)."""

    def __init__(self, rng: np.random.Generator, hidden: int = 256, emb: int = 64):
        v, s = len(VOCAB), 1 / np.sqrt(hidden)
        self.emb = rng.normal(0, 1, (v, emb)).astype(np.float32)
        self.w = rng.normal(0, s, (emb, 3 * hidden)).astype(np.float32)
        self.u = rng.normal(0, s, (hidden, 3 * hidden)).astype(np.float32)
        self.out = rng.normal(0, s, (hidden, v)).astype(np.float32)
        self.hidden = hidden

    def initial_state(self) -> np.ndarray:
        return np.zeros((1, self.hidden), dtype=np.float32)

    def step(self, tokens: np.ndarray, h: np.ndarray):
        x, hu, n = self.emb[tokens] @ self.w, h @ self.u, self.hidden
        z = 1 / (1 + np.exp(-(x[:, :n] + hu[:, :n])))
        r = 1 / (1 + np.exp(-(x[:, n:2 * n] + hu[:, n:2 * n])))
        h = (1 - z) * np.tanh(x[:, 2 * n:] + r * hu[:, 2 * n:]) + z * h
        return log_softmax(h @ self.out), h


def time_ms(fn, mats, reps: int) -> float:
    """CPU ms of `fn` per clip: each of `reps` runs decodes every clip of `mats`, the fastest run is taken (the least
    disturbed by other load) and divided by the clips. The fastest of single clips was the cheapest clip's time."""
    times = []
    for _ in range(reps):
        start = time.process_time()
        for m in mats:
            fn(m)
        times.append(time.process_time() - start)
    return 1e3 * float(np.min(times)) / len(mats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--reps", type=bounded(int, ge=1), default=20,
                        help="timed runs per cell, each over the 5 clips (the fastest is reported: least disturbed by "
                             "other load)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    bigram, gru = BigramLM(rng), GruLM(rng)
    rows = {
        "greedy": greedy,
        "beam 8": lambda lp: prefix_beam_search(lp, beam_size=8),
        "beam 8 + bigram table LM": lambda lp: prefix_beam_search(lp, beam_size=8, lm=bigram),
        "beam 8 + numpy GRU LM (H=256)": lambda lp: prefix_beam_search(lp, beam_size=8, lm=gru),
    }
    setups = {"T=250 (40 ms)": (250, 0.04), "T=500 (20 ms)": (500, 0.02)}
    mats = {name: [fake_ctc_output(rng, n, shift) for _ in range(5)] for name, (n, shift) in setups.items()}
    skipped = {name: np.mean([np.mean(m[:, BLANK] > np.log(0.999)) for m in ms]) for name, ms in mats.items()}
    print(f"CPU ms per 10 s of audio (per clip of 5: the best of {args.reps} runs over all five, process time, "
          "1 thread)")
    print(f"{'decoder':32s}" + "".join(f"{name:>16s}" for name in setups))
    for label, fn in rows.items():
        for m in mats.values():
            fn(m[0])                                  # warm-up
        print(f"{label:32s}" + "".join(f"{time_ms(fn, mats[name], args.reps):16.2f}" for name in setups))
    print("blank-skipped frames: " + ", ".join(f"{name} {100 * v:.0f}%" for name, v in skipped.items()))
    lp = mats["T=250 (40 ms)"][0]
    print("greedy vs beam 8 text agree on a sample:", greedy(lp).text == prefix_beam_search(lp)[0].text)


if __name__ == "__main__":
    main()
