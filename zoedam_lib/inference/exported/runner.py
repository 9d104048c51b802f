"""Which runtime opens an exported model for ``zoedam predict --checkpoint model.onnx``.

``--backend onnxruntime`` (ONNX Runtime's CPU provider, :mod:`.onnx`) or ``openvino`` (its CPU
plugin, which follows the job's autocast, :mod:`.openvino`). Both runners share
:class:`~.base.ExportedDepthModel`; this module is the only one that knows both.
"""

from __future__ import annotations

import os

from zoedam_lib.inference.exported.base import ExportedDepthModel
from zoedam_lib.utils.errors import ConfigError


def open_for_predict(source: str | os.PathLike, device: str, fast: bool,
                     backend: str = "onnxruntime") -> tuple[ExportedDepthModel, str]:
    """The exported model for ``zoedam predict --checkpoint model.onnx`` and its summary line.

    ``backend``: ``onnxruntime`` (its CPU provider) or ``openvino`` (its CPU plugin, which follows
    the job's autocast, see :mod:`.openvino`). Both run on the CPU; ``--fast`` is PyTorch's fast path, which an
    exported graph does not have (export with ``--fp16`` for GPUs instead).
    """
    if device not in ("auto", "cpu"):
        raise ConfigError(f"ONNX models run on the CPU here ({backend}); got --device "
                          f"{device}. Pass --device cpu, or run the .onnx file with TensorRT/onnxruntime-gpu yourself.")
    if fast:
        raise ConfigError("--fast is PyTorch's fast path; an ONNX model runs as exported. Drop --fast (for GPUs, "
                          "export with --fp16).")
    if backend == "openvino":
        from zoedam_lib.inference.exported.openvino import OpenVinoDepthModel, import_openvino

        model = OpenVinoDepthModel(source)
        return model, f"{model.describe()} | OpenVINO {import_openvino().__version__} CPU"
    from zoedam_lib.inference.exported.onnx import OnnxDepthModel, import_onnxruntime

    model = OnnxDepthModel(source)
    ort = import_onnxruntime()
    return model, f"{model.describe()} | onnxruntime {ort.__version__} CPUExecutionProvider"
