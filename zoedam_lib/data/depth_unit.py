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

import numpy as np

from zoedam_lib.utils.errors import DataFileError

MIN_PLAUSIBLE_MEDIAN_M = 0.02  # a depth map's median below 2 cm is no real scene: the unit is wrong
TYPICAL_MEDIAN_M = 2.5  # about NYU's: the unit whose conversion lands nearest to it is suggested first
# (name, metres per stored unit, how a run is told: the --depth-unit value)
COMMON_UNITS = (("millimetres", 1e-3, "mm"), ("centimetres", 1e-2, "0.01"), ("KITTI's 1/256 m", 1 / 256, "kitti"),
                ("decimetres", 0.1, "0.1"))


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
