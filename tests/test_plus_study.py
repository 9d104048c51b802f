"""The ZoeDAM+ study (issue 26) end to end on tiny data: teacher, control and students, the summary and curve."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from zoedam_lib.experiments.plus_study import StudyConfig, control_key, finished, student_key
from zoedam_lib.utils.errors import ConfigError


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A finished tiny study: 24 labeled 60x80 rooms, pools of 4 and 8, one seed, 20 test rooms."""
    from zoedam_lib.data.synthrooms.generate import generate_domain, generate_synthrooms
    from zoedam_lib.experiments.plus_study import run_study
    from zoedam_lib.reports.plus_study import write_summary

    root = tmp_path_factory.mktemp("plus_study")
    data = generate_synthrooms(root / "data", n=24, size=(60, 80), workers=1, progress=False)
    generate_domain("lenses", root / "data", n=160, size=(60, 80), workers=1, progress=False)  # the camera head's
    cfg = StudyConfig(pool_sizes=(8, 4), seeds=(0,), n_test=20, teacher_epochs=1, preset="smoke",
                      out_dir=str(root / "out"), study_data=str(root / "study"), data_path=str(data), device="cpu",
                      extra={"max_steps_per_epoch": 1})
    run_study(cfg)
    summary_md = write_summary(cfg, docs=root / "docs")
    return cfg, root, summary_md


def test_config_refuses_what_cannot_be_read():
    with pytest.raises(ConfigError, match="pool_sizes"):
        StudyConfig(pool_sizes=(300, 300))
    with pytest.raises(ConfigError, match="seeds"):
        StudyConfig(seeds=())
    with pytest.raises(ConfigError, match="n_test"):
        StudyConfig(n_test=5)
    cfg = StudyConfig(pool_sizes=(4800, 300), seeds=(1, 0))
    assert cfg.pool_sizes == (300, 4800)  # the curve's order
    assert [k for k, _, _ in cfg.runs()][:3] == [control_key(1), student_key(300, 1), student_key(4800, 1)]


def test_study_renders_its_data_and_trains_every_run(study):
    cfg, root, _ = study
    assert len(list((root / "study" / "unlabeled").glob("*.jpg"))) == 8  # the largest pool, once
    results = {p.stem for p in (root / "out" / "results").glob("*.json")}
    assert {"teacher", control_key(0), student_key(4, 0), student_key(8, 0)} <= results
    student = json.loads((root / "out" / "results" / f"{student_key(8, 0)}.json").read_text())
    assert student["unlabeled"]["n_images"] == 8
    assert student["recipe"]["options"]["unlabeled_ratio"] == 2 and student["recipe"]["options"]["pseudo_tta"]
    assert student["init"].startswith("ZoeDAM+ student initialised like the teacher was")  # re-initialised
    assert student["zero_shot"]["zeroshot_shifted"]["n_test"] == 20  # the study's own, larger test set
    control = json.loads((root / "out" / "results" / f"{control_key(0)}.json").read_text())
    assert control["loss_config"]["unlabeled_weight"] == 0.0
    teacher = json.loads((root / "out" / "checkpoints" / "teacher" / "config.json").read_text())
    assert teacher["recipe"]["train"]["epochs"] == 1 and teacher["config"]["camera"] == "canonical"


def test_summary_pairs_every_student_with_its_control_and_the_teacher(study):
    cfg, root, summary_md = study
    summary = json.loads((root / "out" / "summary.json").read_text())
    assert [(p["seed"], p["pool"]) for p in summary["points"]] == [(0, 4), (0, 8)]
    assert summary["sets"][:2] == ["test", "zeroshot_shifted"] and not summary["missing"]
    for point in summary["points"]:
        shifted = point["sets"]["zeroshot_shifted"]
        assert shifted["n_images"] == 20
        diff = shifted["minus_control"]
        assert diff["low"] <= diff["mean"] <= diff["high"]
        assert diff["mean"] == pytest.approx(shifted["student"] - shifted["control"], abs=2e-5)
    text = summary_md.read_text()
    assert "| 0 | 4 |" in text and "student − control" in text
    for ext in ("json", "md", "png"):  # copied to the docs folder only because it was asked
        assert (root / "docs" / f"zoedam_plus_study.{ext}").is_file()
    assert (root / "out" / "summary.png").stat().st_size > 10_000


def test_a_second_call_reuses_every_finished_run(study, capsys):
    from zoedam_lib.experiments.plus_study import run_study

    cfg, root, _ = study
    before = {p.name: p.stat().st_mtime_ns for p in (root / "out" / "results").glob("*.json")}
    run_study(cfg)
    out = capsys.readouterr().out
    assert "teacher: finished earlier, reused" in out and f"{student_key(8, 0)}: finished earlier" in out
    assert "0 computed" in out  # no pseudo-label computed again
    assert {p.name: p.stat().st_mtime_ns for p in (root / "out" / "results").glob("*.json")} == before


def test_a_run_made_with_other_settings_is_refused_not_reused(study):
    cfg, root, _ = study
    with pytest.raises(ConfigError, match="n_unlabeled.*another --out"):
        finished(Path(cfg.out_dir), student_key(8, 0), n_unlabeled=16)
    with pytest.raises(ConfigError, match="epochs"):
        from zoedam_lib.experiments.plus_study import study_context, train_teacher

        train_teacher(study_context(replace(cfg, teacher_epochs=2), root / "study" / "zeroshot_shifted.mat",
                                    verbose=False), replace(cfg, teacher_epochs=2))


def test_the_committed_record_is_the_whole_study_of_the_default_config():
    """docs/zoedam_plus_study.json (what notebook 05 and the README show) is a finished study of the settings
    ``make zoedam-plus-study`` runs: every (seed, pool) point, each paired on the same images, none missing."""
    from dataclasses import asdict

    from zoedam_lib.reports.plus_study import committed_summary, markdown_summary

    record = committed_summary()
    default = json.loads(json.dumps({k: v for k, v in asdict(StudyConfig()).items() if k != "extra"}, default=str))
    assert record["config"] == default, "the committed record was made with other settings: re-run the study"
    assert record["missing"] == []
    assert sorted((p["seed"], p["pool"]) for p in record["points"]) == sorted(
        (s, n) for s in StudyConfig().seeds for n in StudyConfig().pool_sizes)
    for p in record["points"]:
        shifted = p["sets"]["zeroshot_shifted"]
        assert shifted["n_images"] == StudyConfig().n_test
        d = shifted["minus_control"]
        assert d["low"] <= d["mean"] <= d["high"]
        assert d["mean"] == pytest.approx(shifted["student"] - shifted["control"], abs=2e-5)
    assert "Not run yet" not in markdown_summary(record)
