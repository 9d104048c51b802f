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
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.camera.intrinsics import EDGE_JUMP
from zoedam_lib.camera.photo import PhotoCamera, photo_intrinsics
from zoedam_lib.inference.exported.onnx import is_onnx_path, open_for_predict
from zoedam_lib.inference.precision import JobPrecision
from zoedam_lib.inference.predict import infer, model_depth_range, non_finite_problem
from zoedam_lib.io.images import IMAGE_EXTENSIONS, MAX_PIXELS, read_image
from zoedam_lib.io.writers import write_color_png, write_depth_png16, write_ply
from zoedam_lib.models.layers.resample import bilinear_taps
from zoedam_lib.utils.errors import ConfigError, ImageReadError, PredictionError
from zoedam_lib.utils.output_dirs import ensure_output_dir
from zoedam_lib.utils.paths import unusable_path_reason
from zoedam_lib.utils.progress import tqdm

_UNSAFE_CHARS = re.compile(r"[^\w.-]+")
_MAX_STEM = 100  # characters; leaves room for suffixes within the usual 255-byte file-name limit


@dataclass
class _Loaded:
    """An image read and resized, waiting in the batch."""

    path: Path
    name: str  # output stem
    x: torch.Tensor  # (3, h, w) network input in [0, 1]
    size: tuple[int, int]  # the image's (H, W) after EXIF rotation
    rgb: np.ndarray | None  # (H, W, 3) kept only when a PLY is written
    camera: PhotoCamera | None  # the photo's intrinsics and their source, only when a PLY is written


def collect_inputs(inputs: Sequence[str | os.PathLike], exclude: Path | None = None
                   ) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files to predict, in a deterministic order, and the inputs skipped as (name, reason).

    Files named explicitly are always tried (whatever their extension). Folders are searched
    recursively for :data:`IMAGE_EXTENSIONS` (case-insensitive), sorted by relative path; other
    files, hidden files and anything under ``exclude`` (the output folder) are ignored silently.
    A path given twice, or found twice, is predicted once.
    """
    files: list[Path] = []
    skipped: list[tuple[str, str]] = []
    seen: set[Path] = set()
    excluded = Path(os.path.realpath(exclude)) if exclude is not None else None  # never raises, even on a loop

    def add(path: Path) -> None:
        key = path.resolve()
        if key not in seen:
            seen.add(key)
            files.append(path)

    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found = [p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                     and not any(part.startswith(".") for part in p.relative_to(path).parts)
                     and (excluded is None or not p.resolve().is_relative_to(excluded))]
            for p in sorted(found, key=lambda p: p.relative_to(path).as_posix()):
                add(p)
        elif path.is_file():
            add(path)
        else:
            reason = unusable_path_reason(path)
            skipped.append((str(item), f"{reason}" if reason else "not found"))
    return files, skipped


def safe_stem(path: str | os.PathLike) -> str:
    """An output stem from a file name that cannot leave the output folder or hide itself.

    Only the last path component is used; characters other than letters, digits, ``.``, ``-``
    and ``_`` become ``_``; leading dots are dropped (no ``..``, no hidden files).
    """
    stem = _UNSAFE_CHARS.sub("_", Path(os.fspath(path).replace("\\", "/")).stem)
    stem = stem.lstrip(".")[:_MAX_STEM]
    return stem or "image"


def assign_names(paths: Sequence[Path]) -> list[str]:
    """Unique output stems in input order: the second ``x`` becomes ``x-1``, the third ``x-2``.

    Compared case-insensitively, so outputs do not overwrite each other on macOS/Windows either.
    """
    used: set[str] = set()
    names = []
    for path in paths:
        stem = candidate = safe_stem(path)
        k = 0
        while candidate.casefold() in used:
            k += 1
            candidate = f"{stem}-{k}"
        used.add(candidate.casefold())
        names.append(candidate)
    return names


def input_size(model: nn.Module, height: int, width: int) -> tuple[int, int]:
    """The (h, w) a model takes an (height, width) image at: an exported graph's fixed input size, a model's
    network size, else the image's own size."""
    from zoedam_lib.models.zoedam import ZoeDAMConfig, network_size

    fixed = getattr(model, "export_size", None)  # an exported ONNX graph takes one input size
    if fixed is not None:
        return fixed
    cfg = getattr(model, "config", None)
    if isinstance(cfg, ZoeDAMConfig):
        return network_size(height, width, cfg)
    size = getattr(cfg, "img_size", None)
    return (int(size[0]), int(size[1])) if size is not None else (height, width)


