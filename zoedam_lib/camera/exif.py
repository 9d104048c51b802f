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


def orientation(exif: Image.Exif) -> object:
    """The Orientation that turns the pixels: IFD0's, as ``ImageOps.exif_transpose`` reads it. A camera that
    also writes one in the Exif sub-IFD does not change how the image is displayed, so the size the
    intrinsics belong to must not follow it either."""
    return exif.get(ORIENTATION, 1)


def header_orientation(img: Image.Image) -> object:
    """EXIF orientation as :func:`~zoedam_lib.io.images.read_image` applies it, without decoding the pixels.

    A PNG's ``getexif()`` would decode the pixels to find an eXIf chunk placed after them (most of
    the time of opening a dataset); the reader does decode, and rotates by it. So the chunks of such
    a PNG are walked here by their headers (a seek over each), and the same orientation is found.
    """
    if img.format == "JPEG":
        return orientation(img.getexif())
    exif = Image.Exif()
    data = img.info.get("exif")
    if data is None and img.format == "PNG" and getattr(img, "filename", None):
        data = _png_exif_chunk(img.filename)
    if data is not None:
        exif.load(data)
    return orientation(exif)


def _png_exif_chunk(path: str) -> bytes | None:
    """The data of a PNG's eXIf chunk wherever it lies (None without one), read by seeking from chunk to chunk."""
    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            return None
        while len(head := f.read(8)) == 8:
            length, kind = int.from_bytes(head[:4], "big"), head[4:]
            if kind == b"eXIf":
                return b"Exif\x00\x00" + f.read(length)
            if kind == b"IEND":
                return None
            f.seek(length + 4, 1)  # the data and its CRC
    return None
