"""What every figure shares: the data note, display with that note as metadata, saving, colour scales.

Every figure of the course says which data and recipe produced it (``note``, e.g.
``RunContext.note()``), drawn under the figure, so a SynthRooms figure copied out of a notebook
cannot pass for NYU. :func:`show` also attaches the note to the notebook output's metadata,
which ``tests/test_notebooks.py`` checks on every committed image.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from zoedam_lib.evaluation.metrics import METRIC_NAMES
from zoedam_lib.utils.atomic import atomic_path

DEPTH_CMAP = "turbo"  # depth in metres, everywhere (the app's colour bar uses it too)
ERROR_CMAP = "magma"  # |prediction − ground truth| in metres
NOTE_GID = "zoedam-note"  # the gid of the note's text artist, how show() finds it
METADATA_KEY = "zoedam"  # the notebook output metadata key: {"zoedam": {"note": ...}}
# the unit of each metric on an axis (paper §4.2's metrics; 02 defines them): metres, or none (ratios, shares)
METRIC_UNITS = {"abs_rel": "no unit", "sq_rel": "m", "rmse": "m", "rmse_log": "log ratio", "log_10": "decades",
                "silog": "100 × log ratio", "a1": "share of pixels", "a2": "share of pixels", "a3": "share of pixels"}


def new_figure(note: str, figsize: tuple[float, float]) -> Figure:
    """A pyplot figure with constrained layout (colour bars and the note get their own room) and the note."""
    fig = plt.figure(figsize=figsize, layout="constrained")
    add_note(fig, note)
    return fig


def add_note(fig: Figure, note: str) -> None:
    """Draw ``note`` as a small grey line at the bottom of ``fig`` (constrained layout keeps room for it)."""
    if not isinstance(note, str) or not note.strip():
        raise ValueError("every figure needs note= saying which data and preset it shows, e.g. "
                         "note=ctx.note() → 'SynthRooms (600 images, 240x320, seed 0) · preset cpu'")
    fig.supxlabel(note, fontsize=7, color="0.35", gid=NOTE_GID)


def figure_note(fig: Figure) -> str:
    """The note drawn on ``fig`` by :func:`add_note`."""
    for text in fig.texts:
        if text.get_gid() == NOTE_GID:
            return text.get_text()
    raise ValueError("this figure has no data note: build it with a zoedam_lib.viz function, or call "
                     "zoedam_lib.viz.add_note(fig, ctx.note()) first")


def metric_label(key: str) -> str:
    """An axis label naming the metric and its unit, e.g. "RMSE ↓ [m]" or "AbsRel ↓ [no unit]"."""
    name = METRIC_NAMES.get(key.removeprefix("val_"), key)
    unit = METRIC_UNITS.get(key.removeprefix("val_"))
    return f"{name} [{unit}]" if unit else name


def legend_outside(fig: Figure, axes: Iterable[Axes], ncols: int = 4) -> None:
    """One legend for ``axes``, above them, outside every panel (a legend inside a panel covers data;
    below the panels it would meet the data note).

    Entries are deduplicated by label, in the order the axes draw them; nothing is drawn when
    there are none (an empty legend warns into the notebook).
    """
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    if entries:
        fig.legend(list(entries.values()), list(entries), loc="outside upper center", fontsize=7, frameon=False,
                   ncols=min(ncols, len(entries)))


def show(fig: Figure) -> None:
    """Display ``fig`` in a notebook with output metadata ``{"zoedam": {"note": <its note>}}``, then close it.

    Closing stops the inline backend from showing the figure a second time at the end of the
    cell (and frees it: notebooks make dozens of figures).
    """
    from IPython.display import display

    display(fig, metadata={METADATA_KEY: {"note": figure_note(fig)}})
    plt.close(fig)


def save_figure(fig: Figure, path: str | os.PathLike) -> Path:
    """Save a figure as PNG atomically (a crash never leaves half a PNG)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    return path


@dataclass(frozen=True)
class Scale:
    """One colour scale for a whole figure: every image of the kind uses it, one colour bar shows it."""

    vmin: float
    vmax: float
    extend: str  # "max" when some shown value exceeds vmax (clipped), else "neither"

    @classmethod
    def covering(cls, arrays: Iterable[np.ndarray], vmax: float | None = None, percentile: float = 100.0) -> Scale:
        """From 0 to ``vmax`` (default: the ``percentile`` of all finite values); ``extend`` says if any are clipped."""
        values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise ValueError("nothing to colour: every value is NaN or infinite")
        top = float(np.percentile(values, percentile)) if vmax is None else float(vmax)
        top = top if top > 0 else 1.0
        return cls(0.0, top, "max" if values.max() > top else "neither")

    @classmethod
    def spanning(cls, arrays: Iterable[np.ndarray]) -> Scale:
        """From the smallest to the largest finite value: one map's own range (nothing clipped).

        For a single smooth map (notebook 02's average depth, 1–6 m): a scale from 0 would spend
        the colours below its nearest pixel on nothing.
        """
        values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise ValueError("nothing to colour: every value is NaN or infinite")
        low, high = float(values.min()), float(values.max())
        return cls(low, high if high > low else low + 1.0, "neither")

    def image(self, ax: Axes, data: np.ndarray, cmap: str, title: str = "") -> AxesImage:
        """``data`` drawn on ``ax`` under this scale (NaN transparent), without ticks."""
        im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=self.vmin, vmax=self.vmax)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        return im

    def colorbar(self, fig: Figure, image: AxesImage, cax: Axes, label: str) -> None:
        """The scale's colour bar in its own axis ``cax`` (never stealing room from, or covering, a panel)."""
        fig.colorbar(image, cax=cax, label=label, extend=self.extend)


def rgb_panel(ax: Axes, image: np.ndarray, title: str = "") -> None:
    """An RGB image (uint8, or floats in [0, 1]) without ticks."""
    image = np.asarray(image)
    ax.imshow(image if image.dtype == np.uint8 else np.clip(image, 0, 1))
    ax.set_title(title, fontsize=9)
    ax.axis("off")
