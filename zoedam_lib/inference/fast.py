"""The opt-in fast inference path: inference mode, bf16/fp16 autocast where the hardware has it,
channels-last convolutions and optionally ``torch.compile``.

The metric head always runs in fp32 (its 0.0212 minimum temperature amplifies rounding), so the
fast path's depth stays within AbsRel 0.01 of the fp32 output (measured by ``bench``). The fp32
default path is the one that reproduces the official outputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ..training.amp import cpu_supports_bf16


def fast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA GPUs that support it (else fp16) and on CPUs with native bf16; None elsewhere."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_supports_bf16() else None


def prepare_fast(model: nn.Module, channels_last: bool = True, compile: bool = False) -> nn.Module:
    """Put ``model`` in eval mode with channels-last weights (and compiled, if asked)."""
    model = model.eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
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
