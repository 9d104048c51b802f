"""Solutions of notebook 04's exercises (ZoeDAM, paper §3.2, §4.3): pretraining, the decoder, SILog's β, lenses.

Each trains as notebook 04 does (``run_zoedam`` with the notebook's defaults: camera-aware, from SynthDA
under ``cpu``) into ``<out_dir>/exercises/``, and sets its numbers beside the notebook's own run, read
from ``<out_dir>/results/`` (paired over the same test images: the split is recomputed from the seed).
"""

from __future__ import annotations

import os
from functools import partial

from zoedam_lib.cli import main as cli
from zoedam_lib.evaluation.bootstrap import Interval
from zoedam_lib.experiments import camera_lesson as lesson
from zoedam_lib.experiments.concurrent import run_concurrently
from zoedam_lib.experiments.results import load_results, per_image_rows
from zoedam_lib.experiments.zoedam import AUTO, run_beta_ablation, run_zoedam
from zoedam_lib.reports.tables import fmt_interval
from zoedam_lib.solutions import exercise_dir
from zoedam_lib.solutions.common import exercise_run, mean_of, notebook_run, paired_gap, report, scale_ratio, stored
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE

CAMERA = "canonical"  # notebook 04's default `camera` parameter
SHRINK = {"epochs": 1, "max_steps_per_epoch": 1, "n_val": 2, "img_size": (42, 56), "camera_head_epochs": 0}
TEST_SETTINGS = {1: SHRINK, 2: SHRINK, 5: SHRINK,  # tiny trainings for tests/test_solutions.py; 3: prepare's ablation
                 3: {"ablation_epochs": 1, **{k: v for k, v in SHRINK.items() if k != "epochs"}}}
TEST_PREPARE = SHRINK


def prepare(data_path: str | os.PathLike, out_dir: str | os.PathLike, seed: int = 0, camera: str = CAMERA,
            ablation_epochs: int = 1, **recipe: object) -> None:
    """What the exercises read, as notebook 04 makes it: ZoeDAM-S from SynthDA and from random weights, and the
    β ablation (``ablation_epochs=0`` skips it, as ``make demo-seeds`` does). tests/test_solutions.py calls this
    on tiny data (``recipe``: its tiny settings, for the ablation too), notebook 06's ``prepare`` once per seed."""
    ctx = notebook_run(data_path, seed=seed, out_dir=out_dir, device="cpu")
    run_zoedam(ctx, "vits", AUTO, camera=camera, **recipe)
    run_zoedam(ctx, "vits", None, key="zoedam_vits_random", camera=camera, **{**recipe, "camera_head_epochs": 0})
    if ablation_epochs:
        run_beta_ablation(ctx, **{**recipe, "epochs": ablation_epochs})


def gap_text(gap: Interval) -> str:
    """``−0.112 [−0.136, −0.090] (supported)``: a paired difference and whether its interval excludes 0."""
    return f"{fmt_interval(gap)} ({'supported' if gap.excludes_zero() else 'not supported: interval contains 0'})"


def notebook_rows(out_dir: str | os.PathLike, key: str, eval_set: str = "test") -> list[dict] | None:
    """The per-image rows of the notebook's own model ``key`` on ``eval_set``, None when that run is not there."""
    record = load_results(out_dir).get(key)
    return None if record is None or (eval_set != "test" and eval_set not in record.get("zero_shot", {})) \
        else per_image_rows(out_dir, record, eval_set)


