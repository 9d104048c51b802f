"""The metric head computed faster: the reference's weights, channels-last, for training and inference.

:class:`~zoedam_lib.models.layers.metric_bins.MetricBinsHead` is the reference (ZoeDepth's layers on
NCHW tensors) and ``ZoeDAM.forward`` runs it. Three things make the same computation faster; the
first two also in training, where :func:`head_depth` (whole maps, differentiable) is what the
trainer's step runs through :func:`prepare_training`, a wrapper chosen as ``torch.compile`` is:

* **Channels-last 1×1 layers.** Every 1×1 convolution becomes one (pixels × C) @ (C × out)
  matrix product on (B, H, W, C) memory, and the per-pixel reductions over the 64 bins
  (softmax, expectation) run over contiguous memory.
* **Project, then upsample the condition.** The log-binomial MLP's first layer is linear, as is
  bilinear upsampling, so projecting the 128-channel bin embedding at its own resolution and
  upsampling the 80 outputs equals ZoeDepth's upsample-then-concatenate at a third of the cost.
* **Row bands.** The last attractor stage and the full-resolution stage run a band of output
  rows at a time (:data:`BAND_PIXELS` pixels), so the (band, 64) intermediates stay in the CPU's
  caches and no (B, 64, H, W) map is ever stored; bilinear upsampling is separable, so a band
  needs only the source rows its taps (:func:`~zoedam_lib.models.layers.resample.bilinear_taps`) name.

:func:`forward_depth` with ``reduced=False`` equals the reference within float rounding
(``tests/inference/test_exact.py`` is the contract); ``reduced=True`` is the approximate fast path: the
decoder's last stage and the head run at the finest fusion level (4/7 of the network size per
side) and the depth is upsampled. :class:`ExactFastZoeDAM` / :func:`prepare_exact` wrap a model
so that its forward takes the exact path; the default inference entry points use them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.models.layers.dpt import DPTFeatures, DPTHead
from zoedam_lib.models.layers.metric_bins import (
    AttractorLayer,
    ConditionalLogBinomial,
    LogBinomial,
    MetricBinsHead,
    log_binom,
    upsample,
)
from zoedam_lib.models.layers.resample import bilinear_taps

BAND_PIXELS = 16384  # output pixels per band: its (band, 64) float32 intermediates fit in L2 caches


def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """The (B, H, W, C) view of a (B, C, H, W) tensor (contiguous when ``x`` is channels-last)."""
    return x.permute(0, 2, 3, 1)


def _nchw(x: torch.Tensor) -> torch.Tensor:
    """Back from (B, H, W, C) to a (B, C, H, W) view (channels-last memory)."""
    return x.permute(0, 3, 1, 2)


def _conv1x1(x: torch.Tensor, conv: nn.Conv2d, weight: torch.Tensor | None = None,
             bias: torch.Tensor | None = None) -> torch.Tensor:
    """``conv`` (a 1×1 convolution, or ``weight``/``bias`` slices of it) as a matrix product per pixel."""
    w = (conv.weight if weight is None else weight).flatten(1)
    b = conv.bias if weight is None else bias
    bsz, c, h, wd = x.shape
    pixels = _nhwc(x).reshape(-1, c)  # a view for channels-last input, and for NCHW input when bsz == 1
    y = pixels @ w.t() if b is None else torch.addmm(b, pixels, w.t())
    return _nchw(y.view(bsz, h, wd, -1))


def _mlp(x: torch.Tensor, layers: nn.Sequential) -> torch.Tensor:
    """A reference ``nn.Sequential`` of 1×1 convolutions and activations, applied channels-last."""
    for layer in layers:
        x = _conv1x1(x, layer) if isinstance(layer, nn.Conv2d) else layer(x)
    return x


def _source_span(h_in: int, h_out: int, r0: int, r1: int) -> tuple[int, int]:
    """The source rows [lo, hi) that output rows r0:r1 of a bilinear resize from h_in rows read."""
    top, bottom, _ = bilinear_taps(h_in, h_out)
    return int(top[r0]), int(bottom[r1 - 1]) + 1


def _up_rows(x: torch.Tensor, size: tuple[int, int] | torch.Size, r0: int, r1: int,
             src_height: int | None = None, src_offset: int = 0) -> torch.Tensor:
    """Rows ``r0:r1`` of ``upsample(x, size)`` without computing the others.

    ``x`` may hold only source rows ``src_offset:src_offset + x.shape[-2]`` of a map with
    ``src_height`` rows (at least the span :func:`_source_span` names). Bilinear interpolation is
    separable: resample the width on the source rows the band needs, then blend pairs of rows
    with PyTorch's weights.
    """
    h_in = x.shape[-2] if src_height is None else src_height
    h_out, w_out = tuple(size)
    if h_in == h_out:
        return upsample(x[..., r0 - src_offset:r1 - src_offset, :], (r1 - r0, w_out))
    top, bottom, lam = (torch.from_numpy(a[r0:r1]) for a in bilinear_taps(h_in, h_out))
    lo, hi = int(top[0]), int(bottom[-1]) + 1
    rows = upsample(x[..., lo - src_offset:hi - src_offset, :], (hi - lo, w_out))
    top, bottom = (top - lo).to(x.device), (bottom - lo).to(x.device)
    return torch.lerp(rows[..., top, :], rows[..., bottom, :], lam.to(x.device, x.dtype).view(-1, 1))


def _attract(attractor: AttractorLayer, embedding: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """:meth:`AttractorLayer.forward` once ``embedding`` holds the previous one and ``centers`` are upsampled."""
    attractors = _nhwc(_mlp(embedding, attractor._net))  # (B, h, w, A)
    centers = _nhwc(centers)  # (B, h, w, n_bins)
    dx = attractors.unsqueeze(-1) - centers.unsqueeze(-2)  # (B, h, w, A, n_bins)
    denom = dx.square() if attractor.gamma == 2 else dx.pow(attractor.gamma)
    pull = dx / denom.mul_(attractor.alpha).add_(1)
    return _nchw(centers + pull.mean(dim=-2))


def _project_condition(clb: ConditionalLogBinomial, cond: torch.Tensor) -> torch.Tensor:
    """The condition's share of the log-binomial MLP's first layer (with its bias), at the condition's size."""
    conv0 = clb.mlp[0]
    n = conv0.weight.shape[1] - cond.shape[1]
    return _conv1x1(cond, conv0, conv0.weight[:, n:], conv0.bias)


