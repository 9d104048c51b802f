"""Turning whatever a user has (path, PIL image, numpy array, tensor) into an RGB float image.

Photos come as 8-bit or 16-bit, grayscale, RGBA, palette images and EXIF-rotated JPEGs; the
models want (3, H, W) float RGB in [0, 1]. Every conversion is explicit here so that inference
and the unlabeled-data loader treat images identically. Two kinds of file are refused as
unreadable although they decode: images above :data:`MAX_PIXELS` (checked from the header,
before a byte of pixels is decoded) and float images with NaN or inf pixels (any depth predicted
from them would be invented).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from zoedam_lib.utils.errors import ImageReadError

if TYPE_CHECKING:  # torch is imported where tensors are made, so reading files (dataset readers) stays light
    import torch

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
# Largest image decoded by default: 64 MP (8000x8000). Predicting a 48 MP photo takes ~0.85 GB
# (docs/robustness.md), about 18 bytes per pixel, so 64 MP stays near 1.2 GB; larger images are
# refused from their header (raise it with max_pixels / --max-pixels). PIL's own decompression-bomb
# guard (twice its limit, 400 MP) stays in place for everything else that opens images.
MAX_PIXELS = 64_000_000
Image.MAX_IMAGE_PIXELS = 200_000_000


def read_image(path: str | os.PathLike, max_pixels: int | None = MAX_PIXELS) -> np.ndarray:
    """Read an image file as RGB (H, W, 3), applying its EXIF orientation.

    Returns uint8 for 8-bit files and uint16 for 16-bit ones (so no precision is lost before
    :func:`to_float_image`). Grayscale is replicated to three channels; alpha is dropped.
    Raises :class:`ImageReadError` naming the file if it cannot be decoded, holds more than
    ``max_pixels`` pixels (None: no limit but PIL's) or has non-finite (NaN/inf) float pixels.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                _check_size(path, img.size, max_pixels)
                img = ImageOps.exif_transpose(img)
                img.load()
                return _pil_to_rgb_array(img, str(path))
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path}") from None
    except Image.DecompressionBombError as exc:  # above PIL's own limit, which max_pixels cannot lift
        raise ImageReadError(f"{path} is too large to decode safely ({exc}); downscale it.",
                             reason="too large") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc.__class__.__name__}: {exc}. "
                             "Expected a JPEG/PNG/BMP/TIFF/WebP file; check that it is not truncated.") from None


def _check_size(path: Path, size: tuple[int, int], max_pixels: int | None) -> None:
    """Refuse an image larger than ``max_pixels`` from its header, before its pixels are decoded."""
    w, h = size
    if max_pixels is not None and w * h > max_pixels:
        hard = Image.MAX_IMAGE_PIXELS * 2 if Image.MAX_IMAGE_PIXELS else None
        lift = (f"raise the limit with --max-pixels {w * h} (max_pixels={w * h} in Python) if ~{w * h * 18 / 1e9:.1f} "
                "GB of memory is available" if hard is None or w * h <= hard else
                f"nothing else: it is also above PIL's decompression-bomb limit of {hard / 1e6:g} MP")
        raise ImageReadError(f"{path} is {w}×{h} = {w * h / 1e6:.1f} MP, above the limit of {max_pixels / 1e6:g} MP "
                             f"that keeps memory bounded: downscale it, or {lift}.", reason="too large")


def _pil_to_rgb_array(img: Image.Image, name: str = "the image") -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img).astype(np.float64)
        arr = np.clip(arr, 0, 65535).astype(np.uint16)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        _check_finite(arr, name)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        return np.repeat((arr * 65535).astype(np.uint16)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA").convert("RGB")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


def _check_finite(arr: np.ndarray, name: str) -> None:
    """Non-finite pixels make an image unreadable: normalising NaN gives NaN, and a NaN cast to integers
    is any value, so a depth map would be predicted from invented pixels."""
    bad = int(np.count_nonzero(~np.isfinite(arr)))
    if bad:
        raise ImageReadError(f"cannot use image {name}: {bad} of {arr.size} pixel values are NaN or inf (a float "
                             "image from a failed computation?). Expected finite values.", reason="non-finite pixels")


def to_float_image(image: np.ndarray | Image.Image | torch.Tensor) -> torch.Tensor:
    """Any RGB/grayscale/RGBA image → float32 (3, H, W) tensor in [0, 1].

    numpy/PIL images are (H, W[, C]) with uint8 (÷255), uint16 (÷65535) or float in [0, 1];
    tensors may be (3, H, W) or (1, 3, H, W), uint8 or float in [0, 1].
    """
    import torch

    if isinstance(image, Image.Image):
        image = _pil_to_rgb_array(ImageOps.exif_transpose(image))
    if isinstance(image, torch.Tensor):
        t = image.detach()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim == 2:
            t = t[None]
        if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
            raise ValueError(f"expected a (3, H, W) image tensor, got shape {tuple(image.shape)}")
        t = t[:3] if t.shape[0] >= 3 else t.expand(3, -1, -1)
        if t.is_floating_point():
            _check_finite(t.float().cpu().numpy(), "the tensor")
        return t.float() / 255.0 if t.dtype == torch.uint8 else t.float()
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) image, got shape {arr.shape}")
    arr = arr[..., :1] if arr.shape[2] == 2 else arr[..., :3]  # gray+alpha → gray, RGBA → RGB
    if arr.dtype == np.uint8:
        out = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        out = arr.astype(np.float32) / 65535.0
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        _check_finite(out, "the array")
    else:
        raise ValueError(f"unsupported image dtype {arr.dtype}; expected uint8, uint16 or float in [0, 1]")
    t = torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)
    return t.expand(3, -1, -1).contiguous() if t.shape[0] == 1 else t
