"""SynthRooms layout: furniture built from axis-aligned boxes, and doors/windows/pictures on walls.

Furniture has real-world sizes (a table top at ~0.75 m, a door 2 m high), so object size is a
depth cue as in real rooms. Pieces never overlap and keep :data:`CAMERA_CLEARANCE` from the
camera, so no depth in the image is below ~0.55 m.
"""

from __future__ import annotations

import numpy as np

from zoedam_lib.data.synthrooms.scene import (
    CAMERA_CLEARANCE,
    WALL_X0,
    WALL_X1,
    WALL_Y1,
    Decor,
    Material,
    Scene,
    camera_rotation,
)
from zoedam_lib.data.synthrooms.style import SceneStyle, pick_color, srgb_to_linear

Rect = tuple[float, float, float, float]  # x0, x1, y0, y1 footprint on the floor


class _Builder:
    """Collects primitives and their materials while a layout is sampled."""

    def __init__(self, mat_offset: int) -> None:
        self.boxes: list[tuple[list[float], list[float]]] = []
        self.mats: list[int] = []
        self.shadow: list[bool] = []
        self.materials: list[Material] = []
        self.offset = mat_offset
        self.tops: list[tuple[Rect, float]] = []  # surfaces clutter can stand on

    def material(self, mat: Material) -> int:
        self.materials.append(mat)
        return self.offset + len(self.materials) - 1

    def box(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, mat: int,
            shadow: bool = True) -> None:
        self.boxes.append(([x0, y0, z0], [x1, y1, z1]))
        self.mats.append(mat)
        self.shadow.append(shadow)


def _rect_dist(rect: Rect, p: np.ndarray) -> float:
    dx = max(rect[0] - p[0], 0.0, p[0] - rect[1])
    dy = max(rect[2] - p[1], 0.0, p[1] - rect[3])
    return float(np.hypot(dx, dy))


def _overlaps(a: Rect, b: Rect, margin: float) -> bool:
    return a[0] < b[1] + margin and b[0] < a[1] + margin and a[2] < b[3] + margin and b[2] < a[3] + margin


def _place(rng: np.random.Generator, room: np.ndarray, cam_xy: np.ndarray, taken: list[Rect],
           along: float, depth: float, wall: int | None) -> tuple[Rect, int] | None:
    """A free footprint of ``along`` x ``depth`` metres against ``wall`` (or free-standing if None).

    Returns the rectangle and the side its back faces: 0/1 for x min/max, 2/3 for y min/max.
    """
    lx, ly = room[0], room[1]
    for _ in range(12):
        gap = rng.uniform(0.0, 0.04)
        if wall == WALL_Y1 and along < lx:
            x0 = rng.uniform(0, lx - along)
            rect, back = (x0, x0 + along, ly - gap - depth, ly - gap), 3
        elif wall in (WALL_X0, WALL_X1) and along < ly:
            y0 = rng.uniform(min(0.3 * ly, ly - along), ly - along)
            x0 = gap if wall == WALL_X0 else lx - gap - depth
            rect, back = (x0, x0 + depth, y0, y0 + along), (0 if wall == WALL_X0 else 1)
        elif wall is None and max(along, depth) < min(lx, ly) - 0.4:
            w, d = (along, depth) if rng.random() < 0.5 else (depth, along)
            x0, y0 = rng.uniform(0.2, lx - w - 0.2), rng.uniform(0.2, ly - d - 0.2)
            rect, back = (x0, x0 + w, y0, y0 + d), int(rng.integers(4))
        else:
            return None
        if _rect_dist(rect, cam_xy) >= CAMERA_CLEARANCE and not any(_overlaps(rect, t, 0.08) for t in taken):
            taken.append(rect)
            return rect, back
    return None


def _split_back(rect: Rect, back: int, thickness: float) -> tuple[Rect, Rect]:
    """Split a footprint into (front part, a strip of ``thickness`` along its back side)."""
    x0, x1, y0, y1 = rect
    if back == 0:
        return (x0 + thickness, x1, y0, y1), (x0, x0 + thickness, y0, y1)
    if back == 1:
        return (x0, x1 - thickness, y0, y1), (x1 - thickness, x1, y0, y1)
    if back == 2:
        return (x0, x1, y0 + thickness, y1), (x0, x1, y0, y0 + thickness)
    return (x0, x1, y0, y1 - thickness), (x0, x1, y1 - thickness, y1)


