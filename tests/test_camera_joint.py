"""The camera head trained with the depth (``camera_loss_weight``, ``camera_rooms``; experiments.camera_joint).

Each test fails on the mistake it names: a camera loss that learns from zoomed-out (padded) views,
whose padding gives the answer away; rooms meant for the camera loss whose depth is learned too; a
camera loss that never reaches the encoder (then it is the frozen-feature head again); options that
ask for a joint head on a model that has none.
"""

from __future__ import annotations

import math

import pytest
import torch
from helpers import tiny_zoedam
from test_canonical_camera import H, W, write_mat
from test_lens_rooms import lenses_file

from zoedam_lib.camera.canonical import focal_ratio
from zoedam_lib.camera.intrinsics import scaled_intrinsics
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.zoom import RandomZoom
from zoedam_lib.experiments.camera import HEAD_HOLDOUT
from zoedam_lib.experiments.camera_joint import camera_loss, joint_step, resized, with_camera_rooms
from zoedam_lib.experiments.recipes import ZoeDAMOptions, ZoeDAMPlusOptions
from zoedam_lib.inference.exact import prepare_training
from zoedam_lib.utils.errors import ConfigError


def test_only_views_without_padding_have_a_known_field_of_view(tmp_path):
    data = NyuMat(write_mat(tmp_path / "d.mat"))
    assert bool(DepthDataset(data, [0])[(0, 0)]["focal_known"])
    assert bool(DepthDataset(data, [0], zoom=RandomZoom((1.2, 1.5), p=1.0))[(0, 0)]["focal_known"])  # a crop
    assert not bool(DepthDataset(data, [0], zoom=RandomZoom((0.5, 0.7), p=1.0))[(0, 0)]["focal_known"])


def test_each_item_carries_a_camera_room_with_its_own_lens_and_keeps_its_depth(tmp_path):
    lenses_file(tmp_path, HEAD_HOLDOUT + 6)
    wrap = with_camera_rooms(tmp_path, 6, None, None, seed=0)
    labeled = DepthDataset(NyuMat(write_mat(tmp_path / "own.mat", n=2)), [0, 1])
    paired = wrap(labeled)
    assert len(paired) == 2  # the depth batches and steps stay the labeled set's
    items = [paired[(i, e)] for e in range(3) for i in range(2)]
    for i, item in enumerate(items[:2]):
        own = labeled[(i, 0)]
        assert torch.equal(item["depth"], own["depth"]) and torch.equal(item["image"], own["image"])
    ratios = {round(float(item["camera_camera"][0] / labeled[(0, 0)]["camera"][0]), 3) for item in items}
    assert len(ratios) > 1  # rooms through several lenses, each with its own focal length
    assert torch.equal(paired[(1, 2)]["camera_image"], wrap(labeled)[(1, 2)]["camera_image"])  # seeded pairs


def test_a_smaller_room_is_resized_to_the_batch_and_keeps_its_field_of_view(tmp_path):
    lenses_file(tmp_path, HEAD_HOLDOUT + 2)
    small = DepthDataset(NyuMat(tmp_path / "lenses.mat"), [1])[(0, 0)]
    big = resized(small, (2 * H, 2 * W))
    assert big["image"].shape == (3, 2 * H, 2 * W)
    assert torch.allclose(big["camera"], small["camera"] * 2)  # twice the pixels across: twice the focal length
    f_c, net = 10.0, (14, 14)
    assert float(focal_ratio(*big["camera"], (2 * H, 2 * W), net, f_c)) == pytest.approx(
        float(focal_ratio(*small["camera"], (H, W), net, f_c)), rel=1e-5)


def batch_of(fx: list[float], known: list[bool]) -> dict[str, torch.Tensor]:
    return {"camera": torch.tensor([[f, f] for f in fx]), "focal_known": torch.tensor(known)}


def test_camera_loss_is_the_log_focal_error_of_the_known_views_only():
    size = net = (14, 14)
    f_c = 10.0
    batch = batch_of([10.0, 20.0, 5.0], [True, True, False])
    exact = torch.log(torch.tensor([1.0, 2.0, 0.5]))
    assert float(camera_loss({"log_focal_estimate": exact}, batch, size, net, f_c)) == pytest.approx(0, abs=1e-6)
    wrong_padded = exact + torch.tensor([0.0, 0.0, 3.0])  # the padded view is ignored
    assert float(camera_loss({"log_focal_estimate": wrong_padded}, batch, size, net, f_c)) == pytest.approx(0, abs=1e-6)
    off = exact + torch.tensor([math.log(1.1), -math.log(1.1), 0.0])  # 10 % too long, 10 % too short
    assert float(camera_loss({"log_focal_estimate": off}, batch, size, net, f_c)) == pytest.approx(math.log(1.1))
    none = batch_of([10.0], [False])
    assert float(camera_loss({"log_focal_estimate": torch.zeros(1)}, none, size, net, f_c)) == 0


