"""Camera inputs that set a camera-aware model's metric scale: EXIF focal lengths, ``--intrinsics``, an evaluation
file's ``intrinsics``. All go through the one validator (camera.intrinsics), with a field of view plausible in both
directions (0.5-150 deg): EXIF values outside it are ignored with the reason in the stated source (each output line,
the PLY header); a value the user gives (a flag, a data file) that cannot be is an error naming it."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from helpers import tiny_zoedam
from PIL import Image

from zoedam_lib.camera.intrinsics import default_intrinsics, scaled_intrinsics, validate_intrinsics
from zoedam_lib.camera.photo import photo_intrinsics
from zoedam_lib.cli import main
from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.utils.errors import ConfigError, DataFileError

EXIF_IFD, F35, FOCAL_LENGTH, PLANE_X_RES, PLANE_UNIT = 0x8769, 0xA405, 0x920A, 0xA20E, 0xA210
NARROW = "narrower than any camera lens short of a telescope (>= 0.5 deg)"
NARROW_RE = re.escape(NARROW)


def _photo(path: Path, tags: dict, size: tuple[int, int] = (300, 400)) -> Path:
    exif = Image.Exif()
    for tag, value in tags.items():
        exif.get_ifd(EXIF_IFD)[tag] = value
    Image.new("RGB", size[::-1], (90, 90, 90)).save(path, exif=exif.tobytes())
    return path


@pytest.mark.parametrize(("tags", "label"), [
    ({F35: 9999}, "EXIF FocalLengthIn35mmFilm=9999 mm ignored: fx = 115551 px gives a 0.2 deg"),
    ({F35: 65535}, "EXIF FocalLengthIn35mmFilm=65535 mm ignored: fx = 757339 px gives a 0.03 deg"),
    ({FOCAL_LENGTH: 1e6, PLANE_X_RES: 4000.0, PLANE_UNIT: 4},
     "EXIF FocalLength=1e+06 mm x FocalPlaneXResolution=4000 px/mm ignored: fx = 4e+09 px gives a 5.7e-06 deg"),
], ids=["f35-9999", "f35-65535", "focal-1e6-mm"])
def test_implausibly_narrow_exif_focal_length_falls_back_and_says_why(tags, label, tmp_path):
    """Was: trusted as is (fx up to 1e15 px, a 0.2 deg view on a phone photo, rooms kilometres deep)."""
    resolved = photo_intrinsics(_photo(tmp_path / "p.jpg", tags))
    assert resolved.kind == "default" and resolved.intrinsics == default_intrinsics(300, 400)
    assert label in resolved.source and NARROW in resolved.source and "--intrinsics FX FY CX CY overrides" in \
        resolved.source
    assert photo_intrinsics(_photo(tmp_path / "ok.jpg", {F35: 26})).kind == "exif"  # a phone's main camera


def test_predict_states_the_fallback_and_its_reason_on_the_line_and_in_the_ply(checkpoint, tmp_path, capsys):
    _photo(tmp_path / "p.jpg", {F35: 9999}, size=(30, 40))
    assert main(["predict", str(tmp_path / "p.jpg"), "--checkpoint", str(checkpoint), "--ply", "--device", "cpu",
                 "--out", str(tmp_path / "out")]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("p.ply:"))
    assert "intrinsics assumed: NYU Depth v2's" in line and "FocalLengthIn35mmFilm=9999 mm ignored" in line
    assert NARROW in line
    header = (tmp_path / "out" / "p.ply").read_bytes().split(b"end_header")[0].decode()
    assert "FocalLengthIn35mmFilm=9999 mm ignored" in header


@pytest.mark.parametrize(("values", "message"), [
    ((1e300, 1e300, 199.5, 149.5), "fx = 1e+300 px gives a 2.3e-296 deg field of view across this 400x300 image, "
                                   + NARROW + ": it looks like intrinsics of a far larger image, or a typo"),
    ((300.0, 1e300, 199.5, 149.5), "fy = 1e+300 px gives a"),
    ((float("nan"), 300.0, 199.5, 149.5), "intrinsics must be finite with fx, fy > 0"),
    ((-300.0, 300.0, 199.5, 149.5), "intrinsics must be finite with fx, fy > 0"),
], ids=["1e300", "fy-1e300", "nan", "negative"])
def test_impossible_given_intrinsics_are_an_error(values, message, tmp_path):
    """``--intrinsics 1e300 …`` (was: trusted) and its kin: a ConfigError naming the flag and what to do."""
    with pytest.raises(ConfigError, match="^" + re.escape("--intrinsics for p.jpg: " + message)):
        photo_intrinsics(_photo(tmp_path / "p.jpg", {}), given=values)
    validate_intrinsics((4000.0, 4000.0, 199.5, 149.5), 300, 400)  # a 5.7 deg telephoto is fine


def _mat(path: Path, rows) -> Path:
    """A 3-image NYU-layout file (6 x 10 px, depths in metres) whose ``intrinsics`` dataset is ``rows``."""
    with NyuMatWriter(path, 3, 6, 10) as w:
        for i in range(3):
            w.write(i, np.zeros((6, 10, 3), np.uint8), np.full((6, 10), 2.0, np.float32))
    with h5py.File(path, "r+") as f:
        if rows is not None:
            f.create_dataset("intrinsics", data=np.asarray(rows))
    return path


GOOD = [8.0, 8.0, 4.5, 2.5]


@pytest.mark.parametrize(("rows", "message"), [
    ([GOOD, [float("nan"), 8.0, 4.5, 2.5], GOOD], r"'intrinsics' row 1 \(nan, 8\.0, 4\.5, 2\.5\): intrinsics must be "
                                                  "finite with fx, fy > 0"),
    ([GOOD, GOOD, [-8.0, -8.0, 4.5, 2.5]], r"'intrinsics' row 2 .*: intrinsics must be finite with fx, fy > 0"),
    ([GOOD, [1e7, 1e7, 4.5, 2.5], GOOD], "row 1 .*" + NARROW_RE),
    ([GOOD[:3]] * 3, r"'intrinsics' must be float \(N, 4\) = \(3, 4\), one fx, fy, cx, cy row per image; found "
                     r"float64 \(3, 3\)"),
], ids=["nan", "negative", "narrow", "shape-N-3"])
def test_evaluation_file_with_impossible_intrinsics_is_refused_on_opening(rows, message, tmp_path):
    """Was: NaN silently read as "unknown" (the camera head guessed), negative focal lengths and (N, 3) ignored."""
    path = _mat(tmp_path / "zs.mat", rows)
    with pytest.raises(DataFileError, match=message):
        NyuMat(path)
    with NyuMat(_mat(tmp_path / "ok.mat", [GOOD] * 3)) as data:
        assert data.intrinsics(1) == tuple(GOOD)


def test_eval_with_a_zero_shot_file_of_impossible_intrinsics_exits_2_before_evaluating(checkpoint, tmp_path, capsys):
    data = _mat(tmp_path / "data.mat", None)
    bad = _mat(tmp_path / "zs.mat", [GOOD, GOOD, [float("nan")] * 4])
    code = main(["eval", "--checkpoint", str(checkpoint), "--data", str(data), "--zero-shot", str(bad),
                 "--out", str(tmp_path / "run"), "--device", "cpu", "--preset", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err and "'intrinsics' row 2" in err and "zs.mat" in err
    assert not (tmp_path / "run" / "results").exists()


@pytest.mark.parametrize("value", [0, -5.0, float("nan"), float("inf")])
def test_canonical_focal_that_is_not_a_positive_number_is_refused(value, tmp_path):
    """A camera-aware model's f_c (``canonical_focal``, px at img_size) of 0 (was: silently NYU's default), negative
    (was: accepted, every focal ratio and so every depth negated), NaN or inf (were: NaN/zero depths): a
    ``ConfigError`` naming the field and the default, from the library and from a checkpoint's ``config.json``."""
    import json

    from zoedam_lib import load_model, save_model
    from zoedam_lib.models.zoedam import ZoeDAMConfig

    message = r"canonical_focal must be a positive number of pixels at img_size, or None for NYU's camera"
    with pytest.raises(ConfigError, match=message):
        ZoeDAMConfig(backbone="vitt", img_size=(56, 70), camera="canonical", canonical_focal=value)
    saved = save_model(tiny_zoedam(camera="canonical"), tmp_path / "aware")
    config = json.loads((saved / "config.json").read_text())
    config["config"]["canonical_focal"] = value
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=message):
        load_model(saved)
    default = ZoeDAMConfig(backbone="vitt", img_size=(56, 70), camera="canonical", canonical_focal=None)
    assert default.canonical_focal > 0


@pytest.mark.parametrize("row", [(0.0, 0.0), (float("inf"), 40.0), (-40.0, -41.0), (float("nan"), 40.0)])
def test_the_forward_refuses_camera_rows_that_would_set_a_wrong_scale(row):
    """A raw ``model(x, camera=...)`` call: zero depth, infinite depth, a sign flipped away or a half-NaN row
    silently replaced by the head's estimate — each is an error naming the row; (nan, nan) still estimates."""
    model = tiny_zoedam(camera="canonical", max_depth=20.0, camera_head=True)
    x = torch.rand(2, 3, 24, 32)
    f = scaled_intrinsics(24, 32)[0]
    with pytest.raises(ConfigError, match="camera row 1"):
        model(x, camera=torch.tensor([[f, f], list(row)]))
    with torch.no_grad():
        out = model(x, camera=torch.tensor([[f, f], [float("nan"), float("nan")]]))
    assert torch.isfinite(out["metric_depth"]).all()
