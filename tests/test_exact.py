"""The contract between the reference metric head and the paths that run its weights.

``models/metric_bins.py`` is the reference (ZoeDepth's layers, NCHW). ``inference/fast_head.py``
computes the same depth faster (channels-last matrix products, the condition projected before
upsampling; row bands at inference, whole maps with gradients for training); here it must equal the
reference within float rounding, for any size, band height and batch, and its gradients too. The
reduced-resolution fast path is an approximation: close, not equal.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers import TINY_SIZE, tiny_zoedam

from zoedam_lib.inference import exact as fast_head
from zoedam_lib.inference.approximate import FastZoeDAM, prepare_fast
from zoedam_lib.inference.exact import (
    BAND_PIXELS,
    ExactFastZoeDAM,
    _log_binomial,
    _probs,
    _project_condition,
    _source_span,
    _up_rows,
    banded_depth,
    forward_depth,
    head_depth,
    prepare_exact,
)
from zoedam_lib.models.layers.dpt import DPTFeatures
from zoedam_lib.models.layers.metric_bins import (
    ConditionalLogBinomial,
    LogBinomial,
    MetricBinsHead,
    log_binom,
    upsample,
)
from zoedam_lib.models.layers.resample import bilinear_taps

pytestmark = pytest.mark.usefixtures("one_thread")


def assert_same_depth(mine: torch.Tensor, ref: torch.Tensor) -> None:
    """Equal within float rounding: 1e-5 relative (plus 1e-6 m for the smallest depths)."""
    assert mine.shape == ref.shape and mine.dtype == ref.dtype == torch.float32
    torch.testing.assert_close(mine, ref, rtol=1e-5, atol=1e-6)


def assert_same_depth_within_rounding(mine: torch.Tensor, ref: torch.Tensor) -> None:
    """:func:`assert_same_depth` for the official-format weights: 1e-5 relative at 99 % of pixels
    and on average, 1e-3 m everywhere.

    Their log-binomial temperature goes down to 0.0212, and softmax(y / t) amplifies float
    rounding: two fp32 orderings of the same sums differ by up to ~2e-4 m at a few pixels
    (conformance README §7: one thread instead of two moves the official output by 1.8e-4).
    """
    assert mine.shape == ref.shape and mine.dtype == ref.dtype == torch.float32
    rel = ((mine - ref).abs() / ref).flatten()
    assert rel.mean() <= 1e-5 and rel.quantile(0.99) <= 1e-5 and (mine - ref).abs().max() <= 1e-3


def reference_depth(model, x: torch.Tensor) -> torch.Tensor:
    """The reference head's depth (asking for the bin centres makes ``forward`` run it)."""
    return model(x, return_final_centers=True)["metric_depth"]


def random_features(size: tuple[int, int], batch: int, width: int = 16, seed: int = 0) -> DPTFeatures:
    """Random decoder features for an output of ``size``, with the DPT's scale ratios (at least 1 pixel)."""
    g = torch.Generator().manual_seed(seed)
    h, w = size

    def at(scale: float, channels: int = width) -> torch.Tensor:
        return torch.randn(batch, channels, max(1, round(h / scale)), max(1, round(w / scale)), generator=g)

    rel = torch.rand(batch, h, w, generator=g) * 3
    return DPTFeatures(rel, at(1, 32).relu(), at(28), at(14), at(7), at(3.5), at(1.75))


@pytest.mark.parametrize("size, batch", [((56, 70), 1), ((33, 47), 2), ((5, 7), 3), ((1, 9), 1), ((97, 13), 2)])
@pytest.mark.parametrize("band_pixels", [1, 200, BAND_PIXELS])
def test_banded_head_equals_the_reference_head(size, batch, band_pixels):
    torch.manual_seed(0)
    head = MetricBinsHead(16).eval()
    feats = random_features(size, batch)
    with torch.inference_mode():
        ref, centers, probs = head(feats)
        fast = banded_depth(head, feats, band_pixels)
    assert centers.shape == probs.shape == (batch, 64, *size)
    assert_same_depth(fast, ref)


