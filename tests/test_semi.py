"""ZoeDAM+ machinery: CutMix loss (eqs. (3)–(5)), clean teacher/labeled inputs, affine-invariant and
feature-alignment losses, unlabeled images, the pseudo-label cache, and a tiny end-to-end run.

Bad unlabeled files, invalid pseudo-labels and an interrupted cache build are in ``tests/robustness/``."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from helpers import TINY_SIZE, counting, tiny_zoedam, write_images

from zoedam_lib.checkpoints import save_model
from zoedam_lib.data.datasets import DepthDataset
from zoedam_lib.data.nyu.reader import NyuMat
from zoedam_lib.data.synthrooms.generate import generate_synthrooms
from zoedam_lib.data.unlabeled import UnlabeledImages
from zoedam_lib.experiments.presets import recipe_for
from zoedam_lib.losses.affine_invariant import affine_invariant_loss
from zoedam_lib.losses.feature_alignment import feature_alignment_loss
from zoedam_lib.semi.cutmix import apply_cutmix, cutmix_box, cutmix_loss
from zoedam_lib.semi.perturb import StrongPerturbConfig, strong_perturb
from zoedam_lib.semi.pseudo_labels import CACHE_VERSION, PseudoLabelCache, teacher_predict
from zoedam_lib.semi.student import SemiSupervisedDataset, ZoeDAMPlusLossConfig, make_student_step
from zoedam_lib.utils.errors import CheckpointError, ConfigError

H, W = TINY_SIZE


def depth_maps(b: int, seed: int, size: tuple[int, int] = (H, W)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.5 + 5 * torch.rand(b, 1, *size, generator=g)


# --------------------------------------------------------------------------- losses


def test_affine_invariant_loss_ignores_scale_and_shift_of_disparity():
    target = depth_maps(3, 0)
    for scale, shift in ((1.0, 0.0), (3.0, 0.0), (0.2, 0.5), (7.0, 2.0)):
        pred = 1.0 / (scale / target + shift)  # disparity scale·d + shift, back to depth
        assert affine_invariant_loss(pred, target) < 1e-5
    assert affine_invariant_loss(depth_maps(3, 1), target) > 0.1  # another structure
    assert affine_invariant_loss(target.flip(-1), target) > 0.1


def test_affine_invariant_loss_matches_median_and_mean_deviation_by_hand():
    pred, target = depth_maps(1, 2, (4, 5)), depth_maps(1, 3, (4, 5))

    def norm(d):
        d = 1 / d.flatten()
        t = d.sort().values[(d.numel() - 1) // 2]
        return (d - t) / (d - t).abs().mean()
    expected = (norm(pred) - norm(target)).abs().mean()
    assert torch.allclose(affine_invariant_loss(pred, target), expected, atol=1e-6)


def test_feature_alignment_excludes_patches_above_the_margin():
    g = torch.Generator().manual_seed(0)
    frozen = torch.randn(1, 8, 2, 3, generator=g)
    student = torch.randn(1, 8, 2, 3, generator=g)
    student[..., 0, :] = frozen[..., 0, :] + 0.01 * student[..., 0, :]  # row 0 already aligned (cos ≈ 1)
    student.requires_grad_()
    loss = feature_alignment_loss(student, frozen, margin=0.85)
    cos = torch.nn.functional.cosine_similarity(student, frozen, dim=1)
    assert (cos[0, 0] > 0.85).all() and (cos[0, 1] < 0.85).all()
    assert torch.allclose(loss, (1 - cos[0, 1]).mean())
    loss.backward()
    assert student.grad[..., 0, :].abs().sum() == 0 and student.grad[..., 1, :].abs().sum() > 0
    assert feature_alignment_loss(frozen.clone(), frozen) == 0  # every patch above the margin


# --------------------------------------------------------------------------- CutMix


def test_cutmix_box_is_one_rectangle_of_unimatch_size_with_probability_p():
    masks = cutmix_box(200, 60, 80, p=0.5, generator=torch.Generator().manual_seed(0))
    has_box = masks.flatten(1).any(1)
    assert 70 < int(has_box.sum()) < 130
    for m in masks[has_box][:, 0]:
        rows, cols = m.any(1).nonzero(), m.any(0).nonzero()
        assert m[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # filled bounding box
        assert 0.01 <= float(m.float().mean()) <= 0.41
    again = cutmix_box(200, 60, 80, p=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(masks, again)
    assert not cutmix_box(5, 60, 80, p=0.0).any() and cutmix_box(5, 60, 80, p=1.0).flatten(1).any(1).all()


def test_apply_cutmix_pastes_u_a_inside_the_box_onto_u_b():
    u_a, u_b = torch.zeros(2, 3, 6, 7), torch.ones(2, 3, 6, 7)
    mask = torch.zeros(2, 1, 6, 7, dtype=torch.bool)
    mask[0, :, 1:3, 2:5] = True
    mixed = apply_cutmix(u_a, u_b, mask)
    assert torch.equal(mixed[0][:, 1:3, 2:5], u_a[0][:, 1:3, 2:5])
    assert mixed[0].sum() == 3 * (42 - 6) and torch.equal(mixed[1], u_b[1])


@pytest.mark.parametrize("loss", ["affine", "l1"])
def test_cutmix_loss_is_the_area_weighted_sum_of_the_two_region_losses(loss):
    pred, target_a, target_b = depth_maps(4, 10), depth_maps(4, 11), depth_maps(4, 12)
    mask = cutmix_box(4, H, W, p=1.0, generator=torch.Generator().manual_seed(3))
    mask[3] = False  # no CutMix for the last image
    valid = torch.rand(4, 1, H, W, generator=torch.Generator().manual_seed(4)) > 0.1

    def l1(p, t, m):
        return torch.stack([(pi[mi] - ti[mi]).abs().mean() if mi.any() else pi.sum() * 0
                            for pi, ti, mi in zip(p, t, m, strict=True)])

    def affine(p, t, m):
        return affine_invariant_loss(p, t, m, reduction="none")
    fn = affine if loss == "affine" else l1

    expected = []
    for i in range(4):  # by hand: each region's pixels extracted and scored on their own
        m, v = mask[i, 0], valid[i, 0]
        area = float(m.float().mean())

        def region(sel, target, i=i):
            p, t = pred[i, 0][sel], target[i, 0][sel]
            if loss == "l1":
                return (p - t).abs().mean() if sel.any() else torch.tensor(0.0)
            return affine_invariant_loss(p.view(1, 1, 1, -1), t.view(1, 1, 1, -1))
        expected.append(area * region(m & v, target_a) + (1 - area) * region(~m & v, target_b))
    got = cutmix_loss(pred, target_a, target_b, mask, valid, fn)
    assert torch.allclose(got, torch.stack(expected).mean(), atol=1e-6)
    # an image without CutMix is scored against T(u_b) alone
    alone = cutmix_loss(pred[3:], target_a[3:], target_b[3:], mask[3:], valid[3:], fn)
    assert torch.allclose(alone, fn(pred[3:], target_b[3:], valid[3:]).mean(), atol=1e-6)


def test_strong_perturb_is_deterministic_per_generator_and_stays_in_range():
    x = torch.rand(4, 3, H, W, generator=torch.Generator().manual_seed(0))
    cfg = StrongPerturbConfig(jitter_p=1.0, blur_p=1.0)
    a = strong_perturb(x, cfg, torch.Generator().manual_seed(5))
    assert torch.equal(a, strong_perturb(x, cfg, torch.Generator().manual_seed(5)))
    assert not torch.equal(a, strong_perturb(x, cfg, torch.Generator().manual_seed(6)))
    assert a.min() >= 0 and a.max() <= 1 and (a - x).abs().flatten(1).mean(1).min() > 1e-3


# --------------------------------------------------------------------------- the student step


def spy(model, calls, method="forward"):
    """Record the input of each call of ``model.<method>`` (a teacher's ``preprocess``: its inference
    path does not go through ``forward``)."""
    original = getattr(model, method)
    if isinstance(original, torch.nn.Module):  # preprocess is a submodule: hook it
        original.register_forward_pre_hook(lambda module, args: calls.append(args[0].detach().clone()))
        return model

    def recording(x, *args, **kwargs):
        calls.append(x.detach().clone())
        return original(x, *args, **kwargs)
    setattr(model, method, recording)
    return model


def semi_batch(ratio: int = 2, b: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {"image": torch.rand(b, 3, H, W, generator=g), "depth": depth_maps(b, 1),
            "u_image": torch.rand(b, ratio, 3, H, W, generator=g), "index": torch.arange(b)}


def test_perturbations_never_touch_the_teacher_input_or_the_labeled_batch():
    batch = semi_batch()
    original = {k: v.clone() for k, v in batch.items()}
    teacher_calls, student_calls = [], []
    teacher = spy(tiny_zoedam(1), teacher_calls, "preprocess")
    student = spy(tiny_zoedam(2).train(), student_calls)
    cfg = ZoeDAMPlusLossConfig(cutmix_p=1.0, perturb=StrongPerturbConfig(jitter_p=1.0, blur_p=1.0))
    loss, logs = make_student_step(cfg, teacher=teacher)(student, batch)
    clean_u = original["u_image"].flatten(0, 1)
    assert len(teacher_calls) == 1 and torch.equal(teacher_calls[0], clean_u)  # T sees clean images
    seen = torch.cat(student_calls)
    assert torch.equal(seen[:2], original["image"])  # labeled images reach the student untouched
    assert (seen[2:] - clean_u).abs().flatten(1).mean(1).min() > 1e-3  # unlabeled ones are perturbed
    assert all(torch.equal(batch[k], original[k]) for k in batch)  # nothing modified in place
    assert torch.isfinite(loss) and {"loss_labeled", "loss_unlabeled"} <= set(logs)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in student.parameters() if p.grad is not None)


def _unlabeled_loss(cfg, batch, student, frozen=None) -> dict[str, float]:
    """The step's logs with perturbations and CutMix boxes drawn from a fixed seed."""
    step = make_student_step(cfg, frozen_model=frozen, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return step(student, batch)[1]


def test_student_step_uses_the_cached_pseudo_labels_as_the_options_say():
    batch = semi_batch()
    batch["u_pseudo"] = teacher_predict(tiny_zoedam(1), batch["u_image"].flatten(0, 1)).unflatten(0, (2, 2))
    scaled = {**batch, "u_pseudo": batch["u_pseudo"] * 2.0}
    student = tiny_zoedam(2).train()
    # ρ compares scale-and-shift-normalised disparity: a pseudo-label twice as far costs the same ...
    rho = ZoeDAMPlusLossConfig()
    assert _unlabeled_loss(rho, scaled, student)["loss_unlabeled"] == pytest.approx(
        _unlabeled_loss(rho, batch, student)["loss_unlabeled"], rel=1e-4)
    # ... while metric pseudo-labels (SILog, β > 0) are held to their scale,
    metric = ZoeDAMPlusLossConfig(metric_pseudo=True)
    assert _unlabeled_loss(metric, scaled, student)["loss_unlabeled"] > \
        _unlabeled_loss(metric, batch, student)["loss_unlabeled"] + 0.1
    # and the labeled term never sees the pseudo-labels.
    assert _unlabeled_loss(metric, scaled, student)["loss_labeled"] == _unlabeled_loss(rho, batch, student)[
        "loss_labeled"]


def test_on_the_fly_pseudo_labels_with_teacher_tta_are_the_flip_tta_cache_s():
    """``pseudo_tta`` in on-the-fly mode: the step's teacher predicts with flip TTA, as a ``tta`` cache holds."""
    batch, teacher, student = semi_batch(), tiny_zoedam(1), tiny_zoedam(2).train()
    cached = {**batch, "u_pseudo": teacher_predict(teacher, batch["u_image"].flatten(0, 1), tta=True).unflatten(
        0, (2, 2))}

    def logs(b, tta):
        step = make_student_step(ZoeDAMPlusLossConfig(), teacher=teacher, generator=torch.Generator().manual_seed(0),
                                 teacher_tta=tta)
        with torch.no_grad():
            return step(student, b)[1]["loss_unlabeled"]
    assert logs(batch, True) == pytest.approx(logs(cached, False), rel=1e-5)
    assert logs(batch, False) != pytest.approx(logs(batch, True), rel=1e-5)


def test_feature_alignment_pulls_only_towards_a_different_encoder():
    batch = semi_batch()
    batch["u_pseudo"] = teacher_predict(tiny_zoedam(1), batch["u_image"].flatten(0, 1)).unflatten(0, (2, 2))
    student = tiny_zoedam(2).train()
    cfg = ZoeDAMPlusLossConfig(feature_alignment=True)
    same = copy.deepcopy(student).eval().requires_grad_(False)
    assert _unlabeled_loss(cfg, batch, student, same)["loss_feature"] == 0.0  # every patch above the margin
    other = tiny_zoedam(3).eval().requires_grad_(False)
    assert _unlabeled_loss(cfg, batch, student, other)["loss_feature"] > 0.05
    loss, _ = make_student_step(cfg, frozen_model=other)(student, batch)
    loss.backward()
    assert student.encoder.vit.pos_embed.grad is not None


# --------------------------------------------------------------------------- unlabeled images


def test_unlabeled_subset_is_seeded_and_reproducible(tmp_path):
    write_images(tmp_path / "imgs")
    pick = [e.source for e in UnlabeledImages(tmp_path / "imgs", n=3, seed=0).entries]
    assert pick == [e.source for e in UnlabeledImages(tmp_path / "imgs", n=3, seed=0).entries]
    assert len(pick) == 3 and pick == sorted(pick)
    assert any(pick != [e.source for e in UnlabeledImages(tmp_path / "imgs", n=3, seed=s).entries]
               for s in range(1, 6))
    with pytest.warns(UserWarning, match="using all"):
        assert len(UnlabeledImages(tmp_path / "imgs", n=100)) == 8


def test_lsun_lmdb_records_are_read_when_lmdb_is_installed(tmp_path):
    import lmdb  # a dev dependency: LSUN ships as LMDB databases
    write_images(tmp_path / "imgs")
    (tmp_path / "lsun").mkdir()
    env = lmdb.open(str(tmp_path / "lsun" / "bedroom_train_lmdb"), map_size=1 << 24)
    with env.begin(write=True) as txn:
        txn.put(b"k1", (tmp_path / "imgs" / "a_rgb.jpg").read_bytes())
        txn.put(b"k0", (tmp_path / "imgs" / "e_exif.jpg").read_bytes())
        txn.put(b"k2", b"broken record")
    env.close()
    data = UnlabeledImages([tmp_path / "lsun"], size=None)
    assert [e.key for e in data.entries] == [b"k0", b"k1", b"k2"]
    assert data[0]["image"].shape == (3, 40, 30) and data[1]["image"].shape == (3, 30, 40)
    assert torch.equal(data[2]["image"], data[0]["image"]) and len(data.skipped) == 1


# --------------------------------------------------------------------------- pseudo-label cache


def test_pseudo_label_cache_reuses_and_recomputes(tmp_path):
    write_images(tmp_path / "imgs")
    images = UnlabeledImages(tmp_path / "imgs", n=5, seed=1, size=TINY_SIZE)
    calls = {"images": 0}
    cache = PseudoLabelCache(tmp_path / "cache", counting(tiny_zoedam(1), calls), images, batch_size=2,
                             progress=False)
    assert cache.build() == 5 and calls["images"] == 5
    label = cache.get(0)
    assert label.shape == (1, *TINY_SIZE) and label.dtype == torch.float32
    expected = teacher_predict(tiny_zoedam(1), images[0]["image"][None])[0]
    assert torch.allclose(label, expected, rtol=2e-3)  # float16 storage
    manifest = json.loads((cache.dir / "manifest.json").read_text())
    assert manifest["version"] == CACHE_VERSION and manifest["teacher_fingerprint"] == cache.teacher_fingerprint
    assert manifest["tta"] is False and "images" not in manifest  # several pools share the folder

    calls = {"images": 0}
    again = PseudoLabelCache(tmp_path / "cache", counting(tiny_zoedam(1), calls), images, progress=False)
    assert again.dir == cache.dir and again.build() == 0 and calls["images"] == 0

    other = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(2), images, progress=False)  # another teacher
    assert other.dir != cache.dir and other.teacher_fingerprint != cache.teacher_fingerprint
    assert other.fingerprint != cache.fingerprint and other.build() == 5
    assert not torch.equal(other.get(0), cache.get(0))
    fewer = UnlabeledImages(tmp_path / "imgs", n=4, seed=1, size=TINY_SIZE)  # another pool: the same folder
    smaller = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(1), fewer, progress=False)
    assert smaller.dir == cache.dir and smaller.fingerprint != cache.fingerprint  # the run identity names the pool
    new = {e.source for e in fewer.entries} - {e.source for e in images.entries}
    assert smaller.build() == len(new) > 0


