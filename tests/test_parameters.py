"""Notebook parameters: checked by one function right after papermill injects them, with every bad value named."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import nbformat
import papermill
import pytest

from zoedam_lib.experiments.parameters import RULES, check_parameters
from zoedam_lib.utils.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
CHECKED = ("01_data", "02_average_baseline", "03_densedepth", "05_zoedam_plus")  # 04, 06, 07 join when they call it


def parameters(path: Path) -> dict[str, object]:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_parameters_cell_parses_under_papermill_without_a_warning(path, caplog):
    """papermill reads a line with a second "=" (in its comment) as unparseable and warns at every run."""
    with caplog.at_level(logging.WARNING, logger="papermill"):
        found = papermill.inspect_notebook(str(path))
    assert not [r.getMessage() for r in caplog.records if "parse" in r.getMessage()]
    assert set(found) == set(parameters(path))


@pytest.mark.parametrize("stem", CHECKED)
def test_the_cell_after_parameters_checks_them_and_the_defaults_pass(stem):
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    nb = nbformat.read(path, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    assert nb.cells[at + 1].source.startswith("check_parameters(globals()"), nb.cells[at + 1].source
    defaults = parameters(path)
    assert set(defaults) <= set(RULES), f"parameters without a rule in experiments/parameters.py: " \
                                        f"{sorted(set(defaults) - set(RULES))}"
    own = {"pretrained": ("imagenet", None)} if stem == "03_densedepth" else {}
    check_parameters(defaults, **own)


def test_every_parameter_of_the_course_has_a_rule_that_accepts_its_default():
    for path in NOTEBOOKS:
        known = {k: v for k, v in parameters(path).items() if k in RULES and k != "pretrained"}
        check_parameters(known)


def test_bad_values_are_all_named_with_what_they_may_be():
    with pytest.raises(ConfigError) as err:
        check_parameters({"backbone": "vitx", "seed": -1, "epochs": 0, "split": "paper", "resume": "yes"})
    text = str(err.value)
    assert "backbone = 'vitx': expected 'vits' | 'vitb' | 'vitl' | 'vitt'" in text
    assert "seed = -1" in text and "epochs = 0" in text and "resume = 'yes'" in text and "split" not in text


def test_a_notebook_narrows_a_shared_name_and_unknown_names_are_left_alone():
    with pytest.raises(ConfigError, match="pretrained = 'imagnet'"):
        check_parameters({"pretrained": "imagnet"}, pretrained=("imagenet", None))
    check_parameters({"pretrained": None, "In": [], "np": object()}, pretrained=("imagenet", None))
    check_parameters({"unlabeled_dirs": ["a", "b"], "device": "cuda:1", "lr": 1e-4, "epochs": None})


@pytest.mark.slow
def test_papermill_stops_a_bad_parameter_before_the_data_are_opened(tmp_path):
    out = tmp_path / "out.ipynb"
    with pytest.raises(papermill.PapermillExecutionError, match="ConfigError"):
        papermill.execute_notebook(str(ROOT / "notebooks/02_average_baseline.ipynb"), str(out), kernel_name="python3",
                                   progress_bar=False, cwd=str(ROOT),
                                   parameters={"split": "random", "data_path": str(tmp_path / "none.mat"),
                                               "out_dir": str(tmp_path / "run")})
    assert not (tmp_path / "run").exists() and not (tmp_path / "none.mat").exists()