@pytest.mark.parametrize("size, batch", [((56, 70), 2), ((33, 47), 1), ((5, 7), 3)])
def test_training_head_equals_the_reference_head_in_depth_and_gradients(size, batch):
    """head_depth (what ``ZoeDAM.forward`` trains through) against the reference, both in float32,
    each measured against the reference in float64: its depth equal within rounding, and every
    gradient (features and parameters) as close to float64's as the reference's own, or closer."""
    torch.manual_seed(0)
    head = MetricBinsHead(16)
    feats = random_features(size, batch)
    target = torch.rand(batch, 1, *size) * 5 + 0.5

    def grads(fn, dtype):
        h = MetricBinsHead(16).to(dtype)
        h.load_state_dict(head.state_dict())
        f = DPTFeatures(*(t.to(dtype).requires_grad_() for t in feats))
        depth = fn(h, f)
        (depth.log() - target.to(dtype).log()).square().mean().backward()
        return depth.detach(), [t.grad for t in f] + [p.grad for p in h.parameters()]

    exact_depth, exact = grads(lambda h, f: h(f)[0], torch.float64)
    ref_depth, ref = grads(lambda h, f: h(f)[0], torch.float32)
    mine_depth, mine = grads(head_depth, torch.float32)
    assert_same_depth(mine_depth, ref_depth)
    for g_mine, g_ref, g_exact in zip(mine, ref, exact, strict=True):
        scale = g_exact.abs().max().item()
        err_mine = (g_mine.double() - g_exact).abs().max().item() / scale
        err_ref = (g_ref.double() - g_exact).abs().max().item() / scale
        assert err_mine <= max(2 * err_ref, 1e-5), (err_mine, err_ref)


@pytest.mark.parametrize("img_size, input_size, batch", [(TINY_SIZE, (56, 70), 1), ((70, 98), (37, 53), 3),
                                                         ((42, 126), (61, 200), 2)])
def test_exact_fast_model_equals_the_reference_model(img_size, input_size, batch):
    model = tiny_zoedam(img_size=img_size)
    x = torch.rand(batch, 3, *input_size)
    with torch.inference_mode():
        ref = model(x, return_final_centers=True)
        assert_same_depth(model(x)["metric_depth"], ref["metric_depth"])  # the channels-last whole-map head
        for band_pixels in (1, 300, BAND_PIXELS):
            out = ExactFastZoeDAM(model, band_pixels)(x)
            assert set(out) == {"metric_depth", "rel_depth"}
            assert torch.equal(out["rel_depth"], ref["rel_depth"])
            assert_same_depth(out["metric_depth"], ref["metric_depth"])


def test_exact_fast_path_on_the_conformance_weights(conformance_dir):
    from zoedam_lib import load_model
    from zoedam_lib.utils.config import replace

    model = load_model(conformance_dir / "zoedam_vits_official_fp16.safetensors")
    case = np.load(conformance_dir / "case_public.npz")
    x = torch.from_numpy(case["x"])
    pair = torch.cat([x, torch.flip(x, [3])])  # batch 2 at the official 392×518
    with torch.inference_mode():
        exact = prepare_exact(model)(pair)["metric_depth"]
        ref = reference_depth(model, pair)
        assert_same_depth_within_rounding(exact, ref)
        assert_same_depth_within_rounding(model(pair)["metric_depth"], ref)
        d = (exact[:1] - torch.from_numpy(case["metric_depth"])).abs()  # the conformance tolerance holds too
        assert d.max() <= 5e-3 and d.mean() <= 2e-5 and d.flatten().quantile(0.999) <= 1e-3
        model.config = replace(model.config, img_size=(182, 266))  # an odd patch grid (13×19)
        small = x[:, :, 7:300, 11:451]
        assert_same_depth_within_rounding(prepare_exact(model)(small)["metric_depth"], reference_depth(model, small))


@pytest.mark.parametrize("size", [(392, 518), (5, 7), (100, 3), (224, 296), (1, 4)])
def test_row_bands_of_the_upsampling_equal_the_whole(size):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 224, 296)
    whole = upsample(x, size)
    for band in (1, 7, size[0]):
        rows = [_up_rows(x, size, r, min(size[0], r + band)) for r in range(0, size[0], band)]
        torch.testing.assert_close(torch.cat(rows, 2), whole, rtol=0, atol=1e-6)
    r = size[0] // 2
    lo, hi = _source_span(224, size[0], r, r + 1)  # the source rows it names are enough
    torch.testing.assert_close(_up_rows(x[:, :, lo:hi], size, r, r + 1, 224, lo), whole[:, :, r:r + 1],
                               rtol=0, atol=1e-6)


