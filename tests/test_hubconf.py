"""``hubconf.py``: the repository works as an offline ``torch.hub`` source."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from helpers import official_metric_keys, tiny_zoedam

from zoedam_lib.checkpoints import save_model
from zoedam_lib.models.zoedam import ZoeDAM
from zoedam_lib.utils.errors import CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def hubconf():
    spec = importlib.util.spec_from_file_location("zoedam_hubconf", ROOT / "hubconf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_torch_hub_load_local_offline(hubconf):
    for name in ("zoedam_vits", "zoedam_vitb", "zoedam_vitl", "depth_anything_metric"):
        assert callable(getattr(hubconf, name))
    assert all(importlib.util.find_spec(dep) for dep in hubconf.dependencies)  # what torch.hub checks
    model = torch.hub.load(str(ROOT), "zoedam_vits", source="local", img_size=(56, 70))
    assert isinstance(model, ZoeDAM) and not model.training and model.config.backbone == "vits"
    with torch.inference_mode():
        depth = model(torch.rand(1, 3, 40, 50))["metric_depth"]
    assert depth.shape == (1, 1, 56, 70) and torch.isfinite(depth).all()


def test_pretrained_checks_the_backbone(hubconf, tmp_path):
    ckpt = save_model(tiny_zoedam(), tmp_path / "tiny")
    with pytest.raises(CheckpointError, match="holds a vitt model, not vitb"):
        hubconf.zoedam_vitb(pretrained=str(ckpt))


@pytest.mark.parametrize("kind, max_depth", [("indoor", 10.0), ("outdoor", 80.0)])
def test_depth_anything_metric_from_a_local_file(hubconf, tmp_path, kind, max_depth):
    model = tiny_zoedam()
    path = tmp_path / f"depth_anything_metric_depth_{kind}.pt"
    torch.save(official_metric_keys(model), path)
    loaded = hubconf.depth_anything_metric(kind, path=str(path), img_size=(56, 70))
    assert loaded.config.max_depth == max_depth and loaded.config.img_size == (56, 70)
    x = torch.rand(1, 3, 56, 70)
    with torch.inference_mode():
        assert torch.allclose(loaded(x)["metric_depth"], model(x)["metric_depth"], atol=1e-5)


def test_depth_anything_metric_rejects_unknown_kind(hubconf):
    with pytest.raises(ConfigError, match="indoor"):
        hubconf.depth_anything_metric("underwater")
