"""The trainer every learned model in the project uses (ZoeDAM, DenseDepth, the ZoeDAM+ student).

ZoeDepth's recipe: AdamW, OneCycleLR (div_factor 1, final_div_factor 1e4, pct_start 0.7, cycled
momentum), per-part learning rates, gradient clipping at 0.1, mixed precision. Around it, what
keeps a user's hours safe: atomic checkpoints (``train_state.pt``, write then rename) at epoch
ends and every ``checkpoint_every`` steps; ``resume`` continues exactly where it stopped (same
data order, optimizer, scheduler, RNG) and refuses a run whose settings differ from the saved
one's (:mod:`.identity`); SIGINT/SIGTERM save a whole step and exit with a resume hint
(:mod:`.interrupts`); non-finite losses skip the step and, too many in a row, stop with likely
causes. Under ``torchrun`` it runs DDP and only rank 0 writes. What is written and read back
(``train_state.pt``, the history) is :mod:`.state_files`'.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset

from zoedam_lib.training import distributed as dist_utils
from zoedam_lib.training.identity import plain, train_identity
from zoedam_lib.training.interrupts import InterruptGuard
from zoedam_lib.training.state_files import STATE_FILE, restore_state, resumed_line, save_state, write_history
from zoedam_lib.training.train_config import TrainConfig, TrainState
from zoedam_lib.utils.amp import autocast_context, resolve_amp
from zoedam_lib.utils.errors import ConfigError, NonFiniteLossError, TrainingInterrupted
from zoedam_lib.utils.output_dirs import ensure_output_dir
from zoedam_lib.utils.paths import display_path
from zoedam_lib.utils.progress import tqdm

__all__ = ["STATE_FILE", "LossFn", "TrainConfig", "TrainState", "Trainer"]

LossFn = Callable[[nn.Module, dict[str, torch.Tensor]], tuple[torch.Tensor, dict[str, float]]]
ValidateFn = Callable[[nn.Module], dict[str, float]]


class Trainer:
    """Train ``model`` on ``train_set`` with ``loss_fn``; checkpoints and logs go to ``run_dir``.

    Args:
        model: the network (unwrapped; DDP wrapping happens inside under torchrun).
        loss_fn: ``(model, batch) -> (loss, logs)``; called under autocast.
        train_set: dataset indexed by ``(position, epoch)`` keys (see ``EpochBatchSampler``).
        config: optimisation settings.
        run_dir: folder for ``train_state.pt``, ``history.json`` and ``history.csv``.
        param_groups: AdamW parameter groups with their peak ``lr`` (default: one group at ``config.lr``).
        validate_fn: per-epoch validation returning metrics (rank 0 only).
        device: where to train.
        run_identity: what else defines the run (data fingerprint, split, sizes, model and loss
            settings; flat plain values), saved in every checkpoint and compared on resume.
        resume_override: identity keys whose new values a resume accepts on purpose (recorded).
        wrap: what the step runs ``model`` through (e.g. :func:`zoedam_lib.inference.exact.prepare_training`,
            ``torch.compile``); it must hold no weights of its own, as checkpoints are ``model``'s.
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, train_set: Dataset, config: TrainConfig,
                 run_dir: str | Path, param_groups: list[dict] | None = None,
                 validate_fn: ValidateFn | None = None, device: str | torch.device = "cpu",
                 progress: bool = True, run_identity: dict[str, Any] | None = None,
                 resume_override: tuple[str, ...] = (),
                 wrap: Callable[[nn.Module], nn.Module] | None = None) -> None:
        self.model, self.loss_fn, self.train_set, self.config = model, loss_fn, train_set, config
        self.run_dir = Path(run_dir)
        self.device = torch.device(device)
        self.validate_fn, self.progress = validate_fn, progress
        self.rank, self.world = dist_utils.rank_and_world()
        self.model.to(self.device)
        groups = param_groups or [{"params": list(model.parameters()), "lr": config.lr}]
        self.peak_lrs = [g["lr"] for g in groups]
        # fused: one kernel per parameter group instead of a loop over ~300 tensors (the default on CPUs)
        # or foreach's multi-tensor ops; the same update up to float rounding
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay, fused=True)
        self.steps_per_epoch = _steps_per_epoch(len(train_set), config, self.world)
        if config.epochs > 0 and self.steps_per_epoch == 0:
            raise ConfigError(f"the training split has {len(train_set)} images: not one full batch of "
                              f"{config.batch_size} × {self.world} process(es); lower batch_size or use more data")
        total = max(1, config.epochs * self.steps_per_epoch)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
            self.optimizer, max_lr=self.peak_lrs, total_steps=total,
            pct_start=_warmup_fraction(config.pct_start, total),
            div_factor=config.div_factor, final_div_factor=config.final_div_factor,
            cycle_momentum=config.cycle_momentum, base_momentum=config.base_momentum,
            max_momentum=config.max_momentum)
        self.amp_dtype = resolve_amp(config.amp, self.device)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.state = TrainState()
        self.identity = {**train_identity(config, self.steps_per_epoch), **plain(run_identity or {})}
        self.resume_override = tuple(resume_override)
        self.guard = InterruptGuard()
        self.net: nn.Module = wrap(self.model) if wrap is not None else self.model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(self.net, device_ids=ids)

    # ------------------------------------------------------------------ public

    @property
    def state_path(self) -> Path:
        return self.run_dir / STATE_FILE

    def fit(self, resume: bool = False) -> TrainState:
        """Train for ``config.epochs``; with ``resume`` continue from ``run_dir/train_state.pt`` if present."""
        if self.rank == 0:
            ensure_output_dir(self.run_dir, "run folder")  # now, not at the first checkpoint
        if resume and self.state_path.exists():
            self.load_checkpoint(self.state_path)
        elif resume and self.rank == 0:
            print(f"resume: no checkpoint at {display_path(self.state_path)}; starting from scratch")
        with self.guard.installed():
            try:
                while self.state.epoch < self.config.epochs:
                    self._run_epoch()
            except KeyboardInterrupt:
                with self.guard.shielded():  # a second Ctrl-C must not cut the checkpoint it waits for
                    self.save_checkpoint()
                raise TrainingInterrupted(
                    f"training interrupted at epoch {self.state.epoch + 1}, step {self.state.step_in_epoch}; "
                    f"checkpoint saved to {self.state_path}. Run the same command with resume enabled "
                    "(--resume, or resume=True) to continue exactly where it stopped.") from None
        if self.rank == 0 and not (self.run_dir / "history.json").exists():
            self._write_logs()  # a finished run resumed after its history was deleted: the results point at it
        return self.state

    def step(self, batch: dict[str, torch.Tensor]) -> float | None:
        """One optimisation step on ``batch`` exactly as :meth:`fit` takes it (benchmarks time this); the loss."""
        return self._step(batch)

    def save_checkpoint(self) -> None:
        """Write the full training state atomically (rank 0 only; :func:`.state_files.save_state`)."""
        if self.rank == 0:
            save_state(self)

    def load_checkpoint(self, path: Path) -> None:
        """Restore model, optimizer, scheduler, scaler, RNG and progress from ``path`` (checked first)."""
        changes = restore_state(self, path)
        if changes:
            self.save_checkpoint()  # the new values become the run's settings, also if nothing is left to train
        if self.rank == 0:
            print(resumed_line(path, self.state, self.config.epochs, changes))

    # ------------------------------------------------------------------ internals

    def _run_epoch(self) -> None:
        from zoedam_lib.data.datasets import EpochBatchSampler

        cfg, st = self.config, self.state
        sampler = EpochBatchSampler(len(self.train_set), cfg.batch_size, cfg.seed, st.epoch, self.rank, self.world,
                                    start_step=st.step_in_epoch, max_steps=cfg.max_steps_per_epoch)
        loader = DataLoader(self.train_set, batch_sampler=sampler, num_workers=cfg.num_workers,
                            pin_memory=self.device.type == "cuda", persistent_workers=False)
        self.net.train()
        start = time.perf_counter()
        bar = tqdm(loader, total=len(sampler), desc=f"epoch {st.epoch + 1}/{cfg.epochs}", leave=False,
                   disable=not self.progress or self.rank != 0)
        for batch in bar:
            loss = self._step(batch)
            if loss is not None:
                bar.set_postfix(loss=f"{loss:.4f}")
            if cfg.checkpoint_every and st.global_step % cfg.checkpoint_every == 0 \
                    and st.step_in_epoch < self.steps_per_epoch:
                self.save_checkpoint()
        row = {"epoch": st.epoch + 1, "step": st.global_step,
               "train_loss": st.epoch_loss_sum / max(1, st.epoch_loss_count),
               "lr": self.optimizer.param_groups[-1]["lr"], "bad_steps": st.bad_steps,
               "seconds": round(time.perf_counter() - start, 2)}
        if self.validate_fn is not None:
            if self.rank == 0:
                row.update({f"val_{k}": v for k, v in self.validate_fn(self.model).items()})
            dist_utils.barrier()
        with self.guard.atomic():
            st.history.append(row)
            st.epoch, st.step_in_epoch, st.epoch_loss_sum, st.epoch_loss_count = st.epoch + 1, 0, 0.0, 0
        self.save_checkpoint()
        if self.rank == 0 and self.progress:
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))

    def _step(self, batch: dict[str, torch.Tensor]) -> float | None:
        cfg = self.config
        batch = {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                 for k, v in batch.items()}
        with autocast_context(self.device, self.amp_dtype):
            loss, logs = self.loss_fn(self.net, batch)
        finite = dist_utils.all_ranks_true(bool(torch.isfinite(loss).item()), self.device)
        if finite:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            if cfg.clip_grad > 0:
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
        with self.guard.atomic():  # a signal waits until the update and its counters are both done
            return self._update(loss, finite, logs)

    def _update(self, loss: torch.Tensor, finite: bool, logs: dict[str, float]) -> float | None:
        """Apply the step (or count it as skipped) and advance the counters: one indivisible unit."""
        cfg, st = self.config, self.state
        value = None
        if finite:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            value = float(loss.item())
            st.bad_in_row = 0
            st.epoch_loss_sum += value
            st.epoch_loss_count += 1
        else:
            st.bad_steps += 1
            st.bad_in_row += 1
            if self.rank == 0:
                print(f"warning: non-finite loss at step {st.global_step + 1} skipped "
                      f"({st.bad_in_row} in a row, {st.bad_steps} in total)")
            if st.bad_in_row >= cfg.max_bad_steps:
                self.save_checkpoint()
                raise NonFiniteLossError(
                    f"{st.bad_in_row} non-finite losses in a row (step {st.global_step + 1}); stopping. Likely "
                    "causes: a learning rate too high (lower lr), fp16 overflow (use amp='bf16' or 'off'), or "
                    "invalid ground truth (NaN/inf/negative depths that the mask does not remove). The last "
                    f"checkpoint is {self.state_path}.")
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        st.step_in_epoch += 1
        st.global_step += 1
        st.steps.append([st.global_step, st.epoch + 1, value if value is not None else math.nan,
                         self.optimizer.param_groups[-1]["lr"]])
        st.step_logs.append({k: float(v) for k, v in logs.items()})
        return value

    def _write_logs(self) -> None:
        write_history(self.run_dir, self.state)


def _warmup_fraction(pct_start: float, total_steps: int) -> float:
    """``pct_start``, unless the warm-up would end exactly one step in: OneCycleLR then divides by zero
    (its first phase spans ``pct_start · total − 1 = 0`` steps), so such a short run warms up for two."""
    if abs(pct_start * total_steps - 1) < 1e-9 and total_steps > 2:
        return 2 / total_steps
    return pct_start


def _steps_per_epoch(n: int, config: TrainConfig, world: int) -> int:
    from zoedam_lib.data.datasets import EpochBatchSampler

    return EpochBatchSampler.steps_per_epoch(n, config.batch_size, world, config.max_steps_per_epoch)



