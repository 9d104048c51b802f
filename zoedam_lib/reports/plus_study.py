"""The ZoeDAM+ study's results (:mod:`zoedam_lib.experiments.plus_study`) as numbers, a table and a curve.

Every comparison is paired (the same test images, :func:`~zoedam_lib.evaluation.bootstrap.bootstrap_difference`,
2,000 resamples): a student against its seed's control (same recipe, unlabeled loss off) says what the
unlabeled images did; against the teacher, whether the student caught up with a better-informed model.
The intervals cover the choice of test images, not training noise: that is what the second seed is for.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from zoedam_lib.evaluation.bootstrap import Interval, bootstrap_difference, bootstrap_mean, paired_values
from zoedam_lib.experiments.plus_study import TEACHER, TEST_SET, StudyConfig, control_key, student_key
from zoedam_lib.experiments.results import load_results, per_image_rows
from zoedam_lib.utils.atomic import atomic_open, atomic_write_json
from zoedam_lib.utils.errors import DataFileError
from zoedam_lib.utils.markdown import markdown_table
from zoedam_lib.utils.paths import display_path, project_root

SUMMARY = "summary"  # summary.json, summary.md and summary.png in the study's folder
DOCS_NAME = "zoedam_plus_study"  # docs/zoedam_plus_study.{json,md,png} with --docs
COMMITTED_URL = f"https://raw.githubusercontent.com/zoedam/zoedam/main/docs/{DOCS_NAME}.json"


def _interval(i: Interval) -> dict[str, float]:
    return {"mean": round(i.mean, 5), "low": round(i.low, 5), "high": round(i.high, 5)}


def summarise(cfg: StudyConfig) -> dict[str, Any]:
    """Per seed and pool size: each model's AbsRel and the paired student − control and student − teacher,
    on every set the teacher and the student share (the test split first); finished runs only."""
    out = Path(cfg.out_dir)
    records = load_results(out)
    if TEACHER not in records:
        raise DataFileError(f"no study teacher in {display_path(out)}/results: run the study first "
                            "(python -m zoedam_lib plus-study)")
    teacher = records[TEACHER]
    sets = ["test", *teacher.get("zero_shot", {})]
    summary: dict[str, Any] = {"config": {k: v for k, v in vars(cfg).items() if k != "extra"},
                               "data": teacher.get("data"), "preset": teacher.get("preset"), "sets": sets,
                               "teacher": {s: _interval(bootstrap_mean([r["abs_rel"] for r in per_image_rows(
                                   out, teacher, s)])) for s in sets},
                               "points": [], "missing": []}
    for seed in cfg.seeds:
        control = records.get(control_key(seed))
        for pool in cfg.pool_sizes:
            student = records.get(student_key(pool, seed))
            if student is None or control is None:
                summary["missing"] += [k for k, r in ((student_key(pool, seed), student), (control_key(seed), control))
                                       if r is None]
                continue
            point: dict[str, Any] = {"seed": seed, "pool": pool, "sets": {}}
            for s in [s for s in sets if s == "test" or all(s in r.get("zero_shot", {}) for r in (student, control))]:
                rows_s, rows_c, rows_t = (per_image_rows(out, r, s) for r in (student, control, teacher))
                vs_c = paired_values(rows_s, rows_c, "abs_rel")
                vs_t = paired_values(rows_s, rows_t, "abs_rel")
                point["sets"][s] = {"student": round(float(vs_c[0].mean()), 5),
                                    "control": round(float(vs_c[1].mean()), 5),
                                    "teacher": round(float(vs_t[1].mean()), 5), "n_images": len(vs_c[0]),
                                    "minus_control": _interval(bootstrap_difference(*vs_c)),
                                    "minus_teacher": _interval(bootstrap_difference(*vs_t))}
            summary["points"].append(point)
    summary["missing"] = sorted(set(summary["missing"]))
    if summary["points"]:  # the sets every point has (a student has no camera head: no "_estimated" sets)
        summary["sets"] = [s for s in sets if all(s in p["sets"] for p in summary["points"])]
    return summary


def _diff(d: dict[str, float]) -> str:
    return f"{d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def markdown_summary(summary: dict[str, Any], eval_set: str = TEST_SET) -> str:
    """The study's table on ``eval_set`` (one row per seed and pool), then student − control on every set."""
    points = summary["points"]
    rows = [[p["seed"], f"{p['pool']:,}", *(f"{p['sets'][eval_set][k]:.3f}" for k in ("student", "control", "teacher")),
             _diff(p["sets"][eval_set]["minus_control"]), _diff(p["sets"][eval_set]["minus_teacher"])] for p in points]
    header = ("seed", "unlabeled rooms", "student", "control", "teacher", "student − control", "student − teacher")
    n = points[0]["sets"][eval_set]["n_images"] if points else 0
    text = [f"**{eval_set}** ({n} images), AbsRel and paired differences [95 % bootstrap interval]:", "",
            markdown_table(header, rows, align="llrrrll"), ""]
    others = [s for s in summary["sets"] if s != eval_set]
    if points and others:
        every = [[p["seed"], f"{p['pool']:,}", *(_diff(p["sets"][s]["minus_control"]) for s in others)] for p in points]
        text += ["Student − control, AbsRel, on the other sets:", "",
                 markdown_table(("seed", "unlabeled rooms", *others), every, align="ll" + "l" * len(others)), ""]
    if summary["missing"]:
        text.append("Not run yet: " + ", ".join(summary["missing"]) + ".")
    return "\n".join(text).rstrip() + "\n"


