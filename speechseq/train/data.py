"""Training data: manifests in the formats people have, mixing, length-bucketed batches.

The code lives in two modules, re-exported here:
- speechseq.train.manifests: `Utterance`, `load_manifest(path, format="auto", split=...)` and
  one loader per format (JSONL, CSV/TSV, LibriSpeech, Common Voice, Speech Commands, Kaldi).
- speechseq.train.batching: `mix` (sampling sources by weight), `length_buckets` (batches
  bounded in padded seconds) and `DistributedBatches` (one rank's share for DDP).

Example:
    train = load_manifest("../shared/data/kathleen/manifest.jsonl", split="train")
    batches = length_buckets(train, batch_seconds=120.0, seed=epoch)
    mine = DistributedBatches(batches, rank, world_size)
"""
from speechseq.train.batching import DistributedBatches, length_buckets, mix
from speechseq.train.manifests import (FORMATS, Utterance, detect_format, load_commonvoice,
                                       load_csv, load_jsonl, load_kaldi, load_librispeech,
                                       load_manifest, load_speech_commands)

__all__ = ["Utterance", "FORMATS", "detect_format", "load_manifest", "load_jsonl", "load_csv",
           "load_librispeech", "load_commonvoice", "load_speech_commands", "load_kaldi",
           "mix", "length_buckets", "DistributedBatches"]
