"""The networks as the paper states them: ZoeDAM, the relative model (SynthDA), DenseDepth, the
average baseline; their layers in :mod:`.layers`, name → builder in :mod:`.registry`.

Nothing here imports ``inference``, ``training`` or ``experiments``: a model's forward is the reference.
"""
