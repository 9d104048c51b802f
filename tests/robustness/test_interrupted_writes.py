"""Kills and full disks inside the writes themselves: ``train_state.pt``, the checkpoint directory, the
evaluation cache and the results JSON.

A kill during a write must leave the previous complete file (or none), never a half-written one, and
the resume must end exactly as the uninterrupted run. A killed writer's temporary cannot be removed
by the writer: the next write of the same file removes it (for ``train_state.pt`` a file as large as
the model and its optimizer moments, one more after every pre-emption). A full disk must say so and
name the file: ``torch.save`` and safetensors report it as a ``RuntimeError`` ("unexpected pos 576 vs
534") and a ``SafetensorError``. The runs are :mod:`.cli_runs`'; the child holds inside the write
(half of the bytes on disk) until the test signals it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import make_trainer, tiny_zoedam
from safetensors.torch import load_file

from robustness.cli_runs import KEY, assert_same_run, final_outputs, run_cli, start_until, train_args, train_state
from zoedam_lib import save_model
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.evaluation.metrics import METRIC_KEYS
from zoedam_lib.experiments.results import write_result
from zoedam_lib.training.trainer import TrainConfig
from zoedam_lib.utils.atomic import _host_tag, remove_stale_temporaries

# The CLI with one write held inside: half its bytes written and flushed, then a sleep until the test signals.
WRITE_HOLD_SCRIPT = """
import io, json, os, sys, time
import torch
import zoedam_lib.checkpoints.saving as saving
from zoedam_lib.cli import main

where, hold_at, calls = os.environ["HOLD_WRITE"], int(os.environ.get("HOLD_CALL", "1")), [0]

