"""Benchmark cases of the exported model: ONNX Runtime (fp32, int8) and OpenVINO on the CPU.

The graph is what ``zoedam export`` writes (resize and normalisation inside); the input is the same
(1, 3, 480, 640) image as the ``infer`` case. ``int8``: the exported file through ONNX Runtime's
``quantize_dynamic`` (int8 weights of the MatMul/Gemm nodes, activations quantised per call) — the
cheapest quantisation there is, worth a row only if its depth stays close to PyTorch's. ``openvino``:
the same file compiled by OpenVINO's CPU plugin, with its inference precision pinned (``f32``; or
``bf16``, which OpenVINO would otherwise pick by itself on CPUs with AMX).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import torch

from .bench_cases import _summary, _timeit, _zoedam
from .data.loader_bench import peak_rss_mb
from .inference.precision import depth_abs_rel
from .paths import display_path


def _model(source: str | None, backbone: str = "vits"):
    """ZoeDAM-S at the ``infer`` case's network size (392×518): the demo's trained weights where given and
    present (so the accuracy is that of depth that means something), else random weights."""
    if source and Path(source).exists():
        from .checkpoints import load_model
        from .config import replace
        from .models.zoedam import ZoeDAM

        trained = load_model(source)
        model = ZoeDAM(replace(trained.config, img_size=(392, 518)))  # the state dict does not depend on the size
        model.load_state_dict(trained.state_dict())
        return model.eval(), display_path(source)
    return _zoedam(backbone), f"random ZoeDAM ({backbone})"


def _image() -> torch.Tensor:
    """A SynthRooms room at 480×640 in [0, 1], (1, 3, H, W): a real scene, not noise, for the accuracy check."""
    from .data.synthrooms import render_item

    image, _ = render_item(0, 0, 480, 640)
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def case_onnx(args: dict) -> dict:
    """Export time, ONNX Runtime median time, and AbsRel of its depth against PyTorch's on the same input."""
    from .errors import ConfigError
    from .inference.export import export_onnx
    from .inference.onnx_runner import OnnxDepthModel

    model, weights = _model(args.get("weights"), args.get("backbone", "vits"))
    x = _image()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        try:
            path = export_onnx(model, f"{tmp}/model.onnx", size=(480, 640))
        except ConfigError as exc:  # onnx / onnxruntime / onnxscript not installed
            return {"error": str(exc)}
        export_s = time.perf_counter() - start
        if args.get("int8"):
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(path, f"{tmp}/model_int8.onnx", weight_type=QuantType.QInt8)
            path = f"{tmp}/model_int8.onnx"
        runner = _openvino(path, args.get("precision", "f32")) if args.get("openvino") else OnnxDepthModel(path)
        if isinstance(runner, dict):
            return runner
        out = _summary(_timeit(lambda: runner(x)["metric_depth"], args.get("warmup", 2), args.get("repeats", 10)))
        depth = runner(x)["metric_depth"]
    with torch.inference_mode():
        ref = model(x)["metric_depth"]
    out.update({"export_s": export_s, "abs_rel_vs_torch": depth_abs_rel(depth, ref), "peak_rss_mb": peak_rss_mb(),
                "weights": weights})
    return out


def _openvino(path: str, precision: str):
    """The exported file compiled by OpenVINO for the CPU: a callable like OnnxDepthModel, or an ``error``."""
    try:
        import openvino as ov
    except ImportError:
        return {"error": 'OpenVINO is not installed (pip install -e ".[bench]")'}
    compiled = ov.Core().compile_model(path, "CPU", {"INFERENCE_PRECISION_HINT": precision,
                                                     "INFERENCE_NUM_THREADS": torch.get_num_threads()})
    names = [port.get_any_name() for port in compiled.outputs]

    def run(x: torch.Tensor) -> dict[str, torch.Tensor]:
        result = compiled([x.numpy()])
        return {name: torch.from_numpy(result[port]) for name, port in zip(names, compiled.outputs, strict=True)}
    return run
