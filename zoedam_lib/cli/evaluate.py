"""``python -m zoedam_lib eval``: any loadable checkpoint on a run's test split, results JSON included.

This is how an official Depth Anything metric checkpoint (or one trained elsewhere) gets a row
in ``06_results`` measured with exactly the same protocol as the models trained here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from zoedam_lib.checkpoints import load_checkpoint
from zoedam_lib.data.folder.spec import parse_depth_unit
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.experiments.context import setup_run
from zoedam_lib.experiments.results import markdown_table, write_result
from zoedam_lib.models.predict import is_camera_aware
from zoedam_lib.utils.names import safe_name
from zoedam_lib.utils.output_dirs import ensure_output_dir, run_lock
from zoedam_lib.utils.paths import display_path


def results_key(checkpoint: str, model) -> str:
    """A results key from the checkpoint: our directories keep their name, other files their stem."""
    name = Path(checkpoint).name
    if not name:
        name = type(model).__name__.lower()
    return safe_name(Path(name).stem if "." in name else name, default="model")


def run_eval(args: argparse.Namespace) -> EvalResult:
    """Evaluate ``args.checkpoint`` on the test split of ``args.data`` (and on every ``args.zero_shot``
    file, whole) and write ``results/<name>.json``.

    ``args.data`` is a .mat or a folder dataset, whose dataset.json ``args.depth_unit`` overrides.
    The results are written under the run's lock (``<out>/locks/<name>.lock``), so an evaluation
    never interleaves with a training run writing the same results key.
    """
    folder = parse_depth_unit(getattr(args, "depth_unit", None))
    ctx = setup_run(args.data, args.split, args.seed, args.out, args.device, args.preset, folder=folder,
                    zero_shot=getattr(args, "zero_shot", None))
    model, report = load_checkpoint(args.checkpoint, device=ctx.device)
    if report.random_parts:
        print(f"warning: {report.summary()}")
    if is_camera_aware(model) and getattr(args, "zero_shot", None) is None:
        ctx = ctx.with_camera_sets()  # a camera-aware model is also scored through other lenses
    key = results_key(args.checkpoint, model) if args.name is None else safe_name(args.name, default="model")
    if args.name is not None and key != args.name:
        print(f"--name {args.name!r} is not a plain file name: the results are named {key!r}")
    with run_lock(ctx.out_dir, key):
        ensure_output_dir(ctx.out_dir / "results", "output folder")
        result, zero_shot = ctx.evaluate(model, flip_tta=not args.no_flip_tta,
                                         precision="fp32" if getattr(args, "fp32", False) else "auto")
        path = write_result(ctx.out_dir, key, ctx.provenance(), result, zero_shot, checkpoint=str(args.checkpoint),
                            init=report.summary())
    rows = {f"{key} · test": result.metrics}
    for name, ev in zero_shot.items():
        rows[f"{key} · {name}"] = ev.metrics
        rows[f"{key} · {name}, median-scaled"] = ev.median_scaled
    print(markdown_table(rows))
    print(f"{result.n_images} images ({len(result.skipped)} without valid pixels skipped), {result.precision}; "
          f"camera: {result.camera}; wrote {display_path(path)}")
    return result
