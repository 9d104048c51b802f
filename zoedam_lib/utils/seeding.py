"""Seeds for python, numpy and torch, and per-sample generators that make data order and
augmentation a pure function of (seed, epoch, index) so a resumed run sees the same batches."""

from __future__ import annotations

import random

import numpy as np
import torch

from zoedam_lib.utils.errors import ConfigError

MAX_SEED = 2**32 - 1  # numpy's global seed and torch's generators take 0 … 2**32 - 1 everywhere


def check_seed(seed: object, where: str = "seed") -> int:
    """``seed`` if it is an integer in 0 … :data:`MAX_SEED`, else a :class:`ConfigError`. Negative seeds fail
    deep inside numpy (``default_rng([-1, 11])``) and seeds over 2**64 inside torch, after the run started."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{where} must be an integer from 0 to {MAX_SEED} (2**32 - 1), got {seed!r}")
    return int(seed)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """A numpy generator for one sample's augmentation, independent of worker count and order."""
    return np.random.default_rng([seed, epoch, index])


def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The training order of epoch ``epoch``: a deterministic permutation of ``range(n)``."""
    return np.random.default_rng([seed, epoch, 7919]).permutation(n)


def rng_state() -> dict:
    """Snapshot of the global RNGs, storable with ``torch.save`` and loadable with weights_only."""
    np_state = np.random.get_state()
    state = {
        "python": _to_lists(random.getstate()),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore a snapshot taken by :func:`rng_state`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_lists(obj):
    if isinstance(obj, tuple):
        return [_to_lists(o) for o in obj]
    return obj
