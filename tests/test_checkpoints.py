"""load_model: every format, detection, and a clear error for every bad checkpoint."""

from __future__ import annotations

import json
import os
import pickle

import pytest
import torch
from helpers import depth_anything_keys, dinov2_keys, official_metric_keys, tiny_zoedam
from safetensors.torch import save_file

from zoedam_lib import load_model, save_model
from zoedam_lib.checkpoints import KNOWN_WEIGHTS, detect_format
from zoedam_lib.errors import CheckpointError

X = torch.rand(1, 3, 56, 70)


def same_output(a, b) -> bool:
    with torch.no_grad():
        return torch.allclose(a(X)["metric_depth"], b(X)["metric_depth"], atol=1e-6)


def test_own_checkpoint_round_trip(tmp_path):
    model = tiny_zoedam()
    save_model(model, tmp_path / "ckpt", extra={"note": "test"})
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    loaded = load_model(tmp_path / "ckpt")
    assert not loaded.training and loaded.config == model.config
    assert same_output(model, loaded)
    assert loaded.load_report.format == "own"


@pytest.mark.parametrize("nested, suffix", [(False, ".pt"), (True, ".pt"), (False, ".safetensors")])
def test_official_metric_checkpoint(tmp_path, nested, suffix):
    model = tiny_zoedam()
    sd = official_metric_keys(model)
    path = tmp_path / f"depth_anything_metric_depth_indoor{suffix}"
    if suffix == ".pt":
        torch.save({"model": sd, "epoch": 5} if nested else sd, path)
    else:
        save_file({k: v.half() if v.is_floating_point() else v for k, v in sd.items()}, path)
    loaded = load_model(path, img_size=(56, 70))
    assert loaded.load_report.format == "official_metric" and loaded.load_report.random_parts == ()
    if suffix == ".pt":
        assert same_output(model, loaded)


@pytest.mark.parametrize("name, family", [("depth_anything_vitt14.pth", "v1"), ("depth_anything_v2_vitt.pth", "v2")])
def test_depth_anything_relative_checkpoints(tmp_path, name, family):
    model = tiny_zoedam(layer_family=family)
    torch.save(depth_anything_keys(model), tmp_path / name)
    with pytest.warns(UserWarning, match="randomly initialised: head"):
        loaded = load_model(tmp_path / name, img_size=(56, 70))
    r = loaded.load_report
    assert (r.format, r.family, r.loaded_parts, r.random_parts) == ("depth_anything", family,
                                                                    ("encoder", "decoder"), ("head",))
    assert loaded.encoder.layers == {"v1": (0, 1, 2, 3), "v2": (0, 1, 2, 3)}[family]
    for k, v in model.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(loaded.state_dict()[k], v), k
    with pytest.warns(UserWarning, match="decoder, head"):
        rand = load_model(tmp_path / name, decoder="random", img_size=(56, 70))
    assert not torch.equal(rand.decoder.projects[0].weight, model.decoder.projects[0].weight)


def test_v2_family_picks_the_v2_blocks_for_real_backbones():
    from pathlib import Path

    from zoedam_lib.checkpoints import detect_family
    assert detect_family("depth_anything", Path("depth_anything_v2_vitl.pth"), None) == "v2"
    assert detect_family("depth_anything", Path("depth_anything_vitl14.pth"), None) == "v1"
    assert detect_family("official_metric", Path("x.pt"), None) == "v1"
    assert detect_family("depth_anything", Path("renamed.pth"), "v2") == "v2"


@pytest.mark.parametrize("chunked", [False, True])
def test_dinov2_checkpoint_loads_encoder_only(tmp_path, chunked):
    model = tiny_zoedam()
    torch.save(dinov2_keys(model, chunked=chunked), tmp_path / "dinov2_vitt14_pretrain.pth")
    with pytest.warns(UserWarning, match="decoder, head"):
        loaded = load_model(tmp_path / "dinov2_vitt14_pretrain.pth", img_size=(56, 70))
    assert torch.equal(loaded.encoder.vit.blocks[3].mlp.fc2.weight, model.encoder.vit.blocks[3].mlp.fc2.weight)


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


def test_mis_shaped_tensor_is_listed(tmp_path):
    sd = official_metric_keys(tiny_zoedam())
    sd["core.core.depth_head.projects.0.weight"] = torch.zeros(9, 64, 1, 1)
    torch.save(sd, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match=r"shape mismatches \(1\): decoder.projects.0.weight"):
        load_model(tmp_path / "m.pt", img_size=(56, 70))


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


def test_truncated_files(tmp_path):
    model = tiny_zoedam()
    torch.save(official_metric_keys(model), tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(tmp_path / "t.pt")
    save_model(model, tmp_path / "own")
    weights = tmp_path / "own" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(tmp_path / "own")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model": {"w": torch.zeros(1)}, "payload": _Evil()}, path)
    with pytest.raises(CheckpointError, match="could run arbitrary code"):
        load_model(path)
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(CheckpointError):
        load_model(path)


def test_not_a_state_dict_and_unknown_scheme(tmp_path):
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="does not hold a state dict"):
        load_model(tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="unrecognised checkpoint"):
        detect_format({"foo.weight": torch.zeros(1)})


def test_missing_path_and_offline_hub(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no network in tests, fail fast
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_model(tmp_path / "nope.pt")
    with pytest.raises(CheckpointError) as err:
        load_model("depth_anything_metric_depth_indoor")
    msg = str(err.value)
    assert KNOWN_WEIGHTS["depth_anything_metric_depth_indoor"].url in msg
    assert "checkpoints/depth_anything_metric_depth_indoor.pt" in msg
    with pytest.raises(CheckpointError, match="huggingface.co/someone/unknown-model"):
        load_model("someone/unknown-model")


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
    with pytest.raises(Exception, match="attractor_alpa"):
        load_model(tmp_path / "own")


def test_save_model_replaces_atomically_and_keeps_old_on_failure(tmp_path, monkeypatch):
    a, b = tiny_zoedam(0), tiny_zoedam(1)
    save_model(a, tmp_path / "ckpt")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("zoedam_lib.checkpoints.save_file", boom)
    with pytest.raises(OSError):
        save_model(b, tmp_path / "ckpt")
    assert same_output(a, load_model(tmp_path / "ckpt"))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
