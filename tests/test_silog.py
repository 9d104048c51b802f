"""SILog loss: conformance with the official SILogLoss, scale (in)variance.

Invalid depths and fp32 under autocast are tested in ``tests/robustness/``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zoedam_lib.losses.silog import silog_loss


@pytest.fixture(scope="module")
def official(conformance_dir):
    with open(conformance_dir / "silog_public.json") as f:
        meta = json.load(f)
    return meta, np.load(conformance_dir / "silog_public.npz")


@pytest.mark.conformance
def test_matches_official_masked_interpolated(official):
    meta, a = official
    t = lambda k: torch.from_numpy(a[k])[None, None]  # noqa: E731
    loss = silog_loss(t("pred"), t("target"), t("mask"))
    want = meta["main_case"]["expected_loss"]
    assert abs(loss.item() - want) <= 1e-5 * want
    as_dict = silog_loss({"metric_depth": t("pred")}, t("target")[:, 0], t("mask")[:, 0])
    assert abs(as_dict.item() - want) <= 1e-5 * want


@pytest.mark.conformance
def test_matches_official_no_mask(official):
    meta, a = official
    loss = silog_loss(torch.from_numpy(a["pred_same_size"])[None, None],
                      torch.from_numpy(a["target_full"])[None, None])
    want = meta["variant_no_mask"]["expected_loss"]
    assert abs(loss.item() - want) <= 1e-5 * want


def test_beta_zero_is_scale_invariant_and_default_is_not():
    torch.manual_seed(0)
    target = torch.rand(2, 1, 16, 16) * 5 + 0.5
    pred = target * torch.exp(0.1 * torch.randn_like(target))
    assert silog_loss(pred * 3, target, beta=0.0).item() == pytest.approx(silog_loss(pred, target, beta=0.0).item(),
                                                                         rel=1e-4)
    assert silog_loss(pred * 3, target).item() > 2 * silog_loss(pred, target).item()


def test_pixels_outside_the_mask_never_reach_the_loss_or_its_gradient():
    """Ground truth that is NaN outside the mask (holes, sky) must not poison the loss or the gradient."""
    torch.manual_seed(0)
    pred = (torch.rand(2, 1, 6, 8) * 4 + 0.5).requires_grad_()
    target = torch.rand(2, 1, 6, 8) * 4 + 0.5
    mask = torch.rand(2, 1, 6, 8) > 0.3
    poisoned = torch.where(mask, target, torch.tensor(float("nan")))
    loss = silog_loss(pred, poisoned, mask)
    loss.backward()
    g = torch.log(pred.detach()[mask]) - torch.log(target[mask])  # the official form on the valid pixels
    expected = 10 * torch.sqrt(torch.var(g) + 0.15 * g.mean() ** 2)
    torch.testing.assert_close(loss.detach(), expected, rtol=1e-5, atol=1e-6)
    assert torch.isfinite(pred.grad).all() and (pred.grad[~mask] == 0).all()
    single = torch.zeros_like(mask)
    single[0, 0, 2, 3] = True
    pred.grad = None
    zero = silog_loss(pred, poisoned, single)  # one valid pixel: zero loss, still part of the graph
    zero.backward()
    assert zero.item() == 0.0 and torch.isfinite(pred.grad).all()
