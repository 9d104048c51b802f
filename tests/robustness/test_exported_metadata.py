"""An exported ONNX file whose zoedam_lib metadata was edited: refused with the field named, never run wrongly.

The runners trust the metadata for the input size, the batch and the network size; an edited
value would otherwise crash inside ONNX Runtime or run a graph at sizes it was not exported for.
The depth range predictions are clamped to is in no shape of the graph: export fixes the
contract with its digest, so an edited ``max_depth`` is refused too. Every case runs through both
runners, ONNX Runtime and OpenVINO (skipped where OpenVINO, an optional extra, is not installed):
they share the contract check but read the file and its graph's input shape each their own way.
A camera-aware graph's ``camera`` rows that would set a wrong scale are refused as they are given.
"""

from __future__ import annotations

import importlib.util
import json
import math

import numpy as np
import pytest
import torch

from zoedam_lib.cli import main
from zoedam_lib.utils.errors import CheckpointError, ConfigError

onnx = pytest.importorskip("onnx", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')
pytest.importorskip("onnxruntime", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')
pytest.importorskip("onnxscript", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')

from zoedam_lib.inference.exported.onnx import OnnxDepthModel  # noqa: E402


@pytest.fixture(params=["onnxruntime", "openvino"])
def runner(request):
    """The runner class of one ``--backend``: every edited file must be refused by both."""
    if request.param == "onnxruntime":
        return OnnxDepthModel
    if importlib.util.find_spec("openvino") is None:
        pytest.skip('OpenVINO is an optional extra (pip install -e ".[bench]")')
    from zoedam_lib.inference.exported.openvino import OpenVinoDepthModel

    return OpenVinoDepthModel


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
def test_edited_onnx_metadata_is_refused_naming_the_field(exported, tmp_path, runner, key, value, message):
    """Issue 27 item 14: metadata that no longer describes the graph is an error, not a crash or a wrong run."""
    with pytest.raises(CheckpointError, match=message):
        runner(_edited(exported, tmp_path, key, value))


def _edited(exported, tmp_path, key, value):
    """A copy of ``exported`` with metadata ``zoedam_lib.<key>`` set to ``value`` (JSON), or removed (None);
    a callable ``value`` edits the decoded value in place."""
    proto = onnx.load(str(exported))
    props = {p.key: p.value for p in proto.metadata_props}
    del proto.metadata_props[:]
    for k, v in props.items():
        if k == "zoedam_lib." + key:
            if value is None:
                continue
            if callable(value):
                decoded = json.loads(v)
                value(decoded)
                v = json.dumps(decoded)
            else:
                v = json.dumps(value)
        proto.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    onnx.save(proto, str(tmp_path / "edited.onnx"))
    return tmp_path / "edited.onnx"


def test_lowered_max_depth_in_onnx_metadata_is_refused_not_clamped_to(exported, tmp_path, runner, capsys):
    """``config.max_depth`` lowered from 10 to 2 m (was: every prediction silently clamped to 2 m, exit 0), raised,
    or ``min_depth`` raised, the digest removed: refused before anything runs, naming the contract digest and the
    depth range; ``predict`` exits 2 with that line and writes nothing. The untouched file and an edited
    informational field (``source``) still run."""
    from zoedam_lib.inference.exported.export import read_metadata

    meta = read_metadata(exported)
    assert meta["config"]["max_depth"] == 10.0 and len(meta["contract_sha256"]) == 64
    runner(exported)
    runner(_edited(exported, tmp_path, "source", "somewhere else"))
    cases = [("config", lambda c: c.update(max_depth=2.0), "no longer matches its fields"),
             ("config", lambda c: c.update(max_depth=80.0), "no longer matches its fields"),
             ("config", lambda c: c.update(min_depth=1.0), "no longer matches its fields"),
             ("contract_sha256", None, "has none")]
    for key, edit, found in cases:
        edited = _edited(exported, tmp_path, key, edit)
        with pytest.raises(CheckpointError, match=rf"edited.onnx: its zoedam_lib metadata was changed after export: "
                                                  rf"the contract_sha256 export wrote over model, config, input_size, "
                                                  rf"network_size, batch, camera {found}\. Not every field .*clamped "
                                                  r"to, config min_depth"):
            runner(edited)
    from PIL import Image

    Image.fromarray(np.full((56, 70, 3), 120, np.uint8)).save(tmp_path / "p.png")
    edited = _edited(exported, tmp_path, "config", lambda c: c.update(max_depth=2.0))
    backend = "openvino" if "OpenVino" in runner.__name__ else "onnxruntime"
    code = main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(edited), "--out", str(tmp_path / "out"),
                 "--backend", backend])
    err = capsys.readouterr().err
    assert code == 2 and "error: " in err and "changed after export" in err and "Traceback" not in err
    assert not list((tmp_path / "out").glob("*.png")) if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("key", ["precision", "source"])
def test_informational_metadata_removed_still_runs_and_is_described(exported, tmp_path, runner, key, capsys):
    """``precision`` or ``source`` removed from the metadata (informational, outside the contract digest; was: a
    raw ``KeyError: 'precision'`` traceback from the summary line, so ``predict`` never ran): the file runs as
    exported, its summary line says what is not recorded, and ``predict`` writes its depth map."""
    from PIL import Image

    edited = _edited(exported, tmp_path, key, None)
    line = runner(edited).describe()
    assert ("precision not recorded" in line) if key == "precision" else ("exported from a model in memory" in line)
    Image.fromarray(np.full((56, 70, 3), 120, np.uint8)).save(tmp_path / "p.png")
    backend = "openvino" if "OpenVino" in runner.__name__ else "onnxruntime"
    code = main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(edited), "--out", str(tmp_path / "out"),
                 "--backend", backend, "--fp32"])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err, captured.err[-2000:]
    assert (tmp_path / "out" / "p_depth.png").is_file()


