"""The course's exercise solutions: one module per notebook (``nb01`` … ``nb07``), one function per exercise.

Why here and not in the notebooks: a solution a student can reveal must also be *run* by the tests,
or it rots while the library changes under it. Each notebook's exercise list gives every exercise
its expected outcome and two calls, which work wherever the notebook does (Colab installs this
package, so nothing depends on a repository checkout):

    show_solution("02", 3)        # reveal: prints the solution's source
    run_solution("02", 3)         # run it with the notebook's defaults (or pass data_path=, out_dir=, seed= ...)

A solution function takes the notebook's parameters as keywords (``data_path``, ``out_dir``,
``seed``, ``device``, ``preset``, and any recipe setting it trains with), writes only under
``<out_dir>/exercises/`` (never over the notebook's own results, which notebook 06 collects) and
returns the numbers it prints. ``tests/test_solutions.py`` runs every one of them on a tiny
SynthRooms; a module's ``TEST_SETTINGS`` (exercise → keywords) shrinks the trainings there.
Adding notebook 04's: write ``nb04.py`` with ``exercise_1`` …, list the calls under its exercises.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from zoedam_lib.utils.errors import ConfigError


def modules() -> dict[str, ModuleType]:
    """Notebook number ("01") → its solutions module."""
    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("nb"))
    return {name[2:]: importlib.import_module(f"{__name__}.{name}") for name in names}


def exercises(module: ModuleType) -> dict[int, Callable[..., dict[str, Any]]]:
    """Exercise number → its solution function (``exercise_<n>``) in ``module``."""
    return {int(name.removeprefix("exercise_")): fn for name, fn in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("exercise_") and fn.__module__ == module.__name__}


def solution(notebook: str | int, exercise: int) -> Callable[..., dict[str, Any]]:
    """The solution function of ``exercise`` of ``notebook`` ("02", 2 or "02_average_baseline")."""
    number = f"{int(str(notebook)[:2]):02d}"
    found = modules().get(number)
    if found is None or exercise not in exercises(found):
        have = {nb: sorted(exercises(m)) for nb, m in modules().items()}
        raise ConfigError(f"no solution for notebook {notebook!r}, exercise {exercise!r}; solutions exist for {have}")
    return exercises(found)[exercise]


def show_solution(notebook: str | int, exercise: int) -> None:
    """Print the solution's source (its docstring says the question and what to expect)."""
    print(inspect.getsource(solution(notebook, exercise)))


def run_solution(notebook: str | int, exercise: int, **parameters: Any) -> dict[str, Any]:
    """Run the solution with the notebook's defaults, or with ``parameters`` (the notebook's names)."""
    return solution(notebook, exercise)(**parameters)


def exercise_dir(out_dir: str | Path, name: str) -> Path:
    """Where an exercise writes: ``<out_dir>/exercises/<name>``, apart from the notebook's own results."""
    return Path(out_dir) / "exercises" / name
