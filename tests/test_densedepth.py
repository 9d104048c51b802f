"""DenseDepth baseline: model contract, eq. (1) loss, augmentation, offline fallback, a tiny end-to-end run."""

from __future__ import annotations

import json
import urllib.error

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

import zoedam_lib.models.densedepth as dd
from zoedam_lib.checkpoints import load_model, save_model
from zoedam_lib.data.augment import ChannelPermutation, HorizontalFlip, densedepth_augmentation
from zoedam_lib.evaluation.metrics import METRIC_KEYS
from zoedam_lib.losses.densedepth import densedepth_loss, densedepth_loss_terms, image_gradients, normalized_depth, ssim
from zoedam_lib.models.densedepth import DenseDepth, DenseDepthConfig, build_densedepth
from zoedam_lib.utils.errors import ConfigError

SIZE = (64, 80)


def tiny_densedepth(seed: int = 0, **overrides) -> DenseDepth:
    """Random-encoder DenseDepth with a narrow decoder (the encoder is always the full DenseNet-169)."""
    torch.manual_seed(seed)
    return DenseDepth(DenseDepthConfig(**{"decoder_width": 0.25, **overrides})).eval()


# --------------------------------------------------------------------------- model


def test_forward_is_half_resolution_metres_within_range():
    model = tiny_densedepth()
    with torch.no_grad():
        out = model(torch.rand(2, 3, *SIZE))
    assert out["metric_depth"].shape == out["normalized"].shape == (2, 1, SIZE[0] // 2, SIZE[1] // 2)
    assert (out["metric_depth"] >= 0.1 - 1e-6).all() and (out["metric_depth"] <= 10.0 + 1e-5).all()
    n = out["normalized"].clamp(1, 100)
    assert torch.allclose(out["metric_depth"], 10.0 / n)


def test_img_size_resizes_the_input():
    model = tiny_densedepth(img_size=(32, 64))
    with torch.no_grad():
        out = model(torch.rand(1, 3, 50, 70))
    assert out["metric_depth"].shape == (1, 1, 16, 32)


def test_skip_features_have_densenet_shapes():
    model = tiny_densedepth()
    with torch.no_grad():
        feats = model.forward_features(model.preprocess(torch.rand(1, 3, *SIZE)))
    h, w = SIZE
    assert feats.relu0.shape == (1, 64, h // 2, w // 2)
    assert feats.pool0.shape == (1, 64, h // 4, w // 4)
    assert feats.transition1.shape == (1, 128, h // 8, w // 8)
    assert feats.transition2.shape == (1, 256, h // 16, w // 16)
    assert feats.norm5.shape == (1, 1664, h // 32, w // 32)


def test_parameter_counts_and_config_checks():
    counts = DenseDepth(DenseDepthConfig()).parameter_counts()
    assert counts["encoder"] == 12_484_480  # torchvision DenseNet-169 features
    assert counts["total"] == counts["encoder"] + counts["decoder"]
    assert abs(counts["total"] - dd.PUBLISHED_PARAMETERS) / dd.PUBLISHED_PARAMETERS < 0.01
    with pytest.raises(ConfigError):
        DenseDepthConfig(min_depth=0.0)
    with pytest.raises(ConfigError):
        DenseDepthConfig(img_size=(16, 64))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        tiny_densedepth()(torch.rand(1, 1, *SIZE))


def test_save_load_round_trip(tmp_path):
    model = tiny_densedepth(img_size=SIZE)
    with torch.no_grad():  # move BatchNorm statistics off their defaults so they must round-trip too
        model.train()(torch.rand(2, 3, *SIZE))
    model.eval()
    save_model(model, tmp_path / "ck")
    loaded = load_model(tmp_path / "ck")
    assert isinstance(loaded, DenseDepth) and loaded.config == model.config
    x = torch.rand(1, 3, *SIZE)
    with torch.no_grad():
        assert torch.equal(loaded(x)["metric_depth"], model(x)["metric_depth"])


def test_offline_fallback_says_the_encoder_is_random(monkeypatch, capsys):
    def offline():
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(dd, "imagenet_densenet169_features", offline)
    model, init = build_densedepth(pretrained_encoder=True, decoder_width=0.25)
    assert not model.config.pretrained_encoder and "RANDOM" in init
    assert "RANDOM" in capsys.readouterr().out


def test_pretrained_weights_are_loaded_when_available(monkeypatch):
    torch.manual_seed(1)
    weights = DenseDepth(DenseDepthConfig(decoder_width=0.25)).encoder.state_dict()
    monkeypatch.setattr(dd, "imagenet_densenet169_features", lambda: weights)
    model, init = build_densedepth(pretrained_encoder=True, decoder_width=0.25, verbose=False)
    assert model.config.pretrained_encoder and "ImageNet" in init
    assert torch.equal(model.encoder.conv0.weight, weights["conv0.weight"])


# --------------------------------------------------------------------------- loss


def test_ssim_matches_skimage_and_is_one_for_identical_maps():
    rng = np.random.default_rng(0)
    a = rng.random((30, 40)) * 50
    b = a + rng.normal(0, 5, a.shape)
    ref = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=100.0)
    t = lambda v: torch.tensor(v, dtype=torch.float32)[None, None]  # noqa: E731
    assert ssim(t(a), t(b), 100.0).item() == pytest.approx(ref, abs=1e-4)
    assert ssim(t(a), t(a), 100.0).item() == pytest.approx(1.0, abs=1e-6)
    noisy = [ssim(t(a), t(a + rng.normal(0, s, a.shape)), 100.0).item() for s in (1, 5, 20)]
    assert noisy[0] > noisy[1] > noisy[2]


def test_image_gradients_follow_tf():
    x = torch.arange(12.0).view(1, 1, 3, 4)
    dy, dx = image_gradients(x)
    assert torch.equal(dy[0, 0, :2], torch.full((2, 4), 4.0)) and (dy[0, 0, 2] == 0).all()
    assert torch.equal(dx[0, 0, :, :3], torch.ones(3, 3)) and (dx[0, 0, :, 3] == 0).all()


def test_loss_is_zero_for_identical_maps_and_has_gradients():
    torch.manual_seed(0)
    depth = 0.5 + 5 * torch.rand(2, 1, 24, 32)
    target = normalized_depth(depth)
    assert densedepth_loss(target, depth).item() == pytest.approx(0.0, abs=1e-6)
    pred = (target + torch.randn_like(target)).requires_grad_()
    terms = densedepth_loss_terms(pred, depth)
    assert all(terms[k] > 0 for k in ("depth", "edges", "ssim"))
    terms["total"].backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_target_is_resized_to_the_prediction():
    depth = 0.5 + 5 * torch.rand(1, 1, 48, 64)
    pred = torch.zeros(1, 1, 24, 32, requires_grad=True)
    densedepth_loss(pred, depth).backward()
    assert pred.grad.shape == (1, 1, 24, 32) and pred.grad.abs().sum() > 0


# --------------------------------------------------------------------------- augmentation


def test_augmentation_keeps_image_and_depth_together():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    depth = rng.random((6, 8)).astype(np.float32)
    img, dep = HorizontalFlip(1.0)(image, depth, rng)
    assert np.array_equal(img, image[:, ::-1]) and np.array_equal(dep, depth[:, ::-1])
    img, dep = ChannelPermutation(1.0)(image, depth, rng)
    assert dep is depth and sorted(img.reshape(-1, 3).T.tolist()) == sorted(image.reshape(-1, 3).T.tolist())
    aug = densedepth_augmentation()
    for seed in range(20):
        img, dep = aug(image, depth, np.random.default_rng(seed))
        flipped = np.array_equal(dep, depth[:, ::-1])
        assert flipped or np.array_equal(dep, depth)
        base = image[:, ::-1] if flipped else image
        assert any(np.array_equal(img, base[..., list(p)]) for p in
                   ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)))


# --------------------------------------------------------------------------- end to end


def test_run_densedepth_end_to_end(tmp_path, monkeypatch):
    from zoedam_lib.data.datasets import DepthDataset
    from zoedam_lib.data.synthrooms.generate import generate_synthrooms
    from zoedam_lib.evaluation.metrics import compute_metrics
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.experiments.densedepth import run_densedepth
    from zoedam_lib.experiments.presets import recipe_for
    from zoedam_lib.inference.predict import infer

    monkeypatch.setattr(dd, "imagenet_densenet169_features", lambda: (_ for _ in ()).throw(OSError("offline")))
    data = generate_synthrooms(tmp_path / "data", n=24, size=(60, 80), workers=1, progress=False)
    ctx = setup_run(data_path=data, out_dir=tmp_path / "run", device="cpu", preset="cpu", verbose=False)
    recipe = recipe_for("densedepth", "cpu", seed=0, img_size=(32, 64), n_val=2, flip_tta=False, epochs=1,
                        batch_size=4, max_steps_per_epoch=2)
    result = run_densedepth(ctx, recipe=recipe, decoder_width=0.25)
    row = json.loads((tmp_path / "run" / "results" / "densedepth.json").read_text())
    assert set(METRIC_KEYS) <= set(row["metrics"]) and row["pretrained_encoder"] is False
    assert row["parameters"]["total"] == result.model.parameter_counts()["total"]
    # the evaluation up-samples the half-resolution metres to the ground truth inside compute_metrics
    first = DepthDataset(ctx.open_data(), ctx.split.test)[0]
    with torch.no_grad():
        pred = infer(result.model.eval(), first["image"][None])
    assert pred.shape == (1, 1, 16, 32)
    expected = compute_metrics(pred[0, 0], first["depth"][0])
    got = next(r for r in result.evaluation.per_image if r["index"] == int(first["index"]))
    assert got["abs_rel"] == pytest.approx(expected["abs_rel"], rel=1e-5)
