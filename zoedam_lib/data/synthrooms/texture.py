"""SynthRooms textures: albedo patterns defined in metres on each surface.

Every pattern has a world-space size (tiles, planks, stripes, drawer gaps), so its image-space
frequency grows with distance and slant: the texture gradient a monocular network can learn
depth from. Patterns are box-filtered over the pixel footprint, so far surfaces fade to their
mean colour instead of aliasing into noise that would be random with respect to depth.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from zoedam_lib.data.synthrooms.scene import CEILING, N_ROOM_SURFACES, Decor, Material, Scene

F32 = np.float32


def value_noise(lattice: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smooth noise in [0, 1] with one lattice cell per unit, periodic over the 64x64 lattice."""
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = u - iu, v - iv
    fu, fv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    i0, j0 = iu.astype(np.int64) & 63, iv.astype(np.int64) & 63
    i1, j1 = (i0 + 1) & 63, (j0 + 1) & 63
    flat = lattice.ravel()
    a, b = flat[i0 * 64 + j0], flat[i1 * 64 + j0]
    c, d = flat[i0 * 64 + j1], flat[i1 * 64 + j1]
    top, bottom = a + (b - a) * fu, c + (d - c) * fu
    return top + (bottom - top) * fv


def fbm(lattice: np.ndarray, u: np.ndarray, v: np.ndarray, freq: float, fw: np.ndarray,
        octaves: int = 2, salt: float = 0.0) -> np.ndarray:
    """Zero-mean fractal noise at ``freq`` cells per metre; octaves finer than a pixel fade out."""
    out = np.zeros_like(u)
    amp = 1.0
    for o in range(octaves):
        f = freq * 2.0 ** o
        fade = np.clip(1.0 - fw * f, 0.0, 1.0)
        out += F32(amp) * fade * (value_noise(lattice, u * F32(f) + F32(salt + 13.7 * o), v * F32(f)) - F32(0.5))
        amp *= 0.5
    return out


def cell_value(lattice: np.ndarray, i: np.ndarray, j: np.ndarray, salt: int = 0) -> np.ndarray:
    """A random value in [0, 1) per integer cell (i, j): per-tile and per-plank colour variation."""
    return lattice.ravel()[((i.astype(np.int64) + salt) & 63) * 64 + ((j.astype(np.int64) + 3 * salt) & 63)]


def lines(x: np.ndarray, period: float, width: float, fw: np.ndarray) -> np.ndarray:
    """Coverage of lines ``width`` wide at multiples of ``period``, box-filtered over ``fw`` metres."""
    d = np.abs(x - F32(period) * np.round(x / F32(period)))
    cover = np.clip(np.minimum(d + fw / 2, F32(width / 2)) - np.maximum(d - fw / 2, F32(-width / 2)), 0, None) / fw
    far = np.clip(fw / F32(period) * 2 - F32(0.5), 0.0, 1.0)  # many lines per pixel: their mean
    return cover + (F32(width / period) - cover) * far


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    return a + (b - a) * t[:, None]


def _tiles(m: Material, lat: np.ndarray, u: np.ndarray, v: np.ndarray, fw: np.ndarray) -> np.ndarray:
    i, j = np.floor(u / F32(m.scale)), np.floor(v / F32(m.scale))
    tint = 1 + 0.18 * (cell_value(lat, i, j, 5) - 0.5) + 0.25 * fbm(lat, u, v, 6.0, fw)
    grout = np.maximum(lines(u, m.scale, 0.008, fw), lines(v, m.scale, 0.008, fw))
    return _mix(tint[:, None] * m.color, m.color2, grout)


def _planks(m: Material, lat: np.ndarray, u: np.ndarray, v: np.ndarray, fw: np.ndarray) -> np.ndarray:
    row = np.floor(v / F32(m.scale))
    uu = u + cell_value(lat, row, row, 17) * F32(m.scale2)  # staggered plank ends
    col = np.floor(uu / F32(m.scale2))
    grain = value_noise(lat, u * F32(1.5) + row * F32(5.3), v * F32(40.0)) - F32(0.5)
    grain *= np.clip(1.0 - fw * 40.0, 0.0, 1.0)
    tint = 1 + 0.35 * (cell_value(lat, col, row, 29) - 0.5) + 0.4 * grain
    seams = np.maximum(lines(v, m.scale, 0.004, fw), lines(uu, m.scale2, 0.004, fw))
    return _mix(tint[:, None] * m.color, m.color2, seams)


def _carpet(m: Material, lat: np.ndarray, u: np.ndarray, v: np.ndarray, fw: np.ndarray) -> np.ndarray:
    tint = 1 + 0.15 * fbm(lat, u, v, 1.5, fw) + 0.5 * fbm(lat, u, v, 30.0, fw, salt=7)
    return tint[:, None] * m.color


def _paint(m: Material, lat: np.ndarray, u: np.ndarray, v: np.ndarray, fw: np.ndarray) -> np.ndarray:
    tint = 1 + 0.08 * fbm(lat, u, v, 1.2, fw, salt=3) + 0.06 * fbm(lat, u, v, 20.0, fw, salt=9)
    return tint[:, None] * m.color


