"""edit_distance: exact S/D/I counts of the full-table implementation, in little memory."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from speechseq.metrics import EditOps, edit_distance


def full_table_edit_distance(ref, hyp) -> EditOps:
    """The previous implementation (full int64 cost table), kept as the reference for ties."""
    vocab = {}
    r = np.array([vocab.setdefault(x, len(vocab)) for x in ref], dtype=np.int64)
    h = np.array([vocab.setdefault(x, len(vocab)) for x in hyp], dtype=np.int64)
    n, m = r.size, h.size
    d = np.empty((n + 1, m + 1), dtype=np.int64)
    cols = np.arange(m + 1)
    d[0] = cols
    for i in range(1, n + 1):
        row = np.empty(m + 1, dtype=np.int64)
        row[0] = i
        row[1:] = np.minimum(d[i - 1, :-1] + (h != r[i - 1]), d[i - 1, 1:] + 1)
        d[i] = np.minimum.accumulate(row - cols) + cols
    i, j, subs, dels, ins = n, m, 0, 0, 0
    while i > 0 or j > 0:
        if i > 0 and j > 0 and d[i, j] == d[i - 1, j - 1] + (r[i - 1] != h[j - 1]):
            subs += int(r[i - 1] != h[j - 1])
            i, j = i - 1, j - 1
        elif i > 0 and d[i, j] == d[i - 1, j] + 1:
            dels, i = dels + 1, i - 1
        else:
            ins, j = ins + 1, j - 1
    return EditOps(subs, dels, ins, n)


def _mutated(rng, a: str, alphabet: str, n_edits: int) -> str:
    b = list(a)
    for _ in range(n_edits):
        k = int(rng.integers(0, len(b) + 1))
        op = rng.integers(0, 3)
        if op == 0 and k < len(b):
            b[k] = rng.choice(list(alphabet))
        elif op == 1 and k < len(b):
            del b[k]
        else:
            b.insert(k, rng.choice(list(alphabet)))
    return "".join(b)


def test_same_counts_as_full_table_on_random_pairs():
    rng = np.random.default_rng(1)
    checked = 0
    for alphabet in ("a", "ab", "abc", "abcdefghij "):          # one or few symbols: many ties
        for _ in range(750):
            a = "".join(rng.choice(list(alphabet), rng.integers(0, 14)))
            b = "".join(rng.choice(list(alphabet), rng.integers(0, 14)))
            assert edit_distance(a, b) == full_table_edit_distance(a, b), (a, b)
            checked += 1
    for n_a, n_b in [(0, 0), (0, 9), (9, 0), (1, 1), (7, 8), (8, 7), (8, 8), (9, 16), (17, 1)]:
        a, b = "ab" * n_a, "b" * n_b                              # row widths around the 8-bit packing
        assert edit_distance(a, b) == full_table_edit_distance(a, b)
        assert edit_distance(b, a) == full_table_edit_distance(b, a)
    for k in range(40):                                           # long, across several 64-row blocks
        a = "".join(rng.choice(list("abcd "), rng.integers(100, 700)))
        b = _mutated(rng, a, "abcd ", int(rng.integers(0, 120))) if k % 4 else \
            "".join(rng.choice(list("abcd "), rng.integers(0, 700)))
        assert edit_distance(a, b) == full_table_edit_distance(a, b)
        checked += 1
    words = "the cat sat on a mat".split()                        # word tokens, not characters
    for _ in range(200):
        a = list(rng.choice(words, rng.integers(0, 10)))
        b = list(rng.choice(words, rng.integers(0, 10)))
        assert edit_distance(a, b) == full_table_edit_distance(a, b)
    assert checked == 3040


def test_long_form_cer_pair_fits_in_little_memory():
    # A 10-minute utterance: ~9,000 characters each side. The full int64 cost table took ~650 MB.
    code = textwrap.dedent("""
        import tracemalloc
        import numpy as np
        from speechseq.metrics import edit_distance
        rng = np.random.default_rng(0)
        ref = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz "), 9000))
        hyp = list(ref)
        for k in rng.choice(9000, 900, replace=False):
            hyp[k] = "x"
        tracemalloc.start()
        ops = edit_distance(ref, "".join(hyp))
        changed = sum(a != b for a, b in zip(ref, hyp))
        print(tracemalloc.get_traced_memory()[1], ops.substitutions - changed, ops.deletions, ops.insertions)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    peak, subs_minus_changed, dels, ins = map(int, out.split())
    assert peak < 150e6
    assert (subs_minus_changed, dels, ins) == (0, 0, 0)
