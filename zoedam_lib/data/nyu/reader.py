"""Lazy, validated reader of ``nyu_depth_v2_labeled.mat`` (and SynthRooms files in the same layout).

The official file is 2.8 GB, so items are read one at a time with h5py and never all at once.
Every way the file can be wrong (missing, truncated, MATLAB v5, wrong datasets, depths in another
unit than metres) becomes a :class:`DataFileError` that says what was expected and what to do,
instead of an h5py traceback or a run that trains on nothing.
The layout (transposed by MATLAB's column-major order) is described in :mod:`.matfile`.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

import h5py
import numpy as np

from zoedam_lib.data.depth_unit import check_depth_unit
from zoedam_lib.data.nyu.intrinsics import file_intrinsics
from zoedam_lib.data.nyu.matfile import DEPTHS_KEY, IMAGES_KEY
from zoedam_lib.utils.errors import ConfigError, DataFileError
from zoedam_lib.utils.paths import resolve, unusable_path_reason

NYU_LABELED_URL = "https://horatio.cs.nyu.edu/mit/silberman/nyu_depth_v2/nyu_depth_v2_labeled.mat"
NYU_LABELED_SIZE = 2_972_037_809  # bytes of the official labeled file
EXPECTED_LAYOUT = f"'{IMAGES_KEY}' uint8 (N, 3, W, H) and '{DEPTHS_KEY}' float32 (N, W, H)"
# HDF5 chunk cache per dataset: several items, so a file chunked across items (MATLAB's chunking
# may differ from NyuMatWriter's one item per chunk) inflates each chunk once per pass, while the
# memory per DataLoader worker stays bounded. One-item chunks read equally fast with any size.
CHUNK_CACHE_BYTES = 8 << 20
UNIT_SAMPLES = 8  # depth maps read when a file is opened, to check that its depths are metres

_HOW_TO_GET = (
    "Get the official file with `python -m zoedam_lib download-nyu --out data/nyu` or from "
    f"{NYU_LABELED_URL} (~2.8 GB). The default SynthRooms data needs no download."
)


class NyuMat:
    """The (RGB, depth) pairs of an NYU-layout ``.mat`` file, read item by item.

    Safe with forked ``DataLoader`` workers: the h5py handle is opened on first use in each
    process (tracked by pid) and dropped when pickled, since one HDF5 handle must not be shared
    across processes.

    Args:
        path: the ``.mat`` file; relative paths are resolved as in :func:`zoedam_lib.utils.paths.resolve`.
        depth_scale: metres per stored depth unit (1 for the official file and SynthRooms; 1e-3 for a
            file written in millimetres). Opening checks that the depths, so scaled, are metres.
    """

    def __init__(self, path: str | os.PathLike, depth_scale: float = 1.0) -> None:
        if not (isinstance(depth_scale, (int, float)) and np.isfinite(depth_scale) and depth_scale > 0):
            raise ConfigError(f"depth_scale must be a positive number of metres per stored unit (1e-3 for "
                              f"millimetres), got {depth_scale!r}")
        self.path = resolve(path)
        self.depth_scale = float(depth_scale)
        self._handle: h5py.File | None = None
        self._datasets: dict[str, h5py.Dataset] = {}  # looked up once per handle, not per read
        self._pid: int | None = None
        _check_path(self.path)
        f = self._file()
        try:
            self._n, self._width, self._height = _check_layout(self.path, f)
            self._cameras = file_intrinsics(self.path, f, self._n, self._height, self._width)
            self._check_unit()
        except DataFileError:
            self.close()
            raise
        self.attrs: dict[str, Any] = {k: _plain(v) for k, v in f.attrs.items()}

    def __len__(self) -> int:
        return self._n

    @property
    def height(self) -> int:
        return self._height

    @property
    def width(self) -> int:
        return self._width

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Item ``index``: RGB uint8 (H, W, 3) and depth float32 (H, W) in metres, as stored."""
        index = self._check_index(index)
        image = self._read(IMAGES_KEY, index)  # (3, W, H)
        rgb = np.empty((self._height, self._width, 3), np.uint8)  # copying channel by channel is 2x
        np.stack([channel.T for channel in image], axis=-1, out=rgb)  # faster than one 3-D transpose
        return rgb, self._depth(index)

    def intrinsics(self, index: int) -> tuple[float, float, float, float] | None:
        """Item ``index``'s camera ``(fx, fy, cx, cy)`` in pixels at the stored size, if the file says.

        Per-image rows (SynthRooms domains with varying lenses) win over the file attribute (fixed
        cameras); the official NYU file records neither, so this is None and callers assume
        NYU's Kinect (:func:`zoedam_lib.camera.intrinsics.scaled_intrinsics`). Checked when the file was
        opened (:mod:`.intrinsics`).
        """
        index = self._check_index(index)
        if isinstance(self._cameras, np.ndarray):
            return tuple(float(v) for v in self._cameras[index])
        return self._cameras

    def read_depth(self, index: int) -> np.ndarray:
        """Depth only (half the bytes of :meth:`read`), for baselines that never look at the image."""
        return self._depth(self._check_index(index))

    def close(self) -> None:
        """Close this process's handle; a later read reopens it."""
        if self._handle is not None and self._pid == os.getpid():
            self._handle.close()
        self._handle, self._datasets, self._pid = None, {}, None

    def __enter__(self) -> NyuMat:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handle"], state["_datasets"], state["_pid"] = None, {}, None
        return state

    def __repr__(self) -> str:
        return f"NyuMat({str(self.path)!r}, n={self._n}, height={self._height}, width={self._width})"

    def _file(self) -> h5py.File:
        """This process's handle, opened on first use (a forked child gets its own)."""
        if self._handle is None or self._pid != os.getpid():
            self._handle, self._datasets = _open(self.path), {}
            self._pid = os.getpid()
        return self._handle

    def _dataset(self, key: str) -> h5py.Dataset:
        f = self._file()  # first, since reopening in a new process forgets the old datasets
        if key not in self._datasets:
            self._datasets[key] = f[key]
        return self._datasets[key]

    def _check_index(self, index: int) -> int:
        i = int(index)
        if not -self._n <= i < self._n:
            raise IndexError(f"item {index} out of range for {self._n} items in {self.path}")
        return i % self._n

    def _depth(self, index: int) -> np.ndarray:
        depth = np.ascontiguousarray(self._read(DEPTHS_KEY, index).T, dtype=np.float32)  # stored (W, H)
        if self.depth_scale != 1.0:
            depth *= np.float32(self.depth_scale)
        return depth

    def _check_unit(self) -> None:
        """Stop now if UNIT_SAMPLES maps spread over the file say the depths are not metres (see
        :mod:`zoedam_lib.data.depth_unit`); a corrupt item is left for its own read to report."""
        depths, error = [], None
        for i in sorted({int(round(x)) for x in np.linspace(0, self._n - 1, min(UNIT_SAMPLES, self._n))}):
            try:
                depths.append(self._depth(i))
            except DataFileError as e:
                error = e
        if not depths and error is not None:
            raise error
        scale = "metres" if self.depth_scale == 1.0 else f"{self.depth_scale:g} m per stored unit"
        check_depth_unit(depths, str(self.path), read_as=scale, fix=(
            "To fix: declare the stored unit (on the command line --depth-unit mm, kitti or metres per unit such as "
            "0.01; in Python NyuMat(path, depth_scale=0.001) or setup_run(..., folder=FolderConfig(depth_unit='mm'))), "
            "or convert the file's depths to metres."))

    def _read(self, key: str, index: int) -> np.ndarray:
        try:
            return self._dataset(key)[index]
        except (OSError, RuntimeError, ValueError) as e:
            raise DataFileError(
                f"cannot read item {index} ('{key}') of {self.path}: the file is corrupt ({e}). "
                f"Re-download or regenerate it. {_HOW_TO_GET}") from e


