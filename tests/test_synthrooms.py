"""SynthRooms: determinism, geometry of the depth maps, the NYU file layout and generation."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest
from PIL import Image

from zoedam_lib.camera.intrinsics import NYU_CAMERA, NYU_INTRINSICS, scaled_intrinsics
from zoedam_lib.data.synthrooms.generate import UNLABELED_OFFSET, ensure_synthrooms, generate_synthrooms, render_item
from zoedam_lib.data.synthrooms.layout import sample_scene
from zoedam_lib.data.synthrooms.scene import FLOOR, N_ROOM_SURFACES, WALL_Y1, camera_rotation, cast_rays
from zoedam_lib.data.synthrooms.style import STYLES
from zoedam_lib.utils.errors import ConfigError

H, W = 60, 80


def _empty_room(index: int, **pose: float):
    """A furniture-free labeled room, optionally with the camera moved to ``pose``."""
    style = dataclasses.replace(STYLES["labeled"], n_furniture=(0, 0), n_clutter=(0, 0))
    scene = sample_scene(np.random.default_rng([7, index]), style)
    if pose:
        scene.room = np.array([4.0, 6.0, 2.7])
        scene.cam = np.array([2.0, 0.5, pose["height"]])
        scene.rot = camera_rotation(0.0, np.radians(pose["pitch"]), 0.0)
    return scene, cast_rays(scene, scaled_intrinsics(H, W), H, W)


def test_scaled_intrinsics() -> None:
    assert scaled_intrinsics(480, 640) == pytest.approx(NYU_INTRINSICS)
    assert scaled_intrinsics(240, 320) == pytest.approx([v / 2 for v in NYU_INTRINSICS])
    fx, fy, cx, cy = scaled_intrinsics(480, 320)  # only the width halves
    assert (fx, cx) == pytest.approx((NYU_INTRINSICS[0] / 2, NYU_INTRINSICS[2] / 2))
    assert (fy, cy) == pytest.approx((NYU_INTRINSICS[1], NYU_INTRINSICS[3]))
    fx, fy, cx, cy = scaled_intrinsics(240, 320, focal_scale=0.5)  # a wider lens: focal halves, centre stays
    assert (fx, fy, cx, cy) == pytest.approx((NYU_INTRINSICS[0] / 4, NYU_INTRINSICS[1] / 4,
                                              NYU_INTRINSICS[2] / 2, NYU_INTRINSICS[3] / 2))
    assert NYU_CAMERA.hfov_deg == pytest.approx(63.3, abs=0.1)
    assert NYU_CAMERA.scaled(240, 320).as_tuple() == scaled_intrinsics(240, 320)


def test_render_item_is_deterministic() -> None:
    image, depth = render_item(3, 5, H, W)
    again = render_item(3, 5, H, W)
    assert image.dtype == np.uint8 and image.shape == (H, W, 3)
    assert depth.dtype == np.float32 and depth.shape == (H, W)
    np.testing.assert_array_equal(image, again[0])
    np.testing.assert_array_equal(depth, again[1])
    for other in (render_item(4, 5, H, W), render_item(3, 6, H, W)):
        assert not np.array_equal(depth, other[1])
        assert not np.array_equal(image, other[0])


@pytest.mark.parametrize("style", ["labeled", "shifted"])
def test_depth_range_and_finiteness(style: str) -> None:
    for i in range(20):
        image, depth = render_item(0, i, H, W, style)
        assert np.isfinite(depth).all()
        assert depth.min() >= 0.5 and depth.max() <= 10.0, (i, depth.min(), depth.max())
        assert image.std() > 5, "image should not be flat"


def test_depth_is_z_depth_in_nyu_intrinsics() -> None:
    """Back-projecting with the intrinsics (z-depth, not ray length) puts floor pixels on z = 0."""
    fx, fy, cx, cy = scaled_intrinsics(H, W)
    for index in range(3):
        scene, hits = _empty_room(index)
        v, u = np.mgrid[:H, :W]
        cam_pts = np.stack([(u - cx) / fx * hits.depth, (v - cy) / fy * hits.depth, hits.depth], -1)
        world = cam_pts @ scene.rot.T + scene.cam                       # (H, W, 3)
        floor = hits.surface == FLOOR
        assert floor.sum() > 20
        np.testing.assert_allclose(world[floor][:, 2], 0.0, atol=2e-3)
        assert (world > -2e-3).all() and (world < scene.room + 2e-3).all()


def test_floor_depth_grows_towards_the_horizon() -> None:
    """In an empty room the floor's depth increases from the bottom row upwards in every column."""
    for index in range(4):
        _, hits = _empty_room(index)
        floor = hits.surface == FLOOR
        for col in range(W):
            rows = np.flatnonzero(floor[:, col])
            if rows.size > 1:
                assert (np.diff(hits.depth[rows, col]) < 0).all()


