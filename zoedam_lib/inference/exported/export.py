"""``zoedam export``: a metric ZoeDAM as one ONNX file, checked against PyTorch before it is written.

Users of ZoeDepth and Depth Anything ask for ONNX/TensorRT versions of the *metric* checkpoints.
The graph is traced (``torch.onnx.export(dynamo=True)``) from the reference modules
(:meth:`ZoeDAM.preprocess`, the DINOv2 encoder, the DPT decoder and the metric-bins head of
``models/metric_bins.py``), not from the banded CPU fast path, so it is the model the
conformance tests hold to the official code. The contract (also in the file's metadata):

* input ``image``: float32 (B, 3, H, W), RGB in [0, 1] at the export size (H, W) (default: the
  network size). The model's own preprocessing is inside the graph: bilinear resize
  (align_corners=True) to the network size, then ImageNet normalisation. B is 1, or dynamic.
* outputs at the network size (h, w): ``metric_depth`` float32 (B, 1, h, w) in metres, not clamped
  (``zoedam predict`` clamps to the config's depth range), and ``rel_depth`` float32 (B, h, w), the
  DPT decoder's affine-invariant relative depth.
* a camera-aware model (``camera="canonical"``, :mod:`zoedam_lib.camera.canonical`) takes a second
  input, ``camera`` float32 (B, 2): each image's (fx, fy) in pixels at the export size, a NaN row
  where it is unknown (then the graph's camera head estimates it, or NYU's field of view is assumed
  without a head); its third output ``focal_ratio`` (B,) is the f / f_c each depth was scaled by.
  The metadata's ``camera`` entry says so, with f_c and its definition.
* the metadata's contract fields (``base.CONTRACT_KEYS``: config, sizes, batch, camera) are fixed by
  their sha256 (``contract_sha256``): a runner refuses a file whose contract was edited after export
  (the depth range it is clamped to is not in the graph; :func:`~.base.contract_digest` says why).

Before the file is written, ONNX Runtime (CPU) runs it on a fixed input and its metric depth is
compared with the PyTorch model's: beyond :data:`FP32_TOLERANCE` (the conformance tests'
tolerances) or :data:`FP16_TOLERANCE` nothing is written and :class:`ExportError` says by how much.
The file is written atomically (a reader sees the old file or the new one, never half of one).
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoedam_lib import __version__
from zoedam_lib.camera.canonical import CANONICAL_DEFINITION, focal_ratio
from zoedam_lib.inference.exact import has_metric_bins_head
from zoedam_lib.inference.exported.base import (
    CAMERA_INPUT,
    DIGEST_KEY,
    FORMAT,
    FORMAT_VERSION,
    INPUT_NAME,
    META,
    contract_digest,
    output_names,
    parse_metadata,
)
from zoedam_lib.inference.exported.check import (
    FP16_TOLERANCE,
    FP32_TOLERANCE,
    ErrorStats,
    check_cameras,
    check_input,
)
from zoedam_lib.inference.exported.onnx import INSTALL_HINT, OnnxDepthModel
from zoedam_lib.models.layers.preprocess import config_input_size
from zoedam_lib.utils.atomic import atomic_path
from zoedam_lib.utils.config import to_dict
from zoedam_lib.utils.errors import ConfigError, ExportError
from zoedam_lib.utils.paths import display_path

INPUT_DOC = ("image: float32 (B, 3, H, W), RGB in [0, 1] at the export size (input_size); resized inside the graph "
             "to the network size (bilinear, align_corners=True) and ImageNet-normalised")
OUTPUT_DOC = ("metric_depth: float32 (B, 1, h, w) metres at the network size (network_size), not clamped; "
              "rel_depth: float32 (B, h, w), the DPT decoder's affine-invariant relative depth")
CAMERA_DOC = ("camera: float32 (B, 2), each image's (fx, fy) in pixels at the input size, NaN where unknown "
              "(estimated by the camera head, or NYU's field of view without one); focal_ratio: float32 (B,), "
              "the f / f_c its canonical depth was multiplied by")


class _ExportGraph(nn.Module):
    """The traced computation: ZoeDAM's forward with named tensor outputs, optionally fp16 up to the head.

    In fp16 the preprocessing runs in fp32 (the input contract stays float32 in [0, 1]) and the
    metric head in fp32 as in :meth:`ZoeDAM.forward`: its 0.0212 minimum temperature amplifies
    rounding errors. A camera-aware model's graph computes the fallback focal ratio for every image
    (:meth:`ZoeDAM.focal_fallback`; a traced graph cannot branch on the data) and keeps it where the
    ``camera`` row is NaN, which is :meth:`ZoeDAM.to_metric`'s rule.
    """

    def __init__(self, model: nn.Module, fp16: bool) -> None:
        super().__init__()
        self.model, self.dtype = model, torch.float16 if fp16 else torch.float32
        model.encoder.to(self.dtype)
        model.decoder.to(self.dtype)

    def forward(self, image: torch.Tensor, camera: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        x = self.model.preprocess(image).to(self.dtype)  # (B, 3, h, w)
        tokens = self.model.encoder(x)
        features = self.model.decoder(tokens, out_size=x.shape[-2:])
        metric_depth, _, _ = self.model.head(features.float())  # (B, 1, h, w)
        if camera is None:
            return metric_depth, features.rel_depth.float()
        cfg = self.model.config
        known = focal_ratio(camera[:, 0], camera[:, 1], tuple(image.shape[-2:]), cfg.img_size, cfg.canonical_focal)
        fallback = self.model.focal_fallback([t.float() for t in tokens], tuple(image.shape[-2:]), image.shape[0])
        ratio = torch.where(torch.isnan(known), fallback, known)
        return metric_depth * ratio.view(-1, 1, 1, 1), features.rel_depth.float(), ratio


def export_onnx(model: nn.Module, path: str | os.PathLike, size: tuple[int, int] | None = None,
                dynamic_batch: bool = False, fp16: bool = False, source: str | None = None) -> Path:
    """Export a ZoeDAM to ``path`` (folders created, an existing file replaced atomically); returns the path.

    Args:
        model: a ZoeDAM (any device or mode; it is copied, never changed).
        path: the ``.onnx`` file to write.
        size: the input's (H, W); default the model's network size (``config.img_size``).
        dynamic_batch: a dynamic batch dimension instead of a fixed batch of one.
        fp16: encoder and decoder weights and compute in fp16 (the head and the I/O stay fp32), for
            GPUs (TensorRT, CUDA): half the file, faster there. CPUs gain nothing from it.
        source: where the weights came from, recorded in the metadata.

    Raises :class:`ExportError` (and writes nothing) if ONNX Runtime's output differs from
    PyTorch's beyond :data:`FP32_TOLERANCE` / :data:`FP16_TOLERANCE`.
    """
    onnx = import_export_deps()
    if not has_metric_bins_head(model):
        raise ConfigError(f"ONNX export supports ZoeDAM models (DINOv2 + DPT + metric bins), got "
                          f"{type(model).__name__}; pass a ZoeDAM checkpoint (ours, an official Depth Anything metric "
                          "checkpoint or a known name)")
    model = copy.deepcopy(model).float().cpu().eval()
    aware = model.config.camera == "canonical"
    size = model.config.img_size if size is None else _valid_size(size)
    example = check_input(size, batch=2 if dynamic_batch else 1)  # batch 2: torch.export specialises a 1
    cameras = check_cameras(size, len(example)) if aware else [None]
    with torch.no_grad():  # fp32 PyTorch, before _ExportGraph may halve the weights
        references = [model(example, camera=c)["metric_depth"] if aware else model(example)["metric_depth"]
                      for c in cameras]
    proto = _trace(_ExportGraph(model, fp16).eval(), example, cameras[0], dynamic_batch)
    opset = next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx"))
    camera = {"mode": "canonical", "canonical_focal": model.config.canonical_focal,
              "definition": CANONICAL_DEFINITION, "camera_head": model.camera_head is not None,
              "input": CAMERA_DOC} if aware else {"mode": "blind", "note": "trained on one camera (NYU's); its "
                                                  "metres assume that camera's field of view"}
    metadata = {
        "format": f"{FORMAT}/{FORMAT_VERSION}", "model": "zoedam", "version": __version__,
        "config": to_dict(model.config), "input_size": list(size),
        "network_size": list(config_input_size(model.config, *size)), "batch": "dynamic" if dynamic_batch else 1,
        "precision": "fp16 encoder+decoder, fp32 metric head" if fp16 else "fp32", "camera": camera,
        "inputs": INPUT_DOC + ("; " + CAMERA_DOC if aware else ""), "outputs": OUTPUT_DOC, "source": source,
        "exporter": f"torch {torch.__version__}, onnx opset {opset}"}
    metadata[DIGEST_KEY] = contract_digest(json.loads(json.dumps(metadata)))  # the values as a reader decodes them
    _add_metadata(onnx, proto, metadata)
    tol = FP16_TOLERANCE if fp16 else FP32_TOLERANCE
    runner = OnnxDepthModel(proto.SerializeToString())
    each = [ErrorStats.between(runner(example, camera=c)["metric_depth"], ref)
            for c, ref in zip(cameras, references, strict=True)]
    stats = ErrorStats(*(max(getattr(e, k) for e in each) for k in ("max", "mean", "p999")))  # the worst input's
    import onnxruntime

    check = {"onnxruntime": onnxruntime.__version__, "provider": "CPUExecutionProvider", "batch": len(example),
             **{f"error_{k}_m": v for k, v in asdict(stats).items()},
             **{f"tolerance_{k}_m": v for k, v in asdict(tol).items()}}
    if not stats.within(tol):
        raise ExportError(f"the exported model does not reproduce PyTorch's: {stats.describe(tol)}; nothing was "
                          f"written to {display_path(path)}. Please report it with the checkpoint and versions "
                          f"(torch {torch.__version__}, onnxruntime {onnxruntime.__version__}).")
    _add_metadata(onnx, proto, {"check": check})
    with atomic_path(path) as tmp:
        onnx.save(proto, os.fspath(tmp))
    return Path(path)


def _trace(graph: nn.Module, example: torch.Tensor, camera: torch.Tensor | None, dynamic_batch: bool) -> Any:
    """The ONNX ModelProto of ``graph`` traced on ``example`` (and ``camera`` for a camera-aware model),
    with the contract as its doc string."""
    inputs = (example,) if camera is None else (example, camera)
    batch = torch.export.Dim("batch", min=1)
    dims = tuple({0: batch} for _ in inputs) if dynamic_batch else None
    program = torch.onnx.export(graph, inputs, dynamo=True, input_names=[INPUT_NAME, CAMERA_INPUT][:len(inputs)],
                                output_names=list(output_names(camera is not None)), dynamic_shapes=dims,
                                verbose=False)
    proto = program.model_proto
    proto.doc_string = f"ZoeDAM metric depth (zoedam_lib {__version__}). Input {INPUT_DOC}. Outputs {OUTPUT_DOC}."
    return proto


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The zoedam_lib metadata of an exported file (JSON values decoded), without loading the weights' runtime."""
    onnx = import_export_deps()
    proto = onnx.load(os.fspath(path), load_external_data=False)
    return parse_metadata({p.key: p.value for p in proto.metadata_props}, display_path(path))


