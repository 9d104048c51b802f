"""Training curves: one panel per loss kind, validation per epoch, every run on its own step axis.

Losses of different kinds do not share an axis: ZoeDAM's SILog (paper §3.2), DenseDepth's eq. (1)
loss and the ZoeDAM+ student's unlabeled affine-invariant term (§3.3) each get a panel; the
student's labeled term is SILog again and shares the teacher's panel. Every run is drawn from its
own step 0: the ZoeDAM+ student (``student_init="pretrained"``, the course default) starts from
SynthDA as its teacher did, so teacher and student are two trainings over the same labeled steps,
compared side by side. Only a run that really continues another (``after``: a student that starts
as a copy of the teacher) is drawn from where that one ended, on cumulative steps. The per-step
terms come from ``history.json``'s ``step_logs`` (the loss function's logs, one dict per step,
aligned with ``steps``); histories written before it existed only have the total loss. Each run
keeps its model's colour (:mod:`.palette`); one legend sits above the panels.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from zoedam_lib.viz.figures import legend_outside, metric_label, new_figure
from zoedam_lib.viz.palette import model_colour

TOTAL = "loss"  # in TrainingRun.losses: the trainer's total loss (history "steps" column 2)


@dataclass(frozen=True)
class TrainingRun:
    """One model's training log as the curves figure draws it."""

    label: str  # legend entry, e.g. "ZoeDAM-S"
    history: Mapping[str, Any]  # the run's history.json: "steps", "epochs", "step_logs"
    losses: Mapping[str, str]  # panel title (the loss kind) → "loss" (the total) or a key of the step logs
    after: str | None = None  # label of the run this one continues (starts from its weights): counts on from its end


def training_curves(runs: Sequence[TrainingRun], *, note: str, val_key: str = "val_abs_rel") -> Figure:
    """Loss panels over each run's steps (raw per step, faint; running mean, solid), and a validation panel.

    The validation panel shows ``val_key`` per epoch, measured on the validation split carved from
    the training images (never the test split), with integer epoch ticks. Steps count from each
    run's own start, except for a run that continues another (``after``), which counts on from it.
    """
    offsets = _offsets(runs)
    panels = list(dict.fromkeys(title for run in runs for title in run.losses))
    has_val = any(val_key in row for run in runs for row in run.history.get("epochs", []))
    n = len(panels) + has_val
    if n == 0:
        raise ValueError("nothing to draw: give at least one TrainingRun with a loss")
    fig = new_figure(note, (3.8 * n, 3.6))
    axes = fig.subplots(1, n, squeeze=False)[0]
    colours = {run.label: model_colour(run.label) for run in runs}
    for ax, title in zip(axes, panels, strict=False):
        drawn = [run for run in runs if title in run.losses]
        for run in drawn:
            _loss_line(ax, run, run.losses[title], offsets[run.label][0], colours[run.label])
        ax.set_title("\n".join(textwrap.wrap(title, 34)), fontsize=9)
        ax.set(xlabel=_x_label("training step", drawn), ylabel="loss [no unit]")
        _handover_marks(ax, drawn, offsets, step=True)
    if has_val:
        ax = axes[-1]
        drawn = [run for run in runs if any(val_key in row for row in run.history.get("epochs", []))]
        for run in drawn:
            rows = [row for row in run.history["epochs"] if val_key in row]
            ax.plot([row["epoch"] + offsets[run.label][1] for row in rows], [row[val_key] for row in rows],
                    "o-", color=colours[run.label], label=run.label)
        label = metric_label(val_key)
        ax.set_title(f"validation {label.split(' [')[0]}\n(validation split, carved from training)", fontsize=9)
        ax.set(xlabel=_x_label("epoch", drawn), ylabel=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _handover_marks(ax, drawn, offsets, step=False)
    legend_outside(fig, axes)
    return fig


def _x_label(unit: str, runs: Sequence[TrainingRun]) -> str:
    """Each run's own steps, or cumulative ones when a run of the panel continues another."""
    continuing = [run for run in runs if run.after]
    if not continuing:
        return f"{unit} (each run from its own start)"
    return f"{unit} (cumulative: {continuing[0].label} continues {continuing[0].after})"


def _offsets(runs: Sequence[TrainingRun]) -> dict[str, tuple[int, int]]:
    """(step, epoch) at which each run starts: 0 for a first run, the end of ``after`` for one that continues."""
    by_label = {run.label: run for run in runs}
    offsets: dict[str, tuple[int, int]] = {}

    def start(run: TrainingRun, seen: tuple[str, ...]) -> tuple[int, int]:
        if run.label in offsets:
            return offsets[run.label]
        if run.after is None:
            offsets[run.label] = (0, 0)
        elif run.after not in by_label or run.after in seen:
            raise ValueError(f"run {run.label!r} continues {run.after!r}, which is not one of the runs "
                             f"{sorted(by_label)} (or they continue each other in a circle)")
        else:
            prev = by_label[run.after]
            step, epoch = start(prev, (*seen, run.label))
            steps, epochs = prev.history.get("steps", []), prev.history.get("epochs", [])
            offsets[run.label] = (step + int(steps[-1][0] if steps else 0),
                                  epoch + int(epochs[-1]["epoch"] if epochs else 0))
        return offsets[run.label]

    for run in runs:
        start(run, ())
    return offsets


def _loss_line(ax: Axes, run: TrainingRun, key: str, offset: int, colour: str) -> None:
    steps = np.asarray(run.history.get("steps", []), dtype=float).reshape(-1, 4)
    if key == TOTAL:
        values = steps[:, 2]
    else:
        logs = run.history.get("step_logs") or []
        values = np.array([float(row.get(key, np.nan)) for row in logs]) if len(logs) == len(steps) else \
            np.full(len(steps), np.nan)
    if not np.isfinite(values).any():
        logged = bool(run.history.get("step_logs")) and any(run.history["step_logs"])
        why = "no such loss term" if logged else "history.json older than per-step logs"
        # said in the legend (an entry without a line), which matplotlib places clear of the curves
        ax.plot([], [], ls="none", label=f"{run.label}: {why}")
        return
    x = steps[:, 0] + offset
    ax.plot(x, values, lw=0.6, alpha=0.3, color=colour)
    ax.plot(x, running_mean(values, max(1, len(values) // 20)), lw=1.5, color=colour, label=run.label)


def running_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running mean over ``window`` steps, ignoring non-finite (skipped) steps."""
    ok = np.isfinite(values)
    kernel = np.ones(window)
    total = np.convolve(np.where(ok, values, 0.0), kernel, mode="same")
    count = np.convolve(ok.astype(float), kernel, mode="same")
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _handover_marks(ax: Axes, runs: Sequence[TrainingRun], offsets: Mapping[str, tuple[int, int]],
                    step: bool) -> None:
    """A dotted line where a continuing run of this panel (the ZoeDAM+ student) takes over."""
    for run in runs:
        if run.after is not None:
            ax.axvline(offsets[run.label][0] if step else offsets[run.label][1] + 0.5, ls=":", lw=1, color="0.5")
