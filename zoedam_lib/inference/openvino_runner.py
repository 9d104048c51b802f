"""Run a ZoeDAM exported by ``zoedam export`` with OpenVINO's CPU plugin (``predict --backend openvino``).

On CPUs with AMX this is the fastest path ``bench`` measured that keeps the depth within the
fast-path bar: OpenVINO bf16 at 0.42-0.44× the transformers peer's fp32 time, AbsRel 0.002 against
PyTorch fp32 on the demo's trained weights (``docs/benchmarks.md``). Like the PyTorch default
(:mod:`.precision`), a job decides its precision on its first batch: bf16 (where the CPU runs it
natively) if that batch's depth is within :data:`~.precision.BAR` of OpenVINO's f32 output, else
f32; ``--fp32`` pins f32. Note that OpenVINO's f32 is not bit-faithful to PyTorch either (AbsRel
0.0019 on the official-format conformance weights, whose bf16 run misses the bar: 0.019).
The metadata contract and the call signature are :class:`~.onnx_runner.ExportedDepthModel`'s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, ConfigError
from ..paths import display_path
from ..training.amp import cpu_supports_bf16
from .onnx_runner import INPUT_NAME, OUTPUT_NAMES, ExportedDepthModel, missing_model_error
from .precision import BAR, PRECISIONS, depth_abs_rel

INSTALL_HINT = 'pip install -e ".[bench]" (or: pip install openvino)'


def import_openvino() -> Any:
    """``openvino``, or a :class:`ConfigError` saying how to install it (it is an optional extra)."""
    try:
        import openvino
    except ImportError:
        raise ConfigError(f"--backend openvino needs OpenVINO, which is not installed: {INSTALL_HINT}") from None
    return openvino


class OpenVinoDepthModel(ExportedDepthModel):
    """An exported ZoeDAM compiled by OpenVINO for the CPU, with the PyTorch model's call signature.

    Args:
        source: the ``.onnx`` file.
        precision: ``auto`` (bf16 where native and within the bar on the first batch, else f32), ``fp32``,
            or ``bf16`` (pinned, unchecked: the benchmark's row).
        threads: OpenVINO's inference threads; default ``torch.get_num_threads()``.
    """

    def __init__(self, source: str | os.PathLike, precision: str = "auto", threads: int | None = None) -> None:
        super().__init__()
        if precision not in (*PRECISIONS, "bf16"):
            raise ValueError(f"precision must be one of {(*PRECISIONS, 'bf16')}, got {precision!r}")
        ov = import_openvino()
        self.source = display_path(source)
        if not Path(source).is_file():
            raise missing_model_error(self.source)
        self._core, self._threads = ov.Core(), threads or torch.get_num_threads()
        try:
            self._graph = self._core.read_model(os.fspath(source))
        except RuntimeError as exc:  # OpenVINO reports unreadable files as RuntimeError
            raise CheckpointError(f"OpenVINO cannot read {self.source}: {str(exc)[:300]}. Is it a complete .onnx "
                                  "file? Export it again.") from None
        info = self._graph.get_rt_info()  # the ONNX file's metadata_props, under "framework"
        framework = info["framework"] if "framework" in info else {}  # noqa: SIM401 (an RTMap has no get)
        framework = framework.astype(dict) if hasattr(framework, "astype") else framework  # OVAny in some versions
        self._read_metadata({k: v.astype(str) if hasattr(v, "astype") else str(v) for k, v in framework.items()})
        self._compiled: dict[str, Any] = {}
        pinned = {"fp32": "f32", "bf16": "bf16"}.get(precision)
        self.hint: str | None = pinned or (None if cpu_supports_bf16() else "f32")  # None: the first batch decides
        self.abs_rel_vs_f32: float | None = None  # the first batch's bf16 error, when it was measured

    def _compile(self, hint: str) -> Any:
        if hint not in self._compiled:
            self._compiled[hint] = self._core.compile_model(self._graph, "CPU", {
                "INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": self._threads})
        return self._compiled[hint]

    def _infer(self, hint: str, images: np.ndarray) -> list[np.ndarray]:
        compiled = self._compile(hint)
        result = compiled({INPUT_NAME: images})
        return [result[compiled.output(name)] for name in OUTPUT_NAMES]

    def _run(self, images: np.ndarray) -> list[np.ndarray]:
        if self.hint is None:  # the job's first batch decides: f32 answers it, bf16 is compared with it
            f32 = self._infer("f32", images)
            low = self._infer("bf16", images)
            self.abs_rel_vs_f32 = depth_abs_rel(torch.from_numpy(low[0]), torch.from_numpy(f32[0]))
            self.hint = "bf16" if self.abs_rel_vs_f32 <= BAR else "f32"
            return f32
        return self._infer(self.hint, images)

    def describe_precision(self) -> str:
        """One line for the end of a job, e.g. ``OpenVINO bf16 (AbsRel vs f32 0.0021, first batch)``."""
        measured = "" if self.abs_rel_vs_f32 is None else f" (AbsRel vs f32 {self.abs_rel_vs_f32:.2g}, first batch)"
        if self.hint == "f32" and measured:
            return f"OpenVINO f32: bf16 refused{measured}"
        return f"OpenVINO {self.hint or 'f32'}{measured}"
