"""A camera head trained with the depth: features that carry the field of view.

A head fitted afterwards on a depth network's frozen tokens stays 16-19 % off on held-out lenses
while fitting its own images to 1-2 % (docs/camera.md): tokens fine-tuned for canonical depth carry
the field of view only weakly. UniDepth (Piccinelli et al. 2024, §3) trains its camera module with
the depth, through the shared encoder, and Depth Pro (Bochkovskii et al. 2024, §3.3) fine-tunes the
encoder its field-of-view head reads. This is that on the canonical-camera recipe: each step adds
an L1 loss in log focal length (a 10 % error costs the same for a wide and a long lens) on the
images whose field of view is a photograph's own — every image not padded by a zoom-out (the
padding's width would tell the answer) — to the SILog of the depth.

The training camera alone gives the head one field of view and its crops (1-1.6×, longer lenses
only), so ``camera_rooms`` adds rooms of SynthRooms' ``lenses`` domain (0.5-1.6×) for the camera
loss only: their depth is not learned, so the depth batches stay the run's own rooms (learning the
`lenses` rooms' depth shifted the long lenses' scale, docs/camera.md, "What limits the wide lens").
Each labeled item carries one such room beside it, as a ZoeDAM+ item carries its unlabeled images
(:mod:`zoedam_lib.experiments.zoedam_plus`): the depth batch keeps its size and its steps, and the
step runs the labeled and camera images through one forward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from zoedam_lib.data.augment import Transform
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.zoom import RandomZoom
from zoedam_lib.experiments.camera import lens_rooms, log_focal_ratio
from zoedam_lib.losses.silog import silog_loss
from zoedam_lib.training.distributed import unwrap
from zoedam_lib.utils.depth import valid_depth
from zoedam_lib.utils.seeding import epoch_permutation


def resized(item: dict[str, torch.Tensor], size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """``item``'s image at ``size`` (H, W), bilinear and antialiased, with its focal length scaled with it.

    A batch needs one image size and the ``lenses`` rooms are rendered smaller than the training
    rooms; resizing keeps an image's field of view, the one thing these items teach.
    """
    (h, w), (H, W) = item["image"].shape[-2:], size
    if (h, w) == (H, W):
        return item
    image = F.interpolate(item["image"][None], size=(H, W), mode="bilinear", antialias=True, align_corners=False)
    return {**item, "image": image[0].clamp_(0, 1), "camera": item["camera"] * torch.tensor([W / w, H / h])}


class WithCameraRooms(Dataset):
    """Each item of ``labeled`` with one room of ``rooms`` beside it (``camera_image``, ``camera_camera``,
    ``camera_known``) for the camera loss only; the room of item i in an epoch is drawn from a seeded
    per-epoch order, so a resumed run sees the same pairs. Keys are ``labeled``'s ``(position, epoch)``."""

    def __init__(self, labeled: Dataset, rooms: DepthDataset, seed: int) -> None:
        self.labeled, self.rooms, self.seed = labeled, rooms, seed
        self.size = tuple(labeled[(0, 0)]["image"].shape[-2:])

    def __len__(self) -> int:
        return len(self.labeled)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        i, epoch = key if isinstance(key, tuple) else (key, 0)
        item = self.labeled[(i, epoch)]
        j = int(epoch_permutation(len(self.rooms), self.seed, epoch)[i % len(self.rooms)])
        room = resized(self.rooms[(j, epoch)], self.size)
        return {**item, "camera_image": room["image"], "camera_camera": room["camera"],
                "camera_known": room["focal_known"]}


def with_camera_rooms(data_dir: Path, n: int, augment: Transform, zoom: RandomZoom | None,
                      seed: int) -> Callable[[Dataset], Dataset]:
    """The training set's wrapper giving each item ``n``-room ``lenses`` company for the camera loss (rooms
    outside the camera head's held-out ones, :func:`~zoedam_lib.experiments.camera.lens_split`)."""
    rooms = lens_rooms(data_dir, n, augment, zoom, seed)
    return lambda labeled: WithCameraRooms(labeled, rooms, seed)


def camera_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor], size: Sequence[int],
                img_size: tuple[int, int], canonical: float) -> torch.Tensor:
    """Mean |log f_est - log f| over the batch's images of known field of view (zero, in the graph, if none)."""
    known = batch["focal_known"].to(out["log_focal_estimate"].device)
    cam = batch["camera"].float()
    target = log_focal_ratio(cam, size, img_size, canonical).to(known.device)
    err = (out["log_focal_estimate"].float() - target).abs()
    return (err * known).sum() / known.sum().clamp(min=1)


def joint_step(model: nn.Module, batch: dict[str, torch.Tensor], beta: float,
               weight: float) -> tuple[torch.Tensor, dict[str, float]]:
    """SILog of the canonical-camera depth plus ``weight`` × :func:`camera_loss`, on the labeled images and
    the camera rooms beside them (one forward); logs the camera term."""
    depth, b = batch["depth"], batch["image"].shape[0]
    if "camera_image" in batch:
        batch = {"image": torch.cat([batch["image"], batch["camera_image"]]),
                 "camera": torch.cat([batch["camera"], batch["camera_camera"]]),
                 "focal_known": torch.cat([batch["focal_known"], batch["camera_known"]])}
    out = model(batch["image"], camera=batch["camera"], return_focal_estimate=True)
    cfg = unwrap(model).config
    cam = camera_loss(out, batch, batch["image"].shape[-2:], cfg.img_size, cfg.canonical_focal)
    silog = silog_loss(out["metric_depth"][:b], depth, valid_depth(depth), beta=beta)
    return silog + weight * cam, {"camera_l1": float(cam.detach())}