def _add_metadata(onnx: Any, proto: Any, values: dict[str, Any]) -> None:
    """Append ``zoedam_lib.<key>`` metadata_props: the format tag as is, every other value JSON-encoded."""
    for key, value in values.items():
        text = value if key == "format" else json.dumps(value, ensure_ascii=False)
        proto.metadata_props.append(onnx.StringStringEntryProto(key=META + key, value=text))


def _valid_size(size: tuple[int, int]) -> tuple[int, int]:
    if len(size) != 2 or any(not isinstance(s, (int, np.integer)) or s < 1 for s in size):
        raise ConfigError(f"size must be two positive integers (H, W), got {size!r}")
    return int(size[0]), int(size[1])


def import_export_deps() -> Any:
    """``onnx`` after checking that the exporter's optional dependencies (and torch's exporter) are there."""
    if tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) < (2, 6):
        raise ConfigError(f"ONNX export needs torch>=2.6 (its torch.export-based exporter), found {torch.__version__}")
    try:
        import onnx
        import onnxruntime  # noqa: F401  (the check runs the exported model)
        import onnxscript  # noqa: F401  (torch.onnx's exporter translates with it)
    except ImportError as exc:
        raise ConfigError(f"ONNX export needs {exc.name}, which is not installed: {INSTALL_HINT}") from None
    return onnx