def test_joint_step_trains_the_head_and_the_encoder_through_the_camera_loss():
    torch.manual_seed(0)
    model = tiny_zoedam(camera="canonical", max_depth=20.0, camera_head=True)
    f = scaled_intrinsics(H, W)[0]
    with torch.no_grad():
        model.camera_head.out.weight.normal_(0, 0.1)  # the zero-initialised output would block the encoder's gradient
    batch = {"image": torch.rand(2, 3, H, W), "depth": torch.zeros(2, 1, H, W),  # camera-only: no depth to learn
             "camera": torch.tensor([[f, f], [1.5 * f, 1.5 * f]]), "focal_known": torch.tensor([True, True])}
    loss, logs = joint_step(model, batch, beta=0.15, weight=1.0)
    loss.backward()
    assert logs["camera_l1"] > 0 and float(loss.detach()) == pytest.approx(logs["camera_l1"], rel=1e-5)
    assert model.camera_head.out.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())


def test_the_training_wrapper_gives_the_reference_focal_estimate():
    """The trainer runs the channels-last wrapper (prepare_training): the camera term must be the reference's."""
    torch.manual_seed(1)
    model = tiny_zoedam(camera="canonical", max_depth=20.0, camera_head=True)
    with torch.no_grad():
        model.camera_head.out.weight.normal_(0, 0.1)
    x = torch.rand(2, 3, H, W)
    ref = model(x, return_focal_estimate=True)["log_focal_estimate"]
    fast = prepare_training(model)(x, return_focal_estimate=True)["log_focal_estimate"]
    assert torch.allclose(ref, fast, atol=1e-6) and float(ref.detach().abs().sum()) > 0


def test_camera_rooms_teach_the_head_and_never_the_depth():
    """A batch of labeled images with camera rooms beside them: the depth term is the labeled images' SILog
    alone (the rooms' depth is never compared), the camera term covers both."""
    torch.manual_seed(2)
    model = tiny_zoedam(camera="canonical", max_depth=20.0, camera_head=True)
    f = scaled_intrinsics(H, W)[0]
    labeled = {"image": torch.rand(2, 3, H, W), "depth": torch.rand(2, 1, H, W) * 3 + 1,
               "camera": torch.tensor([[f, f], [f, f]]), "focal_known": torch.tensor([True, True])}
    alone, _ = joint_step(model, labeled, beta=0.15, weight=0.0)
    paired = {**labeled, "camera_image": torch.rand(2, 3, H, W), "camera_camera": torch.tensor([[f / 2, f / 2]] * 2),
              "camera_known": torch.tensor([True, False])}
    with_rooms, logs = joint_step(model, paired, beta=0.15, weight=0.0)
    assert float(with_rooms.detach()) == pytest.approx(float(alone.detach()), rel=1e-4)  # same depth term
    total, _ = joint_step(model, paired, beta=0.15, weight=1.0)
    # the untrained head answers f_c (log ratio 0): its error is |log(f / f_c)| on the three known views
    ratio = focal_ratio(f, f, (H, W), model.config.img_size, model.config.canonical_focal)
    expected = (2 * abs(math.log(ratio)) + abs(math.log(ratio / 2))) / 3
    assert logs["camera_l1"] == pytest.approx(expected, rel=1e-4)
    assert float(total.detach()) == pytest.approx(float(alone.detach()) + expected, rel=1e-4)


@pytest.mark.parametrize("bad", [
    {"camera_loss_weight": 1.0},  # camera-blind
    {"camera": "canonical", "camera_rooms": 10},  # rooms for a loss that is off
    {"camera": "canonical", "camera_loss_weight": 1.0, "camera_head_epochs": 0},  # no head
    {"camera": "canonical", "camera_loss_weight": -1.0},
    {"camera": "canonical", "camera_loss_weight": float("nan")},
    {"camera": "canonical", "camera_loss_weight": 1.0, "camera_rooms": -1},
])
def test_joint_camera_options_are_checked(bad):
    with pytest.raises(ConfigError, match="camera_loss_weight|camera_rooms"):
        ZoeDAMOptions(**bad)


def test_the_zoedam_plus_student_refuses_the_joint_camera_options_it_would_ignore():
    with pytest.raises(ConfigError, match="not the ZoeDAM\\+ student"):
        ZoeDAMPlusOptions(camera="canonical", camera_loss_weight=1.0)
