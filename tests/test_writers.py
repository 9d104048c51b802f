"""Depth writers: the 16-bit PNG round trip, the colour preview and the PLY point cloud."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from zoedam_lib.io.writers import colorize, read_depth_png16, write_color_png, write_depth_png16, write_ply


def read_ply(path) -> tuple[list[str], np.ndarray]:
    """Header lines and the vertex array of a binary little-endian PLY, parsed independently of the writer."""
    data = path.read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    header = data[:end].decode("ascii").splitlines()
    assert header[:2] == ["ply", "format binary_little_endian 1.0"]
    n = int(next(line for line in header if line.startswith("element vertex")).split()[-1])
    props = [tuple(line.split()[1:]) for line in header if line.startswith("property")]
    assert props == [("float", "x"), ("float", "y"), ("float", "z"),
                     ("uchar", "red"), ("uchar", "green"), ("uchar", "blue")]
    dtype = np.dtype([("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1")])
    assert len(data) - end == n * dtype.itemsize, "body size does not match the vertex count"
    return header, np.frombuffer(data[end:], dtype=dtype)


def test_depth_png16_round_trip_to_1mm(tmp_path):
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.0004, 12.0, size=(37, 53)).astype(np.float32)
    depth[0, :5] = [np.nan, np.inf, 0.0, -1.0, 70.0]  # four invalid, one beyond 65.535 m
    write_depth_png16(tmp_path / "d.png", depth)
    with Image.open(tmp_path / "d.png") as img:
        raw = np.asarray(img)
        assert img.format == "PNG" and img.size == (53, 37)
    assert raw.dtype in (np.uint16, np.int32) and raw[0, :5].tolist() == [0, 0, 0, 0, 65535]
    back = read_depth_png16(tmp_path / "d.png")
    assert back.dtype == np.float32 and back.shape == depth.shape
    assert np.isnan(back[0, :4]).all() and back[0, 4] == pytest.approx(65.535)
    ok = np.ones_like(depth, dtype=bool)
    ok[0, :5] = False
    assert np.abs(back[ok] - depth[ok]).max() <= 0.0005 + 1e-6  # rounded to the nearest millimetre
    assert np.all(back[ok] >= 0.001)  # tiny valid depths stay valid (1 mm), never 0 = invalid
    assert not list(tmp_path.glob(".*.tmp")), "atomic write left a temporary file"


def test_color_png_is_8bit_rgb(tmp_path):
    depth = np.tile(np.linspace(1.0, 5.0, 40, dtype=np.float32), (30, 1))
    depth[0, 0] = np.nan
    write_color_png(tmp_path / "c.png", depth)
    with Image.open(tmp_path / "c.png") as img:
        assert img.mode == "RGB" and img.size == (40, 30)
        rgb = np.asarray(img)
    assert rgb.dtype == np.uint8 and rgb.shape == (30, 40, 3)
    assert rgb[0, 0].tolist() == [0, 0, 0]  # invalid pixel is black
    assert not np.array_equal(rgb[5, 1], rgb[5, -1])  # near and far get different colours
    fixed = colorize(depth, vmin=6.0, vmax=10.0)  # every depth below vmin: clipped to the bottom colour
    assert np.array_equal(fixed[5, 1], fixed[5, -1])


def test_ply_one_vertex_per_valid_pixel_and_plane_back_projects(tmp_path):
    height, width = 24, 32
    fx, fy, cx, cy = 30.0, 28.0, 15.5, 11.0
    v, u = np.mgrid[0:height, 0:width].astype(np.float64)
    # the plane X + 2Y + 4Z = 10 seen by a pinhole camera: Z = 10 / (4 + (u-cx)/fx + 2(v-cy)/fy)
    depth = (10.0 / (4.0 + (u - cx) / fx + 2.0 * (v - cy) / fy)).astype(np.float32)
    depth[3, 4], depth[5, 6], depth[7, 8], depth[9, 10] = np.nan, 0.0, -2.0, np.inf
    rgb = np.stack([u, v, u + v], axis=-1).astype(np.uint8)

    n = write_ply(tmp_path / "p.ply", depth, rgb, (fx, fy, cx, cy))
    _, verts = read_ply(tmp_path / "p.ply")
    assert n.points == len(verts) == height * width - 4 and n.flying == 0  # a smooth plane has no depth edge
    x, y, z = (verts[k].astype(np.float64) for k in ("x", "y", "z"))
    assert np.allclose(x + 2 * y + 4 * z, 10.0, atol=1e-4)
    # pixel centres at integer coordinates: the vertex of pixel (u, v) projects back onto (u, v)
    uu, vv = fx * x / z + cx, fy * y / z + cy
    assert np.allclose(uu, np.round(uu), atol=1e-3) and np.allclose(vv, np.round(vv), atol=1e-3)
    cols, rows = np.round(uu).astype(int), np.round(vv).astype(int)
    assert np.allclose(z, depth[rows, cols], rtol=1e-6)
    assert np.array_equal(verts["red"], cols) and np.array_equal(verts["green"], rows)
    assert np.array_equal(verts["blue"], (cols + rows).astype(np.uint8))
    assert not ((rows == 3) & (cols == 4)).any()  # the NaN pixel has no vertex


def test_ply_principal_point_is_on_the_optical_axis(tmp_path):
    depth = np.full((5, 7), 2.0, np.float32)
    write_ply(tmp_path / "p.ply", depth, np.zeros((5, 7, 3), np.uint16), (10.0, 10.0, 3.0, 2.0))
    _, verts = read_ply(tmp_path / "p.ply")
    centre = verts[2 * 7 + 3]  # row-major order: pixel (u=3, v=2)
    assert (centre["x"], centre["y"], centre["z"]) == (0.0, 0.0, 2.0)
    assert verts[0]["x"] == pytest.approx(-0.6) and verts[0]["y"] == pytest.approx(-0.4)


def test_ply_rejects_mismatched_colour(tmp_path):
    with pytest.raises(ValueError, match="does not match"):
        write_ply(tmp_path / "p.ply", np.ones((4, 4)), np.zeros((4, 5, 3), np.uint8), (1, 1, 0, 0))
    assert not (tmp_path / "p.ply").exists()


def test_ply_drops_flying_pixels_at_a_step_and_keeps_them_on_request(tmp_path):
    depth = np.ones((20, 30), np.float32)
    depth[:, 15:] = 2.0  # foreground | background: columns 14 and 15 straddle the edge
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = np.arange(30)  # red = column, to find each point's pixel
    counts = write_ply(tmp_path / "p.ply", depth, rgb, (25.0, 25.0, 14.5, 9.5))
    header, verts = read_ply(tmp_path / "p.ply")
    assert counts == (20 * 28, 2 * 20) and len(verts) == 20 * 28
    assert sorted(set(verts["red"].tolist())) == [c for c in range(30) if c not in (14, 15)]
    assert "comment flying pixels dropped 40 (relative depth jump over 10% to a 4-neighbour)" in header
    kept = write_ply(tmp_path / "all.ply", depth, rgb, (25.0, 25.0, 14.5, 9.5), max_jump=None)
    header, verts = read_ply(tmp_path / "all.ply")
    assert kept == (20 * 30, 0) and len(verts) == 20 * 30 and "comment flying pixels kept" in header


def test_ply_header_records_the_intrinsics_and_their_source(tmp_path):
    depth = np.full((6, 8), 3.0, np.float32)
    write_ply(tmp_path / "p.ply", depth, np.zeros((6, 8, 3), np.uint8), (7.5, 7.25, 3.5, 2.5),
              source="from EXIF FocalLengthIn35mmFilm=26 mm")
    header, _ = read_ply(tmp_path / "p.ply")
    assert "comment intrinsics fx 7.5 fy 7.25 cx 3.5 cy 2.5" in header
    assert "comment intrinsics from EXIF FocalLengthIn35mmFilm=26 mm" in header
