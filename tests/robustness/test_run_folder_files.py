"""Run-folder and checkpoint files someone else made: the evaluation cache, ``config.json`` sizes and format,
``train_state.pt`` structure, results JSONs. None of them runs code, allocates what it asks for before it is
checked, or loads silently when it is of another format; each problem names the file and what to do."""

from __future__ import annotations

import json
import math
import pickle
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from zoedam_lib.evaluation.by_depth import DepthBinned
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.experiments import evaluation_cache as evaluations

# --------------------------------------------------------------------------- the evaluation cache


class _Payload:
    """A pickle that, when loaded, creates ``marker``: stands for any code a shared run folder could hold."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _cache_ctx(tmp_path: Path, calls: list) -> SimpleNamespace:
    result = EvalResult({"abs_rel": 0.156, "rmse": math.nan}, [{"index": 3, "abs_rel": 0.1, "pred_median": 2.5}],
                        [7], True, {"abs_rel": 0.13}, "test", DepthBinned((0.0, 1.0, 2.0), (0.1, math.nan), (1, 0),
                                                                          (40, 0)), "fp32", "none")
    wide = EvalResult({"abs_rel": 0.6}, name="zeroshot_wide")

    def evaluate(model, flip_tta):
        calls.append(flip_tta)
        return result, {"zeroshot_wide": wide}

    return SimpleNamespace(data_path="d.mat", split=SimpleNamespace(test=(1, 2)), zero_shot={}, out_dir=tmp_path,
                           device="cpu", evaluate=evaluate)


def test_evaluation_cache_never_unpickles_a_run_folder_file(tmp_path, monkeypatch):
    """A pickle at the cache's old name (``evaluations/<key>.pt``, read with ``weights_only=False``) is never
    loaded; the cache is JSON, and read back in another process it equals the evaluation (NaN, ranges and all)."""
    calls, model = [], torch.nn.Linear(2, 2)
    ctx = _cache_ctx(tmp_path, calls)
    key = evaluations.evaluation_key(ctx, model, True)
    (tmp_path / "evaluations").mkdir()
    marker = tmp_path / "payload_ran"
    torch.save(_Payload(marker), tmp_path / "evaluations" / f"{key[:32]}.pt")
    monkeypatch.setattr(evaluations, "_MEMO", {})
    first = evaluations.evaluate_once(ctx, model, True)
    assert not marker.exists() and calls == [True]
    stored = json.loads((tmp_path / "evaluations" / f"{key[:32]}.json").read_text())
    assert stored["key"] == key and stored["test"]["by_depth"]["edges"] == [0.0, 1.0, 2.0]
    monkeypatch.setattr(evaluations, "_MEMO", {})  # another process
    again = evaluations.evaluate_once(ctx, model, True)
    assert calls == [True] and repr(again) == repr(first)  # repr: NaN == NaN
    assert isinstance(again[0].by_depth, DepthBinned) and again[0].by_depth.n_pixels == (40, 0)


@pytest.mark.parametrize("damage", ["not json", "other key", "missing field", "metric a string", "a list"])
def test_damaged_evaluation_cache_file_is_recomputed_with_a_line(tmp_path, monkeypatch, capsys, damage):
    """A cache file that is a pickle, another evaluation's, lacks a field, holds a string metric or a list: one line
    "evaluation cache <file> cannot be read (…); evaluating again", the same numbers, the file replaced."""
    calls, model = [], torch.nn.Linear(2, 2)
    ctx = _cache_ctx(tmp_path, calls)
    first = evaluations.evaluate_once(ctx, model, True)
    path = next((tmp_path / "evaluations").glob("*.json"))
    entry = json.loads(path.read_text())
    if damage == "not json":
        path.write_bytes(pickle.dumps(_Payload(tmp_path / "payload_ran")))
    else:
        if damage == "other key":
            entry["key"] = "0" * 64
        elif damage == "missing field":
            del entry["test"]["per_image"]
        elif damage == "metric a string":
            entry["zero_shot"]["zeroshot_wide"]["metrics"]["abs_rel"] = "0.6"
        else:
            entry = [entry]
        path.write_text(json.dumps(entry))
    monkeypatch.setattr(evaluations, "_MEMO", {})
    again = evaluations.evaluate_once(ctx, model, True)
    assert calls == [True, True] and repr(again) == repr(first) and not (tmp_path / "payload_ran").exists()
    out = capsys.readouterr().out
    assert f"evaluation cache {path}" in out and "cannot be read" in out and "evaluating again" in out
    monkeypatch.setattr(evaluations, "_MEMO", {})
    evaluations.evaluate_once(ctx, model, True)
    assert calls == [True, True]  # the recomputed entry replaced the damaged file


# --------------------------------------------------------------------------- config.json: sizes, shapes, format


@pytest.fixture(scope="module")
def own_checkpoint(tmp_path_factory) -> Path:
    from helpers import tiny_zoedam

    from zoedam_lib import save_model

    return save_model(tiny_zoedam(), tmp_path_factory.mktemp("own") / "tiny")


def _edited(source: Path, tmp_path: Path, edit) -> Path:
    """A copy of checkpoint ``source`` whose config.json went through ``edit(meta)``."""
    import shutil

    copy = Path(shutil.copytree(source, tmp_path / "edited"))
    meta = json.loads((copy / "config.json").read_text())
    edit(meta)
    (copy / "config.json").write_text(json.dumps(meta))
    return copy


@pytest.fixture
def no_real_build(monkeypatch):
    """ZoeDAM may be built on the meta device (shapes only) but not for real: a real build of these configs would
    allocate gigabytes (n_bins 1e7: 11 GB measured) before anything said no."""
    from zoedam_lib.models.zoedam import ZoeDAM

    init = ZoeDAM.__init__

    def guarded(self, *args, **kwargs):
        if torch.empty(0).device.type != "meta":
            raise AssertionError("the model was built for real before its config was checked")
        init(self, *args, **kwargs)

    monkeypatch.setattr(ZoeDAM, "__init__", guarded)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("n_bins", 10_000_000, "n_bins=10000000 is outside 1-1024 (ZoeDepth uses 64)"),
    ("img_size", [14000, 14000], "img_size=[14000, 14000] is outside 1-4096 (per side, pixels"),
    ("n_attractors", [100_000_000, 8, 4, 1], "n_attractors=[100000000, 8, 4, 1] is outside 1-1024"),
], ids=["n_bins-1e7", "img_size-14000", "n_attractors-1e8"])
def test_config_asking_for_huge_sizes_is_refused_before_building(own_checkpoint, tmp_path, no_real_build, field,
                                                                value, message):
    from zoedam_lib import load_model
    from zoedam_lib.utils.errors import ConfigError

    path = _edited(own_checkpoint, tmp_path, lambda meta: meta["config"].update({field: value}))
    with pytest.raises(ConfigError, match=re.escape(f"{path / 'config.json'}: {message}")):
        load_model(path)


def test_config_whose_shapes_do_not_fit_the_weights_is_refused_before_building(own_checkpoint, tmp_path,
                                                                               no_real_build):
    """``n_bins: 1000`` (inside the bounds) beside 64-bin weights: the shapes are compared on the meta device,
    and the error lists the mis-shaped head tensors without a real build."""
    from zoedam_lib import load_model
    from zoedam_lib.utils.errors import CheckpointError

    path = _edited(own_checkpoint, tmp_path, lambda meta: meta["config"].update(n_bins=1000))
    with pytest.raises(CheckpointError, match=r"(?s)does not fit the model \(ZoeDAM, parts .*shape mismatches \(3\): .*"
                                              r"seed_bin_regressor._net.2.bias: checkpoint \(64,\) vs model \(1000,\)"):
        load_model(path)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda meta: meta.update(format_version=99), "format_version 99 was written by a newer zoedam_lib; this one "
                                                  "reads up to format_version 1. Upgrade zoedam_lib"),
    (lambda meta: meta.pop("format"), "'format' is 'missing', expected 'zoedam_lib' (save_model writes it beside "
                                      "these weights): the file was edited or replaced"),
    (lambda meta: meta.update(format="zoedepth"), "'format' is 'zoedepth', expected 'zoedam_lib'"),
    (lambda meta: meta.update(format_version="1"), "'format_version' must be a whole number >= 1, got '1'"),
    (lambda meta: meta.pop("format_version"), "'format_version' must be a whole number >= 1, got None"),
], ids=["version-99", "no-format", "other-format", "version-a-string", "no-version"])
def test_config_json_of_another_format_or_a_newer_version_is_refused(own_checkpoint, tmp_path, edit, message):
    """Were: loaded silently, the fields read as this version's."""
    from zoedam_lib import load_model
    from zoedam_lib.utils.errors import CheckpointError

    path = _edited(own_checkpoint, tmp_path, edit)
    with pytest.raises(CheckpointError, match=re.escape(f"{path / 'config.json'}: {message}")):
        load_model(path)
    assert load_model(own_checkpoint).config.n_bins == 64  # the unedited checkpoint loads