def small_jpegs(folder, n: int, distinct: bool = True) -> None:
    """``n`` tiny JPEG files (distinct noise images, or one image's bytes ``n`` times)."""
    import io

    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    data = b""
    for i in range(n):
        if distinct or not data:
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).save(buf, format="JPEG")
            data = buf.getvalue()
        (folder / f"{i:04d}.jpg").write_bytes(data)


def test_pseudo_label_cache_pools_of_one_folder_share_their_images_entries(tmp_path, capsys):
    """Issue 26: entries are per image, so a larger pool holding a smaller one computes only its new images."""
    from zoedam_lib.experiments.teacher import build_pseudo_labels

    small_jpegs(tmp_path / "pool", 16)
    calls = {"images": 0}
    eight = UnlabeledImages(tmp_path / "pool", n=8, seed=0, size=TINY_SIZE)
    first = PseudoLabelCache(tmp_path / "cache", counting(tiny_zoedam(1), calls), eight, batch_size=3,
                             progress=False)
    assert first.build() == 8 and calls["images"] == 8
    everything = UnlabeledImages(tmp_path / "pool", n=16, seed=0, size=TINY_SIZE)  # all 16: holds the 8
    calls["images"] = 0
    second = PseudoLabelCache(tmp_path / "cache", counting(tiny_zoedam(1), calls), everything, progress=False)
    assert second.dir == first.dir
    build_pseudo_labels(second)
    assert calls["images"] == 8 and second.damaged == []
    assert f"teacher pseudo-labels: 8 computed, 8 reused ({second.dir})" in capsys.readouterr().out
    sources = [e.source for e in everything.entries]
    for i, entry in enumerate(eight.entries):  # the first pool's 8 are reused, not recomputed
        assert torch.equal(second.get(sources.index(entry.source)), first.get(i))
    calls["images"] = 0
    twelve = UnlabeledImages(tmp_path / "pool", n=12, seed=1, size=TINY_SIZE)  # another size and seed
    assert PseudoLabelCache(tmp_path / "cache", counting(tiny_zoedam(1), calls), twelve,
                            progress=False).build() == 0 and calls["images"] == 0
    entries = sorted(p.name for p in first.dir.glob("*.npy"))
    assert entries == sorted(second.path(i).name for i in range(16)) and len(entries) == 16
    listed = sorted(line.split("  ")[1] for line in (first.dir / "entries.sha256").read_text().splitlines())
    assert listed == entries  # compacted: one line per entry of every pool