def _legs(b: _Builder, rect: Rect, z1: float, size: float, mat: int) -> None:
    x0, x1, y0, y1 = rect
    for lx in (x0 + 0.02, x1 - 0.02 - size):
        for ly in (y0 + 0.02, y1 - 0.02 - size):
            b.box(lx, lx + size, ly, ly + size, 0.0, z1, mat, shadow=False)


def _furniture(b: _Builder, rng: np.random.Generator, style: SceneStyle, room: np.ndarray,
               cam_xy: np.ndarray, taken: list[Rect]) -> None:
    """Sample one piece: table, chair, cabinet, bed or sofa, with real-world sizes."""
    kind = rng.choice(["table", "chair", "cabinet", "bed", "sofa"], p=[0.25, 0.15, 0.3, 0.12, 0.18])
    walls = [WALL_X0, WALL_X1, WALL_Y1]
    wood = Material("wood", pick_color(rng, style.wood_colors), np.zeros(3))
    fabric = Material("fabric", pick_color(rng, style.fabric_colors), np.zeros(3))
    if kind in ("table", "chair"):
        size = (rng.uniform(0.8, 1.6), rng.uniform(0.6, 1.0)) if kind == "table" else (0.45, 0.45)
        wall = None if rng.random() < 0.6 else walls[int(rng.integers(3))]
        spot = _place(rng, room, cam_xy, taken, *size, wall)
        if spot is None:
            return
        rect, back = spot
        if rng.random() < 0.4:
            wood = Material("paint", pick_color(rng, style.paint_colors), np.zeros(3))
        mat = b.material(wood)
        top = rng.uniform(0.7, 0.78) if kind == "table" else rng.uniform(0.42, 0.48)
        b.box(rect[0], rect[1], rect[2], rect[3], top - 0.04, top, mat)
        _legs(b, rect, top - 0.04, 0.05 if kind == "table" else 0.035, mat)
        if kind == "table":
            b.tops.append((rect, top))
        else:
            b.box(*_split_back(rect, back, 0.04)[1], top, top + rng.uniform(0.35, 0.5), mat)
    elif kind == "cabinet":
        spot = _place(rng, room, cam_xy, taken, rng.uniform(0.4, 1.4), rng.uniform(0.35, 0.6),
                      walls[int(rng.integers(3))])
        if spot is None:
            return
        color = pick_color(rng, style.wood_colors if rng.random() < 0.5 else style.paint_colors)
        height = rng.uniform(0.5, 2.1)
        mat = b.material(Material("cabinet", color, color * 0.3, scale2=float(rng.uniform(0.2, 0.45))))
        b.box(spot[0][0], spot[0][1], spot[0][2], spot[0][3], 0.0, height, mat)
        if height < 1.2:
            b.tops.append((spot[0], height))
    else:
        along, depth = (rng.uniform(1.4, 1.9), 2.05) if kind == "bed" else (rng.uniform(1.5, 2.2), 0.9)
        spot = _place(rng, room, cam_xy, taken, along, depth, walls[int(rng.integers(3))])
        if spot is None:
            return
        front, back = _split_back(*spot, 0.06 if kind == "bed" else 0.2)
        cloth = b.material(fabric)
        seat = rng.uniform(0.4, 0.6) if kind == "bed" else rng.uniform(0.38, 0.45)
        b.box(*front, 0.0, seat, cloth)
        back_mat = b.material(wood) if kind == "bed" else cloth
        b.box(*back, 0.0, rng.uniform(0.8, 1.1), back_mat)
        if kind == "bed":
            pillow = b.material(Material("fabric", srgb_to_linear(np.full(3, 0.9)), np.zeros(3)))
            strip = _split_back(front, spot[1], 0.35)[1]
            b.box(*strip, seat, seat + 0.12, pillow)


