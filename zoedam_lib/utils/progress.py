"""Progress bars: tqdm's text bar in a terminal, none inside a Jupyter kernel.

A kernel cannot tell an interactive notebook from papermill or nbval (papermill sets no
environment variable; all three run the same ipykernel), and a text bar there is written as a
new stderr output at every redraw: hundreds of lines in an executed notebook. So the rule is
simple: inside any Jupyter kernel no live bar is drawn; the trainer still prints one summary line
per epoch and evaluations print nothing. In a terminal (the CLI, scripts, ``torchrun``) the bar
stays. tqdm.auto's widget bar is never used: it needs ipywidgets and leaves widget references in
executed notebooks that no longer render.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from tqdm import TqdmWarning
from tqdm import tqdm as _tqdm

_BARS_DISABLED = False


def disable_bars() -> None:
    """No live bars in this process from now on: a worker whose output is collected and shown later
    (:mod:`zoedam_lib.experiments.concurrent`) prints the per-epoch lines only, as in a notebook."""
    global _BARS_DISABLED
    _BARS_DISABLED = True


def in_notebook() -> bool:
    """True inside a Jupyter kernel (notebooks, papermill, nbval, Colab); False in a terminal or IPython console.

    A kernel's shell carries the ``kernel`` it serves; the terminal IPython shell has none.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _import_tqdm_auto_quietly() -> None:
    """Import ``tqdm.auto`` once with its "IProgress not found" warning filtered.

    timm imports huggingface_hub, which imports ``tqdm.auto``; in a kernel without ipywidgets
    that import warns ``TqdmWarning: IProgress not found`` into the notebook's outputs, although
    nothing here uses a widget bar. Python caches the module, so later imports are silent.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="IProgress not found", category=TqdmWarning)
        import tqdm.auto  # noqa: F401


_import_tqdm_auto_quietly()


class tqdm(_tqdm):  # noqa: N801 - a drop-in for tqdm.tqdm
    """``tqdm.tqdm``, disabled inside a Jupyter kernel (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _BARS_DISABLED or in_notebook():
            kwargs["disable"] = True
        super().__init__(*args, **kwargs)
