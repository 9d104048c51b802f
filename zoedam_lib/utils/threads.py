"""Pin torch's intra-op CPU thread count for a block of work, and restore it after.

On a CPU, a matrix product split over 1 or 2 threads sums in a different order: the same training
drifts apart by float rounding, step after step (notebook 03's DenseDepth: test AbsRel 0.177 under
``make demo``, where it ran on one thread beside notebook 04, and 0.194 alone on two under nbval).
A recipe therefore fixes the count (``TrainConfig.threads``) instead of inheriting whatever the
launcher left (``OMP_NUM_THREADS``, the cores, a concurrent run's share), and the count is restored
afterwards so the rest of a notebook runs as it would have.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def intra_op_threads(threads: int | None) -> Iterator[int]:
    """Run the block on ``threads`` intra-op threads (None: leave torch's current count); yields the count used."""
    before = torch.get_num_threads()
    if threads is None or threads == before:
        yield before
        return
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
