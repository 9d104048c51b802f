"""The notebooks as a product: parameters cells papermill can drive, thin cells, committed outputs.

nbval (``pytest --nbval-lax notebooks``) re-executes every notebook; these tests check what it
does not: the parameters contract and that papermill can override it.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import papermill
import pytest
from helpers import render_small_synthrooms

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
REQUIRED = {"data_path", "split", "seed", "out_dir", "device", "preset"}
RUN_HEADER = re.compile(r"^── .+ ──$", re.MULTILINE)
MAX_STREAM_LINES = 12  # stdout + stderr lines a committed code cell may hold (training: one line per epoch)
ABSOLUTE_PATH = re.compile(r"/work/|/home/|/root/|/tmp/|/Users/|/content/|\b[A-Z]:\\")  # one machine's folders
DATA_WORDS = ("SynthRooms", "NYU", "folder")  # what RunContext.note() names first: the data


def test_the_seven_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == ["01_data", "02_average_baseline", "03_densedepth", "04_zoedam",
                                           "05_zoedam_plus", "06_results", "07_cameras"]


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


def small_domains(folder: Path) -> None:
    """The zero-shot sets and the camera head's lenses rooms beside a test's data, small: a notebook renders a
    missing one at its full size (1,500 lenses rooms, 200 per set), minutes of a test spent on rendering."""
    from zoedam_lib.experiments.camera import HEAD_HOLDOUT

    render_small_synthrooms(folder, {"zeroshot_shifted": 4, "zeroshot_wide": 4, "zeroshot_tele": 4,
                                     "zeroshot_mixed": 4, "lenses": HEAD_HOLDOUT + 8}, size=(60, 80))


@pytest.mark.slow
def test_papermill_overrides_parameters(tmp_path):
    from zoedam_lib.data.synthrooms.generate import generate_synthrooms

    data = generate_synthrooms(tmp_path / "data", n=24, size=(60, 80), n_unlabeled=0, workers=1, progress=False)
    small_domains(data.parent)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(ROOT / "notebooks/04_zoedam.ipynb"), str(out), kernel_name="python3",
                               progress_bar=False, cwd=str(ROOT),
                               parameters={"data_path": str(data), "out_dir": str(tmp_path / "run"),
                                           "backbone": "vitt", "epochs": 1, "batch_size": 2})
    record = json.loads((tmp_path / "run/results/zoedam_vitt.json").read_text())
    assert record["model"] == "zoedam_vitt" and record["recipe"]["train"]["epochs"] == 1
    assert "SynthRooms (24 images" in record["data"]


@pytest.mark.slow
def test_notebook_04_on_a_folder_dataset_matches_the_mat_of_the_same_images(tmp_path):
    """Your own RGB-D folder runs through the notebook exactly as NYU's layout does: the same images as a
    .mat and as a folder (16-bit millimetre PNGs) give the same ZoeDAM metrics, to the PNGs' 0.5 mm rounding."""
    from zoedam_lib.data.folder.export import export_folder
    from zoedam_lib.data.synthrooms.generate import generate_synthrooms

    mat = generate_synthrooms(tmp_path / "data", n=24, size=(60, 80), n_unlabeled=0, workers=1, progress=False)
    small_domains(mat.parent)
    folder = export_folder(mat, tmp_path / "folder")
    small_domains(folder.parent)
    records = {}
    for kind, data_path in (("mat", mat), ("folder", folder)):
        papermill.execute_notebook(str(ROOT / "notebooks/04_zoedam.ipynb"), str(tmp_path / f"{kind}.ipynb"),
                                   kernel_name="python3", progress_bar=False, cwd=str(ROOT),
                                   parameters={"data_path": str(data_path), "out_dir": str(tmp_path / kind),
                                               "backbone": "vitt", "epochs": 1, "batch_size": 2,
                                               "compare_random": False, "ablation_epochs": 0})
        records[kind] = json.loads((tmp_path / kind / "results/zoedam_vitt.json").read_text())
    assert records["folder"]["data_kind"] == "folder" and records["mat"]["data_kind"] == "synthrooms"
    assert records["folder"]["n_test"] == records["mat"]["n_test"]
    for key, value in records["mat"]["metrics"].items():
        assert records["folder"]["metrics"][key] == pytest.approx(value, rel=2e-3, abs=1e-4), key