def test_pseudo_label_cache_entry_follows_the_substitute_of_an_unreadable_image_in_its_pool(tmp_path):
    """An unreadable image is replaced by the next readable one of ITS pool: two pools holding it may replace
    it by different images, so its entry is named after both (never the other pool's substitute's label)."""
    write_images(tmp_path / "imgs")  # a b c d e, f and g unreadable, then sub/h
    whole = UnlabeledImages(tmp_path / "imgs", size=TINY_SIZE)
    names = [e.source.rsplit("/", 1)[-1] for e in whole.entries]
    assert names[5:] == ["f_random.jpg", "g_truncated.jpg", "h_nested.bmp"]
    cache = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(1), whole, progress=False)
    assert cache.build() == 8
    assert torch.equal(cache.get(5), cache.get(7)) and torch.equal(cache.get(6), cache.get(7))  # f, g → h
    part = UnlabeledImages(tmp_path / "imgs", size=TINY_SIZE)
    part.entries = part.entries[:6]  # a pool of a … f: f's next readable image wraps round to a
    wraps = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(1), part, progress=False)
    assert wraps.build() == 1  # f's label in this pool; a … e reused
    assert torch.equal(wraps.get(5), cache.get(0)) and torch.equal(wraps.get(0), cache.get(0))
    expected = teacher_predict(tiny_zoedam(1), part[5]["image"][None])[0]
    assert torch.allclose(wraps.get(5), expected, rtol=2e-3)
    assert len(json.loads((cache.dir / "manifest.json").read_text())["unreadable"]) == 2
    fresh = PseudoLabelCache(tmp_path / "cache", tiny_zoedam(1), whole, progress=False)
    assert torch.equal(fresh.get(5), cache.get(7))  # without a build, the manifest says which are unreadable


