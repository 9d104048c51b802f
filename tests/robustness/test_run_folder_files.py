"""Run-folder and checkpoint files someone else made: the evaluation cache, ``config.json`` sizes and format,
``train_state.pt`` structure, results JSONs. None of them runs code, allocates what it asks for before it is
checked, or loads silently when it is of another format; each problem names the file and what to do."""

from __future__ import annotations

import json
import math
import pickle
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