def output_problems(nb) -> list[str]:
    """What makes a committed notebook's outputs unfit to read or to copy figures from (see the test below)."""
    problems = []
    for number, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {number} ({cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ''!r})"
        outputs = cell.get("outputs", [])
        stream = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
        # runs side by side (experiments.concurrent) print one section each, headed "── name ──": the limit is per run
        lines = max(len(part.strip("\n").splitlines()) for part in RUN_HEADER.split(stream))
        if lines > MAX_STREAM_LINES:
            problems.append(f"{where}: {lines} lines of stream output in one run (at most {MAX_STREAM_LINES}: "
                            "progress bars?)")
        texts = [o.get("text", "") for o in outputs if o.get("output_type") == "stream"]
        texts += [v if isinstance(v, str) else "".join(v) for o in outputs for k, v in o.get("data", {}).items()
                  if k.startswith("text/")]
        texts += ["\n".join(o.get("traceback", [])) for o in outputs if o.get("output_type") == "error"]
        for text in texts:
            if found := ABSOLUTE_PATH.search(text):
                shown = text[max(0, found.start() - 30):][:90]
                problems.append(f"{where}: an absolute path in an output: ...{shown!r}")
            if "TqdmWarning" in text:
                problems.append(f"{where}: a TqdmWarning in an output")
        for o in outputs:
            if "image/png" in o.get("data", {}):
                note = o.get("metadata", {}).get("zoedam", {}).get("note", "")
                if "preset" not in note or not any(w in note for w in DATA_WORDS):
                    problems.append(f"{where}: a figure without the zoedam note naming data and preset "
                                    f"(display it with zoedam_lib.viz.show); metadata {o.get('metadata')}")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_short_portable_and_every_figure_names_its_data(path):
    """Committed outputs hold at most a few stream lines per cell, no machine's absolute paths, no TqdmWarning,
    and every image carries ``{"zoedam": {"note": ...}}`` metadata naming the data and the preset.

    The notebooks committed before issue 13 fail this (a training cell held hundreds of tqdm redraws,
    prints named /work/main/..., figures had no note): they pass once re-executed with this library,
    whose bars stay silent in a kernel (``progress.py``), whose prints use ``paths.display_path`` and
    whose figures are shown with ``viz.show``.
    """
    problems = output_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{len(problems)} problems, e.g.:\n" + "\n".join(problems[:8])


def test_output_problems_accepts_a_clean_notebook_and_names_each_fault():
    note = {"zoedam": {"note": "SynthRooms (600 images, 240x320, seed 0) · preset cpu"}}
    clean = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("train()", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="epoch=1 loss=0.5\nwrote runs/demo/results/a.json\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure>"}, metadata=note)])])
    assert output_problems(clean) == []
    dirty = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("train()", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="epoch 1:  5%|▌ | 3/54\n" * 13),
        nbformat.v4.new_output("stream", name="stdout", text="wrote /work/main/runs/demo/results/a.json\n"),
        nbformat.v4.new_output("stream", name="stderr", text="TqdmWarning: IProgress not found\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR"}, metadata={"zoedam": {"note": "x"}})])])
    problems = output_problems(dirty)
    assert len(problems) == 4
    assert [k in p for k, p in zip(("lines of stream", "absolute path", "TqdmWarning", "zoedam note"),
                                   problems, strict=True)] == [True] * 4
    epochs = "".join(f"epoch={i} loss=0.5\n" for i in range(10))
    side_by_side = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("run_concurrently(calls)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=f"── a ──\n{epochs}── b ──\n{epochs}")])])
    assert output_problems(side_by_side) == []  # two runs of 10 lines each: the limit holds per run
    spam = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("run_concurrently(calls)", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text=f"── a ──\n{epochs}── b ──\n{epochs * 2}")])])
    assert "20 lines of stream output in one run" in output_problems(spam)[0]
