"""The course's results, made where they are missing: notebook 06 opened alone still has rows to show.

Notebook 06 gathers the results JSONs notebooks 02-05 write into ``out_dir/results``. Opened alone (a
fresh Colab runtime, after ``make clean``) it found none and showed empty tables. :func:`ensure_course_results`
trains what is missing with the same calls and default parameters as those notebooks (notebook 04's
``recipe_for("zoedam", ..., silog_beta=0.15, camera="canonical")``, its random-weights twin without camera
head, notebook 05's teacher, student and control), one after the other. Each recipe pins its CPU threads,
so the numbers are those the notebooks give (README, "determinism"); what ran already is read, not retrained.
"""

from __future__ import annotations

from typing import Any

from zoedam_lib.experiments.average import run_average
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.densedepth import run_densedepth
from zoedam_lib.experiments.presets import recipe_for
from zoedam_lib.experiments.results import load_results
from zoedam_lib.experiments.teacher import ensure_teacher
from zoedam_lib.experiments.zoedam import run_zoedam
from zoedam_lib.experiments.zoedam_plus import prepare_teacher, run_zoedam_plus
from zoedam_lib.semi.student import ZoeDAMPlusLossConfig
from zoedam_lib.utils.paths import display_path

COURSE_RUNS = ("average", "densedepth", "zoedam_vits", "zoedam_vits_random", "zoedam_plus", "zoedam_plus_control")


def missing_course_runs(ctx: RunContext) -> list[str]:
    """The runs of notebooks 02-05 (default parameters) with no results JSON in ``ctx.out_dir`` yet."""
    records = load_results(ctx.out_dir)
    return [k for k in COURSE_RUNS if k not in records]


def ensure_course_results(ctx: RunContext) -> dict[str, dict[str, Any]]:
    """Every results record in ``ctx.out_dir``, after training the course runs that are missing (about 25 min
    on 2 CPU cores at the ``cpu`` preset when all are; nothing, and no output, when none is)."""
    missing = missing_course_runs(ctx)
    if missing:
        print(f"not in {display_path(ctx.out_dir)}/results yet: {', '.join(missing)}; training them with the "
              "default parameters of notebooks 02-05")
    if "average" in missing:
        run_average(ctx)
    if "densedepth" in missing:
        run_densedepth(ctx, pretrained_encoder=True)
    recipe = recipe_for("zoedam", ctx.preset, seed=ctx.seed, silog_beta=0.15, camera="canonical")
    if "zoedam_vits" in missing:
        run_zoedam(ctx, "vits", recipe=recipe)
    if "zoedam_vits_random" in missing:
        run_zoedam(ctx, "vits", None, recipe=recipe, key="zoedam_vits_random", camera_head_epochs=0)
    plus = [k for k in ("zoedam_plus", "zoedam_plus_control") if k in missing]
    if plus:
        teacher = ensure_teacher(ctx)
        prepare_teacher(ctx, teacher, None, "cache")
        for key in plus:
            weight = 0.0 if key == "zoedam_plus_control" else 1.0  # the control: same steps, unlabeled loss off
            run_zoedam_plus(ctx, teacher, None, "cache", loss_config=ZoeDAMPlusLossConfig(unlabeled_weight=weight),
                            key=key)
    return load_results(ctx.out_dir)
