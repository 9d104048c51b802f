"""Official Depth Anything metric checkpoints load through the public loader and reproduce the
official code's outputs (conformance README §7 tolerances, float32)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zoedam_lib import load_model
from zoedam_lib.checkpoints import load_checkpoint
from zoedam_lib.models.layers.metric_bins import upsample
from zoedam_lib.models.layers.vit import interpolate_pos_embed

pytestmark = pytest.mark.conformance


@pytest.fixture(scope="module")
def run(conformance_dir):
    torch.manual_seed(0)
    model = load_model(conformance_dir / "zoedam_vits_official_fp16.safetensors")
    ref = dict(np.load(conformance_dir / "case_public.npz"))
    ref.update(np.load(conformance_dir / "case_public_debug.npz"))
    x = torch.from_numpy(ref["x"])
    with torch.no_grad():
        out = model(x, return_final_centers=True)
        x_prep = model.preprocess(x)
        tokens = model.encoder(x_prep)
        feats = model.decoder(tokens, x_prep.shape[-2:])
    return model, ref, out, x_prep, tokens, feats


def close(mine: torch.Tensor, ref: np.ndarray, atol: float = 2e-4, rtol: float = 1e-4) -> float:
    mine = mine.detach().numpy().astype(np.float64)
    assert mine.shape == ref.shape, (mine.shape, ref.shape)
    d = np.abs(mine - ref)
    assert np.all(d <= atol + rtol * np.abs(ref)), f"max |d| = {d.max():.3e}"
    return float(d.max())


def test_loader_detects_official_vits_v1(run, conformance_dir):
    model = run[0]
    r = load_checkpoint(conformance_dir / "zoedam_vits_official_fp16.safetensors").report
    assert (r.format, r.backbone, r.family, r.random_parts) == ("official_metric", "vits", "v1", ())
    assert model.encoder.layers == (8, 9, 10, 11)
    assert not model.training


def test_preprocessing_and_pos_embed(run):
    model, ref, _, x_prep, _, _ = run
    close(x_prep, ref["x_prep"], atol=1e-6)
    close(interpolate_pos_embed(model.encoder.pos_embed, 28, 37), ref["pos_embed_interp"], atol=1e-6)


def test_encoder_features(run):
    _, ref, _, _, tokens, _ = run
    for i, t in enumerate(tokens):
        close(t.flatten(2).transpose(1, 2), ref[f"vit_feat{i}"])


def test_decoder_features(run):
    _, ref, out, _, _, feats = run
    names = {"layer_4_rn": "l4_rn", "path_4": "r4", "path_3": "r3", "path_2": "r2", "path_1": "r1"}  # ours: ref's
    for name, ref_name in names.items():
        close(getattr(feats, name), ref[ref_name])
    close(feats.out_conv, ref["out_conv"])
    close(out["rel_depth"], ref["rel_depth"])


def test_metric_head_intermediates(run):
    model, ref, out, _, _, f = run
    head = model.head
    with torch.no_grad():
        x = head.conv2(f.layer_4_rn)
        centers = head.seed_bin_regressor(x)
        close(centers, ref["seed_bin_centers"])
        emb = head.seed_projector(x)
        for i, block in enumerate((f.path_4, f.path_3, f.path_2)):
            e = head.projectors[i](block)
            centers = head.attractors[i](e, centers, emb)
            emb = e
            close(centers, ref[f"attractor{i}_centers"])
        last = torch.cat([f.out_conv, upsample(f.rel_depth.unsqueeze(1), f.out_conv.shape[-2:])], 1)
        e3 = head.projectors[3](f.path_1)
        mlp_out = head.conditional_log_binomial.mlp(torch.cat([last, upsample(e3, last.shape[-2:])], 1))
    close(mlp_out, ref["clb_mlp_out"])
    assert out["bin_centers"].shape == (1, 64, 392, 518)


def test_metric_depth(run):
    _, ref, out, _, _, _ = run
    mine = out["metric_depth"].numpy().astype(np.float64)
    assert mine.shape == (1, 1, 392, 518)
    d = np.abs(mine - ref["metric_depth"])
    print(f"metric_depth |d|: max {d.max():.2e}, mean {d.mean():.2e}, p99.9 {np.percentile(d, 99.9):.2e}")
    assert d.max() <= 5e-3 and d.mean() <= 2e-5 and np.percentile(d, 99.9) <= 1e-3


def test_batch_and_any_input_size_give_network_resolution(run):
    model, ref, out, _, _, _ = run
    x = torch.from_numpy(ref["x"])
    with torch.no_grad():
        pair = model(torch.cat([x, torch.flip(x, [3])]))
    assert pair["metric_depth"].shape == (2, 1, 392, 518) and pair["rel_depth"].shape == (2, 392, 518)
    d = (pair["metric_depth"][:1] - out["metric_depth"]).abs()
    assert d.max() <= 5e-3 and d.mean() <= 2e-5
