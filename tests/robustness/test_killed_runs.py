"""Killed runs: SIGKILL mid-epoch then ``--resume`` gives the uninterrupted run's weights and metrics;
SIGINT/SIGTERM save a checkpoint and exit 130 saying how to resume; a write that fails (or is killed)
half-way leaves the previous checkpoint and results intact; an interrupted pseudo-label cache resumes.

The CLI runs are real subprocesses (:mod:`.cli_runs`: ``python -m zoedam_lib train``, one thread, a 24-image
SynthRooms file, 2 epochs × 4 steps at 28×42). To kill them at a known point, a small wrapper around the CLI's
``main`` holds the training loss of step 7 (mid-epoch 2, after step 6's checkpoint) until signalled.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers import TINY_SIZE, InterruptAt, counting, make_trainer, tiny_zoedam, weights, write_images

from robustness.cli_runs import (
    ENV,
    KEY,
    TESTS,
    assert_same_run,
    final_outputs,
    run_cli,
    start_until,
    train_args,
    train_state,
)
from zoedam_lib import load_model, save_model
from zoedam_lib.data.unlabeled import UnlabeledImages
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.evaluation.metrics import METRIC_KEYS
from zoedam_lib.experiments.results import write_result
from zoedam_lib.semi.pseudo_labels import PseudoLabelCache
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.errors import TrainingInterrupted

HOLD_AT_STEP = 7  # of 8: epoch 2, after the checkpoint of step 6

# The CLI with the training loss of one step held (sleeping) until the test signals the process.
HOLD_SCRIPT = """
import os, sys, time
import zoedam_lib.experiments.zoedam as zoedam
from zoedam_lib.cli import main

hold_at, calls, step = int(os.environ["HOLD_AT_STEP"]), [0], zoedam.silog_step

def holding_step(model, batch, **kwargs):
    calls[0] += 1
    if calls[0] == hold_at:
        print(f"holding in step {hold_at}", flush=True)
        time.sleep(300)
    return step(model, batch, **kwargs)

zoedam.silog_step = holding_step
sys.exit(main(sys.argv[1:]))
"""


def start_held(args: list[str], stderr_path: Path) -> subprocess.Popen:
    """Start the CLI and return once it is holding inside step ``HOLD_AT_STEP``."""
    return start_until(HOLD_SCRIPT, args, f"holding in step {HOLD_AT_STEP}", stderr_path,
                       env={"HOLD_AT_STEP": str(HOLD_AT_STEP)})


# --------------------------------------------------------------------------- SIGKILL, SIGINT, SIGTERM


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_matches_the_uninterrupted_run(run_data, uninterrupted, tmp_path):
    out = tmp_path / "run"
    proc = start_held(train_args(run_data, out), tmp_path / "stderr.txt")
    state = train_state(out)["state"]  # the checkpoint on disk when the process dies
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (1, 2, 6)  # in epoch 2 (0-based 1)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    assert not list(out.glob("checkpoints/*")) and not list(out.glob("results/*"))  # (folders made writable-proven)

    resumed = run_cli([*train_args(run_data, out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from {out / 'runs' / KEY / 'train_state.pt'}: epoch 2, step 2" in resumed.stdout
    assert_same_run(final_outputs(out), uninterrupted)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_saves_a_checkpoint_and_exits_130_with_the_resume_hint(sig, run_data, uninterrupted, tmp_path):
    out = tmp_path / "run"
    proc = start_held(train_args(run_data, out), tmp_path / "stderr.txt")
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == 130
    state_path = out / "runs" / KEY / "train_state.pt"
    stderr = (tmp_path / "stderr.txt").read_text()
    message = stderr.strip().splitlines()[-1]
    assert "Traceback" not in stderr
    assert message == (f"training interrupted at epoch 2, step 2; checkpoint saved to {state_path}. Run the same "
                       "command with resume enabled (--resume, or resume=True) to continue exactly where it stopped.")
    state = train_state(out)["state"]
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (1, 2, 6)  # the unfinished step 7 is not
    assert len(state["history"]) == 1 and not list(out.glob("checkpoints/*"))

    resumed = run_cli([*train_args(run_data, out), "--resume"])  # the hint works
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(final_outputs(out), uninterrupted)


# The CLI with SIGTERM sent to itself right after the optimizer update of step 7 (mid-epoch 2): the weights
# have moved, the step is not yet counted. Before the fix the checkpoint paired step 7's weights with step 6's
# counters, and every resume (with --n-val changed, --lr changed or nothing changed) applied step 7 twice.
SIGNAL_SCRIPT = """
import os, signal, sys
import torch
from zoedam_lib.cli import main

