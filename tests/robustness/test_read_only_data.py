"""Read-only data folders: a course's shared copy, a mounted dataset, a container's read-only volume.

Training and evaluating on data that exists must write nothing beside it (splits, caches, locks and
results go under ``--out``); a missing SynthRooms file, which is rendered on first use into its
folder, must say that the folder is not writable and what to do, not name a hidden temporary and
advise ``--resume``. Tests run as root, where ``chmod`` blocks nothing: the data is bind-mounted
read-only where this process may mount, otherwise the Python calls that write there fail with EROFS
(``read_only_helpers``; ``ZOEDAM_TESTS_NO_MOUNT=1`` forces that fallback).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from read_only_helpers import mounted, refuse_writes_under

from zoedam_lib.cli import main
from zoedam_lib.data.folder.export import export_folder
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.experiments.context import setup_run
from zoedam_lib.utils.errors import OutputError

TINY = ["--device", "cpu", "--preset", "cpu", "--img-size", "28x42", "--epochs", "1", "--max-steps-per-epoch", "1",
        "--batch-size", "2", "--n-val", "2"]


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> Path:
    """A folder holding a tiny SynthRooms ``mat/synthrooms.mat`` and the same pairs as a folder dataset."""
    root = tmp_path_factory.mktemp("data")
    mat = generate_synthrooms(root / "mat", n=24, size=(60, 80), n_unlabeled=0, workers=1, progress=False)
    export_folder(mat, root / "pairs")
    return root


@pytest.fixture
def read_only(monkeypatch, tmp_path):
    """``read_only(folder)``: a read-only view of ``folder`` (a bind mount, or refused os calls)."""
    mounts: list[Path] = []

    def make(folder: Path) -> Path:
        view = tmp_path / f"ro_{folder.name}"
        view.mkdir()
        if mounted(["mount", "--bind", str(folder), str(view)]):
            if mounted(["mount", "-o", "remount,ro,bind", str(view)]):
                mounts.append(view)
                return view
            subprocess.run(["umount", str(view)], check=True)
        shutil.copytree(folder, view, dirs_exist_ok=True)
        refuse_writes_under(monkeypatch, view)
        return view
    yield make
    for view in mounts:
        subprocess.run(["umount", "--lazy", str(view)], check=True)


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@pytest.mark.parametrize("kind", ["mat", "pairs"])
def test_training_and_evaluating_on_a_read_only_dataset_write_nothing_beside_it(kind, datasets, read_only,
                                                                                tmp_path, capsys):
    data = read_only(datasets)
    before = listing(data)
    path = data / ("mat/synthrooms.mat" if kind == "mat" else "pairs")
    out = tmp_path / "out"
    assert main(["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(path), "--out", str(out),
                 *TINY]) == 0, capsys.readouterr().err[-3000:]
    assert main(["eval", "--checkpoint", str(out / "checkpoints" / "zoedam_vitt"), "--data", str(path), "--out",
                 str(out), "--device", "cpu", "--preset", "cpu", "--name", "again"]) == 0
    assert listing(data) == before
    assert (out / "results" / "again.json").is_file() and list((out / "splits").glob("*.json"))


def test_a_missing_synthrooms_file_in_a_read_only_folder_says_where_to_render_it(datasets, read_only, tmp_path,
                                                                                 capsys):
    data = read_only(datasets)
    with pytest.raises(OutputError) as caught:  # a notebook's setup_run
        setup_run(data / "synthrooms.mat", out_dir=tmp_path / "nb", device="cpu", verbose=False)
    message = str(caught.value)
    assert message.startswith(f"cannot write to the data folder {data}: Read-only file system"), message
    assert ("synthrooms.mat is missing there, and SynthRooms renders a missing file into the folder it was asked in. "
            "Render it into a writable folder (python -m zoedam_lib synth --domain labeled --out DIR) and pass "
            f"DIR/synthrooms.mat instead (data_path / --data, or zero_shot / --zero-shot), or copy {data} somewhere "
            "writable.") in message

    ckpt = tmp_path / "out" / "checkpoints" / "zoedam_vitt"
    assert main(["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(datasets / "mat/synthrooms.mat"),
                 "--out", str(tmp_path / "out"), *TINY]) == 0
    capsys.readouterr()
    for args in (["train", "--model", "zoedam", "--backbone", "vitt", "--data", str(data / "synthrooms.mat"),
                  "--out", str(tmp_path / "out2"), *TINY],
                 ["eval", "--checkpoint", str(ckpt), "--data", str(data / "mat/synthrooms.mat"), "--zero-shot",
                  str(data / "mat/zeroshot_wide.mat"), "--out", str(tmp_path / "out"), "--device", "cpu",
                  "--preset", "cpu"]):
        assert main(args) == 2
        err = capsys.readouterr().err
        last = err.strip().splitlines()[-1]
        assert "Traceback" not in err and last.startswith("error: cannot write to the data folder "), err[-2000:]
        assert "--resume" not in last and ".tmp" not in last  # before: "cannot write …/.zeroshot_wide.mat.x1y2.tmp"
        assert "synth --domain labeled" in last or "synth --domain zeroshot_wide --out DIR" in last


def test_the_fallback_read_only_folder_refuses_every_python_write_and_serves_reads(tmp_path, monkeypatch):
    """Where no read-only mount is possible the fixtures fall back to ``refuse_writes_under``, forced here (as by
    ``ZOEDAM_TESTS_NO_MOUNT=1``). Was: only ``os.open`` and ``os.mkdir`` were refused, so a plain ``open(path, "w")``,
    ``Path.write_text`` or an ``os.replace`` into the folder wrote there and a test of a read-only folder passed
    without one. Now every write a mount would refuse raises ``PermissionError`` EROFS "Read-only file system",
    reads work, writes elsewhere work, and the folder is byte-identical."""
    import errno
    import io
    import os
    import tempfile

    from helpers import folder_files
    from read_only_helpers import NO_MOUNT_ENV, mounted

    monkeypatch.setenv(NO_MOUNT_ENV, "1")
    assert not mounted(["true"])  # the fixtures take the fallback
    folder, outside = tmp_path / "ro", tmp_path / "rw"
    (folder / "sub").mkdir(parents=True)
    outside.mkdir()
    (folder / "a.txt").write_text("data")
    (outside / "b.txt").write_text("mine")
    (outside / "link").symlink_to(folder, target_is_directory=True)
    before = folder_files(folder)
    refuse_writes_under(monkeypatch, folder)
    a = folder / "a.txt"
    writes = {
        "open w": lambda: open(folder / "new.txt", "w"),  # noqa: SIM115
        "open a": lambda: open(a, "a"),  # noqa: SIM115
        "open r+": lambda: open(a, "r+"),  # noqa: SIM115
        "open xb": lambda: open(folder / "new.bin", "xb"),  # noqa: SIM115
        "open w via a link": lambda: open(outside / "link" / "new.txt", "w"),  # noqa: SIM115
        "io.open": lambda: io.open(folder / "new.txt", "w"),  # noqa: SIM115, UP020
        "Path.write_text": lambda: a.write_text("changed"),
        "Path.write_bytes": lambda: (folder / "n.bin").write_bytes(b"x"),
        "Path.open": lambda: (folder / "n.txt").open("w"),
        "Path.touch": lambda: (folder / "t").touch(),
        "Path.mkdir": lambda: (folder / "d").mkdir(),
        "os.makedirs": lambda: os.makedirs(folder / "d" / "e"),
        "os.open": lambda: os.open(folder / "o", os.O_WRONLY | os.O_CREAT),
        "os.replace into": lambda: os.replace(outside / "b.txt", folder / "b.txt"),
        "os.rename out of": lambda: os.rename(a, outside / "a.txt"),
        "os.remove": lambda: os.remove(a),
        "Path.unlink": lambda: a.unlink(),
        "os.rmdir": lambda: os.rmdir(folder / "sub"),
        "tempfile.mkstemp": lambda: tempfile.mkstemp(dir=folder),
        "shutil.copy": lambda: shutil.copy(outside / "b.txt", folder),
    }
    for what, write in writes.items():
        with pytest.raises(PermissionError) as caught:
            write()
        assert caught.value.errno == errno.EROFS and caught.value.strerror == "Read-only file system", what
    with open(a) as f:
        assert f.read() == "data"
    with a.open("rb") as f:
        assert f.read() == b"data" and a.read_text() == "data" and a.read_bytes() == b"data"
    os.close(os.open(a, os.O_RDONLY))
    assert sorted(os.listdir(folder)) == ["a.txt", "sub"]
    (outside / "c.txt").write_text("elsewhere")  # writes outside the folder still work
    os.replace(outside / "c.txt", outside / "d.txt")
    monkeypatch.undo()
    assert folder_files(folder) == before and (outside / "b.txt").read_text() == "mine"
