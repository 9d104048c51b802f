"""DenseDepth (Alhashim & Wonka 2018), the paper's conventional baseline (§3.1.2, Table 2).

A DenseNet-169 encoder (ImageNet weights when they can be had) and a plain up-sampling
decoder with skip connections. The network predicts DenseDepth's *normalised* depth
``n = max_depth / depth`` (large for near things) at half the input resolution; ``forward``
also converts it back to metres, so the shared evaluation treats it like every other model.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import DenseNet169_Weights, densenet169

from zoedam_lib.models.layers.preprocess import Preprocess
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.paths import display_path

ENCODER_CHANNELS = 1664  # DenseNet-169's norm5 width
SKIP_CHANNELS = (256, 128, 64, 64)  # transition2, transition1, pool0, relu0: the skips of up1…up4
# "approximately 42.6M" trainable parameters, DenseDepth paper §3 (implementation details), as recalled:
# the paper's text could not be opened offline. Our full-width count (42.65M) and the released nyu.h5
# (165 MB ≈ 42.6M fp32 weights, DenseDepth README) both agree with it.
PUBLISHED_PARAMETERS = 42.6e6


@dataclass
class DenseDepthConfig:
    """DenseDepth architecture; defaults are the paper's network (full-width decoder, 10 cm…10 m)."""

    img_size: tuple[int, int] | None = None  # network input (H, W); None: use the input's own size
    decoder_width: float = 1.0  # decoder channels = 1664 × width (0.5: the Keras code's "half features")
    min_depth: float = 0.1  # DenseDepth's depth range in metres (10 cm…10 m)
    max_depth: float = 10.0
    pretrained_encoder: bool = False  # provenance only: whether the encoder started from ImageNet weights

    def __post_init__(self) -> None:
        if self.img_size is not None:
            self.img_size = tuple(self.img_size)  # type: ignore[assignment]
            if len(self.img_size) != 2 or any(not isinstance(s, int) or s < 32 for s in self.img_size):
                raise ConfigError(f"img_size must be None or two integers >= 32 (H, W), got {self.img_size!r}")
        if int(ENCODER_CHANNELS * self.decoder_width) < 16:
            raise ConfigError(f"decoder_width must leave at least 16 decoder channels, got {self.decoder_width}")
        if not 0 < self.min_depth < self.max_depth:
            raise ConfigError(f"need 0 < min_depth < max_depth, got {self.min_depth}, {self.max_depth}")


class DenseNetFeatures(NamedTuple):
    """The encoder outputs the decoder uses, named after torchvision's DenseNet layers."""

    relu0: torch.Tensor  # (B, 64, H/2, W/2)
    pool0: torch.Tensor  # (B, 64, H/4, W/4)
    transition1: torch.Tensor  # (B, 128, H/8, W/8)
    transition2: torch.Tensor  # (B, 256, H/16, W/16)
    norm5: torch.Tensor  # (B, 1664, H/32, W/32)


