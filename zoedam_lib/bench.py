"""``python -m zoedam_lib bench``: inference, training, data and evaluation figures in one run.

Every case runs in a fresh process (peak memory is its own), the same machine, one after the
other; times are medians of repeated runs after warm-up. Ratios against the transformers peer
are computed within the run, so machine drift cancels. Writes JSON and ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from .atomic import atomic_write_bytes, atomic_write_json
from .training import amp

TARGETS = {"infer_fp32_vs_peer": 1.2, "infer_fast_vs_peer": 0.5, "train_step_vs_forward": 3.5,
           "forward_efficiency": 0.5, "loader_images_per_s": 200, "loader_peak_rss_mb": 1000}


def run_case(name: str, args: dict | None = None, timeout: int = 600) -> dict:
    """Run one case in a child process and return its JSON (or an ``error``)."""
    proc = subprocess.run([sys.executable, "-m", "zoedam_lib.bench_cases", name, json.dumps(args or {})],
                          capture_output=True, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    return {"error": (proc.stderr or proc.stdout)[-500:]}


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


def collect(quick: bool, vitb: bool = False, progress=print) -> dict:
    """Run all cases and derive the keyed figures and target ratios."""
    reps = 3 if quick else 10
    cases = {}
    # bf16 cases only where the CPU runs bf16 natively (AVX512-BF16 / AMX): emulated bf16 is ~15x slower
    # than fp32 and would spend minutes measuring a precision nobody should use on such a CPU.
    native_bf16 = amp.cpu_supports_bf16()
    plan = [("matmul", {"repeats": reps, "bf16": native_bf16}), ("infer_fp32", ("infer", {"repeats": reps})),
            ("infer_fast", ("infer", {"repeats": reps, "fast": True})), ("onnx_fp32", ("onnx", {"repeats": reps})),
            ("peer_fp32", ("peer", {"repeats": reps})),
            *([("peer_bf16", ("peer", {"repeats": reps, "bf16": True}))] if native_bf16 else []),
            ("train_fp32", ("train", {"repeats": 1 if quick else 3})),
            *([("train_bf16", ("train", {"repeats": 1 if quick else 3, "bf16": True}))] if native_bf16 else []),
            ("fast_accuracy", {"n": 8 if quick else 32, "sources": _accuracy_sources()}),
            ("metrics", {"n": 100 if quick else 400}), ("synthrooms", {"n": 40 if quick else 100}),
            ("loader", {"n": 300 if quick else 1449})]
    if vitb:
        plan.insert(3, ("infer_vitb_fp32", ("infer", {"repeats": reps, "backbone": "vitb"})))
    for key, spec in plan:
        name, args = spec if isinstance(spec, tuple) else (key, spec)
        progress(f"bench: {key} …")
        cases[key] = run_case(name, args)
    out = {"machine": machine_info(), "quick": quick, "created": _dt.datetime.now().isoformat(timespec="seconds"),
           "cases": cases}
    get = lambda case, *keys: _dig(cases, case, *keys)  # noqa: E731
    out.update({
        "infer_fp32_ms": get("infer_fp32", "median_ms"), "infer_fast_ms": get("infer_fast", "median_ms"),
        "onnx_fp32_ms": get("onnx_fp32", "median_ms"), "onnx_export_s": get("onnx_fp32", "export_s"),
        "onnx_abs_rel_vs_torch": get("onnx_fp32", "abs_rel_vs_torch"),
        "peer_fp32_ms": get("peer_fp32", "median_ms"), "peer_bf16_ms": get("peer_bf16", "median_ms"),
        "train_step_ms": get("train_fp32", "step", "median_ms"),
        "forward_ms": get("train_fp32", "forward", "median_ms"),
        "forward_inference_ms": get("train_fp32", "forward_inference", "median_ms"),
        "train_images_per_s": get("train_fp32", "images_per_s"),
        "train_step_bf16_ms": get("train_bf16", "step", "median_ms"),
        "loader_images_per_s": get("loader", "images_per_s"), "loader_peak_rss_mb": get("loader", "peak_rss_mb"),
        "matmul_peak_gflops": get("matmul", "fp32_gflops"), "forward_gflops": get("infer_fp32", "gflops"),
        "metrics_images_per_s": get("metrics", "images_per_s"),
        "synthrooms_images_per_s": get("synthrooms", "images_per_s")})
    if out["forward_gflops"] and out["infer_fp32_ms"]:
        out["forward_gflops_per_s"] = out["forward_gflops"] / (out["infer_fp32_ms"] / 1000)
    out["ratios"] = _ratios(out)
    return out


def _accuracy_sources() -> dict[str, str]:
    """Trained or official-format weights to check the fast path's accuracy on, where present."""
    from .paths import DEFAULT_RUN_DIR, project_root, resolve

    root = project_root() or Path.cwd()
    return {"demo ZoeDAM-S (SynthRooms, cpu preset)": str(resolve(DEFAULT_RUN_DIR) / "checkpoints/zoedam_vits"),
            "official-format ViT-S (conformance weights, 392x518)":
                str(root.parent / "shared/conformance/zoedam_vits_official_fp16.safetensors")}


