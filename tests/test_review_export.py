"""Review of the export and import paths: speechseq.train.export_recognizer, export_lm, import_detector and
stream_finetune. Tiny models, a few seconds in all."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from speechseq.nn.recognizer import Recognizer, RecognizerConfig  # noqa: E402
from speechseq.nn.text import AttentionDecoder, CharLM, DecoderConfig, LMConfig  # noqa: E402
from speechseq.runtime.onnx import ModelError, make_session, read_metadata, write_metadata  # noqa: E402
from speechseq.train.featbank import FeatureBank, quantize  # noqa: E402
from speechseq.train.recognizer import FRONTEND  # noqa: E402

TINY_REC = dict(n_mels=80, hidden=8, front_dim=8, layers=2, dropout=0.2)


def _recognizer(**kw) -> Recognizer:
    torch.manual_seed(0)
    m = Recognizer(RecognizerConfig(**{**TINY_REC, **kw}))
    m.set_normalization(torch.linspace(-8, -4, 80), torch.linspace(1.0, 3.0, 80))
    return m


def _lm() -> CharLM:
    torch.manual_seed(0)
    return CharLM(LMConfig(embed_dim=8, hidden=12, layers=2, dropout=0.2))


def _decoder() -> AttentionDecoder:
    return AttentionDecoder(DecoderConfig(embed_dim=8, enc_dim=16, hidden=10, layers=2, attn_dim=6, dropout=0.2),
                            _lm().embedding)


def _exporters():
    from speechseq.train.export_lm import export_decoder, export_lm
    from speechseq.train.export_recognizer import export_recognizer

    return {"recognizer": (_recognizer, export_recognizer, "speechseq.train.export_recognizer"),
            "lm": (_lm, export_lm, "speechseq.train.export_lm"),
            "decoder": (_decoder, export_decoder, "speechseq.train.export_lm")}


@pytest.mark.parametrize("which", ["recognizer", "lm", "decoder"])
def test_export_leaves_the_callers_model_in_training_mode(tmp_path, which):
    """The exporters set the caller's own model to eval mode (and moved it to the CPU): a training script that
    exports between epochs went on training without dropout."""
    make, export, _ = _exporters()[which]
    model = make().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    export(model, tmp_path / "m.onnx")
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def _recognizer_graphs_without_encoder_out(monkeypatch) -> None:
    """speechseq.train.export_recognizer writes its graphs without `encoder_out`, as it did before it added that
    output (reproduced by taking the output off a real export): export_encoder then exports its own graph."""
    import onnx

    import speechseq.train.export_recognizer as export_recognizer

    real = export_recognizer.export_recognizer

    def without_encoder_out(model, out, meta=None, frontend=None):
        out = real(model, out, meta, frontend)
        graph = onnx.load(str(out))
        kept = [o for o in graph.graph.output if o.name != "encoder_out"]
        del graph.graph.output[:]
        graph.graph.output.extend(kept)
        onnx.save(graph, str(out))
        return out

    monkeypatch.setattr(export_recognizer, "export_recognizer", without_encoder_out)


def test_export_encoder_of_a_graph_without_encoder_out_leaves_the_callers_model_in_training_mode(tmp_path,
                                                                                              monkeypatch):
    """export_encoder's own export, for a recogniser graph written without `encoder_out` (as the recogniser's
    exporter wrote it before it added that output; reproduced by taking the output off a real export), set the
    caller's model to eval mode (and moved it to the CPU), as the other exporters did before they exported a copy."""
    from speechseq.train.export_lm import export_encoder

    _recognizer_graphs_without_encoder_out(monkeypatch)
    model = _recognizer().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = export_encoder(model, tmp_path / "rec.onnx")
    assert [o.name for o in make_session(out).get_outputs()] == ["log_probs", "encoder_out"]
    assert "encoder_out" in read_metadata(out)["outputs"]
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("which", ["recognizer", "int8", "lm", "decoder"])
def test_a_failed_export_leaves_the_file_that_was_there(tmp_path, monkeypatch, which):
    """The graph was written over `out` before its metadata: an export that failed there (or was interrupted) left a
    graph without metadata where a good model was."""
    from speechseq.train.export_recognizer import quantize_recognizer

    make, export, module = _exporters()["recognizer" if which == "int8" else which]
    out = export(make().eval(), tmp_path / "m.onnx")
    if which == "int8":
        out = quantize_recognizer(out)
    good, names = out.read_bytes(), sorted(p.name for p in tmp_path.iterdir())

    def broken(path, meta):
        raise RuntimeError("disk full")

    monkeypatch.setattr(f"{module}.write_metadata", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        quantize_recognizer(tmp_path / "m.onnx") if which == "int8" else export(make().eval(), out)
    assert out.read_bytes() == good and read_metadata(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == names        # no temporary file left behind


def test_export_encoders_own_graph_is_written_atomically(tmp_path, monkeypatch):
    """export_encoder's own export (a recogniser graph without `encoder_out`) replaced `out` with the recogniser's
    graph, then wrote its own graph over it, then its metadata: one that failed (or was killed) between the two left
    at `out` a graph without metadata where a good model was. Now the file at `out` is the old one or the new one,
    whole, and no temporary file is left behind."""
    from speechseq.train.export_lm import export_encoder

    _recognizer_graphs_without_encoder_out(monkeypatch)
    out = export_encoder(_recognizer().eval(), tmp_path / "rec.onnx", {"run": "old"})
    good, names = out.read_bytes(), sorted(p.name for p in tmp_path.iterdir())
    assert read_metadata(out)["run"] == "old" and "encoder_out" in read_metadata(out)["outputs"]

    def broken(path, meta):
        raise RuntimeError("disk full")

    monkeypatch.setattr("speechseq.train.export_lm.write_metadata", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export_encoder(_recognizer(hidden=6).eval(), out, {"run": "new"})
    assert out.read_bytes() == good and read_metadata(out)["run"] == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == names        # no temporary file left behind
    monkeypatch.undo()
    _recognizer_graphs_without_encoder_out(monkeypatch)
    out = export_encoder(_recognizer(hidden=6).eval(), out, {"run": "new"})
    assert read_metadata(out)["run"] == "new" and read_metadata(out)["model_config"]["hidden"] == 6
    assert [o.name for o in make_session(out).get_outputs()] == ["log_probs", "encoder_out"]
    assert sorted(p.name for p in tmp_path.iterdir()) == names


def test_int8_twin_metadata_is_the_fp32_metadata_plus_its_quantization(tmp_path):
    from speechseq.train.export_recognizer import export_recognizer, quantize_recognizer

    fp32 = export_recognizer(_recognizer().eval(), tmp_path / "r.onnx", {"training": {"run": "x"}})
    q = read_metadata(quantize_recognizer(fp32))
    assert q.pop("quantization").startswith("int8") and q == read_metadata(fp32)


def test_onnx_agrees_with_torch_below_the_kernel_and_on_long_inputs(tmp_path):
    from speechseq.train.export_recognizer import export_recognizer

    m = _recognizer(kernel_size=9, stride=4, dropout=0.0).eval()
    sess = make_session(export_recognizer(m, tmp_path / "r.onnx"))
    assert [d for d in sess.get_inputs()[0].shape[:2]] == ["batch", "frames"]
    rng = np.random.default_rng(0)
    for b, t in ((1, 1), (3, 2), (2, 3), (1, 4), (2, 2000)):
        x = rng.normal(-6, 2, (b, t, 80)).astype(np.float32)
        with torch.no_grad():
            want = m(torch.from_numpy(x))[0].numpy()
        got = sess.run(["log_probs"], {"features": x})[0]
        assert got.shape == want.shape == (b, -(-t // 4), 29)
        assert np.abs(got - want).max() <= 1e-4


def test_detector_import_of_a_file_whose_metadata_does_not_fit_is_a_model_error(tmp_path):
    """A detector file without model_config raised KeyError, one whose sizes disagree with its weights a
    RuntimeError of load_state_dict: not the ModelError `trained_weights` turns into one line."""
    from dataclasses import replace

    from speechseq.train.export_detector import export_detector
    from speechseq.train.import_detector import detector_from_onnx

    from .test_detector_model import TINY, _trained_like

    path = export_detector(_trained_like(TINY), tmp_path / "kw.onnx", {"keyword": "hi"})
    meta = read_metadata(path)
    write_metadata(path, {k: v for k, v in meta.items() if k != "model_config"})
    with pytest.raises(ModelError, match="model_config"):
        detector_from_onnx(path)
    write_metadata(path, {**meta, "model_config": replace(TINY, hidden=5).to_dict()})
    with pytest.raises(ModelError, match="do not fit"):
        detector_from_onnx(path)


# --- stream_finetune --------------------------------------------------------------------------------------------

def _bank(seed: int, frontend: dict | None = None) -> FeatureBank:
    texts = ("on", "off", "up", "go")
    rng = np.random.default_rng(seed)
    feats = [rng.normal(-6.0, 2.0, (40 + 10 * i, 80)) for i in range(len(texts))]
    lengths = [len(f) for f in feats]
    return FeatureBank(quantize(np.concatenate(feats)), np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                       list(texts), ["toy"] * len(texts), frontend or FRONTEND.to_dict())


@pytest.fixture()
def finetune_setup(tmp_path):
    from speechseq.train.export_recognizer import export_recognizer

    _bank(0).save(tmp_path / "feat" / "toy_train")
    _bank(1).save(tmp_path / "feat" / "toy_val")
    src = export_recognizer(_recognizer(layers=1).eval(), tmp_path / "rec.onnx", frontend=FRONTEND.to_dict())
    return tmp_path, ["--from-onnx", str(src), "--features", str(tmp_path / "feat"), "--epochs", "1",
                      "--batch-seconds", "1.5", "--fraction", "1"]


def test_stream_finetune_names_the_int8_twin_as_the_listener_looks_for_it(finetune_setup):
    """x.stream.ONNX's int8 twin was written as x.stream.ONNX.int8.onnx; `speechseq listen` looks for
    x.stream.int8.ONNX (twin_path), as export_streaming names it."""
    from speechseq.runtime.onnx import twin_path
    from speechseq.train.stream_finetune import main

    d, args = finetune_setup
    out = d / "rec.stream.ONNX"
    assert main([*args, "--out", str(d / "run"), "--export", str(out), "--int8"]) == 0
    assert twin_path(out, "int8") == d / "rec.stream.int8.ONNX"
    assert read_metadata(d / "rec.stream.int8.ONNX")["kind"] == "recognizer-stream"
    assert not (d / "rec.stream.ONNX.int8.onnx").exists()


def test_stream_finetune_does_not_resume_a_recognizer_training_run(finetune_setup):
    """Checkpoints of both are of kind "recognizer": --out pointed at the offline run went on training it with the
    chunked loss, over its last.pt (and its best.pt, chosen by offline WER, once a chunked WER was lower)."""
    from speechseq.train.stream_finetune import main

    d, args = finetune_setup
    run = d / "offline"
    run.mkdir()
    torch.save({"kind": "recognizer", "epoch": 1, "extra": {"train_hours": 1.0}}, run / "last.pt")
    before = (run / "last.pt").read_bytes()
    with pytest.raises(SystemExit, match="not a stream fine-tune"):
        main([*args, "--out", str(run)])
    assert (run / "last.pt").read_bytes() == before and sorted(p.name for p in run.iterdir()) == ["last.pt"]


def test_stream_finetune_refuses_banks_of_another_frontend_and_no_validation(finetune_setup, capsys):
    from dataclasses import replace

    from speechseq.train.stream_finetune import main

    d, args = finetune_setup
    (d / "feat" / "toy_val.json").unlink()                 # nothing to choose the best epoch by: was a traceback
    with pytest.raises(SystemExit, match="no \\*_val feature banks"):
        main([*args, "--out", str(d / "a")])
    other = replace(FRONTEND, floor=1e-6).to_dict()        # same n_mels, another floor: was accepted
    _bank(0, other).save(d / "feat2" / "toy_train")
    _bank(1, other).save(d / "feat2" / "toy_val")
    with pytest.raises(SystemExit, match="different frontends"):
        main([*args[:2], "--features", str(d / "feat2"), "--out", str(d / "b")])
    assert not (d / "a").exists() and not (d / "b").exists()


@pytest.mark.parametrize("bad", [["--int8"], ["--epochs", "0"], ["--ema", "1"], ["--val-limit", "0"],
                                 ["--offline-weight", "-1"]])
def test_stream_finetune_bad_options_are_a_usage_error(finetune_setup, bad, capsys):
    from speechseq.train.stream_finetune import main

    d, args = finetune_setup
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--out", str(d / "run"), *bad])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "error:" in err and bad[0] in err.splitlines()[-1], err   # the option's own error
    assert not (d / "run").exists()


def test_stream_finetune_of_a_missing_source_is_one_line(finetune_setup, capsys):
    from speechseq.train.stream_finetune import main

    d, args = finetune_setup
    assert main(["--from-onnx", str(d / "gone.onnx"), *args[2:], "--out", str(d / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("stream_finetune: error:") and "gone.onnx" in err and "Traceback" not in err


@pytest.mark.parametrize("settings", [(), ((0, 5),), ((10, -1),), ((10.5, 5),), ((10,),)])
def test_stream_finetune_settings_are_checked_when_made(settings):
    """A bad (chunk, look-ahead) failed only inside the loop: chunked_validate's at the end of the first epoch, whose
    training was then lost; an empty list as numpy's "high <= 0"."""
    from speechseq.train.recognizer import TrainOptions
    from speechseq.train.stream_finetune import chunked_loss_fn, chunked_validate

    with pytest.raises(ValueError, match="setting"):
        chunked_loss_fn(TrainOptions(), None, "cpu", 0.3, settings=settings)
    if len(settings) == 1 and len(settings[0]) == 2:
        with pytest.raises(ValueError, match="setting"):
            chunked_validate({}, "cpu", *settings[0])
