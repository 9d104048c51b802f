"""DenseDepth's training loss (ZoeDAM paper eq. (1); Alhashim & Wonka 2018, §3.2).

``L = λ·L_depth + L_grad + L_SSIM`` on the *normalised* depth ``n = max_depth / depth``:
the point-wise L1, the L1 of the image gradients (``tf.image.image_gradients``: forward
differences, zero in the last row/column) and ``clip((1 − SSIM) / 2, 0, 1)`` with SSIM over
the range ``max_depth / min_depth`` (Gaussian window 11, σ 1.5, K1 0.01, K2 0.03, no padding,
as ``tf.image.ssim``). With every pixel valid it equals the official Keras ``depth_loss_function``.

Unlike the official code (dense, in-painted NYU targets) our ground truth may hold holes: invalid
pixels are left out of the L1 and gradient terms and, for SSIM, replaced by the detached
prediction so they add no error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from zoedam_lib.utils.depth import valid_depth


def gaussian_window(size: int = 11, sigma: float = 1.5, device=None) -> torch.Tensor:
    """(1, 1, size, size) normalised Gaussian kernel."""
    coords = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float, window_size: int = 11, sigma: float = 1.5,
         k1: float = 0.01, k2: float = 0.03) -> torch.Tensor:
    """Mean SSIM per image (B,) of (B, C, H, W) maps, differentiable (Wang et al. 2004, ``tf.image.ssim``).

    Local statistics are Gaussian-weighted means computed by a depthwise conv without padding;
    maps smaller than the window use a window as large as the map (as DenseDepth's PyTorch port).
    """
    channels = x.shape[1]
    size = min(window_size, x.shape[-2], x.shape[-1])
    window = gaussian_window(size, sigma, x.device).to(x.dtype).expand(channels, 1, size, size)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=channels)

    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x ** 2
    var_y = blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    luminance = (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1)
    contrast_structure = (2 * cov + c2) / (var_x + var_y + c2)
    return (luminance * contrast_structure).flatten(1).mean(1)


def image_gradients(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dy, dx) forward differences of (B, C, H, W), zero in the last row / column (``tf.image.image_gradients``)."""
    dy = F.pad(t[..., 1:, :] - t[..., :-1, :], (0, 0, 0, 1))
    dx = F.pad(t[..., :, 1:] - t[..., :, :-1], (0, 1, 0, 0))
    return dy, dx


def normalized_depth(depth_m: torch.Tensor, min_depth: float = 0.1, max_depth: float = 10.0) -> torch.Tensor:
    """DenseDepth's ``DepthNorm``: ``max_depth / clip(depth, min_depth, max_depth)`` (near things large)."""
    return max_depth / depth_m.clamp(min_depth, max_depth)


def resize_target(depth: torch.Tensor, mask: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor,
                                                                                               torch.Tensor]:
    """Nearest resize of ground truth and its mask to the prediction's size.

    Nearest, not bilinear: bilinear would average across depth edges (inventing "flying" depths
    between foreground and background) and mix holes (0 / NaN) into valid neighbours; nearest
    keeps every target a measured depth and the mask exact. (DenseDepth resized its in-painted,
    hole-free targets with anti-aliasing, which our holes rule out.)
    """
    if tuple(depth.shape[-2:]) == tuple(size):
        return depth, mask
    depth = F.interpolate(torch.where(mask, depth, 0.0), size=size, mode="nearest-exact")
    mask = F.interpolate(mask.float(), size=size, mode="nearest-exact") > 0.5
    return depth, mask


def densedepth_loss_terms(pred_norm: torch.Tensor, depth_m: torch.Tensor, mask: torch.Tensor | None = None,
                          lam: float = 0.1, min_depth: float = 0.1,
                          max_depth: float = 10.0) -> dict[str, torch.Tensor]:
    """The three terms of eq. (1) and their weighted sum (``total``); see :func:`densedepth_loss`."""
    with torch.autocast(device_type=pred_norm.device.type, enabled=False):
        pred = pred_norm.float()
        depth = depth_m.float()
        if depth.ndim == 3:
            depth = depth.unsqueeze(1)
        if mask is None:
            mask = valid_depth(depth, max_depth=max_depth)
        elif mask.ndim == 3:
            mask = mask.unsqueeze(1)
        mask = mask.bool() & torch.isfinite(depth)
        depth, mask = resize_target(depth, mask, pred.shape[-2:])
        target = torch.where(mask, normalized_depth(torch.where(mask, depth, max_depth), min_depth, max_depth),
                             pred.detach())
        valid = mask.float()
        count = valid.sum().clamp_min(1.0)
        l_depth = ((pred - target).abs() * valid).sum() / count
        dy_p, dx_p = image_gradients(pred)
        dy_t, dx_t = image_gradients(target)
        valid_dy = valid * F.pad(valid[..., 1:, :], (0, 0, 0, 1), value=1.0)  # both pixels of the pair valid
        valid_dx = valid * F.pad(valid[..., :, 1:], (0, 1, 0, 0), value=1.0)
        l_edges = (((dy_p - dy_t).abs() * valid_dy).sum() + ((dx_p - dx_t).abs() * valid_dx).sum()) / count
        similarity = ssim(pred, target, data_range=max_depth / min_depth)
        l_ssim = ((1 - similarity) / 2).clamp(0, 1).mean()
        return {"depth": l_depth, "edges": l_edges, "ssim": l_ssim, "total": lam * l_depth + l_edges + l_ssim}


def densedepth_loss(pred_norm: torch.Tensor, depth_m: torch.Tensor, mask: torch.Tensor | None = None,
                    lam: float = 0.1, min_depth: float = 0.1, max_depth: float = 10.0) -> torch.Tensor:
    """DenseDepth's loss (eq. (1)) of a normalised prediction against ground truth in metres.

    Args:
        pred_norm: (B, 1, h, w) predicted normalised depth (the model's ``normalized`` output).
        depth_m: (B, 1, H, W) or (B, H, W) ground truth in metres; resized (nearest) to (h, w).
        mask: valid ground-truth pixels (default: finite and inside (1e-3, max_depth)); NaN
            targets are always excluded.
        lam: weight λ of the point-wise L1 term (0.1, as the paper).
        min_depth, max_depth: the clip range of ``n = max_depth / depth``; SSIM's data range is their ratio.

    Computed in float32 outside autocast (SSIM's variances lose everything in half precision).
    """
    return densedepth_loss_terms(pred_norm, depth_m, mask, lam, min_depth, max_depth)["total"]
