"""Output folders: read-only, a file in the way, a folder that turns unwritable only after training, a write
refused late, and two processes on one run. Each is one ``error:`` line and exit 2, found before any work
where it can be; a second process on a run stops at once, naming the holder.

Tests run as root, where ``chmod 555`` blocks nothing: a read-only tmpfs is mounted over the folder where this
process may mount (root on Linux), otherwise the Python calls that write in it fail with EROFS
(``read_only_helpers``; ``ZOEDAM_TESTS_NO_MOUNT=1`` forces that fallback).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import SUBPROCESS_ENV, tiny_zoedam
from read_only_helpers import mounted, refuse_writes_under

from robustness.cli_runs import assert_same_run, final_outputs, train_args
from zoedam_lib import save_model
from zoedam_lib.cli import main
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.utils.errors import OutputError
from zoedam_lib.utils.output_dirs import run_lock

KEY = "zoedam_vitt"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=24, size=(60, 80), n_unlabeled=0, workers=1,
                               progress=False)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return save_model(tiny_zoedam(), tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture
def read_only(monkeypatch):
    """``read_only(folder)`` makes ``folder`` (created if missing) refuse every new file."""
    mounts: list[Path] = []

    def make(folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        if mounted(["mount", "-t", "tmpfs", "-o", "ro", "none", str(folder)]):
            mounts.append(folder)
        else:
            refuse_writes_under(monkeypatch, folder)
        return folder
    yield make
    for folder in mounts:
        subprocess.run(["umount", str(folder)], check=True)


def command(kind: str, out: Path, data: Path, checkpoint: Path) -> list[str]:
    tiny = ["--device", "cpu", "--img-size", "28x42", "--epochs", "1", "--max-steps-per-epoch", "1",
            "--batch-size", "2"]
    image = data.parent / "p.png"
    if not image.exists():
        from PIL import Image
        Image.new("RGB", (8, 6)).save(image)
    return {"train": ["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(data), "--out", str(out),
                      "--preset", "cpu", "--n-val", "2", *tiny],
            "pretrain": ["pretrain", "--backbone", "vitt", "--data", str(data), "--out", str(out), "--n-holdout", "4",
                         "--eval", f"same={data}", *tiny],
            "eval": ["eval", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out), "--device", "cpu",
                     "--preset", "cpu"],
            "predict": ["predict", str(image), "--checkpoint", str(checkpoint), "--out", str(out), "--device", "cpu"],
            "synth": ["synth", "--domain", "zeroshot_wide", "--out", str(out), "--n", "2", "--size", "12x16"],
            "download-nyu": ["download-nyu", "--out", str(out)]}[kind]


def assert_error_line(capsys, *phrases: str) -> str:
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Traceback" not in err, err[-3000:]
    for phrase in phrases:
        assert phrase in last, last
    return last


@pytest.mark.parametrize("kind", ["train", "pretrain", "eval", "predict", "synth"])
def test_read_only_output_folder_stops_before_any_work(kind, tiny_data, checkpoint, tmp_path, read_only, capsys):
    out = read_only(tmp_path / "ro")
    assert main(command(kind, out, tiny_data, checkpoint)) == 2
    assert_error_line(capsys, "cannot write to the ", f" {out}: Read-only file system", "Choose a writable folder")


def test_read_only_export_folder_of_pretrain(tiny_data, checkpoint, tmp_path, read_only, capsys):
    export = read_only(tmp_path / "ro") / "w.safetensors"
    args = [*command("pretrain", tmp_path / "out", tiny_data, checkpoint), "--export", str(export)]
    assert main(args) == 2
    assert_error_line(capsys, f"cannot write to the --export folder {export.parent}: Read-only file system")
    assert not (tmp_path / "out" / "runs" / "synthda" / "train_state.pt").exists()


@pytest.mark.parametrize("kind", ["train", "pretrain", "eval", "predict", "synth", "download-nyu"])
def test_out_naming_an_existing_file(kind, tiny_data, checkpoint, tmp_path, capsys):
    out = tmp_path / "notes.txt"
    out.write_text("not a folder")
    assert main(command(kind, out, tiny_data, checkpoint)) == 2
    assert_error_line(capsys, f"{out} is an existing file, not a folder. Pass a folder path")
    assert out.read_text() == "not a folder"


@pytest.mark.parametrize("folder", ["checkpoints", "results", f"runs/{KEY}"])
def test_unwritable_folder_is_found_before_the_first_step(folder, tiny_data, checkpoint, tmp_path, read_only,
                                                           monkeypatch, capsys):
    """Before: a read-only checkpoints/ was discovered after training had finished."""
    import zoedam_lib.experiments.zoedam as zoedam

    out = tmp_path / "run"
    read_only(out / folder)
    steps = []
    monkeypatch.setattr(zoedam, "silog_step", lambda *a, **k: steps.append(1))
    assert main(command("train", out, tiny_data, checkpoint)) == 2
    assert_error_line(capsys, f"cannot write to the output folder {out / folder}: Read-only file system")
    assert steps == [] and not (out / "runs" / KEY / "train_state.pt").exists()


def test_write_refused_late_is_an_error_line_not_a_traceback(tiny_data, checkpoint, tmp_path, monkeypatch, capsys):
    import zoedam_lib.cli.predict as predict_cli
    import zoedam_lib.experiments.pipeline as common

    def disk_full(path, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    monkeypatch.setattr(common, "save_model", lambda model, directory, extra=None: disk_full(directory))
    assert main(command("train", tmp_path / "run", tiny_data, checkpoint)) == 2
    assert_error_line(capsys, f"cannot write {tmp_path / 'run' / 'checkpoints' / KEY}: No space left on device",
                      "--resume")
    monkeypatch.setattr(predict_cli, "write_depth_png16", disk_full)
    assert main(command("predict", tmp_path / "pred", tiny_data, checkpoint)) == 2
    assert_error_line(capsys, "_depth.png: No space left on device")


# --------------------------------------------------------------------------- one run, one process

HOLDER = """
import sys, time
from zoedam_lib.utils.output_dirs import run_lock
lock = run_lock(sys.argv[1], sys.argv[2])
lock.__enter__()
print("locked", flush=True)
time.sleep(120)
"""


def test_second_process_on_a_run_stops_naming_the_holder(tiny_data, checkpoint, tmp_path, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out), KEY], stdout=subprocess.PIPE, text=True,
                              env=SUBPROCESS_ENV)
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock = out / "locks" / f"{KEY}.lock"
        for args in (command("train", out, tiny_data, checkpoint),  # a second training, or the run's --resume
                     [*command("train", out, tiny_data, checkpoint), "--resume"],
                     [*command("eval", out, tiny_data, checkpoint), "--name", KEY]):  # the same results file
            assert main(args) == 2
            assert_error_line(capsys, f"{out} is in use by another run: process {holder.pid} on "
                                      f"{socket.gethostname()} holds {lock} since ", "Wait for it to finish")
        assert not (out / "runs").exists() and not (out / "results" / f"{KEY}.json").exists()
        other = [*command("eval", out, tiny_data, checkpoint), "--name", "other_key"]
        assert main(other) == 0  # another run (results key) in the same folder is not blocked
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert lock.exists()  # a killed holder cannot clean up: the lock is stale
    with run_lock(out, KEY) as taken:
        assert taken == lock and json.loads(lock.read_text())["pid"] == os.getpid()
    assert "removing a stale lock" in capsys.readouterr().out and not lock.exists()


def test_lock_held_on_another_host_is_refused_with_how_to_clear_it(tmp_path):
    lock = tmp_path / "locks" / f"{KEY}.lock"
    lock.parent.mkdir()
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "since": "2026-01-01T00:00:00"}))
    with pytest.raises(OutputError, match=rf"process 1 on elsewhere.example holds {lock} since 2026-01-01T00:00:00"
                                          rf".*If that process is no longer running, delete {lock}"), \
            run_lock(tmp_path, KEY):
        pass


# Two notebooks (or a notebook and a command) writing one out_dir at once: both meet inside Trainer.fit.
MEETING_SCRIPT = """
import os, sys, time
from pathlib import Path
from zoedam_lib.training.trainer import Trainer
from zoedam_lib.cli import main

