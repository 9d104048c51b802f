"""Parameters out of range: counts of images or steps that are 0 or negative, seeds numpy or torch cannot take.
Each is refused with the valid range before anything is trained (was: 0 silently meant "all" or "no cap",
negatives sliced from the end and were recorded as such in the results, seeds failed deep in numpy)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from zoedam_lib.cli import main
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.experiments.average import run_average
from zoedam_lib.utils.errors import ConfigError


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=24, size=(60, 80), n_unlabeled=0, workers=1,
                               progress=False)


@pytest.mark.parametrize(("args", "message"), [
    (["--n-train", "0"], "error: n_train must be a number of images >= 1, or None for all of them; got 0"),
    (["--n-train", "-3"], "error: n_train must be a number of images >= 1, or None for all of them; got -3"),
    (["--n-val", "-2"], "error: n_val must be a number of images >= 1, or None for all of them; got -2"),
    (["--max-steps-per-epoch", "-1"], "error: invalid training settings: max_steps_per_epoch=-1"),
    (["--max-steps-per-epoch", "0"], "error: invalid training settings: max_steps_per_epoch=0"),
    (["--seed", "-1"], "error: seed must be an integer from 0 to 4294967295 (2**32 - 1), got -1"),
    (["--seed", str(2**70)], f"error: seed must be an integer from 0 to 4294967295 (2**32 - 1), got {2**70}"),
], ids=["n-train-0", "n-train-negative", "n-val-negative", "max-steps-negative", "max-steps-0", "seed-negative",
        "seed-huge"])
def test_cli_counts_and_seeds_out_of_range_exit_2(args, message, tiny_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(["train", "--data", str(tiny_data), "--out", str(tmp_path / "run"), "--preset", "cpu",
                 "--backbone", "vitt", "--epochs", "1", *args])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().splitlines()[-1].startswith(message) and "Traceback" not in err
    assert not (tmp_path / "run" / "runs").exists() and not (tmp_path / "run" / "results").exists()


@pytest.mark.parametrize("n_images", [-5, 0, 2.5])
def test_average_baseline_refuses_a_count_below_one(n_images):
    """Notebook 02 with ``-p n_images -5``: the parameter is refused before any data is read."""
    with pytest.raises(ConfigError, match=r"n_images must be a number of training depth maps >= 1 \(the paper: "
                                          rf"400\), got {n_images}"):
        run_average(SimpleNamespace(), n_images=n_images)
