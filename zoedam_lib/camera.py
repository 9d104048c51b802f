"""Pinhole camera intrinsics: NYU Depth V2's Kinect and the cameras derived from it.

A metric depth model learns the camera along with the scenes: the same room seen through a
shorter focal length looks farther away. SynthRooms therefore states each domain's camera as a
focal-length factor relative to NYU's, and this module turns that factor into pixels at any
image size. Intrinsics are plain ``(fx, fy, cx, cy)`` tuples in pixels wherever they are passed
around (ray casting, point clouds, HDF5 attributes); :class:`Intrinsics` adds the resolution
they hold at, which a bare tuple cannot say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


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
    """
    return NYU_CAMERA.scaled(height, width, focal_scale).as_tuple()
