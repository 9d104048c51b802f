"""SynthRooms domains: the table, each domain's camera and stream, the files they write, the CLI and the doc."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import h5py
import numpy as np
import pytest

from zoedam_lib import cli
from zoedam_lib.camera.intrinsics import NYU_CAMERA, scaled_intrinsics
from zoedam_lib.data.nyu.matfile import NyuMatWriter
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.synthrooms import generate as synthrooms
from zoedam_lib.data.synthrooms.domains import (
    DOMAINS,
    PRETRAIN_STYLES,
    STREAM_WIDTH,
    domain_table_markdown,
    get_domain,
)
from zoedam_lib.data.synthrooms.generate import (
    SYNTHROOMS_VERSION,
    UNLABELED_OFFSET,
    ensure_domain,
    generate_domain,
    generate_synthrooms,
    render_domain_item,
    render_item,
)
from zoedam_lib.data.synthrooms.layout import sample_scene
from zoedam_lib.data.synthrooms.scene import WALL_Y1, cast_rays
from zoedam_lib.data.synthrooms.style import PALETTE_FIELDS, STYLES
from zoedam_lib.utils.errors import ConfigError

H, W = 30, 40
DOC = Path(__file__).resolve().parents[1] / "docs" / "synthrooms.md"


def _digest(*arrays: np.ndarray) -> str:
    return hashlib.sha256(b"".join(a.tobytes() for a in arrays)).hexdigest()[:32]


# sha256 (first 32 hex digits) of image bytes + depth bytes, rendered at 30x40 by the code before
# domains existed (commit 7e61b2c, numpy 2.4.6, x86-64). A different CPU's libm (e.g. SIMD sin/exp)
# could change the last bit of a depth; a real regression changes whole images.
BEFORE_DOMAINS = {
    ("labeled", 0, 0): "b2478ef2f2913bbf839bada35d5b938c",
    ("labeled", 0, 1): "4fd9c024c0f4e9dbe39ca1a09e7b534c",
    ("labeled", 3, 17): "7dec451afab3d651f62b738d671de3ef",
    ("shifted", 0, UNLABELED_OFFSET + 0): "3e1a91ba58d16a76a5ebee2f486dfa9e",
    ("shifted", 0, UNLABELED_OFFSET + 5): "83ae4015a7862714758b217a08e23fc6",
    ("shifted", 2, 4): "566e3f228d2f2f7fd49883288215a34e",
}


@pytest.mark.parametrize("key", list(BEFORE_DOMAINS))
def test_labeled_and_shifted_unchanged(key: tuple[str, int, int]) -> None:
    """Pins behaviour that must not change: these hashes were recorded from the pre-domain code.

    The same items through the domain path (``render_domain_item``) must be the same bytes too.
    """
    style, seed, index = key
    image, depth = render_item(seed, index, H, W, style)
    assert _digest(image, depth) == BEFORE_DOMAINS[key]
    domain = DOMAINS[style]
    if index >= domain.stream:
        image2, depth2, intrinsics = render_domain_item(domain, seed, index - domain.stream, H, W)
        assert _digest(image2, depth2) == BEFORE_DOMAINS[key]
        assert intrinsics == scaled_intrinsics(H, W)


def test_generate_synthrooms_file_unchanged(tmp_path) -> None:
    """Pins the labeled file: datasets' hashes recorded from the pre-domain code, same attributes, no new datasets."""
    path = generate_synthrooms(tmp_path, n=4, size=(30, 40), seed=1, n_unlabeled=2, workers=1, progress=False)
    with h5py.File(path, "r") as f:
        assert sorted(f) == ["depths", "images"]
        assert hashlib.sha256(f["images"][:].tobytes()).hexdigest()[:32] == "54c5b2ae9ba19e5e69da57c260036b8d"
        assert hashlib.sha256(f["depths"][:].tobytes()).hexdigest()[:32] == "5a7d89ddf11263cae005a1ddefae059c"
        assert sorted(f.attrs) == ["generator", "intrinsics", "n_unlabeled", "seed", "version"]
        np.testing.assert_array_equal(f.attrs["intrinsics"], [32.42875, 32.466875, 20.34875, 15.85875])


