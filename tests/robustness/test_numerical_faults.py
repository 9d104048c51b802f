"""Numerical faults: a NaN/inf loss skips its step (no optimizer update), is counted and logged, and too
many in a row stop the run with a checkpoint and a message naming the likely causes; the losses are
computed in fp32 even under (bf16) autocast."""

from __future__ import annotations

import json
import math

import pytest
import torch
from helpers import make_trainer, ramp_silog_step

from zoedam_lib.losses.affine_invariant import affine_invariant_loss
from zoedam_lib.losses.densedepth import densedepth_loss, normalized_depth
from zoedam_lib.losses.silog import silog_loss
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.depth import valid_depth
from zoedam_lib.utils.errors import NonFiniteLossError

STEPS = 6  # make_trainer's default: 2 epochs × 3 steps


class NaNEvery:
    """Loss function adding ``value`` (NaN, inf, -inf) to the loss of the calls ``pattern`` picks."""

    def __init__(self, pattern, value: float = float("nan")):
        self.pattern, self.value, self.calls = pattern, value, 0

    def __call__(self, model, batch):
        loss, logs = ramp_silog_step(model, batch)
        bad = self.pattern(self.calls)
        self.calls += 1
        return (loss + self.value if bad else loss), logs


def optimizer_steps(trainer) -> set[int]:
    """How many updates AdamW applied (its per-parameter step counters)."""
    return {int(s["step"]) for s in trainer.optimizer.state.values()}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_losses_are_skipped_and_counted(value, tmp_path, capsys):
    trainer = make_trainer(tmp_path, loss_fn=NaNEvery(lambda i: i == 1, value))
    state = trainer.fit()
    assert optimizer_steps(trainer) == {STEPS - 1}  # step 2 updated nothing
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert (state.bad_steps, state.bad_in_row, state.global_step) == (1, 0, STEPS)  # the run went on
    assert state.history[-1]["bad_steps"] == 1
    assert capsys.readouterr().out.splitlines().count(
        "warning: non-finite loss at step 2 skipped (1 in a row, 1 in total)") == 1
    history = json.loads((tmp_path / "history.json").read_text())
    assert [row["bad_steps"] for row in history["epochs"]] == [1, 1]
    losses = [row[2] for row in history["steps"]]
    assert math.isnan(losses[1]) and all(math.isfinite(v) for i, v in enumerate(losses) if i != 1)


@pytest.mark.parametrize("limit", [1, 3])
def test_too_many_non_finite_losses_stop_with_causes(limit, tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=4, max_bad_steps=limit)
    trainer = make_trainer(tmp_path, cfg, loss_fn=NaNEvery(lambda i: i >= 1))
    with pytest.raises(NonFiniteLossError, match="learning rate.*fp16.*invalid ground truth") as err:
        trainer.fit()
    assert trainer.state.bad_steps == limit
    assert str(err.value).startswith(f"{limit} non-finite losses in a row (step {1 + limit}); stopping. Likely "
                                     "causes: a learning rate too high (lower lr), fp16 overflow (use amp='bf16' "
                                     "or 'off'), or invalid ground truth (NaN/inf/negative depths")
    assert str(err.value).endswith(f"The last checkpoint is {tmp_path / 'train_state.pt'}.")
    saved = torch.load(tmp_path / "train_state.pt", weights_only=True)["state"]
    # checkpointed before stopping, at the last finished step: a resume retries the failing one
    assert (saved["bad_steps"], saved["global_step"]) == (limit, limit)


def test_non_finite_losses_not_in_a_row_do_not_stop(tmp_path):
    cfg = TrainConfig(epochs=2, batch_size=4, max_bad_steps=2)
    trainer = make_trainer(tmp_path, cfg, loss_fn=NaNEvery(lambda i: i % 2 == 1))  # every other step
    state = trainer.fit()
    assert (state.bad_steps, state.global_step) == (3, STEPS) and optimizer_steps(trainer) == {3}


# --------------------------------------------------------------------------- fp32 under autocast


# Each loss with the prediction it receives from its network: metric depth, or DenseDepth's normalised depth.
LOSSES = {
    "silog": (lambda pred, depth: silog_loss(pred, depth, valid_depth(depth)), lambda depth: depth),
    "densedepth": (lambda pred, depth: densedepth_loss(pred, depth), normalized_depth),
    "affine": (lambda pred, depth: affine_invariant_loss(pred, depth), lambda depth: depth),
}


@pytest.mark.parametrize("name", LOSSES)
def test_loss_is_computed_in_fp32_under_bf16_autocast(name):
    loss_fn, output = LOSSES[name]
    g = torch.Generator().manual_seed(0)
    depth = 0.5 + 5 * torch.rand(2, 1, 24, 32, generator=g)
    pred = output(depth * torch.exp(0.1 * torch.randn(depth.shape, generator=g))).bfloat16()  # as under autocast
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = loss_fn(pred, depth)
    reference = loss_fn(pred.float(), depth)  # the same inputs, plain fp32, no autocast
    assert loss.dtype == torch.float32 and torch.equal(loss, reference)
