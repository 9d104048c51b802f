"""``python -m zoedam_lib export``: a checkpoint as an ONNX file, checked before it is written
(:mod:`zoedam_lib.inference.exported.export`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from zoedam_lib.checkpoints import load_checkpoint
from zoedam_lib.inference.exported.check import ErrorStats, Tolerance
from zoedam_lib.inference.exported.export import export_onnx, import_export_deps, read_metadata
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.output_dirs import ensure_output_dir
from zoedam_lib.utils.paths import display_path


def run_export(args: argparse.Namespace) -> int:
    """``zoedam export CHECKPOINT --onnx FILE [--size HxW] [--dynamic-batch] [--fp16]``."""
    path = Path(args.onnx).expanduser()
    if path.suffix.lower() != ".onnx":
        raise ConfigError(f"--onnx must name a .onnx file (zoedam predict recognises ONNX models by the suffix), got "
                          f"{args.onnx!r}")
    if path.is_dir():
        raise ConfigError(f"--onnx {args.onnx} is a folder; name the file to write, e.g. {path / 'model.onnx'}")
    import_export_deps()
    ensure_output_dir(path.parent, "--onnx folder")
    model, report = load_checkpoint(args.checkpoint)
    print(report.summary(), flush=True)
    export_onnx(model, path, args.size, args.dynamic_batch, args.fp16, source=str(args.checkpoint))
    meta = read_metadata(path)
    check = meta["check"]
    stats = ErrorStats(*(check[f"error_{k}_m"] for k in ("max", "mean", "p999")))
    tol = Tolerance(*(check[f"tolerance_{k}_m"] for k in ("max", "mean", "p999")))
    (h, w), (nh, nw) = meta["input_size"], meta["network_size"]
    batch = "B" if meta["batch"] == "dynamic" else meta["batch"]
    print(f"wrote {display_path(path)} ({path.stat().st_size / 1e6:.1f} MB, {meta['precision']}, "
          f"{meta['exporter']}): image ({batch}, 3, {h}, {w}) -> metric_depth ({batch}, 1, {nh}, {nw}) m, "
          f"rel_depth ({batch}, {nh}, {nw})")
    print(f"checked with onnxruntime {check['onnxruntime']} (CPU, batch {check['batch']}): {stats.describe(tol)}")
    return 0