def exercise_1(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               backbone: str = "vits", epochs: int = 8, camera: str = CAMERA, **recipe: object) -> dict[str, object]:
    """Train both initialisations ``epochs=8`` instead of 3: does the gap between SynthDA and random weights close?

    The two trainings of the notebook's cell, side by side, 8 epochs each (about 15 min on 2 CPU cores).
    The gap is the paired test AbsRel difference, beside the notebook's 3-epoch one when that run is there.
    """
    ctx = exercise_run(f"04_epochs{epochs}", data_path, split, seed, out_dir, device, preset)
    calls = {"SynthDA": partial(run_zoedam, ctx, backbone, AUTO, camera=camera, epochs=epochs, **recipe),
             "random": partial(run_zoedam, ctx, backbone, None, key=f"zoedam_{backbone}_random", camera=camera,
                               epochs=epochs, **{**recipe, "camera_head_epochs": 0})}
    runs = run_concurrently(calls, ctx.device)
    rows = {name: run.evaluation.per_image for name, run in runs.items()}
    found: dict[str, object] = {
        f"validation AbsRel per epoch, {name}": [round(r["val_abs_rel"], 3) for r in run.state.history]
        for name, run in runs.items()}
    found.update({f"test AbsRel, {name}, {epochs} epochs": mean_of(r) for name, r in rows.items()})
    found[f"SynthDA − random, {epochs} epochs"] = gap_text(paired_gap(rows["SynthDA"], rows["random"]))
    before = [notebook_rows(out_dir, k) for k in (f"zoedam_{backbone}", f"zoedam_{backbone}_random")]
    if None in before:
        found["SynthDA − random, notebook 04's run"] = "not there: run notebook 04 (same out_dir) first"
    else:
        found["SynthDA − random, notebook 04's run"] = gap_text(paired_gap(*before))
        found[f"gap closed by (notebook's |gap| − {epochs} epochs' |gap|)"] = (
            abs(paired_gap(*before).mean) - abs(paired_gap(rows["SynthDA"], rows["random"]).mean))
    return report(found)


def exercise_2(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               backbone: str = "vits", camera: str = CAMERA, **recipe: object) -> dict[str, object]:
    """``decoder="random"`` (the paper's text: only the encoder from Depth Anything): how much of SynthDA's benefit
    comes from its decoder? One training (about 6 min), against the notebook's two models on the same images.

    Share of the benefit = (AbsRel encoder-only − AbsRel both) / (AbsRel random − AbsRel both): 0 when the
    decoder adds nothing, 1 when the encoder alone is no better than random weights.
    """
    for key in (f"zoedam_{backbone}", f"zoedam_{backbone}_random"):  # before training: fail fast
        stored(out_dir, f"results/{key}.json", "04 (with compare_random=True)")
    ctx = exercise_run("04_decoder_random", data_path, split, seed, out_dir, device, preset)
    run = run_zoedam(ctx, backbone, AUTO, "random", key=f"zoedam_{backbone}_decoder_random", camera=camera, **recipe)
    encoder_only = run.evaluation.per_image
    both, random = (notebook_rows(out_dir, k) for k in (f"zoedam_{backbone}", f"zoedam_{backbone}_random"))
    benefit, lost = mean_of(random) - mean_of(both), mean_of(encoder_only) - mean_of(both)
    return report({"test AbsRel, SynthDA encoder and decoder (notebook)": mean_of(both),
                   "test AbsRel, SynthDA encoder, random decoder": mean_of(encoder_only),
                   "test AbsRel, random weights (notebook)": mean_of(random),
                   "encoder only − both": gap_text(paired_gap(encoder_only, both)),
                   "share of SynthDA's benefit that is its decoder's": lost / benefit if benefit else float("nan")})


def exercise_3(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               backbone: str = "vits", pretrained: str | None = AUTO, ablation_epochs: int = 3,
               **recipe: object) -> dict[str, object]:
    """``ablation_epochs=3``: does β = 0's scale drift grow or shrink with training? The notebook's β ablation
    (camera-blind, test split only) with 3 epochs per run (about 10 min), beside the notebook's 1-epoch runs.

    The drift is how far the predicted / true median depth is from 1; the median-scaled AbsRel, which
    forgives the scale, says whether the structure differs too.
    """
    ctx = exercise_run(f"04_ablation{ablation_epochs}", data_path, split, seed, out_dir, device, preset)
    runs = run_beta_ablation(ctx, backbone=backbone, pretrained=pretrained, epochs=ablation_epochs, **recipe)
    found: dict[str, object] = {}
    drift = {}
    for beta, run in runs.items():
        rows = run.evaluation.per_image
        ratio = scale_ratio(rows)
        drift[beta] = abs(ratio.mean - 1)
        found[f"β = {beta:g}, {ablation_epochs} epochs: pred / true median depth"] = fmt_interval(ratio)
        found[f"β = {beta:g}, {ablation_epochs} epochs: AbsRel raw / median-scaled"] = (
            round(mean_of(rows), 3), round(mean_of(rows, "med_abs_rel"), 3))
        before = notebook_rows(out_dir, f"ablation_beta{beta:g}")
        if before is not None:
            found[f"β = {beta:g}, notebook's run: pred / true median depth"] = fmt_interval(scale_ratio(before))
            if beta == 0:
                found["β = 0's drift from 1, notebook's run → this one"] = (round(abs(scale_ratio(before).mean - 1), 3),
                                                                           round(drift[beta], 3))
    return report(found)


