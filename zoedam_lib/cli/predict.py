"""``zoedam predict``: metric depth for a user's own photos, written as 16-bit PNG, colour PNG and PLY.

Real photo folders hold every size, aspect, bit depth and orientation, plus the odd corrupt file.
So: every image is resized on the CPU to the network size (bilinear, align_corners=True, exactly
the model's own preprocessing) and images of any size share a batch; predictions go back to each
image's resolution. An unreadable file is reported and skipped, and each image's outputs are
written (atomically) as soon as it is done, so a crash late in a folder loses nothing finished.
Output names come from the input's file name only, sanitised, so they always land inside ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.camera.geometry import EDGE_JUMP
from zoedam_lib.camera.photo import PhotoCamera
from zoedam_lib.camera.resolve import camera_line, photo_camera
from zoedam_lib.inference.exported.base import is_onnx_path
from zoedam_lib.inference.exported.runner import open_for_predict
from zoedam_lib.inference.precision import JobPrecision
from zoedam_lib.inference.predict import infer_photos
from zoedam_lib.io.images import IMAGE_EXTENSIONS, MAX_PIXELS, read_image
from zoedam_lib.io.inputs import assign_names, collect_inputs
from zoedam_lib.io.writers import write_color_png, write_depth_png16, write_ply, written_here
from zoedam_lib.models.layers.preprocess import network_input_size, resize_image
from zoedam_lib.models.predict import (
    has_camera_head,
    is_camera_aware,
    model_depth_range,
    non_finite_problem,
)
from zoedam_lib.utils.errors import ConfigError, ImageReadError, PredictionError
from zoedam_lib.utils.names import inside
from zoedam_lib.utils.output_dirs import ensure_output_dir
from zoedam_lib.utils.progress import tqdm


@dataclass
class _Loaded:
    """An image read and resized, waiting in the batch."""

    path: Path
    name: str  # output stem
    x: torch.Tensor  # (3, h, w) network input in [0, 1]
    size: tuple[int, int]  # the image's (H, W) after EXIF rotation
    rgb: np.ndarray | None  # (H, W, 3) kept only when a PLY is written
    camera: PhotoCamera | None  # the photo's camera and its source (camera.resolve), when the depth or a PLY uses it


def _predict_batch(model: nn.Module, batch: list[_Loaded], args: argparse.Namespace, out_dir: Path,
                   device: torch.device, failed: list[tuple[str, str]]) -> int:
    """Run one batch and write each image's outputs at its own resolution; returns how many were written.

    A non-finite prediction is never written (it would read back as a valid, empty depth map):
    the image goes to ``failed`` with the reason.
    """
    x = torch.stack([item.x for item in batch]).to(device)  # (B, 3, h, w)
    aware = is_camera_aware(model)
    depth, cameras = infer_photos(model, x, [item.camera for item in batch], [item.size for item in batch],
                                  args.flip_tta, getattr(args, "precision", "fp32"))
    lo, hi = model_depth_range(model)
    written = 0
    for item, pred, camera in zip(batch, depth, cameras, strict=True):
        problem = non_finite_problem(pred)
        if problem is not None:
            failed.append((str(item.path), f"non-finite prediction ({problem})"))
            tqdm.write(f"not written {item.path}: {problem}", file=sys.stderr)
            continue
        written += 1
        item.camera = camera
        if aware:
            tqdm.write(f"{item.name}: depth in metres with {item.camera.describe()}", file=sys.stdout)
        full = F.interpolate(pred[None], size=item.size, mode="bilinear", align_corners=True)
        depth_m = full.clamp_(lo, hi)[0, 0].numpy()  # (H, W) metres
        write_depth_png16(inside(out_dir, f"{item.name}_depth.png"), depth_m)
        write_color_png(inside(out_dir, f"{item.name}_color.png"), depth_m)
        if item.rgb is not None and item.camera is not None:
            counts = write_ply(inside(out_dir, f"{item.name}.ply"), depth_m, item.rgb, item.camera.intrinsics,
                               item.camera.source, None if args.keep_edges else args.edge_jump)
            edges = "flying pixels kept" if args.keep_edges else f"{counts.flying:,} flying pixels dropped"
            tqdm.write(f"{item.name}.ply: {counts.points:,} points ({edges}); {item.camera.describe()}",
                       file=sys.stdout)
    return written


def _flush(model: nn.Module, batch: list[_Loaded], args: argparse.Namespace, out_dir: Path,
           device: torch.device, bar: tqdm, failed: list[tuple[str, str]]) -> int:
    """Predict and write the pending batch, then empty it; returns how many images were written."""
    n, written = len(batch), 0
    if n:
        written = _predict_batch(model, batch, args, out_dir, device, failed)
        batch.clear()
        bar.update(n)
    return written


OUTPUT_SUFFIXES = ("_depth.png", "_color.png", ".ply")  # what one image's outputs are named: <stem><suffix>


def _output_names(files: list[Path], out_dir: Path) -> list[str]:
    """Output stems for ``files`` that replace no file this program did not write (``--out`` may be the photos'
    own folder, beside their ground truth); each stem moved aside for such a file is said once."""
    def taken(stem: str) -> bool:
        theirs = [out_dir / f"{stem}{s}" for s in OUTPUT_SUFFIXES
                  if (out_dir / f"{stem}{s}").exists() and not written_here(out_dir / f"{stem}{s}")]
        if theirs:
            print(f"keeping {theirs[0]}: it was not written by zoedam, so {stem}'s outputs get another name")
        return bool(theirs)
    return assign_names(files, taken)


def _reason(exc: ImageReadError) -> str:
    """A short reason for the summary line (the full message is printed when the file is skipped)."""
    if exc.reason is not None:
        return exc.reason
    cause = exc.__context__
    if isinstance(cause, FileNotFoundError):
        return "not found"
    return f"unreadable image ({type(cause).__name__})" if cause is not None else "unreadable image"


def _backend(args: argparse.Namespace) -> str:
    """``--backend``: auto picks ONNX Runtime for a ``.onnx`` checkpoint; a mismatch is an error, not a guess."""
    backend, onnx_file = getattr(args, "backend", "auto"), is_onnx_path(args.checkpoint)
    if backend == "auto":
        return "onnxruntime" if onnx_file else "torch"
    if backend in ("onnxruntime", "openvino") and not onnx_file:
        raise ConfigError(f"--backend {backend} runs an exported .onnx file, got --checkpoint {args.checkpoint}. "
                          f"Export it first: python -m zoedam_lib export {args.checkpoint} --onnx model.onnx")
    if backend == "torch" and onnx_file:
        raise ConfigError(f"--backend torch cannot run the ONNX file {args.checkpoint}; pass the PyTorch checkpoint "
                          "it was exported from, or --backend onnxruntime")
    return backend


def run_predict(args: argparse.Namespace) -> int:
    """Predict every input image and write its outputs; 0 when every readable image is done."""
    from zoedam_lib.checkpoints import load_checkpoint
    from zoedam_lib.experiments.context import resolve_device

    if args.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {args.batch_size}")
    if args.keep_edges and args.edge_jump != EDGE_JUMP:
        raise ConfigError("--keep-edges keeps every point, so --edge-jump would do nothing; pass one of them")
    if not args.edge_jump > 0:
        raise ConfigError(f"--edge-jump must be a positive fraction (0.1 = a 10 % depth jump), got {args.edge_jump}; "
                          "use --keep-edges to keep every point")
    if getattr(args, "fast", False) and getattr(args, "fp32", False):
        raise ConfigError("--fast (low precision, reduced-resolution head) and --fp32 ask for opposite things; "
                          "pass one of them")
    backend = _backend(args)
    # an ONNX Runtime session and the --fast path have their own precision: autocast has nothing to choose there
    # (OpenVINO follows autocast: OpenVinoDepthModel)
    fixed = "ONNX Runtime" if backend == "onnxruntime" else "fast path" if getattr(args, "fast", False) else None
    args.precision = JobPrecision("fp32" if getattr(args, "fp32", False) or fixed else "auto")
    out_dir = Path(args.out).expanduser()
    files, skipped = collect_inputs(args.inputs, exclude=out_dir)
    if not files:
        missing = "; ".join(f"{name}: {why}" for name, why in skipped) or "folders without image files"
        raise ConfigError(f"no input images ({missing}). Pass image files or folders containing "
                          f"{'/'.join(IMAGE_EXTENSIONS)} files.")
    ensure_output_dir(out_dir, "--out folder")
    if backend in ("onnxruntime", "openvino"):  # an exported model, run on the CPU
        model, summary = open_for_predict(args.checkpoint, args.device, getattr(args, "fast", False), backend)
        device = torch.device("cpu")
    else:
        device = resolve_device(args.device)
        model, report = load_checkpoint(args.checkpoint, device=device)
        summary = report.summary()
        if getattr(args, "fast", False):
            from zoedam_lib.inference.approximate import prepare_fast

            model = prepare_fast(model)
    aware = is_camera_aware(model)
    can_estimate = aware and has_camera_head(model)
    print(f"{summary} | device {device} | {len(files)} input files -> {out_dir}", flush=True)
    print(f"camera: {camera_line(aware, can_estimate)}", flush=True)
    done, batch, failed, misfits = 0, [], [], []
    max_pixels = getattr(args, "max_pixels", MAX_PIXELS)
    with torch.inference_mode(), tqdm(total=len(files), unit="img", desc="predict", file=sys.stderr) as bar:
        for path, name in zip(files, _output_names(files, out_dir), strict=True):
            try:
                image = read_image(path, max_pixels)  # (H, W, 3) uint8/uint16, EXIF-rotated
                camera = photo_camera(path, args.intrinsics, can_estimate) if args.ply or aware else None
            except (ImageReadError, ConfigError) as exc:  # unreadable, or --intrinsics that do not fit this photo
                unread = isinstance(exc, ImageReadError)
                skipped.append((str(path), _reason(exc) if unread else "--intrinsics do not fit this image"))
                misfits += [] if unread else [str(exc)]
                tqdm.write(f"skipped {exc}" if unread else f"skipped {path}: {exc}", file=sys.stderr)
                bar.update(1)
                continue
            x = resize_image(image, network_input_size(model, *image.shape[:2]))
            item = _Loaded(path, name, x, image.shape[:2], image if args.ply else None, camera)
            del image
            if batch and batch[0].x.shape != x.shape:  # only keep_aspect_ratio models vary the size
                done += _flush(model, batch, args, out_dir, device, bar, failed)
            batch.append(item)
            if len(batch) == args.batch_size:
                done += _flush(model, batch, args, out_dir, device, bar, failed)
        done += _flush(model, batch, args, out_dir, device, bar, failed)
    skipped += failed
    reasons = "; ".join(f"{name}: {why}" for name, why in skipped)
    print(f"inference: {'OpenVINO ' if backend == 'openvino' else ''}{fixed or args.precision.describe()}")
    print(f"done {done} images, skipped {len(skipped)}{f' ({reasons})' if skipped else ''}")
    if failed:
        raise PredictionError(f"the model predicted NaN/inf depth for {len(failed)} of {len(files)} images, so "
                              "nothing was written for them. The model is numerically broken: with --fast (fp16) "
                              "try without it; otherwise the checkpoint is damaged or diverged.")
    if done == 0 and misfits:
        raise ConfigError(f"{misfits[0]} Nothing was predicted: the given --intrinsics fit none of the {len(files)} "
                          "images.")
    if done == 0:
        raise ImageReadError(f"none of the {len(files)} input files could be read as an image; expected "
                             f"{'/'.join(IMAGE_EXTENSIONS)} files")
    return 0
