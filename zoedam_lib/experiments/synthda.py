"""SynthDA pretraining: Depth Anything's teacher stage, in miniature, on SynthRooms' ``pretrain`` domain.

Depth Anything (Yang et al. 2024, §3.1) trains a DINOv2 + DPT on a large, diverse labeled corpus
with the affine-invariant loss on disparity (median / mean-absolute-deviation normalisation,
from MiDaS). ZoeDAM then starts from that encoder and decoder. Here the corpus is SynthRooms'
``pretrain`` domain (five room sub-styles, cameras of 0.8–1.3× NYU's focal length; none of the
zero-shot test domains), the trainer is the project's own (resume, progress, AMP, DDP), and the
result is written in the official Depth Anything v1 key layout with a manifest beside it, so that
``load_model`` loads it through exactly the path a real ``depth_anything_vits14.pth`` takes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from zoedam_lib.checkpoints import to_depth_anything_keys
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.sources import data_identity
from zoedam_lib.data.splits import Split
from zoedam_lib.evaluation.metrics import MetricAccumulator
from zoedam_lib.experiments.presets import EXPERIMENTS
from zoedam_lib.experiments.recipes import PretrainOptions, Recipe, recipe_identity
from zoedam_lib.losses.affine_invariant import disparity_loss
from zoedam_lib.models.relative import RelativeDepthConfig, RelativeDepthModel
from zoedam_lib.training import distributed as dist_utils
from zoedam_lib.training.trainer import Trainer, TrainState
from zoedam_lib.utils.atomic import atomic_path, atomic_write_json
from zoedam_lib.utils.config import to_dict
from zoedam_lib.utils.depth import valid_depth
from zoedam_lib.utils.errors import DataFileError, OutputError
from zoedam_lib.utils.output_dirs import ensure_output_dir, run_lock
from zoedam_lib.utils.progress import tqdm

RELATIVE_KEYS = ("abs_rel", "a1", "rmse")  # relative-depth quality, after fitting scale and shift


def disparity_step(model: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict]:
    """The teacher's loss: predicted disparity vs the ground truth's 1/depth, both normalised per image."""
    depth = batch["depth"]  # (B, 1, H, W) metres
    pred = model(batch["image"])["rel_depth"].unsqueeze(1)  # (B, 1, h, w) disparity up to scale and shift
    pred = F.interpolate(pred.float(), size=depth.shape[-2:], mode="bilinear", align_corners=True)
    mask = valid_depth(depth)
    target = 1.0 / torch.where(mask, depth, torch.ones_like(depth))
    return disparity_loss(pred, target, mask), {}


@torch.inference_mode()
def relative_quality(model: nn.Module, dataset: DepthDataset, max_images: int | None = None,
                     progress: bool = False) -> dict[str, float]:
    """Mean AbsRel, δ1 and RMSE of a relative model after a least-squares scale and shift of its disparity
    per image (MiDaS's evaluation; ``compute_metrics(align="disparity")``)."""
    was_training = model.training
    model.eval()
    acc = MetricAccumulator()
    n = min(len(dataset), max_images or len(dataset))
    for i in tqdm(range(n), desc="relative quality", leave=False, disable=not progress):
        item = dataset[(i, 0)]
        disp = model(item["image"][None])["rel_depth"][0].float()
        acc.update(disp, item["depth"][0], name=int(item["index"]), align="disparity")
    model.train(was_training)
    if acc.count == 0:  # never a NaN average in a manifest
        raise DataFileError(f"none of the {n} images has a valid ground-truth depth, so relative quality cannot be "
                            "measured on them. Are the depths in metres?")
    return {k: v for k, v in acc.mean().items() if k in RELATIVE_KEYS}


def load_relative(source: str = "synthda_vits14", device: str | torch.device = "cpu") -> nn.Module:
    """A Depth Anything relative checkpoint (SynthDA by default) for its ``rel_depth`` output alone.

    It is built as a ZoeDAM through the path every Depth Anything checkpoint takes; the metric head
    that path adds is random and never read here, so the load's "randomly initialised: head" warning
    is moot and silenced (it would print a file path into the notebook).
    """
    import warnings

    from zoedam_lib.checkpoints import load_checkpoint

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_checkpoint(source, device=device).model.eval()


@torch.inference_mode()
def relative_examples(model: nn.Module, data, indices: list[int]) -> dict[str, list[np.ndarray]]:
    """What a relative model predicts on some images: its raw output (disparity up to an unknown scale
    and shift) and that output turned into depth after the least-squares scale and shift that fit
    each image's ground truth best (what "affine-invariant" leaves undetermined, supplied by the truth).

    ``model`` is anything returning ``rel_depth`` (a RelativeDepthModel, or a ZoeDAM built from one).
    Returns lists ``images`` (uint8), ``gts`` (metres), ``disparity`` (raw, at ground-truth size) and
    ``aligned`` (metres).
    """
    from zoedam_lib.evaluation.metrics import disparity_to_depth, resize_prediction, valid_mask

    out: dict[str, list[np.ndarray]] = {"images": [], "gts": [], "disparity": [], "aligned": []}
    was_training = model.training
    model.eval()
    for i in indices:
        image, gt = data.read(int(i))
        x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
        disparity = resize_prediction(model(x)["rel_depth"][0].float(), gt.shape).numpy()
        mask = valid_mask(gt)
        out["images"].append(image)
        out["gts"].append(gt)
        out["disparity"].append(disparity)
        out["aligned"].append(disparity_to_depth(disparity, 1.0 / gt[mask], mask, 1e-3, 10.0))
    model.train(was_training)
    return out


def holdout_split(n: int, n_holdout: int, seed: int) -> Split:
    """A seeded split of the pretraining corpus: ``n_holdout`` images never trained on."""
    perm = np.random.default_rng([seed, 7]).permutation(n)
    return Split(f"pretrain_holdout_seed{seed}", tuple(np.sort(perm[n_holdout:])), tuple(np.sort(perm[:n_holdout])))


@dataclass
class PretrainResult:
    """What ``pretrain`` produced: the model, its training state, quality figures and the files written."""

    model: RelativeDepthModel
    state: TrainState
    quality: dict[str, dict[str, float]] | None  # {"holdout": {...}, "<eval set>": {...}}; None off rank 0
    weights: Path | None  # the Depth Anything v1-layout safetensors
    manifest: Path | None
    seconds: float


def run_pretrain(data: str | os.PathLike, out_dir: str | os.PathLike, recipe: Recipe,
                 export: str | os.PathLike | None = None, eval_sets: dict[str, str | os.PathLike] | None = None,
                 resume: bool = False, device: str | torch.device = "cpu", command: str | None = None,
                 corpus: dict | None = None, resume_override: tuple[str, ...] = (),
                 depth_scale: float = 1.0) -> PretrainResult:
    """Pretrain a relative-depth model on ``data`` and write it as a Depth Anything v1 checkpoint.

    ``export`` (default ``<out_dir>/synthda_<backbone>14.safetensors``) gets the fp16 weights and,
    beside it, ``<stem>.json``: sha256, the command, the corpus, recipe, steps, wall time, machine,
    and the relative-depth quality on the held-out images and on each of ``eval_sets`` (name →
    NYU-layout file, evaluated whole). ``corpus`` describes the data for the manifest, ``depth_scale``
    its depth unit (metres per stored unit; :class:`~zoedam_lib.data.nyu.reader.NyuMat`). ``resume``
    and ``resume_override`` as for :func:`~.zoedam.run_zoedam`; the run holds ``<out_dir>/locks/synthda.lock``.
    """
    main = dist_utils.is_main_process()
    if main:
        ensure_output_dir(out_dir, "output folder")
    with run_lock(out_dir, "synthda") if main else contextlib.nullcontext():
        return _pretrain(NyuMat(data, depth_scale), Path(out_dir), recipe, export, eval_sets, resume,
                         torch.device(device), command, corpus, resume_override)


def _pretrain(mat: NyuMat, out: Path, recipe: Recipe, export: str | os.PathLike | None,
              eval_sets: dict[str, str | os.PathLike] | None, resume: bool, device: torch.device, command: str | None,
              corpus: dict | None, resume_override: tuple[str, ...]) -> PretrainResult:
    opts: PretrainOptions = recipe.options  # type: ignore[assignment]
    for path in (eval_sets or {}).values():  # layout and depth unit checked now, not after hours of training
        NyuMat(path).close()
    weights = Path(export) if export is not None else out / f"synthda_{opts.backbone}14.safetensors"
    if dist_utils.is_main_process():
        ensure_output_dir(out / "runs" / "synthda", "output folder")
        ensure_output_dir(weights.parent, "--export folder")
        if weights.is_dir():
            raise OutputError(f"--export {weights} is a folder; pass the weight file to write, e.g. "
                              f"{weights / f'synthda_{opts.backbone}14.safetensors'}")
    split = holdout_split(len(mat), opts.n_holdout, recipe.train.seed)
    if dist_utils.is_main_process():
        atomic_write_json(out / "splits" / f"{split.name}.json", {**split.to_json(), "data_file": mat.path.name})
    train_set = DepthDataset(mat, split.train, EXPERIMENTS["synthda"].augment(), seed=recipe.train.seed)
    holdout = DepthDataset(mat, split.test)
    torch.manual_seed(recipe.train.seed)
    model = RelativeDepthModel(RelativeDepthConfig(backbone=opts.backbone, img_size=recipe.img_size))

    def validate(m: nn.Module) -> dict[str, float]:
        return relative_quality(m, holdout, recipe.n_val)

    identity = {"model": "synthda", **data_identity(mat), **recipe_identity(recipe),
                "split.sha256": hashlib.sha256(json.dumps(split.to_json()).encode()).hexdigest()}
    trainer = Trainer(model, disparity_step, train_set, recipe.train, out / "runs" / "synthda", validate_fn=validate,
                      device=device, run_identity=identity, resume_override=resume_override)
    start = time.perf_counter()
    state = trainer.fit(resume=resume)
    seconds = time.perf_counter() - start
    if not dist_utils.is_main_process():
        return PretrainResult(model, state, None, None, None, seconds)
    quality = {"holdout": relative_quality(model, holdout, progress=True)}
    for name, path in (eval_sets or {}).items():
        with NyuMat(path) as other:
            quality[name] = relative_quality(model, DepthDataset(other, range(len(other))), progress=True)
    digest = write_depth_anything_weights(model, weights)
    manifest = weights.with_suffix(".json")
    atomic_write_json(manifest, {
        "name": weights.stem, "format": "Depth Anything v1 relative (pretrained.*, depth_head.*), float16",
        "sha256": digest, "bytes": weights.stat().st_size,
        "zoedam_config": {"backbone": opts.backbone, "layer_family": "v1", "img_size": list(recipe.img_size)},
        "command": command, "corpus": {**(corpus or {}), "file": mat.path.name, "n_images": len(mat),
                                       "n_train": len(split.train), "n_holdout": len(split.test)},
        "recipe": to_dict(recipe), "steps": state.global_step, "epochs": state.epoch,
        "final_train_loss": state.history[-1]["train_loss"] if state.history else None,
        "train_seconds": round(seconds, 1), "machine": machine_description(),
        "relative_quality": quality,
        "relative_quality_note": "per-image least-squares scale and shift of the predicted disparity, then "
                                 "AbsRel / delta1 / RMSE of the depth (MiDaS-style evaluation), mean over images"})
    return PretrainResult(model, state, quality, weights, manifest, seconds)


def write_depth_anything_weights(model: RelativeDepthModel, path: str | os.PathLike) -> str:
    """Write ``model`` as fp16 safetensors in the Depth Anything v1 key layout, atomically; returns its sha256."""
    sd = to_depth_anything_keys({k: v.detach().cpu() for k, v in model.state_dict().items()})
    tensors = {k: v.half().contiguous() if v.is_floating_point() else v.contiguous() for k, v in sd.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})
        digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    return digest


def machine_description() -> dict[str, str]:
    """The CPU, its instruction set as torch sees it, and the software versions: figures depend on them."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": str(torch.get_num_threads()), "isa": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__, "python": sys.version.split()[0], "platform": platform.platform()}


def describe_command(argv: list[str] | None = None) -> str:
    """The command line that ran this, for the manifest."""
    return " ".join(["python -m zoedam_lib", *(argv if argv is not None else sys.argv[1:])])


__all__ = ["PretrainResult", "describe_command", "disparity_step", "holdout_split", "machine_description",
           "relative_examples", "relative_quality", "run_pretrain", "write_depth_anything_weights"]
