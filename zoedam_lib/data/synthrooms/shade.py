"""SynthRooms shading: Lambertian point lights with shadows and ambient occlusion, and a camera response.

Light falls off with distance and casts shadows from the furniture; corners and the floor around
furniture are darker. These are the shading cues of real rooms; the camera then auto-exposes,
so absolute brightness says nothing about the light's power (nor, trivially, about depth).
"""

from __future__ import annotations

import numpy as np

from zoedam_lib.data.synthrooms.scene import FLOOR, Hits, Scene
from zoedam_lib.data.synthrooms.texture import F32, albedo


def _occlusion(scene: Scene, surface: np.ndarray, axis: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Cheap ambient occlusion: darker near room edges and around furniture standing on the floor."""
    near = np.full(len(surface), np.inf, F32)
    for a in range(3):
        da = np.minimum(p[a], F32(scene.room[a]) - p[a])
        near = np.where(axis == a, near, np.minimum(near, da))
    ao = 1 - F32(0.35) * np.exp(-near / F32(0.25))
    floor = np.flatnonzero(surface == FLOOR)
    fx, fy = p[0, floor], p[1, floor]
    floor_ao = np.ones(len(floor), F32)
    for k in np.flatnonzero(scene.lo[:, 2] <= 0.0):
        lo, hi = scene.lo[k].astype(F32), scene.hi[k].astype(F32)
        dx = np.maximum(np.maximum(lo[0] - fx, fx - hi[0]), F32(0))
        dy = np.maximum(np.maximum(lo[1] - fy, fy - hi[1]), F32(0))
        floor_ao *= 1 - F32(0.45) * np.exp(-np.sqrt(dx * dx + dy * dy) / F32(0.08))
    ao[floor] *= floor_ao
    return ao


def _shadowed(scene: Scene, o: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Whether the segment from each origin (3, M) to ``light`` crosses a shadow-casting primitive."""
    casters = np.flatnonzero(scene.prim_shadow)
    blocked = np.zeros(o.shape[1], bool)
    top = scene.hi[casters, 2].max()
    low = np.flatnonzero(o[2] < top) if light[2] > top else np.arange(o.shape[1])  # above furniture: lit
    o = o[:, low]
    seg = light.astype(F32)[:, None] - o
    inv = 1.0 / np.where(np.abs(seg) < 1e-9, F32(1e-9), seg)
    for k in casters:
        lo, hi = scene.lo[k].astype(F32), scene.hi[k].astype(F32)
        cand = _shadow_region(o, lo, hi, light)
        t_in, t_out = np.full(cand.size, -np.inf, F32), np.ones(cand.size, F32)
        for a in range(3):
            oa, ia = o[a, cand], inv[a, cand]
            t1, t2 = (lo[a] - oa) * ia, (hi[a] - oa) * ia
            t_in, t_out = np.maximum(t_in, np.minimum(t1, t2)), np.minimum(t_out, np.maximum(t1, t2))
        blocked[low[cand]] |= (t_in < t_out) & (t_out > 0)
    return blocked


def _shadow_region(o: np.ndarray, lo: np.ndarray, hi: np.ndarray, light: np.ndarray) -> np.ndarray:
    """Indices of points (3, M) that a box can shadow: below its top, inside its shadow's floor bounds."""
    if light[2] <= hi[2] + 1e-3:
        return np.arange(o.shape[1])
    corners = np.stack(np.meshgrid(*zip(lo, hi, strict=True), indexing="ij"), -1).reshape(-1, 3)
    on_floor = light + (corners - light) * (light[2] / (light[2] - corners[:, 2:]))
    xy = np.concatenate([corners[:, :2], on_floor[:, :2]])
    (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
    return np.flatnonzero((o[2] < hi[2]) & (o[0] > x0) & (o[0] < x1) & (o[1] > y0) & (o[1] < y1))


def shade(scene: Scene, hits: Hits, fx: float, rng: np.random.Generator) -> np.ndarray:
    """The uint8 (H, W, 3) photo of a ray-cast scene: albedo x irradiance, auto-exposure, blur, noise."""
    height, width = hits.depth.shape
    depth = hits.depth.reshape(-1)
    surface, axis = hits.surface.reshape(-1), hits.axis.reshape(-1)
    dirs = hits.dirs.reshape(3, -1)                                     # (3, N)
    p = scene.cam.astype(F32)[:, None] + depth * dirs                   # (3, N) world hit points
    d_axis = np.where(axis == 0, dirs[0], np.where(axis == 1, dirs[1], dirs[2]))
    normal = [np.where(axis == a, -np.sign(d_axis), F32(0)) for a in range(3)]
    cos_in = np.abs(d_axis) / np.sqrt(dirs[0] ** 2 + dirs[1] ** 2 + dirs[2] ** 2)
    fw = depth / F32(fx) / np.maximum(cos_in, F32(0.2))                # pixel footprint on the surface, m

    base, emit = albedo(scene, surface, axis, p, fw)
    ao = _occlusion(scene, surface, axis, p)
    irradiance = np.outer(ao * (0.85 + 0.15 * normal[2]), scene.ambient.astype(F32))  # (N, 3)
    sqrt_ao = np.sqrt(ao)
    camera_light = len(scene.lights) - 1
    for li, (light, rgb) in enumerate(zip(scene.lights.astype(F32), scene.light_rgb.astype(F32), strict=True)):
        to_light = light[:, None] - p
        d2 = to_light[0] ** 2 + to_light[1] ** 2 + to_light[2] ** 2
        cos_l = (normal[0] * to_light[0] + normal[1] * to_light[1] + normal[2] * to_light[2]) / np.sqrt(d2)
        gain = np.maximum(cos_l, F32(0)) / (d2 + F32(0.3)) * sqrt_ao   # Lambert with 1/d^2 falloff
        if li != camera_light and scene.prim_shadow.any():
            lit = np.flatnonzero(cos_l > 0)
            origin = p[:, lit] + np.stack(normal)[:, lit] * F32(2e-3)
            gain[lit[_shadowed(scene, origin, light)]] *= F32(0.12)
        irradiance += gain[:, None] * rgb

    radiance = base * irradiance + emit
    luminance = radiance[::7] @ np.array([0.2126, 0.7152, 0.0722], F32)
    key = max(float(np.quantile(luminance, 0.9)), 1e-6)
    img = np.sqrt(np.clip(radiance * F32(0.75 * scene.exposure / key), 0.0, 1.0))  # display gamma 2
    img = np.pad(img.reshape(height, width, 3), ((1, 1), (1, 1), (0, 0)), mode="edge")
    img = 0.25 * (img[:-2] + img[2:]) + 0.5 * img[1:-1]                # slight optical blur
    img = 0.25 * (img[:, :-2] + img[:, 2:]) + 0.5 * img[:, 1:-1]
    img += (rng.random(img.shape, dtype=F32) - F32(0.5)) * F32(0.035)  # sensor noise, std ~0.01
    return (np.clip(img, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
