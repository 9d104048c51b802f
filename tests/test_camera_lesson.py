"""Notebook 07's library steps: the post-hoc correction, the lens ratios, a photo with and without EXIF,
the probe pixels chosen from the truth, the paired table per set and the lesson's figures.

Each test fails on the mistake it names: a post-hoc factor inverted or applied to unknown cameras,
a photo whose depth and point cloud use different cameras, "near" pixels that are not near.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import TINY_SIZE, tiny_zoedam

from zoedam_lib.camera.canonical import canonical_focal
from zoedam_lib.experiments.camera_lesson import PostHocCamera, with_and_without_exif
from zoedam_lib.inference.head_probe import depth_quantile_pixels
from zoedam_lib.reports.tables import paired_sets_table
from zoedam_lib.viz.camera import focal_scatter, lens_scale
from zoedam_lib.viz.figures import figure_note
from zoedam_lib.viz.palette import model_colour


def test_posthoc_scales_the_blind_metres_by_f_over_f_train_and_leaves_unknown_cameras_alone():
    blind = tiny_zoedam()
    x = torch.rand(3, 3, *TINY_SIZE, generator=torch.Generator().manual_seed(0))
    f = canonical_focal(TINY_SIZE)  # NYU's camera at this input: f_train
    cam = torch.tensor([[0.5 * f, 0.5 * f], [2 * f, 2 * f], [math.nan, math.nan]])
    with torch.no_grad():
        ref = blind(x)["metric_depth"]
        out = PostHocCamera(blind)(x, camera=cam)["metric_depth"]
    ratio = (out / ref).flatten(1).median(dim=1).values
    assert ratio.tolist() == pytest.approx([0.5, 2.0, 1.0], rel=1e-4)  # wide lens: nearer; long lens: farther


def test_a_photo_with_and_without_exif_uses_one_camera_for_depth_and_cloud(tmp_path):
    model = tiny_zoedam(camera="canonical", max_depth=20.0, camera_head=True)
    with torch.no_grad():
        model.camera_head.out.bias.fill_(math.log(0.5))  # the head says: half the canonical focal length
    rgb = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    fx = 80.0
    out = with_and_without_exif(model, rgb, fx, tmp_path)
    (exif_name, (d_exif, c_exif)), (_, (d_none, c_none)) = out.items()
    assert "FocalLengthIn35mmFilm" in exif_name and c_exif.kind == "exif" and c_none.kind == "estimate"
    assert c_exif.intrinsics[0] == pytest.approx(fx, rel=0.03)  # f35 is rounded to whole millimetres
    f_est = 0.5 * model.config.canonical_focal * 64 / TINY_SIZE[1]
    assert c_none.intrinsics[0] == pytest.approx(f_est, rel=1e-3)
    # canonical depth is the same image's, so the metres differ by exactly the ratio of the two focal lengths
    # (each the geometric mean of fx and fy: the network input's aspect differs from the photo's)
    f = [math.sqrt(c.intrinsics[0] * c.intrinsics[1]) for c in (c_exif, c_none)]
    assert np.median(d_exif / d_none) == pytest.approx(f[0] / f[1], rel=1e-3)


def test_probe_pixels_are_near_middle_and_far_by_the_truth():
    gt = np.tile(np.linspace(1.0, 9.0, 60)[:, None], (1, 40))
    gt[:, :5] = 0  # invalid
    near, mid, far = depth_quantile_pixels(gt, (0.05, 0.5, 0.95))
    depth = [gt[round(r * 59), round(c * 39)] for r, c in (near, mid, far)]
    assert depth[0] < 3.0 < depth[1] < 7.0 < depth[2]
    assert all(c * 39 >= 5 for _, c in (near, mid, far))  # never an invalid pixel


def test_paired_sets_table_says_which_model_is_better_per_set():
    rows_a = [{"index": i, "abs_rel": 0.10 + 0.001 * (i % 7)} for i in range(50)]
    rows_b = [{"index": i, "abs_rel": r["abs_rel"] + 0.05} for i, r in enumerate(rows_a)]
    same = [dict(r) for r in rows_a]
    text = paired_sets_table({"wide": (rows_a, rows_b), "tele": (rows_a, same)}, ("aware", "post-hoc"))
    wide, tele = (line for line in text.splitlines() if line.startswith(("| wide", "| tele")))
    assert "−0.050" in wide and "(supported)" in wide and "not supported" in tele


def test_lesson_figures_keep_the_models_colours_and_their_note():
    x = np.geomspace(0.5, 1.6, 40)
    fig = lens_scale({"camera-blind": (x, 1 / x), "camera-aware": (x, np.ones_like(x))}, note="SynthRooms · test")
    colours = {line.get_label().split(" (")[0]: line.get_color() for line in fig.axes[0].get_lines()
               if "median per lens bin" in line.get_label()}
    assert colours == {"camera-blind": model_colour("camera-blind"), "camera-aware": model_colour("camera-aware")}
    assert figure_note(fig) == "SynthRooms · test"
    fig = focal_scatter(x, x * 1.2, note="SynthRooms · test", title="mixed")
    assert "median error 20%" in fig.axes[0].get_title()
