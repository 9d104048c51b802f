"""The finished reference run that killed, signalled and starved runs are compared with (``cli_runs``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from robustness.cli_runs import final_outputs, run_cli, train_args
from zoedam_lib.data.synthrooms.generate import generate_synthrooms


@pytest.fixture(scope="session")
def run_data(tmp_path_factory) -> Path:
    """The 24-image SynthRooms file every ``cli_runs`` training reads."""
    return generate_synthrooms(tmp_path_factory.mktemp("synth"), n=24, size=(60, 80), n_unlabeled=0, workers=1,
                               progress=False)


@pytest.fixture(scope="session")
def reference_run(run_data, tmp_path_factory) -> Path:
    """The output folder of an uninterrupted run (read it, or copy it before changing it)."""
    out = tmp_path_factory.mktemp("uninterrupted")
    proc = run_cli(train_args(run_data, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def uninterrupted(reference_run) -> tuple:
    return final_outputs(reference_run)
