"""The shared trainer: learning, logs, and a finished run's resume.

Interruption, resume after a kill, non-finite losses and bad settings are in ``tests/robustness/``.
"""

from __future__ import annotations

import json

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