meeting, fit = Path(os.environ["MEETING"]), Trainer.fit

def fit_when_both_are_here(self, *args, **kwargs):
    (meeting / str(os.getpid())).touch()
    deadline = time.time() + 120
    while len(list(meeting.iterdir())) < 2 and time.time() < deadline:
        time.sleep(0.05)
    return fit(self, *args, **kwargs)

Trainer.fit = fit_when_both_are_here
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_two_processes_training_other_models_into_one_folder_at_once(run_data, uninterrupted, tmp_path):
    out, meeting = tmp_path / "shared", tmp_path / "meeting"
    meeting.mkdir()
    densedepth = ["train", "--model", "densedepth", "--pretrained", "none", "--img-size", "64x96", "--decoder-width",
                  "0.1", "--data", str(run_data), "--out", str(out), "--preset", "cpu", "--device", "cpu", "--epochs",
                  "1", "--max-steps-per-epoch", "2", "--batch-size", "2", "--n-val", "2"]
    env = {**SUBPROCESS_ENV, "MEETING": str(meeting)}
    runs = [subprocess.Popen([sys.executable, "-c", MEETING_SCRIPT, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
            for args in (train_args(run_data, out), densedepth)]
    ended = [run.communicate(timeout=400) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in ended]
    assert len(list(meeting.iterdir())) == 2  # both were inside Trainer.fit at the same time
    assert_same_run(final_outputs(out), uninterrupted)  # as alone, bit for bit
    record = json.loads((out / "results" / "densedepth.json").read_text())
    assert (out / record["checkpoint"] / "model.safetensors").is_file()
    assert (out / record["history"]).is_file()
    assert len(list((out / "splits").glob("*.json"))) == 1 and list((out / "locks").iterdir()) == []
    assert sorted(p.name for p in (out / "results").glob("*.json")) == ["densedepth.json", f"{KEY}.json"]
    assert list(out.rglob("*.tmp")) == []
