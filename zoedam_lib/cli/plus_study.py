"""``zoedam plus-study``: the ZoeDAM+ study of :mod:`zoedam_lib.experiments.plus_study` (``make zoedam-plus-study``)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_DOCS = Path(__file__).resolve().parents[2] / "docs"  # the checkout's docs/ (the committed record)


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers (e.g. 300,1200,4800), got {text!r}") \
            from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The subcommand's arguments (defaults: the documented study, StudyConfig's)."""
    from zoedam_lib.experiments.plus_study import StudyConfig  # dataclass only: no torch work at --help

    d = StudyConfig()
    p = sub.add_parser("plus-study", help="ZoeDAM+ under Depth Anything's conditions: student - control against "
                                          "the unlabeled pool's size, paired intervals (hours on 2 CPU cores)")
    p.add_argument("--pool-sizes", type=_ints, default=d.pool_sizes, help="unlabeled rooms per student (300,1200,4800)")
    p.add_argument("--seeds", type=_ints, default=d.seeds, help="student seeds (0,1)")
    p.add_argument("--n-test", type=int, default=d.n_test, help="rooms of the re-rendered zeroshot_shifted (600)")
    p.add_argument("--teacher-epochs", type=int, default=d.teacher_epochs, help="the teacher's epochs (6)")
    p.add_argument("--no-pseudo-tta", dest="pseudo_tta", action="store_false", help="pseudo-labels without flip TTA")
    p.add_argument("--unlabeled-ratio", type=int, default=d.unlabeled_ratio, help="unlabeled per labeled image (2)")
    p.add_argument("--preset", default=d.preset, help="recipe preset of every run (cpu)")
    p.add_argument("--out", default=d.out_dir, help=f"the study's run folder ({d.out_dir})")
    p.add_argument("--study-data", default=d.study_data,
                   help=f"where the pool and test set are rendered ({d.study_data})")
    p.add_argument("--data", default=d.data_path, help="the labeled data (the course's SynthRooms)")
    p.add_argument("--device", default=d.device, help="auto | cpu | cuda | cuda:N")
    p.add_argument("--summary-only", action="store_true", help="only rebuild the summary from finished runs")
    p.add_argument("--update-docs", action="store_true",
                   help="also copy the summary to the checkout's docs/zoedam_plus_study.{md,json,png} (the record)")


def run(args: argparse.Namespace) -> int:
    from zoedam_lib.experiments.plus_study import StudyConfig, run_study
    from zoedam_lib.reports.plus_study import write_summary

    cfg = StudyConfig(pool_sizes=args.pool_sizes, seeds=args.seeds, n_test=args.n_test,
                      teacher_epochs=args.teacher_epochs, pseudo_tta=args.pseudo_tta,
                      unlabeled_ratio=args.unlabeled_ratio, preset=args.preset, out_dir=args.out,
                      study_data=args.study_data, data_path=args.data, device=args.device)
    if not args.summary_only:
        run_study(cfg)
    write_summary(cfg, docs=DEFAULT_DOCS if args.update_docs else None)
    return 0
