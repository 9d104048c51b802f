"""The notebooks as a product: parameters cells papermill can drive, thin cells, committed outputs.

nbval (``pytest --nbval-lax notebooks``) re-executes every notebook; these tests check what it
does not: the parameters contract and that papermill can override it.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
REQUIRED = {"data_path", "split", "seed", "out_dir", "device", "preset"}


def test_the_six_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == ["01_data", "02_average_baseline", "03_densedepth", "04_zoedam",
                                           "05_zoedam_plus", "06_results"]


def _parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    return cells[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_is_flat_literals_with_comments(path):
    nb = nbformat.read(path, as_version=4)
    source = _parameters_cell(nb).source
    names = set()
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, ast.dump(node)
        ast.literal_eval(node.value)  # flat literals only
        names.add(node.targets[0].id)
    assert names >= REQUIRED, REQUIRED - names
    for line in source.splitlines():
        if "=" in line:
            assert "#" in line, f"parameter without a comment of its choices: {line}"
    params = papermill.inspect_notebook(str(path))
    assert all(p["help"] for p in params.values())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_thin_and_uses_the_library(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert any("zoedam_lib" in c.source for c in code)
    for c in code:
        if "parameters" in c.metadata.get("tags", []):
            continue  # a flat list of literals, checked above
        logic = [ln for ln in c.source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        assert len(logic) <= 15, f"a {len(logic)}-line cell belongs in zoedam_lib:\n{c.source}"
    assert any(c.cell_type == "markdown" for c in nb.cells)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_with_outputs_of_the_default_run(path):
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type == "code" and "NBVAL_SKIP" not in c.source:
            assert c.execution_count is not None, f"cell not executed in the committed notebook:\n{c.source[:200]}"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"the committed default run raised: {errors}"
    # An exception caught and printed (e.g. by a worker) still leaves its traceback in a stream.
    assert "Traceback (most recent call last)" not in json.dumps(outputs)


@pytest.mark.slow
def test_papermill_overrides_parameters(tmp_path):
    from zoedam_lib.data.synthrooms import generate_synthrooms

    data = generate_synthrooms(tmp_path / "data", n=24, size=(60, 80), n_unlabeled=0, workers=1, progress=False)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks/04_zoedam.ipynb"), str(out), kernel_name="python3",
                               progress_bar=False, cwd=str(ROOT),
                               parameters={"data_path": str(data), "out_dir": str(tmp_path / "run"),
                                           "backbone": "vitt", "epochs": 1, "batch_size": 2})
    record = json.loads((tmp_path / "run/results/zoedam_vitt.json").read_text())
    assert record["model"] == "zoedam_vitt" and record["recipe"]["train"]["epochs"] == 1
    assert "SynthRooms (24 images" in record["data"]