@pytest.mark.parametrize("n_in, n_out", [(224, 392), (392, 224), (7, 7), (1, 5), (5, 1), (3, 1000), (6000, 518)])
def test_bilinear_taps_reproduce_torch(n_in, n_out):
    v = torch.randn(n_in, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    i0, i1, lam = (torch.from_numpy(a) for a in bilinear_taps(n_in, n_out))
    mine = (1 - lam) * v[i0] + lam * v[i1]
    ref = F.interpolate(v.view(1, 1, n_in, 1), size=(n_out, 1), mode="bilinear", align_corners=True).view(-1)
    torch.testing.assert_close(mine, ref, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_cli_resize_equals_the_models_own_resize(dtype):
    from zoedam_lib.io.images import to_float_image
    from zoedam_lib.models.layers.preprocess import resize_image as resize_for_network

    image = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, (301, 433, 3), dtype=dtype)
    ref = F.interpolate(to_float_image(image)[None], size=(392, 518), mode="bilinear", align_corners=True)[0]
    torch.testing.assert_close(resize_for_network(image, (392, 518)), ref, rtol=0, atol=1e-6)


def test_log_binomial_equals_zoedepths_literal_formula():
    torch.manual_seed(0)
    lb = LogBinomial(64)
    p = torch.rand(2, 1, 5, 7)
    t = torch.rand(2, 1, 5, 7) * 5 + 0.05
    k = lb.k_idx
    y = log_binom(lb.K_minus_1, k) + k * torch.log(p.clamp(1e-4, 1)) + (63 - k) * torch.log((1 - p).clamp(1e-4, 1))
    literal = torch.softmax(y / t, dim=1)  # ZoeDepth's LogBinomial.forward
    torch.testing.assert_close(lb(p, t), literal, atol=1e-6, rtol=1e-4)
    torch.testing.assert_close(_log_binomial(lb, p[:, 0], t), literal, atol=1e-6, rtol=1e-4)


def test_projecting_the_condition_before_upsampling_equals_zoedepths_order():
    torch.manual_seed(0)
    clb = ConditionalLogBinomial(33, 128, 64)
    x, cond = torch.rand(2, 33, 20, 26), torch.rand(2, 128, 11, 15)
    fast = _probs(clb, x, upsample(_project_condition(clb, cond), (20, 26)))
    torch.testing.assert_close(fast, clb(x, cond), atol=1e-6, rtol=1e-4)


@pytest.fixture(scope="module")
def trained_like():
    """A tiny ZoeDAM whose head was fitted to smooth depth maps (1 + 6 × brightness), so that its
    depth varies within each image as a trained model's does (random heads predict a near constant)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # module fixtures start before ``one_thread``
    torch.manual_seed(0)
    model = tiny_zoedam()
    low = torch.rand(8, 3, 4, 5)
    x = F.interpolate(low, size=TINY_SIZE, mode="bicubic", align_corners=True).clamp(0, 1)
    with torch.no_grad():
        feats = model.forward_features(x[:4])
    opt = torch.optim.Adam(model.head.parameters(), lr=1e-2)
    for _ in range(30):
        depth = model.head(feats)[0]
        loss = (depth.log() - (1 + 6 * x[:4].mean(1, keepdim=True)).log()).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    return model.eval(), x[4:]


def test_reduced_resolution_fast_path_keeps_the_contract_and_stays_close(trained_like):
    model, x = trained_like
    with torch.inference_mode():
        ref = reference_depth(model, x)
        fast = prepare_fast(model)(x)
        reduced = forward_depth(model, x, reduced=True)["metric_depth"]
    assert ref.std(dim=(2, 3)).mean() / ref.mean() > 0.03  # depth varies within images: the check means something
    assert fast["metric_depth"].shape == ref.shape and fast["metric_depth"].dtype == torch.float32
    assert fast["rel_depth"].shape == (len(x), *TINY_SIZE)
    assert ((fast["metric_depth"] - ref).abs() / ref).mean() < 0.01
    assert ((reduced - ref).abs() / ref).mean() < 0.01


def test_default_inference_entry_points_take_the_exact_fast_path(monkeypatch):
    from zoedam_lib.evaluation.evaluate import predict_batch
    from zoedam_lib.inference.predict import infer, predict_depth

    calls = []
    banded = fast_head.banded_depth
    monkeypatch.setattr(fast_head, "banded_depth", lambda *a, **k: calls.append(1) or banded(*a, **k))
    model = tiny_zoedam()
    x = torch.rand(1, 3, *TINY_SIZE)
    with torch.inference_mode():  # the model's own forward never takes it, whatever the autograd state
        ref = model(x)["metric_depth"]
        ref_flip = 0.5 * (ref + torch.flip(reference_depth(model, torch.flip(x, [3])), [3]))
    assert calls == []
    assert_same_depth(infer(model, x), ref)
    assert len(calls) == 1
    assert_same_depth(infer(model, x, flip_tta=True), ref_flip)
    assert len(calls) == 3
    predict_batch(model, x)
    assert len(calls) == 4
    model.predict(np.zeros((20, 30, 3), np.uint8))  # the model's own method: its reference forward
    assert len(calls) == 4
    predict_depth(model, np.zeros((20, 30, 3), np.uint8))
    assert len(calls) == 5


def test_wrappers_pass_other_models_through():
    from zoedam_lib.models.average import AverageDepth

    model = tiny_zoedam()
    average = AverageDepth.fit([np.full((6, 8), 2.0, np.float32)])
    assert prepare_exact(average) is average and prepare_fast(average) is average
    exact = prepare_exact(model)
    assert isinstance(exact, ExactFastZoeDAM) and exact.config is model.config
    assert prepare_exact(exact) is exact
    fast = prepare_fast(model)
    assert isinstance(fast, FastZoeDAM) and prepare_exact(fast) is fast
    with pytest.raises(TypeError, match="needs a ZoeDAM"):
        ExactFastZoeDAM(average)
    with torch.inference_mode():  # per-pixel maps come from the reference
        out = exact(torch.rand(1, 3, *TINY_SIZE), return_probs=True)
    assert out["probs"].shape == out["bin_centers"].shape == (1, 64, *TINY_SIZE)


def test_models_import_nothing_above_them():
    """The model is the reference: importing it loads no inference, training or experiment code."""
    code = ("import sys, zoedam_lib.models.zoedam, zoedam_lib.models.relative, zoedam_lib.models.densedepth;"
            "above = sorted(m for m in sys.modules if m.split('.')[:2] in (['zoedam_lib', 'inference'], "
            "['zoedam_lib', 'training'], ['zoedam_lib', 'experiments']));"
            "assert not above, above")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_model_predict_equals_the_exact_path():
    """``model.predict`` (the reference forward) and ``predict_depth`` (the channels-last head) give one depth."""
    from zoedam_lib.inference.predict import predict_depth

    model = tiny_zoedam()
    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_allclose(model.predict(image, flip_tta=True), predict_depth(model, image, flip_tta=True),
                               rtol=0, atol=1e-5)


def test_training_wrapper_is_the_exact_head_with_gradients():
    """``prepare_training`` computes the reference forward's depth (and its gradients) through the
    channels-last head, and holds no weights of its own: checkpoints stay the model's."""
    from zoedam_lib.inference.exact import prepare_training

    model = tiny_zoedam().train()
    net = prepare_training(model)
    assert list(net.state_dict()) == ["model." + k for k in model.state_dict()]
    x = torch.rand(2, 3, *TINY_SIZE)
    ref = model(x)["metric_depth"]
    ref.sum().backward()
    ref_grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    depth = net(x)["metric_depth"]
    depth.sum().backward()
    assert_same_depth(depth, ref)
    assert sum(g is not None for g in ref_grads) > 0.9 * len(ref_grads)
    for g, r in zip((p.grad for p in model.parameters()), ref_grads, strict=True):
        assert (g is None) == (r is None)
        if r is not None:
            torch.testing.assert_close(g, r, rtol=1e-3, atol=1e-5)
