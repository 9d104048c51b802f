"""Splits: the paper's seeded 400/1049 split, NYU's official split, and their JSON persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.splits import Split, load_or_create_split, official_split, paper_split, with_validation
from zoedam_lib.utils.errors import ConfigError, DataFileError


def write_data(path: Path, n: int) -> Path:
    with NyuMatWriter(path, n, 2, 3) as w:
        for i in range(n):
            w.write(i, np.full((2, 3, 3), i, np.uint8), np.full((2, 3), 1.0 + i % 8, np.float32))  # metres
    return path


def write_splits_mat(path: Path, train_1based: list[int], test_1based: list[int]) -> Path:
    """Column vectors of 1-based indices, as in NYU's splits.mat."""
    scipy.io.savemat(path, {"trainNdxs": np.array(train_1based, float)[:, None],
                            "testNdxs": np.array(test_1based, float)[:, None]})
    return path


def test_paper_split_of_nyu() -> None:
    split = paper_split(1449, seed=0)
    assert (len(split.test), len(split.train)) == (400, 1049)
    assert set(split.train).isdisjoint(split.test)
    assert sorted(split.train + split.test) == list(range(1449))
    assert list(split.test) == sorted(split.test) and list(split.train) == sorted(split.train)
    expected_test = sorted(np.random.default_rng(0).permutation(1449)[:400].tolist())
    assert list(split.test) == expected_test
    assert paper_split(1449, seed=0) == split
    assert paper_split(1449, seed=1).test != split.test
    assert split.name == "paper_seed0"


@pytest.mark.parametrize(("n", "n_test"), [(600, 166), (1449, 400), (10, 3), (2, 1), (3, 1)])
def test_paper_split_ratio(n: int, n_test: int) -> None:
    split = paper_split(n, seed=3)
    assert len(split.test) == n_test and len(split.train) == n - n_test


def test_paper_split_needs_two_items() -> None:
    with pytest.raises(ConfigError, match="at least 2"):
        paper_split(1)


def test_split_json_round_trip() -> None:
    split = paper_split(20, seed=5)
    assert Split.from_json(json.loads(json.dumps(split.to_json()))) == split
    with pytest.raises(ConfigError, match="share indices"):
        Split("bad", train=(0, 1), test=(1, 2))


def test_official_split_is_zero_based(tmp_path: Path) -> None:
    path = write_splits_mat(tmp_path / "splits.mat", [1, 3, 4, 6], [2, 5])
    split = official_split(path, n=6)
    assert split.train == (0, 2, 3, 5) and split.test == (1, 4) and split.name == "official"


def test_official_split_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"not found.*indoor_seg_sup/splits\.mat.*next to the labeled"):
        official_split(tmp_path / "splits.mat", n=1449)
    path = write_splits_mat(tmp_path / "splits.mat", [1, 2, 3], [4, 7])
    with pytest.raises(DataFileError, match="indices from 1 to 7.*has 6 items"):
        official_split(path, n=6)
    scipy.io.savemat(tmp_path / "other.mat", {"train": np.arange(3)})
    with pytest.raises(DataFileError, match=r"lacks \['trainNdxs', 'testNdxs'\].*Found: \['train'\]"):
        official_split(tmp_path / "other.mat", n=6)
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 20)
    with pytest.raises(DataFileError, match="not a readable .mat"):
        official_split(tmp_path / "junk.mat", n=6)


def test_split_is_saved_and_reused(tmp_path: Path) -> None:
    data = write_data(tmp_path / "rooms.mat", 30)
    split_dir = tmp_path / "splits"
    split = load_or_create_split(data, "paper", seed=2, split_dir=split_dir)
    assert split == with_validation(paper_split(30, seed=2), seed=2)
    saved = split_dir / "rooms_paper_seed2.json"
    obj = json.loads(saved.read_text())
    assert (obj["n"], obj["data_file"], obj["seed"], obj["kind"]) == (30, "rooms.mat", 2, "paper")
    obj["test"], obj["train"] = obj["test"][:-1], obj["train"] + obj["test"][-1:]
    saved.write_text(json.dumps(obj))  # an edited split must be read back, not recomputed
    again = load_or_create_split(data, "paper", seed=2, split_dir=split_dir)
    assert len(again.test) == len(split.test) - 1
    assert load_or_create_split(data, "paper", seed=3, split_dir=split_dir) == with_validation(paper_split(30, 3), 3)


def test_validation_is_carved_from_training_images_seeded_and_saved(tmp_path: Path) -> None:
    base = paper_split(1449, seed=0)
    split = with_validation(base, seed=0)
    assert len(split.val) == round(0.1 * len(base.train)) == 105
    assert set(split.val) | set(split.train) == set(base.train) and split.test == base.test
    assert not set(split.val) & set(split.train)
    assert with_validation(base, seed=0) == split and with_validation(base, seed=1).val != split.val
    data = write_data(tmp_path / "rooms.mat", 40)
    made = load_or_create_split(data, "paper", seed=0, split_dir=tmp_path)
    saved = json.loads((tmp_path / "rooms_paper_seed0.json").read_text())
    assert saved["val"] == list(made.val) and len(made.val) == 3
    # a split saved before validation sets existed gets the same validation set when read back
    del saved["val"]
    saved["train"] = sorted(saved["train"] + list(made.val))
    (tmp_path / "rooms_paper_seed0.json").write_text(json.dumps(saved))
    assert load_or_create_split(data, "paper", seed=0, split_dir=tmp_path) == made


def test_a_split_cannot_share_validation_and_test_images() -> None:
    with pytest.raises(ConfigError, match="share indices"):
        Split("x", train=(0, 1), test=(2,), val=(2,))


def test_saved_split_must_match_the_data(tmp_path: Path) -> None:
    data = write_data(tmp_path / "rooms.mat", 10)
    load_or_create_split(data, "paper", seed=0, split_dir=tmp_path)
    write_data(data, 12)
    with pytest.raises(DataFileError, match=r"rooms_paper_seed0\.json was made for 10 items.*has 12; delete"):
        load_or_create_split(data, "paper", seed=0, split_dir=tmp_path)
    (tmp_path / "rooms_paper_seed0.json").write_text("{broken")
    with pytest.raises(DataFileError, match="unreadable.*delete it"):
        load_or_create_split(data, "paper", seed=0, split_dir=tmp_path)


def test_official_split_via_load_or_create(tmp_path: Path) -> None:
    data = write_data(tmp_path / "nyu.mat", 6)
    write_splits_mat(tmp_path / "splits.mat", [1, 2, 3, 4], [5, 6])
    split = load_or_create_split(data, "official", seed=0, split_dir=tmp_path / "s")
    assert split.train == (0, 1, 2, 3) and split.test == (4, 5)
    assert (tmp_path / "s" / "nyu_official_seed0.json").is_file()
