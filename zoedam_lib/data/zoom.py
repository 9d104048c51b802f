"""Random zoom: the same room through a longer or a wider lens, the augmentation a canonical camera trains on.

Cropping an image and enlarging it r× is exactly what a lens of r× the focal length would have
seen from the same point (pinhole projection scales with f); the depths do not change, the camera
does: ``f → r·f``. Shrinking it r× (r < 1) and padding the border is a wider lens whose periphery
nobody saw, so the pad has no depth (0 = invalid) and a neutral colour. Together with the
canonical label transform (:mod:`zoedam_lib.camera.canonical`: ``d_c = d · f_c / (r·f)``) the
network sees one room at many apparent sizes and must read distance from apparent size, as
Metric3D's random resize does (Yin et al. 2023, §3.2; ``training/mono/utils/transform.py``).
Zoom-out samples are flagged: their padding would tell a focal-length estimator the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from zoedam_lib.utils.errors import ConfigError

PAD_RGB = (124, 116, 104)  # ImageNet's mean colour: what the network's normalisation maps to ~0


@dataclass(frozen=True)
class Zoomed:
    """One zoomed sample: the image and metric depth at the original size, and what the camera became."""

    image: np.ndarray  # (H, W, 3) uint8
    depth: np.ndarray  # (H, W) float32 metres; 0 where the zoom-out padded
    scale: float       # focal-length factor r: the new camera's fx, fy are r times the old
    padded: bool       # True for a zoom-out (r < 1): the border is padding


@dataclass(frozen=True)
class RandomZoom:
    """Zoom by a focal factor r drawn log-uniformly from ``scale`` with probability ``p`` (else r = 1).

    r > 1 crops a random ``H/r × W/r`` window and enlarges it (bilinear image, nearest depth, so no
    depth is invented between a table and the wall behind it); r < 1 shrinks the image and pastes it
    at a random place on a padded canvas of the original size.
    """

    scale: tuple[float, float] = (0.5, 1.6)
    p: float = 0.75

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0 < lo <= hi or not 0 <= self.p <= 1:
            raise ConfigError(f"zoom needs 0 < scale[0] <= scale[1] and 0 <= p <= 1, got scale {self.scale}, "
                              f"p {self.p}")

    def __call__(self, image: np.ndarray, depth: np.ndarray, rng: np.random.Generator) -> Zoomed:
        if rng.random() >= self.p:
            return Zoomed(image, depth, 1.0, False)
        r = math.exp(rng.uniform(math.log(self.scale[0]), math.log(self.scale[1])))
        return zoom(image, depth, r, rng)


def zoom(image: np.ndarray, depth: np.ndarray, r: float, rng: np.random.Generator | None = None) -> Zoomed:
    """``image`` and ``depth`` through a lens of ``r`` times the focal length (placement random with
    ``rng``, centred without), at the same size. The depth values are unchanged: only the camera is."""
    h, w = depth.shape
    if r >= 1:
        ch, cw = max(1, round(h / r)), max(1, round(w / r))
        y, x = _place(h - ch, w - cw, rng)
        rgb = Image.fromarray(image[y:y + ch, x:x + cw]).resize((w, h), Image.BILINEAR)
        d = Image.fromarray(np.ascontiguousarray(depth[y:y + ch, x:x + cw], np.float32)).resize((w, h), Image.NEAREST)
        return Zoomed(np.array(rgb), np.array(d, np.float32), math.sqrt(w / cw * h / ch), False)
    sh, sw = max(1, round(h * r)), max(1, round(w * r))
    y, x = _place(h - sh, w - sw, rng)
    canvas = np.empty((h, w, 3), np.uint8)
    canvas[:] = PAD_RGB
    canvas[y:y + sh, x:x + sw] = np.asarray(Image.fromarray(image).resize((sw, sh), Image.BILINEAR))
    d = np.zeros((h, w), np.float32)
    d[y:y + sh, x:x + sw] = np.asarray(Image.fromarray(np.ascontiguousarray(depth, np.float32))
                                       .resize((sw, sh), Image.NEAREST))
    return Zoomed(canvas, d, math.sqrt(sw / w * sh / h), True)


def _place(free_h: int, free_w: int, rng: np.random.Generator | None) -> tuple[int, int]:
    """Top-left corner of a window with ``free_h`` × ``free_w`` pixels of slack: random, or centred without rng."""
    if rng is None:
        return free_h // 2, free_w // 2
    return int(rng.integers(0, free_h + 1)), int(rng.integers(0, free_w + 1))