def exercise_4(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               checkpoint: str = "checkpoints/zoedam_vits", **_: object) -> dict[str, object]:
    """``python -m zoedam_lib eval`` on the notebook's checkpoint and the wide-angle set, yourself: do you get the
    notebook's ``zeroshot_wide`` row? The same command, run here (its results go to ``exercises/04_eval``, never
    over the notebook's: without ``--out`` they would go to ``runs/cli``)."""
    path = stored(out_dir, checkpoint, "04")
    wide = notebook_run(data_path, split, seed, out_dir, device, preset).zero_shot.get("zeroshot_wide")
    if wide is None:
        raise ConfigError(f"no zeroshot_wide.mat beside {data_path}: this exercise needs SynthRooms' wide-angle set")
    target = exercise_dir(out_dir, "04_eval")
    code = cli(["eval", "--checkpoint", str(path), "--data", str(data_path), "--split", split, "--seed", str(seed),
                "--out", str(target), "--device", device, "--preset", preset, "--zero-shot", str(wide)])
    if code != 0:
        raise RuntimeError(f"python -m zoedam_lib eval stopped with exit code {code} (its message is above)")
    mine = load_results(target)[path.name]["zero_shot"]["zeroshot_wide"]  # eval names results after the folder
    record = load_results(out_dir).get(path.name, {}).get("zero_shot", {}).get("zeroshot_wide")
    found = {"eval: zeroshot_wide AbsRel": mine["metrics"]["abs_rel"],
             "eval: zeroshot_wide AbsRel, median-scaled": mine["median_scaled"]["abs_rel"]}
    if record is not None:
        found.update({"notebook: zeroshot_wide AbsRel": record["metrics"]["abs_rel"],
                      "notebook: zeroshot_wide AbsRel, median-scaled": record["median_scaled"]["abs_rel"]})
    return report(found)


def exercise_5(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               backbone: str = "vits", **recipe: object) -> dict[str, object]:
    """``camera="blind"`` (the paper's one-camera recipe) against this run's camera-aware model through the wide and
    the tele lens: which way does each lens's scale go, and by how much? (About 5 min.)

    Notebook 04 run with ``camera="blind"`` scores only the course's zero-shot sets (shifted, wide): the
    lens sets are added for camera-aware models. So the blind model here is scored on them too, as
    notebook 07 scores its camera-blind model (which is this one: same recipe, data and seed).
    "From apparent size" is what the scale would be if the network read distance from image size alone.
    """
    ctx = exercise_run("04_blind", data_path, split, seed, out_dir, device, preset, zero_shot=None).with_camera_sets()
    lenses = ("zeroshot_wide", "zeroshot_tele")
    if not set(lenses) <= set(ctx.zero_shot):
        raise ConfigError(f"no {' / '.join(lenses)} beside {data_path}: this exercise needs SynthRooms' lens sets")
    run = run_zoedam(ctx, backbone, AUTO, camera="blind", key=f"zoedam_{backbone}_blind", **recipe)
    apparent = lesson.blind_prediction(ctx)
    found: dict[str, object] = {}
    for name in lenses:
        blind = run.zero_shot[name].per_image
        found[f"{name}: camera-blind pred / true median depth"] = scale_ratio(blind).mean
        found[f"{name}: from apparent size alone (f_train / f)"] = apparent[name]
        aware = notebook_rows(out_dir, f"zoedam_{backbone}", name)
        if aware is not None:
            found[f"{name}: camera-aware (notebook) pred / true median depth"] = scale_ratio(aware).mean
            found[f"{name}: AbsRel camera-blind − camera-aware"] = gap_text(paired_gap(blind, aware))
    return report(found)
