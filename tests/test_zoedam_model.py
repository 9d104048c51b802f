"""ZoeDAM on the tiny test backbone: forward contract, config, parameter groups, predict."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import TINY_SIZE, tiny_zoedam
from PIL import Image
from torch import nn

from zoedam_lib.models.backbones import BACKBONES
from zoedam_lib.models.layers.preprocess import config_input_size
from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig, parameter_table


def test_forward_contract_any_input_size():
    model = tiny_zoedam()
    for h, w in [(48, 64), (100, 37), TINY_SIZE]:
        with torch.no_grad():
            out = model(torch.rand(2, 3, h, w), return_probs=True)
        assert out["metric_depth"].shape == (2, 1, *TINY_SIZE)
        assert out["rel_depth"].shape == (2, *TINY_SIZE)
        assert out["bin_centers"].shape == out["probs"].shape == (2, 64, *TINY_SIZE)
        assert torch.allclose(out["probs"].sum(1), torch.ones(2, *TINY_SIZE), atol=1e-5)
        assert (out["metric_depth"] > 0).all()


def test_rejects_non_rgb_input():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        tiny_zoedam()(torch.rand(1, 4, 56, 70))


class _HandBuiltBins(nn.Module):
    """Stands in for the conditional log-binomial: all mass on bin ``(row + col) % n_bins``."""

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        k = (torch.arange(h).view(-1, 1) + torch.arange(w)).remainder(64).expand(b, h, w)
        return F.one_hot(k, 64).permute(0, 3, 1, 2).float()  # (B, 64, H, W)


def test_metric_depth_is_the_centre_of_the_bin_holding_the_probability():
    model = tiny_zoedam()
    model.head.conditional_log_binomial = _HandBuiltBins()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 56, 70), return_probs=True)
    k = _HandBuiltBins()(out["metric_depth"], None).argmax(1, keepdim=True)  # (B, 1, H, W)
    assert out["bin_centers"].shape == (2, 64, *TINY_SIZE)
    assert torch.equal(out["metric_depth"], out["bin_centers"].gather(1, k))
    assert not torch.equal(out["metric_depth"], out["bin_centers"].gather(1, (k + 1) % 64))  # the bin matters


def test_keep_aspect_ratio_sizes():
    cfg = ZoeDAMConfig(keep_aspect_ratio=True)
    assert config_input_size(cfg, 480, 640) == (392, 518)
    h, w = config_input_size(cfg, 300, 900)
    assert h % 14 == 0 and w % 14 == 0 and abs(w / h - 3) < 0.15
    assert config_input_size(ZoeDAMConfig(), 300, 900) == (392, 518)


def test_feature_blocks_per_family():
    """v1 (Depth Anything v1 and its metric checkpoints) taps the last four blocks; v2 taps four blocks spread
    over the depth, ending at the last, and never the v1 set (a v2 checkpoint must not run as v1)."""
    for spec in (BACKBONES[b] for b in ("vits", "vitb", "vitl")):
        assert spec.layer_indices("v1") == tuple(range(spec.depth - 4, spec.depth))
        v2 = spec.layer_indices("v2")
        assert len(v2) == 4 and list(v2) == sorted(set(v2)) and v2[-1] == spec.depth - 1
        assert v2[0] < spec.depth // 2 and v2 != spec.layer_indices("v1")


@pytest.mark.parametrize("backbone, published_millions", [("vits", 24.8), ("vitb", 97.5), ("vitl", 335.3)])
def test_backbone_table_gives_depth_anythings_published_sizes(backbone, published_millions):
    """The table's widths and depths build Depth Anything v1's networks: their parameter counts as published
    (Depth-Anything-Small/Base/Large: 24.8M / 97.5M / 335.3M, the official README), to its one decimal."""
    from zoedam_lib.models.relative import RelativeDepthConfig, RelativeDepthModel

    with torch.device("meta"):
        model = RelativeDepthModel(RelativeDepthConfig(backbone=backbone))
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == published_millions


def test_zoedam_s_has_the_official_metric_models_parameters():
    """The official metric ZoeDAM-S has 25,029,570 parameters (conformance README); ours lacks only DINOv2's
    ``mask_token`` (one embedding, used in self-supervised pretraining, never at inference)."""
    counts = parameter_table(("vits",))["vits"]
    assert counts["total"] + BACKBONES["vits"].embed_dim == 25_029_570


def test_parameter_groups_cover_every_parameter_once():
    model = tiny_zoedam()
    groups = model.param_groups(1.61e-4)
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs["metric_head"] == pytest.approx(1.61e-4)
    assert lrs["encoder"] == lrs["pos_embed"] == lrs["decoder"] == pytest.approx(1.61e-4 / 50)
    assert model.param_groups(1.0, 10, 10, 1)[2]["lr"] == 1.0


def test_gradients_reach_every_part():
    model = tiny_zoedam().train()
    out = model(torch.rand(2, 3, 56, 70))
    out["metric_depth"].mean().backward()
    for part in (model.encoder, model.decoder, model.head):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters())


def test_head_stays_fp32_under_bf16_autocast():
    model = tiny_zoedam()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.rand(1, 3, 56, 70))
    assert out["metric_depth"].dtype == torch.float32


@pytest.mark.parametrize("kind", ["uint8", "uint16", "gray", "rgba", "pil", "tensor"])
def test_predict_returns_input_resolution_in_range(kind):
    model = tiny_zoedam()
    rng = np.random.default_rng(0)
    img8 = rng.integers(0, 255, (33, 47, 3), dtype=np.uint8)
    image = {"uint8": img8, "uint16": img8.astype(np.uint16) * 257, "gray": img8[..., 0],
             "rgba": np.dstack([img8, np.full((33, 47), 255, np.uint8)]), "pil": Image.fromarray(img8),
             "tensor": torch.from_numpy(img8).permute(2, 0, 1).float() / 255}[kind]
    depth = model.predict(image)
    assert depth.shape == (33, 47) and depth.dtype == np.float32
    assert np.all((depth >= 1e-3) & (depth <= 10))
    if kind in ("uint16", "pil", "tensor"):
        assert np.allclose(depth, model.predict(img8), atol=1e-5)


def test_flip_tta_is_the_average_with_the_mirrored_prediction():
    model = tiny_zoedam()
    img = np.random.default_rng(1).random((56, 70, 3)).astype(np.float32)
    plain, mirrored = model.predict(img), model.predict(img[:, ::-1].copy())[:, ::-1]
    assert np.allclose(model.predict(img, flip_tta=True), 0.5 * (plain + mirrored), atol=1e-5)


def test_parameter_counts_match_official_vits():
    counts = ZoeDAM(ZoeDAMConfig(backbone="vits")).parameter_counts()
    # official ZoeDepth(Depth Anything ViT-S): 25,029,570 parameters incl. DINOv2's unused mask_token (384)
    assert counts["total"] == 25_029_570 - 384


def test_parameterless_models_work_with_the_shared_prediction_helpers():
    from zoedam_lib.evaluation.evaluate import predict_batch
    from zoedam_lib.models.average import AverageDepth

    model = AverageDepth.fit([np.full((6, 8), 2.0, np.float32), np.full((6, 8), 4.0, np.float32)])
    assert list(model.parameters()) == []
    assert torch.allclose(predict_batch(model, torch.rand(1, 3, 12, 16)), torch.full((1, 12, 16), 3.0))


def test_old_configs_with_the_removed_attractor_options_still_load(checkpoint, tmp_path):
    import json
    import shutil

    from zoedam_lib import load_model
    from zoedam_lib.utils.config import from_dict
    from zoedam_lib.utils.errors import ConfigError

    cfg = from_dict(ZoeDAMConfig, {"backbone": "vitt", "attractor_kind": "mean", "attractor_type": "inv"})
    assert cfg == ZoeDAMConfig(backbone="vitt")
    for key, value in (("attractor_kind", "sum"), ("attractor_type", "exp")):
        with pytest.raises(ConfigError, match=rf"{key}='{value}' is no longer supported; only '"):
            from_dict(ZoeDAMConfig, {key: value})
    old = shutil.copytree(checkpoint, tmp_path / "old")
    meta = json.loads((old / "config.json").read_text())
    meta["config"].update(attractor_kind="mean", attractor_type="inv")  # as written before they were removed
    (old / "config.json").write_text(json.dumps(meta))
    x = torch.rand(1, 3, *TINY_SIZE)
    with torch.no_grad():
        assert torch.equal(load_model(old)(x)["metric_depth"], load_model(checkpoint)(x)["metric_depth"])