def _clutter(b: _Builder, rng: np.random.Generator, style: SceneStyle, room: np.ndarray,
             cam_xy: np.ndarray, taken: list[Rect]) -> None:
    """A small box (books, a bin, a parcel) on a table or cabinet top, else on the floor."""
    w, d, h = rng.uniform(0.12, 0.45), rng.uniform(0.12, 0.4), rng.uniform(0.06, 0.45)
    palette = (style.paint_colors, style.fabric_colors, style.wood_colors)[int(rng.integers(3))]
    mat = b.material(Material("paint", pick_color(rng, palette), np.zeros(3)))
    if b.tops and rng.random() < 0.6:
        (x0, x1, y0, y1), z = b.tops[int(rng.integers(len(b.tops)))]
        if x1 - x0 > w + 0.04 and y1 - y0 > d + 0.04:
            x, y = rng.uniform(x0 + 0.02, x1 - w - 0.02), rng.uniform(y0 + 0.02, y1 - d - 0.02)
            b.box(x, x + w, y, y + d, z, z + h, mat)
            return
    spot = _place(rng, room, cam_xy, taken, w, d, None)
    if spot is not None:
        b.box(*spot[0], 0.0, h, mat)


def _decor(rng: np.random.Generator, style: SceneStyle, room: np.ndarray) -> list[Decor]:
    """Doors, windows and pictures on the three walls in view, not overlapping each other."""
    out: list[Decor] = []
    for _ in range(int(rng.integers(style.n_decor[0], style.n_decor[1] + 1))):
        kind = rng.choice(["door", "window", "picture"], p=[0.3, 0.3, 0.4])
        wall = [WALL_X0, WALL_X1, WALL_Y1][int(rng.integers(3))]
        length = room[1] if wall in (WALL_X0, WALL_X1) else room[0]
        if kind == "door":
            w, z0, z1 = rng.uniform(0.8, 0.9), 0.0, rng.uniform(2.0, 2.1)
            color = pick_color(rng, style.wood_colors if rng.random() < 0.6 else style.paint_colors)
        elif kind == "window":
            w, z0, z1 = rng.uniform(0.8, 1.6), rng.uniform(0.8, 1.0), min(2.2, room[2] - 0.2)
            color = np.array([0.85, 0.92, 1.0]) * rng.uniform(1.5, 3.0)
        else:
            w, h = rng.uniform(0.3, 1.0), rng.uniform(0.3, 0.8)
            z0 = rng.uniform(1.3, 1.7) - h / 2
            z1 = z0 + h
            color = pick_color(rng, style.fabric_colors + style.paint_colors)
        if length < w + 0.3:
            continue
        s0 = rng.uniform(0.1, length - w - 0.1)
        if not any(d.wall == wall and s0 < d.s1 + 0.1 and d.s0 < s0 + w + 0.1 for d in out):
            out.append(Decor(str(kind), wall, s0, s0 + w, z0, z1, color))
    return out


def place_furniture(rng: np.random.Generator, style: SceneStyle, room: np.ndarray, cam_xy: np.ndarray,
                    mat_offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                              list[Material], list[Decor]]:
    """Primitives (lo, hi, material index, casts shadow), their materials, and wall decor."""
    b, taken = _Builder(mat_offset), []
    for _ in range(int(rng.integers(style.n_furniture[0], style.n_furniture[1] + 1))):
        _furniture(b, rng, style, room, cam_xy, taken)
    for _ in range(int(rng.integers(style.n_clutter[0], style.n_clutter[1] + 1))):
        _clutter(b, rng, style, room, cam_xy, taken)
    decor = _decor(rng, style, room)
    lo = np.array([lo for lo, _ in b.boxes], dtype=np.float64).reshape(-1, 3)
    hi = np.array([hi for _, hi in b.boxes], dtype=np.float64).reshape(-1, 3)
    return (lo, hi, np.array(b.mats, dtype=np.int64), np.array(b.shadow, dtype=bool), b.materials, decor)


