"""``zoedam predict`` on a folder of ordinary, awkward photos: sizes, modes, EXIF, corrupt files, names.

Tiny/huge images, non-image inputs and hostile paths are in ``tests/robustness/test_inference_inputs.py``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import SUBPROCESS_ENV, random_photo
from PIL import Image
from test_writers import read_ply

from zoedam_lib.checkpoints import load_model
from zoedam_lib.cli import main
from zoedam_lib.inference.predict import predict_depth
from zoedam_lib.io.images import read_image
from zoedam_lib.io.writers import read_depth_png16

ROOT = Path(__file__).resolve().parents[1]
# displayed (H, W) of every readable photo, by output stem
EXPECTED = {"a": (30, 40), "b": (61, 17), "gray": (25, 25), "rgba": (20, 33), "deep16": (45, 30),
            "rotated": (40, 20), "tiny": (1, 1), "a-1": (24, 24)}


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread (see conftest)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """A folder as users have them: mixed formats, sizes, modes, an EXIF rotation, junk."""
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("photos")
    random_photo(rng, 30, 40).save(d / "a.jpg", quality=90)
    random_photo(rng, 61, 17).save(d / "b.PNG")  # upper-case extension
    Image.fromarray(rng.integers(0, 256, (25, 25), dtype=np.uint8), "L").save(d / "gray.png")
    Image.fromarray(rng.integers(0, 256, (20, 33, 4), dtype=np.uint8), "RGBA").save(d / "rgba.png")
    Image.fromarray(rng.integers(0, 65536, (45, 30), dtype=np.uint16)).save(d / "deep16.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise for display
    random_photo(rng, 20, 40).save(d / "rotated.jpg", exif=exif.tobytes())  # stored 40 wide, displayed 20 wide
    random_photo(rng, 1, 1).save(d / "tiny.png")
    (d / "corrupt.jpg").write_bytes(rng.integers(0, 256, 500, dtype=np.uint8).tobytes())
    (d / "notes.txt").write_text("not an image\n")
    (d / ".hidden.jpg").write_bytes(b"AppleDouble junk")
    (d / "sub").mkdir()
    random_photo(rng, 24, 24).save(d / "sub" / "a.png")  # same stem as a.jpg
    return d


def check_outputs(out: Path, expected: dict[str, tuple[int, int]], ply: bool) -> None:
    for name, shape in expected.items():
        depth = read_depth_png16(out / f"{name}_depth.png")
        assert depth.shape == shape, name
        assert np.isfinite(depth).all() and (depth > 0).all() and (depth <= 10.0).all(), name
        with Image.open(out / f"{name}_color.png") as img:
            assert (img.mode, img.size[::-1]) == ("RGB", shape), name
        if ply:  # one vertex per pixel, but for flying pixels on depth edges
            header, _ = read_ply(out / f"{name}.ply")
            dropped = int(next(h for h in header if h.startswith("comment flying pixels dropped")).split()[4])
            assert f"element vertex {shape[0] * shape[1] - dropped}" in header, name
    made = {p.name for p in out.iterdir()}
    assert made == {f"{n}{s}" for n in expected for s in ("_depth.png", "_color.png", *((".ply",) if ply else ()))}


def test_predict_folder_in_process(photos, checkpoint, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", str(photos), "--checkpoint", str(checkpoint), "--out", str(out), "--ply",
                 "--device", "cpu", "--batch-size", "3", "--fp32"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = captured.out.strip().splitlines()[-1]
    assert summary.startswith("done 8 images, skipped 1 (") and "corrupt.jpg: unreadable image" in summary
    assert "notes.txt" not in captured.out + captured.err and ".hidden" not in captured.out + captured.err
    check_outputs(out, EXPECTED, ply=True)
    assert captured.out.strip().splitlines()[-2] == "inference: fp32"
    # batched prediction at the network size equals the library's one-image path (to the millimetre)
    model = load_model(checkpoint)
    for name, file in (("rotated", "rotated.jpg"), ("b", "b.PNG"), ("deep16", "deep16.png")):
        ref = predict_depth(model, read_image(photos / file), precision="fp32")
        assert np.abs(read_depth_png16(out / f"{name}_depth.png") - ref).max() <= 0.0005 + 1e-6


def test_predict_subprocess_matches_in_process(photos, checkpoint, tmp_path):
    """The installed entry point, a different batch size and flip TTA: same images, same names."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "zoedam_lib", "predict", str(photos), "--checkpoint",
                           str(checkpoint), "--out", str(out), "--flip-tta", "--batch-size", "1", "--device", "cpu"],
                          capture_output=True, text=True, env=SUBPROCESS_ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "done 8 images, skipped 1" in proc.stdout
    check_outputs(out, EXPECTED, ply=False)


