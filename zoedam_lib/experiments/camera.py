"""Camera-aware ZoeDAM: the camera head's training on rooms of many lenses, and its focal-length error.

The depth network learns canonical depth from one camera's images zoomed in and out
(:mod:`zoedam_lib.data.zoom`); it never has to know the focal length, because training always
gives it. A photo without EXIF gives none, so the model also carries a small head that estimates
``log(f / f_c)`` (:mod:`zoedam_lib.models.layers.camera_head`). It is trained after the depth,
on the fine-tuned encoder's tokens kept frozen (Depth Pro trains its field-of-view head on frozen
features too, §3.3), from SynthRooms' ``lenses`` domain: the pretraining styles through lenses of
0.5-1.6× NYU's focal length, half of the images seen cropped (a longer lens, exactly), half mirrored.
Zoomed-out (padded) views are never used: the padding's width would tell the head the answer.
Its error is measured on held-out ``lenses`` images and on ``zeroshot_mixed`` (another style).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoedam_lib.camera.canonical import focal_ratio
from zoedam_lib.data.augment import Transform
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.synthrooms.generate import ensure_domain
from zoedam_lib.data.zoom import RandomZoom, zoom
from zoedam_lib.inference.approximate import fast_dtype
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.paths import display_path
from zoedam_lib.utils.progress import tqdm

HEAD_HOLDOUT = 150  # lenses images the camera head's error is measured on (never trained on, by head or depth)


@dataclass
class CameraHeadReport:
    """How the camera head was trained and how far its focal lengths are off (|f_est / f - 1|)."""

    n_train: int  # lenses images it learned from (half of them as a crop: a longer lens)
    n_holdout: int  # lenses images held out
    epochs: int
    seconds: float
    holdout_median_error: float  # median |f_est / f - 1| on the held-out images
    holdout_p90_error: float


def _views(data: NyuMat, indices: list[int], rng: np.random.Generator,
           crops: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images (N, 3, H, W) in [0, 1], the camera (N, 2) fx, fy at H×W) of each item; with ``crops``
    half of them are a random crop enlarged 1-1.4× (focal times r), and half are mirrored."""
    images, cameras = [], []
    lookup = DepthDataset(data, indices)
    for i in indices:
        image, depth = data.read(i)
        cam, r = lookup.camera(i, *depth.shape).camera, 1.0
        if crops and rng.random() < 0.5:
            z = zoom(image, depth, math.exp(rng.uniform(0.0, math.log(1.4))), rng)
            image, r = z.image, z.scale
        if crops and rng.random() < 0.5:
            image = image[:, ::-1]
        images.append(torch.from_numpy(np.array(image)).permute(2, 0, 1))
        cameras.append((cam.fx * r, cam.fy * r))
    return torch.stack(images).float() / 255, torch.tensor(cameras, dtype=torch.float32)


@torch.no_grad()  # not inference_mode: the head's training keeps these tensors for its backward
def _tokens(model: nn.Module, images: torch.Tensor, batch_size: int = 32) -> list[torch.Tensor]:
    """The frozen encoder's four token maps of ``images``, in the CPU's native bf16 where it has one (as
    ``predict``'s default precision runs the encoder), stored in bf16 (the head computes in fp32)."""
    device = next(model.parameters()).device
    dtype = fast_dtype(device)
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        chunks = [[t.to(torch.bfloat16) for t in model.encode(images[i:i + batch_size].to(device))]
                  for i in range(0, len(images), batch_size)]
    return [torch.cat([c[k] for c in chunks]) for k in range(4)]


def log_focal_ratio(cameras: torch.Tensor, size: tuple[int, int], img_size: tuple[int, int],
                    canonical: float) -> torch.Tensor:
    """log(f / f_c) (B,) of (B, 2) ``cameras`` (fx, fy px at ``size``) at network size ``img_size``: what a camera
    head predicts, so its training target (here and in :mod:`.camera_joint`)."""
    return torch.log(focal_ratio(cameras[:, 0], cameras[:, 1], tuple(size), img_size, canonical))


