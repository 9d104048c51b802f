"""Notebook 07's steps: one camera-blind and one camera-aware ZoeDAM on lenses neither was trained on.

The lesson (docs/camera.md) compares three ways to get metres through a new lens:

* the **camera-blind** model, the paper's recipe: trained on one camera, its metres assume it;
* the **post-hoc correction** of that model, ``d · f / f_train`` afterwards (:class:`PostHocCamera`):
  right if the network read distance from apparent size alone, wrong where it also learned the
  rooms' typical size (the tele lens);
* the **camera-aware** model (:mod:`zoedam_lib.camera.canonical`, Metric3D's canonical camera), given
  the focal length or estimating it with its camera head.

Each model is trained once per run folder: a finished run is resumed (nothing retrained), so
notebook 07 reuses notebook 04's camera-aware ZoeDAM and trains only what is missing.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from zoedam_lib.camera.canonical import canonical_focal, focal_ratio
from zoedam_lib.camera.exif import EXIF_IFD, FOCAL_35MM
from zoedam_lib.camera.photo import PhotoCamera
from zoedam_lib.checkpoints import load_model
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.evaluation.evaluate import EvalResult, evaluate
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.evaluation_cache import evaluate_once
from zoedam_lib.experiments.presets import recipe_for
from zoedam_lib.experiments.recipes import Recipe
from zoedam_lib.experiments.zoedam import AUTO, default_pretrained, run_zoedam
from zoedam_lib.inference.exact import prepare_exact
from zoedam_lib.inference.predict import predict_photo
from zoedam_lib.utils.config import replace, to_dict
from zoedam_lib.utils.paths import display_path

BLIND, AWARE = "camera-blind (paper recipe)", "camera-aware (canonical camera)"
CAMERA_SETS = ("zeroshot_wide", "zeroshot_tele", "zeroshot_mixed")


@dataclass
class CameraModel:
    """One of the lesson's models and its evaluations (test split and every lens set)."""

    model: nn.Module
    evaluation: EvalResult
    zero_shot: dict[str, EvalResult]
    how: str  # "trained now" or "reused <checkpoint>" (printed, so a student knows which)


def camera_models(ctx: RunContext, backbone: str = "vits", pretrained: str | None = AUTO,
                  **overrides) -> dict[str, CameraModel]:
    """The camera-blind (``zoedam_<backbone>_blind``) and camera-aware (``zoedam_<backbone>``, notebook 04's)
    ZoeDAM of this run folder, both scored on every lens.

    A checkpoint of the same data, split, seed, initialisation and recipe is reused (its
    evaluations come from the run's cache); a missing one is trained here with the preset's recipe.
    """
    sets = ctx.with_camera_sets()
    out = {}
    models = ((BLIND, f"zoedam_{backbone}_blind", "blind"), (AWARE, f"zoedam_{backbone}", "canonical"))
    for label, key, camera in models:
        recipe = recipe_for("zoedam", ctx.preset, seed=ctx.seed, camera=camera, **overrides)
        start = default_pretrained(recipe.preset, backbone) if pretrained == AUTO else pretrained
        checkpoint = Path(ctx.out_dir) / "checkpoints" / key
        if _same_run(checkpoint, ctx, recipe, start):
            model = load_model(checkpoint, device=ctx.device)
            evaluation, zero_shot = evaluate_once(sets, model, recipe.flip_tta)
            out[label] = CameraModel(model, evaluation, zero_shot, f"reused {display_path(checkpoint)}")
        else:
            run = run_zoedam(sets, backbone, pretrained, key=key, recipe=recipe)
            out[label] = CameraModel(run.model, run.evaluation, run.zero_shot,
                                     f"trained now ({run.train_seconds / 60:.1f} min)")
        print(f"{label}: {out[label].how}")
    return out


def _same_run(checkpoint: Path, ctx: RunContext, recipe: Recipe, pretrained: str | None) -> bool:
    """Whether ``checkpoint`` was trained on this run's data, split and seed, from ``pretrained``, with ``recipe``."""
    try:
        saved = json.loads((checkpoint / "config.json").read_text())
    except (OSError, ValueError):
        return False
    wanted = {**ctx.provenance(), "recipe": json.loads(json.dumps(to_dict(recipe)))}
    return all(saved.get(k) == v for k, v in wanted.items()) and saved.get("init", {}).get("pretrained") == pretrained


