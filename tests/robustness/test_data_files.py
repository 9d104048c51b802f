"""Data files: a bad dataset file is a DataFileError saying what was expected and what to do; invalid
depths (NaN, inf, negative, zero) are masked out of every loss and metric; images without a valid
pixel are skipped and counted; bad unlabeled images are converted, or skipped and counted."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from helpers import TINY_SIZE, counting, tiny_zoedam, write_images
from PIL import Image

from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.unlabeled import UnlabeledImages
from zoedam_lib.evaluation.evaluate import evaluate
from zoedam_lib.evaluation.metrics import METRIC_KEYS, MetricAccumulator, compute_metrics
from zoedam_lib.losses.affine_invariant import affine_invariant_loss
from zoedam_lib.losses.densedepth import densedepth_loss, normalized_depth
from zoedam_lib.losses.silog import silog_loss
from zoedam_lib.semi.pseudo_labels import PseudoLabelCache
from zoedam_lib.utils.depth import valid_depth
from zoedam_lib.utils.errors import DataFileError, ImageReadError

H, W = 6, 10


def write_mat(path: Path, n: int = 4, compression: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A valid NYU-layout file of n random (H, W) items."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, H, W, 3), dtype=np.uint8)
    depths = rng.uniform(0.5, 9.0, size=(n, H, W)).astype(np.float32)
    with NyuMatWriter(path, n, H, W, compression=compression) as w:
        for i in range(n):
            w.write(i, images[i], depths[i])
    return images, depths


def write_raw(path: Path, **datasets: np.ndarray) -> Path:
    """An HDF5 file holding exactly the given datasets (any names, shapes, dtypes)."""
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)
    return path


# --------------------------------------------------------------------------- the NYU file


def test_missing_path(tmp_path: Path) -> None:
    message = r"not found.*download-nyu.*nyu_depth_v2_labeled\.mat.*SynthRooms"
    with pytest.raises(DataFileError, match=message):
        NyuMat(tmp_path / "nope.mat")


def test_missing_path_in_the_cli_exits_2_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "zoedam_lib", "train", "--data", str(tmp_path / "missing.mat"),
                          "--out", str(tmp_path / "run")], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "download-nyu" in out.stderr


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "t.mat"
    write_mat(path, n=6)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)
    message = rf"truncated or not MATLAB v7\.3/HDF5.*2,972,037,809 bytes, yours is {size // 2:,}"
    with pytest.raises(DataFileError, match=message):
        NyuMat(path)


def test_not_hdf5(tmp_path: Path) -> None:
    path = tmp_path / "x.mat"
    path.write_bytes(b"<html>404 not found</html>" * 40)
    with pytest.raises(DataFileError, match=r"cannot be opened as HDF5.*re-download"):
        NyuMat(path)


def test_matlab_v5_file(tmp_path: Path) -> None:
    path = tmp_path / "v5.mat"
    scipy.io.savemat(path, {"depths": np.zeros((2, 3), np.float32)})
    with pytest.raises(DataFileError, match=r"MATLAB v5 .*v7\.3"):
        NyuMat(path)


@pytest.mark.parametrize(("datasets", "message"), [
    ({"images": np.zeros((2, 3, W, H), np.uint8), "rawDepths": np.zeros((2, W, H))},
     r"lacks the NYU datasets.*'depths' float32 \(N, W, H\).*found 'images'.*'rawDepths'"),
    ({"depths": np.zeros((2, W, H), np.float32)},
     r"lacks the NYU datasets: expected 'images' uint8 \(N, 3, W, H\).*found 'depths' Dataset float32"),
    ({}, r"lacks the NYU datasets: expected 'images' uint8 .* 'depths' float32 .*; found nothing\."),
], ids=["no_depths", "no_images", "neither"])
def test_missing_datasets(tmp_path: Path, datasets: dict, message: str) -> None:
    path = write_raw(tmp_path / "m.mat", **datasets)
    with pytest.raises(DataFileError, match=message):
        NyuMat(path)


def test_wrong_dtype(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "d.mat", images=np.zeros((2, 3, W, H), np.float32),
                     depths=np.zeros((2, W, H), np.float32))
    with pytest.raises(DataFileError, match=r"'images' must be uint8 \(N, 3, W, H\), got float32"):
        NyuMat(path)
    path = write_raw(tmp_path / "d2.mat", images=np.zeros((2, 3, W, H), np.uint8),
                     depths=np.zeros((2, W, H), np.uint16))
    with pytest.raises(DataFileError, match=r"'depths' must be float.*got uint16"):
        NyuMat(path)


@pytest.mark.parametrize(("images", "depths", "message"), [
    ((2, W, H), (2, W, H), r"'images' must be uint8 \(N, 3, W, H\), got uint8 \(2, 10, 6\)"),
    ((2, 4, W, H), (2, W, H), r"'images' must be uint8 \(N, 3, W, H\)"),
    ((2, 3, W, H), (3, W, H), r"'depths' must be float \(N, W, H\) = \(2, 10, 6\).*got float32 \(3, 10, 6\)"),
    ((2, 3, W, H), (2, H, W), r"'depths' must be float \(N, W, H\)"),
])
def test_wrong_shapes(tmp_path: Path, images: tuple, depths: tuple, message: str) -> None:
    path = write_raw(tmp_path / "s.mat", images=np.zeros(images, np.uint8),
                     depths=np.zeros(depths, np.float32))
    with pytest.raises(DataFileError, match=message):
        NyuMat(path)


def test_no_items(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "e.mat", images=np.zeros((0, 3, W, H), np.uint8),
                     depths=np.zeros((0, W, H), np.float32))
    with pytest.raises(DataFileError, match="holds no items"):
        NyuMat(path)


def test_corrupt_item(tmp_path: Path) -> None:
    path = tmp_path / "c.mat"
    images, _ = write_mat(path, n=3, compression="gzip")
    with h5py.File(path, "r") as f:
        _, chunk = f["depths"].id.read_direct_chunk((1, 0, 0))  # item 1's compressed depth bytes
    content = path.read_bytes()
    offset = content.find(chunk)
    assert offset > 0 and content.count(chunk) == 1
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(b"\xff" * len(chunk))
    with NyuMat(path) as data:
        np.testing.assert_array_equal(data.read(0)[0], images[0])
        with pytest.raises(DataFileError, match=rf"item 1 \('depths'\) of .*{path.name}.*corrupt"):
            data.read(1)
        with pytest.raises(DataFileError, match="item 1"):
            data.read_depth(1)


# --------------------------------------------------------------------------- invalid depths in losses


def test_valid_depth_mask() -> None:
    depth = np.array([np.nan, np.inf, -np.inf, -1.0, 0.0, 1e-3, 0.5, 9.99, 10.0, 12.0], dtype=np.float32)
    expected = [False] * 6 + [True, True, False, False]
    np.testing.assert_array_equal(valid_depth(depth), expected)
    np.testing.assert_array_equal(valid_depth(depth, max_depth=11.0)[-2:], [True, False])
    np.testing.assert_array_equal(valid_depth(torch.from_numpy(depth)).numpy(), expected)  # the losses' mask


def test_silog_ignores_masked_nan_pixels():
    target = torch.full((1, 1, 8, 8), 2.0)
    target[..., :2] = float("nan")
    mask = torch.isfinite(target)
    pred = torch.full((1, 1, 8, 8), 2.0, requires_grad=True)
    loss = silog_loss(pred, target, mask)
    assert loss.item() < 1e-4
    loss.backward()
    assert torch.isfinite(pred.grad).all()


def test_silog_empty_mask_gives_zero_connected_loss():
    pred = torch.ones(1, 1, 4, 4, requires_grad=True)
    loss = silog_loss(pred, torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4, dtype=torch.bool))
    loss.backward()
    assert loss.item() == 0.0 and pred.grad is not None


def test_densedepth_loss_excludes_nan_targets_without_nan_gradients():
    torch.manual_seed(0)
    depth = 0.5 + 5 * torch.rand(2, 1, 24, 32)
    target = normalized_depth(depth)
    holes = depth.clone()
    holes[:, :, :8] = float("nan")
    holes[:, :, 10, 5] = 0.0
    assert densedepth_loss(target, holes).item() == pytest.approx(0.0, abs=1e-6)  # holes add no error
    pred = target.clone()
    pred[:, :, :8] = 50.0  # wrong only where the target is missing
    pred.requires_grad_()
    loss = densedepth_loss(pred, holes)
    loss.backward()
    assert loss.item() < 1e-3 and torch.isfinite(pred.grad).all()


def depth_maps(b: int, seed: int, size: tuple[int, int] = TINY_SIZE) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.5 + 5 * torch.rand(b, 1, *size, generator=g)


def test_affine_invariant_loss_masks_bad_pixels_without_nan_gradients():
    pred = depth_maps(3, 4).requires_grad_()
    target = depth_maps(3, 5)
    mask = torch.rand(3, 1, *TINY_SIZE, generator=torch.Generator().manual_seed(6)) > 0.3
    mask[1] = False  # no valid pixel
    mask[2] = False
    mask[2, 0, 0, 0] = True  # a single valid pixel
    target[~mask] = float("nan")
    n_bad = int((~mask[0]).sum())
    target[0][~mask[0]] = torch.tensor([0.0, float("inf"), -1.0, float("nan")]).repeat(n_bad)[:n_bad]
    per_image = affine_invariant_loss(pred, target, mask, reduction="none")
    assert torch.isfinite(per_image).all() and per_image[0] > 0 and per_image[1] == 0 and per_image[2] == 0
    per_image.sum().backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad[1:].abs().sum() == 0 and pred.grad[0][~mask[0]].abs().sum() == 0
    clean = affine_invariant_loss(pred[:1], torch.where(mask[:1], target[:1], torch.ones_like(target[:1])), mask[:1])
    assert torch.allclose(per_image[0], clean)


# Each loss as its training step calls it, and with an explicit mask (the reference).
TRAINING_LOSSES = {
    # zoedam.silog_step: SILog with the valid-depth mask
    "silog": (lambda pred, depth: silog_loss(pred, depth, valid_depth(depth)),
              lambda pred, depth, mask: silog_loss(pred, depth, mask)),
    # densedepth.densedepth_step: eq. (1) on the normalised prediction, valid-depth mask
    "densedepth": (lambda pred, depth: densedepth_loss(normalized_depth(pred), depth, valid_depth(depth)),
                   lambda pred, depth, mask: densedepth_loss(normalized_depth(pred), depth, mask)),
    # ZoeDAM+ on pseudo-labels: the default mask (finite, positive targets)
    "affine": (lambda pred, depth: affine_invariant_loss(pred, depth),
               lambda pred, depth, mask: affine_invariant_loss(pred, depth, mask)),
}
INVALID = {"nan": float("nan"), "inf": float("inf"), "negative": -1.0, "zero": 0.0}


def _pred_and_depth() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    depth = 0.5 + 5 * torch.rand(2, 1, 24, 32, generator=g)
    pred = (depth * torch.exp(0.2 * torch.randn(depth.shape, generator=g))).requires_grad_()
    return pred, depth


@pytest.mark.parametrize("kind", INVALID)
@pytest.mark.parametrize("name", TRAINING_LOSSES)
def test_invalid_depths_are_masked_out_of_losses(name: str, kind: str) -> None:
    """The loss equals the loss of the clean map with those pixels masked explicitly, gradients finite."""
    loss_fn, masked_fn = TRAINING_LOSSES[name]
    pred, clean = _pred_and_depth()
    hole = torch.zeros_like(clean, dtype=torch.bool)
    hole[:, :, 4:12, 6:20] = True
    depth = torch.where(hole, INVALID[kind], clean)
    loss = loss_fn(pred, depth)
    (grad,) = torch.autograd.grad(loss, pred)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()
    assert torch.equal(loss, masked_fn(pred, clean, ~hole))
    assert not torch.equal(loss, masked_fn(pred, clean, torch.ones_like(hole)))  # the hole's pixels would count
    if name != "densedepth":  # (SSIM couples neighbours, so DenseDepth's hole pixels keep a gradient)
        assert grad[hole].abs().sum() == 0


@pytest.mark.parametrize("kind", ["nan", "zero", "negative"])
@pytest.mark.parametrize("name", TRAINING_LOSSES)
def test_depth_map_without_valid_pixels_gives_zero_loss(name: str, kind: str) -> None:
    loss_fn, _ = TRAINING_LOSSES[name]
    pred, clean = _pred_and_depth()
    loss = loss_fn(pred, torch.full_like(clean, INVALID[kind]))
    (grad,) = torch.autograd.grad(loss, pred)
    assert loss.item() == pytest.approx(0.0, abs=1e-7) and torch.isfinite(grad).all()


# --------------------------------------------------------------------------- invalid depths in metrics


def test_no_valid_pixel_is_nan_and_skipped_by_accumulator():
    gt = np.zeros((48, 64), np.float32)
    gt_nan = np.full((48, 64), np.nan, np.float32)
    pred = np.ones((48, 64), np.float32)
    assert all(np.isnan(v) for v in compute_metrics(pred, gt).values())
    acc = MetricAccumulator()
    acc.update(pred, gt, name="zeros")
    acc.update(pred, gt_nan, name="nans")
    acc.update(pred, np.full((48, 64), 2.0, np.float32), name="ok")
    assert acc.skipped == ["zeros", "nans"] and acc.count == 1
    assert acc.mean()["abs_rel"] == pytest.approx(0.5)


def test_evaluation_masks_invalid_depths_and_skips_images_without_valid_pixels(tmp_path: Path) -> None:
    """A NYU-layout file with holes and hopeless depth maps, evaluated end to end with a tiny model."""
    h, w = 60, 80
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    clean = rng.uniform(0.5, 9.0, (h, w)).astype(np.float32)

    def with_hole(value: float) -> np.ndarray:
        depth = clean.copy()
        depth[20:40, 20:50] = value  # inside the Eigen crop
        return depth
    depths = [clean, *(with_hole(v) for v in INVALID.values()),  # items 1-4: NaN, inf, negative, zero holes
              np.zeros((h, w), np.float32), np.full((h, w), np.nan, np.float32),  # 5-8: no valid pixel
              np.full((h, w), -2.0, np.float32), np.full((h, w), np.inf, np.float32)]
    path = tmp_path / "holes.mat"
    with NyuMatWriter(path, len(depths), h, w) as writer:
        for i, depth in enumerate(depths):
            writer.write(i, image, depth)
    with NyuMat(path) as mat:  # batch 1: every item's prediction is computed identically
        result = evaluate(tiny_zoedam(), DepthDataset(mat, range(len(depths))), batch_size=1, progress=False)
    assert result.skipped == [5, 6, 7, 8] and result.n_images == 5
    assert result.to_json()["n_skipped"] == 4 and result.to_json()["n_images"] == 5
    assert all(math.isfinite(v) for v in result.metrics.values())
    rows = {row["index"]: {k: row[k] for k in METRIC_KEYS} for row in result.per_image}
    assert rows[1] == rows[2] == rows[3] == rows[4]  # NaN, inf, negative and zero holes are left out alike
    assert rows[1] != rows[0]  # … and left out: the hole's pixels do not count
    assert result.metrics == pytest.approx({k: np.mean([rows[i][k] for i in range(5)]) for k in METRIC_KEYS})


# --------------------------------------------------------------------------- unlabeled folders


def test_unlabeled_folder_errors_say_what_was_looked_for(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFileError, match=r"no unlabeled images in .*empty.*\.jpg"):
        UnlabeledImages(tmp_path / "empty")
    with pytest.raises(DataFileError, match=r"not found: .*missing"):
        UnlabeledImages([tmp_path / "missing", tmp_path / "empty"])
    (tmp_path / "lsun").mkdir()
    (tmp_path / "lsun" / "data.mdb").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "lmdb", None)
    with pytest.raises(DataFileError, match="pip install lmdb"):
        UnlabeledImages(tmp_path / "lsun")


def test_unlabeled_images_convert_every_kind_and_replace_unreadable_files(tmp_path, capsys):
    write_images(tmp_path / "imgs")
    raw = UnlabeledImages(tmp_path / "imgs")
    names = [e.source.rsplit("/", 1)[-1] for e in raw.entries]
    assert names == ["a_rgb.jpg", "b_gray.png", "c_rgba.png", "d_16bit.png", "e_exif.jpg", "f_random.jpg",
                     "g_truncated.jpg", "h_nested.bmp"]
    assert raw[4]["image"].shape == (3, 40, 30)  # EXIF orientation applied
    assert raw[3]["image"].max() > 0.5 and raw[3]["image"].dtype == torch.float32  # 16-bit scaled to [0, 1]
    data = UnlabeledImages(tmp_path / "imgs", size=(28, 35))
    items = [data[(i, 3)] for i in range(len(data))] + [data[5]]
    assert all(it["image"].shape == (3, 28, 35) and 0 <= it["image"].min() <= it["image"].max() <= 1
               for it in items)
    assert torch.equal(items[5]["image"], data.load(7)) and torch.equal(items[6]["image"], data.load(7))
    assert int(items[5]["index"]) == 5
    assert len(data.skipped) == 2 and "2 unreadable" in data.report()
    assert capsys.readouterr().out.count("unreadable unlabeled image") == 1  # reported once


def _gray(path: Path, rng: np.random.Generator) -> np.ndarray:
    pixels = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    Image.fromarray(pixels, "L").save(path)
    return np.repeat(pixels[..., None], 3, axis=2) / 255.0  # replicated to three channels


def _rgba(path: Path, rng: np.random.Generator) -> np.ndarray:
    pixels = rng.integers(0, 256, (30, 40, 4), dtype=np.uint8)
    Image.fromarray(pixels, "RGBA").save(path)
    return pixels[..., :3] / 255.0  # alpha dropped, colour kept as stored


def _deep16(path: Path, rng: np.random.Generator) -> np.ndarray:
    pixels = rng.integers(0, 65536, (30, 40), dtype=np.uint16)
    Image.fromarray(pixels).save(path)
    return np.repeat(pixels[..., None], 3, axis=2) / 65535.0  # full 16-bit range → [0, 1]


def _exif_rotated(path: Path, rng: np.random.Generator) -> np.ndarray:
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # displayed rotated 90° clockwise
    Image.fromarray(pixels).save(path, exif=exif)  # PNG eXIf chunk: lossless, so compared exactly
    return np.rot90(pixels, k=-1) / 255.0


@pytest.mark.parametrize("make", [_gray, _rgba, _deep16, _exif_rotated], ids=["grayscale", "rgba", "16bit", "exif"])
def test_unlabeled_image_kind_is_converted_exactly(tmp_path: Path, make) -> None:
    (tmp_path / "u").mkdir()
    expected = make(tmp_path / "u" / "img.png", np.random.default_rng(1))
    data = UnlabeledImages(tmp_path / "u")
    image = data[0]["image"]  # (3, H, W) float32 in [0, 1]
    assert image.dtype == torch.float32 and data.skipped == []
    np.testing.assert_allclose(image.permute(1, 2, 0).numpy(), expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "text", "truncated"],
                         ids=["empty", "png_header_only", "text", "truncated"])
def test_unreadable_unlabeled_file_is_replaced_and_counted(tmp_path: Path, content) -> None:
    (tmp_path / "u").mkdir()
    good = np.random.default_rng(2).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    Image.fromarray(good).save(tmp_path / "u" / "b_good.png")
    if content == "text":
        content = b"these are my notes, saved with an image name\n"
    elif content == "truncated":
        content = (tmp_path / "u" / "b_good.png").read_bytes()[:60]
    bad = tmp_path / "u" / "a_bad.png"
    bad.write_bytes(content)
    data = UnlabeledImages(tmp_path / "u")
    with pytest.raises(ImageReadError, match=r"cannot read image .*a_bad\.png.*check that it is not truncated"):
        data.load(0)
    item = data[0]
    assert int(item["index"]) == 0 and torch.equal(item["image"], data.load(1))  # the next readable image
    assert data.skipped == [str(bad)] and "1 unreadable, replaced by the next readable image" in data.report()


# --------------------------------------------------------------------------- the pseudo-label cache


def test_pseudo_label_cache_entry_changed_after_writing_is_recomputed(tmp_path):
    write_images(tmp_path / "imgs")
    images = UnlabeledImages(tmp_path / "imgs", n=5, seed=1, size=TINY_SIZE)
    cache = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(1), images, progress=False)
    assert cache.build() == 5 and cache.damaged == []
    reference = [cache.get(i) for i in range(5)]
    entry = bytearray(cache.path(1).read_bytes())
    entry[-1] ^= 0xFF  # one value changed, same size: still a loadable .npy
    cache.path(1).write_bytes(bytes(entry))
    cache.path(3).write_bytes(b"garbage")
    with pytest.raises(DataFileError, match=re.escape(f"{cache.path(1).name} changed after it was written (its sha256 "
                                                      "differs from entries.sha256)")):
        cache.get(1)  # never served silently, even before the next build
    calls = {"images": 0}
    again = PseudoLabelCache(tmp_path / "cache", counting(tiny_zoedam(1), calls), images, progress=False)
    assert again.dir == cache.dir
    assert again.build() == 2 and again.damaged == [1, 3] and calls["images"] == 2  # recomputed and counted
    assert all(torch.equal(again.get(i), reference[i]) for i in range(5))
    listed = sorted(line.split("  ")[1] for line in (again.dir / "entries.sha256").read_text().splitlines())
    assert listed == sorted(again.path(i).name for i in range(5))  # one line per entry: `sha256sum -c` works


def test_pseudo_label_cache_built_by_two_processes_keeps_the_others_file_in_flight(tmp_path):
    """Notebook 05 runs the student and the control side by side on one cache: a builder's clean-up of
    temporary files left by crashes must not delete the other builder's file between its write and its rename
    (it did: FileNotFoundError on the other's manifest). The second builder waits for the first instead."""
    import threading
    import time

    from zoedam_lib.semi.pseudo_labels import BUILD_LOCK
    from zoedam_lib.utils.output_dirs import waiting_lock

    write_images(tmp_path / "imgs")
    images = UnlabeledImages(tmp_path / "imgs", n=3, seed=1, size=TINY_SIZE)
    cache = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(1), images, progress=False)
    assert cache.build() == 3
    in_flight, holding, renamed = cache.dir / ".manifest.json.other.tmp", threading.Event(), []

    def other_builder():  # holds the build lock (a separate open file: flock excludes it as another process)
        with waiting_lock(cache.dir / BUILD_LOCK):
            in_flight.write_text("{}")
            holding.set()
            time.sleep(0.5)
            in_flight.rename(cache.dir / "other.json")  # raises if the other build removed it meanwhile
            renamed.append(True)

    thread = threading.Thread(target=other_builder)
    thread.start()
    holding.wait()
    assert cache.build() == 0  # waits for the other builder, then finds every entry intact
    thread.join()
    assert renamed == [True] and (cache.dir / "other.json").is_file()


