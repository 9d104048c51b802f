"""Every exercise solution runs (zoedam_lib.solutions), so a solution a student reveals cannot have rotted, and every
notebook's exercise list points at its solutions. On a tiny SynthRooms: this checks the code, not the numbers."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from helpers import render_small_synthrooms

from zoedam_lib import solutions

ROOT = Path(__file__).resolve().parents[1]
CASES = [(nb, n) for nb, module in solutions.modules().items() for n in sorted(solutions.exercises(module))]


PREPARED: set[str] = set()  # notebooks whose module's prepare() has run in this session


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny SynthRooms (24 rooms of 60×80 with 12 unlabeled images) with tiny lens sets beside it (notebooks 04,
    06, 07 score them), and an out_dir for the whole module (each notebook's solutions get a folder in it)."""
    root = tmp_path_factory.mktemp("solutions")
    data = render_small_synthrooms(root / "data", {"zeroshot_wide": 6, "zeroshot_tele": 6, "zeroshot_mixed": 9},
                                   size=(60, 80), labeled={"n": 24})
    return {"data_path": str(data), "out_dir": str(root / "run"), "device": "cpu"}


def tiny_lenses(tiny) -> None:
    """The ``lenses`` domain a camera head trains on, tiny: the 150 images it holds out and 10 to learn from."""
    if not (Path(tiny["data_path"]).parent / "lenses.mat").exists():
        render_small_synthrooms(Path(tiny["data_path"]).parent, {"lenses": 160}, size=(60, 80))


def test_every_course_notebook_with_exercises_has_solutions():
    assert {"01", "02", "03", "04", "05", "06", "07"} <= set(solutions.modules())


# --------------------------------------------------------------------------- answers that must hold, whatever the
# tiny models learned: each fails when the solution reports the wrong run, set or file, or the library's steps disagree


def check_04_1(found, out_dir):
    """Each number is the run it names: SynthDA's and random weights' results, one validation entry per epoch."""
    from zoedam_lib.experiments.results import load_results

    records = load_results(out_dir / "exercises" / "04_epochs1")
    assert records["zoedam_vits_random"]["pretrained"] is None and records["zoedam_vits"]["pretrained"]
    for name, key in (("SynthDA", "zoedam_vits"), ("random", "zoedam_vits_random")):
        assert found[f"test AbsRel, {name}, 1 epochs"] == pytest.approx(records[key]["metrics"]["abs_rel"], abs=1e-6)
        assert len(found[f"validation AbsRel per epoch, {name}"]) == 1
    assert "not there" not in found["SynthDA − random, notebook 04's run"]


def check_04_2(found, out_dir):
    from zoedam_lib.experiments.results import load_results

    record = load_results(out_dir / "exercises" / "04_decoder_random")["zoedam_vits_decoder_random"]
    assert record["decoder"] == "random" and "decoder" not in record["init"].split("randomly initialised")[0]
    assert found["test AbsRel, SynthDA encoder, random decoder"] == pytest.approx(record["metrics"]["abs_rel"])


def check_04_3(found, out_dir):
    """The exercise's 1-epoch ablation is the notebook's (same data, seed and recipe): the same scale, exactly."""
    for beta in ("0", "0.15"):
        now, before = (found[f"β = {beta}, {run}: pred / true median depth"] for run in ("1 epochs", "notebook's run"))
        assert now == before


def check_04_4(found, out_dir):
    """``eval`` on the checkpoint reproduces the notebook's wide-angle row: one protocol, two entry points."""
    for kind in ("AbsRel", "AbsRel, median-scaled"):
        assert found[f"eval: zeroshot_wide {kind}"] == pytest.approx(found[f"notebook: zeroshot_wide {kind}"], abs=1e-4)


def check_04_5(found, out_dir):
    """The apparent-size prediction is f_train / f of each lens set's domain: 1 / 0.55 wide, 1 / 1.5 tele."""
    from zoedam_lib.data.synthrooms.domains import DOMAINS

    for name in ("zeroshot_wide", "zeroshot_tele"):
        expected = 1 / DOMAINS[name].focal_scale[0]
        assert found[f"{name}: from apparent size alone (f_train / f)"] == pytest.approx(expected, rel=0.02)
        assert "camera-blind − camera-aware" in " ".join(found)


