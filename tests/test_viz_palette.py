"""One colour per model across every figure (zoedam_lib.viz.palette): the same model, drawn by different figure
functions, in different orders and beside different other models, under any of its labels, keeps one colour;
two models never share one."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from zoedam_lib import viz  # noqa: E402
from zoedam_lib.evaluation.bootstrap import Interval  # noqa: E402
from zoedam_lib.evaluation.by_depth import abs_rel_by_depth  # noqa: E402
from zoedam_lib.experiments.results import LABELS  # noqa: E402
from zoedam_lib.viz.palette import ALIASES, MODEL_COLOURS, SPARE_COLOURS, model_colour, model_key  # noqa: E402

NOTE = "SynthRooms (test) · preset cpu"
RNG = np.random.default_rng(0)


def history():
    return {"steps": [[s, 1, 1.0 / s, 1e-3] for s in range(1, 9)], "step_logs": [{} for _ in range(8)],
            "epochs": [{"epoch": 1, "step": 8, "val_abs_rel": 0.2}]}


def rows():
    gt = RNG.uniform(2, 5, 6)
    return [{"gt_median": float(g), "pred_median": float(g * 1.1)} for g in gt]


def binned():
    gts = [np.full((48, 64), 3.0, np.float32)]
    return abs_rel_by_depth([g * 1.1 for g in gts], gts)


def colours_by_label(fig) -> dict[str, set[str]]:
    """label → the colours its artists have in ``fig`` (lines, scatters, bars by their tick labels)."""
    found: dict[str, set[str]] = {}
    for ax in fig.axes:
        for line in ax.lines:
            if not line.get_label().startswith("_"):
                found.setdefault(line.get_label(), set()).add(to_hex(line.get_color()))
        for coll in ax.collections:
            if not coll.get_label().startswith("_") and len(coll.get_facecolor()):
                found.setdefault(coll.get_label(), set()).add(to_hex(coll.get_facecolor()[0]))
        ticks = [t.get_text() for t in ax.get_xticklabels()]
        bars = [p for p in ax.patches if p.get_width() > 0]
        if bars and len(bars) == len(ticks):
            for tick, bar in zip(ticks, bars, strict=True):
                found.setdefault(tick, set()).add(to_hex(bar.get_facecolor()))
    plt.close(fig)
    return {k: v for k, v in found.items() if k in names_drawn()}


def names_drawn() -> tuple[str, ...]:
    return ("DenseDepth", "Average depth", "ZoeDAM-S", "ZoeDAM-S, random init", "ZoeDAM+",
            "ZoeDAM+ control (no unlabeled loss)")


def course_figures():
    """Every figure kind that draws a series per model, as the notebooks call them (orders and subsets differ)."""
    names = names_drawn()
    iv = Interval(0.2, 0.1, 0.3)
    return {
        "03 curves": viz.training_curves([viz.TrainingRun("DenseDepth", history(), {"eq. (1)": "loss"})], note=NOTE),
        "05 curves": viz.training_curves([viz.TrainingRun(n, history(), {"SILog": "loss"})
                                          for n in ("ZoeDAM-S", "ZoeDAM+", "ZoeDAM+ control (no unlabeled loss)")],
                                         note=NOTE),
        "06 curves": viz.training_curves([viz.TrainingRun(n, history(), {"SILog": "loss"}) for n in names[::-1]],
                                         note=NOTE),
        "06 bars": viz.metric_bars({n: {"abs_rel": iv} for n in names}, ["abs_rel"], note=NOTE),
        "bars, other order": viz.metric_bars({n: {"abs_rel": iv} for n in names[2:][::-1]}, ["abs_rel"], note=NOTE),
        "06 scatter": viz.median_scatter({n: {"test": rows()} for n in names}, note=NOTE),
        "scatter, one model": viz.median_scatter({"ZoeDAM+": {"test": rows()}}, note=NOTE),
        "06 error by depth": viz.error_by_depth({n: binned() for n in names[1:]}, note=NOTE),
    }


def test_no_model_gets_two_colours_across_figures_and_no_two_models_share_one():
    seen: dict[str, dict[str, set[str]]] = {}
    for figure, fig in course_figures().items():
        for label, colours in colours_by_label(fig).items():
            seen.setdefault(label, {})[figure] = colours
    assert set(seen) == set(names_drawn())
    for label, by_figure in seen.items():
        colours = set().union(*by_figure.values())
        assert colours == {to_hex(model_colour(label))}, f"{label} is drawn in {by_figure}"
    assert len({model_colour(label) for label in seen}) == len(seen)


@pytest.mark.parametrize("alias, key", [("from SynthDA", "zoedam_vits"), ("teacher", "zoedam_vits"),
                                        ("student", "zoedam_plus"), ("control", "zoedam_plus_control"),
                                        ("from random weights", "zoedam_vits_random"),
                                        ("average depth (ours)", "average"), ("DenseDepth (ours)", "densedepth"),
                                        ("camera-blind", "zoedam_vits_blind"), ("camera-aware", "zoedam_vits")])
def test_the_labels_notebooks_use_name_the_model_they_draw(alias, key):
    assert model_key(alias) == key and model_colour(alias) == MODEL_COLOURS[key]


def test_every_results_label_and_alias_has_its_model_colour_and_colours_are_distinct():
    for key, label in LABELS.items():
        assert model_key(key) == key and model_key(label) == key, (key, label)
    assert set(ALIASES.values()) <= set(MODEL_COLOURS)
    everything = [*MODEL_COLOURS.values(), *SPARE_COLOURS]
    assert len({c.lower() for c in everything}) == len(everything)


def test_an_unknown_model_keeps_one_spare_colour():
    assert model_key("my variant") is None
    assert model_colour("my variant") == model_colour("my variant") in SPARE_COLOURS
