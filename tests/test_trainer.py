"""The shared trainer: learning, logs, and a finished run's resume.

Interruption, resume after a kill, non-finite losses and bad settings are in ``tests/robustness/``.
"""

from __future__ import annotations

import json

import pytest
import torch
from helpers import make_trainer, tiny_zoedam, weights

from zoedam_lib.training import distributed as dist_utils
from zoedam_lib.training.trainer import TrainConfig


def test_loss_decreases_and_logs_are_written(tmp_path):
    cfg = TrainConfig(epochs=4, batch_size=4, lr=2e-3)
    trainer = make_trainer(tmp_path, cfg)
    state = trainer.fit()
    losses = [row["train_loss"] for row in state.history]
    assert losses[-1] < losses[0]
    hist = json.loads((tmp_path / "history.json").read_text())
    assert len(hist["epochs"]) == 4 and len(hist["steps"]) == 4 * 3
    assert (tmp_path / "history.csv").read_text().startswith("epoch,step,train_loss")


def test_finished_run_resume_is_a_no_op(tmp_path):
    first = make_trainer(tmp_path)
    first.fit()
    again = make_trainer(tmp_path, seed=5)
    again.fit(resume=True)
    assert all(torch.equal(v, weights(first.model)[k]) for k, v in weights(again.model).items())


def test_unwrap_returns_the_model_inside_ddp(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        model = tiny_zoedam()
        wrapped = DistributedDataParallel(model)
        assert dist_utils.unwrap(wrapped) is model and dist_utils.rank_and_world() == (0, 1)
    finally:
        dist.destroy_process_group()



class LoggingStep:
    """ramp_silog_step plus logs that differ per batch (its mean depth), like the student's loss terms;
    raises KeyboardInterrupt (Ctrl-C) at call ``stop_at``."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at, self.calls = stop_at, 0

    def __call__(self, model, batch):
        from helpers import ramp_silog_step

        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        loss, _ = ramp_silog_step(model, batch)
        return loss, {"depth_mean": batch["depth"].mean(), "loss_copy": float(loss.detach())}


def test_step_logs_are_written_aligned_with_steps_and_survive_a_resume(tmp_path):
    from zoedam_lib.utils.errors import TrainingInterrupted

    full = make_trainer(tmp_path / "full", loss_fn=LoggingStep())
    full.fit()
    hist = json.loads((tmp_path / "full" / "history.json").read_text())
    assert len(hist["step_logs"]) == len(hist["steps"]) == 6
    assert [row["loss_copy"] for row in hist["step_logs"]] == [step[2] for step in hist["steps"]]
    assert len({row["depth_mean"] for row in hist["step_logs"]}) > 1  # per step, not one value repeated
    with pytest.raises(TrainingInterrupted):
        make_trainer(tmp_path / "cut", loss_fn=LoggingStep(stop_at=5)).fit()  # mid-epoch 2
    resumed = make_trainer(tmp_path / "cut", seed=3, loss_fn=LoggingStep())
    resumed.fit(resume=True)
    assert resumed.state.step_logs == full.state.step_logs
    assert json.loads((tmp_path / "cut" / "history.json").read_text())["step_logs"] == hist["step_logs"]


def test_a_state_saved_before_step_logs_existed_gets_empty_logs_per_step():
    from zoedam_lib.training.trainer import TrainState

    old = TrainState(epoch=1, global_step=2, steps=[[1, 1, 0.5, 1e-3], [2, 1, 0.4, 1e-3]])
    assert old.step_logs == [{}, {}]
