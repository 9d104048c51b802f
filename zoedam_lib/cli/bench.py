"""``python -m zoedam_lib bench``: run the benchmark (:mod:`zoedam_lib.bench`) and write its tables."""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

from zoedam_lib.bench.report import markdown
from zoedam_lib.bench.runner import PAPER_HEADING, collect, machine_info
from zoedam_lib.utils.atomic import atomic_write_bytes, atomic_write_json


def run_bench(args: argparse.Namespace) -> int:
    """Entry point of the ``bench`` command."""
    if args.paper_recipe:
        return _run_paper_recipe(args)
    command = "python -m zoedam_lib bench" + (" --quick" if args.quick else "") + (" --vitb" if args.vitb else "") \
        + (" --official PATH" if args.official else "")
    out = collect(args.quick, args.vitb, official=args.official)
    atomic_write_json(args.json, out)
    text = markdown(out, command)
    path = Path(args.markdown)
    if path.is_file() and PAPER_HEADING in (old := path.read_text(encoding="utf-8")):  # keep a GPU run's table
        text = text.rstrip("\n") + "\n\n" + PAPER_HEADING + old.split(PAPER_HEADING, 1)[1]
    atomic_write_bytes(path, text.encode("utf-8"))
    print(text)
    print(f"wrote {args.json} and {args.markdown}")
    return 0


def _run_paper_recipe(args: argparse.Namespace) -> int:
    """``bench --paper-recipe``: print the table and add it to ``--markdown`` under its own heading."""
    from zoedam_lib.bench.paper import PaperBenchConfig, paper_markdown, run_paper_recipe

    cfg = PaperBenchConfig(backbones=tuple(b.strip() for b in args.backbones.split(",") if b.strip()),
                           steps=args.steps, warmup=args.warmup, device=args.device)
    rows = run_paper_recipe(cfg)
    m = machine_info()
    machine = f"{m['cuda'] or m['cpu']} ({rows[0]['device']}), torch {m['torch']}, {_dt.date.today().isoformat()}"
    command = f"python -m zoedam_lib bench --paper-recipe --steps {cfg.steps} --backbones {','.join(cfg.backbones)}"
    text = paper_markdown(rows, command, machine)
    print(text)
    path = Path(args.markdown)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    head = old.split(PAPER_HEADING)[0].rstrip("\n")
    atomic_write_bytes(path, ((head + "\n\n" if head else "") + text).encode("utf-8"))
    print(f"wrote {path} (section '{PAPER_HEADING}')")
    return 0
