"""pytest for the whole checkout: the notebooks run into a folder of their own, never into a user's
``runs/demo``, and as a run-through (the ``smoke`` preset), not as the course's default run.

``make test`` runs the seven notebooks under nbval with their committed parameters, whose ``out_dir``
is ``runs/demo``: the folder ``make demo`` fills with checkpoints, results JSONs and ``results.md``.
A test run must not replace those (its numbers differ). nbval cannot pass parameters as papermill
does, so this plugin does what papermill's injected cell does: the ``parameters`` cell of every
notebook ends with ``out_dir = <one temporary folder>``, shared by the session's notebooks (05
reads 04's teacher, 06 everyone's results) and removed at the end. As a check, it records every
file of the project's ``runs/demo`` (size, mtime, inode) before the session and fails the session,
naming the files, when any was added, removed or rewritten by the end.

The same cell also gets ``preset = "smoke"`` (``experiments.presets``: the cpu recipe on 64 training
images for one epoch) and ``data_path`` of a small SynthRooms rendered for the session (120 labeled
rooms, 24 per zero-shot set, the camera head's 150 held-out lenses rooms and 40 more). The notebooks'
default run is ``make demo``'s, about 25 min on 2 cores; under nbval, one after the other and beside
the unit tests, it would not fit CI's budget, and most of it is evaluation over 1,400 images per
camera-aware model, which a smaller preset alone does not shorten. The run-through executes every
cell and code path with the default image and network sizes, so a broken cell still fails; the
committed outputs (and every number the course reports) are ``make demo``'s; only 04's parameter-count
table, which depends on neither data nor preset, is compared with its committed output. Set
``ZOEDAM_NOTEBOOK_PRESET=auto`` to run the notebooks' own defaults instead.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

GUARDED = Path("runs") / "demo"  # under the rootdir: make demo's outputs
_state: dict[str, object] = {}
PRESET = os.environ.get("ZOEDAM_NOTEBOOK_PRESET", "smoke")  # the preset the notebooks run under nbval
SMOKE_SETS = {"zeroshot_shifted": 24, "zeroshot_wide": 24, "zeroshot_tele": 24, "zeroshot_mixed": 24}


def smoke_data(folder: Path) -> Path:
    """A small SynthRooms in ``folder`` (same renderer, first rooms of each domain's stream): its labeled file."""
    from zoedam_lib.experiments.camera import HEAD_HOLDOUT

    return helpers_module().render_small_synthrooms(folder, {**SMOKE_SETS, "lenses": HEAD_HOLDOUT + 40},
                                                  labeled={"n": 120, "n_unlabeled": 60})


def helpers_module() -> ModuleType:
    """``tests/helpers.py`` as the unit tests import it (``helpers``), also when ``tests/`` is not on sys.path
    (``pytest notebooks`` puts only the rootdir there): one module object either way, sys.path untouched."""
    path = Path(__file__).resolve().parent / "tests" / "helpers.py"
    module = sys.modules.get("helpers")
    if module is not None and Path(getattr(module, "__file__", "")).resolve() == path:
        return module
    spec = importlib.util.spec_from_file_location("helpers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["helpers"] = module
    spec.loader.exec_module(module)
    return module


def run_folder_manifest(folder: Path) -> dict[str, tuple[int, int, int]]:
    """relative path → (size, mtime_ns, inode) of every file under ``folder``: any write changes a row
    (an atomic replace brings a new inode), and it costs one ``stat`` per file, not a read."""
    manifest = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
        st = path.lstat()
        if not path.is_dir():
            manifest[str(path.relative_to(folder))] = (st.st_size, st.st_mtime_ns, st.st_ino)
    return manifest


def pytest_sessionstart(session: pytest.Session) -> None:
    guarded = session.config.rootpath / GUARDED
    _state["guarded"], _state["before"] = guarded, run_folder_manifest(guarded)


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list) -> None:
    """Append ``out_dir = <session folder>`` and ``preset = PRESET`` to each collected notebook's
    ``parameters`` cell (in memory: the .ipynb files are not touched)."""
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or "parameters" not in cell.get("metadata", {}).get("tags", []):
            continue
        if "out_dir" not in _state:
            _state["out_dir"] = tempfile.mkdtemp(prefix="zoedam-notebook-run-")
        source = (f"{cell.source.rstrip()}\nout_dir = {_state['out_dir']!r}  # injected by conftest.py: "
                  "the test run writes here, not into runs/demo\n"
                  f"preset = {PRESET!r}  # injected by conftest.py: a run-through, not make demo's run\n")
        if PRESET == "smoke":
            if "data_path" not in _state:
                _state["data_path"] = str(smoke_data(Path(_state["out_dir"]) / "smoke_data"))
            source += f"data_path = {_state['data_path']!r}  # injected by conftest.py: the small SynthRooms\n"
        cell.source = source


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if "out_dir" in _state:
        shutil.rmtree(str(_state.pop("out_dir")), ignore_errors=True)
    guarded = _state["guarded"]
    before, after = _state["before"], run_folder_manifest(guarded)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed:
        what = {k: "added" if k not in before else "removed" if k not in after else "rewritten" for k in changed}
        lines = [f"  {k}: {v}" for k, v in list(what.items())[:20]]
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = (f"the test run changed {len(changed)} file(s) of {guarded}, which holds make demo's outputs "
                   "(tests must write into their own folders: tmp_path, or the notebooks' injected out_dir):\n"
                   + "\n".join(lines))
        if reporter is not None:
            reporter.write_line(message, red=True)
        else:
            print(message, file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
