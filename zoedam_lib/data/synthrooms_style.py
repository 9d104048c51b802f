"""SynthRooms styles: the sampling distributions of scenes, one dataclass per style.

``labeled`` imitates NYU Depth V2 (muted homes and offices, warm-neutral light). ``shifted`` is
the unlabeled pool for semi-supervised training (the paper's unlabeled images come from other
sources than the labeled set): other palettes, coloured and dimmer or brighter light, more
clutter and other room proportions. Both use the same geometry engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Palettes are written in sRGB; shading works on linear albedo (gamma 2, undone by the camera)."""
    return (np.asarray(srgb, dtype=np.float64) ** 2).astype(np.float32)


@dataclass(frozen=True)
class SceneStyle:
    """Sampling distribution of one style; ranges are (low, high), uniform unless stated."""

    room_width: tuple[float, float] = (2.6, 5.5)       # room extent across the view (x), metres
    room_length: tuple[float, float] = (3.0, 7.5)      # along the view (y); keeps the far wall < 10 m
    ceiling: tuple[float, float] = (2.4, 3.0)          # ceiling height, metres (furniture is <= 2.1 m)
    cam_height: tuple[float, float] = (1.0, 1.8)       # camera height above the floor, metres
    pitch_deg: tuple[float, float] = (2.0, 18.0)       # downward camera tilt, degrees
    roll_deg: float = 2.0                              # largest |roll|, degrees
    yaw_deg: float = 35.0                              # largest deviation from facing the far wall
    n_furniture: tuple[int, int] = (0, 5)              # furniture pieces, inclusive
    n_clutter: tuple[int, int] = (0, 3)                # small boxes on the floor or on tables, inclusive
    n_decor: tuple[int, int] = (1, 4)                  # doors, windows, pictures on the walls, inclusive
    floor_kinds: tuple[float, float, float] = (0.45, 0.45, 0.10)  # P(tiles), P(planks), P(carpet)
    tile_sizes: tuple[float, ...] = (0.3, 0.4, 0.5, 0.6)  # tile edge, metres: a known size gives scale
    p_wallpaper: float = 0.15                          # striped wallpaper instead of paint
    p_second_light: float = 0.5                        # a second point light besides the ceiling lamp
    light_warmth: tuple[float, float] = (0.3, 0.8)     # 0: cool daylight, 1: warm tungsten
    light_tint: tuple[float, float] = (0.97, 1.03)     # per-channel random tint of the light colour
    ambient: tuple[float, float] = (0.25, 0.4)         # ambient irradiance relative to the lamps
    exposure: tuple[float, float] = (0.85, 1.1)        # multiplies auto-exposure (over/under-exposed shots)
    wall_colors: tuple[int, ...] = (0xEDE8DF, 0xE8DCC4, 0xD9CBB0, 0xCFCFCB, 0xC9D6DF, 0xEFE3B8, 0xC8D1BE,
                                    0xF2F0EB)          # sRGB hex
    wood_colors: tuple[int, ...] = (0xA0703F, 0x8A5A33, 0xC49A6C, 0x6E4A2E, 0xB5835A, 0xD2B48C)
    tile_colors: tuple[int, ...] = (0xD8D4CC, 0xB9B3A8, 0x9C9891, 0xE6E1D6, 0xC2B8A3, 0x8F8A80)
    fabric_colors: tuple[int, ...] = (0x5E6B7A, 0x8C7B6B, 0x6B7F5E, 0xA39382, 0x4F4F55, 0x9A5C4B, 0xC7BFB3)
    paint_colors: tuple[int, ...] = (0xF0F0EE, 0x3A3A3C, 0x8E9AA6, 0xD8CFC0, 0x5B6770)


STYLES: dict[str, SceneStyle] = {
    "labeled": SceneStyle(),
    "shifted": SceneStyle(
        room_width=(2.4, 4.5), room_length=(3.5, 7.5), ceiling=(2.5, 3.4), cam_height=(0.9, 1.9),
        pitch_deg=(0.0, 25.0), roll_deg=5.0, yaw_deg=40.0, n_furniture=(2, 7), n_clutter=(2, 8),
        n_decor=(2, 5), floor_kinds=(0.4, 0.35, 0.25), tile_sizes=(0.2, 0.3, 0.45, 0.6), p_wallpaper=0.5,
        p_second_light=0.7, light_warmth=(0.0, 1.0), light_tint=(0.8, 1.2), ambient=(0.1, 0.5),
        exposure=(0.55, 1.3),
        wall_colors=(0x7FA37A, 0xC46A4A, 0x3E5C82, 0xE3B448, 0x9B7FB0, 0xD98C9A, 0x6B6B6B, 0x2F4F4F),
        wood_colors=(0x5A2E1C, 0x3B2A20, 0x9E4B2C, 0xE0C097, 0x7A3E22),
        tile_colors=(0x2E2E33, 0x7A8FA6, 0xB85C3C, 0xF4F4F0, 0x4E6E58),
        fabric_colors=(0xD94A3A, 0x2E6FB0, 0xE8C547, 0x3C8C5A, 0x7B3FA0),
        paint_colors=(0xE64A19, 0x1E88E5, 0xFDD835, 0x43A047, 0x212121, 0xFAFAFA),
    ),
}


def get_style(style: str | SceneStyle) -> SceneStyle:
    """Look up a style by name (``labeled`` or ``shifted``); a SceneStyle passes through."""
    if isinstance(style, SceneStyle):
        return style
    if style not in STYLES:
        raise ValueError(f"unknown SynthRooms style {style!r}; expected one of {sorted(STYLES)}")
    return STYLES[style]


def pick_color(rng: np.random.Generator, colors: tuple[int, ...]) -> np.ndarray:
    """A palette colour (sRGB hex) with a small random tint, as linear albedo."""
    hexval = colors[int(rng.integers(len(colors)))]
    srgb = np.array([(hexval >> 16) & 255, (hexval >> 8) & 255, hexval & 255]) / 255.0
    return srgb_to_linear(np.clip(srgb * rng.uniform(0.92, 1.08, 3), 0.02, 1.0))
