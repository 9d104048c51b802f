"""The benchmark table: each figure of :func:`zoedam_lib.bench.collect` with its target and verdict."""

from __future__ import annotations

TARGETS = {"cpu_train_speedup": 1.5, "infer_fp32_vs_official": 0.45, "infer_fp32_vs_peer": 1.0,
           "infer_fast_vs_peer": 0.5, "train_step_vs_forward": 3.5, "forward_efficiency": 0.5,
           "loader_images_per_s": 200, "loader_peak_rss_mb": 1000}


def _dig(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _ratio(a, b):
    return a / b if a and b else None


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
        ("ZoeDAM-S forward, exact head, bf16 autocast — the default where the CPU has native bf16 [ms] "
         "(÷ peer fp32)", f"{f(o.get('infer_bf16_ms'))} ({f(r.get('infer_bf16_vs_peer'), '{:.2f}')})"
         if o.get("infer_bf16_ms") else "not run (no native bf16: the default is fp32)", ""),
        ("ZoeDAM-S exported (zoedam export), ONNX Runtime CPU fp32, same input [ms]",
         f"{f(o.get('onnx_fp32_ms'))} (export {f(o.get('onnx_export_s'))} s; AbsRel vs PyTorch "
         f"{f(o.get('onnx_abs_rel_vs_torch'), '{:.1e}')})", ""),
        ("ONNX Runtime ÷ ours fp32 / ÷ peer fp32",
         f"{f(r.get('onnx_fp32_vs_torch'), '{:.2f}')} / {f(r.get('onnx_fp32_vs_peer'), '{:.2f}')}", ""),
        (f"… int8 dynamic quantisation (ONNX Runtime), {_weights(o)} [ms] (AbsRel vs PyTorch; ÷ peer fp32)",
         f"{f(o.get('onnx_int8_ms'))} ({f(o.get('onnx_int8_abs_rel_vs_torch'), '{:.4f}')}; "
         f"{f(r.get('onnx_int8_vs_peer'), '{:.2f}')})", "AbsRel ≤ 0.01: " + _bar(o.get("onnx_int8_abs_rel_vs_torch"))),
        *[(f"… OpenVINO {p}, {_weights(o)} [ms] (AbsRel vs PyTorch; ÷ peer fp32)",
           f"{f(o.get(f'openvino_{p}_ms'))} ({f(o.get(f'openvino_{p}_abs_rel_vs_torch'), '{:.1e}')}; "
           f"{f(r.get(f'openvino_{p}_vs_peer'), '{:.2f}')})" if o.get(f"openvino_{p}_ms") else
           (o.get(f"openvino_{p}_error") or "not run")[:80],
           f"AbsRel ≤ {bar}: " + _bar(o.get(f"openvino_{p}_abs_rel_vs_torch"), bar))
          for p, bar in (("fp32", 1e-4), ("bf16", 0.01))],
        ("transformers DepthAnything-S metric, fp32, 392x518 [ms]", f(o["peer_fp32_ms"]), ""),
        ("transformers DepthAnything-S metric, bf16 [ms]", f(o["peer_bf16_ms"]), ""),
        ("official Depth Anything v1 metric code (ViT-S, conformance weights), fp32 [ms]",
         f(o.get("official_fp32_ms")) if o.get("official_fp32_ms") else (o.get("official_error") or "n/a")[:80], ""),
        ("ours fp32 ÷ official fp32", f(r.get("infer_fp32_vs_official"), "{:.2f}"),
         f"≤ 0.45: {verdict('infer_fp32_vs_official', r.get('infer_fp32_vs_official'))}"),
        ("ours fp32 ÷ peer fp32", f(r["infer_fp32_vs_peer"], "{:.2f}"),
         f"≤ 1.0: {verdict('infer_fp32_vs_peer', r['infer_fp32_vs_peer'])}"),
        ("ours fast ÷ peer fp32", f(r["infer_fast_vs_peer"], "{:.2f}"),
         f"≤ 0.5: {verdict('infer_fast_vs_peer', r['infer_fast_vs_peer'])}"),
        ("fast path AbsRel vs fp32 output (SynthRooms test images)", _fast_accuracy_text(o),
         "≤ 0.01: " + _fast_accuracy_verdict(o)),
        ("bf16 autocast, exact head: AbsRel vs fp32 output (same images)",
         _fast_accuracy_text(o, "bf16_abs_rel_vs_fp32"),
         "≤ 0.01 trained, ≤ 0.02 conformance weights: " + _bf16_accuracy_verdict(o)),
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
        ("cpu-preset training step (98x126, batch 4, AMP " + str(o.get("cpu_train_amp") or "n/a").removeprefix("torch.")
         + "), eager [images/s]",
         f(o.get("cpu_train_images_per_s"), "{:.2f}"), ""),
        ("… eager through ZoeDepth's NCHW head, the step before the channels-last training head [images/s] "
         "(max loss difference vs eager)",
         f"{f(o.get('cpu_train_reference_images_per_s'), '{:.2f}')} "
         f"({f(o.get('cpu_train_reference_loss_diff'), '{:.1e}')}); eager ÷ this: "
         f"{f(r.get('cpu_train_head_speedup'), '{:.2f}')}", ""),
        ("… torch.compile (inductor) [images/s] (first step, compiling [s]; max loss difference vs eager)",
         f"{f(o.get('cpu_train_compiled_images_per_s'), '{:.2f}')} ({f(o.get('cpu_train_compile_s'))}; "
         f"{f(o.get('cpu_train_compiled_loss_diff'), '{:.1e}')})", ""),
        ("… two runs side by side, one thread each [images/s, together]",
         f(o.get("cpu_train_side_by_side_images_per_s"), "{:.2f}"), ""),
        ("best cpu-preset training throughput ÷ eager through the NCHW head", f(r.get("cpu_train_speedup"), "{:.2f}"),
         f"≥ 1.5: {verdict('cpu_train_speedup', r.get('cpu_train_speedup'), lower=False)}"),
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


def _weights(o: dict) -> str:
    """What the exported-model rows ran: the demo's trained weights at 392x518, or random ones (never a path)."""
    weights = o.get("onnx_int8_weights")
    if not weights:
        return "n/a"
    return weights if weights.startswith("random") else "demo ZoeDAM-S weights at 392x518"


def _bar(abs_rel: float | None, bar: float = 0.01) -> str:
    return "n/a" if abs_rel is None else ("met" if abs_rel <= bar else "**not met**")


def _fast_accuracy_text(o: dict, key: str = "abs_rel_vs_fp32") -> str:
    acc = o["cases"].get("fast_accuracy", {})
    return "; ".join(f"{name}: {v[key]:.4f}" for name, v in acc.items() if isinstance(v, dict) and key in v) or "n/a"


def _bf16_accuracy_verdict(o: dict) -> str:
    """The issue's fast-path bars: 0.01 on a trained checkpoint, 0.02 on the official-format conformance weights."""
    acc = {name: v["bf16_abs_rel_vs_fp32"] for name, v in o["cases"].get("fast_accuracy", {}).items()
           if isinstance(v, dict) and "bf16_abs_rel_vs_fp32" in v}
    if not acc:
        return "n/a"
    ok = all(value <= (0.02 if "conformance" in name else 0.01) for name, value in acc.items())
    return "met" if ok else "**not met**"


def _fast_accuracy_verdict(o: dict) -> str:
    acc = [v["abs_rel_vs_fp32"] for v in o["cases"].get("fast_accuracy", {}).values() if isinstance(v, dict)]
    return "n/a" if not acc else ("met" if max(acc) <= 0.01 else "**not met**")