def resize_for_network(image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """uint8/uint16 (H, W, 3) → float32 (3, h, w) in [0, 1], bilinear with align_corners=True.

    Equals ``F.interpolate(to_float_image(image)[None], size, mode="bilinear", align_corners=True)``
    (to float rounding), but only the four source pixels of each output pixel are converted to
    float, so an 8000×6000 photo never exists as a 576 MB float copy.
    """
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    y0, y1, ly = bilinear_taps(image.shape[0], size[0])
    x0, x1, lx = bilinear_taps(image.shape[1], size[1])
    top, bottom = image[y0], image[y1]  # (h, W, 3) each, still integers

    def tap(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return rows[:, cols].astype(np.float32) / np.float32(scale)  # (h, w, 3)

    lx, ly = lx[None, :, None], ly[:, None, None]
    out = (tap(top, x0) * (1 - lx) + tap(top, x1) * lx) * (1 - ly) + (tap(bottom, x0) * (1 - lx)
                                                                       + tap(bottom, x1) * lx) * ly
    return torch.from_numpy(out).permute(2, 0, 1).contiguous()


def _predict_batch(model: nn.Module, batch: list[_Loaded], args: argparse.Namespace, out_dir: Path,
                   device: torch.device, failed: list[tuple[str, str]]) -> int:
    """Run one batch and write each image's outputs at its own resolution; returns how many were written.

    A non-finite prediction is never written (it would read back as a valid, empty depth map):
    the image goes to ``failed`` with the reason.
    """
    x = torch.stack([item.x for item in batch]).to(device)  # (B, 3, h, w)
    depth = infer(model, x, flip_tta=args.flip_tta, precision=getattr(args, "precision", "fp32")).cpu()
    lo, hi = model_depth_range(model)
    written = 0
    for item, pred in zip(batch, depth, strict=True):
        problem = non_finite_problem(pred)
        if problem is not None:
            failed.append((str(item.path), f"non-finite prediction ({problem})"))
            tqdm.write(f"not written {item.path}: {problem}", file=sys.stderr)
            continue
        written += 1
        full = F.interpolate(pred[None], size=item.size, mode="bilinear", align_corners=True)
        depth_m = full.clamp_(lo, hi)[0, 0].numpy()  # (H, W) metres
        write_depth_png16(out_dir / f"{item.name}_depth.png", depth_m)
        write_color_png(out_dir / f"{item.name}_color.png", depth_m)
        if item.rgb is not None and item.camera is not None:
            counts = write_ply(out_dir / f"{item.name}.ply", depth_m, item.rgb, item.camera.intrinsics,
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
    print(f"{summary} | device {device} | {len(files)} input files -> {out_dir}", flush=True)
    done, batch, failed = 0, [], []
    max_pixels = getattr(args, "max_pixels", MAX_PIXELS)
    with torch.inference_mode(), tqdm(total=len(files), unit="img", desc="predict", file=sys.stderr) as bar:
        for path, name in zip(files, assign_names(files), strict=True):
            try:
                image = read_image(path, max_pixels)  # (H, W, 3) uint8/uint16, EXIF-rotated
            except ImageReadError as exc:
                skipped.append((str(path), _reason(exc)))
                tqdm.write(f"skipped {exc}", file=sys.stderr)
                bar.update(1)
                continue
            camera = photo_intrinsics(path, args.intrinsics) if args.ply else None  # may refuse --intrinsics
            x = resize_for_network(image, input_size(model, *image.shape[:2]))
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
    if done == 0:
        raise ImageReadError(f"none of the {len(files)} input files could be read as an image; expected "
                             f"{'/'.join(IMAGE_EXTENSIONS)} files")
    return 0
