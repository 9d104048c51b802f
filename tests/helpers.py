"""Small builders shared by tests: tiny models and checkpoints in the official key schemes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from zoedam_lib.models.zoedam import ZoeDAM, ZoeDAMConfig

TINY_SIZE = (56, 70)  # 4×5 patches


def tiny_zoedam(seed: int = 0, **overrides) -> ZoeDAM:
    """A test-size ZoeDAM (vitt backbone) with deterministic random weights."""
    torch.manual_seed(seed)
    cfg = {"backbone": "vitt", "img_size": TINY_SIZE, **overrides}
    return ZoeDAM(ZoeDAMConfig(**cfg)).eval()


def official_metric_keys(model: ZoeDAM) -> dict[str, torch.Tensor]:
    """The state dict in the official ZoeDepth/Depth Anything metric key scheme (with mask_token)."""
    out = {}
    for k, v in model.state_dict().items():
        if k.startswith("encoder.vit."):
            out["core.core.pretrained." + k[len("encoder.vit."):]] = v
        elif k.startswith("decoder."):
            out["core.core.depth_head." + k[len("decoder."):]] = v
        else:
            out[k[len("head."):]] = v
    out["core.core.pretrained.mask_token"] = torch.zeros(1, model.encoder.spec.embed_dim)
    return out


def depth_anything_keys(model: ZoeDAM) -> dict[str, torch.Tensor]:
    """Encoder + decoder in the Depth Anything (v1/V2 relative) key scheme."""
    out = {"pretrained.mask_token": torch.zeros(1, model.encoder.spec.embed_dim)}
    for k, v in model.state_dict().items():
        if k.startswith("encoder.vit."):
            out["pretrained." + k[len("encoder.vit."):]] = v
        elif k.startswith("decoder."):
            out["depth_head." + k[len("decoder."):]] = v
    return out


def dinov2_keys(model: ZoeDAM, chunked: bool = False) -> dict[str, torch.Tensor]:
    """Encoder in the official DINOv2 key scheme, optionally with block chunks (blocks.<chunk>.<i>.)."""
    out = {"mask_token": torch.zeros(1, model.encoder.spec.embed_dim)}
    for k, v in model.state_dict().items():
        if k.startswith("encoder.vit."):
            k = k[len("encoder.vit."):]
            if chunked and k.startswith("blocks."):
                i = int(k.split(".")[1])
                k = f"blocks.{i // 2}.{i}." + k.split(".", 2)[2]
            out[k] = v
    return out


# --------------------------------------------------------------------------- training on a learnable toy set


class RampData(torch.utils.data.Dataset):
    """Images whose brightness encodes a depth ramp: learnable in a few steps."""

    def __init__(self, n: int = 12, size: tuple[int, int] = (28, 35)) -> None:
        g = torch.Generator().manual_seed(0)
        self.depth = 1 + 4 * torch.rand(n, 1, 1, 1, generator=g) * torch.linspace(0.5, 1, size[0]).view(1, 1, -1, 1)
        self.depth = self.depth.expand(n, 1, *size).contiguous()
        self.image = (self.depth / 5).expand(n, 3, *size).contiguous()

    def __len__(self) -> int:
        return len(self.depth)

    def __getitem__(self, key):
        i, _ = key
        return {"image": self.image[i], "depth": self.depth[i], "index": torch.tensor(i)}


def ramp_silog_step(model, batch):
    """Trainer loss function: SILog of the metric prediction on the ramp data."""
    from zoedam_lib.losses.silog import silog_loss

    out = model(batch["image"])
    mask = batch["depth"] > 1e-3
    return silog_loss(out, batch["depth"], mask), {}


class InterruptAt:
    """Trainer loss function: :func:`ramp_silog_step`, raising KeyboardInterrupt at the n-th call (like Ctrl-C)."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, model, batch):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return ramp_silog_step(model, batch)