calls, step = [0], torch.amp.GradScaler.step

def step_then_signal(self, optimizer, *args, **kwargs):
    out = step(self, optimizer, *args, **kwargs)
    calls[0] += 1
    if calls[0] == 7:
        os.kill(os.getpid(), signal.SIGTERM)
    return out

torch.amp.GradScaler.step = step_then_signal
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_sigterm_right_after_an_update_then_resume_with_other_monitoring_settings(run_data, uninterrupted, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_SCRIPT, *train_args(run_data, out)], capture_output=True,
                          text=True, env=ENV, timeout=300)
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert "training interrupted at epoch 2, step 3;" in proc.stderr  # step 7 finished before the signal acted
    assert train_state(out)["state"]["global_step"] == 7
    monitoring = ["--n-val", "2", "--checkpoint-every", "3"]  # validation size and checkpoint frequency only
    resumed = run_cli([*train_args(run_data, out), *monitoring, "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    tensors, _, epochs, _ = final_outputs(out)
    ref_tensors, _, ref_epochs, _ = uninterrupted
    assert [k for k in ref_tensors if not torch.equal(tensors[k], ref_tensors[k])] == []
    assert [e["train_loss"] for e in epochs] == [e["train_loss"] for e in ref_epochs]


def test_interrupted_run_resumes_to_identical_weights(tmp_path):
    full = make_trainer(tmp_path / "full")
    full.fit()
    interrupted = make_trainer(tmp_path / "cut", loss_fn=InterruptAt(5))  # mid-epoch 2
    with pytest.raises(TrainingInterrupted, match="resume"):
        interrupted.fit()
    assert interrupted.state.global_step == 4
    resumed = make_trainer(tmp_path / "cut", seed=123)  # different init: everything must come from the checkpoint
    resumed.fit(resume=True)
    a, b = weights(full.model), weights(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert full.state.history[-1]["train_loss"] == resumed.state.history[-1]["train_loss"]
    assert full.state.steps == resumed.state.steps


# --------------------------------------------------------------------------- writes that fail half-way

X = torch.rand(1, 3, 56, 70)


def same_output(a, b) -> bool:
    with torch.no_grad():
        return torch.allclose(a(X)["metric_depth"], b(X)["metric_depth"], atol=1e-6)


def _disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_save_model_replaces_atomically_and_keeps_old_on_failure(tmp_path, monkeypatch):
    a, b = tiny_zoedam(0), tiny_zoedam(1)
    save_model(a, tmp_path / "ckpt")

    def half_written(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")  # a few bytes, then the disk is full
        _disk_full()

    monkeypatch.setattr("zoedam_lib.checkpoints.saving.save_file", half_written)
    with pytest.raises(OSError, match="No space left"):
        save_model(b, tmp_path / "ckpt")
    assert same_output(a, load_model(tmp_path / "ckpt"))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_save_model_failing_between_the_renames_puts_the_old_checkpoint_back(tmp_path, monkeypatch):
    a, b = tiny_zoedam(0), tiny_zoedam(1)
    save_model(a, tmp_path / "ckpt")
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append((Path(src).name, Path(dst).name))
        if len(calls) == 2:  # the old directory is aside as ckpt.old, the new one not yet in place
            _disk_full()
        real_replace(src, dst)

    monkeypatch.setattr("zoedam_lib.utils.atomic.os.replace", replace)
    with pytest.raises(OSError, match="No space left"):
        save_model(b, tmp_path / "ckpt")
    assert calls[0] == ("ckpt", "ckpt.old")
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]
    assert same_output(a, load_model(tmp_path / "ckpt"))


# A process killed (SIGKILL) between atomic_dir's two renames: only <target>.old is left on disk.
SWAP_KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, sys.argv[2])  # tests/, for helpers
from helpers import tiny_zoedam
import zoedam_lib.utils.atomic as atomic
from zoedam_lib import save_model

save_model(tiny_zoedam(0), sys.argv[1])
real_replace, calls = os.replace, []

def replace(src, dst):
    calls.append(dst)
    if len(calls) == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(src, dst)

atomic.os.replace = replace
save_model(tiny_zoedam(1), sys.argv[1])
"""


@pytest.mark.parametrize("reader", ["load_model", "zoedam_plus_teacher"])
def test_checkpoint_replacement_killed_between_the_renames_still_loads_the_old_one(reader, tmp_path):
    target = tmp_path / "checkpoints" / "zoedam_vits"
    proc = subprocess.run([sys.executable, "-c", SWAP_KILL_SCRIPT, str(target), str(TESTS)], env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert not target.exists() and (tmp_path / "checkpoints" / "zoedam_vits.old").is_dir()  # the kill window
    if reader == "load_model":
        model = load_model(target)
    else:
        from zoedam_lib.experiments.teacher import load_teacher

        model, _, _ = load_teacher(SimpleNamespace(device=torch.device("cpu"), out_dir=tmp_path), None)
    assert same_output(tiny_zoedam(0), model)
    assert target.is_dir() and not (tmp_path / "checkpoints" / "zoedam_vits.old").exists()


def test_failed_checkpoint_write_keeps_previous(tmp_path, monkeypatch):
    trainer = make_trainer(tmp_path, TrainConfig(epochs=1, batch_size=4))
    trainer.fit()
    good = (tmp_path / "train_state.pt").read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(good[: len(good) // 2])  # half the bytes, then the disk is full
        _disk_full()

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError):
        trainer.save_checkpoint()
    assert (tmp_path / "train_state.pt").read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.csv", "history.json", "train_state.pt"]


def _write(out: Path, abs_rel: float) -> Path:
    metrics = dict.fromkeys(METRIC_KEYS, 0.5) | {"abs_rel": abs_rel}
    provenance = {"data": "SynthRooms", "data_kind": "synthrooms", "preset": "cpu", "split": "paper", "seed": 0}
    evaluation = EvalResult(metrics, [{"index": 0, "abs_rel": abs_rel}, {"index": 1, "abs_rel": abs_rel}],
                            median_scaled=metrics)
    return write_result(out, KEY, provenance, evaluation)


@pytest.mark.parametrize("failing", ["results_json", "per_image_csv"])
def test_failed_results_write_keeps_the_previous_results(failing, tmp_path, monkeypatch):
    path = _write(tmp_path, 0.1)
    before = {p.name: p.read_bytes() for p in (tmp_path / "results").iterdir()}
    if failing == "results_json":
        def half_json(obj, f, **kwargs):
            f.write('{"model": "zoedam_vitt", "metr')
            _disk_full()
        monkeypatch.setattr("zoedam_lib.utils.atomic.json.dump", half_json)
    else:
        def half_rows(self, rows):
            self.writerow(rows[0])
            _disk_full()
        monkeypatch.setattr(csv.DictWriter, "writerows", half_rows)
    with pytest.raises(OSError, match="No space left"):
        _write(tmp_path, 0.9)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in (tmp_path / "results").iterdir()} == before  # no temp files either
    assert json.loads(path.read_text())["metrics"]["abs_rel"] == 0.1


# --------------------------------------------------------------------------- the pseudo-label cache


@pytest.mark.parametrize("crash", ["in_the_teacher", "while_writing"])
def test_pseudo_label_cache_interrupted_resumes_without_recomputing(crash, tmp_path, monkeypatch):
    write_images(tmp_path / "imgs")
    images = UnlabeledImages(tmp_path / "imgs", n=5, seed=1, size=TINY_SIZE)
    reference = PseudoLabelCache(tmp_path / "ref", tiny_zoedam(1), images, progress=False)
    reference.build()

    calls = {"images": 0}
    if crash == "in_the_teacher":  # after 2 images
        broken = PseudoLabelCache(tmp_path / "c2", counting(tiny_zoedam(1), calls, fail_after=2), images,
                                  batch_size=1, progress=False)
    else:  # entry 2 half written when the disk fills
        broken = PseudoLabelCache(tmp_path / "c2", counting(tiny_zoedam(1), calls), images, batch_size=1,
                                  progress=False)
        real_save = np.save

        def save(f, array, *args, **kwargs):
            if calls["images"] == 3:
                f.write(b"\x93NUMPY\x01\x00v\x00{'descr': '<f2'")
                raise RuntimeError("simulated crash")
            real_save(f, array, *args, **kwargs)
        monkeypatch.setattr(np, "save", save)
    with pytest.raises(RuntimeError, match="simulated crash"):
        broken.build()
    monkeypatch.undo()
    assert sorted(p.name for p in broken.dir.glob("*.npy")) == sorted(broken.path(i).name for i in (0, 1))
    assert broken.missing() == [2, 3, 4]  # no partial entry
    (broken.dir / f".{broken.path(2).name}.x1y2.tmp").write_bytes(b"half written")  # a kill between write and rename

    calls = {"images": 0}
    resumed = PseudoLabelCache(tmp_path / "c2", counting(tiny_zoedam(1), calls), images, progress=False)
    assert resumed.dir == broken.dir
    assert resumed.build() == 3 and calls["images"] == 3  # entries 0 and 1 are not recomputed
    assert not list(resumed.dir.glob("*.tmp")) and resumed.missing() == []
    for i in range(5):
        assert torch.equal(resumed.get(i), reference.get(i))
