"""Strong perturbations of the student's unlabeled input (paper §3.3: "strong color jittering and
Gaussian blurring").

The paper gives no strengths; these are the settings Depth Anything inherits from UniMatch
(``ColorJitter(0.5, 0.5, 0.5, 0.25)`` with p 0.8, ``RandomGrayscale(0.2)``, Gaussian blur with
σ ∈ [0.1, 2] and p 0.5). Parameters are drawn from a torch generator (the global one by
default) and applied with ``torchvision.transforms.v2.functional``, image by image, so the
result is a pure function of the generator state, on any device. Only the student's unlabeled
input is perturbed: the teacher and the labeled batch always see clean images (§3.3.1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torchvision.transforms.v2.functional as TF


@dataclass
class StrongPerturbConfig:
    """Strengths of the strong perturbation (UniMatch's, as used by Depth Anything)."""

    brightness: float = 0.5  # brightness factor drawn from [1 - b, 1 + b]
    contrast: float = 0.5  # contrast factor drawn from [1 - c, 1 + c]
    saturation: float = 0.5  # saturation factor drawn from [1 - s, 1 + s]
    hue: float = 0.25  # hue shift drawn from [-h, h] (fraction of the colour circle)
    jitter_p: float = 0.8  # probability of the colour jitter (its four parts in random order)
    grayscale_p: float = 0.2  # probability of converting to (3-channel) grayscale
    blur_p: float = 0.5  # probability of a Gaussian blur
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # blur σ range in pixels


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return lo + (hi - lo) * float(torch.rand((), generator=generator))


def _chance(p: float, generator: torch.Generator | None) -> bool:
    return float(torch.rand((), generator=generator)) < p


def perturb_one(image: torch.Tensor, cfg: StrongPerturbConfig, generator: torch.Generator | None = None
                ) -> torch.Tensor:
    """Strongly perturb one float (3, H, W) image in [0, 1]: jitter → grayscale → blur, as UniMatch."""
    if _chance(cfg.jitter_p, generator):
        factors = {
            0: _uniform(max(0.0, 1 - cfg.brightness), 1 + cfg.brightness, generator),
            1: _uniform(max(0.0, 1 - cfg.contrast), 1 + cfg.contrast, generator),
            2: _uniform(max(0.0, 1 - cfg.saturation), 1 + cfg.saturation, generator),
            3: _uniform(-cfg.hue, cfg.hue, generator),
        }
        for op in torch.randperm(4, generator=generator).tolist():  # ColorJitter's random order
            if op == 0:
                image = TF.adjust_brightness(image, factors[0])
            elif op == 1:
                image = TF.adjust_contrast(image, factors[1])
            elif op == 2:
                image = TF.adjust_saturation(image, factors[2])
            else:
                image = TF.adjust_hue(image, factors[3])
    if _chance(cfg.grayscale_p, generator):
        image = TF.rgb_to_grayscale(image, num_output_channels=3)
    if _chance(cfg.blur_p, generator):
        sigma = _uniform(*cfg.blur_sigma, generator)
        # kernel covering ±3σ, odd, and small enough for reflect padding on tiny images
        limit = 2 * ((min(image.shape[-2:]) - 1) // 2) + 1
        kernel = max(3, min(2 * math.ceil(3 * sigma) + 1, limit))
        image = TF.gaussian_blur(image, kernel_size=[kernel, kernel], sigma=[sigma, sigma])
    return image.clamp(0.0, 1.0)


def strong_perturb(images: torch.Tensor, config: StrongPerturbConfig | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Perturb each image of a float (B, 3, H, W) batch independently; returns a new tensor."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W) images in [0, 1], got shape {tuple(images.shape)}")
    cfg = config or StrongPerturbConfig()
    # outside autocast: the blur's conv2d would otherwise return bf16/fp16 images on a GPU
    with torch.no_grad(), torch.autocast(device_type=images.device.type, enabled=False):
        return torch.stack([perturb_one(img, cfg, generator) for img in images.float()])
