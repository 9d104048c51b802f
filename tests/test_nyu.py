"""NyuMat: exact round trip, a clear DataFileError for every kind of bad file, fork/pickle safety."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch

from zoedam_lib.data.matfile import NyuMatWriter
from zoedam_lib.data.nyu import NyuMat, valid_depth_mask
from zoedam_lib.errors import DataFileError

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


def write_raw(path: Path, **datasets: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)
    return path


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


def test_valid_depth_mask() -> None:
    depth = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e-3, 0.5, 9.99, 10.0, 12.0], dtype=np.float32)
    expected = [False] * 6 + [True, True, False, False]
    np.testing.assert_array_equal(valid_depth_mask(depth), expected)
    np.testing.assert_array_equal(valid_depth_mask(depth, max_depth=11.0)[-2:], [True, False])


def test_missing_path(tmp_path: Path) -> None:
    message = r"not found.*download-nyu.*nyu_depth_v2_labeled\.mat.*SynthRooms"
    with pytest.raises(DataFileError, match=message):
        NyuMat(tmp_path / "nope.mat")


def test_directory_suggests_the_single_mat(tmp_path: Path) -> None:
    write_mat(tmp_path / "only.mat", n=1)
    with pytest.raises(DataFileError, match=r"is a directory.*Did you mean .*only\.mat"):
        NyuMat(tmp_path)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.mat"
    write_mat(path, n=6)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    message = rf"truncated or not MATLAB v7\.3/HDF5.*2,972,037,809 bytes, yours is {size // 2:,}"
    with pytest.raises(DataFileError, match=message):
        NyuMat(path)


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "x.mat"
    path.write_bytes(b"<html>404 not found</html>" * 40)
    with pytest.raises(DataFileError, match=r"cannot be opened as HDF5.*re-download"):
        NyuMat(path)


def test_matlab_v5_file(tmp_path: Path) -> None:
    path = tmp_path / "v5.mat"
    scipy.io.savemat(path, {"depths": np.zeros((2, 3), np.float32)})
    with pytest.raises(DataFileError, match=r"MATLAB v5 .*v7\.3"):
        NyuMat(path)


def test_missing_depths(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "m.mat", images=np.zeros((2, 3, W, H), np.uint8),
                     rawDepths=np.zeros((2, W, H)))
    message = r"lacks the NYU datasets.*'depths' float32 \(N, W, H\).*found 'images'.*'rawDepths'"
    with pytest.raises(DataFileError, match=message):
        NyuMat(path)


def test_wrong_dtype(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "d.mat", images=np.zeros((2, 3, W, H), np.float32),
                     depths=np.zeros((2, W, H), np.float32))
    with pytest.raises(DataFileError, match=r"'images' must be uint8 \(N, 3, W, H\), got float32"):
        NyuMat(path)
    path = write_raw(tmp_path / "d2.mat", images=np.zeros((2, 3, W, H), np.uint8),
                     depths=np.zeros((2, W, H), np.uint16))
    with pytest.raises(DataFileError, match=r"'depths' must be float.*got uint16"):
        NyuMat(path)


@pytest.mark.parametrize(("images", "depths", "message"), [
    ((2, W, H), (2, W, H), r"'images' must be uint8 \(N, 3, W, H\), got uint8 \(2, 10, 6\)"),
    ((2, 4, W, H), (2, W, H), r"'images' must be uint8 \(N, 3, W, H\)"),
    ((2, 3, W, H), (3, W, H), r"'depths' must be float \(N, W, H\) = \(2, 10, 6\).*got float32 \(3, 10, 6\)"),
    ((2, 3, W, H), (2, H, W), r"'depths' must be float \(N, W, H\)"),
])
def test_wrong_shapes(tmp_path: Path, images: tuple, depths: tuple, message: str) -> None:
    path = write_raw(tmp_path / "s.mat", images=np.zeros(images, np.uint8),
                     depths=np.zeros(depths, np.float32))
    with pytest.raises(DataFileError, match=message):
        NyuMat(path)


def test_no_items(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "e.mat", images=np.zeros((0, 3, W, H), np.uint8),
                     depths=np.zeros((0, W, H), np.float32))
    with pytest.raises(DataFileError, match="holds no items"):
        NyuMat(path)


def test_corrupt_item(tmp_path: Path) -> None:
    path = tmp_path / "c.mat"
    images, _ = write_mat(path, n=3, compression="gzip")
    with h5py.File(path, "r") as f:
        _, chunk = f["depths"].id.read_direct_chunk((1, 0, 0))  # item 1's compressed depth bytes
    content = path.read_bytes()
    offset = content.find(chunk)
    assert offset > 0 and content.count(chunk) == 1
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * len(chunk))
    with NyuMat(path) as data:
        np.testing.assert_array_equal(data.read(0)[0], images[0])
        with pytest.raises(DataFileError, match=rf"item 1 \('depths'\) of .*{path.name}.*corrupt"):
            data.read(1)
        with pytest.raises(DataFileError, match="item 1"):
            data.read_depth(1)


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
