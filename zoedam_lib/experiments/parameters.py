"""Check a notebook's parameters once, right after papermill has injected them, before any data are opened.

A notebook run by papermill (``-p backbone vitx``) or edited by hand would otherwise fail minutes
later, deep inside training, or worse run with a value it silently misreads (``pretrained="imagnet"``
in notebook 03 starting a random encoder). Every notebook's cell after ``parameters`` calls
:func:`check_parameters` with its namespace; every parameter name of the course has one rule here
(``tests/test_parameters.py`` fails for a notebook parameter without one), and a notebook whose
parameter means something narrower passes its own rule (notebook 03: ``pretrained=("imagenet", None)``).

    check_parameters(globals())                                   # 01, 02, 05
    check_parameters(globals(), pretrained=("imagenet", None))    # 03: its own choices for a shared name
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from zoedam_lib.camera.canonical import CAMERA_MODES
from zoedam_lib.data.splits import SPLIT_KINDS
from zoedam_lib.experiments.context import PRESETS
from zoedam_lib.experiments.recipes import STUDENT_INITS
from zoedam_lib.experiments.zoedam_plus import PSEUDO_MODES
from zoedam_lib.models.backbones import BACKBONES
from zoedam_lib.utils.errors import ConfigError


@dataclass(frozen=True)
class Rule:
    """What a parameter may be: ``ok(value)`` and, for the error, the expected values in words."""

    ok: Callable[[Any], bool]
    expected: str


def choice(*values: Any) -> Rule:
    """One of ``values`` (None included if listed)."""
    return Rule(lambda v: any(v is c if c is None or isinstance(c, bool) else v == c for c in values),
                " | ".join(repr(v) for v in values))


def integer(low: int, optional: bool = False) -> Rule:
    """An int ≥ ``low`` (not a bool), or None when ``optional`` (None: the preset's value)."""
    text = f"an integer >= {low}" + (" or None (the preset's)" if optional else "")
    return Rule(lambda v: (optional and v is None) or (isinstance(v, int) and not isinstance(v, bool) and v >= low),
                text)


def number(low: float, high: float = float("inf"), optional: bool = False) -> Rule:
    """A real number in [``low``, ``high``] (ints accepted), or None when ``optional``."""
    text = f"a number in [{low:g}, {high:g}]" + (" or None (the preset's)" if optional else "")
    return Rule(lambda v: (optional and v is None) or (isinstance(v, int | float) and not isinstance(v, bool)
                                                        and low <= v <= high), text)


def _path(v: Any) -> bool:
    return isinstance(v, str | os.PathLike) and bool(str(v).strip())


FLAG = Rule(lambda v: isinstance(v, bool), "True | False")
PATH = Rule(_path, "a non-empty path")
PATH_OR_NONE = Rule(lambda v: v is None or _path(v), "None or a non-empty path")
PATHS_OR_NONE = Rule(lambda v: v is None or _path(v) or (isinstance(v, list | tuple) and bool(v)
                                                          and all(map(_path, v))),
                     "None, a folder, or a list of folders")
SOURCE = Rule(lambda v: v is None or (isinstance(v, str) and bool(v.strip())),
              "None (random) or a weights source: 'auto', a path, a known name or a Hub id")
DEVICE = Rule(lambda v: isinstance(v, str) and re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) is not None,
              "'auto' | 'cpu' | 'cuda' | 'cuda:N' | 'mps'")

RULES: dict[str, Rule] = {
    # every notebook (setup_run)
    "data_path": PATH, "split": choice(*SPLIT_KINDS), "seed": integer(0), "out_dir": PATH, "device": DEVICE,
    "preset": choice(*PRESETS),
    # 01, 02, 06
    "n_examples": integer(1), "n_images": integer(1),
    # training notebooks (03, 04, 05)
    "epochs": integer(1, optional=True), "batch_size": integer(1, optional=True),
    "lr": number(1e-12, 1.0, optional=True), "resume": FLAG, "pretrained": SOURCE,
    # 04 (ZoeDAM)
    "backbone": choice(*BACKBONES), "decoder": choice("pretrained", "random"), "silog_beta": number(0.0, 1.0),
    "compare_random": FLAG, "ablation_epochs": integer(0), "camera": choice(*CAMERA_MODES),
    # 05 (ZoeDAM+)
    "teacher": PATH_OR_NONE, "unlabeled_dirs": PATHS_OR_NONE, "n_unlabeled": integer(1, optional=True),
    "unlabeled_ratio": integer(1, optional=True), "cutmix_p": number(0.0, 1.0), "unlabeled_weight": number(0.0),
    "pseudo_labels": choice(*PSEUDO_MODES), "student_init": choice(None, *STUDENT_INITS), "control": FLAG,
    "feature_alignment": FLAG, "metric_pseudo": FLAG, "train_missing": FLAG,
    # 07 (cameras)
    "example": integer(0),
}


def check_parameters(namespace: Mapping[str, Any], **own: Rule | tuple) -> None:
    """Check every known parameter in ``namespace`` (a notebook's ``globals()``); names without a rule are
    not parameters (imports, IPython's ``In``) and are left alone. Returns nothing, so the call shows nothing.

    ``own``: this notebook's rule for a name, replacing the shared one (a tuple is a :func:`choice`).
    Every bad value is named in one :class:`~zoedam_lib.utils.errors.ConfigError`, with what it may be.
    """
    rules = {**RULES, **{k: choice(*v) if isinstance(v, tuple) else v for k, v in own.items()}}
    found = {name: namespace[name] for name in rules if name in namespace}
    bad = [f"  {name} = {value!r}: expected {rules[name].expected}" for name, value in found.items()
           if not rules[name].ok(value)]
    if bad:
        raise ConfigError("invalid notebook parameter(s) — fix the parameters cell or the -p option:\n"
                          + "\n".join(bad))
