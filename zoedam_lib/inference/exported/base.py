"""What every runner of a ``zoedam export`` file shares: the metadata contract, the input check, batching.

An exported ZoeDAM (:mod:`.export`) carries its contract in the ONNX file's ``metadata_props``
(format, config, input and network sizes, batch, precision, the export check's errors);
:class:`ExportedDepthModel` reads it and gives the runtimes (:mod:`.onnx`, :mod:`.openvino`)
the PyTorch model's interface: called on (B, 3, H, W) RGB in [0, 1] it returns
``{"metric_depth": (B, 1, h, w), "rel_depth": (B, h, w)}`` torch tensors, and its ``config``
is the exported model's :class:`~zoedam_lib.models.zoedam.ZoeDAMConfig`. So the predict
pipeline runs it unchanged; only the input size differs: an exported graph takes one (H, W),
its ``export_size``. A camera-aware graph (``config.camera == "canonical"``) also takes
``camera=`` (B, 2) as the PyTorch model does, and returns ``focal_ratio`` and ``canonical_depth``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoedam_lib.camera.intrinsics import camera_row_problem
from zoedam_lib.models.layers.preprocess import config_input_size
from zoedam_lib.models.predict import is_camera_aware
from zoedam_lib.models.zoedam import ZoeDAMConfig
from zoedam_lib.utils.config import from_dict
from zoedam_lib.utils.errors import CheckpointError, ConfigError

FORMAT = "zoedam_lib-onnx"  # metadata "zoedam_lib.format"; readers check it before trusting the rest
FORMAT_VERSION = 1
META = "zoedam_lib."  # prefix of every metadata_props key we write
INPUT_NAME = "image"
CAMERA_INPUT = "camera"  # a camera-aware graph's second input: (B, 2) fx, fy in pixels, NaN = unknown
OUTPUT_NAMES = ("metric_depth", "rel_depth")
# The metadata that decides what a prediction is; export writes their digest beside them (see contract_digest).
CONTRACT_KEYS = ("model", "config", "input_size", "network_size", "batch", "camera")
DIGEST_KEY = "contract_sha256"


def output_names(camera_aware: bool) -> tuple[str, ...]:
    """The graph's outputs, in order: a camera-aware graph adds ``focal_ratio`` (B,), the f / f_c it used."""
    return (*OUTPUT_NAMES, "focal_ratio") if camera_aware else OUTPUT_NAMES


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


