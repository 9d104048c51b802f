"""Camera-aware metric depth: the canonical label transform, random zoom, the model's de-canonicalisation,
the resolver's order and an EXIF photo through ``predict``.

Each test fails on the mistake it names: a zoom that leaves the camera (so the canonical label)
unscaled, a model that ignores the focal length it is given, a resolver that prefers the default
to the photo's EXIF, a focal length in the wrong image's pixels.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest
import torch
from helpers import tiny_zoedam
from PIL import Image
from test_camera import EXIF_IFD, F35, save_photo

from zoedam_lib.camera.canonical import canonical_focal, focal_ratio, to_canonical
from zoedam_lib.camera.intrinsics import NYU_CAMERA, scaled_intrinsics
from zoedam_lib.camera.photo import photo_intrinsics
from zoedam_lib.camera.resolve import item_camera, photo_camera
from zoedam_lib.checkpoints import load_model, save_model
from zoedam_lib.cli import main
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.zoom import PAD_RGB, RandomZoom, zoom
from zoedam_lib.evaluation.evaluate import evaluate
from zoedam_lib.inference.exact import prepare_exact
from zoedam_lib.losses.silog import silog_loss
from zoedam_lib.models.predict import camera_rows
from zoedam_lib.models.zoedam import ZoeDAMConfig
from zoedam_lib.utils.errors import ConfigError, DataFileError

H, W = 24, 32


def aware(**overrides):
    return tiny_zoedam(camera="canonical", max_depth=20.0, **overrides)


def test_canonical_focal_is_nyu_camera_at_the_network_size():
    assert canonical_focal((480, 640)) == pytest.approx(math.sqrt(NYU_CAMERA.fx * NYU_CAMERA.fy))
    fx, fy, _, _ = scaled_intrinsics(240, 320)
    assert focal_ratio(fx, fy, (240, 320), (98, 126), canonical_focal((98, 126))) == pytest.approx(1.0)
    assert focal_ratio(fx / 2, fy / 2, (240, 320), (392, 518), canonical_focal((392, 518))) == pytest.approx(0.5)


def test_zoom_in_is_a_longer_lens_with_the_same_depths():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    depth = np.broadcast_to(np.linspace(1, 5, W, dtype=np.float32), (H, W)).copy()
    z = zoom(image, depth, 2.0)  # centred crop of 12x16, enlarged 2x
    assert z.scale == pytest.approx(2.0) and not z.padded
    assert z.image.shape == image.shape and z.depth.shape == depth.shape
    assert set(np.unique(z.depth)) <= set(np.unique(depth[6:18, 8:24]))  # nearest: no depth invented, none scaled


def test_zoom_out_pads_without_depth():
    image = np.full((H, W, 3), 200, np.uint8)
    depth = np.full((H, W), 3.0, np.float32)
    z = zoom(image, depth, 0.5)
    assert z.padded and z.scale == pytest.approx(0.5)
    assert (z.depth[0] == 0).all() and (z.depth[:, 0] == 0).all() and (z.image[0, 0] == PAD_RGB).all()
    assert (z.depth[6:18, 8:24] == 3.0).all()


def write_mat(path, n=3, intrinsics=None, per_image=None):
    rng = np.random.default_rng(1)
    attrs = {} if intrinsics is None else {"intrinsics": np.array(intrinsics)}
    with NyuMatWriter(path, n, H, W, attrs=attrs, with_intrinsics=per_image is not None) as writer:
        for i in range(n):
            depth = rng.uniform(1, 4, (H, W)).astype(np.float32)
            writer.write(i, rng.integers(0, 255, (H, W, 3), dtype=np.uint8), depth,
                         None if per_image is None else per_image[i])
    return path


def test_zoomed_sample_has_the_scaled_camera_so_its_canonical_label_shrinks(tmp_path):
    """The label transform: a sample zoomed r x must have canonical depth d * f_c / (r f). Fails if the zoom
    leaves the camera, hence the canonical label, unscaled."""
    data = NyuMat(write_mat(tmp_path / "d.mat"))
    plain = DepthDataset(data, [0])[(0, 0)]
    zoomed = DepthDataset(data, [0], zoom=RandomZoom((1.5, 1.5), p=1.0))[(0, 0)]
    assert zoomed["camera"] == pytest.approx(plain["camera"] * 1.5, rel=0.03)
    net, f_c = (14, 14), canonical_focal((14, 14))
    ratio = focal_ratio(zoomed["camera"][0], zoomed["camera"][1], (H, W), net, f_c)
    base = focal_ratio(plain["camera"][0], plain["camera"][1], (H, W), net, f_c)
    valid = zoomed["depth"] > 0
    label, unscaled = to_canonical(zoomed["depth"], ratio), to_canonical(zoomed["depth"], base)
    assert torch.allclose(label[valid], unscaled[valid] / 1.5, rtol=0.03)


def test_silog_on_decanonicalised_depth_is_silog_on_canonical_labels():
    torch.manual_seed(0)
    pred_c, gt = torch.rand(2, 1, 8, 8) + 0.5, torch.rand(2, 1, 8, 8) * 4 + 0.5
    ratio = torch.tensor([0.6, 1.4]).view(2, 1, 1, 1)
    mask = torch.ones_like(gt, dtype=torch.bool)
    assert silog_loss(pred_c * ratio, gt, mask) == pytest.approx(float(silog_loss(pred_c, gt / ratio, mask)), rel=1e-5)


def test_model_scales_its_depth_by_the_given_focal_length():
    model = aware()
    x = torch.rand(2, 3, H, W)
    f = scaled_intrinsics(H, W)[0]
    out = model(x, camera=torch.tensor([[f, f], [2 * f, 2 * f]]))
    assert torch.allclose(out["metric_depth"], out["canonical_depth"] * out["focal_ratio"].view(2, 1, 1, 1))
    assert out["focal_ratio"][1] == pytest.approx(2 * float(out["focal_ratio"][0]), rel=1e-5)
    same = model(x[:1].repeat(2, 1, 1, 1), camera=torch.tensor([[f, f], [2 * f, 2 * f]]))["metric_depth"]
    assert torch.allclose(same[1], 2 * same[0], rtol=1e-5)
    exact = prepare_exact(model)(x, camera=torch.tensor([[f, f], [2 * f, 2 * f]]))["metric_depth"]
    assert torch.allclose(exact, out["metric_depth"], rtol=1e-4, atol=1e-5)


def test_unknown_camera_uses_the_head_or_nyus_field_of_view():
    x = torch.rand(1, 3, H, W)
    no_head = aware()
    with torch.no_grad():
        ratio = float(no_head(x)["focal_ratio"][0])
    assert ratio == pytest.approx(
        focal_ratio(NYU_CAMERA.fx * W / 640, NYU_CAMERA.fx * W / 640, (H, W), no_head.config.img_size,
                    no_head.config.canonical_focal))
    head = aware(camera_head=True)
    with torch.no_grad():
        head.camera_head.out.bias.fill_(math.log(0.5))  # a head that always answers "half the canonical focal"
    with torch.no_grad():
        out = head(x.repeat(2, 1, 1, 1), camera=torch.tensor([[float("nan")] * 2, [100.0, 100.0]]))
    assert float(out["focal_ratio"][0]) == pytest.approx(0.5, rel=1e-5)  # NaN row: estimated
    assert float(out["focal_ratio"][1]) != pytest.approx(0.5)  # given row: used as given


def test_camera_blind_model_ignores_a_camera_and_its_config_says_blind(tmp_path):
    model = tiny_zoedam()
    image = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    assert np.array_equal(model.predict(image), model.predict(image, camera=(5.0, 5.0, 16.0, 12.0)))
    assert model.config.camera == "blind" and model.config.canonical_focal is None
    reloaded = load_model(save_model(aware(camera_head=True), tmp_path / "ck"))
    assert reloaded.config.camera == "canonical" and reloaded.camera_head is not None
    assert reloaded.config.canonical_focal == pytest.approx(canonical_focal(reloaded.config.img_size))


@pytest.mark.parametrize("bad", [{"camera": "pinhole"}, {"camera_head": True}, {"canonical_focal": 100.0},
                                 {"camera": "canonical", "keep_aspect_ratio": True}])
def test_inconsistent_camera_configs_are_refused(bad):
    with pytest.raises(ConfigError):
        ZoeDAMConfig(backbone="vitt", **bad)


@pytest.mark.parametrize("camera", [(float("nan"), 1.0, 1.0, 1.0), (0.0, 1.0, 1.0, 1.0), (-3.0, -3.0, 1.0, 1.0)])
def test_impossible_focal_lengths_are_refused(camera):
    with pytest.raises(ConfigError):
        camera_rows([camera])


def test_resolver_order_for_dataset_items(tmp_path):
    own = (30.0, 31.0, 16.0, 12.0)
    assert item_camera(own, H, W, nyu_layout=True).kind == "dataset"
    kinect = item_camera(None, H, W, nyu_layout=True)
    assert kinect.kind == "dataset" and kinect.intrinsics == pytest.approx(scaled_intrinsics(H, W))
    assert item_camera(None, H, W, nyu_layout=False).kind == "default"
    rows = [(20.0 + i, 21.0 + i, 16.0, 12.0) for i in range(3)]
    per_image = DepthDataset(NyuMat(write_mat(tmp_path / "p.mat", per_image=rows)), [0, 1, 2])
    assert [per_image[(i, 0)]["camera"][0].item() for i in range(3)] == pytest.approx([20.0, 21.0, 22.0])
    fixed = DepthDataset(NyuMat(write_mat(tmp_path / "f.mat", intrinsics=own)), [0])
    assert fixed[(0, 0)]["camera"].tolist() == pytest.approx([30.0, 31.0])


def test_wrong_shape_intrinsics_dataset_is_a_clear_error(tmp_path):
    path = write_mat(tmp_path / "bad.mat", per_image=[(20.0, 21.0, 16.0, 12.0)] * 3)
    with h5py.File(path, "r+") as f:
        del f["intrinsics"]
        f.create_dataset("intrinsics", data=np.ones((3, 3), np.float32))
    with pytest.raises(DataFileError, match="intrinsics"):
        DepthDataset(NyuMat(path), [0])[(0, 0)]


def test_resolver_order_for_photos(tmp_path):
    plain = save_photo(tmp_path / "plain.jpg", 48, 64)
    tagged = save_photo(tmp_path / "tagged.jpg", 48, 64, exif_ifd={F35: 50})
    assert photo_camera(plain).kind == "default"
    assert photo_camera(plain, can_estimate=True).kind == "estimate"
    assert photo_camera(tagged, can_estimate=True).kind == "exif"  # EXIF before the estimate
    given = photo_camera(tagged, (60.0, 60.0, 32.0, 24.0), can_estimate=True)
    assert given.kind == "given" and given.intrinsics[0] == 60.0  # given before EXIF
    assert photo_camera(save_photo(tmp_path / "zero.jpg", 48, 64, exif_ifd={F35: 0}), can_estimate=True).kind \
        == "estimate"  # an EXIF focal of 0 is no focal length: a stated fallback, not a wrong scale


def test_evaluation_records_the_camera_and_refuses_estimates_without_a_head(tmp_path):
    data = NyuMat(write_mat(tmp_path / "d.mat", intrinsics=(30.0, 31.0, 16.0, 12.0)))
    result = evaluate(aware(), DepthDataset(data, [0, 1]), flip_tta=False, progress=False, precision="fp32")
    assert result.camera == "from the dataset's intrinsics" and result.to_json()["camera"] == result.camera
    assert "camera-blind" in evaluate(tiny_zoedam(), DepthDataset(data, [0]), flip_tta=False, progress=False).camera
    with pytest.raises(ConfigError, match="camera head"):
        evaluate(aware(), DepthDataset(data, [0]), progress=False, camera="estimate")


def test_predict_scales_an_exif_photo_by_its_focal_length(tmp_path, capsys):
    """The same pixels saved with EXIF 35 mm-equivalent focal lengths of 26 and 52 mm: a camera-aware
    model's metres differ by exactly 2x, and its output line names the EXIF tag; a camera-blind
    model's depth does not change and its line says it is camera-blind."""
    pixels = np.random.default_rng(3).integers(0, 255, (H * 2, W * 2, 3), dtype=np.uint8)
    for mm in (26, 52):
        exif = Image.Exif()
        exif.get_ifd(EXIF_IFD)[F35] = mm
        Image.fromarray(pixels).save(tmp_path / f"f{mm}.png", exif=exif.tobytes())
    assert photo_intrinsics(tmp_path / "f52.png").intrinsics[0] == pytest.approx(
        2 * photo_intrinsics(tmp_path / "f26.png").intrinsics[0])
    for name, model in (("aware", aware()), ("blind", tiny_zoedam())):
        ck = save_model(model, tmp_path / name)
        out = tmp_path / f"out_{name}"
        assert main(["predict", str(tmp_path / "f26.png"), str(tmp_path / "f52.png"), "--checkpoint", str(ck),
                     "--out", str(out), "--fp32"]) == 0
        text = capsys.readouterr().out
        d26, d52 = (np.asarray(Image.open(out / f"f{mm}_depth.png"), np.float64) for mm in (26, 52))
        if name == "aware":
            assert "FocalLengthIn35mmFilm=52 mm" in text and "camera-aware" in text
            assert np.median(d52 / d26) == pytest.approx(2.0, rel=0.01)
        else:
            assert "camera-blind" in text and np.array_equal(d26, d52)


