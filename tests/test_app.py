"""The local demo app: its files without Gradio, the served app through its API, and in a real browser.

The served-app tests start ``python -m zoedam_lib app`` with a tiny checkpoint on a free local port.
They skip with a reason where the optional pieces are missing, so ``make test`` runs without them:
Gradio (``pip install -e ".[app]"``), Playwright (``pip install -e ".[app-test]"``) and Chromium
(``apt-get install chromium``; Playwright's own browser download is not used).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers import SUBPROCESS_ENV
from PIL import Image
from test_writers import read_ply

from zoedam_lib.app.colorbar import depth_figure, figure_to_rgb, format_range
from zoedam_lib.app.outputs import make_outputs
from zoedam_lib.camera.intrinsics import default_intrinsics
from zoedam_lib.cli import main
from zoedam_lib.data.synthrooms.generate import render_scene
from zoedam_lib.io.mesh import depth_to_mesh, grid_stride, write_glb
from zoedam_lib.io.writers import read_depth_png16, write_ply

CHROMIUM = os.environ.get("ZOEDAM_CHROMIUM", "/usr/bin/chromium")
# without the background-networking flags Chromium keeps trying to reach Google from a closed network
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHOTO_SIZE = (180, 240)

pytestmark = pytest.mark.usefixtures("one_thread")


def read_glb(path: Path) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    """glTF document, positions (N, 3), RGBA colours (N, 4) and faces (F, 3) of a .glb, parsed by the spec."""
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_len, json_type = struct.unpack_from("<I4s", data, 12)
    doc = json.loads(data[20:20 + json_len])
    bin_len, bin_type = struct.unpack_from("<I4s", data, 20 + json_len)
    assert json_type == b"JSON" and bin_type == b"BIN\0" and json_len % 4 == 0 and bin_len % 4 == 0
    binary = data[28 + json_len:28 + json_len + bin_len]

    def array(i: int, dtype: str, width: int) -> np.ndarray:
        acc = doc["accessors"][i]
        view = doc["bufferViews"][acc["bufferView"]]
        assert view["byteLength"] == acc["count"] * np.dtype(dtype).itemsize * width
        return np.frombuffer(binary, dtype, acc["count"] * width, view["byteOffset"]).reshape(-1, width)

    attributes = doc["meshes"][0]["primitives"][0]["attributes"]
    return doc, array(attributes["POSITION"], "<f4", 3), array(attributes["COLOR_0"], "u1", 4), \
        array(doc["meshes"][0]["primitives"][0]["indices"], "<u4", 1).reshape(-1, 3)


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    """A small rendered room (so the screenshot shows a photo, not noise)."""
    image, _ = render_scene(np.random.default_rng(0), *PHOTO_SIZE)
    path = tmp_path_factory.mktemp("photo") / "room.png"
    Image.fromarray(image).save(path)
    return path


# --------------------------------------------------------------------------- no Gradio needed


def test_mesh_drops_discontinuities_and_invalid_pixels(tmp_path):
    depth = np.ones((20, 30), np.float32)
    depth[:, 15:] = 2.0  # a step: the cells between columns 14 and 15 bridge it
    depth[5, 5] = np.nan
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    intrinsics = default_intrinsics(20, 30)
    mesh = depth_to_mesh(depth, rgb, intrinsics)
    assert mesh.stride == 1 and len(mesh.vertices) == 20 * 30 - 1
    assert mesh.dropped_faces == 2 * 19 + 6 and len(mesh.faces) == 2 * 19 * 29 - mesh.dropped_faces
    z = mesh.vertices[:, 2][mesh.faces]
    assert (z.max(1) <= 1.1 * z.min(1)).all()  # no kept triangle spans the step
    # at stride 1 the vertices are exactly the PLY's points (flying pixels kept), in the same order
    write_ply(tmp_path / "p.ply", depth, rgb, intrinsics, max_jump=None)
    _, points = read_ply(tmp_path / "p.ply")
    np.testing.assert_array_equal(mesh.vertices, np.stack([points["x"], points["y"], points["z"]], 1))
    np.testing.assert_array_equal(mesh.colors, np.stack([points["red"], points["green"], points["blue"]], 1))
    write_glb(tmp_path / "m.glb", mesh)
    doc, positions, colors, faces = read_glb(tmp_path / "m.glb")
    np.testing.assert_array_equal(positions, mesh.vertices * [1, -1, -1])  # glTF: y up, looking down -z
    np.testing.assert_array_equal(colors[:, :3], mesh.colors)
    np.testing.assert_array_equal(faces, mesh.faces)
    assert doc["accessors"][0]["min"] == positions.min(0).tolist()


def test_mesh_is_decimated_under_the_vertex_budget():
    assert grid_stride(300, 400, 10_000) == 4 and grid_stride(3000, 4000, 200_000) == 8
    mesh = depth_to_mesh(np.full((300, 400), 2.5, np.float32), np.zeros((300, 400, 3), np.uint8),
                         default_intrinsics(300, 400), max_vertices=10_000)
    assert len(mesh.vertices) == 75 * 100 and mesh.dropped_faces == 0


def test_colour_bar_labels_span_the_depth_range():
    depth = np.linspace(0.8, 3.3, 48 * 64, dtype=np.float32).reshape(48, 64)
    fig = depth_figure(depth)
    pixels = figure_to_rgb(fig)  # draws the figure, so tick labels exist
    bar = fig.axes[1]
    assert bar.get_ylabel() == "depth [m]"
    assert np.allclose(bar.get_ylim(), (0.8, 3.3), atol=1e-6)
    labels = [(t, float(lab.get_text())) for t, lab in zip(bar.get_yticks(), bar.get_yticklabels(), strict=True)
              if 0.8 <= t <= 3.3]
    values = [v for _, v in labels]
    assert len(values) >= 3 and all(np.isclose(t, v) for t, v in labels)
    spacing = values[1] - values[0]
    assert values[0] - 0.8 < spacing and 3.3 - values[-1] < spacing
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100
    assert format_range(0.6953, 0.703) == "0.6953 – 0.7030 m" and format_range(0.84, 3.2) == "0.84 – 3.20 m"


def test_app_outputs_equal_the_predict_command(photo, checkpoint, tmp_path):
    from zoedam_lib.checkpoints import load_model

    out = make_outputs(load_model(checkpoint), photo, tmp_path / "app", model_summary="tiny")
    assert main(["predict", str(photo), "--checkpoint", str(checkpoint), "--out", str(tmp_path / "cli"),
                 "--ply", "--device", "cpu"]) == 0
    np.testing.assert_array_equal(read_depth_png16(out.depth_png), read_depth_png16(tmp_path / "cli/room_depth.png"))
    app_header, app_points = read_ply(out.ply)
    cli_header, cli_points = read_ply(tmp_path / "cli/room.ply")
    np.testing.assert_array_equal(app_points, cli_points)  # the same camera, the same flying pixels dropped
    assert app_header == cli_header
    camera = next(h for h in app_header if h.startswith("comment intrinsics assumed: "))[len("comment "):]
    assert f"**Camera:** {camera} (fx = fy = " in out.summary
    assert f"{PHOTO_SIZE[1]} × {PHOTO_SIZE[0]} px" in out.summary


def test_app_uses_given_intrinsics_and_refuses_millimetres(photo, checkpoint, tmp_path):
    from zoedam_lib.checkpoints import load_model
    from zoedam_lib.utils.errors import ConfigError

    model = load_model(checkpoint)
    out = make_outputs(model, photo, tmp_path / "app", intrinsics=(200.0, 200.0, 119.5, 89.5))
    header, _ = read_ply(out.ply)
    assert "comment intrinsics fx 200.0 fy 200.0 cx 119.5 cy 89.5" in header
    assert "**Camera:** intrinsics from --intrinsics (fx = fy = 200.0 px, cx = 119.5, cy = 89.5)" in out.summary
    with pytest.raises(ConfigError, match="looks like millimetres"):
        make_outputs(model, photo, tmp_path / "mm", intrinsics=(4.0, 4.0, 119.5, 89.5))


def test_app_without_gradio_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # makes `import gradio` fail
    assert main(["app", "--checkpoint", "unused"]) == 2
    assert 'pip install -e ".[app]"' in capsys.readouterr().err


# --------------------------------------------------------------------------- the served app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(checkpoint, tmp_path_factory):
    """``python -m zoedam_lib app`` on a free port; yields its URL and stops it with Ctrl-C (SIGINT)."""
    pytest.importorskip("gradio", reason='the app needs the optional extra: pip install -e ".[app]"')
    port, log = _free_port(), tmp_path_factory.mktemp("server") / "app.log"
    env = {**SUBPROCESS_ENV, "GRADIO_TEMP_DIR": str(log.parent / "gradio")}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "zoedam_lib", "app", "--checkpoint", str(checkpoint),
                                 "--port", str(port), "--device", "cpu"], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        assert proc.poll() is None, f"the app exited with {proc.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"the app did not answer within 90 s:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.3)
    yield url
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    assert "Traceback" not in log.read_text(), log.read_text()


def test_api_predict_returns_metric_files(server, photo):
    from gradio_client import Client, handle_file

    client = Client(server, verbose=False)
    picture, mesh, depth_png, ply, summary = client.predict(handle_file(str(photo)), False, api_name="/predict")
    with Image.open(depth_png) as img:
        mm = np.asarray(img)
    assert mm.dtype == np.uint16 and mm.shape == PHOTO_SIZE
    assert (mm >= 1).all() and (mm <= 10_000).all()  # valid everywhere, within the model's 0.001–10 m
    header, points = read_ply(Path(ply))
    dropped = int(re.search(r"(\d+) flying pixels on depth edges left out", summary).group(1))
    assert len(points) == np.count_nonzero(mm) - dropped  # one vertex per valid pixel off depth edges
    fx, fy, cx, cy = (float(t) for t in next(h for h in header if h.startswith("comment intrinsics fx")).split()[3::2])
    u = np.rint(fx * points["x"] / points["z"] + cx).astype(int)  # each point projected back to its pixel
    v = np.rint(fy * points["y"] / points["z"] + cy).astype(int)
    assert np.abs(points["z"] * 1000 - mm[v, u]).max() <= 0.5
    with Image.open(picture) as img:
        colours = np.unique(np.asarray(img.convert("RGB")).reshape(-1, 3), axis=0)
    assert len(colours) > 100  # a colour map and a labelled bar, not a blank image
    _, positions, _, _ = read_glb(Path(mesh))
    assert 0 < len(positions) <= mm.size
    assert "intrinsics assumed: " in summary and f"{PHOTO_SIZE[1]} × {PHOTO_SIZE[0]} px" in summary


def test_api_unreadable_upload_is_a_message(server, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a JPEG" * 50)
    with pytest.raises(AppError, match=r"cannot read image broken\.jpg.*Expected a JPEG"):
        Client(server, verbose=False).predict(handle_file(str(bad)), False, api_name="/predict")


@pytest.fixture(scope="module")  # module scope, so it is set up (and may skip) before the server
def sync_api():
    """Playwright's sync API, checked (with Chromium) before the app is started for nothing."""
    api = pytest.importorskip("playwright.sync_api", reason='the browser test needs Playwright: '
                              'pip install -e ".[app-test]"')
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set ZOEDAM_CHROMIUM)")
    return api