def test_far_wall_holds_the_largest_depth() -> None:
    _, hits = _empty_room(0, height=1.5, pitch=10.0)
    far = hits.surface == WALL_Y1
    assert far.mean() > 0.2
    assert hits.depth[far].max() >= hits.depth.max() - 1e-3
    assert hits.depth[far].min() > hits.depth[hits.surface == FLOOR].min()


def test_shifted_style_differs_in_colour() -> None:
    """The unlabeled pool is a distribution shift: more saturated palettes than the labeled set."""
    def chroma(style: str) -> float:
        images = [render_item(0, i, H, W, style)[0].astype(np.float32) for i in range(12)]
        return float(np.mean([(im.max(2) - im.min(2)).mean() for im in images]))

    assert chroma("shifted") > 1.5 * chroma("labeled")


def test_furniture_keeps_its_distance() -> None:
    for i in range(10):
        scene = sample_scene(np.random.default_rng([1, i]), STYLES["shifted"])
        hits = cast_rays(scene, scaled_intrinsics(H, W), H, W)
        furniture = hits.surface >= N_ROOM_SURFACES
        if furniture.any():
            assert hits.depth[furniture].min() >= 0.5


def test_generate_layout_and_worker_independence(tmp_path) -> None:
    size, n = (24, 32), 5
    mats = [generate_synthrooms(tmp_path / f"w{w}", n=n, size=size, seed=2, n_unlabeled=3, workers=w,
                                progress=False) for w in (1, 2)]
    with h5py.File(mats[0], "r") as a, h5py.File(mats[1], "r") as b:
        assert a.userblock_size == 512
        assert a["images"].shape == (n, 3, 32, 24) and a["images"].dtype == np.uint8
        assert a["depths"].shape == (n, 32, 24) and a["depths"].dtype == np.float32
        assert a.attrs["generator"] == "synthrooms" and a.attrs["seed"] == 2
        np.testing.assert_array_equal(a["images"][:], b["images"][:])
        np.testing.assert_array_equal(a["depths"][:], b["depths"][:])
        image, depth = render_item(2, 4, *size)
        np.testing.assert_array_equal(a["images"][4].transpose(2, 1, 0), image)
        np.testing.assert_array_equal(a["depths"][4].T, depth)
    assert mats[0].read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    folder = mats[0].parent / "unlabeled"
    assert sorted(p.name for p in folder.iterdir()) == ["00000.jpg", "00001.jpg", "00002.jpg"]
    jpeg = np.asarray(Image.open(folder / "00001.jpg"), dtype=np.float32)
    expected = render_item(2, UNLABELED_OFFSET + 1, *size, "shifted")[0]
    assert np.abs(jpeg - expected).mean() < 8
    meta = json.loads((mats[0].parent / "synthrooms.json").read_text())
    assert meta["n"] == n and meta["size"] == list(size) and meta["n_unlabeled"] == 3
    assert 0.5 <= meta["depth_min"] <= meta["depth_mean"] <= meta["depth_max"] <= 10


def test_regeneration_removes_stale_unlabeled_images(tmp_path) -> None:
    kwargs = {"n": 1, "size": (16, 16), "workers": 1, "progress": False}
    generate_synthrooms(tmp_path, n_unlabeled=3, **kwargs)
    generate_synthrooms(tmp_path, n_unlabeled=1, **kwargs)
    assert [p.name for p in (tmp_path / "unlabeled").iterdir()] == ["00000.jpg"]


def test_ensure_synthrooms_generates_once(tmp_path, capsys) -> None:
    path = tmp_path / "data" / "synthrooms.mat"
    kwargs = {"n": 2, "size": (16, 24), "n_unlabeled": 1, "workers": 1, "progress": False}
    assert ensure_synthrooms(path, **kwargs) == path and path.is_file()
    assert len(capsys.readouterr().out.strip().splitlines()) == 1
    stamp = path.stat().st_mtime_ns
    assert ensure_synthrooms(path, **kwargs) == path
    assert path.stat().st_mtime_ns == stamp and capsys.readouterr().out == ""
    with pytest.raises(ConfigError, match="synthrooms.mat"):
        ensure_synthrooms(tmp_path / "other.mat", **kwargs)
