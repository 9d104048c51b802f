"""An NYU-layout file's cameras, checked when the file is opened: its ``intrinsics`` dataset or attribute.

A camera-aware model turns canonical depth into metres with each image's focal length, so an evaluation
file's intrinsics set the scale of every number it reports. Rows with NaN, negative or absurd focal
lengths, or a dataset of the wrong shape, used to pass unnoticed (NaN even read as "unknown, estimate
it"); here every row goes through the one validator
(:func:`~zoedam_lib.camera.intrinsics.intrinsics_problem`) at the stored image size, and the first bad
one is a :class:`~zoedam_lib.utils.errors.DataFileError` naming the row, before any work starts. The
whole table is N x 4 numbers, so it is read once and kept (no HDF5 read per item).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from zoedam_lib.camera.intrinsics import intrinsics_problem
from zoedam_lib.data.nyu.matfile import INTRINSICS_KEY
from zoedam_lib.utils.errors import DataFileError

Rows = np.ndarray  # (N, 4) float64: fx, fy, cx, cy per image, pixels at the stored size


def file_intrinsics(path: Path, f: h5py.File, n: int, height: int, width: int
                    ) -> Rows | tuple[float, float, float, float] | None:
    """The file's per-image rows (N, 4), its one fixed camera (the attribute), or None when it records none."""
    fix = (f"Fix or regenerate {path} (rows fx, fy, cx, cy in pixels at the stored {width}x{height}), or delete its "
           f"'{INTRINSICS_KEY}' to use NYU's Kinect camera.")
    if INTRINSICS_KEY in f:
        ds = f[INTRINSICS_KEY]
        if not isinstance(ds, h5py.Dataset) or ds.shape != (n, 4) or ds.dtype.kind != "f":
            found = f"{ds.dtype} {ds.shape}" if isinstance(ds, h5py.Dataset) else type(ds).__name__
            raise DataFileError(f"{path}: '{INTRINSICS_KEY}' must be float (N, 4) = ({n}, 4), one fx, fy, cx, cy row "
                                f"per image; found {found}. {fix}")
        rows = np.asarray(ds[()], dtype=np.float64)
        for i, row in enumerate(rows):
            problem = intrinsics_problem(row, height, width)
            if problem is not None:
                raise DataFileError(f"{path}: '{INTRINSICS_KEY}' row {i} {tuple(row.tolist())}: {problem}; a "
                                    f"camera-aware model's depth scales with it. {fix}")
        return rows
    fixed = f.attrs.get(INTRINSICS_KEY)
    if fixed is None:
        return None
    try:
        values = np.asarray(fixed, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        values = np.empty(0)
    problem = intrinsics_problem(values, height, width) if values.size == 4 else \
        f"must be four numbers fx, fy, cx, cy, got {fixed!r:.80}"
    if problem is not None:
        raise DataFileError(f"{path}: the '{INTRINSICS_KEY}' attribute: {problem}. {fix}")
    return tuple(float(v) for v in values)
