"""Torch datasets over NYU-layout files and folder datasets: indexed (image, depth) samples for training and evaluation.

Items are requested by ``(index, epoch)`` keys (see :class:`EpochBatchSampler`): the
augmentation generator is derived from (seed, epoch, index), so loading is deterministic with
any number of workers and a resumed run reproduces the interrupted one batch for batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from zoedam_lib.camera.photo import PhotoCamera
from zoedam_lib.camera.resolve import item_camera
from zoedam_lib.data.augment import Transform
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.sources import DepthSource
from zoedam_lib.data.zoom import RandomZoom, Zoomed
from zoedam_lib.utils.seeding import epoch_permutation, sample_rng


class DepthDataset(Dataset):
    """Samples ``indices`` of a dataset (NyuMat or FolderDataset) as ``{"image", "depth", "index", "camera", …}``.

    ``image`` is float (3, H, W) in [0, 1], ``depth`` float (1, H, W) in metres (invalid values
    kept; masks are computed by losses and metrics), ``camera`` float (2,) the item's (fx, fy) in
    pixels at (H, W), resolved by :func:`~zoedam_lib.camera.resolve.item_camera`. With ``zoom``
    (:class:`~.zoom.RandomZoom`, drawn before ``transform``) the camera is the zoomed one.
    """

    def __init__(self, mat: DepthSource, indices: Sequence[int], transform: Transform | None = None,
                 seed: int = 0, zoom: RandomZoom | None = None) -> None:
        self.mat, self.indices, self.transform, self.seed, self.zoom = mat, list(indices), transform, seed, zoom

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        i, epoch = key if isinstance(key, tuple) else (key, 0)
        index = self.indices[i]
        image, depth = self.mat.read(index)
        camera = self.camera(index, *depth.shape).camera
        rng = sample_rng(self.seed, epoch, index)
        zoomed = self.zoom(image, depth, rng) if self.zoom is not None else Zoomed(image, depth, 1.0, False)
        image, depth = zoomed.image, zoomed.depth
        if self.transform is not None:
            image, depth = self.transform(image, depth, rng)
        return {"image": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float().div_(255.0),
                "depth": torch.from_numpy(np.ascontiguousarray(depth, dtype=np.float32))[None],
                "index": torch.tensor(index),
                "camera": torch.tensor([camera.fx * zoomed.scale, camera.fy * zoomed.scale], dtype=torch.float32),
                "focal_known": torch.tensor(not zoomed.padded)}  # a photograph's own field of view (no padding)

    def camera(self, index: int, height: int, width: int) -> PhotoCamera:
        """Item ``index``'s camera at its read size and where it came from (for results: ``.source``)."""
        return item_camera(self.mat.intrinsics(index), height, width, isinstance(self.mat, NyuMat))


class ConcatDepthDataset(Dataset):
    """Several :class:`DepthDataset` as one training set, e.g. a run's rooms and rooms of other cameras.

    Metric3D (Yin et al. 2023, §3.2) trains one canonical-camera model on many datasets of many
    cameras at once; this is that mixture. Keys are ``(position, epoch)`` as for one dataset, so the
    :class:`EpochBatchSampler` shuffles across the parts and each item keeps its own seeded augmentation.
    """

    def __init__(self, parts: Sequence[DepthDataset]) -> None:
        self.parts = list(parts)
        self.starts = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.starts[-1])

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        i, epoch = key if isinstance(key, tuple) else (key, 0)
        if not 0 <= i < len(self):
            raise IndexError(f"item {i} of a {len(self)}-item training set")
        part = int(np.searchsorted(self.starts, i, side="right")) - 1
        return self.parts[part][(i - int(self.starts[part]), epoch)]


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Batches of ``(position, epoch)`` keys in a per-epoch seeded order, sharded across ranks.

    Every rank gets ``batch_size`` items per step and the same number of steps (incomplete last
    batches are dropped); ``start_step`` skips the batches a resumed run has already done.
    """

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1,
                 start_step: int = 0, max_steps: int | None = None) -> None:
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, epoch
        self.rank, self.world_size, self.start_step = rank, world_size, start_step
        self.max_steps = max_steps

    @staticmethod
    def steps_per_epoch(n: int, batch_size: int, world_size: int = 1, max_steps: int | None = None) -> int:
        steps = n // (batch_size * world_size)
        return min(steps, max_steps) if max_steps else steps

    def __len__(self) -> int:
        return self.steps_per_epoch(self.n, self.batch_size, self.world_size, self.max_steps) - self.start_step

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        order = epoch_permutation(self.n, self.seed, self.epoch)
        global_batch = self.batch_size * self.world_size
        total = self.steps_per_epoch(self.n, self.batch_size, self.world_size, self.max_steps)
        for step in range(self.start_step, total):
            chunk = order[step * global_batch:(step + 1) * global_batch]
            mine = chunk[self.rank * self.batch_size:(self.rank + 1) * self.batch_size]
            yield [(int(i), self.epoch) for i in mine]
