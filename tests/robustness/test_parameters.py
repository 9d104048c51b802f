"""Parameters: unknown names (backbone, preset, model, split, amp, device), impossible numbers (batch size 0,
negative epochs), a data_path that is a directory, and image sizes that are not multiples of 14 (rounded,
with a notice). Library calls raise ConfigError/DataFileError naming the valid choices; the CLI exits 2."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import make_trainer

from zoedam_lib.cli import main
from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.splits import load_or_create_split
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.experiments.context import resolve_device, resolve_preset, setup_run
from zoedam_lib.experiments.presets import recipe_for
from zoedam_lib.models.registry import build_model
from zoedam_lib.models.zoedam import ZoeDAMConfig
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.errors import ConfigError, DataFileError

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=24, size=(60, 80), n_unlabeled=0, workers=1,
                               progress=False)


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def write_mat(path: Path) -> Path:
    with NyuMatWriter(path, 1, 6, 10) as w:
        w.write(0, np.zeros((6, 10, 3), np.uint8), np.ones((6, 10), np.float32))
    return path


# --------------------------------------------------------------------------- unknown names in the library


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ZoeDAMConfig(backbone="vitx"), r"unknown backbone 'vitx'; expected one of \['vitb', 'vitl', 'vits', "
                                            r"'vitt'\] \(vits/vitb/vitl are DINOv2 ViT-S/B/L"),
    (lambda: build_model("zoedam", {"backbone": "vit_small"}), "unknown backbone 'vit_small'"),
    (lambda: ZoeDAMConfig(layer_family="v3"), r"layer_family must be one of \('v1', 'v2'\), got 'v3'"),
    (lambda: build_model("zoedepth"), r"unknown model 'zoedepth'; known models: \['average', 'densedepth', 'relative', "
                                     r"'zoedam'\]"),
    (lambda: recipe_for("zoedepth", "cpu"), r"unknown model 'zoedepth'; expected one of \('zoedam', 'densedepth', "
                                            r"'zoedam_plus', 'synthda'\)"),
    (lambda: resolve_preset("gpu", CPU, "nyu"), r"unknown preset 'gpu'; expected one of \('auto', 'paper', 'cpu', "
                                                r"'smoke'\)"),
    (lambda: recipe_for("zoedam", "auto"), r"preset must be one of \('paper', 'cpu', 'smoke'\) here \(resolve 'auto' "
                                           r"with setup_run\)"),
    (lambda: recipe_for("zoedam", "cpu", decoder_widht=0.5), r"unknown recipe setting\(s\) \['decoder_widht'\] for a "
                                                            r"ZoeDAMOptions recipe; valid settings are \["),
    (lambda: TrainConfig(amp="fp8"), r"amp must be one of \('auto', 'off', 'bf16', 'fp16'\), got 'fp8'"),
    (lambda: make_trainer("unused", TrainConfig(amp="fp16")),  # a valid name, checked against the device
     r"amp='fp16' needs a CUDA device; on CPU use amp='bf16' or 'off'"),
], ids=["backbone", "backbone_in_config_dict", "layer_family", "model", "recipe_model", "preset", "preset_auto",
        "recipe_setting", "amp", "amp_fp16_on_cpu"])
def test_unknown_name_is_a_config_error_listing_the_valid_ones(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


def test_unknown_split(tmp_path: Path) -> None:
    data = write_mat(tmp_path / "nyu.mat")
    with pytest.raises(ConfigError, match=r"one of \('paper', 'official'\), got 'random'"):
        load_or_create_split(data, "random", seed=0, split_dir=tmp_path)


@pytest.mark.parametrize(("device", "message"), [
    ("cuda", r"device 'cuda' asked for, but no CUDA GPU is available; use device='cpu' or 'auto'"),
    ("cuda:1", r"device 'cuda:1' asked for, but no CUDA GPU is available"),
    ("gpu", r"unknown device 'gpu'; use auto, cpu, cuda or cuda:N"),
])
def test_device_without_a_gpu_or_unknown(device, message, no_gpu):
    with pytest.raises(ConfigError, match=message):
        resolve_device(device)
    assert resolve_device("auto") == CPU  # what to use instead


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(("kwargs", "shown"), [
    ({"batch_size": 0}, "batch_size=0"), ({"epochs": -1}, "epochs=-1"), ({"lr": 0}, "lr=0"),
    ({"checkpoint_every": -1}, "checkpoint_every=-1"), ({"max_bad_steps": 0}, "max_bad_steps=0"),
    ({"pct_start": 1.0}, "pct_start=1.0"),
])
def test_bad_settings_are_rejected(kwargs, shown):
    with pytest.raises(ConfigError, match=rf"invalid training settings: {shown} \(epochs >= 0, batch_size >= 1"):
        TrainConfig(**kwargs)


def test_too_small_dataset_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="not one full batch"):
        make_trainer(tmp_path, TrainConfig(epochs=1, batch_size=64))


# --------------------------------------------------------------------------- image size: rounded, with a notice


def test_img_size_rounds_to_multiples_of_14_with_notice():
    with pytest.warns(UserWarning, match="multiple of 14"):
        cfg = ZoeDAMConfig(backbone="vitt", img_size=(480, 640))
    assert cfg.img_size == (476, 644)
    with pytest.raises(ConfigError):
        ZoeDAMConfig(img_size=(0, 518))


@pytest.mark.parametrize(("size", "rounded"), [((480, 640), (476, 644)), ((5, 30), (14, 28)),
                                               ((392, 518), (392, 518))])
def test_img_size_decision_round_and_warn_only_when_changed(size, rounded):
    """The project rounds (as the official Resize) rather than rejecting; the notice says to what."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = ZoeDAMConfig(backbone="vitt", img_size=size)
    assert cfg.img_size == rounded
    notices = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert notices == ([] if size == rounded else [f"img_size {size} is not a multiple of 14; using {rounded}"])


