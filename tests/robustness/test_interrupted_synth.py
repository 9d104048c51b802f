"""``synth --format folder`` killed part way, and writes refused by a file size limit or a disk quota.

A killed synth must leave a folder the same command can complete (while a user's own folder stays refused),
and a refused write of any kind is one ``error:`` line naming the file, never a traceback.
"""

from __future__ import annotations

import errno
import json
import os

import pytest
from helpers import folder_files, last_error
from PIL import Image

import zoedam_lib.data.folder.export as export
from zoedam_lib.cli import main

SYNTH = ["synth", "--domain", "zeroshot_wide", "--n", "3", "--size", "12x16", "--workers", "1", "--format", "folder",
         "--out"]


class Killed(BaseException):
    """Stands for SIGKILL: no handler of the CLI catches it, and nothing after it runs."""


def test_synth_folder_killed_before_dataset_json_is_completed_by_a_rerun(tmp_path, monkeypatch, capsys):
    """A synth killed after two of its three pairs left ``images/``, ``depth/`` and the rendered ``.mat`` but no
    ``dataset.json``: the re-run refused it as "not a synth output (it holds depth, images, zeroshot_wide.mat)",
    so the folder could never be finished. Without the in-progress marker this test fails (no marker is left,
    and the re-run exits 2, not 0). With it the re-run completes the folder, byte-identical to an uninterrupted run, and
    removes the marker; other settings are refused naming both; a user's folder without the marker still is."""
    from folder_helpers import make_folder

    reference = tmp_path / "uninterrupted" / "synth"  # the same name: dataset.json holds it
    assert main([*SYNTH, str(reference)]) == 0
    out = tmp_path / "killed" / "synth"
    written = []
    real_write = export.write_depth_png16

    def dies_after_two(path, depth):
        if len(written) == 2:
            raise Killed
        written.append(path)
        real_write(path, depth)
    monkeypatch.setattr(export, "write_depth_png16", dies_after_two)
    with pytest.raises(Killed):
        main([*SYNTH, str(out)])
    monkeypatch.undo()
    assert not (out / "dataset.json").exists() and (out / export.IN_PROGRESS).is_file()
    assert json.loads((out / export.IN_PROGRESS).read_text())["synth"]["n"] == 3
    assert main([*SYNTH[:4], "2", *SYNTH[5:], str(out)]) == 2  # other settings: refused, untouched
    last = last_error(capsys)
    assert (f"--out {out} is not empty and an interrupted synth output of other settings ({{'domain': "
            "'zeroshot_wide', 'n': 3,") in last and "not of these ({'domain': 'zeroshot_wide', 'n': 2," in last, last
    assert main([*SYNTH, str(out)]) == 0  # the same command again completes it
    assert folder_files(out) == folder_files(reference) and not (out / export.IN_PROGRESS).exists()
    users = make_folder(tmp_path / "mine", n=3, spec={"name": "mine", "depth_unit": "mm"})
    before = folder_files(users)
    assert main([*SYNTH, str(users)]) == 2 and folder_files(users) == before
    assert "is not empty and not a synth output (it holds dataset.json, depth, images)" in last_error(capsys)


@pytest.mark.parametrize("code", [errno.EFBIG, errno.EDQUOT])
def test_a_file_size_limit_or_quota_names_the_file_it_could_not_write(code, tmp_path, monkeypatch, capsys):
    """EFBIG ("File too large": a file system's or ``ulimit -f``'s size limit) was missing from the CLI's list of
    refused writes, so it ended in a traceback instead of the ``error: cannot write <file>`` line ENOSPC gets;
    the EFBIG case fails without it. EDQUOT (a disk quota) is pinned beside it."""
    def refused(self, fp, *args, **kwargs):
        raise OSError(code, os.strerror(code))
    monkeypatch.setattr(Image.Image, "save", refused)
    out = tmp_path / "out"
    assert main([*SYNTH, str(out)]) == 2
    last = last_error(capsys)
    assert last.startswith(f"error: cannot write {out / 'images' / '00000.png'}: {os.strerror(code)}"), last
    assert ("ulimit -f" in last) == (code == errno.EFBIG)