# --------------------------------------------------------------------------- train_state.pt of another structure


def _tamper_missing_key(payload):
    del payload["optimizer"]
    return payload


def _tamper_string_epoch(payload):
    payload["state"]["epoch"] = "3"
    return payload


def _tamper_future_epoch(payload):
    payload["state"]["epoch"] = 3
    return payload


@pytest.mark.parametrize(("tamper", "message"), [
    (_tamper_missing_key, "it lacks ['optimizer']"),
    (lambda payload: torch.zeros(3), "it holds a Tensor, not the dict of model, optimizer"),
    (_tamper_string_epoch, "TrainState.epoch must be int, got '3' (str)"),
    (_tamper_future_epoch, "its progress (epoch 3, step 0) does not fit its 2-epoch run"),
], ids=["missing-key", "bare-tensor", "string-epoch", "epoch-beyond-the-run"])
def test_resume_from_a_train_state_of_another_structure_is_explained(tmp_path, tamper, message):
    """Was: a raw KeyError / TypeError from inside the resume. The file loads (``weights_only=True``), but its
    structure is checked before anything is restored."""
    from helpers import make_trainer

    from zoedam_lib.utils.errors import CheckpointError

    make_trainer(tmp_path).fit()
    path = tmp_path / "train_state.pt"
    torch.save(tamper(torch.load(path, weights_only=True)), path)
    with pytest.raises(CheckpointError, match=re.escape(f"cannot resume from {path}: it is not a train state this "
                                                        f"code wrote ({message}") + r".*Delete it to start the run "
                                                                                    r"over"):
        make_trainer(tmp_path).fit(resume=True)


