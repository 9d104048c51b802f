"""Correct 3-D from any camera: a known plane photographed by known cameras comes back flat and life-size.

The scenes are made by *forward* projection (a patch's corners projected to pixels, u = cx + f·X/Z),
the intrinsics come from the caller or from the photo's EXIF, and the point cloud from the PLY
writer: a wrong focal length, a stretched axis or a misplaced principal point moves the patch's
edges by more than the one-pixel footprint allowed.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_writers import read_ply

from zoedam_lib.camera.geometry import flying_pixels
from zoedam_lib.camera.intrinsics import default_intrinsics, validate_intrinsics
from zoedam_lib.camera.photo import photo_intrinsics
from zoedam_lib.io.images import read_image
from zoedam_lib.io.writers import write_ply
from zoedam_lib.utils.errors import ConfigError

PLANE_Z = 2.0  # metres: a fronto-parallel wall
PATCH = ((-0.3, 0.7), (-0.2, 0.3))  # a red rectangle on it: x from -0.3 to 0.7 m, y from -0.2 to 0.3 m (y down)
EXIF_IFD, ORIENTATION = 0x8769, 0x0112
F35, FOCAL_LENGTH, PLANE_X_RES, PLANE_Y_RES, PLANE_UNIT, PIXEL_X_DIM = 0xA405, 0x920A, 0xA20E, 0xA20F, 0xA210, 0xA002
SIZES = {"4:3": (30, 40), "16:9": (36, 64), "9:16": (64, 36), "1:1": (48, 48), "4:3 large": (300, 400)}


def photographed_plane(height: int, width: int, camera: tuple[float, float, float, float]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Depth (all PLANE_Z) and a grey image with PATCH painted where the camera sees it."""
    fx, fy, cx, cy = camera
    (x0, x1), (y0, y1) = PATCH
    u0, u1 = cx + fx * x0 / PLANE_Z, cx + fx * x1 / PLANE_Z  # the patch's edges, projected
    v0, v1 = cy + fy * y0 / PLANE_Z, cy + fy * y1 / PLANE_Z
    assert 0 < u0 < u1 < width - 1 and 0 < v0 < v1 < height - 1, "the patch must lie inside the image"
    v, u = np.mgrid[0:height, 0:width]
    rgb = np.full((height, width, 3), 128, np.uint8)
    rgb[(u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)] = (255, 0, 0)
    return np.full((height, width), PLANE_Z, np.float32), rgb


def check_plane_cloud(ply: Path, true_fx: float, true_fy: float, n_pixels: int) -> None:
    """Every pixel is a point on the plane, and the red patch spans its true size to within a pixel."""
    _, verts = read_ply(ply)
    assert len(verts) == n_pixels  # a flat wall has no depth edge: nothing dropped
    assert np.all(verts["z"] == np.float32(PLANE_Z))
    red = verts[(verts["red"] == 255) & (verts["green"] == 0)]
    for axis, (lo, hi), focal in (("x", PATCH[0], true_fx), ("y", PATCH[1], true_fy)):
        pixel = PLANE_Z / focal  # metres one pixel covers on the wall
        assert lo <= red[axis].min() + 1e-5 and red[axis].min() < lo + pixel, axis
        assert red[axis].max() <= hi + 1e-5 and red[axis].max() > hi - pixel, axis


