"""Where an image's focal length comes from: one order for every entry point, and a record of the answer.

A camera-aware model (:mod:`zoedam_lib.camera.canonical`) turns canonical depth into metres with
the image's focal length, so a wrong focal length is a wrong scale: every output says which
source was used. The order, first available wins (:data:`KINDS`):

1. ``given``: intrinsics the user passes (``--intrinsics``, ``camera=``), validated;
2. ``dataset``: the data file's own (an NYU-layout file's ``intrinsics`` dataset or attribute; a
   folder dataset's ``dataset.json``/manifest), or NYU's Kinect for an NYU-layout file recording none
   (the official NYU file: its camera is known, not assumed);
3. ``exif``: a photo's EXIF focal length (:func:`~zoedam_lib.camera.photo.photo_intrinsics`);
4. ``estimate``: the model's camera head (:mod:`zoedam_lib.models.layers.camera_head`), if it has one;
5. ``default``: NYU's field of view across the long side (:func:`~zoedam_lib.camera.intrinsics.default_intrinsics`).

A camera-blind model (the paper's recipe) ignores all of it for the depth; the camera then only
places the point cloud, and the output says so.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from zoedam_lib.camera.intrinsics import (
    NYU_CAMERA,
    Intrinsics,
    default_intrinsics,
    scaled_intrinsics,
    validate_intrinsics,
)
from zoedam_lib.camera.photo import PhotoCamera, photo_intrinsics

KINDS = ("given", "dataset", "exif", "estimate", "default")
ESTIMATED = "estimated by the model's camera head (no camera given and no EXIF focal length; --intrinsics overrides)"


def item_camera(intrinsics: Sequence[float] | None, height: int, width: int, nyu_layout: bool) -> PhotoCamera:
    """A dataset item's camera at its read size: its own intrinsics, NYU's Kinect for an NYU-layout file
    without any, else the default (a folder dataset that records none)."""
    if intrinsics is not None:  # the file's own: impossible values are an error (they would set the scale)
        checked = validate_intrinsics(intrinsics, height, width, "the dataset's intrinsics")
        return PhotoCamera(Intrinsics(*checked, height, width), "from the dataset's intrinsics", "dataset")
    if nyu_layout:
        return PhotoCamera(Intrinsics(*scaled_intrinsics(height, width), height, width),
                           "NYU Depth V2's Kinect (an NYU-layout file that records no intrinsics)", "dataset")
    return PhotoCamera(Intrinsics(*default_intrinsics(height, width), height, width),
                       f"assumed: NYU Depth v2's {NYU_CAMERA.hfov_deg:.1f} deg field of view (the dataset records "
                       "no intrinsics)", "default")


def photo_camera(path: str | os.PathLike, given: Sequence[float] | None = None,
                 can_estimate: bool = False) -> PhotoCamera:
    """A photo's camera by :data:`KINDS`: given, EXIF, then ``estimate`` when the model can (its
    intrinsics are then the default's until :func:`estimated` fills in the model's answer), else the default."""
    camera = photo_intrinsics(path, given)
    if camera.kind == "default" and can_estimate:
        return PhotoCamera(camera.camera, f"{ESTIMATED}; {camera.source.removeprefix('assumed: ')}", "estimate")
    return camera


def estimated(camera: PhotoCamera, focal_ratio: float, f_c: float, net_size: tuple[int, int]) -> PhotoCamera:
    """``camera`` with the focal length the model estimated: ``focal_ratio`` = f / f_c at the network
    input ``net_size`` (H, W), mapped back to the image's pixels."""
    c = camera.camera
    f = focal_ratio * f_c
    fx, fy = f * c.width / net_size[1], f * c.height / net_size[0]
    return PhotoCamera(Intrinsics(fx, fy, c.cx, c.cy, c.height, c.width),
                       ESTIMATED if camera.kind == "estimate" else camera.source, camera.kind)


def camera_line(aware: bool, can_estimate: bool) -> str:
    """What a run's depth does with cameras, for the line ``predict`` and the app print first."""
    if not aware:
        return ("camera-blind model: its depth assumes the camera it was trained on (NYU's); a photo's camera only "
                "places the point cloud")
    order = "--intrinsics, else the photo's EXIF, else " + ("the model's estimate" if can_estimate else
                                                              "NYU's field of view (this model has no camera head)")
    return f"camera-aware model: depth scaled by each photo's focal length ({order})"
