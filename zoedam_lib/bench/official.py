"""The official Depth Anything v1 metric model, timed beside ZoeDAM on the same weights and input.

Why: our ZoeDAM re-implements this model; timing the official code (same weights, same input, same
machine) says what the re-implementation costs or saves. What it follows: ``../shared/conformance/README.md``.
The model is built by the official, unmodified classes of a ``LiheYoung/Depth-Anything`` checkout
(``metric_depth/`` package ``zoedepth`` plus the bundled ``torchhub/facebookresearch_dinov2_main``) as
``ZoeDepth.build`` does from ``get_config("zoedepth", "eval", "nyu")``, with the README's three deviations:
no checkpoint, ViT-S encoder, ``core.output_channels = [64] * 5``; then the conformance state dict is loaded
(float16 -> float32, strict). The README's preprocessing (bilinear align_corners=True resize to 392x518,
ImageNet normalisation) happens inside the official ``forward`` (``denorm=False``), so the image goes in as is.

Building offline: ``DPT_DINOv2`` loads DINOv2 with ``torch.hub.load('../torchhub/...', source='local')``,
relative to the working directory, and calls ``torch.manual_seed(1)``; so the build runs inside
``metric_depth/`` (process-wide chdir: not thread-safe) with the global RNG state forked, and the official
modules (``zoedepth``, ``dinov2``, ``vision_transformer``) are dropped from ``sys.modules`` afterwards.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from zoedam_lib.utils.errors import ConfigError

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance"
WEIGHTS = "zoedam_vits_official_fp16.safetensors"
CASE = "case_public.npz"
REPO_URL = "https://github.com/LiheYoung/Depth-Anything"
_OFFICIAL_MODULES = ("zoedepth", "dinov2", "vision_transformer")
_BUILD_ARGS = ("midas_model_type", "pretrained_resource", "use_pretrained_midas", "train_midas", "freeze_midas_bn")


def _is_official(name: str) -> bool:
    return name.split(".")[0] in _OFFICIAL_MODULES


@contextlib.contextmanager
def _inside(metric_dir: Path) -> Iterator[None]:
    """Import and build the official code from ``metric_dir`` as its own scripts do (cwd = metric_depth/)."""
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_official(name)}
    cwd, path = os.getcwd(), list(sys.path)
    sys.path.insert(0, str(metric_dir))
    os.chdir(metric_dir)
    try:  # its Resize prints its parameters: to stderr, so that stdout stays the benchmark's
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        os.chdir(cwd)
        sys.path[:] = path
        for name in [name for name in sys.modules if _is_official(name)]:
            del sys.modules[name]
        sys.modules.update(saved)


def _conformance_file(name: str, folder: Path) -> Path:
    path = folder / name
    if not path.is_file():
        raise ConfigError(f"conformance file not found: {path} (expected the lead's ../shared/conformance folder "
                          f"beside the checkout, holding {WEIGHTS} and {CASE})")
    return path


def build_official(repo: str | Path, conformance: str | Path = CONFORMANCE) -> torch.nn.Module:
    """The official ZoeDepth + Depth Anything ViT-S model from checkout ``repo``, conformance weights, eval mode."""
    root = Path(repo).expanduser().resolve()
    metric = root / "metric_depth"
    needed = [metric / "zoedepth" / "models", root / "torchhub" / "facebookresearch_dinov2_main" / "hubconf.py"]
    missing = [str(p.relative_to(root)) for p in needed if not p.exists()]
    if missing:
        raise ConfigError(f"{root} is not a Depth Anything v1 checkout: expected metric_depth/ and torchhub/ in it "
                          f"(missing {', '.join(missing)}). Get one with `git clone {REPO_URL}` and pass its root.")
    from safetensors.torch import load_file

    state = load_file(_conformance_file(WEIGHTS, Path(conformance)))
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    with _inside(metric):
        from zoedepth.models.base_models.depth_anything import DepthAnythingCore
        from zoedepth.models.base_models.dpt_dinov2.dpt import DPT_DINOv2
        from zoedepth.models.zoedepth import ZoeDepth
        from zoedepth.utils.config import get_config

        conf = dict(get_config("zoedepth", "eval", "nyu"))
        # DepthAnythingCore.build, but ViT-S with its DPT sizes and no checkpoint (README §2)
        dpt = DPT_DINOv2(encoder="vits", features=64, out_channels=[48, 96, 192, 384], use_clstoken=False)
        core = DepthAnythingCore(dpt, trainable=conf["train_midas"], fetch_features=True,
                                 freeze_bn=conf.get("freeze_midas_bn", True), img_size=conf["img_size"],
                                 keep_aspect_ratio=conf.get("force_keep_ar", False))
        core.output_channels = [64] * 5  # set_output_channels() hard-codes [256] * 5 (ViT-L)
        model = ZoeDepth(core, **{k: v for k, v in conf.items() if k not in _BUILD_ARGS})
    model.load_state_dict(state, strict=True)
    return model.eval()


def official_depth(model: torch.nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Metric depth (B, 1, 392, 518) of RGB images (B, 3, H, W) in [0, 1], as the conformance case was made.

    That is the plain official ``forward`` (``denorm=False``): it resizes to 392x518 and normalises inside;
    no padding, no flip averaging (those belong to ``infer()``), no resize back to (H, W).
    """
    if image.ndim != 4 or image.shape[1] != 3:
        raise ConfigError(f"expected an RGB batch (B, 3, H, W) in [0, 1], got shape {tuple(image.shape)}")
    with torch.inference_mode():
        return model(image.float())["metric_depth"]


def case_official(args: dict) -> dict:
    """The official model's forward on the conformance input (1, 3, 480, 640), fp32; ``{"error"}`` if unavailable."""
    from zoedam_lib.bench.common import peak_rss_mb, time_calls, time_summary

    if not args.get("repo"):
        return {"error": f"no official checkout given: pass {{\"repo\": PATH}} to a clone of {REPO_URL}"}
    conformance = Path(args.get("conformance", CONFORMANCE))
    try:
        model = build_official(args["repo"], conformance)
        with np.load(_conformance_file(CASE, conformance)) as case:
            x, ref = torch.from_numpy(case["x"]), torch.from_numpy(case["metric_depth"])
    except Exception as exc:  # a checkout that is not there or not this code: reported, not raised
        return {"error": f"official model not available: {type(exc).__name__}: {exc}"}
    out = time_summary(time_calls(lambda: official_depth(model, x), args.get("warmup", 2), args.get("repeats", 10)))
    out["peak_rss_mb"] = peak_rss_mb()
    out["max_abs_diff_vs_conformance"] = (official_depth(model, x) - ref).abs().max().item()
    return out
