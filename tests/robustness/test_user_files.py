"""User files: what a user made or what is committed is never replaced by a test run or a benchmark.

``make test`` runs the notebooks, whose committed ``out_dir`` is ``runs/demo``: the root ``conftest.py``
points nbval's runs at a temporary folder and fails a session that changed ``runs/demo`` anyway (checked
on a two-cell notebook in a project of its own, through a real pytest + nbval session). ``bench`` writes
under its run folder; ``docs/benchmarks.*`` only with ``--update-docs``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import folder_files

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, work: str) -> Path:
    """A folder with a user's ``runs/demo/results/a.json`` and a notebook whose second cell runs ``work``."""
    demo = tmp_path / "runs" / "demo" / "results"
    demo.mkdir(parents=True)
    (demo / "a.json").write_text('{"abs_rel": 0.156}\n')
    params = nbformat.v4.new_code_cell('out_dir = "runs/demo"  # where results go', metadata={"tags": ["parameters"]})
    nb = nbformat.v4.new_notebook(cells=[params, nbformat.v4.new_code_cell(work)])
    nbformat.write(nb, tmp_path / "nb.ipynb")
    return tmp_path


def _pytest(folder: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-current-env", "nb.ipynb"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_notebook_under_nbval_writes_into_its_own_folder_not_runs_demo(tmp_path):
    """The notebook writes ``<out_dir>/results/a.json``: under the test run that is a temporary folder, and the
    user's ``runs/demo`` stays byte-identical (without the plugin, its a.json became the test's)."""
    work = ("from pathlib import Path\nout = Path(out_dir) / 'results'\nout.mkdir(parents=True, exist_ok=True)\n"
            "(out / 'a.json').write_text('the test run')\nassert Path(out_dir).is_absolute(), out_dir")
    project = _project(tmp_path, work)
    before = folder_files(project / "runs")
    run = _pytest(project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert folder_files(project / "runs") == before


@pytest.mark.slow
def test_a_session_that_changes_runs_demo_fails_naming_the_file(tmp_path):
    """A cell that writes into runs/demo by itself (bypassing out_dir) passes as a cell, but the session fails
    and says which file of runs/demo it touched."""
    work = "from pathlib import Path\nPath('runs/demo/results/b.json').write_text('oops')"
    run = _pytest(_project(tmp_path, work))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "changed 1 file(s) of" in run.stdout and "results/b.json: added" in run.stdout


def _fake_bench(monkeypatch):
    """``bench`` without its cases (they take minutes): figures and table stand-ins that say which run made them."""
    monkeypatch.setattr("zoedam_lib.cli.bench.collect", lambda quick, vitb, official=None: {"quick": quick})
    monkeypatch.setattr("zoedam_lib.cli.bench.markdown", lambda out, command: f"# Benchmarks\n\n{command}\n")


def _docs(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in ("docs/benchmarks.md", "docs/benchmarks.json")}


def test_bench_writes_under_its_run_folder_and_leaves_docs_alone(tmp_path, monkeypatch, capsys):
    """``bench --quick`` used to rewrite the committed docs/benchmarks.md and .json with its quick table: now it
    prints the table and writes ``<out>/benchmarks.*``; the checkout's docs/ stay byte-identical."""
    from zoedam_lib.cli import main

    _fake_bench(monkeypatch)
    before = _docs(ROOT)
    assert main(["bench", "--quick", "--out", str(tmp_path / "b")]) == 0
    assert _docs(ROOT) == before
    assert "python -m zoedam_lib bench --quick" in (tmp_path / "b" / "benchmarks.md").read_text()
    assert json.loads((tmp_path / "b" / "benchmarks.json").read_text()) == {"quick": True}
    assert "wrote " in capsys.readouterr().out


def test_bench_updates_docs_only_when_asked_and_never_from_a_quick_run(tmp_path, monkeypatch, capsys):
    """``--update-docs --quick``: exit 2 before any case runs, docs untouched; ``--update-docs`` (full run) writes
    the checkout's docs/benchmarks.* too (here into a copy of the checkout's layout)."""
    from zoedam_lib.cli import bench as bench_cli
    from zoedam_lib.cli import main

    _fake_bench(monkeypatch)
    before = _docs(ROOT)
    assert main(["bench", "--quick", "--update-docs", "--out", str(tmp_path / "b")]) == 2
    assert "would replace the recorded full benchmark in docs/" in capsys.readouterr().err
    assert _docs(ROOT) == before and not (tmp_path / "b" / "benchmarks.md").exists()
    checkout = tmp_path / "checkout"
    (checkout / "docs").mkdir(parents=True)
    monkeypatch.setattr(bench_cli, "project_root", lambda start: checkout)
    assert main(["bench", "--update-docs", "--out", str(tmp_path / "b")]) == 0
    assert json.loads((checkout / "docs" / "benchmarks.json").read_text()) == {"quick": False}
    assert (checkout / "docs" / "benchmarks.md").read_text() == (tmp_path / "b" / "benchmarks.md").read_text()