def _check_path(path: Path) -> None:
    reason = unusable_path_reason(path)
    if reason is not None:
        raise DataFileError(f"cannot read the data file {path}: it is {reason}. data_path must be an NYU-layout "
                            f".mat file (or a folder dataset). {_HOW_TO_GET}")
    if path.is_dir():
        mats = sorted(path.glob("*.mat"))
        hint = f" Did you mean {mats[0]}?" if len(mats) == 1 else ""
        raise DataFileError(f"{path} is a directory; data_path must be the .mat file itself.{hint}")
    if not path.exists():
        raise DataFileError(f"data file not found: {path}. {_HOW_TO_GET}")


def _open(path: Path) -> h5py.File:
    """Open read-only, turning h5py's OSError into an explanation of what is wrong with the file."""
    try:
        return h5py.File(path, "r", rdcc_nbytes=CHUNK_CACHE_BYTES, rdcc_nslots=1009, locking=False)
    except OSError as e:
        raise DataFileError(_unreadable_message(path, e)) from e


def _unreadable_message(path: Path, error: OSError) -> str:
    try:
        with open(path, "rb") as f:
            head = f.read(128)
        size = path.stat().st_size
    except OSError as e:
        return f"cannot read {path}: {e}"
    if head.startswith(b"MATLAB 5.0"):
        return (f"{path} is a MATLAB v5 .mat file, but the loader needs the v7.3 (HDF5) labeled file "
                f"nyu_depth_v2_labeled.mat with {EXPECTED_LAYOUT}. {_HOW_TO_GET}")
    return (f"{path} cannot be opened as HDF5 ({error}): it is truncated or not MATLAB v7.3/HDF5. "
            f"The official file is {NYU_LABELED_SIZE:,} bytes, yours is {size:,}: re-download it "
            "(`python -m zoedam_lib download-nyu` resumes a partial download) or regenerate SynthRooms.")


def _check_layout(path: Path, f: h5py.File) -> tuple[int, int, int]:
    """(N, W, H) of the file, after checking names, dtypes and shapes against the NYU layout."""
    found = {k: f"{type(v).__name__} {getattr(v, 'dtype', '')} {getattr(v, 'shape', '')}".strip()
             for k, v in f.items()}
    datasets = [f.get(k) for k in (IMAGES_KEY, DEPTHS_KEY)]
    if not all(isinstance(d, h5py.Dataset) for d in datasets):
        listing = ", ".join(f"'{k}' {v}" for k, v in found.items()) or "nothing"
        raise DataFileError(f"{path} lacks the NYU datasets: expected {EXPECTED_LAYOUT}; found {listing}.")
    images, depths = datasets
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1] != 3:
        raise DataFileError(f"{path}: '{IMAGES_KEY}' must be uint8 (N, 3, W, H), "
                            f"got {images.dtype} {images.shape}. Expected {EXPECTED_LAYOUT}.")
    n, _, w, h = images.shape
    if depths.dtype.kind != "f" or depths.shape != (n, w, h):
        raise DataFileError(f"{path}: '{DEPTHS_KEY}' must be float (N, W, H) = {(n, w, h)} to match "
                            f"'{IMAGES_KEY}' {images.shape}, got {depths.dtype} {depths.shape}.")
    if n == 0 or w == 0 or h == 0:
        raise DataFileError(f"{path} holds no items ('{IMAGES_KEY}' shape {images.shape}); "
                            "regenerate or re-download it.")
    return n, w, h


def _plain(value: Any) -> Any:
    """HDF5 attribute values as plain Python (bytes → str, numpy scalars → numbers)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value
