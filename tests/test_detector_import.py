"""An exported detector back in torch (speechseq.train.import_detector), so that a shipped model can be
fine-tuned: the same posteriors as the file, and a batch norm that training's batch statistics leave near
the exported function."""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from speechseq.nn.detector import Detector, warp_ensemble
from speechseq.runtime.detector import KeywordModel
from speechseq.runtime.onnx import ModelError
from speechseq.train.export_detector import export_detector
from speechseq.train.import_detector import calibrate_norm, detector_from_onnx

from .test_detector_model import TINY, TINY_CMN, TINY_LIFT, _features, _trained_like

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.mark.parametrize("cfg", [TINY, TINY_CMN], ids=["plain", "cmn"])
def test_import_gives_the_exported_posteriors_and_weights(tmp_path, cfg):
    model = _trained_like(cfg)
    with torch.no_grad():
        model.conv.weight.add_(0.05)            # weights that do not sum to ~0: a lost input shift would show
    path = export_detector(model, tmp_path / "kw.onnx", {"keyword": "hi"})
    back = detector_from_onnx(path)
    assert back.cfg == cfg and not back.training
    x = torch.tensor(_features(2.0, seed=4)[None, : cfg.stride * 60])
    with torch.no_grad():
        want, got = torch.sigmoid(model(x)), torch.sigmoid(back(x))
    assert want.std().item() > 1e-3
    assert (want - got).abs().max().item() <= 1e-5
    for k in ("gru.weight_ih_l0", "gru.weight_hh_l1", "gru.bias_hh_l0", "out.weight"):  # the gates' order
        torch.testing.assert_close(back.state_dict()[k], model.state_dict()[k], atol=1e-6, rtol=0)
    kw = KeywordModel(path)                     # and the runtime's stream of the file
    ctx, h = kw.initial_state()
    np.testing.assert_allclose(kw.run(x[0].numpy(), ctx, h)[0], got[0].numpy(), atol=1e-5)


def test_calibrated_norm_keeps_eval_and_brings_train_mode_near_it(tmp_path):
    model = _trained_like(replace(TINY_CMN, dropout=0.0))
    back = detector_from_onnx(export_detector(model, tmp_path / "kw.onnx", {"keyword": "hi"}))
    x = torch.tensor(np.stack([_features(2.0, seed=s)[: 3 * 60] for s in range(6)]))
    with torch.no_grad():
        before = torch.sigmoid(back(x))
        raw_train = torch.sigmoid(copy.deepcopy(back).train()(x))  # (train mode moves the running statistics)
        calibrate_norm(back, [x[:3], x[3:]])
        after = torch.sigmoid(back(x))
        train = torch.sigmoid(copy.deepcopy(back).train()(x))
        calibrate_norm(back, [x])               # twice: nothing moves
        again = torch.sigmoid(back(x))
    assert (after - before).abs().max().item() <= 1e-5 and (again - before).abs().max().item() <= 1e-5
    off, near = (raw_train - before).abs().mean().item(), (train - before).abs().mean().item()
    assert near < 0.25 * off, (near, off)       # training starts near the file, not at a rescaled model


def test_import_refuses_what_it_cannot_take_apart(tmp_path):
    lifted = export_detector(_trained_like(TINY_LIFT), tmp_path / "lift.onnx", {"keyword": "hi"})
    with pytest.raises(ModelError, match="lifter"):
        detector_from_onnx(lifted)
    ens = export_detector(warp_ensemble(_trained_like(TINY), [1.0, 0.9]), tmp_path / "ens.onnx", {"keyword": "hi"})
    with pytest.raises(ModelError, match="ensemble"):
        detector_from_onnx(ens)
    with pytest.raises(ModelError, match="no such model file"):
        detector_from_onnx(tmp_path / "gone.onnx")


@pytest.mark.parametrize("name", ["activate", "computer"])
def test_shipped_detectors_import(name):
    """The shipped files come back as torch models with their posteriors (ready for `--init`)."""
    model = detector_from_onnx(MODELS / f"{name}.onnx")
    assert isinstance(model, Detector) and model.num_parameters() == 203825
    feats = _features(3.0, seed=8)[: 4 * 70]
    kw = KeywordModel(MODELS / f"{name}.onnx")
    ctx, h = kw.initial_state()
    with torch.no_grad():
        got = torch.sigmoid(model(torch.tensor(feats[None])))[0].numpy()
    np.testing.assert_allclose(kw.run(feats, ctx, h)[0], got, atol=1e-4)