def _wallpaper(m: Material, lat: np.ndarray, u: np.ndarray, v: np.ndarray, fw: np.ndarray) -> np.ndarray:
    return _mix(_paint(m, lat, u, v, fw), m.color2, lines(u, m.scale, m.scale / 2, fw))


def _wood(m: Material, lat: np.ndarray, u: np.ndarray, v: np.ndarray, fw: np.ndarray) -> np.ndarray:
    grain = (value_noise(lat, u * F32(2.0), v * F32(30.0)) - F32(0.5)) * np.clip(1.0 - fw * 30.0, 0.0, 1.0)
    return (1 + 0.5 * grain + 0.1 * fbm(lat, u, v, 2.0, fw))[:, None] * m.color


def _fabric(m: Material, lat: np.ndarray, u: np.ndarray, v: np.ndarray, fw: np.ndarray) -> np.ndarray:
    return (1 + 0.12 * fbm(lat, u, v, 3.0, fw, salt=11) + 0.3 * fbm(lat, u, v, 40.0, fw))[:, None] * m.color


def _cabinet(m: Material, lat: np.ndarray, u: np.ndarray, v: np.ndarray, fw: np.ndarray) -> np.ndarray:
    return _mix(_paint(m, lat, u, v, fw), m.color2, lines(v, m.scale2, 0.008, fw))


TEXTURES: dict[str, Callable[..., np.ndarray]] = {
    "tiles": _tiles, "planks": _planks, "carpet": _carpet, "paint": _paint, "wallpaper": _wallpaper,
    "wood": _wood, "fabric": _fabric, "cabinet": _cabinet,
}


def albedo(scene: Scene, surface: np.ndarray, axis: np.ndarray, p: np.ndarray,
           fw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel albedo and emitted radiance (windows, the lamp disc), both (N, 3).

    ``p`` is (3, N) world hit points, ``fw`` the pixel footprint on the surface in metres.
    """
    n = len(surface)
    out, emit = np.zeros((n, 3), F32), np.zeros((n, 3), F32)
    mat_index = np.concatenate([np.arange(N_ROOM_SURFACES), scene.prim_mat])[surface]
    u = np.where(axis == 0, p[1], p[0])                                # horizontal along the surface
    v = np.where(axis == 2, p[1], p[2])                                # height on vertical surfaces
    lat = scene.noise
    for mi in np.flatnonzero(np.bincount(mat_index, minlength=len(scene.materials))):
        idx = np.flatnonzero(mat_index == mi)
        m = scene.materials[mi]
        uu, vv, fi = (v[idx], u[idx], fw[idx]) if m.axis == 1 else (u[idx], v[idx], fw[idx])
        col = TEXTURES[m.kind](m, lat, uu, vv, fi)
        if m.skirting > 0 and m.trim is not None:
            col = _mix(col, m.trim, np.clip((F32(m.skirting) - vv) / fi + 0.5, 0.0, 1.0))
        out[idx] = col
    for wall in {d.wall for d in scene.decor}:
        on_wall = np.flatnonzero(surface == wall)
        for d in (d for d in scene.decor if d.wall == wall):
            idx = on_wall[(u[on_wall] > d.s0) & (u[on_wall] < d.s1) & (v[on_wall] > d.z0) & (v[on_wall] < d.z1)]
            if idx.size:
                out[idx], emit[idx] = _decor(d, lat, u[idx], v[idx], fw[idx])
    ceiling = np.flatnonzero(surface == CEILING)
    lamp = ceiling[np.hypot(p[0, ceiling] - scene.lights[0, 0], p[1, ceiling] - scene.lights[0, 1])
                   < scene.lamp_radius]
    emit[lamp] = scene.light_rgb[0] * 0.8
    return out, emit


def _decor(d: Decor, lat: np.ndarray, u: np.ndarray, v: np.ndarray,
           fw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Albedo and emission inside a door, window or picture rectangle (frames are 3-5 cm wide)."""
    edge = np.minimum(np.minimum(u - d.s0, d.s1 - u), np.minimum(v - d.z0, d.z1 - v))
    emit = np.zeros((len(u), 3), F32)
    if d.kind == "window":
        pane = (edge > 0.05) & (np.abs(u - F32((d.s0 + d.s1) / 2)) > 0.025)  # frame and a mullion
        emit[pane] = d.color
        return np.where(pane[:, None], F32(0.0), F32(0.75)), emit
    if d.kind == "door":
        col = _wood(Material("wood", d.color, d.color), lat, v, u, fw)
        return np.where((edge < 0.05)[:, None], col * F32(0.6), col), emit
    paint = 0.3 + np.stack([value_noise(lat, u * F32(4) + F32(9 * c), v * F32(4)) for c in range(3)], 1)
    return np.where((edge > 0.03)[:, None], paint * d.color, F32(0.04)), emit
