"""The ``zoedam`` argument parser: every command's flags, and the argument types that check them."""

from __future__ import annotations

import argparse

from zoedam_lib.camera.geometry import EDGE_JUMP
from zoedam_lib.checkpoints.loading import DECODER_CHOICES
from zoedam_lib.cli import plus_study
from zoedam_lib.data.splits import SPLIT_KINDS
from zoedam_lib.experiments.presets import EXPERIMENTS
from zoedam_lib.io.images import MAX_PIXELS
from zoedam_lib.models.backbones import BACKBONES
from zoedam_lib.utils.amp import AMP_CHOICES

DESCRIPTION = "zoedam: monocular metric depth in metres (ZoeDAM). The jobs that are not notebooks."


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 240x320, got {text!r}") from None
    if h <= 0 or w <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return h, w




INTRINSICS_HELP = ("camera intrinsics in pixels at the image's size after EXIF rotation (default: the photo's EXIF "
                   "focal length, else NYU's 63.3 deg field of view across the long side, centred)")


def _pixels(text: str) -> int:
    try:
        value = int(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of pixels such as 200e6, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


# Recipe settings the train command can override: (name, type, help). Any of them may be absent
# from a model's recipe options (e.g. decoder_width for ZoeDAM): recipe_for then says so.
RECIPE_FLAGS = (
    ("epochs", int, "passes over the training split (default: the preset's)"),
    ("batch_size", int, "images per step and process"),
    ("lr", float, "peak learning rate"),
    ("img_size", _size, "network input HxW (multiples of 14 for ZoeDAM)"),
    ("n_train", int, "use only the first N training images (N >= 1; default: all)"),
    ("n_val", int, "validation images per epoch (N >= 1; default: all of the validation split)"),
    ("max_steps_per_epoch", int, "cap steps per epoch (quick runs; N >= 1; default: no cap)"),
    ("checkpoint_every", int, "also checkpoint every N steps"),
    ("decoder_width", float, "DenseDepth: decoder width factor"),
    ("unlabeled_ratio", int, "ZoeDAM+: unlabeled images per labeled image"),
    ("n_unlabeled", int, "ZoeDAM+: unlabeled images used"),
    ("student_init", str, "ZoeDAM+: pretrained (start like the teacher's encoder did) | teacher (a copy of it)"),
    ("camera", str, "ZoeDAM: blind (one training camera, the paper) | canonical (camera-aware: canonical camera, "
                    "random zoom, a camera head; docs/camera.md)"),
)


DEPTH_UNIT_HELP = ("unit of the stored depths: mm | kitti (1/256 m) | metres per unit such as 0.01. Folder data: "
                   "of its 16-bit PNGs, overriding dataset.json (default there: mm); an NYU-layout .mat: of its "
                   "float depths (default: metres)")


def _run_args(p: argparse.ArgumentParser) -> None:
    from zoedam_lib.experiments.context import PRESETS

    p.add_argument("--data", default="data/synthrooms/synthrooms.mat",
                   help="NYU-layout .mat (default: SynthRooms, generated if missing), or your own RGB-D data: a "
                        "folder with images/ + depth/ (paired by name) or a manifest .csv/.json; see docs/own_data.md")
    p.add_argument("--depth-unit", default=None, help=DEPTH_UNIT_HELP)
    p.add_argument("--split", default="paper", choices=list(SPLIT_KINDS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/cli", help="output directory (results/, checkpoints/, runs/)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--preset", default="auto", choices=list(PRESETS))


FP32_HELP = ("run in fp32 (default: encoder and decoder in the hardware's native bf16/fp16 where the model's depth "
             "stays within AbsRel 0.01 of fp32, checked on its first batch; fp32 on CPUs without native bf16)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zoedam", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)

    from zoedam_lib.data.synthrooms.domains import DOMAINS  # pure data: no numpy or renderer import

    p = sub.add_parser("synth", help="render a SynthRooms domain (NYU layout); default: labeled + unlabeled pool",
                       description="Domains (docs/synthrooms.md): " + "; ".join(
                           f"{d.name}: {d.n} x {d.size[0]}x{d.size[1]}, {d.purpose}" for d in DOMAINS.values()))
    p.add_argument("--domain", default="labeled", choices=list(DOMAINS))
    p.add_argument("--out", default="data/synthrooms", help="data folder; the domain's file goes inside")
    p.add_argument("--n", type=int, default=None, help="number of images (default: the domain's)")
    p.add_argument("--size", type=_size, default=None, help="HxW, e.g. 240x320 (default: the domain's)")
    p.add_argument("--seed", type=int, default=None, help="dataset seed (default: the domain's)")
    p.add_argument("--n-unlabeled", type=int, default=None, help="labeled only: size of the unlabeled pool (n // 2)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--format", default="mat", choices=["mat", "folder"],
                   help="mat: synthrooms.mat (NYU layout); folder: images/ + depth/ (16-bit mm PNG) + dataset.json")

    p = sub.add_parser("download-nyu", help="download nyu_depth_v2_labeled.mat (2.8 GB, resumable) and splits.mat")
    p.add_argument("--out", default="data/nyu")
    p.add_argument("--no-splits", action="store_true", help="skip the official splits.mat")

    p = sub.add_parser("train", help="train a model (use torchrun --nproc_per_node=N for DDP)")
    _run_args(p)
    p.add_argument("--model", default="zoedam", choices=list(EXPERIMENTS))
    p.add_argument("--backbone", default="vits",
                   help=f"ZoeDAM encoder: {' | '.join(BACKBONES)} (vitt: a tiny test ViT)")
    p.add_argument("--pretrained", default="auto",
                   help="ZoeDAM: weights to start from (path, known name or Hub id; 'auto': the preset's - SynthDA "
                        "on cpu, Depth Anything on paper; 'none': random); DenseDepth: 'none' for a random encoder")
    p.add_argument("--decoder", default="pretrained", choices=list(DECODER_CHOICES))
    p.add_argument("--teacher", default=None, help="ZoeDAM+: teacher checkpoint")
    p.add_argument("--unlabeled", nargs="*", default=None, help="ZoeDAM+: unlabeled image folders")
    for name, kind, help_text in RECIPE_FLAGS:
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=help_text)
    p.add_argument("--amp", default=None, choices=list(AMP_CHOICES))
    p.add_argument("--resume", action="store_true", help="continue from <out>/runs/<model>/train_state.pt")
    p.add_argument("--resume-override", nargs="+", default=(), metavar="KEY",
                   help="with --resume: settings that may differ from the saved run's on purpose (e.g. lr); "
                        "recorded in the run's history")

    p = sub.add_parser("pretrain", help="SynthDA: pretrain a relative-depth DINOv2 + DPT (Depth Anything's teacher "
                                        "stage) on SynthRooms' pretrain domain; writes Depth Anything v1 weights")
    p.add_argument("--data", default="data/synthrooms/pretrain.mat",
                   help="NYU-layout corpus (default: SynthRooms' pretrain domain, rendered if missing)")
    p.add_argument("--out", default="runs/synthda", help="run directory (train state, history, held-out split)")
    p.add_argument("--export", default=None, help="weights file (default: <out>/synthda_vits14.safetensors)")
    p.add_argument("--eval", nargs="*", default=None, metavar="NAME=FILE",
                   help="also report relative quality on these NYU-layout files (default: SynthRooms' labeled test "
                        "domain and the two zero-shot domains)")
    p.add_argument("--depth-unit", default=None, help=DEPTH_UNIT_HELP)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    for name in ("epochs", "batch_size", "lr", "max_steps_per_epoch", "checkpoint_every"):
        kind, help_text = next((k, h) for n, k, h in RECIPE_FLAGS if n == name)
        p.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=help_text)
    p.add_argument("--img-size", type=_size, default=None, help="network input HxW (multiples of 14)")
    p.add_argument("--backbone", default=None, help=f"DINOv2 encoder: {' | '.join(BACKBONES)} (default: vits)")
    p.add_argument("--n-holdout", type=int, default=None, help="pretraining images held out for quality figures")
    p.add_argument("--amp", default=None, choices=list(AMP_CHOICES))
    p.add_argument("--resume", action="store_true", help="continue from <out>/runs/synthda/train_state.pt")
    p.add_argument("--resume-override", nargs="+", default=(), metavar="KEY",
                   help="with --resume: settings that may differ from the saved run's on purpose (recorded)")

    p = sub.add_parser("seeds", help="the spread over seeds of every model's headline metrics (make demo-seeds)")
    p.add_argument("runs", nargs="+", help="run folders (each with results/), or a folder of them")

    p = sub.add_parser("eval", help="evaluate a checkpoint on the test split (NYU protocol)")
    _run_args(p)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--name", default=None, help="results key (default: derived from the checkpoint)")
    p.add_argument("--no-flip-tta", action="store_true")
    p.add_argument("--fp32", action="store_true", help=FP32_HELP)
    p.add_argument("--zero-shot", nargs="*", default=None, metavar="FILE",
                   help="also evaluate on these NYU-layout files, whole (named by file stem); default: SynthRooms' "
                        "zero-shot domains for SynthRooms data, none otherwise")

    p = sub.add_parser("predict", help="metric depth for images or folders: 16-bit PNG (mm), colour PNG, PLY")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--checkpoint", required=True,
                   help="path, known name or Hub id; a .onnx file from zoedam export runs with onnxruntime (CPU), or "
                        "OpenVINO with --backend openvino")
    p.add_argument("--backend", choices=("auto", "torch", "onnxruntime", "openvino"), default="auto",
                   help="auto (default): onnxruntime for a .onnx checkpoint, else PyTorch; openvino: a .onnx "
                        "checkpoint through OpenVINO on the CPU, bf16 where native and within AbsRel 0.01 of its f32 "
                        "on the first batch (--fp32 pins f32): the fastest CPU path in docs/benchmarks.md")
    p.add_argument("--out", required=True)
    p.add_argument("--ply", action="store_true", help="also write a coloured point cloud")
    p.add_argument("--flip-tta", action="store_true")
    p.add_argument("--fast", action="store_true",
                   help="fast path: bf16/fp16 where supported, reduced-resolution metric head; approximate: AbsRel vs "
                        "fp32 0.003 on the demo's weights but 0.12 on the official-format conformance weights "
                        "(docs/benchmarks.md), so check it on your model")
    p.add_argument("--fp32", action="store_true", help=FP32_HELP)
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--max-pixels", type=_pixels, default=MAX_PIXELS,
                   help=f"largest image decoded, in pixels (default {MAX_PIXELS:.3g}, ~1.2 GB of memory); larger "
                        "ones are skipped and reported")
    p.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"), default=None,
                   help=INTRINSICS_HELP)
    p.add_argument("--keep-edges", action="store_true",
                   help="keep flying pixels (points on depth discontinuities) in the PLY; they are dropped by default")
    p.add_argument("--edge-jump", type=float, default=EDGE_JUMP, metavar="FRACTION",
                   help="relative depth change to a neighbouring pixel that marks a flying pixel "
                        f"(default {EDGE_JUMP:g} = 10 %%, per pixel at a 640-px long side)")

    p = sub.add_parser("export", help='a ZoeDAM as ONNX, checked against PyTorch with onnxruntime (pip install -e '
                                      '".[onnx]"); predict runs it with --backend onnxruntime')
    p.add_argument("checkpoint", help="path, known name or Hub id (anything load_model accepts)")
    p.add_argument("--onnx", required=True, help="the .onnx file to write (folders are created)")
    p.add_argument("--size", type=_size, default=None,
                   help="input HxW of the graph, resized inside it to the network size (default: the network size)")
    p.add_argument("--dynamic-batch", action="store_true", help="a dynamic batch dimension (default: batch 1)")
    p.add_argument("--fp16", action="store_true", help="fp16 encoder and decoder for GPUs (head and I/O stay fp32)")

    p = sub.add_parser("bench", help="benchmark inference, training, loader and evaluation")
    p.add_argument("--out", default="runs/bench", help="folder for benchmarks.json and benchmarks.md")
    p.add_argument("--update-docs", action="store_true",
                   help="also replace the checkout's docs/benchmarks.json and docs/benchmarks.md, the recorded full "
                        "benchmark (refused with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats and images; PyTorch eager inference only (no torch.compile or exported-model "
                        "rows), no cpu-preset training cases (about 2 minutes)")
    p.add_argument("--vitb", action="store_true", help="also benchmark ZoeDAM-B inference")
    p.add_argument("--official", default=None, metavar="PATH",
                   help="a local clone of LiheYoung/Depth-Anything: time its official metric model (the code the "
                        "conformance vectors came from) beside ours; without it the row says 'not available'")
    p.add_argument("--paper-recipe", action="store_true",
                   help="instead: the paper's training step (392x518, batch 4, AMP) for each backbone through the "
                        "trainer, images/s, peak memory, projected time of its 5 epochs (meant for a GPU)")
    p.add_argument("--steps", type=int, default=50, help="--paper-recipe: timed steps per backbone")
    p.add_argument("--warmup", type=int, default=3, help="--paper-recipe: untimed steps before them")
    p.add_argument("--backbones", default="vits,vitb,vitl", help="--paper-recipe: comma-separated backbones")
    p.add_argument("--device", default="auto", help="--paper-recipe: auto | cpu | cuda | cuda:N")

    plus_study.add_parser(sub)

    p = sub.add_parser("app", help="local web app: a photo in; depth in metres, a 3-D view and downloads out "
                                   '(needs pip install -e ".[app]")')
    p.add_argument("--checkpoint", required=True, help="path, known name or Hub id (anything load_model accepts)")
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0 exposes it to the network)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"), default=None,
                   help=INTRINSICS_HELP + "; the same for every upload")
    return parser


# OSError numbers that mean "the machine refused the write", not a bug: shown as an error line, exit 2
