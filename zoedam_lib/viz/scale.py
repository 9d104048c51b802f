"""Scale vs structure: predicted against true median depth per image, one point per test image.

A metric model on a camera it was not trained on (the zero-shot sets) errs first in *scale*: its
points leave the y = x line as a group, while its median-scaled metrics (``tables.scale_table``)
stay good. The shaded band is a factor 1.25 either way, δ1's threshold.

One panel per model and evaluation set (rows: models, columns: sets), so six models' points never
hide each other (notebook 06); each model keeps its colour (:mod:`.palette`) and each panel states
in its title the median of its predicted / true ratios, the number the figure asks the reader to see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.viz.figures import legend_outside, new_figure
from zoedam_lib.viz.palette import model_colour

PANEL = 2.4  # inches per panel side


def median_scatter(evaluations: Mapping[str, Mapping[str, Sequence[Mapping[str, float]]]], *,
                   note: str) -> Figure:
    """Per-image ``pred_median`` vs ``gt_median`` (model → eval set → per-image rows): a row of panels per
    model, a column per evaluation set, shared axes in metres with the y = x line; one legend above."""
    sets = list(dict.fromkeys(name for by_set in evaluations.values() for name in by_set))
    if not sets:
        raise ValueError("median_scatter needs per-image rows: {model: {eval set: EvalResult.per_image}}")
    models = list(evaluations)
    fig = new_figure(note, (PANEL * len(sets) + 0.8, PANEL * len(models) + 1.0))
    grid = fig.subplots(len(models), len(sets), squeeze=False, sharex=True, sharey=True)
    top = max(float(np.nanmax([r[k] for r in rows])) for by_set in evaluations.values() for rows in by_set.values()
              for k in ("gt_median", "pred_median"))
    line = np.array([0.0, top * 1.05])
    for i, model in enumerate(models):
        for j, name in enumerate(sets):
            ax = grid[i, j]
            ax.fill_between(line, line / 1.25, line * 1.25, color="0.92", zorder=0, label="within ×1.25")
            ax.plot(line, line, "k--", lw=1, label="y = x (right scale)")
            ax.set(xlim=(0, line[1]), ylim=(0, line[1]), aspect="equal")
            ax.tick_params(labelsize=7)
            ax.set_title(name, fontsize=8)
            if j == 0:
                ax.set_ylabel(f"{model}\npredicted median [m]", fontsize=8)
            if i == len(models) - 1:
                ax.set_xlabel("true median depth [m]", fontsize=8)
            rows = evaluations[model].get(name)
            if not rows:
                ax.text(0.5, 0.5, "not evaluated", ha="center", va="center", transform=ax.transAxes, color="0.5")
                continue
            gt, pred = (np.array([r[k] for r in rows], dtype=float) for k in ("gt_median", "pred_median"))
            ax.scatter(gt, pred, s=7, alpha=0.6, color=model_colour(model), label=model)
            ax.set_title(f"{name}\npredicted / true: median {float(np.nanmedian(pred / gt)):.2f}", fontsize=8)
    legend_outside(fig, grid.ravel(), ncols=4)
    return fig
