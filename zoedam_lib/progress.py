"""Progress bars: tqdm's plain text bar, throttled when running inside a notebook kernel.

tqdm.auto's widget bar needs ipywidgets and leaves widget references in executed notebooks that
no longer render; the text bar renders in terminals, JupyterLab and Colab alike. In a kernel it
redraws at most every few seconds, so committed notebook outputs stay short.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm as _tqdm


def in_notebook() -> bool:
    """True inside a Jupyter/IPython kernel (notebooks, papermill, nbval)."""
    return "ipykernel" in sys.modules


class tqdm(_tqdm):  # noqa: N801 - a drop-in for tqdm.tqdm
    """``tqdm.tqdm`` with notebook-friendly defaults (``mininterval`` 10 s in a kernel)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if in_notebook():
            kwargs.setdefault("mininterval", 10.0)
            kwargs.setdefault("ncols", 100)
        super().__init__(*args, **kwargs)
