"""Keep a thread's alternate signal stack across OpenVINO calls, so a later Ctrl-C is not a segfault.

Why: OpenVINO's CPU plugin (measured with 2026.4) installs an alternate signal stack of its own on
the calling thread when it compiles a model, and when that compiled model is destroyed puts back the
stack it found at creation. Two compiled models destroyed in the order they were made (two runners
dropped, or one runner's f32 and bf16 models collected in that order) leave the thread on the first
one's stack, already freed: the next signal delivered there (Ctrl-C in a notebook, SIGTERM from a
scheduler, the trainer's interrupt handling) kills the process with SIGSEGV instead of raising
``KeyboardInterrupt`` or saving a checkpoint. :func:`keep_signal_stack` saves the thread's stack
before an OpenVINO call and puts it back after, so none of OpenVINO's stacks stays in use (it
installs no signal handler that would need one). Linux only: ``stack_t`` below is Linux's layout;
elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterator
from contextlib import contextmanager

SS_DISABLE = 2  # Linux: no alternate stack


class StackT(ctypes.Structure):
    """Linux's ``stack_t``: base, flags, size."""

    _fields_ = [("ss_sp", ctypes.c_void_p), ("ss_flags", ctypes.c_int), ("ss_size", ctypes.c_size_t)]


def _libc_sigaltstack():
    """libc's ``sigaltstack``, or None where this module cannot use it (not Linux, no symbol)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).sigaltstack
    except (OSError, AttributeError):
        return None


_SIGALTSTACK = _libc_sigaltstack()


def current_signal_stack() -> tuple[int | None, int, int] | None:
    """This thread's alternate signal stack as (base, flags, size); None where it cannot be read."""
    if _SIGALTSTACK is None:
        return None
    stack = StackT()
    if _SIGALTSTACK(None, ctypes.byref(stack)) != 0:
        return None
    return stack.ss_sp, stack.ss_flags, stack.ss_size


@contextmanager
def keep_signal_stack() -> Iterator[None]:
    """Run the body (OpenVINO calls), then give this thread back the alternate signal stack it had before.

    If that stack cannot be set again (e.g. a kernel that now asks for a larger one), the thread gets
    none, which is always valid: signals then run on the thread's own stack.
    """
    saved = current_signal_stack()
    try:
        yield
    finally:
        if saved is not None and current_signal_stack() != saved:
            base, flags, size = saved
            stack = StackT(base, flags & SS_DISABLE, size)
            if _SIGALTSTACK(ctypes.byref(stack), None) != 0:
                _SIGALTSTACK(ctypes.byref(StackT(None, SS_DISABLE, 0)), None)
