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
