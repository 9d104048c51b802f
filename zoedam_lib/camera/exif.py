"""The EXIF tags the project reads, in one table: orientation (which turns the stored image) and the
lens tags a photo's camera comes from (:mod:`.photo`).

Orientations 5-8 turn the stored image by 90° (with or without a mirror), so they swap its width
and height: the displayed image's size, and the axes the focal lengths belong to, are the stored
ones transposed. PIL's ``ImageOps.exif_transpose`` applies the same table to the pixels.
"""

from __future__ import annotations

from PIL import Image

ORIENTATION = 0x0112  # IFD0 Orientation: 1 = as stored, 2-8 = mirrored and/or rotated
TRANSPOSED_ORIENTATIONS = frozenset({5, 6, 7, 8})  # orientations that swap the stored width and height
EXIF_IFD = 0x8769  # pointer to the Exif sub-IFD, where cameras store the lens tags
FOCAL_LENGTH, FOCAL_35MM = 0x920A, 0xA405
PLANE_X_RES, PLANE_Y_RES, PLANE_UNIT = 0xA20E, 0xA20F, 0xA210
PIXEL_X_DIM, PIXEL_Y_DIM = 0xA002, 0xA003  # the stored image size the focal-plane resolution refers to


def is_transposed(orientation: object) -> bool:
    """Whether an EXIF orientation value swaps the stored width and height."""
    return orientation in TRANSPOSED_ORIENTATIONS


def header_orientation(img: Image.Image) -> int:
    """EXIF orientation from what the header already holds: a PNG's ``getexif()`` would decode the pixels
    to look for an eXIf chunk after them (most of the time of opening a dataset)."""
    if img.format == "JPEG":
        return img.getexif().get(ORIENTATION, 1)
    exif = Image.Exif()
    if "exif" in img.info:
        exif.load(img.info["exif"])
    return exif.get(ORIENTATION, 1)