def hold(f, data):
    f.write(data[: len(data) // 2])
    f.flush()
    os.fsync(f.fileno())
    print(f"holding inside the {where} write", flush=True)
    time.sleep(300)

if where == "train_state":
    real_save = torch.save
    def save(obj, f, *args, **kwargs):
        calls[0] += 1
        if calls[0] == hold_at:
            buffer = io.BytesIO()
            real_save(obj, buffer)
            with open(f, "wb") if isinstance(f, (str, os.PathLike)) else f as out:
                hold(out, buffer.getvalue())
        return real_save(obj, f, *args, **kwargs)
    torch.save = save
elif where == "checkpoint":
    from safetensors.torch import save as to_bytes
    def save_file(tensors, filename, metadata=None):
        with open(filename, "wb") as out:
            hold(out, to_bytes(tensors, metadata=metadata))
    saving.save_file = save_file
else:  # the evaluation cache entry (evaluations/<key>.json)
    real_dump = json.dump
    def dump(obj, f, **kwargs):
        if "/evaluations/" in str(getattr(f, "name", "")):
            text = io.StringIO()
            real_dump(obj, text, **kwargs)
            hold(f, text.getvalue())
        return real_dump(obj, f, **kwargs)
    json.dump = dump
sys.exit(main(sys.argv[1:]))
"""


def start_holding(where: str, args: list[str], tmp_path: Path, call: int = 1) -> subprocess.Popen:
    return start_until(WRITE_HOLD_SCRIPT, args, f"holding inside the {where} write", tmp_path / "stderr.txt",
                       env={"HOLD_WRITE": where, "HOLD_CALL": str(call)})


def temporaries(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*.tmp"))


# --------------------------------------------------------------------------- killed inside a write


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_kill_inside_the_train_state_write_then_resume(sig, run_data, uninterrupted, tmp_path):
    out = tmp_path / "run"
    proc = start_holding("train_state", train_args(run_data, out), tmp_path, call=6)  # step 6's checkpoint
    assert train_state(out)["state"]["global_step"] == 5  # on disk while step 6's is half written
    proc.send_signal(sig)
    if sig == signal.SIGKILL:
        assert proc.wait(timeout=60) == -signal.SIGKILL
        assert train_state(out)["state"]["global_step"] == 5  # the previous complete file, not half of the new
        left = temporaries(out)  # the killed writer's leftover, hidden beside the real name
        assert len(left) == 1 and left[0].startswith(f"runs/{KEY}/.train_state.pt."), left
        where = "epoch 2, step 1"
    else:  # the write is cut, the emergency checkpoint holds step 6 whole
        assert proc.wait(timeout=120) == 130
        assert "training interrupted at epoch 2, step 2;" in (tmp_path / "stderr.txt").read_text()
        assert train_state(out)["state"]["global_step"] == 6 and temporaries(out) == []
        where = "epoch 2, step 2"

    resumed = run_cli([*train_args(run_data, out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resumed from {out / 'runs' / KEY / 'train_state.pt'}: {where}" in resumed.stdout
    assert_same_run(final_outputs(out), uninterrupted)
    assert temporaries(out) == []  # before: a dead writer's .train_state.pt.*.tmp stayed for good


@pytest.mark.slow
@pytest.mark.parametrize("where", ["checkpoint", "evaluation"])
def test_kill_inside_the_checkpoint_or_evaluation_cache_write_keeps_the_previous(where, run_data, reference_run,
                                                                               uninterrupted, tmp_path):
    """A finished run resumed again (it trains nothing; saves, evaluates and writes its results once more)."""
    out = tmp_path / "run"
    shutil.copytree(reference_run, out)
    for entry in (out / "evaluations").glob("*.json"):
        entry.unlink()  # else the evaluation is read, not written
    results = {p: p.read_bytes() for p in (out / "results").iterdir()}
    proc = start_holding(where, [*train_args(run_data, out), "--resume"], tmp_path)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    tensors = load_file(out / "checkpoints" / KEY / "model.safetensors")  # the previous checkpoint, whole
    assert [k for k in uninterrupted[0] if not torch.equal(tensors[k], uninterrupted[0][k])] == []
    assert list((out / "evaluations").glob("*.json")) == []  # no half entry under the real name
    assert {p: p.read_bytes() for p in (out / "results").iterdir()} == results
    left = temporaries(out)  # the killed writer's, hidden beside the real name
    folder, name = ("checkpoints", KEY) if where == "checkpoint" else ("evaluations", "")
    assert len(left) == 1 and left[0].startswith(f"{folder}/.{name}"), left

    resumed = run_cli([*train_args(run_data, out), "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(final_outputs(out), uninterrupted)
    assert temporaries(out) == []  # before: the dead writer's folder / file stayed for good


def test_only_temporaries_of_dead_writers_on_this_host_are_removed(tmp_path):
    """Two processes may write one file (the evaluation cache of notebook 05's student and control): the
    other's file in flight must survive, or its rename fails."""
    target = tmp_path / "e.json"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(gone.stdout), os.getpid()
    names = {"dead": f".e.json.{_host_tag()}-{dead}-ab12.tmp", "alive": f".e.json.{_host_tag()}-{alive}-cd34.tmp",
             "other_host": f".e.json.0badc0de-{dead}-ef56.tmp", "other_file": f".f.json.{_host_tag()}-{dead}-x.tmp",
             "old_name": ".e.json.k3j4h5.tmp"}
    for name in names.values():
        (tmp_path / name).write_text("partial")
    (tmp_path / f".e.json.{_host_tag()}-{dead}-dir.tmp").mkdir()  # atomic_dir's temporaries are folders
    removed = remove_stale_temporaries(target)
    assert sorted(p.name for p in removed) == sorted([names["dead"], f".e.json.{_host_tag()}-{dead}-dir.tmp"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(v for k, v in names.items() if k != "dead")


# --------------------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path):
    """``(folder, room_for)``: a folder on a 64 MiB tmpfs, and ``room_for(n)``, a block in which the disk takes only
    ``n`` more bytes (the rest filled). Where this process cannot mount (not root), the folder is a plain one and
    ``room_for`` limits the file size instead (``RLIMIT_FSIZE``: the write fails with EFBIG, not ENOSPC)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "none", str(folder)],
                                 capture_output=True).returncode == 0
    except OSError:  # no mount command
        mounted = False

    @contextlib.contextmanager
    def room_for(n: int):
        if not mounted:
            limits, handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (n, limits[1]))
            try:
                yield
            finally:
                resource.setrlimit(resource.RLIMIT_FSIZE, limits)
                signal.signal(signal.SIGXFSZ, handler)
            return
        filler = folder / "filler"
        with open(filler, "wb") as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        with open(filler, "r+b") as f:
            f.truncate(max(0, filler.stat().st_size - n))
        try:
            yield
        finally:
            filler.unlink()
    yield folder, room_for, {errno.ENOSPC} if mounted else {errno.EFBIG}
    if mounted:
        subprocess.run(["umount", "--lazy", str(folder)], check=True)  # lazy: a failed test's writer may hold a file


def write_results(out: Path, abs_rel: float) -> Path:
    metrics = dict.fromkeys(METRIC_KEYS, 0.5) | {"abs_rel": abs_rel}
    evaluation = EvalResult(metrics, [{"index": i, "abs_rel": abs_rel} for i in range(50)], median_scaled=metrics)
    return write_result(out, KEY, {"data": "SynthRooms", "preset": "cpu", "seed": 0}, evaluation)


@pytest.mark.parametrize("write", ["train_state", "checkpoint", "results_json"])
def test_full_disk_names_the_file_and_keeps_the_previous(write, small_disk):
    folder, room_for, codes = small_disk
    if write == "train_state":
        trainer = make_trainer(folder, TrainConfig(epochs=1, batch_size=4))
        trainer.fit()
        target = trainer.state_path
        trainer.model.decoder.projects[0].weight.data += 1  # something new to save
        save = trainer.save_checkpoint
    elif write == "checkpoint":
        target = save_model(tiny_zoedam(0), folder / "checkpoints" / KEY)
        model = tiny_zoedam(1)
        save = lambda: save_model(model, target)  # noqa: E731
    else:
        target = write_results(folder, 0.1)
        save = lambda: write_results(folder, 0.9)  # noqa: E731
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    with room_for(max(len(b) for b in before.values()) // 2), pytest.raises(OSError) as caught:  # part way
        save()
    written = {str(target), str(target.with_name(f"{KEY}_per_image.csv"))} if write == "results_json" else {
        str(target)}  # the results' CSV is written first, then the JSON
    assert caught.value.errno in codes and caught.value.filename in written, repr(caught.value)
    assert caught.value.filename in str(caught.value)  # before: "unexpected pos 1088 vs 1024", a SafetensorError
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before
    assert [p for p in folder.rglob(".*") if p.name != "filler"] == []  # no temporary left behind
    if write == "train_state":
        assert torch.load(target, weights_only=True)["state"]["global_step"] == 3
