"""Checkpoints: a file for another backbone, truncated or corrupt files, pickles that would run code,
state dicts with missing/extra keys, unknown Hub ids offline, resume files that do not fit the run, NaN/inf
weights, config.json with wrong types, and paths that are devices or symbolic-link loops. Every one is a
CheckpointError (ConfigError for a config field) naming the file, what was expected and what to do."""

from __future__ import annotations

import json
import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from helpers import make_trainer, official_metric_keys, tiny_zoedam
from PIL import Image
from safetensors.torch import load_file, save_file

from zoedam_lib import load_model, save_model
from zoedam_lib.checkpoints import KNOWN_WEIGHTS, detect_format
from zoedam_lib.cli import main
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.io.inputs import collect_inputs
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.errors import CheckpointError, ConfigError, DataFileError

# --------------------------------------------------------------------------- another backbone


def test_file_for_another_backbone_is_named(tmp_path):
    torch.save(official_metric_keys(tiny_zoedam()), tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"is a vitt checkpoint \(encoder width 64\), but backbone='vits'"):
        load_model(tmp_path / "m.pt", backbone="vits")
    save_model(tiny_zoedam(), tmp_path / "own")
    with pytest.raises(CheckpointError, match="holds a vitt model, not vitb"):
        load_model(tmp_path / "own", backbone="vitb")
    sd = official_metric_keys(tiny_zoedam())
    sd["core.core.pretrained.pos_embed"] = torch.zeros(1, 1370, 100)
    torch.save(sd, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match="encoder width 100 matches no backbone"):
        load_model(tmp_path / "odd.pt")


# --------------------------------------------------------------------------- truncated and corrupt files


