"""What every runner of a ``zoedam export`` file shares: the metadata contract, the input check, batching.

An exported ZoeDAM (:mod:`.export`) carries its contract in the ONNX file's ``metadata_props``
(format, config, input and network sizes, batch, precision, the export check's errors);
:class:`ExportedDepthModel` reads it and gives the runtimes (:mod:`.onnx`, :mod:`.openvino`)
the PyTorch model's interface: called on (B, 3, H, W) RGB in [0, 1] it returns
``{"metric_depth": (B, 1, h, w), "rel_depth": (B, h, w)}`` torch tensors, and its ``config``
is the exported model's :class:`~zoedam_lib.models.zoedam.ZoeDAMConfig`. So the predict
pipeline runs it unchanged; only the input size differs: an exported graph takes one (H, W),
its ``export_size``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoedam_lib.models.zoedam import ZoeDAMConfig
from zoedam_lib.utils.config import from_dict
from zoedam_lib.utils.errors import CheckpointError, ConfigError

FORMAT = "zoedam_lib-onnx"  # metadata "zoedam_lib.format"; readers check it before trusting the rest
FORMAT_VERSION = 1
META = "zoedam_lib."  # prefix of every metadata_props key we write
INPUT_NAME = "image"
OUTPUT_NAMES = ("metric_depth", "rel_depth")

def is_onnx_path(source: str | os.PathLike) -> bool:
    """Whether a ``--checkpoint`` names an exported ONNX model (recognised by the ``.onnx`` suffix)."""
    return Path(os.fspath(source)).suffix.lower() == ".onnx"


def parse_metadata(props: dict[str, str], where: str) -> dict[str, Any]:
    """Our ``metadata_props`` (prefix stripped, JSON values decoded); an error if the file is not ours."""
    ours = {k[len(META):]: v for k, v in props.items() if k.startswith(META)}
    if ours.get("format") != f"{FORMAT}/{FORMAT_VERSION}":
        found = f"format {ours['format']!r}" if "format" in ours else "no zoedam_lib metadata"
        raise CheckpointError(f"{where} is not an ONNX model exported by zoedam_lib ({found}; expected "
                              f"{FORMAT}/{FORMAT_VERSION}). Export one with: python -m zoedam_lib export CHECKPOINT "
                              "--onnx model.onnx")
    try:
        return {k: json.loads(v) for k, v in ours.items() if k != "format"}
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{where}: damaged zoedam_lib metadata ({exc}); export the model again") from None


class ExportedDepthModel(nn.Module):
    """What every runner of a ``zoedam export`` file shares: the metadata contract, the input check,
    batching for fixed-batch graphs and the PyTorch model's call signature.

    It holds no parameters; ``.eval()``/``.to("cpu")`` are no-ops, so code written for models works.
    A runtime subclass reads the file, passes its metadata to :meth:`_read_metadata` and implements
    :meth:`_run`.
    """

    def _read_metadata(self, props: dict[str, str]) -> None:
        self.metadata = parse_metadata(props, self.source)
        try:
            self.config = from_dict(ZoeDAMConfig, self.metadata["config"])
            self.export_size = tuple(int(s) for s in self.metadata["input_size"])  # the graph's input (H, W)
            self.batch = None if self.metadata["batch"] == "dynamic" else int(self.metadata["batch"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{self.source}: incomplete zoedam_lib metadata ({exc}); export it again") from None

    def _run(self, images: np.ndarray) -> list[np.ndarray]:
        """The graph's outputs (in :data:`OUTPUT_NAMES` order) for one chunk of float32 (b, 3, H, W) images."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) RGB in [0, 1] at ``export_size`` → ``metric_depth`` (B, 1, h, w) m, ``rel_depth`` (B, h, w).

        A graph exported with a fixed batch of one runs a batch image by image.
        """
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != self.export_size:
            h, w = self.export_size
            raise ConfigError(f"{self.source} takes (B, 3, {h}, {w}) RGB in [0, 1], got shape {tuple(x.shape)}; "
                              f"resize images to {h}x{w} first (bilinear, align_corners=True, as zoedam predict "
                              "does), or export at another --size")
        images = x.detach().to("cpu", torch.float32).numpy()
        chunks = [images] if self.batch is None else [images[i:i + self.batch] for i in range(0, len(images),
                                                                                               self.batch)]
        outs = [self._run(chunk) for chunk in chunks]
        return {name: torch.cat([torch.from_numpy(o[k]) for o in outs]) for k, name in enumerate(OUTPUT_NAMES)}

    def describe(self) -> str:
        """One line for logs: what was exported, at which sizes, from where."""
        m = self.metadata
        h, w = self.export_size
        nh, nw = m["network_size"]
        return (f"ONNX {m['model']} {self.config.backbone} from {self.source} (input {h}x{w}, network {nh}x{nw}, "
                f"batch {m['batch']}, {m['precision']}; exported from {m.get('source') or 'a model in memory'})")


def missing_model_error(source: str) -> CheckpointError:
    """The error for a ``.onnx`` path that is not there, saying how to make one."""
    return CheckpointError(f"ONNX model {source} not found; export one with: python -m zoedam_lib export CHECKPOINT "
                           "--onnx model.onnx")
