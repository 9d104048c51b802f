"""Cameras: pinhole intrinsics and the one validator (:mod:`.intrinsics`), a photo's camera from
flags, EXIF or the default (:mod:`.photo`, :mod:`.exif`), depth to 3-D (:mod:`.geometry`).
"""