def test_flip_tta_pseudo_labels_average_the_mirrored_prediction_in_their_own_folder(tmp_path):
    small_jpegs(tmp_path / "pool", 4)
    images = UnlabeledImages(tmp_path / "pool", size=TINY_SIZE)
    teacher = tiny_zoedam(1)
    plain = PseudoLabelCache(tmp_path / "cache", teacher, images, progress=False)
    tta = PseudoLabelCache(tmp_path / "cache", teacher, images, progress=False, tta=True)
    assert tta.dir != plain.dir and tta.fingerprint != plain.fingerprint
    assert plain.build() == 4 and tta.build() == 4
    assert json.loads((tta.dir / "manifest.json").read_text())["tta"] is True
    x = torch.stack([images[i]["image"] for i in range(4)])
    direct = teacher_predict(teacher, x)
    mirrored = torch.flip(teacher_predict(teacher, torch.flip(x, dims=[3])), dims=[3])
    half_step = 2.5e-4  # float16 rounding of depths in [0.5, 1) m, the tiny teacher's (about 0.68 m)
    assert float(direct.abs().max()) < 1 and float((direct - mirrored).abs().max()) > 8 * half_step  # not symmetric
    for i in range(4):
        assert torch.allclose(plain.get(i), direct[i], rtol=0, atol=half_step)
        assert torch.allclose(tta.get(i), 0.5 * (direct[i] + mirrored[i]), rtol=0, atol=half_step)
        assert float((tta.get(i) - plain.get(i)).abs().max()) > 4 * half_step
    assert torch.allclose(teacher_predict(teacher, x, tta=True), 0.5 * (direct + mirrored), atol=1e-6)