class UpBlock(nn.Module):
    """Bilinear up-sampling to the skip's size, concatenation, two 3×3 conv + LeakyReLU(0.2) (DenseDepth §3.1)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.conv_b = nn.Conv2d(out_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
        x = F.leaky_relu(self.conv_a(torch.cat([x, skip], dim=1)), 0.2)
        return F.leaky_relu(self.conv_b(x), 0.2)


class DenseDepthDecoder(nn.Module):
    """1×1 conv on the encoder output, four up-sampling blocks halving the width, 3×3 conv to one channel."""

    def __init__(self, decoder_width: float = 1.0) -> None:
        super().__init__()
        width = int(ENCODER_CHANNELS * decoder_width)
        self.conv2 = nn.Conv2d(ENCODER_CHANNELS, width, 1)
        widths = [width // 2 ** i for i in range(5)]  # width, /2, /4, /8, /16
        self.ups = nn.ModuleList(UpBlock(widths[i] + SKIP_CHANNELS[i], widths[i + 1]) for i in range(4))
        self.conv3 = nn.Conv2d(widths[4], 1, 3, padding=1)

    def forward(self, feats: DenseNetFeatures) -> torch.Tensor:
        x = self.conv2(F.relu(feats.norm5))  # (B, width, H/32, W/32)
        up1 = self.ups[0](x, feats.transition2)  # (B, width/2, H/16, W/16)
        up2 = self.ups[1](up1, feats.transition1)  # (B, width/4, H/8, W/8)
        up3 = self.ups[2](up2, feats.pool0)  # (B, width/8, H/4, W/4)
        up4 = self.ups[3](up3, feats.relu0)  # (B, width/16, H/2, W/2)
        return self.conv3(up4)  # (B, 1, H/2, W/2): normalised depth


class DenseDepth(nn.Module):
    """DenseNet-169 U-Net predicting DenseDepth's normalised depth; see :class:`DenseDepthConfig`.

    The constructor never downloads: the encoder starts random. :func:`build_densedepth` is the
    way to get ImageNet encoder weights (with an offline fallback).

    Args:
        config: architecture and depth range.
    """

    registry_name = "densedepth"

    def __init__(self, config: DenseDepthConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DenseDepthConfig()
        self.encoder = densenet169(weights=None).features
        self.decoder = DenseDepthDecoder(config.decoder_width)
        self.preprocess = Preprocess(config)  # resize to img_size (if set) + normalise (no weights)

    def forward_features(self, x: torch.Tensor) -> DenseNetFeatures:
        """Normalised input → the five skip features, fetched by walking ``features`` (no hooks)."""
        taps = {}
        for name, layer in self.encoder.named_children():
            x = layer(x)
            if name in DenseNetFeatures._fields:
                taps[name] = x
        return DenseNetFeatures(**taps)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """RGB (B, 3, H, W) in [0, 1] → ``metric_depth`` (metres) and ``normalized`` (B, 1, h/2, w/2).

        (h, w) is ``img_size`` or the input size. Metres are ``max_depth / n`` with n clamped to
        [1, max_depth / min_depth], i.e. depth within [min_depth, max_depth] (DenseDepth's ``DepthNorm``).
        """
        cfg = self.config
        normalized = self.decoder(self.forward_features(self.preprocess(x)))
        n = normalized.float().clamp(1.0, cfg.max_depth / cfg.min_depth)
        return {"metric_depth": cfg.max_depth / n, "normalized": normalized}

    def parameter_counts(self) -> dict[str, int]:
        """Parameters of the encoder, the decoder and in total (BatchNorm running statistics excluded)."""
        counts = {name: sum(p.numel() for p in m.parameters())
                  for name, m in (("encoder", self.encoder), ("decoder", self.decoder))}
        counts["total"] = counts["encoder"] + counts["decoder"]
        return counts


def imagenet_densenet169_features() -> dict[str, torch.Tensor]:
    """torchvision's ImageNet DenseNet-169 ``features`` weights (downloads on first use; raises offline).

    torch.hub announces a download with the cache's absolute path on stdout, which would land in
    committed notebook outputs; the announcement is ours instead, with the path shortened.
    """
    weights = DenseNet169_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    if not cached.is_file():
        print(f"downloading torchvision's ImageNet DenseNet-169 weights to {display_path(cached)}")
    with contextlib.redirect_stdout(io.StringIO()):
        return densenet169(weights=weights, progress=False).features.state_dict()


def build_densedepth(pretrained_encoder: bool = True, verbose: bool = True, **config) -> tuple[DenseDepth, str]:
    """A DenseDepth to train, with ImageNet encoder weights when they can be fetched.

    DenseDepth's result rests on transfer learning (paper §3), so a random encoder is allowed
    (offline machines) but said loudly. Returns the model (train mode) and a one-line description
    of its initialisation; ``config.pretrained_encoder`` records what actually happened.
    """
    model = DenseDepth(DenseDepthConfig(**{**config, "pretrained_encoder": False}))
    if not pretrained_encoder:
        init = "RANDOM DenseNet-169 encoder (pretrained_encoder=False): expect far weaker results than the paper"
    else:
        try:
            model.encoder.load_state_dict(imagenet_densenet169_features())
            model.config.pretrained_encoder = True
            init = "DenseNet-169 encoder from torchvision ImageNet weights (IMAGENET1K_V1); decoder random"
        except Exception as exc:  # offline, proxy, corrupt cache: training must still run
            init = (f"could not fetch the ImageNet DenseNet-169 weights ({exc.__class__.__name__}): the encoder "
                    "starts RANDOM; expect far weaker results than the paper")
    if verbose:
        print(("" if model.config.pretrained_encoder else "!!! ") + init)
    return model.train(), init
