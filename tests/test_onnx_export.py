"""``zoedam export``: the ONNX graph reproduces PyTorch (and the official outputs), carries its contract in its
metadata, is written atomically, and ``zoedam predict --checkpoint model.onnx`` gives PyTorch's depth maps."""

from __future__ import annotations

import contextlib
import importlib.util
import json

import numpy as np
import pytest
import torch
from helpers import random_photo, tiny_zoedam

from zoedam_lib import __version__, load_model, save_model
from zoedam_lib.cli import main
from zoedam_lib.utils.config import to_dict

onnx = pytest.importorskip("onnx", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')
pytest.importorskip("onnxruntime", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')
pytest.importorskip("onnxscript", reason='ONNX export is an optional extra: pip install -e ".[onnx]"')

from zoedam_lib.inference.exported import export  # noqa: E402
from zoedam_lib.inference.exported.check import FP16_TOLERANCE, FP32_TOLERANCE, ErrorStats, Tolerance  # noqa: E402
from zoedam_lib.inference.exported.export import export_onnx  # noqa: E402
from zoedam_lib.inference.exported.onnx import OnnxDepthModel  # noqa: E402
from zoedam_lib.io.writers import read_depth_png16  # noqa: E402
from zoedam_lib.utils.errors import CheckpointError, ConfigError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (see conftest)


def agree(onnx_out: dict, torch_out: dict, tol=FP32_TOLERANCE) -> ErrorStats:
    """Metric depth within ``tol`` and relative depth close: the ONNX model is the PyTorch model."""
    assert onnx_out.keys() == {"metric_depth", "rel_depth"}
    for name in onnx_out:
        assert onnx_out[name].shape == torch_out[name].shape, name
    stats = ErrorStats.between(onnx_out["metric_depth"], torch_out["metric_depth"])
    assert stats.within(tol), stats
    assert torch.allclose(onnx_out["rel_depth"], torch_out["rel_depth"], atol=1e-4, rtol=1e-4)
    return stats


@contextlib.contextmanager
def one_torch_thread():
    """The ``one_thread`` fixture for module-scoped fixtures."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    """Our tiny checkpoint exported by the command line into a folder that does not exist yet."""
    path = tmp_path_factory.mktemp("onnx") / "new" / "sub" / "tiny.onnx"
    with one_torch_thread():
        assert main(["export", str(checkpoint), "--onnx", str(path)]) == 0
    return path


@pytest.fixture(scope="module")
def traced(checkpoint):
    """The tiny model's traced graph, reused by the tests of what happens around the export (writing, checking)."""
    model = load_model(checkpoint)
    with one_torch_thread():
        return export._trace(export._ExportGraph(model, False).eval(), export.check_input(model.config.img_size),
                             None, False)


@pytest.fixture
def reuse_trace(traced, monkeypatch):
    def fake_trace(graph, example, camera, dynamic_batch):
        copy = onnx.ModelProto()
        copy.CopyFrom(traced)
        return copy
    monkeypatch.setattr(export, "_trace", fake_trace)


def test_export_cli_writes_a_checked_model_with_its_contract(exported, checkpoint, capsys):
    model = load_model(checkpoint)
    meta = export.read_metadata(exported)
    assert meta["version"] == __version__ and meta["model"] == "zoedam"
    assert meta["config"] == json.loads(json.dumps(to_dict(model.config)))
    assert meta["input_size"] == meta["network_size"] == [56, 70] and meta["batch"] == 1
    assert meta["precision"] == "fp32" and meta["source"] == str(checkpoint)
    assert "RGB in [0, 1]" in meta["inputs"] and "metres" in meta["outputs"] and "opset" in meta["exporter"]
    check = meta["check"]
    assert check["error_max_m"] <= FP32_TOLERANCE.max and check["tolerance_mean_m"] == FP32_TOLERANCE.mean
    proto = onnx.load(str(exported))
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["metric_depth", "rel_depth"]
    assert [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 56, 70]
    assert "metres" in proto.doc_string
    assert not [p.name for p in exported.parent.iterdir() if p.name != "tiny.onnx"]  # no temporary file left

    runner = OnnxDepthModel(exported)
    assert runner.export_size == (56, 70) and runner.config == model.config
    x = torch.rand(3, 3, 56, 70, generator=torch.Generator().manual_seed(1))  # a fixed batch of 1 runs 3 in turn
    with torch.no_grad():
        agree(runner(x), model(x))


@pytest.mark.slow
def test_dynamic_batch_agrees_with_pytorch_at_batch_1_and_3(tmp_path):
    model = tiny_zoedam(seed=2)
    path = export_onnx(model, tmp_path / "dyn.onnx", size=(40, 50), dynamic_batch=True)  # resized inside to 56x70
    dim = onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param and not dim.dim_value
    runner = OnnxDepthModel(path)
    assert runner.batch is None and runner.export_size == (40, 50)
    for batch in (1, 3):
        x = torch.rand(batch, 3, 40, 50, generator=torch.Generator().manual_seed(batch))
        out = runner(x)
        assert out["metric_depth"].shape == (batch, 1, 56, 70)
        with torch.no_grad():
            agree(out, model(x))


def test_fp16_halves_encoder_and_decoder_keeps_head_fp32(tmp_path):
    """fp16 is for GPUs: it must run (here on CPU) within FP16_TOLERANCE of the fp32 model, with fp16 weights."""
    model = tiny_zoedam(seed=3)
    path = export_onnx(model, tmp_path / "half.onnx", fp16=True)
    meta = export.read_metadata(path)
    assert meta["precision"] == "fp16 encoder+decoder, fp32 metric head"
    assert meta["check"]["tolerance_max_m"] == FP16_TOLERANCE.max
    proto = onnx.load(str(path))
    dtypes = {i.name: i.data_type for i in proto.graph.initializer}
    half = {n for n, t in dtypes.items() if t == onnx.TensorProto.FLOAT16}
    assert any("blocks" in n for n in half) and any("refinenet" in n for n in half)
    assert not any(n.startswith("model.head") for n in half)  # the head's weights stay fp32
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # the I/O contract stays fp32
    x = torch.rand(1, 3, 56, 70, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        agree(OnnxDepthModel(path)(x), model(x), FP16_TOLERANCE)


@pytest.mark.slow
@pytest.mark.conformance
def test_conformance_weights_export_reproduces_the_official_outputs(conformance_dir, tmp_path):
    """The official-format ViT-S at the official case's 480x640 input: ONNX Runtime's output is the official code's."""
    model = load_model(conformance_dir / "zoedam_vits_official_fp16.safetensors")
    path = export_onnx(model, tmp_path / "vits.onnx", size=(480, 640))
    ref = np.load(conformance_dir / "case_public.npz")
    out = OnnxDepthModel(path)(torch.from_numpy(ref["x"]))
    d = np.abs(out["metric_depth"].numpy().astype(np.float64) - ref["metric_depth"])
    print(f"metric_depth |onnx - official|: max {d.max():.2e}, mean {d.mean():.2e}, p99.9 {np.percentile(d, 99.9):.2e}")
    assert d.max() <= 5e-3 and d.mean() <= 2e-5 and np.percentile(d, 99.9) <= 1e-3
    assert np.abs(out["rel_depth"].numpy() - ref["rel_depth"]).max() <= 2e-4 + 1e-4 * np.abs(ref["rel_depth"]).max()


def test_predict_with_onnx_writes_pytorchs_depth_maps(exported, checkpoint, tmp_path, capsys):
    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, (h, w) in enumerate([(30, 40), (61, 17), (56, 70), (120, 90)]):
        random_photo(rng, h, w).save(photos / f"p{i}.png")
    args = [str(photos), "--batch-size", "3", "--flip-tta", "--device", "cpu"]
    assert main(["predict", *args, "--backend", "onnxruntime", "--checkpoint", str(exported),
                 "--out", str(tmp_path / "onnx")]) == 0
    assert "ONNX zoedam vitt" in capsys.readouterr().out
    assert main(["predict", *args, "--checkpoint", str(checkpoint), "--out", str(tmp_path / "torch")]) == 0
    for i in range(4):
        mine, ref = (read_depth_png16(tmp_path / d / f"p{i}_depth.png") for d in ("onnx", "torch"))
        assert mine.shape == ref.shape and np.abs(mine - ref).max() <= 0.001 + 1e-6  # within 1 mm


@pytest.mark.parametrize(("flags", "message"), [
    (["--device", "cuda"], "ONNX models run on the CPU here"),
    (["--fast"], "--fast is PyTorch's fast path"),
    (["--backend", "torch"], "--backend torch cannot run the ONNX file"),
])
def test_predict_onnx_refuses_pytorch_only_flags(exported, tmp_path, capsys, flags, message):
    random_photo(np.random.default_rng(0), 8, 8).save(tmp_path / "p.png")
    code = main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(exported), "--out", str(tmp_path / "o"),
                 *flags])
    assert code == 2 and message in capsys.readouterr().err


def test_non_zoedam_checkpoint_is_a_clear_error(tmp_path, capsys):
    from zoedam_lib.models.average import AverageDepth

    ckpt = save_model(AverageDepth(), tmp_path / "average")
    assert main(["export", str(ckpt), "--onnx", str(tmp_path / "a.onnx")]) == 2
    assert "ONNX export supports ZoeDAM models" in capsys.readouterr().err and not (tmp_path / "a.onnx").exists()


def test_onnx_suffix_required_and_folder_refused(checkpoint, tmp_path, capsys):
    assert main(["export", str(checkpoint), "--onnx", str(tmp_path / "model.pt")]) == 2
    assert "--onnx must name a .onnx file" in capsys.readouterr().err
    (tmp_path / "dir.onnx").mkdir()
    assert main(["export", str(checkpoint), "--onnx", str(tmp_path / "dir.onnx")]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_existing_file_is_replaced_only_by_a_complete_checked_model(checkpoint, tmp_path, capsys, monkeypatch,
                                                                    reuse_trace):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"previous export")
    real_save = onnx.save

    def crash_mid_write(proto, f):
        with open(f, "wb") as fh:
            fh.write(proto.SerializeToString()[:1000])
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(onnx, "save", crash_mid_write)
    assert main(["export", str(checkpoint), "--onnx", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert target.read_bytes() == b"previous export" and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]

    monkeypatch.setattr(onnx, "save", real_save)
    monkeypatch.setattr(export, "FP32_TOLERANCE", Tolerance(0.0, 0.0, 0.0))  # any rounding now fails
    assert main(["export", str(checkpoint), "--onnx", str(target)]) == 2
    err = capsys.readouterr().err
    assert "does not reproduce PyTorch's" in err and "max" in err and "nothing was written" in err
    assert target.read_bytes() == b"previous export"

    monkeypatch.setattr(export, "FP32_TOLERANCE", FP32_TOLERANCE)
    assert main(["export", str(checkpoint), "--onnx", str(target)]) == 0
    assert OnnxDepthModel(target).export_size == (56, 70) and [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


def test_runner_refuses_foreign_damaged_and_wrong_size_inputs(exported, tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["metric_depth"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("metric_depth", TensorProto.FLOAT, [1, 3, 4, 4])])
    onnx.save(helper.make_model(graph), str(tmp_path / "foreign.onnx"))
    with pytest.raises(CheckpointError, match="not an ONNX model exported by zoedam_lib"):
        OnnxDepthModel(tmp_path / "foreign.onnx")
    (tmp_path / "cut.onnx").write_bytes(exported.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="ONNX Runtime cannot load"):
        OnnxDepthModel(tmp_path / "cut.onnx")
    with pytest.raises(CheckpointError, match="not found"):
        OnnxDepthModel(tmp_path / "missing.onnx")
    with pytest.raises(ConfigError, match=r"takes \(B, 3, 56, 70\)"):
        OnnxDepthModel(exported)(torch.rand(1, 3, 60, 70))


def test_missing_optional_dependency_names_the_extra(checkpoint, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "onnxscript", None)  # as if not installed
    assert main(["export", str(checkpoint), "--onnx", str(tmp_path / "m.onnx")]) == 2
    assert 'needs onnxscript, which is not installed: pip install -e ".[onnx]"' in capsys.readouterr().err


def test_metadata_is_json_per_key(exported):
    props = {p.key: p.value for p in onnx.load(str(exported)).metadata_props}
    assert props["zoedam_lib.format"] == "zoedam_lib-onnx/1"
    assert all(k.startswith("zoedam_lib.") for k in props)
    assert json.loads(props["zoedam_lib.input_size"]) == [56, 70]


def test_backend_onnxruntime_needs_an_exported_file(checkpoint, tmp_path, capsys):
    random_photo(np.random.default_rng(0), 8, 8).save(tmp_path / "p.png")
    code = main(["predict", str(tmp_path / "p.png"), "--backend", "onnxruntime", "--checkpoint", str(checkpoint),
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "Export it first: python -m zoedam_lib export" in capsys.readouterr().err


def test_benchmark_times_an_exported_backend_with_its_export():
    """``bench``'s ONNX Runtime row: the PyTorch row's model and input, exported; the first call includes the export."""
    from zoedam_lib.bench.backends import case_backend

    out = case_backend({"backend": "onnx_fp32", "backbone": "vitt", "repeats": 1, "warmup": 0})
    assert "error" not in out, out
    assert out["median_ms"] > 0 and out["first_call_s"] > out["median_ms"] / 1000
    assert out["weights"] == "random ZoeDAM (vitt)"


def test_benchmark_accuracy_of_exported_backends(monkeypatch, checkpoint):
    """Each backend's depth against eager fp32 on the same rooms: the exported graph is the model (conformance
    tolerance's order); int8 is close to it but not the same numbers; OpenVINO with f32 pinned stays close."""
    from zoedam_lib.bench import backends as bench_backends

    rooms = [bench_backends.room_image(56, 70) * (0.6 + 0.2 * i) for i in range(3)]  # three exposures
    monkeypatch.setattr(bench_backends, "synthrooms_test_images", lambda n: rooms[:n])
    backends = ["onnx_fp32", "onnx_int8"] + (["openvino_fp32"] if importlib.util.find_spec("openvino") else [])
    out = bench_backends.case_backend_accuracy({"n": 3, "sources": {"tiny": str(checkpoint)}, "backends": backends})
    tiny = out["tiny"]
    assert tiny["n_images"] == 3 and tiny["network_size"] == [56, 70]
    assert tiny["onnx_fp32"] < 1e-4
    assert 1e-6 < tiny["onnx_int8"] < 0.2
    assert tiny.get("openvino_fp32", 0) < 1e-3


def test_predict_with_openvino_writes_pytorchs_depth_maps(exported, checkpoint, tmp_path, capsys):
    """``--backend openvino`` (f32 pinned) gives PyTorch's depth maps; by default the job's first batch picks
    bf16 only where the CPU runs it natively and the depth stays within the bar (JobPrecision, as for a
    PyTorch model: the runner follows autocast), and says what ran."""
    pytest.importorskip("openvino", reason="OpenVINO is optional (the bench extra)")
    from zoedam_lib.utils.amp import cpu_supports_bf16

    rng = np.random.default_rng(0)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, (h, w) in enumerate([(30, 40), (61, 17), (120, 90)]):
        random_photo(rng, h, w).save(photos / f"p{i}.png")
    args = [str(photos), "--batch-size", "2", "--device", "cpu"]
    assert main(["predict", *args, "--backend", "openvino", "--fp32", "--checkpoint", str(exported),
                 "--out", str(tmp_path / "ov")]) == 0
    out = capsys.readouterr().out
    assert "OpenVINO" in out and "\ninference: OpenVINO fp32\n" in out
    assert main(["predict", *args, "--fp32", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "torch")]) == 0
    for i in range(3):
        mine, ref = (read_depth_png16(tmp_path / d / f"p{i}_depth.png") for d in ("ov", "torch"))
        assert mine.shape == ref.shape and np.abs(mine - ref).max() <= 0.001 + 1e-6  # within 1 mm
    capsys.readouterr()
    assert main(["predict", *args, "--backend", "openvino", "--checkpoint", str(exported),
                 "--out", str(tmp_path / "auto")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("inference: "))
    if cpu_supports_bf16():  # measured on the first batch, against OpenVINO's own f32
        assert line.startswith(("inference: OpenVINO bf16 autocast (AbsRel vs fp32",
                                "inference: OpenVINO fp32: low precision refused"))
    else:  # bf16 would be emulated: never tried
        assert line == "inference: OpenVINO fp32"


def test_openvino_backend_needs_an_exported_file_of_ours(checkpoint, tmp_path, capsys):
    pytest.importorskip("openvino", reason="OpenVINO is optional (the bench extra)")
    from zoedam_lib.inference.exported.openvino import OpenVinoDepthModel

    random_photo(np.random.default_rng(0), 8, 8).save(tmp_path / "p.png")
    code = main(["predict", str(tmp_path / "p.png"), "--backend", "openvino", "--checkpoint", str(checkpoint),
                 "--out", str(tmp_path / "out")])
    assert code == 2 and "--backend openvino runs an exported .onnx file" in capsys.readouterr().err
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["metric_depth"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("metric_depth", TensorProto.FLOAT, [1, 3, 4, 4])])
    foreign = tmp_path / "foreign.onnx"
    onnx.save(helper.make_model(graph), str(foreign))
    with pytest.raises(CheckpointError, match="is not an ONNX model exported by zoedam_lib"):
        OpenVinoDepthModel(foreign)
    with pytest.raises(CheckpointError, match="not found; export one with"):
        OpenVinoDepthModel(tmp_path / "missing.onnx")