# --------------------------------------------------------------------------- results JSONs read by `seeds`


def _results_file(run: Path, seed: int, changes: dict | None = None) -> Path:
    """A results JSON as write_result makes it (the fields `seeds` reads), with ``changes`` applied."""
    metrics = {"abs_rel": 0.2 + seed / 100, "rmse": 0.5, "a1": 0.7}
    record = {"model": "zoedam_vits", "seed": seed, "metrics": metrics,
              "zero_shot": {"wide": {"metrics": dict(metrics), "median_scaled": dict(metrics)}}, **(changes or {})}
    path = run / "results" / "zoedam_vits.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record) if not isinstance(record.get("raw"), str) else record["raw"])
    return path


@pytest.mark.parametrize(("changes", "message"), [
    ({"raw": "{\"model\": \"zoedam_vits\", "}, r"is not readable JSON \(Expecting property name"),
    ({"raw": "[1, 2]"}, r"holds a JSON list, expected an object with 'model', 'seed' and 'metrics'"),
    ({"raw": "{\"model\": \"zoedam_vits\"}"}, r"lacks \['seed', 'metrics'\] \(it has \['model'\]\)"),
    ({"seed": "1"}, r"'seed' must be a whole number >= 0, got '1'"),
    ({"metrics": {"abs_rel": "0.2", "rmse": 0.5}}, r"metrics lacks \['a1'\]; metrics are not numbers: abs_rel='0.2'"),
    ({"zero_shot": {"wide": {"metrics": {"abs_rel": 0.1, "rmse": 1, "a1": 1}, "median_scaled": []}}},
     r"zero_shot\['wide'\].median_scaled must be an object of metric name to number, got list"),
    ({"zero_shot": []}, r"'zero_shot' must be an object of evaluation sets, got list"),
], ids=["truncated", "list", "missing-keys", "seed-string", "metric-string", "median-list", "zero-shot-list"])
def test_seeds_of_a_malformed_results_file_names_the_file_and_what_is_wrong(tmp_path: Path, capsys, changes,
                                                                            message) -> None:
    """`zoedam seeds` over a results JSON that is truncated, a list, lacks keys or holds wrong types (were: raw
    TypeError / KeyError / ValueError tracebacks, or a not-JSON file skipped with a line and its seed dropped):
    exit 2, one `error:` line naming the file and what is wrong; the good runs alone summarise."""
    from zoedam_lib.cli import main

    _results_file(tmp_path / "seed0", 0)
    _results_file(tmp_path / "seed1", 1)
    assert main(["seeds", str(tmp_path)]) == 0
    assert "| ZoeDAM-S | test | abs_rel | 0.205 ± 0.007" in capsys.readouterr().out
    _results_file(tmp_path / "seed2", 2, changes)
    assert main(["seeds", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: results file ") and "seed2/results/zoedam_vits.json" in err[0]
    assert re.search(message, err[0]) and "Traceback" not in captured.err, err[0]
    assert "re-run the notebook or command that wrote it, or move the file out of results/" in err[0]


def test_seeds_refuses_one_seed_twice_and_two_files_of_one_model(tmp_path: Path, capsys) -> None:
    """Two run folders with the same model and seed (was: one of them silently dropped from the spread) and one
    run folder holding two files of one model (a copy): exit 2 naming both files; one folder named twice counts
    once."""
    from zoedam_lib.cli import main

    _results_file(tmp_path / "a", 0)
    _results_file(tmp_path / "b", 1)
    assert main(["seeds", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "a")]) == 0
    capsys.readouterr()
    _results_file(tmp_path / "c", 1)
    assert main(["seeds", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "b/results/zoedam_vits.json and " in err and "c/results/zoedam_vits.json both hold 'zoedam_vits' with " \
           "seed 1: a spread over seeds counts each seed once" in err, err
    (tmp_path / "c" / "results" / "zoedam_vits.json").rename(tmp_path / "b" / "results" / "copy.json")
    assert main(["seeds", str(tmp_path)]) == 2
    assert "both hold the results of 'zoedam_vits', one run folder holds one file per model" in capsys.readouterr().err
