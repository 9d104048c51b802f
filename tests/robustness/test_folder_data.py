"""Folder data that leaks or lies: a manifest listing a pair twice, a hand-edited split file, depth saved as an
8-bit visualisation or in another unit than declared (TUM's 5000 per metre, centimetres), and photos whose
EXIF orientation the reader and the header check would read differently."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from folder_helpers import make_folder

from zoedam_lib.data.folder.dataset import FolderDataset
from zoedam_lib.data.splits import load_or_create_split
from zoedam_lib.utils.errors import DataFileError


def test_duplicate_manifest_rows_are_skipped_not_split_into_train_and_test(tmp_path: Path) -> None:
    """A row repeated in manifest.csv (or one file in two rows) made one pair two items, which the random split
    could put in train and in test. The repeat is skipped and named; each file is one item."""
    make_folder(tmp_path, n=4)
    rows = [f"images/a{i}.png,depth/a{i}.png" for i in range(4)]
    (tmp_path / "manifest.csv").write_text("image,depth\n" + "\n".join([*rows, rows[0], "images/a1.png,depth/a2.png"]))
    with pytest.warns(UserWarning, match="skipped 2 file"):
        data = FolderDataset(tmp_path / "manifest.csv")
    assert len(data) == 4 and [data.pair(i).name for i in range(4)] == [f"images/a{i}.png" for i in range(4)]
    assert data.skipped == [("manifest.csv line 6", "a file already listed by manifest.csv line 2: each file "
                                                     "belongs to one pair"),
                            ("manifest.csv line 7", "a file already listed by manifest.csv line 3: each file "
                                                     "belongs to one pair")]


@pytest.mark.parametrize(("part", "edit", "message"), [
    ("test", lambda idx: [-1, *idx[1:]], r"its test part has indices outside 0\.\.11: \[-1\]"),
    ("test", lambda idx: [*idx, 99], r"its test part has indices outside 0\.\.11: \[99\]"),
    ("test", lambda idx: [*idx, idx[0]], r"its test part has repeated indices"),
], ids=["negative", "out-of-range", "repeated"])
def test_hand_edited_split_with_bad_indices_is_refused(tmp_path: Path, part, edit, message) -> None:
    """A negative index scored a training item as test (Python reads -1 as the last item); one past the end gave
    a raw IndexError later. The saved split is refused when read, naming the part and what to do."""
    data = make_folder(tmp_path / "data", n=12)
    split = load_or_create_split(data, "paper", 0, tmp_path / "splits")
    saved = next((tmp_path / "splits").glob("*.json"))
    record = json.loads(saved.read_text())
    record[part] = edit(record[part])
    assert record[part] != list(getattr(split, part))
    saved.write_text(json.dumps(record))
    with pytest.raises(DataFileError, match=message) as caught:
        load_or_create_split(data, "paper", 0, tmp_path / "splits")
    assert "fix the file, or delete it to make a new split" in str(caught.value)


def test_png_exif_after_the_image_data_rotates_the_header_size_too(tmp_path: Path) -> None:
    """A PNG whose eXIf chunk follows the pixels (PIL finds it only after decoding) was rotated by the reader but
    not by the header check: a 6×8 photo read as 8×6 beside its 6×8 depth (square pairs: silently misregistered).
    The header check now finds the chunk without decoding, so the pair's size mismatch is reported."""
    from PIL import Image

    from zoedam_lib.data.depth_files import image_size
    from zoedam_lib.io.images import read_image

    path = tmp_path / "late.png"
    Image.fromarray(np.zeros((6, 8, 3), np.uint8)).save(path)
    exif = Image.Exif()
    exif[0x0112] = 6
    _append_chunk_before_iend(path, b"eXIf", exif.tobytes().removeprefix(b"Exif\0\0"))
    with Image.open(path) as img:
        assert "exif" not in img.info  # PIL's header does not hold it: it comes after IDAT
    assert read_image(path).shape[:2] == (8, 6)
    assert image_size(path) == (8, 6)


def _append_chunk_before_iend(path: Path, kind: bytes, data: bytes) -> None:
    import struct
    import zlib

    raw = path.read_bytes()
    assert raw[-12:-8] == b"\0\0\0\0" and raw[-8:-4] == b"IEND"
    chunk = struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(raw[:-12] + chunk + raw[-12:])


def test_orientation_in_the_exif_sub_ifd_neither_turns_the_pixels_nor_the_camera(tmp_path: Path) -> None:
    """An Orientation tag in the Exif sub-IFD (not IFD0) is ignored by the reader, as by every viewer, but it
    overrode IFD0 for the intrinsics: a 30×40 photo got a camera for 40×30 (cx, cy swapped). Both follow
    IFD0 now, through one function (camera.exif.orientation)."""
    from PIL import Image

    from zoedam_lib.camera.photo import photo_intrinsics
    from zoedam_lib.io.images import read_image

    exif = Image.Exif()
    sub = exif.get_ifd(0x8769)
    sub[0x0112], sub[0xA405] = 6, 26
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(tmp_path / "sub.jpg", exif=exif)
    camera = photo_intrinsics(tmp_path / "sub.jpg").camera
    assert read_image(tmp_path / "sub.jpg").shape[:2] == (camera.height, camera.width) == (30, 40)
    assert (camera.cx, camera.cy) == (19.5, 14.5)
