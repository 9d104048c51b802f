"""The precision an inference job runs in: the fastest one that keeps the depth within the accuracy bar.

An evaluation (``eval``, the notebooks, per-epoch validation) and a ``predict`` run each hold one
:class:`JobPrecision`. Its candidate is autocast in the device's native low precision
(:func:`~.approximate.fast_dtype`: bf16 on CPUs that run it natively — AMX, AVX512-BF16 —, bf16 or fp16 on
CUDA; nothing on AVX2-only CPUs, where bf16 is emulated and many times slower than fp32) around the encoder
and decoder; the metric head always stays in fp32 (its 0.0212 minimum temperature amplifies
rounding). The job's first batch runs in fp32 and in the candidate: if the candidate's depth is
within :data:`BAR` of fp32 (mean AbsRel, the benchmark's fast-path bar) the rest of the job uses it,
else fp32. That first forward is answered in fp32 (with flip TTA, the flipped half of the first batch
already runs in the chosen precision). ``fp32`` (``--fp32`` on the command line) forces
fp32; single images (:func:`~.predict.predict_depth`, figures, pseudo-labels) run in fp32, where a
check would cost more than it saves.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from zoedam_lib.inference.approximate import fast_dtype

BAR = 0.01  # mean AbsRel of the low-precision depth against fp32 that a model must stay within
PRECISIONS = ("auto", "fp32")


@dataclass(frozen=True)
class Choice:
    """A job's precision and its evidence: the first batch's AbsRel against fp32."""

    dtype: torch.dtype | None  # the autocast dtype; None: fp32
    abs_rel_vs_fp32: float | None = None  # None: not measured (fp32 forced, or no native low precision)

    def describe(self) -> str:
        """One line for results and logs, e.g. ``bf16 autocast (AbsRel vs fp32 0.00097, first batch)``."""
        measured = "" if self.abs_rel_vs_fp32 is None else f" (AbsRel vs fp32 {self.abs_rel_vs_fp32:.2g}, first batch)"
        if self.dtype is None:
            return "fp32" + (f": low precision refused{measured}" if measured else "")
        name = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, str(self.dtype))
        return f"{name} autocast{measured}"


FP32 = Choice(None)


def depth_abs_rel(approx: torch.Tensor, ref: torch.Tensor) -> float:
    """Mean relative difference of two metric depth maps (AbsRel of ``approx`` against ``ref``) over the
    reference's finite, positive pixels; inf when it has none. The check here and the benchmark's
    accuracy rows (``bench``) measure with this one function."""
    approx, ref = approx.detach().float(), ref.detach().float()
    ok = torch.isfinite(ref) & (ref > 0)
    return float(((approx - ref).abs() / ref)[ok].mean()) if ok.any() else float("inf")


class JobPrecision:
    """The precision of one inference job, decided on its first batch (see the module docstring).

    Args:
        request: ``auto`` or ``fp32``.
    """

    def __init__(self, request: str = "auto") -> None:
        if request not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {request!r}")
        self.request = request
        self.choice: Choice | None = None if request == "auto" else FP32

    def depth(self, run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """``run(x)`` (a depth forward) in the job's precision; the first call decides it."""
        if self.choice is None:
            dtype = fast_dtype(x.device)
            if dtype is None:
                self.choice = FP32
            else:
                ref = run(x).float()
                with torch.autocast(x.device.type, dtype=dtype):
                    err = depth_abs_rel(run(x), ref)
                self.choice = Choice(dtype if err <= BAR else None, err)
                return ref
        with nullcontext() if self.choice.dtype is None else torch.autocast(x.device.type, dtype=self.choice.dtype):
            return run(x).float()

    def describe(self) -> str:
        return (self.choice or FP32).describe()


def job_precision(precision: str | JobPrecision) -> JobPrecision:
    """A request (``auto``/``fp32``: a job of its own) or a job's :class:`JobPrecision` as it is."""
    return precision if isinstance(precision, JobPrecision) else JobPrecision(precision)


def capability(device: torch.device, request: str = "auto") -> str:
    """What an evaluation's precision can depend on: the request and the device's native low precision."""
    return f"{request}:{fast_dtype(device) if request == 'auto' else None}"
