"""A model's final evaluation, computed once per weights and evaluation sets, and kept in the run folder.

Notebook 04 evaluates ZoeDAM-S on the test split and every zero-shot set (flip TTA: about 50 s on 2
CPU cores); notebook 05 evaluates the same weights again as the ZoeDAM+ teacher, and its student and
control (which run side by side, in other processes: :mod:`.concurrent`) each need that teacher row.
One evaluation serves them all, so the teacher's row in 05 is *the same numbers* as ZoeDAM-S's in 04.

The key is a digest of the weights (every state-dict tensor's name, dtype, shape and bytes), the
data file, the test split, the zero-shot sets, the flip TTA, the inference precision the device
allows (:mod:`~zoedam_lib.inference.precision`) and the source of the evaluation code (so a changed
metric is never answered from an old file). Entries live in memory and in
``<out_dir>/evaluations/<key>.json``, written whole and then renamed.

The files are JSON, not pickles: a run folder is something people share (a course's results, a
colleague's ``runs/``), and ``torch.load(weights_only=False)`` on its ``.pt`` files would run whatever
code a pickle there holds. JSON can only hold numbers, strings and lists, and is checked field by field
against :class:`EvalResult` on reading; a file that fails (damaged, edited, of another version) is
recomputed, with a line saying so. The ``.pt`` files of earlier versions are never read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoedam_lib.checkpoints.saving import update_digest
from zoedam_lib.evaluation import evaluate as evaluation
from zoedam_lib.evaluation import metrics
from zoedam_lib.evaluation.by_depth import DepthBinned
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.inference import precision
from zoedam_lib.utils.atomic import atomic_write_json, remove_stale_temporaries
from zoedam_lib.utils.paths import display_path

EVALUATIONS_DIR = "evaluations"
_CODE = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (evaluation, metrics, precision))).hexdigest()
_MEMO: dict[str, tuple[EvalResult, dict[str, EvalResult]]] = {}


def evaluation_key(ctx: RunContext, model: nn.Module, flip_tta: bool) -> str:
    """What an evaluation depends on: weights, data, test split, zero-shot sets, TTA, precision, evaluation code."""
    digest = hashlib.sha256()
    update_digest(digest, model)
    digest.update(repr((str(ctx.data_path), tuple(ctx.split.test),
                        tuple(sorted((n, str(p)) for n, p in ctx.zero_shot.items())), flip_tta,
                        precision.capability(torch.device(ctx.device)), _CODE)).encode())
    return digest.hexdigest()


def evaluate_once(ctx: RunContext, model: nn.Module, flip_tta: bool) -> tuple[EvalResult, dict[str, EvalResult]]:
    """``ctx.evaluate(model, flip_tta)`` (test split, zero-shot sets), or its earlier result for the same key."""
    key = evaluation_key(ctx, model, flip_tta)
    if key not in _MEMO:
        path = Path(ctx.out_dir) / EVALUATIONS_DIR / f"{key[:32]}.json"
        stored = read_entry(path, key) if path.exists() else None
        if stored is None:
            stored = ctx.evaluate(model, flip_tta=flip_tta)
            remove_stale_temporaries(path)  # left by a process killed while writing this entry
            atomic_write_json(path, entry_json(key, *stored))
        _MEMO[key] = stored
    return _MEMO[key]


def entry_json(key: str, test: EvalResult, zero_shot: dict[str, EvalResult]) -> dict[str, Any]:
    """One cache file's content: the full key and every evaluation as plain JSON values."""
    return {"key": key, "test": dataclasses.asdict(test),
            "zero_shot": {name: dataclasses.asdict(r) for name, r in zero_shot.items()}}


def read_entry(path: Path, key: str) -> tuple[EvalResult, dict[str, EvalResult]] | None:
    """The evaluations stored at ``path`` for ``key``, or None (said in one line) when the file cannot serve:
    unreadable, not JSON, another key, or fields that are not an :class:`EvalResult`'s."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        if entry.get("key") != key:
            raise ValueError("it holds another evaluation's key")
        return _result(entry["test"]), {str(n): _result(r) for n, r in entry["zero_shot"].items()}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        print(f"evaluation cache {display_path(path)} cannot be read ({type(exc).__name__}: {str(exc)[:120]}); "
              "evaluating again")
        return None


_TYPES = {"metrics": dict, "per_image": list, "skipped": list, "flip_tta": bool, "median_scaled": dict, "name": str,
          "precision": str, "camera": str}


def _result(fields: dict[str, Any]) -> EvalResult:
    """An :class:`EvalResult` from its JSON fields: exactly the dataclass's fields, each of its type."""
    names = {f.name for f in dataclasses.fields(EvalResult)}
    if not isinstance(fields, dict) or set(fields) != names:
        found = sorted(fields) if isinstance(fields, dict) else type(fields).__name__
        raise ValueError(f"expected the fields {sorted(names)}, got {found}")
    for name, kind in _TYPES.items():
        if not isinstance(fields[name], kind):
            raise TypeError(f"{name} must be a {kind.__name__}, got {type(fields[name]).__name__}")
    if not all(isinstance(v, (int, float)) for part in ("metrics", "median_scaled") for v in fields[part].values()):
        raise TypeError("metrics must be numbers")
    if not all(isinstance(row, dict) and all(isinstance(v, (int, float)) for v in row.values())
               for row in fields["per_image"]):
        raise TypeError("per_image must be rows of numbers")
    by = fields["by_depth"]
    binned = None if by is None else DepthBinned(**{k: tuple(v) for k, v in by.items()})
    return EvalResult(**{**fields, "by_depth": binned})
