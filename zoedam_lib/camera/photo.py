"""The camera of a user's photo, in pixels at its displayed (EXIF-rotated) size: given, from EXIF, or assumed.

Users of ZoeDepth, Depth Anything, Metric3D, UniDepth and Depth Pro keep reporting distorted point
clouds, nearly always from intrinsics that do not belong to the photo: a focal length in mm where
pixels belong, a principal point hard-coded for another resolution, one dataset's fx and fy scaled
separately to another aspect (a 16:9 photo stretched by a third). Here the intrinsics of a photo
are resolved in one order, and the answer says where it came from so every output can report it:

1. intrinsics the user gives (``--intrinsics FX FY CX CY``), checked to be pixels of this image;
2. the photo's EXIF: ``FocalLengthIn35mmFilm`` (0xA405), else ``FocalLength`` (0x920A, mm) times the
   sensor's pixel density ``FocalPlaneXResolution`` / ``FocalPlaneResolutionUnit`` (0xA20E/0xA210);
3. :func:`~zoedam_lib.camera.intrinsics.default_intrinsics`, NYU's field of view, stated as an assumption.
"""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from zoedam_lib.camera import exif as tag
from zoedam_lib.camera.exif import is_transposed
from zoedam_lib.camera.intrinsics import (
    NYU_CAMERA,
    Intrinsics,
    default_intrinsics,
    intrinsics_problem,
    validate_intrinsics,
)

FULL_FRAME_DIAGONAL_MM = math.hypot(36.0, 24.0)  # 43.27 mm: the diagonal of the 36 x 24 mm film frame
_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 0.001}  # FocalPlaneResolutionUnit: inch, cm (Exif); mm, um (TIFF/EP)
_UNIT_NAME = {2: "in", 3: "cm", 4: "mm", 5: "um"}


@dataclass(frozen=True)
class PhotoCamera:
    """A photo's pinhole camera and where it came from."""

    camera: Intrinsics  # fx, fy, cx, cy in pixels at the displayed (EXIF-rotated) height x width
    source: str  # completes "intrinsics ...": "from --intrinsics", "from EXIF FocalLengthIn35mmFilm=26 mm", ...
    kind: str = "default"  # one of camera.resolve.KINDS: given | dataset | exif | estimate | default

    @property
    def intrinsics(self) -> tuple[float, float, float, float]:
        """``(fx, fy, cx, cy)``, the form :func:`~zoedam_lib.camera.geometry.backproject` and the writers take."""
        return self.camera.as_tuple()

    def describe(self) -> str:
        """One line for reports: the source, then the values (ASCII, so it fits a PLY header too)."""
        fx, fy, cx, cy = self.intrinsics
        focal = f"fx = fy = {fx:.1f} px" if fx == fy else f"fx = {fx:.1f} px, fy = {fy:.1f} px"
        return f"intrinsics {self.source} ({focal}, cx = {cx:.1f}, cy = {cy:.1f})"


def photo_intrinsics(path: str | os.PathLike, given: Sequence[float] | None = None) -> PhotoCamera:
    """The camera of the photo at ``path``, at the size :func:`~zoedam_lib.io.images.read_image` returns it.

    ``given`` (fx, fy, cx, cy) wins and is checked by :func:`~zoedam_lib.camera.intrinsics.validate_intrinsics`
    (a :class:`~zoedam_lib.utils.errors.ConfigError` for millimetres, a typo or another resolution's values).
    EXIF values go through the same checks (:func:`~zoedam_lib.camera.intrinsics.intrinsics_problem`): a
    field of view over 150° or under 0.5° (a corrupt or placeholder tag such as 9999 or 65535 mm) is ignored,
    with the reason in the assumed source, which every output line and PLY header carries.
    The file is opened for its header only; call it after ``read_image`` succeeded.
    """
    with Image.open(path) as img:
        stored_w, stored_h = img.size
        exif = img.getexif()
        try:
            tags: dict[int, Any] = {**exif, **exif.get_ifd(tag.EXIF_IFD)}
        except (OSError, ValueError, SyntaxError, struct.error):  # a corrupt Exif sub-IFD: use what IFD0 has
            tags = dict(exif)
    transposed = is_transposed(tag.orientation(exif))  # IFD0 only, as the pixels are turned (camera.exif)
    height, width = (stored_w, stored_h) if transposed else (stored_h, stored_w)
    if given is not None:
        checked = validate_intrinsics(given, height, width, f"--intrinsics for {Path(path).name}")
        return PhotoCamera(Intrinsics(*checked, height, width), "from --intrinsics", "given")
    found = _exif_focal(tags, stored_h, stored_w, transposed)
    if isinstance(found, tuple):
        fx, fy, label = found
        return PhotoCamera(Intrinsics(fx, fy, (width - 1) / 2.0, (height - 1) / 2.0, height, width),
                           f"from EXIF {label}", "exif")
    return PhotoCamera(Intrinsics(*default_intrinsics(height, width), height, width),
                       f"assumed: NYU Depth v2's {NYU_CAMERA.hfov_deg:.1f} deg field of view across the long side, "
                       f"principal point at the centre ({found}; --intrinsics FX FY CX CY overrides)")