def _dig(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _ratio(a, b):
    return a / b if a and b else None


def _ratios(o: dict) -> dict:
    return {"infer_fp32_vs_peer": _ratio(o["infer_fp32_ms"], o["peer_fp32_ms"]),
            "infer_fast_vs_peer": _ratio(o["infer_fast_ms"], o["peer_fp32_ms"]),
            "onnx_fp32_vs_peer": _ratio(o.get("onnx_fp32_ms"), o["peer_fp32_ms"]),
            "onnx_fp32_vs_torch": _ratio(o.get("onnx_fp32_ms"), o["infer_fp32_ms"]),
            "train_step_vs_forward": _ratio(o["train_step_ms"], o["forward_ms"]),
            "train_step_vs_inference_forward": _ratio(o["train_step_ms"], o.get("forward_inference_ms")),
            "forward_efficiency": _ratio(o.get("forward_gflops_per_s"), o["matmul_peak_gflops"])}


def markdown(o: dict, command: str) -> str:
    """The benchmark table with the command and machine that produced it."""
    m, r = o["machine"], o["ratios"]

    def f(v, fmt="{:.1f}"):
        return "n/a" if v is None else fmt.format(v)

    def verdict(key, value, lower=True):
        if value is None:
            return "n/a"
        ok = value <= TARGETS[key] if lower else value >= TARGETS[key]
        return "met" if ok else "**not met**"

    rows = [
        ("ZoeDAM-S forward fp32, 480x640 → metric depth [ms] (images/s)",
         f"{f(o['infer_fp32_ms'])} ({f(_ratio(1000, o['infer_fp32_ms']), '{:.2f}')})", ""),
        ("ZoeDAM-S forward, fast path [ms] (images/s)",
         f"{f(o['infer_fast_ms'])} ({f(_ratio(1000, o['infer_fast_ms']), '{:.2f}')})", ""),
        ("ZoeDAM-S exported (zoedam export), ONNX Runtime CPU fp32, same input [ms]",
         f"{f(o.get('onnx_fp32_ms'))} (export {f(o.get('onnx_export_s'))} s; AbsRel vs PyTorch "
         f"{f(o.get('onnx_abs_rel_vs_torch'), '{:.1e}')})", ""),
        ("ONNX Runtime ÷ ours fp32 / ÷ peer fp32",
         f"{f(r.get('onnx_fp32_vs_torch'), '{:.2f}')} / {f(r.get('onnx_fp32_vs_peer'), '{:.2f}')}", ""),
        ("transformers DepthAnything-S metric, fp32, 392x518 [ms]", f(o["peer_fp32_ms"]), ""),
        ("transformers DepthAnything-S metric, bf16 [ms]", f(o["peer_bf16_ms"]), ""),
        ("ours fp32 ÷ peer fp32", f(r["infer_fp32_vs_peer"], "{:.2f}"),
         f"≤ 1.2: {verdict('infer_fp32_vs_peer', r['infer_fp32_vs_peer'])}"),
        ("ours fast ÷ peer fp32", f(r["infer_fast_vs_peer"], "{:.2f}"),
         f"≤ 0.5: {verdict('infer_fast_vs_peer', r['infer_fast_vs_peer'])}"),
        ("fast path AbsRel vs fp32 output (SynthRooms test images)", _fast_accuracy_text(o),
         "≤ 0.01: " + _fast_accuracy_verdict(o)),
        ("forward FLOPs [GFLOP] / achieved [GFLOP/s]", f"{f(o['forward_gflops'])} / {f(o.get('forward_gflops_per_s'))}",
         ""),
        ("dense fp32 matmul peak [GFLOP/s]", f(o["matmul_peak_gflops"]), ""),
        ("forward compute efficiency", f(r["forward_efficiency"], "{:.0%}"),
         f"≥ 50%: {verdict('forward_efficiency', r['forward_efficiency'], lower=False)}"),
        ("training step fp32, 392x518, batch 4 [ms] (images/s)",
         f"{f(o['train_step_ms'])} ({f(o.get('train_images_per_s'), '{:.2f}')})", ""),
        ("training step bf16 autocast [ms]", f(o.get("train_step_bf16_ms")), ""),
        ("step ÷ forward of the same computation (fp32, no grad, full-resolution head maps)",
         f(r["train_step_vs_forward"], "{:.2f}"),
         f"≤ 3.5: {verdict('train_step_vs_forward', r['train_step_vs_forward'])}"),
        ("step ÷ inference forward (fp32, banded head; batch 4)", f(r.get("train_step_vs_inference_forward"), "{:.2f}"),
         "(for reference)"),
        ("NYU-layout loader, 480x640 [images/s]", f(o["loader_images_per_s"]),
         f"≥ 200: {verdict('loader_images_per_s', o['loader_images_per_s'], lower=False)}"),
        ("loader peak RSS [MB]", f(o["loader_peak_rss_mb"]),
         f"< 1000: {verdict('loader_peak_rss_mb', o['loader_peak_rss_mb'])}"),
        ("SynthRooms generation, 240x320 [images/s]", f(o["synthrooms_images_per_s"]), ""),
        ("metrics, 480x640 GT [images/s]", f(o["metrics_images_per_s"]), ""),
    ]
    peak = {k: _dig(o["cases"], k, "peak_rss_mb") for k in ("infer_fp32", "infer_fast", "peer_fp32", "train_fp32")}
    bf16 = "yes" if m.get("native_bf16") else "no (emulated: bf16 rows not run)"
    lines = ["# Benchmarks", "", f"Produced by `{command}` on {o['created']}.", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} with {m['torch_threads']} threads "
             f"(CPU capability {m['cpu_capability']}, native bf16: {bf16}), Python {m['python']}; "
             f"GPU: {m['cuda'] or 'none'}.",
             "Times are medians after warm-up; each case ran in its own process.", "",
             "| figure | value | target |", "|---|---:|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += ["", "Peak RSS per case [MB]: " + ", ".join(f"{k} {f(v, '{:.0f}')}" for k, v in peak.items()), ""]
    return "\n".join(lines)


def _fast_accuracy_text(o: dict) -> str:
    acc = o["cases"].get("fast_accuracy", {})
    return "; ".join(f"{name}: {v['abs_rel_vs_fp32']:.4f}" for name, v in acc.items() if isinstance(v, dict)) or "n/a"


def _fast_accuracy_verdict(o: dict) -> str:
    acc = [v["abs_rel_vs_fp32"] for v in o["cases"].get("fast_accuracy", {}).values() if isinstance(v, dict)]
    return "n/a" if not acc else ("met" if max(acc) <= 0.01 else "**not met**")


PAPER_HEADING = "## Paper recipe"


def run_bench(args: argparse.Namespace) -> int:
    """Entry point of the ``bench`` command."""
    if args.paper_recipe:
        return _run_paper_recipe(args)
    command = "python -m zoedam_lib bench" + (" --quick" if args.quick else "") + (" --vitb" if args.vitb else "")
    out = collect(args.quick, args.vitb)
    atomic_write_json(args.json, out)
    text = markdown(out, command)
    path = Path(args.markdown)
    if path.is_file() and PAPER_HEADING in (old := path.read_text(encoding="utf-8")):  # keep a GPU run's table
        text = text.rstrip("\n") + "\n\n" + PAPER_HEADING + old.split(PAPER_HEADING, 1)[1]
    atomic_write_bytes(path, text.encode("utf-8"))
    print(text)
    print(f"wrote {args.json} and {args.markdown}")
    return 0


def _run_paper_recipe(args: argparse.Namespace) -> int:
    """``bench --paper-recipe``: print the table and add it to ``--markdown`` under its own heading."""
    from .bench_paper import PaperBenchConfig, paper_markdown, run_paper_recipe

    cfg = PaperBenchConfig(backbones=tuple(b.strip() for b in args.backbones.split(",") if b.strip()),
                           steps=args.steps, warmup=args.warmup, device=args.device)
    rows = run_paper_recipe(cfg)
    m = machine_info()
    machine = f"{m['cuda'] or m['cpu']} ({rows[0]['device']}), torch {m['torch']}, {_dt.date.today().isoformat()}"
    command = f"python -m zoedam_lib bench --paper-recipe --steps {cfg.steps} --backbones {','.join(cfg.backbones)}"
    text = paper_markdown(rows, command, machine)
    print(text)
    path = Path(args.markdown)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    head = old.split(PAPER_HEADING)[0].rstrip("\n")
    atomic_write_bytes(path, ((head + "\n\n" if head else "") + text).encode("utf-8"))
    print(f"wrote {path} (section '{PAPER_HEADING}')")
    return 0
