"""``python -m zoedam_lib bench``: run the benchmark (:mod:`zoedam_lib.bench`), print its tables and write them
under the run folder (``--out``, default ``runs/bench``).

The committed ``docs/benchmarks.md`` and ``docs/benchmarks.json`` record the full benchmark the README
quotes; a command must not replace them unless told to (a ``--quick`` run used to overwrite them
with its two-minute table). ``--update-docs`` writes them as well, and is refused for ``--quick``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path

from zoedam_lib.bench.report import markdown
from zoedam_lib.bench.runner import PAPER_HEADING, collect, machine_info
from zoedam_lib.utils.atomic import atomic_write_bytes, atomic_write_json
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.output_dirs import ensure_output_dir
from zoedam_lib.utils.paths import display_path, project_root

DOCS_FILES = ("docs/benchmarks.json", "docs/benchmarks.md")  # the recorded full benchmark, in the checkout


def bench_targets(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """(JSON, markdown) paths to write: ``<out>/benchmarks.*``, and the checkout's ``docs/benchmarks.*`` with
    ``--update-docs``. Checked before the benchmark runs (it takes minutes to an hour)."""
    out = ensure_output_dir(Path(args.out).expanduser(), "--out folder")
    targets = [(out / "benchmarks.json", out / "benchmarks.md")]
    if args.update_docs:
        if args.quick:
            raise ConfigError("--update-docs with --quick would replace the recorded full benchmark in docs/ with a "
                              "quick run's table; run the full benchmark to update docs/, or drop --update-docs "
                              f"(the quick tables go to {display_path(out)})")
        root = project_root(Path(__file__).parent)
        if root is None:
            raise ConfigError("--update-docs writes docs/benchmarks.md of a zoedam checkout, but this zoedam_lib is "
                              "not installed from one (pip install -e . in the checkout); drop --update-docs")
        json_path, md_path = (root / name for name in DOCS_FILES)
        ensure_output_dir(md_path.parent, "docs folder")
        targets.append((json_path, md_path))
    return targets


def run_bench(args: argparse.Namespace) -> int:
    """Entry point of the ``bench`` command."""
    if args.paper_recipe:
        return _run_paper_recipe(args)
    targets = bench_targets(args)
    command = "python -m zoedam_lib bench" + (" --quick" if args.quick else "") + (" --vitb" if args.vitb else "") \
        + (" --official PATH" if args.official else "")
    out = collect(args.quick, args.vitb, official=args.official)
    text = markdown(out, command)
    print(text)
    for json_path, md_path in targets:
        atomic_write_json(json_path, out)
        page = text
        if md_path.is_file() and PAPER_HEADING in (old := md_path.read_text(encoding="utf-8")):  # keep a GPU run's
            page = text.rstrip("\n") + "\n\n" + PAPER_HEADING + old.split(PAPER_HEADING, 1)[1]
        atomic_write_bytes(md_path, page.encode("utf-8"))
        print(f"wrote {display_path(json_path)} and {display_path(md_path)}")
    return 0


def _run_paper_recipe(args: argparse.Namespace) -> int:
    """``bench --paper-recipe``: print the table and put it into each page under its own heading."""
    from zoedam_lib.bench.paper import PaperBenchConfig, paper_markdown, run_paper_recipe

    cfg = PaperBenchConfig(backbones=tuple(b.strip() for b in args.backbones.split(",") if b.strip()),
                           steps=args.steps, warmup=args.warmup, device=args.device)
    pages = [md for _, md in bench_targets(args)]
    rows = run_paper_recipe(cfg)
    m = machine_info()
    machine = f"{m['cuda'] or m['cpu']} ({rows[0]['device']}), torch {m['torch']}, {_dt.date.today().isoformat()}"
    command = f"python -m zoedam_lib bench --paper-recipe --steps {cfg.steps} --backbones {','.join(cfg.backbones)}"
    text = paper_markdown(rows, command, machine)
    print(text)
    for path in pages:
        old = path.read_text(encoding="utf-8") if path.is_file() else ""
        head = old.split(PAPER_HEADING)[0].rstrip("\n")
        atomic_write_bytes(path, ((head + "\n\n" if head else "") + text).encode("utf-8"))
        print(f"wrote {display_path(path)} (section '{PAPER_HEADING}')")
    return 0
