"""Benchmark cases of general figures: matmul peak, the transformers peer, the paper-size training step,
metrics, SynthRooms rendering, the NYU-layout loader. Each case takes a JSON-able dict of arguments
and returns one of figures; :mod:`.registry` names every case, :mod:`.process` runs one per process.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from zoedam_lib.bench.common import bench_zoedam, peak_rss_mb, time_calls, time_summary


def case_matmul(args: dict) -> dict:
    """Dense fp32 (and bf16) matmul throughput: this machine's practical peak."""
    n = args.get("n", 2048)
    out = {}
    dtypes = [("fp32", torch.float32)] + ([("bf16", torch.bfloat16)] if args.get("bf16", True) else [])
    for name, dtype in dtypes:
        a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
        times = time_calls(lambda: a @ b, 2, args.get("repeats", 10))  # noqa: B023
        out[f"{name}_gflops"] = 2 * n**3 / (statistics.median(times) / 1000) / 1e9
    return out


def case_peer(args: dict) -> dict:
    """transformers' DepthAnythingForDepthEstimation (DINOv2-S, metric head), random weights, 392x518."""
    try:
        from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config
    except ImportError:
        return {"error": "transformers is not installed (pip install -e '.[bench]')"}
    backbone = Dinov2Config(image_size=518, patch_size=14, hidden_size=384, num_hidden_layers=12,
                            num_attention_heads=6, out_indices=[9, 10, 11, 12], apply_layernorm=True,
                            reshape_hidden_states=False, layerscale_value=1.0)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=384,
                                 neck_hidden_sizes=[48, 96, 192, 384], fusion_hidden_size=64,
                                 depth_estimation_type="metric", max_depth=10)
    torch.manual_seed(0)
    model = DepthAnythingForDepthEstimation(config).eval()
    x = torch.rand(1, 3, 392, 518)
    dtype = torch.bfloat16 if args.get("bf16") else None

    def run():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            return model(pixel_values=x).predicted_depth

    out = time_summary(time_calls(run, args.get("warmup", 2), args.get("repeats", 10)))
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def case_train(args: dict) -> dict:
    """ZoeDAM-S training step at 392x518, batch 4 (SILog, AdamW, clipping) vs its forward.

    ``compile``: the step through ``torch.compile(model)`` (its first step, compiling, reported apart);
    only the step is timed then.
    """
    from zoedam_lib.inference.exact import prepare_exact, prepare_training
    from zoedam_lib.losses.silog import silog_loss
    from zoedam_lib.utils.amp import autocast_context

    model = bench_zoedam("vits").train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    batch = args.get("batch_size", 4)
    x = torch.rand(batch, 3, 392, 518)
    y = torch.rand(batch, 1, 392, 518) * 5 + 0.5
    dtype = torch.bfloat16 if args.get("bf16") else None
    device = torch.device("cpu")
    train_net = prepare_training(model)  # what the experiments' steps run: the channels-last whole-map head
    net = torch.compile(train_net) if args.get("compile") else train_net

    def step():
        with autocast_context(device, dtype):
            out = net(x)
        silog_loss(out, y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
        opt.step()
        opt.zero_grad(set_to_none=True)

    repeats = args.get("repeats", 3)
    start = time.perf_counter()
    step()
    first_step_s = time.perf_counter() - start
    step_times = time_calls(step, 0, repeats)
    out = {"step": time_summary(step_times), "first_step_s": first_step_s, "peak_rss_mb": peak_rss_mb(),
           "images_per_s": batch / (statistics.median(step_times) / 1000)}
    if args.get("compile"):
        return out

    def forward():  # the computation the step differentiates
        with torch.no_grad(), autocast_context(device, dtype):
            train_net(x)

    exact = prepare_exact(model)

    def forward_inference():  # what inference runs: the head's banded path
        with torch.no_grad(), autocast_context(device, dtype):
            exact(x)

    out.update(forward=time_summary(time_calls(forward, 1, repeats)),
               forward_inference=time_summary(time_calls(forward_inference, 1, repeats)))
    return out


def case_metrics(args: dict) -> dict:
    """compute_metrics over N images at 480x640 (prediction at 392x518, resized as in evaluation)."""
    from zoedam_lib.evaluation.metrics import MetricAccumulator

    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 9.5, (480, 640)).astype(np.float32)
    pred = torch.from_numpy(rng.uniform(0.5, 9.5, (392, 518)).astype(np.float32))
    n = args.get("n", 400)
    start = time.perf_counter()
    acc = MetricAccumulator()
    for i in range(n):
        acc.update(pred, gt, name=i)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "images_per_s": n / seconds}


def case_synthrooms(args: dict) -> dict:
    """SynthRooms rendering + writing at 240x320, both cores (labeled images only)."""
    from zoedam_lib.data.synthrooms.generate import generate_synthrooms

    n = args.get("n", 100)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_synthrooms(tmp, n=n, size=(240, 320), seed=0, n_unlabeled=0, progress=False)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "images_per_s": n / seconds, "n": n}


def case_loader(args: dict) -> dict:
    """The NYU-layout loader over a full-size 1449x480x640 file written by SynthRooms' writer."""
    from zoedam_lib.bench.loader import measure_loader, write_bench_file

    n = args.get("n", 1449)
    with tempfile.TemporaryDirectory(dir=args.get("dir")) as tmp:
        path = write_bench_file(Path(tmp) / "nyu_size.mat", n=n, height=480, width=640)
        return {"n": n, **measure_loader(path)}
