"""Multi-process training: torchrun with gloo on 2 CPU processes ends with identical weights on both ranks,
and only rank 0 writes files (checkpoints, results, logs, the split)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import torch
from helpers import tiny_zoedam

from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.training import distributed as dist_utils


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return generate_synthrooms(out, n=24, size=(60, 80), n_unlabeled=0, workers=1, progress=False)


def torchrun(args, env_extra=None, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "zoedam_lib",
           *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.slow
def test_torchrun_two_cpu_processes_identical_weights_and_one_writer(tiny_data, tmp_path):
    out = tmp_path / "run"
    proc = torchrun(["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(tiny_data), "--out", str(out),
                     "--preset", "cpu", "--device", "cpu", "--epochs", "2", "--batch-size", "2",
                     "--img-size", "28x42", "--max-steps-per-epoch", "2", "--n-val", "4"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    hashes = re.findall(r"rank (\d)/2 final weights sha256 ([0-9a-f]{64})", proc.stdout)
    assert sorted(r for r, _ in hashes) == ["0", "1"]
    assert hashes[0][1] == hashes[1][1], "ranks ended with different weights"
    assert proc.stdout.count("results: ") == 1  # only rank 0 reports (and writes)
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    evaluations = [f for f in files if f.startswith("evaluations/")]  # rank 0's evaluation, kept for reuse
    assert len(evaluations) == 1 and evaluations[0].endswith(".json"), files
    files.remove(evaluations[0])
    assert files == sorted([
        "checkpoints/zoedam_vitt/config.json", "checkpoints/zoedam_vitt/model.safetensors",
        "results/zoedam_vitt.json", "results/zoedam_vitt_per_image.csv",
        "runs/zoedam_vitt/history.csv", "runs/zoedam_vitt/history.json", "runs/zoedam_vitt/train_state.pt",
        f"splits/{tiny_data.stem}_paper_seed0.json"]), files
    state = torch.load(out / "runs/zoedam_vitt/train_state.pt", weights_only=True)
    assert state["world_size"] == 2 and state["state"]["global_step"] == 4


def test_a_non_zero_rank_trains_but_writes_nothing(tiny_data, tmp_path, monkeypatch):
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.experiments.presets import recipe_for
    from zoedam_lib.experiments.zoedam import run_zoedam
    from zoedam_lib.utils.config import replace

    ctx = setup_run(tiny_data, out_dir=tmp_path / "run", preset="cpu", device="cpu", verbose=False)
    before = sorted(p for p in (tmp_path / "run").rglob("*"))
    # rank 1 of 2, without a process group: no DDP wrapper, collectives answered locally
    monkeypatch.setattr(dist_utils, "rank_and_world", lambda: (1, 2))
    monkeypatch.setattr(dist_utils, "all_ranks_true", lambda flag, device: flag)
    monkeypatch.setattr(dist_utils, "barrier", lambda: None)
    monkeypatch.setattr("zoedam_lib.training.trainer.DistributedDataParallel", lambda model, **kw: model)
    recipe = recipe_for("zoedam", "cpu", epochs=1, batch_size=2)
    recipe = replace(recipe, img_size=(28, 42), n_val=2, train=replace(recipe.train, max_steps_per_epoch=2))
    result = run_zoedam(ctx, "vitt", recipe=recipe)
    assert result.state.global_step == 2 and result.evaluation is None and result.result_path is None
    assert sorted(p for p in (tmp_path / "run").rglob("*")) == before


def test_rank_helpers_without_process_group():
    assert dist_utils.rank_and_world() == (0, 1)
    assert dist_utils.all_ranks_true(True, torch.device("cpu")) is True
    assert dist_utils.all_ranks_true(False, torch.device("cpu")) is False
    assert dist_utils.is_main_process() is True
    model = tiny_zoedam()
    assert dist_utils.unwrap(model) is model

