"""Solutions of notebook 06's exercises (results): which conclusions survive another seed, a row of your own.

Both read what the training notebooks wrote (``<out_dir>/results/*.json`` and their per-image CSVs);
the second also runs ``python -m zoedam_lib eval``, into ``<out_dir>/exercises/`` only.
"""

from __future__ import annotations

import os
from pathlib import Path

from zoedam_lib.cli import main as cli
from zoedam_lib.experiments.results import LABELS, TABLE2, TABLE3, load_results, per_image_rows
from zoedam_lib.reports.page import COMPARISONS, table_markdown
from zoedam_lib.solutions import exercise_dir, nb04
from zoedam_lib.solutions.common import paired_gap, report, stored
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE

TEST_PREPARE = nb04.SHRINK  # tiny trainings for tests/test_solutions.py


def seed_dir(out_dir: str | os.PathLike, seed: int) -> Path:
    """Where ``make demo-seeds`` puts seed ``seed``'s run beside ``runs/demo``: ``runs/seeds/seed<seed>``."""
    return Path(out_dir).parent / "seeds" / f"seed{seed}"


def prepare(data_path: str | os.PathLike, out_dir: str | os.PathLike, other_seed: int = 1,
            **recipe: object) -> None:
    """What the exercises read, reduced to notebook 04's two models: its run with seed 0 in ``out_dir`` and with
    ``other_seed`` where ``make demo-seeds`` puts it (tests/test_solutions.py, on tiny data)."""
    for seed, folder in ((0, Path(out_dir)), (other_seed, seed_dir(out_dir, other_seed))):
        nb04.prepare(data_path, folder, seed=seed, ablation_epochs=0, **recipe)


def exercise_1(out_dir: str | os.PathLike = "runs/demo", other_dir: str | os.PathLike | None = None,
               other_seed: int = 1, key: str = "abs_rel", **_: object) -> dict[str, object]:
    """Which conclusions keep their sign with ``seed=1``? Every paired comparison of the results page
    (``reports.page.COMPARISONS``), on every set both runs scored, in each run; a conclusion is
    *kept* when the sign of A − B is the same in both, and *held* when both intervals also exclude 0.

    ``other_dir``: the seed-1 run (notebooks 02–05 with ``-p seed 1 -p out_dir …``); default
    ``make demo-seeds``'s ``runs/seeds/seed1`` beside ``out_dir``. Seeds differ in split as well, so the
    two runs are compared by their conclusions, never image by image.
    """
    runs = {"this run": Path(out_dir), "other run": Path(other_dir or seed_dir(out_dir, other_seed))}
    records = {name: load_results(stored(folder, "results", "02–05").parent) for name, folder in runs.items()}
    seeds = {name: {int(r["seed"]) for r in recs.values()} for name, recs in records.items()}
    if seeds["this run"] & seeds["other run"]:
        raise ConfigError(f"{runs['other run']} holds runs of seed(s) {sorted(seeds['other run'])}, as {out_dir} "
                          "does: a conclusion is tested by a run of another seed")
    found: dict[str, object] = {}
    kept = held = 0
    for a, b, question in COMPARISONS:
        if not all(a in recs and b in recs for recs in records.values()):
            continue
        for eval_set in _common_sets(a, b, records.values()):
            gaps = [paired_gap(per_image_rows(runs[name], recs[a], eval_set), per_image_rows(runs[name], recs[b],
                                                                                              eval_set), key)
                    for name, recs in records.items()]
            same = (gaps[0].mean > 0) == (gaps[1].mean > 0)
            both = same and all(g.excludes_zero() for g in gaps)
            kept, held = kept + same, held + both
            verdict = "held (same sign, both supported)" if both else "kept sign" if same else "sign flipped"
            found[f"{question} · {eval_set}"] = (f"{LABELS.get(a, a)} − {LABELS.get(b, b)}: "
                                                 + " · ".join(f"seed {min(seeds[n])} {g.mean:+.3f} "
                                                              f"[{g.low:+.3f}, {g.high:+.3f}]"
                                                              for n, g in zip(records, gaps, strict=True))
                                                 + f" → {verdict}")
    if not found:
        raise ConfigError(f"no comparison of reports.page.COMPARISONS has both models in {runs['this run']} and "
                          f"{runs['other run']}: run notebooks 02–05 into both")
    n = len(found)
    found["comparisons that kept their sign"] = f"{kept} of {n}"
    found["comparisons held (same sign, both intervals exclude 0)"] = f"{held} of {n}"
    return report(found)


def _common_sets(a: str, b: str, runs) -> list[str]:
    """The evaluation sets both models were scored on in every run: the test split and shared zero-shot sets."""
    runs = list(runs)
    shared = [set(recs[a].get("zero_shot", {})) & set(recs[b].get("zero_shot", {})) for recs in runs]
    return ["test", *sorted(set.intersection(*shared))]


def exercise_2(data_path: str | os.PathLike = DEFAULT_SYNTH_FILE, split: str = "paper", seed: int = 0,
               out_dir: str | os.PathLike = "runs/demo", device: str = "auto", preset: str = "auto",
               checkpoint: str = "checkpoints/zoedam_vits", name: str = "zoedam_vits_no_flip_tta",
               flip_tta: bool = False, **_: object) -> dict[str, object]:
    """A checkpoint through ``python -m zoedam_lib eval`` gets a row in Table 3. Here: notebook 04's ZoeDAM-S
    evaluated *without* flip TTA, under its own ``--name`` (without one, eval names the results after the
    checkpoint's folder: ``--out runs/demo`` would replace the trained model's own results file).

    This writes to ``exercises/06_eval``, not into ``out_dir``, and prints Table 3 as the notebook builds it
    from both folders; ``--out runs/demo --name …`` and a re-run of notebook 06 give the same row.
    """
    path = stored(out_dir, checkpoint, "04") if not Path(checkpoint).is_absolute() else Path(checkpoint)
    target = exercise_dir(out_dir, "06_eval")
    code = cli(["eval", "--checkpoint", str(path), "--data", str(data_path), "--split", split, "--seed", str(seed),
                "--out", str(target), "--device", device, "--preset", preset, "--name", name]
               + ([] if flip_tta else ["--no-flip-tta"]))
    if code != 0:
        raise RuntimeError(f"python -m zoedam_lib eval stopped with exit code {code} (its message is above)")
    records = {**load_results(out_dir), **load_results(target)}
    extra = tuple(k for k in records if k not in TABLE2 + TABLE3 and not k.startswith("ablation_"))
    table = table_markdown(records, TABLE3 + extra)
    print(table)
    label = LABELS.get(name, name)
    found = {"Table 3 row": next(line for line in table.splitlines() if line.startswith(f"| {label} |")),
             f"test AbsRel, {name}": records[name]["metrics"]["abs_rel"]}
    if path.name in records and path.name != name:
        found[f"test AbsRel, {path.name} (its own run)"] = records[path.name]["metrics"]["abs_rel"]
    return report(found)
