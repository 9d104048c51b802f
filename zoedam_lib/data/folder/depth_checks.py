"""Whether a folder's decoded depth maps can be what its spec says: the per-file unit check and the scene check.

Split from :mod:`.spec` by job: the spec says how stored values become metres; these functions
look at the values and stop a run whose unit is wrong before it trains on nonsense (a median
under 2 cm, beyond ``max_depth``, or implausible for the declared scene type), with the ways
to fix it a folder dataset has.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoedam_lib.data.depth_unit import (
    MIN_PLAUSIBLE_MEDIAN_M,
    SCENE_MEDIANS_M,
    DepthPlausibility,
    plausibility,
    positive_values,
    unit_guess,
)
from zoedam_lib.data.folder.spec import DATASET_JSON, FolderSpec
from zoedam_lib.utils.errors import DataFileError


def depth_problem(path: Path, raw: np.ndarray, spec: FolderSpec) -> str | None:
    """Why a depth map (stored values) is unusable, or a DataFileError if its values say the unit is wrong.

    A median under 2 cm cannot be a real scene: it means metres (or decimetres) stored where
    millimetres were declared. A median beyond ``max_depth`` means most pixels would be discarded:
    outdoor data without a larger range, or a unit too coarse. Both stop the run when the dataset is
    opened; a map with no valid value at all is only skipped. Thresholds and the unit guess are
    those of every dataset (:mod:`zoedam_lib.data.depth_unit`); the wording names the folder's own ways to fix it.
    """
    stored = positive_values(raw)
    if stored.size == 0:
        return "depth all invalid: no finite positive value"
    npy = path.suffix.lower() == ".npy"
    metres = stored.astype(np.float64) * (1.0 if npy else spec.depth_scale)
    median = float(np.median(metres))
    if npy:
        read_as = f"the median depth is {median:.4g} m"
        fix = ".npy depth must be float metres (divide millimetres by 1000)"
    else:
        read_as = (f"the median stored value is {float(np.median(stored)):g}, i.e. {median:.4g} m read as "
                   f"{spec.depth_unit} (unit from {spec.source})")
        fix = ("re-save it as 16-bit integer millimetres or state its unit: --depth-unit mm|kitti|<metres per "
               f"unit>, \"depth_unit\" or \"depth_scale\" in {DATASET_JSON}, or FolderConfig(depth_scale=...)")
    if median < MIN_PLAUSIBLE_MEDIAN_M:
        raise DataFileError(f"{path}: wrong depth unit? {read_as}, under {MIN_PLAUSIBLE_MEDIAN_M * 100:g} cm, which "
                            f"no real scene has: the values look like metres or another coarse unit. To fix: {fix}.")
    if median > spec.max_depth:
        guess = "" if npy else unit_guess(float(np.median(stored)), spec.max_depth)
        raise DataFileError(f"{path}: {read_as}, beyond max_depth {spec.max_depth:g} m, so most pixels would be "
                            f"invalid. Outdoor data? Set \"max_depth\" (e.g. 80) in {DATASET_JSON}. A wrong unit?"
                            f"{guess} To fix: {fix}.")
    if not ((metres >= spec.min_depth) & (metres <= spec.max_depth)).any():
        return f"depth all invalid: nothing within {spec.min_depth:g}..{spec.max_depth:g} m"
    return None


def stored_metres(path: Path, raw: np.ndarray, spec: FolderSpec, stride: int = 4) -> np.ndarray:
    """Every ``stride``-th measured value of a depth file in metres as read, before the valid range masks any."""
    values = positive_values(raw[::stride, ::stride]).astype(np.float64)
    return values if path.suffix.lower() == ".npy" else values * spec.depth_scale


def check_plausible(values_m: list[np.ndarray], root: Path, spec: FolderSpec) -> DepthPlausibility:
    """The plausibility report of the decoded maps' values; a :class:`DataFileError` where their median cannot
    be the declared scene type's (centimetres or TUM's 1/5000 m read as millimetres pass every per-file check)."""
    report = plausibility(np.concatenate(values_m) if values_m else np.empty(0), len(values_m),
                          (spec.min_depth, spec.max_depth), spec.scene)
    problem = report.problem()
    if problem is not None:
        stored = report.median / spec.depth_scale
        raise DataFileError(f"{root}: wrong depth unit? {problem}, over {report.n_maps} decoded map(s) read as "
                            f"{spec.depth_unit} (unit from {spec.source}).{unit_guess(stored, spec.max_depth)} Fix "
                            f"the unit (--depth-unit, \"depth_unit\"/\"depth_scale\" in {DATASET_JSON}), or if the "
                            f"scene is of another type, declare it: \"scene\": "
                            f"{' | '.join(repr(k) for k in SCENE_MEDIANS_M)} in {DATASET_JSON}.")
    return report
