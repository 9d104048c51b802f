"""SynthRooms domains: the one table of every rendered data set, its style, camera, size and rng stream.

Depth Anything pretrains on a large, diverse corpus and is judged zero-shot on domains it never
saw. To play that out in miniature, every SynthRooms image belongs to exactly one domain:

* ``labeled`` is the NYU stand-in for metric fine-tuning and ``shifted`` the unlabeled pool of ZoeDAM+;
* ``pretrain`` is the broad corpus (five sub-styles, lenses of 0.8-1.3x NYU's focal length);
* ``lenses`` teaches a camera head focal lengths: the broad corpus's styles through lenses of
  0.5-1.6x NYU's focal length, one per image (per-image intrinsics);
* ``zeroshot_shifted``, ``zeroshot_wide``, ``zeroshot_tele`` and ``zeroshot_mixed`` are test sets
  nobody trains on: the unlabeled pool's style with depth, and the labeled rooms through a wide-angle
  lens, a telephoto lens and a new lens per image (0.5-1.6x).

Item ``i`` of a domain draws from ``np.random.default_rng([seed, stream + i])``. Streams are
:data:`STREAM_WIDTH` apart and a domain holds fewer items, so no two domains share an image, and the
``labeled``/``shifted`` streams are the ones SynthRooms always used (their files are unchanged).
This module is pure data (no numpy), so the CLI can list the domains without importing the renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoedam_lib.camera.intrinsics import NYU_CAMERA
from zoedam_lib.utils.errors import ConfigError
from zoedam_lib.utils.markdown import markdown_table

STREAM_WIDTH = 1_000_000  # items per domain stream; domain k's item i uses rng [seed, k * STREAM_WIDTH + i]
PRETRAIN_STYLES = ("office", "loft", "pastel", "dark_wood", "scandi")  # sub-styles of the pretraining mix


@dataclass(frozen=True)
class Domain:
    """One SynthRooms data set: what it is for, how it is drawn, and where it is written."""

    name: str                           # key in DOMAINS, CLI ``--domain`` value
    purpose: str                        # one line: the domain's role in the experiments
    styles: tuple[str, ...]             # SceneStyle names; several: a mixture, one drawn per image
    focal_scale: tuple[float, float]    # focal length / NYU's, uniform per image; (a, a) is a fixed camera
    labeled: bool                       # True: NYU-layout .mat with depth; False: a folder of JPEGs
    n: int                              # default number of images
    size: tuple[int, int]               # default (H, W) in pixels
    seed: int                           # default dataset seed
    stream: int                         # rng stream offset: item i uses default_rng([seed, stream + i])
    file: str                           # output name inside the data folder (.mat file or JPEG folder)

    @property
    def fixed_camera(self) -> bool:
        """Every image has the same intrinsics (stored once, as a file attribute)."""
        return self.focal_scale[0] == self.focal_scale[1]

    @property
    def style_summary(self) -> str:
        return self.styles[0] if len(self.styles) == 1 else "mix of " + ", ".join(self.styles)


def _stream(k: int) -> int:
    return k * STREAM_WIDTH


DOMAINS: dict[str, Domain] = {d.name: d for d in (
    Domain("labeled", "metric fine-tuning and NYU-protocol evaluation (stands in for NYU Depth V2)",
           ("labeled",), (1.0, 1.0), True, 600, (240, 320), 0, _stream(0), "synthrooms.mat"),
    Domain("shifted", "unlabeled pool of ZoeDAM+ (written with labeled, n // 2 images)",
           ("shifted",), (1.0, 1.0), False, 300, (240, 320), 0, _stream(1), "unlabeled"),
    Domain("pretrain", "SynthDA pretraining: Depth Anything's large, diverse labeled corpus in miniature",
           PRETRAIN_STYLES, (0.8, 1.3), True, 6000, (120, 160), 0, _stream(2), "pretrain.mat"),
    Domain("zeroshot_shifted", "zero-shot test: the unlabeled pool's style, with depth",
           ("shifted",), (1.0, 1.0), True, 200, (240, 320), 0, _stream(3), "zeroshot_shifted.mat"),
    Domain("zeroshot_wide", "zero-shot test: labeled-style rooms through a wide-angle lens",
           ("labeled",), (0.55, 0.55), True, 200, (240, 320), 0, _stream(4), "zeroshot_wide.mat"),
    Domain("zeroshot_tele", "zero-shot test: labeled-style rooms through a telephoto lens",
           ("labeled",), (1.5, 1.5), True, 200, (240, 320), 0, _stream(5), "zeroshot_tele.mat"),
    Domain("zeroshot_mixed", "zero-shot test: labeled-style rooms, a new lens per image (per-image intrinsics)",
           ("labeled",), (0.5, 1.6), True, 200, (240, 320), 0, _stream(6), "zeroshot_mixed.mat"),
    Domain("lenses", "camera-head training: the pretraining styles through a new lens per image",
           PRETRAIN_STYLES, (0.5, 1.6), True, 1500, (120, 160), 0, _stream(7), "lenses.mat"),
)}


def get_domain(name: str) -> Domain:
    """Look up a domain by name, with an error that lists the known ones."""
    if name not in DOMAINS:
        raise ConfigError(f"unknown SynthRooms domain {name!r}; expected one of {', '.join(DOMAINS)}")
    return DOMAINS[name]


def _camera(domain: Domain) -> str:
    """fx at NYU's 480x640 and the horizontal field of view, e.g. ``285 (97°)``."""
    lo, hi = (NYU_CAMERA.scaled(480, 640, s) for s in domain.focal_scale)
    if domain.fixed_camera:
        return f"{lo.fx:.0f} ({lo.hfov_deg:.0f}°)"
    return f"{lo.fx:.0f}–{hi.fx:.0f} ({lo.hfov_deg:.0f}°–{hi.hfov_deg:.0f}°)"


def domain_table_markdown() -> str:
    """The domains as a Markdown table (``docs/synthrooms.md`` embeds it verbatim; a test keeps them equal)."""
    rows = [[f"`{d.name}`", d.purpose, d.style_summary, _camera(d), f"{d.n} × {d.size[0]}×{d.size[1]}",
             f"`{d.file}`" if d.labeled else f"`{d.file}/*.jpg`", "yes" if d.labeled else "no",
             f"{d.seed} / {d.stream:,}"] for d in DOMAINS.values()]
    header = ["domain", "purpose", "style", "fx at 480×640 [px] (HFOV)", "images", "file", "depth", "seed / stream"]
    return markdown_table(header, rows, "l" * 8) + "\n"
