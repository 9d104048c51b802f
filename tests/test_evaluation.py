"""Evaluation beyond the protocol's numbers: median scaling, disparity alignment, per-image medians,
zero-shot sets in the results JSON, and no NaN averages."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.evaluation.evaluate import evaluate
from zoedam_lib.evaluation.metrics import compute_metrics, median_depths, valid_mask
from zoedam_lib.experiments.results import per_image_rows, write_result
from zoedam_lib.utils.errors import DataFileError

H, W = 24, 32


def room(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (np.linspace(1.0, 6.0, H)[:, None] * rng.uniform(0.8, 1.2, (1, W))).astype(np.float32)


def test_median_scaling_forgives_a_global_scale_but_not_structure():
    gt = room(0)
    assert compute_metrics(gt * 1.3, gt)["abs_rel"] == pytest.approx(0.3, rel=1e-3)
    assert compute_metrics(gt * 1.3, gt, align="median")["abs_rel"] < 1e-5
    flat = np.full_like(gt, float(np.median(gt[valid_mask(gt)])))  # right scale, no structure
    assert compute_metrics(flat, gt, align="median")["abs_rel"] == pytest.approx(compute_metrics(flat, gt)["abs_rel"])
    centre = float(np.median(gt[valid_mask(gt)]))
    assert median_depths(gt * 1.3, gt) == pytest.approx((1.3 * centre, centre), rel=1e-5)


def test_disparity_alignment_recovers_depth_from_an_affine_disparity():
    gt = room(1)
    disparity = 3.0 / gt + 0.2  # what a relative model may predict: disparity up to scale and shift
    assert compute_metrics(disparity, gt, align="disparity")["abs_rel"] < 1e-4
    assert compute_metrics(disparity, gt)["abs_rel"] > 0.3  # read as metres it is nonsense
    with pytest.raises(ValueError, match="align must be one of"):
        compute_metrics(gt, gt, align="mean")


class Scaled(nn.Module):
    """Predicts the ground truth of the file times ``k`` (by looking it up from the image's red channel)."""

    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k
        self.register_buffer("dummy", torch.zeros(1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"metric_depth": x[:, :1] * 10.0 * self.k}


def write_set(path, n: int = 6, depth_scale: float = 1.0):
    with NyuMatWriter(path, n, H, W) as w:
        for i in range(n):
            depth = room(i)
            image = np.repeat((depth / 10.0 * 255).round().astype(np.uint8)[..., None], 3, axis=2)
            w.write(i, image, depth * depth_scale)
    return path


def test_evaluate_reports_raw_and_median_scaled_metrics_per_image(tmp_path):
    with NyuMat(write_set(tmp_path / "a.mat")) as mat:
        result = evaluate(Scaled(1.4), DepthDataset(mat, range(6)), flip_tta=False, progress=False)
    assert result.metrics["abs_rel"] == pytest.approx(0.4, abs=0.02)  # 40 % too far
    assert result.median_scaled["abs_rel"] < 0.02  # the structure is right
    row = result.per_image[0]
    assert row["pred_median"] == pytest.approx(1.4 * row["gt_median"], rel=0.03)
    assert row["med_abs_rel"] < 0.02 and row["abs_rel"] > 0.35


def test_an_evaluation_without_a_valid_pixel_is_an_error_not_nan(tmp_path, monkeypatch):
    mm = write_set(tmp_path / "mm.mat", depth_scale=1000.0)  # millimetres where metres were expected
    with pytest.raises(DataFileError, match="wrong depth unit"):  # opening the file already refuses it
        NyuMat(mm)
    monkeypatch.setattr(NyuMat, "_check_unit", lambda self: None)  # a reader without that check
    with NyuMat(mm) as mat, pytest.raises(DataFileError, match="none of the 6 test images has a valid"):
        evaluate(Scaled(1.0), DepthDataset(mat, range(6)), flip_tta=False, progress=False)


def test_results_json_carries_every_zero_shot_set_with_its_per_image_csv(tmp_path):
    with NyuMat(write_set(tmp_path / "a.mat")) as a, NyuMat(write_set(tmp_path / "b.mat", n=4)) as b:
        test = evaluate(Scaled(1.0), DepthDataset(a, range(6)), flip_tta=False, progress=False)
        wide = evaluate(Scaled(1.5), DepthDataset(b, range(4)), flip_tta=False, progress=False, name="wide")
    provenance = {"data": "tiny", "data_kind": "synthrooms", "preset": "cpu", "split": "paper", "seed": 0}
    path = write_result(tmp_path, "m", provenance, test, {"wide": wide}, note="x")
    record = json.loads(path.read_text())
    assert record["n_test"] == 6 and record["zero_shot"]["wide"]["n_test"] == 4 and record["note"] == "x"
    assert record["zero_shot"]["wide"]["metrics"]["abs_rel"] == pytest.approx(0.5, abs=0.02)
    assert record["zero_shot"]["wide"]["median_scaled"]["abs_rel"] < 0.02
    rows = per_image_rows(tmp_path, record, "wide")
    assert len(rows) == 4 and rows[0]["abs_rel"] == pytest.approx(wide.per_image[0]["abs_rel"])
    assert len(per_image_rows(tmp_path, record)) == 6
    with pytest.raises(KeyError, match="no per-image metrics for 'tall'"):
        per_image_rows(tmp_path, record, "tall")


def test_figure_predictions_are_batched_by_size_and_equal_one_image_at_a_time(one_thread):
    """predict_examples runs consecutive same-size items as one batch (notebook 06's error-by-depth figure):
    the predictions, their order and their sizes are those of one image per forward."""
    from helpers import tiny_zoedam

    from zoedam_lib.evaluation.evaluate import predict_examples

    rng = np.random.default_rng(0)
    shapes = [(60, 80)] * 4 + [(48, 64)] * 2 + [(60, 80)]
    items = [((rng.random((*s, 3)) * 255).astype(np.uint8), rng.random(s).astype(np.float32) + 1) for s in shapes]

    class Items:
        def read(self, i):
            return items[i]

    model = tiny_zoedam(0).eval()
    _, gts, batched = predict_examples(model, Items(), list(range(len(items))), flip_tta=True, batch_size=3)
    _, _, single = predict_examples(model, Items(), list(range(len(items))), flip_tta=True, batch_size=1)
    assert [p.shape for p in batched] == [g.shape for g in gts] == shapes
    for b, s in zip(batched, single, strict=True):
        np.testing.assert_allclose(b, s, rtol=1e-5, atol=1e-5)


def test_evaluation_carries_abs_rel_per_depth_range(tmp_path):
    """The error-by-depth figure (notebook 06) reads these instead of predicting every image again."""
    with NyuMat(write_set(tmp_path / "a.mat")) as mat:
        result = evaluate(Scaled(1.4), DepthDataset(mat, range(6)), flip_tta=False, progress=False)
        valid = sum(int(valid_mask(mat.read_depth(i)).sum()) for i in range(6))
    by = result.by_depth
    assert by.edges == (0.0, 1.0, 2.0, 3.0, 4.0, 6.0, 10.0)
    assert sum(by.n_pixels) == valid and max(by.n_images) == 6
    for value, n in zip(by.abs_rel, by.n_pixels, strict=True):
        assert (n == 0 and np.isnan(value)) or value == pytest.approx(0.4, abs=0.03)  # 40 % too far everywhere