def contract_digest(metadata: dict[str, Any]) -> str:
    """The sha256 of the contract fields (:data:`CONTRACT_KEYS`, decoded values, canonical JSON).

    Why a digest and not only comparisons with the graph: the graph records its input size,
    batch and camera input in its shapes and names, and those are compared field by field; but
    some of what a runner takes from the metadata is not in any shape. The depth range
    (``config.min_depth``/``max_depth``) is applied *outside* the graph, which returns unclamped
    metres, and the canonical focal length the graph multiplies by is a constant inside it. A
    lowered ``max_depth`` would clamp every prediction without a word, and trusting the metadata
    less (no clamp) would make the exported model predict what the PyTorch model never does. So
    export fixes these fields with their digest, and a file whose contract no longer matches it
    was edited after export: it is refused (export it again), never run with the edited values.
    """
    fields = {k: metadata.get(k) for k in CONTRACT_KEYS}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ExportedDepthModel(nn.Module):
    """What every runner of a ``zoedam export`` file shares: the metadata contract, the input check,
    batching for fixed-batch graphs and the PyTorch model's call signature.

    It holds no parameters; ``.eval()``/``.to("cpu")`` are no-ops, so code written for models works.
    A runtime subclass reads the file, passes its metadata to :meth:`_read_metadata` and implements
    :meth:`_run`.
    """

    def _read_metadata(self, props: dict[str, str], graph_shape: Sequence[object] | None = None,
                       graph_inputs: Sequence[str] | None = None) -> None:
        """Read and check the contract: sizes and batch well-formed, the network size the config implies,
        the ``camera`` entry the config implies, (``graph_shape``, the runtime's shape of the ``image``
        input, ints or names of dynamic axes) the graph's own input size and batch, (``graph_inputs``)
        its input names, and last the contract's digest (:func:`contract_digest`). An edited file fails
        here, naming the field where a comparison can."""
        self.metadata = parse_metadata(props, self.source)
        m = self.metadata
        try:
            self.config = from_dict(ZoeDAMConfig, m["config"])
            self.export_size = _size(m["input_size"], "input_size")  # the graph's input (H, W)
            network = _size(m["network_size"], "network_size")
            self.batch = None if m["batch"] == "dynamic" else int(m["batch"])
        except (KeyError, TypeError, ValueError, ConfigError) as exc:
            raise CheckpointError(f"{self.source}: incomplete or damaged zoedam_lib metadata ({exc}); export it "
                                  "again") from None
        problems = []
        if self.batch is not None and (self.batch < 1 or self.batch != m["batch"]):
            problems.append(f"batch {m['batch']!r} (expected 'dynamic' or a whole number >= 1)")
        if network != config_input_size(self.config, *self.export_size):
            problems.append(f"network_size {list(network)} is not what its config makes of input_size "
                            f"{list(self.export_size)} ({list(config_input_size(self.config, *self.export_size))})")
        if graph_shape is not None and len(graph_shape) == 4:
            fixed = [int(d) if isinstance(d, int) else None for d in graph_shape]
            if any(f is not None and f != e for f, e in zip(fixed[2:], self.export_size, strict=True)):
                problems.append(f"input_size {list(self.export_size)} disagrees with the graph's input {graph_shape}")
            if fixed[0] is not None and fixed[0] != self.batch:  # a fixed-batch graph read as another batch
                problems.append(f"batch {m['batch']!r} disagrees with the graph's input {graph_shape}")
        problems += _camera_problems(self.config, m.get("camera"), graph_inputs)
        if problems:
            raise CheckpointError(f"{self.source}: its zoedam_lib metadata does not describe its graph: "
                                  + "; ".join(problems) + ". Was the file edited? Export it again.")
        if m.get(DIGEST_KEY) != contract_digest(m):
            found = "has none" if DIGEST_KEY not in m else "no longer matches its fields"
            raise CheckpointError(f"{self.source}: its zoedam_lib metadata was changed after export: the "
                                  f"{DIGEST_KEY} export wrote over {', '.join(CONTRACT_KEYS)} {found}. Not every "
                                  "field is in the graph (the depth range predictions are clamped to, "
                                  f"config min_depth {self.config.min_depth:g} .. max_depth "
                                  f"{self.config.max_depth:g} m, is applied outside it), so an edited value "
                                  "would change the predictions without a word. Export it again from the checkpoint.")

    def _run(self, images: np.ndarray, camera: np.ndarray | None) -> list[np.ndarray]:
        """The graph's outputs (in :func:`output_names` order) for one chunk of float32 (b, 3, H, W) images
        and, for a camera-aware graph, their (b, 2) cameras."""
        raise NotImplementedError

    def _inputs(self, images: np.ndarray, camera: np.ndarray | None) -> dict[str, np.ndarray]:
        return {INPUT_NAME: images} if camera is None else {INPUT_NAME: images, CAMERA_INPUT: camera}

    @property
    def camera_aware(self) -> bool:
        return is_camera_aware(self)

    def forward(self, x: torch.Tensor, *, camera: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """(B, 3, H, W) RGB in [0, 1] at ``export_size`` → ``metric_depth`` (B, 1, h, w) m, ``rel_depth`` (B, h, w).

        ``camera``: a camera-aware graph's (B, 2) (fx, fy) at ``export_size``, NaN rows (or None)
        where unknown; a camera-blind graph takes none. A graph exported with a fixed batch of one
        runs a batch image by image.
        """
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != self.export_size:
            h, w = self.export_size
            raise ConfigError(f"{self.source} takes (B, 3, {h}, {w}) RGB in [0, 1], got shape {tuple(x.shape)}; "
                              f"resize images to {h}x{w} first (bilinear, align_corners=True, as zoedam predict "
                              "does), or export at another --size")
        cams = self._camera_array(camera, len(x))
        images = x.detach().to("cpu", torch.float32).numpy()
        step = len(images) if self.batch is None else self.batch
        outs = [self._run(images[i:i + step], None if cams is None else cams[i:i + step])
                for i in range(0, len(images), step)]
        names = output_names(self.camera_aware)
        result = {name: torch.cat([torch.from_numpy(o[k]) for o in outs]) for k, name in enumerate(names)}
        if self.camera_aware:
            result["canonical_depth"] = result["metric_depth"] / result["focal_ratio"].view(-1, 1, 1, 1)
        return result

    def _camera_array(self, camera: torch.Tensor | None, batch: int) -> np.ndarray | None:
        """The graph's ``camera`` input: None for a camera-blind graph (which refuses one), NaN rows when unknown."""
        if not self.camera_aware:
            if camera is not None:
                raise ConfigError(f"{self.source} is a camera-blind model (trained on one camera): it takes no "
                                  "camera; its metres assume NYU's field of view")
            return None
        if camera is None:
            return np.full((batch, 2), np.nan, dtype=np.float32)
        h, w = self.export_size
        if tuple(camera.shape) != (batch, 2):
            raise ConfigError(f"{self.source}: camera must be (B, 2) = ({batch}, 2) focal lengths (fx, fy) in pixels "
                              f"at {h}x{w}, got shape {tuple(camera.shape)}")
        rows = camera.detach().to("cpu", torch.float32).numpy()
        for i, (fx, fy) in enumerate(rows.tolist()):
            problem = camera_row_problem(fx, fy, h, w)
            if problem is not None:
                raise ConfigError(f"{self.source}: camera row {i} {problem}. Each row is (fx, fy) in pixels at "
                                  f"{h}x{w}, or NaN, NaN where the camera is unknown (then the graph estimates it)")
        return rows

    def describe(self) -> str:
        """One line for logs: what was exported, at which sizes, from where."""
        m = self.metadata
        h, w = self.export_size
        nh, nw = m["network_size"]
        return (f"ONNX {m['model']} {self.config.backbone} from {self.source} (input {h}x{w}, network {nh}x{nw}, "
                f"batch {m['batch']}, {m.get('precision') or 'precision not recorded'}; exported from "
                f"{m.get('source') or 'a model in memory'})")  # informational fields: not in the contract


def _camera_problems(config: ZoeDAMConfig, camera: object, graph_inputs: Sequence[str] | None) -> list[str]:
    """How the metadata's ``camera`` entry and the graph's inputs disagree with the config's camera mode."""
    aware = config.camera == "canonical"
    problems = []
    if graph_inputs is not None and (CAMERA_INPUT in graph_inputs) != aware:
        problems.append(f"config camera {config.camera!r} disagrees with the graph's inputs {list(graph_inputs)}")
    if not isinstance(camera, dict):
        return [*problems, f"camera must be the object export writes, got {camera!r}"]
    mode = camera.get("mode")
    if mode != ("canonical" if aware else "blind"):
        problems.append(f"camera mode {mode!r} disagrees with config camera {config.camera!r}")
    elif aware:
        for key in ("canonical_focal", "camera_head"):
            if camera.get(key) != getattr(config, key):
                problems.append(f"camera {key} {camera.get(key)!r} disagrees with config {key} "
                                f"{getattr(config, key)!r}")
    return problems


def _size(value: object, name: str) -> tuple[int, int]:
    """A metadata (H, W): two whole numbers >= 1, else a ConfigError naming the field."""
    if not (isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) and v >= 1 for v in value)):
        raise ConfigError(f"{name} must be [H, W], two whole numbers >= 1, got {value!r}")
    return int(value[0]), int(value[1])


def missing_model_error(source: str) -> CheckpointError:
    """The error for a ``.onnx`` path that is not there, saying how to make one."""
    return CheckpointError(f"ONNX model {source} not found; export one with: python -m zoedam_lib export CHECKPOINT "
                           "--onnx model.onnx")
