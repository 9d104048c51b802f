"""ZoeDepth's metric-bins module (Bhat et al. 2023, §3): seed bins, attractors, log-binomial output.

The decoder's bottleneck predicts 64 depth-bin centres per pixel; four attractor stages move
them at increasing resolution; a conditional log-binomial distribution over the bins, whose
mode and temperature come from the last decoder feature and the relative depth, weights the
centres into metric depth. Parameter names follow the official checkpoints.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _up(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear, align_corners=True (as official); skipped when already at ``size`` (an exact identity)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


def _source_rows(h_in: int, h_out: int, r0: int, r1: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For output rows r0:r1 of a bilinear (align_corners) resize from h_in to h_out rows: the upper
    and lower source row of each and the lower one's weight, as PyTorch computes them."""
    scale = (h_in - 1) / (h_out - 1) if h_out > 1 else 0.0
    src = torch.arange(r0, r1, dtype=torch.float32) * scale
    top = src.floor().long().clamp_(max=h_in - 1)
    return top, (top + 1).clamp_(max=h_in - 1), src - top


def _source_span(h_in: int, h_out: int, r0: int, r1: int) -> tuple[int, int]:
    """The source rows [lo, hi) that output rows r0:r1 read."""
    top, bottom, _ = _source_rows(h_in, h_out, r0, r1)
    return int(top[0]), int(bottom[-1]) + 1


def _up_rows(x: torch.Tensor, size: tuple[int, int] | torch.Size, r0: int, r1: int,
             src_height: int | None = None, src_offset: int = 0) -> torch.Tensor:
    """Rows ``r0:r1`` of ``_up(x, size)`` without computing the others.

    ``x`` may hold only source rows ``src_offset:src_offset + x.shape[-2]`` of a map with
    ``src_height`` rows (at least the span :func:`_source_span` names). Bilinear interpolation is
    separable: interpolate along the width on the source rows the band needs, then blend pairs of
    rows with PyTorch's weights.
    """
    h_in = x.shape[-2] if src_height is None else src_height
    h_out, w_out = tuple(size)
    if h_in == h_out:
        return _up(x[..., r0 - src_offset:r1 - src_offset, :], (r1 - r0, w_out))
    top, bottom, w_bottom = _source_rows(h_in, h_out, r0, r1)
    lo, hi = _source_span(h_in, h_out, r0, r1)
    rows = _up(x[..., lo - src_offset:hi - src_offset, :], (hi - lo, w_out))
    top, bottom = (top - lo).to(x.device), (bottom - lo).to(x.device)
    return torch.lerp(rows[..., top, :], rows[..., bottom, :], w_bottom.to(x.device, x.dtype).view(-1, 1))


# The head works on (B, C, H, W) tensors stored channels-last: its 1×1 convolutions become one
# (pixels × C) @ (C × out) matrix product each, and the per-pixel reductions over the 64 bins
# (softmax, expectation) run over contiguous memory. On CPUs that is about twice as fast as NCHW
# convolutions; the maths is the same.

def _nhwc(x: torch.Tensor) -> torch.Tensor:
    """The (B, H, W, C) view of a (B, C, H, W) tensor (contiguous when ``x`` is channels-last)."""
    return x.permute(0, 2, 3, 1)


def _nchw(x: torch.Tensor) -> torch.Tensor:
    """Back from (B, H, W, C) to a (B, C, H, W) view (channels-last memory)."""
    return x.permute(0, 3, 1, 2)


def _conv1x1(x: torch.Tensor, conv: nn.Conv2d, weight: torch.Tensor | None = None,
             bias: torch.Tensor | None = None) -> torch.Tensor:
    """``conv`` (a 1×1 convolution, or ``weight``/``bias`` slices of one) as a matrix product per pixel."""
    w = (conv.weight if weight is None else weight).flatten(1)
    b = conv.bias if weight is None else bias
    bsz, c, h, wd = x.shape
    pixels = _nhwc(x).reshape(-1, c)  # a view for channels-last input, and for NCHW input when bsz == 1
    y = pixels @ w.t() if b is None else torch.addmm(b, pixels, w.t())
    return _nchw(y.view(bsz, h, wd, -1))


def _mlp(x: torch.Tensor, layers: nn.Sequential) -> torch.Tensor:
    """Apply a Sequential of 1×1 convolutions and activations pixel-wise, channels-last."""
    for layer in layers:
        x = _conv1x1(x, layer) if isinstance(layer, nn.Conv2d) else layer(x)
    return x


