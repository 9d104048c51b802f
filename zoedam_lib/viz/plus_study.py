"""The ZoeDAM+ study's curve: student − control (and student − teacher) against the unlabeled pool's size.

One panel per set (the pool's style first, then the in-domain test split), pool size on a log axis,
one marker per seed with its paired 95 % interval, slightly apart so the bars do not hide each other.
Below zero the student is ahead (AbsRel: lower is better). The teacher comparison is drawn in the
teacher's colour, the control comparison in the student's (:mod:`.palette`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.experiments.plus_study import TEST_SET
from zoedam_lib.viz.figures import legend_outside, new_figure
from zoedam_lib.viz.palette import model_colour

MARKERS = ("o", "s", "^", "D")  # one per seed


def study_curve(summary: dict[str, Any], *, note: str, sets: tuple[str, ...] = (TEST_SET, "test")) -> Figure:
    """Paired AbsRel differences of every (seed, pool) point of ``summary`` (:func:`~zoedam_lib.reports.
    plus_study.summarise`), one panel per set of ``sets`` that the summary has."""
    shown = [s for s in sets if s in summary["sets"]]
    if not summary["points"] or not shown:
        raise ValueError("the study summary has no finished (student, control) pair to draw yet")
    fig = new_figure(note, (4.6 * len(shown), 3.6))
    axes = fig.subplots(1, len(shown), squeeze=False, sharey=True)[0]
    seeds = sorted({p["seed"] for p in summary["points"]})
    pools = sorted({p["pool"] for p in summary["points"]})
    for ax, eval_set in zip(axes, shown, strict=True):
        for k, seed in enumerate(seeds):
            pts = sorted((p for p in summary["points"] if p["seed"] == seed), key=lambda p: p["pool"])
            shift = 1.1 ** (k - (len(seeds) - 1) / 2)  # seeds side by side on the log axis
            for what, colour, dx in (("minus_control", model_colour("zoedam_plus"), 1.0),
                                     ("minus_teacher", model_colour("zoedam_vits"), 1.12)):
                x = np.array([p["pool"] for p in pts]) * shift * dx
                d = [p["sets"][eval_set][what] for p in pts]
                mean = np.array([v["mean"] for v in d])
                err = np.array([[v["mean"] - v["low"] for v in d], [v["high"] - v["mean"] for v in d]])
                label = f"student − {'control' if what == 'minus_control' else 'teacher'}, seed {seed}"
                ax.errorbar(x, mean, yerr=err, color=colour, marker=MARKERS[k % len(MARKERS)], ms=5, capsize=3,
                            lw=1.2, ls="-" if what == "minus_control" else ":", label=label)
        ax.axhline(0.0, color="0.4", lw=0.8)
        ax.set_xscale("log")
        ax.set_xticks(pools, [f"{n:,}" for n in pools])
        ax.minorticks_off()
        n = summary["points"][0]["sets"][eval_set]["n_images"]
        ax.set_title(f"{eval_set} ({n} images)", fontsize=10)
        ax.set_xlabel("unlabeled rooms in the pool")
        ax.set_ylabel("Δ AbsRel (below 0: student ahead)")
        ax.grid(alpha=0.3)
    legend_outside(fig, axes, ncols=2)
    return fig
