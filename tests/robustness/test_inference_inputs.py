"""Images at inference (``zoedam predict``): 1-pixel and 48-megapixel photos, images above the pixel limit,
float images with NaN/inf pixels, predictions that are not finite, files that are not images, nothing to do,
and names with ``..`` that must never write outside ``--out``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import SUBPROCESS_ENV, random_photo, tiny_zoedam
from PIL import Image

from zoedam_lib.app.outputs import make_outputs
from zoedam_lib.cli import main
from zoedam_lib.data.unlabeled import UnlabeledImages
from zoedam_lib.evaluation.evaluate import evaluate
from zoedam_lib.inference.predict import predict_depth
from zoedam_lib.io.images import read_image, to_float_image
from zoedam_lib.io.inputs import assign_names, safe_stem
from zoedam_lib.io.writers import read_depth_png16
from zoedam_lib.utils.errors import ImageReadError, PredictionError

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (see conftest)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A 1-pixel photo, a corrupt JPEG and a text file."""
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("photos")
    random_photo(rng, 1, 1).save(d / "tiny.png")
    (d / "corrupt.jpg").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    (d / "notes.txt").write_text("not an image\n")
    return d


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (9, 1), (2, 3)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_tiny_image_gets_depth_at_its_own_size(size, checkpoint, tmp_path, capsys):
    """Upsampled to the network size and back: one finite, in-range depth per pixel, PLY included."""
    random_photo(np.random.default_rng(4), *size).save(tmp_path / "p.png")
    code = main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"),
                 "--ply", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0 and last_line(out) == "done 1 images, skipped 0"
    depth = read_depth_png16(tmp_path / "out" / "p_depth.png")
    assert depth.shape == size and np.isfinite(depth).all() and (depth > 0).all() and (depth <= 10.0).all()
    with Image.open(tmp_path / "out" / "p_color.png") as img:
        assert img.size[::-1] == size
    header = (tmp_path / "out" / "p.ply").read_bytes().split(b"end_header")[0].decode()
    assert f"element vertex {size[0] * size[1]}\n" in header
    library = predict_depth(tiny_zoedam(), np.zeros((*size, 3), np.uint8))  # the library path too
    assert library.shape == size and np.isfinite(library).all()


_MEMORY_SCRIPT = """
import json, os, sys
from zoedam_lib.cli import main
from zoedam_lib.bench.common import peak_rss_mb  # VmHWM: not inflated by the parent's memory
import zoedam_lib.cli.predict, zoedam_lib.checkpoints  # imports before the baseline
with open("/proc/self/statm") as f:  # resident now, not the high-water mark of the imports
    before = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024
code = main(sys.argv[1:])
print(json.dumps({"code": code, "baseline_mb": before / 1024, "peak_mb": peak_rss_mb()}))
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="measures resident memory through Linux /proc")
def test_huge_photo_is_processed_within_memory(checkpoint, tmp_path):
    """An 8000×6000 photo: resized to the network size without full-size float copies of the input."""
    Image.new("RGB", (8000, 6000), (120, 140, 90)).save(tmp_path / "huge.jpg", quality=80)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, "predict", str(tmp_path / "huge.jpg"),
                           "--checkpoint", str(checkpoint), "--out", str(out), "--device", "cpu"],
                          capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"8000x6000: baseline {stats['baseline_mb']:.0f} MB, peak RSS {stats['peak_mb']:.0f} MB")
    assert stats["code"] == 0
    # input 144 MB (uint8) + depth 192 MB (float32) + outputs; full-size float copies of the RGB input
    # (576 MB each) would push the increase far beyond this bound
    assert stats["peak_mb"] - stats["baseline_mb"] < 1200
    depth = read_depth_png16(out / "huge_depth.png")
    assert depth.shape == (6000, 8000) and np.isfinite(depth).all() and (depth > 0).all()


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A ~70-byte PNG whose header claims ``width`` × ``height`` pixels (its pixel data is one row: only a
    reader that trusts the header before decoding can refuse it cheaply)."""
    import struct
    import zlib

    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", width, height)  # IHDR width, height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))  # IHDR CRC over type and data
    path.write_bytes(bytes(data))
    return path