class PostHocCamera(nn.Module):
    """A camera-blind ZoeDAM whose metres are multiplied afterwards by f / f_train (no training).

    f_train is the training camera's focal length at the network input (NYU's Kinect, the
    canonical focal length of :mod:`zoedam_lib.camera.canonical`), so this is the canonical
    camera's inference rule applied to a model that never learned canonical depth. Its config
    says ``camera="canonical"`` so evaluations hand it each image's camera; NaN (unknown) rows
    keep the training camera (ratio 1).
    """

    def __init__(self, blind: nn.Module) -> None:
        super().__init__()
        self.model = prepare_exact(blind)
        self.config = replace(blind.config, camera="canonical")

    def forward(self, x: torch.Tensor, *, camera: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        out = dict(self.model(x))
        cfg = self.config
        ratio = torch.ones(len(x), device=x.device) if camera is None else torch.nan_to_num(
            focal_ratio(camera[:, 0].float(), camera[:, 1].float(), tuple(x.shape[-2:]), cfg.img_size,
                        cfg.canonical_focal), nan=1.0)
        out["metric_depth"] = out["metric_depth"] * ratio.view(-1, 1, 1, 1)
        out["focal_ratio"] = ratio
        return out


def posthoc_evaluations(ctx: RunContext, blind: nn.Module, flip_tta: bool = True) -> dict[str, EvalResult]:
    """The camera-blind model through :class:`PostHocCamera` on each lens set of the run (its own intrinsics)."""
    model = PostHocCamera(blind).eval()
    out = {}
    for name, path in ctx.with_camera_sets().zero_shot.items():
        if name in CAMERA_SETS:
            with NyuMat(path) as data:
                out[name] = evaluate(model, DepthDataset(data, range(len(data))), flip_tta=flip_tta,
                                     device=ctx.device, progress=False, name=name, precision="fp32")
    return out


def lens_ratios(ctx: RunContext, name: str) -> dict[int, float]:
    """f / f_train of every image of the lens set ``name`` (index → ratio): the file's intrinsics over NYU's
    Kinect at the same image size, both the geometric mean of fx and fy."""
    with NyuMat(ctx.with_camera_sets().zero_shot[name]) as data:
        ds, size = DepthDataset(data, range(len(data))), (data.height, data.width)
        cams = [ds.camera(i, *size).camera for i in range(len(data))]  # the file's size: no image is read
    return {i: float(focal_ratio(c.fx, c.fy, size, size, canonical_focal(size))) for i, c in enumerate(cams)}


def blind_prediction(ctx: RunContext) -> dict[str, float]:
    """What a camera-blind model's predicted / true median depth would be if it read distance from apparent
    size alone: f_train / f, averaged over each lens set's images (:func:`lens_ratios`)."""
    return {name: float(np.mean([1 / r for r in lens_ratios(ctx, name).values()]))
            for name in ctx.with_camera_sets().zero_shot if name in CAMERA_SETS}


def with_and_without_exif(model: nn.Module, rgb: np.ndarray, fx: float, folder: str | os.PathLike | None = None,
                          flip_tta: bool = True) -> dict[str, tuple[np.ndarray, PhotoCamera]]:
    """One image saved twice as a JPEG, with its 35 mm-equivalent focal length in the EXIF and without,
    read back as ``predict`` reads photos: name → (depth (H, W) m, the camera used for depth and cloud).

    f35 = fx · 43.27 mm / diagonal in pixels (the definition of FocalLengthIn35mmFilm; docs/camera.md).
    """
    h, w = rgb.shape[:2]
    f35 = round(fx * 43.27 / float(np.hypot(h, w)))
    folder = Path(folder or tempfile.mkdtemp(prefix="zoedam_exif_"))
    folder.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    exif.get_ifd(EXIF_IFD)[FOCAL_35MM] = f35
    with_exif, no_exif = folder / "with_exif.jpg", folder / "no_exif.jpg"
    Image.fromarray(rgb).save(with_exif, quality=95, exif=exif.tobytes())
    Image.fromarray(rgb).save(no_exif, quality=95)
    return {f"EXIF FocalLengthIn35mmFilm = {f35} mm": predict_photo(model, with_exif, flip_tta)[1:],
            "no EXIF": predict_photo(model, no_exif, flip_tta)[1:]}
