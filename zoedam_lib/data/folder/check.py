"""``python -m zoedam_lib.data.folder.check DIR``: everything wrong with a folder dataset, before training.

Opening a dataset checks the pairing, every header and the depth unit of a few files; this
check decodes every file (``verify``), so a truncated PNG or an all-invalid depth map is listed
here by name instead of stopping a run mid-epoch, and prints what a run will see: the pairs,
their sizes, the depth statistics in metres and which items have intrinsics.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from zoedam_lib.data.folder.dataset import FolderDataset
from zoedam_lib.data.folder.spec import FolderConfig, parse_depth_unit
from zoedam_lib.utils.atomic import atomic_write_json
from zoedam_lib.utils.config import replace
from zoedam_lib.utils.errors import ZoeDAMError


def check_folder(path: str | os.PathLike, config: FolderConfig | None = None, stride: int = 4) -> dict[str, Any]:
    """Open ``path`` with every file decoded and summarise it (JSON-ready); raises what opening raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the skips are in the report, in full
        data = FolderDataset(path, replace(config or FolderConfig(), verify=True))
    values, valid_fraction = [], []
    for i in range(len(data)):
        depth = data.read_depth(i)
        valid = depth > 0
        valid_fraction.append(float(valid.mean()))
        values.append(depth[::stride, ::stride][valid[::stride, ::stride]])
    depth_m = np.concatenate(values)
    spec = data.spec
    return {
        "path": str(data.path), "name": spec.name, "layout": data.layout, "n_pairs": len(data),
        "n_skipped": len(data.skipped), "skipped": [{"file": f, "reason": r} for f, r in data.skipped],
        "sizes": {f"{h}x{w}": n for (h, w), n in Counter(data.sizes).most_common()},
        "depth_unit": spec.depth_unit, "depth_scale": spec.depth_scale, "unit_from": spec.source,
        "valid_range_m": [spec.min_depth, spec.max_depth],
        "depth_m": {"min": float(depth_m.min()), "median": float(np.median(depth_m)),
                    "mean": float(depth_m.mean()), "max": float(depth_m.max())},
        "valid_fraction_mean": float(np.mean(valid_fraction)),
        "n_with_intrinsics": sum(data.intrinsics(i) is not None for i in range(len(data))),
        "fingerprint": data.fingerprint,
        "plausibility": {**dataclasses.asdict(data.plausibility), "line": data.plausibility.line()},
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a few readable lines."""
    d = report["depth_m"]
    sizes = ", ".join(f"{size} ({n})" for size, n in report["sizes"].items())
    lines = [f"{report['name']} ({report['layout']} layout, {report['path']})",
             f"  pairs: {report['n_pairs']} usable, {report['n_skipped']} skipped",
             f"  sizes: {sizes}" + ("" if len(report["sizes"]) == 1 else
                                    "  -> set \"size\": [H, W] in dataset.json to train on one size"),
             f"  depth unit: {report['depth_unit']} ({report['depth_scale']:g} m/unit, from {report['unit_from']}); "
             f"valid range {report['valid_range_m'][0]:g}..{report['valid_range_m'][1]:g} m",
             f"  depth [m]: min {d['min']:.3f}, median {d['median']:.3f}, mean {d['mean']:.3f}, max {d['max']:.3f}; "
             f"valid pixels {100 * report['valid_fraction_mean']:.1f} %",
             f"  {report['plausibility']['line']}",
             f"  intrinsics: {report['n_with_intrinsics']} of {report['n_pairs']} items"]
    lines += [f"  skipped {s['file']}: {s['reason']}" for s in report["skipped"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="the folder (images/ + depth/, or with a manifest) or a manifest file")
    parser.add_argument("--depth-unit", default=None,
                        help="mm | kitti | tum | metres per unit (overrides dataset.json)")
    parser.add_argument("--json", default=None, help="also write the report to this JSON file")
    args = parser.parse_args(argv)
    try:
        report = check_folder(args.path, parse_depth_unit(args.depth_unit))
    except ZoeDAMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_report(report))
    if args.json:
        atomic_write_json(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
