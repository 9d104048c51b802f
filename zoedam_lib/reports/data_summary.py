"""What notebook 01 shows about a dataset: sizes, depth statistics, samples and augmentations."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zoedam_lib.data.augment import ChannelPermutation, HorizontalFlip, PhotometricJitter
from zoedam_lib.data.sources import DepthSource
from zoedam_lib.experiments.context import RunContext
from zoedam_lib.utils.atomic import atomic_write_json
from zoedam_lib.utils.depth import valid_depth
from zoedam_lib.utils.markdown import markdown_table


def depth_values(mat: DepthSource, indices: Sequence[int], stride: int = 4) -> np.ndarray:
    """Valid depth values of the given items, subsampled every ``stride`` pixels (for histograms)."""
    chunks = []
    for i in indices:
        depth = mat.read_depth(int(i))[::stride, ::stride]
        chunks.append(depth[valid_depth(depth)])
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def data_summary(ctx: RunContext, stride: int = 4) -> dict:
    """Sizes and depth statistics per split; written to ``<out_dir>/data_summary.json``."""
    with ctx.open_data() as mat:
        summary = {"data": ctx.data_label, "data_kind": ctx.data_kind, "n_images": len(mat),
                   "height": mat.height, "width": mat.width, "split": ctx.split_name, "seed": ctx.seed}
        parts = (("train", ctx.split.train), ("val", ctx.split.val), ("test", ctx.split.test))
        for name, idx in ((name, idx) for name, idx in parts if idx):  # a small split may have no validation part
            values = depth_values(mat, idx, stride)
            summary[name] = {"n_images": len(idx), "depth_min": float(values.min()), "depth_max": float(values.max()),
                             "depth_mean": float(values.mean()), "depth_median": float(np.median(values))}
    atomic_write_json(ctx.out_dir / "data_summary.json", summary)
    return summary


def summary_markdown(summary: dict) -> str:
    """A markdown table: images and depth statistics per part of the split (train / val / test)."""
    parts = [p for p in ("train", "val", "test") if p in summary]
    rows = [["images", *(summary[p]["n_images"] for p in parts)]]
    rows += [[f"{key.replace('_', ' ')} [m]", *(f"{summary[p][key]:.2f}" for p in parts)]
             for key in ("depth_min", "depth_median", "depth_mean", "depth_max")]
    return markdown_table(["", *parts], rows)


def domain_samples(data_dir: str | os.PathLike, names: Sequence[str], per_domain: int = 2,
                   seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(title, image, depth) examples of each labeled SynthRooms domain (seeded choice).

    Read from the domain's file in ``data_dir`` where it exists; otherwise the same items are rendered
    directly at the domain's default size and seed (item i of a file *is* ``render_domain_item(.., i, ..)``),
    so showing two pretraining rooms never costs rendering the 6,000-room corpus.
    """
    from zoedam_lib.data.nyu.reader import NyuMat
    from zoedam_lib.data.synthrooms.domains import DOMAINS
    from zoedam_lib.data.synthrooms.generate import render_domain_item

    out = []
    for name in names:
        domain, path = DOMAINS[name], Path(data_dir) / DOMAINS[name].file
        with NyuMat(path) if path.is_file() else contextlib.nullcontext() as data:
            n = domain.n if data is None else len(data)
            for i in sorted(int(j) for j in np.random.default_rng([seed, 5]).choice(n, size=per_domain,
                                                                                      replace=False)):
                if data is None:
                    image, depth, intrinsics = render_domain_item(domain, domain.seed, i, *domain.size)
                else:
                    (image, depth), intrinsics = data.read(i), data.intrinsics(i)
                fx = f", fx {intrinsics[0] * 640 / image.shape[1]:.0f} px at 640" if intrinsics is not None else ""
                out.append((f"{name} #{i}{fx}", image, depth))
    return out


def unlabeled_pair(folder: str | os.PathLike, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two images of the unlabeled pool (ZoeDAM+'s u_a, u_b), as uint8 (H, W, 3)."""
    from zoedam_lib.io.images import IMAGE_EXTENSIONS, read_image

    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
    if len(files) < 2:
        raise ValueError(f"{folder} holds {len(files)} images; the unlabeled pool needs at least 2")
    a, b = np.random.default_rng([seed, 6]).choice(len(files), size=2, replace=False)
    return read_image(files[int(a)]), read_image(files[int(b)])


def augmentation_examples(image: np.ndarray, depth: np.ndarray, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """The labeled-data augmentations of notebooks 03/04 applied (forced on) to one sample."""
    rng = np.random.default_rng(seed)
    flipped, flipped_depth = HorizontalFlip(1.0)(image, depth, rng)
    return [("original", image), ("depth", depth),
            ("flip (both)", flipped), ("flipped depth", flipped_depth),
            ("channel permutation", ChannelPermutation(1.0)(image, depth, np.random.default_rng(seed + 3))[0]),
            ("photometric jitter", PhotometricJitter(1.0)(image, depth, rng)[0])]


def strong_perturbation_examples(image_a: np.ndarray, image_b: np.ndarray, seed: int = 0,
                                 config=None) -> list[tuple[str, np.ndarray]]:
    """ZoeDAM+'s student-side augmentations on two unlabeled images: jitter, grayscale, blur, CutMix."""
    import torch

    from zoedam_lib.semi.cutmix import apply_cutmix, cutmix_box
    from zoedam_lib.semi.perturb import StrongPerturbConfig, perturb_one

    cfg = config or StrongPerturbConfig()
    a, b = (torch.from_numpy(x).permute(2, 0, 1).float() / 255 for x in (image_a, image_b))
    gen = torch.Generator().manual_seed(seed)
    forced = {"jitter": StrongPerturbConfig(jitter_p=1.0, grayscale_p=0.0, blur_p=0.0),
              "grayscale": StrongPerturbConfig(jitter_p=0.0, grayscale_p=1.0, blur_p=0.0),
              "blur": StrongPerturbConfig(jitter_p=0.0, grayscale_p=0.0, blur_p=1.0,
                                          blur_sigma=(cfg.blur_sigma[1], cfg.blur_sigma[1]))}
    items = [("unlabeled image u_b", b)]
    items += [(f"{name}", perturb_one(b, c, gen)) for name, c in forced.items()]
    mask = cutmix_box(1, *b.shape[-2:], p=1.0, generator=gen)
    mixed = apply_cutmix(perturb_one(a, cfg, gen)[None], perturb_one(b, cfg, gen)[None], mask)[0]
    items.append(("CutMix: u_a pasted into u_b", mixed))
    return [(title, t.permute(1, 2, 0).clamp(0, 1).numpy()) for title, t in items]
