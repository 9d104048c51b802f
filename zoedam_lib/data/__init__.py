"""Datasets: SynthRooms (:mod:`.synthrooms`), the NYU layout (:mod:`.nyu`), folders of RGB-D pairs
(:mod:`.folder`), splits, augmentation and the torch datasets training reads.

The readers and the renderer import neither torch nor matplotlib, so renderer workers and the
loader benchmark stay small; only :mod:`.datasets` and :mod:`.augment` need torch.
"""
