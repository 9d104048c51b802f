"""The course's figures: the data note on every one, one colour scale per kind, colour bars that cover no panel,
training curves that continue teacher → student, AbsRel by depth averaged per image, tables with intervals."""

from __future__ import annotations

import inspect
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

from zoedam_lib import viz  # noqa: E402
from zoedam_lib.evaluation.bootstrap import Interval, bootstrap_mean  # noqa: E402
from zoedam_lib.evaluation.by_depth import abs_rel_by_depth  # noqa: E402
from zoedam_lib.evaluation.metrics import compute_metrics, eigen_crop_mask  # noqa: E402
from zoedam_lib.reports.tables import interval_table, paired_table, scale_table  # noqa: E402
from zoedam_lib.viz.predictions import ERROR_MAX  # noqa: E402

NOTE = "SynthRooms (600 images, 240x320, seed 0) · preset cpu"
RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def drawn(fig):
    fig.canvas.draw()  # constrained layout places the axes at draw time
    return fig


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def colorbars(fig):
    return list({id(im.colorbar): im.colorbar for ax in fig.axes for im in ax.images if im.colorbar}.values())


def overlap(a: Bbox, b: Bbox) -> float:
    inter = Bbox.intersection(a, b)
    return 0.0 if inter is None else inter.width * inter.height


def assert_bars_cover_no_panel(fig):
    bars = colorbars(fig)
    assert bars, "no colour bar"
    for bar in bars:
        for ax in image_axes(fig):
            assert overlap(bar.ax.get_position(), ax.get_position()) == 0, (bar.ax.get_ylabel(), ax.get_title())


def assert_noted(fig):
    notes = [t for t in fig.texts if t.get_text() == NOTE]
    assert len(notes) == 1 and notes[0].get_visible()
    x, y = notes[0].get_position()
    assert 0 <= x <= 1 and 0 <= y <= 1  # on the figure, not outside it


def rgb(h=24, w=32):
    return RNG.integers(0, 255, (h, w, 3), dtype=np.uint8)


def depth(h=24, w=32, top=5.0):
    return RNG.uniform(0.5, top, (h, w)).astype(np.float32)


# --------------------------------------------------------------------------- every figure function


def figures():
    """One call of every figure function on synthetic data."""
    hist = {"steps": [[1, 1, 0.9, 1e-3], [2, 1, 0.8, 1e-3]], "epochs": [{"epoch": 1, "val_abs_rel": 0.3}]}
    rows = [{"index": i, "gt_median": 2.0 + i, "pred_median": 2.1 + i} for i in range(4)]
    ex = {"clean": RNG.random((2, 3, 16, 16)), "perturbed": RNG.random((2, 3, 16, 16)),
          "mixed": RNG.random((2, 3, 16, 16)), "mask": RNG.random((2, 1, 16, 16)) > 0.5,
          "pseudo": RNG.uniform(1, 4, (2, 1, 16, 16)), "pseudo_mixed": RNG.uniform(1, 6, (2, 1, 16, 16))}
    gts = [depth() for _ in range(2)]
    return {
        "sample_grid": lambda: viz.sample_grid([rgb(), rgb()], gts, note=NOTE),
        "depth_histograms": lambda: viz.depth_histograms({"train": gts[0], "test": gts[1]}, note=NOTE),
        "image_row": lambda: viz.image_row([("rgb", rgb()), ("depth", gts[0])], note=NOTE),
        "depth_map": lambda: viz.depth_map(gts[0], "mean", note=NOTE),
        "relative_figure": lambda: viz.relative_figure([1 / g for g in gts], gts, gts, note=NOTE),
        "cutmix_figure": lambda: viz.cutmix_figure(ex, note=NOTE),
        "prediction_grid": lambda: viz.prediction_grid([rgb(), rgb()], gts, {"A": [g * 1.1 for g in gts]}, note=NOTE),
        "training_curves": lambda: viz.training_curves([viz.TrainingRun("A", hist, {"SILog": "loss"})], note=NOTE),
        "error_by_depth": lambda: viz.error_by_depth({"A": abs_rel_by_depth([g * 1.1 for g in gts], gts)}, note=NOTE),
        "median_scatter": lambda: viz.median_scatter({"A": {"test": rows}}, note=NOTE),
        "metric_bars": lambda: viz.metric_bars({"A": {"abs_rel": Interval(0.2, 0.1, 0.3)}}, ["abs_rel"], note=NOTE),
    }