# pinned draws of UnlabeledImages(n, seed) from 600 files: sha256 of the sorted indices (json), first 16 digits
DRAWS = {(0, 30): "eab15d1e8debc0e6", (0, 120): "e7932f5757c9e1c4", (0, 480): "52f820835f9adaff",
         (1, 30): "186164c50e2064a9", (1, 120): "275c4d05cc2220d3", (1, 480): "10dc94dca8736a81"}


def test_unlabeled_pools_are_drawn_as_committed_results_were_and_are_not_nested(tmp_path):
    """The draw behind committed ZoeDAM+ results must not change (a numpy change would fail here). It is NOT
    nested (numpy's Floyd sampling for N <= 10,000, see UnlabeledImages): pools share their common images'
    pseudo-labels through the per-image cache, not through nesting."""
    import hashlib

    small_jpegs(tmp_path / "pool", 600, distinct=False)
    names = sorted(p.name for p in (tmp_path / "pool").iterdir())
    for seed in (0, 1):
        pools = {}
        for n in (30, 120, 480):
            drawn = UnlabeledImages(tmp_path / "pool", n=n, seed=seed)
            pools[n] = {names.index(e.source.rsplit("/", 1)[-1]) for e in drawn.entries}
            digest = hashlib.sha256(json.dumps(sorted(pools[n])).encode()).hexdigest()[:16]
            assert digest == DRAWS[seed, n], (seed, n)
        assert not pools[30] <= pools[120] and not pools[120] <= pools[480]


