"""The canonical camera: depth expressed for one focal length, so metres hold on any camera.

One image cannot tell a room from a model of it twice as near, nor a wide lens from a near wall:
the apparent size of a thing is its size times ``f / d``. A network trained on one camera (NYU's
Kinect) therefore learns that camera's focal length ``f_train`` along with the scenes, and through a
lens of focal ``f`` its metres come out ``f_train / f`` too far. Metric3D (Yin et al., ICCV 2023,
§3.2 "canonical camera transformation"; ``training/mono/utils/transform.py``) removes the camera
from what is learned: every label is re-expressed for one *canonical* focal length ``f_c``,

    d_c = d · f_c / f          (what the network predicts)
    d   = d_c · f / f_c        (what a user gets, with the photo's own f)

with ``f`` the image's focal length in pixels *at the network's input size*. Then an image enlarged
r× (a lens r× longer) is, for the canonical camera, the same room r× nearer, which random zoom
augmentation (:mod:`zoedam_lib.data.zoom`) turns into training signal.

Here ``f_c`` is NYU Depth V2's Kinect resized to the network input (:func:`canonical_focal`), so a
NYU-camera image has ``d_c = d`` and the camera-blind recipe is the special case ``f = f_c``.
Non-square resizes scale fx and fy differently; ``f`` is their geometric mean after the resize.
The functions take floats or torch tensors alike (only arithmetic), so this module imports no torch.
"""

from __future__ import annotations

from typing import TypeVar

from zoedam_lib.camera.intrinsics import NYU_CAMERA

CANONICAL_DEFINITION = ("NYU Depth V2's Kinect (fx 518.86, fy 519.47 px at 640x480) resized to the network input; "
                        "canonical depth d_c = d * f_c / f with f = sqrt(fx * fy) at the network input")
CAMERA_MODES = ("blind", "canonical")  # blind: trained on one camera, as the paper; canonical: this module

Number = TypeVar("Number")  # float or torch.Tensor


def canonical_focal(img_size: tuple[int, int]) -> float:
    """``f_c`` in pixels for a network input of ``img_size`` (H, W): NYU's Kinect resized to it.

    422.1 px for the paper's 392×518, 104.1 px for the ``cpu`` preset's 98×126.
    """
    h, w = img_size
    return ((NYU_CAMERA.fx * w / NYU_CAMERA.width) * (NYU_CAMERA.fy * h / NYU_CAMERA.height)) ** 0.5


def focal_ratio(fx: Number, fy: Number, image_size: tuple[int, int], net_size: tuple[int, int],
                f_c: float) -> Number:
    """``f / f_c``: the image's focal length at the network input over the canonical one.

    ``fx``, ``fy`` are pixels at ``image_size`` (H, W); the network resizes the image to
    ``net_size``, which scales them by ``w / W`` and ``h / H``. Multiply a canonical depth by this
    ratio to get metres; divide a metric label by it to get the canonical label.
    """
    (H, W), (h, w) = image_size, net_size
    return (fx * (w / W) * fy * (h / H)) ** 0.5 / f_c


def to_canonical(depth: Number, ratio: Number) -> Number:
    """Metric depth → canonical depth, ``d_c = d · f_c / f = d / ratio`` (the training label transform)."""
    return depth / ratio


def from_canonical(depth_c: Number, ratio: Number) -> Number:
    """Canonical depth → metres, ``d = d_c · f / f_c = d_c · ratio`` (free at inference: one multiply)."""
    return depth_c * ratio