def write_summary(cfg: StudyConfig, docs: str | os.PathLike | None = None) -> Path:
    """``summary.{json,md,png}`` in the study's folder (each written whole, then renamed); with ``docs``
    also copied there as ``zoedam_plus_study.*`` (only when asked: docs/ holds the committed record)."""
    from zoedam_lib.viz.figures import save_figure
    from zoedam_lib.viz.plus_study import study_curve  # matplotlib only when a figure is drawn

    out = Path(cfg.out_dir)
    summary = summarise(cfg)
    atomic_write_json(out / f"{SUMMARY}.json", summary)
    note = f"{summary['data']} · preset {summary['preset']} · teacher {cfg.teacher_epochs} epochs"
    head = (f"# ZoeDAM+ study: student − control against the unlabeled pool\n\n_{note}; pools of "
            f"{', '.join(f'{n:,}' for n in cfg.pool_sizes)} shifted-style rooms, seeds "
            f"{', '.join(map(str, cfg.seeds))}, flip-TTA pseudo-labels: {cfg.pseudo_tta}, "
            f"{cfg.unlabeled_ratio} unlabeled per labeled image._\n\n")
    with atomic_open(out / f"{SUMMARY}.md") as f:
        f.write(head + markdown_summary(summary))
    if summary["points"]:
        save_figure(study_curve(summary, note=note), out / f"{SUMMARY}.png")
    if docs is not None:
        for ext in ("json", "md", "png"):
            source = out / f"{SUMMARY}.{ext}"
            if source.is_file():
                with atomic_open(Path(docs) / f"{DOCS_NAME}.{ext}", "wb") as f, open(source, "rb") as src:
                    shutil.copyfileobj(src, f)
    print(f"study summary: {display_path(out / SUMMARY)}.md" + (f" (copied to {display_path(docs)})" if docs else ""))
    return out / f"{SUMMARY}.md"


def load_summary(path: str | os.PathLike) -> dict[str, Any]:
    """A summary.json written by :func:`write_summary`."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def committed_summary() -> dict[str, Any]:
    """The committed record, docs/zoedam_plus_study.json of the checkout (notebook 05 shows it: the full
    curve does not fit ``make demo``); fetched from the repository where zoedam_lib is not installed from a
    checkout (Colab's ``pip install git+...``)."""
    root = project_root(Path(__file__).parent)
    if root is not None and (root / "docs" / f"{DOCS_NAME}.json").is_file():
        return load_summary(root / "docs" / f"{DOCS_NAME}.json")
    from urllib.request import urlopen

    try:
        with urlopen(COMMITTED_URL, timeout=30) as r:
            return json.loads(r.read().decode("utf-8"))
    except OSError as e:
        raise DataFileError(f"the study's record docs/{DOCS_NAME}.json is not in this installation and could not be "
                            f"downloaded from {COMMITTED_URL} ({e}); open the notebook in a zoedam checkout, or run "
                            "the study (python -m zoedam_lib plus-study) and load_summary() its summary.json") from e
