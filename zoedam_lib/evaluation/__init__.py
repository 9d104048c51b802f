"""The NYU protocol: metrics (raw, median-scaled, disparity-aligned), evaluating a model on a set,
error by depth range and bootstrap intervals over test images.
"""
