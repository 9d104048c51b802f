"""Bootstrap intervals over test images: how much a metric would move with other test images.

A difference at the third decimal of one run on 166 images means nothing on its own. Each
per-image metric is resampled (images drawn with replacement, ``n_boot`` times, seeded), and
the 2.5th and 97.5th percentiles of the resampled means give a 95 % interval. Two models
evaluated on the same images are compared *paired*: the same resampled images for both, so the
interval is that of their difference (Efron & Tibshirani 1993, ch. 13; the percentile method).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Interval:
    """A mean with its bootstrap 95 % interval."""

    mean: float
    low: float
    high: float

    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0 (a difference the data supports)."""
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"


def bootstrap_mean(values: Sequence[float] | np.ndarray, n_boot: int = 2000, seed: int = 0,
                   level: float = 0.95) -> Interval:
    """The mean of ``values`` (one per test image) and its percentile-bootstrap interval."""
    x = _as_values(values)
    means = x[_resample(len(x), n_boot, seed)].mean(axis=1)
    return _interval(float(x.mean()), means, level)


def bootstrap_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, n_boot: int = 2000,
                         seed: int = 0, level: float = 0.95) -> Interval:
    """mean(a) − mean(b) for two models on the SAME images (paired), with its bootstrap interval."""
    xa, xb = _as_values(a), _as_values(b)
    if xa.shape != xb.shape:
        raise ValueError(f"paired values need the same images: got {xa.shape[0]} and {xb.shape[0]} values")
    diff = xa - xb
    means = diff[_resample(len(diff), n_boot, seed)].mean(axis=1)
    return _interval(float(diff.mean()), means, level)


def bootstrap_metrics(rows: Sequence[Mapping[str, float]], keys: Sequence[str], n_boot: int = 2000,
                      seed: int = 0) -> dict[str, Interval]:
    """The interval of each metric in ``keys`` over one evaluation's per-image rows (the same resamples for all)."""
    missing = [k for k in keys if rows and k not in rows[0]]
    if missing:
        raise KeyError(f"the per-image rows have no {missing}; they have {sorted(rows[0])}")
    return {k: bootstrap_mean([r[k] for r in rows], n_boot, seed) for k in keys}


def paired_values(rows_a: Sequence[Mapping[str, float]], rows_b: Sequence[Mapping[str, float]],
                  key: str) -> tuple[np.ndarray, np.ndarray]:
    """``key`` of two models' per-image rows, matched by ``index`` (images only one model has are an error)."""
    a = {int(r["index"]): float(r[key]) for r in rows_a}
    b = {int(r["index"]): float(r[key]) for r in rows_b}
    if set(a) != set(b):
        raise ValueError(f"the two evaluations cover different images ({len(set(a) ^ set(b))} differ); "
                         "compare models evaluated on the same split")
    order = sorted(a)
    return np.array([a[i] for i in order]), np.array([b[i] for i in order])


def _as_values(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    if x.size < 2 or not np.isfinite(x).all():
        raise ValueError(f"need at least two finite per-image values, got {x.size} (finite: {np.isfinite(x).sum()})")
    return x


def _resample(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, 1993]).integers(0, n, size=(n_boot, n))


def _interval(mean: float, means: np.ndarray, level: float) -> Interval:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return Interval(mean, float(low), float(high))
