"""Turning whatever a user has (path, PIL image, numpy array, tensor) into an RGB float image.

Photos come as 8-bit or 16-bit, grayscale, RGBA, palette images and EXIF-rotated JPEGs; the
models want (3, H, W) float RGB in [0, 1]. Every conversion is explicit here so that inference
and the unlabeled-data loader treat images identically.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageReadError

if TYPE_CHECKING:  # torch is imported where tensors are made, so reading files (dataset readers) stays light
    import torch

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
# Refuse decompression bombs but allow large photos (e.g. 8000x6000 = 48 MP).
Image.MAX_IMAGE_PIXELS = 200_000_000


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB (H, W, 3), applying its EXIF orientation.

    Returns uint8 for 8-bit files and uint16 for 16-bit ones (so no precision is lost before
    :func:`to_float_image`). Grayscale is replicated to three channels; alpha is dropped.
    Raises :class:`ImageReadError` naming the file if it cannot be decoded.
    """
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img = ImageOps.exif_transpose(img)
                img.load()
                return _pil_to_rgb_array(img)
    except FileNotFoundError:
        raise ImageReadError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"cannot read image {path}: {exc.__class__.__name__}: {exc}. "
                             "Expected a JPEG/PNG/BMP/TIFF/WebP file; check that it is not truncated.") from None


def _pil_to_rgb_array(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img).astype(np.float64)
        arr = np.clip(arr, 0, 65535).astype(np.uint16)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)
        return np.repeat((arr * 65535).astype(np.uint16)[..., None], 3, axis=2)
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA").convert("RGB")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img, dtype=np.uint8).copy()


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
    else:
        raise ValueError(f"unsupported image dtype {arr.dtype}; expected uint8, uint16 or float in [0, 1]")
    t = torch.from_numpy(np.ascontiguousarray(out)).permute(2, 0, 1)
    return t.expand(3, -1, -1).contiguous() if t.shape[0] == 1 else t
