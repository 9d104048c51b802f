"""What every benchmark case shares: timing, memory figures, the ZoeDAM under test.

Times are wall-clock milliseconds of repeated calls after warm-up; memory is the case process's
own peak (each case runs in a fresh process, :mod:`.process`).
"""

from __future__ import annotations

import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the loader bench measures a torch-free reader, so torch is imported only where a model is built
    import torch


def time_calls(fn: Callable[[], object], warmup: int, repeats: int) -> list[float]:
    """Milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def time_summary(times: list[float]) -> dict:
    """Median, minimum and maximum of a list of times (ms)."""
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times), "n": len(times)}


def bench_zoedam(backbone: str) -> torch.nn.Module:
    """A randomly initialised (seed 0) ZoeDAM in eval mode: the network whose speed the cases time."""
    import torch

    from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig

    torch.manual_seed(0)
    return ZoeDAM(ZoeDAMConfig(backbone=backbone)).eval()


def peak_rss_mb() -> float:
    """Peak RSS of this process's own memory image.

    Linux's ``ru_maxrss`` carries over the parent's high-water mark through fork/exec (a child
    started by a process that holds torch "peaks" at the parent's size), so we read ``VmHWM``
    from ``/proc/self/status`` where it exists; elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def current_rss_mb() -> float:
    """Resident set size now (Linux ``/proc``; NaN elsewhere), to separate the loader from imports."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")
