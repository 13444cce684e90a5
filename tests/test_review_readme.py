"""Defects found by running the README's commands as written."""
from __future__ import annotations

import warnings

import pytest

from speechseq.frontend import FrontendConfig


def test_export_frontend_warns_nothing(tmp_path):
    """`speechseq export frontend` (README, The command line) printed torch's TracerWarning that the trace
    'might be incorrect': LogMel's short-clip guard compared the traced length before asking whether it traces.
    The graph was right; the warning said otherwise."""
    pytest.importorskip("torch")
    from torch.jit import TracerWarning

    from speechseq.nn.frontend import export_frontend

    with warnings.catch_warnings():
        warnings.simplefilter("error", TracerWarning)
        export_frontend(FrontendConfig(), str(tmp_path / "frontend.onnx"))
    assert (tmp_path / "frontend.onnx").stat().st_size > 0
