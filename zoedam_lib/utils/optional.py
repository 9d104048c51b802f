"""Optional dependencies (ONNX Runtime, OpenVINO, Gradio, lmdb): imported on first use, with one kind of error.

The core package installs without the extras (``pip install -e .``); a command that needs one
says which package is missing and the line that installs it, instead of a bare ImportError.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from zoedam_lib.utils.errors import ZoeDAMError


def require(module: str, needed_for: str, install: str, error: type[ZoeDAMError] = ZoeDAMError) -> ModuleType:
    """``import module``, or ``error`` saying "``needed_for`` needs ``module``, which is not installed: ``install``"."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise error(f"{needed_for} needs {module}, which is not installed: {install}") from None
