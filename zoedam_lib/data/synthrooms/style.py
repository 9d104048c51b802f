"""SynthRooms styles: the sampling distributions of scenes, one dataclass per style.

``labeled`` imitates NYU Depth V2 (muted homes and offices, warm-neutral light). ``shifted`` is
the unlabeled pool for semi-supervised training (the paper's unlabeled images come from other
sources than the labeled set): other palettes, coloured and dimmer or brighter light, more
clutter and other room proportions. The five pretraining sub-styles (``office``, ``loft``,
``pastel``, ``dark_wood``, ``scandi``) together make the broad corpus of
:mod:`synthrooms_domains`: varied rooms, light and cameras, but no palette colour within 12/255 of
a ``labeled`` or ``shifted`` one and no strongly tinted light (``shifted``'s mark), so the
zero-shot test domains stay unseen. All styles share one geometry engine.
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
    "office": SceneStyle(  # open-plan offices and meeting rooms: cool light, carpet tiles, many desks
        room_width=(3.5, 7.0), room_length=(4.0, 8.0), ceiling=(2.6, 3.2), cam_height=(1.1, 1.7),
        pitch_deg=(0.0, 15.0), roll_deg=2.0, yaw_deg=35.0, n_furniture=(3, 8), n_clutter=(2, 6),
        n_decor=(1, 4), floor_kinds=(0.5, 0.1, 0.4), tile_sizes=(0.5, 0.6), p_wallpaper=0.05,
        p_second_light=0.8, light_warmth=(0.0, 0.35), light_tint=(0.97, 1.03), ambient=(0.3, 0.45),
        exposure=(0.9, 1.15),
        wall_colors=(0xE4E7EA, 0xB9C0C7, 0xDDE2CB, 0x6F7F8F, 0xA7B5A0, 0xD0CBD9),
        wood_colors=(0x9B8B78, 0x5D4C3F, 0xBFAE94, 0x7C6A58),
        tile_colors=(0x4A5561, 0x7D7A74, 0xA9ADB0, 0x3B4049, 0x6A737A),
        fabric_colors=(0x34495E, 0x7A8C98, 0x434341, 0xB3412F, 0x556B2F),
        paint_colors=(0xE2E6EC, 0x242C29, 0x9AA5B1, 0xC0C4C8),
    ),
    "loft": SceneStyle(  # converted industrial spaces: big, tall, concrete and brick, sparse furniture
        room_width=(4.5, 7.5), room_length=(5.0, 8.0), ceiling=(3.2, 4.2), cam_height=(1.2, 2.0),
        pitch_deg=(-3.0, 20.0), roll_deg=3.0, yaw_deg=40.0, n_furniture=(2, 6), n_clutter=(1, 4),
        n_decor=(2, 5), floor_kinds=(0.5, 0.3, 0.2), tile_sizes=(0.8, 1.0, 1.2), p_wallpaper=0.1,
        p_second_light=0.6, light_warmth=(0.2, 0.9), light_tint=(0.95, 1.05), ambient=(0.2, 0.4),
        exposure=(0.8, 1.1),
        wall_colors=(0xA8A49E, 0x7C5A4E, 0x8B6F5E, 0xBAB9B5, 0x58534B, 0xCAC5A6),
        wood_colors=(0x4E3B2C, 0x8C6A4B, 0x6A5442, 0xA98660),
        tile_colors=(0x938F8C, 0x77736E, 0xBBB9B5, 0x5E5A55),
        fabric_colors=(0x6B4024, 0x2F3B45, 0x898475, 0x454545, 0xA67B5B),
        paint_colors=(0x191919, 0x3D4A45, 0x7A7F84, 0xB0452F),
    ),
    "pastel": SceneStyle(  # small nurseries and bedrooms, shot from low: pale colours, bright, cluttered
        room_width=(2.6, 4.2), room_length=(3.0, 5.5), ceiling=(2.4, 2.8), cam_height=(0.8, 1.4),
        pitch_deg=(5.0, 25.0), roll_deg=4.0, yaw_deg=35.0, n_furniture=(2, 6), n_clutter=(3, 9),
        n_decor=(2, 5), floor_kinds=(0.2, 0.4, 0.4), tile_sizes=(0.3, 0.4), p_wallpaper=0.4,
        p_second_light=0.5, light_warmth=(0.4, 0.8), light_tint=(0.96, 1.04), ambient=(0.35, 0.5),
        exposure=(1.0, 1.25),
        wall_colors=(0xCFE3D4, 0xF6D9C6, 0xDCD3E8, 0xCFE0EE, 0xF6EBC8, 0xF2D4DC),
        wood_colors=(0xE8D5B7, 0xDBC4A3, 0xF1E3CD),
        tile_colors=(0xE9E4F0, 0xD4E8E0, 0xF9E5D7, 0xDDE6F0),
        fabric_colors=(0xF4B6C2, 0xA7D8DE, 0xF9E79F, 0xC3B1E1, 0xB5E3B0),
        paint_colors=(0xFFFFEE, 0xF7C8A8, 0xA9CCE3, 0xD5C4E8, 0xBFE3C9),
    ),
    "dark_wood": SceneStyle(  # studies, libraries, pubs: dark panelling, dim tungsten light, under-exposed
        room_width=(3.0, 5.5), room_length=(3.5, 7.0), ceiling=(2.5, 3.2), cam_height=(1.0, 1.7),
        pitch_deg=(0.0, 14.0), roll_deg=2.0, yaw_deg=35.0, n_furniture=(2, 6), n_clutter=(1, 5),
        n_decor=(1, 4), floor_kinds=(0.05, 0.7, 0.25), tile_sizes=(0.3, 0.4), p_wallpaper=0.3,
        p_second_light=0.6, light_warmth=(0.75, 1.0), light_tint=(0.97, 1.03), ambient=(0.08, 0.2),
        exposure=(0.6, 0.85),
        wall_colors=(0x4A3F37, 0x34473B, 0x5B3A3A, 0x2E3440, 0x6B5B4B, 0x897B5D),
        wood_colors=(0x3F2613, 0x4C311C, 0x2A1C14, 0x694125, 0x4A3426),
        tile_colors=(0x3A322B, 0x5A4A3C, 0x1E2E25, 0x6E5C48),
        fabric_colors=(0x6E1F2A, 0x1F3D2B, 0x8B6B2E, 0x29293F, 0x5A4636),
        paint_colors=(0x1D2E22, 0x5C1E22, 0xB89B5E, 0x2A2A26),
    ),
    "scandi": SceneStyle(  # bright Scandinavian homes: white walls, pale oak, few pieces, daylight
        room_width=(3.0, 6.0), room_length=(3.5, 7.5), ceiling=(2.5, 3.0), cam_height=(1.1, 1.7),
        pitch_deg=(0.0, 12.0), roll_deg=1.5, yaw_deg=30.0, n_furniture=(1, 4), n_clutter=(0, 3),
        n_decor=(1, 4), floor_kinds=(0.15, 0.75, 0.1), tile_sizes=(0.3, 0.6), p_wallpaper=0.1,
        p_second_light=0.4, light_warmth=(0.1, 0.5), light_tint=(0.97, 1.03), ambient=(0.35, 0.5),
        exposure=(0.95, 1.2),
        wall_colors=(0xFFFCE6, 0xE0E1E3, 0xCBDCD2, 0xFBE6E0, 0xBFC7C9),
        wood_colors=(0xE6D3B3, 0xD3C09C, 0xF1E3CD, 0xBFA27C),
        tile_colors=(0xDFE6EE, 0xD9DAD9, 0xA3A3A0, 0xB5B8B6),
        fabric_colors=(0xBBBDB9, 0x8C908C, 0x2A2A26, 0xDAC2BB, 0x9DB4C0),
        paint_colors=(0x151515, 0xE1E5E7, 0x7F8C8D, 0xCCB799),
    ),
}
PALETTE_FIELDS = ("wall_colors", "wood_colors", "tile_colors", "fabric_colors", "paint_colors")


def get_style(style: str | SceneStyle) -> SceneStyle:
    """Look up a style by name (a key of :data:`STYLES`); a SceneStyle passes through."""
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
