"""The benchmark scripts run and print their tables; a peer that is not installed is named, not fatal."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def test_bench_peers_group_measures_ours_and_names_each_peer():
    out = subprocess.run([sys.executable, "scripts/bench.py", "--seconds", "2", "--repeat", "1", "--groups", "peers"],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| peers")]
    assert len(rows) == 3
    ours = float(rows[0].split("|")[3])
    assert 0 < ours < 1000
    assert "Porcupine" in rows[1] and "openWakeWord" in rows[2]
    for row in rows[1:]:
        cell = row.split("|")[3].strip()
        assert cell.startswith("n/a (") or re.fullmatch(r"[0-9.]+ \(ours: [0-9.]+x less CPU\)", cell), cell


def test_bench_detector_group_splits_the_cost():
    """The detector rows: the frontend, the model's onnxruntime calls alone and an empty call (where
    one keyword's CPU goes), each a positive figure; the empty call costs less than the model's; one keyword
    with the file's own graph (its Conv) beside the runtime's."""
    out = subprocess.run([sys.executable, "scripts/bench.py", "--seconds", "2", "--repeat", "1", "--groups", "detector"],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = {r.split("|")[2].strip(): r.split("|")[3].strip() for r in out.stdout.splitlines() if r.startswith("| detector")}
    value = {k: float(v) for k, v in rows.items() if re.fullmatch(r"[0-9.]+", v)}
    calls = [v for k, v in value.items() if k.startswith("the model's onnxruntime calls alone")]
    empty = [v for k, v in value.items() if k.startswith("an empty onnxruntime call")]
    whole = [v for k, v in value.items() if k.startswith("frontend + 1 detector")]
    as_file = [v for k, v in value.items() if k.startswith("the same with the file's graph")]
    assert len(calls) == 2 and len(empty) == 1 and len(whole) == 2 and len(as_file) == 2
    assert all(v > 0 for v in calls + empty + whole + as_file)
    assert empty[0] < max(calls)                        # a real model costs more than an empty call
    assert rows["model file size (activate.onnx)"].endswith(" MB")
    wake = [v for k, v in rows.items() if k.startswith("median / p90 delay, keyword end to `listen`'s wake")]
    assert len(wake) == 1 and (wake[0].startswith("n/a") or re.match(r"\d+ / \d+ ms \(\d+ clips", wake[0])), wake


def test_bench_recognizer_prints_a_row_per_model_and_decoder():
    out = subprocess.run([sys.executable, "scripts/bench_recognizer.py", "--no-peer", "--models",
                          "models/recognizer-en.int8.onnx"], cwd=ROOT, env=ENV, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| recognizer-en.int8.onnx")]
    assert [r.split("|")[3].strip() for r in rows] == ["greedy", "beam 8"]
    assert all(0 < float(r.split("|")[4]) < 1 for r in rows)      # a real-time factor


def test_bench_nodes_group_splits_a_call_by_node_kind():
    """onnxruntime's profiler: the shares of kernel time by node kind sum to 100 %, the model's
    recurrent and convolution kernels among them."""
    out = subprocess.run([sys.executable, "scripts/bench.py", "--seconds", "2", "--repeat", "1", "--groups", "nodes"],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = {r.split("|")[2].strip(): r.split("|")[3].strip() for r in out.stdout.splitlines() if r.startswith("| nodes")}
    shares = {k.split()[0]: float(v.rstrip(" %")) for k, v in rows.items() if k.endswith("share of kernel time")}
    assert abs(sum(shares.values()) - 100.0) < 0.5
    assert {"GRU", "MatMul", "Reshape"} <= set(shares)  # the runtime's graph (speechseq.runtime.conv_taps):
    assert not {"Conv", "CumSum", "Pad"} & set(shares)    # no conv, running sums or padding
    nodes = next(v for k, v in rows.items() if k.startswith("activate.onnx: nodes run per call"))
    assert 4 <= int(nodes) <= 22
    kernel = next(v for k, v in rows.items() if k.startswith("kernel time, share"))
    assert 0 < float(kernel.rstrip(" %")) <= 100


def test_bench_floor_group_times_each_essential_op():
    """The floor rows: the shipped model's normalisation and conv (a MatMul and a Gemm as the runtime runs them), each GRU
    layer and the output layer, each run alone on the tensors it gets inside the model; the floor adds them with
    one call's cost counted once."""
    out = subprocess.run([sys.executable, "scripts/bench.py", "--seconds", "2", "--repeat", "1", "--groups", "floor"],
                         cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = {r.split("|")[2].strip(): float(r.split("|")[3]) for r in out.stdout.splitlines() if r.startswith("| floor")}
    ops = {k.split(" of ")[0]: v for k, v in rows.items() if " of activate.onnx (as run) alone" in k}
    assert set(ops) == {"MatMul 1", "Gemm 1", "GRU 1", "GRU 2", "Gemm 2"}  # taps, conv, GRUs, output (one_stream)
    assert all(v > 0 for v in rows.values())
    empty = next(v for k, v in rows.items() if k.startswith("an empty onnxruntime call"))
    total = next(v for k, v in rows.items() if k.startswith("the model's essential ops"))
    front = next(v for k, v in rows.items() if k.startswith("frontend alone"))
    least = next(v for k, v in rows.items() if k.startswith("frontend + the essential ops"))
    assert abs(total - (empty + sum(max(0.0, v - empty) for v in ops.values()))) < 0.005
    assert abs(least - (front + total)) < 0.005
    assert total > max(ops["GRU 1"], ops["GRU 2"])  # two recurrent layers cost more than one
