"""Run a ZoeDAM exported by ``zoedam export`` with OpenVINO's CPU plugin (``predict --backend openvino``).

Why a second runtime: on CPUs with AMX, OpenVINO's bf16 is the fastest path ``bench`` found within
the fast-path accuracy bar (figures in ``docs/benchmarks.md``). A job decides its precision
as for a PyTorch model (:mod:`zoedam_lib.inference.precision`): bf16 (where the CPU runs it natively) if its first
batch's depth is within :data:`~zoedam_lib.inference.precision.BAR` of OpenVINO's f32 output, else f32; ``--fp32``
pins f32. OpenVINO's f32 is close to PyTorch's but not bit-faithful (``bench`` reports by how much).
The metadata contract and the call signature are :class:`~.base.ExportedDepthModel`'s.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zoedam_lib.inference.exported.base import ExportedDepthModel, missing_model_error, output_names
from zoedam_lib.inference.exported.signal_stack import keep_signal_stack
from zoedam_lib.utils.errors import CheckpointError, ConfigError
from zoedam_lib.utils.optional import require
from zoedam_lib.utils.paths import display_path

INSTALL_HINT = 'pip install -e ".[bench]" (or: pip install openvino)'


def import_openvino() -> Any:
    """``openvino``, or a :class:`ConfigError` saying how to install it (it is an optional extra)."""
    return require("openvino", "--backend openvino", INSTALL_HINT, ConfigError)


class OpenVinoDepthModel(ExportedDepthModel):
    """An exported ZoeDAM compiled by OpenVINO for the CPU, with the PyTorch model's call signature.

    Called inside ``torch.autocast("cpu", dtype=torch.bfloat16)`` it runs with OpenVINO's bf16
    inference precision, else f32 (pinned: OpenVINO would pick bf16 by itself on AMX CPUs). So the
    job's choice is :class:`~zoedam_lib.inference.precision.JobPrecision`'s, as for a PyTorch model: its first batch in
    f32 and under autocast, bf16 kept only within the bar and where the CPU runs it natively.

    Args:
        source: the ``.onnx`` file.
        threads: OpenVINO's inference threads; default ``torch.get_num_threads()``.
    """

    def __init__(self, source: str | os.PathLike, threads: int | None = None) -> None:
        super().__init__()
        ov = import_openvino()
        self.source = display_path(source)
        if not Path(source).is_file():
            raise missing_model_error(self.source)
        self._compiled: dict[str, Any] = {}  # inference precision hint → compiled model, built on first use
        self._threads = threads or torch.get_num_threads()
        try:
            with keep_signal_stack():  # every OpenVINO call: see close()
                self._core = ov.Core()
                self._graph = self._core.read_model(os.fspath(source))
        except RuntimeError as exc:  # OpenVINO reports unreadable files as RuntimeError
            raise CheckpointError(f"OpenVINO cannot read {self.source}: {str(exc)[:300]}. Is it a complete .onnx "
                                  "file? Export it again.") from None
        info = self._graph.get_rt_info()  # the ONNX file's metadata_props, under "framework"
        framework = info["framework"] if "framework" in info else {}  # noqa: SIM401 (an RTMap has no get)
        framework = framework.astype(dict) if hasattr(framework, "astype") else framework  # OVAny in some versions
        try:  # the graph's own image input (and input names), checked against the metadata
            shape = [d.get_length() if d.is_static else "dynamic" for d in self._graph.inputs[0].get_partial_shape()]
            names = [i.get_any_name() for i in self._graph.inputs]
        except (AttributeError, RuntimeError):  # an OpenVINO without this API: the metadata's own checks only
            shape = names = None
        self._read_metadata({k: v.astype(str) if hasattr(v, "astype") else str(v) for k, v in framework.items()},
                            shape, names)

    def _run(self, images: np.ndarray, camera: np.ndarray | None) -> list[np.ndarray]:
        bf16 = torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        hint = "bf16" if bf16 else "f32"
        with keep_signal_stack():
            if hint not in self._compiled:
                self._compiled[hint] = self._core.compile_model(self._graph, "CPU", {
                    "INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": self._threads})
            compiled = self._compiled[hint]
            result = compiled(self._inputs(images, camera))  # copies (share_outputs=False): nothing outlives close
            return [result[compiled.output(name)] for name in output_names(self.camera_aware)]

    def close(self) -> None:
        """Release the compiled models and OpenVINO's core now (also when the runner is collected).

        Through :func:`~.signal_stack.keep_signal_stack`, as every OpenVINO call here: OpenVINO's CPU
        plugin swaps the thread's signal stack when it compiles and destroys a model, and two runners
        dropped in the order they were made left the thread on a freed one, so the next Ctrl-C or
        SIGTERM was a segmentation fault (the process died instead of saving its checkpoint).
        """
        with keep_signal_stack():
            self.__dict__.get("_compiled", {}).clear()
            self.__dict__.pop("_graph", None)
            self.__dict__.pop("_core", None)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the modules may be gone already
            self.close()
