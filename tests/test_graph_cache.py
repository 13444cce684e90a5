"""The detector graph cache: a second load reads the rewritten graphs from disk without importing onnx, with the same
posteriors; a damaged entry, a changed model file and an unwritable folder each fall back to building the graph."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from speechseq.runtime.detector import Detector, KeywordModel
from speechseq.runtime.graph_cache import cache_folder
from speechseq.runtime.onnx import read_metadata, write_metadata

ROOT = Path(__file__).resolve().parents[1]
MODELS = [ROOT / "models" / "activate.onnx", ROOT / "models" / "computer.onnx"]

# Streams the demo recording through the shipped detectors (merged) and one of them alone; prints whether onnx was
# imported, the cache's entries and the posteriors' bytes' digest.
_RUN = """
import hashlib, sys, numpy as np
from speechseq.audio import load_audio
from speechseq.runtime.detector import Detector
from speechseq.runtime.graph_cache import cache_folder
audio = load_audio(sys.argv[1])
h = hashlib.sha256()
for paths in (sys.argv[2:], sys.argv[2:3]):
    det = Detector.load(paths)
    state, post = det.initial_state(), [[] for _ in paths]
    for i in range(0, len(audio), 1280):
        _, state = det.step(audio[i:i + 1280], state, post)
    for p in post:
        h.update(np.concatenate(p).tobytes())
