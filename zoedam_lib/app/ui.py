"""The local demo app (Gradio): upload a photo, see its metric depth with a scale in metres and in 3-D.

:func:`build_app` builds the page around an already loaded model (tests drive it directly);
:func:`launch` loads the model once at start-up and serves the page until Ctrl-C. Gradio is an
optional extra (``pip install -e ".[app]"``): nothing here imports it before the app is asked for.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from zoedam_lib.app.outputs import make_outputs, preview_image
from zoedam_lib.io.mesh import MAX_VERTICES
from zoedam_lib.utils.errors import ZoeDAMError
from zoedam_lib.utils.optional import require

if TYPE_CHECKING:
    import gradio as gr

INSTALL_HINT = 'pip install -e ".[app]"'
MAX_UPLOAD = "100mb"  # a 48-megapixel JPEG is ~20 MB; bigger uploads are refused by Gradio itself
INTRO = """# ZoeDAM: metric depth from one photo
Upload a photo and press **Estimate depth**. You get the depth in metres (colour bar beside the map),
a 3-D view built from it, and the raw outputs to download: the 16-bit PNG (millimetres) and the PLY
point cloud that `python -m zoedam_lib predict --ply` writes."""


def require_gradio() -> Any:
    """The ``gradio`` module, or a :class:`ZoeDAMError` saying how to install the extra."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # a local app phones nobody
    return require("gradio", "the app", f"run {INSTALL_HINT} (or pip install \"gradio>=6,<7\") and start the "
                   "app again")


class _RequestDirs:
    """A fresh output folder per request under one root; only the newest ``keep`` are kept.

    Gradio copies returned files into its own cache when the request ends, so older folders are
    only clutter; keeping a few lets a slow browser still fetch the last results.
    """

    def __init__(self, root: str | os.PathLike | None, keep: int = 8) -> None:
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="zoedam-app-"))
        self.keep = keep
        self.count = 0

    def new(self) -> Path:
        self.count += 1
        path = self.root / f"request-{self.count:06d}"
        path.mkdir(parents=True, exist_ok=True)
        old = sorted(p for p in self.root.glob("request-*") if p.is_dir())[:-self.keep]
        for p in old:
            shutil.rmtree(p, ignore_errors=True)
        return path


def _message(exc: Exception, upload: str) -> str:
    """The error's text with Gradio's cache path of the upload replaced by the user's own file name."""
    return str(exc).replace(str(upload), Path(upload).name)


def build_app(model: nn.Module, model_summary: str = "", out_dir: str | os.PathLike | None = None,
              max_vertices: int = MAX_VERTICES, intrinsics: tuple[float, float, float, float] | None = None
              ) -> gr.Blocks:
    """The page: photo in; depth picture, 3-D view, downloads and a summary out.

    The run button's API name is ``/predict`` (inputs: image file, flip-TTA flag; outputs: depth
    picture, mesh, depth PNG, PLY, summary Markdown), so ``gradio_client`` can call it too. Files
    go to per-request folders under ``out_dir`` (default: a new temporary folder). ``intrinsics``
    (fx, fy, cx, cy in pixels) apply to every upload; without them each photo's EXIF or the default.
    """
    gr = require_gradio()
    dirs = _RequestDirs(out_dir)
    summary = model_summary or type(model).__name__

    def show_photo(photo: str | None) -> Any:
        if not photo:
            return None
        try:
            return preview_image(photo)
        except ZoeDAMError as exc:
            raise gr.Error(_message(exc, photo), print_exception=False) from None

    def estimate(photo: str | None, flip_tta: bool) -> tuple[str, str, str, str, str]:
        if not photo:
            raise gr.Error("Upload a photo first (JPEG, PNG, TIFF, WebP...), then press Estimate depth.",
                           print_exception=False)
        try:
            out = make_outputs(model, photo, dirs.new(), bool(flip_tta), summary, max_vertices, intrinsics)
        except ZoeDAMError as exc:
            raise gr.Error(_message(exc, photo), print_exception=False) from None
        except Exception as exc:  # shown as a message, not a traceback, in the browser
            traceback.print_exc(file=sys.stderr)
            raise gr.Error(f"prediction failed ({type(exc).__name__}: {exc}); the terminal running the app "
                           "shows the details", print_exception=False) from None
        return str(out.depth_figure), str(out.mesh), str(out.depth_png), str(out.ply), out.summary

    with gr.Blocks(title="ZoeDAM metric depth", delete_cache=(600, 3600)) as demo:
        gr.Markdown(INTRO)
        gr.Markdown(f"Model: {summary}", elem_id="model-summary")
        with gr.Row(equal_height=False):
            with gr.Column(scale=2):
                # a File, not an Image, input: Gradio's Image input decodes the upload itself and answers an
                # unreadable file with its own internal message; here read_image names the problem
                photo = gr.File(label="Photo (JPEG, PNG, TIFF, WebP...)", file_types=["image"], type="filepath",
                                elem_id="photo")
                flip = gr.Checkbox(label="Average with the mirrored photo (flip TTA, twice the time)", value=False)
                run = gr.Button("Estimate depth", variant="primary", elem_id="run")
                info = gr.Markdown(elem_id="info")
            with gr.Column(scale=3):
                shown = gr.Image(label="Photo", interactive=False, elem_id="photo-view")
            with gr.Column(scale=3):
                depth_picture = gr.Image(type="filepath", format="png", interactive=False, elem_id="depth-map",
                                         label="Depth in metres", show_label=False)  # the figure has a title
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                view = gr.Model3D(label="3-D view: coloured mesh from the depth (drag to turn, scroll to zoom)",
                                  clear_color=(0.1, 0.1, 0.12, 1.0), camera_position=(90, 90, None), height=420,
                                  elem_id="view3d")
            with gr.Column(scale=2):
                depth_png = gr.File(label="Depth, 16-bit PNG (millimetres)", interactive=False, elem_id="depth-png")
                ply = gr.File(label="Point cloud, PLY", interactive=False, elem_id="ply")
        photo.change(show_photo, photo, shown, api_name=False)
        run.click(estimate, [photo, flip], [depth_picture, view, depth_png, ply, info], api_name="predict",
                  concurrency_limit=1)  # one model: predictions run one at a time
    return demo


def launch(source: str, host: str = "127.0.0.1", port: int = 7860, device: str = "auto",
           intrinsics: tuple[float, float, float, float] | None = None) -> int:
    """Load the model once from ``source`` (anything :func:`load_model` accepts) and serve the app until Ctrl-C."""
    require_gradio()
    from zoedam_lib.checkpoints import load_checkpoint
    from zoedam_lib.experiments.context import resolve_device

    torch_device = resolve_device(device)
    model, report = load_checkpoint(source, device=torch_device)
    summary = f"{report.summary()} | device {torch_device}"
    print(summary, flush=True)
    out_dir = tempfile.mkdtemp(prefix="zoedam-app-")
    demo = build_app(model, summary, out_dir, intrinsics=intrinsics)
    try:
        demo.launch(server_name=host, server_port=port, allowed_paths=[out_dir], max_file_size=MAX_UPLOAD,
                    show_error=True)
    except OSError as exc:
        raise ZoeDAMError(f"cannot serve the app on {host}:{port} ({exc}); pass a free --port, or another --host") \
            from None
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return 0
