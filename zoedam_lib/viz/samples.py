"""Figures of the data: samples with their depth, depth histograms, augmentation rows, single maps, CutMix inputs.

Every depth image of a figure shares one colour scale in metres, shown by one colour bar in its
own grid column: two maps of the same figure can be compared by colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from zoedam_lib.viz.figures import DEPTH_CMAP, Scale, legend_outside, new_figure, rgb_panel

BAR = 0.06  # width of a colour-bar column, relative to an image column
DISPARITY_CMAP = "viridis"  # relative output (disparity in arbitrary units): never the depth map's colours


def sample_grid(images: Sequence[np.ndarray], depths: Sequence[np.ndarray], *, note: str,
                titles: Sequence[str] | None = None, vmax: float | None = None) -> Figure:
    """Rows of RGB | depth (notebook 01), one depth scale for all rows and one colour bar."""
    n = len(images)
    scale = Scale.covering(depths, vmax)
    fig = new_figure(note, (6.4, 2.3 * n + 0.3))
    grid = fig.add_gridspec(n, 3, width_ratios=[1, 1, BAR])
    for i, (image, depth) in enumerate(zip(images, depths, strict=True)):
        rgb_panel(fig.add_subplot(grid[i, 0]), image, titles[i] if titles else "RGB")
        im = scale.image(fig.add_subplot(grid[i, 1]), depth, DEPTH_CMAP, "depth")
    scale.colorbar(fig, im, fig.add_subplot(grid[:, 2]), "depth [m]")
    return fig


def depth_histograms(groups: Mapping[str, np.ndarray], *, note: str, bins: int = 50,
                     max_depth: float = 10.0) -> Figure:
    """Distributions of valid depth values per group (e.g. train vs test), as densities."""
    fig = new_figure(note, (6, 3.2))
    ax = fig.add_subplot()
    for name, values in groups.items():
        values = np.asarray(values)
        values = values[np.isfinite(values) & (values > 0)]
        ax.hist(values, bins=bins, range=(0, max_depth), density=True, histtype="step", lw=1.5, label=name)
    ax.set(xlabel="depth [m]", ylabel="density [1/m]")
    legend_outside(fig, [ax])
    return fig


def image_row(items: Sequence[tuple[str, np.ndarray]], *, note: str, ncols: int | None = None,
              size: float = 2.2, vmax: float | None = None) -> Figure:
    """A row (or grid) of titled images, e.g. augmentation previews; 2-D arrays are depth on one shared scale."""
    ncols = ncols or len(items)
    nrows = int(np.ceil(len(items) / ncols))
    depths = [arr for _, arr in items if np.ndim(arr) == 2]
    scale = Scale.covering(depths, vmax) if depths else None
    widths = [1] * ncols + ([BAR] if scale else [])
    fig = new_figure(note, (size * ncols * 1.3 + (0.6 if scale else 0), size * nrows + 0.3))
    grid = fig.add_gridspec(nrows, len(widths), width_ratios=widths)
    im = None
    for k, (title, arr) in enumerate(items):
        ax = fig.add_subplot(grid[k // ncols, k % ncols])
        if np.ndim(arr) == 2:
            im = scale.image(ax, arr, DEPTH_CMAP, title)
        else:
            rgb_panel(ax, arr, title)
    if scale is not None:
        scale.colorbar(fig, im, fig.add_subplot(grid[:, -1]), "depth [m]")
    return fig


def relative_figure(disparity: Sequence[np.ndarray], aligned: Sequence[np.ndarray], gts: Sequence[np.ndarray], *,
                    note: str, per_row: int = 2) -> Figure:
    """Triplets disparity | aligned to metres | ground truth (notebook 04's relative-depth lesson).

    A relative model's output has no unit, so each disparity map is divided by its own maximum and
    drawn in its own colour map (:data:`DISPARITY_CMAP`) with its own bar; on the depth scale it would
    be a uniform dark patch and read as "everything near". The aligned maps and the truth share one
    scale in metres. Two stacked bars in the last column: depth on top, disparity below.
    """
    nrows = max(int(np.ceil(len(disparity) / per_row)), 2)  # two rows at least: room for both bars
    depth = Scale.covering([*aligned, *gts])
    unit = Scale(0.0, 1.0, "neither")
    fig = new_figure(note, (2.6 * 3 * per_row + 0.8, 2.2 * nrows + 0.3))
    grid = fig.add_gridspec(nrows, 3 * per_row + 1, width_ratios=[1] * (3 * per_row) + [BAR])
    im_depth = im_disp = None
    for k, (d, a, g) in enumerate(zip(disparity, aligned, gts, strict=True)):
        row, col = divmod(k, per_row)
        d = np.asarray(d, dtype=np.float64)
        top = np.nanmax(d) if np.isfinite(d).any() and np.nanmax(d) > 0 else 1.0
        im_disp = unit.image(fig.add_subplot(grid[row, 3 * col]), d / top, DISPARITY_CMAP, "SynthDA disparity")
        im_depth = depth.image(fig.add_subplot(grid[row, 3 * col + 1]), a, DEPTH_CMAP, "aligned to metres")
        depth.image(fig.add_subplot(grid[row, 3 * col + 2]), g, DEPTH_CMAP, "ground truth")
    half = nrows // 2
    depth.colorbar(fig, im_depth, fig.add_subplot(grid[:half, -1]), "depth [m]")
    unit.colorbar(fig, im_disp, fig.add_subplot(grid[half:, -1]), "disparity ÷ its image's max")
    return fig


def depth_map(depth: np.ndarray, title: str, *, note: str, vmax: float | None = None) -> Figure:
    """One depth map with a colour bar in metres (e.g. the average-depth baseline of notebook 02).

    The bar spans the map's own range (its nearest to its farthest pixel), so every colour shows
    a depth the map has; ``vmax`` instead fixes a scale from 0 to ``vmax`` (to compare maps by colour).
    """
    scale = Scale.spanning([depth]) if vmax is None else Scale.covering([depth], vmax)
    fig = new_figure(note, (4.8, 3.4))
    grid = fig.add_gridspec(1, 2, width_ratios=[1, BAR])
    im = scale.image(fig.add_subplot(grid[0, 0]), depth, DEPTH_CMAP, title)
    scale.colorbar(fig, im, fig.add_subplot(grid[0, 1]), "depth [m]")
    return fig


def cutmix_figure(examples: Mapping[str, np.ndarray], *, note: str) -> Figure:
    """The student's unlabeled inputs (like the paper's Fig. 5): clean, perturbed, CutMix, mask, targets.

    ``examples`` holds tensors/arrays ``clean``, ``perturbed``, ``mixed`` (B, 3, H, W), ``mask``
    (B, 1, H, W) and the teacher's ``pseudo`` / ``pseudo_mixed`` depth (B, 1, H, W).
    """
    ex = {k: np.asarray(v) for k, v in examples.items()}
    n = ex["clean"].shape[0]
    scale = Scale.covering([ex["pseudo"], ex["pseudo_mixed"]])
    titles = ("clean (teacher input)", "strongly perturbed", "CutMix (student input)", "mask M",
              "T(clean)", "target T(u_a)⊙M + T(u_b)⊙(1−M)")
    fig = new_figure(note, (14.5, 1.9 * n + 0.4))
    grid = fig.add_gridspec(n, 7, width_ratios=[1] * 6 + [BAR])
    for i in range(n):
        axes = [fig.add_subplot(grid[i, j]) for j in range(6)]
        for j, key in enumerate(("clean", "perturbed", "mixed")):
            rgb_panel(axes[j], ex[key][i].transpose(1, 2, 0))
        axes[3].imshow(ex["mask"][i, 0], cmap="gray", vmin=0, vmax=1)
        axes[3].axis("off")
        im = scale.image(axes[4], ex["pseudo"][i, 0], DEPTH_CMAP)
        scale.image(axes[5], ex["pseudo_mixed"][i, 0], DEPTH_CMAP)
        if i == 0:
            for ax, title in zip(axes, titles, strict=True):
                ax.set_title(title, fontsize=8)
    scale.colorbar(fig, im, fig.add_subplot(grid[:, 6]), "teacher depth [m]")
    return fig
