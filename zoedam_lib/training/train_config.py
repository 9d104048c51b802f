"""The trainer's settings (:class:`TrainConfig`) and the progress it saves in every checkpoint (:class:`TrainState`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from zoedam_lib.utils.amp import AMP_CHOICES
from zoedam_lib.utils.errors import CheckpointError, ConfigError
from zoedam_lib.utils.seeding import check_seed


@dataclass
class TrainConfig:
    """Optimisation settings; the defaults are the official ZoeDepth / Depth Anything NYU recipe."""

    epochs: int = 5  # passes over the training split (0: no training)
    batch_size: int = 4  # images per step and process
    lr: float = 1.61e-4  # peak learning rate of the metric head (other parts divide it by their factor)
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    div_factor: float = 1.0  # OneCycle start lr = lr / div_factor (1: no warm-up, as ZoeDepth)
    final_div_factor: float = 1e4  # OneCycle final lr = start lr / final_div_factor
    pct_start: float = 0.7  # fraction of steps spent increasing the lr
    cycle_momentum: bool = True  # cycle Adam's beta1 between base and max momentum
    base_momentum: float = 0.85
    max_momentum: float = 0.95
    clip_grad: float = 0.1  # max gradient norm (0: no clipping)
    amp: str = "auto"  # auto | off | bf16 | fp16 (auto: bf16/fp16 on CUDA; bf16 on CPUs with native bf16, else fp32)
    num_workers: int = 0  # DataLoader workers (0 keeps CPU runs deterministic and simple)
    seed: int = 0  # data order and augmentation seed
    max_steps_per_epoch: int | None = None  # cap steps per epoch (quick runs, tests); None: no cap
    checkpoint_every: int = 0  # also checkpoint every N steps (0: only at epoch ends)
    max_bad_steps: int = 20  # consecutive non-finite losses before stopping

    def __post_init__(self) -> None:
        checks = {"epochs": self.epochs >= 0, "batch_size": self.batch_size >= 1, "lr": self.lr > 0,
                  "weight_decay": self.weight_decay >= 0, "clip_grad": self.clip_grad >= 0,
                  "num_workers": self.num_workers >= 0, "checkpoint_every": self.checkpoint_every >= 0,
                  "max_bad_steps": self.max_bad_steps >= 1, "pct_start": 0 < self.pct_start < 1,
                  # 0 used to mean "no cap" by accident (a falsy test): the cap is None or a number of steps
                  "max_steps_per_epoch": self.max_steps_per_epoch is None or self.max_steps_per_epoch >= 1}
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError("invalid training settings: " + ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
                              + " (epochs >= 0, batch_size >= 1, lr > 0, 0 < pct_start < 1, max_steps_per_epoch "
                                "None (no cap) or >= 1)")
        check_seed(self.seed)
        # the name only: whether fp16/bf16 can run depends on the device, which the Trainer checks
        # (validating against the CPU here rejected amp='fp16' for CUDA runs too)
        if self.amp not in AMP_CHOICES:
            raise ConfigError(f"amp must be one of {AMP_CHOICES}, got {self.amp!r}")


@dataclass
class TrainState:
    """Where a run stands; saved in every checkpoint so ``resume`` continues exactly."""

    epoch: int = 0  # epoch in progress (== epochs when done)
    step_in_epoch: int = 0  # next step of that epoch
    global_step: int = 0
    epoch_loss_sum: float = 0.0
    epoch_loss_count: int = 0
    bad_steps: int = 0  # non-finite losses skipped so far
    bad_in_row: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # one row per finished epoch
    steps: list[list[float]] = field(default_factory=list)  # [global_step, epoch, loss, lr]
    overrides: list[dict[str, Any]] = field(default_factory=list)  # settings changed on resume, on purpose
    step_logs: list[dict[str, float]] = field(default_factory=list)  # loss_fn's logs per step, aligned with steps

    def __post_init__(self) -> None:
        # a checkpoint written before step_logs existed: its steps logged nothing (keeps the lists aligned)
        if not self.step_logs:
            self.step_logs = [{} for _ in self.steps]


SAVED_PARTS = ("model", "optimizer", "scheduler", "scaler", "rng", "state", "config")  # what every train state holds


def check_saved_run(payload: Any, path: Any) -> None:
    """A :class:`CheckpointError` unless ``payload`` (a ``train_state.pt`` read with ``weights_only=True``) has the
    structure the Trainer writes: the parts, a state dict of tensors, :class:`TrainState` and :class:`TrainConfig`
    fields of their types, and an epoch within the run. Was: a missing key, a bare tensor or a string epoch
    ended in a raw ``KeyError`` / ``TypeError`` from deep inside the resume."""
    from zoedam_lib.utils.config import from_dict

    try:
        if not isinstance(payload, dict):
            raise ConfigError(f"it holds a {type(payload).__name__}, not the dict of {', '.join(SAVED_PARTS)}")
        missing = [k for k in SAVED_PARTS if k not in payload]
        if missing:
            raise ConfigError(f"it lacks {missing}")
        if not isinstance(payload["model"], dict) or not all(
                isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload["model"].items()):
            raise ConfigError("'model' is not a state dict of tensors")
        bad = [k for k in ("optimizer", "scheduler", "scaler", "rng") if not isinstance(payload[k], dict)]
        if bad:
            raise ConfigError(f"{bad} must be dicts")
        state, config = from_dict(TrainState, payload["state"]), from_dict(TrainConfig, payload["config"])
        if not 0 <= state.epoch <= config.epochs or state.step_in_epoch < 0 or state.global_step < 0:
            raise ConfigError(f"its progress (epoch {state.epoch}, step {state.step_in_epoch}) does not fit its "
                              f"{config.epochs}-epoch run")
    except ConfigError as exc:
        raise CheckpointError(f"cannot resume from {path}: it is not a train state this code wrote ({exc}). Delete "
                              "it to start the run over, or put back the train_state.pt the run wrote.") from None
