"""The files of a folder dataset, one at a time: their size from the header alone, and their decoded pixels.

Opening a dataset must be cheap even for thousands of pairs, so :func:`image_size` and
:func:`depth_size` read headers only (PIL decodes lazily; ``.npy`` headers are a few bytes),
yet catch the common mistakes early: empty or non-image files, colour-mapped depth
visualisations saved instead of raw depth, integer ``.npy`` files. A file that cannot be used
raises :class:`BadFile`, whose message the reader reports beside the file's name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from zoedam_lib.camera.exif import header_orientation, is_transposed
from zoedam_lib.io.images import read_image
from zoedam_lib.utils.errors import DataFileError, ImageReadError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DEPTH_SUFFIXES = (".png", ".npy")
INTEGER_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I")  # PIL modes of 16-bit single-channel PNGs


class BadFile(Exception):
    """A file the dataset cannot use; the message says why (the caller adds the file name)."""


def image_size(path: Path) -> tuple[int, int]:
    """(H, W) of an RGB image as :func:`read_image` will return it (EXIF rotation applied), from its header."""
    try:
        with Image.open(path) as img:
            if img.format not in ("JPEG", "PNG"):
                raise BadFile(f"a {img.format} file; expected JPEG or PNG")
            w, h = img.size
            orientation = header_orientation(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadFile(f"not a readable image ({e.__class__.__name__}: {e})") from None
    return (w, h) if is_transposed(orientation) else (h, w)


def depth_size(path: Path) -> tuple[int, int]:
    """(H, W) of a depth file from its header: a single-channel integer PNG or a float ``.npy``."""
    if path.suffix.lower() == ".npy":
        return _npy_header(path)
    try:
        with Image.open(path) as img:
            mode, fmt, (w, h) = img.mode, img.format, img.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise BadFile(f"not a readable PNG ({e.__class__.__name__}: {e})") from None
    if fmt != "PNG":
        raise BadFile(f"a {fmt} file named .png; depth must be a lossless 16-bit PNG")
    if mode == "L":  # the whole dataset is made so: stop, do not skip pair after pair
        raise DataFileError(f"{path} is an 8-bit PNG: 256 levels cannot hold metric depth, so this is a depth "
                            "visualisation (0-255 scaled for viewing), not depth. Use the raw depth: a 16-bit PNG "
                            "with its unit (mm, kitti, tum or depth_scale in dataset.json) or a float32 .npy in "
                            "metres.")
    if mode not in INTEGER_DEPTH_MODES:
        raise BadFile(f"a {mode} PNG, not single-channel depth: a colour-mapped visualisation? Save the raw "
                      "depth as a 16-bit grayscale PNG (e.g. millimetres) or float32 .npy in metres")
    return h, w


def read_rgb(path: Path) -> np.ndarray:
    """uint8 (H, W, 3) RGB; 16-bit images are rounded to 8 bits (the models see 8-bit NYU images)."""
    try:
        rgb = read_image(path)
    except ImageReadError as e:
        raise BadFile(str(e)) from None
    if rgb.dtype == np.uint16:
        rgb = ((rgb.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    return rgb


def read_raw_depth(path: Path) -> np.ndarray:
    """The stored values, undecoded: an integer (H, W) array of a PNG, float32 (H, W) of an ``.npy``."""
    if path.suffix.lower() == ".npy":
        _npy_header(path)
        try:
            depth = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise BadFile(f"not a readable .npy file ({e})") from None
        return np.asarray(depth.reshape(depth.shape[:2]), dtype=np.float32)
    depth_size(path)
    try:
        with Image.open(path) as img:
            img.load()
            raw = np.asarray(img)
    except (OSError, SyntaxError, ValueError) as e:
        raise BadFile(f"cannot decode the PNG ({e.__class__.__name__}: {e}); is it truncated?") from None
    return raw


def _npy_header(path: Path) -> tuple[int, int]:
    """(H, W) of a float (H, W) or (H, W, 1) ``.npy`` from its header, without reading the array."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
    except (OSError, ValueError, EOFError) as e:
        raise BadFile(f"not a readable .npy file ({e})") from None
    if dtype.kind != "f":
        raise BadFile(f"an .npy of {dtype}; .npy depth must be float (metres). Save integer depth as a "
                      "16-bit PNG with its unit instead")
    if not (len(shape) == 2 or (len(shape) == 3 and shape[2] == 1)) or 0 in shape:
        raise BadFile(f"an .npy of shape {shape}; depth must be (H, W) or (H, W, 1)")
    return int(shape[0]), int(shape[1])