def save_photo(path: Path, height: int, width: int, orientation: int = 1, exif_ifd: dict | None = None) -> Path:
    """A JPEG displayed at height x width; stored transposed when the EXIF orientation turns it by 90 deg."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    for tag, value in (exif_ifd or {}).items():
        exif.get_ifd(EXIF_IFD)[tag] = value
    stored = (height, width) if orientation in (5, 6, 7, 8) else (width, height)  # PIL size: (w, h)
    Image.new("RGB", stored, (90, 90, 90)).save(path, exif=exif.tobytes())
    assert read_image(path).shape[:2] == (height, width)
    return path


@pytest.mark.parametrize("aspect", list(SIZES))
def test_plane_from_explicit_intrinsics_is_flat_and_life_size(aspect, tmp_path):
    height, width = SIZES[aspect]
    focal = 0.8 * max(height, width)
    camera = (focal, focal, 0.45 * width, 0.55 * height)  # principal point off-centre on purpose
    depth, rgb = photographed_plane(height, width, camera)
    photo = save_photo(tmp_path / "p.jpg", height, width)
    resolved = photo_intrinsics(photo, camera)
    assert resolved.intrinsics == pytest.approx(camera) and resolved.source == "from --intrinsics"
    write_ply(tmp_path / "p.ply", depth, rgb, resolved.intrinsics, resolved.source)
    check_plane_cloud(tmp_path / "p.ply", focal, focal, height * width)


def diagonal_view_focal(f35_mm: float, height: int, width: int) -> float:
    """The focal length (px) giving this image the diagonal angle of view of f35_mm on a 36 x 24 mm frame."""
    half_angle = math.atan(math.hypot(36, 24) / 2 / f35_mm)
    return math.hypot(width, height) / 2 / math.tan(half_angle)


@pytest.mark.parametrize(("aspect", "orientation"), [("4:3", 1), ("16:9", 1), ("9:16", 6), ("9:16", 1), ("1:1", 8),
                                                     ("4:3 large", 1)])
def test_plane_from_exif_35mm_equivalent_is_flat_and_life_size(aspect, orientation, tmp_path):
    height, width = SIZES[aspect]
    photo = save_photo(tmp_path / "p.jpg", height, width, orientation, {F35: 26})
    resolved = photo_intrinsics(photo)
    assert resolved.source == "from EXIF FocalLengthIn35mmFilm=26 mm"
    assert (resolved.camera.height, resolved.camera.width) == (height, width)
    focal = diagonal_view_focal(26, height, width)
    camera = (focal, focal, (width - 1) / 2, (height - 1) / 2)
    depth, rgb = photographed_plane(height, width, camera)
    write_ply(tmp_path / "p.ply", depth, rgb, resolved.intrinsics, resolved.source)
    check_plane_cloud(tmp_path / "p.ply", focal, focal, height * width)
    header, _ = read_ply(tmp_path / "p.ply")
    assert "comment intrinsics from EXIF FocalLengthIn35mmFilm=26 mm" in header


@pytest.mark.parametrize(("aspect", "orientation", "unit", "per_unit_mm", "resized"), [
    ("4:3 large", 1, 3, 10.0, 1),  # pixels per centimetre, the file as recorded
    ("16:9", 6, 2, 25.4, 2),  # pixels per inch, a portrait photo saved at half the recorded size
])
def test_plane_from_exif_focal_plane_resolution_is_flat_and_life_size(aspect, orientation, unit, per_unit_mm,
                                                                      resized, tmp_path):
    """FocalLength (mm) and the sensor's pixel density; non-square pixels show that a 90 deg turn swaps x and y."""
    height, width = SIZES[aspect]
    stored_w, stored_h = (height, width) if orientation == 6 else (width, height)
    pitch_x, pitch_y = 6.4 / (stored_w * resized), 4.4 / (stored_h * resized)  # mm per recorded pixel
    tags = {FOCAL_LENGTH: 4.0, PLANE_UNIT: unit, PLANE_X_RES: per_unit_mm / pitch_x, PLANE_Y_RES: per_unit_mm / pitch_y,
            PIXEL_X_DIM: stored_w * resized, 0xA003: stored_h * resized}
    photo = save_photo(tmp_path / "p.jpg", height, width, orientation, tags)
    resolved = photo_intrinsics(photo)
    assert resolved.source.startswith("from EXIF FocalLength=4 mm x FocalPlaneXResolution=")
    stored_fx, stored_fy = 4.0 / pitch_x / resized, 4.0 / pitch_y / resized  # f / pixel pitch, in stored pixels
    true_fx, true_fy = (stored_fy, stored_fx) if orientation == 6 else (stored_fx, stored_fy)
    depth, rgb = photographed_plane(height, width, (true_fx, true_fy, (width - 1) / 2, (height - 1) / 2))
    write_ply(tmp_path / "p.ply", depth, rgb, resolved.intrinsics, resolved.source)
    check_plane_cloud(tmp_path / "p.ply", true_fx, true_fy, height * width)


def test_default_is_one_focal_length_with_nyu_field_of_view_and_reported(tmp_path):
    assert default_intrinsics(480, 640) == (518.86, 518.86, 319.5, 239.5)
    assert default_intrinsics(640, 480) == (518.86, 518.86, 239.5, 319.5)  # the same camera turned: same focal
    assert default_intrinsics(1080, 1920)[:2] == pytest.approx((518.86 * 3, 518.86 * 3))
    resolved = photo_intrinsics(save_photo(tmp_path / "plain.jpg", 36, 64))
    assert resolved.intrinsics == default_intrinsics(36, 64)
    assert resolved.source.startswith("assumed: NYU Depth v2's 63.3 deg field of view across the long side")
    assert "no focal length in the EXIF" in resolved.source
    assert resolved.describe().startswith("intrinsics assumed: ") and "fx = fy = " in resolved.describe()


@pytest.mark.parametrize(("tags", "why"), [
    ({FOCAL_LENGTH: 4.25}, "EXIF FocalLength=4.25 mm but no sensor size"),
    ({F35: 1}, "EXIF FocalLengthIn35mmFilm=1 mm ignored: fx = 1.15563 px gives a 173 deg field of view across this "
               "40x30 image, wider than any ordinary camera (<= 150 deg)"),
])
def test_unusable_exif_falls_back_to_the_default_and_says_why(tags, why, tmp_path):
    resolved = photo_intrinsics(save_photo(tmp_path / "p.jpg", 30, 40, exif_ifd=tags))
    assert resolved.intrinsics == default_intrinsics(30, 40)
    assert resolved.source.startswith("assumed: ") and why in resolved.source


