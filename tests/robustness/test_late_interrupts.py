"""Interrupts outside the training loop: SIGINT or SIGTERM during ``train``'s final evaluation, a second Ctrl-C
during the emergency checkpoint, and resuming a finished run whose ``history.json`` was deleted.

The CLI runs are real subprocesses (a signal there must not reach pytest): a small wrapper sends the signal
to its own process from inside the final evaluation.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import InterruptAt, make_trainer

import zoedam_lib.training.trainer as trainer_module
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.errors import TrainingInterrupted

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
KEY = "zoedam_vitt"

# The CLI, signalling itself (argv[1]: SIGINT or SIGTERM) when the final evaluation starts.
SIGNAL_IN_EVALUATION = """
import os, signal, sys, time
import zoedam_lib.experiments.pipeline as pipeline
from zoedam_lib.cli import main

def evaluate_once(*args, **kwargs):
    os.kill(os.getpid(), getattr(signal, sys.argv[1]))
    time.sleep(30)
    raise AssertionError("the signal did not stop the evaluation")

pipeline.evaluate_once = evaluate_once
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=12, size=(30, 40), n_unlabeled=0, workers=1,
                               progress=False)


def _train_args(data: Path, out: Path) -> list[str]:
    return ["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(data), "--out", str(out),
            "--preset", "cpu", "--device", "cpu", "--epochs", "1", "--batch-size", "2", "--img-size", "28x42",
            "--max-steps-per-epoch", "2", "--n-val", "2"]


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_during_the_final_evaluation_exits_130_with_the_resume_hint(sig, tiny_data, tmp_path):
    """Was: a raw KeyboardInterrupt traceback (SIGINT) or a silent death (SIGTERM) after training. Now exit 130,
    "interrupted after training …", no results JSON; ``--resume`` (after history.json was deleted, too) trains
    nothing, says so, evaluates, and its results JSON names a history file that exists."""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_IN_EVALUATION, sig, *_train_args(tiny_data, out)],
                          capture_output=True, text=True, env=ENV, timeout=300)
    last = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and last.startswith("interrupted after training"), last
    assert "Run the same command with resume enabled (--resume" in last and "trains nothing more" in last
    assert not (out / "results" / f"{KEY}.json").exists()
    (out / "runs" / KEY / "history.json").unlink()
    resumed = subprocess.run([sys.executable, "-m", "zoedam_lib", *_train_args(tiny_data, out), "--resume"],
                             capture_output=True, text=True, env=ENV, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "train_state.pt: all 1 epochs were done, nothing left to train" in resumed.stdout
    record = json.loads((out / "results" / f"{KEY}.json").read_text())
    history = json.loads((out / record["history"]).read_text())
    assert [row["epoch"] for row in history["epochs"]] == [1] and len(history["steps"]) == 2


def test_second_ctrl_c_during_the_emergency_checkpoint_still_writes_it(tmp_path, monkeypatch):
    """Ctrl-C at step 2 (no checkpoint yet), and Ctrl-C again while its checkpoint is written: was a raw
    KeyboardInterrupt and no checkpoint at all. The second one waits for the checkpoint and is dropped."""
    real_save, signalled = torch.save, []

    def save_and_ctrl_c(obj, f, *args, **kwargs):
        if not signalled:
            signalled.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs now, in the middle of the save
        return real_save(obj, f, *args, **kwargs)
    monkeypatch.setattr(trainer_module.torch, "save", save_and_ctrl_c)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=1e-3, checkpoint_every=0)
    trainer = make_trainer(tmp_path, cfg, loss_fn=InterruptAt(2))
    try:
        with pytest.raises(TrainingInterrupted, match="epoch 1, step 1; checkpoint saved to"):
            trainer.fit()
    except KeyboardInterrupt:
        pytest.fail("the second Ctrl-C escaped as a raw KeyboardInterrupt")
    assert signalled
    state = torch.load(tmp_path / "train_state.pt", weights_only=True)
    assert state["state"]["global_step"] == 1


def test_resuming_a_finished_run_without_its_history_says_so_and_writes_it_again(tmp_path, capsys):
    """Was: "resumed from …: epoch 3, step 0" of a 2-epoch run, and no history.json for the results to point at."""
    make_trainer(tmp_path).fit()
    before = json.loads((tmp_path / "history.json").read_text())
    (tmp_path / "history.json").unlink()
    (tmp_path / "history.csv").unlink()
    capsys.readouterr()
    make_trainer(tmp_path).fit(resume=True)
    assert "train_state.pt: all 2 epochs were done, nothing left to train" in capsys.readouterr().out
    assert json.loads((tmp_path / "history.json").read_text()) == before and (tmp_path / "history.csv").is_file()