@pytest.mark.parametrize("size", [(0, 518), (-14, 28), (480.5, 640), (480,), (1, 2, 3)])
def test_impossible_img_size_is_rejected(size):
    with pytest.raises(ConfigError, match=r"img_size must be two positive integers \(H, W\), got"):
        ZoeDAMConfig(backbone="vitt", img_size=size)


# --------------------------------------------------------------------------- data_path that is a directory


def test_directory_suggests_the_single_mat(tmp_path: Path) -> None:
    write_mat(tmp_path / "only.mat")
    with pytest.raises(DataFileError, match=r"is a directory.*Did you mean .*only\.mat"):
        NyuMat(tmp_path)


@pytest.mark.parametrize("n_mats", [0, 2])
def test_directory_data_path_in_setup_run(tmp_path: Path, n_mats: int) -> None:
    for i in range(n_mats):
        write_mat(tmp_path / f"d{i}.mat")
    with pytest.raises(DataFileError, match=r"is a directory without a folder dataset \(no images/ folder and no "
                                            r"manifest\), nor an NYU-layout \.mat file\. Expected .*depth unit\.$"):
        setup_run(tmp_path, out_dir=tmp_path / "run", device="cpu", verbose=False)


# --------------------------------------------------------------------------- the CLI


@pytest.mark.parametrize(("args", "message"), [
    (["train", "--model", "zoedepth"], "argument --model: invalid choice: 'zoedepth' (choose from"),
    (["train", "--split", "random"], "argument --split: invalid choice: 'random'"),
    (["train", "--amp", "fp8"], "argument --amp: invalid choice: 'fp8'"),
    (["train", "--preset", "gpu"], "argument --preset: invalid choice: 'gpu'"),
    (["eval", "--checkpoint", "x", "--split", "random"], "argument --split: invalid choice: 'random'"),
    (["train", "--img-size", "0x28"], "sizes must be positive, got '0x28'"),
    (["train", "--img-size", "big"], "expected HxW such as 240x320, got 'big'"),
    (["training"], "invalid choice: 'training'"),
])
def test_cli_rejects_unknown_choices_before_doing_anything(args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--out", str(tmp_path / "out")] if args[0] != "training" else args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--batch-size", "0"], "error: invalid training settings: batch_size=0"),
    (["--epochs", "-1"], "error: invalid training settings: epochs=-1"),
    (["--backbone", "vitx"], "error: unknown backbone 'vitx'; expected one of"),
    (["--device", "cuda"], "error: device 'cuda' asked for, but no CUDA GPU is available"),
])
def test_cli_bad_values_exit_2_with_the_message(args, message, tiny_data, tmp_path, capsys, no_gpu):
    code = main(["train", "--data", str(tiny_data), "--out", str(tmp_path / "run"), "--preset", "cpu",
                 "--backbone", "vitt", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().splitlines()[-1].startswith(message) and "Traceback" not in err
    assert not (tmp_path / "run" / "runs").exists()  # nothing trained


def test_cli_predict_batch_size_zero(tmp_path, capsys):
    assert main(["predict", str(tmp_path), "--checkpoint", "x", "--out", str(tmp_path / "o"), "--batch-size", "0"]) == 2
    assert "error: --batch-size must be at least 1, got 0" in capsys.readouterr().err
