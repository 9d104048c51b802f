"""SynthRooms geometry: sample an indoor scene and ray-cast it with a pinhole camera.

A room is the box ``[0, Lx] x [0, Ly] x [0, Lz]`` (z up, metres); furniture is a set of
axis-aligned boxes ("primitives") standing on the floor or on each other. The camera stands
near the wall ``y = 0`` and looks into the room towards ``y = Ly``, like a handheld Kinect in
NYU Depth V2. Rays are not normalised: their forward component is 1, so the ray parameter at a
hit *is* the z-depth a Kinect reports, not the distance along the ray.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

FLOOR, CEILING, WALL_X0, WALL_X1, WALL_Y0, WALL_Y1 = range(6)
N_ROOM_SURFACES = 6  # surface ids >= 6 are furniture primitives (id - 6)
CAMERA_CLEARANCE = 0.75  # horizontal metres from camera to walls in view / furniture: keeps z-depth >= ~0.55


@dataclass
class Material:
    """Albedo model of one surface: ``kind`` picks the texture function in :mod:`synthrooms_shade`."""

    kind: str                       # tiles | planks | carpet | paint | wallpaper | wood | fabric | cabinet
    color: np.ndarray               # (3,) linear RGB albedo
    color2: np.ndarray              # (3,) secondary albedo: grout, seams, stripes, skirting, drawer gaps
    scale: float = 0.5              # pattern period in metres: tile size, plank width, stripe period
    scale2: float = 1.2             # second period: plank length, drawer height
    axis: int = 0                   # pattern orientation on floors (0: along x, 1: along y)
    skirting: float = 0.0           # skirting-board height on walls, metres (0: none)
    trim: np.ndarray | None = None  # (3,) skirting-board albedo

    def __post_init__(self) -> None:
        self.color, self.color2 = np.asarray(self.color, np.float32), np.asarray(self.color2, np.float32)
        self.trim = None if self.trim is None else np.asarray(self.trim, np.float32)


@dataclass
class Decor:
    """A flat rectangle on a wall: a door, a window (emissive pane) or a picture."""

    kind: str                       # door | window | picture
    wall: int                       # surface id of the wall (WALL_X0 .. WALL_Y1)
    s0: float                       # horizontal extent along the wall, metres
    s1: float
    z0: float                       # vertical extent, metres above the floor
    z1: float
    color: np.ndarray               # (3,) linear albedo (radiance for a window's panes)


@dataclass
class Scene:
    """Everything the renderer needs; sampled by :func:`sample_scene`, pure data."""

    room: np.ndarray                # (3,) extent (Lx, Ly, Lz) in metres
    lo: np.ndarray                  # (K, 3) primitive minimum corners
    hi: np.ndarray                  # (K, 3) primitive maximum corners
    prim_mat: np.ndarray            # (K,) index into ``materials`` per primitive
    prim_shadow: np.ndarray         # (K,) bool: primitive casts shadows (thin legs do not)
    materials: list[Material]       # 0..5 room surfaces (floor, ceiling, 4 walls), then furniture
    decor: list[Decor]
    lights: np.ndarray              # (L, 3) point-light positions
    light_rgb: np.ndarray           # (L, 3) intensities
    lamp_radius: float              # radius of the visible emissive lamp disc on the ceiling (light 0)
    ambient: np.ndarray             # (3,) ambient irradiance
    cam: np.ndarray                 # (3,) camera centre
    rot: np.ndarray                 # (3, 3) columns: camera right, down, forward in world coordinates
    exposure: float                 # multiplies the auto-exposure
    noise: np.ndarray = field(repr=False)  # (64, 64) value-noise lattice for textures


class Hits(NamedTuple):
    """Per-pixel ray-cast result; arrays are (H, W)."""

    depth: np.ndarray               # float32 z-depth in metres
    surface: np.ndarray             # int16 surface id (room surfaces 0..5, primitive k as 6 + k)
    axis: np.ndarray                # int8 axis of the surface normal (0 x, 1 y, 2 z)
    dirs: np.ndarray                # (3, H, W) float32 ray directions with unit forward component


def camera_rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Columns (right, down, forward): yaw from +y towards +x, pitch downwards, roll about forward."""
    fwd = np.array([np.sin(yaw) * np.cos(pitch), np.cos(yaw) * np.cos(pitch), -np.sin(pitch)])
    right = np.array([np.cos(yaw), -np.sin(yaw), 0.0])
    down = np.cross(fwd, right)
    right, down = np.cos(roll) * right + np.sin(roll) * down, -np.sin(roll) * right + np.cos(roll) * down
    return np.stack([right, down, fwd], axis=1)