def test_table_streams_never_overlap() -> None:
    streams = sorted(d.stream for d in DOMAINS.values())
    assert len(set(streams)) == len(DOMAINS) and streams[0] == 0 and DOMAINS["shifted"].stream == UNLABELED_OFFSET
    assert all(b - a >= STREAM_WIDTH for a, b in itertools.pairwise(streams))
    assert all(0 < d.n <= STREAM_WIDTH for d in DOMAINS.values())
    with pytest.raises(ConfigError, match="out of range|must be in"):
        render_domain_item(DOMAINS["pretrain"], 0, STREAM_WIDTH, H, W)
    with pytest.raises(ConfigError, match="zeroshot_wide"):
        get_domain("wide")


@pytest.mark.parametrize("name", list(DOMAINS))
def test_domain_items_are_deterministic_and_in_range(name: str) -> None:
    domain = DOMAINS[name]
    for i in range(12 if name == "pretrain" else 4):
        image, depth, intrinsics = render_domain_item(domain, 0, i, H, W)
        again = render_domain_item(domain, 0, i, H, W)
        np.testing.assert_array_equal(image, again[0])
        np.testing.assert_array_equal(depth, again[1])
        assert intrinsics == again[2]
        assert np.isfinite(depth).all() and depth.min() >= 0.5 and depth.max() <= 10.0, (i, depth.min(), depth.max())
        assert image.std() > 5


def test_domains_never_share_an_image() -> None:
    """Item i of every domain is a different room, even where two domains share a style and camera."""
    for i in (0, 3):
        depths = {name: render_domain_item(d, 0, i, H, W)[1] for name, d in DOMAINS.items()}
        for a, b in itertools.combinations(depths, 2):
            assert not np.array_equal(depths[a], depths[b]), (a, b, i)


def _palette(style: str) -> set[int]:
    return {c for field in PALETTE_FIELDS for c in getattr(STYLES[style], field)}


def _rgb(colors: set[int]) -> np.ndarray:
    return np.array([[(c >> 16) & 255, (c >> 8) & 255, c & 255] for c in sorted(colors)], np.float64)


def test_pretrain_excludes_the_zero_shot_styles_and_camera() -> None:
    """Every pretraining palette colour is >= 12/255 from every labeled/shifted one; no wide lens; mild light tints."""
    held_out = _palette("labeled") | _palette("shifted")
    assert set(DOMAINS["pretrain"].styles) == set(PRETRAIN_STYLES) and len(PRETRAIN_STYLES) >= 4
    for style in PRETRAIN_STYLES:
        assert not _palette(style) & held_out, style
        dist = np.linalg.norm(_rgb(_palette(style))[:, None] - _rgb(held_out)[None], axis=-1)
        assert dist.min() >= 12, (style, dist.min())
        lo, hi = STYLES[style].light_tint
        assert lo >= 0.95 and hi <= 1.05, style  # shifted's coloured light (0.8-1.2) stays unseen
    lo, hi = DOMAINS["pretrain"].focal_scale
    for name in ("zeroshot_wide", "zeroshot_shifted", "labeled"):
        assert DOMAINS[name].styles[0] not in PRETRAIN_STYLES
    assert not lo <= DOMAINS["zeroshot_wide"].focal_scale[0] <= hi and lo <= 0.8 and hi >= 1.3


def test_pretrain_varies_its_lens_and_is_less_colourful_than_shifted() -> None:
    pretrain = [render_domain_item(DOMAINS["pretrain"], 0, i, H, W) for i in range(16)]
    fx = np.array([intrinsics[0] for _, _, intrinsics in pretrain]) / scaled_intrinsics(H, W)[0]
    assert fx.min() >= 0.8 - 1e-9 and fx.max() <= 1.3 + 1e-9 and fx.max() - fx.min() > 0.2

    def chroma(images: list[np.ndarray]) -> float:
        return float(np.mean([(im.max(2).astype(np.float32) - im.min(2)).mean() for im in images]))

    shifted = [render_domain_item(DOMAINS["zeroshot_shifted"], 0, i, H, W)[0] for i in range(16)]
    assert chroma([image for image, _, _ in pretrain]) < 0.8 * chroma(shifted)


