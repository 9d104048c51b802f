"""SynthDA: the teacher stage of Depth Anything in miniature, its weights file, and loading it back."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch

from zoedam_lib.checkpoints import load_checkpoint
from zoedam_lib.experiments.presets import recipe_for
from zoedam_lib.experiments.synthda import disparity_step, run_pretrain, write_depth_anything_weights
from zoedam_lib.models.relative import RelativeDepthConfig, RelativeDepthModel
from zoedam_lib.weights import PACKAGED, packaged_weights

SIZE = (42, 56)


def tiny_relative(seed: int = 0) -> RelativeDepthModel:
    torch.manual_seed(seed)
    return RelativeDepthModel(RelativeDepthConfig(backbone="vitt", img_size=SIZE))


def batch(n: int = 4) -> dict[str, torch.Tensor]:
    """Images whose brightness falls with depth, so disparity is learnable."""
    g = torch.Generator().manual_seed(0)
    depth = 1.0 + 4.0 * torch.rand(n, 1, 1, 1, generator=g) * torch.linspace(0.3, 1.0, 48).view(1, 1, 48, 1)
    depth = depth.expand(n, 1, 48, 64).contiguous()
    return {"image": (1.0 / depth).expand(n, 3, 48, 64).contiguous(), "depth": depth}


def test_the_affine_invariant_disparity_loss_decreases_when_training_a_tiny_model(one_thread):
    model, data = tiny_relative().train(), batch()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(25):
        loss, _ = disparity_step(model, data)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0], losses


def test_the_loss_ignores_the_scale_and_shift_of_the_predicted_disparity():
    class Exact(torch.nn.Module):
        def __init__(self, scale: float, shift: float) -> None:
            super().__init__()
            self.scale, self.shift = scale, shift

        def forward(self, x):
            return {"rel_depth": self.scale * x[:, 0] + self.shift}  # x is 1/depth here

    data = batch()
    assert float(disparity_step(Exact(3.0, 0.7), data)[0]) < 1e-4
    assert float(disparity_step(Exact(1.0, 0.0), {**data, "image": data["image"] ** 2})[0]) > 0.05


def test_written_weights_load_as_a_depth_anything_v1_checkpoint_into_zoedam(tmp_path):
    relative = tiny_relative(1).eval()
    path = tmp_path / "synthda_vitt14.safetensors"
    digest = write_depth_anything_weights(relative, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "synthda_vitt14.json").write_text(json.dumps({"zoedam_config": {"img_size": list(SIZE)}}))
    with pytest.warns(UserWarning, match="randomly initialised: head"):
        zoedam, report = load_checkpoint(path)
    assert (report.format, report.family, report.loaded_parts) == ("depth_anything", "v1", ("encoder", "decoder"))
    assert zoedam.config.img_size == SIZE  # from the manifest: the file itself carries no configuration
    relative.load_state_dict({k: v.half().float() for k, v in relative.state_dict().items()})  # as stored
    x = torch.rand(2, 3, 60, 80)
    with torch.no_grad():
        assert torch.allclose(zoedam(x)["rel_depth"], relative(x)["rel_depth"], atol=1e-6)


def test_run_pretrain_writes_weights_manifest_and_quality(tmp_path, one_thread):
    from zoedam_lib.data.synthrooms.generate import generate_domain

    data = generate_domain("pretrain", tmp_path / "data", n=24, size=(48, 64), workers=1, progress=False)
    recipe = recipe_for("synthda", "cpu", backbone="vitt", img_size=SIZE, epochs=2, batch_size=4, n_holdout=4,
                        n_val=2, amp="off")
    result = run_pretrain(data, tmp_path / "run", recipe, eval_sets={"same": data}, command="test")
    manifest = json.loads(result.manifest.read_text())
    assert result.weights.name == "synthda_vitt14.safetensors" and result.state.global_step == 10
    assert manifest["sha256"] == hashlib.sha256(result.weights.read_bytes()).hexdigest()
    assert manifest["corpus"]["n_train"] == 20 and manifest["corpus"]["n_holdout"] == 4
    assert manifest["zoedam_config"]["img_size"] == list(SIZE) and manifest["steps"] == 10
    assert set(manifest["relative_quality"]) == {"holdout", "same"}
    assert 0 < manifest["relative_quality"]["holdout"]["abs_rel"] < 1
    saved = json.loads((tmp_path / "run" / "splits" / "pretrain_holdout_seed0.json").read_text())
    assert len(saved["test"]) == 4 and not set(saved["test"]) & set(saved["train"])


def test_the_shipped_synthda_loads_offline_and_its_manifest_is_true():
    path = packaged_weights("synthda_vits14")
    assert set(PACKAGED) == {"synthda_vits14"} and path is not None
    if not path.is_file():
        pytest.skip("the SynthDA weights are not committed yet")
    manifest = json.loads(path.with_suffix(".json").read_text())
    assert manifest["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest["bytes"] == path.stat().st_size and manifest["command"].startswith("python -m zoedam_lib pretrain")
    with pytest.warns(UserWarning, match="randomly initialised: head"):
        model, report = load_checkpoint("synthda_vits14")
    assert report.source == str(path) and report.format == "depth_anything" and report.backbone == "vits"
    assert model.config.img_size == tuple(manifest["zoedam_config"]["img_size"])
