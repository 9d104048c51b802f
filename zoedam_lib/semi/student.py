"""The ZoeDAM+ student's data and training step (paper §3.3, §4.4; Depth Anything's scheme).

Each step sees B labeled images (SILog against ground truth, as ZoeDAM) and ``ratio``·B
unlabeled ones. The unlabeled images are strongly perturbed one by one, then CutMixed in pairs
(UniMatch's order): ``u_b`` is each image, ``u_a`` its neighbour in the batch (a roll by one),
``u_ab = u_a ⊙ M + u_b ⊙ (1 − M)``. The student's prediction on ``u_ab`` is compared with the
teacher's predictions on the CLEAN ``u_a`` and ``u_b`` by eq. (3). Perturbation touches nothing
but the student's unlabeled input: the labeled batch and the teacher's input stay clean (§3.3.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.unlabeled import UnlabeledImages
from zoedam_lib.losses.affine_invariant import affine_invariant_loss
from zoedam_lib.losses.feature_alignment import feature_alignment_loss
from zoedam_lib.losses.silog import silog_loss
from zoedam_lib.models.predict import is_camera_aware
from zoedam_lib.semi.cutmix import apply_cutmix, cutmix_box, cutmix_loss
from zoedam_lib.semi.perturb import StrongPerturbConfig, strong_perturb
from zoedam_lib.semi.pseudo_labels import PseudoLabelCache, teacher_predict
from zoedam_lib.training.distributed import unwrap
from zoedam_lib.utils.depth import valid_depth
from zoedam_lib.utils.errors import ConfigError

UNLABELED_STREAM = 104729  # keeps the unlabeled draw independent of the labeled augmentation stream


class SemiSupervisedDataset(Dataset):
    """Labeled sample ``i`` plus ``ratio`` unlabeled images (and their cached pseudo-labels).

    Unlabeled images are dealt out from a (seed, epoch)-seeded permutation: item ``i`` takes
    slots ``i·ratio … i·ratio + ratio − 1``, so every unlabeled image is used about equally often
    and the draw is a pure function of (seed, epoch, i) — any worker, any order, exact resume.
    Items add ``u_image`` (ratio, 3, H, W) clean, ``u_index`` (ratio,) and, with a cache,
    ``u_pseudo`` (ratio, 1, h, w) teacher metric depth.
    """

    def __init__(self, labeled: DepthDataset, unlabeled: UnlabeledImages, pseudo: PseudoLabelCache | None,
                 ratio: int = 2, seed: int = 0) -> None:
        if ratio < 1:
            raise ConfigError(f"unlabeled_ratio must be >= 1 unlabeled image per labeled one, got {ratio}")
        if unlabeled.size is None:
            raise ConfigError("UnlabeledImages needs size=(H, W) to be batched (images differ in size)")
        if pseudo is not None and len(pseudo) != len(unlabeled):
            raise ConfigError(f"the pseudo-label cache has {len(pseudo)} entries for {len(unlabeled)} images")
        self.labeled, self.unlabeled, self.pseudo, self.ratio, self.seed = labeled, unlabeled, pseudo, ratio, seed

    def __len__(self) -> int:
        return len(self.labeled)

    def unlabeled_indices(self, i: int, epoch: int) -> list[int]:
        """The unlabeled images item ``i`` of ``epoch`` uses."""
        n = len(self.unlabeled)
        out = []
        for slot in range(i * self.ratio, (i + 1) * self.ratio):
            lap, pos = divmod(slot, n)
            perm = np.random.default_rng([self.seed, epoch, lap, UNLABELED_STREAM]).permutation(n)
            out.append(int(perm[pos]))
        return out

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        i, epoch = key if isinstance(key, tuple) else (key, 0)
        item = dict(self.labeled[(i, epoch)])
        chosen = self.unlabeled_indices(i, epoch)
        item["u_image"] = torch.stack([self.unlabeled[j]["image"] for j in chosen])
        item["u_index"] = torch.tensor(chosen)
        if self.pseudo is not None:
            item["u_pseudo"] = torch.stack([self.pseudo.get(j) for j in chosen])
        return item


@dataclass
class ZoeDAMPlusLossConfig:
    """The ZoeDAM+ objective: labeled SILog + weighted unlabeled CutMix loss (+ optional feature alignment)."""

    beta: float = 0.15  # SILog β of the labeled term (as ZoeDAM's silog_step)
    unlabeled_weight: float = 1.0  # weight of the unlabeled loss L_u (eq. (3))
    cutmix_p: float = 0.5  # probability of a CutMix per unlabeled image (paper §3.3: 50 %)
    perturb: StrongPerturbConfig = field(default_factory=StrongPerturbConfig)  # student-side strong perturbation
    metric_pseudo: bool = False  # True: per-image SILog against the metric pseudo-labels instead of ρ
    feature_alignment: bool = False  # Depth Anything's alignment with a frozen encoder (needs frozen_model)
    feature_weight: float = 1.0  # weight of the feature-alignment loss
    feature_margin: float = 0.85  # α: patches above this cosine similarity are not pulled further

    def __post_init__(self) -> None:
        if not 0.0 <= self.cutmix_p <= 1.0:
            raise ConfigError(f"cutmix_p is a probability in [0, 1], got {self.cutmix_p}")
        if self.unlabeled_weight < 0 or self.feature_weight < 0:
            raise ConfigError("loss weights must be >= 0")
        if isinstance(self.perturb, dict):
            self.perturb = StrongPerturbConfig(**self.perturb)


def per_image_silog(beta: float):
    """SILog as a per-image loss (B,) for :func:`cutmix_loss` (metric pseudo-labels)."""
    def loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.stack([silog_loss(p[None], t[None], m[None], beta=beta) for p, t, m in zip(pred, target, mask,
                                                                                                strict=True)])
    return loss


def _unlabeled_loss_fn(cfg: ZoeDAMPlusLossConfig):
    if cfg.metric_pseudo:
        return per_image_silog(cfg.beta)
    return lambda pred, target, mask: affine_invariant_loss(pred, target, mask, reduction="none")


def _forward_both(model: nn.Module, labeled: torch.Tensor, unlabeled: torch.Tensor,
                  camera: torch.Tensor | None = None) -> tuple[dict, dict]:
    """One forward over labeled + unlabeled images (DDP allows one forward per backward).

    Unlabeled images are loaded at the recipe's network size (:class:`UnlabeledImages` ``size``),
    so the labeled batch is resized to theirs first: the same bilinear, align_corners=True resize
    the model would apply itself, after which its own resize is an identity for both. A
    camera-aware student gets the labeled images' cameras (``camera`` (B, 2) at the labeled size,
    rescaled with them) and NaN for the unlabeled ones: their metres fall back to the default or
    the camera head, a global scale the affine-invariant loss does not see.
    """
    size = tuple(unlabeled.shape[-2:])
    if camera is not None:
        sx, sy = size[1] / labeled.shape[-1], size[0] / labeled.shape[-2]
        camera = torch.cat([camera.float() * camera.new_tensor([sx, sy]).float(),
                            torch.full((len(unlabeled), 2), float("nan"), device=camera.device)])
    if tuple(labeled.shape[-2:]) != size:
        labeled = F.interpolate(labeled, size=size, mode="bilinear", align_corners=True)
    both = torch.cat([labeled, unlabeled])
    out = model(both) if camera is None else model(both, camera=camera)
    b = labeled.shape[0]
    return {k: v[:b] for k, v in out.items()}, {k: v[b:] for k, v in out.items()}


def make_student_step(cfg: ZoeDAMPlusLossConfig | None = None, teacher: nn.Module | None = None,
                      frozen_model: nn.Module | None = None, generator: torch.Generator | None = None,
                      teacher_tta: bool = False):
    """The trainer ``loss_fn(model, batch) -> (loss, logs)`` of the ZoeDAM+ student.

    Args:
        cfg: the objective (see :class:`ZoeDAMPlusLossConfig`).
        teacher: for on-the-fly pseudo-labels (batches without ``u_pseudo``): predicts on the
            clean unlabeled images inside the step.
        frozen_model: a frozen copy of the student as initialised (its ``encode`` gives the
            reference features), for ``cfg.feature_alignment``.
        generator: CPU generator of the perturbations and CutMix boxes (None: the global torch
            RNG, which the trainer checkpoints, so a resumed run draws the same ones).
        teacher_tta: on-the-fly pseudo-labels with flip TTA, as a cache built with ``tta`` holds them.
    """
    cfg = cfg or ZoeDAMPlusLossConfig()
    if cfg.feature_alignment and frozen_model is None:
        raise ConfigError("feature_alignment needs frozen_model (a frozen copy of the student as initialised)")
    rho = _unlabeled_loss_fn(cfg)

    def loss_fn(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        image, depth = batch["image"], batch["depth"]  # labeled: used as given, never perturbed
        camera = batch["camera"] if is_camera_aware(unwrap(model)) else None  # canonical depth (camera.canonical)
        if cfg.unlabeled_weight == 0 and not cfg.feature_alignment:  # the control: labeled steps only
            out = model(image) if camera is None else model(image, camera=camera)
            loss_l = silog_loss(out, depth, valid_depth(depth), beta=cfg.beta)
            return loss_l, {"loss_labeled": float(loss_l.detach())}
        clean = batch["u_image"].flatten(0, 1)  # (B·ratio, 3, H, W)
        if "u_pseudo" in batch:
            pseudo = batch["u_pseudo"].flatten(0, 1).float()  # (B·ratio, 1, h, w), cached T(clean)
        elif teacher is not None:
            pseudo = teacher_predict(teacher, clean, teacher_tta)  # on-the-fly: the teacher sees the clean images
        else:
            raise ConfigError("batch has no u_pseudo (no pseudo-label cache) and no teacher was given")
        n, _, height, width = clean.shape
        perturbed = strong_perturb(clean, cfg.perturb, generator)  # u_b for each image
        mask = cutmix_box(n, height, width, cfg.cutmix_p, generator, device=clean.device)  # M
        partner = torch.roll(torch.arange(n, device=clean.device), 1)  # u_a = the previous image
        mixed = apply_cutmix(perturbed[partner], perturbed, mask)  # u_ab
        out_l, out_u = _forward_both(model, image, mixed, camera)
        loss_l = silog_loss(out_l, depth, valid_depth(depth), beta=cfg.beta)
        target_a, target_b = pseudo[partner], pseudo
        valid = _mixed_valid(target_a, target_b, mask)
        loss_u = cutmix_loss(out_u["metric_depth"], target_a, target_b, mask, valid, rho)
        loss = loss_l + cfg.unlabeled_weight * loss_u
        logs = {"loss_labeled": float(loss_l.detach()), "loss_unlabeled": float(loss_u.detach()),
                "cutmix_fraction": float(mask.float().mean())}
        if cfg.feature_alignment:
            loss_f = _feature_term(model, frozen_model, mixed, cfg.feature_margin)
            loss = loss + cfg.feature_weight * loss_f
            logs["loss_feature"] = float(loss_f.detach())
        return loss, logs

    return loss_fn


def _mixed_valid(target_a: torch.Tensor, target_b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Usable pseudo-label pixels of the mixed target at the mask's resolution."""
    size = tuple(mask.shape[-2:])

    def ok(t: torch.Tensor) -> torch.Tensor:
        t = t.float() if tuple(t.shape[-2:]) == size else F.interpolate(t.float(), size=size, mode="bilinear",
                                                                        align_corners=True)
        return torch.isfinite(t) & (t > 0)
    return torch.where(mask, ok(target_a), ok(target_b))


def _feature_term(model: nn.Module, frozen: nn.Module, images: torch.Tensor, margin: float) -> torch.Tensor:
    """Feature alignment on the student's unlabeled input: last encoder block, student vs frozen."""
    if unwrap(model) is not model:
        raise ConfigError("feature_alignment runs a second encoder forward, which DDP does not allow; "
                          "train on one process or switch it off")
    student = model.encode(images)[-1]  # (B, C, h/14, w/14)
    with torch.no_grad():
        target = frozen.encode(images)[-1]
    return feature_alignment_loss(student, target, margin)
