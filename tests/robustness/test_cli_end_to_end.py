"""Every command-line path of every model, end to end: ``train`` (zoedam, densedepth, zoedam_plus), ``pretrain``,
``eval``, ``predict``, ``synth`` and ``app`` without Gradio. Each runs in-process on tiny data (a 24-image
SynthRooms file with 8 unlabeled images, vitt backbones, two steps) and must exit 0 with its outputs written
and loadable; ``train --model zoedam_plus`` ended in a traceback after writing everything. ``bench`` and
``download-nyu`` have their own tests (tests/test_bench.py, tests/test_download.py).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import random_photo, tiny_zoedam

from zoedam_lib import load_model, save_model
from zoedam_lib.cli import main
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.synthrooms.generate import generate_domain, generate_synthrooms

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = ["--epochs", "1", "--max-steps-per-epoch", "2", "--batch-size", "2"]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=24, size=(60, 80), n_unlabeled=8, workers=1,
                               progress=False)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    """A trained teacher as notebook 04 leaves it: its config.json says how it was initialised (here: randomly)."""
    init = {"pretrained": None, "decoder": "pretrained", "loaded_parts": [], "summary": "random"}
    return save_model(tiny_zoedam(1), tmp_path_factory.mktemp("teacher") / "zoedam_vitt", extra={"init": init})


def results_line(stdout: str) -> Path:
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("results: "), stdout[-2000:]
    path, _, numbers = last.removeprefix("results: ").partition("  abs_rel ")
    assert math.isfinite(float(numbers.split()[0])) and math.isfinite(float(numbers.split()[-1])), last
    return Path(path)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["zoedam", "densedepth", "zoedam_plus"])
def test_train_every_model_end_to_end(model, tiny_data, teacher, tmp_path, capsys):
    out = tmp_path / "run"
    extra = {"zoedam": ["--backbone", "vitt", "--img-size", "56x70"],
             "densedepth": ["--pretrained", "none", "--img-size", "64x96", "--decoder-width", "0.1"],
             "zoedam_plus": ["--teacher", str(teacher), "--unlabeled", str(tiny_data.parent / "unlabeled"),
                             "--n-unlabeled", "4", "--img-size", "56x70"]}[model]
    code = main(["train", "--model", model, "--data", str(tiny_data), "--out", str(out), "--preset", "cpu",
                 "--device", "cpu", "--n-val", "2", *STEPS, *extra])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err, captured.err[-3000:]
    key = {"zoedam": "zoedam_vitt", "densedepth": "densedepth", "zoedam_plus": "zoedam_plus"}[model]
    assert results_line(captured.out) == out / "results" / f"{key}.json"
    record = json.loads((out / "results" / f"{key}.json").read_text())
    assert record["model"] == key and all(math.isfinite(v) for v in record["metrics"].values())
    history = json.loads((out / "runs" / key / "history.json").read_text())
    assert [row["epoch"] for row in history["epochs"]] == [1] and len(history["steps"]) == 2
    assert load_model(out / "checkpoints" / key) is not None
    assert not list(out.glob("locks/*.lock"))  # released


@pytest.mark.slow
def test_pretrain_end_to_end(tiny_data, tmp_path, capsys):
    corpus = generate_domain("pretrain", tmp_path / "data", n=12, size=(30, 40), workers=1, progress=False)
    weights = tmp_path / "w" / "synthda_vitt14.safetensors"
    code = main(["pretrain", "--backbone", "vitt", "--data", str(corpus), "--out", str(tmp_path / "run"),
                 "--export", str(weights), "--device", "cpu", "--img-size", "28x42", "--n-holdout", "4",
                 "--eval", f"rooms={tiny_data}", *STEPS])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    assert f"wrote {weights} and {weights.with_suffix('.json')}" in captured.out
    manifest = json.loads(weights.with_suffix(".json").read_text())
    assert manifest["steps"] == 2 and set(manifest["relative_quality"]) == {"holdout", "rooms"}
    with pytest.warns(UserWarning, match="randomly initialised: head"):
        model = load_model(weights)  # Depth Anything v1 layout: encoder + decoder, the metric head random
    assert model.config.img_size == (28, 42)


def test_eval_end_to_end(tiny_data, teacher, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["eval", "--checkpoint", str(teacher), "--data", str(tiny_data), "--out", str(out), "--device", "cpu",
                 "--preset", "cpu", "--zero-shot", str(tiny_data), "--name", "tiny"])
    captured = capsys.readouterr()
    assert code == 0, captured.err[-3000:]
    record = json.loads((out / "results" / "tiny.json").read_text())
    with NyuMat(tiny_data) as data:
        assert record["zero_shot"]["synthrooms"]["n_test"] == len(data)
    assert "| tiny · test |" in captured.out and f"wrote {out / 'results' / 'tiny.json'}" in captured.out
    assert record["precision"] == "fp32" or record["precision"].startswith(("bf16 autocast", "fp16 autocast",
                                                                             "fp32: low precision refused"))
    assert main(["eval", "--checkpoint", str(teacher), "--data", str(tiny_data), "--out", str(out), "--device", "cpu",
                 "--preset", "cpu", "--zero-shot", "--name", "exact", "--fp32"]) == 0
    assert json.loads((out / "results" / "exact.json").read_text())["precision"] == "fp32"


def test_predict_end_to_end(teacher, tmp_path, capsys):
    random_photo(np.random.default_rng(0), 30, 40).save(tmp_path / "p.jpg")
    code = main(["predict", str(tmp_path / "p.jpg"), "--checkpoint", str(teacher), "--out", str(tmp_path / "out"),
                 "--ply", "--flip-tta", "--device", "cpu"])
    assert code == 0 and capsys.readouterr().out.strip().endswith("done 1 images, skipped 0")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p.ply", "p_color.png", "p_depth.png"]


@pytest.mark.parametrize("fmt", ["mat", "folder"])
def test_synth_end_to_end(fmt, tmp_path, capsys):
    assert main(["synth", "--domain", "zeroshot_wide", "--out", str(tmp_path), "--n", "2", "--size", "12x16",
                 "--workers", "1", "--format", fmt]) == 0
    written = Path(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("wrote "))
    assert written.exists() and (written.suffix == ".mat") == (fmt == "mat")


def test_app_without_gradio_exits_2_with_the_install_hint(teacher, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` fails as when the extra is absent
    assert main(["app", "--checkpoint", str(teacher)]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: the app needs gradio, which is not installed: run pip install -e ".[app]"')
