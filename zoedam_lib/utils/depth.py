"""What a valid depth is: the one definition the losses, the metrics, the readers and the writers share.

A depth in metres counts where it is finite and strictly inside the model's range (NYU's and
ZoeDepth's ``min_depth`` 1e-3 m, ``max_depth`` 10 m by default): NaN, inf, zero (Kinect holes,
the 16-bit PNG's "no depth") and negative values are invalid everywhere. The NYU evaluation
protocol adds the Eigen crop on top (:func:`zoedam_lib.evaluation.metrics.valid_mask`); outputs
that have no range of their own (a point cloud, a colour map) keep every positive finite depth
(:func:`has_depth`). Works on numpy arrays and torch tensors alike.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

MIN_DEPTH = 1e-3  # metres; NYU's and ZoeDepth's lower bound of valid ground truth
MAX_DEPTH = 10.0  # metres; NYU's upper bound

Array = TypeVar("Array", np.ndarray, "torch.Tensor")


def valid_depth(depth: Array, min_depth: float = MIN_DEPTH, max_depth: float = MAX_DEPTH) -> Array:
    """Pixels with a usable depth: finite and strictly inside (min_depth, max_depth); same type as ``depth``."""
    torch = sys.modules.get("torch")  # a tensor means torch is loaded; numpy-only callers never import it
    if torch is not None and isinstance(depth, torch.Tensor):
        return torch.isfinite(depth) & (depth > min_depth) & (depth < max_depth)
    depth = np.asarray(depth)
    with np.errstate(invalid="ignore"):
        return np.isfinite(depth) & (depth > min_depth) & (depth < max_depth)


def has_depth(depth: Array) -> Array:
    """Pixels holding any depth at all: finite and positive (what writers, colour maps and point clouds keep)."""
    return valid_depth(depth, 0.0, math.inf)
