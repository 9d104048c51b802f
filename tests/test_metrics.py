"""Metrics: conformance with the official compute_metrics, protocol details, aggregation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zoedam_lib.evaluation.metrics import METRIC_KEYS, MetricAccumulator, compute_metrics, eigen_crop_mask

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def official(conformance_dir):
    with open(conformance_dir / "metrics_public.json") as f:
        meta = json.load(f)
    return meta, np.load(conformance_dir / "metrics_public.npz")


@pytest.mark.parametrize("case", range(4))
def test_matches_official_compute_metrics(official, case):
    meta, arrays = official
    info = meta["cases"][case]
    gt, pred = arrays[info["gt_key"]], arrays[info["pred_key"]]
    pred_before = pred.copy()
    ours = compute_metrics(pred, gt)
    assert np.array_equal(pred, pred_before, equal_nan=True), "compute_metrics must not clamp the caller's array"
    for key, want in info["expected"].items():
        if key in ("a1", "a2", "a3"):
            assert abs(ours[key] - want) <= 5e-5, (key, ours[key], want)
        else:
            assert abs(ours[key] - want) <= 1e-5 * abs(want), (key, ours[key], want)


def test_npz_expected_vector_agrees_with_json(official):
    meta, arrays = official
    order = [str(k) for k in arrays["metric_order"]]
    for i, info in enumerate(meta["cases"]):
        vec = arrays[f"expected_{i}"]
        assert [info["expected"][k] for k in order] == pytest.approx(list(vec), rel=1e-12)


def test_tensor_and_numpy_inputs_agree():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 9.0, (480, 640)).astype(np.float32)
    pred = (gt * rng.uniform(0.8, 1.2, gt.shape)).astype(np.float32)
    a = compute_metrics(pred, gt)
    b = compute_metrics(torch.from_numpy(pred)[None, None], torch.from_numpy(gt)[None])
    assert a == b


def test_perfect_prediction():
    gt = np.linspace(0.5, 9.5, 480 * 640, dtype=np.float32).reshape(480, 640)
    m = compute_metrics(gt.copy(), gt)
    assert m["abs_rel"] == 0 and m["rmse"] == 0 and m["a1"] == 1.0


def test_crop_is_official_at_480x640_and_proportional_elsewhere():
    mask = eigen_crop_mask(480, 640)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    assert (rows[0], rows[-1] + 1, cols[0], cols[-1] + 1) == (45, 471, 41, 601)
    small = eigen_crop_mask(240, 320)
    assert abs(small.mean() - mask.mean()) < 0.01


def test_errors_outside_crop_do_not_count():
    gt = np.full((480, 640), 2.0, np.float32)
    pred = gt.copy()
    pred[:45] = 9.0  # outside the crop
    assert compute_metrics(pred, gt)["abs_rel"] == 0
    assert compute_metrics(pred, gt, eigen_crop=False)["abs_rel"] > 0


def test_accumulator_averages_per_image_not_per_pixel():
    acc = MetricAccumulator()
    gt = np.full((48, 64), 2.0, np.float32)
    acc.update(np.full_like(gt, 2.2), gt)
    gt2 = gt.copy()
    gt2[:40] = 0  # few valid pixels
    acc.update(np.full_like(gt, 3.0), gt2)
    assert acc.mean()["abs_rel"] == pytest.approx((0.1 + 0.5) / 2, rel=1e-6)
    assert set(acc.mean()) == set(METRIC_KEYS)
