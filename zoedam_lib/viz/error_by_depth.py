"""AbsRel by ground-truth depth (notebook 06): one line per model, the pixels behind each range as bars.

A range with few pixels gives a noisy value; the bars (right axis) and the number of images in
each tick label say how much each point rests on. Each line has its model's colour (:mod:`.palette`);
the legend sits above the axes, clear of the lines.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.evaluation.by_depth import DepthBinned
from zoedam_lib.viz.figures import legend_outside, metric_label, new_figure
from zoedam_lib.viz.palette import model_colour


def error_by_depth(binned: Mapping[str, DepthBinned], *, note: str) -> Figure:
    """AbsRel per depth range (averaged per image, see :mod:`zoedam_lib.evaluation.by_depth`) for each model.

    All models must be binned on the same ground truth (the same images and edges), so that
    one set of pixel counts describes every line.
    """
    if not binned:
        raise ValueError("error_by_depth needs at least one model's DepthBinned (name → abs_rel_by_depth(...))")
    first = next(iter(binned.values()))
    if any((b.edges, b.n_pixels) != (first.edges, first.n_pixels) for b in binned.values()):
        raise ValueError("the models were binned on different ground truth (edges or pixel counts differ); "
                         "bin every model on the same test images")
    x = np.arange(len(first.abs_rel))
    fig = new_figure(note, (6.8, 4.0))
    ax = fig.add_subplot()
    counts = ax.twinx()
    counts.bar(x, first.n_pixels, width=0.7, color="0.88", label="valid pixels")
    counts.set_ylabel("valid pixels (bars)", color="0.45")
    counts.tick_params(axis="y", colors="0.45")
    ax.set_zorder(counts.get_zorder() + 1)  # lines in front of the bars
    ax.patch.set_visible(False)
    for name, b in binned.items():
        ax.plot(x, b.abs_rel, "o-", label=name, color=model_colour(name))
    labels = [f"{a:g}–{b:g}\n({n} img)" for a, b, n in zip(first.edges, first.edges[1:], first.n_images, strict=False)]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set(xlabel="ground-truth depth range [m]", ylabel=f"{metric_label('abs_rel')}, mean over images")
    legend_outside(fig, [ax])
    return fig