# --------------------------------------------------------------------------- dataset and end to end


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    return generate_synthrooms(root, n=24, size=(60, 80), n_unlabeled=12, workers=1, progress=False)


def test_semi_supervised_dataset_deals_unlabeled_images_deterministically(synth):
    labeled = DepthDataset(NyuMat(synth), range(6))
    images = UnlabeledImages(synth.parent / "unlabeled", size=TINY_SIZE)
    data = SemiSupervisedDataset(labeled, images, None, ratio=2, seed=0)
    item = data[(1, 0)]
    assert item["u_image"].shape == (2, 3, *TINY_SIZE) and torch.equal(item["image"], labeled[(1, 0)]["image"])
    assert data.unlabeled_indices(1, 0) == SemiSupervisedDataset(labeled, images, None, 2, 0).unlabeled_indices(1, 0)
    epoch0 = [j for i in range(6) for j in data.unlabeled_indices(i, 0)]
    assert sorted(epoch0) == list(range(12))  # 6 × 2 slots cover the 12 images once
    assert epoch0 != [j for i in range(6) for j in data.unlabeled_indices(i, 1)]


def test_run_zoedam_plus_end_to_end(synth, tmp_path):
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.experiments.zoedam_plus import run_zoedam_plus

    ctx = setup_run(data_path=synth, out_dir=tmp_path / "run", device="cpu", preset="cpu", verbose=False)
    with pytest.raises(CheckpointError, match="run notebook 04"):
        run_zoedam_plus(ctx)
    save_model(tiny_zoedam(1), ctx.out_dir / "checkpoints" / "zoedam_vits")
    recipe = recipe_for("zoedam_plus", "cpu", epochs=1, batch_size=2, img_size=TINY_SIZE, n_val=4, n_unlabeled=8,
                        max_steps_per_epoch=2)
    result = run_zoedam_plus(ctx, recipe=recipe, student_init="teacher")
    record = json.loads((ctx.out_dir / "results" / "zoedam_plus.json").read_text())
    assert set(record["metrics"]) >= {"abs_rel", "rmse"} and set(record["teacher_metrics"]) >= {"abs_rel", "rmse"}
    assert record["unlabeled"]["n_images"] == 8 and record["pseudo_labels"] == "cache"
    assert result.teacher_evaluation.metrics == record["teacher_metrics"]
    ex = result.example_inputs(3)
    assert ex["mixed"].shape == (3, 3, *TINY_SIZE) and ex["mask"].flatten(1).any(1).all()
    assert torch.equal(ex["mixed"][ex["mask"].expand(-1, 3, -1, -1)],
                       ex["perturbed"][ex["partner"]][ex["mask"].expand(-1, 3, -1, -1)])
    # a camera-aware teacher gives a camera-aware student, trained with zoom on canonical labels
    save_model(tiny_zoedam(1, camera="canonical", max_depth=20.0, camera_head=True),
               ctx.out_dir / "checkpoints" / "zoedam_vits")
    aware = run_zoedam_plus(ctx, recipe=recipe, student_init="teacher", key="zoedam_plus_aware")
    assert aware.student.model.config.camera == "canonical"
    assert json.loads((ctx.out_dir / "results" / "zoedam_plus_aware.json").read_text())["camera"]


