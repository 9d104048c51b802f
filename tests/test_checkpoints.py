"""load_model: every format and its detection. Bad and unsafe checkpoints are in ``tests/robustness/``."""

from __future__ import annotations

import pytest
import torch
from helpers import depth_anything_keys, dinov2_keys, official_metric_keys, tiny_zoedam
from safetensors.torch import save_file

from zoedam_lib import load_model, save_model
from zoedam_lib.checkpoints import load_checkpoint

X = torch.rand(1, 3, 56, 70)


def same_output(a, b) -> bool:
    with torch.no_grad():
        return torch.allclose(a(X)["metric_depth"], b(X)["metric_depth"], atol=1e-6)


def test_own_checkpoint_round_trip(tmp_path):
    model = tiny_zoedam()
    save_model(model, tmp_path / "ckpt", extra={"note": "test"})
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["config.json", "model.safetensors"]
    loaded, report = load_checkpoint(tmp_path / "ckpt")
    assert not loaded.training and loaded.config == model.config
    assert same_output(model, loaded)
    assert report.format == "own" and report.init is None


def test_own_checkpoint_records_its_initialisation(tmp_path):
    init = {"pretrained": "synthda_vits14", "decoder": "pretrained", "loaded_parts": ["encoder", "decoder"]}
    save_model(tiny_zoedam(), tmp_path / "ckpt", extra={"init": init})
    assert load_checkpoint(tmp_path / "ckpt").report.init == init


@pytest.mark.parametrize("nested, suffix", [(False, ".pt"), (True, ".pt"), (False, ".safetensors")])
def test_official_metric_checkpoint(tmp_path, nested, suffix):
    model = tiny_zoedam()
    sd = official_metric_keys(model)
    path = tmp_path / f"depth_anything_metric_depth_indoor{suffix}"
    if suffix == ".pt":
        torch.save({"model": sd, "epoch": 5} if nested else sd, path)
    else:
        save_file({k: v.half() if v.is_floating_point() else v for k, v in sd.items()}, path)
    loaded, report = load_checkpoint(path, img_size=(56, 70))
    assert report.format == "official_metric" and report.random_parts == ()
    if suffix == ".safetensors":  # stored as fp16 (as the conformance file): compare with the fp16-rounded model
        model.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                               for k, v in model.state_dict().items()})
    assert same_output(model, loaded)


@pytest.mark.parametrize("name, family", [("depth_anything_vitt14.pth", "v1"), ("depth_anything_v2_vitt.pth", "v2")])
def test_depth_anything_relative_checkpoints(tmp_path, name, family):
    model = tiny_zoedam(layer_family=family)
    torch.save(depth_anything_keys(model), tmp_path / name)
    with pytest.warns(UserWarning, match="randomly initialised: head"):
        loaded, r = load_checkpoint(tmp_path / name, img_size=(56, 70))
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
