"""An exported ONNX file whose zoedam_lib metadata was edited: refused with the field named, never run wrongly.

The runners trust the metadata for the input size, the batch and the network size; an edited
value would otherwise crash inside ONNX Runtime or run a graph at sizes it was not exported for.
"""

from __future__ import annotations

import json

import pytest

from zoedam_lib.cli import main
from zoedam_lib.utils.errors import CheckpointError

onnx = pytest.importorskip("onnx", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')
pytest.importorskip("onnxruntime", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')
pytest.importorskip("onnxscript", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')

from zoedam_lib.inference.exported.onnx import OnnxDepthModel  # noqa: E402


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    assert main(["export", str(checkpoint), "--onnx", str(path)]) == 0
    return path


@pytest.mark.parametrize(("key", "value", "message"), [
    ("network_size", None, "network_size"),  # removed
    ("batch", 0, "batch 0"),
    ("batch", "2", "batch"),
    ("input_size", [60, 70], "disagrees with the graph's input"),
    ("input_size", [56, -70], "input_size must be"),
    ("network_size", [28, 35], "is not what its config makes"),
])
def test_edited_onnx_metadata_is_refused_naming_the_field(exported, tmp_path, key, value, message):
    """Issue 27 item 14: metadata that no longer describes the graph is an error, not a crash or a wrong run."""
    proto = onnx.load(str(exported))
    props = {p.key: p.value for p in proto.metadata_props}
    del proto.metadata_props[:]
    for k, v in props.items():
        if k == "zoedam_lib." + key:
            if value is None:
                continue
            v = json.dumps(value)
        proto.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.save(proto, str(tmp_path / "edited.onnx"))
    with pytest.raises(CheckpointError, match=message):
        OnnxDepthModel(tmp_path / "edited.onnx")


