"""Scale vs structure: predicted against true median depth per image, one point per test image.

A metric model on a camera it was not trained on (the zero-shot sets) errs first in *scale*: its
points leave the y = x line as a group, while its median-scaled metrics (``tables.scale_table``)
stay good. The shaded band is a factor 1.25 either way, δ1's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from .figures import new_figure

MARKERS = ("o", "s", "^", "D", "v", "P", "X")  # one per evaluation set


def median_scatter(evaluations: Mapping[str, Mapping[str, Sequence[Mapping[str, float]]]], *,
                   note: str) -> Figure:
    """Per-image ``pred_median`` vs ``gt_median`` (model → eval set → per-image rows): colour per model,
    marker per evaluation set, with the y = x line."""
    sets = list(dict.fromkeys(name for by_set in evaluations.values() for name in by_set))
    if not sets:
        raise ValueError("median_scatter needs per-image rows: {model: {eval set: EvalResult.per_image}}")
    fig = new_figure(note, (5.2, 5.0))
    ax = fig.add_subplot()
    top = 0.0
    for i, (model, by_set) in enumerate(evaluations.items()):
        for name, rows in by_set.items():
            true = np.array([r["gt_median"] for r in rows])
            pred = np.array([r["pred_median"] for r in rows])
            ax.scatter(true, pred, s=12, alpha=0.7, color=f"C{i % 10}", marker=MARKERS[sets.index(name) % len(MARKERS)],
                       label=f"{model} · {name}")
            top = max(top, float(np.nanmax(true)), float(np.nanmax(pred)))
    line = np.array([0.0, top * 1.05])
    ax.fill_between(line, line / 1.25, line * 1.25, color="0.92", zorder=0, label="within ×1.25")
    ax.plot(line, line, "k--", lw=1, label="y = x (right scale)")
    ax.set(xlim=(0, line[1]), ylim=(0, line[1]), aspect="equal", xlabel="true median depth per image [m]",
           ylabel="predicted median depth per image [m]")
    ax.legend(fontsize=7, loc="upper left")
    return fig