def _truncated_pt(tmp_path: Path) -> Path:
    torch.save(official_metric_keys(tiny_zoedam()), tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    return tmp_path / "t.pt"


def _truncated_safetensors_file(tmp_path: Path) -> Path:
    save_file(official_metric_keys(tiny_zoedam()), tmp_path / "m.safetensors")
    data = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "m.safetensors").write_bytes(data[: len(data) // 2])
    return tmp_path / "m.safetensors"


def _truncated_own_directory(tmp_path: Path) -> Path:
    save_model(tiny_zoedam(), tmp_path / "own")
    weights = tmp_path / "own" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    return tmp_path / "own"


@pytest.mark.parametrize("make", [_truncated_pt, _truncated_safetensors_file, _truncated_own_directory],
                         ids=["pt", "safetensors", "own_directory"])
def test_truncated_files(tmp_path, make):
    path = make(tmp_path)
    with pytest.raises(CheckpointError, match=r"cannot read .*: .*truncated or not .*download it again"):
        load_model(path)


def test_not_a_state_dict_and_unknown_scheme(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        load_model(tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="unrecognised checkpoint"):
        detect_format({"foo.weight": torch.zeros(1)})


def test_corrupt_config_json(tmp_path):
    save_model(tiny_zoedam(), tmp_path / "own")
    (tmp_path / "own" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model(tmp_path / "own")


def test_config_json_unknown_field_is_rejected(tmp_path):
    save_model(tiny_zoedam(), tmp_path / "own")
    meta = json.loads((tmp_path / "own" / "config.json").read_text())
    meta["config"]["attractor_alpa"] = 1000
    (tmp_path / "own" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"unknown field\(s\) \['attractor_alpa'\]; valid fields are"):
        load_model(tmp_path / "own")


def test_resume_of_corrupt_checkpoint_is_explained(tmp_path):
    make_trainer(tmp_path).fit()
    (tmp_path / "train_state.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot resume.*damaged; delete it to start over"):
        make_trainer(tmp_path).fit(resume=True)


def test_resume_refuses_other_settings(tmp_path):
    make_trainer(tmp_path).fit()
    other = make_trainer(tmp_path, TrainConfig(epochs=2, batch_size=3))
    with pytest.raises(CheckpointError, match=r"(?s)this run's settings differ from the saved run's:\n  batch_size: 4 "
                                              r"→ 3\n.*Resume with the saved settings, or start a new run in a new "
                                              r"output directory"):
        other.fit(resume=True)


# --------------------------------------------------------------------------- pickles that would run code


class _Evil:
    """Unpickling this runs ``touch <marker>``: the marker file appearing means code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def _nested_in_a_state_dict(path: Path, evil: _Evil) -> None:
    torch.save({"model": {"w": torch.zeros(1)}, "payload": evil}, path)


def _raw_pickle(path: Path, evil: _Evil) -> None:
    path.write_bytes(pickle.dumps(evil, protocol=2))  # torch.load's own protocol


def _legacy_torch_format(path: Path, evil: _Evil) -> None:
    torch.save({"w": torch.zeros(1), "payload": evil}, path, _use_new_zipfile_serialization=False)


def _pickle_named_safetensors(path: Path, evil: _Evil) -> None:
    path.with_suffix(".safetensors").write_bytes(pickle.dumps(evil))


@pytest.mark.parametrize(("write", "message"), [
    (_nested_in_a_state_dict, r"refused to load .*evil\.pth: it is not a plain state dict of tensors "
                              r"\(.*GLOBAL posix\.system.*\)\. .*could run arbitrary code.* re-save its state_dict"),
    (_raw_pickle, r"refused to load .*evil\.pth: it is not a plain state dict of tensors \(.*GLOBAL posix\.system"),
    (_legacy_torch_format, r"refused to load .*evil\.pth: it is not a plain state dict .*GLOBAL posix\.system"),
    (_pickle_named_safetensors, r"cannot read .*evil\.safetensors.*not safetensors"),
], ids=["nested", "raw_pickle", "legacy_format", "as_safetensors"])
def test_pickle_that_would_run_code_is_refused(tmp_path, write, message):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    write(path, _Evil(marker))
    if not path.exists():
        path = path.with_suffix(".safetensors")
    with pytest.raises(CheckpointError, match=message) as err:
        load_model(path)
    assert not marker.exists(), "loading the checkpoint ran its code"
    assert "weights_only" not in str(err.value)  # torch's advice to switch the safety off is not passed on
    pickle.loads(pickle.dumps(_Evil(tmp_path / "control")))  # the payload does run when unpickled unsafely
    assert (tmp_path / "control").exists()


def test_resume_file_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"model": {}, "payload": _Evil(marker)}, tmp_path / "train_state.pt")
    message = r"cannot resume from .*train_state\.pt: UnpicklingError: .*GLOBAL posix\.system.*delete it"
    with pytest.raises(CheckpointError, match=message) as err:
        make_trainer(tmp_path).fit(resume=True)
    assert "weights_only" not in str(err.value)
    assert not marker.exists()


# --------------------------------------------------------------------------- missing and extra keys


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    sd = official_metric_keys(tiny_zoedam())
    del sd["seed_bin_regressor._net.0.weight"]
    sd["extra_layer.weight"] = torch.zeros(1)
    torch.save(sd, tmp_path / "m.pt")
    with pytest.raises(CheckpointError) as err:
        load_model(tmp_path / "m.pt", img_size=(56, 70))
    msg = str(err.value)
    assert "missing keys (1): head.seed_bin_regressor._net.0.weight" in msg
    assert "unexpected keys (1): extra_layer.weight" in msg


def test_own_checkpoint_with_missing_and_extra_keys_is_listed(tmp_path):
    save_model(tiny_zoedam(), tmp_path / "own")
    tensors = load_file(tmp_path / "own" / "model.safetensors")
    del tensors["decoder.projects.0.bias"], tensors["head.conv2.weight"]
    tensors["head.leftover.weight"] = torch.zeros(2)
    save_file(tensors, tmp_path / "own" / "model.safetensors", metadata={"format": "zoedam_lib"})
    with pytest.raises(CheckpointError) as err:
        load_model(tmp_path / "own")
    msg = str(err.value)
    assert "missing keys (2): decoder.projects.0.bias, head.conv2.weight" in msg
    assert "unexpected keys (1): head.leftover.weight" in msg
    assert "Is the checkpoint for another backbone or model?" in msg


def test_mis_shaped_tensor_is_listed(tmp_path):
    sd = official_metric_keys(tiny_zoedam())
    sd["core.core.depth_head.projects.0.weight"] = torch.zeros(9, 64, 1, 1)
    torch.save(sd, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"shape mismatches \(1\): decoder.projects.0.weight"):
        load_model(tmp_path / "m.pt", img_size=(56, 70))


# --------------------------------------------------------------------------- offline


@pytest.fixture
def offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no network in tests, fail fast


def test_missing_path_and_offline_hub(tmp_path, offline):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_model(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError) as err:
        load_model("depth_anything_metric_depth_indoor")
    msg = str(err.value)
    assert KNOWN_WEIGHTS["depth_anything_metric_depth_indoor"].url in msg
    assert "checkpoints/depth_anything_metric_depth_indoor.pt" in msg
    with pytest.raises(CheckpointError, match="huggingface.co/someone/unknown-model") as err:
        load_model("someone/unknown-model")
    msg = str(err.value)
    assert "'someone/unknown-model' is neither a local path nor a reachable Hugging Face Hub repository" in msg
    assert ("download the repository's weights (config.json and model.safetensors, or the .pth file) from "
            "https://huggingface.co/someone/unknown-model and pass the local path") in msg


@pytest.mark.parametrize(("name", "local"), [
    ("depth_anything_v2_vits", "checkpoints/depth_anything_v2_vits.pth"),
    ("depth_anything_vitb14", "checkpoints/depth_anything_vitb14.pth"),
    ("dinov2_vits14", "checkpoints/dinov2_vits14.safetensors"),  # timm calls each of them model.safetensors
    ("dinov2_vitb14", "checkpoints/dinov2_vitb14.safetensors"),
])
def test_offline_known_weights_say_which_file_and_where(name, local, offline):
    with pytest.raises(CheckpointError) as err:
        load_model(name)
    assert (f"could not fetch {name!r}" in str(err.value) and f"Download {KNOWN_WEIGHTS[name].url} " in str(err.value)
            and f"put it at {local}, and pass that path instead" in str(err.value))


# ----------------------------------------------------------- non-finite weights, bad config.json, odd paths


def _poisoned_model():
    """A tiny ZoeDAM with one NaN in one tensor and two +inf in another; returns it and those tensors' names."""
    model = tiny_zoedam()
    names = [k for k, v in model.state_dict().items() if v.is_floating_point()]
    nan_key, inf_key = names[3], names[-1]
    with torch.no_grad():
        model.state_dict()[nan_key].view(-1)[0] = float("nan")
        model.state_dict()[inf_key].view(-1)[:2] = float("inf")
    return model, nan_key, inf_key


def test_non_finite_weights_are_refused_naming_the_tensors(tmp_path, capsys):
    model, nan_key, inf_key = _poisoned_model()
    save_model(model, tmp_path / "own")
    torch.save(official_metric_keys(model), tmp_path / "official.pt")
    for source in (tmp_path / "own", tmp_path / "official.pt"):
        with pytest.raises(CheckpointError) as info:
            load_model(source)
        message = str(info.value)
        assert f"checkpoint {source} holds non-finite weights in 2 tensor(s): " in message
        assert f"{nan_key} (1 NaN, 0 inf of " in message and f"{inf_key} (0 NaN, 2 inf of " in message
        assert "Use an earlier checkpoint, or retrain" in message
    (tmp_path / "in").mkdir()
    Image.new("RGB", (8, 6)).save(tmp_path / "in" / "p.png")
    assert main(["predict", str(tmp_path / "in"), "--checkpoint", str(tmp_path / "own"), "--out",
                 str(tmp_path / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "error: checkpoint" in err and "non-finite weights" in err and "Traceback" not in err
    assert not list(tmp_path.glob("out/*.png"))  # no all-zero "depth" map written

    trainer = make_trainer(tmp_path / "run")  # the run to resume, sibling of a checkpoint
    trainer.fit()
    state = torch.load(trainer.state_path, weights_only=True)
    state["model"][nan_key] = model.state_dict()[nan_key].clone()
    torch.save(state, trainer.state_path)
    with pytest.raises(CheckpointError, match=rf"train_state.pt \(the run to resume\) holds non-finite weights in 1 "
                                              rf"tensor\(s\): {re.escape(nan_key)} \(1 NaN"):
        make_trainer(tmp_path / "run").fit(resume=True)


@pytest.mark.parametrize(("edit", "error", "message"), [
    (lambda m: {**m, "config": {**m["config"], "n_bins": "64"}}, ConfigError,
     r"config.json: ZoeDAMConfig.n_bins must be int, got '64' \(str\)"),
    (lambda m: {**m, "config": {**m["config"], "img_size": [56, "70"]}}, ConfigError,
     r"ZoeDAMConfig.img_size must be tuple\[int, int\], got \[56, '70'\]"),
    (lambda m: [m], CheckpointError, r"config.json must hold a JSON object \(format, model, config …\), got a list"),
    (lambda m: {**m, "config": "vits"}, CheckpointError, r"'model' must be a model name and 'config' an object"),
    (lambda m: {**m, "model": ["zoedam"]}, CheckpointError, r"model=\['zoedam'\]"),
], ids=["n_bins_string", "img_size_string", "top_level_list", "config_not_object", "model_not_a_name"])
def test_config_json_with_wrong_types_is_refused(edit, error, message, tmp_path, capsys):
    save_model(tiny_zoedam(), tmp_path / "own")
    config = tmp_path / "own" / "config.json"
    config.write_text(json.dumps(edit(json.loads(config.read_text()))))
    with pytest.raises(error, match=message):
        load_model(tmp_path / "own")
    Image.new("RGB", (8, 6)).save(tmp_path / "p.png")
    assert main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(tmp_path / "own"), "--out",
                 str(tmp_path / "out"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: ") and "Traceback" not in err


CHAR_DEVICE = "a character device, not a regular file"
LOOP = r"a symbolic link loop \(a link that leads back to itself\)"


@pytest.mark.parametrize(("make", "reason", "data_reason"), [
    (lambda d: Path("/dev/zero"), CHAR_DEVICE, f"cannot read the data file .*: it is {CHAR_DEVICE}"),
    (lambda d: _link(d / "loop.pt", d / "loop.pt"), LOOP, f"cannot read the data file .*: it is {LOOP}"),
    (lambda d: _link(d / "gone.pt", d / "moved.pt"), r"a broken symbolic link \(to .*moved.pt, which does not exist\)",
     r"data file not found: .*moved.pt"),  # the resolved target is named
], ids=["dev_zero", "symlink_loop", "broken_symlink"])
def test_device_file_and_symlink_loop_are_named_not_missing(make, reason, data_reason, tmp_path, capsys):
    path = make(tmp_path)
    with pytest.raises(CheckpointError, match=rf"cannot read checkpoint {re.escape(str(path))}: it is {reason}"):
        load_model(path)
    Image.new("RGB", (8, 6)).save(tmp_path / "p.png")
    assert main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(path), "--out", str(tmp_path / "out"),
                 "--device", "cpu"]) == 2
    assert re.search(rf"error: cannot read checkpoint .*: it is {reason}", capsys.readouterr().err)
    with pytest.raises(DataFileError, match=data_reason):  # sibling: a data file
        NyuMat(path)
    files, skipped = collect_inputs([path])  # sibling: an input image
    assert files == [] and re.fullmatch(reason, skipped[0][1])


def _link(path: Path, target: Path) -> Path:
    os.symlink(target, path)
    return path
