"""Every way ``bench`` runs ZoeDAM inference, built one way for timing and for accuracy.

A backend turns an eval-mode ZoeDAM into a callable ``(B, 3, H, W)`` RGB in [0, 1] → metric depth
``(B, 1, h, w)``. The same builder serves the timing case (one 480×640 image, first call and median)
and the accuracy case (SynthRooms test images, AbsRel against ``eager_fp32`` on the trained and the
conformance weights), so a row's speed and its accuracy are those of one computation:

* ``eager_fp32``: the exact path (:func:`~zoedam_lib.inference.exact.prepare_exact`), the reference.
* ``eager_bf16``: the same under bf16 autocast, head in fp32 — the default of ``eval``/``predict``
  where the CPU has native bf16 (:mod:`zoedam_lib.inference.precision`).
* ``fast``: the reduced-resolution head (:func:`~zoedam_lib.inference.approximate.prepare_fast`).
* ``compile_fp32`` / ``compile_bf16``: ``torch.compile`` (inductor's C++ backend) of the model's
  own forward, whose whole-map channels-last head inductor fuses into few loops; the first call
  pays the compilation.
* ``onnx_fp32`` / ``onnx_int8``: the ``zoedam export`` graph in ONNX Runtime, fp32 or through its
  dynamic int8 quantisation (MatMul/Gemm weights int8, activations quantised per call).
* ``openvino_fp32`` / ``openvino_bf16``: the same file compiled by OpenVINO's CPU plugin with its
  inference precision pinned (OpenVINO picks bf16 by itself on AMX CPUs).

``bf16`` backends run only where the CPU has native bf16 (emulated bf16 is many times slower than fp32).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from zoedam_lib.bench.common import peak_rss_mb
from zoedam_lib.inference.precision import depth_abs_rel
from zoedam_lib.utils.errors import ConfigError

Depth = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Backend:
    """How the table names a backend and where it may run."""

    label: str
    bf16: bool = False  # needs native bf16
    exported: bool = False  # needs the ONNX export (optional dependencies; ~10 s per model)
    compiled: bool = False  # torch.compile: ~1 min of compilation per model and precision


BACKENDS = {
    "eager_fp32": Backend("PyTorch eager fp32, exact path (the reference)"),
    "eager_bf16": Backend("PyTorch eager, bf16 autocast, head fp32", bf16=True),
    "fast": Backend("PyTorch eager fast path (reduced-resolution head, bf16 where native)"),
    "compile_fp32": Backend("torch.compile (inductor) fp32", compiled=True),
    "compile_bf16": Backend("torch.compile (inductor), bf16 autocast, head fp32", bf16=True, compiled=True),
    "onnx_fp32": Backend("ONNX Runtime fp32 (zoedam export)", exported=True),
    "onnx_int8": Backend("ONNX Runtime int8 dynamic quantisation", exported=True),
    "openvino_fp32": Backend("OpenVINO fp32", exported=True),
    "openvino_bf16": Backend("OpenVINO bf16", bf16=True, exported=True),
}


def available(native_bf16: bool, quick: bool = False) -> list[str]:
    """The backends a run measures: no bf16 ones without native bf16; ``quick``: eager ones only."""
    return [name for name, b in BACKENDS.items()
            if (native_bf16 or not b.bf16) and not (quick and (b.exported or b.compiled))]


def build(name: str, model: torch.nn.Module, size: tuple[int, int], workdir: str) -> Depth:
    """``name``'s depth callable for ``model`` on inputs of ``size`` (H, W); exports go to ``workdir``.

    Raises :class:`ConfigError` when the backend's optional dependency is missing.
    """
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; expected one of {sorted(BACKENDS)}")
    if name.startswith(("onnx", "openvino")):
        net = _exported(name, model, size, workdir)
    else:
        from zoedam_lib.inference.approximate import prepare_fast
        from zoedam_lib.inference.exact import prepare_exact

        net = {"eager": prepare_exact, "fast": prepare_fast, "compile": torch.compile}[name.split("_")[0]](model)
    bf16 = name.endswith("bf16")  # OpenVINO's runner follows autocast like the PyTorch paths

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return net(x)["metric_depth"].float()
    return run


def _exported(name: str, model: torch.nn.Module, size: tuple[int, int], workdir: str) -> torch.nn.Module:
    """``model`` exported by ``zoedam export`` and opened by ``predict``'s runner for ``name``."""
    from zoedam_lib.inference.exported.export import export_onnx
    from zoedam_lib.inference.exported.onnx import OnnxDepthModel

    path = str(export_onnx(model, f"{workdir}/model.onnx", size=size))
    if name == "onnx_int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(path, f"{workdir}/model_int8.onnx", weight_type=QuantType.QInt8)
        path = f"{workdir}/model_int8.onnx"
    if name.startswith("openvino"):
        from zoedam_lib.inference.exported.openvino import OpenVinoDepthModel

        return OpenVinoDepthModel(path)
    return OnnxDepthModel(path)


