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


NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("0*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_refuses_a_bad_parameter_in_the_cell_after_parameters(path):
    """Issue 27 item 7: ``papermill -p backbone vitx`` (``-p split random`` where a notebook has no backbone) failed
    only at the training cell, after the data were opened and the runs started. Each notebook's cells up to
    ``parameters`` run, then papermill's injected value, then the cell after ``parameters``: it raises the
    ``ConfigError`` naming the value and what it may be before its first ``setup_run`` (here a stand-in that fails
    the test if reached)."""
    import ast

    import nbformat

    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    namespace: dict[str, object] = {}
    for cell in nb.cells[:at]:
        if cell.cell_type == "code":
            try:
                ast.parse(cell.source)
            except SyntaxError:  # the Colab setup cell's %pip magic: nothing to check there
                continue
            exec(compile(cell.source, f"{path.name} cell", "exec"), namespace)
    exec(nb.cells[at].source, namespace)
    bad = ("backbone", "vitx") if "backbone" in namespace else ("split", "random")
    namespace[bad[0]] = bad[1]  # as papermill injects -p backbone vitx

    def data_opened(*args, **kwargs):
        raise AssertionError(f"{path.name}: the data were opened before the parameters were checked")
    namespace["setup_run"] = data_opened
    with pytest.raises(ConfigError, match=rf"{bad[0]} = '{bad[1]}': expected "):
        exec(nb.cells[at + 1].source, namespace)
