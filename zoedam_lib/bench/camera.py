"""Benchmark case: what the camera costs a camera-aware ZoeDAM-S at 392×518 (issue 24's ≤ 5 % target).

Three forwards of the inference path (:func:`~zoedam_lib.inference.exact.prepare_exact`), timed in
alternation so drift of a shared machine hits each alike: the camera-blind model; the
camera-aware one given the focal length (the de-canonicalisation, one multiply per pixel); and
the camera-aware one estimating it (the camera head on the encoder's tokens, Depth Pro's
field-of-view head in miniature). Random weights (seed 0): cost does not depend on them.
"""

from __future__ import annotations

import statistics
import time

import torch

from zoedam_lib.bench.common import time_summary


def case_camera_head(args: dict) -> dict:
    """Median ms of blind / camera given / camera estimated, and the two overheads against blind."""
    from zoedam_lib.inference.exact import prepare_exact
    from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig

    torch.manual_seed(0)
    blind = prepare_exact(ZoeDAM(ZoeDAMConfig(backbone="vits")).eval())
    torch.manual_seed(0)
    aware = prepare_exact(ZoeDAM(ZoeDAMConfig(backbone="vits", camera="canonical", max_depth=20.0,
                                              camera_head=True)).eval())
    x = torch.rand(1, 3, 392, 518)
    given = torch.tensor([[300.0, 300.0]])
    unknown = torch.full((1, 2), float("nan"))
    calls = {"blind": lambda: blind(x), "given": lambda: aware(x, camera=given),
             "estimated": lambda: aware(x, camera=unknown)}
    times: dict[str, list[float]] = {k: [] for k in calls}
    with torch.inference_mode():
        for fn in calls.values():  # warm-up
            fn()
        for _ in range(args.get("repeats", 10)):
            for key, fn in calls.items():
                start = time.perf_counter()
                fn()
                times[key].append((time.perf_counter() - start) * 1000)
    out = {key: time_summary(t) for key, t in times.items()}
    base = statistics.median(times["blind"])
    out["given_overhead"] = statistics.median(times["given"]) / base - 1
    out["estimated_overhead"] = statistics.median(times["estimated"]) / base - 1
    return out
