"""The files a training run keeps: ``train_state.pt`` (everything a resume needs) and ``history.json``/``.csv``.

Split from :mod:`.trainer` by job: the trainer steps and schedules, this module writes and reads
what survives the process. Writes are atomic (write then rename), so a crash or a full disk
leaves the previous complete file; a read checks the file's structure and the run's identity
before anything is restored, so a damaged or foreign file changes nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from zoedam_lib.checkpoints.loading import check_finite
from zoedam_lib.training.identity import check_resume, honour_overrides, train_identity
from zoedam_lib.training.train_config import TrainConfig, TrainState, check_saved_run
from zoedam_lib.utils.atomic import atomic_path, atomic_write_json, remove_stale_temporaries
from zoedam_lib.utils.errors import CheckpointError, refusal_reason
from zoedam_lib.utils.paths import display_path
from zoedam_lib.utils.seeding import rng_state, set_rng_state

if TYPE_CHECKING:
    from zoedam_lib.training.trainer import Trainer

STATE_FILE = "train_state.pt"
HISTORY_FILES = ("history.json", "history.csv")


def save_state(trainer: Trainer) -> None:
    """Write ``trainer``'s full training state to its ``train_state.pt`` atomically, then its history."""
    payload = {
        "model": trainer.model.state_dict(), "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(), "scaler": trainer.scaler.state_dict(),
        "rng": rng_state(), "state": dataclasses.asdict(trainer.state),
        "config": dataclasses.asdict(trainer.config), "identity": trainer.identity, "world_size": trainer.world,
    }
    for name in (STATE_FILE, *HISTORY_FILES):  # a killed writer's leftovers: each as large as the file
        remove_stale_temporaries(trainer.run_dir / name)
    # a file object, not the path: then a full disk is an OSError torch's error keeps (see utils.atomic)
    with atomic_path(trainer.state_path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)
    write_history(trainer.run_dir, trainer.state)


def restore_state(trainer: Trainer, path: Path) -> dict[str, Any]:
    """Restore ``trainer``'s model, optimizer, scheduler, scaler, RNG and progress from ``path``.

    Returns the overridden settings (``{key: (old, new)}``). Nothing is restored unless the file
    loads without running code, has the structure this code writes, finite weights, the run's
    identity (or accepted overrides) and the same number of processes.
    """
    try:
        payload = torch.load(path, map_location=trainer.device, weights_only=True)
    except Exception as exc:  # (torch's own advice for a refused pickle, weights_only=False, is left out)
        reason = refusal_reason(exc) if isinstance(exc, pickle.UnpicklingError) else str(exc)[:200]
        raise CheckpointError(f"cannot resume from {path}: {exc.__class__.__name__}: {reason}. The "
                              "file is damaged; delete it to start over (checkpoints are written atomically, "
                              "so this should only happen after disk corruption).") from None
    check_saved_run(payload, path)
    saved = payload.get("identity") or train_identity(TrainConfig(**payload["config"]), trainer.steps_per_epoch)
    changes = check_resume(path, saved, trainer.identity, trainer.resume_override)
    check_finite(payload["model"], f"{path} (the run to resume)")
    if payload.get("world_size", 1) != trainer.world:
        raise CheckpointError(f"{path} was written by a run with {payload.get('world_size')} process(es); "
                              f"resume it with the same number (this run has {trainer.world})")
    trainer.model.load_state_dict(payload["model"])
    configured = [(peak, g["weight_decay"]) for peak, g in zip(trainer.peak_lrs, trainer.optimizer.param_groups,
                                                                      strict=True)]
    trainer.optimizer.load_state_dict(payload["optimizer"])
    trainer.scheduler.load_state_dict(payload["scheduler"])
    trainer.scaler.load_state_dict(payload["scaler"])
    set_rng_state(payload["rng"])
    trainer.state = TrainState(**payload["state"])
    if changes:
        honour_overrides(trainer.optimizer, configured)
        trainer.state.overrides.append({"global_step": trainer.state.global_step, "changes": changes})
    return changes


def resumed_line(path: Path, state: TrainState, epochs: int, changes: dict[str, Any]) -> str:
    """What a resume says: where it continues (or that nothing is left), and each override."""
    where = (f"all {epochs} epochs were done, nothing left to train" if state.epoch >= epochs else
             f"epoch {state.epoch + 1}, step {state.step_in_epoch}")
    return (f"resumed from {display_path(path)}: {where}"
            + "".join(f"; {k} overridden: {old!r} → {new!r}" for k, (old, new) in changes.items()))


def write_history(run_dir: Path, state: TrainState) -> None:
    """``history.json`` (epochs, steps, step logs, overrides) and ``history.csv`` (one row per epoch), atomically."""
    overrides = {"resumed_with_overrides": state.overrides} if state.overrides else {}
    atomic_write_json(run_dir / "history.json", {"epochs": state.history, "steps": state.steps,
                                                 "step_logs": state.step_logs, **overrides})
    if state.history:
        keys = list(dict.fromkeys(k for row in state.history for k in row))
        with atomic_path(run_dir / "history.csv") as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(state.history)