@pytest.fixture(scope="module")
def exported_aware(tmp_path_factory):
    """A tiny camera-aware ZoeDAM with a camera head (:func:`_head_model`), exported."""
    from zoedam_lib.inference.exported.export import export_onnx

    return export_onnx(_head_model(), tmp_path_factory.mktemp("onnx_aware") / "aware.onnx")


@pytest.mark.parametrize(("key", "edit", "message"), [
    ("camera", lambda c: c.update(canonical_focal=0), r"camera canonical_focal 0 disagrees with config"),
    ("camera", lambda c: c.update(mode="fisheye"), r"camera mode 'fisheye' disagrees with config camera 'canonical'"),
    ("camera", lambda c: c.update(camera_head=False), r"camera camera_head False disagrees with config camera_head"),
    ("camera", lambda c: c.clear(), r"camera mode None disagrees"),
    ("config", lambda c: c.update(camera="blind", canonical_focal=None, camera_head=False),
     r"config camera 'blind' disagrees with the graph's inputs \['image', 'camera'\]"),
    ("config", lambda c: c.update(canonical_focal=2 * c["canonical_focal"]), r"camera canonical_focal .* disagrees"),
], ids=["f_c-0", "mode-unknown", "head-removed", "camera-empty", "config-blind", "config-f_c-doubled"])
def test_edited_camera_metadata_of_an_aware_export_is_refused(exported_aware, tmp_path, runner, key, edit, message):
    """The ``camera`` block of a camera-aware export (f_c 0, an unknown mode, the head removed) or the config's camera
    mode and f_c (was: the block unread, a blind config ran an aware graph without its camera input, a doubled f_c
    halved every focal length reported): refused naming the field, compared with the config and the graph's inputs;
    where a comparison cannot tell, the contract digest does."""
    runner(exported_aware)
    with pytest.raises(CheckpointError, match=message):
        runner(_edited(exported_aware, tmp_path, key, edit))


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(("row", "message"), [
    ((NAN, 40.0), r"camera row 0 \(nan, 40\) is neither two finite focal lengths > 0 nor NaN, NaN"),
    ((-40.0, 41.0), r"camera row 0 \(-40, 41\) is neither"),
    ((-40.0, -41.0), r"camera row 0 \(-40, -41\) is neither"),
    ((0.0, 0.0), r"camera row 0 \(0, 0\) is neither"),
    ((INF, INF), r"camera row 0 \(inf, inf\) is neither"),
    ((1e30, 1e30), r"camera row 0 fx = 1e\+30 px gives a .* deg field of view across this 70x56 image, narrower"),
    ((1.0, 1.0), r"camera row 0 fx = 1 px gives a 177 deg field of view across this 70x56 image, wider than"),
], ids=["half-nan", "one-negative", "both-negative", "zero", "inf", "1e30", "1px"])
def test_camera_rows_that_would_set_a_wrong_scale_are_refused_by_an_aware_export(exported_aware, runner, row,
                                                                                  message):
    """A camera-aware export's ``camera`` input: NaN, NaN is unknown (the camera head's estimate, PyTorch's within
    float rounding, in f32 and under bf16 autocast); any other row must be two plausible focal lengths. Were, in
    both runners: a half-NaN or one negative row silently took the estimate (the given value ignored), 0 gave
    zero depth, inf and 1e30 infinite depth, a negative pair the positive one's. Now ``ConfigError`` naming the row
    and what it should be, through the one validator's field-of-view check."""
    model = runner(exported_aware)
    x = torch.rand(2, 3, 56, 70, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ConfigError, match=message) as caught:
        model(x, camera=torch.tensor([row, (40.0, 41.0)]))
    assert "or NaN, NaN where the camera is unknown (then the graph estimates it)" in str(caught.value)
    reference = _head_model()
    cam = torch.tensor([(NAN, NAN), (40.0, 41.0)])
    with torch.no_grad():
        expected = reference(x, camera=cam)["focal_ratio"]
    assert expected[0] == pytest.approx(math.exp(0.4), rel=1e-5)  # the head's estimate, not NYU's default
    for bf16 in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x, camera=cam)
        assert torch.allclose(out["focal_ratio"], expected, rtol=1e-2 if bf16 else 1e-5), (bf16, out["focal_ratio"])
        assert torch.isfinite(out["metric_depth"]).all()


