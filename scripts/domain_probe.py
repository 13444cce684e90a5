#!/usr/bin/env python
"""How well a detector's features tell synthetic speech from real speech: a linear probe.

    .venv/bin/python scripts/domain_probe.py runs/s19/amelia-natural/snapshots/epoch_010.pt \\
        runs/s21/amelia-natural-dann-end/snapshots/epoch_010.pt --banks cache/kwbanks-s19 --keyword amelia

The clips of domain-adversarial training (speechseq.train.domain.DomainData: the keyword bank's
synthetic training negatives against pieces of its real background speech, mixed over the same
noise alike; 12 batches of 16 + 16 examples, seed 0) go through each checkpoint's conv + GRUs, and
a logistic regression (torch, L-BFGS, standardised features) learns "synthetic or real" from two
thirds of them and is scored on the rest, on two readings of the last GRU layer: its average over
each example ("mean") and its output steps just after each clip ends ("end", where a keyword head
decides). 0.5 is chance: the lower, the less the features carry which kind of voice spoke. Takes
checkpoints (snapshots/epoch_NNN.pt, best.pt, final.pt; the EMA weights where a file has them).

Session 21 (amelia, epoch-5 snapshots): the bare "natural" recipe (runs/s19) 0.859 / 0.782 (mean /
end), the "natural-dann" run (critic on the mean; runs/s21, stopped after epoch 5) 0.859 / 0.769: its
critic, at chance all along (train_domain_acc 0.48-0.50), had changed nothing. The "natural-dann-end"
runs (critic on the end steps), epoch 10: amelia 0.781 / 0.745 against runs/s19's 0.797 / 0.785;
android 0.773 / 0.730 against runs/s20's two seeds 0.789 / 0.785 and 0.852 / 0.787 (and yet more real
clips missed: scripts/train_detectors.py, "natural-dann-end").
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))


def probe_accuracy(x: np.ndarray, y: np.ndarray, seed: int = 1) -> float:
    """Held-out accuracy (a third of the rows) of a logistic regression fitted on the rest."""
    import torch

    idx = np.random.default_rng(seed).permutation(len(x))
    cut = len(x) * 2 // 3
    tr, te = idx[:cut], idx[cut:]
    mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
    xt = torch.tensor((x - mu) / sd, dtype=torch.float64)
    yt = torch.tensor(y, dtype=torch.float64)
    w = torch.zeros(x.shape[1] + 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        logits = xt[tr] @ w[:-1] + w[-1]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yt[tr]) + 1e-3 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = (xt[te] @ w[:-1] + w[-1]) > 0
    return float((pred.double() == yt[te]).double().mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--banks", type=Path, required=True, help="feature banks (train_detectors.py --stage bank)")
    ap.add_argument("--keyword", required=True)
    ap.add_argument("--negative-keywords", nargs="*", default=["activate", "computer", "amelia"])
    ap.add_argument("--batches", type=int, default=12)
    args = ap.parse_args()

    import torch

    import train_detectors as td
    from speechseq.nn.detector import Detector, DetectorConfig
    from speechseq.train.domain import DomainData
    from speechseq.train.kwmix import MixConfig

    torch.set_num_threads(1)
    others = [k for k in args.negative_keywords if k != args.keyword]
    bank = td.keyword_bank(args.banks, args.keyword, others, td.BG_WEIGHTS, td.NATURAL)
    data = DomainData(bank, MixConfig(), DetectorConfig().stride)
    rng = np.random.default_rng(0)
    batches = [data.batch(rng, 16) for _ in range(args.batches)]
    print("| checkpoint | mean: accuracy | end: accuracy |\n|---|---|---|")
    for path in args.checkpoints:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        cfg = ck.get("model_config")  # epoch snapshots carry none: the runs' own default
        model = Detector(DetectorConfig.from_dict(cfg) if cfg else DetectorConfig())
        model.load_state_dict(ck.get("ema") or ck["model"])
        model.eval()
        xm, ym, xe, ye = [], [], [], []
        with torch.no_grad():
            for x, y, ends in batches:
                h = model.encode(x)
                xm.append(h.mean(1).numpy())
                ym.append(y.numpy())
                at = ends > 0
                xe.append(h[at].numpy())
                ye.append(y[:, None].expand_as(ends)[at].numpy())
        mean = probe_accuracy(np.concatenate(xm), np.concatenate(ym))
        end = probe_accuracy(np.concatenate(xe), np.concatenate(ye))
        print(f"| {path} | {mean:.3f} | {end:.3f} |", flush=True)


if __name__ == "__main__":
    main()
