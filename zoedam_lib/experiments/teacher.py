"""The ZoeDAM+ teacher: notebook 04's checkpoint (trained here if missing), evaluated once, pseudo-labels cached.

A student and its control share one teacher: its pseudo-labels are cached on disk
(:class:`~zoedam_lib.semi.pseudo_labels.PseudoLabelCache`) and its evaluation is notebook 04's
(:func:`~zoedam_lib.experiments.evaluation_cache.evaluate_once`), so runs in other processes (the
student and control side by side, :mod:`.concurrent`; a re-run of notebook 05) compute neither again.
Notebook 05 opened alone (a fresh Colab runtime, after ``make clean``) finds no checkpoint of
notebook 04: :func:`ensure_teacher` then trains it, with notebook 04's own recipe, instead of stopping.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from zoedam_lib.checkpoints import load_checkpoint
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.zoedam import run_zoedam
from zoedam_lib.models.zoedam import ZoeDAM
from zoedam_lib.semi.pseudo_labels import PseudoLabelCache
from zoedam_lib.utils.atomic import recover_dir
from zoedam_lib.utils.errors import CheckpointError, ConfigError
from zoedam_lib.utils.paths import display_path

TEACHER_KEY = "zoedam_vits"  # notebook 04's checkpoint, the default teacher
TEACHER_CAMERA = "canonical"  # notebook 04's default `camera` parameter: its ZoeDAM-S is camera-aware


def ensure_teacher(ctx: RunContext, teacher: str | os.PathLike | nn.Module | None = None,
                   camera: str = TEACHER_CAMERA) -> str | os.PathLike | nn.Module:
    """The teacher to use: ``teacher`` when given, else notebook 04's ZoeDAM-S checkpoint in ``out_dir``,
    trained first when it is not there yet.

    The teacher is trained exactly as notebook 04 trains it (``run_zoedam(ctx, "vits", camera=...)``: the
    preset's recipe from SynthDA, or Depth Anything under ``paper``; about 5 min on 2 CPU cores at
    the ``cpu`` preset), so notebook 05 run alone gets the teacher the course's numbers were
    measured with (the recipe pins its CPU threads, so the same weights as notebook 04's run).
    """
    if teacher is not None:
        return teacher
    path = ctx.out_dir / "checkpoints" / TEACHER_KEY
    if recover_dir(path).exists():
        print(f"teacher: notebook 04's ZoeDAM-S ({display_path(path)})")
        return path
    print(f"teacher: no checkpoint at {display_path(path)} (notebook 04 not run in this out_dir); training it "
          "with notebook 04's recipe")
    run_zoedam(ctx, "vits", camera=camera)
    return path


def load_teacher(ctx: RunContext, teacher: str | os.PathLike | nn.Module | None) -> tuple[ZoeDAM, str, dict | None]:
    """The teacher (eval mode, frozen, on the run's device), its description, and how it was initialised.

    The initialisation is what the teacher's checkpoint recorded in its config.json (``init``);
    None for a model passed in or a checkpoint that does not say.
    """
    init = None
    if isinstance(teacher, nn.Module):
        model, source = teacher, "the teacher model passed in"
    else:
        path = Path(teacher) if teacher is not None else ctx.out_dir / "checkpoints" / TEACHER_KEY
        if not recover_dir(path).exists():  # a save of the teacher killed half-way leaves <path>.old
            raise CheckpointError(f"ZoeDAM+ teacher checkpoint not found at {path}: run notebook 04 (ZoeDAM) first "
                                  "or pass teacher=<path of a trained ZoeDAM checkpoint>")
        model, report = load_checkpoint(path)
        source, init = str(path), report.init
    if not isinstance(model, ZoeDAM):
        raise ConfigError(f"the ZoeDAM+ teacher must be a ZoeDAM, got {type(model).__name__} from {source}")
    return model.to(ctx.device).eval().requires_grad_(False), source, init


def build_pseudo_labels(cache: PseudoLabelCache) -> None:
    """Compute the teacher's missing pseudo-labels in ``cache`` and say how many were computed and reused."""
    computed = cache.build()
    damaged = f" ({len(cache.damaged)} of them damaged entries, recomputed)" if cache.damaged else ""
    print(f"teacher pseudo-labels: {computed} computed{damaged}, {len(cache) - computed} reused "
          f"({display_path(cache.dir)})")
