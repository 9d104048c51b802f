"""The spread over seeds: per model and evaluation set, across run folders."""

from __future__ import annotations

import pytest

from zoedam_lib.cli import main
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.evaluation.metrics import METRIC_KEYS
from zoedam_lib.experiments.results import write_result
from zoedam_lib.reports.seed_spread import collect, run_dirs_of, summary_markdown


def fake_run(folder, seed: int, abs_rel: float, wide: float) -> None:
    provenance = {"data": "SynthRooms", "data_kind": "synthrooms", "preset": "cpu", "split": "paper", "seed": seed}
    test = EvalResult(dict.fromkeys(METRIC_KEYS, 0.5) | {"abs_rel": abs_rel}, [{"index": 0, "abs_rel": abs_rel}],
                      median_scaled=dict.fromkeys(METRIC_KEYS, 0.4))
    zs = EvalResult(dict.fromkeys(METRIC_KEYS, 0.5) | {"abs_rel": wide}, [{"index": 0, "abs_rel": wide}],
                    median_scaled=dict.fromkeys(METRIC_KEYS, 0.2), name="zeroshot_wide")
    write_result(folder, "zoedam_vits", provenance, test, {"zeroshot_wide": zs})


def test_mean_sd_and_range_over_seeds(tmp_path, capsys):
    for seed, (a, w) in enumerate([(0.20, 0.5), (0.22, 0.6), (0.24, 0.7)]):
        fake_run(tmp_path / f"seed{seed}", seed, a, w)
    runs = run_dirs_of(tmp_path)
    assert [r.name for r in runs] == ["seed0", "seed1", "seed2"]
    table = collect(runs)
    assert table[("zoedam_vits", "test", "abs_rel")] == {0: 0.20, 1: 0.22, 2: 0.24}
    assert table[("zoedam_vits", "zeroshot_wide", "med_abs_rel")] == {0: 0.2, 1: 0.2, 2: 0.2}
    text = summary_markdown(runs)
    assert "| ZoeDAM-S | test | abs_rel | 0.220 ± 0.020 | 0.200 – 0.240 | 0, 1, 2 |" in text
    assert "| ZoeDAM-S | zeroshot_wide | abs_rel | 0.600 ± 0.100 | 0.500 – 0.700 | 0, 1, 2 |" in text
    assert main(["seeds", str(tmp_path)]) == 0 and "0.220 ± 0.020" in capsys.readouterr().out
    provenance = {"data": "SynthRooms", "data_kind": "synthrooms", "preset": "cpu", "split": "paper", "seed": 0}
    write_result(tmp_path / "seed0", "ablation_beta0", provenance,
                 EvalResult(dict.fromkeys(METRIC_KEYS, 0.3), [{"index": 0, "abs_rel": 0.3}]))
    text = summary_markdown(run_dirs_of(tmp_path))
    assert "nan" not in text and "In one run only (no spread): ZoeDAM-S, SILog β = 0 (short run)." in text


def test_no_runs_is_a_clear_error(tmp_path, capsys):
    assert main(["seeds", str(tmp_path)]) == 2
    assert "no results/ folder under" in capsys.readouterr().err
    with pytest.raises(KeyError):
        collect([tmp_path])[("x", "test", "abs_rel")]
