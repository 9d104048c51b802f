"""NyuMat: exact round trip, fork/pickle safety. Bad files are in ``tests/robustness/test_data_files.py``."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.nyu.reader import NyuMat

H, W = 6, 10


def make_items(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n random (H, W, 3) uint8 images and (H, W) depths including values the loader must pass through."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, H, W, 3), dtype=np.uint8)
    depths = rng.uniform(0.5, 9.0, size=(n, H, W)).astype(np.float32)
    depths[0, 0, :4] = [np.nan, np.inf, -1.0, 0.0]
    return images, depths


def write_mat(path: Path, n: int = 4, compression: str | None = None,
              attrs: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    images, depths = make_items(n)
    with NyuMatWriter(path, n, H, W, compression=compression, attrs=attrs) as w:
        for i in range(n):
            w.write(i, images[i], depths[i])
    return images, depths


@pytest.mark.parametrize("compression", [None, "gzip"])
def test_round_trip(tmp_path: Path, compression: str | None) -> None:
    path = tmp_path / "d.mat"
    attrs = {"generator": "synthrooms", "seed": 7}
    images, depths = write_mat(path, n=5, compression=compression, attrs=attrs)
    with NyuMat(path) as data:
        assert (len(data), data.height, data.width) == (5, H, W)
        assert data.attrs == attrs
        for i in range(5):
            image, depth = data.read(i)
            assert image.dtype == np.uint8 and image.shape == (H, W, 3) and image.flags.c_contiguous
            assert depth.dtype == np.float32 and depth.shape == (H, W) and depth.flags.c_contiguous
            np.testing.assert_array_equal(image, images[i])
            np.testing.assert_array_equal(depth, depths[i])  # NaN/inf/negative pass through unchanged
            np.testing.assert_array_equal(data.read_depth(i), depths[i])
        np.testing.assert_array_equal(data.read(-1)[0], images[4])
        with pytest.raises(IndexError, match="out of range"):
            data.read(5)
    np.testing.assert_array_equal(data.read(1)[0], images[1])  # reopens after close


class _Items(torch.utils.data.Dataset):
    def __init__(self, data: NyuMat) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        image, depth = self.data.read(i)
        return image, depth, os.getpid(), self.data._pid  # the pid that opened the handle in use


def test_pickle_drops_the_handle(tmp_path: Path) -> None:
    path = tmp_path / "p.mat"
    images, depths = write_mat(path, n=3)
    data = NyuMat(path)
    data.read(0)
    copy = pickle.loads(pickle.dumps(data))
    assert copy._handle is None and data._handle is not None
    np.testing.assert_array_equal(copy.read(2)[1], depths[2])
    data.close()
    copy.close()


def test_dataloader_workers_read_the_same(tmp_path: Path) -> None:
    path = tmp_path / "w.mat"
    images, depths = write_mat(path, n=6)
    data = NyuMat(path)  # the parent holds an open handle when the workers fork
    loader = torch.utils.data.DataLoader(_Items(data), batch_size=None, num_workers=2)
    pids = set()
    for i, (image, depth, pid, handle_pid) in enumerate(loader):
        np.testing.assert_array_equal(image.numpy(), images[i])
        np.testing.assert_array_equal(depth.numpy(), depths[i])
        assert handle_pid == pid  # each worker opened its own handle
        pids.add(int(pid))
    assert i == 5 and os.getpid() not in pids and len(pids) == 2
    np.testing.assert_array_equal(data.read(3)[0], images[3])  # the parent's handle still works
    data.close()