def test_pseudo_label_cache_folder_of_another_teacher_is_recomputed(tmp_path, capsys):
    """A cache folder copied or renamed from another teacher's, entries, checksums and manifest included (was: every
    entry intact by its checksum, so teacher A's labels trained teacher B's student, `build() == 0`): its manifest's
    teacher fingerprint differs, so all entries are recomputed and counted (`damaged`), with a line naming both
    fingerprints; a truncated manifest likewise; this teacher's own folder is reused as before."""
    import shutil

    write_images(tmp_path / "imgs")
    images = UnlabeledImages(tmp_path / "imgs", n=3, seed=1, size=TINY_SIZE)
    a = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(1), images, progress=False)
    assert a.build() == 3
    b = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(2), images, progress=False)
    shutil.copytree(a.dir, b.dir)
    capsys.readouterr()
    assert b.build() == 3 and b.damaged == [0, 1, 2]
    line = capsys.readouterr().out
    assert f"its manifest.json says teacher fingerprint {a.teacher_fingerprint[:16]}…, not " \
           f"{b.teacher_fingerprint[:16]}…: entries of another teacher; recomputing its entries" in line, line
    assert not torch.equal(b.get(0), a.get(0))
    own = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(2), images, progress=False)
    assert own.build() == 0 and torch.equal(own.get(0), b.get(0))
    (b.dir / "manifest.json").write_text('{"version": 2, "finger')
    assert own.build() == 3 and "its manifest.json cannot be read (JSONDecodeError)" in capsys.readouterr().out
