"""What makes a training run *this* run: the settings ``resume`` compares with the saved run.

A resumed run restores weights, optimizer, schedule and RNG from ``train_state.pt``; every
setting that shapes the optimisation or the data must therefore be the saved run's, or the run
silently becomes a mixture of two (and its config.json and results record only the second).
The identity is a flat dict of plain values: the :class:`TrainConfig` minus monitoring-only
fields, the steps per epoch, and what the experiment adds (data file size and fingerprint,
split, sizes, model config, loss options). A difference is refused with ``key: old → new``,
unless the key is overridden on purpose (``--resume-override``), which the run's history records.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from zoedam_lib.utils.errors import CheckpointError, ConfigError

# TrainConfig fields that never change the weights: how often to checkpoint, how many loader
# workers (items are a pure function of (seed, epoch, index)), how many bad steps to tolerate.
MONITORING = ("checkpoint_every", "num_workers", "max_bad_steps")
# Settings the saved one-cycle schedule and data order are laid out with when the run starts: an
# override could not be honoured, so these are refused even when overridden.
FIXED_ON_RESUME = ("epochs", "max_steps_per_epoch", "steps_per_epoch", "pct_start", "div_factor",
                   "final_div_factor", "cycle_momentum", "base_momentum", "max_momentum")


def plain(identity: dict[str, Any]) -> dict[str, Any]:
    """``identity`` as JSON values (tuples → lists), so a saved and a fresh one compare equal."""
    return json.loads(json.dumps(identity, default=str))


def train_identity(config: Any, steps_per_epoch: int) -> dict[str, Any]:
    """The trainer's part: its TrainConfig (dataclass) without the monitoring fields, and the steps per epoch."""
    fields = {k: v for k, v in dataclasses.asdict(config).items() if k not in MONITORING}
    return plain({**fields, "steps_per_epoch": steps_per_epoch})


def check_resume(path: Path, saved: dict[str, Any], current: dict[str, Any],
                 overrides: tuple[str, ...]) -> dict[str, list[Any]]:
    """The accepted changes ``{key: [old, new]}`` (all overridden), or a CheckpointError listing the others.

    Keys recorded on one side only (a checkpoint from an older version) are not compared.
    """
    unknown = sorted(set(overrides) - set(current))
    if unknown:
        raise ConfigError(f"unknown --resume-override key(s) {unknown}; the run's settings are {sorted(current)}")
    changes = {k: [saved[k], current[k]] for k in current if k in saved and saved[k] != current[k]}
    fixed = [k for k in changes if k in FIXED_ON_RESUME]
    refused = sorted(k for k in changes if k not in overrides or k in fixed)
    if not refused:
        return changes
    listing = "".join(f"  {k}: {changes[k][0]!r} → {changes[k][1]!r}\n" for k in refused)
    text = f"cannot resume from {path}: this run's settings differ from the saved run's:\n{listing}"
    if fixed:
        text += (f"{', '.join(fixed)} cannot be overridden: the one-cycle learning-rate schedule and the data "
                 "order are laid out over the whole run when it starts. ")
    text += "Resume with the saved settings, or start a new run in a new output directory."
    free = [k for k in refused if k not in fixed]
    if free:
        text += (f" To continue this run under the new value(s) on purpose, pass --resume-override {' '.join(free)} "
                 f"(resume_override={tuple(free)!r}); the change is recorded in the run's history.")
    raise CheckpointError(text)


def honour_overrides(optimizer: Any, configured: list[tuple[float, float]]) -> None:
    """Give a restored optimizer this run's (overridden) peak learning rates and weight decay.

    ``configured`` holds each param group's (peak lr, weight decay) as this run built them. The
    restored groups carry the saved run's: each group's one-cycle rates (current, initial, peak,
    final) are rescaled to the new peak, which puts the new lr at the same point of the same
    schedule, and the weight decay is replaced. Unchanged settings leave the groups untouched.
    """
    for group, (peak, weight_decay) in zip(optimizer.param_groups, configured, strict=True):
        ratio = peak / group["max_lr"]
        if ratio != 1.0:
            for key in ("lr", "initial_lr", "max_lr", "min_lr"):
                group[key] *= ratio
        group["weight_decay"] = weight_decay
