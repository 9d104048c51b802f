"""What each ``zoedam`` command does with its parsed arguments (imports deferred, so ``--help`` is fast)."""

from __future__ import annotations

import argparse
import hashlib

from zoedam_lib.cli.parser import RECIPE_FLAGS
from zoedam_lib.experiments.presets import recipe_for
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.output_dirs import ensure_output_dir


def _synth(args: argparse.Namespace) -> int:
    from zoedam_lib.data.synthrooms.domains import DOMAINS
    from zoedam_lib.data.synthrooms.generate import generate_domain, generate_synthrooms

    settings = {k: list(v) if isinstance(v, tuple) else v  # as dataset.json records them
                for k, v in ((k, getattr(args, k)) for k in ("domain", "n", "size", "seed", "n_unlabeled"))}
    if args.format == "folder":
        from zoedam_lib.data.folder.export import check_export_target, mark_export_started

        check_export_target(args.out, settings)
    ensure_output_dir(args.out, "--out folder")
    if args.format == "folder":  # before the first file, so a killed run's folder stays ours to complete
        mark_export_started(args.out, settings)
    if args.domain == "labeled":
        d = DOMAINS["labeled"]
        path = generate_synthrooms(args.out, n=d.n if args.n is None else args.n, size=args.size or d.size,
                                   seed=d.seed if args.seed is None else args.seed, n_unlabeled=args.n_unlabeled,
                                   workers=args.workers)
    elif args.n_unlabeled is not None:
        raise ConfigError(f"--n-unlabeled applies to --domain labeled only, not {args.domain!r}")
    else:
        path = generate_domain(args.domain, args.out, n=args.n, size=args.size, seed=args.seed, workers=args.workers)
    if args.format == "folder":
        from zoedam_lib.data.folder.export import export_folder

        path = export_folder(path, args.out, remove_source=True, settings=settings)
    print(f"wrote {path}")
    return 0