def test_image_above_the_pixel_limit_is_refused_from_its_header(checkpoint, tmp_path, capsys):
    """20000×10000 px (a 583 KB PNG took 3.5 GB and 43 s): refused before decoding, with the flag that lifts
    the limit; the other image is done. --max-pixels moves the limit both ways."""
    folder = tmp_path / "in"
    folder.mkdir()
    huge = _png_claiming(folder / "huge.png", 20000, 10000)
    random_photo(np.random.default_rng(3), 30, 40).save(folder / "small.png")
    with pytest.raises(ImageReadError, match=r"huge.png is 20000×10000 = 200.0 MP, above the limit of 64 MP that "
                                             r"keeps memory bounded: downscale it, or raise the limit with "
                                             r"--max-pixels 200000000 \(max_pixels=200000000 in Python\)"):
        read_image(huge)
    code = main(["predict", str(folder), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"),
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0 and last_line(captured.out) == f"done 1 images, skipped 1 ({huge}: too large)"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["small_color.png", "small_depth.png"]
    for limit, done in (("1199", 0), ("1.2e3", 1)):  # the small image has 1200 pixels
        code = main(["predict", str(folder / "small.png"), "--checkpoint", str(checkpoint), "--out",
                     str(tmp_path / f"out{limit}"), "--device", "cpu", "--max-pixels", limit])
        assert code == (0 if done else 2)
        assert f"done {done} images" in capsys.readouterr().out


def _float_tiff(path: Path, values: np.ndarray) -> Path:
    Image.fromarray(values.astype(np.float32), "F").save(path)
    return path


def test_non_finite_pixels_make_an_image_unreadable(checkpoint, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    _float_tiff(folder / "all_nan.tif", np.full((6, 8), np.nan))
    one_inf = np.linspace(0, 1, 48).reshape(6, 8)
    one_inf[2, 3] = np.inf
    _float_tiff(folder / "one_inf.tif", one_inf)
    _float_tiff(folder / "fine.tif", np.linspace(0, 1, 48).reshape(6, 8))
    code = main(["predict", str(folder), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"),
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert last_line(captured.out) == (f"done 1 images, skipped 2 ({folder / 'all_nan.tif'}: non-finite pixels; "
                                       f"{folder / 'one_inf.tif'}: non-finite pixels)")
    assert "48 of 48 pixel values are NaN or inf" in captured.err and "1 of 48 pixel values" in captured.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["fine_color.png", "fine_depth.png"]
    images = UnlabeledImages(folder, seed=0, size=(14, 14))  # sibling: the ZoeDAM+ unlabeled loader
    assert [images[i]["image"].isfinite().all().item() for i in range(len(images))] == [True] * 3
    assert sorted(Path(p).name for p in images.skipped) == ["all_nan.tif", "one_inf.tif"]
    with pytest.raises(ImageReadError, match="1 of 48 pixel values are NaN or inf"):  # sibling: arrays in Python
        to_float_image(one_inf)


def test_non_finite_prediction_is_never_written(checkpoint, tmp_path, monkeypatch, capsys):
    """A model that predicts NaN (fp16 overflow, a broken model) must not leave an all-invalid depth file behind."""
    import zoedam_lib.cli.predict as predict_cli

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a", "b"):
        random_photo(np.random.default_rng(7), 12, 16).save(folder / f"{name}.png")
    real_infer = predict_cli.infer_photos

    def second_is_nan(*args, **kwargs):
        depth, cameras = real_infer(*args, **kwargs)
        depth[1:] = float("nan")
        return depth, cameras
    monkeypatch.setattr(predict_cli, "infer_photos", second_is_nan)
    code = main(["predict", str(folder), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"),
                 "--device", "cpu", "--batch-size", "2"])
    captured = capsys.readouterr()
    assert code == 2
    assert last_line(captured.out) == (f"done 1 images, skipped 1 ({folder / 'b.png'}: non-finite prediction (3920 "
                                       "of 3920 predicted depths are NaN or inf))")
    assert last_line(captured.err).startswith("error: the model predicted NaN/inf depth for 1 of 2 images, so nothing "
                                              "was written for them")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_color.png", "a_depth.png"]

    model = tiny_zoedam()  # siblings: the Python API, the app and evaluation; NaN weights made in memory
    with torch.no_grad():
        model.head.conv2.weight.fill_(float("nan"))
    with pytest.raises(PredictionError, match="196 of 196 predicted depths are NaN or inf"):
        predict_depth(model, np.zeros((14, 14, 3), np.uint8))
    with pytest.raises(PredictionError):
        make_outputs(model, folder / "a.png", tmp_path / "app")
    assert not (tmp_path / "app").exists() or not list((tmp_path / "app").iterdir())
    with pytest.raises(PredictionError, match=r"test images \[0\]: 3920 of 3920"):  # at the network size, 56x70
        evaluate(model, _OneItem(), flip_tta=False, progress=False)


class _OneItem(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 1

    def __getitem__(self, key):
        return {"image": torch.zeros(3, 14, 14), "depth": torch.ones(1, 14, 14), "index": torch.tensor(0)}


# --------------------------------------------------------------------------- files that are not images


def test_explicit_files_are_tried_and_reported(photos, checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", str(photos / "tiny.png"), str(photos / "notes.txt"), str(tmp_path / "gone.jpg"),
                 str(photos / "tiny.png"), "--checkpoint", str(checkpoint), "--out", str(out), "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = captured.out.strip().splitlines()[-1]
    assert summary.startswith("done 1 images, skipped 2 (")
    assert "gone.jpg: not found" in summary and "notes.txt: unreadable image" in summary
    assert sorted(p.name for p in out.iterdir()) == ["tiny_color.png", "tiny_depth.png"]


NOT_IMAGES = {  # file name, content, reason in the summary
    "text_as_jpg": ("notes.jpg", b"my notes, saved with an image name\n", "unreadable image (UnidentifiedImageError)"),
    "empty_png": ("empty.png", b"", "unreadable image (UnidentifiedImageError)"),
    "random_bytes": ("noise.jpg", bytes(range(256)) * 2, "unreadable image (UnidentifiedImageError)"),
    "truncated_jpeg": ("half.jpg", None, "unreadable image (OSError)"),
    "pdf": ("paper.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "unreadable image (UnidentifiedImageError)"),
}


@pytest.mark.parametrize("where", ["explicit", "in_folder"])
@pytest.mark.parametrize("kind", NOT_IMAGES)
def test_non_image_file_is_skipped_with_its_reason(kind, where, checkpoint, tmp_path, capsys):
    """Given by name, a non-image is skipped and named in the summary; in a folder, files with an image
    extension are tried (and skipped) while others (.pdf) are not even listed. The good image is done."""
    name, content, reason = NOT_IMAGES[kind]
    folder = tmp_path / "in"
    folder.mkdir()
    random_photo(np.random.default_rng(5), 8, 8).save(folder / "good.png")
    if content is None:
        random_photo(np.random.default_rng(6), 64, 64).save(tmp_path / "full.jpg")
        content = (tmp_path / "full.jpg").read_bytes()
        content = content[: len(content) // 2]
    (folder / name).write_bytes(content)
    inputs = [str(folder / "good.png"), str(folder / name)] if where == "explicit" else [str(folder)]
    code = main(["predict", *inputs, "--checkpoint", str(checkpoint), "--out", str(tmp_path / "out"),
                 "--device", "cpu"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    if where == "in_folder" and kind == "pdf":
        assert last_line(captured.out) == "done 1 images, skipped 0"
    else:
        assert last_line(captured.out) == f"done 1 images, skipped 1 ({folder / name}: {reason})"
        assert f"skipped cannot read image {folder / name}" in captured.err  # the full message, once
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good_color.png", "good_depth.png"]


@pytest.mark.parametrize("case", ["missing", "empty_folder", "only_corrupt", "bad_checkpoint"])
def test_nothing_to_do_exits_2_with_a_message(case, photos, checkpoint, tmp_path, capsys):
    inputs = {"missing": [str(tmp_path / "nope.jpg")], "empty_folder": [str(tmp_path)],
              "only_corrupt": [str(photos / "corrupt.jpg")], "bad_checkpoint": [str(photos / "tiny.png")]}[case]
    ckpt = str(tmp_path / "no_such_ckpt") if case == "bad_checkpoint" else str(checkpoint)
    assert main(["predict", *inputs, "--checkpoint", ckpt, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    expected = {"missing": "no input images (", "empty_folder": "no input images (",
                "only_corrupt": "none of the 1 input files could be read", "bad_checkpoint": "checkpoint not found"}
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and expected[case] in last
    if case == "missing":
        assert "nope.jpg: not found" in err


# --------------------------------------------------------------------------- names with ".."


def test_hostile_path_stays_inside_out(checkpoint, tmp_path, monkeypatch, capsys):
    random_photo(np.random.default_rng(1), 10, 12).save(tmp_path / "evil.jpg")
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    code = main(["predict", "../../evil.jpg", "--checkpoint", str(checkpoint), "--out", "out", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (work / "out").iterdir()) == ["evil_color.png", "evil_depth.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "evil.jpg"]


@pytest.mark.parametrize(("file_name", "stem"), [
    ("..evil.jpg", "evil"),  # leading dots would hide the output or climb
    ("...jpg", "image"),  # nothing left after the dots
    ("..\\..\\evil.jpg", "evil"),  # Windows separators are ordinary characters in a POSIX name
    ("a..b.png", "a..b"),  # dots inside a name are harmless and kept
])
def test_dotdot_in_a_file_name_stays_inside_out(file_name, stem, checkpoint, tmp_path, capsys):
    work = tmp_path / "work"
    (work / "in").mkdir(parents=True)
    random_photo(np.random.default_rng(2), 6, 7).save(work / "in" / file_name, format="PNG")
    # named explicitly: a folder scan skips hidden (leading-dot) files without trying them
    code = main(["predict", str(work / "in" / file_name), "--checkpoint", str(checkpoint), "--out", str(work / "out"),
                 "--ply", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in (work / "out").iterdir()) == sorted(f"{stem}{s}" for s in
                                                                      ("_color.png", "_depth.png", ".ply"))
    assert sorted(p.name for p in work.iterdir()) == ["in", "out"]  # nothing written beside --out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]


def test_sanitised_and_unique_names():
    assert safe_stem("../../evil.jpg") == "evil"
    assert safe_stem("..\\..\\evil.jpg") == "evil"
    assert safe_stem("..jpg") == "image" and safe_stem("...") == "image"
    assert safe_stem(".bashrc.png") == "bashrc"
    assert safe_stem("my photo (1).jpg") == "my_photo_1_"
    assert safe_stem("café.jpg") == "café"
    paths = [Path("a/x.jpg"), Path("b/x.png"), Path("c/X.jpeg"), Path("x-1.jpg"), Path("y.png")]
    assert assign_names(paths) == ["x", "x-1", "X-2", "x-1-1", "y"]
