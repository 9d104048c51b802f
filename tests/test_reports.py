"""Notebook 06's gathering of a run: per-image rows of every evaluation set, training runs with the student
continuing its teacher, bars with intervals, and tables under the metrics' display names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoedam_lib.evaluation.bootstrap import bootstrap_metrics
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.evaluation.metrics import METRIC_KEYS
from zoedam_lib.experiments.results import load_results, write_result
from zoedam_lib.reports.figures import (
    LOSS_PANELS,
    SILOG_PANEL,
    bar_figure,
    curves_figure,
    evaluation_rows,
    training_runs,
)
from zoedam_lib.reports.page import table_markdown

NOTE = "SynthRooms (24 images, 60x80, seed 0) · preset cpu"


def evaluation(rng, n, name="test"):
    rows = [{"index": i, **{k: float(rng.uniform(0.1, 0.9)) for k in METRIC_KEYS},
             **{f"med_{k}": float(rng.uniform(0.1, 0.9)) for k in METRIC_KEYS},
             "pred_median": float(rng.uniform(1, 4)), "gt_median": float(rng.uniform(1, 4))} for i in range(n)]
    return EvalResult({k: float(np.mean([r[k] for r in rows])) for k in METRIC_KEYS}, rows, name=name)


def history(out, key, epochs, steps_per_epoch, logs):
    steps = [[e * steps_per_epoch + s + 1, e + 1, 1.0, 1e-3] for e in range(epochs) for s in range(steps_per_epoch)]
    hist = {"epochs": [{"epoch": e + 1, "val_abs_rel": 0.3} for e in range(epochs)], "steps": steps,
            "step_logs": [dict(logs) for _ in steps]}
    path = out / "runs" / key / "history.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(hist))
    return str(path.relative_to(out))


@pytest.fixture
def run(tmp_path):
    rng = np.random.default_rng(0)
    prov = {"data": "SynthRooms (24 images)", "data_kind": "synthrooms", "preset": "cpu", "split": "paper", "seed": 0}
    write_result(tmp_path, "zoedam_vits", prov, evaluation(rng, 12), history=history(tmp_path, "zoedam_vits", 3, 4, {}))
    write_result(tmp_path, "zoedam_plus", prov, evaluation(rng, 12), {"zeroshot_wide": evaluation(rng, 8, "wide")},
                 teacher=str(tmp_path / "checkpoints" / "zoedam_vits"), recipe={"options": {"student_init": "teacher"}},
                 history=history(tmp_path, "zoedam_plus", 1, 8, {"loss_labeled": 0.2, "loss_unlabeled": 0.1}))
    return tmp_path, load_results(tmp_path)


def test_evaluation_rows_cover_every_set_of_every_model(run):
    out, records = run
    rows = evaluation_rows(out, records)
    assert {m: sorted(sets) for m, sets in rows.items()} == {"ZoeDAM-S": ["test"], "ZoeDAM+": ["test", "zeroshot_wide"]}
    assert len(rows["ZoeDAM+"]["zeroshot_wide"]) == 8 and "pred_median" in rows["ZoeDAM+"]["test"][0]


def test_training_runs_continue_a_student_copied_from_its_teacher_only(run):
    out, records = run
    runs = {r.label: r for r in training_runs(out, records)}
    assert runs["ZoeDAM+"].after == "ZoeDAM-S" and runs["ZoeDAM-S"].after is None
    pretrained = {"recipe": {"options": {"student_init": "pretrained"}}}
    fresh = {**records, "zoedam_plus": {**records["zoedam_plus"], **pretrained}}
    assert {r.label: r.after for r in training_runs(out, fresh)}["ZoeDAM+"] is None  # starts from SynthDA itself
    assert runs["ZoeDAM+"].losses == LOSS_PANELS["zoedam_plus"] and runs["ZoeDAM-S"].losses == {SILOG_PANEL: "loss"}
    alone = training_runs(out, records, keys=("zoedam_plus",))  # without its teacher's log: starts at 0
    assert [r.after for r in alone] == [None]
    fig = curves_figure(out, records, note=NOTE)
    silog = next(ax for ax in fig.axes if ax.get_title().startswith("SILog"))
    student = next(ln for ln in silog.lines if ln.get_label() == "ZoeDAM+")
    assert student.get_xdata().min() == 13  # after the teacher's 12 steps


def test_bar_figure_error_bars_are_the_bootstrap_intervals_of_the_per_image_rows(run):
    from matplotlib.container import ErrorbarContainer

    out, records = run
    fig = bar_figure(out, records, note=NOTE, keys=("abs_rel",), n_boot=300)
    bars = next(c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer))
    low_high = [(s[0][1], s[1][1]) for s in bars.lines[2][0].get_segments()]
    rows = evaluation_rows(out, records)
    names = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert sorted(names) == ["ZoeDAM+", "ZoeDAM-S"]
    expected = [bootstrap_metrics(rows[m]["test"], ["abs_rel"], 300)["abs_rel"] for m in names]
    assert low_high == [pytest.approx((iv.low, iv.high)) for iv in expected]


def test_tables_use_the_metric_display_names(run):
    _, records = run
    head = table_markdown(records, ("zoedam_vits",)).splitlines()[0]
    assert "| AbsRel ↓ | SqRel ↓ | RMSE ↓ | RMSE-log ↓ | log10 ↓ | δ1 ↑ | δ2 ↑ | δ3 ↑ |" in head


def test_reported_rows_name_their_source_and_split_and_are_never_ours(run):
    _, records = run
    lines = table_markdown(records, ("zoedepth", "zoedam_vitl", "zoedam_vitb")).splitlines()
    zoedepth = next(ln for ln in lines if ln.startswith("| ZoeDepth |"))
    assert "**reported**: ZoeDAM paper, Table 3 = ZoeDepth's own ZoeD-M12-N" in zoedepth
    assert "official 654-image test split" in zoedepth and "| 0.075 |" in zoedepth
    vitl = [ln for ln in lines if ln.startswith("| ZoeDAM-L |")]
    assert len(vitl) == 2 and "not run" in vitl[0] and "Depth Anything's published" in vitl[1]
    assert "re-implemented, trained, and evaluated" in vitl[1] and "400-image test split as claimed" in vitl[1]
    assert "random 400-image test split" in next(ln for ln in lines if "reported" in ln and "ZoeDAM-B" in ln)


def test_zero_shot_columns_and_paired_comparisons(run):
    from zoedam_lib.reports.page import comparisons_markdown, results_markdown, zero_shot_markdown

    out, records = run
    table = zero_shot_markdown(out, records)
    assert "| model | test (in-domain) | zeroshot_wide raw | zeroshot_wide median-scaled |" in table
    assert "| ZoeDAM+ |" in table and "| ZoeDAM-S |" not in table  # ZoeDAM-S was tested in-domain only here
    text = comparisons_markdown(out, records)
    assert "ZoeDAM+ student vs its teacher" in text and "*test*" in text and "*zeroshot_wide*" not in text
    assert "ZoeDAM+ − ZoeDAM-S" in text and ("(supported)" in text or "not supported" in text)
    assert "Does SynthDA pretraining help" not in text  # no random-init run in this run
    page = results_markdown(out, records)
    assert page.index("## Table 2") < page.index("## Zero-shot") < page.index("## Comparisons")