def check_06_1(found, out_dir):
    """The seed-0 and seed-1 differences are each run's own: A − B of the means in its results JSONs."""
    from zoedam_lib.experiments.results import load_results

    entry = found["Does SynthDA pretraining help? (same recipe, same budget) · test"]
    for seed, folder in ((0, out_dir), (1, out_dir.parent / "seeds" / "seed1")):
        records = load_results(folder)
        gap = records["zoedam_vits"]["metrics"]["abs_rel"] - records["zoedam_vits_random"]["metrics"]["abs_rel"]
        shown = float(re.search(rf"seed {seed} ([+-][0-9.]+)", entry).group(1))
        assert shown == pytest.approx(gap, abs=1.1e-3)
    assert re.search(r"→ (held|kept sign|sign flipped)", entry)


def check_06_2(found, out_dir):
    """The new row is the eval's record, scored without flip TTA (so not the trained run's number)."""
    from zoedam_lib.experiments.results import load_results

    record = load_results(out_dir / "exercises" / "06_eval")["zoedam_vits_no_flip_tta"]
    assert record["flip_tta"] is False and f"{record['metrics']['abs_rel']:.3f}" in found["Table 3 row"]
    assert found["test AbsRel, zoedam_vits_no_flip_tta"] != found["test AbsRel, zoedam_vits (its own run)"]


def check_07_1(found, out_dir):
    from zoedam_lib.experiments.camera_lesson import CAMERA_SETS
    from zoedam_lib.experiments.results import load_results

    records = load_results(out_dir)
    for name in CAMERA_SETS:
        gap = (records["zoedam_vits_blind"]["zero_shot"][name]["metrics"]["abs_rel"]
               - records["zoedam_vits"]["zero_shot"][name]["metrics"]["abs_rel"])
        shown = float(found[f"{name}: gain, raw AbsRel (blind − aware)"].split()[0].replace("−", "-"))
        assert shown == pytest.approx(gap, abs=1.1e-3)
    assert {found["gains most"], found["gains least"]} <= set(CAMERA_SETS)


def check_07_2(found, out_dir):
    """Half the focal length, half the depth: a camera-aware model's metres are canonical depth × f / f_c."""
    assert found["ratio this checkpoint should give"] == 0.5
    assert found["median depth ratio, given / EXIF"] == pytest.approx(0.5, rel=0.01)


def check_07_3(found, out_dir):
    """Without EXIF the cloud is the EXIF one stretched along z by f_est / f_EXIF; its width does not move."""
    for i in (0, 3):
        _, f_exif, f_est = found[f"example {i}: fx true / EXIF / estimated [px]"]
        (z_exif, w_exif), (z_none, w_none) = (found[f"example {i}: cloud {n}, depth / width vs the truth's"]
                                              for n in ("EXIF", "no EXIF"))
        assert w_none == pytest.approx(w_exif, rel=0.02)
        assert z_none / z_exif == pytest.approx(f_est / f_exif, rel=0.02)


CHECKS = {("04", 1): check_04_1, ("04", 2): check_04_2, ("04", 3): check_04_3, ("04", 4): check_04_4,
          ("04", 5): check_04_5, ("06", 1): check_06_1, ("06", 2): check_06_2, ("07", 1): check_07_1,
          ("07", 2): check_07_2, ("07", 3): check_07_3}


@pytest.mark.slow
@pytest.mark.parametrize("notebook, exercise", CASES, ids=[f"{nb}-{n}" for nb, n in CASES])
def test_solution_runs(notebook, exercise, tiny, one_thread, capsys, monkeypatch):
    module = solutions.modules()[notebook]
    if notebook == "03":  # offline: never wait for torchvision's download
        import zoedam_lib.models.densedepth as dd

        monkeypatch.setattr(dd, "imagenet_densenet169_features", lambda: (_ for _ in ()).throw(OSError("offline")))
    if notebook == "07":  # its camera-aware model trains a camera head
        tiny_lenses(tiny)
    settings = dict(tiny, out_dir=str(Path(tiny["out_dir"]) / notebook),
                    **getattr(module, "TEST_SETTINGS", {}).get(exercise, {}))
    if hasattr(module, "prepare") and notebook not in PREPARED:
        module.prepare(tiny["data_path"], settings["out_dir"], **getattr(module, "TEST_PREPARE", {}))
        PREPARED.add(notebook)
    if notebook == "01" and exercise == 1:
        settings["split"] = "paper"  # the SynthRooms variant (NYU is not downloaded in tests)
    found = solutions.run_solution(notebook, exercise, **settings)
    assert found and all(str(key) in capsys.readouterr().out for key in list(found)[:1])
    if (notebook, exercise) in CHECKS:
        CHECKS[notebook, exercise](found, Path(settings["out_dir"]))


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