def _log_binomial(lb: LogBinomial, p: torch.Tensor, t: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """:meth:`LogBinomial.forward` over the bins of channels-last memory: (B, H, W), (B, 1, H, W) → (B, K, H, W)."""
    logit = torch.log(torch.clamp(p, eps, 1)) - torch.log(torch.clamp(1 - p, eps, 1))
    inv_t = _nhwc(1.0 / t)  # (B, H, W, 1)
    k = lb.k_idx.view(-1)
    log_c = log_binom(lb.K_minus_1, lb.k_idx).view(-1)  # (K,)
    y = torch.addcmul(log_c * inv_t, k.to(p.dtype), logit.unsqueeze(-1) * inv_t)  # (B, H, W, K)
    return _nchw(torch.softmax(y, dim=-1))


def _probs(clb: ConditionalLogBinomial, x: torch.Tensor, projected_cond: torch.Tensor) -> torch.Tensor:
    """Bin probabilities from ``x`` and :func:`_project_condition`'s output already at x's size."""
    conv0, n = clb.mlp[0], x.shape[1]
    hidden = _conv1x1(x, conv0, conv0.weight[:, :n]) + projected_cond
    pt = _mlp(hidden, clb.mlp[1:])  # (B, 4, H, W)
    return _log_binomial(clb.log_binomial_transform, *clb.mode_and_temperature(pt))


def _expectation(probs: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Σ_k p_k · c_k per pixel: (B, K, H, W) twice → (B, 1, H, W).

    ``vecdot`` over contiguous bins: its backward is two products, where einsum's batched
    matrix product took 3× as long (forward + backward, 98×126, batch 4).
    """
    return torch.linalg.vecdot(_nhwc(probs), _nhwc(centers)).unsqueeze(1)


def _attractor_stages(head: MetricBinsHead, features: DPTFeatures, n_stages: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seed bins and the first ``n_stages`` attractor stages → (bin centres, last bin embedding), channels-last."""
    x = _conv1x1(features.layer_4_rn, head.conv2)
    centers = _mlp(x, head.seed_bin_regressor._net)  # (B, n_bins, h, w)
    embedding = _mlp(x, head.seed_projector._net)
    paths = (features.path_4, features.path_3, features.path_2, features.path_1)[:n_stages]
    for projector, attractor, path in zip(head.projectors[:n_stages], head.attractors[:n_stages], paths, strict=True):
        prev_embedding, embedding = embedding, _mlp(path, projector._net)
        size = embedding.shape[-2:]
        centers = _attract(attractor, embedding + upsample(prev_embedding, size), upsample(centers, size))
    return centers, embedding


def _last_input(features: DPTFeatures) -> torch.Tensor:
    """The log-binomial's input: ``out_conv`` and the relative depth, (B, 33, H, W)."""
    size = features.out_conv.shape[-2:]
    return torch.cat([features.out_conv, upsample(features.rel_depth.unsqueeze(1), size)], dim=1)


def head_depth(head: MetricBinsHead, features: DPTFeatures) -> torch.Tensor:
    """``head(features)[0]`` (metric depth, (B, 1, H, W)) channels-last, whole maps: the training path.

    The same layers as the reference, differentiable, without bands. Its backward is matrix
    products, where the reference's takes PyTorch's NCHW bilinear backward and, on one thread,
    the THNN kernels PyTorch picks for 1×1 convolutions: the head's forward + backward of a
    ``cpu``-preset step (the ``bench`` case ``train_cpu`` against ``train_cpu_reference``).
    """
    centers, embedding = _attractor_stages(head, features, 4)
    clb, size = head.conditional_log_binomial, features.out_conv.shape[-2:]
    probs = _probs(clb, _last_input(features), upsample(_project_condition(clb, embedding), size))
    return _expectation(probs, upsample(centers, size))


def banded_depth(head: MetricBinsHead, features: DPTFeatures, band_pixels: int = BAND_PIXELS) -> torch.Tensor:
    """``head(features)[0]`` (metric depth, (B, 1, H, W) at ``out_conv``'s size) by the fast path.

    The first three attractor stages run whole (their maps are small); the last one and the
    full-resolution stage run per band of output rows, each band reading only its source rows.
    """
    centers, prev_embedding = _attractor_stages(head, features, 3)
    projector, attractor, clb = head.projectors[-1], head.attractors[-1], head.conditional_log_binomial
    src_size, size = features.path_1.shape[-2:], features.out_conv.shape[-2:]
    last = _last_input(features)  # (B, 33, H, W)
    metric_depth = last.new_empty(last.shape[0], 1, *size)
    band = max(1, band_pixels // size[1])
    for r0 in range(0, size[0], band):
        r1 = min(size[0], r0 + band)
        lo, hi = _source_span(src_size[0], size[0], r0, r1)
        embedding = _mlp(features.path_1[:, :, lo:hi], projector._net)  # last stage, source rows lo:hi
        band_centers = _attract(attractor, embedding + _up_rows(prev_embedding, src_size, lo, hi),
                                _up_rows(centers, src_size, lo, hi))
        cond = _up_rows(_project_condition(clb, embedding), size, r0, r1, src_size[0], lo)
        probs = _probs(clb, last[:, :, r0:r1], cond)
        metric_depth[:, :, r0:r1] = _expectation(probs, _up_rows(band_centers, size, r0, r1, src_size[0], lo))
    return metric_depth


def has_metric_bins_head(model: nn.Module) -> bool:
    """Whether ``model`` itself is a ZoeDAM (a DPT decoder feeding a metric-bins head).

    Its own children are looked at, so wrappers (the fast paths, ``torch.compile``'s module,
    DDP), which forward attribute look-ups or hold the model as ``module``, are not.
    """
    children = dict(model.named_children())
    return isinstance(children.get("head"), MetricBinsHead) and isinstance(children.get("decoder"), DPTHead)


def forward_depth(model: nn.Module, x: torch.Tensor, reduced: bool = False, band_pixels: int = BAND_PIXELS,
                  camera: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """A ZoeDAM's ``model(x)`` (``metric_depth`` and ``rel_depth``) with the banded channels-last head.

    ``reduced=False``: the reference's result (float rounding apart). ``reduced=True``: the
    decoder's output stage and the head run at path_1's size (8h × 8w for an h × w patch grid
    instead of 14h × 14w, a third of their cost) and the depth is upsampled to the network size.
    A camera-aware model's depth is turned into metres with ``camera`` (``ZoeDAM.to_metric``).
    """
    size = x.shape[-2:]
    x = model.preprocess(x)  # (B, 3, 14h, 14w)
    tokens = model.encoder(x)
    if reduced:
        layer_4_rn, *paths = model.decoder.fuse(tokens)
        out_conv, rel_depth = model.decoder.predict_relative(paths[-1], paths[-1].shape[-2:], x.shape[-2:])
        features = DPTFeatures(rel_depth, out_conv, layer_4_rn, *paths)
    else:
        features = model.decoder(tokens, out_size=x.shape[-2:])
    # The head stays in fp32: the 0.0212 minimum temperature amplifies rounding errors.
    with torch.autocast(device_type=x.device.type, enabled=False):
        depth = banded_depth(model.head, features.float(), band_pixels)
    if depth.shape[-2:] != features.rel_depth.shape[-2:]:
        depth = F.interpolate(depth, size=features.rel_depth.shape[-2:], mode="bilinear", align_corners=True)
    return _with_camera(model, {"metric_depth": depth, "rel_depth": features.rel_depth}, tokens, size, camera)


def _with_camera(model: nn.Module, out: dict, tokens: list, size: torch.Size, camera: torch.Tensor | None) -> dict:
    """``out`` with a camera-aware model's canonical depth turned into metres (the reference's ``to_metric``)."""
    if model.config.camera == "canonical":
        out.update(model.to_metric(out["metric_depth"], tokens, size, camera))
    return out


class ExactFastZoeDAM(nn.Module):
    """A ZoeDAM whose forward computes its head channels-last: the same depth as ``model(x)``, faster.

    ``banded=True`` (inference) runs the last stages a band of rows at a time (:func:`forward_depth`);
    ``banded=False`` (training) runs :func:`head_depth` on whole maps, differentiable. Its ``config``
    is the wrapped model's, so it can be passed wherever a ZoeDAM is expected; asking for
    ``bin_centers`` / ``probs`` runs the reference, the only path that keeps those maps. The
    wrapper holds no weights of its own: checkpoints are the wrapped model's.

    Args:
        model: a ZoeDAM (see :func:`prepare_exact` for any model).
        banded: row bands (inference) or whole maps with gradients (training).
        band_pixels: output pixels per band of the full-resolution stage.
    """

    def __init__(self, model: nn.Module, banded: bool = True, band_pixels: int = BAND_PIXELS) -> None:
        super().__init__()
        if not has_metric_bins_head(model):
            raise TypeError(f"ExactFastZoeDAM needs a ZoeDAM, got {type(model).__name__}; use prepare_exact(model), "
                            "which passes other models through")
        self.model, self.config, self.banded, self.band_pixels = model, model.config, banded, band_pixels

    def forward(self, x: torch.Tensor, return_final_centers: bool = False,
                return_probs: bool = False, *, camera: torch.Tensor | None = None,
                return_focal_estimate: bool = False) -> dict[str, torch.Tensor]:
        if return_final_centers or return_probs or (return_focal_estimate and self.banded):
            return self.model(x, return_final_centers=return_final_centers, return_probs=return_probs, camera=camera,
                              return_focal_estimate=return_focal_estimate)
        if self.banded:
            return forward_depth(self.model, x, band_pixels=self.band_pixels, camera=camera)
        tokens, feats = self.model.features(x)
        # The head stays in fp32: the 0.0212 minimum temperature amplifies rounding errors.
        with torch.autocast(device_type=feats.out_conv.device.type, enabled=False):
            out = {"metric_depth": head_depth(self.model.head, feats.float()), "rel_depth": feats.rel_depth}
        if return_focal_estimate:  # the camera head trained with the depth (experiments.camera_joint)
            out["log_focal_estimate"] = self.model.log_focal_estimate(tokens)
        return _with_camera(self.model, out, tokens, x.shape[-2:], camera)

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The wrapped model's encoder tokens (what feature alignment compares)."""
        return self.model.encode(x)


def prepare_exact(model: nn.Module, banded: bool = True) -> nn.Module:
    """``model`` with the exact channels-last head if it is a ZoeDAM; any other model (DenseDepth, the
    average baseline, an already wrapped or compiled model) unchanged. Changes nothing in ``model``.

    ``banded=False`` is the training form (:class:`ExactFastZoeDAM`): what the trainer's step runs
    (``Trainer(..., wrap=prepare_training)``) while checkpoints hold the plain model.
    """
    return ExactFastZoeDAM(model, banded=banded) if has_metric_bins_head(model) else model


def prepare_training(model: nn.Module) -> nn.Module:
    """:func:`prepare_exact` in its training form: whole maps, differentiable."""
    return prepare_exact(model, banded=False)
