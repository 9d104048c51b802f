"""Errors a user can act on.

Every error raised for bad input says what was expected and what to do next, so a notebook
user never has to read a traceback from deep inside h5py or torch to find the cause.
"""

from __future__ import annotations

import pickle


class ZoeDAMError(Exception):
    """Base class of the errors zoedam_lib raises for user-fixable problems."""


class DataFileError(ZoeDAMError):
    """A dataset file is missing, truncated or not in the expected layout."""


class ImageReadError(ZoeDAMError):
    """An image file cannot be decoded (or must not be: too large, non-finite pixels)."""

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason  # a few words for summaries ("too large"); None: the decoder's own failure


class CheckpointError(ZoeDAMError):
    """A checkpoint is missing, corrupt, unsafe or does not fit the model."""


class ConfigError(ZoeDAMError, ValueError):
    """A parameter or configuration value is invalid."""


class OutputError(ZoeDAMError):
    """An output folder cannot be written, is a file, or is in use by another run."""


class PredictionError(ZoeDAMError):
    """A model produced a non-finite depth (NaN/inf): nothing is written as if it were a depth map."""


class NonFiniteLossError(ZoeDAMError):
    """Training produced too many NaN/inf losses in a row to continue."""


class TrainingInterrupted(ZoeDAMError):
    """Training was interrupted (SIGINT); a checkpoint was saved and the run can be resumed."""


def refusal_reason(exc: pickle.UnpicklingError) -> str:
    """What ``torch.load(weights_only=True)`` refused (e.g. ``GLOBAL posix.system``), in one line.

    Not torch's first line: it advises re-running with ``weights_only=False``, which is exactly
    what must not be done with an untrusted file (and, cut short, reads as an instruction).
    """
    lines = [line.strip() for line in str(exc).splitlines() if "nsupported" in line]
    return lines[0][:200] if lines else exc.__class__.__name__


class ExportError(ZoeDAMError):
    """An exported model (ONNX) does not reproduce the PyTorch model within tolerance; nothing was written."""
