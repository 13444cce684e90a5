"""Review of the runtime's detector graph rewrites (speechseq.runtime.conv_taps, one_stream, detector_graph): parity
with the torch model and the exported file for configs beyond the shipped ones, an empty call, keywords of other
opsets."""
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from speechseq.nn.detector import Detector  # noqa: E402
from speechseq.runtime.conv_taps import Taps  # noqa: E402
from speechseq.runtime.detector import Detector as Runtime  # noqa: E402
from speechseq.runtime.detector import KeywordModel  # noqa: E402
from speechseq.train.export_detector import export_detector  # noqa: E402
from tests.detector_graphs import BASE, ROOT, SAMPLE  # noqa: E402


def _export(tmp_path, cfg, name="kw.onnx", opset=17):
    torch.manual_seed(cfg.kernel * 10 + cfg.stride + cfg.layers)
    model = Detector(cfg).eval()
    with torch.no_grad():
        model.norm.running_mean.normal_()
        model.out.bias.fill_(-0.3)
    return model, export_detector(model, tmp_path / name, {"keyword": name[:-5], "threshold": 0.5}, opset=opset)


def _stream(km: KeywordModel, feats: np.ndarray, seed: int, most: int) -> np.ndarray:
    """km.run fed `feats` in random chunks of 1 .. `most` frames, those short of a stride kept for the next call."""
    rng = np.random.default_rng(seed)
    ctx, h = km.initial_state()
    out, pending, pos = [], feats[:0], 0
    while pos < len(feats):
        n = int(rng.integers(1, most + 1))
        buf = np.concatenate([pending, feats[pos: pos + n]])
        pos += n
        usable = km.stride * (len(buf) // km.stride)
        if usable:
            p, ctx, h = km.run(buf[:usable], ctx, h)
            out.append(p)
        pending = buf[usable:]
    return np.concatenate(out)


@pytest.mark.parametrize("kernel,stride,layers,hidden,norm,n_mels", [(2, 1, 1, 8, 0, 40), (3, 1, 3, 8, 20, 80),
                                                                    (5, 4, 3, 10, 2, 40), (8, 4, 1, 24, 7, 80)],
                         ids=["k2s1L1", "k3s1L3n20F80", "k5s4L3n2", "k8s4L1n7F80"])
def test_the_runtime_graph_streams_the_torch_models_and_the_files_probabilities(tmp_path, kernel, stride, layers,
                                                                                hidden, norm, n_mels):
    cfg = replace(BASE, kernel=kernel, stride=stride, layers=layers, hidden=hidden, norm_frames=norm, n_mels=n_mels)
    model, path = _export(tmp_path, cfg)
    feats = (np.random.default_rng(0).standard_normal((400, n_mels)) * 2 - 8).astype(np.float32)
    with torch.no_grad():
        want = model.step(torch.from_numpy(feats[None, : stride * (len(feats) // stride)]))[0][0].numpy()
    km, plain = KeywordModel(path), KeywordModel(path, rewrite=False)
    assert km.taps and km.taps[0].stride == stride
    for seed, most in ((1, stride), (2, 200)):  # chunks under one stride, and over Taps.max_frames
        got = _stream(km, feats, seed, most)
        assert len(got) == len(want)
        assert np.abs(got - want).max() <= 1e-5 and np.abs(got - _stream(plain, feats, seed, most)).max() <= 1e-5


def test_a_call_of_no_frames_is_an_error_not_an_aborted_process():
    """onnxruntime's GRU aborts the process on an empty sequence (the file's Conv rejected it first): no taps
    matrix is made for a call without an output step."""
    with pytest.raises(ValueError, match="whole strides"):
        Taps("taps", 100, 9, 4, 105).matrix(0)
    # KeywordModel.run of no frames: no call at all (the taps-less conv_blocks fallback would abort too)
    code = ("import numpy as np; from speechseq.runtime.detector import KeywordModel\n"
            "for rewrite in (True, False):\n"
            f"    km = KeywordModel({str(ROOT / 'models' / 'activate.onnx')!r}, rewrite=rewrite)\n"
            "    ctx, h = km.initial_state()\n"
            "    p, c2, h2 = km.run(np.zeros((0, 40), np.float32), ctx, h)\n"
            "    print(p.shape, c2 is ctx, h2 is h)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.split("\n")[:2] == ["(0,) True True"] * 2, out.stderr[-300:]


def test_keywords_of_other_opsets_run_in_their_own_sessions(tmp_path):
    """Graphs of different opsets make no one graph: the detector runs them one by one (as for other strides)
    instead of refusing to load two valid files, and gives the same posteriors; a second load reads that from the
    cache."""
    from speechseq.audio import load_audio

    _, a = _export(tmp_path, BASE, "a.onnx", opset=13)
    _, b = _export(tmp_path, replace(BASE, hidden=10), "b.onnx")
    audio = load_audio(SAMPLE, sr=16000)[: 16000 * 3]
    posts = []
    for det in (Runtime.load([a, b]), Runtime.load([a, b]), Runtime.load([a, b], merge=False)):
        assert det._merged is None
        post = [[], []]
        state = det.initial_state()
        for i in range(0, len(audio), 1300):
            _, state = det.step(audio[i: i + 1300], state, post)
        posts.append([np.concatenate(p) for p in post])
    for merged, separate in zip(posts[0], posts[2]):
        assert len(merged) > 50 and np.array_equal(merged, separate)


def test_changed_rewriting_code_is_a_new_cache_entry(tmp_path, monkeypatch):
    from speechseq.runtime import graph_cache

    monkeypatch.setenv("SPEECHSEQ_CACHE", str(tmp_path / "c"))
    src = tmp_path / "m.bin"
    src.write_bytes(b"model")
    built = []

    def build(files):
        built.append(graph_cache._code_digest)
        return b"graph", {"n": len(built)}, None, True

    monkeypatch.setattr(graph_cache, "_code_digest", None)
    code = graph_cache._code()
    assert code is not None and graph_cache.cached("detector", [src], build)[1] == {"n": 1}
    assert graph_cache.cached("detector", [src], build)[1] == {"n": 1}        # read back
    monkeypatch.setattr(graph_cache, "_code_digest", "0" * 64)               # conv_taps.py (say) edited
    assert graph_cache.cached("detector", [src], build)[1] == {"n": 2}
    assert built == [code, "0" * 64]
