"""Resume is exact or refused: a signal never splits a step; every setting that shapes the run is compared
with the saved run (old → new in the error); an explicit override is applied for real and recorded.

Trainer-level tests use the tiny ramp data of ``helpers.make_trainer`` (2 epochs × 3 steps); the CLI tests
train a vitt ZoeDAM on a 24-image SynthRooms file for one or two steps.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import h5py
import pytest
import torch
from helpers import InterruptAt, make_trainer, weights

from zoedam_lib.cli import main
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.errors import CheckpointError, ConfigError, TrainingInterrupted

KEY = "zoedam_vitt"


class SignalAfterUpdate:
    """Send SIGTERM to this process right after the n-th optimizer update (a pre-emption at the worst moment:
    the weights have moved, the step is not yet counted)."""

    def __init__(self, trainer, n: int) -> None:
        self.calls, self.n = 0, n
        step = trainer.scaler.step  # GradScaler.step runs optimizer.step

        def stepped(*args, **kwargs):
            out = step(*args, **kwargs)
            self.calls += 1
            if self.calls == self.n:
                os.kill(os.getpid(), signal.SIGTERM)
            return out
        trainer.scaler.step = stepped


def test_signal_during_an_update_is_delivered_after_the_step(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit()
    cut = make_trainer(tmp_path / "cut")
    SignalAfterUpdate(cut, 5)
    with pytest.raises(TrainingInterrupted, match="at epoch 2, step 2;"):
        cut.fit()
    saved = torch.load(cut.state_path, weights_only=True)["state"]
    assert saved["global_step"] == 5  # the update of step 5 and its count are saved together
    resumed = make_trainer(tmp_path / "cut", seed=7)
    resumed.fit(resume=True)
    a, b = weights(full.model), weights(resumed.model)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert resumed.state.steps == full.state.steps


def test_monitoring_settings_do_not_change_a_resumed_run(tmp_path):
    full = make_trainer(tmp_path / "full", validate_fn=lambda m: {"n": 1.0})
    full.fit()
    cut = make_trainer(tmp_path / "cut", validate_fn=lambda m: {"n": 1.0})
    SignalAfterUpdate(cut, 4)
    with pytest.raises(TrainingInterrupted):
        cut.fit()
    # other validation (n_val), checkpoint frequency, workers and bad-step patience: monitoring only
    monitoring = TrainConfig(epochs=2, batch_size=4, lr=1e-3, checkpoint_every=1, max_bad_steps=3)
    resumed = make_trainer(tmp_path / "cut", monitoring, seed=7, validate_fn=lambda m: {"n": 2.0, "other": 0.0})
    resumed.fit(resume=True)
    a, b = weights(full.model), weights(resumed.model)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
    assert [r["train_loss"] for r in resumed.state.history] == [r["train_loss"] for r in full.state.history]


def test_trainer_refuses_a_changed_identity_listing_old_and_new(tmp_path):
    make_trainer(tmp_path, run_identity={"data.fingerprint": "aaa", "img_size": [28, 42]}).fit()
    other = make_trainer(tmp_path, TrainConfig(epochs=2, batch_size=4, lr=2e-3, checkpoint_every=2),
                         run_identity={"data.fingerprint": "bbb", "img_size": [28, 42]})
    with pytest.raises(CheckpointError) as info:
        other.fit(resume=True)
    message = str(info.value)
    assert "  lr: 0.001 → 0.002\n" in message and "  data.fingerprint: 'aaa' → 'bbb'\n" in message
    assert "img_size" not in message
    assert "--resume-override data.fingerprint lr" in message and "a new output directory" in message


def test_trainer_refuses_other_schedule_even_with_an_override(tmp_path):
    make_trainer(tmp_path).fit()
    other = make_trainer(tmp_path, TrainConfig(epochs=3, batch_size=4, lr=1e-3, checkpoint_every=2),
                         resume_override=("epochs",))
    with pytest.raises(CheckpointError, match=r"(?s)epochs: 2 → 3.*cannot be overridden: the one-cycle learning-rate "
                                              r"schedule"):
        other.fit(resume=True)


def test_unknown_override_key_is_a_config_error(tmp_path):
    make_trainer(tmp_path).fit()
    with pytest.raises(ConfigError, match=r"unknown --resume-override key\(s\) \['lrr'\]; the run's settings are "
                                          r"\[.*'lr'"):
        make_trainer(tmp_path, resume_override=("lrr",)).fit(resume=True)


def test_lr_override_is_applied_to_the_schedule_and_recorded(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit()
    with pytest.raises(TrainingInterrupted):
        make_trainer(tmp_path / "cut", loss_fn=InterruptAt(4)).fit()  # 3 steps done
    doubled = TrainConfig(epochs=2, batch_size=4, lr=2e-3, checkpoint_every=2)
    resumed = make_trainer(tmp_path / "cut", doubled, resume_override=("lr",))
    resumed.fit(resume=True)
    ref = {step: lr for step, _, _, lr in full.state.steps}
    assert [lr for step, _, _, lr in resumed.state.steps if step <= 3] == [ref[s] for s in (1, 2, 3)]
    assert [lr for step, _, _, lr in resumed.state.steps if step > 3] == pytest.approx(
        [2 * ref[s] for s in (4, 5, 6)], rel=1e-12)  # the new peak, at the same point of the one-cycle schedule
    history = json.loads((tmp_path / "cut" / "history.json").read_text())
    assert history["resumed_with_overrides"] == [{"global_step": 3, "changes": {"lr": [0.001, 0.002]}}]
    again = make_trainer(tmp_path / "cut", doubled)  # the override became the run's setting
    again.fit(resume=True)


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=24, size=(60, 80), n_unlabeled=0, workers=1,
                               progress=False)


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(data), "--out", str(out),
            "--preset", "cpu", "--device", "cpu", "--epochs", "1", "--batch-size", "2", "--img-size", "28x42",
            "--max-steps-per-epoch", "2", "--n-val", "2", *extra]


@pytest.fixture(scope="module")
def finished_run(tiny_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run")
    assert main(train_args(tiny_data, out)) == 0
    return out


def test_cli_resume_refuses_other_data_size_and_settings(tiny_data, finished_run, tmp_path, capsys, one_thread):
    other = tmp_path / "other.mat"  # same item count, one depth value changed
    shutil.copy(tiny_data, other)
    with h5py.File(other, "r+") as f:
        f["depths"][0, 0, 0] = f["depths"][0, 0, 0] + 0.5
    results = (finished_run / "results" / f"{KEY}.json").read_bytes()
    for change, expected in [(["--data", str(other)], "data.sha256: '"),
                             (["--img-size", "56x70"], "img_size: [28, 42] → [56, 70]"),
                             (["--n-train", "10"], "n_train: None → 10"),
                             (["--lr", "0.1"], "lr: 0.0005 → 0.1")]:
        args = [*train_args(tiny_data, finished_run), *change, "--resume"]
        assert main(args) == 2, change
        err = capsys.readouterr().err
        assert "error: cannot resume from " in err and expected in err and "Traceback" not in err, err
    assert (finished_run / "results" / f"{KEY}.json").read_bytes() == results  # nothing rewritten


def test_cli_resume_override_is_recorded_in_history_and_results(finished_run, tiny_data, tmp_path, capsys, one_thread):
    out = tmp_path / "run"
    shutil.copytree(finished_run, out)
    assert main([*train_args(tiny_data, out), "--lr", "0.1", "--resume", "--resume-override", "lr"]) == 0
    history = json.loads((out / "runs" / KEY / "history.json").read_text())
    assert history["resumed_with_overrides"] == [{"global_step": 2, "changes": {"lr": [0.0005, 0.1]}}]
    record = json.loads((out / "results" / f"{KEY}.json").read_text())
    assert record["resumed_with_overrides"] == history["resumed_with_overrides"]
    assert record["recipe"]["train"]["lr"] == 0.1
