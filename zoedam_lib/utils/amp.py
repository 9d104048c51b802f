"""Mixed-precision choice: bf16 or fp16 autocast on CUDA, bf16 on CPUs that run it natively, or none."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from zoedam_lib.utils.errors import ConfigError

AMP_CHOICES = ("auto", "off", "bf16", "fp16")


def cpu_supports_bf16() -> bool:
    """True on CPUs with native bf16 matrix instructions (AVX512-BF16 or AMX)."""
    try:
        caps = torch.backends.cpu.get_cpu_capability()
    except AttributeError:
        return False
    if caps not in ("AVX512",):
        return False
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device`` (None: full fp32).

    ``auto`` picks bf16 on CUDA when supported, else fp16; on a CPU bf16 where it has native bf16
    instructions (AVX512-BF16 or AMX) and fp32 elsewhere, because emulated bf16 is many times
    slower than fp32. Losses and the metric head stay fp32.
    """
    if amp not in AMP_CHOICES:
        raise ConfigError(f"amp must be one of {AMP_CHOICES}, got {amp!r}")
    if amp == "off":
        return None
    if device.type == "cuda":
        if amp == "fp16":
            return torch.float16
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp == "fp16":
        raise ConfigError("amp='fp16' needs a CUDA device; on CPU use amp='bf16' or 'off'")
    if amp == "bf16":
        if not cpu_supports_bf16():
            raise ConfigError("amp='bf16' on this CPU would be emulated and slow (no AVX512-BF16/AMX); use amp='off'")
        return torch.bfloat16
    return torch.bfloat16 if cpu_supports_bf16() else None


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """``torch.autocast`` for ``dtype``, or a no-op for fp32."""
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