def test_wide_lens_sees_more_of_the_same_room() -> None:
    """Same scene, same pose: the wide image holds the NYU image shrunk 0.55x around the principal point.

    So the far wall covers 0.55^2 as many pixels (more where NYU's view cuts it off), and NYU
    pixel (u, v) sees what wide pixel (cx + 0.55 (u - cx), cy + 0.55 (v - cy)) sees.
    """
    h, w, k = 60, 80, DOMAINS["zeroshot_wide"].focal_scale[0]
    nyu, wide = scaled_intrinsics(h, w), scaled_intrinsics(h, w, k)
    assert wide[0] == pytest.approx(0.55 * nyu[0]) and wide[2:] == nyu[2:]
    assert NYU_CAMERA.scaled(480, 640, k).fx == pytest.approx(285.4, abs=0.1)
    assert NYU_CAMERA.scaled(480, 640, k).hfov_deg == pytest.approx(96.6, abs=0.5)
    v, u = np.mgrid[:h, :w]
    cols = np.rint(nyu[2] + k * (u - nyu[2])).astype(int)
    rows = np.rint(nyu[3] + k * (v - nyu[3])).astype(int)
    ratios = []
    for i in range(4):
        scene = sample_scene(np.random.default_rng([11, i]), STYLES["labeled"])
        near, far = cast_rays(scene, nyu, h, w), cast_rays(scene, wide, h, w)
        ratios.append((far.surface == WALL_Y1).mean() / (near.surface == WALL_Y1).mean())
        rel = np.abs(far.depth[rows, cols] / near.depth - 1)
        assert np.median(rel) < 0.02 and (rel < 0.05).mean() > 0.9, (i, np.median(rel))  # rounding to pixels
        assert not np.allclose(far.depth, near.depth, rtol=0.05)
    assert all(0.25 < r < 0.9 for r in ratios) and min(ratios) < 0.4, ratios


def test_zeroshot_wide_file_is_rendered_with_its_recorded_camera(tmp_path) -> None:
    path = generate_domain("zeroshot_wide", tmp_path, n=2, size=(60, 80), workers=1, progress=False)
    assert path == tmp_path / "zeroshot_wide.mat"
    with NyuMat(path) as mat:
        assert mat.attrs["domain"] == "zeroshot_wide" and mat.attrs["generator"] == "synthrooms"
        assert mat.attrs["version"] == SYNTHROOMS_VERSION and mat.attrs["seed"] == 0
        camera = tuple(float(v) for v in mat.attrs["intrinsics"])
        np.testing.assert_allclose(mat.intrinsics(0), camera, rtol=1e-6)  # per-image float32 rows agree
        _, depth = mat.read(0)
    np.testing.assert_allclose(camera, scaled_intrinsics(60, 80, 0.55))
    scene = sample_scene(np.random.default_rng([0, DOMAINS["zeroshot_wide"].stream]), STYLES["labeled"])
    np.testing.assert_array_equal(cast_rays(scene, camera, 60, 80).depth, depth)
    assert not np.allclose(cast_rays(scene, scaled_intrinsics(60, 80), 60, 80).depth, depth)


def test_per_image_intrinsics_round_trip(tmp_path) -> None:
    path = generate_domain("pretrain", tmp_path, n=5, size=(H, W), seed=3, workers=1, progress=False)
    with NyuMat(path) as mat:
        assert len(mat) == 5 and (mat.height, mat.width) == (H, W)
        assert mat.attrs["domain"] == "pretrain" and mat.attrs["seed"] == 3 and "intrinsics" not in mat.attrs
        rows = [mat.intrinsics(i) for i in range(5)]
        image, depth = mat.read(4)
    expected = [render_domain_item(DOMAINS["pretrain"], 3, i, H, W) for i in range(5)]
    for row, (_, _, intrinsics) in zip(rows, expected, strict=True):
        np.testing.assert_allclose(row, intrinsics, rtol=1e-6)
    assert len({row[0] for row in rows}) == 5
    np.testing.assert_array_equal(image, expected[4][0])
    np.testing.assert_array_equal(depth, expected[4][1])


def test_files_without_intrinsics_still_read(tmp_path) -> None:
    """Real NYU files carry no intrinsics: the accessor says None; labeled SynthRooms gives its attribute."""
    with NyuMatWriter(tmp_path / "nyu_like.mat", 1, 4, 6) as writer:
        writer.write(0, np.zeros((4, 6, 3), np.uint8), np.ones((4, 6), np.float32))
    with NyuMat(tmp_path / "nyu_like.mat") as mat:
        assert mat.intrinsics(0) is None and mat.read(0)[1].shape == (4, 6)
    labeled = generate_synthrooms(tmp_path / "s", n=1, size=(H, W), n_unlabeled=0, workers=1, progress=False)
    with NyuMat(labeled) as mat:
        assert mat.intrinsics(0) == pytest.approx(scaled_intrinsics(H, W))


