"""``python -m zoedam_lib <command>`` (also installed as ``zoedam``): the jobs that are not notebooks.

Commands: ``synth`` (render SynthRooms), ``download-nyu``, ``train`` (also under ``torchrun``),
``eval``, ``predict`` and ``bench``. Errors a user can fix are printed as one clear message
with exit code 2; an interrupted training run exits with 130 after saving its checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence

from .errors import TrainingInterrupted, ZoeDAMError


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 240x320, got {text!r}") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return h, w


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", default="data/synthrooms/synthrooms.mat",
                   help="NYU-layout .mat (default: SynthRooms, generated if missing), or your own RGB-D data: a "
                        "folder with images/ + depth/ (paired by name) or a manifest .csv/.json; see docs/own_data.md")
    p.add_argument("--depth-unit", default=None,
                   help="folder data: unit of 16-bit depth PNGs, mm | kitti (1/256 m) | metres per unit such as "
                        "0.0001; overrides the folder's dataset.json (default there: mm)")
    p.add_argument("--split", default="paper", choices=["paper", "official"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/cli", help="output directory (results/, checkpoints/, runs/)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--preset", default="auto", choices=["auto", "paper", "cpu"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoedam", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="render the SynthRooms dataset (NYU layout) and its unlabeled images")
    p.add_argument("--out", default="data/synthrooms")
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--size", type=_size, default=(240, 320), help="HxW, e.g. 240x320")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-unlabeled", type=int, default=None, help="default: n // 2")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--format", default="mat", choices=["mat", "folder"],
                   help="mat: synthrooms.mat (NYU layout); folder: images/ + depth/ (16-bit mm PNG) + dataset.json")

    p = sub.add_parser("download-nyu", help="download nyu_depth_v2_labeled.mat (2.8 GB, resumable) and splits.mat")
    p.add_argument("--out", default="data/nyu")
    p.add_argument("--no-splits", action="store_true", help="skip the official splits.mat")

    p = sub.add_parser("train", help="train a model (use torchrun --nproc_per_node=N for DDP)")
    _run_args(p)
    p.add_argument("--model", default="zoedam", choices=["zoedam", "densedepth", "zoedam_plus"])
    p.add_argument("--backbone", default="vits", help="vits | vitb | vitl (ZoeDAM)")
    p.add_argument("--pretrained", default=None, help="weights to start from (path, known name or Hub id)")
    p.add_argument("--decoder", default="pretrained", choices=["pretrained", "random"])
    p.add_argument("--teacher", default=None, help="ZoeDAM+: teacher checkpoint")
    p.add_argument("--unlabeled", nargs="*", default=None, help="ZoeDAM+: unlabeled image folders")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--img-size", type=_size, default=None, help="network input HxW (multiples of 14 for ZoeDAM)")
    p.add_argument("--n-train", type=int, default=None)
    p.add_argument("--n-val", type=int, default=None)
    p.add_argument("--max-steps-per-epoch", type=int, default=None)
    p.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    p.add_argument("--amp", default=None, choices=["auto", "off", "bf16", "fp16"])
    p.add_argument("--resume", action="store_true", help="continue from <out>/runs/<model>/train_state.pt")

    p = sub.add_parser("eval", help="evaluate a checkpoint on the test split (NYU protocol)")
    _run_args(p)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--name", default=None, help="results key (default: derived from the checkpoint)")
    p.add_argument("--no-flip-tta", action="store_true")

    p = sub.add_parser("predict", help="metric depth for images or folders: 16-bit PNG (mm), colour PNG, PLY")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--ply", action="store_true", help="also write a coloured point cloud")
    p.add_argument("--flip-tta", action="store_true")
    p.add_argument("--fast", action="store_true",
                   help="fast path: bf16/fp16 where supported, reduced-resolution metric head (AbsRel ≤ 0.01 vs fp32)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"), default=None,
                   help="camera intrinsics at the image's resolution (default: NYU's, scaled)")

    p = sub.add_parser("bench", help="benchmark inference, training, loader and evaluation")
    p.add_argument("--json", default="docs/benchmarks.json")
    p.add_argument("--markdown", default="docs/benchmarks.md")
    p.add_argument("--quick", action="store_true", help="fewer repeats (about 3 minutes)")
    p.add_argument("--vitb", action="store_true", help="also benchmark ZoeDAM-B inference")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except TrainingInterrupted as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 130
    except ZoeDAMError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _synth(args: argparse.Namespace) -> int:
    from .data.synthrooms import generate_synthrooms

    path = generate_synthrooms(args.out, n=args.n, size=args.size, seed=args.seed, n_unlabeled=args.n_unlabeled,
                               workers=args.workers)
    if args.format == "folder":
        from .data.folder_export import export_folder

        path = export_folder(path, args.out, remove_source=True)
    print(f"wrote {path}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from .data.download import download_nyu

    print(f"wrote {download_nyu(args.out, with_splits=not args.no_splits)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from .training import distributed as dist_utils

    rank, world, ddp_device = dist_utils.init_distributed()
    try:
        return _train_in_process(args, rank, world, ddp_device)
    finally:
        dist_utils.cleanup()


def _train_in_process(args: argparse.Namespace, rank: int, world: int, ddp_device) -> int:
    from .config import replace
    from .data.folder_spec import parse_depth_unit
    from .presets import recipe_for
    from .run import setup_run
    from .training import distributed as dist_utils

    folder = parse_depth_unit(args.depth_unit)
    if rank == 0:
        ctx = setup_run(args.data, args.split, args.seed, args.out, args.device, args.preset, folder=folder)
    dist_utils.barrier()
    if rank != 0:
        ctx = setup_run(args.data, args.split, args.seed, args.out, args.device, args.preset, verbose=False,
                        folder=folder)
    if ddp_device is not None:
        ctx.device = ddp_device
    recipe = recipe_for(args.model, ctx.preset, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                        seed=args.seed)
    overrides = {k: v for k, v in {"img_size": args.img_size, "n_train": args.n_train, "n_val": args.n_val}.items()
                 if v is not None}
    train_overrides = {k: v for k, v in {"max_steps_per_epoch": args.max_steps_per_epoch,
                                         "checkpoint_every": args.checkpoint_every, "amp": args.amp}.items()
                       if v is not None}
    recipe = replace(recipe, train=replace(recipe.train, **train_overrides), **overrides)
    if args.model == "zoedam":
        from .experiments.zoedam import run_zoedam

        result = run_zoedam(ctx, args.backbone, args.pretrained, args.decoder, resume=args.resume, recipe=recipe)
    elif args.model == "densedepth":
        from .experiments.densedepth import run_densedepth

        result = run_densedepth(ctx, pretrained_encoder=args.pretrained != "none", resume=args.resume, recipe=recipe)
    else:
        from .experiments.zoedam_plus import run_zoedam_plus

        result = run_zoedam_plus(ctx, teacher=args.teacher, unlabeled_dirs=args.unlabeled, resume=args.resume,
                                 recipe=recipe)
    if world > 1:
        digest = hashlib.sha256(b"".join(v.detach().cpu().numpy().tobytes()
                                         for v in result.model.state_dict().values())).hexdigest()
        print(f"rank {rank}/{world} final weights sha256 {digest}", flush=True)
    if rank == 0:
        m = result.evaluation.metrics if result.evaluation else {}
        print(f"results: {result.result_path}  abs_rel {m.get('abs_rel', float('nan')):.4f}  "
              f"rmse {m.get('rmse', float('nan')):.4f}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .experiments.evaluate import run_eval

    run_eval(args)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .inference.cli import run_predict

    return run_predict(args)


def _bench(args: argparse.Namespace) -> int:
    from .bench import run_bench

    return run_bench(args)


COMMANDS = {"synth": _synth, "download-nyu": _download, "train": _train, "eval": _eval, "predict": _predict,
            "bench": _bench}
