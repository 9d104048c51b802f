"""Folder data that leaks or lies: a manifest listing a pair twice, a hand-edited split file, depth saved as an
8-bit visualisation or in another unit than declared (TUM's 5000 per metre, centimetres), and photos whose
EXIF orientation the reader and the header check would read differently."""

from __future__ import annotations

import json
import re
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


# --------------------------------------------------------------------------- depth units that pass as millimetres


def _rooms(root: Path, per_metre: float, lo: float = 0.5, hi: float = 9.0, spec: dict | None = None,
           n: int = 4) -> Path:
    """n pairs whose true depths are uniform in lo..hi m, stored as 16-bit integers of 1/per_metre m."""
    from folder_helpers import rgb, write_png16
    from PIL import Image

    for i in range(n):
        (root / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb(i, (24, 32))).save(root / "images" / f"a{i}.png")
        depth = np.random.default_rng([3, i]).uniform(lo, hi, size=(24, 32))
        write_png16(root / "depth" / f"a{i}.png", np.rint(depth * per_metre))
    if spec is not None:
        (root / "dataset.json").write_text(json.dumps(spec))
    return root


def test_eight_bit_depth_is_refused(tmp_path: Path) -> None:
    """An 8-bit 0-255 depth visualisation trained as 0.125 m rooms (255 read as mm): refused when opened."""
    from PIL import Image

    root = make_folder(tmp_path, n=2)
    Image.fromarray(np.full((6, 8), 200, np.uint8)).save(root / "depth" / "a1.png")
    with pytest.raises(DataFileError, match=r"a1.png is an 8-bit PNG: 256 levels cannot hold metric depth, so this is "
                                            r"a depth visualisation .* a 16-bit PNG with its unit"):
        FolderDataset(root)


@pytest.mark.parametrize(("per_metre", "lo", "hi", "found", "guess"), [
    (5000, 0.5, 3.0, r"a median depth of 8\.\d+ m is implausible for indoor scenes", "TUM's 1/5000 m"),
    (100, 0.5, 9.0, r"a median depth of 0\.4\d+ m is implausible for indoor scenes", "KITTI's 1/256 m"),
], ids=["tum-as-mm", "cm-as-mm"])
def test_median_implausible_for_the_scene_type_is_an_error(tmp_path, per_metre, lo, hi, found, guess) -> None:
    """TUM's 5000 units per metre read as mm (5× too far) and centimetres read as mm (0.3-0.9 m rooms) passed every
    per-file check. Their median is implausible for indoor scenes (0.5-8 m): an error naming a unit that fits
    (the one nearest a typical 2.5 m; centimetres' 4.5 m loses to KITTI's 1.8 m) and the ``scene`` key; declared
    right (``depth_unit: tum``, ``depth_scale: 0.01``) they read the true metres."""
    root = _rooms(tmp_path / "d", per_metre, lo, hi)
    with pytest.raises(DataFileError, match="wrong depth unit") as caught:
        FolderDataset(root)
    message = str(caught.value)
    assert re.search(found, message) and f"The values look like {guess}" in message, message
    assert "\"scene\": 'close-range' | 'indoor' | 'outdoor' in dataset.json" in message
    unit = {"depth_unit": "tum"} if per_metre == 5000 else {"depth_scale": 0.01}
    (root / "dataset.json").write_text(json.dumps(unit))
    data = FolderDataset(root)
    truth = np.rint(np.random.default_rng([3, 0]).uniform(lo, hi, size=(24, 32)) * per_metre) / per_metre
    assert np.allclose(data.read_depth(0), truth, atol=1e-6)


def test_plausibility_report_is_printed_by_folder_check_and_training(tmp_path, capsys) -> None:
    """Median and the share of values near each end of the valid range, for the declared scene type (indoor
    by default; a close-range scene of 0.2-0.7 m is fine once declared) in folder_check and setup_run."""
    from zoedam_lib.data.folder.check import main
    from zoedam_lib.experiments.context import setup_run

    root = _rooms(tmp_path / "near", 1000, 0.2, 0.7, spec={"scene": "close-range"}, n=12)
    assert main([str(root)]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "depth check" in x)
    assert line.startswith("  depth check (12 maps): median 0.4") and "(close-range scenes: 0.05–2 m)" in line
    assert "% of measured values near 0.001 m, 0.0 % near or beyond 10 m" in line
    setup_run(root, out_dir=tmp_path / "run", device="cpu", preset="cpu")
    out = capsys.readouterr().out
    assert "depth check (5 maps): median 0." in out and "(close-range scenes" in out
    (root / "dataset.json").write_text("{}")
    with pytest.raises(DataFileError, match="implausible for indoor scenes"):
        FolderDataset(root)


def test_dataset_json_size_beyond_memory_is_refused_before_allocating(tmp_path: Path, capsys) -> None:
    """``"size": [60000, 80000]`` in dataset.json (was: a bare numpy MemoryError in folder_check, 17.9 GiB asked for
    one depth map): refused when the dataset is opened, naming the file, the size in MP and the limit; the
    folder check exits 2 with one ``error:`` line; a size at the limit is accepted."""
    from zoedam_lib.data.folder.check import main
    from zoedam_lib.data.folder.spec import FolderConfig
    from zoedam_lib.io.images import MAX_PIXELS
    from zoedam_lib.utils.errors import ConfigError

    root = make_folder(tmp_path / "d", n=2, spec={"size": [60000, 80000]})
    message = (r"dataset.json: size \[60000, 80000\] is 60000x80000 = 4800 MP per pair, "
               r"above the limit of 64 MP that keeps memory bounded .* e\.g\. \[480, 640\]")
    with pytest.raises(DataFileError, match=message):
        FolderDataset(root)
    assert main([str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "4800 MP" in err and "Traceback" not in err
    with pytest.raises(ConfigError, match="above the limit"):
        FolderConfig(size=(1, MAX_PIXELS + 1))
    assert FolderConfig(size=(1, MAX_PIXELS)).size == (1, MAX_PIXELS)
