"""Shared fixtures: the lead's conformance vectors (skipped with a reason where absent) and tiny data."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
CONFORMANCE = SHARED / "conformance"


@pytest.fixture(scope="session")
def conformance_dir() -> Path:
    """``../shared/conformance`` beside the checkout; tests using it skip with a reason where it is absent."""
    if not CONFORMANCE.is_dir():
        pytest.skip(f"conformance vectors not found at {CONFORMANCE} (the lead's ../shared folder is absent)")
    return CONFORMANCE


@pytest.fixture
def one_thread():
    """Tiny models run fastest on one thread, and much faster so when other jobs share the CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny ZoeDAM saved in our checkpoint format."""
    from helpers import tiny_zoedam

    from zoedam_lib import save_model

    return save_model(tiny_zoedam(), tmp_path_factory.mktemp("ckpt") / "tiny")
