"""Figures for the notebooks: one depth colour scale in metres everywhere, with a colour bar.

Functions return matplotlib figures (the notebook displays them; ``06_results`` also saves
them), so the plotting logic lives here where it can be reused and tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.rcParams.setdefault("figure.dpi", 80)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DEPTH_CMAP = "turbo"
ERROR_CMAP = "magma"


def _depth_axes(ax, depth: np.ndarray, vmin: float, vmax: float, title: str = ""):
    im = ax.imshow(np.ma.masked_invalid(depth), cmap=DEPTH_CMAP, vmin=vmin, vmax=vmax)
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    return im


def sample_grid(images: Sequence[np.ndarray], depths: Sequence[np.ndarray], titles: Sequence[str] | None = None,
                vmax: float | None = None) -> Figure:
    """Rows of RGB | colour-mapped depth, one shared scale with a colour bar in metres."""
    n = len(images)
    vmax = vmax or float(np.nanmax([np.nanmax(d) for d in depths]))
    fig, axes = plt.subplots(n, 2, figsize=(6.4, 2.4 * n), squeeze=False)
    for i, (img, depth) in enumerate(zip(images, depths, strict=True)):
        axes[i, 0].imshow(img)
        axes[i, 0].set_title(titles[i] if titles else "RGB", fontsize=9)
        axes[i, 0].axis("off")
        im = _depth_axes(axes[i, 1], depth, 0.0, vmax, "depth")
    fig.colorbar(im, ax=axes[:, 1].tolist(), label="depth [m]", shrink=0.8)
    return fig


def depth_histograms(groups: Mapping[str, np.ndarray], bins: int = 50, max_depth: float = 10.0) -> Figure:
    """Distributions of valid depth values per group (e.g. train vs test), as densities."""
    fig, ax = plt.subplots(figsize=(6, 3))
    for name, values in groups.items():
        values = values[np.isfinite(values) & (values > 0)]
        ax.hist(values, bins=bins, range=(0, max_depth), density=True, histtype="step", lw=1.5, label=name)
    ax.set_xlabel("depth [m]")
    ax.set_ylabel("density")
    ax.legend()
    fig.tight_layout()
    return fig


def image_row(items: Sequence[tuple[str, np.ndarray]], ncols: int | None = None, size: float = 2.2) -> Figure:
    """A row (or grid) of titled images, e.g. augmentation previews; 2-D arrays are shown as depth."""
    ncols = ncols or len(items)
    nrows = int(np.ceil(len(items) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols * 1.3, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, arr) in zip(axes.flat, items, strict=False):
        if arr.ndim == 2:
            _depth_axes(ax, arr, 0.0, float(np.nanmax(arr)), title)
        else:
            ax.imshow(np.clip(arr, 0, 255 if arr.dtype == np.uint8 else 1))
            ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def depth_map(depth: np.ndarray, title: str, vmax: float | None = None) -> Figure:
    """One depth map with a colour bar in metres (e.g. the average-depth baseline)."""
    fig, ax = plt.subplots(figsize=(4.5, 3.2))
    im = _depth_axes(ax, depth, 0.0, vmax or float(np.nanmax(depth)), title)
    fig.colorbar(im, ax=ax, label="depth [m]")
    return fig


def training_curves(histories: Mapping[str, Mapping], val_key: str = "val_abs_rel") -> Figure:
    """Training loss per step and validation AbsRel per epoch, one line per model."""
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(10, 3.2))
    for name, hist in histories.items():
        steps = np.array(hist.get("steps", []), dtype=float)
        if len(steps):
            ax_loss.plot(steps[:, 0], steps[:, 2], lw=0.8, label=name)
        epochs = hist.get("epochs", [])
        if epochs and val_key in epochs[0]:
            ax_val.plot([e["epoch"] for e in epochs], [e[val_key] for e in epochs], "o-", label=name)
    ax_loss.set(xlabel="step", ylabel="training loss", title="training loss")
    ax_val.set(xlabel="epoch", ylabel=val_key.removeprefix("val_"), title="validation (subset of test split)")
    for ax in (ax_loss, ax_val):
        if ax.lines:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def prediction_grid(images: Sequence[np.ndarray], gts: Sequence[np.ndarray],
                    predictions: Mapping[str, Sequence[np.ndarray]], vmax: float | None = None,
                    errors: bool = False) -> Figure:
    """RGB | ground truth | each model's prediction (one depth scale), optionally |error| maps below."""
    names = list(predictions)
    cols = 2 + len(names)
    rows_per = 2 if errors else 1
    n = len(images)
    vmax = vmax or float(np.nanmax([np.nanmax(g[np.isfinite(g)]) for g in gts]))
    fig, axes = plt.subplots(n * rows_per, cols, figsize=(2.3 * cols, 1.85 * n * rows_per), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        r = i * rows_per
        axes[r, 0].imshow(images[i])
        axes[r, 0].set_title("RGB" if i == 0 else "", fontsize=9)
        im = _depth_axes(axes[r, 1], gts[i], 0.0, vmax, "ground truth" if i == 0 else "")
        for j, name in enumerate(names):
            _depth_axes(axes[r, 2 + j], predictions[name][i], 0.0, vmax, name if i == 0 else "")
            if errors:
                err = np.abs(predictions[name][i] - gts[i])
                err[~(np.isfinite(gts[i]) & (gts[i] > 0))] = np.nan
                eim = axes[r + 1, 2 + j].imshow(np.ma.masked_invalid(err), cmap=ERROR_CMAP, vmin=0, vmax=vmax / 4)
                axes[r + 1, 2 + j].set_title(f"|error| {name}" if i == 0 else "", fontsize=8)
    fig.colorbar(im, ax=axes[:, 1:].ravel().tolist(), label="depth [m]", shrink=0.6, pad=0.01)
    if errors:
        fig.colorbar(eim, ax=axes[:, 1:].ravel().tolist(), label="|error| [m]", shrink=0.6, pad=0.01)
    return fig


def metric_bars(rows: Mapping[str, Mapping[str, float]], keys: Sequence[str]) -> Figure:
    """One bar chart per metric, one bar per model."""
    fig, axes = plt.subplots(1, len(keys), figsize=(2.6 * len(keys), 3), squeeze=False)
    names = list(rows)
    colours = plt.cm.tab10(np.arange(len(names)) % 10)
    for ax, key in zip(axes[0], keys, strict=True):
        values = [rows[n].get(key, np.nan) for n in names]
        ax.bar(range(len(names)), values, color=colours)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_title(key, fontsize=10)
    fig.tight_layout()
    return fig


def error_by_depth(table: Mapping[str, Sequence[float]], edges: Sequence[float], label: str = "AbsRel") -> Figure:
    """A metric per ground-truth depth range, one line per model."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    centres = [(a + b) / 2 for a, b in zip(edges[:-1], edges[1:], strict=True)]
    for name, values in table.items():
        ax.plot(centres, values, "o-", label=name)
    ax.set_xticks(centres, [f"{a:g}–{b:g}" for a, b in zip(edges[:-1], edges[1:], strict=True)], fontsize=8)
    ax.set(xlabel="ground-truth depth range [m]", ylabel=label)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def cutmix_figure(examples: Mapping[str, np.ndarray]) -> Figure:
    """The student's unlabeled inputs (like the paper's Fig. 5): clean, perturbed, CutMix, mask, targets.

    ``examples`` holds tensors/arrays ``clean``, ``perturbed``, ``mixed`` (B, 3, H, W), ``mask``
    (B, 1, H, W) and the teacher's ``pseudo`` / ``pseudo_mixed`` depth (B, 1, H, W).
    """
    ex = {k: np.asarray(v) for k, v in examples.items()}
    n = ex["clean"].shape[0]
    vmax = float(np.nanmax(ex["pseudo"]))
    titles = ("clean (teacher input)", "strongly perturbed", "CutMix (student input)", "mask M",
              "T(clean)", "target T(u_a)⊙M + T(u_b)⊙(1−M)")
    fig, axes = plt.subplots(n, 6, figsize=(14, 1.9 * n), squeeze=False)
    for i in range(n):
        for j, key in enumerate(("clean", "perturbed", "mixed")):
            axes[i, j].imshow(np.clip(ex[key][i].transpose(1, 2, 0), 0, 1))
        axes[i, 3].imshow(ex["mask"][i, 0], cmap="gray", vmin=0, vmax=1)
        im = _depth_axes(axes[i, 4], ex["pseudo"][i, 0], 0.0, vmax)
        _depth_axes(axes[i, 5], ex["pseudo_mixed"][i, 0], 0.0, vmax)
        for j in range(6):
            axes[i, j].axis("off")
            if i == 0:
                axes[i, j].set_title(titles[j], fontsize=8)
    fig.colorbar(im, ax=axes[:, 4:].ravel().tolist(), label="teacher depth [m]", shrink=0.7)
    return fig
