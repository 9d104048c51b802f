"""The shared trainer: learning, exact resume, interruption, non-finite losses, logs."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import tiny_zoedam

from zoedam_lib.errors import CheckpointError, ConfigError, NonFiniteLossError, TrainingInterrupted
from zoedam_lib.losses.silog import silog_loss
from zoedam_lib.training.trainer import TrainConfig, Trainer


class RampData(torch.utils.data.Dataset):
    """Images whose brightness encodes a depth ramp: learnable in a few steps."""

    def __init__(self, n: int = 12, size: tuple[int, int] = (28, 35)) -> None:
        g = torch.Generator().manual_seed(0)
        self.depth = 1 + 4 * torch.rand(n, 1, 1, 1, generator=g) * torch.linspace(0.5, 1, size[0]).view(1, 1, -1, 1)
        self.depth = self.depth.expand(n, 1, *size).contiguous()
        self.image = (self.depth / 5).expand(n, 3, *size).contiguous()

    def __len__(self) -> int:
        return len(self.depth)

    def __getitem__(self, key):
        i, _ = key
        return {"image": self.image[i], "depth": self.depth[i], "index": torch.tensor(i)}


def silog_step(model, batch):
    out = model(batch["image"])
    mask = batch["depth"] > 1e-3
    return silog_loss(out, batch["depth"], mask), {}


def make(tmp, cfg=None, seed=0, loss_fn=silog_step, **kw):
    model = tiny_zoedam(seed, img_size=(28, 42))
    cfg = cfg or TrainConfig(epochs=2, batch_size=4, lr=1e-3, checkpoint_every=2)
    return Trainer(model, loss_fn, RampData(), cfg, tmp, param_groups=model.param_groups(cfg.lr, 1, 1, 1),
                   progress=False, **kw)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_loss_decreases_and_logs_are_written(tmp_path):
    cfg = TrainConfig(epochs=4, batch_size=4, lr=2e-3)
    trainer = make(tmp_path, cfg)
    state = trainer.fit()
    losses = [row["train_loss"] for row in state.history]
    assert losses[-1] < losses[0]
    hist = json.loads((tmp_path / "history.json").read_text())
    assert len(hist["epochs"]) == 4 and len(hist["steps"]) == 4 * 3
    assert (tmp_path / "history.csv").read_text().startswith("epoch,step,train_loss")


class InterruptAt:
    """Loss function wrapper raising KeyboardInterrupt at the n-th call (like Ctrl-C)."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, model, batch):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return silog_step(model, batch)


def test_interrupted_run_resumes_to_identical_weights(tmp_path):
    full = make(tmp_path / "full")
    full.fit()
    interrupted = make(tmp_path / "cut", loss_fn=InterruptAt(5))  # mid-epoch 2
    with pytest.raises(TrainingInterrupted, match="resume"):
        interrupted.fit()
    assert interrupted.state.global_step == 4
    resumed = make(tmp_path / "cut", seed=123)  # different init: everything must come from the checkpoint
    resumed.fit(resume=True)
    a, b = weights(full.model), weights(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert full.state.history[-1]["train_loss"] == resumed.state.history[-1]["train_loss"]
    assert full.state.steps == resumed.state.steps


def test_resume_refuses_other_settings(tmp_path):
    make(tmp_path).fit()
    other = make(tmp_path, TrainConfig(epochs=2, batch_size=3))
    with pytest.raises(CheckpointError, match="batch_size=4"):
        other.fit(resume=True)


def test_resume_of_corrupt_checkpoint_is_explained(tmp_path):
    make(tmp_path).fit()
    (tmp_path / "train_state.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot resume"):
        make(tmp_path).fit(resume=True)


def test_finished_run_resume_is_a_no_op(tmp_path):
    first = make(tmp_path)
    first.fit()
    again = make(tmp_path, seed=5)
    again.fit(resume=True)
    assert all(torch.equal(v, weights(first.model)[k]) for k, v in weights(again.model).items())


class NaNEvery:
    def __init__(self, pattern):
        self.pattern, self.calls = pattern, 0

    def __call__(self, model, batch):
        loss, logs = silog_step(model, batch)
        bad = self.pattern(self.calls)
        self.calls += 1
        return (loss * float("nan") if bad else loss), logs


def test_non_finite_losses_are_skipped_and_counted(tmp_path):
    trainer = make(tmp_path, loss_fn=NaNEvery(lambda i: i == 1))
    before = None
    state = trainer.fit()
    assert state.bad_steps == 1 and state.history[-1]["bad_steps"] == 1
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    del before


def test_too_many_non_finite_losses_stop_with_causes(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=4, max_bad_steps=3)
    trainer = make(tmp_path, cfg, loss_fn=NaNEvery(lambda i: i >= 1))
    with pytest.raises(NonFiniteLossError, match="learning rate.*fp16.*invalid ground truth"):
        trainer.fit()
    assert trainer.state.bad_steps == 3


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"epochs": -1}, {"lr": 0}, {"amp": "fp8"}])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ConfigError):
        TrainConfig(**kwargs)


def test_too_small_dataset_is_explained(tmp_path):
    with pytest.raises(ConfigError, match="not one full batch"):
        make(tmp_path, TrainConfig(epochs=1, batch_size=64))


def test_failed_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    trainer = make(tmp_path, TrainConfig(epochs=1, batch_size=4))
    trainer.fit()
    good = (tmp_path / "train_state.pt").read_bytes()

    def broken_save(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        trainer.save_checkpoint()
    assert (tmp_path / "train_state.pt").read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "history.json", "train_state.pt"]