def _room_materials(rng: np.random.Generator, style: SceneStyle) -> list[Material]:
    """Floor (tiles of a known size, planks or carpet), ceiling and the four walls, in surface-id order."""
    kind = rng.choice(["tiles", "planks", "carpet"], p=style.floor_kinds)
    if kind == "tiles":
        base = pick_color(rng, style.tile_colors)
        floor = Material("tiles", base, base * rng.uniform(0.45, 0.7), scale=float(rng.choice(style.tile_sizes)))
    elif kind == "planks":
        base = pick_color(rng, style.wood_colors)
        floor = Material("planks", base, base * 0.4, scale=float(rng.uniform(0.1, 0.2)),
                         scale2=float(rng.uniform(0.9, 1.6)))
    else:
        floor = Material("carpet", pick_color(rng, style.fabric_colors), np.zeros(3))
    floor.axis = int(rng.integers(2))
    ceiling = Material("paint", srgb_to_linear(np.array([0.93, 0.93, 0.91])) * rng.uniform(0.9, 1.0), np.zeros(3))
    wall_kind = "wallpaper" if rng.random() < style.p_wallpaper else "paint"
    wall = pick_color(rng, style.wall_colors)
    stripe = wall * rng.uniform(0.7, 0.9) if rng.random() < 0.7 else pick_color(rng, style.wall_colors)
    skirting = float(rng.uniform(0.06, 0.12)) if rng.random() < 0.6 else 0.0
    trim = pick_color(rng, style.wood_colors) if rng.random() < 0.5 else srgb_to_linear(np.full(3, 0.92))
    walls = [Material(wall_kind, wall, stripe, scale=float(rng.uniform(0.08, 0.25)), skirting=skirting, trim=trim)
             for _ in range(4)]
    if rng.random() < 0.25:  # an accent wall
        walls[int(rng.integers(4))].color = pick_color(rng, style.wall_colors)
    return [floor, ceiling, *walls]


def sample_scene(rng: np.random.Generator, style: SceneStyle) -> Scene:
    """Draw a room, its furniture, lights and a camera pose from ``style``'s distribution."""
    room = np.array([rng.uniform(*style.room_width), rng.uniform(*style.room_length), rng.uniform(*style.ceiling)])
    materials = _room_materials(rng, style)
    cam_xy = np.array([rng.uniform(CAMERA_CLEARANCE, room[0] - CAMERA_CLEARANCE),
                       rng.uniform(0.15, min(1.2, room[1] * 0.25))])
    cam = np.array([*cam_xy, rng.uniform(*style.cam_height)])
    yaw_max = np.radians(style.yaw_deg)
    rot = camera_rotation(rng.uniform(-yaw_max, yaw_max), np.radians(rng.uniform(*style.pitch_deg)),
                          np.radians(rng.uniform(-style.roll_deg, style.roll_deg)))
    lo, hi, prim_mat, prim_shadow, furniture_mats, decor = place_furniture(rng, style, room, cam_xy, len(materials))
    materials += furniture_mats

    warmth = rng.uniform(*style.light_warmth)
    tint = (1 - warmth) * np.array([0.85, 0.93, 1.0]) + warmth * np.array([1.0, 0.82, 0.62])
    tint = tint * rng.uniform(*style.light_tint, 3)
    top = float(hi[:, 2].max()) if len(hi) else 0.0
    lamp = np.array([rng.uniform(0.3, 0.7) * room[0], rng.uniform(0.35, 0.75) * room[1],
                     min(max(room[2] - rng.uniform(0.02, 0.3), top + 0.1), room[2] - 0.01)])
    lights, light_rgb = [lamp], [tint * rng.uniform(5.0, 8.0)]
    if rng.random() < style.p_second_light:
        lights.append(np.array([rng.uniform(0.2, 0.8) * room[0], rng.uniform(0.4, 0.95) * room[1],
                                min(max(rng.uniform(1.6, room[2] - 0.05), top + 0.1), room[2] - 0.01)]))
        light_rgb.append(tint * rng.uniform(*style.light_tint, 3) * rng.uniform(1.5, 4.0))
    lights.append(cam - 0.1 * rot[:, 1])  # weak light near the camera (the Kinect's IR emitter's cousin)
    light_rgb.append(tint * rng.uniform(0.1, 0.3))
    return Scene(room=room, lo=lo, hi=hi, prim_mat=prim_mat, prim_shadow=prim_shadow, materials=materials,
                 decor=decor, lights=np.array(lights), light_rgb=np.array(light_rgb),
                 lamp_radius=float(rng.uniform(0.1, 0.2)), ambient=tint * rng.uniform(*style.ambient),
                 cam=cam, rot=rot, exposure=float(rng.uniform(*style.exposure)),
                 noise=rng.random((64, 64), dtype=np.float32))
