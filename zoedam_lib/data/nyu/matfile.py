"""Writing files in the layout of the official ``nyu_depth_v2_labeled.mat``.

The official file is MATLAB v7.3, i.e. HDF5 with a 512-byte MATLAB header in the user block.
MATLAB stores arrays column-major, so h5py sees them transposed: ``images`` is uint8
(N, 3, W, H) and ``depths`` float32 (N, W, H). SynthRooms writes exactly this layout so one
loader (:mod:`zoedam_lib.data.nyu.reader`) reads both, and MATLAB users can open our files too.
Files whose images come from different cameras add ``intrinsics`` float32 (N, 4), one
``(fx, fy, cx, cy)`` row per image in pixels (MATLAB sees it as 4 x N); the official file has none.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from zoedam_lib.utils.atomic import atomic_path

IMAGES_KEY = "images"
DEPTHS_KEY = "depths"
INTRINSICS_KEY = "intrinsics"


def matlab_header() -> bytes:
    """The 128-byte MATLAB 7.3 header, padded to the 512-byte HDF5 user block."""
    text = (f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {time.strftime('%a %b %d %H:%M:%S %Y')} "
            "HDF5 schema 1.00 .").encode("ascii")
    head = text.ljust(116, b" ") + b" " * 8 + b"\x00\x02" + b"IM"
    return head.ljust(512, b"\x00")


class NyuMatWriter:
    """Stream N (RGB, depth) pairs into an NYU-layout .mat file without holding them in memory.

    The file appears at ``path`` only when the writer is closed after all N items were written
    (write, then rename), so an interrupted generation never leaves a truncated dataset behind.

    Args:
        path: output ``.mat`` path.
        n: number of items.
        height, width: image size (H, W).
        compression: ``None`` (fastest reads) or ``"gzip"`` (smaller, MATLAB-compatible).
        attrs: extra file attributes (e.g. the generator's seed and version).
        with_intrinsics: also store per-image intrinsics; :meth:`write` then requires them.
    """

    def __init__(self, path: str | os.PathLike, n: int, height: int, width: int,
                 compression: str | None = None, attrs: dict | None = None, with_intrinsics: bool = False) -> None:
        if n <= 0 or height <= 0 or width <= 0:
            raise ValueError(f"need n, height, width > 0, got {n}, {height}, {width}")
        self.path = Path(path)
        self.n, self.height, self.width = n, height, width
        self._written = np.zeros(n, dtype=bool)
        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        self._file = h5py.File(tmp, "w", userblock_size=512)
        opts = {"compression": "gzip", "compression_opts": 1} if compression == "gzip" else {}
        self._images = self._file.create_dataset(
            IMAGES_KEY, shape=(n, 3, width, height), dtype=np.uint8, chunks=(1, 3, width, height), **opts)
        self._depths = self._file.create_dataset(
            DEPTHS_KEY, shape=(n, width, height), dtype=np.float32, chunks=(1, width, height), **opts)
        self._images.attrs["MATLAB_class"] = np.bytes_("uint8")
        self._depths.attrs["MATLAB_class"] = np.bytes_("single")
        self._intrinsics = None
        if with_intrinsics:
            self._intrinsics = self._file.create_dataset(INTRINSICS_KEY, shape=(n, 4), dtype=np.float32)
            self._intrinsics.attrs["MATLAB_class"] = np.bytes_("single")
        for key, value in (attrs or {}).items():
            self._file.attrs[key] = value
        self._tmp = tmp

    def write(self, index: int, image: np.ndarray, depth: np.ndarray,
              intrinsics: tuple[float, float, float, float] | None = None) -> None:
        """Store item ``index``: ``image`` uint8 (H, W, 3) RGB, ``depth`` float (H, W) in metres.

        ``intrinsics`` (fx, fy, cx, cy) in pixels: required iff the writer was made ``with_intrinsics``.
        """
        if (intrinsics is None) != (self._intrinsics is None):
            raise ValueError("pass intrinsics exactly when the writer was created with_intrinsics=True")
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(f"image must be uint8 {(self.height, self.width, 3)}, got {image.dtype} {image.shape}")
        if depth.shape != (self.height, self.width):
            raise ValueError(f"depth must be {(self.height, self.width)}, got {depth.shape}")
        self._images[index] = np.ascontiguousarray(image.transpose(2, 1, 0))
        self._depths[index] = np.ascontiguousarray(depth.astype(np.float32).T)
        if self._intrinsics is not None:
            self._intrinsics[index] = np.asarray(intrinsics, dtype=np.float32)
        self._written[index] = True

    def close(self) -> None:
        """Finish the file and move it into place; refuses if items are missing."""
        missing = np.flatnonzero(~self._written)
        self._file.close()
        with open(self._tmp, "r+b") as f:
            f.write(matlab_header())
        if missing.size:
            self._ctx.__exit__(RuntimeError, RuntimeError("incomplete"), None)
            raise RuntimeError(f"{missing.size} of {self.n} items were never written (first: {missing[:5]})")
        self._ctx.__exit__(None, None, None)

    def abort(self) -> None:
        """Discard the partial file."""
        self._file.close()
        self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> NyuMatWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