@pytest.mark.parametrize("head", [True, False])
def test_onnx_export_of_a_camera_aware_model_takes_the_camera_and_estimates_the_unknown(tmp_path, head):
    """The graph's ``camera`` input scales the depth as the PyTorch model does; a NaN row takes the
    camera head's estimate (or NYU's field of view without a head); the metadata records f_c."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from zoedam_lib.inference.exported.export import export_onnx, read_metadata
    from zoedam_lib.inference.exported.onnx import OnnxDepthModel

    model = aware(camera_head=head).eval()
    if head:
        with torch.no_grad():
            model.camera_head.out.bias.fill_(math.log(0.6))  # an estimate unlike the default, so a mix-up shows
    path = export_onnx(model, tmp_path / "m.onnx", dynamic_batch=True)
    meta = read_metadata(path)
    assert meta["camera"]["mode"] == "canonical" and meta["camera"]["camera_head"] is head
    assert meta["camera"]["canonical_focal"] == pytest.approx(model.config.canonical_focal)
    assert meta["config"]["camera"] == "canonical" and "camera" in meta["inputs"]
    runner = OnnxDepthModel(path)
    x = torch.rand(3, 3, *model.config.img_size, generator=torch.Generator().manual_seed(0))
    f_c = model.config.canonical_focal
    cam = torch.tensor([[0.5 * f_c, 0.5 * f_c], [float("nan")] * 2, [1.5 * f_c, 1.4 * f_c]])
    with torch.no_grad():
        ref = model(x, camera=cam)
    out = runner(x, camera=cam)
    assert torch.allclose(out["focal_ratio"], ref["focal_ratio"], rtol=1e-4)
    assert out["focal_ratio"][0] == pytest.approx(0.5, rel=1e-5)
    assert out["focal_ratio"][1] == pytest.approx(0.6 if head else float(ref["focal_ratio"][1]), rel=1e-4)
    assert (out["metric_depth"] - ref["metric_depth"]).abs().max() < 5e-3
    assert torch.allclose(out["canonical_depth"], ref["canonical_depth"], rtol=1e-3, atol=1e-3)
    assert torch.allclose(runner(x)["focal_ratio"], runner(x, camera=torch.full((3, 2), float("nan")))["focal_ratio"])
    with pytest.raises(ConfigError, match=r"\(B, 2\)"):
        runner(x, camera=torch.ones(3, 4))


def test_predict_through_an_exported_camera_aware_model_uses_the_given_intrinsics(tmp_path, capsys):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    photo = save_photo(tmp_path / "p.jpg", 48, 64)
    ck = save_model(aware(), tmp_path / "aware")
    assert main(["export", str(ck), "--onnx", str(tmp_path / "m.onnx")]) == 0
    depths = {}
    for f in (40.0, 80.0):
        out = tmp_path / f"out{f:g}"
        for name, source in (("onnx", tmp_path / "m.onnx"), ("torch", ck)):
            assert main(["predict", str(photo), "--checkpoint", str(source), "--out", str(out / name), "--fp32",
                         "--intrinsics", str(f), str(f), "31.5", "23.5"]) == 0
            assert f"from --intrinsics (fx = fy = {f:.1f} px" in capsys.readouterr().out
            depths[f, name] = np.asarray(Image.open(out / name / "p_depth.png"), np.float64)
    assert np.median(depths[80.0, "onnx"] / depths[40.0, "onnx"]) == pytest.approx(2.0, rel=0.01)
    assert np.abs(depths[40.0, "onnx"] - depths[40.0, "torch"]).max() <= 2  # 16-bit PNG in mm: within 2 mm


def test_app_scales_a_camera_aware_depth_by_the_photos_exif_and_says_so(tmp_path):
    from zoedam_lib.app.outputs import make_outputs

    pixels = np.random.default_rng(4).integers(0, 255, (H * 2, W * 2, 3), dtype=np.uint8)
    for mm in (26, 52):
        exif = Image.Exif()
        exif.get_ifd(EXIF_IFD)[F35] = mm
        Image.fromarray(pixels).save(tmp_path / f"f{mm}.png", exif=exif.tobytes())
    model = aware()
    outs = {mm: make_outputs(model, tmp_path / f"f{mm}.png", tmp_path / f"app{mm}") for mm in (26, 52)}
    d26, d52 = (np.asarray(Image.open(outs[mm].depth_png), np.float64) for mm in (26, 52))
    assert np.median(d52 / d26) == pytest.approx(2.0, rel=0.01)
    assert "FocalLengthIn35mmFilm=52 mm" in outs[52].summary and "scaled by it" in outs[52].summary
    blind = make_outputs(tiny_zoedam(), tmp_path / "f52.png", tmp_path / "blind")
    assert "camera-blind" in blind.summary


def test_infer_photos_fills_an_estimated_camera_with_the_heads_focal_length(tmp_path):
    from zoedam_lib.inference.predict import infer_photos
    from zoedam_lib.models.layers.preprocess import resize_image

    model = aware(camera_head=True)
    with torch.no_grad():
        model.camera_head.out.bias.fill_(math.log(0.5))  # f = 0.5 f_c at the network size
    photo = save_photo(tmp_path / "plain.jpg", 48, 64)
    camera = photo_camera(photo, can_estimate=True)
    x = resize_image(np.zeros((48, 64, 3), np.uint8), model.config.img_size)[None]
    _, (used,) = infer_photos(model, x, [camera], [(48, 64)])
    h, w = model.config.img_size
    assert used.kind == "estimate" and "camera head" in used.source
    assert used.intrinsics[0] == pytest.approx(0.5 * model.config.canonical_focal * 64 / w, rel=1e-4)
    assert used.intrinsics[1] == pytest.approx(0.5 * model.config.canonical_focal * 48 / h, rel=1e-4)
