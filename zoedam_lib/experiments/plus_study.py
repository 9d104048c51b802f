"""ZoeDAM+ under Depth Anything's own conditions: student − control against the size of the unlabeled pool.

Notebook 05's single ZoeDAM+ run keeps the conditions under which Depth Anything's authors say plain
self-training fails ("teacher and student share the same pre-training and architecture", DA v1 §3.2)
and under which Noisy Student (Xie et al. 2020) predicts nothing: a teacher no better informed than
its student, a pool (300 rooms) barely larger than the labeled set (391), and 200-image test sets that
cannot resolve the few-per-cent gains of DA v1 Table 9. This study changes the conditions, not the knobs:

* **teacher**: camera-aware ZoeDAM-S trained ``teacher_epochs`` (twice the student's schedule at the
  ``cpu`` preset) and pseudo-labelling with flip TTA — Noisy Student's clean, better-trained teacher;
* **pools** of ``pool_sizes`` SynthRooms ``shifted`` rooms (the style ``zeroshot_shifted`` tests; 4,800
  is 12× the labeled set), rendered once into ``study_data``; each pool is a seeded draw from that folder
  (:class:`~zoedam_lib.data.unlabeled.UnlabeledImages`; pools of one seed are independent draws, not
  nested), the largest is the whole folder, and each image is pseudo-labelled once (per-image cache);
* **students** re-initialised from SynthDA as the teacher was (never a copy of it), strong perturbations
  and CutMix on the unlabeled inputs only, DA's 1:2 labeled:unlabeled batches; per seed one **control**,
  the same recipe with the unlabeled loss off (its steps do not depend on the pool);
* **test**: ``zeroshot_shifted`` re-rendered with ``n_test`` rooms (600: a paired 95 % interval of
  about ±0.003), the course's other sets beside it.

Every run resumes where it stopped and a finished one is reused (its evaluation is cached), so the
study can be stopped and started again; :mod:`zoedam_lib.reports.plus_study` turns the results into
the table and the curve (``make zoedam-plus-study``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.synthrooms.domains import DOMAINS
from zoedam_lib.data.synthrooms.generate import generate_domain
from zoedam_lib.experiments.concurrent import run_concurrently
from zoedam_lib.experiments.context import RunContext, setup_run
from zoedam_lib.experiments.recipes import PRESETS
from zoedam_lib.experiments.zoedam import run_zoedam
from zoedam_lib.experiments.zoedam_plus import prepare_teacher, run_zoedam_plus
from zoedam_lib.io.images import IMAGE_EXTENSIONS
from zoedam_lib.semi.student import ZoeDAMPlusLossConfig
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.paths import DEFAULT_SYNTH_FILE, display_path

TEACHER = "teacher"  # results key of the study's teacher
TEST_SET = "zeroshot_shifted"  # the set the conclusion is drawn on: the unlabeled pool's style


@dataclass(frozen=True)
class StudyConfig:
    """What the study runs; the defaults are the documented study (``make zoedam-plus-study``)."""

    pool_sizes: tuple[int, ...] = (300, 1200, 4800)  # unlabeled rooms per student (seeded draws from one folder)
    seeds: tuple[int, ...] = (0, 1)  # student seeds: initialisation of the head, data order, pool draw, CutMix
    n_test: int = 600  # rooms of the re-rendered zeroshot_shifted
    teacher_epochs: int = 6  # the teacher's schedule (the students' is the preset's: cpu 3)
    pseudo_tta: bool = True  # the teacher pseudo-labels with flip TTA
    unlabeled_ratio: int = 2  # unlabeled images per labeled one in a step (DA's 1:2 batches)
    preset: str = "cpu"
    out_dir: str = "runs/zoedam_plus_study"
    study_data: str = "data/synthrooms_study"  # the large pool and test set (rendered on first use)
    data_path: str = DEFAULT_SYNTH_FILE  # the labeled rooms (the course's, same split as every notebook)
    device: str = "auto"
    extra: dict = field(default_factory=dict)  # further recipe settings of every run (tests: tiny trainings)

    def __post_init__(self) -> None:
        sizes, seeds = tuple(self.pool_sizes), tuple(self.seeds)
        if not sizes or any(not isinstance(n, int) or n < 1 for n in sizes) or len(set(sizes)) != len(sizes):
            raise ConfigError(f"pool_sizes must be distinct positive numbers of images, got {self.pool_sizes}")
        if not seeds or len(set(seeds)) != len(seeds) or any(not isinstance(s, int) or s < 0 for s in seeds):
            raise ConfigError(f"seeds must be distinct non-negative integers, got {self.seeds}")
        for name in ("n_test", "teacher_epochs", "unlabeled_ratio"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ConfigError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.n_test < 20:
            raise ConfigError(f"n_test={self.n_test} rooms cannot give a paired interval worth reading; use >= 20")
        if self.preset not in PRESETS:
            raise ConfigError(f"unknown preset {self.preset!r}; expected one of {PRESETS}")
        object.__setattr__(self, "pool_sizes", tuple(sorted(sizes)))
        object.__setattr__(self, "seeds", seeds)

    def runs(self) -> list[tuple[str, int, int | None]]:
        """(results key, seed, pool size or None for the control), in the order they are trained."""
        order = []
        for seed in self.seeds:
            order.append((control_key(seed), seed, None))
            order += [(student_key(n, seed), seed, n) for n in self.pool_sizes]
        return order


def student_key(pool: int, seed: int) -> str:
    return f"student_n{pool}_seed{seed}"


def control_key(seed: int) -> str:
    return f"control_seed{seed}"


def _count_images(folder: Path) -> int:
    return sum(1 for p in folder.glob("*") if p.suffix.lower() in IMAGE_EXTENSIONS) if folder.is_dir() else 0


def study_data(cfg: StudyConfig) -> tuple[Path, Path]:
    """(the unlabeled pool folder, the large zeroshot_shifted file), rendered when missing or too small.

    Item ``i`` of a SynthRooms domain is a pure function of its seed and index, so the pool's first 300
    rooms are the course's pool and the test set's first 200 the course's ``zeroshot_shifted``.
    """
    folder = Path(cfg.study_data)
    pool = folder / DOMAINS["shifted"].file
    if _count_images(pool) < max(cfg.pool_sizes):
        print(f"rendering {max(cfg.pool_sizes)} unlabeled rooms into {display_path(pool)} (one-off)")
        generate_domain("shifted", folder, n=max(cfg.pool_sizes))
    test = folder / DOMAINS[TEST_SET].file
    if test.is_file():
        with NyuMat(test) as data:
            found = len(data)
    if not test.is_file() or found != cfg.n_test:
        print(f"rendering {cfg.n_test} {TEST_SET} rooms into {display_path(test)} (one-off)")
        generate_domain(TEST_SET, folder, n=cfg.n_test)
    return pool, test


def study_context(cfg: StudyConfig, test: Path, verbose: bool = True) -> RunContext:
    """The course's labeled data and split (seed 0) with the large ``zeroshot_shifted`` and, where the course
    has it beside its data, ``zeroshot_wide`` as zero-shot sets (camera-aware runs add the other lenses)."""
    wide = Path(cfg.data_path).parent / DOMAINS["zeroshot_wide"].file
    sets = [test] + ([wide] if wide.is_file() else [])
    return setup_run(cfg.data_path, "paper", 0, cfg.out_dir, cfg.device, cfg.preset, zero_shot=sets, verbose=verbose)


def finished(out_dir: Path, key: str, **expected: object) -> bool:
    """Whether run ``key`` has its results and checkpoint in ``out_dir``, refusing one made with other settings
    (``expected``: recipe options such as ``n_unlabeled``). A finished run is reused, never trained again: a
    resumed teacher would refit its camera head, change its weights and so every pseudo-label."""
    result, checkpoint = out_dir / "results" / f"{key}.json", out_dir / "checkpoints" / key / "config.json"
    if not (result.is_file() and checkpoint.is_file()):
        return False
    recipe = json.loads(result.read_text(encoding="utf-8")).get("recipe", {})
    found = {**recipe.get("train", {}), **recipe.get("options", {})}
    other = {k: (found.get(k), v) for k, v in expected.items() if found.get(k) != v}
    if other:
        raise ConfigError(f"{display_path(result)} was made with other settings ("
                          + ", ".join(f"{k}: {a!r}, not {b!r}" for k, (a, b) in other.items())
                          + "): give the study another --out, or delete that run to train it again")
    print(f"{key}: finished earlier, reused ({display_path(result)})")
    return True


def train_teacher(ctx: RunContext, cfg: StudyConfig) -> Path:
    """The study's teacher (``checkpoints/teacher``), trained or resumed: camera-aware ZoeDAM-S from SynthDA."""
    if finished(ctx.out_dir, TEACHER, epochs=cfg.teacher_epochs, camera="canonical"):
        return ctx.out_dir / "checkpoints" / TEACHER
    run_zoedam(ctx, "vits", camera="canonical", key=TEACHER, resume=True, **{**cfg.extra, "epochs": cfg.teacher_epochs})
    return ctx.out_dir / "checkpoints" / TEACHER