def _head_model():
    """The tiny camera-aware ZoeDAM ``exported_aware`` holds, its head answering log(ratio) 0.4 for every image."""
    from helpers import tiny_zoedam

    model = tiny_zoedam(camera="canonical", camera_head=True)
    with torch.no_grad():
        model.camera_head.out.bias.fill_(0.4)
    return model


CTRL_C_AFTER_TWO_RUNNERS = """
import gc, os, signal, sys
import torch
from zoedam_lib.inference.exported.openvino import OpenVinoDepthModel
from zoedam_lib.inference.exported.signal_stack import current_signal_stack

before, x = current_signal_stack(), torch.rand(1, 3, 56, 70)
first, second = OpenVinoDepthModel(sys.argv[1]), OpenVinoDepthModel(sys.argv[1])
for runner in (first, second):
    runner(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        runner(x)
del first
gc.collect()
del second  # dropped in the order they were made
gc.collect()
print("signal stack kept:", current_signal_stack() == before, flush=True)
signal.signal(signal.SIGINT, lambda *args: print("Ctrl-C handled", flush=True))
os.kill(os.getpid(), signal.SIGINT)
print("alive", flush=True)
"""


def test_ctrl_c_after_openvino_runners_were_dropped_is_handled_not_a_segfault(exported):
    """OpenVINO's CPU plugin swaps the thread's alternate signal stack when it compiles and destroys a model; two
    runners dropped in the order they were made left the thread on a freed stack (was: "signal stack kept: False"
    here, every later signal handled on freed memory; the robustness suite died with SIGSEGV at its first Ctrl-C
    test after the OpenVINO ones, once that memory was unmapped). The runner keeps the thread's stack across every
    OpenVINO call (``inference.exported.signal_stack``): the same stack after both are dropped, Ctrl-C handled."""
    import subprocess
    import sys

    if importlib.util.find_spec("openvino") is None:
        pytest.skip('OpenVINO is an optional extra (pip install -e ".[bench]")')
    from helpers import SUBPROCESS_ENV

    proc = subprocess.run([sys.executable, "-c", CTRL_C_AFTER_TWO_RUNNERS, str(exported)], capture_output=True,
                          text=True, env=SUBPROCESS_ENV, timeout=300)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr[-2000:])
    assert proc.stdout.splitlines() == ["signal stack kept: True", "Ctrl-C handled", "alive"], proc.stdout
