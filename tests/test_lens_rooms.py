"""Training on rooms of other cameras (``lens_rooms``) and the test suite's ``smoke`` preset.

Each test fails on the mistake it names: extra rooms that leak the camera head's held-out images,
a mixed training set that reads one part's camera for the other's items, a smoke recipe that
changes what the model is (its input size, learning rate) rather than only how long it trains.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_canonical_camera import H, W, write_mat

from zoedam_lib.camera.intrinsics import scaled_intrinsics
from zoedam_lib.data.datasets import ConcatDepthDataset, DepthDataset
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.experiments.camera import HEAD_HOLDOUT, lens_rooms, lens_split
from zoedam_lib.experiments.presets import recipe_for
from zoedam_lib.experiments.recipes import ZoeDAMOptions
from zoedam_lib.experiments.zoedam import with_lens_rooms
from zoedam_lib.utils.errors import ConfigError


def lenses_file(folder, n):
    """A ``lenses.mat`` stand-in: ``n`` rooms, image i through a lens of (0.5 + i / n) x NYU's focal length."""
    return write_mat(folder / "lenses.mat", n=n, per_image=[scaled_intrinsics(H, W, 0.5 + i / n) for i in range(n)])


def test_smoke_preset_is_the_cpu_recipe_on_fewer_steps():
    for model in ("zoedam", "densedepth", "zoedam_plus"):
        cpu, smoke = recipe_for(model, "cpu"), recipe_for(model, "smoke")
        assert smoke.preset == "smoke" and smoke.train.epochs == 1 and smoke.n_train == 64
        assert (smoke.img_size, smoke.train.lr, smoke.train.batch_size) == (cpu.img_size, cpu.train.lr,
                                                                           cpu.train.batch_size)
        assert smoke.train.epochs < cpu.train.epochs
    for model, option in (("zoedam", "camera_head_epochs"), ("zoedam_plus", "n_unlabeled")):
        smoke, cpu = (getattr(recipe_for(model, p).options, option) for p in ("smoke", "cpu"))
        assert smoke < cpu
    assert recipe_for("zoedam", "smoke", epochs=2).train.epochs == 2  # overrides still win


def test_concat_dataset_gives_each_item_its_own_files_camera(tmp_path):
    nyu = NyuMat(write_mat(tmp_path / "a.mat", n=3))
    wide = NyuMat(write_mat(tmp_path / "b.mat", n=2, intrinsics=scaled_intrinsics(H, W, 0.5)))
    mixed = ConcatDepthDataset([DepthDataset(nyu, [0, 1, 2]), DepthDataset(wide, [0, 1])])
    assert len(mixed) == 5
    fx = [float(mixed[(i, 0)]["camera"][0]) for i in range(5)]
    assert fx[0] == pytest.approx(fx[2]) and fx[3] == pytest.approx(fx[4])
    assert fx[3] == pytest.approx(fx[0] * 0.5, rel=1e-4)
    np.testing.assert_array_equal(mixed[(3, 0)]["depth"].numpy(), DepthDataset(wide, [0])[(0, 0)]["depth"].numpy())
    with pytest.raises(IndexError):
        mixed[(5, 0)]


def test_lens_rooms_never_include_the_camera_heads_held_out_images(tmp_path):
    n = HEAD_HOLDOUT + 40
    lenses_file(tmp_path, n)
    held_out, _ = lens_split(n, seed=3)
    rooms = lens_rooms(tmp_path, 40, None, None, seed=3)
    assert len(rooms) == 40 and not set(rooms.indices) & set(held_out)
    with pytest.raises(ConfigError, match="at most 40"):
        lens_rooms(tmp_path, 41, None, None, seed=3)


def test_with_lens_rooms_adds_them_to_the_training_set_and_nothing_when_zero(tmp_path):
    lenses_file(tmp_path, HEAD_HOLDOUT + 10)
    ctx = SimpleNamespace(data_path=tmp_path / "synthrooms.mat")
    assert with_lens_rooms(ctx, ZoeDAMOptions(camera="canonical"), None, None, 0) is None
    wrap = with_lens_rooms(ctx, ZoeDAMOptions(camera="canonical", lens_rooms=10), None, None, 0)
    labeled = DepthDataset(NyuMat(write_mat(tmp_path / "own.mat", n=3)), [0, 1, 2])
    mixed = wrap(labeled)
    assert len(mixed) == 13
    ratios = sorted(float(mixed[(i, 0)]["camera"][0] / labeled[(0, 0)]["camera"][0]) for i in range(3, 13))
    assert ratios[0] < 0.95 or ratios[-1] > 1.05  # other cameras than the run's own


@pytest.mark.parametrize("bad", [-1, 2.5, True])
def test_lens_rooms_must_be_a_count(bad):
    with pytest.raises(ConfigError, match="lens_rooms"):
        ZoeDAMOptions(lens_rooms=bad)
