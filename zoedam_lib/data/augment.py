"""Joint image/depth augmentations, each a pure function of the sample's own random generator.

A transform takes ``(image uint8 (H, W, 3), depth float32 (H, W), rng)`` and returns the pair,
so the same (seed, epoch, index) always gives the same augmented sample, whichever worker
loads it, and a resumed run sees exactly the batches the interrupted one would have.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Pair = tuple[np.ndarray, np.ndarray]
Transform = Callable[[np.ndarray, np.ndarray, np.random.Generator], Pair]


@dataclass(frozen=True)
class HorizontalFlip:
    """Mirror image and depth together (both DenseDepth and ZoeDepth use p = 0.5)."""

    p: float = 0.5

    def __call__(self, image: np.ndarray, depth: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() < self.p:
            return image[:, ::-1].copy(), depth[:, ::-1].copy()
        return image, depth


@dataclass(frozen=True)
class ChannelPermutation:
    """Shuffle the RGB channels (DenseDepth, p = 0.25): colour must not be a depth cue."""

    p: float = 0.25

    def __call__(self, image: np.ndarray, depth: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() < self.p:
            return image[..., rng.permutation(3)].copy(), depth
        return image, depth


@dataclass(frozen=True)
class PhotometricJitter:
    """ZoeDepth's NYU colour augmentation: gamma, brightness and per-channel colour scaling."""

    p: float = 0.5
    gamma: tuple[float, float] = (0.9, 1.1)
    brightness: tuple[float, float] = (0.75, 1.25)
    colour: tuple[float, float] = (0.9, 1.1)

    def __call__(self, image: np.ndarray, depth: np.ndarray, rng: np.random.Generator) -> Pair:
        if rng.random() >= self.p:
            return image, depth
        x = image.astype(np.float32) / 255.0
        x = x ** rng.uniform(*self.gamma)
        x = x * rng.uniform(*self.brightness) * rng.uniform(*self.colour, size=3).astype(np.float32)
        return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8), depth


@dataclass(frozen=True)
class Compose:
    """Apply transforms in order with the same generator."""

    transforms: Sequence[Transform]

    def __call__(self, image: np.ndarray, depth: np.ndarray, rng: np.random.Generator) -> Pair:
        for t in self.transforms:
            image, depth = t(image, depth, rng)
        return image, depth


def zoedepth_augmentation() -> Compose:
    """Training augmentation of the ZoeDAM recipe (flip + photometric jitter)."""
    return Compose([HorizontalFlip(0.5), PhotometricJitter(0.5)])


def densedepth_augmentation() -> Compose:
    """DenseDepth's augmentation: flip (p 0.5) and RGB channel permutation (p 0.25); depth stays float metres."""
    return Compose([HorizontalFlip(0.5), ChannelPermutation(0.25)])