def test_generate_domain_is_atomic(tmp_path, monkeypatch) -> None:
    """A failure mid-way leaves neither the file nor a temporary behind."""
    def failing(domain, seed, index, height, width):
        if index == 2:
            raise RuntimeError("renderer crashed")
        return render_domain_item(domain, seed, index, height, width)

    monkeypatch.setattr(synthrooms, "_domain_job", lambda args: failing(DOMAINS[args[0]], *args[1:]))
    with pytest.raises(RuntimeError, match="crashed"):
        generate_domain("zeroshot_shifted", tmp_path, n=4, size=(H, W), workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_ensure_domain_generates_once(tmp_path, capsys) -> None:
    kwargs = {"n": 2, "size": (H, W), "workers": 1, "progress": False}
    path = ensure_domain("zeroshot_shifted", tmp_path, **kwargs)
    assert path == tmp_path / "zeroshot_shifted.mat" and len(NyuMat(path)) == 2
    assert "generating" in capsys.readouterr().out
    stamp = path.stat().st_mtime_ns
    assert ensure_domain("zeroshot_shifted", tmp_path, **kwargs) == path
    assert path.stat().st_mtime_ns == stamp and capsys.readouterr().out == ""
    pool = ensure_domain("shifted", tmp_path, **kwargs)
    assert sorted(p.name for p in pool.iterdir()) == ["00000.jpg", "00001.jpg"]


def test_cli_synth_domain(tmp_path, capsys) -> None:
    argv = ["synth", "--domain", "zeroshot_wide", "--n", "3", "--size", "30x40", "--out", str(tmp_path),
            "--workers", "1"]
    assert cli.main(argv) == 0
    with NyuMat(tmp_path / "zeroshot_wide.mat") as mat:
        assert len(mat) == 3 and (mat.height, mat.width) == (30, 40)
        np.testing.assert_allclose(mat.intrinsics(2), scaled_intrinsics(30, 40, 0.55), rtol=1e-6)
    assert "zeroshot_wide.mat" in capsys.readouterr().out
    assert cli.main(["synth", "--n", "2", "--size", "16x24", "--out", str(tmp_path / "l"), "--workers", "1"]) == 0
    assert (tmp_path / "l" / "synthrooms.mat").is_file() and len(list((tmp_path / "l" / "unlabeled").iterdir())) == 1
    assert cli.main(["synth", "--domain", "pretrain", "--n-unlabeled", "3", "--out", str(tmp_path)]) == 2


def test_doc_table_matches_the_domains() -> None:
    """docs/synthrooms.md embeds ``domain_table_markdown()`` verbatim; regenerate the doc's table if this fails."""
    assert domain_table_markdown() in DOC.read_text(encoding="utf-8")


def test_domain_samples_from_the_file_equal_those_rendered_without_it(tmp_path):
    """Notebook 01 shows pretraining rooms without rendering the 6,000-room file: an item rendered directly
    must be the file's item of the same index, pixel for pixel, with the same camera in its title."""
    from zoedam_lib.reports.data_summary import domain_samples

    generate_domain("zeroshot_wide", tmp_path / "with", n=6, workers=1, progress=False)
    from_file = domain_samples(tmp_path / "with", ["zeroshot_wide"], per_domain=2, seed=3)
    rendered = {i: synthrooms.render_domain_item(DOMAINS["zeroshot_wide"], DOMAINS["zeroshot_wide"].seed, i,
                                                 *DOMAINS["zeroshot_wide"].size) for i in range(6)}
    for title, image, depth in from_file:
        i = int(title.split("#")[1].split(",")[0])
        assert np.array_equal(image, rendered[i][0]) and np.abs(depth - rendered[i][1]).max() < 1e-3, title
    without = domain_samples(tmp_path / "without", ["zeroshot_wide"], per_domain=2, seed=3)
    for title, image, depth in without:  # the default-size domain, drawn from its 200 items
        i = int(title.split("#")[1].split(",")[0])
        expected = synthrooms.render_domain_item(DOMAINS["zeroshot_wide"], DOMAINS["zeroshot_wide"].seed, i,
                                                 *DOMAINS["zeroshot_wide"].size)
        assert np.array_equal(image, expected[0]) and np.array_equal(depth, expected[1])
        assert title.endswith(", fx 285 px at 640")
