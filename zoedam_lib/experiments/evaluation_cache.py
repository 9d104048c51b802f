"""A model's final evaluation, computed once per weights and evaluation sets, and kept in the run folder.

Notebook 04 evaluates ZoeDAM-S on the test split and every zero-shot set (flip TTA: about 50 s on 2
CPU cores); notebook 05 evaluates the same weights again as the ZoeDAM+ teacher, and its student and
control (which run side by side, in other processes: :mod:`.concurrent`) each need that teacher row.
One evaluation serves them all, so the teacher's row in 05 is *the same numbers* as ZoeDAM-S's in 04.

The key is a digest of the weights (every state-dict tensor's name, dtype, shape and bytes), the
data file, the test split, the zero-shot sets, the flip TTA, the inference precision the device
allows (:mod:`~zoedam_lib.inference.precision`) and the source of the evaluation code (so a changed
metric is never answered from an old file). Entries live in memory and in
``<out_dir>/evaluations/<key>.pt``, written whole and then renamed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

from zoedam_lib.checkpoints.saving import update_digest
from zoedam_lib.evaluation import evaluate as evaluation
from zoedam_lib.evaluation import metrics
from zoedam_lib.evaluation.evaluate import EvalResult
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.inference import precision
from zoedam_lib.utils.atomic import atomic_path

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
        path = Path(ctx.out_dir) / EVALUATIONS_DIR / f"{key[:32]}.pt"
        if path.exists():
            _MEMO[key] = torch.load(path, weights_only=False)  # our own file, written below
        else:
            _MEMO[key] = ctx.evaluate(model, flip_tta=flip_tta)
            with atomic_path(path) as tmp:
                torch.save(_MEMO[key], tmp)
    return _MEMO[key]