@pytest.mark.parametrize("name", list(figures()))
def test_every_figure_renders_with_its_note_drawn_on_it(name):
    fig = drawn(figures()[name]())
    assert_noted(fig)
    assert viz.figure_note(fig) == NOTE


def test_every_figure_function_requires_a_note():
    for name in figures():
        param = inspect.signature(getattr(viz, name)).parameters["note"]
        assert param.kind is param.KEYWORD_ONLY and param.default is param.empty, name
    with pytest.raises(ValueError, match="note"):
        viz.depth_map(depth(), "x", note=" ")


def test_show_attaches_the_note_as_output_metadata_and_closes_the_figure(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))
    fig = viz.depth_map(depth(), "x", note=NOTE)
    viz.show(fig)
    assert shown == [(fig, {"metadata": {"zoedam": {"note": NOTE}}})]
    assert not plt.fignum_exists(fig.number)
    bare = plt.figure()
    with pytest.raises(ValueError, match="no data note"):
        viz.show(bare)


def test_save_figure_writes_a_png(tmp_path):
    path = viz.save_figure(viz.depth_map(depth(), "x", note=NOTE), tmp_path / "sub" / "map.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- colour scales and bars


def test_sample_grid_one_depth_scale_and_a_bar_beside_the_panels():
    fig = drawn(viz.sample_grid([rgb(), rgb(), rgb()], [depth(top=2), depth(top=4), depth(top=8)], note=NOTE))
    depth_images = [im for ax in fig.axes for im in ax.images if im.get_array().ndim == 2]
    assert len(depth_images) == 3 and len({im.get_clim() for im in depth_images}) == 1
    assert depth_images[0].get_clim()[1] > 7  # the scale covers the deepest map, not the first
    assert len(colorbars(fig)) == 1
    assert_bars_cover_no_panel(fig)


def test_image_row_shares_one_scale_between_its_depth_maps():
    fig = drawn(viz.image_row([("rgb", rgb()), ("near", depth(top=2)), ("far", depth(top=9))], note=NOTE))
    clims = {im.get_clim() for ax in fig.axes for im in ax.images if im.get_array().ndim == 2}
    assert len(clims) == 1 and len(colorbars(fig)) == 1
    assert_bars_cover_no_panel(fig)


def test_relative_figure_draws_disparity_on_its_own_scale_and_colour_map():
    """Notebook 04's triplets: a disparity map (no unit, values near 0.1-1) drawn on the depth scale would be a
    uniform dark patch; each must be divided by its own maximum, in another colour map, with its own bar."""
    gts = [depth(top=t) for t in (3, 6, 9)]
    disparity = [5.0 / g for g in gts]  # arbitrary units, each image's range its own
    fig = drawn(viz.relative_figure(disparity, [g * 1.1 for g in gts], gts, note=NOTE))
    images = [im for ax in fig.axes for im in ax.images]
    disp = [im for im in images if im.get_cmap().name != viz.DEPTH_CMAP]
    metric = [im for im in images if im.get_cmap().name == viz.DEPTH_CMAP]
    assert len(disp) == 3 and len(metric) == 6
    assert {im.get_clim() for im in disp} == {(0.0, 1.0)} and len({im.get_clim() for im in metric}) == 1
    assert all(np.nanmax(im.get_array()) == pytest.approx(1.0) for im in disp)  # each map's own maximum
    assert sorted(bar.ax.get_ylabel() for bar in colorbars(fig)) == ["depth [m]", "disparity ÷ its image's max"]
    assert_bars_cover_no_panel(fig)


def test_cutmix_figure_targets_share_the_teacher_depth_scale():
    fig = drawn(figures()["cutmix_figure"]())
    scaled = [im for ax in fig.axes for im in ax.images if im.get_cmap().name == viz.DEPTH_CMAP]
    assert len(scaled) == 4 and len({im.get_clim() for im in scaled}) == 1
    assert_bars_cover_no_panel(fig)


def test_prediction_grid_layout_scales_and_bars():
    gts = [depth(top=t) for t in (3, 6, 9)]
    preds = {"A": [g * 1.05 for g in gts], "B": [g + 0.2 for g in gts]}
    preds["B"][1][:4, :4] = 40.0  # a far-off prediction: clipped on both scales
    fig = drawn(viz.prediction_grid([rgb(), rgb(), rgb()], gts, preds, note=NOTE))
    depth_images = [im for ax in fig.axes for im in ax.images if im.get_cmap().name == viz.DEPTH_CMAP]
    error_images = [im for ax in fig.axes for im in ax.images if im.get_cmap().name == viz.ERROR_CMAP]
    assert len(depth_images) == 3 * 3 and len(error_images) == 3 * 2  # no error cells under RGB / ground truth
    # ... but each example's numbers there: its true median, and each model's AbsRel on it (A is 5 % too far)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("true median" in t for t in texts) == 3
    scores = [t for t in texts if t.startswith("AbsRel, this image")]
    assert len(scores) == 3 and all("A: 0.050" in t for t in scores)
    assert len({im.get_clim() for im in depth_images}) == 1 and len({im.get_clim() for im in error_images}) == 1
    bars = {bar.ax.get_ylabel(): bar for bar in colorbars(fig)}
    assert set(bars) == {"depth [m]", "|error| [m]"}
    assert bars["|error| [m]"].extend == "max" and bars["depth [m]"].extend == "max"
    assert_bars_cover_no_panel(fig)
    # each error map sits right under its model's prediction, in the same column
    for im in error_images:
        spec = im.axes.get_subplotspec()
        above = [ax for ax in fig.axes if ax.get_subplotspec() is not None and ax.images
                 and ax.get_subplotspec().rowspan.start == spec.rowspan.start - 1
                 and ax.get_subplotspec().colspan == spec.colspan]
        assert len(above) == 1 and above[0].images[0].get_cmap().name == viz.DEPTH_CMAP
        assert above[0].get_position().x0 == pytest.approx(im.axes.get_position().x0, abs=1e-3)


def test_prediction_grid_uses_the_course_error_scale_whatever_the_errors():
    gts = [depth(top=3)]
    for offset in (0.1, 5.0):
        fig = viz.prediction_grid([rgb()], gts, {"A": [gts[0] + offset]}, note=NOTE)
        errors = [im for ax in fig.axes for im in ax.images if im.get_cmap().name == viz.ERROR_CMAP]
        assert errors[0].get_clim() == (0.0, ERROR_MAX)


def test_depth_map_colour_bar_spans_the_map_and_fixes_a_scale_on_request():
    smooth = np.linspace(1.5, 6.0, 48 * 64).reshape(48, 64)
    fig = drawn(viz.depth_map(smooth, "mean", note=NOTE))
    assert fig.axes[0].images[0].get_clim() == pytest.approx((1.5, 6.0))
    assert viz.depth_map(smooth, "mean", note=NOTE, vmax=10).axes[0].images[0].get_clim() == (0.0, 10.0)


def test_prediction_grid_error_bar_is_not_extended_when_nothing_is_clipped():
    gts = [depth(top=3)]
    fig = viz.prediction_grid([rgb()], gts, {"A": [gts[0] + 0.5]}, note=NOTE, error_max=1.0)
    bars = {bar.ax.get_ylabel(): bar for bar in colorbars(fig)}
    assert bars["|error| [m]"].extend == "neither"


# --------------------------------------------------------------------------- training curves


def history(n_epochs, steps_per_epoch, logs=True, start_loss=1.0):
    steps, step_logs, epochs = [], [], []
    for e in range(1, n_epochs + 1):
        for s in range(steps_per_epoch):
            g = (e - 1) * steps_per_epoch + s + 1
            steps.append([g, e, start_loss / g, 1e-3])
            step_logs.append({"loss_labeled": 0.5 / g, "loss_unlabeled": 0.2 / g} if logs else {})
        epochs.append({"epoch": e, "step": e * steps_per_epoch, "val_abs_rel": 0.3 / e})
    return {"epochs": epochs, "steps": steps, "step_logs": step_logs}


def panel(fig, title_start):
    return next(ax for ax in fig.axes if ax.get_title().startswith(title_start))


def test_training_curves_panels_per_loss_kind_and_the_student_continues_the_teacher():
    runs = [viz.TrainingRun("DenseDepth", history(2, 5, logs=False), {"eq. (1)": "loss"}),
            viz.TrainingRun("ZoeDAM-S", history(3, 4, logs=False), {"SILog": "loss"}),
            viz.TrainingRun("ZoeDAM+", history(2, 4), {"SILog": "loss_labeled", "unlabeled": "loss_unlabeled"},
                            after="ZoeDAM-S")]
    fig = drawn(viz.training_curves(runs, note=NOTE))
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["eq. (1)", "SILog", "unlabeled",
                                                                  "validation AbsRel ↓"]
    silog = panel(fig, "SILog")
    solid = {line.get_label(): line for line in silog.lines if not line.get_label().startswith("_")}
    teacher_x, student_x = solid["ZoeDAM-S"].get_xdata(), solid["ZoeDAM+"].get_xdata()
    assert teacher_x.max() == 12 and student_x.min() == 13 and student_x.max() == 20
    # the student's labeled term is drawn, not its total
    assert np.nanmax(solid["ZoeDAM+"].get_ydata()) == pytest.approx(0.5)  # the total starts at 1.0
    unlabeled = panel(fig, "unlabeled")
    assert [ln.get_label() for ln in unlabeled.lines if not ln.get_label().startswith("_")] == ["ZoeDAM+"]
    val = panel(fig, "validation")
    by_label = {ln.get_label(): ln for ln in val.lines if not ln.get_label().startswith("_")}
    assert list(by_label["ZoeDAM+"].get_xdata()) == [4, 5]  # epochs continue after the teacher's 3
    ticks = [t for t in val.get_xticks() if val.get_xlim()[0] <= t <= val.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert "validation split" in val.get_title()


def test_training_curves_read_histories_written_before_step_logs():
    old = history(1, 4)
    del old["step_logs"]
    fig = drawn(viz.training_curves([viz.TrainingRun("ZoeDAM+", old, {"unlabeled": "loss_unlabeled"})], note=NOTE))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["ZoeDAM+: history.json older than per-step logs", "ZoeDAM+"]  # in the legend, not on the curves
    assert not fig.axes[0].texts and fig.axes[0].get_legend() is None  # the legend is below the panels


def test_training_curves_draw_each_run_from_its_own_first_step():
    """The default ZoeDAM+ student starts from SynthDA as its teacher did: both curves start at step 1."""
    runs = [viz.TrainingRun("ZoeDAM-S", history(3, 4, logs=False), {"SILog": "loss"}),
            viz.TrainingRun("ZoeDAM+", history(3, 4), {"SILog": "loss_labeled", "unlabeled": "loss_unlabeled"})]
    fig = drawn(viz.training_curves(runs, note=NOTE))
    silog = panel(fig, "SILog")
    solid = {line.get_label(): line for line in silog.lines if not line.get_label().startswith("_")}
    assert solid["ZoeDAM-S"].get_xdata().min() == solid["ZoeDAM+"].get_xdata().min() == 1
    assert not [ln for ln in silog.lines if ln.get_linestyle() == ":"]  # no hand-over mark
    assert "own start" in silog.get_xlabel() and "no unit" in silog.get_ylabel()
    assert "[no unit]" in panel(fig, "validation").get_ylabel()
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1


def test_training_runs_continue_the_teacher_only_for_a_student_copied_from_it(tmp_path):
    from zoedam_lib.reports.figures import training_runs

    (tmp_path / "h.json").write_text(json.dumps(history(1, 2)))
    records = {"zoedam_vits": {"history": "h.json"},
               "zoedam_plus": {"history": "h.json", "teacher": "runs/demo/checkpoints/zoedam_vits",
                               "recipe": {"options": {"student_init": "pretrained"}}}}
    assert [r.after for r in training_runs(tmp_path, records)] == [None, None]
    records["zoedam_plus"]["recipe"]["options"]["student_init"] = "teacher"
    assert [r.after for r in training_runs(tmp_path, records)] == [None, "ZoeDAM-S"]


def test_training_curves_refuse_a_run_that_continues_an_unknown_one():
    with pytest.raises(ValueError, match="continues 'teacher'"):
        viz.training_curves([viz.TrainingRun("student", history(1, 2), {"x": "loss"}, after="teacher")], note=NOTE)


# --------------------------------------------------------------------------- AbsRel by depth


def two_images():
    """Image 1: every valid pixel at 1.5 m, AbsRel 0.1. Image 2: four pixels at 1.5 m with AbsRel 0.5, the rest
    at 5 m predicted exactly. Per image, the 1–2 m range averages (0.1 + 0.5) / 2 = 0.3; pooled pixels ≈ 0.1."""
    h, w = 48, 64
    crop = eigen_crop_mask(h, w)
    gt1, pred1 = np.full((h, w), 1.5, np.float32), np.full((h, w), 1.65, np.float32)
    gt2, pred2 = np.full((h, w), 5.0, np.float32), np.full((h, w), 5.0, np.float32)
    gt2[20:22, 30:32], pred2[20:22, 30:32] = 1.5, 2.25
    return [pred1, pred2], [gt1, gt2], crop


def test_abs_rel_by_depth_averages_per_image_not_per_pixel():
    preds, gts, crop = two_images()
    binned = abs_rel_by_depth(preds, gts, (0.0, 1.0, 2.0, 4.0, 6.0))
    assert binned.abs_rel[1] == pytest.approx(0.3, abs=1e-5)
    pooled = (crop.sum() * 0.1 + 4 * 0.5) / (crop.sum() + 4)
    assert abs(binned.abs_rel[1] - pooled) > 0.15
    assert np.isnan(binned.abs_rel[0]) and np.isnan(binned.abs_rel[2])  # no image has pixels there: NaN, not 0
    assert binned.abs_rel[3] == pytest.approx(0.0, abs=1e-6)
    assert binned.n_images == (0, 2, 0, 1) and binned.n_pixels == (0, crop.sum() + 4, 0, crop.sum() - 4)
    # an image with one depth range: the range's AbsRel is the image's AbsRel under the metric protocol
    one = abs_rel_by_depth(preds[:1], gts[:1]).abs_rel[1]
    assert one == pytest.approx(compute_metrics(preds[0], gts[0])["abs_rel"])


def test_error_by_depth_shows_pixel_counts_and_images_per_range():
    preds, gts, crop = two_images()
    edges = (0.0, 1.0, 2.0, 4.0, 6.0)
    binned = {"A": abs_rel_by_depth(preds, gts, edges), "B": abs_rel_by_depth([p * 1.2 for p in preds], gts, edges)}
    fig = drawn(viz.error_by_depth(binned, note=NOTE))
    main, counts = fig.axes[0], fig.axes[1]
    assert [round(p.get_height()) for p in counts.patches] == list(binned["A"].n_pixels)
    labels = [t.get_text() for t in main.get_xticklabels()]
    assert labels[1] == "1–2\n(2 img)" and labels[3] == "4–6\n(1 img)"
    assert [ln.get_label() for ln in main.lines] == ["A", "B"]
    with pytest.raises(ValueError, match="different ground truth"):
        viz.error_by_depth({"A": binned["A"], "C": abs_rel_by_depth(preds[:1], gts[:1], edges)}, note=NOTE)


# --------------------------------------------------------------------------- tables, scale, bars


def rows(values, key="abs_rel", **extra):
    return [{"index": i, key: float(v), **{k: float(e[i]) for k, e in extra.items()}} for i, v in enumerate(values)]


def test_interval_table_one_row_per_metric_with_its_interval():
    a = RNG.uniform(0.1, 0.3, 60)
    text = interval_table({"A": rows(a), "B": rows(a + 0.1)}, keys=("abs_rel",), n_boot=500)
    line = next(ln for ln in text.splitlines() if ln.startswith("| AbsRel ↓ |"))
    expected = bootstrap_mean(a, 500, 0)
    assert f"{expected.mean:.3f} [{expected.low:.3f}, {expected.high:.3f}]" in line
    cells = re.findall(r"(\d\.\d{3}) \[(\d\.\d{3}), (\d\.\d{3})\]", line)
    assert len(cells) == 2 and all(float(lo) < float(m) < float(hi) for m, lo, hi in cells)
    assert "| metric | A (60 images) | B (60 images) |" in text and "bootstrap" in text


def test_paired_table_says_whether_the_data_support_a_difference():
    hard = RNG.uniform(0.05, 0.6, 120)
    better, same = rows(hard - 0.04 + RNG.normal(0, 0.003, 120)), rows(hard + RNG.normal(0, 0.003, 120))
    text = paired_table(better, rows(hard), ("A", "B"), keys=("abs_rel",), n_boot=500)
    assert re.search(r"\| AbsRel ↓ \| −0\.04\d \[−0\.0\d\d, −0\.0\d\d\] \(supported\) \|", text), text
    assert "| metric | A − B |" in text
    text = paired_table(same, rows(hard), ("A", "B"), keys=("abs_rel",), n_boot=500)
    assert "(not supported: interval contains 0)" in text


def test_scale_table_separates_scale_from_structure():
    gt = RNG.uniform(2, 5, 40)
    model = rows(RNG.uniform(0.25, 0.35, 40), med_abs_rel=RNG.uniform(0.05, 0.08, 40), a1=RNG.uniform(0.3, 0.5, 40),
                 med_a1=RNG.uniform(0.9, 1.0, 40), pred_median=1.3 * gt, gt_median=gt)
    text = scale_table({"ZoeDAM-S": {"zeroshot_wide": model}}, n_boot=300)
    head, _, row = text.splitlines()[:3]
    assert head == ("| model | eval set | AbsRel ↓ | AbsRel ↓, median-scaled | δ1 ↑ | δ1 ↑, median-scaled "
                    "| predicted / true median depth |")
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[:2] == ["ZoeDAM-S", "zeroshot_wide (40 images)"]
    assert cells[2].startswith("0.") and cells[3].startswith("0.0")  # raw AbsRel ≈ 0.3, median-scaled ≈ 0.065
    assert cells[-1] == "1.300 [1.300, 1.300]"


def test_median_scatter_has_a_panel_per_set_with_the_identity_line_and_a_series_per_model():
    r = rows(np.zeros(5), pred_median=np.linspace(2, 4, 5), gt_median=np.linspace(1.5, 3, 5))
    fig = drawn(viz.median_scatter({"A": {"test": r, "wide": r}, "B": {"test": r}}, note=NOTE))
    # a panel per model (rows) and set (columns): no model's points hide another's
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == ["test", "wide", "test", "wide"]
    assert fig.axes[0].get_title().endswith("median 1.33")  # pred / true = 2 / 1.5 on every image
    assert [len(ax.collections) - 1 for ax in fig.axes] == [1, 1, 1, 0]  # scatters besides the ×1.25 band
    assert [t.get_text() for t in fig.axes[3].texts] == ["not evaluated"]
    assert fig.axes[0].get_ylabel().startswith("A\n") and "[m]" in fig.axes[2].get_xlabel()
    for ax in fig.axes:
        identity = [ln for ln in ax.lines if ln.get_label().startswith("y = x")]
        assert len(identity) == 1 and np.array_equal(identity[0].get_xdata(), identity[0].get_ydata())
        assert ax.get_xlim() == ax.get_ylim()
    assert [t.get_text() for t in fig.legends[0].get_texts()][-2:] == ["A", "B"]


def test_metric_bars_draw_the_intervals_as_error_bars():
    ivs = {"A": {"abs_rel": Interval(0.2, 0.15, 0.26), "a1": Interval(0.7, 0.6, 0.75), "rmse": Interval(1, 0.9, 1.1)},
           "B": {"abs_rel": Interval(0.3, 0.28, 0.33), "a1": Interval(0.5, 0.4, 0.55), "rmse": Interval(2, 1.9, 2.1)}}
    fig = drawn(viz.metric_bars(ivs, ("abs_rel", "a1", "rmse"), note=NOTE))
    assert [ax.get_title() for ax in fig.axes] == ["AbsRel ↓", "δ1 ↑", "RMSE ↓"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["AbsRel ↓ [no unit]", "δ1 ↑ [share of pixels]", "RMSE ↓ [m]"]
    from matplotlib.container import ErrorbarContainer

    bars = next(c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer))
    segments = bars.lines[2][0].get_segments()
    assert [(s[0][1], s[1][1]) for s in segments] == [pytest.approx((0.15, 0.26)), pytest.approx((0.28, 0.33))]


def test_median_scatter_legend_names_a_model_missing_from_the_first_panel():
    r = rows(np.zeros(5), pred_median=np.linspace(2, 4, 5), gt_median=np.linspace(1.5, 3, 5))
    fig = drawn(viz.median_scatter({"A": {"test": r}, "C": {"wide": r}}, note=NOTE))
    assert [t.get_text() for t in fig.legends[0].get_texts()][-2:] == ["A", "C"]