def test_focal_length_in_millimetres_is_refused_with_the_conversion(tmp_path):
    with pytest.raises(ConfigError, match=r"fx = 26 px gives a 179 deg .*looks like millimetres.*"
                                          r"f_px = f_mm \* width_px / sensor_width_mm"):
        validate_intrinsics((26, 26, 1999.5, 1499.5), 3000, 4000)
    assert validate_intrinsics((3000, 3000, 1999.5, 1499.5), 3000, 4000) == (3000, 3000, 1999.5, 1499.5)
    with pytest.raises(ConfigError, match="fy = 4.25 px"):  # only fy in mm: a 9:16 photo 4000 px tall
        validate_intrinsics((3000, 4.25, 1124.5, 1999.5), 4000, 2250)
    photo = save_photo(tmp_path / "holiday.jpg", 30, 40)
    with pytest.raises(ConfigError, match=r"--intrinsics for holiday\.jpg: fx = 4\.25 px"):
        photo_intrinsics(photo, (4.25, 4.25, 19.5, 14.5))


def test_intrinsics_of_another_resolution_are_refused():
    nyu = (518.86, 519.47, 325.58, 253.74)  # 640x480 values on a 320x240 image: centre outside
    with pytest.raises(ConfigError, match=r"principal point \(325\.58, 253\.74\) lies outside this 320x240 image.*"
                                          "new_width / old_width"):
        validate_intrinsics(nyu, 240, 320)


def test_flying_pixels_at_a_depth_step_are_exactly_its_two_sides():
    depth = np.ones((20, 30), np.float32)
    depth[:, 15:] = 2.0  # a chair edge: columns 14 and 15 straddle it
    depth[5, 5] = np.nan  # a hole is not an edge, and does not make its neighbours one
    expected = np.zeros((20, 30), bool)
    expected[:, 14:16] = True
    np.testing.assert_array_equal(flying_pixels(depth), expected)
    gentle = np.ones((20, 30), np.float32)
    gentle[:, 15:] = 1.05  # 5 %: a surface, not an edge
    assert not flying_pixels(gentle).any()
    assert flying_pixels(gentle, max_jump=0.04)[:, 14:16].all()


def test_flying_pixel_threshold_follows_the_upsampling_of_large_images():
    """A 7 % step is no edge per pixel at NYU's 640 px, but is at 1280 px, where a jump spreads over 2 pixels."""
    for width, flagged in ((640, False), (1280, True)):
        depth = np.ones((8, width), np.float32)
        depth[:, width // 2:] = 1.07
        assert flying_pixels(depth).any() == flagged, width
    tall = np.ones((1280, 8), np.float32)  # the long side counts, whichever way the photo is held
    tall[640:] = 1.07
    assert flying_pixels(tall)[639:641].all()


def test_point_cloud_figure_draws_both_clouds_in_metres_on_the_same_axes():
    import matplotlib.pyplot as plt

    from zoedam_lib.viz import figure_note
    from zoedam_lib.viz.pointcloud import cloud_points, point_cloud_figure

    height, width = 60, 80
    camera = (50.0, 50.0, 39.5, 29.5)
    gt = np.full((height, width), PLANE_Z, np.float32)
    gt[:10] = np.nan  # no ground truth at the top
    pred = np.full((height, width), 2.5, np.float32)  # a wall predicted half a metre too far
    pred[:, 40:] = 1.0  # and a box in front of it on the right: columns 39 and 40 are flying pixels
    rgb = np.random.default_rng(0).random((height, width, 3))

    points, colours = cloud_points(pred, rgb, camera, max_points=500)
    assert 0 < len(points) <= 500 and colours.shape == points.shape and (colours <= 1).all()
    u = np.rint(50.0 * points[:, 0] / points[:, 2] + 39.5).astype(int)  # back to pixels
    v = np.rint(50.0 * points[:, 1] / points[:, 2] + 29.5).astype(int)
    assert (u % 4 == 0).all() and (v % 4 == 0).all()  # one grid: stride 4 is the smallest with 15x20 <= 500
    np.testing.assert_array_equal(points[:, 2], pred[v, u])  # each point at its pixel's depth
    assert not np.isin(u, [39, 40]).any()  # flying pixels left out
    gt_points, _ = cloud_points(gt, rgb, camera, max_points=500)
    assert (gt_points[:, 2] == PLANE_Z).all() and len(gt_points) < len(points)  # the NaN rows have no points

    fig = point_cloud_figure(rgb, {"prediction": pred, "ground truth": gt}, camera,
                             note="SynthRooms test image 0, preset quick", max_points=500)
    try:
        axes = fig.axes
        assert [ax.name for ax in axes] == ["3d", "3d"]
        assert [ax.get_title().split(":")[0] for ax in axes] == ["prediction", "ground truth"]
        for get in ("get_xlim", "get_ylim", "get_zlim"):
            assert getattr(axes[0], get)() == getattr(axes[1], get)(), get
        lo, hi = axes[0].get_ylim()  # depth (z, forward) is the plot's second axis
        assert lo <= 0 and hi >= 2.5  # from the camera to the farthest predicted point
        assert figure_note(fig) == "SynthRooms test image 0, preset quick"
    finally:
        plt.close(fig)