def test_student_and_control_side_by_side_share_the_prepared_teacher(synth, tmp_path, capsys, one_thread):
    """Notebook 05's cell: prepare_teacher computes pseudo-labels and the teacher's evaluation once; the
    student and control, run side by side in other processes, reuse both and give what plain calls give."""
    from functools import partial

    from zoedam_lib.experiments.concurrent import run_concurrently
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.experiments.zoedam_plus import prepare_teacher, run_zoedam_plus

    ctx = setup_run(data_path=synth, out_dir=tmp_path / "run", device="cpu", preset="cpu", verbose=False)
    save_model(tiny_zoedam(1), ctx.out_dir / "checkpoints" / "zoedam_vits")
    recipe = recipe_for("zoedam_plus", "cpu", epochs=1, batch_size=2, img_size=TINY_SIZE, n_val=4, n_unlabeled=8,
                        max_steps_per_epoch=2)
    prepare_teacher(ctx, recipe=recipe)
    assert "8 computed, 0 reused" in capsys.readouterr().out
    calls = {name: partial(run_zoedam_plus, ctx, recipe=recipe, student_init="teacher", key=key,
                           loss_config=ZoeDAMPlusLossConfig(unlabeled_weight=weight))
             for name, key, weight in (("student", "zoedam_plus", 1.0), ("control", "zoedam_plus_control", 0.0))}
    runs = run_concurrently(calls, "cpu", threads=2)
    out = capsys.readouterr().out
    assert out.count("0 computed, 8 reused") == 2  # neither process labelled the images again
    assert len(list((ctx.out_dir / "evaluations").glob("*.json"))) == 3  # the teacher once, student, control
    assert runs["student"].teacher_evaluation.metrics == runs["control"].teacher_evaluation.metrics
    # the control ran on one thread in its own process; the same call on one thread here is the same run
    again = run_zoedam_plus(ctx, recipe=recipe, student_init="teacher", key="control_again",
                            loss_config=ZoeDAMPlusLossConfig(unlabeled_weight=0.0))
    assert again.student.evaluation.metrics == runs["control"].student.evaluation.metrics
    assert again.student.state.steps == runs["control"].student.state.steps  # the same losses, step by step


def test_prepared_teacher_evaluation_of_a_camera_aware_teacher_is_the_one_its_students_read(tmp_path, capsys):
    """A camera-aware teacher's students score it on the other lenses too: prepare_teacher must compute that
    evaluation (and no other), or every student process evaluates the teacher again."""
    from zoedam_lib.data.synthrooms.generate import generate_domain
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.experiments.evaluation_cache import evaluation_key
    from zoedam_lib.experiments.zoedam_plus import prepare_teacher

    data = generate_synthrooms(tmp_path / "data", n=24, size=(60, 80), n_unlabeled=4, workers=1, progress=False)
    for name in ("zeroshot_tele", "zeroshot_mixed"):  # the camera sets beside the data
        generate_domain(name, tmp_path / "data", n=3, size=(60, 80), workers=1, progress=False)
    ctx = setup_run(data_path=data, out_dir=tmp_path / "run", device="cpu", preset="cpu", verbose=False)
    teacher = tiny_zoedam(1, camera="canonical", max_depth=20.0)
    save_model(teacher, ctx.out_dir / "checkpoints" / "zoedam_vits")
    recipe = recipe_for("zoedam_plus", "cpu", epochs=1, batch_size=2, img_size=TINY_SIZE, n_val=4, n_unlabeled=4)
    prepare_teacher(ctx, recipe=recipe)
    scored = ctx.with_camera_sets()
    assert set(scored.zero_shot) > set(ctx.zero_shot)  # the test means something only if the sets differ
    found = sorted(p.stem for p in (ctx.out_dir / "evaluations").glob("*.json"))
    assert found == [evaluation_key(scored, teacher, recipe.flip_tta)[:32]]  # the file is named by the key's head


def test_student_starts_as_the_teacher_did_or_as_its_copy(tmp_path, capsys):
    from zoedam_lib.experiments.zoedam_plus import build_student

    teacher = tiny_zoedam(1)
    copy_, _ = build_student(teacher, "teacher.ckpt", None, "teacher", (28, 42))
    assert copy_.config.img_size == (28, 42)
    assert all(torch.equal(v, teacher.state_dict()[k]) for k, v in copy_.state_dict().items())
    with pytest.raises(ConfigError, match="student_init=.teacher."):
        build_student(teacher, "teacher.ckpt", None, "pretrained", TINY_SIZE)
    fresh, init = build_student(teacher, "teacher.ckpt", {"pretrained": None, "decoder": "pretrained"}, "pretrained",
                                TINY_SIZE)  # the teacher began random
    assert "RANDOM" in init.summary and "!!!" in capsys.readouterr().out
    assert not torch.equal(fresh.encoder.vit.pos_embed, teacher.encoder.vit.pos_embed)


