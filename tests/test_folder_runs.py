"""Folder datasets through the whole library: export from .mat (equivalence), splits, setup_run, the CLI, bench."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import tiny_zoedam

from zoedam_lib.bench.loader import measure_loader
from zoedam_lib.cli import main
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.folder.check import main as check_main
from zoedam_lib.data.folder.dataset import FolderDataset
from zoedam_lib.data.folder.export import export_folder
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.splits import load_or_create_split, paper_split
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.evaluation.evaluate import evaluate
from zoedam_lib.experiments.average import run_average
from zoedam_lib.experiments.context import resolve_preset, setup_run
from zoedam_lib.reports.data_summary import data_summary
from zoedam_lib.utils.errors import ConfigError, DataFileError

N, SIZE = 12, (30, 40)


@pytest.fixture(scope="module")
def rooms(tmp_path_factory) -> tuple[Path, Path]:
    """(SynthRooms .mat, the same items exported as a folder dataset named "rooms")."""
    base = tmp_path_factory.mktemp("rooms")
    mat = generate_synthrooms(base / "mat", n=N, size=SIZE, n_unlabeled=0, workers=1, progress=False)
    return mat, export_folder(mat, base / "rooms")


def test_export_matches_the_mat_file(rooms, one_thread) -> None:
    mat_path, folder = rooms
    spec = json.loads((folder / "dataset.json").read_text())
    assert spec["depth_unit"] == "mm" and spec["attrs"]["generator"] == "synthrooms" and len(spec["intrinsics"]) == 4
    with NyuMat(mat_path) as mat, FolderDataset(folder) as data:
        assert len(data) == len(mat) and (data.height, data.width) == (mat.height, mat.width)
        for i in range(N):
            (image_a, depth_a), (image_b, depth_b) = mat.read(i), data.read(i)
            assert np.array_equal(image_a, image_b)
            assert np.abs(depth_a - depth_b).max() <= 0.5e-3 + 1e-6  # the 16-bit millimetre quantisation
        model = tiny_zoedam()
        on_mat, on_folder = (evaluate(model, DepthDataset(d, range(N)), flip_tta=False, progress=False)
                             for d in (mat, data))
    for key, value in on_mat.metrics.items():
        assert on_folder.metrics[key] == pytest.approx(value, rel=1e-3), key


def test_split_of_a_folder_is_saved_and_checked(rooms, tmp_path: Path) -> None:
    folder = shutil.copytree(rooms[1], tmp_path / "rooms")
    split = load_or_create_split(folder, "paper", seed=1, split_dir=tmp_path / "splits")
    saved = json.loads((tmp_path / "splits" / "rooms_paper_seed1.json").read_text())
    assert split == paper_split(N, seed=1) and saved["fingerprint"] == FolderDataset(folder).fingerprint
    assert load_or_create_split(folder, "paper", seed=1, split_dir=tmp_path / "splits") == split
    for sub in ("images", "depth"):  # same count, other files: the saved indices no longer mean the same
        (folder / sub / "00003.png").rename(folder / sub / "99999.png")
    with pytest.raises(DataFileError, match=r"rooms_paper_seed1.json was made for other files \(fingerprint"):
        load_or_create_split(folder, "paper", seed=1, split_dir=tmp_path / "splits")
    with pytest.raises(ConfigError, match="use split='paper' .* for a folder dataset"):
        load_or_create_split(folder, "official", seed=1, split_dir=tmp_path / "splits")


def test_setup_run_summary_and_average_baseline_on_a_folder(rooms, tmp_path: Path, capsys) -> None:
    ctx = setup_run(rooms[1], out_dir=tmp_path / "run", device="cpu")
    label = f"folder rooms ({N} images, {SIZE[0]}x{SIZE[1]}, depth mm)"
    assert ctx.data_kind == "folder" and ctx.data_label == label and ctx.preset == "cpu"
    assert resolve_preset("auto", torch.device("cuda"), "folder") == "paper"  # your data on a GPU: the paper recipe
    assert capsys.readouterr().out.startswith(f"data: {label} | split: paper (")
    assert isinstance(ctx.open_data(), FolderDataset)
    assert data_summary(ctx)["height"] == SIZE[0]
    result = run_average(ctx, n_images=4)
    assert result.evaluation.n_images == len(ctx.split.test) and 0 < result.evaluation.metrics["abs_rel"] < 1


def test_cli_synth_folder_train_and_eval(tmp_path: Path, one_thread, capsys) -> None:
    data, out = tmp_path / "synth", tmp_path / "out"
    assert main(["synth", "--out", str(data), "--n", "12", "--size", "30x40", "--n-unlabeled", "0",
                 "--workers", "1", "--format", "folder"]) == 0
    assert not (data / "synthrooms.mat").exists() and len(list((data / "depth").glob("*.png"))) == 12
    assert main(["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(data), "--out", str(out),
                 "--preset", "cpu", "--device", "cpu", "--epochs", "1", "--batch-size", "2", "--img-size", "28x42",
                 "--n-train", "4", "--n-val", "2"]) == 0
    record = json.loads((out / "results" / "zoedam_vitt.json").read_text())
    assert record["data_kind"] == "folder" and record["data"].startswith("folder synth (12 images, 30x40")
    assert main(["eval", "--checkpoint", str(out / "checkpoints" / "zoedam_vitt"), "--data", str(data),
                 "--depth-unit", "mm", "--out", str(out), "--device", "cpu", "--no-flip-tta", "--name", "again"]) == 0
    again = json.loads((out / "results" / "again.json").read_text())
    assert again["n_test"] == record["n_test"] and np.isfinite(again["metrics"]["abs_rel"])
    capsys.readouterr()
    metres = generate_synthrooms(tmp_path / "m", n=6, size=(30, 40), n_unlabeled=0, workers=1, progress=False)
    assert main(["eval", "--checkpoint", "x", "--data", str(metres), "--depth-unit", "kitti"]) == 2  # a .mat takes
    assert "wrong depth unit?" in capsys.readouterr().err  # a unit too (metres read as 1/256 m: under 2 cm)


def test_check_command_and_loader_bench_on_a_folder(rooms, tmp_path: Path, capsys) -> None:
    report = tmp_path / "report.json"
    assert check_main([str(rooms[1]), "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert f"pairs: {N} usable, 0 skipped" in out and f"intrinsics: {N} of {N} items" in out
    assert json.loads(report.read_text())["sizes"] == {f"{SIZE[0]}x{SIZE[1]}": N}
    assert check_main([str(rooms[1]), "--depth-unit", "kitti"]) == 2  # millimetres read as 1/256 m: 3.9x too deep
    assert "12.42 m read as kitti (unit from arguments), beyond max_depth 10 m" in capsys.readouterr().err
    assert check_main([str(tmp_path)]) == 2 and "is a directory without a folder dataset" in capsys.readouterr().err
    bench = measure_loader(rooms[1], n_items=4)
    assert bench["n_items"] == 4 and bench["images_per_s"] > 0 and bench["peak_rss_mb"] > 0
