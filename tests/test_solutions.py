"""Every exercise solution runs (zoedam_lib.solutions), so a solution a student reveals cannot have rotted, and every
notebook's exercise list points at its solutions. On a tiny SynthRooms: this checks the code, not the numbers."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from zoedam_lib import solutions

ROOT = Path(__file__).resolve().parents[1]
CASES = [(nb, n) for nb, module in solutions.modules().items() for n in sorted(solutions.exercises(module))]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny SynthRooms (24 rooms of 60×80 with 12 unlabeled images) and an out_dir for the whole module."""
    from zoedam_lib.data.synthrooms.generate import generate_synthrooms

    root = tmp_path_factory.mktemp("solutions")
    data = generate_synthrooms(root / "data", n=24, size=(60, 80), workers=1, progress=False)
    return {"data_path": str(data), "out_dir": str(root / "run"), "device": "cpu"}


def test_every_course_notebook_with_exercises_has_solutions():
    assert {"01", "02", "03", "05"} <= set(solutions.modules())


@pytest.mark.slow
@pytest.mark.parametrize("notebook, exercise", CASES, ids=[f"{nb}-{n}" for nb, n in CASES])
def test_solution_runs(notebook, exercise, tiny, one_thread, capsys, monkeypatch):
    module = solutions.modules()[notebook]
    if notebook == "03":  # offline: never wait for torchvision's download
        import zoedam_lib.models.densedepth as dd

        monkeypatch.setattr(dd, "imagenet_densenet169_features", lambda: (_ for _ in ()).throw(OSError("offline")))
    if hasattr(module, "prepare") and not (Path(tiny["out_dir"]) / "results" / "zoedam_plus_control.json").exists():
        module.prepare(tiny["data_path"], tiny["out_dir"], **getattr(module, "TEST_PREPARE", {}))
    settings = dict(tiny, **getattr(module, "TEST_SETTINGS", {}).get(exercise, {}))
    if notebook == "01" and exercise == 1:
        settings["split"] = "paper"  # the SynthRooms variant (NYU is not downloaded in tests)
    found = solutions.run_solution(notebook, exercise, **settings)
    assert found and all(str(key) in capsys.readouterr().out for key in list(found)[:1])


@pytest.mark.parametrize("notebook", sorted(solutions.modules()))
def test_the_notebook_lists_each_exercise_with_its_expected_outcome_and_its_solution(notebook):
    path = next((ROOT / "notebooks").glob(f"{notebook}_*.ipynb"))
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    exercises = text[text.index("## Exercises"):]
    for n in solutions.exercises(solutions.modules()[notebook]):
        assert f'show_solution("{notebook}", {n})' in exercises and f'run_solution("{notebook}", {n}' in exercises
        item = re.search(rf"^{n}\. (.*?)(?=^\d+\. |\Z)", exercises, re.MULTILINE | re.DOTALL)
        assert item and "Expected" in item.group(1), f"exercise {n} of notebook {notebook} states no expected outcome"


def test_show_solution_prints_the_source_and_an_unknown_one_is_named(capsys):
    solutions.show_solution("02", 3)
    assert "def exercise_3" in capsys.readouterr().out
    with pytest.raises(ValueError, match="solutions exist for"):
        solutions.solution("02", 9)
