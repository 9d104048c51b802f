"""The default inference precision: native low precision only where a model's depth stays within the bar."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoedam_lib.inference import precision
from zoedam_lib.inference.predict import infer


class AutocastShift(nn.Module):
    """Depth 2 m + the image; under CPU autocast ``shift`` metres more (a model that low precision hurts)."""

    def __init__(self, shift: float) -> None:
        super().__init__()
        self.shift = shift
        self.w = nn.Parameter(torch.ones(()))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        depth = 2.0 * self.w + x[:, :1]
        if torch.is_autocast_enabled("cpu"):
            depth = depth + self.shift
        return {"metric_depth": depth}


@pytest.fixture
def native_bf16(monkeypatch):
    """A CPU with native bf16, whatever this machine has."""
    monkeypatch.setattr(precision, "fast_dtype", lambda device: torch.bfloat16)


def test_low_precision_is_taken_within_the_bar_and_the_first_batch_is_answered_in_fp32(native_bf16):
    model, x = AutocastShift(0.01), torch.rand(2, 3, 4, 5)  # AbsRel ~0.004 under autocast
    fp32, job = 2.0 + x[:, :1], precision.JobPrecision("auto")
    torch.testing.assert_close(infer(model, x, precision=job), fp32)  # the checked batch: its fp32 depth
    assert model.calls == 2  # fp32 and the candidate, once
    assert job.choice.dtype == torch.bfloat16 and 0.002 < job.choice.abs_rel_vs_fp32 < 0.006
    assert job.describe().startswith("bf16 autocast (AbsRel vs fp32 0.00")
    torch.testing.assert_close(infer(model, x, precision=job), fp32 + 0.01)  # the rest of the job: bf16
    assert model.calls == 3
    assert torch.equal(infer(model, x), fp32)  # a lone call: fp32


def test_low_precision_is_refused_beyond_the_bar(native_bf16):
    model, x = AutocastShift(0.5), torch.rand(2, 3, 4, 5)  # AbsRel ~0.2
    job = precision.JobPrecision("auto")
    infer(model, x, precision=job)
    assert job.choice.dtype is None and job.describe().startswith("fp32: low precision refused (AbsRel vs fp32 0.2")
    torch.testing.assert_close(infer(model, x, precision=job), 2.0 + x[:, :1])
    with torch.no_grad():
        model.w.mul_(100.0)  # depth ~200 m: the same shift is within the bar, for the next job
    job = precision.JobPrecision("auto")
    infer(model, x, precision=job)
    assert job.choice.dtype == torch.bfloat16


def test_cpus_without_native_low_precision_never_spend_a_forward_on_the_check(monkeypatch):
    monkeypatch.setattr(precision, "fast_dtype", lambda device: None)  # e.g. AVX2 only: bf16 is emulated
    model, x = AutocastShift(0.01), torch.rand(1, 3, 4, 5)
    job = precision.JobPrecision("auto")
    torch.testing.assert_close(infer(model, x, precision=job), 2.0 + x[:, :1])
    assert model.calls == 1 and job.choice == precision.FP32 and job.describe() == "fp32"
    with pytest.raises(ValueError, match="precision must be one of"):
        precision.JobPrecision("bf16")


def test_evaluation_records_the_precision_it_ran_in(native_bf16, tmp_path):
    from test_evaluation import Scaled, write_set

    from zoedam_lib.data.datasets import DepthDataset
    from zoedam_lib.data.nyu.reader import NyuMat
    from zoedam_lib.evaluation.evaluate import evaluate

    with NyuMat(write_set(tmp_path / "a.mat")) as mat:
        auto = evaluate(Scaled(1.0), DepthDataset(mat, range(6)), flip_tta=True, progress=False)
        exact = evaluate(Scaled(1.0), DepthDataset(mat, range(6)), flip_tta=True, progress=False, precision="fp32")
    assert auto.precision.startswith("bf16 autocast") and exact.precision == "fp32"
    assert auto.to_json()["precision"] == auto.precision
    assert auto.metrics["abs_rel"] == pytest.approx(exact.metrics["abs_rel"], abs=0.01)
