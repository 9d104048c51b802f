"""A light coloured triangle mesh from a depth map, written as binary glTF (``.glb``) for 3-D viewers.

Why a mesh and not the PLY point cloud: every web viewer renders glTF triangle meshes (Gradio's
``Model3D`` uses Babylon.js, whose point-cloud PLY support depends on the Gradio version), and a
mesh looks solid at a few hundred thousand vertices where a point cloud of the same size looks
sparse. The depth grid is subsampled with one stride in both directions so the mesh stays under
``max_vertices``; each grid cell gives two triangles, and a triangle is dropped where it would
bridge a depth discontinuity (its largest depth more than ``1 + max_jump`` times its smallest), so
a chair is not joined to the wall behind it by a skin of stretched triangles.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass

import numpy as np

from zoedam_lib.camera.geometry import EDGE_JUMP, backproject
from zoedam_lib.io.writers import rgb8
from zoedam_lib.utils.atomic import atomic_open
from zoedam_lib.utils.depth import has_depth

MAX_VERTICES = 200_000  # keeps a .glb under ~8 MB: light enough for a browser viewer
_GLTF_FLOAT, _GLTF_UBYTE, _GLTF_UINT = 5126, 5121, 5125  # glTF componentType codes
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963


@dataclass
class DepthMesh:
    """A triangle mesh in the camera frame (x right, y down, z forward; metres, as :func:`write_ply`)."""

    vertices: np.ndarray  # (N, 3) float32 positions
    colors: np.ndarray  # (N, 3) uint8 RGB, one per vertex
    faces: np.ndarray  # (F, 3) uint32 vertex indices
    stride: int  # pixels between neighbouring grid vertices
    dropped_faces: int  # triangles left out at invalid pixels or depth discontinuities


def grid_stride(height: int, width: int, max_vertices: int = MAX_VERTICES) -> int:
    """The smallest pixel stride whose grid (every ``stride``-th row and column) has ≤ ``max_vertices`` points."""
    if max_vertices < 4:
        raise ValueError(f"max_vertices must be at least 4 (one grid cell), got {max_vertices}")
    stride = max(1, math.floor(math.sqrt(height * width / max_vertices)))
    while math.ceil(height / stride) * math.ceil(width / stride) > max_vertices:
        stride += 1
    return stride


def depth_to_mesh(depth_m: np.ndarray, rgb: np.ndarray, intrinsics: tuple[float, float, float, float],
                  max_vertices: int = MAX_VERTICES, max_jump: float = EDGE_JUMP) -> DepthMesh:
    """Back-project a subsampled depth grid (:func:`~zoedam_lib.camera.geometry.backproject`), then triangulate.

    Each grid cell (r, c)–(r+1, c+1) is split into two triangles; a triangle is kept only if its
    three depths are valid and ``max(z) <= (1 + max_jump) * min(z)`` (the PLY's flying-pixel
    threshold, applied here between grid vertices). Vertices no kept triangle uses are removed, so
    the vertex count is at most ``max_vertices`` and usually a little less.
    """
    depth = np.asarray(depth_m, dtype=np.float32)
    if depth.ndim != 2:
        raise ValueError(f"expected an (H, W) depth map in metres, got shape {depth.shape}")
    if np.asarray(rgb).shape[:2] != depth.shape:
        raise ValueError(f"colour image shape {np.asarray(rgb).shape} does not match the depth map {depth.shape}")
    stride = grid_stride(*depth.shape, max_vertices)
    rows = np.arange(0, depth.shape[0], stride)
    cols = np.arange(0, depth.shape[1], stride)
    z = depth[np.ix_(rows, cols)]  # (h, w) grid depths
    valid = has_depth(z)
    z = np.where(valid, z, np.float32(np.nan))
    h, w = z.shape
    index = np.arange(h * w, dtype=np.int64).reshape(h, w)
    # two triangles per cell, wound counter-clockwise as seen from the camera
    a, b, c, d = index[:-1, :-1], index[1:, :-1], index[:-1, 1:], index[1:, 1:]  # (h-1, w-1) each
    faces = np.concatenate([np.stack([a, b, c], -1).reshape(-1, 3), np.stack([c, b, d], -1).reshape(-1, 3)])
    zf = z.reshape(-1)[faces]  # (F, 3) depths, NaN where invalid
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(zf).all(1) & (zf.max(1) <= (1 + max_jump) * zf.min(1))
    kept = faces[keep]
    used = np.zeros(h * w, dtype=bool)
    used[kept.reshape(-1)] = True
    new_index = np.cumsum(used) - 1  # old grid index → compacted vertex index
    vertices = backproject(z, intrinsics, rows, cols).reshape(-1, 3)[used]  # (N, 3), the PLY's points
    colors = rgb8(np.asarray(rgb)[np.ix_(rows, cols)]).reshape(-1, 3)[used]
    return DepthMesh(vertices, colors, new_index[kept].astype(np.uint32), stride,
                     int(len(faces) - len(kept)))


def _glb_json(mesh: DepthMesh, positions: np.ndarray, sizes: tuple[int, int, int]) -> dict:
    """The glTF 2.0 document: one unlit, double-sided mesh with per-vertex colours."""
    n_pos, n_col, n_idx = sizes
    lo = positions.min(0).tolist() if len(positions) else [0.0] * 3
    hi = positions.max(0).tolist() if len(positions) else [0.0] * 3
    return {
        "asset": {"version": "2.0", "generator": "zoedam_lib"},
        "extensionsUsed": ["KHR_materials_unlit"],
        "scene": 0, "scenes": [{"nodes": [0]}], "nodes": [{"mesh": 0, "name": "depth"}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "COLOR_0": 1}, "indices": 2, "material": 0}]}],
        "materials": [{"pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1], "metallicFactor": 0,
                                                "roughnessFactor": 1},
                       "doubleSided": True, "extensions": {"KHR_materials_unlit": {}}}],
        "buffers": [{"byteLength": n_pos + n_col + n_idx}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": n_pos, "target": _ARRAY_BUFFER},
                        {"buffer": 0, "byteOffset": n_pos, "byteLength": n_col, "target": _ARRAY_BUFFER},
                        {"buffer": 0, "byteOffset": n_pos + n_col, "byteLength": n_idx,
                         "target": _ELEMENT_ARRAY_BUFFER}],
        "accessors": [{"bufferView": 0, "componentType": _GLTF_FLOAT, "count": len(mesh.vertices), "type": "VEC3",
                       "min": lo, "max": hi},
                      {"bufferView": 1, "componentType": _GLTF_UBYTE, "normalized": True,
                       "count": len(mesh.vertices), "type": "VEC4"},
                      {"bufferView": 2, "componentType": _GLTF_UINT, "count": mesh.faces.size, "type": "SCALAR"}],
    }


def write_glb(path: str | os.PathLike, mesh: DepthMesh) -> None:
    """Write ``mesh`` as binary glTF 2.0, atomically.

    glTF is y-up with the viewer looking down -z, so camera-frame points (x, y, z) are stored as
    (x, -y, -z): a viewer's default camera then sees the scene as the photo's camera did. Colours
    are RGBA bytes (glTF vertex attributes must be 4-byte aligned, so no RGB bytes).
    """
    positions = (mesh.vertices * np.array([1, -1, -1], dtype=np.float32)).astype("<f4")
    rgba = np.concatenate([mesh.colors, np.full((len(mesh.colors), 1), 255, np.uint8)], 1)
    blobs = [positions.tobytes(), rgba.tobytes(), mesh.faces.astype("<u4").tobytes()]  # all 4-byte multiples
    doc = json.dumps(_glb_json(mesh, positions, tuple(len(b) for b in blobs)), separators=(",", ":")).encode()
    doc += b" " * (-len(doc) % 4)  # chunks are padded to 4 bytes, JSON with spaces
    binary = b"".join(blobs)
    total = 12 + 8 + len(doc) + 8 + len(binary)
    with atomic_open(path, "wb") as f:
        f.write(struct.pack("<4sII", b"glTF", 2, total))
        f.write(struct.pack("<I4s", len(doc), b"JSON") + doc)
        f.write(struct.pack("<I4s", len(binary), b"BIN\0") + binary)
