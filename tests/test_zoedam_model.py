"""ZoeDAM on the tiny test backbone: forward contract, config, parameter groups, predict."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import TINY_SIZE, tiny_zoedam
from PIL import Image

from zoedam_lib.models.backbones import BACKBONES
from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig, network_size


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


def test_metric_depth_is_probability_weighted_bin_centers():
    model = tiny_zoedam()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 56, 70), return_probs=True)
    manual = (out["probs"] * out["bin_centers"]).sum(1, keepdim=True)
    assert torch.allclose(manual, out["metric_depth"], rtol=1e-5)


def test_keep_aspect_ratio_sizes():
    cfg = ZoeDAMConfig(keep_aspect_ratio=True)
    assert network_size(480, 640, cfg) == (392, 518)
    h, w = network_size(300, 900, cfg)
    assert h % 14 == 0 and w % 14 == 0 and abs(w / h - 3) < 0.15
    assert network_size(300, 900, ZoeDAMConfig()) == (392, 518)


@pytest.mark.parametrize("family, expected", [("v1", {"vits": (8, 9, 10, 11), "vitl": (20, 21, 22, 23)}),
                                              ("v2", {"vits": (2, 5, 8, 11), "vitb": (2, 5, 8, 11),
                                                      "vitl": (4, 11, 17, 23)})])
def test_feature_blocks_per_family(family, expected):
    for name, layers in expected.items():
        assert BACKBONES[name].layer_indices(family) == layers


def test_backbone_table_widths():
    assert (BACKBONES["vitb"].features, BACKBONES["vitb"].out_channels) == (128, (96, 192, 384, 768))
    assert (BACKBONES["vitl"].features, BACKBONES["vitl"].out_channels) == (256, (256, 512, 1024, 1024))


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


def test_log_binomial_equals_zoedepths_literal_formula():
    from zoedam_lib.models.metric_bins import LogBinomial, _log_binom

    torch.manual_seed(0)
    lb = LogBinomial(64)
    p = torch.rand(2, 1, 5, 7)
    t = torch.rand(2, 1, 5, 7) * 5 + 0.05
    k = lb.k_idx
    y = _log_binom(lb.K_minus_1, k) + k * torch.log(p.clamp(1e-4, 1)) + (63 - k) * torch.log((1 - p).clamp(1e-4, 1))
    assert torch.allclose(lb(p, t), torch.softmax(y / t, dim=1), atol=1e-6, rtol=1e-4)


def test_conditional_log_binomial_commutes_projection_and_upsampling():
    from zoedam_lib.models.metric_bins import ConditionalLogBinomial, _up

    torch.manual_seed(0)
    clb = ConditionalLogBinomial(33, 128, 64)
    x, cond = torch.rand(1, 33, 20, 26), torch.rand(1, 128, 11, 15)
    pt = clb.mlp(torch.cat([x, _up(cond, (20, 26))], 1)) + clb.p_eps  # upsample first, as ZoeDepth
    p = pt[:, 0] / (pt[:, 0] + pt[:, 1])
    t = (clb.max_temp - clb.min_temp) * (pt[:, 2] / (pt[:, 2] + pt[:, 3])).unsqueeze(1) + clb.min_temp
    assert torch.allclose(clb(x, cond), clb.log_binomial_transform(p, t), atol=1e-6, rtol=1e-4)


def test_fast_path_has_the_same_contract_and_stays_close():
    from zoedam_lib.inference.fast import prepare_fast

    model = tiny_zoedam()
    x = torch.rand(2, 3, 60, 80)
    with torch.inference_mode():
        ref = model(x)["metric_depth"]
        fast = prepare_fast(model)(x)
    assert fast["metric_depth"].shape == ref.shape and fast["metric_depth"].dtype == torch.float32
    assert fast["rel_depth"].shape == (2, *TINY_SIZE)
    assert ((fast["metric_depth"] - ref).abs() / ref).mean() < 0.05


def test_parameterless_models_work_with_the_shared_prediction_helpers():
    from zoedam_lib.evaluation import predict_batch
    from zoedam_lib.models.average import AverageDepth

    model = AverageDepth.fit([np.full((6, 8), 2.0, np.float32), np.full((6, 8), 4.0, np.float32)])
    assert list(model.parameters()) == []
    assert torch.allclose(predict_batch(model, torch.rand(1, 3, 12, 16)), torch.full((1, 12, 16), 3.0))


@pytest.mark.parametrize("size", [(392, 518), (5, 7), (100, 3), (224, 296)])
def test_row_bands_of_the_upsampling_equal_the_whole(size):
    from zoedam_lib.models.metric_bins import _source_span, _up, _up_rows

    torch.manual_seed(0)
    x = torch.randn(2, 3, 224, 296)
    whole = _up(x, size)
    for band in (1, 7, size[0]):
        rows = [_up_rows(x, size, r, min(size[0], r + band)) for r in range(0, size[0], band)]
        assert torch.allclose(torch.cat(rows, 2), whole, atol=1e-6)
    lo, hi = _source_span(224, size[0], 3, 4)  # a source slice is enough
    assert torch.allclose(_up_rows(x[:, :, lo:hi], size, 3, 4, 224, lo), whole[:, :, 3:4], atol=1e-6)


@pytest.mark.parametrize("band_pixels", [1, 200, 10**7])
def test_banded_inference_head_equals_the_full_maps_path(band_pixels):
    model = tiny_zoedam(img_size=(70, 98))
    model.head.band_pixels = band_pixels
    x = torch.rand(2, 3, 50, 60)
    with torch.inference_mode():
        banded = model(x)["metric_depth"]
        full = model(x, return_probs=True)
    assert full["probs"] is not None and full["bin_centers"].shape[-2:] == banded.shape[-2:]
    assert torch.allclose(banded, full["metric_depth"], rtol=1e-5, atol=1e-6)
    model.head.band_pixels = 1
    with torch.no_grad():  # the fast path's head size (equal to the finest fusion level) too
        banded = model(x, full_resolution=False)["metric_depth"]
        full = model(x, full_resolution=False, return_probs=True)["metric_depth"]
    assert torch.allclose(banded, full, rtol=1e-5, atol=1e-6)