def _number(value: Any) -> float | None:
    """An EXIF value (int, IFDRational) as a finite positive float, or None (absent, 0/0, corrupt)."""
    try:
        x = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return x if math.isfinite(x) and x > 0 else None


def _exif_focal(tags: dict[int, Any], stored_h: int, stored_w: int, transposed: bool
                ) -> tuple[float, float, str] | str:
    """(fx, fy, label) at the displayed size from the EXIF tags, or why they give none.

    35 mm equivalent: that focal length gives a 36 x 24 mm frame the photo's *diagonal* angle of
    view (CIPA DC-008 Exif 2.3, tag 0xA405), so f_px = f35 · sqrt(W² + H²) / 43.27 mm, as Depth
    Pro's ``fpx_from_f35`` (apple/ml-depth-pro, src/depth_pro/utils.py). The diagonal does not
    change under rotation. Tried first: phones write it for the image as saved (crops and digital
    zoom included), while the focal-plane resolution often describes the full sensor readout.
    Focal plane: f_px = f_mm · pixels per mm on the sensor, for the stored image of
    ``PixelXDimension`` columns (scaled if the file was resized), x and y swapped by a 90° rotation.
    """
    height, width = (stored_w, stored_h) if transposed else (stored_h, stored_w)
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    reasons = []
    f35 = _number(tags.get(tag.FOCAL_35MM))
    if f35 is not None:
        f = f35 * math.hypot(width, height) / FULL_FRAME_DIAGONAL_MM
        label = f"FocalLengthIn35mmFilm={f35:g} mm"
        problem = intrinsics_problem((f, f, *centre), height, width)
        if problem is None:
            return f, f, label
        reasons.append(f"EXIF {label} ignored: {problem}")
    f_mm, x_res = _number(tags.get(tag.FOCAL_LENGTH)), _number(tags.get(tag.PLANE_X_RES))
    unit = tags.get(tag.PLANE_UNIT, 2)  # the Exif default unit is the inch
    if f_mm is not None and x_res is not None and unit in _UNIT_MM:
        y_res = _number(tags.get(tag.PLANE_Y_RES)) or x_res
        sx = stored_w / (_number(tags.get(tag.PIXEL_X_DIM)) or stored_w)  # focal-plane pixels → stored pixels
        sy = stored_h / (_number(tags.get(tag.PIXEL_Y_DIM)) or stored_h)
        fx, fy = f_mm * x_res / _UNIT_MM[unit] * sx, f_mm * y_res / _UNIT_MM[unit] * sy
        if transposed:
            fx, fy = fy, fx
        label = f"FocalLength={f_mm:g} mm x FocalPlaneXResolution={x_res:g} px/{_UNIT_NAME[unit]}"
        problem = intrinsics_problem((fx, fy, *centre), height, width)
        if problem is None:
            return fx, fy, label
        reasons.append(f"EXIF {label} ignored: {problem}")
    elif f_mm is not None:
        reasons.append(f"EXIF FocalLength={f_mm:g} mm but no sensor size to turn it into pixels")
    return "; ".join(reasons) or "no focal length in the EXIF"