def make_trainer(tmp, cfg=None, seed=0, loss_fn=ramp_silog_step, **kw):
    """A Trainer of a tiny ZoeDAM on RampData (2 epochs × 3 steps, checkpoint every 2 steps by default)."""
    from zoedam_lib.training.trainer import TrainConfig, Trainer

    model = tiny_zoedam(seed, img_size=(28, 42))
    cfg = cfg or TrainConfig(epochs=2, batch_size=4, lr=1e-3, checkpoint_every=2)
    return Trainer(model, loss_fn, RampData(), cfg, tmp, param_groups=model.param_groups(cfg.lr, 1, 1, 1),
                   progress=False, **kw)


def weights(model) -> dict[str, torch.Tensor]:
    """A copy of the model's state dict."""
    return {k: v.clone() for k, v in model.state_dict().items()}


# --------------------------------------------------------------------------- unlabeled images and the teacher


def write_images(folder):
    """A folder of unlabeled images as found in the wild: every mode, an EXIF rotation, broken files, junk."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(folder / "a_rgb.jpg")
    Image.fromarray(rng.integers(0, 255, (30, 40), dtype=np.uint8)).save(folder / "b_gray.png")
    Image.fromarray(rng.integers(0, 255, (30, 40, 4), dtype=np.uint8), "RGBA").save(folder / "c_rgba.png")
    Image.fromarray(rng.integers(0, 65535, (30, 40), dtype=np.uint16)).save(folder / "d_16bit.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    Image.fromarray(rng.integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(folder / "e_exif.jpg", exif=exif)
    (folder / "f_random.jpg").write_bytes(rng.bytes(500))
    (folder / "g_truncated.jpg").write_bytes((folder / "a_rgb.jpg").read_bytes()[:300])
    (folder / ".hidden.jpg").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored")
    sub = folder / "sub"
    sub.mkdir()
    Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(sub / "h_nested.bmp")


def counting(teacher, counter, fail_after=None):
    """Count the images ``teacher`` sees in ``counter["images"]``; crash once more than ``fail_after`` were asked.

    Hooks ``preprocess``, which the reference forward and the inference paths both call once per batch.
    """
    def hook(module, args):
        x = args[0]
        if fail_after is not None and counter["images"] + len(x) > fail_after:
            raise RuntimeError("simulated crash")
        counter["images"] += len(x)
    teacher.preprocess.register_forward_pre_hook(hook)
    return teacher


ROOT = Path(__file__).resolve().parents[1]
# one thread: on a busy shared CPU, torch's waiting worker threads slow a tiny model down ~100×
SUBPROCESS_ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def random_photo(rng: np.random.Generator, h: int, w: int) -> Image.Image:
    """An RGB noise photo of the given size."""
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


# --------------------------------------------------------------------------- small SynthRooms data sets


def render_small_synthrooms(folder: Path, domains: dict[str, int], size: tuple[int, int] | None = None,
                            labeled: dict | None = None) -> Path:
    """Render a small SynthRooms into ``folder``: the labeled file when ``labeled`` gives its
    :func:`generate_synthrooms` options (``n``, ``n_unlabeled``), then ``domains`` (name → image count), all at
    ``size`` (None: each domain's own size); returns the labeled file, or ``folder``.

    Why small: a notebook or solution renders a missing zero-shot set or the camera head's lenses rooms at
    full size (200 per set, 1,500 lenses rooms), minutes of a test spent rendering. One thread: the same
    files whatever the core count, and no spawned workers under pytest.
    """
    from zoedam_lib.data.synthrooms.generate import generate_domain, generate_synthrooms

    sized = {} if size is None else {"size": size}
    path = folder
    if labeled is not None:
        path = generate_synthrooms(folder, **labeled, **sized, workers=1, progress=False)
    for name, n in domains.items():
        generate_domain(name, folder, n=n, **sized, workers=1, progress=False)
    return path


def folder_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes): compared before and after, it proves a command
    left a folder byte-identical (or changed only what it should)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def last_error(capsys) -> str:
    """The last stderr line of a CLI call, after checking it printed no traceback (a refusal is one line)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    return err.strip().splitlines()[-1]