def test_ply_intrinsics_assumed_given_or_from_exif_and_reported(checkpoint, tmp_path, capsys):
    random_photo(np.random.default_rng(3), 4, 6).save(tmp_path / "p.png")
    base = ["predict", str(tmp_path / "p.png"), "--checkpoint", str(checkpoint), "--ply", "--device", "cpu"]
    assert main([*base, "--out", str(tmp_path / "assumed")]) == 0
    report = capsys.readouterr().out
    header, _ = read_ply(tmp_path / "assumed" / "p.ply")
    line = next(h for h in header if h.startswith("comment intrinsics fx")).split()
    focal = 518.86 * 6 / 640  # NYU's field of view across the long side, one focal length
    assert [float(t) for t in line[3::2]] == pytest.approx([focal, focal, 2.5, 1.5])
    source = next(h for h in header if h.startswith("comment intrinsics assumed: "))
    assert "p.ply: " in report and f"{source[len('comment '):]} (fx = fy = {focal:.1f} px" in report

    assert main([*base, "--out", str(tmp_path / "given"), "--intrinsics", "10", "20", "0", "0", "--keep-edges"]) == 0
    assert "(flying pixels kept); intrinsics from --intrinsics (fx = 10.0 px, fy = 20.0 px" in capsys.readouterr().out
    header, verts = read_ply(tmp_path / "given" / "p.ply")
    assert "comment intrinsics from --intrinsics" in header and "comment flying pixels kept" in header
    depth = read_depth_png16(tmp_path / "given" / "p_depth.png")
    assert len(verts) == 24 and verts[0]["x"] == 0 and verts[0]["y"] == 0
    v = verts[3 * 6 + 5]  # pixel (u=5, v=3)
    assert np.isclose(v["x"], 5 * v["z"] / 10) and np.isclose(v["y"], 3 * v["z"] / 20)
    assert abs(v["z"] - depth[3, 5]) <= 0.0005 + 1e-6

    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA405] = 26  # FocalLengthIn35mmFilm
    random_photo(np.random.default_rng(4), 30, 40).save(tmp_path / "phone.jpg", exif=exif.tobytes())
    assert main(["predict", str(tmp_path / "phone.jpg"), "--checkpoint", str(checkpoint), "--ply", "--device", "cpu",
                 "--out", str(tmp_path / "exif")]) == 0
    assert "intrinsics from EXIF FocalLengthIn35mmFilm=26 mm (fx = fy = 30.0 px" in capsys.readouterr().out
    header, _ = read_ply(tmp_path / "exif" / "phone.ply")
    assert "comment intrinsics from EXIF FocalLengthIn35mmFilm=26 mm" in header


def test_focal_length_in_mm_is_a_clear_error(checkpoint, tmp_path, capsys):
    random_photo(np.random.default_rng(3), 30, 40).save(tmp_path / "p.png")
    code = main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(checkpoint), "--ply", "--device", "cpu",
                 "--out", str(tmp_path / "out"), "--intrinsics", "4.25", "4.25", "19.5", "14.5"])
    err = capsys.readouterr().err
    assert code == 2 and "error: --intrinsics for p.png: fx = 4.25 px gives a 156 deg field of view" in err
    assert "looks like millimetres" in err and "f_px = f_mm * width_px / sensor_width_mm" in err
    assert not (tmp_path / "out" / "p.ply").exists()


@pytest.mark.parametrize(("flags", "message"), [
    (["--edge-jump", "0"], "--edge-jump must be a positive fraction"),
    (["--keep-edges", "--edge-jump", "0.2"], "--keep-edges keeps every point, so --edge-jump would do nothing"),
])
def test_edge_options_that_cannot_work_are_refused_before_loading(flags, message, tmp_path, capsys):
    code = main(["predict", str(tmp_path), "--checkpoint", str(tmp_path / "absent"), "--out", str(tmp_path / "o"),
                 "--ply", *flags])
    assert code == 2 and message in capsys.readouterr().err


def test_output_folder_inside_input_folder_is_not_read_back(checkpoint, tmp_path, capsys):
    random_photo(np.random.default_rng(2), 8, 8).save(tmp_path / "p.jpg")
    args = ["predict", str(tmp_path), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "depth")]
    assert main(args) == 0 and main(args) == 0
    assert "done 1 images, skipped 0" in capsys.readouterr().out.strip().splitlines()[-1]
    assert sorted(p.name for p in (tmp_path / "depth").iterdir()) == ["p_color.png", "p_depth.png"]


def test_fast_flag_writes_depth_close_to_the_fp32_path(checkpoint, tmp_path):
    rng = np.random.default_rng(3)
    random_photo(rng, 30, 40).save(tmp_path / "p.png")
    for flag, out in (([], "fp32"), (["--fast"], "fast")):
        assert main(["predict", str(tmp_path / "p.png"), "--checkpoint", str(checkpoint), "--out",
                     str(tmp_path / out), "--device", "cpu", *flag]) == 0
    ref, fast = (read_depth_png16(tmp_path / d / "p_depth.png") for d in ("fp32", "fast"))
    assert fast.shape == ref.shape == (30, 40)
    assert np.mean(np.abs(fast - ref) / ref) < 0.05
