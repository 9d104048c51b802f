"""The opt-in fast inference path: inference mode, bf16/fp16 autocast where the hardware has it,
channels-last convolutions, the reduced-resolution metric head and optionally ``torch.compile``.

The metric head always runs in fp32 (its 0.0212 minimum temperature amplifies rounding), but at
the finest fusion level's size, so the depth is an approximation whose error depends on the
weights: AbsRel 0.003 against fp32 on the demo's trained ZoeDAM-S, 0.12 on the official-format
conformance weights (``bench``; ``docs/benchmarks.md``). The default inference path
(:func:`.exact.prepare_exact`) is the one that reproduces the official outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from zoedam_lib.inference.exact import forward_depth, has_metric_bins_head
from zoedam_lib.utils.amp import cpu_supports_bf16


def fast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA GPUs that support it (else fp16) and on CPUs with native bf16; None elsewhere."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else None


class FastZoeDAM(nn.Module):
    """A ZoeDAM whose forward takes the fast path (see the module docstring); same inputs and outputs.

    Its ``config`` is the wrapped model's, so it can be passed wherever a ZoeDAM is expected at
    inference time. It returns ``metric_depth`` and ``rel_depth`` only (no per-pixel bin maps).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.config = model.config

    def forward(self, x: torch.Tensor, *, camera: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        with fast_context(x.device):
            out = forward_depth(self.model, x, reduced=True, camera=camera)
        return {k: v.float() for k, v in out.items()}


def prepare_fast(model: nn.Module, channels_last: bool = True, compile: bool = False) -> nn.Module:
    """The fast-path version of ``model`` in eval mode: channels-last weights, reduced-resolution
    metric head for ZoeDAM, low-precision autocast, optionally ``torch.compile``d."""
    model = model.eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if has_metric_bins_head(model):
        model = FastZoeDAM(model).eval()
    if compile:
        model = torch.compile(model)
    return model


@contextmanager
def fast_context(device: torch.device | str = "cpu") -> Iterator[None]:
    """``torch.inference_mode`` plus autocast in the fastest safe low precision of ``device``."""
    device = torch.device(device)
    dtype = fast_dtype(device)
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        yield