def _settings(cfg: StudyConfig, n: int) -> dict:
    return {**cfg.extra, "student_init": "pretrained", "unlabeled_ratio": cfg.unlabeled_ratio,
            "pseudo_tta": cfg.pseudo_tta, "n_unlabeled": n}


def _call(ctx: RunContext, teacher: Path, pool: Path, cfg: StudyConfig, key: str, seed: int, n: int | None):
    settings = _settings(cfg, min(cfg.pool_sizes) if n is None else n)  # the control ignores its pool
    loss = ZoeDAMPlusLossConfig(unlabeled_weight=0.0) if n is None else ZoeDAMPlusLossConfig()
    return partial(run_zoedam_plus, replace(ctx, seed=seed), str(teacher), [str(pool)], "cache", True,
                   loss_config=loss, key=key, **settings)


def run_study(cfg: StudyConfig) -> Path:
    """Render the data, train the teacher, then every control and student two at a time; returns ``out_dir``."""
    pool, test = study_data(cfg)
    ctx = study_context(cfg, test)
    teacher = train_teacher(ctx, cfg)
    for seed in cfg.seeds:  # every pseudo-label once: the largest pool holds the smaller ones
        prepare_teacher(replace(ctx, seed=seed), str(teacher), [str(pool)], "cache",
                        **_settings(cfg, max(cfg.pool_sizes)))
    runs = [(key, seed, n) for key, seed, n in cfg.runs()
            if not finished(ctx.out_dir, key, n_unlabeled=_settings(cfg, n or min(cfg.pool_sizes))["n_unlabeled"],
                            unlabeled_ratio=cfg.unlabeled_ratio, seed=seed)]
    for k in range(0, len(runs), 2):  # two runs side by side on a CPU's two cores; progress after each pair
        pair = runs[k:k + 2]
        run_concurrently({key: _call(ctx, teacher, pool, cfg, key, seed, n) for key, seed, n in pair}, ctx.device)
    return ctx.out_dir
