"""Metric bars (notebook 06): one panel per metric, one bar per model, the bootstrap interval as error bar.

Each bar has its model's colour (:mod:`.palette`), each panel's y axis its metric's unit (RMSE in metres).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.evaluation.bootstrap import Interval
from zoedam_lib.evaluation.metrics import METRIC_NAMES
from zoedam_lib.viz.figures import metric_label, new_figure
from zoedam_lib.viz.palette import model_colour


def metric_bars(intervals: Mapping[str, Mapping[str, Interval]], keys: Sequence[str], *, note: str) -> Figure:
    """Means with 95 % intervals (model → metric → ``stats.bootstrap_metrics(...)``), one panel per metric.

    Two bars whose error bars overlap can still differ (the images are shared; ``tables.paired_table``
    is the test), but bars without them invite reading differences no test image set supports.
    """
    names = list(intervals)
    fig = new_figure(note, (2.7 * len(keys), 3.4))
    axes = fig.subplots(1, len(keys), squeeze=False)[0]
    x = np.arange(len(names))
    for ax, key in zip(axes, keys, strict=True):
        ivs = [intervals[n][key] for n in names]
        means = np.array([iv.mean for iv in ivs])
        yerr = np.array([[iv.mean - iv.low for iv in ivs], [iv.high - iv.mean for iv in ivs]])
        ax.bar(x, means, yerr=yerr, capsize=3, color=[model_colour(n) for n in names])
        ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
        ax.set_title(METRIC_NAMES.get(key, key), fontsize=10)
        ax.set_ylabel(metric_label(key), fontsize=8)
    fig.suptitle("mean over test images, 95 % bootstrap interval", fontsize=9)
    return fig