def timing_model(source: str | None, backbone: str = "vits") -> tuple[torch.nn.Module, str]:
    """ZoeDAM at the paper's network size (392×518): the demo's trained weights where ``source`` exists
    (the state dict does not depend on the size), else random weights; and what was loaded."""
    from zoedam_lib.bench.common import bench_zoedam

    if source and Path(source).exists():
        from zoedam_lib.checkpoints import load_model
        from zoedam_lib.models.zoedam import ZoeDAM
        from zoedam_lib.utils.config import replace
        from zoedam_lib.utils.paths import display_path

        trained = load_model(source)
        model = ZoeDAM(replace(trained.config, img_size=(392, 518)))
        model.load_state_dict(trained.state_dict())
        return model.eval(), display_path(source)
    return bench_zoedam(backbone), f"random ZoeDAM ({backbone})"


def room_image(height: int = 480, width: int = 640) -> torch.Tensor:
    """A SynthRooms room in [0, 1], (1, 3, H, W): a real scene, not noise."""
    from zoedam_lib.data.synthrooms.generate import render_item

    image, _ = render_item(0, 0, height, width)
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255


def case_backend(args: dict) -> dict:
    """One backend on one 480×640 room: set-up plus first call [s] (export, compilation), then the median.

    ``eager_fp32`` also counts its FLOPs (the compute-efficiency row)."""
    from zoedam_lib.bench.common import time_calls, time_summary

    name = args["backend"]
    model, weights = timing_model(args.get("weights"), args.get("backbone", "vits"))
    x = room_image()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        try:
            run = build(name, model, tuple(x.shape[-2:]), tmp)
        except ConfigError as exc:  # onnx / onnxruntime / openvino not installed
            return {"error": str(exc)}
        run(x)
        first_call_s = time.perf_counter() - start
        out = time_summary(time_calls(lambda: run(x), args.get("warmup", 2), args.get("repeats", 10)))
    out.update(first_call_s=first_call_s, weights=weights, peak_rss_mb=peak_rss_mb())
    if name == "eager_fp32":
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            run(x)
        out["gflops"] = counter.get_total_flops() / 1e9
    return out


def case_backend_accuracy(args: dict) -> dict:
    """AbsRel of each backend's depth against ``eager_fp32`` on SynthRooms test images, per weight source.

    ``sources``: label → checkpoint (the demo's trained ZoeDAM-S; the conformance weights, official
    format, at 392×518); missing ones are skipped (a random model stands in when none is there).
    Images run one at a time at the dataset's size; each model keeps its own network size.
    """
    from zoedam_lib.bench.common import bench_zoedam
    from zoedam_lib.checkpoints import load_model

    sources = {k: v for k, v in args.get("sources", {}).items() if Path(v).exists()}
    models = {k: load_model(v).eval() for k, v in sources.items()} or {"random ZoeDAM-S": bench_zoedam("vits")}
    images = synthrooms_test_images(args.get("n", 16))
    out = {}
    size = tuple(images[0].shape[-2:])
    for label, model in models.items():
        reference = build("eager_fp32", model, size, "")
        ref = torch.cat([reference(x) for x in images])
        out[label] = {"n_images": len(images), "network_size": list(ref.shape[-2:])}
        for name in args.get("backends", []):
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    run = build(name, model, size, tmp)
                    out[label][name] = depth_abs_rel(torch.cat([run(x) for x in images]), ref)
                except ConfigError as exc:
                    out[label][name] = {"error": str(exc)}
    return out


def synthrooms_test_images(n: int) -> list[torch.Tensor]:
    """The first ``n`` SynthRooms test images (the default run's split), each (1, 3, H, W) in [0, 1]."""
    from zoedam_lib.data.nyu.reader import NyuMat
    from zoedam_lib.data.synthrooms.generate import ensure_synthrooms
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE, resolve

    ensure_synthrooms(resolve(DEFAULT_SYNTH_FILE))
    ctx = setup_run(verbose=False, out_dir=tempfile.mkdtemp())
    with NyuMat(ctx.data_path) as mat:
        return [torch.from_numpy(mat.read(i)[0]).permute(2, 0, 1)[None].float() / 255
                for i in list(ctx.split.test)[:n]]
