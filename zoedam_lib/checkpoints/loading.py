"""Strict loading: every supported source into a model, with a report of what was loaded.

A checkpoint must fit the parts it is loaded into exactly: missing, unexpected and mis-shaped
keys are listed in the error. The report travels as a value (:class:`Loaded`), so callers can
say loudly which parts stayed random, and a model's own checkpoint records how it was
initialised (``config.json``'s ``init``), which is how the ZoeDAM+ student starts like its teacher.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from zoedam_lib.checkpoints.keys import detect_backbone, detect_family, detect_format, to_own_keys
from zoedam_lib.checkpoints.plan import build_checked, fit_error, fit_problems
from zoedam_lib.checkpoints.reading import read_state_dict
from zoedam_lib.checkpoints.saving import FORMAT_NAME
from zoedam_lib.checkpoints.sources import resolve_source
from zoedam_lib.utils.errors import CheckpointError, ConfigError
from zoedam_lib.utils.paths import display_path

DECODER_CHOICES = ("pretrained", "random")


@dataclass
class LoadReport:
    """What a load filled in, so callers can say loudly what stayed random."""

    source: str
    format: str  # own | official_metric | depth_anything | dinov2
    backbone: str
    family: str
    loaded_parts: tuple[str, ...]
    random_parts: tuple[str, ...] = field(default_factory=tuple)
    init: dict[str, Any] | None = None  # own checkpoints: how the saved model was initialised before training

    def summary(self) -> str:
        text = f"{self.format} weights ({self.backbone}, {self.family} blocks) from {display_path(self.source)}: " \
               f"loaded {', '.join(self.loaded_parts)}"
        if self.random_parts:
            text += f"; randomly initialised: {', '.join(self.random_parts)} (fine-tune before use)"
        return text


class Loaded(NamedTuple):
    """A loaded model (eval mode) and the report of what was loaded into it."""

    model: nn.Module
    report: LoadReport


def load_into(model: nn.Module, sd: dict[str, torch.Tensor], parts: tuple[str, ...], source: str) -> None:
    """Load ``sd`` (own keys) into the given parts of ``model``, strictly per part.

    Every key of those parts must be present with the right shape and no key may be left over;
    otherwise a :class:`CheckpointError` lists the missing, unexpected and mis-shaped keys. Weights
    with NaN or inf (saved from a diverged run) are refused too, naming the tensors: such a model
    predicts garbage, e.g. a map clamped to the minimum depth, that would pass for a result.
    """
    own = {k: v for k, v in model.state_dict().items() if k.split(".", 1)[0] in parts}
    problems = fit_problems({k: v.shape for k, v in own.items()}, sd)
    if problems:
        raise fit_error(source, type(model).__name__, parts, problems)
    check_finite(sd, f"checkpoint {source}")
    cast = {k: v.to(own[k].dtype) for k, v in sd.items()}
    model.load_state_dict({**model.state_dict(), **cast}, strict=True)


def check_finite(tensors: dict[str, torch.Tensor], what: str) -> None:
    """A :class:`CheckpointError` naming the tensors of ``tensors`` that hold NaN or ±inf, if any."""
    bad = []
    for name, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad.append(f"{name} ({int(torch.isnan(t).sum())} NaN, {int(torch.isinf(t).sum())} inf of {t.numel()})")
    if bad:
        raise CheckpointError(f"{what} holds non-finite weights in {len(bad)} tensor(s): {'; '.join(bad[:8])}"
                              f"{' …' if len(bad) > 8 else ''}. It was saved from a diverged run (or is damaged); "
                              "a model with them predicts nonsense. Use an earlier checkpoint, or retrain (a lower "
                              "lr, amp='bf16' or 'off').")


def load_checkpoint(source: str | os.PathLike, backbone: str | None = None, family: str | None = None,
                    decoder: str = "pretrained", device: str | torch.device = "cpu", **config: Any) -> Loaded:
    """Load a depth model from any supported source: the model (eval mode) and its :class:`LoadReport`.

    Args:
        source: checkpoint path (file or our directory), known name (see ``KNOWN_WEIGHTS``) or Hub id.
        backbone: expected backbone; an error if the checkpoint is for another one (default: detected).
        family: feature-block family override (``v1`` last four blocks, ``v2`` Depth Anything V2's).
        decoder: ``pretrained`` loads a Depth Anything checkpoint's DPT decoder; ``random`` keeps it
            random (the paper's text; the official recipe loads it).
        device: where to put the model.
        **config: ZoeDAMConfig overrides for partial (encoder/decoder-only) sources, e.g. ``img_size``.
    """
    if decoder not in DECODER_CHOICES:
        raise ConfigError(f"decoder must be one of {DECODER_CHOICES}, got {decoder!r}")
    path = resolve_source(source)
    sd, meta = read_state_dict(path)
    if meta.get("format") == FORMAT_NAME:
        model = _build_own(path, meta, sd)
        load_into(model, sd, tuple(sorted({k.split(".", 1)[0] for k in model.state_dict()})), str(path))
        cfg = getattr(model, "config", None)
        report = LoadReport(str(path), "own", getattr(cfg, "backbone", meta["model"]),
                            getattr(cfg, "layer_family", "-"), ("whole model",), init=meta.get("init"))
        if backbone is not None and report.backbone != backbone:
            raise CheckpointError(f"{path} holds a {report.backbone} model, not {backbone}")
    else:
        config = {**manifest_config(path), **config}
        model, report = _load_zoedam(path, sd, backbone, family, decoder, config)
    if report.random_parts:
        warnings.warn(report.summary(), stacklevel=2)
    return Loaded(model.to(device).eval(), report)


def _build_own(path: Path, meta: dict[str, Any], sd: dict[str, torch.Tensor]) -> nn.Module:
    """The model our config.json describes, built only once its sizes are bounded and its shapes fit the weights
    (:mod:`.plan`); a missing or mistyped entry names the file and the field."""
    where = path / "config.json" if path.is_dir() else path
    if not isinstance(meta.get("model"), str) or not isinstance(meta.get("config"), dict):
        raise CheckpointError(f"{where}: 'model' must be a model name and 'config' an object of its settings, got "
                              f"model={meta.get('model')!r}, config={meta.get('config')!r:.60}; the checkpoint is "
                              "corrupt")
    return build_checked(meta["model"], meta["config"], sd, None, str(where), str(path))


def load_model(source: str | os.PathLike, backbone: str | None = None, family: str | None = None,
               decoder: str = "pretrained", device: str | torch.device = "cpu", **config: Any) -> nn.Module:
    """``load_checkpoint(...).model``: the model alone, for users who do not need the report."""
    return load_checkpoint(source, backbone, family, decoder, device, **config).model


def manifest_config(path: Path) -> dict[str, Any]:
    """ZoeDAMConfig fields from the manifest beside a weight file (``<stem>.json``), if it has some.

    An official-layout file carries no configuration, so a model trained at another network size
    (SynthDA: 98×126) would be rebuilt at the default 392×518; its manifest says the size.
    """
    manifest = path.with_suffix(".json")
    if path.is_dir() or not manifest.is_file():
        return {}
    try:
        config = json.loads(manifest.read_text(encoding="utf-8")).get("zoedam_config", {})
    except (json.JSONDecodeError, AttributeError) as exc:
        raise CheckpointError(f"{manifest} (the manifest beside {path.name}) is not a JSON object: {exc}") from None
    if not isinstance(config, dict):
        raise CheckpointError(f"{manifest}: 'zoedam_config' must be an object of ZoeDAMConfig fields")
    return config


def _load_zoedam(path: Path, sd: dict[str, torch.Tensor], backbone: str | None, family: str | None,
                 decoder: str, config: dict[str, Any]) -> tuple[nn.Module, LoadReport]:
    fmt = detect_format(sd)
    own = to_own_keys(sd, fmt)
    found = detect_backbone(own)
    if backbone is not None and backbone != found:
        raise CheckpointError(f"{path} is a {found} checkpoint (encoder width "
                              f"{own['encoder.vit.pos_embed'].shape[-1]}), but backbone={backbone!r} was asked for; "
                              f"pass backbone={found!r} or a {backbone} checkpoint")
    fam = detect_family(fmt, path, family)
    if fmt == "own":
        raise CheckpointError(f"{path} has our key scheme but no config.json beside it; keep the checkpoint "
                              "directory together (config.json + model.safetensors)")
    parts = {"official_metric": ("encoder", "decoder", "head"), "depth_anything": ("encoder", "decoder"),
             "dinov2": ("encoder",)}[fmt]
    if decoder == "random" and "decoder" in parts:
        parts = tuple(p for p in parts if p != "decoder")
        own = {k: v for k, v in own.items() if not k.startswith("decoder.")}
    model = build_checked("zoedam", {**config, "backbone": found, "layer_family": fam}, own, parts,
                          f"{path} (its configuration: the manifest beside it, or the arguments)", str(path))
    load_into(model, own, parts, str(path))
    random_parts = tuple(p for p in ("encoder", "decoder", "head") if p not in parts)
    return model, LoadReport(str(path), fmt, found, fam, parts, random_parts)
