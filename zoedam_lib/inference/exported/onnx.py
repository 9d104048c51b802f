"""Run a ZoeDAM exported by ``zoedam export`` (:mod:`.export`) with ONNX Runtime, as if it were the model.

:class:`OnnxDepthModel` is an :class:`~.base.ExportedDepthModel` (the PyTorch model's interface
and the file's metadata contract) whose graph ONNX Runtime runs on the CPU. Only ONNX Runtime is
needed here, not the ``onnx`` package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoedam_lib.inference.exported.base import ExportedDepthModel, missing_model_error, output_names
from zoedam_lib.utils.errors import CheckpointError, ConfigError
from zoedam_lib.utils.optional import require
from zoedam_lib.utils.paths import display_path

INSTALL_HINT = 'pip install -e ".[onnx]" (or: pip install onnx onnxruntime onnxscript)'


def import_onnxruntime() -> Any:
    """``onnxruntime``, or a :class:`ConfigError` saying how to install it (it is an optional extra)."""
    return require("onnxruntime", "running an ONNX model", INSTALL_HINT, ConfigError)


class OnnxDepthModel(ExportedDepthModel):
    """An exported ZoeDAM run by ONNX Runtime on the CPU, with the PyTorch model's call signature.

    Args:
        source: the ``.onnx`` file (or its bytes, as :func:`.export.export_onnx` checks it before writing).
        threads: ONNX Runtime's intra-op threads; default ``torch.get_num_threads()``, so both
            backends use the same cores (ONNX Runtime ignores ``OMP_NUM_THREADS``).
    """

    def __init__(self, source: str | os.PathLike | bytes, threads: int | None = None) -> None:
        super().__init__()
        ort = import_onnxruntime()
        self.source = "<in memory>" if isinstance(source, bytes) else display_path(source)
        if not isinstance(source, bytes) and not Path(source).is_file():
            raise missing_model_error(self.source)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # errors only: its warnings about unused initialisers say nothing to users
        try:
            self.session = ort.InferenceSession(source if isinstance(source, bytes) else os.fspath(source), opts,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own classes (InvalidProtobuf, Fail, …) share no public base
            raise CheckpointError(f"ONNX Runtime cannot load {self.source}: {str(exc)[:300]}. Is it a complete "
                                  ".onnx file? Export it again.") from None
        inputs = self.session.get_inputs()
        self._read_metadata(self.session.get_modelmeta().custom_metadata_map, inputs[0].shape,
                            [i.name for i in inputs])

    def _run(self, images: np.ndarray, camera: np.ndarray | None) -> list[np.ndarray]:
        return self.session.run(list(output_names(self.camera_aware)), self._inputs(images, camera))


