"""The benchmark's official Depth Anything v1 model: built from a checkout, it reproduces the conformance case."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from zoedam_lib.bench.official import build_official, case_official, official_depth
from zoedam_lib.utils.errors import ConfigError

MIRROR = Path("/work/.mirror/LiheYoung+Depth-Anything/repo")


@pytest.fixture(scope="module")
def official_repo(tmp_path_factory) -> Path:
    """``metric_depth/`` and ``torchhub/`` of the official repository, exported from the local mirror."""
    if not MIRROR.is_dir():
        pytest.skip(f"no local mirror of LiheYoung/Depth-Anything at {MIRROR} (CI may not have it)")
    if shutil.which("git") is None or shutil.which("tar") is None:
        pytest.skip("git and tar are needed to export the official checkout from the mirror")
    dest = tmp_path_factory.mktemp("official_da")
    archive = dest / "official.tar"
    done = subprocess.run(["git", "-C", str(MIRROR), "archive", "-o", str(archive), "HEAD", "metric_depth", "torchhub"],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"git archive from {MIRROR} failed: {done.stderr.strip()[-300:]}")
    subprocess.run(["tar", "-x", "-f", str(archive), "-C", str(dest)], check=True)
    return dest


@pytest.mark.conformance
def test_official_model_reproduces_conformance_case(official_repo, conformance_dir, one_thread):
    model = build_official(official_repo, conformance_dir)
    case = np.load(conformance_dir / "case_public.npz")
    rel = []  # the core's relative depth, caught on the way: checks the DINOv2 + DPT part on its own
    hook = model.core.register_forward_hook(lambda module, args, out: rel.append(out[0]))
    try:
        depth = official_depth(model, torch.from_numpy(case["x"]))
    finally:
        hook.remove()
    assert depth.shape == (1, 1, 392, 518)
    assert (rel[0] - torch.from_numpy(case["rel_depth"])).abs().max().item() <= 1e-4
    diff = (depth - torch.from_numpy(case["metric_depth"])).abs()
    # The vectors were made with 2 threads: 2 threads reproduce them bit-exactly; 1 thread changes the
    # metric depth by up to 1.8e-4 (README §7: the softmax over y / t, t down to 0.0212, amplifies rounding).
    assert diff.max().item() <= 5e-4
    assert diff.mean().item() <= 2e-5
    assert (diff > 1e-4).float().mean().item() <= 1e-3


def test_not_a_checkout_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"metric_depth/.*git clone https://github.com/LiheYoung/Depth-Anything"):
        build_official(tmp_path)
    assert "error" in case_official({})
    result = case_official({"repo": str(tmp_path), "repeats": 1})
    assert set(result) == {"error"} and "not a Depth Anything v1 checkout" in result["error"]


def test_missing_conformance_weights_is_a_config_error(tmp_path):
    (tmp_path / "repo/metric_depth/zoedepth/models").mkdir(parents=True)
    hub = tmp_path / "repo/torchhub/facebookresearch_dinov2_main"
    hub.mkdir(parents=True)
    (hub / "hubconf.py").touch()
    with pytest.raises(ConfigError, match="conformance file not found"):
        build_official(tmp_path / "repo", conformance=tmp_path / "nowhere")
