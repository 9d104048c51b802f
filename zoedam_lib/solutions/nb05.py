"""Solutions of notebook 05's exercises (ZoeDAM+, paper §3.3, §4.4): the unlabeled term, training noise, a variant."""

from __future__ import annotations

import json
import os

import numpy as np

from zoedam_lib.evaluation.bootstrap import bootstrap_difference, paired_values
from zoedam_lib.experiments.results import load_results, per_image_rows
from zoedam_lib.experiments.teacher import TEACHER_CAMERA, TEACHER_KEY, ensure_teacher
from zoedam_lib.experiments.zoedam_plus import run_zoedam_plus
from zoedam_lib.semi.student import ZoeDAMPlusLossConfig
from zoedam_lib.solutions.common import exercise_run, notebook_run, report, stored
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE

SHRINK = {"epochs": 1, "max_steps_per_epoch": 1, "n_unlabeled": 4}  # tiny trainings for the test
TEST_SETTINGS = {3: SHRINK}
TEST_PREPARE = {"camera": "blind", **SHRINK}  # a camera-blind tiny teacher: no camera head, no lenses domain


def prepare(data_path: str | os.PathLike, out_dir: str | os.PathLike, camera: str = TEACHER_CAMERA,
            **recipe: object) -> None:
    """What exercises 1 and 2 read, as notebook 05 makes it: teacher, student and control in ``out_dir``
    (tests/test_solutions.py calls this on tiny data; a student has run the notebook instead)."""
    ctx = notebook_run(data_path, out_dir=out_dir, device="cpu")
    teacher = ensure_teacher(ctx, camera=camera)
    run_zoedam_plus(ctx, teacher, **recipe)
    run_zoedam_plus(ctx, teacher, loss_config=ZoeDAMPlusLossConfig(unlabeled_weight=0.0), key="zoedam_plus_control",
                    **recipe)


def exercise_1(out_dir: str | os.PathLike = "runs/demo", **_: object) -> dict[str, float]:
    """How much does the unlabeled term weigh? Its mean over the student's last epoch against the labeled SILog."""
    history = json.loads(stored(out_dir, "runs/zoedam_plus/history.json", "05").read_text())
    last = max(step[1] for step in history["steps"])
    logs = [log for step, log in zip(history["steps"], history["step_logs"], strict=True) if step[1] == last]
    labeled, unlabeled = (float(np.mean([log[k] for log in logs])) for k in ("loss_labeled", "loss_unlabeled"))
    return report({"labeled SILog, last epoch": labeled, "unlabeled term, last epoch": unlabeled,
                   "unlabeled / labeled": unlabeled / labeled})


def exercise_2(out_dir: str | os.PathLike = "runs/demo", **_: object) -> dict[str, float]:
    """How far apart are two trainings of nearly one recipe? The control minus the teacher, paired, per set."""
    stored(out_dir, "results/zoedam_plus_control.json", "05")
    records = load_results(out_dir)
    control, teacher = records["zoedam_plus_control"], records[TEACHER_KEY]
    found = {}
    for name in ("test", *control.get("zero_shot", {})):
        diff = bootstrap_difference(*paired_values(per_image_rows(out_dir, control, name),
                                                   per_image_rows(out_dir, teacher, name), "abs_rel"))
        found[f"{name}: control − teacher AbsRel"] = f"{diff.mean:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]"
    return report(found)


def exercise_3(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               n_unlabeled: int = 100, **recipe: object) -> dict[str, str]:
    """Fewer unlabeled images (``n_unlabeled=100`` of 300): if more help a little, do fewer hurt? The student
    against the notebook's teacher on every set, paired. (About 7 min on 2 CPU cores; no control.)"""
    ctx = exercise_run("05_n_unlabeled", data_path, split, seed, out_dir, device, preset, zero_shot=None)
    teacher = ensure_teacher(notebook_run(data_path, split, seed, out_dir, device, preset))
    run = run_zoedam_plus(ctx, teacher, n_unlabeled=n_unlabeled, key=f"zoedam_plus_n{n_unlabeled}", **recipe)
    pairs = {"test": (run.student.evaluation, run.teacher_evaluation),
             **{n: (run.student.zero_shot[n], run.teacher_zero_shot[n]) for n in run.teacher_zero_shot}}
    found = {}
    for name, (student, teacher_eval) in pairs.items():
        diff = bootstrap_difference(*paired_values(student.per_image, teacher_eval.per_image, "abs_rel"))
        found[f"{name}: student − teacher AbsRel"] = f"{diff.mean:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]"
    return report(found)