def _safe_inv(d: np.ndarray) -> np.ndarray:
    """1 / d with |d| floored at 1e-9, so axis-parallel rays give huge (not inf) slab distances."""
    return 1.0 / np.where(np.abs(d) < 1e-9, np.float32(1e-9), d)


def cast_rays(scene: Scene, intrinsics: tuple[float, float, float, float], height: int, width: int) -> Hits:
    """Nearest hit per pixel: the room's inside, then each primitive's slab test inside its screen box."""
    fx, fy, cx, cy = intrinsics
    xn = ((np.arange(width, dtype=np.float32) - cx) / fx)[None, :]    # (1, W)
    yn = ((np.arange(height, dtype=np.float32) - cy) / fy)[:, None]   # (H, 1)
    r = scene.rot.astype(np.float32)
    dirs = np.stack([xn * r[a, 0] + yn * r[a, 1] + r[a, 2] for a in range(3)])  # (3, H, W)
    inv = _safe_inv(dirs)
    cam = scene.cam.astype(np.float32)

    # the room, seen from inside: the first wall each ray leaves through
    room = scene.room.astype(np.float32)
    tx, ty, tz = ((np.where(inv[a] > 0, room[a], np.float32(0)) - cam[a]) * inv[a] for a in range(3))
    depth = np.minimum(np.minimum(tx, ty), tz)
    axis = np.where(tz == depth, 2, np.where(ty == depth, 1, 0)).astype(np.int8)
    positive = np.where(axis == 0, inv[0], np.where(axis == 1, inv[1], inv[2])) > 0
    surface = np.array([WALL_X0, WALL_Y0, FLOOR], np.int16)[axis] + positive

    corners = np.stack(np.meshgrid([0, 1], [0, 1], [0, 1], indexing="ij"), -1).reshape(-1, 3)
    for k in range(len(scene.lo)):
        lo, hi = scene.lo[k].astype(np.float32), scene.hi[k].astype(np.float32)
        box = _screen_box(np.where(corners, hi, lo), scene, intrinsics, height, width)
        if box is None:
            continue
        rows, cols = box
        d_inv, cur = inv[:, rows, cols], depth[rows, cols]
        t1 = (lo - cam)[:, None, None] * d_inv
        t2 = (hi - cam)[:, None, None] * d_inv
        t_near = np.minimum(t1, t2)
        t_in = t_near.max(axis=0)
        t_out = np.maximum(t1, t2).min(axis=0)
        hit = (t_in <= t_out) & (t_in > 0) & (t_in < cur)
        if hit.any():
            cur[hit] = t_in[hit]
            surface[rows, cols][hit] = N_ROOM_SURFACES + k
            axis[rows, cols][hit] = np.argmax(t_near, axis=0)[hit]
    return Hits(depth=depth.astype(np.float32), surface=surface, axis=axis, dirs=dirs)


def _screen_box(points: np.ndarray, scene: Scene, intrinsics: tuple[float, float, float, float],
                height: int, width: int) -> tuple[slice, slice] | None:
    """Pixel rectangle covering the projection of ``points`` (None if off-screen), to skip most rays."""
    fx, fy, cx, cy = intrinsics
    pc = (points - scene.cam) @ scene.rot                              # (8, 3) camera coordinates
    if (pc[:, 2] <= 0.05).all():
        return None
    if (pc[:, 2] <= 0.05).any():
        return slice(0, height), slice(0, width)
    u, v = fx * pc[:, 0] / pc[:, 2] + cx, fy * pc[:, 1] / pc[:, 2] + cy
    c0, c1 = max(int(np.floor(u.min())) - 1, 0), min(int(np.ceil(u.max())) + 2, width)
    r0, r1 = max(int(np.floor(v.min())) - 1, 0), min(int(np.ceil(v.max())) + 2, height)
    if c0 >= c1 or r0 >= r1:
        return None
    return slice(r0, r1), slice(c0, c1)
