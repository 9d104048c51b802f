"""Notebook 06 opened alone (issue 25): :func:`ensure_course_results` trains exactly the course runs that are
missing, with notebooks 02-05's calls, and nothing when all are there. Tiny SynthRooms, ``smoke`` preset."""

from __future__ import annotations

import pytest
from helpers import render_small_synthrooms

from zoedam_lib import setup_run
from zoedam_lib.experiments.course import COURSE_RUNS, ensure_course_results, missing_course_runs


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    data = render_small_synthrooms(root / "data", {"zeroshot_wide": 6, "zeroshot_tele": 6, "zeroshot_mixed": 9,
                                                   "lenses": 160}, size=(60, 80), labeled={"n": 24})
    return setup_run(str(data), "paper", 0, str(root / "run"), "cpu", "smoke")


def test_an_empty_run_folder_gets_every_course_run_and_a_full_one_nothing(ctx, capsys):
    from zoedam_lib.experiments.average import run_average

    run_average(ctx)  # notebook 02 ran; the others did not
    assert missing_course_runs(ctx) == [k for k in COURSE_RUNS if k != "average"]
    before = (ctx.out_dir / "results" / "average.json").read_bytes()
    records = ensure_course_results(ctx)
    assert set(COURSE_RUNS) <= set(records)
    assert (ctx.out_dir / "results" / "average.json").read_bytes() == before, "a finished run was made again"
    assert records["zoedam_vits_random"]["pretrained"] is None and records["zoedam_vits"]["pretrained"]
    assert records["zoedam_plus_control"] != records["zoedam_plus"]
    capsys.readouterr()
    mtimes = {p: p.stat().st_mtime_ns for p in (ctx.out_dir / "results").glob("*.json")}
    ensure_course_results(ctx)
    assert capsys.readouterr().out == "", "nothing missing: nothing trained, nothing printed"
    assert {p: p.stat().st_mtime_ns for p in (ctx.out_dir / "results").glob("*.json")} == mtimes