def _log_ratio(model: nn.Module, cameras: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return log_focal_ratio(cameras, size, model.config.img_size, model.config.canonical_focal)


def focal_estimates(model: nn.Module, data: NyuMat, indices: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(true, estimated) f / f_c per image of ``data`` (all of it by default): the file's own intrinsics
    against the camera head's answer, both at the network input."""
    indices = list(range(len(data))) if indices is None else indices
    images, cameras = _views(data, indices, np.random.default_rng(0), crops=False)
    with torch.inference_mode():
        tokens = _tokens(model, images)
        pred = model.camera_head([t.to(next(model.parameters()).device) for t in tokens]).cpu()
    return torch.exp(_log_ratio(model, cameras, tuple(images.shape[-2:]))).numpy(), torch.exp(pred).numpy()


def focal_errors(model: nn.Module, data: NyuMat, indices: list[int] | None = None) -> np.ndarray:
    """|f_est / f - 1| per image of ``data`` (all of it by default), against the file's own intrinsics."""
    true, est = focal_estimates(model, data, indices)
    return np.abs(est / true - 1)


def lens_split(n: int, n_holdout: int = HEAD_HOLDOUT,
               seed: int | np.random.Generator = 0) -> tuple[list[int], list[int]]:
    """(held-out, training) indices of an ``n``-image ``lenses`` file: the head's error is measured on the
    held-out ones, and the depth network's extra rooms (``lens_rooms``) come only from the others."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng([seed, 7])
    order = rng.permutation(n)
    return sorted(order[:n_holdout].tolist()), sorted(order[n_holdout:].tolist())


def lens_rooms(data_dir: Path, n: int, transform: Transform | None, zoom: RandomZoom | None,
               seed: int) -> DepthDataset:
    """``n`` rooms of SynthRooms' ``lenses`` domain (0.5-1.6× NYU's focal length, the pretraining styles) as
    depth-training items, outside the camera head's held-out images: real other cameras beside the
    zoomed training camera, as Metric3D mixes datasets of many cameras. A zoom pads a view; only such
    photographs show a wide lens's periphery (docs/camera.md, "What limits the wide lens")."""
    path = ensure_domain("lenses", data_dir)
    mat = NyuMat(path)
    _, train = lens_split(len(mat), seed=seed)
    if n > len(train):
        raise ConfigError(f"lens_rooms={n} asks for more rooms than {display_path(path)} has outside the camera "
                          f"head's held-out ones ({len(train)}); use at most {len(train)}")
    pick = np.random.default_rng([seed, 8]).permutation(train)[:n]
    return DepthDataset(mat, sorted(pick.tolist()), transform, seed=seed + 1, zoom=zoom)


def fit_head(head: nn.Module, tokens: list[torch.Tensor], target: torch.Tensor, epochs: int, lr: float = 1e-3,
             batch_size: int = 64, seed: int = 0, weight_decay: float = 0.01, progress: bool = True) -> None:
    """Train ``head`` on precomputed token maps against ``target`` log focal ratios; it ends in eval mode.

    AdamW with a one-cycle cosine schedule on an L1 loss in log focal length (a 10 % error costs the
    same for a wide and a long lens), batches drawn with a generator seeded by ``seed``.
    """
    head.train()
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    steps = epochs * math.ceil(len(target) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(epochs), desc="camera head", disable=not progress, leave=False):
        for idx in torch.randperm(len(target), generator=gen).split(batch_size):
            loss = (head([t[idx] for t in tokens]) - target[idx]).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    head.eval()


def train_camera_head(model: nn.Module, lenses: NyuMat, epochs: int = 40, n_holdout: int = HEAD_HOLDOUT, seed: int = 0,
                      lr: float = 1e-3, batch_size: int = 64, progress: bool = True) -> CameraHeadReport:
    """Fit ``model.camera_head`` (the rest frozen) on ``lenses``; returns its held-out error.

    The head learns with :func:`fit_head`; the model ends in eval mode with only the head changed.
    """
    start = time.perf_counter()
    rng = np.random.default_rng([seed, 7])
    holdout, train = lens_split(len(lenses), n_holdout, rng)
    model.eval()
    images, cameras = _views(lenses, train, rng, crops=True)
    tokens, target = _tokens(model, images), _log_ratio(model, cameras, tuple(images.shape[-2:]))
    del images
    fit_head(model.camera_head, tokens, target, epochs, lr, batch_size, seed, progress=progress)
    errors = focal_errors(model, lenses, holdout)
    return CameraHeadReport(len(train), len(holdout), epochs, round(time.perf_counter() - start, 1),
                            float(np.median(errors)), float(np.quantile(errors, 0.9)))
