"""``python -m zoedam_lib bench``: inference, training, data and evaluation figures in one run.

Every case runs in a fresh process (peak memory is its own), the same machine, one after the
other; times are medians of repeated runs after warm-up. Ratios against the transformers peer
are computed within the run, so machine drift cancels. Writes JSON and markdown under ``--out``
(``runs/bench``), and ``docs/benchmarks.*`` only with ``--update-docs``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
from pathlib import Path

import torch

from zoedam_lib.bench import backends as bench_backends
from zoedam_lib.bench.process import run_case
from zoedam_lib.bench.report import TARGETS, backend_rows, best_path, dig, markdown, ratio  # noqa: F401 (the interface)
from zoedam_lib.utils import amp


def machine_info() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
            "cpu_capability": getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")(),
            "native_bf16": amp.cpu_supports_bf16(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def collect(quick: bool, vitb: bool = False, progress=print, official: str | None = None) -> dict:
    """Run all cases and derive the keyed figures and target ratios."""
    reps = 3 if quick else 10
    cases = {}
    # bf16 cases only where the CPU runs bf16 natively (AVX512-BF16 / AMX): emulated bf16 is many times slower
    # than fp32 and would spend minutes measuring a precision nobody should use on such a CPU.
    native_bf16 = amp.cpu_supports_bf16()
    backends = bench_backends.available(native_bf16, quick)
    sources = _accuracy_sources()
    plan = [("matmul", {"repeats": reps, "bf16": native_bf16}),
            *[(f"infer_{name}", ("backend", {"backend": name, "repeats": reps, "weights": sources[DEMO]}))
              for name in backends],
            ("peer_fp32", ("peer", {"repeats": reps})),
            *([("official_fp32", ("official", {"repeats": reps, "repo": official}))] if official else []),
            *([("peer_bf16", ("peer", {"repeats": reps, "bf16": True}))] if native_bf16 else []),
            ("camera_head", {"repeats": reps}),
            ("train_fp32", ("train", {"repeats": 1 if quick else 3})),
            # a paper-size bf16 step costs ~40 s more: full run only
            *([("train_bf16", ("train", {"repeats": 3, "bf16": True}))] if native_bf16 and not quick else []),
            # compiling the paper-size step takes minutes: full run only
            *([] if quick else [("train_compiled", ("train", {"repeats": 3, "compile": True}))]),
            # the cpu preset's step eager, compiled (~2 min of compilation cold) and side by side: ~3 min in all,
            # so only in the full run (--quick stays within 3 minutes)
            *([] if quick else [("train_cpu", {"steps": 12}),
                                ("train_cpu_reference", ("train_cpu", {"steps": 12, "reference_head": True})),
                                ("train_cpu_compiled", ("train_cpu", {"steps": 12, "compile": True})),
                                ("train_side_by_side", {"steps": 12})]),
            ("backend_accuracy", {"n": 8 if quick else 32, "sources": sources,
                                  "backends": [name for name in backends if name != "eager_fp32"]}),
            ("metrics", {"n": 100 if quick else 400}), ("synthrooms", {"n": 40 if quick else 100}),
            ("loader", {"n": 300 if quick else 1449})]
    if vitb:
        plan.insert(2, ("infer_vitb_fp32", ("backend", {"backend": "eager_fp32", "repeats": reps, "backbone": "vitb"})))
    for key, spec in plan:
        name, args = spec if isinstance(spec, tuple) else (key, spec)
        progress(f"bench: {key} …")
        cases[key] = run_case(name, args)
    out = {"machine": machine_info(), "quick": quick, "created": _dt.datetime.now().isoformat(timespec="seconds"),
           "cases": cases}
    get = lambda case, *keys: dig(cases, case, *keys)  # noqa: E731
    out.update({
        "infer_fp32_ms": get("infer_eager_fp32", "median_ms"),
        "backends": backend_rows(cases),
        "official_fp32_ms": get("official_fp32", "median_ms"),
        "official_error": get("official_fp32", "error") if official else "not available (bench --official PATH)",
        "peer_fp32_ms": get("peer_fp32", "median_ms"), "peer_bf16_ms": get("peer_bf16", "median_ms"),
        "camera_given_overhead": get("camera_head", "given_overhead"),
        "camera_head_overhead": get("camera_head", "estimated_overhead"),
        "train_step_ms": get("train_fp32", "step", "median_ms"),
        "forward_ms": get("train_fp32", "forward", "median_ms"),
        "forward_inference_ms": get("train_fp32", "forward_inference", "median_ms"),
        "train_images_per_s": get("train_fp32", "images_per_s"),
        "train_step_bf16_ms": get("train_bf16", "step", "median_ms"),
        "train_step_compiled_ms": get("train_compiled", "step", "median_ms"),
        "train_compile_s": get("train_compiled", "first_step_s"), "train_peak_rss_mb": get("train_fp32", "peak_rss_mb"),
        "loader_images_per_s": get("loader", "images_per_s"), "loader_peak_rss_mb": get("loader", "peak_rss_mb"),
        "matmul_peak_gflops": get("matmul", "fp32_gflops"), "forward_gflops": get("infer_eager_fp32", "gflops"),
        "metrics_images_per_s": get("metrics", "images_per_s"),
        "synthrooms_images_per_s": get("synthrooms", "images_per_s"),
        "cpu_train_images_per_s": get("train_cpu", "images_per_s"),
        "cpu_train_compiled_images_per_s": get("train_cpu_compiled", "images_per_s"),
        "cpu_train_compile_s": get("train_cpu_compiled", "first_step_s"),
        "cpu_train_side_by_side_images_per_s": get("train_side_by_side", "images_per_s"),
        "cpu_train_amp": get("train_cpu", "amp"),
        "cpu_train_reference_images_per_s": get("train_cpu_reference", "images_per_s"),
        "cpu_train_reference_loss_diff": _max_diff(get("train_cpu", "losses"), get("train_cpu_reference", "losses")),
        "cpu_train_compiled_loss_diff": _max_diff(get("train_cpu", "losses"), get("train_cpu_compiled", "losses"))})
    if out["forward_gflops"] and out["infer_fp32_ms"]:
        out["forward_gflops_per_s"] = out["forward_gflops"] / (out["infer_fp32_ms"] / 1000)
    out["ratios"] = _ratios(out)
    return out


DEMO = "demo ZoeDAM-S (SynthRooms, cpu preset)"


def _accuracy_sources() -> dict[str, str]:
    """The weights the backends' accuracy is checked on (the demo's trained ZoeDAM-S also times them), where present."""
    from zoedam_lib.utils.paths import DEFAULT_RUN_DIR, project_root, resolve

    root = project_root() or Path.cwd()
    return {DEMO: str(resolve(DEFAULT_RUN_DIR) / "checkpoints/zoedam_vits"),
            "official-format ViT-S (conformance weights, 392x518)":
                str(root.parent / "shared/conformance/zoedam_vits_official_fp16.safetensors")}


def _max_diff(a: list | None, b: list | None) -> float | None:
    """Largest difference of two loss curves over their common steps (None if either is missing)."""
    pairs = [(x, y) for x, y in zip(a or [], b or [], strict=False) if x is not None and y is not None]
    return max(abs(x - y) for x, y in pairs) if pairs else None


def _ratios(o: dict) -> dict:
    eager, before = o.get("cpu_train_images_per_s"), o.get("cpu_train_reference_images_per_s")
    exact, exact_ms = best_path(o["backends"], ("exact",))
    fast, fast_ms = best_path(o["backends"], ("exact", "fast"))
    best = max((v for v in (eager, o.get("cpu_train_compiled_images_per_s"),
                            o.get("cpu_train_side_by_side_images_per_s")) if v), default=None)
    return {"cpu_train_compiled_vs_eager": ratio(o.get("cpu_train_compiled_images_per_s"), eager),
            "cpu_train_side_by_side_vs_one": ratio(o.get("cpu_train_side_by_side_images_per_s"), eager),
            "cpu_train_head_speedup": ratio(eager, before),
            "cpu_train_speedup": ratio(best, before),
            "best_exact_vs_peer": ratio(exact_ms, o["peer_fp32_ms"]),
            "best_exact_vs_official": ratio(exact_ms, o.get("official_fp32_ms")),
            "best_fast_vs_peer": ratio(fast_ms, o["peer_fp32_ms"]),
            "best_exact_path": exact, "best_fast_path": fast,
            "train_step_vs_forward": ratio(o["train_step_ms"], o["forward_ms"]),
            "train_step_vs_inference_forward": ratio(o["train_step_ms"], o.get("forward_inference_ms")),
            "forward_efficiency": ratio(o.get("forward_gflops_per_s"), o["matmul_peak_gflops"])}


PAPER_HEADING = "## Paper recipe"
