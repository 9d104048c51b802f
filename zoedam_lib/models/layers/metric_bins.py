"""ZoeDepth's metric-bins module (Bhat et al. 2023, §3): seed bins, attractors, log-binomial output.

The decoder's bottleneck predicts 64 depth-bin centres per pixel; four attractor stages move
them at increasing resolution; a conditional log-binomial distribution over the bins, whose
mode and temperature come from the last decoder feature and the relative depth, weights the
centres into metric depth. Each layer follows its counterpart in ZoeDepth's
``zoedepth/models/layers/{localbins_layers,attractor,dist_layers}.py`` and runs its own
``nn.Conv2d`` modules on NCHW tensors, so hooks, quantisation, ``torch.compile`` and ONNX export
see the real network. Parameter names follow the official checkpoints.

This is the reference (what export traces and the per-pixel bin maps come from). The same weights
computed channels-last — whole maps with gradients for training, row bands at inference — are
:mod:`zoedam_lib.inference.exact`, held to this module by ``tests/inference/test_exact.py``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoedam_lib.models.layers.dpt import DPTFeatures


def upsample(x: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Bilinear, align_corners=True (as official); skipped when already at ``size`` (an exact identity)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class SeedBinRegressor(nn.Module):
    """1×1 MLP from the bottleneck to ``n_bins`` positive (softplus) bin centres, unnormalised.

    ZoeDepth's ``SeedBinRegressorUnnormed`` (``bin_centers_type="softplus"``, the metric models').
    """

    def __init__(self, in_features: int, n_bins: int = 64, mlp_dim: int = 256) -> None:
        super().__init__()
        self._net = nn.Sequential(nn.Conv2d(in_features, mlp_dim, 1), nn.ReLU(),
                                  nn.Conv2d(mlp_dim, n_bins, 1), nn.Softplus())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) bottleneck → (B, n_bins, h, w) bin centres."""
        return self._net(x)


