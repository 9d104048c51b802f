"""Pinhole cameras in pixels: NYU's Kinect, the default for unknown photos, the one validator.

A metric depth model learns the camera along with the scenes: the same room seen through a
shorter focal length looks farther away. SynthRooms therefore states each domain's camera as a
focal-length factor relative to NYU's, and this module turns that factor into pixels at any
image size. Intrinsics are plain ``(fx, fy, cx, cy)`` tuples in pixels, at the resolution of the
image they describe, wherever they are passed around (ray casting, point clouds, HDF5
attributes); :class:`Intrinsics` adds the resolution they hold at, which a bare tuple cannot say.

Back-projection to 3-D lives beside this module, in :mod:`zoedam_lib.camera.geometry`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zoedam_lib.utils.errors import ConfigError

MAX_FOV_DEG = 150.0  # wider than any ordinary (non-fisheye) camera: focal lengths implying more are refused
#: Narrower than any camera lens short of a telescope, on either axis. The longest lenses in use see more:
#: a 1200 mm super-telephoto on full frame 1.1 deg across its short side, a phone's 10x periscope (240 mm
#: equivalent) 5.7 deg, a bridge camera's 3000 mm-equivalent end about 0.5 deg. Below that the value is a
#: corrupt or placeholder tag (FocalLengthIn35mmFilm = 9999, or 65535, the 16-bit maximum: 0.2 deg and less),
#: a focal length of a far larger image, or a typo; and since a camera-aware model's depth is proportional to
#: the focal length, such a value would put a room kilometres away.
MIN_FOV_DEG = 0.5


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera at a stated resolution; scale it with :meth:`scaled` before use at another size."""

    fx: float      # focal length along x, pixels
    fy: float      # focal length along y, pixels
    cx: float      # principal point x, pixels from the left edge
    cy: float      # principal point y, pixels from the top edge
    height: int    # image height these values hold at, pixels
    width: int     # image width these values hold at, pixels

    def scaled(self, height: int, width: int, focal_scale: float = 1.0) -> Intrinsics:
        """The same camera for an image resized to ``height`` x ``width``, focal lengths times ``focal_scale``.

        ``focal_scale < 1`` is a wider lens around the same principal point (the image is not cropped).
        """
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * focal_scale * sx, self.fy * focal_scale * sy, self.cx * sx, self.cy * sy,
                          height, width)

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(fx, fy, cx, cy)``, the form the renderer, the point-cloud writer and the data files use."""
        return (self.fx, self.fy, self.cx, self.cy)

    @property
    def hfov_deg(self) -> float:
        """Horizontal field of view in degrees (for a centred principal point)."""
        return math.degrees(2 * math.atan(self.width / (2 * self.fx)))


NYU_CAMERA = Intrinsics(fx=518.86, fy=519.47, cx=325.58, cy=253.74, height=480, width=640)  # Kinect v1 RGB
NYU_INTRINSICS = NYU_CAMERA.as_tuple()  # fx, fy, cx, cy at 480x640


def scaled_intrinsics(height: int, width: int, focal_scale: float = 1.0) -> tuple[float, float, float, float]:
    """NYU's ``(fx, fy, cx, cy)`` for an image resized from 480x640 to ``height`` x ``width``.

    ``focal_scale`` multiplies both focal lengths (a different lens on the same sensor); with the
    default 1.0 the values are bit-identical to NYU's scaled camera, which SynthRooms' files pin.
    This is the camera of *resized NYU frames*; a photo of another aspect needs
    :func:`default_intrinsics`, which keeps one focal length for both axes.
    """
    return NYU_CAMERA.scaled(height, width, focal_scale).as_tuple()


def default_intrinsics(height: int, width: int) -> tuple[float, float, float, float]:
    """The camera assumed for a photo whose camera is unknown: NYU's field of view over the long side.

    One focal length for both axes (square pixels, as in every photo), ``fx = fy = 518.86 · long
    side / 640``: a 63.3° field of view across the long side, NYU Depth v2's horizontal one. Why
    NYU's: a metric depth model trained on NYU-layout data (SynthRooms renders NYU's camera) reads
    distance off apparent size as if the photo came through that camera, so back-projecting with the
    same field of view gives the shapes the model predicted (a cube stays a cube); it is also close
    to a phone's main camera (26 mm equivalent: 67° across a 4:3 photo). Why the long side: a
    portrait photo is a landscape sensor turned by EXIF rotation, which keeps its focal length.
    The principal point is the image centre, ``((width - 1) / 2, (height - 1) / 2)`` with pixel
    centres at integer coordinates (:func:`~zoedam_lib.camera.geometry.backproject`'s convention).
    """
    focal = NYU_CAMERA.fx * max(height, width) / NYU_CAMERA.width
    return focal, focal, (width - 1) / 2.0, (height - 1) / 2.0


def field_of_view_deg(focal: float, size: int) -> float:
    """The field of view in degrees across ``size`` pixels for a focal length of ``focal`` pixels."""
    return math.degrees(2 * math.atan(size / (2 * focal)))


def fov_problem(fx: float, fy: float, height: int, width: int) -> str | None:
    """Why focal lengths cannot belong to a camera at this image size: a field of view over :data:`MAX_FOV_DEG`
    or under :data:`MIN_FOV_DEG` on either axis, e.g. "fx = 12 px gives a 173 deg field of view across this
    640x480 image, wider than any ordinary camera (<= 150 deg)"; None if plausible."""
    for axis, focal, size in (("x", fx, width), ("y", fy, height)):
        fov = field_of_view_deg(focal, size)
        shown = f"{fov:.0f}" if fov >= 10 else f"{fov:.2g}"  # 179 deg, 2.5 deg, 0.21 deg
        where = f"f{axis} = {focal:g} px gives a {shown} deg field of view across this {width}x{height} image"
        if fov > MAX_FOV_DEG:
            return f"{where}, wider than any ordinary camera (<= {MAX_FOV_DEG:.0f} deg)"
        if fov < MIN_FOV_DEG:
            return f"{where}, narrower than any camera lens short of a telescope (>= {MIN_FOV_DEG:g} deg)"
    return None


def camera_row_problem(fx: float, fy: float, height: int | None = None, width: int | None = None) -> str | None:
    """Why one ``(fx, fy)`` row of a camera-aware model's ``camera`` input would set a wrong scale; None if it will
    not. The metres are canonical depth × f / f_c, so a row is NaN, NaN (unknown: the camera head estimates it)
    or two finite focal lengths > 0: a half-known row (one NaN) or one negative focal length silently became the
    estimate, 0 gave zero depth, inf infinite depth, two negative ones the positive pair's. With the input's
    size also the field-of-view check (:func:`fov_problem`). Shared by the PyTorch forward
    (``ZoeDAM.to_metric``) and the exported runners (``inference.exported.base``).
    """
    if math.isnan(fx) and math.isnan(fy):
        return None
    if not (math.isfinite(fx) and math.isfinite(fy) and fx > 0 and fy > 0):
        return f"({fx:g}, {fy:g}) is neither two finite focal lengths > 0 nor NaN, NaN"
    return None if height is None or width is None else fov_problem(fx, fy, height, width)


def intrinsics_problem(intrinsics: Sequence[float], height: int | None = None, width: int | None = None
                       ) -> str | None:
    """Why ``(fx, fy, cx, cy)`` cannot be pixels of a ``height`` x ``width`` image, in a few words; None if they
    can. The checks of :func:`validate_intrinsics`, for callers that fall back instead of refusing (EXIF)."""
    try:
        fx, fy, cx, cy = (float(v) for v in intrinsics)
    except (TypeError, ValueError):
        return f"intrinsics must be four numbers fx, fy, cx, cy (pixels), got {intrinsics!r}"
    if not (np.isfinite([fx, fy, cx, cy]).all() and fx > 0 and fy > 0):
        return f"intrinsics must be finite with fx, fy > 0 (pixels), got {(fx, fy, cx, cy)}"
    if height is None or width is None:
        return None
    problem = fov_problem(fx, fy, height, width)
    if problem is not None:
        return problem
    if not (-0.5 <= cx <= width - 0.5 and -0.5 <= cy <= height - 0.5):
        return f"principal point ({cx:g}, {cy:g}) lies outside this {width}x{height} image"
    return None


def validate_intrinsics(intrinsics: Sequence[float], height: int | None = None, width: int | None = None,
                        where: str = "intrinsics") -> tuple[float, float, float, float]:
    """``(fx, fy, cx, cy)`` as floats, refused with a :class:`ConfigError` when they cannot be pixels of this image.

    The one validator of intrinsics (flags, dataset files, folder datasets, EXIF through
    :func:`intrinsics_problem`, writers). Always: four finite numbers with fx, fy > 0. With the image
    size also a plausible field of view in both directions (:func:`fov_problem`): over
    :data:`MAX_FOV_DEG` is almost always millimetres typed where pixels belong (26 mm on a 4000-px-wide
    photo would be a 179° view), or intrinsics of a smaller image; under :data:`MIN_FOV_DEG` a value of
    a far larger image or a typo (``1e300``), which would scale a camera-aware model's depth by as much;
    a principal point outside the image means intrinsics of another resolution. ``where`` names the
    source in the message (e.g. ``"--intrinsics"``).
    """
    problem = intrinsics_problem(intrinsics, height, width)
    if problem is None:
        return tuple(float(v) for v in intrinsics)  # type: ignore[return-value]
    if problem.startswith("principal point"):
        hint = ("the intrinsics belong to another resolution. Scale fx, cx by new_width / old_width and fy, cy by "
                "new_height / old_height (sizes after EXIF rotation), or leave the intrinsics out.")
    elif "wider than" in problem:
        hint = ("it looks like millimetres, or intrinsics of a smaller image. Give pixels at the image's own "
                "resolution: f_px = f_mm * width_px / sensor_width_mm (e.g. 4.25 mm * 4032 px / 5.6 mm = 3060 px), "
                "or leave the intrinsics out to use the photo's EXIF focal length.")
    elif "narrower than" in problem:
        hint = ("it looks like intrinsics of a far larger image, or a typo. Give pixels at the image's own "
                "resolution (a phone photo 4032 px wide: about 3000 px), or leave the intrinsics out.")
    else:
        raise ConfigError(f"{where}: {problem}")
    raise ConfigError(f"{where}: {problem}: {hint}")
