"""Scale vs structure: predicted against true median depth per image, one point per test image.

A metric model on a camera it was not trained on (the zero-shot sets) errs first in *scale*: its
points leave the y = x line as a group, while its median-scaled metrics (``tables.scale_table``)
stay good. The shaded band is a factor 1.25 either way, δ1's threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.viz.figures import new_figure

MARKERS = ("o", "s", "^", "D", "v", "P", "X")  # one per model (with its colour)


def median_scatter(evaluations: Mapping[str, Mapping[str, Sequence[Mapping[str, float]]]], *,
                   note: str) -> Figure:
    """Per-image ``pred_median`` vs ``gt_median`` (model → eval set → per-image rows): one panel per
    evaluation set, colour per model, with the y = x line; one legend outside the panels."""
    sets = list(dict.fromkeys(name for by_set in evaluations.values() for name in by_set))
    if not sets:
        raise ValueError("median_scatter needs per-image rows: {model: {eval set: EvalResult.per_image}}")
    fig = new_figure(note, (3.6 * len(sets) + 1.8, 4.2))
    axes = fig.subplots(1, len(sets), squeeze=False, sharex=True, sharey=True)[0]
    top = max(float(np.nanmax([r[k] for r in rows])) for by_set in evaluations.values() for rows in by_set.values()
              for k in ("gt_median", "pred_median"))
    line = np.array([0.0, top * 1.05])
    for ax, name in zip(axes, sets, strict=True):
        ax.fill_between(line, line / 1.25, line * 1.25, color="0.92", zorder=0, label="within ×1.25")
        ax.plot(line, line, "k--", lw=1, label="y = x (right scale)")
        for i, (model, by_set) in enumerate(evaluations.items()):
            if name in by_set:
                rows = by_set[name]
                ax.scatter([r["gt_median"] for r in rows], [r["pred_median"] for r in rows], s=10, alpha=0.6,
                           color=f"C{i % 10}", marker=MARKERS[i % len(MARKERS)], label=model)
        ax.set(xlim=(0, line[1]), ylim=(0, line[1]), aspect="equal", title=name,
               xlabel="true median depth per image [m]")
    axes[0].set_ylabel("predicted median depth per image [m]")
    legend = {label: handle for ax in axes for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)}
    fig.legend(list(legend.values()), list(legend), fontsize=7, loc="center left", bbox_to_anchor=(0.995, 0.5),
               frameon=False)
    return fig
