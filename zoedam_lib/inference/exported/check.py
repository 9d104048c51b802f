"""How ``zoedam export`` checks a graph before writing it: fixed inputs, tolerances, error statistics.

The exported file must reproduce the PyTorch model it came from (:mod:`.export`): ONNX Runtime
runs it on :func:`check_input` (and, for a camera-aware model, :func:`check_cameras`) and its
metric depth is held to :data:`FP32_TOLERANCE` or :data:`FP16_TOLERANCE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from zoedam_lib.camera.canonical import canonical_focal


@dataclass(frozen=True)
class Tolerance:
    """Largest allowed |ONNX − PyTorch| of the metric depth, in metres."""

    max: float
    mean: float
    p999: float  # 99.9th percentile


#: fp32: tests/models/test_zoedam_conformance.py's tolerances against the official code.
FP32_TOLERANCE = Tolerance(max=5e-3, mean=2e-5, p999=1e-3)
#: fp16 encoder + decoder (head fp32) vs the fp32 PyTorch model: catches a broken half-precision graph (overflow,
#: a head in fp16: errors of metres or NaN), not fp16 rounding. Measured at 392×518 (max / mean / p99.9): 9.1e-4 /
#: 1.7e-4 / 7.6e-4 m (AbsRel 7e-5) for a SynthRooms-trained ZoeDAM-S; 5.8e-2 / 2.1e-4 / 7.7e-3 m (AbsRel 3e-4) for
#: the random-weight conformance model, which amplifies rounding far more. About 4-5x the latter.
FP16_TOLERANCE = Tolerance(max=0.25, mean=1e-3, p999=3e-2)


@dataclass(frozen=True)
class ErrorStats:
    """|ONNX − PyTorch| of the metric depth over every pixel of the check input, in metres."""

    max: float
    mean: float
    p999: float

    @classmethod
    def between(cls, onnx_depth: torch.Tensor, torch_depth: torch.Tensor) -> ErrorStats:
        d = (onnx_depth.double() - torch_depth.double()).abs().flatten().numpy()
        if not np.isfinite(d).all():
            return cls(float("inf"), float("inf"), float("inf"))
        return cls(float(d.max()), float(d.mean()), float(np.percentile(d, 99.9)))

    def within(self, tol: Tolerance) -> bool:
        return self.max <= tol.max and self.mean <= tol.mean and self.p999 <= tol.p999

    def describe(self, tol: Tolerance) -> str:
        return (f"|onnx - torch| metric depth: max {self.max:.2e} m, mean {self.mean:.2e} m, p99.9 {self.p999:.2e} m "
                f"(tolerance {tol.max:.0e} / {tol.mean:.0e} / {tol.p999:.0e})")


def check_input(size: tuple[int, int], batch: int = 1) -> torch.Tensor:
    """A fixed, smooth RGB pattern (B, 3, H, W) in [0, 1]: image-like, unlike uniform noise, and seeded."""
    g = torch.Generator().manual_seed(0)
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size[0]), torch.linspace(0, 1, size[1]), indexing="ij")
    freq = 1 + 5 * torch.rand(batch, 3, 2, 1, 1, generator=g)
    phase = 6.283 * torch.rand(batch, 3, 1, 1, generator=g)
    return 0.5 + 0.25 * torch.sin(6.283 * freq[:, :, 0] * ys + phase) + 0.25 * torch.cos(6.283 * freq[:, :, 1] * xs)


def check_cameras(size: tuple[int, int], batch: int) -> list[torch.Tensor]:
    """The check's camera inputs (B, 2): a lens 0.7× NYU's (in pixels at the export size) for the first
    image and NaN (unknown: the fallback) for the others, plus all-NaN, so both of the graph's
    branches are compared with PyTorch whatever the batch."""
    known = torch.full((batch, 2), float("nan"))
    known[0] = 0.7 * canonical_focal(size)
    return [known, torch.full((batch, 2), float("nan"))]
