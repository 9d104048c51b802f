"""Real training runs in subprocesses, shared by the families that kill, signal or starve them.

``python -m zoedam_lib train`` on one thread, a 24-image SynthRooms file, 2 epochs × 4 steps at
28×42 with a checkpoint after every step: small enough for seconds, long enough to stop mid-epoch
2 after a checkpoint. One thread on the CPU is deterministic, and resume restores data order, RNG
and optimizer, so a resumed run must equal the uninterrupted one bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
TESTS = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
KEY = "zoedam_vitt"


def train_args(data: Path, out: Path) -> list[str]:
    return ["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(data), "--out", str(out),
            "--preset", "cpu", "--device", "cpu", "--epochs", "2", "--batch-size", "2", "--img-size", "28x42",
            "--max-steps-per-epoch", "4", "--checkpoint-every", "1", "--n-val", "4"]


def run_cli(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "zoedam_lib", *args], capture_output=True, text=True, env=ENV,
                          timeout=300)


def start_until(script: str, args: list[str], marker: str, stderr_path: Path,
                env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``python -c script args`` and return once it has printed a line starting with ``marker``."""
    with open(stderr_path, "w") as err:  # a file, not a pipe: tqdm output must never block the child
        proc = subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=err,
                                text=True, env={**ENV, **(env or {})})
    watchdog = threading.Timer(240, proc.kill)  # never hang the suite
    watchdog.start()
    try:
        for line in proc.stdout:
            if line.startswith(marker):
                return proc
    finally:
        watchdog.cancel()
    proc.wait()
    raise AssertionError(f"the run ended (code {proc.returncode}) before {marker!r}: "
                         f"{stderr_path.read_text()[-2000:]}")


def train_state(out: Path) -> dict:
    return torch.load(out / "runs" / KEY / "train_state.pt", weights_only=True)


def final_outputs(out: Path) -> tuple[dict, dict, list, str]:
    """(weights, results metrics, per-epoch history without timings, per-image CSV) of a finished run."""
    tensors = load_file(out / "checkpoints" / KEY / "model.safetensors")
    record = json.loads((out / "results" / f"{KEY}.json").read_text())
    history = json.loads((out / "runs" / KEY / "history.json").read_text())
    epochs = [{k: v for k, v in row.items() if k != "seconds"} for row in history["epochs"]]
    return tensors, record["metrics"], epochs, (out / "results" / f"{KEY}_per_image.csv").read_text()


def assert_same_run(resumed: tuple, reference: tuple) -> None:
    """Bit for bit: weights, metrics, per-epoch losses and validation metrics, per-image rows."""
    tensors, metrics, epochs, per_image = resumed
    ref_tensors, ref_metrics, ref_epochs, ref_per_image = reference
    assert tensors.keys() == ref_tensors.keys()
    assert [k for k in ref_tensors if not torch.equal(tensors[k], ref_tensors[k])] == []
    assert metrics == ref_metrics
    assert epochs == ref_epochs
    assert per_image == ref_per_image
