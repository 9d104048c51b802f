"""SIGINT and SIGTERM during training: a checkpoint of a whole step, never of half of one.

Python raises ``KeyboardInterrupt`` between any two bytecodes. Raised after the optimizer has
moved the weights but before the step was counted, the checkpoint written on the way out held
step k+1's weights and optimizer moments under step k's counters, and the resumed run applied
step k+1 a second time: it ended with other weights than an uninterrupted run, whatever else was
changed or not on the command line. :class:`InterruptGuard` turns both signals into
``KeyboardInterrupt`` at once everywhere except inside :meth:`InterruptGuard.atomic` blocks (a
step's update and bookkeeping, an epoch's end), where the signal waits until the block is done.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from zoedam_lib.utils.errors import TrainingInterrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)  # Ctrl-C (and Jupyter's interrupt), cluster pre-emption


class InterruptGuard:
    """Signal handlers that defer an interrupt while training state is being changed."""

    def __init__(self) -> None:
        self._depth = 0  # nesting of atomic blocks
        self._pending = False  # a signal arrived inside an atomic block

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle SIGINT/SIGTERM while the block runs (main thread only: elsewhere signals cannot be set)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.getsignal(s) for s in SIGNALS}
        for s, handler in previous.items():
            if handler is not None:  # None: installed outside Python, which we could not restore
                signal.signal(s, self._handle)
        try:
            yield
        finally:
            for s, handler in previous.items():
                if handler is not None:
                    signal.signal(s, handler)
            self._pending = False

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """A block that a signal must not cut: the interrupt is raised when the block has finished."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._pending and self._depth == 0:
            self._pending = False
            raise KeyboardInterrupt

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """A block that must finish although the run is already stopping (the emergency checkpoint): a
        second Ctrl-C or a SIGTERM during it is dropped, not raised, so the checkpoint is written."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            self._pending = False

    def _handle(self, signum: int, frame: object) -> None:
        if self._depth:
            self._pending = True
            return
        raise KeyboardInterrupt


@contextmanager
def after_training(state_path: os.PathLike | str) -> Iterator[InterruptGuard]:
    """What follows :meth:`Trainer.fit` (saving the model, the final evaluation, the results), interruptible
    with the same resume hint as training itself.

    Outside this block a Ctrl-C there was a raw ``KeyboardInterrupt`` and a SIGTERM (a cluster's
    pre-emption) killed the process without a word. ``train_state.pt`` already holds the finished run,
    so ``--resume`` trains nothing and does this part again. Writes that must not be cut in half
    (the results JSON and its CSVs) go in the yielded guard's :meth:`InterruptGuard.atomic` block.
    """
    guard = InterruptGuard()
    try:
        with guard.installed():
            yield guard
    except KeyboardInterrupt:
        raise TrainingInterrupted(
            f"interrupted after training, during the final checkpoint, evaluation or results; the trained run is "
            f"saved in {state_path}. Run the same command with resume enabled (--resume, or resume=True): it "
            "trains nothing more and evaluates again.") from None
