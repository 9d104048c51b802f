"""The recipe's intra-op thread count, not the launcher's, decides a CPU run's numbers (utils/threads.py):
``make demo`` (notebook 03 under OMP_NUM_THREADS=1), nbval and a lone papermill run must agree."""

from __future__ import annotations

import json

import pytest
import torch

from zoedam_lib.experiments.presets import CPU_THREADS, EXPERIMENTS, recipe_for
from zoedam_lib.utils.threads import intra_op_threads


def test_intra_op_threads_pins_the_count_and_restores_it():
    before = torch.get_num_threads()
    with intra_op_threads(1) as used:
        assert used == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with intra_op_threads(None) as used:
        assert used == before
    with pytest.raises(RuntimeError), intra_op_threads(1):
        raise RuntimeError("a failed run")
    assert torch.get_num_threads() == before


def test_every_cpu_training_recipe_pins_its_threads():
    for model in ("zoedam", "densedepth", "zoedam_plus"):
        assert recipe_for(model, "cpu").threads == CPU_THREADS == 1, model
        assert recipe_for(model, "paper").threads is None, model  # a GPU run: the CPU only feeds it
    assert "synthda" in EXPERIMENTS and recipe_for("synthda", "cpu").threads is None  # one long job alone


@pytest.mark.slow
def test_densedepth_gives_the_same_numbers_whatever_thread_count_it_is_launched_with(tmp_path, monkeypatch):
    from zoedam_lib.data.synthrooms.generate import generate_synthrooms
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.experiments.densedepth import run_densedepth
    from zoedam_lib.models import densedepth as dd

    monkeypatch.setattr(dd, "imagenet_densenet169_features", lambda: (_ for _ in ()).throw(OSError("offline")))
    data = generate_synthrooms(tmp_path / "data", n=24, size=(60, 80), workers=1, progress=False)
    before = torch.get_num_threads()
    rows = {}
    try:
        for launched in (2, 1):
            torch.set_num_threads(launched)
            ctx = setup_run(data_path=data, out_dir=tmp_path / f"run{launched}", device="cpu", preset="cpu",
                            verbose=False)
            recipe = recipe_for("densedepth", "cpu", seed=0, img_size=(32, 64), n_val=2, flip_tta=False, epochs=1,
                                batch_size=4, max_steps_per_epoch=2)
            run_densedepth(ctx, recipe=recipe, decoder_width=0.25)
            assert torch.get_num_threads() == launched  # restored for the rest of the notebook
            rows[launched] = json.loads((tmp_path / f"run{launched}" / "results" / "densedepth.json").read_text())
            history = (tmp_path / f"run{launched}" / rows[launched]["history"]).read_text()
            rows[launched]["losses"] = [step[2] for step in json.loads(history)["steps"]]
    finally:
        torch.set_num_threads(before)
    assert rows[1]["losses"] == rows[2]["losses"]
    assert rows[1]["metrics"] == rows[2]["metrics"]
