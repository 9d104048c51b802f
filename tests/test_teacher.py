"""ensure_teacher: notebook 05 opened alone trains notebook 04's teacher instead of stopping; otherwise reuses it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from zoedam_lib.experiments import teacher as teacher_mod


def test_ensure_teacher_reuses_passes_through_or_trains_once(tmp_path, monkeypatch):
    trained = []

    def fake_run_zoedam(ctx, backbone, camera):
        trained.append((backbone, camera))
        (ctx.out_dir / "checkpoints" / teacher_mod.TEACHER_KEY).mkdir(parents=True)

    monkeypatch.setattr(teacher_mod, "run_zoedam", fake_run_zoedam)
    ctx = SimpleNamespace(out_dir=tmp_path)
    assert teacher_mod.ensure_teacher(ctx, "my/teacher") == "my/teacher" and trained == []
    path = teacher_mod.ensure_teacher(ctx)  # nothing there: trained with notebook 04's call
    assert trained == [("vits", "canonical")] and path == tmp_path / "checkpoints" / teacher_mod.TEACHER_KEY
    assert teacher_mod.ensure_teacher(ctx) == path and len(trained) == 1  # there now: reused


def test_load_teacher_without_a_checkpoint_still_says_how_to_get_one(tmp_path):
    from zoedam_lib.utils.errors import CheckpointError

    with pytest.raises(CheckpointError, match="notebook 04"):
        teacher_mod.load_teacher(SimpleNamespace(out_dir=tmp_path), None)
