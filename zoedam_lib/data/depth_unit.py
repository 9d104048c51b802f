"""Is this depth in metres? One check for every labeled dataset, run when it is opened.

A file whose depths are millimetres (or centimetres, disparity, raw 16-bit sensor values) reads
without error, and every pixel is then outside the valid 1e-3–10 m range: training sees only
masked pixels (loss 0 on every step), evaluation skips every image, and a run "succeeds" with
NaN metrics. The statistics of a few depth maps say so before any training: the median of the
finite positive values of a real scene lies between 2 cm and the valid maximum. The folder
dataset applies it per sampled file; NYU-layout files to eight maps spread over the file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from zoedam_lib.utils.errors import DataFileError

MIN_PLAUSIBLE_MEDIAN_M = 0.02  # a depth map's median below 2 cm is no real scene: the unit is wrong
TYPICAL_MEDIAN_M = 2.5  # about NYU's: the unit whose conversion lands nearest to it is suggested first
# (name, metres per stored unit, how a run is told: the --depth-unit value)
COMMON_UNITS = (("millimetres", 1e-3, "mm"), ("centimetres", 1e-2, "0.01"), ("KITTI's 1/256 m", 1 / 256, "kitti"),
                ("TUM's 1/5000 m", 1 / 5000, "tum"), ("decimetres", 0.1, "0.1"))
# Plausible median depth of one scene type, in metres: a median outside it means the declared unit is wrong
# (centimetres read as mm give 0.3 m rooms; TUM's 5000 per metre read as mm puts them 5x too far).
SCENE_MEDIANS_M = {"close-range": (0.05, 2.0), "indoor": (0.5, 8.0), "outdoor": (2.0, 80.0)}
NEAR_END = 0.02  # a value within 2 % of the valid range's span from an end (or beyond it) is "near" that end


def positive_values(depth: np.ndarray) -> np.ndarray:
    """The finite, positive values of a depth map (what is stored where something was measured)."""
    depth = np.asarray(depth)
    with np.errstate(invalid="ignore"):
        return depth[np.isfinite(depth) & (depth > 0)]


def unit_guess(median: float, max_depth: float) -> str:
    """Which common unit turns a median stored value into a plausible median in metres, as a sentence."""
    fits = [(abs(math.log(median * scale / TYPICAL_MEDIAN_M)), name, scale, flag) for name, scale, flag in COMMON_UNITS
            if MIN_PLAUSIBLE_MEDIAN_M <= median * scale <= max_depth]
    if not fits or median <= 0:
        return ""
    _, name, scale, flag = min(fits)
    return (f" The values look like {name} ({median:,.4g} × {scale:g} = {median * scale:.3g} m): "
            f"--depth-unit {flag}.")


def check_depth_unit(depths: Sequence[np.ndarray], source: str, valid_range: tuple[float, float] = (1e-3, 10.0),
                     read_as: str = "metres", fix: str = "") -> None:
    """Raise a :class:`DataFileError` when ``depths`` (as read, in metres) cannot be in metres.

    ``source`` names the file; ``read_as`` says how the stored values were converted (e.g. "metres"
    or "mm (unit from dataset.json)"); ``fix`` is the sentence telling the user what to change.
    Maps without any finite positive value are left to the readers (they skip or mask them); if
    none of ``depths`` has one, the data holds no depth at all, which is an error too.
    """
    values = [positive_values(d) for d in depths]
    values = np.concatenate([v.ravel() for v in values]) if values else np.empty(0)
    n = len(depths)
    if values.size == 0:
        raise DataFileError(f"{source}: none of the {n} depth map(s) checked holds a finite positive depth "
                            f"(all NaN, inf, zero or negative): there is nothing to train or evaluate on. {fix}")
    lo, hi = valid_range
    median = float(np.median(values.astype(np.float64)))
    inside = float(((values > lo) & (values < hi)).mean()) * 100
    found = (f"the median depth of the {n} map(s) checked is {median:,.4g} read as {read_as}, and {inside:.1f} % "
             f"of their measured pixels lie in the valid range {lo:g}–{hi:g} m")
    if median < MIN_PLAUSIBLE_MEDIAN_M:
        raise DataFileError(f"{source}: wrong depth unit? {found}. A real scene's median is at least "
                            f"{MIN_PLAUSIBLE_MEDIAN_M * 100:g} cm: the unit declared is finer than the stored one "
                            f"(e.g. metres read as millimetres), or the values are normalised. {fix}")
    if median > hi:
        raise DataFileError(f"{source}: wrong depth unit? {found}; expected metres, with a median between "
                            f"{MIN_PLAUSIBLE_MEDIAN_M:g} and {hi:g} m.{unit_guess(median, hi)} {fix}")


@dataclass(frozen=True)
class DepthPlausibility:
    """How plausible a dataset's depths are for its scene type: what ``folder_check`` and training print."""

    n_maps: int  # depth maps the values come from
    median: float  # metres, over every measured (finite, positive) value as read
    near_min: float  # fraction of those values at or below the low end of the valid range (+2 % of its span)
    near_max: float  # fraction at or above the high end (-2 % of its span), beyond it included
    valid_range: tuple[float, float]
    scene: str  # a key of SCENE_MEDIANS_M

    def problem(self) -> str | None:
        """Why the median cannot be this scene type's, or None."""
        lo, hi = SCENE_MEDIANS_M[self.scene]
        if math.isnan(self.median) or lo <= self.median <= hi:  # no measured value: the readers skip such maps
            return None
        return f"a median depth of {self.median:.3g} m is implausible for {self.scene} scenes (median {lo:g}–{hi:g} m)"

    def line(self) -> str:
        """One line, e.g. "depth check (5 maps): median 2.41 m (indoor scenes: 0.5–8 m); 0.3 % near 0.001 m,
        1.2 % near 10 m", with a warning when many values crowd an end of the range."""
        lo, hi = self.valid_range
        s_lo, s_hi = SCENE_MEDIANS_M[self.scene]
        text = (f"depth check ({self.n_maps} maps): median {self.median:.3g} m ({self.scene} scenes: "
                f"{s_lo:g}–{s_hi:g} m); {100 * self.near_min:.1f} % of measured values near {lo:g} m, "
                f"{100 * self.near_max:.1f} % near or beyond {hi:g} m")
        if self.near_max > 0.1:
            text += (" — warning: many values at the far end: a unit too fine (TUM's 5000 per metre read as mm?) "
                     "or a max_depth too small")
        if self.near_min > 0.1:
            text += " — warning: many values at the near end: a unit too coarse, or a min_depth too large"
        return text


def plausibility(values_m: np.ndarray, n_maps: int, valid_range: tuple[float, float], scene: str
                 ) -> DepthPlausibility:
    """The :class:`DepthPlausibility` of ``values_m``: measured depths in metres as read, before the valid
    range masks any (so values pushed beyond ``max_depth`` by a wrong unit are counted)."""
    values = positive_values(values_m).astype(np.float64)
    lo, hi = valid_range
    margin = NEAR_END * (hi - lo)
    if values.size == 0:
        return DepthPlausibility(n_maps, math.nan, 0.0, 0.0, valid_range, scene)
    return DepthPlausibility(n_maps, float(np.median(values)), float((values <= lo + margin).mean()),
                             float((values >= hi - margin).mean()), valid_range, scene)
