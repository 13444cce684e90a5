#!/usr/bin/env python
"""Could the recogniser confirm a detector's wake, as a second stage? Its reading of a Precise wake word's real
clips against its reading of real speech without the keyword.

    .venv/bin/python scripts/keyword_check.py [--keyword amelia] [--recognizer models/recognizer-en.int8.onnx]

The idea (session 38): the detectors miss real voices because they have heard only synthetic ones, while the
recogniser has heard a real voice (Kathleen) too. A detector run at a low threshold would pass its candidates to a
keyword check over the audio just before each one, so that the check, not the detector's threshold, keeps the
false accepts down. The check is a Viterbi keyword search with a free start and end (`keyword_score`): the best
CTC path that spells the keyword somewhere in the stretch, against the best free path over the same frames, so
0 where the recogniser's own reading is the keyword and more negative the more the audio says something else.

Measured, session 38 (this machine; the shipped recognizer-en.int8.onnx; 223 real Precise "amelia" clips, each
scored whole; 1,817 two-second windows, hop 0.5 s, of eval_detectors.py's real speech without the keyword:
Kathleen dev, FSDD test, Kathleen/FSDD train 15 %, Precise not-wake-word half):
- the clips' scores, percentiles 5 / 10 / 25 / 50 / 75 / 90: -69.0 / -64.8 / -43.1 / -20.0 / -12.1 / -8.0;
- the windows': median -33.8, 90th percentile -20.4, 99th -13.5, highest -8.3;
- at -8, above every window, 9.9 % of the clips pass; at -12, 24.2 % pass and 8 windows do.
The recogniser reads these voices as "zere", "fobaly", "anaet", "a a neet" (greedy, the lines this script prints):
it cannot confirm what it does not hear, so no second stage is built on it. A recogniser that reads real voices (issue 4's GPU training) is the
precondition; this script measures it again then.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_detectors import real_sets  # noqa: E402
from speechseq.audio import load_audio  # noqa: E402
from speechseq.frontend import logmel  # noqa: E402
from speechseq.runtime.recognizer import Recognizer  # noqa: E402
from speechseq.text import encode  # noqa: E402


def keyword_score(log_probs: np.ndarray, tokens: Sequence[int], blank: int = 0) -> float:
    """max over spans [s, e] and CTC paths pi spelling `tokens` in them of sum_t (log p_t(pi_t) - max_k log p_t(k)):
    <= 0; -inf where the frames are too few."""
    lp = np.asarray(log_probs, dtype=np.float64)
    ext = np.full(2 * len(tokens) + 1, blank, dtype=np.int64)   # blank, t1, blank, ..., tn, blank
    ext[1::2] = tokens
    skip = np.zeros(len(ext), dtype=bool)                        # a symbol may follow the one two back
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    cost = lp[:, ext] - lp.max(axis=1, keepdims=True)
    d, best = np.full(len(ext), -1e30), -1e30
    for t in range(len(lp)):
        prev, d = d, d.copy()
        np.maximum(d[1:], prev[:-1], out=d[1:])
        d[2:][skip[2:]] = np.maximum(d[2:][skip[2:]], prev[:-2][skip[2:]])
        d[0], d[1] = max(d[0], 0.0), max(d[1], 0.0)              # a span starts here
        d += cost[t]
        best = max(best, d[-1], d[-2])                           # or ends here
    return float(best) if best > -1e29 else float("-inf")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keyword", default="amelia", help="a Precise wake word: amelia, android, hey chatterbox")
    ap.add_argument("--recognizer", type=Path, default=ROOT / "models" / "recognizer-en.int8.onnx")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    rec = Recognizer(args.recognizer)
    sets = real_sets(args.data, args.keyword)
    if not sets["keyword_real"]:
        raise SystemExit(f"no real clips of {args.keyword!r} in {args.data / 'precise'}")
    if not sets["unseen"] + sets["threshold_choice"]:
        raise SystemExit(f"no real speech without {args.keyword!r} in {args.data} (Kathleen, FSDD, Precise "
                         "not-wake-word): nothing to compare the clips' scores with")
    tokens = encode(args.keyword)
    pos = []
    for i, f in enumerate(sets["keyword_real"]):
        lp = rec.log_probs(logmel(load_audio(f), rec.frontend))
        pos.append(keyword_score(lp, tokens))
        if i % 15 == 0:
            print(f"{f.name}: read as {rec.decode(lp).text!r}, score {pos[-1]:.1f}", flush=True)
    neg = []
    for f in sets["unseen"] + sets["threshold_choice"]:
        lp = rec.log_probs(logmel(load_audio(f), rec.frontend))
        neg += [keyword_score(lp[s:s + 100], tokens) for s in range(0, max(1, len(lp) - 99), 25)]  # 2 s, hop 0.5 s
    pos, neg = np.array(pos), np.array(neg)
    print(f"{len(pos)} real clips, score percentiles 5/10/25/50/75/90: "
          + " / ".join(f"{v:.1f}" for v in np.percentile(pos, [5, 10, 25, 50, 75, 90])))
    print(f"{len(neg)} windows of real speech without it: median {np.median(neg):.1f}, 90th percentile "
          f"{np.percentile(neg, 90):.1f}, 99th {np.percentile(neg, 99):.1f}, highest {neg.max():.1f}")
    for th in (-4, -6, -8, -10, -12, -15):
        print(f"at {th}: {100 * np.mean(pos >= th):.1f} % of the clips pass, {int(np.sum(neg >= th))} windows do")


if __name__ == "__main__":
    from speechseq.errors import SpeechseqError

    try:
        main()
    except (SpeechseqError, OSError) as err:  # a missing model, manifest or audio file: one line
        sys.exit(f"keyword_check.py: {err}")
