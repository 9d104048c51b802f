"""Solutions of notebook 07's exercises (cameras): where the canonical camera helps, a focal length given
by hand, and the camera head's misses.

"Your own phone photo" is, here, a SynthRooms ``zeroshot_mixed`` room (a lens the model was not trained
with) saved as a JPEG whose EXIF holds its 35 mm-equivalent focal length, as a phone writes it
(:func:`~zoedam_lib.experiments.camera_lesson.with_and_without_exif`): unlike a phone photo, its true
depth and focal length are known. Everything is written under ``<out_dir>/exercises/``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoedam_lib.camera.geometry import backproject
from zoedam_lib.checkpoints import load_model
from zoedam_lib.cli import main as cli
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.experiments import camera_lesson as lesson
from zoedam_lib.experiments.camera import focal_estimates
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.experiments.results import load_results, per_image_rows
from zoedam_lib.io.writers import read_depth_png16
from zoedam_lib.models.predict import has_camera_head, is_camera_aware
from zoedam_lib.solutions import exercise_dir
from zoedam_lib.solutions.common import notebook_run, paired_gap, report, stored
from zoedam_lib.solutions.nb04 import SHRINK, gap_text
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE

TEST_SETTINGS = {3: {"examples": (0, 3)}}  # tests/test_solutions.py: its zeroshot_mixed has 9 rooms
TEST_PREPARE = {**SHRINK, "camera_head_epochs": 1}  # needs a (tiny) lenses domain beside the data


def prepare(data_path: str | os.PathLike, out_dir: str | os.PathLike, **recipe: object) -> None:
    """What the exercises read, as notebook 07 makes it: its camera-blind and camera-aware ZoeDAM-S
    (tests/test_solutions.py calls this on tiny data)."""
    lesson.camera_models(notebook_run(data_path, out_dir=out_dir, device="cpu"), "vits", **recipe)


def exercise_1(out_dir: str | os.PathLike = "runs/demo", backbone: str = "vits", **_: object) -> dict[str, object]:
    """Which lens set gains most from the canonical camera, which least, and what do the raw and
    median-scaled gaps say? Read from the two models' results (notebooks 04 and 07).

    Gain: camera-blind − camera-aware AbsRel (paired over the set's images). Raw − median-scaled: the part
    of a model's error that is its scale alone (median scaling forgives a global factor).
    """
    keys = {"camera-blind": f"zoedam_{backbone}_blind", "camera-aware": f"zoedam_{backbone}"}
    for key in keys.values():
        stored(out_dir, f"results/{key}.json", "07")
    records = {name: load_results(out_dir)[key] for name, key in keys.items()}
    sets = [s for s in lesson.CAMERA_SETS if all(s in r.get("zero_shot", {}) for r in records.values())]
    if not sets:
        raise ConfigError(f"the results in {out_dir} have no lens sets ({', '.join(lesson.CAMERA_SETS)}): run "
                          "notebook 07 on SynthRooms")
    found: dict[str, object] = {}
    gains = {}
    for name in sets:
        entry = {model: rec["zero_shot"][name] for model, rec in records.items()}
        rows = [per_image_rows(out_dir, rec, name) for rec in records.values()]
        gap = paired_gap(*rows)
        gains[name] = gap.mean
        found[f"{name}: gain, raw AbsRel (blind − aware)"] = gap_text(gap)
        found[f"{name}: gain, median-scaled AbsRel"] = float(np.mean([r["med_abs_rel"] for r in rows[0]])
                                                           - np.mean([r["med_abs_rel"] for r in rows[1]]))
        for model, e in entry.items():
            found[f"{name}: {model} raw / median-scaled"] = (round(e["metrics"]["abs_rel"], 3),
                                                            round(e["median_scaled"]["abs_rel"], 3))
            found[f"{name}: {model} raw − median-scaled (its scale error)"] = (e["metrics"]["abs_rel"]
                                                                            - e["median_scaled"]["abs_rel"])
    found["gains most"], found["gains least"] = max(gains, key=gains.get), min(gains, key=gains.get)
    return report(found)


def _model_and_lenses(data_path: str | os.PathLike, split: str, seed: int, out_dir: str | os.PathLike, device: str,
                      preset: str, checkpoint: str):
    """The camera-aware checkpoint of the run, its run context and its ``zeroshot_mixed`` file."""
    path = stored(out_dir, checkpoint, "04 or 07") if not Path(checkpoint).is_absolute() else Path(checkpoint)
    ctx: RunContext = notebook_run(data_path, split, seed, out_dir, device, preset)
    mixed = ctx.with_camera_sets().zero_shot.get("zeroshot_mixed")
    if mixed is None:
        raise ConfigError(f"no zeroshot_mixed.mat beside {data_path}: the exercise's photo is one of its rooms")
    return path, load_model(path, device=ctx.device).eval(), mixed


def exercise_2(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               checkpoint: str = "checkpoints/zoedam_vits", example: int = 0, factor: float = 0.5,
               **_: object) -> dict[str, object]:
    """``python -m zoedam_lib predict`` on a photo with EXIF, as it is and with ``--intrinsics`` at ``factor`` (½)
    of the EXIF focal length (principal point unchanged): by how much does the median depth change, and why
    exactly that much?

    A camera-aware model predicts canonical depth from the pixels alone and multiplies it by f / f_c: a
    focal length times ½ gives every depth times ½, exactly (to the PNG's millimetres). A camera-blind
    checkpoint would not move at all: its intrinsics only place the point cloud.
    """
    path, model, mixed = _model_and_lenses(data_path, split, seed, out_dir, device, preset, checkpoint)
    with NyuMat(mixed) as data:
        rgb, gt = data.read(example)
        true_fx = data.intrinsics(example)[0]
    folder = exercise_dir(out_dir, "07_predict")
    photos = lesson.with_and_without_exif(model, rgb, true_fx, folder)  # writes with_exif.jpg, predicts it
    (tag, (_, camera)), photo = next(iter(photos.items())), folder / "with_exif.jpg"
    fx, fy, cx, cy = camera.intrinsics  # what predict reads from the EXIF
    given = ["--intrinsics", *(f"{v:.3f}" for v in (fx * factor, fy * factor, cx, cy))]
    medians = {}
    for name, extra, out in (("as it is", [], folder / "exif"),
                             (f"--intrinsics at {factor:g}× the EXIF focal length", given, folder / "given")):
        code = cli(["predict", str(photo), "--checkpoint", str(path), "--out", str(out), "--flip-tta",
                    "--device", device, *extra])
        if code != 0:
            raise RuntimeError(f"python -m zoedam_lib predict stopped with exit code {code} (its message is above)")
        depth = read_depth_png16(out / f"{photo.stem}_depth.png")
        medians[name] = float(np.median(depth[gt > 0]))
    exif, half = medians.values()
    return report({"photo": f"zeroshot_mixed room {example}, true fx {true_fx:.0f} px, {tag}",
                   "EXIF focal length read by predict [px]": fx,
                   **{f"median depth, {k} [m]": v for k, v in medians.items()},
                   "median depth ratio, given / EXIF": half / exif,
                   "predicted / true median depth, EXIF": exif / float(np.median(gt[gt > 0])),
                   "ratio this checkpoint should give": factor if is_camera_aware(model) else 1.0})


def exercise_3(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               checkpoint: str = "checkpoints/zoedam_vits", examples: Sequence[int] = (0, 5, 17),
               **_: object) -> dict[str, object]:
    """Notebook 07's photo cell for ``example`` 0, 5 and 17: where is the camera head's estimate furthest from the
    truth, and what does the point cloud without EXIF look like then?

    Without EXIF the depth is canonical depth × f_est / f_c, so the whole cloud is the EXIF one stretched
    along the viewing axis by f_est / f, while its width and height stay (X = (u − cx)·Z / f_est: f_est
    cancels). Over all of ``zeroshot_mixed``, the error by lens third says where the head misses most.
    """
    _, model, mixed = _model_and_lenses(data_path, split, seed, out_dir, device, preset, checkpoint)
    if not has_camera_head(model):
        raise ConfigError(f"{checkpoint} has no camera head (camera_head_epochs=0?): without EXIF it cannot estimate")
    found: dict[str, object] = {}
    errors = {}
    with NyuMat(mixed) as data:
        for i in examples:
            rgb, gt = data.read(i)
            truth = data.intrinsics(i)
            photos = lesson.with_and_without_exif(model, rgb, truth[0], exercise_dir(out_dir, f"07_example{i}"))
            (exif_depth, exif_cam), (none_depth, none_cam) = photos.values()
            errors[i] = none_cam.intrinsics[0] / truth[0] - 1
            clouds = {name: backproject(d, c) for name, d, c in (("truth", gt, truth), ("EXIF", exif_depth,
                                                                  exif_cam.intrinsics), ("no EXIF", none_depth,
                                                                                         none_cam.intrinsics))}
            size = {name: _extent(points, gt > 0) for name, points in clouds.items()}
            found[f"example {i}: fx true / EXIF / estimated [px]"] = tuple(round(v, 1) for v in (
                truth[0], exif_cam.intrinsics[0], none_cam.intrinsics[0]))
            found[f"example {i}: camera head's error f_est / f − 1"] = errors[i]
            for name in ("EXIF", "no EXIF"):
                found[f"example {i}: cloud {name}, depth / width vs the truth's"] = tuple(
                    round(size[name][k] / size["truth"][k], 3) for k in (0, 1))
        true, est = focal_estimates(model, data)
    found["furthest from the truth"] = f"example {max(errors, key=lambda i: abs(errors[i]))}"
    thirds = np.array_split(np.argsort(true), 3)  # by the true focal length: wide, middle, long lenses
    for name, idx in zip(("widest", "middle", "longest"), thirds, strict=True):
        found[f"zeroshot_mixed, {name} third of lenses: median |f_est / f − 1|"] = float(
            np.median(np.abs(est[idx] / true[idx] - 1)))
    return report(found)


def _extent(points: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    """(median depth, width between the 10th and 90th percentile of X) of a cloud's valid points, in metres."""
    p = points[valid & np.isfinite(points[..., 2])]
    return float(np.median(p[:, 2])), float(np.subtract(*np.percentile(p[:, 0], [90, 10])))
