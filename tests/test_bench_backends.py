"""The benchmark's inference backends: which run where, and that each is the computation its row names."""

from __future__ import annotations

import shutil

import pytest

from zoedam_lib.bench import backends as bench_backends
from zoedam_lib.utils.errors import ConfigError


def test_no_bf16_backend_without_native_bf16_and_no_compile_or_export_in_quick():
    assert bench_backends.available(native_bf16=False) == [
        "eager_fp32", "fast", "compile_fp32", "onnx_fp32", "onnx_int8", "openvino_fp32"]
    assert bench_backends.available(native_bf16=True, quick=True) == ["eager_fp32", "eager_bf16", "fast"]


def test_unknown_backend_is_a_config_error(checkpoint):
    from zoedam_lib import load_model

    with pytest.raises(ConfigError, match="unknown backend 'tensorrt'; expected one of"):
        bench_backends.build("tensorrt", load_model(checkpoint), (56, 70), "")


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("g++") or shutil.which("c++")),
                    reason="torch.compile's CPU backend (inductor) compiles C++: no compiler found")
def test_compiled_model_is_an_exact_path(monkeypatch, checkpoint, one_thread):
    """torch.compile of the model's own forward (whole-map head) gives the eager banded path's depth within
    float rounding (the bench measures the same on the trained and the conformance weights)."""
    rooms = [bench_backends.room_image(56, 70), bench_backends.room_image(56, 70).flip(-1)]
    monkeypatch.setattr(bench_backends, "synthrooms_test_images", lambda n: rooms[:n])
    out = bench_backends.case_backend_accuracy({"n": 2, "sources": {"tiny": str(checkpoint)},
                                                "backends": ["compile_fp32"]})["tiny"]
    assert out["n_images"] == 2 and out["compile_fp32"] < 1e-4