class SeedBinRegressor(nn.Module):
    """1×1 MLP from the bottleneck to ``n_bins`` positive (softplus) bin centres, unnormalised."""

    def __init__(self, in_features: int, n_bins: int = 64, mlp_dim: int = 256) -> None:
        super().__init__()
        self._net = nn.Sequential(nn.Conv2d(in_features, mlp_dim, 1), nn.ReLU(),
                                  nn.Conv2d(mlp_dim, n_bins, 1), nn.Softplus())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _mlp(x, self._net)


class Projector(nn.Module):
    """1×1 MLP embedding a decoder feature into the bin-embedding space."""

    def __init__(self, in_features: int, out_features: int, mlp_dim: int = 128) -> None:
        super().__init__()
        self._net = nn.Sequential(nn.Conv2d(in_features, mlp_dim, 1), nn.ReLU(),
                                  nn.Conv2d(mlp_dim, out_features, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _mlp(x, self._net)


class AttractorLayer(nn.Module):
    """Predict ``n_attractors`` attractor points and pull the (upsampled) bin centres towards them.

    Inverse attractor: ``Δc = mean_a (a − c) / (1 + α·|a − c|^γ)``. The official layer stores the
    configured α = 1000 but calls the distance function without it, so α = 300 is what official
    checkpoints were trained with (conformance README §5.1); ``alpha`` defaults to that.
    """

    def __init__(self, in_features: int, n_attractors: int, mlp_dim: int = 128, alpha: float = 300.0,
                 gamma: int = 2, kind: str = "mean", attractor_type: str = "inv") -> None:
        super().__init__()
        if kind not in ("mean", "sum") or attractor_type not in ("inv", "exp"):
            raise ValueError(f"attractor kind must be mean|sum and type inv|exp, got {kind!r}, {attractor_type!r}")
        self.alpha, self.gamma, self.kind, self.attractor_type = alpha, gamma, kind, attractor_type
        self._net = nn.Sequential(nn.Conv2d(in_features, mlp_dim, 1), nn.ReLU(),
                                  nn.Conv2d(mlp_dim, n_attractors, 1), nn.Softplus())

    def forward(self, embedding: torch.Tensor, prev_centers: torch.Tensor,
                prev_embedding: torch.Tensor) -> torch.Tensor:
        """(B, E, h, w) embedding, coarser (B, n_bins, ·, ·) centres and embedding → (B, n_bins, h, w) centres."""
        size = embedding.shape[-2:]
        return self._attract(embedding + _up(prev_embedding, size), _up(prev_centers, size))

    def forward_rows(self, embedding: torch.Tensor, prev_centers: torch.Tensor, prev_embedding: torch.Tensor,
                     size: tuple[int, int] | torch.Size, lo: int, hi: int) -> torch.Tensor:
        """``forward`` for rows lo:hi of a (·, ·, *size) stage, given the embedding of just those rows."""
        return self._attract(embedding + _up_rows(prev_embedding, size, lo, hi),
                             _up_rows(prev_centers, size, lo, hi))

    def _attract(self, embedding: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
        attractors = _nhwc(_mlp(embedding, self._net))  # (B, h, w, A)
        centers = _nhwc(centers)  # (B, h, w, n_bins)
        dx = attractors.unsqueeze(-1) - centers.unsqueeze(-2)  # (B, h, w, A, n_bins)
        if self.attractor_type == "inv":
            denom = dx.square() if self.gamma == 2 else dx.pow(self.gamma)
            denom = denom.mul_(self.alpha).add_(1)
            pull = dx / denom
        else:
            pull = torch.exp(-self.alpha * dx.abs().pow(self.gamma)) * dx
        delta = pull.mean(dim=-2) if self.kind == "mean" else pull.sum(dim=-2)
        return _nchw(centers + delta)


class LogBinomial(nn.Module):
    """Softmax(log-binomial(k; K−1, p) / t) over K classes: a unimodal distribution with mode ≈ p·(K−1)."""

    def __init__(self, n_classes: int = 64) -> None:
        super().__init__()
        self.K = n_classes
        self.register_buffer("k_idx", torch.arange(0, n_classes).view(1, -1, 1, 1))
        self.register_buffer("K_minus_1", torch.tensor([float(n_classes - 1)]).view(1, -1, 1, 1))

    def forward(self, p: torch.Tensor, t: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
        """``p`` (B, H, W) or (B, 1, H, W) in (0, 1), ``t`` (B, 1, H, W) temperature → (B, K, H, W) probs.

        ZoeDepth computes ``y_k = log C(K−1, k) + k·ln p + (K−1−k)·ln(1−p)`` and ``softmax(y / t)``.
        The ``(K−1)·ln(1−p)/t`` part is the same for every k and cancels in the softmax, so we use
        ``y_k = (log C + k·logit p) / t``: two passes over (B, K, H, W) instead of five, and smaller
        logits (the official ones reach ~3e4 at t = 0.0212, where float32 rounding is ~2e-3).
        """
        if p.ndim == 3:
            p = p.unsqueeze(1)
        logit = torch.log(torch.clamp(p, eps, 1)) - torch.log(torch.clamp(1 - p, eps, 1))
        inv_t = _nhwc(1.0 / t)  # (B, H, W, 1)
        log_c = _log_binom(self.K_minus_1, self.k_idx).view(-1)  # (K,)
        y = torch.addcmul(log_c * inv_t, self.k_idx.view(-1).to(p.dtype), _nhwc(logit) * inv_t)  # (B, H, W, K)
        return _nchw(torch.softmax(y, dim=-1))


def _log_binom(n: torch.Tensor, k: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Stirling-form log binomial coefficient, as ZoeDepth (float32)."""
    n, k = n + eps, k + eps
    return n * torch.log(n) - k * torch.log(k) - (n - k) * torch.log(n - k + eps)


class ConditionalLogBinomial(nn.Module):
    """Predict the log-binomial's p and temperature per pixel from a feature and a condition."""

    def __init__(self, in_features: int, condition_dim: int, n_classes: int = 64, bottleneck_factor: int = 2,
                 p_eps: float = 1e-4, max_temp: float = 50.0, min_temp: float = 0.0212) -> None:
        super().__init__()
        self.p_eps, self.max_temp, self.min_temp = p_eps, max_temp, min_temp
        self.log_binomial_transform = LogBinomial(n_classes)
        bottleneck = (in_features + condition_dim) // bottleneck_factor
        self.mlp = nn.Sequential(nn.Conv2d(in_features + condition_dim, bottleneck, 1), nn.GELU(),
                                 nn.Conv2d(bottleneck, 4, 1), nn.Softplus())

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C, H, W) and a condition at any resolution (upsampled to H, W) → (B, K, H, W) probs.

        The MLP's first 1×1 conv is linear, as is bilinear upsampling, so applying it to the
        condition at its own (coarser) resolution and upsampling its 80 outputs equals upsampling
        the 128-channel condition first — at about a third of the cost.
        """
        return self.probs(x, _up(self.project_condition(cond), x.shape[-2:]))

    def project_condition(self, cond: torch.Tensor) -> torch.Tensor:
        """The condition's share of the MLP's first layer (with its bias), at the condition's resolution."""
        conv0 = self.mlp[0]
        n = conv0.weight.shape[1] - cond.shape[1]
        return _conv1x1(cond, conv0, conv0.weight[:, n:], conv0.bias)

    def probs(self, x: torch.Tensor, projected_cond: torch.Tensor) -> torch.Tensor:
        """Bin probabilities from ``x`` and ``project_condition``'s output already at x's size."""
        conv0, n = self.mlp[0], x.shape[1]
        hidden = _conv1x1(x, conv0, conv0.weight[:, :n]) + projected_cond
        pt = _mlp(hidden, self.mlp[1:]) + self.p_eps  # (B, 4, H, W)
        p = pt[:, 0] / (pt[:, 0] + pt[:, 1])
        t = (pt[:, 2] / (pt[:, 2] + pt[:, 3])).unsqueeze(1)
        t = (self.max_temp - self.min_temp) * t + self.min_temp
        return self.log_binomial_transform(p, t)


class MetricBinsHead(nn.Module):
    """ZoeDepth's head on the DPT features → metric depth, bin centres and bin probabilities.

    Args:
        features: DPT fusion width (bottleneck and skip features all have it).
        n_bins, bin_embedding_dim, n_attractors: ZoeDepth's bin setup (64, 128, [16, 8, 4, 1]).
        attractor_alpha, attractor_gamma, attractor_kind, attractor_type: attractor distance function.
        min_temp, max_temp: range of the log-binomial temperature.
        last_features: channels of the decoder's last feature (``out_conv``), 32 in Depth Anything.
    """

    def __init__(self, features: int, n_bins: int = 64, bin_embedding_dim: int = 128,
                 n_attractors: tuple[int, ...] = (16, 8, 4, 1), attractor_alpha: float = 300.0,
                 attractor_gamma: int = 2, attractor_kind: str = "mean", attractor_type: str = "inv",
                 min_temp: float = 0.0212, max_temp: float = 50.0, last_features: int = 32) -> None:
        super().__init__()
        self.conv2 = nn.Conv2d(features, features, 1)
        self.seed_bin_regressor = SeedBinRegressor(features, n_bins)
        self.seed_projector = Projector(features, bin_embedding_dim)
        self.projectors = nn.ModuleList([Projector(features, bin_embedding_dim) for _ in n_attractors])
        self.attractors = nn.ModuleList([
            AttractorLayer(bin_embedding_dim, n, alpha=attractor_alpha, gamma=attractor_gamma,
                           kind=attractor_kind, attractor_type=attractor_type) for n in n_attractors])
        self.conditional_log_binomial = ConditionalLogBinomial(
            last_features + 1, bin_embedding_dim, n_classes=n_bins, min_temp=min_temp, max_temp=max_temp)

    #: Pixels per band of the banded full-resolution stage: its (band, 64) intermediates then stay
    #: in the CPU's caches instead of streaming ~50 MB maps through memory several times.
    band_pixels: int = 16384

    def forward(self, out_conv: torch.Tensor, rel_depth: torch.Tensor, bottleneck: torch.Tensor,
                blocks: tuple[torch.Tensor, ...], return_maps: bool = True
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Decoder features → ``metric_depth`` (B, 1, H, W), ``bin_centers`` and ``probs`` (B, n_bins, H, W).

        ``blocks`` are the fusion outputs r4, r3, r2, r1 (coarse to fine); H, W is ``out_conv``'s size.
        With ``return_maps=False`` and no autograd (inference), the full-resolution stage runs in
        row bands and the per-pixel centres and probabilities are not kept (both returned as None).
        """
        x = _conv1x1(bottleneck, self.conv2)
        centers = self.seed_bin_regressor(x)  # (B, n_bins, h4, w4)
        prev_embedding = self.seed_projector(x)
        banded = not (return_maps or torch.is_grad_enabled())
        stages = list(zip(self.projectors, self.attractors, blocks, strict=True))
        for projector, attractor, block in stages[:-1] if banded else stages:
            embedding = projector(block)
            centers = attractor(embedding, centers, prev_embedding)
            prev_embedding = embedding
        size = out_conv.shape[-2:]
        last = torch.cat([out_conv, _up(rel_depth.unsqueeze(1), size)], dim=1)  # (B, 33, H, W)
        clb = self.conditional_log_binomial
        if not banded:
            probs = clb(last, prev_embedding)  # (B, n_bins, H, W)
            centers = _up(centers, size)
            return _expectation(probs, centers), centers, probs
        # Banded: the last attractor stage and the full-resolution stage, a band of rows at a time.
        projector, attractor, block = stages[-1]
        src_size = block.shape[-2:]
        metric_depth = last.new_empty(last.shape[0], 1, *size)
        band = max(1, self.band_pixels // size[1])
        for r0 in range(0, size[0], band):
            r1 = min(size[0], r0 + band)
            lo, hi = _source_span(src_size[0], size[0], r0, r1)
            embedding = projector(block[:, :, lo:hi])
            band_centers = attractor.forward_rows(embedding, centers, prev_embedding, src_size, lo, hi)
            cond = _up_rows(clb.project_condition(embedding), size, r0, r1, src_size[0], lo)
            probs = clb.probs(last[:, :, r0:r1], cond)
            metric_depth[:, :, r0:r1] = _expectation(probs, _up_rows(band_centers, size, r0, r1, src_size[0], lo))
        return metric_depth, None, None


def _expectation(probs: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Σ_k p_k · c_k per pixel: (B, K, H, W) twice → (B, 1, H, W)."""
    return torch.einsum("bhwk,bhwk->bhw", _nhwc(probs), _nhwc(centers)).unsqueeze(1)
