"""Depth units: a labeled file whose depths are not metres stops every command before any work, naming the
file, what was found, what was expected and the flag that fixes it; an evaluation with no valid ground-truth
pixel is an error, never a NaN average.

The data: a 24-image SynthRooms file (depths 0.5–10 m) and copies of it scaled to millimetres and centimetres.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import tiny_zoedam

from zoedam_lib import save_model
from zoedam_lib.cli import main
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.folder.spec import FolderConfig
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.splits import load_or_create_split
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.experiments.context import setup_run
from zoedam_lib.experiments.synthda import relative_quality
from zoedam_lib.models.relative import RelativeDepthConfig, RelativeDepthModel
from zoedam_lib.utils.errors import DataFileError


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=24, size=(60, 80), n_unlabeled=0, workers=1,
                               progress=False)


def scaled_copy(data: Path, path: Path, factor: float) -> Path:
    shutil.copy(data, path)
    with h5py.File(path, "r+") as f:
        f["depths"][...] = f["depths"][...] * np.float32(factor)
    return path


@pytest.fixture(scope="module")
def in_mm(tiny_data, tmp_path_factory) -> Path:
    return scaled_copy(tiny_data, tmp_path_factory.mktemp("mm") / "rooms_mm.mat", 1000)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_model(tiny_zoedam(), tmp_path_factory.mktemp("ckpt") / "tiny")


def test_file_in_millimetres_stops_before_training(tiny_data, in_mm, tmp_path, capsys):
    with pytest.raises(DataFileError) as info:
        NyuMat(in_mm)
    message = str(info.value)
    assert re.match(rf"{re.escape(str(in_mm))}: wrong depth unit\? the median depth of the 8 map\(s\) checked is "
                    r"\d,\d{3} read as metres", message), message
    assert "read as metres, and 0.0 % of their measured pixels lie in the valid range 0.001–10 m; expected " \
           "metres" in message
    assert "The values look like millimetres (" in message and "--depth-unit mm" in message

    out = tmp_path / "run"
    assert main(["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(in_mm), "--out", str(out),
                 "--preset", "cpu", "--device", "cpu", "--epochs", "1", "--img-size", "28x42"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {in_mm}: wrong depth unit?") and "Traceback" not in err
    assert not (out / "runs").exists() and not (out / "checkpoints").exists() and not (out / "results").exists()

    ctx = setup_run(in_mm, out_dir=tmp_path / "fixed", device="cpu", preset="cpu", verbose=False,
                    folder=FolderConfig(depth_unit="mm"))  # what the message says: --depth-unit mm
    with ctx.open_data() as fixed, NyuMat(tiny_data) as metres:
        for i in (0, 5, 23):
            np.testing.assert_allclose(fixed.read(i)[1], metres.read(i)[1], rtol=1e-6)


@pytest.mark.parametrize("case", ["eval", "eval_zero_shot", "pretrain", "pretrain_eval_set", "centimetres",
                                  "metres_declared_mm"])
def test_wrong_unit_is_refused_by_every_command(case, tiny_data, in_mm, checkpoint, tmp_path, capsys):
    out = str(tmp_path / "out")
    in_cm = scaled_copy(tiny_data, tmp_path / "rooms_cm.mat", 100)
    pretrain = ["pretrain", "--backbone", "vitt", "--img-size", "28x42", "--epochs", "1", "--out", out,
                "--device", "cpu", "--n-holdout", "4"]
    evaluate = ["eval", "--checkpoint", str(checkpoint), "--out", out, "--device", "cpu", "--preset", "cpu"]
    args, bad, expected = {
        "eval": ([*evaluate, "--data", str(in_mm)], in_mm, "look like millimetres"),
        "eval_zero_shot": ([*evaluate, "--data", str(tiny_data), "--zero-shot", str(in_mm)], in_mm, "millimetres"),
        "pretrain": ([*pretrain, "--data", str(in_mm), "--eval", f"ok={tiny_data}"], in_mm, "millimetres"),
        "pretrain_eval_set": ([*pretrain, "--data", str(tiny_data), "--eval", f"bad={in_mm}"], in_mm, "millimetres"),
        "centimetres": ([*evaluate, "--data", str(in_cm)], in_cm, "look like centimetres"),
        "metres_declared_mm": ([*evaluate, "--data", str(tiny_data), "--depth-unit", "mm"], tiny_data,
                               "read as 0.001 m per stored unit"),
    }[case]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"error: {bad}: wrong depth unit?" in err and expected in err and "Traceback" not in err, err
    assert not (tmp_path / "out" / "results").exists() and not (tmp_path / "out" / "runs").exists()


def test_cli_eval_without_a_valid_test_pixel_exits_2(tiny_data, checkpoint, tmp_path, capsys):
    data = tmp_path / "holes.mat"
    shutil.copy(tiny_data, data)
    split = load_or_create_split(data, "paper", 0, tmp_path / "splits")
    with h5py.File(data, "r+") as f:
        for i in split.test:
            f["depths"][i] = np.nan  # the test images only: the file as a whole still reads as metres
    out = tmp_path / "out"
    assert main(["eval", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out), "--device", "cpu",
                 "--preset", "cpu", "--no-flip-tta"]) == 2
    err = capsys.readouterr().err
    assert f"error: none of the {len(split.test)} test images has a valid ground-truth depth in (0.001, 10.0) m" in err
    assert "Traceback" not in err and not list(out.glob("results/*.json"))
    with NyuMat(data) as mat, pytest.raises(DataFileError, match=f"none of the {len(split.test)} images has a valid"):
        relative_quality(RelativeDepthModel(RelativeDepthConfig("vitt", (28, 42))), DepthDataset(mat, split.test))