def _download(args: argparse.Namespace) -> int:
    from zoedam_lib.data.nyu.download import download_nyu

    ensure_output_dir(args.out, "--out folder")
    print(f"wrote {download_nyu(args.out, with_splits=not args.no_splits)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from zoedam_lib.training import distributed as dist_utils

    rank, world, ddp_device = dist_utils.init_distributed()
    try:
        return _train_in_process(args, rank, world, ddp_device)
    finally:
        dist_utils.cleanup()


def _train_in_process(args: argparse.Namespace, rank: int, world: int, ddp_device) -> int:
    from zoedam_lib.data.folder.spec import parse_depth_unit
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.training import distributed as dist_utils

    folder = parse_depth_unit(args.depth_unit)
    if rank == 0:
        ctx = setup_run(args.data, args.split, args.seed, args.out, args.device, args.preset, folder=folder)
    dist_utils.barrier()
    if rank != 0:
        ctx = setup_run(args.data, args.split, args.seed, args.out, args.device, args.preset, verbose=False,
                        folder=folder)
    if ddp_device is not None:
        ctx.device = ddp_device
    overrides = {name: getattr(args, name) for name, _, _ in RECIPE_FLAGS}
    recipe = recipe_for(args.model, ctx.preset, seed=args.seed, amp=args.amp, **overrides)
    if args.model == "zoedam":
        from zoedam_lib.experiments.zoedam import run_zoedam

        pretrained = None if args.pretrained == "none" else args.pretrained
        result = run_zoedam(ctx, args.backbone, pretrained, args.decoder, resume=args.resume, recipe=recipe,
                            resume_override=tuple(args.resume_override))
    elif args.model == "densedepth":
        from zoedam_lib.experiments.densedepth import run_densedepth

        result = run_densedepth(ctx, pretrained_encoder=args.pretrained != "none", resume=args.resume, recipe=recipe,
                                resume_override=tuple(args.resume_override))
    else:
        from zoedam_lib.experiments.zoedam_plus import run_zoedam_plus

        result = run_zoedam_plus(ctx, teacher=args.teacher, unlabeled_dirs=args.unlabeled, resume=args.resume,
                                 recipe=recipe, resume_override=tuple(args.resume_override)).student
    if world > 1:
        from zoedam_lib.checkpoints.saving import update_digest

        digest = hashlib.sha256()
        update_digest(digest, result.model)
        print(f"rank {rank}/{world} final weights sha256 {digest.hexdigest()}", flush=True)
    if rank == 0:
        m = result.evaluation.metrics if result.evaluation else {}
        print(f"results: {result.result_path}  abs_rel {m.get('abs_rel', float('nan')):.4f}  "
              f"rmse {m.get('rmse', float('nan')):.4f}")
    return 0


def _pretrain(args: argparse.Namespace) -> int:
    from zoedam_lib.data.folder.spec import parse_depth_unit, unit_scale
    from zoedam_lib.experiments.context import resolve_data_file, resolve_device
    from zoedam_lib.experiments.synthda import describe_command, run_pretrain

    data = resolve_data_file(args.data)
    depth_scale = unit_scale(parse_depth_unit(args.depth_unit))
    recipe = recipe_for("synthda", "cpu", seed=args.seed, amp=args.amp, img_size=args.img_size, backbone=args.backbone,
                        n_holdout=args.n_holdout,
                        **{n: getattr(args, n) for n in ("epochs", "batch_size", "lr", "max_steps_per_epoch",
                                                         "checkpoint_every")})
    if args.eval is None:
        eval_sets = {name: resolve_data_file(f"data/synthrooms/{name}.mat")
                     for name in ("synthrooms", "zeroshot_shifted", "zeroshot_wide")}
    else:
        eval_sets = dict(_name_and_file(item) for item in args.eval)
    result = run_pretrain(data, args.out, recipe, export=args.export, eval_sets=eval_sets, resume=args.resume,
                          device=resolve_device(args.device), command=describe_command(),
                          corpus=_corpus(data, depth_scale), resume_override=tuple(args.resume_override),
                          depth_scale=depth_scale)
    if result.weights is not None:
        print(f"wrote {result.weights} and {result.manifest}")
        for name, q in (result.quality or {}).items():
            print(f"  {name}: " + ", ".join(f"{k} {v:.4f}" for k, v in q.items()))
    return 0


def _name_and_file(item: str) -> tuple[str, str]:
    name, sep, path = item.partition("=")
    if not sep or not name or not path:
        raise ConfigError(f"--eval takes NAME=FILE items, got {item!r}")
    return name, path


def _corpus(data, depth_scale: float) -> dict:
    from zoedam_lib.data.nyu.reader import NyuMat

    with NyuMat(data, depth_scale) as mat:
        attrs = {k: v for k, v in mat.attrs.items() if k in ("generator", "version", "domain", "seed", "styles",
                                                             "focal_scale")}
        return {**{k: v.tolist() if hasattr(v, "tolist") else v for k, v in attrs.items()},
                "size": [mat.height, mat.width], "depth_scale": depth_scale}


def _seeds(args: argparse.Namespace) -> int:
    from zoedam_lib.reports.seed_spread import run_dirs_of, summary_markdown

    runs = [d for r in args.runs for d in run_dirs_of(r)]
    if not runs:
        raise ConfigError(f"no results/ folder under {args.runs}: run the notebooks first (make demo, make demo-seeds)")
    print(f"{len(runs)} runs: {', '.join(str(r) for r in runs)}\n")
    print(summary_markdown(runs))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from zoedam_lib.cli.evaluate import run_eval

    run_eval(args)
    return 0


def _predict(args: argparse.Namespace) -> int:
    from zoedam_lib.cli.predict import run_predict

    return run_predict(args)


def _export(args: argparse.Namespace) -> int:
    from zoedam_lib.cli.export import run_export

    return run_export(args)


def _bench(args: argparse.Namespace) -> int:
    from zoedam_lib.cli.bench import run_bench

    return run_bench(args)


def _app(args: argparse.Namespace) -> int:
    from zoedam_lib.app.ui import launch

    return launch(args.checkpoint, host=args.host, port=args.port, device=args.device, intrinsics=args.intrinsics)


def _plus_study(args: argparse.Namespace) -> int:
    from zoedam_lib.cli.plus_study import run

    return run(args)


COMMANDS = {"synth": _synth, "download-nyu": _download, "train": _train, "pretrain": _pretrain, "seeds": _seeds,
            "eval": _eval,
            "predict": _predict, "export": _export, "bench": _bench, "app": _app,
            "plus-study": _plus_study}