def test_browser_upload_run_and_download(sync_api, server, photo, tmp_path):
    shot = tmp_path / "app.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        page.goto(server)
        page.locator("#photo input[type=file]").set_input_files(str(photo))
        loaded = "s => { const i = document.querySelector(s); return i !== null && i.naturalWidth > 0 }"
        page.wait_for_function(loaded, arg="#photo-view img", timeout=30_000)
        page.locator("#run").click()
        page.wait_for_function(loaded, arg="#depth-map img", timeout=60_000)
        link = page.locator("#depth-png a[href*='room_depth.png']")
        link.wait_for(timeout=30_000)
        assert page.request.get(link.first.get_attribute("href")).ok
        assert page.locator("#ply a[href*='room.ply']").count() >= 1
        assert "intrinsics assumed: " in page.locator("#info").inner_text()
        canvas = page.locator("#view3d canvas").first
        canvas.wait_for(timeout=30_000)
        for _ in range(80):  # the 3-D view appears once Babylon.js has loaded the mesh
            if _drawn(np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"))):
                break
            page.wait_for_timeout(250)
        box = canvas.bounding_box()
        page.screenshot(path=str(shot))  # not full_page: resizing the page would clear the 3-D canvas
        browser.close()
    with Image.open(shot) as img:
        view = img.convert("RGB").crop((box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]))
    assert _drawn(np.asarray(view)), f"the 3-D view is blank in {shot}"
    with Image.open(shot) as img:
        assert len(img.convert("RGB").getcolors(maxcolors=1 << 24)) > 1000, f"blank page? see {shot}"


def _drawn(view: np.ndarray) -> bool:
    """Whether a 3-D canvas shows something: its centre (clear of the label and buttons) is not one flat colour."""
    h, w = view.shape[:2]
    centre = view[h // 5:h - h // 5, w // 5:w - w // 5].reshape(-1, 3)
    background = view[-2, -2]
    return (np.abs(centre.astype(int) - background).sum(1) > 30).mean() > 0.05 and len(np.unique(centre, axis=0)) > 50
