"""Loading every weight format ZoeDAM meets, and saving our own; one module per job.

Accepted sources (a local path, a known name, or a Hugging Face Hub id; :mod:`.sources`):

* our checkpoints: a directory with ``config.json`` + ``model.safetensors`` (:mod:`.saving`);
* official Depth Anything *metric* checkpoints (``depth_anything_metric_depth_indoor.pt`` /
  ``_outdoor.pt``; keys ``core.core.pretrained.*``, ``core.core.depth_head.*``,
  ``seed_bin_regressor.*`` …, possibly nested under ``model``), also as safetensors;
* Depth Anything relative checkpoints, v1 (``depth_anything_vit{s,b,l}14.pth``) and V2
  (``depth_anything_v2_vit{s,b,l}.pth``): encoder + DPT decoder, metric head left random;
* DINOv2 checkpoints (official ``dinov2_vit*14_pretrain.pth`` or timm's): encoder only.

Files are read without running pickled code (:mod:`.reading`); the key scheme and backbone are
detected (:mod:`.keys`) and loading is strict per part (:mod:`.loading`).
"""

from zoedam_lib.checkpoints.keys import (
    FORMATS,
    HEAD_PREFIXES,
    detect_backbone,
    detect_family,
    detect_format,
    to_depth_anything_keys,
    to_own_keys,
)
from zoedam_lib.checkpoints.loading import DECODER_CHOICES, Loaded, LoadReport, load_checkpoint, load_into, load_model
from zoedam_lib.checkpoints.reading import read_state_dict
from zoedam_lib.checkpoints.saving import FORMAT_NAME, FORMAT_VERSION, save_model
from zoedam_lib.checkpoints.sources import KNOWN_WEIGHTS, HubFile, resolve_source

__all__ = ["DECODER_CHOICES", "FORMATS", "FORMAT_NAME", "FORMAT_VERSION", "HEAD_PREFIXES", "KNOWN_WEIGHTS", "HubFile",
           "LoadReport", "Loaded", "detect_backbone", "detect_family", "detect_format", "load_checkpoint",
           "load_into", "load_model", "read_state_dict", "resolve_source", "save_model", "to_depth_anything_keys",
           "to_own_keys"]