def test_the_teacher_checkpoint_says_how_it_was_initialised(synth, tmp_path):
    from zoedam_lib.experiments.context import setup_run
    from zoedam_lib.experiments.teacher import load_teacher

    ctx = setup_run(data_path=synth, out_dir=tmp_path / "run", device="cpu", preset="cpu", verbose=False)
    init = {"pretrained": "some/weights.pth", "decoder": "random"}
    save_model(tiny_zoedam(1), ctx.out_dir / "checkpoints" / "zoedam_vits", extra={"init": init})
    assert load_teacher(ctx, None)[2] == init


def test_a_model_is_evaluated_once_per_weights_sets_and_evaluation_code(tmp_path, monkeypatch):
    """Notebook 04's evaluation of ZoeDAM-S is notebook 05's teacher row: reused in this process and, from
    ``<out_dir>/evaluations``, in another — but never for other weights, sets or evaluation code."""
    from types import SimpleNamespace

    import torch

    from zoedam_lib.evaluation.evaluate import EvalResult
    from zoedam_lib.experiments import evaluation_cache as evaluations
    from zoedam_lib.experiments.evaluation_cache import evaluate_once

    calls = []

    def evaluate(model, flip_tta):
        calls.append(flip_tta)
        return EvalResult({"abs_rel": float(len(calls))}), {}

    def number(ctx, model, flip_tta):
        test, zero_shot = evaluate_once(ctx, model, flip_tta)
        assert zero_shot == {}
        return test.metrics["abs_rel"]

    ctx = SimpleNamespace(data_path="d.mat", split=SimpleNamespace(test=(1, 2)), zero_shot={}, out_dir=tmp_path,
                          device="cpu", evaluate=evaluate)
    teacher = torch.nn.Linear(2, 2)
    assert number(ctx, teacher, True) == number(ctx, teacher, True) == 1
    number(ctx, teacher, False)
    with torch.no_grad():
        teacher.weight.add_(1.0)
    assert number(ctx, teacher, True) == 3
    ctx.split = SimpleNamespace(test=(1, 3))
    assert number(ctx, teacher, True) == 4 and calls == [True, False, True, True]
    monkeypatch.setattr(evaluations, "_MEMO", {})  # another process: nothing in memory
    assert number(ctx, teacher, True) == 4 and len(calls) == 4  # read back from disk
    assert len(list((tmp_path / "evaluations").glob("*.json"))) == 4
    monkeypatch.setattr(evaluations, "_CODE", "metrics changed")
    assert number(ctx, teacher, True) == 5  # a changed evaluation code is never answered from disk


@pytest.mark.parametrize("control", [False, True])
def test_camera_aware_student_learns_canonical_depth_from_each_labeled_camera(control):
    """A camera-aware student's labeled term sees each labeled image's camera: the same batch claimed
    to come through a lens twice as long must cost differently (it would not if the camera were dropped),
    and the unlabeled term (affine-invariant) does not change with the labeled cameras."""
    from helpers import TINY_SIZE

    from zoedam_lib.camera.canonical import canonical_focal

    batch = semi_batch()
    batch["u_pseudo"] = teacher_predict(tiny_zoedam(1), batch["u_image"].flatten(0, 1)).unflatten(0, (2, 2))
    f = canonical_focal(TINY_SIZE) * W / TINY_SIZE[1]  # NYU's lens at the batch's H x W: canonical = metric
    normal = {**batch, "camera": torch.full((2, 2), f)}
    longer = {**batch, "camera": torch.full((2, 2), 2 * f)}
    student = tiny_zoedam(2, camera="canonical", max_depth=20.0).train()
    cfg = ZoeDAMPlusLossConfig(unlabeled_weight=0.0 if control else 1.0)
    a, b = _unlabeled_loss(cfg, normal, student), _unlabeled_loss(cfg, longer, student)
    assert abs(a["loss_labeled"] - b["loss_labeled"]) > 1e-3
    if not control:
        assert a["loss_unlabeled"] == pytest.approx(b["loss_unlabeled"], rel=1e-5)


def test_student_of_a_camera_aware_teacher_is_camera_aware():
    from zoedam_lib.experiments.zoedam_plus import build_student

    teacher = tiny_zoedam(1, camera="canonical", max_depth=20.0, camera_head=True)
    student, _ = build_student(teacher, "t", {"pretrained": None, "decoder": "pretrained"}, "pretrained", (28, 42))
    assert student.config.camera == "canonical" and student.config.max_depth == 20.0
    assert student.camera_head is None  # estimated focal lengths come from the teacher's head, not trained here
    assert build_student(tiny_zoedam(1), "t", {"pretrained": None}, "pretrained", (28, 42))[0].config.camera == "blind"
