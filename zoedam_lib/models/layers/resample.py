"""Bilinear resampling taps (align_corners=True) computed exactly as PyTorch computes them.

Two inference speed-ups resample a piece of a map at a time instead of calling
``F.interpolate`` on the whole: the banded metric head (:mod:`zoedam_lib.inference.exact`) upsamples a band of
rows, and ``zoedam predict`` resizes an 8000×6000 photo without converting it all to float
(:func:`.preprocess.resize_image`). Both must reproduce ``F.interpolate(mode="bilinear",
align_corners=True)`` — the resize the official model uses — so both take their source indices
and weights from this one function. It follows PyTorch's CPU kernel
(``aten/src/ATen/native/UpSample.h``: ``area_pixel_compute_scale``,
``area_pixel_compute_source_index``, ``compute_source_index_and_lambda``), float32 throughout.
"""

from __future__ import annotations

import numpy as np


def bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices ``i0``, ``i1`` (int64) and the weight ``lam`` (float32) of ``i1`` for each of
    ``n_out`` outputs resampled from ``n_in`` inputs: ``out[j] = (1 - lam[j])·in[i0[j]] + lam[j]·in[i1[j]]``.

    As PyTorch: scale = (n_in − 1)/(n_out − 1) in float32 (0 for a single output), source
    position ``scale·j`` in float32, ``i0`` its floor, ``i1 = i0 + 1`` except at the last input.
    """
    scale = np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(0)
    src = scale * np.arange(n_out, dtype=np.float32)
    i0 = np.minimum(src.astype(np.int64), n_in - 1)  # floor: src >= 0
    lam = np.clip(src - i0.astype(np.float32), 0, 1).astype(np.float32)
    return i0, np.minimum(i0 + 1, n_in - 1), lam
