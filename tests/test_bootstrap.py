"""Bootstrap intervals: coverage of a known mean, paired differences, and refusal of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from zoedam_lib.evaluation.bootstrap import bootstrap_difference, bootstrap_mean, paired_values


def test_interval_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered = []
    for s in range(200):
        x = rng.normal(1.0, 0.5, 80)
        ci = bootstrap_mean(x, n_boot=500, seed=s)
        covered.append(ci.low <= 1.0 <= ci.high)
    assert 0.89 <= np.mean(covered) <= 0.99
    # the interval's half-width is about 1.96 standard errors
    ci = bootstrap_mean(rng.normal(1.0, 0.5, 400), n_boot=4000, seed=1)
    assert (ci.high - ci.low) / 2 == pytest.approx(1.96 * 0.5 / np.sqrt(400), rel=0.15)


def test_pairing_removes_the_spread_shared_by_both_models():
    rng = np.random.default_rng(1)
    hard = rng.uniform(0.05, 0.6, 150)  # per-image difficulty, shared by both models
    a, b = hard + 0.01, hard + rng.normal(0, 0.002, 150)
    paired = bootstrap_difference(a, b, seed=0)
    assert paired.excludes_zero() and paired.low > 0.005
    # compared unpaired, the two means' intervals overlap: the images' spread hides the difference
    ia, ib = bootstrap_mean(a), bootstrap_mean(b)
    assert ia.low < ib.high
    same = bootstrap_difference(hard, hard + rng.normal(0, 0.002, 150), seed=0)
    assert not same.excludes_zero()


def test_paired_values_match_images_by_index_and_refuse_different_sets():
    a = [{"index": 3, "abs_rel": 0.3}, {"index": 1, "abs_rel": 0.1}]
    b = [{"index": 1, "abs_rel": 0.2}, {"index": 3, "abs_rel": 0.4}]
    xa, xb = paired_values(a, b, "abs_rel")
    assert xa.tolist() == [0.1, 0.3] and xb.tolist() == [0.2, 0.4]
    with pytest.raises(ValueError, match="different images"):
        paired_values(a, [{"index": 1, "abs_rel": 0.2}, {"index": 4, "abs_rel": 0.4}], "abs_rel")


@pytest.mark.parametrize("values", [[0.1], [0.1, float("nan")], []])
def test_too_few_or_non_finite_values_are_refused(values):
    with pytest.raises(ValueError, match="at least two finite"):
        bootstrap_mean(values)
