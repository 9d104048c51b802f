"""Independent training runs side by side on a CPU's cores, one process each.

Why: at the ``cpu`` preset's size (98×126, batch 4) a ZoeDAM-S training step keeps two cores only
partly busy, so two single-threaded runs side by side finish sooner than the same runs one after
the other on two threads (``python -m zoedam_lib bench`` measures the gain on your machine: the
``train_side_by_side`` case; README has this project's figure). Notebook 04 trains its SynthDA- and
random-initialised models and the two β-ablation runs in pairs, notebook 05 its student and control, so
``make demo`` gains that factor on its longest cells.

Each run's numbers depend only on the thread count it ran with, which depends only on the core count
and the number of runs (never on timing): a run is as deterministic side by side as alone. Each
run's printed lines are collected and shown after it finishes, in the order the runs were given, so
the notebook reads the same whatever finished first. On CUDA, or with one run or one core, the
runs execute one after the other in this process, exactly as a plain call would.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

import torch

from zoedam_lib.utils import progress

T = TypeVar("T")


def plan(n_runs: int, device: torch.device, threads: int | None = None) -> tuple[int, int]:
    """(runs at a time, threads per run) for ``n_runs`` independent runs on ``device``.

    CPU: as many runs at a time as there are cores, up to ``n_runs``, sharing the cores equally
    (``threads`` defaults to torch's intra-op thread count, one per physical core). CUDA: one at a time.
    """
    cores = threads or torch.get_num_threads()
    if device.type != "cpu" or n_runs < 2 or cores < 2:
        return 1, cores
    workers = min(n_runs, cores)
    return workers, cores // workers


def _run_captured(call: Callable[[], T], threads: int) -> tuple[T | None, str, BaseException | None]:
    """In the child: run ``call`` on ``threads`` threads, its prints collected, no progress bars."""
    torch.set_num_threads(threads)
    progress.disable_bars()
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            return call(), out.getvalue(), None
        except BaseException as exc:  # shown with the run's output, then raised in the parent
            return None, out.getvalue(), exc


def run_concurrently(calls: Mapping[str, Callable[[], T]], device: torch.device | str = "cpu",
                     threads: int | None = None) -> dict[str, T]:
    """``{name: call()}`` for independent calls, run side by side on a CPU (see the module docstring).

    Each call must be picklable (a ``functools.partial`` of a module-level function such as
    :func:`~zoedam_lib.experiments.zoedam.run_zoedam` with its arguments) and must not depend on
    another: each writes its own run folder and results row. Results come back in the order of
    ``calls``; the first failure is raised after every run's output has been shown.
    """
    device = torch.device(device)
    workers, per_run = plan(len(calls), device, threads)
    if workers == 1:
        return {name: call() for name, call in calls.items()}
    print(f"{len(calls)} runs side by side, {per_run} thread(s) each: " + ", ".join(calls))
    # spawn: a fresh interpreter per worker (fork would copy a kernel's threads and open handles)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {name: pool.submit(_run_captured, call, per_run) for name, call in calls.items()}
        outcomes = {name: future.result() for name, future in futures.items()}
    failure: BaseException | None = None
    results: dict[str, Any] = {}
    for name, (result, text, exc) in outcomes.items():
        print(f"── {name} ──")
        print(text.rstrip(os.linesep))
        results[name] = result
        failure = failure or exc
    if failure is not None:
        raise failure
    return results
