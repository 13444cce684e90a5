"""scripts/train_recognizer.py: synthetic features split into shard folders (one GPU transfer each)
load back as the same training set."""
from __future__ import annotations


import numpy as np

from speechseq.frontend import FrontendConfig
from speechseq.train.featbank import FeatureBank, quantize
from tests.script_loader import load_script



def _script():
    return load_script("train_recognizer", "train_recognizer_script")


def _bank(n: int, source: str, seed: int) -> FeatureBank:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(50, 400, n)           # 0.5-4 s each
    frames = quantize(rng.normal(-6, 3, (int(lengths.sum()), 80)).astype(np.float32))
    return FeatureBank(frames, np.concatenate([[0], np.cumsum(lengths)]), [f"u{i}" for i in range(n)],
                       [source] * n, FrontendConfig(n_mels=80).to_dict())


def test_shards_split_by_hours_and_load_back_whole(tmp_path):
    tr = _script()
    synth = _bank(120, "synth", 0)
    pieces = tr._shards(synth, tmp_path, "synth", "train", shard_hours=synth.hours / 3.5)
    assert len(pieces) == 4
    assert pieces[0][0] == tmp_path / "synth_train" and pieces[1][0] == tmp_path / "shard1" / "synth_train"
    assert all(p.hours <= synth.hours / 3.5 + 1e-9 for _, p in pieces)
    assert sum(len(p) for _, p in pieces) == len(synth)
    assert tr._shards(synth, tmp_path, "synth", "val", shard_hours=0.001)[0][1] is synth      # never the val side
    assert len(tr._shards(_bank(50, "kathleen", 1), tmp_path, "kathleen", "train", 0.001)) == 1  # nor real sets
    for where, piece in pieces:
        where.parent.mkdir(parents=True, exist_ok=True)
        piece.save(where)
    for name, bank in (("kathleen_train", _bank(30, "kathleen", 2)), ("synth_val", _bank(5, "synth", 3)),
                       ("kathleen_val", _bank(4, "kathleen", 4)), ("noise", _bank(1, "noise", 5))):
        bank.save(tmp_path / name)
    train, val, noise = tr.load_banks([tmp_path])
    assert len(train) == 30 + 120 and sorted(val) == ["kathleen", "synth"]
    got = sorted(train.lengths[np.array(train.sources) == "synth"].tolist())
    assert got == sorted(synth.lengths.tolist())
    assert noise.shape[1] == 80
    # a shard folder given on its own: only its share, validation from the first folder that has it
    train2, val2, _ = tr.load_banks([tmp_path, tmp_path / "shard1"])
    assert len(train2) == len(train)                                  # not read twice