folder = cache_folder()
print("onnx" in sys.modules, len(list(folder.glob("*.onnx"))) if folder.is_dir() else 0, h.hexdigest())
"""


def _run(cache: Path) -> tuple[str, str, str]:
    env = {**os.environ, "SPEECHSEQ_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", _RUN, str(ROOT / "data" / "samples" / "activate_kitchen_lights.wav"),
                          *map(str, MODELS)], env=env, capture_output=True, text=True, check=True)
    return tuple(out.stdout.split())


def test_a_second_load_needs_no_onnx_and_gives_the_same_posteriors(tmp_path):
    first = _run(tmp_path / "c")
    assert first[:2] == ("True", "3")              # built: two keywords and their merged graph
    second = _run(tmp_path / "c")
    assert second == ("False", "3", first[2])       # read: no onnx import, the same posteriors bit for bit
    # A damaged entry is built again (and mended), with the same posteriors.
    for f in (tmp_path / "c" / "graphs").glob("*.onnx"):
        f.write_bytes(f.read_bytes()[:-10] + b"0123456789")
    assert _run(tmp_path / "c") == ("True", "3", first[2])
    assert _run(tmp_path / "c") == ("False", "3", first[2])
    # Without a usable folder (a file stands where it should be) nothing is kept, and nothing else changes.
    (tmp_path / "file").write_text("not a folder")
    assert _run(tmp_path / "file") == ("True", "0", first[2])


def test_a_changed_model_file_is_a_new_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "c"))
    assert cache_folder() == tmp_path / "c" / "graphs"
    path = tmp_path / "kw.onnx"
    shutil.copy(MODELS[0], path)
    assert KeywordModel(path).threshold == pytest.approx(read_metadata(MODELS[0])["threshold"])
    write_metadata(path, {**read_metadata(path), "threshold": 0.123})
    assert KeywordModel(path).threshold == pytest.approx(0.123)
    records = [json.loads(p.read_text())["record"] for p in (tmp_path / "c" / "graphs").glob("*.json")]
    assert sorted(r["meta"]["threshold"] for r in records) == sorted([read_metadata(MODELS[0])["threshold"], 0.123])
    # An edited record (its digest no longer matches) is built again.
    for p in (tmp_path / "c" / "graphs").glob("*.json"):
        stored = json.loads(p.read_text())
        stored["record"]["meta"]["threshold"] = 0.5
        p.write_text(json.dumps(stored))
    assert KeywordModel(path).threshold == pytest.approx(0.123)


def test_a_file_replaced_while_it_is_built_keeps_the_bytes_that_were_read(tmp_path, monkeypatch):
    """The graph is built from the bytes the key was made of: a file replaced meanwhile (here: between the read and
    the build) does not put the new file's graph under the old file's key."""
    import speechseq.runtime.detector_graph as detector

    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "c"))
    path = tmp_path / "kw.onnx"
    shutil.copy(MODELS[0], path)
    shipped = read_metadata(MODELS[0])["threshold"]
    real = detector._parse

    def replaced_meanwhile(p, data=None):
        if Path(p) == path and read_metadata(path)["threshold"] != 0.321:
            write_metadata(path, {**read_metadata(path), "threshold": 0.321})
        return real(p, data)
    monkeypatch.setattr(detector, "_parse", replaced_meanwhile)
    assert KeywordModel(path).threshold == pytest.approx(shipped)       # the bytes it read
    monkeypatch.setattr(detector, "_parse", real)
    assert KeywordModel(path).threshold == pytest.approx(0.321)        # the file as it is now
    assert KeywordModel(MODELS[0]).threshold == pytest.approx(shipped)  # the old bytes' entry is right


def test_without_the_code_s_source_it_builds_every_time(tmp_path, monkeypatch):
    from speechseq.runtime import graph_cache

    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "c"))
    monkeypatch.setattr(graph_cache, "_CODE", graph_cache._CODE + ("not-installed.py",))
    monkeypatch.setattr(graph_cache, "_code_digest", None)
    assert KeywordModel(MODELS[0]).keyword == "activate"
    assert not (tmp_path / "c").exists()


def test_missing_broken_and_foreign_files_are_model_errors_at_load(tmp_path, monkeypatch):
    """Each names the file, at load (also where the session itself is made later), and nothing is kept for it."""
    import onnx
    from onnx import helper

    from speechseq.runtime.onnx import ModelError

    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "c"))
    with pytest.raises(ModelError, match="none.onnx: no such model file"):
        KeywordModel(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"\x00garbage" * 10)
    (tmp_path / "empty.onnx").write_bytes(b"")
    for name in ("bad.onnx", "empty.onnx"):
        with pytest.raises(ModelError, match=f"{name}: cannot load ONNX model"):
            Detector.load([MODELS[1], tmp_path / name])
    with pytest.raises(ModelError, match="lm-en.onnx: a language model, not a trigger-word detector"):
        KeywordModel(ROOT / "models" / "lm-en.onnx")
    # detector metadata without a field it needs, or with one of the wrong kind
    meta = read_metadata(MODELS[0])
    for name, broken, why in (("nothr.onnx", {k: v for k, v in meta.items() if k != "threshold"}, "without 'threshold'"),
                              ("oddfe.onnx", {**meta, "frontend": {"hop": 1}}, "not readable"),
                              ("oddstride.onnx", {**meta, "stride": "four"}, "not readable")):
        shutil.copy(MODELS[0], tmp_path / name)
        write_metadata(tmp_path / name, broken)
        with pytest.raises(ModelError, match=f"{name}: detector metadata {why}"):
            KeywordModel(tmp_path / name)
    # a detector with a node onnxruntime does not know
    model = onnx.load(str(MODELS[0]))
    model.graph.node.append(helper.make_node("NoSuchOp", ["probs"], ["odd"], domain="nowhere.example"))
    model.graph.output.append(helper.make_tensor_value_info("odd", onnx.TensorProto.FLOAT, None))
    model.opset_import.append(helper.make_opsetid("nowhere.example", 1))
    onnx.save(model, str(tmp_path / "unknownop.onnx"))
    with pytest.raises(ModelError, match="unknownop.onnx: cannot load ONNX model"):
        KeywordModel(tmp_path / "unknownop.onnx")
    with pytest.raises(ModelError, match="unknownop.onnx: cannot load ONNX model"):
        Detector.load([MODELS[1], tmp_path / "unknownop.onnx"])
    kept = [json.loads(p.read_text())["record"]["meta"] for p in (tmp_path / "c" / "graphs").glob("*.json")]
    assert sorted(m["keyword"] for m in kept if m["keyword"] == "computer") == ["computer"]  # once, beside them
    assert not [m for m in kept if m["keyword"] != "activate" and m["keyword"] != "computer"]


def test_the_folder_keeps_the_most_recently_used(tmp_path, monkeypatch):
    import time

    from speechseq.runtime import graph_cache

    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "c"))
    monkeypatch.setattr(graph_cache, "MAX_ENTRIES", 2)
    src = tmp_path / "m.bin"
    src.write_bytes(b"model")
    built = []

    def load(kind: str) -> bytes:
        def build(files):
            assert files == [b"model"]
            built.append(kind)
            return kind.encode(), {"kind": kind}, None, True
        graph, record, _ = graph_cache.cached(kind, [src], build)
        assert graph == kind.encode() and record["kind"] == kind
        time.sleep(0.02)  # distinct modification times
        return graph

    for kind in ("a", "b", "a", "c", "a", "b"):
        load(kind)
    # a kept (used again before c came), b dropped for c, then built again and c dropped
    assert built == ["a", "b", "c", "b"]
    assert len(list((tmp_path / "c" / "graphs").glob("*.onnx"))) == 2


def test_tensors_in_another_file_are_read_and_never_kept(tmp_path, monkeypatch):
    """A model whose weights lie in a file beside it (ONNX external data) loads from any working directory with
    those weights, and is not cached: the key does not cover that file, so a changed one is read afresh."""
    import onnx

    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "c"))
    monkeypatch.chdir(ROOT)
    folder = tmp_path / "ext"
    folder.mkdir()
    onnx.save_model(onnx.load(str(MODELS[0])), str(folder / "kw.onnx"), save_as_external_data=True,
                    location="kw.data", size_threshold=1024)
    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1

    def posteriors(paths):
        det = Detector.load(paths)
        post = [[] for _ in paths]
        det.step(audio, det.initial_state(), post)
        return [np.concatenate(p) for p in post]

    want = posteriors([MODELS[0], MODELS[1]])
    got = posteriors([folder / "kw.onnx", MODELS[1]])
    assert all(np.array_equal(a, b) for a, b in zip(want, got))
    kept = [json.loads(p.read_text())["record"] for p in (tmp_path / "c" / "graphs").glob("*.json")]
    assert sorted(r["meta"]["keyword"] for r in kept if "meta" in r) == ["activate", "computer"]
    assert len(kept) == 3                            # and the shipped pair's merge; nothing of kw.onnx's


def test_a_file_changed_between_loading_and_merging_leaves_no_entry_that_breaks_later_loads(tmp_path, monkeypatch):
    from speechseq.runtime.onnx import ModelError

    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "c"))
    kw1, kw2 = tmp_path / "kw1.onnx", tmp_path / "kw2.onnx"
    shutil.copy(MODELS[0], kw1)
    shutil.copy(MODELS[0], kw2)
    members = [KeywordModel(kw1), KeywordModel(kw2)]                 # both with 105 context frames
    shutil.copy(ROOT / "tests" / "fixtures" / "listener" / "activate.onnx", kw2)  # 5 context frames
    try:
        Detector(members)                                           # merged from stale sizes: may fail, or not
    except ModelError:
        pass
    det = Detector.load([kw1, kw2])                                 # the files as they are now
    assert [m.context for m in det.models] == [105, 5] and det._merged is not None
    post = [[], []]
    det.step(np.zeros(3200, np.float32), det.initial_state(), post)
    assert [len(np.concatenate(p)) for p in post] == [4, 4]             # 18 frames: 4 strides of 4
