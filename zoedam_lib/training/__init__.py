"""The shared trainer (AdamW, OneCycle, AMP, DDP, atomic checkpoints, exact resume) and what it needs."""
