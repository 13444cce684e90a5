"""The names of a model's sibling files (int8 twin, chunked twin, decoder): one rule, any case of ".onnx"."""
from pathlib import Path

import pytest

from speechseq.runtime.onnx import twin_path, untagged


@pytest.mark.parametrize("model, stream, int8", [
    ("m/x.onnx", "m/x.stream.onnx", "m/x.int8.onnx"),
    ("m/x.ONNX", "m/x.stream.ONNX", "m/x.int8.ONNX"),            # the suffix as written (export takes any case)
    ("m/x.int8.onnx", "m/x.stream.int8.onnx", "m/x.int8.onnx"),  # int8 is named last, and once
    ("m/x.Int8.ONNX", "m/x.stream.Int8.ONNX", "m/x.Int8.ONNX"),
    ("m/x.stream.onnx", "m/x.stream.stream.onnx", "m/x.stream.int8.onnx"),
    ("m/x", "m/x.stream.onnx", "m/x.int8.onnx"),                 # no suffix: one is added
])
def test_twin_path(model, stream, int8):
    assert twin_path(model, "stream") == Path(stream)
    assert twin_path(model, "int8") == Path(int8)
    assert twin_path(model, "decoder") == Path("decoder".join(stream.rsplit("stream", 1)))


@pytest.mark.parametrize("model, plain", [
    ("m/x.onnx", "m/x.onnx"), ("m/x.ONNX", "m/x.ONNX"), ("m/x.int8.onnx", "m/x.onnx"), ("m/x.Int8.ONNX", "m/x.ONNX"),
    ("m/x.stream.int8.onnx", "m/x.stream.onnx"), ("m/int8.onnx", "m/int8.onnx"),
])
def test_untagged(model, plain):
    assert untagged(model, "int8") == Path(plain)
    assert str(twin_path(untagged(model, "int8"), "int8")).lower() == str(twin_path(model, "int8")).lower()