class Projector(nn.Module):
    """1×1 MLP embedding a decoder feature into the bin-embedding space (ZoeDepth's ``Projector``)."""

    def __init__(self, in_features: int, out_features: int, mlp_dim: int = 128) -> None:
        super().__init__()
        self._net = nn.Sequential(nn.Conv2d(in_features, mlp_dim, 1), nn.ReLU(),
                                  nn.Conv2d(mlp_dim, out_features, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) → (B, out_features, h, w)."""
        return self._net(x)


class AttractorLayer(nn.Module):
    """Predict ``n_attractors`` attractor points and pull the (upsampled) bin centres towards them.

    ZoeDepth's ``AttractorLayerUnnormed`` with the metric models' settings (``attractor_type="inv"``,
    ``attractor_kind="mean"``), the only ones any released checkpoint uses. Inverse attractor:
    ``Δc = mean_a (a − c) / (1 + α·|a − c|^γ)``. The official layer stores the configured
    α = 1000 but calls the distance function without it, so α = 300 is what official checkpoints
    were trained with (conformance README §5.1); ``alpha`` defaults to that.
    """

    def __init__(self, in_features: int, n_attractors: int, mlp_dim: int = 128, alpha: float = 300.0,
                 gamma: int = 2) -> None:
        super().__init__()
        self.alpha, self.gamma = alpha, gamma
        self._net = nn.Sequential(nn.Conv2d(in_features, mlp_dim, 1), nn.ReLU(),
                                  nn.Conv2d(mlp_dim, n_attractors, 1), nn.Softplus())

    def forward(self, embedding: torch.Tensor, prev_centers: torch.Tensor,
                prev_embedding: torch.Tensor) -> torch.Tensor:
        """(B, E, h, w) embedding, coarser (B, n_bins, ·, ·) centres and embedding → (B, n_bins, h, w) centres."""
        size = embedding.shape[-2:]
        attractors = self._net(embedding + upsample(prev_embedding, size))  # (B, A, h, w)
        centers = upsample(prev_centers, size)  # (B, n_bins, h, w)
        dx = attractors.unsqueeze(2) - centers.unsqueeze(1)  # (B, A, n_bins, h, w)
        pull = dx / (1 + self.alpha * dx.pow(self.gamma))
        return centers + pull.mean(dim=1)


class LogBinomial(nn.Module):
    """Softmax(log-binomial(k; K−1, p) / t) over K classes: a unimodal distribution with mode ≈ p·(K−1).

    ZoeDepth computes ``y_k = log C(K−1, k) + k·ln p + (K−1−k)·ln(1−p)`` and ``softmax(y / t)``.
    The ``(K−1)·ln(1−p)/t`` part is the same for every k and cancels in the softmax, so we use
    ``y_k = (log C + k·logit p) / t``: mathematically the same distribution with fewer passes over
    (B, K, H, W) and smaller logits (the official ones reach ~3e4 at t = 0.0212, where float32
    rounding is ~2e-3). ``tests/inference/test_exact.py`` holds it to the literal form. The buffers keep
    the official checkpoints' names.
    """

    def __init__(self, n_classes: int = 64) -> None:
        super().__init__()
        self.register_buffer("k_idx", torch.arange(0, n_classes).view(1, -1, 1, 1))
        self.register_buffer("K_minus_1", torch.tensor([float(n_classes - 1)]).view(1, -1, 1, 1))

    def forward(self, p: torch.Tensor, t: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
        """``p`` (B, H, W) or (B, 1, H, W) in (0, 1), ``t`` (B, 1, H, W) temperature → (B, K, H, W) probs."""
        if p.ndim == 3:
            p = p.unsqueeze(1)
        logit = torch.log(torch.clamp(p, eps, 1.0)) - torch.log(torch.clamp(1 - p, eps, 1.0))  # (B, 1, H, W)
        y = (log_binom(self.K_minus_1, self.k_idx) + self.k_idx * logit) / t  # (B, K, H, W)
        return torch.softmax(y, dim=1)


def log_binom(n: torch.Tensor, k: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Stirling-form log binomial coefficient, as ZoeDepth's ``log_binom`` (float32)."""
    n, k = n + eps, k + eps
    return n * torch.log(n) - k * torch.log(k) - (n - k) * torch.log(n - k + eps)


class ConditionalLogBinomial(nn.Module):
    """Predict the log-binomial's p and temperature per pixel from a feature and a condition.

    ZoeDepth's ``ConditionalLogBinomial``: a 1×1 MLP on ``[feature, condition]`` gives four
    softplus outputs; p = a/(a + b) and the temperature t = c/(c + d), scaled to [min_temp, max_temp].
    """

    def __init__(self, in_features: int, condition_dim: int, n_classes: int = 64, bottleneck_factor: int = 2,
                 p_eps: float = 1e-4, max_temp: float = 50.0, min_temp: float = 0.0212) -> None:
        super().__init__()
        self.p_eps, self.max_temp, self.min_temp = p_eps, max_temp, min_temp
        self.log_binomial_transform = LogBinomial(n_classes)
        bottleneck = (in_features + condition_dim) // bottleneck_factor
        self.mlp = nn.Sequential(nn.Conv2d(in_features + condition_dim, bottleneck, 1), nn.GELU(),
                                 nn.Conv2d(bottleneck, 4, 1), nn.Softplus())

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``x`` (B, C, H, W) and a condition at any resolution (upsampled to H, W, as ZoeDepth) → (B, K, H, W)."""
        pt = self.mlp(torch.cat([x, upsample(cond, x.shape[-2:])], dim=1))  # (B, 4, H, W)
        return self.log_binomial_transform(*self.mode_and_temperature(pt))

    def mode_and_temperature(self, pt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The MLP's (B, 4, H, W) output → p (B, H, W) and temperature (B, 1, H, W)."""
        pt = pt + self.p_eps
        p = pt[:, 0] / (pt[:, 0] + pt[:, 1])
        t = (pt[:, 2] / (pt[:, 2] + pt[:, 3])).unsqueeze(1)
        return p, (self.max_temp - self.min_temp) * t + self.min_temp


class MetricBinsHead(nn.Module):
    """ZoeDepth's head on the DPT features → metric depth, bin centres and bin probabilities.

    Args:
        features: DPT fusion width (bottleneck and skip features all have it).
        n_bins, bin_embedding_dim, n_attractors: ZoeDepth's bin setup (64, 128, [16, 8, 4, 1]).
        attractor_alpha, attractor_gamma: the inverse attractor's distance function.
        min_temp, max_temp: range of the log-binomial temperature.
        last_features: channels of the decoder's last feature (``out_conv``), 32 in Depth Anything.
    """

    def __init__(self, features: int, n_bins: int = 64, bin_embedding_dim: int = 128,
                 n_attractors: tuple[int, ...] = (16, 8, 4, 1), attractor_alpha: float = 300.0,
                 attractor_gamma: int = 2, min_temp: float = 0.0212, max_temp: float = 50.0,
                 last_features: int = 32) -> None:
        super().__init__()
        self.conv2 = nn.Conv2d(features, features, 1)
        self.seed_bin_regressor = SeedBinRegressor(features, n_bins)
        self.seed_projector = Projector(features, bin_embedding_dim)
        self.projectors = nn.ModuleList([Projector(features, bin_embedding_dim) for _ in n_attractors])
        self.attractors = nn.ModuleList([
            AttractorLayer(bin_embedding_dim, n, alpha=attractor_alpha, gamma=attractor_gamma) for n in n_attractors])
        self.conditional_log_binomial = ConditionalLogBinomial(
            last_features + 1, bin_embedding_dim, n_classes=n_bins, min_temp=min_temp, max_temp=max_temp)

    def forward(self, features: DPTFeatures) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decoder features → ``metric_depth`` (B, 1, H, W), ``bin_centers`` and ``probs`` (B, n_bins, H, W).

        As ZoeDepth's ``forward``: seed bins from the bottleneck, one attractor stage per fusion
        output (coarse to fine), then the log-binomial over the bins conditioned on the last bin
        embedding at ``out_conv``'s size H, W, and depth = Σ_k p_k·c_k.
        """
        x = self.conv2(features.layer_4_rn)
        centers = self.seed_bin_regressor(x)  # (B, n_bins, h, w)
        prev_embedding = self.seed_projector(x)
        paths = (features.path_4, features.path_3, features.path_2, features.path_1)
        for projector, attractor, path in zip(self.projectors, self.attractors, paths, strict=True):
            embedding = projector(path)
            centers = attractor(embedding, centers, prev_embedding)
            prev_embedding = embedding
        size = features.out_conv.shape[-2:]
        last = torch.cat([features.out_conv, upsample(features.rel_depth.unsqueeze(1), size)], dim=1)  # (B, 33, H, W)
        probs = self.conditional_log_binomial(last, prev_embedding)  # (B, n_bins, H, W)
        centers = upsample(centers, size)
        return torch.sum(probs * centers, dim=1, keepdim=True), centers, probs
