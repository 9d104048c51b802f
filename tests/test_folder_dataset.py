"""FolderDataset: pairing by stem, manifests, units, dataset.json, and every bad-folder case named in its error."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from folder_helpers import H, W, make_folder, metres, rgb, write_pair, write_png16
from PIL import Image

from zoedam_lib.data.folder.dataset import FolderDataset
from zoedam_lib.data.folder.spec import FolderConfig, parse_depth_unit
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.sources import open_dataset
from zoedam_lib.experiments.context import setup_run
from zoedam_lib.models.average import AverageDepth
from zoedam_lib.utils.errors import ConfigError, DataFileError

HALF_MM = 0.5e-3 + 1e-6  # the 16-bit millimetre quantisation, plus float32 rounding


def test_pairs_by_stem_read_like_nyumat(tmp_path: Path) -> None:
    make_folder(tmp_path, n=3, image_ext=".jpg")
    write_pair(tmp_path, "a3", 3)  # png image beside jpgs
    with open_dataset(tmp_path) as data:
        assert isinstance(data, FolderDataset) and len(data) == 4 and (data.height, data.width) == (H, W)
        assert [data.pair(i).name for i in range(4)] == ["a0", "a1", "a2", "a3"]
        image, depth = data.read(3)
        assert image.dtype == np.uint8 and image.shape == (H, W, 3) and np.array_equal(image, rgb(3))
        assert depth.dtype == np.float32 and np.abs(depth - metres(3)).max() <= HALF_MM
        assert np.array_equal(data.read_depth(-1), depth)
        assert data.attrs["depth_unit"] == "mm" and data.name == tmp_path.name and not data.skipped
        clone = pickle.loads(pickle.dumps(data))  # what DataLoader workers receive
        assert np.array_equal(clone.read(1)[1], data.read(1)[1])
        with pytest.raises(IndexError, match="item 4 out of range for 4 pairs"):
            data.read(4)


def test_exif_rotated_photo_pairs_with_depth_at_its_displayed_size(tmp_path: Path) -> None:
    make_folder(tmp_path, n=1)
    write_pair(tmp_path, "phone", 1)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways (W x H pixels); viewers rotate it by 90 degrees
    Image.fromarray(rgb(1, (W, H))).save(tmp_path / "images" / "phone.jpg", exif=exif)
    (tmp_path / "images" / "phone.png").unlink()
    data = FolderDataset(tmp_path)
    assert len(data) == 2 and not data.skipped and data.read(1)[0].shape == (H, W, 3)


def test_orphans_duplicates_and_other_files_are_skipped_and_listed(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2)
    write_pair(tmp_path, "lonely", 5)
    (tmp_path / "depth" / "lonely.png").unlink()  # image without depth
    write_pair(tmp_path, "ghost", 6)
    (tmp_path / "images" / "ghost.png").unlink()  # depth without image
    write_pair(tmp_path, "twin", 7)
    write_pair(tmp_path, "twin", 7, image_ext=".jpg")  # two images with one stem
    (tmp_path / "images" / "notes.txt").write_text("x")
    with pytest.warns(UserWarning, match=r"skipped 6 file\(s\) or pair\(s\), using 2 pairs"):
        data = FolderDataset(tmp_path)
    reasons = dict(data.skipped)
    assert len(data) == 2 and len(data.skipped) == 6
    assert reasons["images/lonely.png"].startswith("image without depth: no depth/lonely.png")
    assert reasons["depth/ghost.png"].startswith("depth without image")
    assert "ambiguous: twin.jpg, twin.png share the stem 'twin'" in reasons["images/twin.png"]
    assert reasons["depth/twin.png"] == "its partner is ambiguous: two files share the stem 'twin'"
    assert reasons["images/notes.txt"] == "not a .jpg/.jpeg/.png file"
    assert data.describe() == f"folder {tmp_path.name} (2 images, {H}x{W}, depth mm, 6 files skipped)"


def test_manifest_csv_with_per_image_intrinsics(tmp_path: Path) -> None:
    for i in range(3):
        write_pair(tmp_path, f"f{i}", i, images_dir="rgb", depth_dir="d")
    (tmp_path / "manifest.csv").write_text(
        "image,depth,fx,fy,cx,cy\nrgb/f0.png,d/f0.png,500,501,3.5,2.5\nrgb/f1.png,d/f1.png,,,,\n"
        "rgb/f2.png,d/f2.png,400,400,4,3\nrgb/gone.png,d/f0.png,1,1,1,1\n")
    (tmp_path / "dataset.json").write_text(json.dumps({"intrinsics": [10, 11, 4, 3]}))
    with pytest.warns(UserWarning, match="manifest.csv line 5: file not found: .*gone.png"):
        data = open_dataset(tmp_path)  # the folder holds a manifest: it is used
    assert len(data) == 3 and data.layout == "manifest"
    assert data.intrinsics(0) == (500.0, 501.0, 3.5, 2.5)
    assert data.intrinsics(1) == (10.0, 11.0, 4.0, 3.0)  # empty cells: dataset.json's
    with pytest.warns(UserWarning, match="skipped 1 file"):
        assert np.abs(open_dataset(tmp_path / "manifest.csv").read_depth(2) - metres(2)).max() <= HALF_MM


@pytest.mark.parametrize("wrap", [False, True])
def test_manifest_json(tmp_path: Path, wrap: bool) -> None:
    write_pair(tmp_path / "x", "p", 0)
    entries = [{"image": "x/images/p.png", "depth": "x/depth/p.png", "fx": 9, "fy": 9, "cx": 1, "cy": 2}]
    (tmp_path / "pairs.json").write_text(json.dumps({"pairs": entries} if wrap else entries))
    data = open_dataset(tmp_path / "pairs.json")
    assert len(data) == 1 and data.intrinsics(0) == (9.0, 9.0, 1.0, 2.0) and data.name == f"{tmp_path.name}_pairs"


@pytest.mark.parametrize(("text", "missing"), [("image,fx,fy,cx,cy\na.png,1,1,1,1\n", r"\['depth'\]"),
                                               ("image,depth,fx,fy\na.png,b.png,1,1\n", r"\['cx', 'cy'\]")])
def test_manifest_missing_columns(tmp_path: Path, text: str, missing: str) -> None:
    (tmp_path / "manifest.csv").write_text(text)
    with pytest.raises(DataFileError, match=rf"manifest .*manifest.csv lacks the column\(s\) {missing}"):
        open_dataset(tmp_path)


@pytest.mark.parametrize(("unit", "spec", "config"), [
    ("mm", None, None), ("kitti", {"depth_unit": "kitti"}, None), (2e-4, {"depth_scale": 2e-4}, None),
    ("kitti", None, parse_depth_unit("kitti")), (2e-4, {"depth_unit": "mm"}, parse_depth_unit("0.0002"))],
    ids=["mm_default", "kitti_json", "scale_json", "kitti_argument", "argument_overrides_json"])
def test_depth_units(tmp_path: Path, unit, spec, config) -> None:
    make_folder(tmp_path, n=2, unit=unit, spec=spec)
    data = FolderDataset(tmp_path, config)
    step = 1e-3 if unit == "mm" else 1 / 256 if unit == "kitti" else unit
    assert np.abs(data.read_depth(1) - metres(1)).max() <= step / 2 + 1e-6
    assert data.spec.source == ("arguments" if config else "dataset.json" if spec else "default")


def test_npy_metres_with_invalid_values_and_range(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2, depth_ext=".npy", spec={"max_depth": 8.0, "name": "npy_set"})
    raw = metres(0)
    raw[0, :4] = [np.nan, np.inf, -1.0, 8.5]
    np.save(tmp_path / "depth" / "a0.npy", raw[..., None])  # (H, W, 1) is accepted too
    data = FolderDataset(tmp_path)
    depth = data.read_depth(0)
    assert np.array_equal(depth[0, :4], [0, 0, 0, 0])  # invalid and out of range → 0, NYU's "no depth"
    assert np.array_equal(depth[1:], np.where(raw[1:] <= 8.0, raw[1:], 0)) and data.name == "npy_set"


def test_dataset_json_errors(tmp_path: Path) -> None:
    make_folder(tmp_path, n=1, spec={"depth_units": "mm"})
    with pytest.raises(DataFileError, match=r"dataset.json: FolderConfig got unknown field\(s\) \['depth_units'\]"):
        FolderDataset(tmp_path)
    (tmp_path / "dataset.json").write_text(json.dumps({"depth_unit": "inch"}))
    with pytest.raises(DataFileError, match="depth_unit must be one of .*give depth_scale"):
        FolderDataset(tmp_path)
    with pytest.raises(ConfigError, match="--depth-unit must be kitti or mm or tum or metres per stored unit"):
        parse_depth_unit("metres")


def test_wrong_unit_is_an_error_naming_file_median_and_fix(tmp_path: Path) -> None:
    make_folder(tmp_path, n=3, unit=1.0)  # whole metres stored as integers, read as mm
    with pytest.raises(DataFileError, match=r"depth/a0.png: wrong depth unit\? the median stored value is [45](\.0)?, "
                                            r"i\.e\. 0\.00[45] m read as mm .*--depth-unit"):
        FolderDataset(tmp_path)


def test_beyond_max_depth_suggests_outdoor_range_or_unit(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2, unit=0.25e-3)  # quarter-millimetres read as mm: 4x too deep
    with pytest.raises(DataFileError, match=r"a0.png: the median .* beyond max_depth 10 m.*\"max_depth\" \(e\.g\. 80"):
        FolderDataset(tmp_path)
    assert len(FolderDataset(tmp_path, FolderConfig(depth_scale=0.25e-3))) == 2
    np.save(tmp_path / "depth" / "a1.npy", metres(1) * 1000)  # millimetres in an .npy
    (tmp_path / "depth" / "a1.png").unlink()
    with pytest.raises(DataFileError, match=r"a1.npy: the median depth is \d+ m.*must be float metres"):
        FolderDataset(tmp_path, FolderConfig(depth_scale=0.25e-3))


def test_bad_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2)
    write_pair(tmp_path, "b_size", 2, depth_size=(H + 1, W))
    write_pair(tmp_path, "c_broken", 3)
    (tmp_path / "images" / "c_broken.png").write_bytes(b"not an image")
    write_pair(tmp_path, "d_colour", 4)
    Image.fromarray(rgb(4)).save(tmp_path / "depth" / "d_colour.png")  # a colour-mapped preview
    write_pair(tmp_path, "e_empty", 5)
    write_png16(tmp_path / "depth" / "e_empty.png", np.zeros((H, W)))
    with pytest.warns(UserWarning):
        data = FolderDataset(tmp_path, FolderConfig(verify=True))
    reasons = dict(data.skipped)
    assert len(data) == 2
    assert reasons["images/b_size.png"] == f"size mismatch: image {H}x{W} but depth/b_size.png {H + 1}x{W}; " \
                                           "a pair must have one size"
    assert reasons["images/c_broken.png"].startswith("not a readable image")
    assert "a RGB PNG, not single-channel depth: a colour-mapped visualisation?" in reasons["depth/d_colour.png"]
    assert reasons["depth/e_empty.png"] == "depth all invalid: no finite positive value"


def test_truncated_file_errors_on_read_unless_verified(tmp_path: Path) -> None:
    make_folder(tmp_path, n=6)
    depth_file = tmp_path / "depth" / "a3.png"  # not among the 5 unit samples (a0 a1 a2 a4 a5)
    depth_file.write_bytes(depth_file.read_bytes()[:60])  # header intact, pixels cut
    data = FolderDataset(tmp_path)
    assert len(data) == 6
    with pytest.raises(DataFileError, match=r"cannot read .*a3.png: cannot decode the PNG.*folder.check"):
        data.read(3)
    with pytest.warns(UserWarning, match="a3.png: cannot decode"):
        assert len(FolderDataset(tmp_path, FolderConfig(verify=True))) == 5


@pytest.mark.parametrize("case", ["empty", "no_layout", "no_depth_dir", "all_bad", "missing"])
def test_unusable_folders_are_errors(tmp_path: Path, case: str) -> None:
    messages = {"empty": r"is empty: no images in images/ and no depth maps in depth/",
                "no_layout": r"is a directory without a folder dataset .*Did you mean .*only\.mat\?",
                "no_depth_dir": r"has images/ but no depth/ folder",
                "all_bad": r"no usable \(image, depth\) pair among 2 listed\. First problems: images/a0.png: image "
                           "without depth",
                "missing": r"data not found: .*nowhere"}
    (tmp_path / "images").mkdir()
    if case == "empty":
        (tmp_path / "depth").mkdir()
    elif case == "no_layout":
        (tmp_path / "images").rmdir()
        (tmp_path / "only.mat").write_bytes(b"")
    elif case == "all_bad":
        make_folder(tmp_path, n=2)
        shutil.rmtree(tmp_path / "depth")
        (tmp_path / "depth").mkdir()
    with pytest.raises(DataFileError, match=messages[case]):
        open_dataset(tmp_path / "nowhere" if case == "missing" else tmp_path)


def test_mixed_sizes_need_size_to_batch(tmp_path: Path) -> None:
    make_folder(tmp_path, n=2)
    write_pair(tmp_path, "big", 9, size=(2 * H, 2 * W))
    (tmp_path / "dataset.json").write_text(json.dumps({"intrinsics": [8, 8, 3.5, 2.5]}))
    data = FolderDataset(tmp_path)
    assert data.sizes == [(H, W), (H, W), (2 * H, 2 * W)] and data.read(2)[0].shape == (2 * H, 2 * W, 3)
    with pytest.raises(DataFileError, match=r"2 different sizes \(6x8: 2, 12x16: 1, \.\.\.\).*\"size\": \[480, 640\]"):
        setup_run(tmp_path, out_dir=tmp_path / "run", device="cpu", verbose=False)
    with pytest.raises(DataFileError, match=r"depth map 2 is 12x16 but the first was 6x8: .*\"size\": \[H, W\]"):
        AverageDepth.fit(data.read_depth(i) for i in range(3))
    resized = FolderDataset(tmp_path, FolderConfig(size=(H, W)))
    image, depth = resized.read(2)
    assert (resized.height, resized.width) == (H, W) and image.shape == (H, W, 3) and depth.shape == (H, W)
    assert np.isin(depth, data.read_depth(2)).all()  # nearest neighbour: no invented depths
    assert resized.intrinsics(2) == (4.0, 4.0, 1.5, 1.0) and resized.intrinsics(0) == (8.0, 8.0, 3.5, 2.5)


def test_open_dataset_dispatch(tmp_path: Path) -> None:
    from test_nyu import write_mat

    write_mat(tmp_path / "d.mat")
    assert isinstance(open_dataset(tmp_path / "d.mat"), NyuMat)
    with pytest.raises(ConfigError, match=r"folder options \{'max_depth': 80\} apply to folder datasets only; .*takes "
                                          r"only a depth unit"):
        open_dataset(tmp_path / "d.mat", max_depth=80)
    make_folder(tmp_path / "f", n=1, spec={"name": "from_json"})
    assert open_dataset(tmp_path / "f", name="renamed").name == "renamed"
    assert len(open_dataset(tmp_path / "f" / "dataset.json")) == 1 and open_dataset(tmp_path / "f").name == "from_json"
